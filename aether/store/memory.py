"""An in-memory event store for threads in one process."""

from __future__ import annotations

import threading

from aether.checks import show
from aether.errors import DuplicateEventIdError, VersionConflictError
from aether.events import Event, validate_actor_id, validate_version

__all__ = ["InMemoryEventStore"]


class InMemoryEventStore:
    """A thread-safe event store held in a dict of lists.

    Use it for experiments and tests: it is the fastest store and needs no
    files. ``save_event`` and ``get_latest_version`` are O(1). Events are
    immutable, so handing them out cannot change what is stored.

    It lives in one process; for writers in several processes use
    :class:`~aether.store.sqlite.SQLiteEventStore`.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._streams: dict[str, list[Event]] = {}
        self._by_id: dict[str, Event] = {}

    def save_event(self, event: Event) -> None:
        """Append *event* if ``event.version`` is the actor's next version.

        Raises :class:`VersionConflictError` otherwise, and
        :class:`DuplicateEventIdError` if the id is stored as another event.
        Re-saving an already stored event (same id, actor, version) does nothing.
        """
        if not isinstance(event, Event):
            raise TypeError(f"save_event takes an Event; got {show(event)} ({type(event).__name__})")
        actor_id = event.actor_id
        with self._lock:
            stream = self._streams.get(actor_id)
            latest = len(stream) if stream is not None else 0
            if event.version != latest + 1:
                stored = self._by_id.get(event.id)
                if stored is not None:
                    if stored.actor_id == actor_id and stored.version == event.version:
                        return
                    raise DuplicateEventIdError(event.id, stored.actor_id, stored.version, actor_id, event.version)
                raise VersionConflictError(actor_id, event.version, latest)
            stored = self._by_id.get(event.id)
            if stored is not None:
                raise DuplicateEventIdError(event.id, stored.actor_id, stored.version, actor_id, event.version)
            if stream is None:
                self._streams[actor_id] = [event]
            else:
                stream.append(event)
            self._by_id[event.id] = event

    def get_latest_version(self, actor_id: str) -> int:
        """Return the actor's latest version, ``0`` for an actor with no events."""
        if actor_id.__class__ is str:
            stream = self._streams.get(actor_id)
            if stream is not None:  # an actor with events: its id was checked when the first was saved
                return len(stream)
        validate_actor_id(actor_id)
        return 0

    def get_events(self, actor_id: str, from_version: int = 1) -> list[Event]:
        """Return the actor's events from ``from_version`` (inclusive) on, oldest first."""
        validate_actor_id(actor_id)
        validate_version(from_version, "from_version")
        with self._lock:
            stream = self._streams.get(actor_id)
            return list(stream[from_version - 1 :]) if stream else []

    def actor_ids(self) -> list[str]:
        """Return every actor that has at least one event, in first-save order."""
        with self._lock:
            return list(self._streams)

    def __repr__(self) -> str:
        with self._lock:
            return f"InMemoryEventStore(actors={len(self._streams)}, events={len(self._by_id)})"
