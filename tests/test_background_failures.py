"""Specification of how the retry queue and the durable outbox fail: loudly, at once, and never into the void.

A write is acknowledged only where a restart can find it; a locked or full
outbox file is the store's error family, and the worker rides it out with
backoff while :attr:`failure` says so; a store that hangs cannot hang
``close``; a queue that ends without ``close`` leaves a record a program can
read, not only a warning.
"""

from __future__ import annotations

import gc
import os
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from patternhelpers import ACTOR, ScriptedStore

from aether.clock import RealClock, SimulatedClock
from aether.errors import LockTimeoutError, StoreCorruptedError
from aether.events import Event
from aether.patterns.outbox import DurableOutbox
from aether.patterns.queue import RetryQueue, lost_writes, unsaved_writes
from aether.patterns.worker import WorkerFailure
from aether.store.memory import InMemoryEventStore

BOUND = 10.0  # seconds: a generous bound on anything the tests wait for (a hang check, not a timing)


def eventually(condition: Callable[[], bool]) -> bool:
    """Whether *condition* becomes true within :data:`BOUND` seconds (polled)."""
    deadline = time.monotonic() + BOUND
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.002)
    return True


class HeldStore(ScriptedStore):
    """A store whose saves wait until ``release`` is set (a store that hangs until the test lets it go)."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()
        self.entered = threading.Event()

    def save_event(self, event: Event) -> None:
        self.entered.set()
        self.release.wait(BOUND)
        super().save_event(event)


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "outbox.db"


@pytest.fixture
def held() -> Iterator[HeldStore]:
    store = HeldStore()
    yield store
    store.release.set()  # let a worker thread that is still waiting finish


def lock_file(path: Path) -> sqlite3.Connection:
    """Another connection that takes the write lock of *path* and keeps it until closed."""
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    return other


# --------------------------------------------------------------------------- item 1: a deleted or replaced file


@pytest.mark.parametrize("how", ["deleted", "replaced"])
def test_enqueue_into_an_outbox_file_deleted_or_replaced_while_open_is_refused_not_acknowledged(
        path: Path, tmp_path: Path, how: str) -> None:
    outbox = DurableOutbox(path, ScriptedStore(), clock=SimulatedClock(), synchronous="NORMAL")
    kept = outbox.enqueue(ACTOR, "Placed", {"n": 0})
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    if how == "replaced":
        DurableOutbox(tmp_path / "other.db", ScriptedStore(), clock=SimulatedClock()).close()
        os.replace(tmp_path / "other.db", path)
    with pytest.raises(StoreCorruptedError, match=how):
        outbox.enqueue(ACTOR, "Placed", {"n": 1})
    assert kept.outcome == "pending"
    reopened = DurableOutbox(path, ScriptedStore(), clock=SimulatedClock())  # what a restart finds
    assert reopened.pending() == 0  # nothing acknowledged after the deletion is missing from it
    reopened.close()


# --------------------------------------------------------------------------- item 2: no silent stall


def test_the_outbox_worker_survives_a_lock_held_longer_than_its_busy_timeout_and_says_so_meanwhile(
        path: Path, held: HeldStore) -> None:
    outbox = DurableOutbox(path, held, clock=RealClock(), synchronous="NORMAL", busy_timeout=0.02,
                           base_delay=0.005, max_delay=0.02).start()
    ticket = outbox.enqueue(ACTOR, "Placed", {"n": 0})
    assert held.entered.wait(BOUND)  # the worker is saving the write
    other = lock_file(path)  # ... and cannot mark it delivered while this lock lasts
    held.release.set()
    assert eventually(lambda: isinstance(outbox.failure, LockTimeoutError)), outbox.failure
    assert not outbox.healthy and ticket.outcome == "pending"
    assert any(isinstance(f.error, LockTimeoutError) for f in outbox.errors)
    other.execute("ROLLBACK")
    other.close()
    assert ticket.wait(BOUND) and ticket.outcome == "committed"
    assert outbox.healthy and outbox.failure is None
    outbox.close()
    assert [e.state for e in DurableOutbox(path, ScriptedStore(), clock=SimulatedClock()).entries()] == ["delivered"]


def test_a_dead_outbox_worker_makes_the_next_enqueue_raise_and_the_tickets_carry_the_cause(path: Path) -> None:
    outbox = DurableOutbox(path, ScriptedStore([KeyboardInterrupt()]), clock=RealClock(), synchronous="NORMAL")
    ticket = outbox.enqueue(ACTOR, "Placed")
    outbox.start()
    assert eventually(lambda: outbox.failure is not None)
    assert isinstance(outbox.failure, KeyboardInterrupt) and isinstance(ticket.error, KeyboardInterrupt)
    assert eventually(lambda: not outbox.running)
    with pytest.raises(RuntimeError, match="no running worker.*KeyboardInterrupt.*start"):
        outbox.enqueue(ACTOR, "Placed")
    outbox.start().close()  # a restart delivers it
    assert ticket.outcome == "committed"


def test_a_dead_queue_worker_makes_the_next_enqueue_raise_until_it_is_started_again() -> None:
    queue = RetryQueue(ScriptedStore([KeyboardInterrupt()]), clock=RealClock())
    queue.enqueue(ACTOR, "Placed")
    queue.start()
    assert queue.stop(timeout=BOUND) is True
    assert isinstance(queue.failure, KeyboardInterrupt)
    queue.start()  # start clears the failure and accepts again
    assert queue.failure is None
    queue.enqueue(ACTOR, "Placed")
    queue.close()
    assert queue.committed == 2


# --------------------------------------------------------------------------- item 3: the store's error family


def test_enqueue_while_another_connection_holds_the_outbox_lock_is_a_lock_timeout(path: Path) -> None:
    outbox = DurableOutbox(path, ScriptedStore(), clock=SimulatedClock(), synchronous="NORMAL", busy_timeout=0.02)
    other = lock_file(path)
    try:
        with pytest.raises(LockTimeoutError, match="busy_timeout=0.02"):
            outbox.enqueue(ACTOR, "Placed")
    finally:
        other.close()
    assert outbox.pending() == 0
    outbox.close()


def test_opening_an_outbox_file_another_connection_keeps_locked_is_a_lock_timeout_not_a_bad_file(
        path: Path) -> None:
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("PRAGMA locking_mode = EXCLUSIVE")
    other.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(LockTimeoutError, match="locked"):
            DurableOutbox(path, ScriptedStore(), clock=SimulatedClock(), busy_timeout=0.05)
    finally:
        other.close()


FULL_DISK = textwrap.dedent("""
    import resource, signal, sys
    from aether.clock import SimulatedClock
    from aether.errors import StoreUnavailableError
    from aether.patterns.outbox import DurableOutbox
    from aether.store.memory import InMemoryEventStore

    outbox = DurableOutbox(sys.argv[1], InMemoryEventStore(), clock=SimulatedClock(), synchronous="NORMAL")
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG, as on a full disk
    resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, 64 * 1024))
    try:
        for n in range(10_000):
            outbox.enqueue("order-1", "Placed", {"pad": "x" * 2000, "n": n})
    except StoreUnavailableError as error:
        print("refused", type(error).__name__, n, flush=True)
    except BaseException as error:
        print("raw", type(error).__name__, error, flush=True)
""")


@pytest.mark.skipif(sys.platform == "win32", reason="needs RLIMIT_FSIZE (POSIX)")
def test_enqueue_on_a_full_disk_is_store_unavailable_not_a_raw_driver_error(tmp_path: Path) -> None:
    script = tmp_path / "full.py"
    script.write_text(FULL_DISK)
    done = subprocess.run([sys.executable, str(script), str(tmp_path / "outbox.db")], capture_output=True,
                          text=True, timeout=60)
    words = done.stdout.split()
    assert words[:2] == ["refused", "StoreUnavailableError"], (done.stdout, done.stderr)


def test_an_outbox_refuses_a_database_of_another_program_and_leaves_it_unchanged(tmp_path: Path) -> None:
    other = tmp_path / "app.db"
    with sqlite3.connect(other) as db:
        db.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY)")
    before = other.read_bytes()
    with pytest.raises(ValueError, match="invoices.*another program"):
        DurableOutbox(other, ScriptedStore(), clock=SimulatedClock())
    assert other.read_bytes() == before
    with sqlite3.connect(other) as db:
        assert [name for (name,) in db.execute("SELECT name FROM sqlite_master")] == ["invoices"]


# --------------------------------------------------------------------------- item 4: loss at exit, visible


def test_a_queue_dropped_without_close_dead_letters_its_tickets_and_lists_them_in_lost_writes() -> None:
    queue = RetryQueue(InMemoryEventStore(), clock=RealClock(), name="audit-lost")
    tickets = [queue.enqueue(ACTOR, "Placed", {"n": n}) for n in range(3)]
    before = len(lost_writes())
    assert unsaved_writes() >= 3
    with pytest.warns(RuntimeWarning, match="3 accepted write"):
        del queue
        gc.collect()
    lost = lost_writes()[before:]
    assert [(record.queue, record.tickets) for record in lost] == [("audit-lost", tuple(tickets))]
    assert [t.outcome for t in tickets] == ["dead_letter"] * 3
    assert all("lost" in str(t.error) and t.wait(0) for t in tickets)


def test_unsaved_writes_counts_what_live_queues_hold_and_is_back_to_zero_after_close() -> None:
    start = unsaved_writes()
    queue = RetryQueue(InMemoryEventStore(), clock=RealClock())
    queue.enqueue(ACTOR, "Placed")
    queue.enqueue(ACTOR, "Placed")
    assert unsaved_writes() == start + 2
    queue.start().close()
    assert unsaved_writes() == start


# --------------------------------------------------------------------------- item 7: close with a timeout


def test_queue_close_with_a_timeout_returns_while_the_store_hangs(held: HeldStore) -> None:
    queue = RetryQueue(held, clock=RealClock()).start()
    in_hand = queue.enqueue(ACTOR, "Placed", {"n": 0})
    queued = queue.enqueue(ACTOR, "Placed", {"n": 1})
    assert held.entered.wait(BOUND)
    with pytest.raises(TimeoutError, match="1 queued write.*dead letters.*1 write.*in a worker's hand"):
        queue.close(timeout=0.05)
    assert (queued.outcome, in_hand.outcome) == ("dead_letter", "pending")
    held.release.set()
    assert in_hand.wait(BOUND) and in_hand.outcome == "committed"  # the store answered after all


def test_outbox_close_with_a_timeout_returns_while_the_store_hangs_and_keeps_the_row(
        path: Path, held: HeldStore) -> None:
    outbox = DurableOutbox(path, held, clock=RealClock(), synchronous="NORMAL").start()
    outbox.enqueue(ACTOR, "Placed", {"n": 0})
    assert held.entered.wait(BOUND)
    with pytest.raises(TimeoutError, match="1 write.*pending"):
        outbox.close(timeout=0.05)
    held.release.set()
    assert eventually(lambda: not outbox.running)
    restarted = DurableOutbox(path, held, clock=RealClock(), synchronous="NORMAL")
    assert restarted.pending() == 1  # kept for the next start: delivered once, by its event id
    restarted.start().close(timeout=BOUND)
    assert [e.data["n"] for e in held.inner.get_events(ACTOR)] == [0]


@pytest.mark.parametrize("timeout", [-1, float("nan"), "1"])
def test_close_refuses_a_bad_timeout_before_stopping(timeout: object) -> None:
    queue = RetryQueue(InMemoryEventStore(), clock=SimulatedClock())
    with pytest.raises((TypeError, ValueError), match="timeout"):
        queue.close(timeout=timeout)  # type: ignore[arg-type]
    queue.enqueue(ACTOR, "Placed")  # still open


def test_worker_failures_are_records_not_exceptions() -> None:
    assert not issubclass(WorkerFailure, BaseException)
    assert WorkerFailure._fields == ("time", "write", "error")
