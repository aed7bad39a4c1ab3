"""Two baseline patterns: give up at the first conflict, or retry at once forever-ish."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aether.clock import Clock, RealClock
from aether.errors import RetriesExhaustedError, VersionConflictError
from aether.events import Event
from aether.store.base import EventStore

__all__ = ["immediate_retry", "no_retry"]

_REAL_CLOCK = RealClock()


def no_retry(store: EventStore, actor_id: str, event_type: str, data: Mapping[str, Any] | None = None, *,
             clock: Clock = _REAL_CLOCK) -> Event:
    """Read the latest version and save the next one, once. A conflict propagates to the caller.

    Use it as the baseline: it shows how often writers collide at all.
    """
    version = store.get_latest_version(actor_id)
    event = Event(actor_id=actor_id, event_type=event_type, version=version + 1, data=data)
    store.save_event(event)
    return event


def immediate_retry(store: EventStore, actor_id: str, event_type: str, data: Mapping[str, Any] | None = None, *,
                    clock: Clock = _REAL_CLOCK, max_attempts: int = 100) -> Event:
    """Retry at once, without waiting, until the save lands or *max_attempts* are used.

    The naive fix that makes contention worse: every loser comes straight
    back and collides again. Use it only as the "no backoff" baseline.
    """
    if isinstance(max_attempts, bool) or not isinstance(max_attempts, int) or max_attempts < 1:
        raise ValueError(f"max_attempts must be an int >= 1; got {max_attempts!r}")
    last: VersionConflictError | None = None
    for _ in range(max_attempts):
        version = store.get_latest_version(actor_id)
        event = Event(actor_id=actor_id, event_type=event_type, version=version + 1, data=data)
        try:
            store.save_event(event)
            return event
        except VersionConflictError as conflict:
            last = conflict
    raise RetriesExhaustedError(actor_id, max_attempts, "no attempt left") from last
