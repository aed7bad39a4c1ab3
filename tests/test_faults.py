"""The SQLite store under faults: killed writers, forks at bad moments, locks while opening.

Each test bounds its own time: child processes are waited for with a
timeout and killed if they hang, so a regression fails here instead of
stalling CI. The counts each fault test sees are printed (``pytest -s``).
"""

from __future__ import annotations

import json
import os
import random
import select
import signal
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from storehelpers import fill, make_event, process_context

from aether.errors import ConflictError, LockTimeoutError, StoreUnavailableError
from aether.store.sqlite import FORK_DRAIN_SECONDS, SQLiteEventStore

needs_fork = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "events.db"


# --------------------------------------------------------------------------- forked children


def in_forked_child(body: Callable[[], object], timeout: float = 5.0) -> dict[str, Any]:
    """Run *body* in a forked child; return how it ended, how long it took, and whether it hung.

    The child reports through a pipe and always leaves with ``os._exit``, so it
    never returns into pytest. A child that does not report within *timeout*
    seconds is killed and reported as hung.
    """
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child
        status = 0
        try:
            os.close(read_end)
            started = time.monotonic()
            try:
                value = body()
                report = {"outcome": "ok", "value": repr(value)}
            except BaseException as exc:  # noqa: BLE001 - everything is reported to the parent
                report = {"outcome": type(exc).__name__, "message": str(exc)}
            report["seconds"] = time.monotonic() - started
            os.write(write_end, json.dumps(report).encode())
        except BaseException:  # noqa: BLE001
            status = 1
        finally:
            os._exit(status)
    os.close(write_end)
    try:
        ready, _, _ = select.select([read_end], [], [], timeout)
        data = os.read(read_end, 1 << 16) if ready else b""
    finally:
        os.close(read_end)
        if not data:
            os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    return json.loads(data) if data else {"outcome": "hung", "seconds": timeout}


def assert_works_or_refuses_at_once(report: dict[str, Any]) -> None:
    """A forked child either saved, or refused at once with an error that names the fork."""
    assert report["outcome"] in ("ok", "RuntimeError"), report
    if report["outcome"] == "RuntimeError":
        assert "forked while another thread" in report["message"]
    assert report["seconds"] < 1.0, report


class HeldTransaction:
    """A store one of whose threads sits inside a save's BEGIN IMMEDIATE transaction until :meth:`finish`."""

    def __init__(self, path: Path) -> None:
        self.store = SQLiteEventStore(path)
        self._inside, self._release = threading.Event(), threading.Event()
        read_latest = self.store._read_latest

        def stall(conn: sqlite3.Connection, actor_id: str) -> int:
            self._inside.set()
            self._release.wait(10)
            return read_latest(conn, actor_id)

        self.store._read_latest = stall  # type: ignore[method-assign]
        self._saver = threading.Thread(target=self.store.save_event, args=(make_event("held", 1),), daemon=True)
        self._saver.start()
        assert self._inside.wait(5)

    def finish(self) -> None:
        """Let the held save commit, and wait for it (once; later calls do nothing)."""
        if self._release.is_set():
            return
        self._release.set()
        self._saver.join(10)
        del self.store._read_latest


@pytest.fixture
def held_transaction(db_path: Path) -> Iterator[HeldTransaction]:
    held = HeldTransaction(db_path)
    yield held
    held.finish()


@needs_fork
def test_a_child_forked_during_another_threads_transaction_refuses_at_once(
    held_transaction: HeldTransaction,
) -> None:
    store = held_transaction.store

    started = time.monotonic()
    report = in_forked_child(lambda: store.save_event(make_event("child", 1)))
    print(f"fork during a held transaction: child {report['outcome']} after {report['seconds']:.3f} s, "
          f"{time.monotonic() - started:.3f} s after the fork began")

    assert report["outcome"] == "RuntimeError", report
    assert store.path in report["message"]
    assert "forkserver" in report["message"]
    assert report["seconds"] < 1.0
    assert time.monotonic() - started < FORK_DRAIN_SECONDS + 1.0


@needs_fork
def test_the_parent_of_a_refusing_child_keeps_working(held_transaction: HeldTransaction) -> None:
    store = held_transaction.store
    in_forked_child(lambda: store.save_event(make_event("child", 1)))

    held_transaction.finish()
    fill(store, "parent", 2)

    assert [store.get_latest_version(a) for a in ("held", "child", "parent")] == [1, 0, 2]


@needs_fork
def test_a_child_forked_while_no_thread_is_inside_sqlite_works(db_path: Path) -> None:
    store = SQLiteEventStore(db_path)
    fill(store, "a", 1)
    idle = threading.Thread(target=lambda: store.get_latest_version("a"))  # leaves an idle connection behind
    idle.start()
    idle.join()

    report = in_forked_child(lambda: store.save_event(make_event("a", 2)))

    assert report["outcome"] == "ok", report
    assert store.get_latest_version("a") == 2


def fork_repeatedly_while(work: Callable[[threading.Event], None], children: int, seed: int,
                          child: Callable[[int], object]) -> list[dict[str, Any]]:
    """Fork *children* times at random moments while another thread runs *work*; report every child."""
    rng = random.Random(seed)
    stop = threading.Event()
    worker = threading.Thread(target=work, args=(stop,), daemon=True)
    worker.start()
    try:
        reports = []
        for n in range(children):
            time.sleep(rng.uniform(0.0, 0.01))
            reports.append(in_forked_child(lambda n=n: child(n)))  # type: ignore[misc]
        return reports
    finally:
        stop.set()
        worker.join(10)


@needs_fork
@pytest.mark.slow
def test_children_forked_while_another_thread_saves_work_or_refuse_at_once(db_path: Path) -> None:
    store = SQLiteEventStore(db_path)

    def keep_saving(stop: threading.Event) -> None:
        while not stop.is_set():
            store.save_event(make_event("busy", store.get_latest_version("busy") + 1))

    reports = fork_repeatedly_while(keep_saving, 12, seed=1,
                                    child=lambda n: store.save_event(make_event(f"child-{n}", 1)))
    saved = sum(r["outcome"] == "ok" for r in reports)
    print(f"forked {len(reports)} children while a thread saved: {saved} saved, {len(reports) - saved} refused, "
          f"{store.get_latest_version('busy')} saves by the thread")

    for report in reports:
        assert_works_or_refuses_at_once(report)
    assert [store.get_latest_version(f"child-{n}") for n in range(len(reports))] == [
        1 if r["outcome"] == "ok" else 0 for r in reports]


@needs_fork
@pytest.mark.slow
def test_children_forked_while_another_thread_opens_and_closes_connections_work_or_refuse_at_once(
    db_path: Path,
) -> None:
    store = SQLiteEventStore(db_path)

    def reconnect(stop: threading.Event) -> None:
        while not stop.is_set():
            store.get_latest_version("a")
            store.close()

    reports = fork_repeatedly_while(reconnect, 12, seed=2,
                                    child=lambda n: store.save_event(make_event(f"child-{n}", 1)))
    saved = sum(r["outcome"] == "ok" for r in reports)
    print(f"forked {len(reports)} children while a thread opened and closed connections: {saved} saved, "
          f"{len(reports) - saved} refused")

    for report in reports:
        assert_works_or_refuses_at_once(report)


# --------------------------------------------------------------------------- locks while opening


def lock_exclusively(path: Path) -> sqlite3.Connection:
    """Take an exclusive lock on *path*, as another program could: no reader or writer gets in."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA locking_mode = EXCLUSIVE")
    conn.execute("BEGIN EXCLUSIVE")
    return conn


@pytest.fixture
def exclusive_lock(db_path: Path) -> Iterator[None]:
    """An existing store file, locked exclusively by another connection for the whole test."""
    SQLiteEventStore(db_path).close()
    conn = lock_exclusively(db_path)
    yield
    conn.execute("ROLLBACK")
    conn.close()


@pytest.fixture
def opened_then_locked(db_path: Path) -> Iterator[SQLiteEventStore]:
    """A store opened before another connection locked its file exclusively (it has no connection open)."""
    store = SQLiteEventStore(db_path, busy_timeout=0.05)
    store.close()  # an exclusive lock waits for every connection of the file to close
    conn = lock_exclusively(db_path)
    yield store
    conn.execute("ROLLBACK")
    conn.close()
    store.save_event(make_event("after-the-lock", 1))  # once the lock is gone, the store works again
    store.close()


def assert_lock_timeout(call: Callable[[], object]) -> None:
    started = time.monotonic()
    with pytest.raises(LockTimeoutError, match="locked") as caught:
        call()
    assert isinstance(caught.value.__cause__, sqlite3.OperationalError)
    assert not isinstance(caught.value, ConflictError)
    assert time.monotonic() - started < 2.0


def test_opening_a_store_on_a_locked_file_is_a_lock_timeout(db_path: Path, exclusive_lock: None) -> None:
    assert_lock_timeout(lambda: SQLiteEventStore(db_path, busy_timeout=0.05))


def test_a_new_threads_first_call_on_a_locked_file_is_a_lock_timeout(db_path: Path, opened_then_locked: Any) -> None:
    store = opened_then_locked
    errors: list[BaseException] = []

    def first_call() -> None:
        try:
            assert_lock_timeout(lambda: store.get_latest_version("a"))
        except BaseException as exc:  # noqa: BLE001 - re-raised in the test's thread
            errors.append(exc)

    worker = threading.Thread(target=first_call)
    worker.start()
    worker.join(10)

    assert not worker.is_alive()
    assert errors == []


def test_reconnecting_after_close_to_a_locked_file_is_a_lock_timeout(opened_then_locked: SQLiteEventStore) -> None:
    assert_lock_timeout(lambda: opened_then_locked.save_event(make_event("a", 1)))


@needs_fork
def test_a_forked_childs_first_call_on_a_locked_file_is_a_lock_timeout(opened_then_locked: SQLiteEventStore) -> None:
    report = in_forked_child(lambda: opened_then_locked.get_latest_version("a"))

    assert report["outcome"] == "LockTimeoutError", report
    assert report["seconds"] < 2.0


# --------------------------------------------------------------------------- writers killed at random


def killable_writer(path: str, actors: int, acks: str, seed: int) -> None:
    """Save forever to a few actors, appending one line per acknowledged save to *acks*.

    A line is written only after ``save_event`` returned, so every line names a
    save the store acknowledged; a kill may cut the last line short.
    """
    rng = random.Random(seed)
    store = SQLiteEventStore(path, busy_timeout=5.0)
    fd = os.open(acks, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    while True:
        actor_id = f"actor-{rng.randrange(actors)}"
        event = make_event(actor_id, store.get_latest_version(actor_id) + 1)
        try:
            store.save_event(event)
        except (ConflictError, StoreUnavailableError):
            continue
        os.write(fd, f"{event.actor_id} {event.version} {event.id}\n".encode())


def read_acks(folder: Path) -> set[tuple[str, int, str]]:
    """Every complete acknowledgement line the writers left in *folder*."""
    acks = set()
    for file in folder.glob("acks-*.txt"):
        for line in file.read_text().splitlines(keepends=True):
            if line.endswith("\n"):
                actor_id, version, event_id = line.split()
                acks.add((actor_id, int(version), event_id))
    return acks


@pytest.mark.slow
@pytest.mark.parametrize("synchronous", ["NORMAL", "FULL"])
def test_writers_killed_at_random_moments_lose_no_acknowledged_save(tmp_path: Path, synchronous: str) -> None:
    path = tmp_path / "events.db"
    SQLiteEventStore(path, synchronous=synchronous).close()
    rng = random.Random(f"kill/{synchronous}")
    context = process_context()
    kills, live, started = 12, 3, 0
    running: list[Any] = []

    def start_writer() -> None:
        nonlocal started
        proc = context.Process(target=killable_writer, daemon=True,
                               args=(str(path), 2, str(tmp_path / f"acks-{started}.txt"), started))
        proc.start()
        running.append(proc)
        started += 1

    try:
        for _ in range(live):
            start_writer()
        for _ in range(kills):
            time.sleep(rng.uniform(0.02, 0.12))
            victim = running.pop(rng.randrange(len(running)))
            victim.kill()
            victim.join(5)
            assert victim.exitcode == -signal.SIGKILL
            start_writer()
    finally:
        for proc in running:
            proc.kill()
        for proc in running:
            proc.join(5)

    acks = read_acks(tmp_path)
    conn = sqlite3.connect(path)
    try:
        integrity = conn.execute("PRAGMA integrity_check").fetchall()
        stored = set(conn.execute("SELECT actor_id, version, id FROM events").fetchall())
        versions: dict[str, list[int]] = {}
        for actor_id, version in conn.execute("SELECT actor_id, version FROM events ORDER BY actor_id, version"):
            versions.setdefault(actor_id, []).append(version)
    finally:
        conn.close()
    found = acks & stored
    print(f"synchronous={synchronous}: killed {kills + live} writers ({kills} at random moments), "
          f"{len(acks)} acknowledged saves, {len(found)} found, {len(stored)} stored in all")

    assert integrity == [("ok",)]
    assert acks, "no writer got a save acknowledged before it was killed"
    assert found == acks
    assert all(found_versions == list(range(1, len(found_versions) + 1)) for found_versions in versions.values())
    with SQLiteEventStore(path) as store:  # and the store opens and goes on after the carnage
        store.save_event(make_event("actor-0", store.get_latest_version("actor-0") + 1))
