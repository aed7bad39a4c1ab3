"""Chapter 08, retry storms: a short trigger, timeouts and retries keep a busy store down; what ends it.

The scenario (:mod:`aether.experiment.scenarios`): the busy server (:data:`BUSY_SERVER`,
4 workers, 38.4 ms of server time per save, so about 104 saves/s at full use), callers
with a 0.25 s timeout, and a trigger: the store 4x slower from 3 s to 4 s. Every save is
a command (:func:`add_line` decides the next event from the actor's events) under one
idempotency key; :class:`Decided` gives any pattern that decision in place of the
harness's blind data.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping
from typing import Any

from aether.claims import (
    Arm,
    Claim,
    Metric,
    Range,
    at_least,
    at_most,
    committed_share,
    less_than,
    load_arm,
    recovered_within,
)
from aether.experiment import Slowdown, run_load
from aether.experiment.arrivals import Step
from aether.experiment.profiles import StoreProfile
from aether.experiment.scenarios import BUSY_SERVER, Decided, add_line, busy_slowdown, busy_timeouts
from aether.patterns import AdaptiveThrottlingPolicy, retry_on_failure

__all__ = ["CLAIMS", "KEPT_UP", "RATE", "Decided", "add_line", "bounded_slowdown", "committed_after", "queue_wait",
           "storm_then_cut"]


AT_ONCE = Decided(functools.partial(retry_on_failure, max_attempts=3), add_line, label="retry at once")
NO_RETRY = Decided(functools.partial(retry_on_failure, max_attempts=1), add_line, label="no retries")
#: A 0.3 s deadline for the whole save, passed down with every call; the store drops a call whose caller has gone.
DEADLINE = Decided(functools.partial(retry_on_failure, max_attempts=3, deadline=0.3), add_line, label="deadline 0.3 s")
THROTTLE = Decided(AdaptiveThrottlingPolicy(window=2.0, buckets=10, base_delay=0.0), add_line,
                   label="adaptive throttling")
#: The bounded queue of the server-side defence: at most this many calls wait.
QUEUE_LIMIT = 32
#: The chapter's featured load: healthy for a minute without a trigger in most runs, a storm after it.
RATE = 90.0

RUN = {"actors": 5000}
#: The load-step scenario: the storm is started at this rate, and the load is cut at :data:`CUT_AT`.
STORM_RATE = 96.0
CUT_AT = 6.0


def bounded_slowdown(params: Mapping[str, Any], profile: StoreProfile) -> Any:
    """The chapter's trigger on a store whose queue holds at most ``params["queue_limit"]`` waiting calls.

    Without ``queue_limit`` in *params* the limit is :data:`QUEUE_LIMIT`.
    """
    limit = int(params.get("queue_limit", QUEUE_LIMIT))
    return profile.capacity(faults=[Slowdown(3.0, 4.0, 4.0)], queue_limit=limit)


def queue_wait(limit: int, profile: StoreProfile = BUSY_SERVER) -> float:
    """The mean wait of a call at the back of a full queue of *limit* calls: limit x mean call service / workers.

    A call's mean service is the mean of a read's and a write's (a save makes one of each);
    a queue of writes alone waits longer. Below the callers' timeout, nearly every call the
    store accepts is served while its caller still waits; above it, the queue can fill with
    work for callers who have gone.
    """
    capacity = profile.capacity()
    per_call = (capacity.service_of("read").mean + capacity.service_of("write").mean) / 2
    return limit * per_call / capacity.workers


def _kept_up(result: Any) -> float:
    return recovered_within(after=0.0, within=0.0)(result)


#: 1 if goodput kept up with the offered saves over every 2-s window of the run, else 0.
KEPT_UP = Metric("goodput at 80% of the offered saves or more over every 2-s window", _kept_up)


def storm_then_cut(params: Mapping[str, Any], seed: int, profile: StoreProfile, *, pattern: Any = AT_ONCE,
                   label: str = "storm, then cut", storm: bool = True) -> Any:
    """Saves at :data:`STORM_RATE` until :data:`CUT_AT` s, then at ``params["rate"]`` (the load step).

    With *storm* the trigger slows the store at 3-4 s, so a storm runs when the
    load is cut; without, the same arrivals meet a store that never slowed.
    """
    rate = Step([(0.0, STORM_RATE), (CUT_AT, float(params["rate"]))])
    capacity = busy_slowdown(params, profile) if storm else profile.capacity()
    return run_load(pattern, rate=rate, duration=float(params["duration"]), seed=seed, name=label,
                    network=busy_timeouts(params, profile), capacity=capacity, **RUN)


def _committed_after(result: Any, start: float) -> float:
    saves = result.saves
    late = saves[saves["start"] >= start]
    return float((late["outcome"] == "committed").mean()) if len(late) else math.nan


def committed_after(start: float) -> Metric:
    """The share of saves arriving at or after *start* seconds that were committed (0-1, shown as %)."""
    return Metric(f"committed, of saves arriving from {start:g} s", functools.partial(_committed_after, start=start),
                  "%")


def _arm(label: str, pattern: Any, capacity: Callable[..., Any] = busy_slowdown) -> Arm:
    return load_arm(label, pattern, network=busy_timeouts, capacity=capacity, **RUN)


CLAIMS = [
    Claim(
        chapter=8, id="healthy-without-trigger",
        statement="without a trigger, retrying at once at 86-90 saves/s (83-87% busy) keeps goodput at 80% of "
                  "the offered saves or more over every 2-s window of a 30-s run, in at least three runs in four",
        subject=load_arm("retry at once, no trigger", AT_ONCE, network=busy_timeouts, **RUN),
        metric=KEPT_UP, relation=at_least(1.0),
        domain={"rate": Range(86, 90, unit="saves/s"), "duration": Range(30, 30, unit="s of arrivals")},
        at={"rate": RATE},
        profile=BUSY_SERVER,
        share=0.75,
        note="The chapter's storm was shown at 96 saves/s, where retrying at once went into a storm without any "
             "trigger in 2 of 4 60-s runs. Over 60-s runs (seeds 0-23) without a trigger goodput never fell "
             "behind at 88/s in 24 of 24 runs, at 90/s in 22 of 24 (seed 22 went into a storm by itself at "
             "about 50 s), at 92/s in 18 of 24 (seed 7 a storm to the end) and at 94/s in 16 of 24. Near "
             "capacity a burst of arrivals is a trigger too, so the claim stops at 90/s and says 30 s.",
    ),
    Claim(
        chapter=8, id="storm-outlasts-trigger-by-five-seconds",
        statement="at 90-96 saves/s (87-92% busy), a one-second 4x slowdown makes retrying at once a storm that "
                  "is still running 5 s after the slowdown ended, in at least half the runs",
        subject=_arm("retry at once", AT_ONCE),
        metric=recovered_within(after=4.0, within=5.0), relation=at_most(0.0),
        domain={"rate": Range(90, 96, unit="saves/s"), "duration": Range(15, 15, unit="s of arrivals")},
        at={"rate": RATE},
        profile=BUSY_SERVER,
        share=0.5,
        note="Was 'storm-outlasts-ten-seconds', which checked 6 s, from 94 saves/s; and before that 'the storm "
             "never recovers' over 75-85 saves/s, from 10-s runs of the blind re-append: 'never' was the run "
             "length. Over 60-s runs (seeds 0-23) the storm lasted more than 5 s after the slowdown in 19 of 24 "
             "runs at 90/s (median 14 s, one to the end), 16 of 24 at 88/s (median 11 s), 22 of 24 at 92/s "
             "(median 34 s, 9 to the end). The notebook's figure shows how long they last by load.",
    ),
    Claim(
        chapter=8, id="storm-ends-below",
        statement="at 76-82 saves/s (73-79% busy) the same trigger's storm is over for good within 10 s, "
                  "in at least three runs in five",
        subject=_arm("retry at once", AT_ONCE),
        metric=recovered_within(after=4.0, within=10.0), relation=at_least(1.0),
        domain={"rate": Range(76, 82, unit="saves/s"), "duration": Range(19, 19, unit="s of arrivals")},
        at={"rate": 80},
        profile=BUSY_SERVER,
        share=0.6,
        note="The other end of the storm-duration figure: how long a storm lasts depends on the load. Was "
             "'76-84 saves/s, four runs in five': on the held-out seeds it held in 28 of 30 at 80/s (10005 and "
             "10012 ran longer) and 25 of 30 at 82.6/s, so the load is narrowed and the share restated.",
    ),
    Claim(
        chapter=8, id="storm-outlives-its-load",
        statement="at 91-93 saves/s (87-89% busy) a store running a storm commits less than 0.9 x what the "
                  "same store commits at the same load without one, in at least three runs in five: the "
                  "storm holds at a load that stays healthy without it",
        subject=Arm("storm at 96/s, then cut", functools.partial(storm_then_cut, storm=True)),
        baseline=load_arm("same load, no storm", AT_ONCE, network=busy_timeouts, **RUN),
        metric=committed_after(CUT_AT + 2.0), relation=less_than(0.9),
        domain={"rate": Range(91, 93, unit="saves/s after the cut at 6 s"),
                "duration": Range(14, 14, unit="s of arrivals")},
        at={"rate": 92},
        profile=BUSY_SERVER,
        share=0.6,
        note="Hysteresis: the same load, two stable states, chosen by history. Storms at 96/s cut at 6 s to "
             "92/s held (committed < 0.9 x the storm-free store, from 8 s) in 23-26 of 30 seeds "
             "(20000-20029); cut to 88/s in only 15-21 of 30, so the claim starts at 91/s. The storm-free "
             "store (retrying at once, no trigger) committed 100% from 8 s in all 30 seeds at 88 and 92/s.",
    ),
    Claim(
        chapter=8, id="cutting-load-ends-storm",
        statement="cutting the load of a storm at 96 saves/s to 68-76 saves/s (65-73% busy) ends it within 5 s",
        subject=Arm("storm at 96/s, then cut", functools.partial(storm_then_cut, storm=True)),
        metric=recovered_within(after=CUT_AT, within=5.0), relation=at_least(1.0),
        domain={"rate": Range(68, 76, unit="saves/s after the cut at 6 s"),
                "duration": Range(16, 16, unit="s of arrivals")},
        at={"rate": 72},
        profile=BUSY_SERVER,
        note="Cut at 8 s to 84/s (81% busy) the storm lasted 2-21 s more (seeds 0-9); to 76/s at most 2 s.",
    ),
    Claim(
        chapter=8, id="short-queue-recovers-within-two-seconds",
        statement="a store queue bounded at 16-48 waiting calls (about 77-230 ms of work on average, under the "
                  "callers' 0.25 s timeout) has goodput back for good within 2 s of the slowdown's end, for the same "
                  "naive clients retrying at once, at 86-92 saves/s, in at least four runs in five",
        subject=_arm("retry at once, bounded queue", AT_ONCE, bounded_slowdown),
        metric=recovered_within(after=4.0, within=2.0), relation=at_least(1.0),
        domain={"rate": Range(86, 92, unit="saves/s"),
                "queue_limit": Range(16, 48, integer=True, unit="waiting calls"),
                "duration": Range(11, 11, unit="s of arrivals")},
        at={"rate": RATE, "queue_limit": QUEUE_LIMIT},
        profile=BUSY_SERVER,
        note="Was 'bounded-queue-ends-storm' at a limit of 32, which measured committed saves over 15 s against "
             "the unbounded queue, not an end to the storm. The rule is queue_wait(limit) < timeout: a call "
             "the store accepts is served before its caller gives up. At 90/s (seeds 0-15, 20-s runs) limits "
             "16-64 recovered within 2.25 s in every seed; 128 (614 ms of work) in 15 of 16, one never; at "
             "100/s, 96% busy, even limit 16 left 1 of 16 unrecovered and 128 left 8 of 16, so the load stops "
             "at 92/s. Over 60-s runs at 90/s and limit 32 (seeds 30000-30029) it was back for good within 2 s "
             "in 27 of 30: near capacity a later dip counts against for-good recovery, so the claim "
             "says 11 s of arrivals.",
    ),
    Claim(
        chapter=8, id="deadline-drop-recovers-within-six-seconds",
        statement="a 0.3 s deadline per save, passed down so the store drops calls whose caller has gone, has "
                  "goodput back for good within 6 s of the slowdown's end at 86-92 saves/s, in at least two "
                  "runs in three",
        subject=_arm("deadline 0.3 s, expired dropped", DEADLINE),
        metric=recovered_within(after=4.0, within=6.0), relation=at_least(1.0),
        domain={"rate": Range(86, 92, unit="saves/s"), "duration": Range(15, 15, unit="s of arrivals")},
        at={"rate": RATE},
        profile=BUSY_SERVER,
        share=2 / 3,
        note="Was 'deadline-drop-ends-storm', which measured committed saves against retrying at once. It ends "
             "most storms, not all, and it does not beat sending each save once: at 90/s (seeds 0-15, 20-s "
             "runs) it was back within 5.25 s in 15 of 16 (seed 11 never) and committed 92-96% where no retry "
             "committed 92-96%; at 100/s it left 3 of 16 unrecovered and committed 81-95% against 85-96%. Claimed "
             "in three runs in four, it was fragile on the held-out seeds at 89.6/s (27 of 30), so two in three. "
             "Over 60-s runs at 90/s (seeds 30000-30029) only 21 of 30 stayed back to the end: the claim is "
             "about the 15 s it states.",
    ),
    Claim(
        chapter=8, id="throttling-recovers-within-three-seconds",
        statement="adaptive throttling (2-s window) has goodput back for good within 3 s of the slowdown's end "
                  "at 86-92 saves/s, in at least four runs in five",
        subject=_arm("adaptive throttling", THROTTLE),
        metric=recovered_within(after=4.0, within=3.0), relation=at_least(1.0),
        domain={"rate": Range(86, 92, unit="saves/s"), "duration": Range(12, 12, unit="s of arrivals")},
        at={"rate": RATE},
        profile=BUSY_SERVER,
        note="Was 'throttling-beats-blind-retries', committed saves against retrying at once over 15 s. At "
             "90/s (seeds 0-15, 20-s runs) it was back within 2.25 s in every seed; at 100/s 2 of 16 never. "
             "Where it helps, it helps by ending the storm; what it costs is in throttling-costs-saves. Over "
             "60-s runs at 90/s (seeds 30000-30029) 27 of 30 stayed back to the end.",
    ),
    Claim(
        chapter=8, id="throttling-costs-saves",
        statement="adaptive throttling commits fewer saves through the trigger than not retrying at all, "
                  "from 86 saves/s (83% busy), whether or not a storm starts",
        subject=_arm("adaptive throttling", THROTTLE),
        baseline=_arm("no retries", NO_RETRY),
        metric=committed_share(), relation=less_than(),
        domain={"rate": Range(86, 100, unit="saves/s"), "duration": Range(15, 15, unit="s of arrivals")},
        at={"rate": 96},
        profile=BUSY_SERVER,
        note="Was 'adaptive throttling is a defence' (it committed 68% where no retries committed 91%). It is "
             "one against retries that feed a storm; against sending each save once it loses: the throttle "
             "rejects saves locally while its window still remembers the trigger's failures. At 80/s it held "
             "in 7 of 8 seeds (20000-20007; in 20002 throttling committed 96.5% against 96.1%): where the "
             "trigger costs only a few saves, retrying them can pay, so the claim starts at 86/s (10 of 10 "
             "at 88/s). Seeds 0-29 at 90 and 96/s: 29 of 30 each; in seed 12 the no-retry store had a storm "
             "of its own (90.3% against 89.9% at 90/s). With the chapter's recovery claims this is when "
             "throttling helps and when it costs: it ends the storm that retrying at once makes, and it "
             "commits fewer saves than sending each save once.",
    ),
]
