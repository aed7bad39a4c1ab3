"""Simple retry: a few attempts with capped exponential backoff.

After a conflict the writer waits, reads the latest version again and tries
once more, doubling the wait each time (10 ms, 20 ms, 40 ms, ... never more
than the cap). It is the pattern most code starts with, and the right one
when conflicts are rare: a short, bounded wait gives the competing writer
time to finish. Its risk is that every writer waits the same amounts, so
writers that collided once tend to collide again, and under heavy contention
many saves give up after their few attempts.
"""

from __future__ import annotations

from aether.clock import Clock
from aether.errors import RetriesExhaustedError, VersionConflictError
from aether.events import Event
from aether.patterns._common import REAL_CLOCK, capped_exponential, check_backoff, check_count
from aether.patterns.backoff import GO_BACKOFF
from aether.patterns.command import Command, LogicalSave
from aether.store.base import EventStore

__all__ = ["simple_retry"]


def simple_retry(store: EventStore, actor_id: str, event_type: str,
                 data: Command = None, *, clock: Clock = REAL_CLOCK,
                 max_attempts: int = 4, base_delay: float = GO_BACKOFF.base_delay,
                 max_delay: float = GO_BACKOFF.max_delay, key: str | None = None,
                 deadline: float | None = None) -> Event:
    """Save the next event, trying at most *max_attempts* times (the first try included).

    Before retry *n* (0-based) it sleeps ``min(max_delay, base_delay * 2**n)``
    seconds, then reads the latest version again. The defaults (4 attempts:
    the first and 3 retries; :data:`~aether.patterns.backoff.GO_BACKOFF`,
    base 10 ms, cap 1 s) mirror the original Go example: waits of 10, 20 and 40 ms.

    Use it when conflicts are occasional and a few short waits settle them.
    Under heavy contention prefer :func:`~aether.patterns.jitter.jitter_retry`
    (spreads writers apart) or :func:`~aether.patterns.adaptive.adaptive_retry`
    (waits longer when the conflict shows many competitors).

    *data* is a decision ``decide(events) -> data | None``, re-made on a
    fresh read before every attempt, or a mapping re-appended blindly (see
    :mod:`aether.patterns.command`); *key* is the save's idempotency key and
    *deadline* its whole budget in seconds.

    Raises :class:`~aether.errors.RetriesExhaustedError` ``from`` the last
    conflict when every attempt lost, :class:`~aether.errors.CommandRefusedError`
    when the decision refuses, :class:`~aether.errors.DeadlineExceededError`
    when time is up; any other error propagates at once.
    """
    save = LogicalSave(store, actor_id, event_type, data, clock, key=key, deadline=deadline)
    check_count("max_attempts", max_attempts)
    base_delay, max_delay = check_backoff(base_delay, max_delay)
    last: VersionConflictError | None = None
    for attempt in range(1, max_attempts + 1):
        save.begin(last)
        event = save.next_event()
        try:
            return save.send(event)
        except VersionConflictError as conflict:
            last = conflict
        if attempt < max_attempts:
            save.wait(capped_exponential(base_delay, max_delay, attempt - 1), last)
    raise RetriesExhaustedError(actor_id, max_attempts, "retry limit reached") from last
