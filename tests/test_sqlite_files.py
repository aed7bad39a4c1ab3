"""Specification of the SQLite files the package keeps (the event store's, the outbox's): what they refuse.

A path SQLite cannot use is refused before anything is created, with the
reason; a file whose tables another program could change under the store (a
trigger) is refused; several processes creating one new file at the same
moment all get it.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from aether.clock import SimulatedClock
from aether.events import Event
from aether.patterns.outbox import DurableOutbox
from aether.store.memory import InMemoryEventStore
from aether.store.sqlite import SQLiteEventStore
from aether.store.sqlitefile import database_path


def _name_max(folder: Path) -> int:
    return os.pathconf(folder, "PC_NAME_MAX")


def open_store(path: Path) -> object:
    return SQLiteEventStore(path)


def open_outbox(path: Path) -> object:
    return DurableOutbox(path, InMemoryEventStore(), clock=SimulatedClock())


OPENERS = [pytest.param(open_store, id="store"), pytest.param(open_outbox, id="outbox")]


@pytest.mark.parametrize("opener", OPENERS)
def test_a_file_name_with_no_room_for_the_wal_file_beside_it_is_refused_and_nothing_is_created(
        tmp_path: Path, opener: object) -> None:
    path = tmp_path / ("e" * _name_max(tmp_path))  # legal on its own; "<name>-wal" is not
    with pytest.raises(ValueError, match=r"path has a file name too long.*-wal|path has a file name too long"):
        opener(path)  # type: ignore[operator]
    assert list(tmp_path.iterdir()) == []  # no 0-byte file left behind


@pytest.mark.parametrize("opener", OPENERS)
def test_a_path_longer_than_the_system_allows_says_so_not_that_a_directory_is_missing(
        tmp_path: Path, opener: object) -> None:
    path = tmp_path.joinpath(*["d" * 200] * 30, "events.db")  # about 6 KB: beyond PATH_MAX
    with pytest.raises(ValueError, match="path is too long") as caught:
        opener(path)  # type: ignore[operator]
    assert "does not exist" not in str(caught.value)
    assert len(str(caught.value)) < 400  # the message shows the path shortened


def test_the_longest_file_name_that_leaves_room_for_sqlites_files_works(tmp_path: Path) -> None:
    path = tmp_path / ("e" * (_name_max(tmp_path) - len("-journal")))
    with SQLiteEventStore(path) as store:
        store.save_event(Event(actor_id="a", event_type="T", version=1))
        assert store.get_latest_version("a") == 1


def test_database_path_refuses_a_nul_character_and_an_in_memory_name() -> None:
    with pytest.raises(ValueError, match="NUL"):
        database_path("events\x00.db", "an SQLite event store")
    with pytest.raises(ValueError, match="file path"):
        database_path("file::memory:?cache=shared", "an outbox")


def test_a_store_file_with_a_trigger_on_its_events_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "events.db"
    SQLiteEventStore(path).close()
    with sqlite3.connect(path) as db:
        db.execute("CREATE TRIGGER vanish AFTER INSERT ON events BEGIN DELETE FROM events; END")
    with pytest.raises(ValueError, match="trigger 'vanish'"):
        SQLiteEventStore(path)


def test_an_outbox_refuses_an_event_store_file(tmp_path: Path) -> None:
    path = tmp_path / "events.db"
    SQLiteEventStore(path).close()
    with pytest.raises(ValueError, match="table 'actors'.*table 'events'.*another program"):
        open_outbox(path)


CREATE = textwrap.dedent("""
    import os, sys, time
    from aether.clock import SimulatedClock
    from aether.patterns.outbox import DurableOutbox
    from aether.store.memory import InMemoryEventStore
    from aether.store.sqlite import SQLiteEventStore

    kind, path, go = sys.argv[1], sys.argv[2], sys.argv[3]
    print("ready", flush=True)
    while not os.path.exists(go):  # every process opens the brand-new file at the same moment
        time.sleep(0.0005)
    try:
        if kind == "store":
            SQLiteEventStore(path).close()
        else:
            DurableOutbox(path, InMemoryEventStore(), clock=SimulatedClock()).close()
        print("ok", flush=True)
    except BaseException as error:
        print("failed", type(error).__name__, error, flush=True)
""")


@pytest.mark.parametrize("kind", ["store", "outbox"])
def test_several_processes_creating_one_new_file_at_once_all_open_it(tmp_path: Path, kind: str) -> None:
    script, path, go = tmp_path / "create.py", tmp_path / f"{kind}.db", tmp_path / "go"
    script.write_text(CREATE)
    children = [subprocess.Popen([sys.executable, str(script), kind, str(path), str(go)], stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True) for _ in range(8)]
    try:
        for child in children:
            assert child.stdout is not None and child.stdout.readline().strip() == "ready"
        time.sleep(0.05)
        go.touch()
        results = [child.communicate(timeout=60)[0].strip() for child in children]
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
    assert results == ["ok"] * 8
