"""Shared pieces of the retry-pattern test suites: scripted stores, a recording clock, constants.

Each fake wraps an ``InMemoryEventStore`` and follows a script, so a test says
exactly which saves conflict or fail and can then check how a pattern reacted.
Use ``RivalStore`` to stage conflicts for the read-retry patterns,
``FailingStore`` to stage errors that are not conflicts, and ``ScriptedStore``
when outages, lost replies and conflicts mix (also from several threads).
"""

from __future__ import annotations

import functools
import inspect
import random
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aether.clock import SimulatedClock
from aether.contracts import pattern_name
from aether.errors import StoreUnavailableError, VersionConflictError
from aether.events import Event
from aether.store.memory import InMemoryEventStore

ACTOR = "order-1"
DOWN = StoreUnavailableError("scripted outage")
CONFLICT = VersionConflictError(ACTOR, 1, 1)


def recording_clock() -> SimulatedClock:
    """A fresh simulated clock that keeps every sleep in ``clock.sleeps``, for asserting on the waits."""
    return SimulatedClock(record_sleeps=True)


def commit_rival(store: InMemoryEventStore, actor_id: str) -> None:
    """Commit one event of type "Rival" at *actor_id*'s next version, as a competing writer would."""
    version = store.get_latest_version(actor_id) + 1
    store.save_event(Event(actor_id=actor_id, event_type="Rival", version=version))


class RivalStore:
    """An in-memory store where a rival commits ``rivals[i]`` events just before our i-th save lands.

    With ``rivals[i] > 0`` the i-th save therefore conflicts at a distance of
    ``rivals[i]``; after the script every save lands. ``reads`` and ``writes``
    count the calls to ``get_latest_version`` and ``save_event``.
    """

    def __init__(self, rivals: Sequence[int] = ()) -> None:
        self.inner = InMemoryEventStore()
        self.rivals = list(rivals)
        self.reads = 0
        self.writes = 0

    def get_latest_version(self, actor_id: str) -> int:
        self.reads += 1
        return self.inner.get_latest_version(actor_id)

    def get_events(self, actor_id: str, from_version: int = 1) -> list[Event]:
        return self.inner.get_events(actor_id, from_version)

    def save_event(self, event: Event) -> None:
        count = self.rivals[self.writes] if self.writes < len(self.rivals) else 0
        self.writes += 1
        for _ in range(count):
            commit_rival(self.inner, event.actor_id)
        self.inner.save_event(event)


class FailingStore(RivalStore):
    """A ``RivalStore`` whose saves raise the given error object once ``healthy_saves`` saves were made.

    By default every save fails. ``FailingStore(error, [2], healthy_saves=1)``
    makes the first save lose a conflict at distance 2 and the retry fail with
    *error*. A failed save counts in ``writes`` and stores nothing.
    """

    def __init__(self, error: Exception, rivals: Sequence[int] = (), healthy_saves: int = 0) -> None:
        super().__init__(rivals)
        self.error = error
        self.healthy_saves = healthy_saves

    def save_event(self, event: Event) -> None:
        if self.writes >= self.healthy_saves:
            self.writes += 1
            raise self.error
        super().save_event(event)


class ScriptedStore:
    """An in-memory store whose i-th ``save_event`` follows ``script[i]`` (then "ok" forever).

    "ok" saves; "down" raises StoreUnavailableError without saving; "lost-reply"
    saves and then raises StoreUnavailableError (the reply never arrived);
    "rival" lets another writer commit first, so the save conflicts; an
    exception object is raised as is. ``saved`` lists every event handed to
    ``save_event``, in order. Safe to share between threads: each save takes
    the next step of the script exactly once.
    """

    def __init__(self, script: Iterable[object] = ()) -> None:
        self.inner = InMemoryEventStore()
        self.script = list(script)
        self.saved: list[Event] = []
        self._lock = threading.Lock()

    @property
    def writes(self) -> int:
        """How many saves were attempted so far, whatever their outcome."""
        return len(self.saved)

    def get_latest_version(self, actor_id: str) -> int:
        return self.inner.get_latest_version(actor_id)

    def get_events(self, actor_id: str, from_version: int = 1) -> list[Event]:
        return self.inner.get_events(actor_id, from_version)

    def save_event(self, event: Event) -> None:
        step = self._next_step(event)
        if isinstance(step, BaseException):
            raise step
        if step == "down":
            raise StoreUnavailableError("scripted outage")
        if step == "rival":
            commit_rival(self.inner, event.actor_id)
        self.inner.save_event(event)
        if step == "lost-reply":
            raise StoreUnavailableError("scripted lost reply")

    def _next_step(self, event: Event) -> object:
        """Record *event* and return its step of the script, atomically."""
        with self._lock:
            index = len(self.saved)
            self.saved.append(event)
        return self.script[index] if index < len(self.script) else "ok"


# --------------------------------------------------------------------------- decisions in the experiment


def reserve_one(stock: int, ident: Mapping[str, Any], events: Sequence[Event]) -> Mapping[str, Any] | None:
    """Reserve one unit while fewer than *stock* reservations are stored, else refuse (``None``).

    *ident* (the experiment's ``{"writer", "save"}``) goes into the event, so a
    test can count how often each logical save was stored.
    """
    return {**ident, "units": 1} if len(events) < stock else None


def _takes_rng(fn: Callable[..., Any]) -> bool:
    return "rng" in inspect.signature(fn).parameters


@dataclass(frozen=True)
class Reserving:
    """An experiment pattern: one reservation from a stock of *stock* through the retry *retry*.

    It ignores the harness's blind data and passes ``reserve_one`` as the
    decision instead (``blind=True`` keeps the harness's mapping: the Go
    template's blind re-append, which oversells). Module-level and frozen, so
    a real-process run can pickle it.
    """

    retry: Callable[..., Any]
    stock: int
    blind: bool = False

    @property
    def name(self) -> str:
        return f"{pattern_name(self.retry)} {'blind' if self.blind else 'deciding'}"

    def __call__(self, store: Any, actor_id: str, event_type: str, data: Mapping[str, Any], *,
                 clock: Any, rng: random.Random | None = None) -> Any:
        command = data if self.blind else functools.partial(reserve_one, self.stock, data)
        extra = {"rng": rng} if rng is not None and _takes_rng(self.retry) else {}
        return self.retry(store, actor_id, event_type, command, clock=clock, **extra)


@dataclass(frozen=True)
class ReservingPolicy:
    """:class:`Reserving` for a policy with shared state (breaker, budget, throttle): binds it per run."""

    policy: Any
    stock: int
    blind: bool = False

    @property
    def name(self) -> str:
        return f"{self.policy.name} {'blind' if self.blind else 'deciding'}"

    def bind(self, ctx: Any) -> Reserving:
        return Reserving(self.policy.bind(ctx), self.stock, self.blind)
