"""What a run records: a row per logical save, and a row per store call through a logging store wrapper."""

from __future__ import annotations

import math
import threading
from array import array
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np

from aether.checks import check_instance, check_int, check_methods, check_number
from aether.clock import Clock
from aether.errors import VersionConflictError
from aether.events import Event
from aether.experiment.outcomes import outcome_of

__all__ = ["CallLog", "CallRecord", "RecordingStore", "SaveRow", "WriteLedger"]


class CallRecord(NamedTuple):
    """One store call as the writer saw it (times are clock seconds from the run's origin)."""

    writer: int
    save: int
    call: int
    op: str
    attempt: int
    start: float
    end: float
    result: str
    attempted_version: int | None
    current_version: int | None


class SaveRow(NamedTuple):
    """One logical save as the experiment saw it (times in seconds from the run's start)."""

    writer: int
    save: int
    actor_id: str
    start: float
    end: float
    latency: float
    attempts: int
    retries: int
    outcome: str
    version: int | None
    commit_delay: float
    error: str
    deferred: bool


#: The columns kept as arrays of machine numbers, and their NumPy dtype.
_NUMBERS = {"writer": np.int64, "save": np.int64, "call": np.int64, "attempt": np.int64, "start": np.float64,
            "end": np.float64}
#: The version columns, kept as 64-bit ints too.
_VERSIONS = ("attempted_version", "current_version")
#: What a version column holds for a call without a version (the smallest 64-bit int: no version is negative).
NO_VERSION = -(2**63)
#: What it holds where the version is in ``CallLog.odd_versions`` instead (beyond 64 bits, or not an int).
_ODD_VERSION = NO_VERSION + 1
_LOWEST, _HIGHEST = _ODD_VERSION, 2**63 - 1  # an int in (_LOWEST, _HIGHEST] goes into the array as it is


def _copied(values: array[Any], dtype: Any) -> np.ndarray:
    """A NumPy copy of an array column (NumPy cannot read an empty array's buffer)."""
    return np.frombuffer(values, dtype=dtype).copy() if len(values) else np.zeros(0, dtype=dtype)


class CallLog:
    """Every store call of a run, kept column by column: one array (or list) per field.

    A run makes hundreds of thousands of calls; a tuple per call costs memory
    (about 190 bytes each with its two floats) and building a frame from
    tuples means transposing them first. Here each call adds one item to
    each column: the numbers (``writer``, ``save``, ``call``, ``attempt``,
    ``start``, ``end``) go into :class:`array.array` of 64-bit ints and
    doubles (8 bytes each, no number object kept, read by NumPy without a
    copy per item), the versions into 64-bit ints too, with
    :data:`NO_VERSION` where a call has none (a version that no 64-bit int
    holds, or that is not an int, is kept exactly in ``odd_versions`` by
    column and row), and the words (``op``, ``result``) into lists of the
    interned words. The calls table is built from the columns
    (:meth:`column`) without a per-row step.

    Appending is not atomic across the columns: callers on real threads
    share a log through :class:`RecordingStore`, which then appends under
    the log's *lock* (``CallLog(threaded=True)``).
    """

    __slots__ = ("appenders", "attempt", "attempted_version", "call", "current_version", "end", "lock",
                 "odd_versions", "op", "result", "save", "start", "writer")

    def __init__(self, *, threaded: bool = False) -> None:
        self.writer = array("q")
        self.save = array("q")
        self.call = array("q")
        self.op: list[str] = []
        self.attempt = array("q")
        self.start = array("d")
        self.end = array("d")
        self.result: list[str] = []
        self.attempted_version = array("q")
        self.current_version = array("q")
        self.odd_versions: dict[tuple[str, int], Any] = {}
        self.lock: threading.Lock | None = threading.Lock() if threaded else None
        self._bind()

    def _bind(self) -> None:
        # Each column's append method, looked up once for every view of the run (one call adds to each).
        self.appenders = tuple(getattr(self, name).append for name in CallRecord._fields)

    def append(self, record: CallRecord | tuple[Any, ...]) -> None:
        """Add one call, given as a :class:`CallRecord` (or a tuple in its field order)."""
        writer, save, call, op, attempt, start, end, result, attempted, current = record
        self.add_versions(attempted, current)
        self.writer.append(writer)
        self.save.append(save)
        self.call.append(call)
        self.op.append(op)
        self.attempt.append(attempt)
        self.start.append(start)
        self.end.append(end)
        self.result.append(result)

    def add_versions(self, attempted: Any, current: Any) -> None:
        """Add one call's two versions (each an int or ``None``): the first step of adding a call.

        A recorder appends them straight to the arrays and calls this only when
        that fails, for a version no 64-bit int holds (or not an int at all):
        what only a misbehaving caller or store would give.
        """
        row = len(self.current_version)
        for name, value in (("attempted_version", attempted), ("current_version", current)):
            column = getattr(self, name)
            if len(column) > row:  # appended already, before the other version failed
                continue
            if value is None:
                column.append(NO_VERSION)
            elif type(value) is int and _LOWEST < value <= _HIGHEST:
                column.append(value)
            else:
                column.append(_ODD_VERSION)
                self.odd_versions[(name, row)] = value

    def extend(self, other: CallLog) -> None:
        """Add every call of *other* after the calls kept so far (a writer process's log)."""
        base = len(self.call)
        for name in CallRecord._fields:
            getattr(self, name).extend(getattr(other, name))
        self.odd_versions.update(((name, base + row), value) for (name, row), value in other.odd_versions.items())

    def column(self, name: str) -> np.ndarray:
        """One field of every call as a NumPy array (int64, float64, or object for words and versions)."""
        values = getattr(self, name)
        if name in _NUMBERS:
            return _copied(values, _NUMBERS[name])
        if name in _VERSIONS:
            numbers = _copied(values, np.int64)
            column = numbers.astype(object)
            column[numbers == NO_VERSION] = None
            for (odd_name, row), value in self.odd_versions.items():
                if odd_name == name:
                    column[row] = value
            return column
        return np.array(values, dtype=object)

    def versions(self, name: str) -> tuple[np.ndarray, np.ndarray] | None:
        """A version column as ``(int64 values, mask of calls without one)``; ``None`` if it keeps odd versions."""
        if name not in _VERSIONS:
            raise ValueError(f"name must be one of {_VERSIONS}; got {name!r}")
        if any(odd_name == name for odd_name, _ in self.odd_versions):
            return None
        numbers = _copied(getattr(self, name), np.int64)
        missing = numbers == NO_VERSION
        numbers[missing] = 0
        return numbers, missing

    def __len__(self) -> int:
        return len(self.call)

    def __iter__(self) -> Iterator[CallRecord]:
        """Each call as a :class:`CallRecord`, in the order they were logged."""
        return (self[index] for index in range(len(self)))

    def __getitem__(self, index: int) -> CallRecord:
        size = len(self)
        if not -size <= index < size:
            raise IndexError(f"call index out of range: {index} of {size} calls")
        index %= size
        return CallRecord._make(self._value(name, index) for name in CallRecord._fields)

    def _value(self, name: str, index: int) -> Any:
        value = getattr(self, name)[index]
        if name in _VERSIONS:
            if value == NO_VERSION:
                return None
            if value == _ODD_VERSION:
                return self.odd_versions.get((name, index), value)
        return value

    def __getstate__(self) -> dict[str, Any]:  # travels back from a writer process
        return ({name: getattr(self, name) for name in CallRecord._fields}
                | {"odd_versions": self.odd_versions, "threaded": self.lock is not None})

    def __setstate__(self, state: dict[str, Any]) -> None:
        for name in CallRecord._fields:
            setattr(self, name, state[name])
        self.odd_versions = state["odd_versions"]
        self.lock = threading.Lock() if state["threaded"] else None
        self._bind()

    def __repr__(self) -> str:
        return f"<CallLog of {len(self)} calls>"


@dataclass
class WriteLedger:
    """Which write calls of a run stored an event: the answer to "was this call wasted?".

    The store's side of a write (wherever it takes effect: directly, after a
    network hop, at the end of its service, or after its caller had gone)
    calls :meth:`took_effect` with the event's id and the call's key
    ``(writer, call)``. The first call that stores an id is kept in
    ``stored_calls``; a later call with the same id (a re-send the store
    acknowledges without storing anything) is a duplicate.
    """

    ids: set[str] = field(default_factory=set)
    stored_calls: list[tuple[int, int]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def took_effect(self, event_id: str, call: tuple[int, int] | None) -> bool:
        """Record that a write of *event_id* succeeded at the store; ``False`` if it was a duplicate."""
        with self._lock:
            if event_id in self.ids:
                return False
            self.ids.add(event_id)
            if call is not None:
                self.stored_calls.append(call)
            return True

    def __getstate__(self) -> dict[str, Any]:  # travels back from a writer process
        return {"ids": self.ids, "stored_calls": self.stored_calls}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.ids, self.stored_calls, self._lock = state["ids"], state["stored_calls"], threading.Lock()


class RecordingStore:
    """The store as one writer sees it: every call is appended to ``records``.

    The experiment gives each writer its own ``RecordingStore`` and sets
    :attr:`save` before each logical save; ``attempt`` counts the
    ``save_event`` calls within that save (a read is labelled with the attempt
    it prepares); the ids of writes whose caller timed out are appended to
    ``unacknowledged``. ``result`` is ``"ok"``, ``"conflict"``, ``"timeout"`` (the
    writer stopped waiting), ``"overloaded"`` (the store's queue refused it),
    ``"unavailable"`` or ``"error"``.
    """

    __slots__ = ("_calls", "_columns", "_reports", "attempts", "clock", "last_event", "ledger", "origin",
                 "raised", "records", "save", "store", "unacknowledged", "writer")

    def __init__(self, store: Any, clock: Clock, writer: int, records: CallLog, origin: float = 0.0,
                 unacknowledged: list[str] | None = None, ledger: WriteLedger | None = None) -> None:
        check_methods("store", store, ("save_event", "get_latest_version", "get_events"), "an EventStore")
        check_methods("clock", clock, ("now", "sleep"), "a Clock")
        writer = check_int("writer", writer)
        check_instance("records", records, CallLog, "a CallLog to append calls to")
        if not (type(origin) is float and -math.inf < origin < math.inf):
            origin = check_number("origin", origin)  # a clock reading: any finite number
        if unacknowledged is not None:
            check_instance("unacknowledged", unacknowledged, list, "a list to append event ids to, or None")
        if ledger is not None:
            check_instance("ledger", ledger, WriteLedger, "a WriteLedger or None")
        self._setup(store, clock, writer, records, origin, unacknowledged, ledger)

    @classmethod
    def _for_run(cls, store: Any, clock: Clock, writer: int, records: CallLog, unacknowledged: list[str],
                 ledger: WriteLedger) -> RecordingStore:
        """A participant's recorder in a run, from arguments the run has checked once for all its participants."""
        self = cls.__new__(cls)
        self._setup(store, clock, writer, records, 0.0, unacknowledged, ledger)
        return self

    def _setup(self, store: Any, clock: Clock, writer: int, records: CallLog, origin: float,
               unacknowledged: list[str] | None, ledger: WriteLedger | None) -> None:
        self.store = store
        self.ledger = ledger if ledger is not None else WriteLedger()
        # A store that models the path to the store reports itself when a write takes effect.
        self._reports = callable(getattr(store, "save_event_as", None))
        self.unacknowledged = unacknowledged if unacknowledged is not None else []
        self.clock = clock
        self.writer = writer
        self.records = records
        self.origin = origin
        self.save = 0
        self.attempts = 0
        self._calls = 0
        self.last_event: Event | None = None
        self.raised: Exception | None = None  # the last error a call raised (see forget_raised)
        self._columns = records.appenders  # _log runs once per store call
        if records.lock is not None:  # threads share the log: every call is logged under its lock
            self.__class__ = _LockedRecordingStore

    def begin_save(self, save: int) -> None:
        """Start counting calls for logical save number *save*."""
        self.save = save
        self.attempts = 0
        self.last_event = None

    def forget_raised(self) -> None:
        """Drop the traceback of the last error a call raised, once the save that saw it has ended.

        A pattern keeps the conflict it last caught (``last``), and the
        conflict's traceback holds the pattern's frame: a reference cycle per
        save that only the garbage collector frees, long after (the runs
        collect rarely). Cutting the traceback when the save is over frees it
        at once; the error itself, its message and its data are kept.
        """
        raised = self.raised
        if raised is not None:
            self.raised = None
            raised.__traceback__ = None

    def _log(self, op: str, attempt: int, start: float, result: str, attempted: int | None,
             current: int | None) -> None:
        writer, save, call, op_, attempt_, start_, end, result_, attempted_, current_ = self._columns
        try:  # the versions first: one that no int64 holds takes the slow way, before any other column moves
            attempted_(NO_VERSION if attempted is None else attempted)
            current_(NO_VERSION if current is None else current)
        except (OverflowError, TypeError):
            self.records.add_versions(attempted, current)
        self._calls += 1
        writer(self.writer)
        save(self.save)
        call(self._calls)
        op_(op)
        attempt_(attempt)
        start_(start)
        end(self.clock.now() - self.origin)
        result_(result)

    def save_event(self, event: Event) -> None:
        self.attempts += 1
        attempt = self.attempts
        start = self.clock.now() - self.origin
        key = (self.writer, self._calls + 1)  # the number _log will give this call
        try:
            if self._reports:
                self.store.save_event_as(event, self.ledger, key)
            else:
                self.store.save_event(event)
                self.ledger.took_effect(event.id, key)
        except Exception as error:
            self.raised = error
            if error.__class__ is VersionConflictError:  # the common case, as outcome_of words it
                current, result = error.current_version, "conflict"
            else:
                current = error.current_version if isinstance(error, VersionConflictError) else None
                result = outcome_of(error)
            if result == "timeout":  # the write may still commit at the store: not lost if it does
                self.unacknowledged.append(event.id)
            self._log("save_event", attempt, start, result, event.version, current)
            raise
        self.last_event = event
        self._log("save_event", attempt, start, "ok", event.version, event.version)

    def get_latest_version(self, actor_id: str) -> int:
        start = self.clock.now() - self.origin
        try:
            version: int = self.store.get_latest_version(actor_id)
        except Exception as error:
            self.raised = error
            self._log("get_latest_version", self.attempts + 1, start, outcome_of(error), None, None)
            raise
        self._log("get_latest_version", self.attempts + 1, start, "ok", None, version)
        return version

    def get_events(self, actor_id: str, from_version: int = 1) -> list[Event]:
        start = self.clock.now() - self.origin
        try:
            events: list[Event] = self.store.get_events(actor_id, from_version)
        except Exception as error:
            self.raised = error
            self._log("get_events", self.attempts + 1, start, outcome_of(error), None, None)
            raise
        self._log("get_events", self.attempts + 1, start, "ok", None, events[-1].version if events else None)
        return events


class _LockedRecordingStore(RecordingStore):
    """A :class:`RecordingStore` whose log real threads share: each call is logged under the log's lock."""

    __slots__ = ()

    def _log(self, op: str, attempt: int, start: float, result: str, attempted: int | None,
             current: int | None) -> None:
        assert self.records.lock is not None
        with self.records.lock:  # other threads append to the same columns
            RecordingStore._log(self, op, attempt, start, result, attempted, current)
