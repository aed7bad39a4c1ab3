"""Chapter 11, in production: the command retry written with tenacity and stamina, measured.

The arms run the chapter's own patterns: one attempt of the command (read the
actor, find the save's own key or decide, append under the key) retried by
tenacity (``Retrying`` built in the pattern, sleeping on the harness's clock,
full jitter drawn from the run's ``rng``) or by stamina (``retry_context`` with a
backoff hook that applies stamina's default formula with the run's ``rng``).
stamina sleeps with ``time.sleep``, which the harness redirects to the simulated
clock; its :class:`~aether.experiment.BlockingSleepWarning` is expected here and
silenced in the stamina arms.

tenacity and stamina are imported when an arm runs, not when the catalog is
read: they come with the ``notebooks`` extra, not with the package.
"""

from __future__ import annotations

import functools
import itertools
import random
import warnings
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from aether.claims import (
    Arm,
    Claim,
    Metric,
    Range,
    at_least,
    committed_share,
    contention_arm,
    every_save_latency,
    greater_than,
    less_than,
    work,
)
from aether.claims.catalog._common import CLASSIC
from aether.clock import Clock
from aether.errors import CommandRefusedError, ConflictError, StoreTimeoutError
from aether.events import Event
from aether.experiment.libraries import BlockingSleepWarning
from aether.experiment.profiles import StoreProfile

__all__ = [
    "CLAIMS",
    "STOCK",
    "applied_twice",
    "attempt",
    "exercise_reference",
    "reserve",
    "stamina_command_retry",
    "stamina_wait",
    "tenacity_command_retry",
]

#: Units on sale in the chapter's runs: more than any run's saves, so no decision refuses.
STOCK = 1_000

#: What the chapter's library patterns retry: a conflict (read again, decide again) and a timeout
#: (the outcome is unknown: try again under the same key).
RETRIED: tuple[type[Exception], ...] = (ConflictError, StoreTimeoutError)


def reserve(ident: Mapping[str, Any], events: Sequence[Event]) -> Mapping[str, Any] | None:
    """The command's decision: reserve one unit while fewer than :data:`STOCK` are reserved, else refuse.

    *ident* (the harness's ``{"writer", "save"}``) goes into the event, so that
    :func:`applied_twice` can count how often each logical save was stored.
    """
    return {**ident, "units": 1} if len(events) < STOCK else None


def attempt(store: Any, actor_id: str, event_type: str, decide: Any, key: str) -> Event:
    """One attempt of the command: read the actor, return our own event if *key* is stored, else decide and append.

    The event's id is *key*, so a store that already holds it (an earlier
    attempt landed, its reply lost) is found on the next read instead of
    being decided and appended again.
    """
    events = store.get_events(actor_id)
    for event in events:
        if event.id == key:
            return event
    data = decide(events)
    if data is None:
        raise CommandRefusedError(actor_id, len(events))
    event = Event(actor_id=actor_id, event_type=event_type, version=len(events) + 1, data=data, id=key)
    store.save_event(event)
    return event


def _full_jitter_wait(rng: random.Random, base: float = 0.005, cap: float = 2.0) -> Any:
    """tenacity's ``wait``: full jitter (``jitter_retry``'s defaults) drawn from *rng*."""
    return lambda state: rng.uniform(0.0, min(cap, base * 2 ** (state.attempt_number - 1)))


def tenacity_command_retry(store: Any, actor_id: str, event_type: str, data: Mapping[str, Any], *, clock: Clock,
                           rng: random.Random, max_attempts: int = 50, key_per: str = "save") -> Event:
    """The command retried by tenacity; ``key_per="attempt"`` makes a new key inside every attempt (the mistake)."""
    import tenacity

    if key_per not in ("save", "attempt"):
        raise ValueError(f"key_per must be 'save' or 'attempt'; got {key_per!r}")
    retrying = tenacity.Retrying(sleep=clock.sleep, wait=_full_jitter_wait(rng),
                                 retry=tenacity.retry_if_exception_type(RETRIED),
                                 stop=tenacity.stop_after_attempt(max_attempts))
    decide = functools.partial(reserve, data)
    if key_per == "attempt":
        return retrying(lambda: attempt(store, actor_id, event_type, decide, f"{rng.getrandbits(64):x}"))
    return retrying(attempt, store, actor_id, event_type, decide, f"save-{data['writer']}-{data['save']}")


def stamina_wait(retry: int, rng: random.Random, wait_initial: float = 0.1, wait_max: float = 5.0,
                 wait_jitter: float = 1.0) -> float:
    """stamina's wait before retry *retry* (from 1).

    ``min(wait_max, wait_initial * 2**(retry-1) + U(0, wait_jitter))``, with stamina's defaults.
    """
    return min(wait_max, wait_initial * 2 ** (retry - 1) + rng.uniform(0.0, wait_jitter))


def stamina_command_retry(store: Any, actor_id: str, event_type: str, data: Mapping[str, Any], *, clock: Clock,
                          rng: random.Random, attempts: int = 10, **waits: float) -> Event:
    """The command retried by stamina, its waits drawn from *rng* by a backoff hook.

    *waits* are :func:`stamina_wait`'s ``wait_initial``, ``wait_max`` and
    ``wait_jitter`` (stamina's defaults where left out).
    """
    import stamina

    retries = itertools.count(1)

    def backoff(error: Exception) -> float | bool:
        return isinstance(error, RETRIED) and stamina_wait(next(retries), rng, **waits)

    key = f"save-{data['writer']}-{data['save']}"
    for trying in stamina.retry_context(on=backoff, attempts=attempts):
        with trying:
            return attempt(store, actor_id, event_type, functools.partial(reserve, data), key)
    raise AssertionError("stamina.retry_context ended without an attempt")  # pragma: no cover


def _applied_twice(result: Any) -> float:
    stored: Counter[tuple[Any, Any]] = Counter()
    for actor in sorted(set(result.saves["actor_id"])):
        for event in result.store.get_events(actor):
            stored[(event.data["writer"], event.data["save"])] += 1
    return float(sum(1 for n in stored.values() if n > 1))


def applied_twice() -> Metric:
    """Logical saves stored more than once (each event carries its save's writer and number)."""
    return Metric("saves applied twice", _applied_twice, "saves")


def _quiet(params: Mapping[str, Any], seed: int, profile: StoreProfile, *, arm: Arm) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", BlockingSleepWarning)  # stamina's sleeps, slept on the simulated clock
        return arm.run(params, seed, profile)


def _stamina_arm(label: str, pattern: Any, **fixed: Any) -> Arm:
    return Arm(label, functools.partial(_quiet, arm=contention_arm(label, pattern, **fixed)))


def _silence_stamina_hooks() -> None:
    """stamina logs every retry as a warning through its default hooks; thousands of them say nothing here."""
    try:
        import stamina
    except ImportError:  # pragma: no cover - the arms need it; listing the claims does not
        return
    stamina.instrumentation.set_on_retry_hooks([])


def _stamina(store: Any, actor_id: str, event_type: str, data: Mapping[str, Any], *, clock: Clock,
             rng: random.Random, **waits: float) -> Event:
    _silence_stamina_hooks()
    return stamina_command_retry(store, actor_id, event_type, data, clock=clock, rng=rng, **waits)


def _lab(store: Any, actor_id: str, event_type: str, data: Mapping[str, Any], *, clock: Clock,
         rng: random.Random, base_delay: float = 0.005) -> Event:
    from aether.patterns import jitter_retry

    return jitter_retry(store, actor_id, event_type, functools.partial(reserve, data), clock=clock, rng=rng,
                        key=f"save-{data['writer']}-{data['save']}", base_delay=base_delay)


#: The stronger baseline for stamina: jitter_retry with stamina's 100 ms base (its default base is 5 ms).
JITTER_100MS = functools.partial(_lab, base_delay=0.1)
#: stamina with wait_initial scaled to a 10 ms store and its jitter kept wide, or scaled down with it.
STAMINA_WIDE = functools.partial(_stamina, wait_initial=0.005, wait_jitter=0.1)
STAMINA_NARROW = functools.partial(_stamina, wait_initial=0.005, wait_jitter=0.005)

KEY_PER_ATTEMPT = functools.partial(tenacity_command_retry, key_per="attempt")

CLAIMS = [
    Claim(
        chapter=11, id="stamina-less-work",
        statement="on a hot actor stamina's defaults make under 0.8 of the store writes of jitter_retry with a "
                  "100 ms base",
        subject=_stamina_arm("stamina defaults", _stamina),
        baseline=contention_arm("jitter_retry, 100 ms base", JITTER_100MS),
        metric=work(), relation=less_than(0.8),
        domain={"writers": Range(20, 50, integer=True, unit="writers on one actor, one save each")}, at={"writers": 50},
        profile=CLASSIC,
        note="Was 'under half the store writes of jitter_retry's', against jitter_retry's 5 ms default base, "
             "which waits about a hundred times less than stamina: a weak baseline. Against jitter_retry with "
             "stamina's 100 ms base the ratio is 0.58-0.75 on seeds 20000-20029 from 20 to 100 writers (30 of 30 "
             "at 20, 35, 50 and 100), so the saving comes mostly from waiting longer. It breaks below 20 writers: "
             "27 of 30 at 15, 20 of 30 at 10 (ratios up to 0.88).",
    ),
    Claim(
        chapter=11, id="stamina-slower-median",
        statement="on a hot actor the median save takes longer with stamina's defaults than with jitter_retry "
                  "with a 100 ms base",
        subject=_stamina_arm("stamina defaults", _stamina),
        baseline=contention_arm("jitter_retry, 100 ms base", JITTER_100MS),
        metric=every_save_latency(0.5), relation=greater_than(1.0),
        domain={"writers": Range(10, 50, integer=True, unit="writers on one actor, one save each")}, at={"writers": 20},
        profile=CLASSIC,
        note="First stated against jitter_retry's 5 ms default base; restated against the stronger 100 ms base, "
             "where it held in 30 of 30 seeds 20000-20029 at 5, 10, 20, 35, 50 and 100 writers (stamina's median "
             "1.4-4.5x the baseline's from 10 to 50 writers, 1.2-1.45x at 100: the margin shrinks with load, so "
             "the domain stops where the chapter measures). Against the 5 ms base, longer runs weakened it (3 "
             "saves per writer at 30 writers: 27 of 30), hence one save each.",
    ),
    Claim(
        chapter=11, id="stamina-narrow-jitter-commits-fewer",
        statement="with wait_initial scaled to 5 ms and 10 attempts, stamina with a 5 ms wait_jitter commits under "
                  "0.9 of the saves it commits with a 100 ms wait_jitter",
        subject=_stamina_arm("stamina, 5 ms + U(0, 5 ms)", STAMINA_NARROW),
        baseline=_stamina_arm("stamina, 5 ms + U(0, 100 ms)", STAMINA_WIDE),
        metric=committed_share(), relation=less_than(0.9),
        domain={"writers": Range(30, 50, integer=True, unit="writers on one actor, one save each")}, at={"writers": 50},
        profile=CLASSIC,
        note="stamina adds its jitter to the base, so scaling both to the store (5 ms / 5 ms, once suggested "
             "in the chapter's 'Try it') keeps the writers together: on seeds 20000-20029 the narrow jitter "
             "committed 0.40-0.58 of the wide jitter's saves at 50 writers, 0.45-0.75 at 40, 0.60-0.87 at 30 "
             "(30 of 30 each), 0.34-0.54 at 80. Below 30 writers it fails: 26 of 30 at 20 writers (up to 0.95), "
             "0 of 30 at 10 (both commit every save).",
    ),
    Claim(
        chapter=11, id="key-per-attempt-applies-twice",
        statement="with timeouts, a key made anew in every attempt applies some save twice",
        subject=contention_arm("key per attempt", KEY_PER_ATTEMPT),
        metric=applied_twice(), relation=at_least(1),
        domain={"writers": Range(20, 50, integer=True, unit="writers"),
                "timeout": Range(0.018, 0.022, unit="s caller timeout")},
        at={"writers": 30, "timeout": 0.022},
        profile=CLASSIC,
        note="First encoded over 21-24 ms timeouts; it passed the held-out check, but seeds 20000-20029 found "
             "it fragile at the long end: 25-27 of 30 at 20-25 writers with 23-24 ms, 20 of 30 at 25 writers "
             "with 24 ms (fewer calls time out, so some runs have no duplicate), and 19 of 30 at 30 writers with "
             "26 ms. From 18 to 22 ms it held in 30 of 30 at every point scanned (10-50 writers), and at 30 "
             "writers x 3 saves on 3 actors at 20 ms. Its counterpart, 'a key made once per save applies no "
             "save twice', is no claim: on the lab's stores a unique event id refuses a second append under the "
             "same key, so it could not fail; the chapter shows it as a check of that mechanism.",
    ),
]


# --- the exercises' references -----------------------------------------------------------------------------


def _tenacity_stamina(store: Any, actor_id: str, event_type: str, data: Mapping[str, Any], *, clock: Clock,
                      rng: random.Random) -> Event:
    """Exercise 1's pattern: the command retried by tenacity with stamina's default wait, 10 attempts."""
    import tenacity

    retrying = tenacity.Retrying(sleep=clock.sleep, wait=lambda state: stamina_wait(state.attempt_number, rng),
                                 retry=tenacity.retry_if_exception_type(RETRIED),
                                 stop=tenacity.stop_after_attempt(10))
    return retrying(attempt, store, actor_id, event_type, functools.partial(reserve, data),
                    f"save-{data['writer']}-{data['save']}")


def _tenacity_deadline(store: Any, actor_id: str, event_type: str, data: Mapping[str, Any], *, clock: Clock,
                       rng: random.Random) -> Event:
    """Exercise 2's pattern: :func:`tenacity_command_retry` stopping 0.3 s past the save's start on *clock*,
    or after 50 attempts."""
    import tenacity

    start = clock.now()

    def past_deadline(state: Any) -> bool:
        return clock.now() - start >= 0.3

    retrying = tenacity.Retrying(sleep=clock.sleep, wait=_full_jitter_wait(rng),
                                 retry=tenacity.retry_if_exception_type(RETRIED),
                                 stop=tenacity.stop_any(tenacity.stop_after_attempt(50), past_deadline))
    return retrying(attempt, store, actor_id, event_type, functools.partial(reserve, data),
                    f"save-{data['writer']}-{data['save']}")


def exercise_reference(number: int) -> int:
    """The reference answer of exercise *number* (1 or 2), computed here so the notebook never shows it.

    Exercise 1: the store writes of tenacity with stamina's wait, 20 writers,
    seed 3; exercise 2: the saves that gave up under a 0.3 s deadline on the
    harness's clock, 50 writers, seed 5; both on the lab's store. Use it as
    ``reference=lambda: exercise_reference(1)``. Needs tenacity (the ``notebooks`` extra).
    """
    from aether.experiment import run_contention

    store = {"network": CLASSIC.network(), "capacity": CLASSIC.capacity()}
    if number == 1:
        return int(run_contention(_tenacity_stamina, writers=20, seed=3, **store).summary().write_calls)
    if number == 2:
        result = run_contention(_tenacity_deadline, writers=50, seed=5, **store)
        return int((result.saves["outcome"] == "gave_up").sum())
    raise ValueError(f"number must be 1 or 2; got {number!r}")
