"""Adaptive retry: wait according to how far behind the conflict says we were.

Every conflict carries a signal for free: its distance, the number of commits
that landed between our read and our save. Adaptive retry waits a flat 50 ms
after a light conflict (distance 1-2), 50 ms per commit after a moderate one
(3-10) and, beyond 10, a wait that doubles with our attempts up to a cap.

The distance counts the commits that beat us, not the writers still waiting:
a save commits only if its writer read the version just before it, so about
one commit fits into one read-and-save round trip, and without work between
read and save the distance stays at 1 or 2 however many writers crowd an
actor. There adaptive retry is a flat 50 ms wait: it never retries quickly
(its first wait is always at least 50 ms), and writers that conflict together
wait the same and collide again (lock-step; ``jitter=True`` spreads them).
The signal can act only where writers' read-to-save windows differ in length
(work between read and save); tune the tiers to the store's commit rate
(see :class:`AdaptivePolicy`), and compare with a flat wait of the same scale
before trusting it (chapter 04 does).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from aether.checks import check_bool, check_instance, check_rng, show
from aether.clock import Clock
from aether.errors import RetriesExhaustedError, VersionConflictError
from aether.events import Event
from aether.patterns._common import REAL_CLOCK, capped_exponential, check_count, check_delay
from aether.patterns.backoff import equal_jitter
from aether.patterns.command import Command, LogicalSave
from aether.store.base import EventStore

__all__ = ["DEFAULT_ADAPTIVE_POLICY", "AdaptivePolicy", "adaptive_delay", "adaptive_retry"]


@dataclass(frozen=True)
class AdaptivePolicy:
    """The three contention tiers of :func:`adaptive_delay`, with delays in seconds.

    * light, ``distance <= light_up_to`` (default 1-2): a flat ``light_delay`` (50 ms);
    * moderate, ``distance <= moderate_up_to`` (default 3-10): ``per_version * distance``
      (50 ms per competing commit: 150 ms to 500 ms);
    * high, above ``moderate_up_to``: ``(per_version * moderate_up_to) * 2**attempt``, which
      starts where the moderate tier ends (500 ms) and doubles with each retry.

    Every delay is capped at ``max_delay`` (2 s).
    """

    light_up_to: int = 2
    moderate_up_to: int = 10
    light_delay: float = 0.050
    per_version: float = 0.050
    max_delay: float = 2.0

    def __post_init__(self) -> None:
        check_count("light_up_to", self.light_up_to)
        check_count("moderate_up_to", self.moderate_up_to)
        if self.moderate_up_to < self.light_up_to:
            raise ValueError(f"light_up_to must be at most moderate_up_to; got "
                             f"light_up_to={show(self.light_up_to)}, "
                             f"moderate_up_to={show(self.moderate_up_to)}")
        check_delay("light_delay", self.light_delay)
        check_delay("per_version", self.per_version)
        check_delay("max_delay", self.max_delay)
        if self.max_delay < self.light_delay:
            raise ValueError(f"max_delay must be >= light_delay ({show(self.light_delay)} s); "
                             f"got {show(self.max_delay)}")


DEFAULT_ADAPTIVE_POLICY = AdaptivePolicy()


def adaptive_delay(distance: int, attempt: int,
                   policy: AdaptivePolicy = DEFAULT_ADAPTIVE_POLICY) -> float:
    """Seconds to wait after a conflict of *distance*, before retry *attempt* (0-based).

    A pure function of its arguments (see :class:`AdaptivePolicy` for the
    tiers). With the defaults: distance 1 waits 50 ms, distance 5 waits
    250 ms, distance 20 waits 0.5 s, then 1 s, then 2 s on later retries.
    A distance below 1 (a writer that tried a version ahead of the store)
    counts as light contention.
    """
    if isinstance(distance, bool) or not isinstance(distance, int):
        raise TypeError(f"distance must be an int; got {show(distance)} "
                        f"({type(distance).__name__})")
    check_count("attempt", attempt, minimum=0)
    check_instance("policy", policy, AdaptivePolicy, "an AdaptivePolicy")
    if distance <= policy.light_up_to:
        return min(policy.max_delay, policy.light_delay)
    if distance <= policy.moderate_up_to:
        return min(policy.max_delay, policy.per_version * distance)
    return capped_exponential(policy.per_version * policy.moderate_up_to, policy.max_delay, attempt)


def adaptive_retry(store: EventStore, actor_id: str, event_type: str,
                   data: Command = None, *, clock: Clock = REAL_CLOCK,
                   rng: random.Random | None = None,
                   policy: AdaptivePolicy = DEFAULT_ADAPTIVE_POLICY, jitter: bool = False,
                   max_attempts: int = 10, key: str | None = None,
                   deadline: float | None = None) -> Event:
    """Save the next event, waiting after each conflict as :func:`adaptive_delay` says.

    Use it only where a conflict's distance can say something: where
    writers work between read and save, so that several commits fit into
    one writer's window. The wait grows with the distance and never falls
    below the light tier's 50 ms, so even a quiet actor's first wait is
    50 ms; where writers save right after reading every conflict is light
    and this is a flat 50 ms wait, in lock-step unless jittered (chapter 04
    measures it). ``jitter=True`` draws each wait as equal jitter
    (``d/2 + uniform(0, d/2)``, with *rng*), which keeps at least half of the
    tier's delay while spreading writers apart; it is off by default so the
    waits are exactly the policy's. At most *max_attempts* (10) saves.
    *data*, *key* and *deadline* as in :func:`~aether.patterns.simple.simple_retry`.

    Raises :class:`~aether.errors.RetriesExhaustedError` ``from`` the last
    conflict when every attempt lost; any other error propagates at once.
    """
    save = LogicalSave(store, actor_id, event_type, data, clock, key=key, deadline=deadline)
    check_count("max_attempts", max_attempts)
    check_instance("policy", policy, AdaptivePolicy, "an AdaptivePolicy")
    if rng is not None:
        check_rng("rng", rng)
    if check_bool("jitter", jitter) and rng is None:
        rng = random.Random()
    last: VersionConflictError | None = None
    for attempt in range(1, max_attempts + 1):
        save.begin(last)
        event = save.next_event()
        try:
            return save.send(event)
        except VersionConflictError as conflict:
            last = conflict
        if attempt < max_attempts:
            delay = adaptive_delay(last.distance, attempt - 1, policy)
            save.wait(equal_jitter(delay, rng) if jitter and rng is not None else delay, last)
    raise RetriesExhaustedError(actor_id, max_attempts, "retry limit reached") from last
