"""Two baseline patterns: give up at the first conflict, or retry at once forever-ish."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aether.clock import Clock
from aether.errors import RetriesExhaustedError, VersionConflictError
from aether.events import Event
from aether.patterns._common import REAL_CLOCK, check_count, check_save, next_event
from aether.store.base import EventStore

__all__ = ["immediate_retry", "no_retry"]


def no_retry(store: EventStore, actor_id: str, event_type: str,
             data: Mapping[str, Any] | None = None, *, clock: Clock = REAL_CLOCK) -> Event:
    """Read the latest version and save the next one, once. A conflict propagates to the caller.

    Use it as the baseline: it shows how often writers collide at all.
    """
    data = check_save(store, actor_id, event_type, data, clock)
    event = next_event(store, actor_id, event_type, data)
    store.save_event(event)
    return event


def immediate_retry(store: EventStore, actor_id: str, event_type: str,
                    data: Mapping[str, Any] | None = None, *, clock: Clock = REAL_CLOCK,
                    max_attempts: int = 100) -> Event:
    """Retry at once, without waiting, until the save lands or *max_attempts* are used.

    The naive fix that makes contention worse: every loser comes straight
    back and collides again. Use it only as the "no backoff" baseline.
    """
    data = check_save(store, actor_id, event_type, data, clock)
    check_count("max_attempts", max_attempts)
    last: VersionConflictError | None = None
    for _attempt in range(1, max_attempts + 1):
        event = next_event(store, actor_id, event_type, data)
        try:
            store.save_event(event)
            return event
        except VersionConflictError as conflict:
            last = conflict
    raise RetriesExhaustedError(actor_id, max_attempts, "retry limit reached") from last
