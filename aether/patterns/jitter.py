"""Jitter retry: exponential backoff with a random delay, so colliding writers drift apart.

Writers that collide and then wait the *same* time collide again. Jitter draws
each wait at random, following the formulas of the AWS Architecture Blog's
"Exponential Backoff And Jitter": with ``v = min(cap, base * 2**n)``, *full*
jitter waits ``uniform(0, v)``, *equal* jitter ``v/2 + uniform(0, v/2)``, and
*decorrelated* jitter ``min(cap, uniform(base, 3 * previous))``. Use it whenever
many writers can collide at once (a thundering herd); the risk is a long tail:
an unlucky writer may need many attempts, so its attempt limit must be generous.
The waits come from a :class:`~aether.patterns.backoff.Backoff` (see
:mod:`aether.patterns.backoff`, re-exported here).
"""

from __future__ import annotations

import random

from aether.checks import check_rng
from aether.clock import Clock
from aether.errors import RetriesExhaustedError, VersionConflictError
from aether.events import Event
from aether.patterns._common import REAL_CLOCK, check_count
from aether.patterns.backoff import (
    AWS_BACKOFF,
    JITTERS,
    Backoff,
    Jitter,
    decorrelated_jitter,
    equal_jitter,
    full_jitter,
    no_jitter,
)
from aether.patterns.command import Command, LogicalSave
from aether.store.base import EventStore

__all__ = [
    "JITTERS",
    "Backoff",
    "Jitter",
    "decorrelated_jitter",
    "equal_jitter",
    "full_jitter",
    "jitter_retry",
    "no_jitter",
]


def jitter_retry(store: EventStore, actor_id: str, event_type: str,
                 data: Command = None, *, clock: Clock = REAL_CLOCK,
                 rng: random.Random | None = None, jitter: Jitter = "full",
                 base_delay: float = AWS_BACKOFF.base_delay,
                 max_delay: float = AWS_BACKOFF.max_delay, max_attempts: int = 50,
                 key: str | None = None, deadline: float | None = None) -> Event:
    """Save the next event, retrying after a randomised exponential wait (see :class:`Backoff`).

    Use it when many writers collide at once: ``"full"`` (the default) does
    the least work, ``"equal"`` keeps a minimum wait, ``"decorrelated"`` lets
    the wait wander up from the previous one, and ``"none"`` is plain capped
    exponential backoff for comparison. The defaults
    (:data:`~aether.patterns.backoff.AWS_BACKOFF`: 5 ms base, 2 s cap) follow
    the AWS experiment, which retries until it succeeds; hence the generous
    ``max_attempts=50``. Each call keeps its own backoff state. *data*, *key*
    and *deadline* as in :func:`~aether.patterns.simple.simple_retry`.

    Raises :class:`~aether.errors.RetriesExhaustedError` ``from`` the last
    conflict after *max_attempts* lost saves; any other error propagates at once.
    """
    save = LogicalSave(store, actor_id, event_type, data, clock, key=key, deadline=deadline)
    check_count("max_attempts", max_attempts)
    if rng is not None:
        check_rng("rng", rng)
    delays = Backoff(base_delay, max_delay, jitter).delays(rng)
    last: VersionConflictError | None = None
    for attempt in range(1, max_attempts + 1):
        save.begin(last)
        event = save.next_event()
        try:
            return save.send(event)
        except VersionConflictError as conflict:
            last = conflict
        if attempt < max_attempts:
            save.wait(next(delays), last)
    raise RetriesExhaustedError(actor_id, max_attempts, "retry limit reached") from last
