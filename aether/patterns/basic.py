"""Two baseline patterns: give up at the first conflict, or retry at once forever-ish."""

from __future__ import annotations

from aether.clock import Clock
from aether.errors import RetriesExhaustedError, VersionConflictError
from aether.events import Event
from aether.patterns._common import REAL_CLOCK, check_count
from aether.patterns.command import Command, LogicalSave
from aether.store.base import EventStore

__all__ = ["immediate_retry", "no_retry"]


def no_retry(store: EventStore, actor_id: str, event_type: str,
             data: Command = None, *, clock: Clock = REAL_CLOCK, key: str | None = None,
             deadline: float | None = None) -> Event:
    """Read the actor, decide, and save the next event, once. A conflict propagates to the caller.

    Use it as the baseline: it shows how often writers collide at all. *data*
    is a decision ``decide(events)`` or a blind mapping (see
    :mod:`aether.patterns.command`); a refusal raises
    :class:`~aether.errors.CommandRefusedError`.
    """
    save = LogicalSave(store, actor_id, event_type, data, clock, key=key, deadline=deadline)
    save.begin()
    return save.send(save.next_event())


def immediate_retry(store: EventStore, actor_id: str, event_type: str,
                    data: Command = None, *, clock: Clock = REAL_CLOCK,
                    max_attempts: int = 100, key: str | None = None,
                    deadline: float | None = None) -> Event:
    """Retry at once, without waiting, until the save lands or *max_attempts* are used.

    A conflict means another writer committed, so the loser's next read is
    current and it can win at once; with attempts to spare it commits every
    save, but it makes the most store writes, and with few attempts it gives
    up the most (chapter 01 measures both). Use it as the "no backoff"
    baseline. *data*, *key* and *deadline* as in
    :func:`~aether.patterns.simple.simple_retry`.
    """
    save = LogicalSave(store, actor_id, event_type, data, clock, key=key, deadline=deadline)
    check_count("max_attempts", max_attempts)
    last: VersionConflictError | None = None
    for _attempt in range(1, max_attempts + 1):
        save.begin(last)
        event = save.next_event()
        try:
            return save.send(event)
        except VersionConflictError as conflict:
            last = conflict
    raise RetriesExhaustedError(actor_id, max_attempts, "retry limit reached") from last
