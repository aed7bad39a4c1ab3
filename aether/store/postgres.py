"""A PostgreSQL event store: the event store on a database server, reached over a socket.

Use :class:`PostgresEventStore` to see the retry patterns against the kind of
store people retry against in production: a server with a finite number of
backends, statement timeouts and connection limits, where a call can fail
because the connection was lost or the server refused it. For a store that
needs no server use :class:`~aether.store.sqlite.SQLiteEventStore`; to get a
throwaway server on this machine, see :mod:`aether.store.pglocal`.

It needs the ``postgres`` extra (``pip install -e ".[postgres]"``; the
``notebooks`` and ``dev`` extras include it), which brings psycopg 3.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

try:
    import psycopg
    import psycopg.conninfo
    import psycopg.errors
except ImportError as exc:  # pragma: no cover - depends on the install
    raise ImportError(
        "PostgresEventStore needs psycopg 3: install the project's 'postgres' extra "
        '(pip install -e ".[postgres]") or run pip install "psycopg[binary]"'
    ) from exc

from aether.checks import check_callable, check_choice, check_seconds, check_text
from aether.deadlines import call_deadline
from aether.errors import (
    AetherError,
    DuplicateEventIdError,
    LockTimeoutError,
    StoreCorruptedError,
    StoreOverloadedError,
    StoreTimeoutError,
    StoreUnavailableError,
    VersionConflictError,
    VersionOutOfRangeError,
)
from aether.events import Event, validate_actor_id, validate_version
from aether.store.connections import PerThreadConnections, ThreadSlot, keep_forever

__all__ = ["ISOLATION_LEVELS", "MAX_STATEMENT_TIMEOUT", "MAX_VERSION", "SERIALIZATION_RETRIES", "PostgresEventStore"]

MAX_VERSION = 2**63 - 1
"""The largest version the store holds: versions are PostgreSQL ``bigint`` (signed 64-bit)."""

MAX_STATEMENT_TIMEOUT = (2**31 - 1) / 1000
"""The longest ``statement_timeout`` in seconds: PostgreSQL counts it in milliseconds in a signed 32-bit int."""

ISOLATION_LEVELS = ("read committed", "repeatable read", "serializable")
"""The transaction isolation levels a store may run its statements at."""

SERIALIZATION_RETRIES = 5
"""How many times a save or read that failed serialisation (or was a deadlock victim) is run again.

Such a failure means the server rolled the statement back because it ran
concurrently with another: nothing happened, and running it again is what
the server asks for. The re-run then sees the other writer's commit, so a
stale version comes back as the :class:`VersionConflictError` it is."""

_SCHEMA_VERSION = 1
_MARKER = f"aether event store, schema {_SCHEMA_VERSION}"
_MARKER_PREFIX = "aether event store, schema "
# Text columns are bytea holding UTF-8: PostgreSQL's text type cannot hold NUL, which an actor id may contain.
_SCHEMA = (
    """CREATE TABLE events (
        actor_id     bytea  NOT NULL,
        version      bigint NOT NULL,
        id           bytea  NOT NULL UNIQUE,
        event_type   bytea  NOT NULL,
        data         text   NOT NULL,
        timestamp_us bigint NOT NULL,
        PRIMARY KEY (actor_id, version)
    )""",
    # One row per actor, written with its version-1 event: keeps first-save order.
    "CREATE TABLE actors (seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, actor_id bytea NOT NULL)",
    f"COMMENT ON TABLE events IS '{_MARKER}'",
)
_EXPECTED_COLUMNS: dict[str, tuple[tuple[str, str, str], ...]] = {
    "events": (
        ("actor_id", "bytea", "NO"),
        ("version", "bigint", "NO"),
        ("id", "bytea", "NO"),
        ("event_type", "bytea", "NO"),
        ("data", "text", "NO"),
        ("timestamp_us", "bigint", "NO"),
    ),
    "actors": (("seq", "bigint", "NO"), ("actor_id", "bytea", "NO")),
}
_SQL_COLUMNS = (
    "SELECT column_name, data_type, is_nullable FROM information_schema.columns "
    "WHERE table_schema = current_schema() AND table_name = %s ORDER BY ordinal_position"
)
_SQL_TABLES = (
    "SELECT c.relname, obj_description(c.oid, 'pg_class') FROM pg_class c "
    "WHERE c.relnamespace = current_schema()::regnamespace AND c.relname IN ('events', 'actors')"
)
_LOCK_KEY = 0x4165_7468_6572  # "Aether": the advisory lock that serialises schema creation

# One statement, so one round trip and one transaction: the insert happens only if the actor's
# latest version is the one before the event's. Two writers that both saw that latest version
# both insert, and the primary key (actor_id, version) makes the later one fail: the conflict is
# detected by the database. When nothing is inserted the statement also says why (the latest
# version it saw, and where the event's id is stored, if anywhere).
_SQL_SAVE = """
WITH latest AS (
    SELECT coalesce(max(version), 0) AS version FROM events WHERE actor_id = %(actor_id)s
), inserted AS (
    INSERT INTO events (actor_id, version, id, event_type, data, timestamp_us)
    SELECT %(actor_id)s, %(version)s, %(id)s, %(event_type)s, %(data)s, %(timestamp_us)s
    FROM latest WHERE latest.version = %(version)s - 1
    RETURNING version
), first_save AS (
    INSERT INTO actors (actor_id) SELECT %(actor_id)s FROM inserted WHERE inserted.version = 1
)
SELECT (SELECT count(*) FROM inserted), latest.version,
       (SELECT actor_id FROM events WHERE id = %(id)s), (SELECT version FROM events WHERE id = %(id)s)
FROM latest
"""
_SQL_EXPLAIN = (
    "SELECT (SELECT coalesce(max(version), 0) FROM events WHERE actor_id = %(actor_id)s), "
    "(SELECT actor_id FROM events WHERE id = %(id)s), (SELECT version FROM events WHERE id = %(id)s)"
)
_SQL_LATEST = "SELECT coalesce(max(version), 0) FROM events WHERE actor_id = %s"
_SQL_EVENTS = (
    "SELECT actor_id, version, id, event_type, data, timestamp_us FROM events "
    "WHERE actor_id = %s AND version >= %s ORDER BY version"
)
_SQL_ACTORS = "SELECT actor_id FROM actors ORDER BY seq"

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_MICROSECOND = timedelta(microseconds=1)
_RETRYABLE = (psycopg.errors.SerializationFailure, psycopg.errors.DeadlockDetected)

class _Connection:
    """A psycopg connection and the process that opened it; released when its thread or store goes."""

    __slots__ = ("pg", "pid", "released")

    def __init__(self, pg: psycopg.Connection[Any]) -> None:
        self.pg = pg
        self.pid = os.getpid()
        self.released = False

    def release(self) -> None:
        """Close the connection if this process opened it, else park it unused."""
        if self.released:
            return
        self.released = True
        with contextlib.suppress(Exception):  # may run during interpreter shutdown
            if self.pid == os.getpid():
                self.pg.close()
            else:
                keep_forever(self.pg)

    __del__ = release


class PostgresEventStore(PerThreadConnections):
    """An event store in a PostgreSQL database, safe for many threads and processes at once.

    It keeps the exact :class:`~aether.store.base.EventStore` contract of the
    other stores::

        with start_local_postgres() as server:
            store = PostgresEventStore(server.conninfo)
            store.save_event(Event(actor_id="order-7", event_type="Created", version=1))

    How it stays correct under contention: every save is one SQL statement
    (so one round trip and one transaction) that inserts the event only if
    the actor's latest version is the one before it. Two writers that read the
    same latest version both insert, and the primary key ``(actor_id,
    version)`` makes the later one fail, so the conflict is detected by the
    database, not by a read before the write; the store then reports the
    version the database holds in the :class:`VersionConflictError`. The event
    id is ``UNIQUE``: re-saving the very same event is a no-op, and the id
    stored at another actor or version raises :class:`DuplicateEventIdError`.
    A failed save changes nothing.

    Errors, each raised ``from`` the driver's error:

    * a server that cannot be reached, refuses the connection, shuts down or
      drops it: :class:`StoreUnavailableError` (the next call reconnects);
      "too many connections": :class:`StoreOverloadedError`;
    * a statement that ran longer than ``statement_timeout``:
      :class:`StoreTimeoutError` (the server cancelled it: nothing was saved);
      a lock not granted within the server's ``lock_timeout``:
      :class:`LockTimeoutError`;
    * a statement that failed serialisation or was chosen as a deadlock victim
      is run again, up to :data:`SERIALIZATION_RETRIES` times (nothing was
      done, and the re-run sees the rival's commit, so a stale save becomes a
      conflict); if it still fails, :class:`StoreUnavailableError`;
    * the store's tables dropped while in use: :class:`StoreCorruptedError`.

    Opening creates the tables in the connection's current schema if there are
    none, and refuses (:class:`ValueError` naming the database) tables called
    ``events`` or ``actors`` that another program made, or whose columns are
    not the event store's. The store marks its ``events`` table with a comment.

    Each thread of each process gets its own connection, opened on first use
    and reopened after a ``fork`` (a forked child never touches the
    connections it inherited). :meth:`close` closes the calling thread's
    connection; the store also works as a context manager. A store pickles as
    its connection string and settings, so a worker process can receive it and
    reconnect.

    Args:
        conninfo: a libpq connection string or URI (``"postgresql://..."`` or
            ``"host=... dbname=..."``). A ``password`` in it is kept for
            reconnecting but never shown by ``repr``.
        statement_timeout: seconds the server lets one statement run before it
            cancels it (:class:`StoreTimeoutError`), at most :data:`MAX_STATEMENT_TIMEOUT`.
        connect_timeout: seconds to wait for a connection before
            :class:`StoreUnavailableError` (libpq counts whole seconds, at least 2).
        isolation_level: one of :data:`ISOLATION_LEVELS`; ``"read committed"``
            (the server's default) is enough for the contract.
        deadline_clock: the clock of the callers' deadlines (``time.monotonic``,
            which :class:`~aether.clock.RealClock` reads), to make each call
            honour :data:`~aether.contracts.call_deadline`: a call whose
            caller's deadline has passed is not sent, and one still running
            when it passes is cancelled on the server; both raise
            :class:`StoreTimeoutError`, and nothing is saved. ``None`` (the
            default) ignores callers' deadlines: only ``statement_timeout`` applies.
    """

    def __init__(
        self,
        conninfo: str,
        *,
        statement_timeout: float = 5.0,
        connect_timeout: float = 5.0,
        isolation_level: str = "read committed",
        deadline_clock: Callable[[], float] | None = None,
    ) -> None:
        self._conninfo = _check_conninfo(conninfo)
        self._statement_timeout = _check_statement_timeout(statement_timeout)
        self._connect_timeout = check_seconds("connect_timeout", connect_timeout, positive=True, maximum=2**31 - 1)
        level = check_text("isolation_level", isolation_level)
        self._isolation_level = check_choice("isolation_level", level, ISOLATION_LEVELS)
        if deadline_clock is not None:
            check_callable("deadline_clock", deadline_clock)
        self._deadline_clock = deadline_clock
        self._local = ThreadSlot()
        self._initialise()

    @property
    def conninfo(self) -> str:
        """The connection string, without its password if it has one."""
        return _hide_password(self._conninfo)

    @property
    def statement_timeout(self) -> float:
        """Seconds the server lets one statement run before it cancels it."""
        return self._statement_timeout

    @property
    def connect_timeout(self) -> float:
        """Seconds a new connection may take before :class:`StoreUnavailableError`."""
        return self._connect_timeout

    @property
    def isolation_level(self) -> str:
        """The transaction isolation level of this store's statements."""
        return self._isolation_level

    @property
    def deadline_clock(self) -> Callable[[], float] | None:
        """The clock of the callers' deadlines, or ``None`` if the store ignores them."""
        return self._deadline_clock

    def replace(self, **changes: Any) -> PostgresEventStore:
        """A new store on the same database with some settings changed (``statement_timeout=...``, ...).

        Takes the constructor's keyword settings; unknown ones are a :class:`TypeError`.
        """
        settings: dict[str, Any] = {
            "statement_timeout": self._statement_timeout,
            "connect_timeout": self._connect_timeout,
            "isolation_level": self._isolation_level,
            "deadline_clock": self._deadline_clock,
        }
        unknown = sorted(set(changes) - set(settings))
        if unknown:
            raise TypeError(f"replace() takes {', '.join(sorted(settings))}; got unknown {', '.join(unknown)}")
        settings.update(changes)
        return type(self)(self._conninfo, **settings)

    # -- the EventStore contract -------------------------------------------------

    def save_event(self, event: Event) -> None:
        """Append *event* if ``event.version`` is the actor's next version.

        Raises :class:`VersionConflictError` otherwise, and
        :class:`DuplicateEventIdError` if the id is stored as another event.
        Re-saving an already stored event (same id, actor and version) does
        nothing. A failed save changes nothing.
        """
        if not isinstance(event, Event):
            raise TypeError(f"save_event takes an Event; got {event!r} ({type(event).__name__})")
        if event.version > MAX_VERSION:
            raise VersionOutOfRangeError(event.actor_id, event.version, MAX_VERSION)
        params = {
            "actor_id": event.actor_id.encode(),
            "version": event.version,
            "id": event.id.encode(),
            "event_type": event.event_type.encode(),
            "data": event.data.to_json(),
            "timestamp_us": (event.timestamp - _EPOCH) // _ONE_MICROSECOND,
        }
        try:
            inserted, latest, stored_actor, stored_version = self._run(_SQL_SAVE, params)[0]
        except psycopg.errors.UniqueViolation as exc:
            # A rival committed this version (or this id) between our statement's read and its insert.
            latest, stored_actor, stored_version = self._run(_SQL_EXPLAIN, params)[0]
            _reject(event, latest, stored_actor, stored_version, exc)
            return
        if not inserted:
            _reject(event, latest, stored_actor, stored_version, None)

    def get_latest_version(self, actor_id: str) -> int:
        """Return the actor's latest version, ``0`` for an actor with no events."""
        validate_actor_id(actor_id)
        return int(self._run(_SQL_LATEST, (actor_id.encode(),))[0][0])

    def get_events(self, actor_id: str, from_version: int = 1) -> list[Event]:
        """Return the actor's events from ``from_version`` (inclusive) on, oldest first."""
        validate_actor_id(actor_id)
        from_version = validate_version(from_version, "from_version")
        if from_version > MAX_VERSION:
            return []
        return [_event_from_row(row) for row in self._run(_SQL_EVENTS, (actor_id.encode(), from_version))]

    def actor_ids(self) -> list[str]:
        """Return every actor that has at least one event, in first-save order."""
        return [bytes(actor_id).decode() for (actor_id,) in self._run(_SQL_ACTORS, ())]

    # -- connections -------------------------------------------------------------

    def __reduce__(self) -> tuple[Any, ...]:
        settings = (self._statement_timeout, self._connect_timeout, self._isolation_level, self._deadline_clock)
        return (_reopen, (type(self), self._conninfo, *settings))

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.conninfo!r}, statement_timeout={self._statement_timeout!r}, "
            f"connect_timeout={self._connect_timeout!r}, isolation_level={self._isolation_level!r}"
            + ("" if self._deadline_clock is None else f", deadline_clock={self._deadline_clock!r}")
            + ")"
        )

    def _connection(self) -> psycopg.Connection[Any]:
        """This thread's connection in this process, opened on first use."""
        local = self._local
        connection = local.connection
        if connection is not None:
            if connection.pid == os.getpid() and not connection.pg.closed:
                return connection.pg
            local.connection = None
            connection.release()
        conn = self._open()
        local.connection = _Connection(conn)
        return conn

    def _open(self) -> psycopg.Connection[Any]:
        try:
            return psycopg.connect(
                self._conninfo,
                autocommit=True,
                connect_timeout=max(2, int(-(-self._connect_timeout // 1))),
                options=self._server_options(),
                application_name="aether",
            )
        except psycopg.Error as exc:
            raise self._translate(exc) from exc

    def _server_options(self) -> str:
        """The connection's server settings: the conninfo's own ``options``, then the store's timeout and isolation."""
        own = psycopg.conninfo.conninfo_to_dict(self._conninfo).get("options") or ""
        timeout_ms = max(1, round(self._statement_timeout * 1000))
        isolation = self._isolation_level.replace(" ", "\\ ")
        return f"{own} -c statement_timeout={timeout_ms} -c default_transaction_isolation={isolation}".strip()

    def _drop_connection(self) -> None:
        """Forget the calling thread's connection (after the server dropped it or it broke)."""
        self.close()

    def _run(self, sql: str, params: Any) -> list[tuple[Any, ...]]:
        """Run one statement in its own transaction and return its rows.

        Serialisation failures and deadlocks are run again; every other driver
        error becomes the store's own (a :class:`~psycopg.errors.UniqueViolation`
        goes through for the caller to explain).
        """
        for attempt in range(SERIALIZATION_RETRIES + 1):
            conn = self._connection()
            left = self._time_left()
            try:
                if left is None:
                    return conn.execute(sql, params).fetchall()  # type: ignore[arg-type]
                return self._run_until(conn, sql, params, left)
            except psycopg.errors.UniqueViolation:
                raise
            except _RETRYABLE as exc:
                if attempt == SERIALIZATION_RETRIES:
                    raise StoreUnavailableError(
                        f"PostgreSQL event store {self.conninfo!r}: the statement failed serialisation "
                        f"{attempt + 1} times in a row (the server's concurrency control kept rolling it back): {exc}"
                    ) from exc
            except psycopg.Error as exc:
                error = self._translate(exc)
                if conn.closed or conn.broken or isinstance(error, StoreUnavailableError):
                    self._drop_connection()
                raise error from exc
        raise AssertionError("unreachable")  # pragma: no cover

    def _time_left(self) -> float | None:
        """Seconds to the caller's deadline if it is sooner than ``statement_timeout``, else ``None``.

        Raises :class:`StoreTimeoutError` if the deadline has already passed.
        """
        if self._deadline_clock is None:
            return None
        deadline = call_deadline.get()
        if deadline is None:
            return None
        left = deadline - self._deadline_clock()
        if left <= 0:
            raise StoreTimeoutError(
                f"PostgreSQL event store {self.conninfo!r}: the caller's deadline passed before the call was sent; "
                "nothing was sent"
            )
        return left if left < self._statement_timeout else None

    def _run_until(self, conn: psycopg.Connection[Any], sql: str, params: Any, left: float) -> list[tuple[Any, ...]]:
        """Run a statement, cancelling it on the server if it is still running after *left* seconds."""
        guard = threading.Lock()
        state = {"running": True, "cancelled": False}

        def cancel() -> None:
            with guard:
                if state["running"]:
                    state["cancelled"] = True
                    with contextlib.suppress(Exception):
                        conn.cancel_safe(timeout=max(1.0, self._connect_timeout))

        timer = threading.Timer(left, cancel)
        timer.daemon = True
        timer.start()
        try:
            return conn.execute(sql, params).fetchall()  # type: ignore[arg-type]
        except psycopg.errors.QueryCanceled as exc:
            if state["cancelled"]:
                raise StoreTimeoutError(
                    f"PostgreSQL event store {self.conninfo!r}: the caller's deadline passed while the statement "
                    f"ran and the server cancelled it; nothing was saved ({exc})"
                ) from exc
            raise
        finally:
            with guard:
                state["running"] = False
            timer.cancel()

    def _initialise(self) -> None:
        """Open the first connection, create the tables if there are none, check them."""
        try:
            conn = self._connection()
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
                tables = dict(conn.execute(_SQL_TABLES).fetchall())
                if not tables:
                    for statement in _SCHEMA:
                        conn.execute(statement)  # type: ignore[arg-type]
                else:
                    self._check_schema(conn, tables)
        except psycopg.Error as exc:
            self.close()
            raise self._translate(exc) from exc
        except BaseException:
            self.close()
            raise

    def _check_schema(self, conn: psycopg.Connection[Any], tables: dict[str, str | None]) -> None:
        """Refuse tables that are not the event store's, naming the database."""
        where = self._describe_database(conn)
        marker = tables.get("events")
        if marker is None or not marker.startswith(_MARKER_PREFIX):
            names = " and ".join(f"{name!r}" for name in sorted(tables))
            raise ValueError(
                f"cannot use {where} as a PostgreSQL event store: it has {names} table(s) that another program "
                "made (the event store marks its 'events' table with a comment); use another database or schema"
            )
        if marker != _MARKER:
            raise ValueError(
                f"cannot use {where} as a PostgreSQL event store: it holds an event store with "
                f"{marker[len('aether event store, '):]}; this code reads schema {_SCHEMA_VERSION}"
            )
        for table, columns in _EXPECTED_COLUMNS.items():
            found = tuple(tuple(row) for row in conn.execute(_SQL_COLUMNS, (table,)).fetchall())
            if found != columns:
                shown = ", ".join(f"{name} {kind}" for name, kind, _ in found) or "missing"
                wanted = ", ".join(f"{name} {kind}" for name, kind, _ in columns)
                raise ValueError(
                    f"cannot use {where} as a PostgreSQL event store: its {table!r} table is ({shown}), not ({wanted})"
                )

    def _describe_database(self, conn: psycopg.Connection[Any]) -> str:
        database, schema = conn.execute("SELECT current_database(), current_schema()").fetchone()  # type: ignore[misc]
        return f"database {database!r} (schema {schema!r}) at {self.conninfo!r}"

    # -- errors ------------------------------------------------------------------

    def _translate(self, exc: psycopg.Error) -> AetherError:
        """The store's error for a driver error."""
        where = f"PostgreSQL event store {self.conninfo!r}"
        if isinstance(exc, psycopg.errors.QueryCanceled):
            return StoreTimeoutError(
                f"{where}: the statement ran longer than statement_timeout={self._statement_timeout} s "
                f"and the server cancelled it; nothing was saved ({exc})"
            )
        if isinstance(exc, psycopg.errors.LockNotAvailable):
            return LockTimeoutError(f"{where}: a lock was not granted in time ({exc})")
        # A refused connection carries no SQLSTATE class in psycopg, only the server's message.
        if isinstance(exc, psycopg.errors.TooManyConnections) or "too many connections" in str(exc):
            return StoreOverloadedError(f"{where} refused the connection: too many connections ({exc})")
        if isinstance(exc, (psycopg.errors.UndefinedTable, psycopg.errors.UndefinedColumn)):
            return StoreCorruptedError(f"{where} is no longer an event store: {exc}")
        if isinstance(exc, (psycopg.OperationalError, psycopg.InterfaceError)):
            return StoreUnavailableError(f"{where} failed: {exc}")
        if isinstance(exc, psycopg.errors.DataCorrupted | psycopg.errors.IndexCorrupted):
            return StoreCorruptedError(f"{where} is damaged: {exc}")
        return StoreUnavailableError(f"{where} failed: {type(exc).__name__}: {exc}")


def _reject(
    event: Event, latest: int, stored_actor: bytes | None, stored_version: int | None, cause: Exception | None
) -> None:
    """Handle a save that inserted nothing: a re-sent stored event is a no-op; else raise."""
    if stored_actor is None:
        raise VersionConflictError(event.actor_id, event.version, int(latest)) from cause
    stored_actor_id = bytes(stored_actor).decode()
    if stored_actor_id == event.actor_id and stored_version == event.version:
        return
    raise DuplicateEventIdError(
        event.id, stored_actor_id, int(stored_version), event.actor_id, event.version  # type: ignore[arg-type]
    ) from cause


def _event_from_row(row: tuple[Any, ...]) -> Event:
    actor_id, version, event_id, event_type, data, timestamp_us = row
    return Event(
        actor_id=bytes(actor_id).decode(),
        event_type=bytes(event_type).decode(),
        version=version,
        data=json.loads(data),
        id=bytes(event_id).decode(),
        timestamp=_EPOCH + timedelta(microseconds=timestamp_us),
    )


def _check_conninfo(conninfo: object) -> str:
    text = check_text("conninfo", conninfo)
    try:
        psycopg.conninfo.conninfo_to_dict(text)
    except psycopg.ProgrammingError as exc:
        shown = _hide_password(text)
        raise ValueError(f"conninfo must be a libpq connection string or URI; got {shown!r}: {exc}") from None
    return text


def _hide_password(conninfo: str) -> str:
    try:
        parts = psycopg.conninfo.conninfo_to_dict(conninfo)
    except psycopg.ProgrammingError:
        return "<unparsable conninfo>"
    if "password" not in parts:
        return conninfo
    parts["password"] = "***"
    return psycopg.conninfo.make_conninfo(**{k: v for k, v in parts.items() if v is not None})


def _check_statement_timeout(statement_timeout: object) -> float:
    try:
        return check_seconds("statement_timeout", statement_timeout, positive=True, maximum=MAX_STATEMENT_TIMEOUT)
    except ValueError as exc:
        raise ValueError(
            f"{exc} (PostgreSQL counts its statement timeout in milliseconds in a signed 32-bit int: "
            f"at most {MAX_STATEMENT_TIMEOUT} s, about 24.8 days)"
        ) from None


def _reopen(
    cls: type[PostgresEventStore],
    conninfo: str,
    statement_timeout: float,
    connect_timeout: float,
    isolation_level: str,
    deadline_clock: Callable[[], float] | None = None,
) -> PostgresEventStore:
    """Unpickle a store: connect to the same database with the same settings."""
    return cls(
        conninfo,
        statement_timeout=statement_timeout,
        connect_timeout=connect_timeout,
        isolation_level=isolation_level,
        deadline_clock=deadline_clock,
    )
