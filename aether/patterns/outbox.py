"""Durable outbox: accept a write by committing it to an SQLite file, deliver it to the store later.

:class:`~aether.patterns.queue.RetryQueue` keeps accepted writes in memory, so
a process that exits or crashes before the worker saved them loses them.
:class:`DurableOutbox` is the same deal made durable: :meth:`DurableOutbox.enqueue`
returns only once the write is a committed row of an ``outbox`` table in its
own SQLite file, and a worker delivers the rows to the event store in
acceptance order. Rows that were not delivered when the process died (even by
``SIGKILL``) are delivered by the next :meth:`DurableOutbox.start` of an outbox
on that file, each exactly once.

How a re-send stays idempotent although the version is only known at delivery:
the event *id* (and its timestamp) is fixed when the write is accepted and
stored in the row. Delivery reads the actor's latest version and saves the
event with that id at the next version. If the store already holds the id, the
write was delivered before (the process died between the store's commit and
the row being marked) and the store says so with
:class:`~aether.errors.DuplicateEventIdError`, naming the version it holds it
at: the row is marked delivered at that version, and nothing is stored twice.

The command: a mapping, or a decision registered by name
---------------------------------------------------------
The retry patterns take a decision ``decide(events) -> data | None``, a
function re-made on every attempt (:mod:`aether.patterns.command`). A
function cannot be written into a file and read back by the next process, so
an outbox takes its decisions **by name**: the program registers them when it
opens the outbox (``decisions={"reserve": reserve}``), and a write names one
(``enqueue(..., {"units": 1}, decide="reserve")``). The row keeps the name and
the mapping (the *request*, as JSON); the worker calls
``decisions[name](events, request)`` on a fresh read of the actor before every
delivery attempt, and appends what it returns, or settles the row as
``"refused"`` on ``None`` (never retried, not a dead letter). A restarted
program registers the same names before :meth:`DurableOutbox.start`, which
refuses to start while a pending row names a decision it does not know (the
row waits in the file). A plain mapping without ``decide`` is appended blindly,
as before. A function passed as ``data`` is refused with a :class:`TypeError`
that says how to register it::

    def reserve(events, request):
        left = STOCK - sum(e.data["units"] for e in events)
        return {"units": request["units"]} if left >= request["units"] else None

    outbox = DurableOutbox("outbox.db", store, decisions={"reserve": reserve}).start()
    ticket = outbox.enqueue("sku-42", "Reserved", {"units": 1}, decide="reserve", key="order-7")

The event id is the write's idempotency key (``key=``, or generated at
acceptance), kept in the row: a decision's delivery that reads the actor and
finds its own id there (stored by a process that died before marking the row)
marks the row delivered without deciding again.

There is no per-write deadline: an outbox promises to deliver what it
accepted, across restarts, and a deadline would need a time that every
process agrees on (the clock of a :class:`~aether.clock.SimulatedClock`, or
``time.monotonic``, is not). Use :class:`~aether.patterns.queue.RetryQueue`
for writes that are worthless after a deadline; a decision can also refuse a
request that the state shows is stale.

Use it when an accepted write must never be lost, not even by a crash; the
price is a disk write (an fsync with the default ``synchronous="FULL"``) per
accepted write and per delivery. In production the outbox table usually lives
in the application's own database, so that a business change and its outbox
row commit in one transaction; this lab has no application database, so the
outbox is a file of its own, next to any event store (in memory or SQLite).

Failures reach the caller, never a silent stall. The outbox file speaks the
event store's error family (:class:`~aether.errors.LockTimeoutError` for a
lock held longer than ``busy_timeout``, :class:`~aether.errors.StoreUnavailableError`
for a full disk, :class:`~aether.errors.StoreCorruptedError` for a file
deleted, replaced or damaged while open): ``enqueue`` raises it and accepts
nothing. The worker survives a locked or failing file by retrying with
backoff on its clock, and :attr:`DurableOutbox.failure` shows the error
meanwhile; a worker that dies all the same makes the next ``enqueue`` raise.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple, TypeAlias, TypeVar

from aether.checks import (
    check_callable,
    check_choice,
    check_methods,
    check_seconds,
    check_text,
    show,
)
from aether.clock import Signal, TaskClock
from aether.errors import (
    CommandRefusedError,
    DuplicateEventIdError,
    StoreCorruptedError,
    StoreUnavailableError,
    VersionConflictError,
)
from aether.events import Event
from aether.patterns._common import REAL_CLOCK, STORE_METHODS
from aether.patterns.command import is_decision
from aether.patterns.queue import Ticket, check_queue_settings
from aether.patterns.worker import BackgroundWorker, WorkerFailure
from aether.store.base import EventStore
from aether.store.sqlitefile import FileIdentity, database_path, retry_while_locked, translate

__all__ = [
    "OUTBOX_SYNCHRONOUS_MODES",
    "DurableOutbox",
    "OutboxDecision",
    "OutboxEntry",
    "OutboxTicket",
    "WorkerFailure",
]

T = TypeVar("T")
_WHAT = "outbox"
_OWN_TABLES = {"outbox", "sqlite_sequence"}  # sqlite_sequence: AUTOINCREMENT's counter

OUTBOX_SYNCHRONOUS_MODES = ("NORMAL", "FULL", "EXTRA")
"""The ``PRAGMA synchronous`` modes an outbox accepts. In WAL mode ``"NORMAL"``
survives a crash of the process (``SIGKILL`` included) but may lose the last
accepted writes on a power loss; ``"FULL"`` and ``"EXTRA"`` survive both.
``"OFF"`` is refused: an outbox that may lose what it accepted is no outbox."""

#: A decision an outbox delivers by name: ``decision(events, request) -> data | None``, where
#: *events* are the actor's events as read on this delivery attempt (oldest first) and *request*
#: the mapping accepted with the write; ``None`` refuses.
OutboxDecision: TypeAlias = Callable[[Sequence[Event], Mapping[str, Any]], Mapping[str, Any] | None]

_STATES = ("pending", "delivered", "dead_letter", "refused")
_COLUMNS_V1 = (  # the table before decisions: opened files of this shape are migrated

    "seq",
    "event_id",
    "actor_id",
    "event_type",
    "data",
    "timestamp_us",
    "state",
    "attempts",
    "version",
    "error",
)
_COLUMNS = (*_COLUMNS_V1, "decision")
_SCHEMA = (  # the table, then its index (after checking an existing table's columns)
    # seq is the acceptance order (AUTOINCREMENT: never reused); event_id is fixed at acceptance.
    """CREATE TABLE IF NOT EXISTS outbox (
        seq          INTEGER PRIMARY KEY AUTOINCREMENT,
        event_id     TEXT    NOT NULL UNIQUE,
        actor_id     TEXT    NOT NULL,
        event_type   TEXT    NOT NULL,
        data         TEXT    NOT NULL,
        timestamp_us INTEGER NOT NULL,
        state        TEXT    NOT NULL DEFAULT 'pending'
                     CHECK (state IN ('pending', 'delivered', 'dead_letter', 'refused')),
        attempts     INTEGER NOT NULL DEFAULT 0,
        version      INTEGER,
        error        TEXT,
        decision     TEXT
    )""",
    "CREATE INDEX IF NOT EXISTS outbox_pending ON outbox (seq) WHERE state = 'pending'",
)
_SQL_INSERT = (
    "INSERT INTO outbox (event_id, actor_id, event_type, data, timestamp_us, decision) "
    "VALUES (?, ?, ?, ?, ?, ?)"
)
_SQL_DECISIONS_PENDING = (
    "SELECT DISTINCT decision FROM outbox WHERE state = 'pending' AND decision IS NOT NULL"
)
_SQL_NEXT = f"SELECT {', '.join(_COLUMNS)} FROM outbox WHERE state = 'pending' ORDER BY seq LIMIT 1"
_SQL_SETTLE = "UPDATE outbox SET state = ?, attempts = ?, version = ?, error = ? WHERE seq = ?"
_SQL_PENDING = "SELECT COUNT(*) FROM outbox WHERE state = 'pending'"
_SQL_ENTRIES = f"SELECT {', '.join(_COLUMNS)} FROM outbox"

_TICKET_OUTCOME = {"delivered": "committed", "dead_letter": "dead_letter", "refused": "refused"}

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_MICROSECOND = timedelta(microseconds=1)


class OutboxEntry(NamedTuple):
    """One row of an outbox: an accepted write and how far it got.

    ``seq`` is the acceptance order, ``event_id`` the id the stored event has
    (fixed at acceptance: the write's idempotency key), ``state`` one of
    ``"pending"``, ``"delivered"``, ``"dead_letter"`` or ``"refused"`` (its
    decision said no). Once settled, ``attempts`` counts the save attempts of
    the delivery that settled it, ``version`` is the version the event is
    stored at (delivered rows) and ``error`` the last error, as text (dead
    letters, refusals). ``decision`` names the registered decision that makes
    the event's data from ``data`` (the request), or is ``None``: ``data`` is
    the event's data, appended blindly.
    """

    seq: int
    event_id: str
    actor_id: str
    event_type: str
    data: dict[str, Any]
    timestamp: datetime
    state: str
    attempts: int
    version: int | None
    error: str | None
    decision: str | None = None

    def event(self, version: int, data: Mapping[str, Any] | None = None) -> Event:
        """The event this row stands for, at *version*: the same id and timestamp on every send.

        *data* is the event's data when a decision made it (default: the row's ``data``).
        """
        return Event(
            actor_id=self.actor_id,
            event_type=self.event_type,
            version=version,
            data=self.data if data is None else data,
            id=self.event_id,
            timestamp=self.timestamp,
        )


class OutboxTicket(Ticket):
    """The receipt for a write a :class:`DurableOutbox` accepted (a kind of :class:`Ticket`).

    Besides the ticket's fields it carries ``event_id``, the id the stored
    event will have (also its ``key``), and ``seq``, its row in the outbox;
    ``data`` is the event's data, or the request of a named decision. The ticket lives in
    the accepting process only; after a restart, look the write up with
    :meth:`DurableOutbox.entries` (or in the store, by its event id).
    """

    def __init__(
        self,
        actor_id: str,
        event_type: str,
        data: Mapping[str, Any],
        enqueued_at: float,
        settled: Signal,
        event_id: str,
        seq: int,
    ) -> None:
        super().__init__(actor_id, event_type, data, enqueued_at, settled, key=event_id)
        self.event_id = event_id
        self.seq = seq

    def __repr__(self) -> str:
        return (
            f"<OutboxTicket #{self.seq} {self.actor_id!r} {self.event_type!r}: {self.outcome} "
            f"after {self.attempts} attempt(s)>"
        )


class DurableOutbox(BackgroundWorker[OutboxEntry]):
    """Writes accepted into an SQLite file and delivered to an event store by a background worker.

    Use it instead of :class:`~aether.patterns.queue.RetryQueue` when an
    accepted write must survive the process: ``enqueue`` commits the write to
    the outbox file before it returns, and whatever is not delivered when the
    process dies is delivered after a restart, exactly once::

        outbox = DurableOutbox("outbox.db", SQLiteEventStore("events.db")).start()
        ticket = outbox.enqueue("order-7", "ItemAdded", {"sku": "A1"})
        ...
        outbox.close()          # delivers what is left, then closes the file

    ``path`` is the outbox's own SQLite file (created if missing; its
    directory must exist; a database with tables of another program is
    refused), ``store`` the event store it delivers to and
    ``clock`` a clock that can ``spawn`` tasks and make signals, as for the
    retry queue (on a :class:`~aether.clock.SimulatedClock` the file's I/O
    takes no virtual time). One worker delivers the rows one at a time in
    acceptance order, so each actor's writes are stored in the order they were
    accepted; a row being retried holds back the rows behind it.

    A delivery reads the actor's latest version and saves the event with the
    row's event id at the next version. It retries a conflict (at the new next
    version, same id) and a :class:`~aether.errors.StoreUnavailableError`
    (re-sending the same event) after ``min(max_delay, base_delay * 2**n)``
    seconds, up to ``max_attempts`` attempts, then marks the row a dead letter
    with its last error. A row with a decision (``enqueue(..., decide=name)``,
    the name registered in ``decisions``) reads the actor's events instead,
    before every attempt: if its event id is among them it is delivered;
    otherwise the decision makes the data on that read, or refuses, which
    marks the row ``"refused"`` at once (see the module's docstring). A
    :class:`~aether.errors.DuplicateEventIdError` for
    the same actor means the store already holds the event: the row is marked
    delivered at the version the store holds it at. Any other error dead-letters
    the row at once and is recorded in :attr:`errors` (so does an event id the
    store holds for another actor). A
    :class:`BaseException` (``KeyboardInterrupt``) kills the worker and is
    re-raised; the row stays pending in the file for the next :meth:`start`.

    The outbox file itself: a lock held by another connection for longer than
    ``busy_timeout`` seconds, or a full disk, is a
    :class:`~aether.errors.LockTimeoutError` / :class:`~aether.errors.StoreUnavailableError`
    from ``enqueue`` (nothing accepted); the worker meets them by retrying
    with backoff (``base_delay`` up to ``max_delay``) for as long as it takes,
    and :attr:`failure` names the error meanwhile. ``enqueue`` checks inside
    its transaction that the path still names the file the outbox opened: a
    file deleted or replaced meanwhile is a :class:`~aether.errors.StoreCorruptedError`,
    never a ticket for a write no restart could find.

    Open one outbox per file at a time: two on one file would still store
    each write once (the event id), but could deliver an actor's writes out of
    order. ``synchronous`` is the file's ``PRAGMA synchronous``, one of
    :data:`OUTBOX_SYNCHRONOUS_MODES`; the file runs in WAL mode.

    Metrics: :attr:`delivered` (rows this outbox delivered), :attr:`refused`
    (rows it settled as refused), :meth:`pending`, :attr:`dead_letters`,
    :meth:`entries`, :attr:`errors` and :attr:`failure`.
    """

    kind = "outbox"

    def __init__(
        self,
        path: str | os.PathLike[str],
        store: EventStore,
        *,
        clock: TaskClock = REAL_CLOCK,
        max_attempts: int = 10,
        base_delay: float = 0.010,
        max_delay: float = 1.0,
        synchronous: str = "FULL",
        busy_timeout: float = 5.0,
        name: str = "outbox",
        decisions: Mapping[str, OutboxDecision] | None = None,
    ) -> None:
        self.path = database_path(path, "an outbox")
        check_methods("store", store, STORE_METHODS, "an event store")
        check_methods(
            "clock",
            clock,
            ("now", "sleep", "spawn", "signal"),
            "a clock that can spawn tasks and make signals (RealClock, SimulatedClock)",
        )
        self.max_attempts, base_delay, max_delay, _, name = check_queue_settings(
            max_attempts, base_delay, max_delay, 1, name
        )
        mode = check_text("synchronous", synchronous)
        self.synchronous: str = check_choice("synchronous", mode.upper(), OUTBOX_SYNCHRONOUS_MODES)
        self.busy_timeout = check_seconds("busy_timeout", busy_timeout, maximum=(2**31 - 1) / 1000)
        self.decisions: dict[str, OutboxDecision] = _check_decisions(decisions)
        super().__init__(clock, name, 1, base_delay, max_delay)
        self.store = store
        self.delivered = 0
        self.refused = 0
        self._db: sqlite3.Connection | None
        self._db, self._identity = _open(self.path, self.synchronous, self.busy_timeout)
        self._tickets: dict[int, OutboxTicket] = {}  # this process's unsettled tickets, by seq

    # -- the caller's side --------------------------------------------------------

    def enqueue(
        self,
        actor_id: str,
        event_type: str,
        data: Mapping[str, Any] | None = None,
        *,
        decide: str | None = None,
        key: str | None = None,
    ) -> OutboxTicket:
        """Accept one write: commit it to the outbox file, then return its :class:`OutboxTicket`.

        *data* is the event's data (appended blindly), or with *decide*, the
        name of a decision registered in ``decisions``, the request that
        decision gets at delivery. *key* is the write's idempotency key, the
        stored event's id (default: generated now); a key this outbox has
        accepted before is a :class:`ValueError`.

        The write is validated first, and its event id and timestamp fixed.
        Once this returns the write survives a crash of the process; if it
        raises (a bad write, a stopped outbox, a dead worker, a locked or full
        file, a file deleted or replaced) nothing was accepted.
        """
        if is_decision(data):
            raise TypeError(
                f"an outbox cannot keep a function across a restart; got data={show(data)}: "
                "register it by name, DurableOutbox(..., decisions={'name': function}), "
                "and enqueue (actor_id, event_type, request_mapping, decide='name')"
            )
        if decide is not None:
            check_text("decide", decide)
            if decide not in self.decisions:
                raise ValueError(
                    f"decide must name a decision registered in this outbox's decisions "
                    f"{sorted(self.decisions)}; got {show(decide)}"
                )
        if key is not None:
            check_text("key", key)
        probe = Event(
            actor_id=actor_id, event_type=event_type, version=1, data=data, id=key
        )  # validates, fixes the id
        row = (
            probe.id,
            probe.actor_id,
            probe.event_type,
            probe.data.to_json(),
            _microseconds(probe.timestamp),
            decide,
        )
        with self._lock:
            self._check_accepting()
            seq = self._sql(self._insert, row)
            ticket = OutboxTicket(
                probe.actor_id,
                probe.event_type,
                probe.data,
                self.clock.now(),
                self.clock.signal(f"ticket #{seq}"),
                probe.id,
                seq,
            )
            self._tickets[seq] = ticket
        self._work.set()
        return ticket

    def _insert(self, db: sqlite3.Connection, row: tuple[Any, ...]) -> int:
        """Commit one accepted row, in the file the outbox opened; return its seq."""
        db.execute("BEGIN IMMEDIATE")
        try:
            self._identity.check()  # inside the write lock: nobody commits between check and insert
            try:
                seq = db.execute(_SQL_INSERT, row).lastrowid
            except sqlite3.IntegrityError as taken:
                raise ValueError(
                    f"key {row[0]!r} was already accepted by this outbox (a key names one write)"
                ) from taken
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
        try:
            self._identity.check()  # deleted while the commit ran: no restart could find the write
        except StoreCorruptedError as gone:
            raise StoreCorruptedError(
                f"{gone} (the write was committed into the deleted file and is not accepted)"
            ) from None
        assert seq is not None
        return int(seq)

    def pending(self) -> int:
        """Rows accepted and not yet delivered or dead-lettered (from earlier runs too)."""
        with self._lock:
            return int(self._sql(lambda db: db.execute(_SQL_PENDING).fetchone()[0]))

    def entries(self, state: str | None = None) -> list[OutboxEntry]:
        """Every row of the outbox (or those in *state*), in acceptance order."""
        if state is not None:
            check_choice("state", state, _STATES)
        sql, args = (
            (_SQL_ENTRIES, ()) if state is None else (_SQL_ENTRIES + " WHERE state = ?", (state,))
        )
        with self._lock:
            rows = self._sql(lambda db: db.execute(sql + " ORDER BY seq", args).fetchall())
        return [_entry(row) for row in rows]

    @property
    def dead_letters(self) -> list[OutboxEntry]:
        """The rows given up on, with their last error (from the file: earlier runs' too)."""
        return self.entries("dead_letter")

    def start(self) -> DurableOutbox:
        """Start delivering; refused while a pending row names a decision not registered here.

        A :class:`ValueError` names the missing decisions: the rows stay
        pending in the file, for an outbox opened with them registered.
        """
        with self._lock:
            rows = self._sql(lambda db: db.execute(_SQL_DECISIONS_PENDING).fetchall())
        names = [row[0] for row in rows]
        missing = sorted(name for name in names if name not in self.decisions)
        if missing:
            raise ValueError(
                f"outbox {self.name!r} has pending writes that name the decision(s) {missing}, "
                f"not registered in its decisions {sorted(self.decisions)}: open it with "
                "decisions={name: function, ...} for each of them to deliver them"
            )
        return super().start()

    # -- closing ------------------------------------------------------------------

    def close(self, timeout: float | None = None) -> None:
        """Stop with drain, wait (at most *timeout* s) and close the file.

        Raises if the worker died or is still busy after *timeout*.

        Rows left behind are not lost: they stay pending in the file and are
        delivered by the next outbox started on it. Only a worker that died
        (of a ``KeyboardInterrupt``, or a failing file) makes ``close`` raise
        a ``RuntimeError``, and a worker still busy after *timeout* (a store
        that hangs) a :class:`TimeoutError`: the file is closed all the same,
        and the row in the worker's hand stays pending (delivered once, by
        its event id, after the next start). An outbox never started, or
        stopped with ``drain=False``, closes quietly and its rows wait the
        same way.
        """
        super().close(timeout)

    def _closed(self, finished: bool) -> None:
        with self._lock:
            if self._db is None:
                return
            left = int(self._db.execute(_SQL_PENDING).fetchone()[0])
            self._db.close()
            self._db = None
        if not finished:
            raise TimeoutError(
                f"outbox {self.name!r} did not finish within close(timeout=...): the store has not "
                f"answered; {left} write(s) stay pending in {self.path!r} for the next start()"
            )
        if left and self._fatal is not None:
            raise RuntimeError(
                f"outbox {self.name!r} closed with {left} write(s) not delivered; they stay in "
                f"{self.path!r} for the next start(); "
                f"worker errors: {[e.error for e in self.errors]}"
            )

    def _check_open(self) -> None:
        self._connection()

    # -- the worker's side ----------------------------------------------------------

    def _worker_name(self, index: int) -> str:
        return f"{self.name}-worker"

    def _take(self) -> OutboxEntry | None:
        """The oldest pending row, or ``None`` (lock held); the file's errors as the store's."""
        if self._db is None:
            self._halting = True  # closed under a worker that outlived close(timeout=...)
            return None
        row = self._sql(lambda db: db.execute(_SQL_NEXT).fetchone())
        return None if row is None else _entry(row)

    def _deliver(self, entry: OutboxEntry) -> None:
        """Save one row's event at the actor's next version, with backoff; settle the row.

        A row with a decision reads the actor's events before every attempt
        (:meth:`_decided_event`): its own id found there is a delivery, a
        refusal settles the row as refused.
        """
        event: Event | None = None
        error: Exception | None = None
        ticket = self._tickets.get(entry.seq)  # None for a row accepted by an earlier run
        decision = None if entry.decision is None else self.decisions.get(entry.decision)
        if entry.decision is not None and decision is None:  # accepted by another process meanwhile
            unknown = LookupError(
                f"no decision named {entry.decision!r} is registered in this outbox"
            )
            self._record(entry, unknown)
            self._settle(entry, "dead_letter", 0, None, unknown)
            return
        for attempt in range(1, self.max_attempts + 1):
            if attempt > 1:
                self.clock.sleep(self._backoff(attempt - 2))
            if ticket is not None:
                ticket.attempts += 1
            try:
                if event is None:
                    if decision is None:
                        event = entry.event(self.store.get_latest_version(entry.actor_id) + 1)
                    else:
                        event, found = self._decided_event(entry, decision)
                        if found:  # an earlier delivery stored it: do not decide or send again
                            self._settle(entry, "delivered", attempt, event.version, None, event)
                            return
                self.store.save_event(event)
            except CommandRefusedError as refusal:
                self._settle(entry, "refused", attempt, None, refusal)
                return
            except DuplicateEventIdError as duplicate:
                if duplicate.stored_actor_id == entry.actor_id:  # stored by an earlier delivery
                    if decision is not None:  # read it back on the next attempt, with its data
                        error, event = duplicate, None
                        continue
                    self._settle(entry, "delivered", attempt, duplicate.stored_version, None)
                    return
                self._record(entry, duplicate)  # the id is another actor's event's: not ours
                error = duplicate
                break
            except (VersionConflictError, StoreUnavailableError) as failure:
                error = failure
                if isinstance(failure, VersionConflictError) or decision is not None:
                    event = None  # read again (the id stays the same; a decision decides again)
            except Exception as unexpected:  # noqa: BLE001 - dead-letter a bug or a bad write
                self._record(entry, unexpected)
                error = unexpected
                break
            else:
                self._settle(entry, "delivered", attempt, event.version, None, event)
                return
        self._settle(entry, "dead_letter", attempt, None, error)

    def _decided_event(self, entry: OutboxEntry, decision: OutboxDecision) -> tuple[Event, bool]:
        """The event to send, on one read of the actor, and whether it is stored already.

        ``(the stored event, True)`` if the row's id is among the actor's
        events, else ``(the decided event at the next version, False)``;
        :class:`~aether.errors.CommandRefusedError` if the decision says ``None``.
        """
        events = self.store.get_events(entry.actor_id)
        for stored in events:
            if stored.id == entry.event_id:
                return stored, True
        version = events[-1].version if events else 0
        data = decision(events, entry.data)
        if data is None:
            raise CommandRefusedError(entry.actor_id, version)
        if not isinstance(data, Mapping):
            raise TypeError(
                f"decision {entry.decision!r} must return a mapping or None; got {show(data)} "
                f"({type(data).__name__})"
            )
        return entry.event(version + 1, data), False

    def _killed(self, entry: OutboxEntry | None, error: BaseException) -> OutboxEntry | None:
        """The row stays pending in the file; this process's tickets learn why nothing moves."""
        with self._lock:
            for ticket in self._tickets.values():
                ticket.error = error
        return entry

    def _settle(
        self,
        entry: OutboxEntry,
        state: str,
        attempts: int,
        version: int | None,
        error: BaseException | None,
        event: Event | None = None,
    ) -> None:
        """Mark the row delivered, refused or dead-lettered, then settle its ticket here.

        *event* is the stored event, if known (else the row's event at *version*).

        The mark is committed, and retried with backoff while the file is locked or full.
        """
        text = None if error is None else f"{type(error).__name__}: {error}"
        stored = event if event is not None or version is None else entry.event(version)

        def mark() -> OutboxTicket | None:
            with self._lock:
                row = (state, attempts, version, text, entry.seq)
                self._sql(lambda db: db.execute(_SQL_SETTLE, row))
                ticket = self._tickets.pop(entry.seq, None)
                if state == "delivered":
                    self.delivered += 1
                elif state == "refused":
                    self.refused += 1
                if ticket is not None:
                    ticket.outcome = _TICKET_OUTCOME[state]
                    ticket.event = stored
                    ticket.error = error
                    ticket.settled_at = self.clock.now()
                return ticket

        ticket = self._until_it_works(mark, entry)
        if ticket is not None:
            ticket._settled.set()

    # -- the file -------------------------------------------------------------------

    def _sql(self, step: Callable[..., T], *args: Any) -> T:
        """Run ``step(connection, *args)`` (lock held); file errors become the store's family."""
        db = self._connection()
        try:
            return step(db, *args)
        except sqlite3.DatabaseError as exc:
            error = translate(exc, self.path, self.busy_timeout, _WHAT)
            if error is None:
                raise
            raise error from exc

    def _connection(self) -> sqlite3.Connection:
        """The open connection (call with the lock held); ``RuntimeError`` once closed."""
        if self._db is None:
            raise RuntimeError(
                f"outbox {self.name!r} is closed; open a new DurableOutbox on {self.path!r}"
            )
        return self._db

    def __repr__(self) -> str:
        state = "closed" if self._db is None else f"delivered {self.delivered}"
        return f"<DurableOutbox {self.name!r} on {os.path.basename(self.path)!r}: {state}>"


# --------------------------------------------------------------------------- the file


def _open(
    path: str, synchronous: str, busy_timeout: float
) -> tuple[sqlite3.Connection, FileIdentity]:
    """Open (and if new, create) the outbox file and note which file it is.

    A file that is not an outbox is refused.

    A lock held longer than *busy_timeout* (another process creating the same
    file, say) is a :class:`~aether.errors.LockTimeoutError` and any other
    operational failure a :class:`~aether.errors.StoreUnavailableError`, as
    for the event store; a file that is not an outbox is a :class:`ValueError`.
    """
    try:
        db = retry_while_locked(lambda: _open_once(path, synchronous, busy_timeout), busy_timeout)
    except sqlite3.OperationalError as exc:
        error = translate(exc, path, busy_timeout, _WHAT)
        if error is None or isinstance(error, StoreCorruptedError):
            raise ValueError(f"cannot use {path!r} as an outbox: {exc}") from exc
        raise error from exc
    except sqlite3.DatabaseError as exc:
        raise ValueError(f"cannot use {path!r} as an outbox: {exc}") from exc
    return db, FileIdentity.of(path, _WHAT)


def _open_once(path: str, synchronous: str, busy_timeout: float) -> sqlite3.Connection:
    """One try at opening the file (closed again if it fails)."""
    db = sqlite3.connect(path, timeout=busy_timeout, isolation_level=None, check_same_thread=False)
    try:
        found = db.execute(
            "SELECT type, name FROM sqlite_master WHERE name NOT LIKE 'sqlite_autoindex%'"
        )
        others = sorted(f"{kind} {name!r}" for kind, name in found.fetchall()
                        if not (kind == "table" and name in _OWN_TABLES)
                        and not (kind == "index" and name == "outbox_pending"))
        if others:  # checked before anything is written: another program's file stays as it was
            raise ValueError(
                f"cannot use {path!r} as an outbox: it holds {', '.join(others)} "
                "of another program "
                "(an outbox keeps a file of its own; give it a new path)"
            )
        db.execute("PRAGMA journal_mode = WAL")
        db.execute(f"PRAGMA synchronous = {synchronous}")
        db.execute("BEGIN IMMEDIATE")
        try:
            db.execute(_SCHEMA[0])
            columns = tuple(row[1] for row in db.execute("PRAGMA table_info(outbox)"))
            if columns == _COLUMNS_V1:  # a file from before decisions: keep its rows
                _migrate_v1(db)
                columns = _COLUMNS
            if columns != _COLUMNS:
                raise ValueError(
                    f"{path!r} has an 'outbox' table with other columns {columns}; "
                    f"expected {_COLUMNS}"
                )
            db.execute(_SCHEMA[1])
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
    except BaseException:
        db.close()
        raise
    return db


def _migrate_v1(db: sqlite3.Connection) -> None:
    """Rebuild a table of the first shape (no ``decision``, no ``'refused'`` state) in place.

    SQLite cannot change a CHECK constraint, so the table is copied into a new
    one, inside the caller's transaction; seq numbers and event ids are kept.
    """
    listed = ", ".join(_COLUMNS_V1)
    db.execute("ALTER TABLE outbox RENAME TO outbox_v1")
    db.execute(_SCHEMA[0])
    db.execute(f"INSERT INTO outbox ({listed}) SELECT {listed} FROM outbox_v1")
    db.execute("DROP TABLE outbox_v1")


def _check_decisions(decisions: object) -> dict[str, OutboxDecision]:
    """The registered decisions as a dict: names (non-empty str) to callables."""
    if decisions is None:
        return {}
    if not isinstance(decisions, Mapping):
        raise TypeError(
            "decisions must be a mapping of names to decision functions or None; "
            f"got {show(decisions)} ({type(decisions).__name__})"
        )
    checked: dict[str, OutboxDecision] = {}
    for name, decision in decisions.items():
        check_text("decisions key", name)
        checked[name] = check_callable(f"decisions[{show(name)}]", decision,
                                       "a callable decision(events, request) -> data | None")
    return checked


def _microseconds(moment: datetime) -> int:
    return (moment - _EPOCH) // _ONE_MICROSECOND


def _entry(row: tuple[Any, ...]) -> OutboxEntry:
    (seq, event_id, actor_id, event_type, data, timestamp_us, state, attempts, version, error,
     decision) = row
    return OutboxEntry(
        seq,
        event_id,
        actor_id,
        event_type,
        json.loads(data),
        _EPOCH + timestamp_us * _ONE_MICROSECOND,
        state,
        attempts,
        version,
        error,
        decision,
    )
