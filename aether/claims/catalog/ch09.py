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


def _simulate_steady(params: Mapping[str, Any], seed: int, profile: StoreProfile) -> dict[str, Any]:
    """The steady stream's four patterns simulated with *seed*: ``{(scenario, pattern): RunResult}``."""
    from aether.experiment import run_contention

    return {("steady", name): run_contention(pattern, writers=int(params["writers"]), seed=seed, name=name,
                                             saves_per_writer=STEADY["saves_per_writer"],
                                             network=profile.network(), capacity=profile.capacity())
            for name, pattern in steady_patterns().items()}


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


def _least(results: Mapping[Any, Any]) -> float:
    """The smallest ratio of simulated work per save to the real median over the runs."""
    return min(ratios(results))


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


def _least_share(shares: Mapping[str, float], names: tuple[str, ...]) -> float:
    """The smallest share delivered after the trigger among the patterns *names*."""
    return min(shares[name] for name in names)


def _storm_share(shares: Mapping[str, float]) -> float:
    """The share delivered after the trigger with retries at once."""
    return shares["retry at once"]


#: The patterns that defend the server in the storm comparison.
DEFENCES = ("no retries", "retry budget", "circuit breaker")


__all__ = ["AFTER", "CLAIMS", "DEFENCES", "HERDS", "HERD_SKEW", "REAL_HOPS", "STORM_SERVER", "delivered_after",
           "real_delivered", "real_work"]

CLAIMS = [
    Claim(
        chapter=9, id="steady-work-matches-real-sqlite",
        statement="in a steady stream of contention (8 writers x 4 saves on one actor) the calibrated simulation's "
                  "work per save of each of four patterns is within 30% of the real SQLite store's",
        subject=Arm("simulated, each pattern", _simulate_steady),
        metric=Metric("farthest simulated/real work per save", _farthest, "x"),
        relation=at_most(1.3),
        domain={"writers": Range(STEADY["writers"], STEADY["writers"], integer=True, unit="writers")},
        profile=REAL_HOPS,
        note="Real side: the median of the committed real SQLite runs (aether/data/contention_reality.json, "
             "3 runs per pattern). On held-out seeds 10000-10029 the ratios were 0.88-1.28 (immediate retry "
             "the widest); on seeds 20000-20029, 87 of 90 trials within 1.3. The old chapter checked 25% live, "
             "on runs that differ from machine to machine; 25% fails here for immediate retry in some seeds.",
    ),
    Claim(
        chapter=9, id="measured-skew-matches-real-herd",
        statement="started over the start skew measured in the real SQLite herd runs, the simulated herds of 20 "
                  "and 24 writers, with and without jitter, land within a factor 1.5 of the real work per save",
        subject=Arm("simulated herds, measured skew",
                    functools.partial(_simulate_herds, patterns=("no jitter", "full jitter"))),
        metric=Metric("farthest simulated/real work per save", _farthest, "x"),
        relation=at_most(1.5),
        domain={"skew_scale": Range(0.8, 1.2, unit="x the measured skew")}, at={"skew_scale": 1.0},
        profile=REAL_HOPS,
        note="Was (old chapter) 'with the calibration's start skew (97 ms) the herd costs a third of the writes': "
             "the calibration measures 20 processes doing one save each, not the herd; the herd's own runs got "
             "going over 6-30 ms (median 16 ms). Held-out seeds 10000-10029: ratios 0.83-1.36 at 20 writers, "
             "0.76-1.09 at 24; medians 0.90-0.92. At 0.8 x the skew one seed of 30 reached 1.52 at 24 writers.",
    ),
    Claim(
        chapter=9, id="perfect-start-over-predicts-no-jitter-herd",
        statement="when the simulated writers start within a quarter of the measured skew (up to 4 ms), a herd "
                  "without jitter of 20 or 24 writers costs at least the real SQLite herd's work per save, typically "
                  "1.5 to 1.8 times",
        subject=Arm("simulated no jitter, (near) perfect start",
                    functools.partial(_simulate_herds, patterns=("no jitter",))),
        metric=Metric("least simulated/real work per save", _least, "x"),
        relation=at_least(1.0),
        domain={"skew_scale": Range(0.0, 0.25, unit="x the measured skew")}, at={"skew_scale": 0.0},
        profile=REAL_HOPS,
        note="The mechanism behind a fresh calibration's over-prediction at 24 writers (48-60% in a review, "
             "+79% measured here with a live calibration, against +24% with the reference one): the model "
             "starts every writer at once and only the hops' oversleep breaks ties; a quiet machine's "
             "calibration has almost none (p99 0.14 ms against the reference's 1.75 ms). Held-out seeds: "
             "ratios 1.17-2.26 (median 1.74) at 20 writers, 1.07-2.33 (1.61) at 24; with full jitter 1.01-1.15.",
    ),
    Claim(
        chapter=9, id="storm-persists-as-on-real-postgres",
        statement="on the PostgreSQL storm server at 30 saves/s, with retries at once the simulation calibrated on "
                  "it, like the real server, delivers under 5% of the offered saves from 1 s after the slowdown on",
        subject=Arm("simulated storm", functools.partial(_simulate_storms, names=("retry at once",))),
        metric=Metric("share delivered after, retries at once", _storm_share, "%"),
        relation=at_most(0.05),
        domain={"rate": Range(30, 30, unit="saves/s")},
        profile=STORM_SERVER,
        note="Real side: 0% in each of the 3 committed real runs (aether/data/storm_postgres.json); the "
             "simulation 0% on held-out seeds 10000-10029 too.",
    ),
    Claim(
        chapter=9, id="defences-recover-as-on-real-postgres",
        statement="on the PostgreSQL storm server at 30 saves/s, without retries, with a retry budget or with a "
                  "circuit breaker the simulation delivers at least 75% of the offered saves from 1 s after the "
                  "slowdown on, as the real server did in 8 of its 9 runs",
        subject=Arm("simulated defences", functools.partial(_simulate_storms, names=DEFENCES)),
        metric=Metric("least share delivered after, three defences",
                      functools.partial(_least_share, names=DEFENCES), "%"),
        relation=at_least(0.75),
        domain={"rate": Range(30, 30, unit="saves/s")},
        profile=STORM_SERVER,
        note="First stated as 'within 10 points of the real share for every pattern': false on 9 of 30 held-out "
             "seeds (gaps up to 0.26), because the simulation's own arrivals move a defence's share by 0.78-1.07 "
             "and one real breaker run (seed 1) had a second burst of timeouts the model does not have (68% "
             "delivered). Held-out: the least of the three shares 0.78-1.0.",
    ),
]
