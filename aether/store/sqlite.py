"""An SQLite event store: one database file shared by threads and processes.

Use :class:`SQLiteEventStore` when writers live in several processes (a
:class:`~concurrent.futures.ProcessPoolExecutor`, :mod:`multiprocessing`, or
separate programs), or when the events must outlive the program. Inside one
process :class:`~aether.store.memory.InMemoryEventStore` is faster and follows
the same contract.
"""

from __future__ import annotations

import contextlib
import json
import os
import pathlib
import sqlite3
import threading
import time
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any

from aether.checks import check_seconds, show
from aether.errors import (
    AetherError,
    DuplicateEventIdError,
    StoreUnavailableError,
    VersionConflictError,
    VersionOutOfRangeError,
)
from aether.events import Event, validate_actor_id, validate_version
from aether.store.connections import PerThreadConnections, ThreadSlot, keep_forever
from aether.store.sqlitefile import FileIdentity, database_path, retry_while_locked, translate

__all__ = ["FORK_DRAIN_SECONDS", "MAX_BUSY_TIMEOUT", "MAX_VERSION", "SYNCHRONOUS_MODES", "SQLiteEventStore"]

MAX_VERSION = 2**63 - 1
"""The largest version SQLite can store: its integers are signed 64-bit."""

SYNCHRONOUS_MODES = ("OFF", "NORMAL", "FULL", "EXTRA")
"""The values ``PRAGMA synchronous`` accepts, from fastest to most durable."""

MAX_BUSY_TIMEOUT = (2**31 - 1) / 1000
"""The longest ``busy_timeout`` in seconds (about 24.8 days): SQLite counts it in
milliseconds in a signed 32-bit int, and a longer one would wrap to no wait at all."""

FORK_DRAIN_SECONDS = 0.5
"""How long ``os.fork()`` waits for other threads to leave SQLite before it forks anyway.

A child forked while another thread is inside SQLite refuses to use SQLite
(see :class:`SQLiteEventStore`); waiting this long first lets a fork that
lands during a short save produce a child that works."""

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

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_MICROSECOND = timedelta(microseconds=1)
_WHAT = "SQLite event store"


class _ForkGuard:
    """Makes ``os.fork()`` safe for this module's SQLite connections, or makes the child refuse them.

    SQLite forbids carrying connection state across ``fork()``: a thread of the
    parent that was inside SQLite at that moment (in a transaction, or opening
    or closing a connection) leaves the child with locks it will never see
    released and mutexes nobody will unlock, so every save in the child would
    time out, or hang. So every store call runs inside a guarded section:

    * before a fork, the forking thread waits up to :data:`FORK_DRAIN_SECONDS`
      for the other threads' sections to end, and holds new ones back;
    * in the child, if a section was still open, every SQLite store refuses at
      once with a :class:`RuntimeError` naming the cause (for good: the
      damage is to SQLite's process-wide state); otherwise the child works,
      on fresh connections of its own.

    Nothing here takes a lock in the child that another thread of the parent
    could have held: the child builds a new condition variable.
    """

    def __init__(self) -> None:
        self.refusal: str | None = None
        self._renew()

    def _renew(self) -> None:
        # Reentrant: the garbage collector may close a connection (and so enter a section)
        # in the middle of this thread's own bookkeeping here.
        self._cond = threading.Condition(threading.RLock())
        self._inside: dict[int, tuple[int, str]] = {}  # thread ident -> (nesting depth, database path)
        self._forkers: set[int] = set()
        self._busy_at_fork: list[str] = []

    def enter(self, path: str) -> None:
        """Start a section that uses SQLite on *path* (a :class:`RuntimeError` in a refusing child)."""
        if self.refusal is not None:
            raise RuntimeError(self.refusal)
        ident = threading.get_ident()
        with self._cond:
            entry = self._inside.get(ident)
            if entry is not None:
                self._inside[ident] = (entry[0] + 1, entry[1])
                return
            while self._forkers and ident not in self._forkers:
                self._cond.wait()
            self._inside[ident] = (1, path)

    def leave(self) -> None:
        """End the calling thread's section."""
        ident = threading.get_ident()
        with self._cond:
            depth, path = self._inside[ident]
            if depth > 1:
                self._inside[ident] = (depth - 1, path)
                return
            del self._inside[ident]
            if self._forkers:
                self._cond.notify_all()

    def before_fork(self) -> None:
        me = threading.get_ident()
        deadline = time.monotonic() + FORK_DRAIN_SECONDS
        with self._cond:
            self._forkers.add(me)
            while True:
                others = [ident for ident in self._inside if ident != me]
                left = deadline - time.monotonic()
                if not others or left <= 0:
                    break
                self._cond.wait(left)
            self._busy_at_fork = sorted({path for _, path in self._inside.values()})

    def after_fork_in_parent(self) -> None:
        with self._cond:
            self._forkers.discard(threading.get_ident())
            self._busy_at_fork = []
            self._cond.notify_all()

    def after_fork_in_child(self) -> None:
        busy = self._busy_at_fork
        self._renew()
        if busy and self.refusal is None:
            paths = ", ".join(repr(path) for path in busy)
            self.refusal = (
                f"SQLite cannot be used in this process (pid {os.getpid()}): it was forked while another thread "
                f"of its parent was inside SQLite on {paths} (in a transaction, or opening or closing a "
                "connection), and SQLite's locks and mutexes do not survive fork(). Start worker processes with "
                "the 'forkserver' or 'spawn' method, or fork while no thread uses an SQLite store."
            )


_GUARD = _ForkGuard()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(
        before=_GUARD.before_fork,
        after_in_parent=_GUARD.after_fork_in_parent,
        after_in_child=_GUARD.after_fork_in_child,
    )


class _Connection:
    """An SQLite connection, the database it is on and the process that opened it.

    It is released when its thread ends, when the store is closed or
    garbage-collected, or when the process changed (after a ``fork``).
    """

    __slots__ = ("path", "pid", "released", "sqlite")

    def __init__(self, sqlite: sqlite3.Connection, path: str) -> None:
        self.sqlite = sqlite
        self.path = path
        self.pid = os.getpid()
        self.released = False

    def release(self) -> None:
        """Close the connection if this process opened it, else park it unused."""
        if self.released:
            return
        self.released = True
        with contextlib.suppress(Exception):  # may run during interpreter shutdown
            if self.pid == os.getpid():
                _GUARD.enter(self.path)
                try:
                    self.sqlite.close()
                finally:
                    _GUARD.leave()
            else:
                keep_forever(self.sqlite)

    __del__ = release


class _Call:
    """One store call's use of SQLite: a fork-guarded section whose driver errors become the store's.

    ``with store._call:`` brackets every public method; it holds no state of
    its own, so one instance serves all threads.
    """

    __slots__ = ("_store",)

    def __init__(self, store: SQLiteEventStore) -> None:
        self._store = store

    def __enter__(self) -> None:
        _GUARD.enter(self._store._path)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        _GUARD.leave()
        if isinstance(exc, sqlite3.DatabaseError):
            error = self._store._translate(exc)
            if error is not None:
                raise error from exc


class SQLiteEventStore(PerThreadConnections):
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
    * a writer that cannot get a lock within ``busy_timeout`` seconds gets
      :class:`~aether.errors.LockTimeoutError` (nothing was saved), never a
      conflict, whether it was saving, reading or opening its connection.
      Any other SQLite operational failure becomes
      :class:`~aether.errors.StoreUnavailableError`. Both are raised ``from``
      the driver's error.

    What is not an outage, and is therefore never worth a retry, is
    :class:`~aether.errors.StoreCorruptedError` (raised ``from`` the driver's
    error where there is one): the file is damaged ("database disk image is
    malformed"), its tables are gone, or the file was deleted or replaced
    while the store had it open. The store compares the path's inode with the
    file it opened before each save and when it opens a connection, so a save
    into a deleted file is refused instead of acknowledged where nobody will
    ever read it; reads are not checked.

    Opening checks that the file is this store's: a file that is not an
    SQLite database, a database of another program, or one whose tables or
    columns are not the event store's is refused with a :class:`ValueError`
    ("cannot use ... as an SQLite event store") naming the path.

    Each thread of each process gets its own connection, opened on first use
    and reopened after a ``fork``. :meth:`close` closes the calling thread's
    connection (the next call reopens one); the store also works as a context
    manager that does so on exit. A store pickles as its path and settings,
    so a worker process can receive it and reconnect.

    Processes: prefer the ``forkserver`` or ``spawn`` start methods. A child
    forked with ``fork`` never touches the connections it inherited; it works
    on fresh ones, unless another thread of the parent was inside SQLite at
    the moment of the fork (SQLite's locks and mutexes do not survive it).
    ``os.fork()`` waits up to :data:`FORK_DRAIN_SECONDS` for such threads,
    and if one is still inside, every SQLite store in the child raises a
    :class:`RuntimeError` that says so, at once, instead of timing out.

    Durability: the database runs in WAL mode. With the default
    ``synchronous="NORMAL"`` a commit survives a crash of the program but the
    last commits may be lost if the machine loses power; ``"FULL"`` or
    ``"EXTRA"`` make every commit durable at the cost of an fsync per save,
    and ``"OFF"`` risks a corrupt file on power loss.

    Limits: versions go up to :data:`MAX_VERSION` (``2**63 - 1``); larger ones
    raise :class:`~aether.errors.VersionOutOfRangeError`. What an event may
    hold is checked when the :class:`~aether.events.Event` is built, the same
    for every store. An in-memory database (``":memory:"``) is refused: each
    connection would see its own private database, so writers could not share it.

    Args:
        path: the database file; created if missing, its directory must exist.
        busy_timeout: seconds to wait for a lock before :class:`LockTimeoutError`,
            at most :data:`MAX_BUSY_TIMEOUT`.
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
        self._local = ThreadSlot()
        self._call = _Call(self)
        self._identity: FileIdentity | None = None  # the file the path named when first opened
        _GUARD.enter(self._path)
        try:
            self._initialise()
        finally:
            _GUARD.leave()

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
            raise TypeError(f"save_event takes an Event; got {show(event)} ({type(event).__name__})")
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
        with self._call:
            conn = self._connection()
            conn.execute("BEGIN IMMEDIATE")
            try:
                self._check_same_file()
                latest = self._read_latest(conn, event.actor_id)
                if event.version == latest + 1:
                    self._insert(conn, event, row)
                else:
                    _reject(conn, event, latest)
                conn.execute("COMMIT")
            except BaseException:
                self._rollback(conn)
                raise

    def get_latest_version(self, actor_id: str) -> int:
        """Return the actor's latest version, ``0`` for an actor with no events."""
        validate_actor_id(actor_id)
        with self._call:
            return _query_latest(self._connection(), actor_id)

    def get_events(self, actor_id: str, from_version: int = 1) -> list[Event]:
        """Return the actor's events from ``from_version`` (inclusive) on, oldest first."""
        validate_actor_id(actor_id)
        from_version = validate_version(from_version, "from_version")
        if from_version > MAX_VERSION:
            return []
        with self._call:
            rows = self._connection().execute(_SQL_EVENTS, (actor_id, from_version)).fetchall()
        return [_event_from_row(row) for row in rows]

    def actor_ids(self) -> list[str]:
        """Return every actor that has at least one event, in first-save order."""
        with self._call:
            return [actor_id for (actor_id,) in self._connection().execute(_SQL_ACTORS)]

    # -- connections -------------------------------------------------------------

    def __reduce__(self) -> tuple[Any, ...]:
        return (_reopen, (type(self), self._path, self._busy_timeout, self._synchronous))

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self._path!r}, busy_timeout={self._busy_timeout!r}, "
            f"synchronous={self._synchronous!r})"
        )

    def _connection(self) -> sqlite3.Connection:
        """This thread's connection in this process, opened on first use (inside a guarded section)."""
        local = self._local
        connection = local.connection
        if connection is not None:
            if connection.pid == os.getpid():
                return connection.sqlite
            local.connection = None
            connection.release()
        conn = self._open()
        local.connection = _Connection(conn, self._path)
        return conn

    def _open(self) -> sqlite3.Connection:
        """Open a connection; after the first, only to the very file the store first opened."""
        reopening = self._identity is not None
        # The first connection may create the file; later ones must find the store's own
        # (mode=rw), so that a deleted file is reported instead of silently re-created empty.
        target = f"{pathlib.Path(self._path).as_uri()}?mode=rw" if reopening else self._path
        try:
            # Each connection is used by its own thread only; check_same_thread is
            # off so that a connection can be closed by whichever thread drops it.
            conn = sqlite3.connect(
                target, timeout=self._busy_timeout, isolation_level=None, check_same_thread=False, uri=reopening
            )
        except sqlite3.Error as exc:
            if reopening:
                self._check_same_file()
            raise OSError(f"cannot open the SQLite event store at {self._path!r}: {exc}") from exc
        try:
            if reopening:
                self._check_same_file()
            conn.execute(f"PRAGMA synchronous = {self._synchronous}")
        except BaseException:
            conn.close()
            raise
        return conn

    def _initialise(self) -> None:
        """Open the first connection, switch the file to WAL mode, create or check the tables.

        Several processes may create the same new file at once; SQLite then
        refuses some of them a lock at once rather than through its busy
        handler, so the whole opening is retried for up to ``busy_timeout``.
        """
        try:
            retry_while_locked(self._open_first, self._busy_timeout)
        except sqlite3.DatabaseError as exc:
            if isinstance(exc, sqlite3.OperationalError):
                raise self._unavailable(exc) from exc
            raise self._not_a_store(exc) from exc

    def _open_first(self) -> None:
        """One try at :meth:`_initialise` (closing the connection again if it fails)."""
        try:
            conn = self._connection()
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise OSError(
                    f"cannot use WAL journal mode for the SQLite event store at {self._path!r} (got {mode!r})"
                )
            if conn.execute("PRAGMA user_version").fetchone()[0] != _SCHEMA_VERSION:
                self._create_schema(conn)
            self._check_schema(conn)
            self._identity = FileIdentity.of(self._path, _WHAT)
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

    def _check_schema(self, conn: sqlite3.Connection) -> None:
        """Refuse a file whose tables are not the event store's, whatever its ``user_version`` says.

        A trigger or a view is refused too: a trigger on the events table
        could delete or change every save after the store acknowledged it.
        """
        extras = conn.execute(
            "SELECT type, name FROM sqlite_master WHERE type IN ('trigger', 'view') ORDER BY name"
        ).fetchall()
        if extras:
            found = ", ".join(f"{kind} {name!r}" for kind, name in extras)
            raise ValueError(
                f"cannot use {self._path!r} as an SQLite event store: it has {found}, which could change "
                "or undo saves after the store acknowledged them; the store's file holds its two tables only"
            )
        expected = _expected_schema()
        for table, columns in expected.items():
            found = _describe_table(conn, table)
            if not found:
                raise ValueError(
                    f"cannot use {self._path!r} as an SQLite event store: it says it holds schema version "
                    f"{_SCHEMA_VERSION} but has no {table!r} table"
                )
            if found != columns:
                raise ValueError(
                    f"cannot use {self._path!r} as an SQLite event store: its {table!r} table is "
                    f"{_show_columns(found)}, not {_show_columns(columns)}"
                )

    def _check_same_file(self) -> None:
        """Raise :class:`StoreCorruptedError` if the path no longer names the file the store opened."""
        if self._identity is not None:
            self._identity.check()

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

    def _translate(self, exc: sqlite3.DatabaseError) -> AetherError | None:
        """The store's error for a driver error raised by a call, or ``None`` to let it through.

        A busy lock is a :class:`LockTimeoutError`; a damaged file, or tables
        that are gone, a :class:`StoreCorruptedError`; any other operational
        failure a :class:`StoreUnavailableError`. Anything else (a misuse of
        the driver) is a bug and stays as it is.
        """
        return translate(exc, self._path, self._busy_timeout, _WHAT)

    def _unavailable(self, exc: sqlite3.OperationalError) -> StoreUnavailableError:
        """Translate an operational failure: a busy lock or a broken database."""
        error = translate(exc, self._path, self._busy_timeout, _WHAT)
        return error if isinstance(error, StoreUnavailableError) else StoreUnavailableError(
            f"{_WHAT} {self._path!r} failed: {exc}")

    def _not_a_store(self, exc: sqlite3.DatabaseError) -> ValueError:
        return ValueError(f"cannot use {self._path!r} as an SQLite event store: {exc}")


_Columns = tuple[tuple[str, str, int, int], ...]  # (name, type, not null, position in the primary key)
_EXPECTED: dict[str, _Columns] = {}


def _describe_table(conn: sqlite3.Connection, table: str) -> _Columns:
    rows = conn.execute(f"PRAGMA table_info({table})").fetchall()
    return tuple((str(name), str(kind).upper(), int(notnull), int(pk)) for _, name, kind, notnull, _, pk in rows)


def _expected_schema() -> dict[str, _Columns]:
    """The event store's tables as SQLite describes them, from the schema itself (computed once)."""
    if not _EXPECTED:
        scratch = sqlite3.connect(":memory:")
        try:
            for statement in _SCHEMA:
                scratch.execute(statement)
            found = {table: _describe_table(scratch, table) for table in ("events", "actors")}
        finally:
            scratch.close()
        _EXPECTED.update(found)
    return _EXPECTED


def _show_columns(columns: _Columns) -> str:
    return "(" + ", ".join(f"{name} {kind}" for name, kind, _, _ in columns) + ")"


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
    return database_path(path, "an SQLite event store")


def _check_busy_timeout(busy_timeout: object) -> float:
    try:
        return check_seconds("busy_timeout", busy_timeout, maximum=MAX_BUSY_TIMEOUT)
    except ValueError as exc:
        raise ValueError(
            f"{exc} (SQLite counts its busy timeout in milliseconds in a signed 32-bit int: "
            f"at most {MAX_BUSY_TIMEOUT} s, about 24.8 days)"
        ) from None


def _check_synchronous(synchronous: object) -> str:
    if not isinstance(synchronous, str):
        raise TypeError(f"synchronous must be a str; got {show(synchronous)} ({type(synchronous).__name__})")
    mode = synchronous.upper()
    if mode not in SYNCHRONOUS_MODES:
        raise ValueError(f"synchronous must be one of {', '.join(SYNCHRONOUS_MODES)}; got {show(synchronous)}")
    return mode


def _reopen(cls: type[SQLiteEventStore], path: str, busy_timeout: float, synchronous: str) -> SQLiteEventStore:
    """Unpickle a store: open the same file with the same settings."""
    return cls(path, busy_timeout=busy_timeout, synchronous=synchronous)
