"""Chapter 01, simple retry: what backoff is for under optimistic concurrency, and what limits it.

Every arm saves a command (``decide``): :func:`next_line` appends the actor's
next numbered line, so a loser re-reads and re-decides after each conflict
(chapter 00). A conflict means another writer committed, so retrying at once
re-reads a version that is already current and can succeed. Behind 10 ms hops,
where round trips and not the store set the pace, the wait buys fewer store
writes; fewer give-ups only when retries are limited by attempt count (with the
same deadline, retrying at once gives up less); with the same attempts, the
total wait, not jitter, sets the give-ups.
"""

from __future__ import annotations

import functools
import inspect
import random
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from aether.claims import (
    Claim,
    Range,
    at_least,
    committed_share,
    contention_arm,
    gave_up_share,
    greater_than,
    less_than,
    makespan,
    work,
)
from aether.claims.catalog._common import CLASSIC
from aether.clock import Clock
from aether.events import Event
from aether.patterns import GO_BACKOFF, immediate_retry, jitter_retry, simple_retry

__all__ = ["CAPPED_MAX_DELAY", "CLAIMS", "DEADLINE", "MANY_ATTEMPTS", "exercise_reference", "next_line", "saving"]

#: Attempts that, up to the claims' writer counts, let a save retry until it lands.
MANY_ATTEMPTS = 100


def next_line(events: Sequence[Event]) -> Mapping[str, Any]:
    """The decision: the actor's next numbered line (it depends on the events read, so it is re-made)."""
    return {"line": len(events) + 1}


def saving(store: Any, actor_id: str, event_type: str, data: Mapping[str, Any], *, clock: Clock,
           rng: random.Random | None = None, retry: Callable[..., Event], **settings: Any) -> Event:
    """One save of the command :func:`next_line` through the pattern *retry* with its *settings*.

    A pattern for the experiment (``functools.partial(saving, retry=simple_retry)``):
    the harness's blind *data* is replaced by the decision; *rng* goes to a
    pattern that draws waits.
    """
    extra = {"rng": rng} if "rng" in inspect.signature(retry).parameters else {}
    return retry(store, actor_id, event_type, next_line, clock=clock, **extra, **settings)


def _arm(label: str, retry: Callable[..., Event], **settings: Any) -> Any:
    return contention_arm(label, functools.partial(saving, retry=retry, **settings), saves_per_writer=5)


IMMEDIATE_4 = _arm("retry at once, 4 attempts", immediate_retry, max_attempts=4)
SIMPLE_4 = _arm("simple retry, 4 attempts", simple_retry, max_attempts=4)
FULL_JITTER_4 = _arm("full jitter, 4 attempts, 10 ms base", jitter_retry, max_attempts=4, jitter="full",
                     base_delay=GO_BACKOFF.base_delay, max_delay=GO_BACKOFF.max_delay)
FULL_JITTER_4_20MS = _arm("full jitter, 4 attempts, 20 ms base", jitter_retry, max_attempts=4, jitter="full",
                          base_delay=2 * GO_BACKOFF.base_delay, max_delay=GO_BACKOFF.max_delay)
IMMEDIATE_MANY = _arm(f"retry at once, {MANY_ATTEMPTS} attempts", immediate_retry, max_attempts=MANY_ATTEMPTS)
SIMPLE_MANY = _arm(f"simple retry, {MANY_ATTEMPTS} attempts", simple_retry, max_attempts=MANY_ATTEMPTS)
#: Backoff whose waits stop doubling at 40 ms (10, 20, 40, 40, ... ms) instead of the 1 s cap.
CAPPED_MAX_DELAY = 0.040
SIMPLE_MANY_CAPPED = _arm(f"simple retry, {MANY_ATTEMPTS} attempts, 40 ms cap", simple_retry,
                          max_attempts=MANY_ATTEMPTS, max_delay=CAPPED_MAX_DELAY)
#: The whole time a save may take, in seconds, when retries are limited by a deadline instead of attempts.
DEADLINE = 0.5
IMMEDIATE_DEADLINE = _arm("retry at once, 0.5 s deadline", immediate_retry, max_attempts=MANY_ATTEMPTS,
                          deadline=DEADLINE)
SIMPLE_DEADLINE = _arm("simple retry, 0.5 s deadline", simple_retry, max_attempts=MANY_ATTEMPTS, deadline=DEADLINE)

CLAIMS = [
    Claim(
        chapter=1, id="retry-at-once-commits-every-save",
        statement="retrying at once, without a wait, commits every save when attempts are not scarce",
        subject=IMMEDIATE_MANY, metric=committed_share(), relation=at_least(1.0),
        domain={"writers": Range(2, 35, integer=True, unit="writers x 5 saves")}, at={"writers": 20},
        profile=CLASSIC,
        note="At 50 writers 8 of 30 seeds (0-29) left one save in 250 uncommitted after 100 attempts.",
    ),
    Claim(
        chapter=1, id="retry-at-once-finishes-sooner",
        statement="with attempts not scarce, behind 10 ms hops (round trips, not the store, set the pace), "
                  "retrying at once finishes sooner than simple retry, whose waits double to a 1 s cap",
        subject=IMMEDIATE_MANY, baseline=SIMPLE_MANY, metric=makespan(), relation=less_than(),
        domain={"writers": Range(8, 35, integer=True, unit="writers x 5 saves")}, at={"writers": 20},
        profile=CLASSIC,
        note="Was 'finishes sooner than backoff on the calibrated store (a failed save costs little time "
             "there)'. An outside review showed it rests on the 10 ms hops and the 1 s cap, not the store: on the "
             "bare laptop SQLite profile (no hops) backoff scaled to the store (0.1 ms base, 4 ms cap) finished "
             "in 76 ms against 224 ms for retrying at once (20 writers, 8 seeds); with 1 ms hops a toss-up; "
             "capped at 40 ms backoff is about 15% slower, not 3.5x (and retrying at once finished first in only "
             "27 of 30 seeds at 8 writers, seeds 30000-30029 and 20000-20029, so that comparison is not a "
             "claim). Below 8 writers it is a toss-up: at 2 writers retrying at once finished first in 9 of 30 "
             "seeds.",
    ),
    Claim(
        chapter=1, id="backoff-fewer-writes",
        statement="with attempts not scarce, backoff makes fewer store writes than retrying at once",
        subject=SIMPLE_MANY, baseline=IMMEDIATE_MANY, metric=work(), relation=less_than(),
        domain={"writers": Range(5, 35, integer=True, unit="writers x 5 saves")}, at={"writers": 20},
        profile=CLASSIC,
    ),
    Claim(
        chapter=1, id="capped-backoff-fewer-writes",
        statement="with attempts not scarce, backoff capped at 40 ms still makes fewer store writes than "
                  "retrying at once",
        subject=SIMPLE_MANY_CAPPED, baseline=IMMEDIATE_MANY, metric=work(), relation=less_than(),
        domain={"writers": Range(5, 35, integer=True, unit="writers x 5 saves")}, at={"writers": 20},
        profile=CLASSIC,
        note="Added after an outside review (34-39% fewer writes than retrying at once). Passed on seeds "
             "30000-30029 and 20000-20029 at its point and a perturbed one. Its time is not a claim: retrying at "
             "once finished first in only 27 of 30 seeds at 8 writers (30000-30029 and 20000-20029).",
    ),
    Claim(
        chapter=1, id="backoff-fewer-give-ups",
        statement="when retries are limited by attempt count (the same 4 attempts), simple retry's waits leave "
                  "fewer saves giving up than retrying at once",
        subject=SIMPLE_4, baseline=IMMEDIATE_4, metric=gave_up_share(), relation=less_than(),
        domain={"writers": Range(5, 50, integer=True, unit="writers x 5 saves")}, at={"writers": 20},
        profile=CLASSIC,
        note="Was 'simple retry's waits leave fewer saves giving up'. With the same deadline instead of the "
             "same attempts the order turns (claim retry-at-once-commits-more-by-a-deadline; an outside review: "
             "20 writers, 0.5 s, 22.7% against 40.1% not committed).",
    ),
    Claim(
        chapter=1, id="retry-at-once-commits-more-by-a-deadline",
        statement="when retries are limited by the same 0.5 s deadline, retrying at once commits more saves than "
                  "simple retry, which sleeps through part of it",
        subject=IMMEDIATE_DEADLINE, baseline=SIMPLE_DEADLINE, metric=committed_share(), relation=greater_than(),
        domain={"writers": Range(15, 35, integer=True, unit="writers x 5 saves")}, at={"writers": 20},
        profile=CLASSIC,
        note="Added after an outside review (20 writers: 22.7% against 40.1% not committed). Passed with two "
             "perturbed points on seeds 30000-30029, the held-out seeds and 20000-20029.",
    ),
    Claim(
        chapter=1, id="shorter-total-wait-gives-up-more",
        statement="with the same 4 attempts, a shorter total wait gives up more saves: full jitter with a 10 ms "
                  "base (35 ms in all on average) gives up more than with a 20 ms base (70 ms)",
        subject=FULL_JITTER_4, baseline=FULL_JITTER_4_20MS, metric=gave_up_share(), relation=greater_than(),
        domain={"writers": Range(20, 50, integer=True, unit="writers x 5 saves")}, at={"writers": 30},
        profile=CLASSIC,
        note="Was 'full-jitter-gives-up-more-on-the-same-budget': with the same 4 attempts and 10 ms base, full "
             "jitter gives up more saves than simple retry (30-50 writers). An outside review found it fragile "
             "on seeds 30000-30029 (27 of 30 at 30 writers), the effect small (68.6% against 66.1%), and with "
             "the same average total wait (full jitter with a 20 ms base) full jitter gave up less than simple "
             "retry (64.1% against 66.1% at 30 writers, 19 of 20 seeds): the total wait, not jitter, sets the "
             "give-ups, hence this statement within one pattern; it passed with two perturbed points on seeds "
             "30000-30029, the held-out seeds and 20000-20029. The old claim replaced the old section 5, which "
             "blamed the give-ups on lock-step and pointed to jitter (an outside run: 58.1% against 54.1% at "
             "20 writers). For the old claim: on average full jitter gave up more from 2 writers, "
             "but seed by seed it held in 20 of 30 seeds (0-29) at 8 and 10 writers, 27-28 of 30 at 15-22 "
             "(held-out seeds and 20000-20029; ties count as not held), 28-30 of 30 at 25 (seeds 0-59, "
             "held-out, 20000-20029; 19 of 20 on seeds 0-19) and 119 of 120 at 30, 40 and 50 on those four "
             "sets, hence the domain.",
    ),
]


# --- the exercises' references -----------------------------------------------------------------------------

#: Exercise 1's latency budget (p95 of every save, ms) and exercise 2's give-up share and base delays (s).
_LATENCY_BUDGET_MS = 500
_GIVE_UP_AT_MOST = 0.55
_BASES = (0.005, 0.010, 0.020, 0.040, 0.080)


def _largest_limit_within_budget(limits: Any) -> int:
    """Exercise 1: simple retry's largest ``max_attempts`` whose p95, the mean over seeds, is within the budget."""
    simple = limits[limits["pattern"] == "simple_retry"]
    p95_ms = 1000 * simple.groupby("max_attempts")["p95"].mean()
    within = p95_ms[p95_ms <= _LATENCY_BUDGET_MS]
    if within.empty:
        raise ValueError(f"no max_attempts of simple_retry keeps its p95 within {_LATENCY_BUDGET_MS} ms in limits")
    return int(within.index.max())


@functools.lru_cache(maxsize=1)
def _smallest_base_giving_up_at_most() -> float:
    """Exercise 2: simple retry's smallest base delay (4 attempts, 30 writers x 5 saves, seeds 0-4) under which
    at most 55% of the saves give up, the mean over the seeds."""
    from aether.experiment import sweep

    bases = sweep({f"{base}": functools.partial(saving, retry=simple_retry, max_attempts=4, base_delay=base)
                   for base in _BASES}, writers=[30], seeds=range(5), saves_per_writer=5, progress=False,
                  network=CLASSIC.network(), capacity=CLASSIC.capacity())
    share = (bases["gave_up"] / bases["saves"]).groupby(bases["pattern"].astype(float)).mean()
    return float(share[share <= _GIVE_UP_AT_MOST].index.min())


def exercise_reference(number: int, limits: Any = None) -> float:
    """The reference answer of exercise *number* (1 or 2), computed for its check so the notebook never shows it.

    Exercise 1 reads section 4's sweep *limits* (rows of ``pattern`` and
    ``max_attempts`` with their ``p95``); exercise 2 runs its own sweep of
    simple retry's base delay. Use it as ``reference=lambda: exercise_reference(1, limits)``.
    """
    if number == 1:
        if limits is None:
            raise ValueError("exercise 1 needs limits (section 4's sweep); got limits=None")
        return _largest_limit_within_budget(limits)
    if number == 2:
        return _smallest_base_giving_up_at_most()
    raise ValueError(f"number must be 1 or 2; got {number!r}")
