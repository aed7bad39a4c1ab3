"""Chapter 04, adaptive retry: waits that follow the conflict's version distance, and what the signal buys."""

from __future__ import annotations

import functools
import inspect
import math
from collections.abc import Mapping
from typing import Any

from aether.claims import Claim, Range, at_most, contention_arm, gave_up_share, greater_than, less_than
from aether.claims.catalog._common import CLASSIC, decided
from aether.claims.metrics import Metric, beyond_light_share
from aether.claims.model import Arm
from aether.experiment.profiles import StoreProfile
from aether.patterns import adaptive_delay, adaptive_retry, jitter_retry, simple_retry

#: Adaptive retry as the chapter runs it: its defaults (10 attempts), saving through a decision.
ADAPTIVE = decided(adaptive_retry)
#: Adaptive retry with equal jitter on its waits (``jitter=True``): each wait between half and all of the tier's.
ADAPTIVE_JITTER = decided(functools.partial(adaptive_retry, jitter=True))
#: The ablation: adaptive retry's light-tier wait (50 ms) after every conflict, whatever its distance; same attempts.
FLAT_WAIT = decided(functools.partial(simple_retry, base_delay=0.05, max_delay=0.05, max_attempts=10))
#: The stronger baseline: full jitter with the same 10 attempts.
FULL_JITTER_10 = decided(functools.partial(jitter_retry, jitter="full", max_attempts=10))

_COMPARED = ("outcome", "latency", "attempts")


def _both(params: Mapping[str, Any], seed: int, profile: StoreProfile, *, first: Arm, second: Arm) -> tuple[Any, Any]:
    """Both arms' runs at one point with one seed: what :func:`_differing_saves` compares."""
    return first.run(params, seed, profile), second.run(params, seed, profile)


def _differing_saves(pair: tuple[Any, Any]) -> float:
    """The share of saves whose outcome, latency or attempts differ between two runs of one seed (1 if counts do)."""
    one, other = (result.saves.reset_index(drop=True) for result in pair)
    if len(one) != len(other):
        return 1.0
    if not len(one):
        return math.nan
    same = (one[list(_COMPARED)] == other[list(_COMPARED)]).all(axis=1)
    return float(1.0 - same.mean())


#: The metric of the "identical saves" claim: run on an arm that returns both runs of a seed.
DIFFERING_SAVES = Metric("saves that differ (outcome, latency, attempts)", _differing_saves, "%")
#: Adaptive retry and its ablation, run on the same point and seed.
ADAPTIVE_AND_FLAT = Arm("adaptive vs flat 50 ms wait", functools.partial(
    _both, first=contention_arm("adaptive", ADAPTIVE), second=contention_arm("flat 50 ms wait", FLAT_WAIT)))

CLAIMS = [
    Claim(
        chapter=4, id="distance-stays-light",
        statement="with no work between read and save, no conflict's distance leaves the light tier (1-2)",
        subject=contention_arm("adaptive", ADAPTIVE),
        metric=beyond_light_share(), relation=at_most(0.0),
        domain={"writers": Range(10, 100, integer=True, unit="writers"),
                "service_scale": Range(1, 30, log=True, unit="x service time")},
        at={"writers": 50, "service_scale": 1},
        profile=CLASSIC,
        note="Chapter 02's reason: a save commits only if its writer read the version just before it, so at most "
             "about one commit fits in one writer's read-and-save round trip, however many writers wait. The old "
             "chapter showed the signal growing only with a 100 ms think time, which hid the lock-step below.",
    ),
    Claim(
        chapter=4, id="signal-buys-nothing-without-work",
        statement="with no work between read and save, adaptive retry and its ablation (a flat 50 ms wait, the "
                  "same 10 attempts) make identical saves: the same outcome, latency and attempts, save for save",
        subject=ADAPTIVE_AND_FLAT,
        metric=DIFFERING_SAVES, relation=at_most(0.0),
        domain={"writers": Range(10, 100, integer=True, unit="writers")}, at={"writers": 50},
        profile=CLASSIC,
        note="Was 'adaptive retry gives up at least as many saves as its ablation and as full jitter' (>=), which "
             "could not fail against the ablation: the runs are identical. Before that 'with work between read and "
             "save (100 ms think time), adaptive retry has a lower p95 than full jitter', then 'a flat 50 ms wait "
             "has a lower p95 than adaptive retry'. The metric does tell runs apart: with a 100 ms think time 95% "
             "of the saves differ at 80 writers (seeds 0-2; ch04/signal-cuts-give-ups-with-work).",
    ),
    Claim(
        chapter=4, id="signal-cuts-give-ups-with-work",
        statement="with work between read and save (think time, exponential), adaptive retry "
                  "gives up fewer saves than its ablation, a flat 50 ms wait with the same 10 attempts",
        subject=contention_arm("adaptive", ADAPTIVE),
        baseline=contention_arm("flat 50 ms wait (ablation)", FLAT_WAIT),
        metric=gave_up_share(), relation=less_than(),
        domain={"writers": Range(80, 100, integer=True, unit="writers"),
                "think_time": Range(0.05, 0.2, unit="s mean think time")},
        at={"writers": 80, "think_time": 0.1},
        profile=CLASSIC,
        note="New: the ablation's case with work between read and save. Adaptive retry gave up fewer saves than "
             "the flat wait in 30/30 seeds at 80 writers (50 and 200 ms think time, seeds 10000-10029, 20000-20029 "
             "and 30000-30029) and at 100 writers (50 and 100 ms on 20000-20029, 200 ms on 30000-30029; e.g. "
             "35.5% against 49.5% at 100 ms), also "
             "with 3 saves per writer (12/12 at 80 writers) and at 150 writers (12/12). Below 80 writers it "
             "frays: 28-30/30 at 60-70 writers (28/30 at 60 writers and 200 ms on the held-out seeds), 28/30 at "
             "50 writers and 100 ms, 26-27/30 at 40 writers, 4/12 at 20 (both near 0%). Against full jitter with "
             "the same 10 attempts it is no claim: adaptive retry gave up more at 50 writers (15.5% against "
             "15.8%, fewer in 4 of 12 seeds) and less at 100 (35.5% against 37.6%, 9 of 12).",
    ),
    Claim(
        chapter=4, id="lock-step-gives-up",
        statement="from 30 writers with no work between read and save, adaptive retry gives up over twice "
                  "as many saves as full jitter with the same 10 attempts",
        subject=contention_arm("adaptive", ADAPTIVE),
        baseline=contention_arm("full jitter, 10 attempts", FULL_JITTER_10),
        metric=gave_up_share(), relation=greater_than(2.0),
        domain={"writers": Range(30, 100, integer=True, unit="writers")}, at={"writers": 50},
        profile=CLASSIC,
        note="The old chapter compared with a 100 ms think time, which spread the writers and hid this: on the "
             "classic network 50 writers at once give up about half their saves with adaptive retry (the same "
             "50 ms wait for everyone: chapter 03's lock-step) and a few with full jitter. First encoded as 'over "
             "three times': false at 98 writers (15 of 30 held-out seeds; seed 10000: 58% against 22%).",
    ),
    Claim(
        chapter=4, id="equal-jitter-keeps-lock-step",
        statement="with no work between read and save, adaptive retry with equal jitter on its waits (25-50 ms) "
                  "still gives up over twice as many saves as full jitter with the same 10 attempts",
        subject=contention_arm("adaptive, equal jitter", ADAPTIVE_JITTER),
        baseline=contention_arm("full jitter, 10 attempts", FULL_JITTER_10),
        metric=gave_up_share(), relation=greater_than(2.0),
        domain={"writers": Range(30, 100, integer=True, unit="writers")}, at={"writers": 50},
        profile=CLASSIC,
        note="Stated after a review found the chapter silent on its own exercise's result. Scanned on seeds "
             "20000-20029: 30/30 at 30, 50, 75 and 100 writers (means 12.9% against 0.4%, 36.7% against 3.2%, "
             "53.0% against 12.4%, 62.4% against 21.5%).",
    ),
]


# --- the exercises' references -----------------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def _jittered_gave_up() -> float:
    """Exercise 1: the mean saves given up per run by :data:`ADAPTIVE_JITTER`, 50 writers, seeds 0-4, on the
    lab's store."""
    from aether.experiment import sweep

    runs = sweep({"adaptive, jitter": ADAPTIVE_JITTER}, writers=[50], seeds=range(5), progress=False,
                 network=CLASSIC.network(), capacity=CLASSIC.capacity())
    return float(runs["gave_up"].mean())


def _light_waiting_budget() -> float:
    """Exercise 2: seconds adaptive retry waits in all when every conflict has distance 1, over its default attempts."""
    attempts = inspect.signature(adaptive_retry).parameters["max_attempts"].default
    return sum(adaptive_delay(1, retry) for retry in range(attempts - 1))  # one wait fewer than attempts


def exercise_reference(number: int) -> float:
    """The reference answer of exercise *number* (1 or 2), computed here so the notebook never shows it.

    Exercise 1 runs adaptive retry with jitter as the question says; exercise 2
    adds up the policy's waits. Use it as ``reference=lambda: exercise_reference(1)``.
    """
    if number == 1:
        return _jittered_gave_up()
    if number == 2:
        return _light_waiting_budget()
    raise ValueError(f"number must be 1 or 2; got {number!r}")
