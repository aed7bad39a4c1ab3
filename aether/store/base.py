"""The :class:`EventStore` contract every store implements."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from aether.events import Event

__all__ = ["EventStore"]


@runtime_checkable
class EventStore(Protocol):
    """An append-only store of events with optimistic concurrency per actor.

    The one rule: :meth:`save_event` succeeds only when ``event.version ==
    get_latest_version(event.actor_id) + 1``. Any other version raises
    :class:`~aether.errors.VersionConflictError` carrying the actor id, the
    attempted version and the store's current version, and changes nothing.

    Saving the very same event again (same id, actor and version) after it was
    stored is a no-op success, so a writer that lost the reply to a save may
    simply send it again. Re-using an id for another actor or version raises
    :class:`~aether.errors.DuplicateEventIdError`.
    """

    def save_event(self, event: Event) -> None:
        """Append *event* if its version is the actor's next one; raise a conflict otherwise."""
        ...

    def get_latest_version(self, actor_id: str) -> int:
        """Return the actor's latest stored version, ``0`` if it has no events."""
        ...

    def get_events(self, actor_id: str, from_version: int = 1) -> list[Event]:
        """Return the actor's events with ``version >= from_version`` (inclusive), in order."""
        ...
