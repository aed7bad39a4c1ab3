"""Store throughput: our stores next to a raw baseline and the ``eventsourcing`` library.

Single-threaded ``save_event`` throughput (saves per second, events built
before the timed loop, round-robin over a few actors) and ``get_events``
read throughput (events returned per second, every actor's whole stream).

* :class:`~aether.store.memory.InMemoryEventStore` against a bare dict of
  lists under a :class:`threading.Lock` with the same version check, and
  against ``eventsourcing``'s in-memory ``POPOAggregateRecorder``.
* :class:`~aether.store.sqlite.SQLiteEventStore` against raw :mod:`sqlite3`
  on the very same schema (the store creates it) with the same pragmas and
  the same transaction (BEGIN IMMEDIATE; SELECT latest; INSERT; COMMIT),
  against a plain INSERT into a table without indexes (what the guarantees
  cost), and against ``eventsourcing``'s ``SQLiteAggregateRecorder``.
"""

from __future__ import annotations

import contextlib
import shutil
import sqlite3
import tempfile
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aether.events import Event
from aether.store.memory import InMemoryEventStore
from aether.store.sqlite import SQLiteEventStore
from bench.config import Sizes
from bench.report import Row, Table, at_least, fmt_rate, ratio
from bench.timing import Contender, Measurement, Work, interleave

__all__ = ["RawDictStore", "make_events", "run"]

EVENT_TYPE = "Benchmarked"
BUSY_TIMEOUT = 5.0
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_MICROSECOND = timedelta(microseconds=1)

_RAW_LATEST = "SELECT version FROM events WHERE actor_id = ? ORDER BY version DESC LIMIT 1"
_RAW_INSERT = "INSERT INTO events (actor_id, version, id, event_type, data, timestamp_us) VALUES (?, ?, ?, ?, ?, ?)"
_RAW_INSERT_ACTOR = "INSERT INTO actors (actor_id) VALUES (?)"
_RAW_SELECT = ("SELECT actor_id, version, id, event_type, data, timestamp_us FROM events "
               "WHERE actor_id = ? AND version >= ? ORDER BY version")
_PLAIN_TABLE = ("CREATE TABLE plain (actor_id TEXT NOT NULL, version INTEGER NOT NULL, id TEXT NOT NULL, "
                "event_type TEXT NOT NULL, data TEXT NOT NULL, timestamp_us INTEGER NOT NULL)")
_PLAIN_INSERT = "INSERT INTO plain VALUES (?, ?, ?, ?, ?, ?)"


# --------------------------------------------------------------------------- inputs


def make_events(count: int, actors: int) -> list[Event]:
    """*count* events round-robin over *actors* actors, each actor's versions gapless from 1."""
    return [Event(actor_id=f"actor-{i % actors}", event_type=EVENT_TYPE, version=i // actors + 1, data={"n": i})
            for i in range(count)]


def _actor_ids(events: Sequence[Event]) -> list[str]:
    return list(dict.fromkeys(e.actor_id for e in events))


def _row(event: Event) -> tuple[Any, ...]:
    """The ``events`` table row of *event*, as the SQLite store writes it."""
    micros = (event.timestamp - _EPOCH) // _ONE_MICROSECOND
    return (event.actor_id, event.version, event.id, event.event_type, event.data.to_json(), micros)



# --------------------------------------------------------------------------- in-memory baselines


class RawDictStore:
    """The least an in-memory store can do: a dict of lists, a lock and the version check.

    It is the speed limit for :class:`InMemoryEventStore`, which also
    validates its input and indexes event ids to refuse duplicates.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._streams: dict[str, list[Event]] = {}

    def save_event(self, event: Event) -> None:
        """Append *event* if its version is the actor's next one; raise ``ValueError`` otherwise."""
        with self._lock:
            stream = self._streams.get(event.actor_id)
            if stream is None:
                stream = self._streams[event.actor_id] = []
            if len(stream) + 1 != event.version:
                raise ValueError(f"version {event.version} is not next for {event.actor_id!r} ({len(stream)} stored)")
            stream.append(event)

    def get_events(self, actor_id: str, from_version: int = 1) -> list[Event]:
        """The actor's events from *from_version* on."""
        with self._lock:
            stream = self._streams.get(actor_id)
            return list(stream[from_version - 1:]) if stream else []


def _saving(store: Any, events: Sequence[Event]) -> Work:
    save = store.save_event

    def work() -> int:
        for event in events:
            save(event)
        return len(events)

    return work


def _reading(get_events: Callable[[Any], Sequence[Any]], keys: Sequence[Any], rounds: int) -> Work:
    def work() -> int:
        total = 0
        for _ in range(rounds):
            for key in keys:
                total += len(get_events(key))
        return total

    return work


def _filled(store: Any, events: Sequence[Event]) -> Any:
    _saving(store, events)()
    return store


# --------------------------------------------------------------------------- eventsourcing


def _eventsourcing() -> Any | None:
    """The ``eventsourcing`` modules this benchmark uses, or ``None`` if it is not installed."""
    try:
        import eventsourcing.persistence
        import eventsourcing.popo
        import eventsourcing.sqlite
    except ImportError:
        return None
    return eventsourcing


@dataclass(frozen=True)
class _StoredBatches:
    """The same events as ``eventsourcing`` ``StoredEvent`` objects, one per insert call."""

    batches: list[list[Any]]
    originators: list[uuid.UUID]


def _stored_batches(es: Any, events: Sequence[Event]) -> _StoredBatches:
    stored_event = es.persistence.StoredEvent
    ids = {actor: uuid.uuid5(uuid.NAMESPACE_URL, actor) for actor in _actor_ids(events)}
    batches = [[stored_event(originator_id=ids[e.actor_id], originator_version=e.version,
                             topic=f"bench:{e.event_type}", state=e.data.to_json().encode())] for e in events]
    return _StoredBatches(batches, list(ids.values()))


def _inserting(recorder: Any, stored: _StoredBatches) -> Work:
    insert = recorder.insert_events
    batches = stored.batches

    def work() -> int:
        for batch in batches:
            insert(batch)
        return len(batches)

    return work


# --------------------------------------------------------------------------- temporary databases


class _TempFiles:
    """Fresh database files in one temporary folder, removed by :meth:`cleanup`."""

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="aether-bench-"))
        self._count = 0
        self._closers: list[Callable[[], None]] = []

    def path(self, stem: str) -> Path:
        """A new, unused file path."""
        self._count += 1
        return self.folder / f"{stem}-{self._count}.sqlite3"

    def on_cleanup(self, closer: Callable[[], None]) -> None:
        """Run *closer* (close a connection) before the files are removed."""
        self._closers.append(closer)

    def close_all(self) -> None:
        """Close every registered connection."""
        closers, self._closers = self._closers, []
        for closer in closers:
            with contextlib.suppress(Exception):
                closer()

    def cleanup(self) -> None:
        """Close everything and delete the folder."""
        self.close_all()
        shutil.rmtree(self.folder, ignore_errors=True)


def _our_sqlite(files: _TempFiles, synchronous: str) -> SQLiteEventStore:
    store = SQLiteEventStore(files.path("aether"), busy_timeout=BUSY_TIMEOUT, synchronous=synchronous)
    files.on_cleanup(store.close)
    return store


def _raw_connection(files: _TempFiles, path: Path, synchronous: str) -> sqlite3.Connection:
    conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute(f"PRAGMA synchronous = {synchronous}")
    files.on_cleanup(conn.close)
    return conn


def _raw_same_schema(files: _TempFiles, synchronous: str) -> sqlite3.Connection:
    """A raw connection to a fresh file whose schema the store itself created (same keys and uniques)."""
    path = files.path("raw")
    SQLiteEventStore(path, busy_timeout=BUSY_TIMEOUT, synchronous=synchronous).close()
    return _raw_connection(files, path, synchronous)


def _raw_saving(conn: sqlite3.Connection, rows: Sequence[tuple[Any, ...]]) -> Work:
    """BEGIN IMMEDIATE; SELECT latest; check; INSERT (and the actor row for version 1); COMMIT."""
    execute = conn.execute

    def work() -> int:
        for row in rows:
            execute("BEGIN IMMEDIATE")
            found = execute(_RAW_LATEST, (row[0],)).fetchone()
            latest = found[0] if found is not None else 0
            if row[1] != latest + 1:
                execute("ROLLBACK")
                raise ValueError(f"version {row[1]} is not next for {row[0]!r} ({latest} stored)")
            execute(_RAW_INSERT, row)
            if row[1] == 1:
                execute(_RAW_INSERT_ACTOR, (row[0],))
            execute("COMMIT")
        return len(rows)

    return work


def _plain_inserting(files: _TempFiles, rows: Sequence[tuple[Any, ...]], synchronous: str) -> Work:
    """BEGIN IMMEDIATE; INSERT; COMMIT into a table without any index or key."""
    conn = _raw_connection(files, files.path("plain"), synchronous)
    conn.execute(_PLAIN_TABLE)
    execute = conn.execute

    def work() -> int:
        for row in rows:
            execute("BEGIN IMMEDIATE")
            execute(_PLAIN_INSERT, row)
            execute("COMMIT")
        return len(rows)

    return work


def _es_sqlite_recorder(es: Any, files: _TempFiles, synchronous: str | None) -> Any:
    """An ``eventsourcing`` SQLite recorder on a fresh file (WAL; *synchronous* or its default)."""
    datastore = es.sqlite.SQLiteDatastore(str(files.path("eventsourcing")), lock_timeout=int(BUSY_TIMEOUT),
                                          pool_size=1, max_overflow=0)
    recorder = es.sqlite.SQLiteAggregateRecorder(datastore)
    recorder.create_table()
    files.on_cleanup(datastore.close)
    if synchronous is not None:
        with datastore.get_connection(commit=True) as connection:
            connection.cursor().execute(f"PRAGMA synchronous = {synchronous}")
        found = _SYNCHRONOUS_NAMES.get(_es_pragma(recorder, "synchronous"))
        if found != synchronous:
            raise RuntimeError(f"could not set synchronous={synchronous} on the eventsourcing connection; got {found}")
    if _es_pragma(recorder, "journal_mode").lower() != "wal":
        raise RuntimeError("the eventsourcing SQLite datastore is not in WAL mode")
    return recorder


def _es_pragma(recorder: Any, name: str) -> str:
    """A pragma's value on the recorder's (only) pooled connection."""
    with recorder.datastore.get_connection(commit=False) as connection:
        cursor = connection.cursor()
        cursor.execute(f"PRAGMA {name}")
        return str(cursor.fetchone()[0])


_SYNCHRONOUS_NAMES = {"0": "OFF", "1": "NORMAL", "2": "FULL", "3": "EXTRA"}


# --------------------------------------------------------------------------- the comparisons


def _compare(table: Table, measured: dict[str, Measurement], ours: str, theirs: str, label: str,
             target: tuple[float, bool, str] | None = None) -> None:
    """Add a row comparing two measured contenders; *target* is (minimum ratio, strictly, label)."""
    mine, other = measured[ours], measured.get(theirs)
    if other is None:
        table.add(Row.comparison(label, fmt_rate(mine.median_rate), "skipped: not installed"))
        return
    value = mine.median_rate / other.median_rate if other.median_rate else 0.0
    result = at_least(value, target[0], strictly=target[1]) if target else ""
    table.add(Row.comparison(label, fmt_rate(mine.median_rate), fmt_rate(other.median_rate),
                  ratio(mine.median_rate, other.median_rate), target[2] if target else "", result))


def _note_spread(table: Table, what: str, measured: dict[str, Measurement]) -> None:
    """Say how far apart the repetitions were, so a noisy machine shows in the output."""
    table.note(f"spread of the {what} repetitions, (max - min) / median: "
               + ", ".join(f"{name} {m.spread:.0%}" for name, m in measured.items()))


def _in_memory_table(sizes: Sizes) -> Table:
    events = make_events(sizes.memory_saves, sizes.memory_actors)
    actors = _actor_ids(events)
    es = _eventsourcing()
    stored = _stored_batches(es, events) if es is not None else None

    savers = [Contender("aether", lambda: _saving(InMemoryEventStore(), events)),
              Contender("raw", lambda: _saving(RawDictStore(), events))]
    ours_full, raw_full = _filled(InMemoryEventStore(), events), _filled(RawDictStore(), events)
    readers = [Contender("aether", lambda: _reading(ours_full.get_events, actors, sizes.memory_read_rounds)),
               Contender("raw", lambda: _reading(raw_full.get_events, actors, sizes.memory_read_rounds))]
    if es is not None and stored is not None:
        popo = es.popo.POPOAggregateRecorder
        savers.append(Contender("popo", lambda: _inserting(popo(), stored)))
        popo_full = popo()
        _inserting(popo_full, stored)()
        readers.append(Contender("popo", lambda: _reading(popo_full.select_events, stored.originators,
                                                          sizes.memory_read_rounds)))
    saves = interleave(savers, sizes.repeats)
    reads = interleave(readers, sizes.repeats)
    table = Table(f"stores: InMemoryEventStore, {sizes.memory_saves:,} saves over {len(actors)} actors "
                  f"(saves/s; reads: events/s), median of {sizes.repeats}")
    _compare(table, saves, "aether", "raw", "save_event vs bare dict of lists + Lock", (0.4, False, ">= 0.40x"))
    _compare(table, saves, "aether", "popo", "save_event vs eventsourcing POPOAggregateRecorder",
             (1.0, True, "> 1.00x"))
    _compare(table, reads, "aether", "raw", "get_events vs bare list copy under Lock")
    _compare(table, reads, "aether", "popo", "get_events vs eventsourcing POPO select_events")
    table.note("one event per insert_events call for eventsourcing (StoredEvent objects built before timing); "
               "POPO checks only uniqueness, not that the version is the next one")
    _note_spread(table, "save", saves)
    _note_spread(table, "read", reads)
    return table


def _sqlite_save_contenders(files: _TempFiles, events: Sequence[Event], es: Any | None) -> list[Contender]:
    rows = [_row(e) for e in events]
    contenders = [
        Contender("aether", lambda: _saving(_our_sqlite(files, "NORMAL"), events), files.close_all),
        Contender("raw", lambda: _raw_saving(_raw_same_schema(files, "NORMAL"), rows), files.close_all),
        Contender("plain", lambda: _plain_inserting(files, rows, "NORMAL"), files.close_all),
    ]
    if es is not None:
        stored = _stored_batches(es, events)
        contenders.append(Contender("es", lambda: _inserting(_es_sqlite_recorder(es, files, "NORMAL"), stored),
                                    files.close_all))
    return contenders


def _sqlite_full_contenders(files: _TempFiles, events: Sequence[Event], es: Any | None) -> list[Contender]:
    contenders = [Contender("aether", lambda: _saving(_our_sqlite(files, "FULL"), events), files.close_all)]
    if es is not None:
        stored = _stored_batches(es, events)
        contenders.append(Contender("es", lambda: _inserting(_es_sqlite_recorder(es, files, None), stored),
                                    files.close_all))
    return contenders


def _sqlite_read_contenders(files: _TempFiles, events: Sequence[Event], es: Any | None,
                            rounds: int) -> list[Contender]:
    actors = _actor_ids(events)
    ours = _filled(_our_sqlite(files, "NORMAL"), events)
    raw = _raw_same_schema(files, "NORMAL")
    _raw_saving(raw, [_row(e) for e in events])()

    def raw_select(actor: str) -> list[Any]:
        return raw.execute(_RAW_SELECT, (actor, 1)).fetchall()

    contenders = [Contender("aether", lambda: _reading(ours.get_events, actors, rounds)),
                  Contender("raw", lambda: _reading(raw_select, actors, rounds))]
    if es is not None:
        stored = _stored_batches(es, events)
        recorder = _es_sqlite_recorder(es, files, "NORMAL")
        _inserting(recorder, stored)()
        contenders.append(Contender("es", lambda: _reading(recorder.select_events, stored.originators, rounds)))
    return contenders


def _es_default_synchronous(es: Any, files: _TempFiles) -> str:
    value = _es_pragma(_es_sqlite_recorder(es, files, None), "synchronous")
    files.close_all()
    return _SYNCHRONOUS_NAMES.get(value, value)


def _sqlite_table(sizes: Sizes) -> Table:
    es = _eventsourcing()
    files = _TempFiles()
    try:
        events = make_events(sizes.sqlite_saves, sizes.sqlite_actors)
        saves = interleave(_sqlite_save_contenders(files, events, es), sizes.repeats)
        full = interleave(_sqlite_full_contenders(files, events[: sizes.sqlite_full_saves], es), sizes.repeats)
        reads = interleave(_sqlite_read_contenders(files, events, es, sizes.sqlite_read_rounds), sizes.repeats)
        es_default = _es_default_synchronous(es, files) if es is not None else "n/a"
    finally:
        files.cleanup()
    table = Table(f"stores: SQLiteEventStore, {sizes.sqlite_saves:,} saves over {sizes.sqlite_actors} actors, "
                  f"one transaction each (saves/s; reads: events/s), median of {sizes.repeats}")
    _compare(table, saves, "aether", "raw", "save_event vs raw sqlite3, same schema + txn", (0.7, False, ">= 0.70x"))
    _compare(table, saves, "aether", "plain", "save_event vs raw INSERT into a table without indexes")
    _compare(table, saves, "aether", "es", "save_event vs eventsourcing SQLiteAggregateRecorder",
             (1.0, False, ">= 1.00x"))
    _compare(table, full, "aether", "es",
             f"save_event, synchronous=FULL vs eventsourcing default ({sizes.sqlite_full_saves:,} saves)")
    _compare(table, reads, "aether", "raw", "get_events (Event objects) vs raw fetchall (tuples)")
    _compare(table, reads, "aether", "es", "get_events vs eventsourcing select_events")
    table.note("durability: journal_mode=WAL, synchronous=NORMAL (a commit survives a crash of the program, "
               "the last commits may be lost on power loss), busy timeout 5 s, for ours, raw and eventsourcing "
               "alike, unless the line says FULL (an fsync per commit)")
    table.note(f"eventsourcing's own default is synchronous={es_default}; it writes with BEGIN (deferred) + INSERT "
               "and relies on its primary key, without reading the latest version")
    table.note("raw rows are serialised before timing; ours serialises each event inside save_event")
    table.note(f"files in the system temporary folder {tempfile.gettempdir()!r}")
    _note_spread(table, "save", saves)
    return table


def run(sizes: Sizes) -> Iterator[Table]:
    """Yield the in-memory table, then the SQLite table."""
    yield _in_memory_table(sizes)
    yield _sqlite_table(sizes)
