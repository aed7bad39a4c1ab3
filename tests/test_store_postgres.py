"""What the PostgreSQL store adds to the contract: a server, its errors, processes, and a throwaway local server.

Every test here talks only to the local server the test process started
(:func:`storehelpers.postgres_server`), on its Unix socket; each store gets an
empty schema of its own. Without PostgreSQL the tests are skipped with the
reason and how to get it, except under ``CI=true``, where they fail.
"""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import os
import pickle
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from storehelpers import acknowledging_writer, fill, make_event, postgres_conninfo, postgres_server, save_in_child

from aether.contracts import deadline_scope
from aether.errors import (
    DuplicateEventIdError,
    StoreCorruptedError,
    StoreOverloadedError,
    StoreTimeoutError,
    StoreUnavailableError,
    VersionConflictError,
    VersionOutOfRangeError,
)
from aether.events import Event

if os.environ.get("CI", "").lower() == "true":
    import psycopg  # under CI a missing driver is an error, not a skip
else:
    psycopg = pytest.importorskip("psycopg", reason='needs psycopg 3: pip install -e ".[postgres]"')

from aether.store import pglocal  # noqa: E402
from aether.store.connections import INHERITED_CONNECTIONS  # noqa: E402
from aether.store.pglocal import (  # noqa: E402
    LocalPostgres,
    PostgresNotAvailableError,
    postgres_unavailable_reason,
    start_local_postgres,
)
from aether.store.postgres import (  # noqa: E402
    MAX_STATEMENT_TIMEOUT,
    MAX_VERSION,
    SERIALIZATION_RETRIES,
    PostgresEventStore,
)


@pytest.fixture
def conninfo() -> str:
    """A connection string to a new, empty schema on the test process's server."""
    return postgres_conninfo()


@pytest.fixture
def store(conninfo: str) -> Iterator[PostgresEventStore]:
    with PostgresEventStore(conninfo) as opened:
        yield opened


@pytest.fixture
def admin(conninfo: str) -> Iterator[Any]:
    """A plain psycopg connection to the same schema, to act behind the store's back."""
    with psycopg.connect(conninfo, autocommit=True) as conn:
        yield conn


def backend_pid(store: PostgresEventStore) -> int:
    return store._connection().execute("SELECT pg_backend_pid()").fetchone()[0]


def in_thread(call: Any, *args: Any) -> concurrent.futures.Future[Any]:
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=1)
    future = pool.submit(call, *args)
    pool.shutdown(wait=False)
    return future


def wait_until_blocked(timeout: float = 10.0) -> None:
    """Wait until a store's statement waits for a lock (it reached the contested key or table).

    The server belongs to this test process, and its tests run one at a time, so the waiting
    backend is the one the test started.
    """
    deadline = time.monotonic() + timeout
    with psycopg.connect(postgres_server().conninfo, autocommit=True) as monitor:
        while time.monotonic() < deadline:
            row = monitor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'aether' AND wait_event_type = 'Lock'"
            ).fetchone()
            if row[0] > 0:
                return
            time.sleep(0.01)
    raise AssertionError("no store statement waited for a lock")


# -- the throwaway server ------------------------------------------------------------


def test_the_local_server_accepts_connections_on_its_own_socket() -> None:
    server = postgres_server()

    with psycopg.connect(server.conninfo) as conn:
        (listen,) = conn.execute("SHOW listen_addresses").fetchone()
        (socket_dirs,) = conn.execute("SHOW unix_socket_directories").fetchone()

    assert listen == ""  # no TCP port: only processes that reach the socket file can connect
    assert Path(socket_dirs).resolve().is_relative_to(server.folder)


# The servers below go in the system's temporary folder, not in pytest's tmp_path: run as root, the server
# runs as another user, and pytest makes its own folders readable by their owner only.


def test_stopping_a_local_server_deletes_its_folder_and_a_second_stop_does_nothing() -> None:
    server = start_local_postgres()
    assert server.running and server.folder.is_dir()

    server.stop()
    server.stop()

    assert not server.running
    assert not server.folder.exists()
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(server.conninfo, connect_timeout=2)


def test_a_local_server_stops_at_the_end_of_a_with_block() -> None:
    with start_local_postgres() as server:
        assert isinstance(server, LocalPostgres)
        PostgresEventStore(server.new_schema("demo")).save_event(make_event("a", 1))

    assert not server.running and not server.folder.exists()


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL (POSIX)")
def test_a_server_whose_owner_is_killed_is_stopped_and_deleted() -> None:
    code = "from aether.store.pglocal import start_local_postgres; print(start_local_postgres().folder, flush=True); "
    code += "import time; time.sleep(120)"
    owner = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    folder = Path(owner.stdout.readline().strip())  # type: ignore[union-attr]
    assert (folder / "data" / "postmaster.pid").exists()

    owner.kill()
    owner.wait(timeout=30)
    deadline = time.monotonic() + 60
    while folder.exists() and time.monotonic() < deadline:
        time.sleep(0.1)

    assert not folder.exists()
    owner.stdout.close()  # type: ignore[union-attr]


def test_this_machine_can_run_a_local_server() -> None:
    assert postgres_unavailable_reason() is None


def test_without_postgresql_the_reason_says_how_to_get_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pglocal, "_import_pgserver", lambda: None)
    monkeypatch.setattr(pglocal, "_system_bindir", lambda: None)

    reason = postgres_unavailable_reason()
    with pytest.raises(PostgresNotAvailableError) as caught:
        start_local_postgres()

    assert reason is not None and str(caught.value) == reason
    assert '.[postgres]"' in reason and "apt-get install postgresql" in reason


@pytest.mark.skipif(pglocal._system_bindir() is None, reason="PostgreSQL's own programs are not installed")
def test_without_pgserver_the_systems_postgresql_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pglocal, "_import_pgserver", lambda: None)

    with start_local_postgres() as server:
        store = PostgresEventStore(server.new_schema("system"))
        fill(store, "a", 2)
        assert (server.backend, store.get_latest_version("a")) == ("system", 2)
        store.close()

    assert not server.folder.exists()


@pytest.mark.parametrize("name", ["", "Upper", "1st", "has space", "x" * 42, None])
def test_schema_names_must_be_plain_identifiers(name: object) -> None:
    with pytest.raises(ValueError, match="name"):
        postgres_server().new_schema(name)  # type: ignore[arg-type]


def test_each_new_schema_holds_its_own_store() -> None:
    first, second = PostgresEventStore(postgres_conninfo()), PostgresEventStore(postgres_conninfo())
    fill(first, "a", 2)

    assert second.get_latest_version("a") == 0
    assert second.actor_ids() == []


# -- settings and bad input ------------------------------------------------------------


@pytest.mark.parametrize(
    ("conninfo", "error"), [(None, TypeError), (5, TypeError), ("", ValueError), ("host=a = b", ValueError)]
)
def test_bad_conninfo_is_refused(conninfo: object, error: type[Exception]) -> None:
    with pytest.raises(error, match="conninfo"):
        PostgresEventStore(conninfo)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("timeout", "error"),
    [(0, ValueError), (-1, ValueError), (float("nan"), ValueError), (float("inf"), ValueError),
     (MAX_STATEMENT_TIMEOUT * 2, ValueError), (True, TypeError), ("5", TypeError), (None, TypeError)],
)
def test_bad_statement_timeouts_are_refused(conninfo: str, timeout: object, error: type[Exception]) -> None:
    with pytest.raises(error, match="statement_timeout"):
        PostgresEventStore(conninfo, statement_timeout=timeout)  # type: ignore[arg-type]


@pytest.mark.parametrize(("timeout", "error"), [(0, ValueError), (-2, ValueError), ("2", TypeError)])
def test_bad_connect_timeouts_are_refused(conninfo: str, timeout: object, error: type[Exception]) -> None:
    with pytest.raises(error, match="connect_timeout"):
        PostgresEventStore(conninfo, connect_timeout=timeout)  # type: ignore[arg-type]


@pytest.mark.parametrize(("level", "error"), [("chaos", ValueError), ("READ COMMITTED", ValueError), (1, TypeError)])
def test_unknown_isolation_levels_are_refused(conninfo: str, level: object, error: type[Exception]) -> None:
    with pytest.raises(error, match="isolation_level"):
        PostgresEventStore(conninfo, isolation_level=level)  # type: ignore[arg-type]


@pytest.mark.parametrize(("level", "shown"), [("serializable", "serializable"), ("repeatable read", "repeatable read")])
def test_the_isolation_level_and_statement_timeout_reach_the_server(conninfo: str, level: str, shown: str) -> None:
    store = PostgresEventStore(conninfo, isolation_level=level, statement_timeout=1.5)
    conn = store._connection()

    assert conn.execute("SHOW default_transaction_isolation").fetchone() == (shown,)
    assert conn.execute("SHOW statement_timeout").fetchone() == ("1500ms",)


def test_repr_and_conninfo_never_show_the_password(conninfo: str) -> None:
    secret = psycopg.conninfo.make_conninfo(conninfo, password="hunter2")
    store = PostgresEventStore(secret)

    assert "hunter2" not in repr(store)
    assert "hunter2" not in store.conninfo
    assert repr(store).startswith("PostgresEventStore(") and "statement_timeout=5.0" in repr(store)


# -- versions --------------------------------------------------------------------------


def test_the_largest_version_can_be_stored(store: PostgresEventStore, admin: Any) -> None:
    admin.execute(
        "INSERT INTO events VALUES (%s, %s, %s, %s, '{}', 0)", (b"a", MAX_VERSION - 1, b"raw-id", b"Raw")
    )

    store.save_event(make_event("a", MAX_VERSION))

    assert store.get_latest_version("a") == MAX_VERSION
    with pytest.raises(VersionOutOfRangeError):
        store.save_event(make_event("a", MAX_VERSION + 1))


@pytest.mark.parametrize("version", [2**63, 2**64, 10**30])
def test_versions_beyond_int64_raise_out_of_range_not_a_conflict(store: PostgresEventStore, version: int) -> None:
    with pytest.raises(VersionOutOfRangeError) as caught:
        store.save_event(make_event("a", version))

    assert caught.value.max_version == MAX_VERSION
    assert store.actor_ids() == []


@pytest.mark.parametrize("from_version", [MAX_VERSION, 2**63, 10**40])
def test_get_events_from_huge_versions_is_empty(store: PostgresEventStore, from_version: int) -> None:
    fill(store, "a", 2)

    assert store.get_events("a", from_version) == []


# -- conflicts are detected by the database -------------------------------------------


def test_a_rival_commit_between_the_read_and_the_insert_is_a_conflict_with_the_current_version(
    store: PostgresEventStore, admin: Any
) -> None:
    fill(store, "a", 3)
    with admin.transaction():  # a rival's insert of version 4, not yet committed: invisible to the store's read
        admin.execute("INSERT INTO events VALUES (%s, 4, %s, %s, '{}', 0)", (b"a", b"rival", b"Rival"))
        saving = in_thread(store.save_event, make_event("a", 4, data={"who": "me"}))
        wait_until_blocked()  # the store read version 3 and now waits on the primary key
    with pytest.raises(VersionConflictError) as caught:
        saving.result(timeout=10)

    assert (caught.value.attempted_version, caught.value.current_version) == (4, 4)
    assert isinstance(caught.value.__cause__, psycopg.errors.UniqueViolation)
    assert [event.event_type for event in store.get_events("a", 4)] == ["Rival"]


def test_the_same_event_committed_by_a_racing_resend_is_a_no_op(store: PostgresEventStore, admin: Any) -> None:
    event = make_event("a", 1)
    with admin.transaction():
        admin.execute(
            "INSERT INTO events VALUES (%s, 1, %s, %s, %s, 0)",
            (b"a", event.id.encode(), event.event_type.encode(), event.data.to_json()),
        )
        saving = in_thread(store.save_event, event)
        wait_until_blocked()

    assert saving.result(timeout=10) is None
    assert store.get_latest_version("a") == 1


def test_an_id_committed_elsewhere_by_a_racing_writer_is_a_duplicate_id(store: PostgresEventStore, admin: Any) -> None:
    with admin.transaction():
        admin.execute("INSERT INTO events VALUES (%s, 1, %s, %s, '{}', 0)", (b"b", b"shared-id", b"Other"))
        saving = in_thread(store.save_event, make_event("a", 1, id="shared-id"))
        wait_until_blocked()

    with pytest.raises(DuplicateEventIdError) as caught:
        saving.result(timeout=10)
    assert (caught.value.stored_actor_id, caught.value.stored_version) == ("b", 1)
    assert store.get_latest_version("a") == 0 and store.actor_ids() == []


@pytest.mark.parametrize("isolation_level", ["read committed", "repeatable read", "serializable"])
def test_racing_threads_get_conflicts_with_the_current_version_at_every_isolation_level(
    conninfo: str, isolation_level: str
) -> None:
    store = PostgresEventStore(conninfo, isolation_level=isolation_level)
    fill(store, "hot", 2)
    racers = 8
    start = threading.Barrier(racers)

    def race(n: int) -> BaseException | None:
        start.wait(timeout=30)
        try:
            store.save_event(make_event("hot", 3, data={"racer": n}))
        except BaseException as exc:  # noqa: BLE001 - the outcome is what the test checks
            return exc
        finally:
            store.close()
        return None

    with concurrent.futures.ThreadPoolExecutor(max_workers=racers) as pool:
        outcomes = list(pool.map(race, range(racers)))

    assert outcomes.count(None) == 1
    for loser in (outcome for outcome in outcomes if outcome is not None):
        assert isinstance(loser, VersionConflictError), repr(loser)
        assert (loser.attempted_version, loser.current_version) == (3, 3)


class FlakyConnection:
    """A connection whose first *failures* statements fail serialisation, as a busy server's can."""

    def __init__(self, conn: Any, failures: int) -> None:
        self.conn, self.failures, self.calls = conn, failures, 0
        self.closed = self.broken = False

    def execute(self, sql: Any, params: Any = None) -> Any:
        self.calls += 1
        if self.calls <= self.failures:
            raise psycopg.errors.SerializationFailure("could not serialize access due to concurrent update")
        return self.conn.execute(sql, params)


def test_a_save_that_failed_serialisation_is_run_again(
    store: PostgresEventStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    flaky = FlakyConnection(store._connection(), failures=SERIALIZATION_RETRIES)
    monkeypatch.setattr(store, "_connection", lambda: flaky)

    store.save_event(make_event("a", 1))

    assert flaky.calls == SERIALIZATION_RETRIES + 1
    assert store.get_latest_version("a") == 1


def test_a_save_that_keeps_failing_serialisation_is_unavailable_and_saves_nothing(
    store: PostgresEventStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = store._connection()
    flaky = FlakyConnection(real, failures=SERIALIZATION_RETRIES + 1)
    monkeypatch.setattr(store, "_connection", lambda: flaky)

    with pytest.raises(StoreUnavailableError, match="serialisation") as caught:
        store.save_event(make_event("a", 1))

    assert isinstance(caught.value.__cause__, psycopg.errors.SerializationFailure)
    monkeypatch.undo()
    assert store.get_latest_version("a") == 0


# -- the server's errors -----------------------------------------------------------------


def test_a_statement_past_its_timeout_is_a_store_timeout_and_saves_nothing(conninfo: str, admin: Any) -> None:
    store = PostgresEventStore(conninfo, statement_timeout=0.2)
    fill(store, "a", 1)
    with admin.transaction():
        admin.execute("LOCK TABLE events IN ACCESS EXCLUSIVE MODE")
        with pytest.raises(StoreTimeoutError, match="statement_timeout") as caught:
            store.save_event(make_event("a", 2))
        with pytest.raises(StoreTimeoutError):
            store.get_latest_version("a")

    assert isinstance(caught.value.__cause__, psycopg.errors.QueryCanceled)
    assert store.get_latest_version("a") == 1


def test_without_a_deadline_clock_the_callers_deadline_is_ignored(store: PostgresEventStore) -> None:
    with deadline_scope(time.monotonic() - 1):
        store.save_event(make_event("a", 1))

    assert store.get_latest_version("a") == 1


def test_a_call_whose_callers_deadline_has_passed_is_not_sent(conninfo: str) -> None:
    store = PostgresEventStore(conninfo, deadline_clock=time.monotonic)

    with deadline_scope(time.monotonic() - 0.001), pytest.raises(StoreTimeoutError, match="before the call was sent"):
        store.save_event(make_event("a", 1))

    assert store.get_latest_version("a") == 0


def test_a_statement_still_running_at_the_callers_deadline_is_cancelled_and_saves_nothing(
    conninfo: str, admin: Any
) -> None:
    store = PostgresEventStore(conninfo, statement_timeout=60, deadline_clock=time.monotonic)
    fill(store, "a", 1)
    with admin.transaction():
        admin.execute("LOCK TABLE events IN ACCESS EXCLUSIVE MODE")
        with deadline_scope(time.monotonic() + 0.2), pytest.raises(StoreTimeoutError, match="deadline passed while"):
            store.save_event(make_event("a", 2))

    assert store.get_latest_version("a") == 1
    store.save_event(make_event("a", 2))  # the connection is still usable, and nothing is cancelled by mistake
    assert store.get_latest_version("a") == 2


def test_a_deadline_later_than_the_statement_timeout_leaves_the_timeout_in_charge(conninfo: str, admin: Any) -> None:
    store = PostgresEventStore(conninfo, statement_timeout=0.2, deadline_clock=time.monotonic)
    with admin.transaction():
        admin.execute("LOCK TABLE events IN ACCESS EXCLUSIVE MODE")
        with deadline_scope(time.monotonic() + 60), pytest.raises(StoreTimeoutError, match="statement_timeout"):
            store.get_latest_version("a")


def test_the_deadline_clock_must_be_callable(conninfo: str) -> None:
    with pytest.raises(TypeError, match="deadline_clock"):
        PostgresEventStore(conninfo, deadline_clock=5.0)  # type: ignore[arg-type]


def test_a_lost_connection_is_unavailable_and_the_next_call_reconnects(store: PostgresEventStore, admin: Any) -> None:
    fill(store, "a", 1)
    admin.execute("SELECT pg_terminate_backend(%s)", (backend_pid(store),))

    with pytest.raises(StoreUnavailableError) as caught:
        store.save_event(make_event("a", 2))

    assert isinstance(caught.value.__cause__, psycopg.OperationalError)
    assert store.get_latest_version("a") == 1
    store.save_event(make_event("a", 2))
    assert store.get_latest_version("a") == 2


def test_a_server_that_is_not_there_is_unavailable(tmp_path: Path) -> None:
    with pytest.raises(StoreUnavailableError, match="failed") as caught:
        PostgresEventStore(f"host={tmp_path} dbname=postgres user=postgres", connect_timeout=2)

    assert isinstance(caught.value.__cause__, psycopg.OperationalError)


def test_a_server_that_refuses_more_connections_is_overloaded(conninfo: str, admin: Any) -> None:
    PostgresEventStore(conninfo).close()  # the tables exist, made by the owner
    role = f"limited_{os.getpid()}"
    (schema,) = admin.execute("SELECT current_schema()").fetchone()
    admin.execute(f"DROP ROLE IF EXISTS {role}")
    admin.execute(f"CREATE ROLE {role} LOGIN CONNECTION LIMIT 1")  # superusers ignore connection limits
    admin.execute(f"GRANT ALL ON SCHEMA {schema} TO {role}")
    admin.execute(f"GRANT ALL ON ALL TABLES IN SCHEMA {schema} TO {role}")
    limited = psycopg.conninfo.make_conninfo(conninfo, user=role)
    first = PostgresEventStore(limited)

    with pytest.raises(StoreOverloadedError, match="too many connections") as caught:
        PostgresEventStore(limited)

    assert isinstance(caught.value.__cause__, psycopg.OperationalError)
    first.close()


def test_tables_dropped_while_in_use_are_store_corrupted_not_an_outage(store: PostgresEventStore, admin: Any) -> None:
    fill(store, "a", 1)
    admin.execute("DROP TABLE events")

    with pytest.raises(StoreCorruptedError):
        store.save_event(make_event("a", 2))
    with pytest.raises(StoreCorruptedError):
        store.get_latest_version("a")


# -- the schema check --------------------------------------------------------------------


def test_a_reopened_store_holds_the_saved_events(conninfo: str) -> None:
    with PostgresEventStore(conninfo) as first:
        written = fill(first, "a", 3)

    assert PostgresEventStore(conninfo).get_events("a") == written


def test_another_programs_events_table_is_refused_naming_the_database(conninfo: str, admin: Any) -> None:
    admin.execute("CREATE TABLE events (id serial PRIMARY KEY, payload jsonb)")

    with pytest.raises(ValueError, match="cannot use database 'postgres'.*another program"):
        PostgresEventStore(conninfo)


def test_a_store_table_with_other_columns_is_refused(conninfo: str, admin: Any) -> None:
    PostgresEventStore(conninfo).close()
    admin.execute("ALTER TABLE events ADD COLUMN extra integer")

    with pytest.raises(ValueError, match="'events' table is"):
        PostgresEventStore(conninfo)


def test_a_store_of_another_schema_version_is_refused(conninfo: str, admin: Any) -> None:
    PostgresEventStore(conninfo).close()
    admin.execute("COMMENT ON TABLE events IS 'aether event store, schema 99'")

    with pytest.raises(ValueError, match="schema 99"):
        PostgresEventStore(conninfo)


def test_stores_opened_at_once_on_an_empty_schema_all_work(conninfo: str) -> None:
    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
        stores = list(pool.map(lambda _: PostgresEventStore(conninfo), range(4)))

    for n, store in enumerate(stores, start=1):
        store.save_event(make_event("a", n))
    assert stores[0].get_latest_version("a") == 4


# -- connections, threads and processes ---------------------------------------------------


def test_each_thread_gets_its_own_connection(store: PostgresEventStore) -> None:
    mine = backend_pid(store)

    theirs = in_thread(backend_pid, store).result(timeout=10)

    assert theirs != mine


def test_close_ends_the_connection_and_the_next_call_opens_another(store: PostgresEventStore) -> None:
    first = store._connection()

    store.close()

    assert first.closed
    fill(store, "a", 1)
    assert store._connection() is not first


def test_a_pickled_store_connects_to_the_same_schema_with_the_same_settings(conninfo: str) -> None:
    settings = {"statement_timeout": 0.5, "connect_timeout": 3, "isolation_level": "serializable"}
    store = PostgresEventStore(conninfo, **settings, deadline_clock=time.monotonic)
    fill(store, "a", 2)

    copy = pickle.loads(pickle.dumps(store))

    assert (copy.statement_timeout, copy.connect_timeout, copy.isolation_level) == (0.5, 3, "serializable")
    assert copy.deadline_clock is time.monotonic
    assert copy.get_events("a") == store.get_events("a")


def test_replace_opens_the_same_database_with_the_changed_settings_only(store: PostgresEventStore) -> None:
    fill(store, "a", 1)

    other = store.replace(statement_timeout=0.25, deadline_clock=time.monotonic)

    assert (other.statement_timeout, other.deadline_clock) == (0.25, time.monotonic)
    assert other.isolation_level == store.isolation_level
    assert other.get_events("a") == store.get_events("a")
    with pytest.raises(TypeError, match="unknown path"):
        store.replace(path="x")


def test_a_store_sent_to_a_spawned_process_saves_to_the_same_schema(store: PostgresEventStore) -> None:
    fill(store, "a", 1)
    context = multiprocessing.get_context("spawn")

    with concurrent.futures.ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        seen = pool.submit(save_in_child, store, make_event("a", 2, data={"from": "child"})).result(timeout=60)

    assert seen == 2
    assert store.get_events("a", 2)[0].data == {"from": "child"}


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_uses_its_own_connection_and_leaves_the_parents_alone(store: PostgresEventStore) -> None:
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
    store.save_event(make_event("a", 3))  # the parent's session survived the child
    assert [event.data.get("from") for event in store.get_events("a")] == [None, "child", None]


# -- durability: writers killed at random moments ------------------------------------------


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL (POSIX)")
def test_every_acknowledged_save_survives_writers_killed_at_random_moments(
    store: PostgresEventStore, tmp_path: Path
) -> None:
    rng = random.Random(20261207)
    acks = tmp_path / "acks"
    context = multiprocessing.get_context("fork" if hasattr(os, "fork") else "spawn")
    rounds, writers = 4, 3
    killed = 0
    for round_ in range(rounds):
        procs = [
            context.Process(target=acknowledging_writer, args=(store, "hot", f"w{round_}-{n}", str(acks)), daemon=True)
            for n in range(writers)
        ]
        for proc in procs:
            proc.start()
        for proc in procs:  # each writer dies at its own random moment, mid-save or between saves
            time.sleep(rng.uniform(0.05, 0.4))
            os.kill(proc.pid, signal.SIGKILL)  # type: ignore[arg-type]
        for proc in procs:
            proc.join(timeout=30)
            assert proc.exitcode == -signal.SIGKILL
            killed += 1

    acknowledged = [line.split() for line in acks.read_text().splitlines()]
    events = store.get_events("hot")
    stored_ids = Counter(event.id for event in events)
    assert killed == rounds * writers
    assert len(acknowledged) > 0
    assert all(stored_ids[event_id] == 1 for _, _, event_id in acknowledged)
    assert [event.version for event in events] == list(range(1, len(events) + 1))
    assert len(events) - len(acknowledged) <= killed  # at most the save in flight when each writer died
    # the server is still healthy: the killed writers' sessions are gone and new saves work
    store.save_event(Event(actor_id="hot", event_type="After", version=len(events) + 1))
