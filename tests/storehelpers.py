"""Shared pieces of the event-store test suites: store factories, events, worker functions.

Worker functions live here (not in a test module) so that a child process
started with ``spawn`` can import them by name.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.context
import threading
import time
from pathlib import Path
from typing import Any

from aether.errors import LockTimeoutError, VersionConflictError
from aether.events import Event
from aether.store.base import EventStore
from aether.store.memory import InMemoryEventStore
from aether.store.sqlite import SQLiteEventStore

STORE_KINDS = ("memory", "sqlite")


def make_store(kind: str, directory: Path, name: str = "events.db") -> EventStore:
    """A fresh, empty store of *kind* ("memory" or "sqlite"); SQLite files go in *directory*."""
    if kind == "memory":
        return InMemoryEventStore()
    if kind == "sqlite":
        return SQLiteEventStore(directory / name)
    raise ValueError(f"unknown store kind {kind!r}; expected one of {STORE_KINDS}")


def make_event(actor_id: str = "actor-1", version: int = 1, **fields: Any) -> Event:
    """An event with a throw-away type; any other field may be given."""
    fields.setdefault("event_type", "Tested")
    return Event(actor_id=actor_id, version=version, **fields)


def fill(store: EventStore, actor_id: str, count: int) -> list[Event]:
    """Save versions 1..count for *actor_id* and return the saved events."""
    events = [make_event(actor_id, version, data={"n": version}) for version in range(1, count + 1)]
    for event in events:
        store.save_event(event)
    return events


def process_context() -> multiprocessing.context.ForkContext | multiprocessing.context.SpawnContext:
    """``fork`` where the platform has it (fast), else ``spawn``."""
    if "fork" in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("spawn")


def save_until_done(
    store: EventStore,
    actor_id: str,
    writer: str,
    count: int,
    start: threading.Barrier | Any = None,
    pause: float | None = None,
) -> dict[str, int]:
    """Save *count* events for *actor_id*, each at "latest + 1", retrying on conflict.

    Every event's data names its writer and sequence number, so a caller can
    check that nothing was lost or stored twice. Lock timeouts are counted
    and retried. A *pause* (seconds, ``0`` just yields) between reading the
    latest version and saving widens the race window. Returns the counts of saves, conflicts and lock timeouts.
    """
    if start is not None:
        start.wait(timeout=30)
    counts = {"saved": 0, "conflicts": 0, "lock_timeouts": 0}
    for seq in range(count):
        while True:
            version = store.get_latest_version(actor_id) + 1
            event = make_event(actor_id, version, data={"writer": writer, "seq": seq})
            if pause is not None:
                time.sleep(pause)
            try:
                store.save_event(event)
            except VersionConflictError:
                counts["conflicts"] += 1
            except LockTimeoutError:
                counts["lock_timeouts"] += 1
            else:
                counts["saved"] += 1
                break
    return counts


def save_in_child(store: EventStore, event: Event) -> int:
    """Save *event* in this (child) process and return the latest version it sees after."""
    store.save_event(event)
    return store.get_latest_version(event.actor_id)


def process_writer(
    store: EventStore, actor_id: str, writer: str, count: int, start: Any, results: Any, pause: float | None = None
) -> None:
    """Body of a writer process: :func:`save_until_done`, counts (or the error) put on *results*."""
    try:
        results.put((writer, save_until_done(store, actor_id, writer, count, start, pause)))
    except BaseException as exc:  # noqa: BLE001 - report anything to the parent instead of dying silently
        results.put((writer, repr(exc)))
