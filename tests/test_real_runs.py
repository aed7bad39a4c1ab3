"""Real-process runs (``clock="real"`` on SQLite): writers that die or stop, the timeout, how writers start.

The patterns live in ``storehelpers`` so that writer processes can import
them quickly; a :class:`~storehelpers.Saboteur` picks one writer process (the
first to claim a file) to die or stop at a chosen moment. Every run has a timeout, so a regression
fails instead of hanging.
"""

from __future__ import annotations

import inspect
import math
import os
import signal
import sqlite3
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from storehelpers import Saboteur, report_parent, save_next

from aether.events import Event
from aether.experiment.harness import run_contention
from aether.store.sqlite import SQLiteEventStore

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGSTOP"), reason="needs POSIX signals")


@pytest.fixture
def run_folders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, warm: None) -> Path:
    """Where this test's temporary run databases go (the harness makes them with :mod:`tempfile`).

    multiprocessing may keep a folder of its own there (``pymp-*``); only the run's own count.
    """
    folder = tmp_path / "runs"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


@pytest.fixture(scope="module")
def warm() -> None:
    """One small real run first, so that timing tests do not count the writer server's start-up."""
    run_contention(report_parent, writers=1, clock="real", store="sqlite", network=None)


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


# --------------------------------------------------------------------------- writers that die or stop


@pytest.mark.slow
def test_a_writer_killed_at_the_start_line_ends_the_run_naming_it(tmp_path: Path, run_folders: Path) -> None:
    saboteur = Saboteur(tmp_path, "start")

    started = time.monotonic()
    with pytest.raises(RuntimeError, match=r"died without reporting: writer-\d+ \(exit code -9\)"):
        run_contention(saboteur, writers=3, clock="real", store="sqlite", network=None, timeout=20)

    assert time.monotonic() - started < 10
    assert not list(run_folders.glob("aether-run-*"))  # the run's temporary database is removed


@pytest.mark.slow
def test_a_writer_killed_during_the_run_ends_it_within_a_second(
    tmp_path: Path, run_folders: Path, warm: None
) -> None:
    saboteur = Saboteur(tmp_path, "save", pause=0.3)  # the others alone would take 10 x 0.3 s

    started = time.monotonic()
    with pytest.raises(RuntimeError, match=r"died without reporting: writer-\d+ \(exit code -9\)") as caught:
        run_contention(saboteur, writers=3, saves_per_writer=10, clock="real", store="sqlite", network=None,
                       timeout=20)
    took = time.monotonic() - started

    assert caught.value.args[0].count("writer-") == 1
    assert took < 2.5
    assert not list(run_folders.glob("aether-run-*"))  # the run's temporary database is removed


@pytest.mark.slow
def test_a_stopped_writer_is_named_when_the_timeout_ends_the_run(
    tmp_path: Path, run_folders: Path, warm: None
) -> None:
    saboteur = Saboteur(tmp_path, "stop")

    started = time.monotonic()
    expected = r"1 of 3 writer process\(es\) had not finished after timeout=1.5 s"
    with pytest.raises(TimeoutError, match=expected) as caught:
        run_contention(saboteur, writers=3, clock="real", store="sqlite", network=None, timeout=1.5)
    took = time.monotonic() - started

    assert caught.value.args[0].count("writer-") == 1
    assert 1.5 <= took < 5
    assert gone(saboteur.victim_pid())  # killed and reaped, not left stopped
    assert not list(run_folders.glob("aether-run-*"))  # the run's temporary database is removed


# --------------------------------------------------------------------------- the timeout parameter


def test_real_runs_time_out_after_a_minute_by_default() -> None:
    assert inspect.signature(run_contention).parameters["timeout"].default == 60.0


@pytest.mark.parametrize(("timeout", "error"), [(0, ValueError), (-1.0, ValueError), (math.nan, ValueError),
                                                (math.inf, ValueError), ("5", TypeError), (True, TypeError),
                                                (None, TypeError)])
def test_timeout_must_be_a_positive_number_of_seconds(timeout: object, error: type[Exception],
                                                      run_folders: Path) -> None:
    with pytest.raises(error, match="^timeout "):
        run_contention(report_parent, writers=1, clock="real", store="sqlite",
                       timeout=timeout)  # type: ignore[arg-type]
    assert not list(run_folders.glob("aether-run-*"))  # refused before anything was made


def test_timeout_is_accepted_and_unused_by_simulated_runs() -> None:
    result = run_contention(report_parent, writers=2, seed=0, timeout=0.001)
    assert result.summary().committed == 2


# --------------------------------------------------------------------------- how writer processes start


@pytest.mark.slow
def test_writers_of_an_importable_pattern_are_not_forked_from_the_calling_process() -> None:
    from aether.experiment.pipes import _forkserver_socket_fits

    if not _forkserver_socket_fits():
        pytest.skip("the temporary folder is too deep for the fork server's socket: writers are spawned")
    result = run_contention(report_parent, writers=2, clock="real", store="sqlite", network=None)

    parents = {event.data["ppid"] for event in result.store.get_events("actor-0")}
    assert len(parents) == 1
    assert os.getpid() not in parents


@pytest.mark.slow
def test_a_pattern_that_cannot_be_imported_still_runs_in_real_processes() -> None:
    def notebook_pattern(store: Any, actor_id: str, event_type: str, data: Any = None, *, clock: Any) -> Event:
        return save_next(store, actor_id, event_type, data, ppid=os.getppid())  # a closure: not importable

    result = run_contention(notebook_pattern, writers=2, saves_per_writer=2, clock="real", store="sqlite",
                            network=None)

    assert result.summary().committed == 4
    assert {event.data["ppid"] for event in result.store.get_events("actor-0")} == {os.getpid()}


@pytest.mark.slow
def test_a_real_run_is_not_disturbed_by_a_transaction_another_thread_held_when_it_started(
    tmp_path: Path,
) -> None:
    path = tmp_path / "events.db"
    store = SQLiteEventStore(path, busy_timeout=3.0)
    holding = threading.Event()

    def hold_the_write_lock() -> None:
        conn = sqlite3.connect(path, isolation_level=None)
        conn.execute("BEGIN IMMEDIATE")
        holding.set()
        time.sleep(0.5)  # while the writer processes start
        conn.execute("COMMIT")
        conn.close()

    holder = threading.Thread(target=hold_the_write_lock)
    holder.start()
    assert holding.wait(5)
    try:
        result = run_contention(report_parent, writers=2, saves_per_writer=2, clock="real", store=store,
                                network=None)
    finally:
        holder.join(10)

    assert result.summary().committed == 4
    assert [event.version for event in store.get_events("actor-0")] == [1, 2, 3, 4]
