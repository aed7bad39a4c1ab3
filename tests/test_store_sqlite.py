"""What the SQLite store adds to the contract: a real file, processes, locks and int64 limits."""

from __future__ import annotations

import concurrent.futures
import json
import multiprocessing
import os
import pickle
import sqlite3
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from storehelpers import fill, make_event, process_context, save_in_child

from aether.errors import (
    ConflictError,
    DuplicateEventIdError,
    LockTimeoutError,
    StoreCorruptedError,
    StoreUnavailableError,
    VersionConflictError,
    VersionOutOfRangeError,
)
from aether.store.connections import INHERITED_CONNECTIONS
from aether.store.sqlite import MAX_BUSY_TIMEOUT, MAX_VERSION, SQLiteEventStore


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "events.db"


@pytest.fixture
def store(db_path: Path) -> Iterator[SQLiteEventStore]:
    with SQLiteEventStore(db_path) as opened:
        yield opened


def insert_raw_row(path: Path, actor_id: str, version: int) -> None:
    """Write an event row behind the store's back, as another program could."""
    with sqlite3.connect(path) as conn:
        conn.execute(
            "INSERT INTO events (actor_id, version, id, event_type, data, timestamp_us) VALUES (?, ?, ?, ?, ?, ?)",
            (actor_id, version, f"raw-{actor_id}-{version}", "Raw", "{}", 0),
        )
    conn.close()


# -- int64 limits -------------------------------------------------------------------


def test_max_version_is_sqlites_largest_integer() -> None:
    assert MAX_VERSION == 2**63 - 1


def test_the_largest_version_can_be_stored(store: SQLiteEventStore, db_path: Path) -> None:
    insert_raw_row(db_path, "a", MAX_VERSION - 1)

    store.save_event(make_event("a", MAX_VERSION))

    assert store.get_latest_version("a") == MAX_VERSION
    assert [event.version for event in store.get_events("a", MAX_VERSION)] == [MAX_VERSION]


@pytest.mark.parametrize("version", [2**63, 2**64, 10**30])
def test_versions_beyond_int64_raise_out_of_range_not_a_conflict(store: SQLiteEventStore, version: int) -> None:
    fill(store, "a", 1)

    with pytest.raises(VersionOutOfRangeError, match="out of range") as caught:
        store.save_event(make_event("a", version))

    assert not isinstance(caught.value, ConflictError)
    assert (caught.value.actor_id, caught.value.version, caught.value.max_version) == ("a", version, MAX_VERSION)
    assert store.get_latest_version("a") == 1


def test_next_version_after_the_largest_is_out_of_range(store: SQLiteEventStore, db_path: Path) -> None:
    insert_raw_row(db_path, "a", MAX_VERSION)

    with pytest.raises(VersionOutOfRangeError):
        store.save_event(make_event("a", MAX_VERSION + 1))


def test_conflict_at_the_largest_version_reports_it(store: SQLiteEventStore) -> None:
    fill(store, "a", 2)

    with pytest.raises(VersionConflictError) as caught:
        store.save_event(make_event("a", MAX_VERSION))

    assert (caught.value.attempted_version, caught.value.current_version) == (MAX_VERSION, 2)


@pytest.mark.parametrize("from_version", [MAX_VERSION, 2**63, 2**200])
def test_get_events_from_huge_versions_is_empty(store: SQLiteEventStore, from_version: int) -> None:
    fill(store, "a", 2)

    assert store.get_events("a", from_version) == []


# -- what is on disk ----------------------------------------------------------------


def test_a_reopened_file_holds_the_saved_events(db_path: Path) -> None:
    with SQLiteEventStore(db_path) as first:
        written = fill(first, "a", 3)

    with SQLiteEventStore(db_path) as second:
        assert second.get_events("a") == written
        assert second.actor_ids() == ["a"]


def test_the_database_is_in_wal_mode(store: SQLiteEventStore, db_path: Path) -> None:
    conn = sqlite3.connect(db_path)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        conn.close()


@pytest.mark.parametrize(("mode", "pragma_value"), [("OFF", 0), ("normal", 1), ("FULL", 2), ("Extra", 3)])
def test_synchronous_mode_applies_to_the_connection(db_path: Path, mode: str, pragma_value: int) -> None:
    with SQLiteEventStore(db_path, synchronous=mode) as store:
        assert store.synchronous == mode.upper()
        assert store._connection().execute("PRAGMA synchronous").fetchone()[0] == pragma_value


@pytest.mark.parametrize(("mode", "error"), [("SOMETIMES", ValueError), ("", ValueError), (1, TypeError)])
def test_unknown_synchronous_modes_are_refused(db_path: Path, mode: object, error: type[Exception]) -> None:
    with pytest.raises(error, match="synchronous"):
        SQLiteEventStore(db_path, synchronous=mode)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("timeout", "error"), [(-1, ValueError), (float("nan"), ValueError), (float("inf"), ValueError), (True, TypeError)]
)
def test_bad_busy_timeouts_are_refused(db_path: Path, timeout: object, error: type[Exception]) -> None:
    with pytest.raises(error, match="busy_timeout"):
        SQLiteEventStore(db_path, busy_timeout=timeout)  # type: ignore[arg-type]


@pytest.mark.parametrize("timeout", [2**31 / 1000, 3e6, 1e7], ids=repr)
def test_busy_timeouts_beyond_what_sqlite_can_count_are_refused(db_path: Path, timeout: float) -> None:
    # SQLite takes a signed 32-bit count of milliseconds: 2**31 ms would wrap to no wait at all.
    with pytest.raises(ValueError, match=f"^busy_timeout .*got {timeout!r}"):
        SQLiteEventStore(db_path, busy_timeout=timeout)


def test_the_longest_busy_timeout_reaches_sqlite_unchanged(db_path: Path) -> None:
    with SQLiteEventStore(db_path, busy_timeout=MAX_BUSY_TIMEOUT) as store:
        assert store._connection().execute("PRAGMA busy_timeout").fetchone()[0] == 2**31 - 1


def test_timestamps_round_trip_to_the_microsecond_at_the_extremes(store: SQLiteEventStore) -> None:
    extremes = [
        datetime(1, 1, 1, tzinfo=UTC),
        datetime(1969, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
    ]
    for version, timestamp in enumerate(extremes, start=1):
        store.save_event(make_event("a", version, timestamp=timestamp))

    assert [event.timestamp for event in store.get_events("a")] == extremes


def test_data_is_stored_as_json(store: SQLiteEventStore, db_path: Path) -> None:
    store.save_event(make_event("a", 1, data={"sku": "A1", "qty": 2}))

    with sqlite3.connect(db_path) as conn:
        (stored,) = conn.execute("SELECT data FROM events").fetchone()
    conn.close()
    assert json.loads(stored) == {"sku": "A1", "qty": 2}


# -- paths --------------------------------------------------------------------------


@pytest.mark.parametrize("path", [":memory:", ""])
def test_in_memory_databases_are_refused(path: str) -> None:
    with pytest.raises(ValueError, match="file path"):
        SQLiteEventStore(path)


def test_a_missing_directory_is_refused_naming_the_path(tmp_path: Path) -> None:
    path = tmp_path / "missing" / "events.db"

    with pytest.raises(FileNotFoundError, match="missing"):
        SQLiteEventStore(path)


def test_a_directory_is_refused_naming_the_path(tmp_path: Path) -> None:
    with pytest.raises(IsADirectoryError, match=tmp_path.name):
        SQLiteEventStore(tmp_path)


def test_a_file_that_is_not_a_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("not a database\n" * 400)

    with pytest.raises(ValueError, match="notes.txt"):
        SQLiteEventStore(path)


def test_a_database_of_another_application_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE invoices (n INTEGER)")
    conn.close()

    with pytest.raises(ValueError, match="invoices"):
        SQLiteEventStore(path)


def test_a_file_with_the_schema_version_but_no_tables_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "empty.db"
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA user_version = 1")
    conn.close()

    with pytest.raises(ValueError, match=r"^cannot use .*empty\.db.* as an SQLite event store: .*no 'events' table"):
        SQLiteEventStore(path)


def test_a_file_whose_tables_have_other_columns_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "lookalike.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE events (actor_id TEXT, version INTEGER)")
        conn.execute("CREATE TABLE actors (seq INTEGER PRIMARY KEY, actor_id TEXT NOT NULL)")
        conn.execute("PRAGMA user_version = 1")
    conn.close()

    with pytest.raises(ValueError, match=r"^cannot use .*lookalike\.db.* 'events' table is \(actor_id TEXT, version"):
        SQLiteEventStore(path)


def test_a_store_file_opens_again_after_the_schema_check(db_path: Path) -> None:
    with SQLiteEventStore(db_path) as first:
        fill(first, "a", 2)

    with SQLiteEventStore(db_path) as second:
        assert second.get_latest_version("a") == 2


@pytest.mark.parametrize("path", [None, 3, b"events.db"])
def test_paths_must_be_str_or_pathlike(path: object) -> None:
    with pytest.raises(TypeError, match="path"):
        SQLiteEventStore(path)  # type: ignore[arg-type]


def test_a_relative_path_is_kept_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with SQLiteEventStore("relative.db") as store:
        assert store.path == str(tmp_path / "relative.db")
        assert str(tmp_path) in repr(store)


# -- connections, pickling, processes -------------------------------------------------


def test_store_can_be_used_again_after_close(store: SQLiteEventStore) -> None:
    fill(store, "a", 1)
    store.close()

    store.save_event(make_event("a", 2))

    assert store.get_latest_version("a") == 2


def test_context_manager_closes_the_threads_connection(db_path: Path) -> None:
    with SQLiteEventStore(db_path) as store:
        conn = store._connection()

    with pytest.raises(sqlite3.ProgrammingError):
        conn.execute("SELECT 1")


def test_each_thread_gets_its_own_connection(store: SQLiteEventStore) -> None:
    seen: list[sqlite3.Connection] = []
    worker = threading.Thread(target=lambda: seen.append(store._connection()))
    worker.start()
    worker.join()

    assert seen[0] is not store._connection()


def test_a_threads_connection_is_closed_when_the_thread_ends(store: SQLiteEventStore) -> None:
    seen: list[sqlite3.Connection] = []

    def use_store() -> None:
        fill(store, "a", 1)
        seen.append(store._connection())

    worker = threading.Thread(target=use_store)
    worker.start()
    worker.join()

    with pytest.raises(sqlite3.ProgrammingError, match="closed"):
        seen[0].execute("SELECT 1")
    assert store.get_latest_version("a") == 1


def test_a_pickled_store_opens_the_same_file_with_the_same_settings(store: SQLiteEventStore) -> None:
    fill(store, "a", 2)
    twin = SQLiteEventStore(store.path, busy_timeout=0.5, synchronous="FULL")

    copy = pickle.loads(pickle.dumps(twin))

    assert (copy.path, copy.busy_timeout, copy.synchronous) == (store.path, 0.5, "FULL")
    assert copy.get_events("a") == store.get_events("a")


def test_a_store_sent_to_a_spawned_process_saves_to_the_same_file(store: SQLiteEventStore) -> None:
    fill(store, "a", 1)
    context = multiprocessing.get_context("spawn")

    with concurrent.futures.ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        seen = pool.submit(save_in_child, store, make_event("a", 2, data={"from": "child"})).result(timeout=60)

    assert seen == 2
    assert store.get_events("a", 2)[0].data == {"from": "child"}


def test_a_conflict_in_a_worker_process_arrives_with_its_fields(store: SQLiteEventStore) -> None:
    fill(store, "a", 3)

    with concurrent.futures.ProcessPoolExecutor(max_workers=1, mp_context=process_context()) as pool:
        future = pool.submit(save_in_child, store, make_event("a", 2))
        with pytest.raises(VersionConflictError) as caught:
            future.result(timeout=60)

    conflict = caught.value
    assert (conflict.actor_id, conflict.attempted_version, conflict.current_version) == ("a", 2, 3)
    assert conflict.distance == 2


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_uses_its_own_connection(store: SQLiteEventStore) -> None:
    fill(store, "a", 1)
    parent_conn = store._connection()

    pid = os.fork()
    if pid == 0:  # child: report through the exit status, never return into pytest
        status = 1
        try:
            store.save_event(make_event("a", 2, data={"from": "child"}))
            if store._connection() is parent_conn:
                status = 2
            elif parent_conn not in INHERITED_CONNECTIONS:  # kept, never closed in the child
                status = 3
            else:
                status = 0
        finally:
            os._exit(status)
    _, wait_status = os.waitpid(pid, 0)

    assert os.waitstatus_to_exitcode(wait_status) == 0
    assert store._connection() is parent_conn
    store.save_event(make_event("a", 3))
    assert [event.data.get("from") for event in store.get_events("a")] == [None, "child", None]


# -- the UNIQUE backstop ---------------------------------------------------------------


def stale_reads(store: SQLiteEventStore, monkeypatch: pytest.MonkeyPatch, version: int) -> None:
    """Make the store's in-transaction read report *version*: a race the lock normally prevents."""
    monkeypatch.setattr(store, "_read_latest", lambda conn, actor_id: version)


def test_backstop_turns_a_duplicate_version_into_a_conflict(
    store: SQLiteEventStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    written = fill(store, "a", 2)
    stale_reads(store, monkeypatch, 1)

    with pytest.raises(VersionConflictError) as caught:
        store.save_event(make_event("a", 2))

    conflict = caught.value
    assert (conflict.actor_id, conflict.attempted_version, conflict.current_version) == ("a", 2, 2)
    assert isinstance(conflict.__cause__, sqlite3.IntegrityError)
    assert store.get_events("a") == written


def test_backstop_turns_a_reused_id_into_a_duplicate_id_error(
    store: SQLiteEventStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    written = fill(store, "a", 2)
    stale_reads(store, monkeypatch, 0)

    with pytest.raises(DuplicateEventIdError) as caught:
        store.save_event(make_event("b", 1, id=written[0].id))

    assert isinstance(caught.value.__cause__, sqlite3.IntegrityError)
    assert store.actor_ids() == ["a"]


def test_backstop_still_treats_a_resent_event_as_a_no_op(
    store: SQLiteEventStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    written = fill(store, "a", 2)
    stale_reads(store, monkeypatch, 1)

    store.save_event(written[1])

    assert store.get_events("a") == written


# -- locks ------------------------------------------------------------------------------


@pytest.fixture
def write_lock(db_path: Path, store: SQLiteEventStore) -> Iterator[sqlite3.Connection]:
    """Another connection holding the database's write lock for the whole test."""
    conn = sqlite3.connect(db_path, isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")
    yield conn
    conn.execute("ROLLBACK")
    conn.close()


def test_a_lock_held_too_long_is_a_lock_timeout_not_a_conflict(
    db_path: Path, store: SQLiteEventStore, write_lock: sqlite3.Connection
) -> None:
    impatient = SQLiteEventStore(db_path, busy_timeout=0.05)

    started = time.monotonic()
    with pytest.raises(LockTimeoutError) as caught:
        impatient.save_event(make_event("a", 1))
    waited = time.monotonic() - started

    assert not isinstance(caught.value, ConflictError)
    assert isinstance(caught.value, StoreUnavailableError)
    assert isinstance(caught.value.__cause__, sqlite3.OperationalError)
    assert 0.04 <= waited < 2.0
    assert impatient.get_latest_version("a") == 0
    assert impatient.actor_ids() == []


def test_a_save_succeeds_once_the_lock_is_released(db_path: Path, store: SQLiteEventStore) -> None:
    impatient = SQLiteEventStore(db_path, busy_timeout=0.05)
    blocker = sqlite3.connect(db_path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    with pytest.raises(LockTimeoutError):
        impatient.save_event(make_event("a", 1))
    blocker.execute("ROLLBACK")
    blocker.close()

    impatient.save_event(make_event("a", 1))

    assert store.get_latest_version("a") == 1


def test_readers_are_not_blocked_by_a_writer(
    db_path: Path, store: SQLiteEventStore, write_lock: sqlite3.Connection
) -> None:
    impatient = SQLiteEventStore(db_path, busy_timeout=0.05)

    assert impatient.get_latest_version("a") == 0
    assert impatient.get_events("a") == []


# -- damaged, deleted and replaced files --------------------------------------------------


def corrupt_events_table(path: Path) -> None:
    """Overwrite the root page of the ``events`` table with garbage, as a failing disk could."""
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        (root,) = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 'events'").fetchone()
        (page_size,) = conn.execute("PRAGMA page_size").fetchone()
    conn.close()
    with open(path, "r+b") as file:
        file.seek((root - 1) * page_size)
        file.write(b"\xff" * page_size)


@pytest.fixture
def corrupted(db_path: Path) -> SQLiteEventStore:
    """A store opened on a file whose events table was then damaged."""
    with SQLiteEventStore(db_path) as writer:
        fill(writer, "a", 50)
    store = SQLiteEventStore(db_path)
    corrupt_events_table(db_path)
    return store


def test_reading_a_damaged_file_is_store_corrupted_not_an_outage(corrupted: SQLiteEventStore) -> None:
    with pytest.raises(StoreCorruptedError, match="malformed") as caught:
        corrupted.get_events("a")

    assert not isinstance(caught.value, StoreUnavailableError)
    assert type(caught.value.__cause__) is sqlite3.DatabaseError


def test_saving_into_a_damaged_file_is_store_corrupted_not_an_outage(corrupted: SQLiteEventStore) -> None:
    with pytest.raises(StoreCorruptedError, match="malformed") as caught:
        corrupted.save_event(make_event("a", 51))

    assert not isinstance(caught.value, StoreUnavailableError)
    assert isinstance(caught.value.__cause__, sqlite3.DatabaseError)


def test_the_latest_version_of_a_damaged_file_is_store_corrupted(corrupted: SQLiteEventStore) -> None:
    with pytest.raises(StoreCorruptedError):
        corrupted.get_latest_version("a")


def test_tables_dropped_while_in_use_are_store_corrupted_not_an_outage(store: SQLiteEventStore, db_path: Path) -> None:
    fill(store, "a", 1)
    with sqlite3.connect(db_path) as conn:
        conn.execute("DROP TABLE events")
    conn.close()

    with pytest.raises(StoreCorruptedError, match="no such table") as caught:
        store.save_event(make_event("a", 2))

    assert not isinstance(caught.value, StoreUnavailableError)


def test_a_save_into_a_deleted_file_is_refused_not_acknowledged(store: SQLiteEventStore, db_path: Path) -> None:
    fill(store, "a", 1)
    db_path.unlink()

    with pytest.raises(StoreCorruptedError, match="deleted"):
        store.save_event(make_event("a", 2))

    with SQLiteEventStore(db_path) as fresh:  # what any other writer sees on the path now
        assert fresh.get_latest_version("a") == 0


def test_a_save_into_a_replaced_file_is_refused(store: SQLiteEventStore, db_path: Path, tmp_path: Path) -> None:
    fill(store, "a", 1)
    with SQLiteEventStore(tmp_path / "other.db") as other:
        fill(other, "a", 1)
    os.replace(tmp_path / "other.db", db_path)

    with pytest.raises(StoreCorruptedError, match="replaced"):
        store.save_event(make_event("a", 2))


def test_a_new_connection_to_a_deleted_file_is_refused_and_creates_nothing(
    store: SQLiteEventStore, db_path: Path
) -> None:
    fill(store, "a", 1)
    store.close()
    db_path.unlink()

    with pytest.raises(StoreCorruptedError, match="deleted"):
        store.get_latest_version("a")

    assert not db_path.exists()


def test_a_new_connection_to_a_damaged_file_is_store_corrupted(store: SQLiteEventStore, db_path: Path) -> None:
    fill(store, "a", 1)
    store.close()
    db_path.write_bytes(b"not a database any more\n" * 400)

    with pytest.raises(StoreCorruptedError, match="not a database"):
        store.get_latest_version("a")
