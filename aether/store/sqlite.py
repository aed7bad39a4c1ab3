"""An SQLite event store: one database file shared by threads and processes.

Use :class:`SQLiteEventStore` when writers live in several processes (a
:class:`~concurrent.futures.ProcessPoolExecutor`, :mod:`multiprocessing`, or
separate programs), or when the events must outlive the program. Inside one
process :class:`~aether.store.memory.InMemoryEventStore` is faster and follows
the same contract.
"""

from __future__ import annotations

import contextlib
import errno
import json
import math
import os
import sqlite3
import threading
from datetime import datetime, timedelta, timezone
from types import TracebackType
from typing import Any, Self

from aether.errors import (
    DuplicateEventIdError,
    LockTimeoutError,
    StoreUnavailableError,
    VersionConflictError,
    VersionOutOfRangeError,
)
from aether.events import Event, validate_actor_id, validate_version

__all__ = ["MAX_VERSION", "SYNCHRONOUS_MODES", "SQLiteEventStore"]

MAX_VERSION = 2**63 - 1
"""The largest version SQLite can store: its integers are signed 64-bit."""

SYNCHRONOUS_MODES = ("OFF", "NORMAL", "FULL", "EXTRA")
"""The values ``PRAGMA synchronous`` accepts, from fastest to most durable."""

_SCHEMA_VERSION = 1
_SCHEMA = (
    # The primary key is the UNIQUE(actor_id, version) backstop: even a save
    # that somehow skipped the version check cannot store a version twice.
    """CREATE TABLE events (
        actor_id     TEXT    NOT NULL,
        version      INTEGER NOT NULL,
        id           TEXT    NOT NULL UNIQUE,
        event_type   TEXT    NOT NULL,
        data         TEXT    NOT NULL,
        timestamp_us INTEGER NOT NULL,
        PRIMARY KEY (actor_id, version)
    ) WITHOUT ROWID""",
    # One row per actor, written with its version-1 event: keeps first-save order.
    "CREATE TABLE actors (seq INTEGER PRIMARY KEY, actor_id TEXT NOT NULL)",
    f"PRAGMA user_version = {_SCHEMA_VERSION}",
)
_SQL_LATEST = "SELECT version FROM events WHERE actor_id = ? ORDER BY version DESC LIMIT 1"
_SQL_BY_ID = "SELECT actor_id, version FROM events WHERE id = ?"
_SQL_INSERT_EVENT = (
    "INSERT INTO events (actor_id, version, id, event_type, data, timestamp_us) VALUES (?, ?, ?, ?, ?, ?)"
)
_SQL_INSERT_ACTOR = "INSERT INTO actors (actor_id) VALUES (?)"
_SQL_EVENTS = (
    "SELECT actor_id, version, id, event_type, data, timestamp_us FROM events "
    "WHERE actor_id = ? AND version >= ? ORDER BY version"
)
_SQL_ACTORS = "SELECT actor_id FROM actors ORDER BY seq"

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_ONE_MICROSECOND = timedelta(microseconds=1)
_SQLITE_BUSY = 5
_SQLITE_LOCKED = 6


# Connections a forked child inherited from its parent. They are kept alive and
# never used or closed: closing one in the child could roll back, or release
# file locks that the child's own connections hold on the same file.
_INHERITED_CONNECTIONS: list[sqlite3.Connection] = []


class _Connection:
    """An SQLite connection and the process that opened it.

    It is released when its thread ends, when the store is closed or
    garbage-collected, or when the process changed (after a ``fork``).
    """

    __slots__ = ("pid", "released", "sqlite")

    def __init__(self, sqlite: sqlite3.Connection) -> None:
        self.sqlite = sqlite
        self.pid = os.getpid()
        self.released = False

    def release(self) -> None:
        """Close the connection if this process opened it, else park it unused."""
        if self.released:
            return
        self.released = True
        with contextlib.suppress(Exception):  # may run during interpreter shutdown
            if self.pid == os.getpid():
                self.sqlite.close()
            else:
                _INHERITED_CONNECTIONS.append(self.sqlite)

    __del__ = release


class _ThreadSlot(threading.local):
    """Where each thread keeps its own connection to one store."""

    connection: _Connection | None = None


class SQLiteEventStore:
    """An event store in one SQLite file, safe for many threads and processes at once.

    Use it for real-process experiments and whenever events must survive the
    program; it keeps the exact :class:`~aether.store.base.EventStore` contract
    of the in-memory store::

        store = SQLiteEventStore("events.db")
        store.save_event(Event(actor_id="order-7", event_type="Created", version=1))

    How it stays correct under contention:

    * every save is one ``BEGIN IMMEDIATE`` transaction (read the latest
      version, check, insert, commit), so writers are serialised by SQLite's
      write lock, across threads and processes;
    * a ``UNIQUE(actor_id, version)`` key backs the check up: an insert that
      races past it still fails, and becomes a
      :class:`~aether.errors.VersionConflictError`;
    * a writer that cannot get the lock within ``busy_timeout`` seconds gets
      :class:`~aether.errors.LockTimeoutError` (nothing was saved), never a
      conflict. Any other SQLite operational failure becomes
      :class:`~aether.errors.StoreUnavailableError`. Both are raised ``from``
      the driver's error.

    Each thread of each process gets its own connection, opened on first use
    and reopened after a ``fork``. :meth:`close` closes the calling thread's
    connection (the next call reopens one); the store also works as a context
    manager that does so on exit. A store pickles as its path and settings,
    so a worker process can receive it and reconnect.

    Durability: the database runs in WAL mode. With the default
    ``synchronous="NORMAL"`` a commit survives a crash of the program but the
    last commits may be lost if the machine loses power; ``"FULL"`` or
    ``"EXTRA"`` make every commit durable at the cost of an fsync per save,
    and ``"OFF"`` risks a corrupt file on power loss.

    Limits: versions go up to :data:`MAX_VERSION` (``2**63 - 1``); larger ones
    raise :class:`~aether.errors.VersionOutOfRangeError`. Strings must be
    encodable as UTF-8 (no lone surrogates). An in-memory database
    (``":memory:"``) is refused: each connection would see its own private
    database, so writers could not share it.

    Args:
        path: the database file; created if missing, its directory must exist.
        busy_timeout: seconds to wait for a lock before :class:`LockTimeoutError`.
        synchronous: ``PRAGMA synchronous``, one of :data:`SYNCHRONOUS_MODES`.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        busy_timeout: float = 5.0,
        synchronous: str = "NORMAL",
    ) -> None:
        self._path = _database_path(path)
        self._busy_timeout = _check_busy_timeout(busy_timeout)
        self._synchronous = _check_synchronous(synchronous)
        self._local = _ThreadSlot()
        self._initialise(self._connection())

    @property
    def path(self) -> str:
        """The absolute path of the database file."""
        return self._path

    @property
    def busy_timeout(self) -> float:
        """Seconds a call waits for a lock before raising :class:`LockTimeoutError`."""
        return self._busy_timeout

    @property
    def synchronous(self) -> str:
        """The ``PRAGMA synchronous`` mode of this store's connections."""
        return self._synchronous

    # -- the EventStore contract -------------------------------------------------

    def save_event(self, event: Event) -> None:
        """Append *event* if ``event.version`` is the actor's next version.

        Raises :class:`VersionConflictError` otherwise, and
        :class:`DuplicateEventIdError` if the id is stored as another event.
        Re-saving an already stored event (same id, actor, version) does
        nothing. A failed save changes nothing.
        """
        if not isinstance(event, Event):
            raise TypeError(f"save_event takes an Event; got {event!r} ({type(event).__name__})")
        if event.version > MAX_VERSION:
            raise VersionOutOfRangeError(event.actor_id, event.version, MAX_VERSION)
        row = (
            event.actor_id,
            event.version,
            event.id,
            event.event_type,
            event.data.to_json(),
            (event.timestamp - _EPOCH) // _ONE_MICROSECOND,
        )
        conn = self._connection()
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                latest = self._read_latest(conn, event.actor_id)
                if event.version == latest + 1:
                    self._insert(conn, event, row)
                else:
                    _reject(conn, event, latest)
                conn.execute("COMMIT")
            except BaseException:
                self._rollback(conn)
                raise
        except sqlite3.OperationalError as exc:
            raise self._unavailable(exc) from exc

    def get_latest_version(self, actor_id: str) -> int:
        """Return the actor's latest version, ``0`` for an actor with no events."""
        validate_actor_id(actor_id)
        try:
            return _query_latest(self._connection(), actor_id)
        except sqlite3.OperationalError as exc:
            raise self._unavailable(exc) from exc

    def get_events(self, actor_id: str, from_version: int = 1) -> list[Event]:
        """Return the actor's events from ``from_version`` (inclusive) on, oldest first."""
        validate_actor_id(actor_id)
        from_version = validate_version(from_version, "from_version")
        if from_version > MAX_VERSION:
            return []
        try:
            rows = self._connection().execute(_SQL_EVENTS, (actor_id, from_version)).fetchall()
        except sqlite3.OperationalError as exc:
            raise self._unavailable(exc) from exc
        return [_event_from_row(row) for row in rows]

    def actor_ids(self) -> list[str]:
        """Return every actor that has at least one event, in first-save order."""
        try:
            return [actor_id for (actor_id,) in self._connection().execute(_SQL_ACTORS)]
        except sqlite3.OperationalError as exc:
            raise self._unavailable(exc) from exc

    # -- connections -------------------------------------------------------------

    def close(self) -> None:
        """Close the calling thread's connection; the next call opens a new one.

        Other threads' connections close when those threads call ``close`` or
        end, or when the store is garbage-collected.
        """
        connection = self._local.connection
        self._local.connection = None
        if connection is not None:
            connection.release()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def __reduce__(self) -> tuple[Any, ...]:
        return (_reopen, (type(self), self._path, self._busy_timeout, self._synchronous))

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self._path!r}, busy_timeout={self._busy_timeout!r}, "
            f"synchronous={self._synchronous!r})"
        )

    def _connection(self) -> sqlite3.Connection:
        """This thread's connection in this process, opened on first use."""
        local = self._local
        connection = local.connection
        if connection is not None:
            if connection.pid == os.getpid():
                return connection.sqlite
            local.connection = None
            connection.release()
        conn = self._open()
        local.connection = _Connection(conn)
        return conn

    def _open(self) -> sqlite3.Connection:
        try:
            # Each connection is used by its own thread only; check_same_thread is
            # off so that a connection can be closed by whichever thread drops it.
            conn = sqlite3.connect(
                self._path, timeout=self._busy_timeout, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as exc:
            raise OSError(f"cannot open the SQLite event store at {self._path!r}: {exc}") from exc
        try:
            conn.execute(f"PRAGMA synchronous = {self._synchronous}")
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise self._not_a_store(exc) from exc
        return conn

    def _initialise(self, conn: sqlite3.Connection) -> None:
        """Switch the file to WAL mode and create the tables if it is new."""
        try:
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise OSError(
                    f"cannot use WAL journal mode for the SQLite event store at {self._path!r} (got {mode!r})"
                )
            if conn.execute("PRAGMA user_version").fetchone()[0] != _SCHEMA_VERSION:
                self._create_schema(conn)
        except sqlite3.OperationalError as exc:
            self.close()
            raise self._unavailable(exc) from exc
        except sqlite3.DatabaseError as exc:
            self.close()
            raise self._not_a_store(exc) from exc
        except BaseException:
            self.close()
            raise

    def _create_schema(self, conn: sqlite3.Connection) -> None:
        conn.execute("BEGIN IMMEDIATE")
        try:
            found = conn.execute("PRAGMA user_version").fetchone()[0]
            if found == 0:
                tables = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
                if tables:
                    names = ", ".join(name for (name,) in tables)
                    raise ValueError(
                        f"{self._path!r} is an SQLite database with other tables ({names}), not an event store"
                    )
                for statement in _SCHEMA:
                    conn.execute(statement)
            elif found != _SCHEMA_VERSION:
                raise ValueError(
                    f"{self._path!r} holds an event store with schema version {found}; "
                    f"this code reads version {_SCHEMA_VERSION}"
                )
            conn.execute("COMMIT")
        except BaseException:
            self._rollback(conn)
            raise

    # -- the steps of a save -----------------------------------------------------

    def _read_latest(self, conn: sqlite3.Connection, actor_id: str) -> int:
        """The read half of a save's read-check-insert (inside its transaction)."""
        return _query_latest(conn, actor_id)

    def _insert(self, conn: sqlite3.Connection, event: Event, row: tuple[Any, ...]) -> None:
        """Insert a checked event; a UNIQUE violation becomes a conflict or a duplicate id."""
        try:
            conn.execute(_SQL_INSERT_EVENT, row)
        except sqlite3.IntegrityError as exc:
            _explain_integrity_error(conn, event, exc)
            return
        if event.version == 1:
            conn.execute(_SQL_INSERT_ACTOR, (event.actor_id,))

    def _rollback(self, conn: sqlite3.Connection) -> None:
        """Roll back an open transaction; drop the connection if even that fails."""
        try:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
        except sqlite3.Error:
            connection = self._local.connection
            if connection is not None and connection.sqlite is conn:
                self._local.connection = None
            conn.close()

    # -- errors ------------------------------------------------------------------

    def _unavailable(self, exc: sqlite3.OperationalError) -> StoreUnavailableError:
        """Translate an operational failure: a busy lock or a broken database."""
        code = getattr(exc, "sqlite_errorcode", None)
        message = str(exc).lower()
        if (code is not None and code & 0xFF in (_SQLITE_BUSY, _SQLITE_LOCKED)) or (
            code is None and ("locked" in message or "busy" in message)
        ):
            return LockTimeoutError(
                f"SQLite event store {self._path!r} stayed locked for longer than "
                f"busy_timeout={self._busy_timeout} s ({exc})"
            )
        return StoreUnavailableError(f"SQLite event store {self._path!r} failed: {exc}")

    def _not_a_store(self, exc: sqlite3.DatabaseError) -> ValueError:
        return ValueError(f"cannot use {self._path!r} as an SQLite event store: {exc}")


def _query_latest(conn: sqlite3.Connection, actor_id: str) -> int:
    row = conn.execute(_SQL_LATEST, (actor_id,)).fetchone()
    return 0 if row is None else int(row[0])


def _reject(conn: sqlite3.Connection, event: Event, latest: int) -> None:
    """Handle a save at the wrong version: a re-sent stored event is a no-op; else raise."""
    stored = conn.execute(_SQL_BY_ID, (event.id,)).fetchone()
    if stored is None:
        raise VersionConflictError(event.actor_id, event.version, latest)
    stored_actor_id, stored_version = stored
    if stored_actor_id == event.actor_id and stored_version == event.version:
        return
    raise DuplicateEventIdError(event.id, stored_actor_id, stored_version, event.actor_id, event.version)


def _explain_integrity_error(conn: sqlite3.Connection, event: Event, exc: sqlite3.IntegrityError) -> None:
    """Turn a UNIQUE violation into the store's own error (or a no-op for a re-sent event)."""
    stored = conn.execute(_SQL_BY_ID, (event.id,)).fetchone()
    if stored is not None:
        stored_actor_id, stored_version = stored
        if stored_actor_id == event.actor_id and stored_version == event.version:
            return
        raise DuplicateEventIdError(event.id, stored_actor_id, stored_version, event.actor_id, event.version) from exc
    raise VersionConflictError(event.actor_id, event.version, _query_latest(conn, event.actor_id)) from exc


def _event_from_row(row: tuple[Any, ...]) -> Event:
    actor_id, version, event_id, event_type, data, timestamp_us = row
    return Event(
        actor_id=actor_id,
        event_type=event_type,
        version=version,
        data=json.loads(data),
        id=event_id,
        timestamp=_EPOCH + timedelta(microseconds=timestamp_us),
    )


def _database_path(path: object) -> str:
    """Validate *path* and return it absolute, so every process opens the same file."""
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or os.PathLike; got {path!r} ({type(path).__name__})")
    name = os.fsdecode(os.fspath(path))
    if name in ("", ":memory:"):
        raise ValueError(
            f"SQLiteEventStore needs a file path, got {name!r}: an in-memory SQLite database belongs to "
            "one connection, so other threads and processes could not share it "
            "(use InMemoryEventStore for a store without a file)"
        )
    full = os.path.abspath(name)
    if os.path.isdir(full):
        raise IsADirectoryError(errno.EISDIR, "SQLiteEventStore needs a database file, not a directory", full)
    parent = os.path.dirname(full)
    if not os.path.isdir(parent):
        raise FileNotFoundError(
            errno.ENOENT, f"cannot create an SQLite event store: directory {parent!r} does not exist", full
        )
    return full


def _check_busy_timeout(busy_timeout: object) -> float:
    if isinstance(busy_timeout, bool) or not isinstance(busy_timeout, (int, float)):
        raise TypeError(
            f"busy_timeout must be a number of seconds; got {busy_timeout!r} ({type(busy_timeout).__name__})"
        )
    if not math.isfinite(busy_timeout) or busy_timeout < 0:
        raise ValueError(f"busy_timeout must be a finite number of seconds >= 0; got {busy_timeout!r}")
    return float(busy_timeout)


def _check_synchronous(synchronous: object) -> str:
    if not isinstance(synchronous, str):
        raise TypeError(f"synchronous must be a str; got {synchronous!r} ({type(synchronous).__name__})")
    mode = synchronous.upper()
    if mode not in SYNCHRONOUS_MODES:
        raise ValueError(f"synchronous must be one of {', '.join(SYNCHRONOUS_MODES)}; got {synchronous!r}")
    return mode


def _reopen(cls: type[SQLiteEventStore], path: str, busy_timeout: float, synchronous: str) -> SQLiteEventStore:
    """Unpickle a store: open the same file with the same settings."""
    return cls(path, busy_timeout=busy_timeout, synchronous=synchronous)
