"""Shared pieces of the event-store test suites: store factories, events, worker functions.

Worker functions and patterns live here (not in a test module) so that a
child process started with ``spawn`` or ``forkserver`` can import them by
name, quickly (this module does not import pytest).
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.context
import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

from aether.contracts import RunContext
from aether.errors import LockTimeoutError, VersionConflictError
from aether.events import Event
from aether.store.base import EventStore
from aether.store.memory import InMemoryEventStore
from aether.store.sqlite import SQLiteEventStore

STORE_KINDS = ("memory", "sqlite", "postgres")

_POSTGRES_SERVERS: list[Any] = []


def postgres_server() -> Any:
    """This test process's throwaway PostgreSQL server, started on first use and stopped at exit.

    Where no server can be had the calling test is skipped, with the reason and
    how to get one; under ``CI=true`` it fails instead, so CI never skips it.
    """
    if not _POSTGRES_SERVERS:
        from aether.store.pglocal import PostgresNotAvailableError, start_local_postgres

        try:
            import psycopg  # noqa: F401 - the store's driver: without it there is nothing to test

            _POSTGRES_SERVERS.append(start_local_postgres())
        except (ImportError, PostgresNotAvailableError) as exc:
            import pytest

            reason = f"PostgreSQL is not available: {exc}"
            if os.environ.get("CI", "").lower() == "true":
                pytest.fail(f"{reason} (CI must run the PostgreSQL tests)", pytrace=False)
            pytest.skip(reason)
    return _POSTGRES_SERVERS[0]


def postgres_conninfo(name: str = "test") -> str:
    """A connection string to a new, empty schema on :func:`postgres_server`."""
    return postgres_server().new_schema(name)


def make_store(kind: str, directory: Path, name: str = "events.db") -> EventStore:
    """A fresh, empty store of *kind* (one of :data:`STORE_KINDS`); SQLite files go in *directory*.

    A PostgreSQL store gets a new schema of its own on the test process's server.
    """
    if kind == "memory":
        return InMemoryEventStore()
    if kind == "sqlite":
        return SQLiteEventStore(directory / name)
    if kind == "postgres":
        from aether.store.postgres import PostgresEventStore

        return PostgresEventStore(postgres_conninfo())
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


# -- patterns for real-process runs ----------------------------------------------------


def save_next(store: Any, actor_id: str, event_type: str, data: Any = None, **extra: Any) -> Event:
    """Save at latest + 1, retrying on conflict; *extra* goes into the event's data."""
    while True:
        event = Event(actor_id=actor_id, event_type=event_type, version=store.get_latest_version(actor_id) + 1,
                      data={**(data or {}), **extra})
        try:
            store.save_event(event)
        except VersionConflictError:
            continue
        return event


def report_parent(store: Any, actor_id: str, event_type: str, data: Any = None, *, clock: Any) -> Event:
    """A pattern that records, in each event, the pid of the writer process's parent."""
    return save_next(store, actor_id, event_type, data, ppid=os.getppid())


class Saboteur:
    """A pattern one of whose writer processes dies (SIGKILL) or stops (SIGSTOP) at a chosen moment.

    *when* is ``"start"`` (at the start line, while slower writers still get
    ready), ``"save"`` (during its second save) or ``"stop"`` (it stops in its
    first save). The victim writes its pid to ``folder/victim``. The other
    writers take *pause* seconds per save.
    """

    name = "saboteur"

    def __init__(self, folder: Path, when: str, pause: float = 0.0) -> None:
        self.folder, self.when, self.pause = str(folder), when, pause

    def bind(self, ctx: RunContext) -> Any:
        try:
            fd = os.open(os.path.join(self.folder, "victim"), os.O_WRONLY | os.O_CREAT | os.O_EXCL)
        except FileExistsError:
            victim = False
        else:
            os.write(fd, str(os.getpid()).encode())
            os.close(fd)
            victim = True
        if self.when == "start":
            if victim:  # die while waiting at the start line
                threading.Thread(target=lambda: (time.sleep(0.1), os.kill(os.getpid(), signal.SIGKILL)),
                                 daemon=True).start()
            else:
                time.sleep(0.4)  # get ready late, after the victim died
        saves = [0]

        def pattern(store: Any, actor_id: str, event_type: str, data: Any = None, *, clock: Any) -> Event:
            saves[0] += 1
            if victim and self.when == "save" and saves[0] == 2:
                os.kill(os.getpid(), signal.SIGKILL)
            if victim and self.when == "stop":
                os.kill(os.getpid(), signal.SIGSTOP)
            if not victim:
                clock.sleep(self.pause)
            return save_next(store, actor_id, event_type, data)

        return pattern

    def victim_pid(self) -> int:
        return int(Path(self.folder, "victim").read_text())


def acknowledging_writer(store: EventStore, actor_id: str, writer: str, acks: str) -> None:
    """Save events for *actor_id* until killed; after each save returns, append "writer seq id" to *acks*.

    A line in *acks* is a save the store acknowledged: after a SIGKILL at any
    moment, every such event must be in the store.
    """
    fd = os.open(acks, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    seq = 0
    while True:
        event = save_next(store, actor_id, "Acknowledged", {"writer": writer, "seq": seq})
        os.write(fd, f"{writer} {seq} {event.id}\n".encode())
        seq += 1
