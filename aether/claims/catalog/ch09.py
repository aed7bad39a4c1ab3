"""Chapter 09, simulation against reality: the calibrated models held against committed real runs.

The real side of every claim here is a committed record, not a run: real runs take
seconds and vary with the machine, so they were made once by a documented command
and are read back (:func:`aether.calibrate_reality.load_contention_record`,
:func:`aether.experiment.realstorm.load_storm_record`). The simulated side runs on
the claim's seeds, so a claim says: on any seed, the simulation lands within the
stated tolerance of what the real store did. Each domain is the point that was
measured for real (the simulation says nothing about reality elsewhere).
"""

from __future__ import annotations

import functools
import math
import statistics
from collections.abc import Mapping
from typing import Any

from aether.calibrate import reference_calibration
from aether.calibrate_reality import (
    HERD_WRITERS,
    LARGE_HERD,
    STEADY,
    herd_patterns,
    load_contention_record,
    steady_patterns,
)
from aether.claims import Claim, Range, at_least, at_most
from aether.claims.metrics import Metric
from aether.claims.model import Arm
from aether.experiment.profiles import LAPTOP_SQLITE, StoreProfile
from aether.experiment.realstorm import load_storm_record, storm_profile

_CAL = reference_calibration()
#: Chapter 09's real runs: 2 ms emulated hops, each lasting what a real 2 ms sleep lasted in the calibration.
REAL_HOPS = LAPTOP_SQLITE.with_hop(_CAL.sleep_overshoot.shifted(0.002), path="2 ms real-sleep hops",
                                   reason="the real runs' 2 ms sleeps, with the calibrated oversleep")
_RECORD = load_contention_record()
_RUNS = _RECORD.runs.assign(per_save=_RECORD.runs["write_calls"] / _RECORD.runs["committed"])
_SQLITE = _RUNS[_RUNS["way"] == "real SQLite"]
#: How far apart the real SQLite herd's writers got going: the median over its recorded runs (s).
HERD_SKEW = round(float(_SQLITE.loc[_SQLITE["scenario"] == "herd", "start_skew"].median()), 4)


def real_work(scenario: str) -> dict[str, float]:
    """The recorded real SQLite runs' median store writes per committed save, per pattern, in *scenario*."""
    mine = _SQLITE[_SQLITE["scenario"] == scenario]
    return {str(k): float(v) for k, v in mine.groupby("pattern", sort=False)["per_save"].median().items()}


#: The recorded scenario of each herd size.
HERDS: dict[int, str] = {HERD_WRITERS: "herd", LARGE_HERD: "large herd"}


#: The steady-stream patterns the work claim covers: adaptive retry is left out, its simulated work per save
#: is 1.875 on every seed and under every profile (its waits, not the store, decide it), so it tests nothing.
STEADY_CLAIMED = ("immediate retry", "no jitter", "full jitter")


def _simulate_steady(params: Mapping[str, Any], seed: int, profile: StoreProfile) -> dict[str, Any]:
    """The steady stream's four patterns simulated with *seed*: ``{(scenario, pattern): RunResult}``."""
    from aether.experiment import run_contention

    return {("steady", name): run_contention(pattern, writers=int(params["writers"]), seed=seed, name=name,
                                             saves_per_writer=STEADY["saves_per_writer"],
                                             network=profile.network(), capacity=profile.capacity())
            for name, pattern in steady_patterns().items() if name in STEADY_CLAIMED}


def _simulate_herds(params: Mapping[str, Any], seed: int, profile: StoreProfile, *,
                    patterns: tuple[str, ...]) -> dict[Any, Any]:
    """Both herds (20 and 24 writers), writers starting at random over ``skew_scale`` x :data:`HERD_SKEW`."""
    from aether.experiment import run_contention

    chosen = {name: p for name, p in herd_patterns().items() if name in patterns}
    spread = float(params["skew_scale"]) * HERD_SKEW
    return {(scenario, name): run_contention(pattern, writers=writers, start_spread=spread, seed=seed, name=name,
                                             network=profile.network(), capacity=profile.capacity())
            for writers, scenario in HERDS.items() for name, pattern in chosen.items()}


def ratios(results: Mapping[Any, Any]) -> list[float]:
    """Simulated store writes per committed save over the recorded real SQLite median, per run of *results*."""
    out = []
    for (scenario, name), result in results.items():
        s = result.summary()
        out.append((s.write_calls / s.committed) / real_work(scenario)[name] if s.committed else math.nan)
    return out


def _farthest(results: Mapping[Any, Any]) -> float:
    """The largest of max(r, 1/r) over the runs, r = simulated work per save / the real median."""
    return max(max(r, 1 / r) for r in ratios(results))


def _median_ratio(results: Mapping[Any, Any]) -> float:
    """The median over the runs of simulated work per save / the real median (both herds: their mean)."""
    return float(statistics.median(ratios(results)))


# --- the load model: the storm on a real PostgreSQL server ------------------------------------------------

_STORM = load_storm_record()
#: The storm server as the record measured it (2 workers, 20 ms of work per call plus the statement).
STORM_SERVER = storm_profile(_STORM)
#: The window "after the trigger" of the comparison: from 1 s after the slowdown ends to the end of arrivals.
AFTER = (_STORM.settings["trigger_end"] + 1.0, _STORM.settings["duration"])


def delivered_after(timeline: Any) -> float:
    """Goodput over offered load after the trigger (:data:`AFTER`).

    *timeline* has ``start``, ``offered`` and ``goodput`` per bin (:meth:`RunResult.timeline`).
    """
    start = timeline["start"]
    window = timeline[(start >= AFTER[0]) & (start < AFTER[1])]
    offered = float(window["offered"].sum())
    return float(window["goodput"].sum()) / offered if offered else math.nan


def real_delivered() -> dict[str, float]:
    """The recorded real storm runs' median share delivered after the trigger, per pattern."""
    out = {}
    for (name, _seed), frame in _STORM.timelines.groupby(["pattern", "seed"], sort=False):
        out.setdefault(str(name), []).append(delivered_after(frame))
    return {name: float(statistics.median(values)) for name, values in out.items()}


def _simulate_storms(params: Mapping[str, Any], seed: int, profile: StoreProfile, *,
                     names: tuple[str, ...]) -> dict[str, float]:
    """The storm patterns *names* simulated on *profile* with *seed*: ``{pattern: share delivered after}``."""
    from aether.experiment.realstorm import simulate_storm, storm_patterns

    s = _STORM.settings
    out = {}
    for name, pattern in storm_patterns().items():
        if name not in names:
            continue
        result = simulate_storm(pattern, service={"read": profile.read, "write": profile.write},
                                workers=profile.workers, rate=float(params["rate"]), duration=s["duration"],
                                call_timeout=s["call_timeout"], trigger_start=s["trigger_start"],
                                trigger_end=s["trigger_end"], trigger_factor=s["trigger_factor"], seed=seed,
                                name=name)
        out[name] = delivered_after(result.timeline(bin=s["bin"]))
    return out


def _farthest_share(shares: Mapping[str, float]) -> float:
    """The largest gap, over the patterns simulated, between the simulated share and the real record's median."""
    real = real_delivered()
    return max(abs(share - real[name]) for name, share in shares.items())


#: The patterns that defend the server in the storm comparison.
DEFENCES = ("no retries", "retry budget", "circuit breaker")


__all__ = ["AFTER", "CLAIMS", "DEFENCES", "HERDS", "HERD_SKEW", "REAL_HOPS", "STEADY_CLAIMED",
           "STORM_SERVER", "delivered_after", "exercise_reference",
           "real_delivered", "real_work"]

CLAIMS = [
    Claim(
        chapter=9, id="steady-work-matches-real-sqlite",
        statement="in a steady stream of contention (8 writers x 4 saves on one actor; a point claim, the point "
                  "measured for real) the simulation's work per save of immediate retry, backoff without and with "
                  "full jitter is within 30% of the real SQLite record's median; this work is set by the protocol "
                  "and the hops, not the service time, so it does not test the calibration",
        subject=Arm("simulated, each pattern", _simulate_steady),
        metric=Metric("farthest simulated/real work per save", _farthest, "x"),
        relation=at_most(1.3),
        domain={"writers": Range(STEADY["writers"], STEADY["writers"], integer=True, unit="writers")},
        profile=REAL_HOPS,
        note="Real side: the median of the committed real SQLite runs (aether/data/contention_reality.json, "
             "3 runs per pattern). Was 'the calibrated model gets work under contention right' with adaptive "
             "retry included. An outside ablation (seeds 40000-40009) passed it with constant 2 ms hops and no "
             "oversleep (10/10), a store 5 times slower (10/10), 10 times faster (8/10), 10 ms hops (7/10): the "
             "metric cannot tell a calibrated model from a badly wrong one. Adaptive retry was dropped: it "
             "costs 1.875 writes per save in the simulation on every seed and profile. On held-out seeds "
             "10000-10029 the ratios were 0.88-1.28 (immediate retry the widest).",
    ),
    Claim(
        chapter=9, id="measured-skew-matches-real-herd",
        statement="started at random over 0.8-1.2 times the start skew measured in the real SQLite herd runs "
                  "themselves, the simulated herds of 20 and 24 writers, with and without jitter, land within a "
                  "factor 1.5 of those runs' work per save (consistent with start skew as a cause, not a test of it)",
        subject=Arm("simulated herds, measured skew",
                    functools.partial(_simulate_herds, patterns=("no jitter", "full jitter"))),
        metric=Metric("farthest simulated/real work per save", _farthest, "x"),
        relation=at_most(1.5),
        domain={"skew_scale": Range(0.8, 1.2, unit="x the measured skew")}, at={"skew_scale": 1.0},
        profile=REAL_HOPS,
        note="Circular in part: the skew is measured on the same runs it is compared with, and the skew (the "
             "spread of the ends of the first store calls) is partly an outcome of contention. Real threads "
             "herd without jitter at 7.05 writes per save with a 6 ms skew, about the all-at-once model's 7.15, "
             "and SQLite's busy-handler lock hand-off is an equally good explanation. An independent "
             "measurement (the release time of a start barrier) is future work. Was (old chapter) 'with the "
             "calibration's start skew (97 ms) the herd costs a third of the writes'. An outside review: "
             "at 2 x the skew 9/10 seeds, at 3 x 4/10; with constant median hops 10/10. Held-out seeds "
             "10000-10029: ratios 0.83-1.36 at 20 writers, 0.76-1.09 at 24.",
    ),
    Claim(
        chapter=9, id="perfect-start-over-predicts-no-jitter-herd",
        statement="when the simulated writers start within a tenth of the measured skew (under 2 ms), a herd "
                  "without jitter of 20 and 24 writers costs on the median of the two at least 1.2 times the real "
                  "SQLite herd's work per save",
        subject=Arm("simulated no jitter, (near) perfect start",
                    functools.partial(_simulate_herds, patterns=("no jitter",))),
        metric=Metric("median simulated/real work per save, 20 and 24 writers", _median_ratio, "x"),
        relation=at_least(1.2),
        domain={"skew_scale": Range(0.0, 0.1, unit="x the measured skew")}, at={"skew_scale": 0.0},
        profile=REAL_HOPS,
        note="Was 'costs at least the real work, typically 1.5 to 1.8 times' (least ratio >= 1.0), which full "
             "jitter and half the skew also pass. At least 1.3 (an outside review's proposal) broke on 3 of 30 "
             "held-out seeds (1.21-1.29) at 0 and 0.15 x the skew. Median of the two herds' ratios on seeds "
             "10000-10029 and 20000-20029: no jitter 1.20-2.18 (median 1.67) all at once, 1.14-2.11 (1.50) at "
             "0.25 x the skew; at 0.5 x the skew only 12 of 60 reach 1.3. Full jitter 1.02-1.15, see "
             "ch09/perfect-start-keeps-full-jitter-herd-near-real.",
    ),
    Claim(
        chapter=9, id="perfect-start-keeps-full-jitter-herd-near-real",
        statement="under the same start (within a quarter of the measured skew), a herd with full jitter of 20 "
                  "and 24 writers costs on the median at most 1.2 times the real SQLite herd's work per save",
        subject=Arm("simulated full jitter, (near) perfect start",
                    functools.partial(_simulate_herds, patterns=("full jitter",))),
        metric=Metric("median simulated/real work per save, 20 and 24 writers", _median_ratio, "x"),
        relation=at_most(1.2),
        domain={"skew_scale": Range(0.0, 0.25, unit="x the measured skew")}, at={"skew_scale": 0.0},
        profile=REAL_HOPS,
        note="The contrast to ch09/perfect-start-over-predicts-no-jitter-herd: jitter breaks its own ties. "
             "Seeds 10000-10029 and 20000-20029: 1.02-1.15 all at once, 0.99-1.15 at 0.25 x the skew.",
    ),
    Claim(
        chapter=9, id="storm-persists-as-on-real-postgres",
        statement="on the pg_sleep queue on PostgreSQL at 30 saves/s (a point claim, the rate measured), with "
                  "retries at once the simulation's share of offered saves delivered from 1 s after the slowdown "
                  "on is within 5 points of the real record's median (0%)",
        subject=Arm("simulated storm", functools.partial(_simulate_storms, names=("retry at once",))),
        metric=Metric("|simulated - real median| share delivered after, retries at once", _farthest_share, "%"),
        relation=at_most(0.05),
        domain={"rate": Range(30, 30, unit="saves/s")},
        profile=STORM_SERVER,
        note="Was 'delivers under 5%', a threshold a constant model passes; now read from the record "
             "(aether/data/storm_postgres.json: 0% in each of its 3 runs). Service-time sensitivity: with the "
             "service times x0.7 it fails (5 of 10 seeds in an outside review, 14 of 20 on seeds 0-19), "
             "from x0.85 up it holds.",
    ),
    Claim(
        chapter=9, id="defences-recover-as-on-real-postgres",
        statement="on the pg_sleep queue on PostgreSQL at 30 saves/s (a point claim, the rate measured), without "
                  "retries, with a retry budget and with a circuit breaker the simulation's share of offered saves "
                  "delivered from 1 s after the slowdown on is within 30 points of each one's real median",
        subject=Arm("simulated defences", functools.partial(_simulate_storms, names=DEFENCES)),
        metric=Metric("largest |simulated - real median| share delivered after, three defences",
                      _farthest_share, "%"),
        relation=at_most(0.30),
        domain={"rate": Range(30, 30, unit="saves/s")},
        profile=STORM_SERVER,
        note="30 points is within the real runs' own spread (the breaker's 3 runs: 66-102%). First stated as "
             "'within 10 points', false on 9 of 30 held-out seeds; then as 'at least 75%', a threshold not read "
             "from the record. Simulated shares on seeds 10000-10029/20000-20029 (every other): 79-109%. "
             "Service-time sensitivity (seeds 0-19): with the service times x1.1 it holds on 18 of 20 seeds, "
             "x1.15 on 14 (the retry budget's share falls to 49-95%, median 76%); with the storm claim "
             "(x0.7: 14 of 20) this pins the service times to within about 10-15% of those measured.",
    ),
]


# --- the exercises' references -----------------------------------------------------------------------------

#: Exercise 1's start spreads (s), smallest first, and how far above the real work the simulation may stay.
_SPREADS = (0, 0.002, 0.004, 0.008, 0.016, 0.032)
_SKEW_MARGIN = 1.25


def _simulated_herd_work(spread: float) -> float:
    """The median over seeds 0-9 of the simulated large herd's store writes per save without jitter, its
    writers starting at random over *spread* seconds, behind :data:`REAL_HOPS`."""
    from aether.experiment import run_contention

    per_save = []
    for seed in range(10):
        s = run_contention(herd_patterns()["no jitter"], writers=LARGE_HERD, seed=seed, name="no jitter",
                           start_spread=spread, network=REAL_HOPS.network(), capacity=REAL_HOPS.capacity()).summary()
        per_save.append(s.write_calls / s.committed)
    return float(statistics.median(per_save))


@functools.lru_cache(maxsize=1)
def _skew_that_breaks_the_herd() -> float:
    """Exercise 1: the smallest start spread of 0-32 ms whose simulated large herd without jitter does at most
    1.25 times the real SQLite record's median work per save."""
    real = real_work(HERDS[LARGE_HERD])["no jitter"]
    first = next((spread for spread in _SPREADS if _simulated_herd_work(spread) <= _SKEW_MARGIN * real), None)
    if first is None:
        raise RuntimeError(f"no start spread of {_SPREADS} brings the simulated herd within {_SKEW_MARGIN}x the real")
    return first


def _served_for_gone(runs: Any) -> float:
    """Exercise 2: in the recorded storm, retrying at once, the mean over seeds of the share of calls served
    after the slowdown for callers that had given up."""
    at_once = runs[runs["pattern"] == "retry at once"]
    return float((at_once["served_for_gone_after"] / at_once["calls_after"]).mean())


def exercise_reference(number: int) -> float:
    """The reference answer of exercise *number* (1 or 2), computed here so the notebook never shows it.

    Exercise 1 simulates the large herd at each start spread; exercise 2 reads
    the recorded real storm's runs. Use it as ``reference=lambda: ch09.exercise_reference(1)``.
    """
    if number == 1:
        return _skew_that_breaks_the_herd()
    if number == 2:
        return _served_for_gone(_STORM.runs)
    raise ValueError(f"number must be 1 or 2; got {number!r}")
