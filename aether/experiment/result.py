"""What a run returns: the named rows it collected, and the tidy tables built from them."""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from aether.checks import check_int, check_number, check_seconds
from aether.experiment.capacity import StationLog, StationRecord
from aether.experiment.gcpause import fewer_collections
from aether.experiment.recorder import CallLog, CallRecord, SaveRow
from aether.experiment.summary import RunSummary, summarize

if TYPE_CHECKING:
    from aether.experiment.spec import RunSpec

__all__ = ["CALL_COLUMNS", "SAVE_COLUMNS", "ClockKind", "RunResult"]

ClockKind = Literal["simulated", "real"]


SAVE_COLUMNS = list(SaveRow._fields)
CALL_COLUMNS = list(CallRecord._fields)
STATION_COLUMNS = list(StationRecord._fields)


@dataclass
class RunResult:
    """The outcome of one :func:`~aether.experiment.run_contention`: two tidy tables and the store.

    ``saves``: one row per logical save (the fields of :class:`SaveRow`), with the
    run's ``pattern``, ``writers`` and ``seed`` in front. ``calls``: one row per
    store call (the fields of :class:`~aether.experiment.recorder.CallRecord`).
    Times are seconds from the run's start. ``spec`` is the run's
    :class:`~aether.experiment.spec.RunSpec` (``settings`` the same settings as a dict).

    ``commit_delay`` is the time from a save's start until its event was stored
    (the same as ``latency`` unless the save was ``deferred``, i.e. accepted by a
    pattern such as a retry queue and stored later; NaN if nothing was stored).
    """

    pattern: str
    writers: int
    saves_per_writer: int
    seed: int
    clock: ClockKind
    store: Any
    wall_seconds: float
    settings: dict[str, Any] = field(default_factory=dict)
    spec: RunSpec | None = field(default=None, repr=False)
    _rows: list[SaveRow] = field(default_factory=list, repr=False)
    _records: CallLog = field(default_factory=CallLog, repr=False)
    _station: StationLog | None = field(default=None, repr=False)
    _unacknowledged: list[str] = field(default_factory=list, repr=False)
    _stored_writes: int | None = field(default=None, repr=False)

    @functools.cached_property
    def saves(self) -> pd.DataFrame:
        """One row per logical save (built on first use)."""
        with fewer_collections():
            return saves_frame(self._rows, self.pattern, self.writers, self.seed)

    @functools.cached_property
    def calls(self) -> pd.DataFrame:
        """One row per store call (built on first use)."""
        with fewer_collections():
            return calls_frame(self._records, self.pattern, self.writers, self.seed)

    @functools.cached_property
    def station(self) -> pd.DataFrame:
        """One row per call as the store served it (a run with a :class:`~aether.experiment.capacity.Capacity`).

        Columns: writer, op, arrive, start, end, result, abandoned (see
        :class:`~aether.experiment.capacity.StationRecord`), plus ``wait``
        (``start - arrive``: time in the queue) and ``service`` (``end - start``).
        Empty for a run without capacity.
        """
        log = self._station if self._station is not None else StationLog()
        frame = pd.DataFrame({name: list(column) for name, column in log.columns().items()})
        for name in ("arrive", "start", "end"):
            frame[name] = frame[name].astype("float64")
        frame["writer"] = frame["writer"].astype("int64")
        frame["abandoned"] = frame["abandoned"].astype(bool)
        frame["wait"] = frame["start"] - frame["arrive"]
        frame["service"] = frame["end"] - frame["start"]
        return frame.sort_values(["arrive", "writer"], kind="stable").reset_index(drop=True)

    def summary(self) -> RunSummary:
        """The headline numbers (see :class:`~aether.experiment.summary.RunSummary`)."""
        rows = sorted(self._rows, key=_save_order)  # the saves table's order, so sums round the same way
        return summarize(pattern=self.pattern, writers=self.writers, seed=self.seed, rows=rows,
                         records=self._records, station=self._station, workers=self.servers,
                         stored_writes=self._stored_writes)

    @property
    def servers(self) -> int | None:
        """The store's servers (``Capacity.workers``), or ``None`` for a run without a capacity."""
        capacity = self.spec.capacity if self.spec is not None else self.settings.get("capacity")
        return capacity.workers if capacity is not None else None

    def timeline(self, bin: float = 0.1) -> pd.DataFrame:  # noqa: A002 - the issue's own word for it
        """Load, goodput, queue and latency per time bin of *bin* seconds: one row per bin.

        Columns (rates are per second; times in seconds from the run's start):

        * ``start``: the bin's start;
        * ``offered``: logical saves that arrived (started);
        * ``calls``: store calls the callers made (attempts, reads included);
        * ``commits``: writes that took effect at the store (a write that committed
          after its caller timed out counts here);
        * ``goodput``: logical saves whose caller was told of success (a deferred
          save counts when its event was stored);
        * ``rejected`` / ``timeouts``: calls refused by a full queue / given up on by their caller;
        * ``expired``: calls the store dropped unserved, their caller's deadline passed (per second);
        * ``refused`` / ``deadlines``: saves that ended refused by the command / past their
          deadline (per second, in the bin where they ended);
        * ``queue_depth``: mean number of calls waiting for a server; ``in_store``:
          mean number of calls at the store (waiting or in service);
          ``utilisation``: the fraction of server time busy (both NaN without a capacity);
        * ``p50`` / ``p99``: latency of the saves that finished in the bin (any outcome).
        """
        width = check_seconds("bin", bin, positive=True)
        return timeline_frame(self, width)

    def recovery_time(self, after: float, *, bin: float = 0.5, level: float = 0.8,  # noqa: A002
                      hold: int = 3) -> float:
        """Seconds from *after* (e.g. the end of a fault) until goodput is back, or ``inf`` if it never is.

        Goodput is back in the first bin (of *bin* seconds, starting at or
        after *after*) from which it stays at least *level* x the offered rate
        for *hold* bins in a row; the offered rate is the run's ``rate`` (the
        mean arrival rate of an open-loop run). A run that never gets there
        before its arrivals stop returns ``math.inf``.
        """
        after = check_seconds("after", after)
        width = check_seconds("bin", bin, positive=True)
        level = check_number("level", level, above=0.0, maximum=1.0)
        hold = check_int("hold", hold, 1)
        rate = self.settings.get("rate")
        duration = self.settings.get("duration")
        if not isinstance(rate, (int, float)) or duration is None:
            raise ValueError("recovery_time needs an open-loop run with a constant rate (run_load)")
        timeline = timeline_frame(self, width)
        starts = timeline["start"].to_numpy()
        good = (timeline["goodput"].to_numpy() >= level * rate) & (starts + width <= duration)
        for k in np.flatnonzero(starts >= after - 1e-9):
            if k + hold <= len(good) and good[k:k + hold].all():
                return float(starts[k] - after)
        return math.inf

    def amplification(self, *, bin: float = 0.5) -> float:  # noqa: A002
        """The most store calls per offered save in any bin while saves arrived (work amplification)."""
        timeline = timeline_frame(self, check_seconds("bin", bin, positive=True))
        busy = timeline[timeline["offered"] > 0]
        return float((busy["calls"] / busy["offered"]).max()) if len(busy) else math.nan

    def __repr__(self) -> str:
        return (f"<RunResult {self.pattern!r}: {self.writers} writers x {self.saves_per_writer} saves, "
                f"seed {self.seed}, {self.clock} clock>")


def _save_order(row: SaveRow) -> tuple[int, int]:
    return row.writer, row.save


def _columns(rows: list[Any], fields: list[str]) -> dict[str, list[Any]]:
    """Rows of a named tuple as one list per field (a frame is built much faster from columns)."""
    if not rows:
        return {name: [] for name in fields}
    return dict(zip(fields, (list(column) for column in zip(*rows, strict=True)), strict=True))


@functools.cache
def _label_dtype() -> Any:
    """The dtype pandas infers for a column of strings (its default string dtype), found once."""
    return pd.Series(["label"]).dtype


def _with_run(data: dict[str, Any], pattern: str, writers: int, seed: int, *, copy: bool = True) -> pd.DataFrame:
    """The table of *data*'s columns with the run's ``pattern``, ``writers`` and ``seed`` in front.

    *data*'s columns are arrays that already have the table's dtypes (object
    columns stay object); the run's label gets pandas' default string dtype,
    as inferred from a string. A table without rows takes the inserting path,
    which gives the run's columns the dtypes of their scalars.
    """
    rows = len(next(iter(data.values()))) if data else 0
    if rows == 0:
        frame = _frame({name: _kept(values) for name, values in data.items()}, 0, copy)
        frame.insert(0, "seed", seed)
        frame.insert(0, "writers", writers)
        frame.insert(0, "pattern", pattern)
        return frame
    run = {"pattern": _labels(np.full(rows, pattern, dtype=object)),
           "writers": np.full(rows, writers, dtype=np.int64), "seed": np.full(rows, seed, dtype=np.int64)}
    return _frame(run | data, rows, copy)


def _kept(values: Any) -> Any:
    """An object array as an object Series (kept object by the public constructor), anything else as it is."""
    if isinstance(values, np.ndarray) and values.dtype == object:
        return pd.Series(values, dtype=object, copy=False)
    return values


@functools.cache
def _names(names: tuple[str, ...]) -> pd.Index:
    return pd.Index(list(names))


def _frame(data: dict[str, Any], rows: int, copy: bool) -> pd.DataFrame:
    """A frame of *data*'s arrays exactly as given (no dtype inferred), with a RangeIndex.

    pandas' ``DataFrame._from_arrays`` builds it without checking every
    column again (a quarter of the time for a run's small tables); where a
    pandas lacks it, the public constructor does the same work, given object
    columns as object Series so that it infers nothing for them.
    """
    names, index = _names(tuple(data)), pd.RangeIndex(rows)
    from_arrays = getattr(pd.DataFrame, "_from_arrays", None)
    if from_arrays is not None and rows:
        try:
            arrays = [np.array(v) if copy and isinstance(v, np.ndarray) else v for v in data.values()]
            return from_arrays(arrays, columns=names, index=index, verify_integrity=False)
        except TypeError:  # pragma: no cover - a pandas whose private constructor changed
            pass
    return pd.DataFrame({name: _kept(values) for name, values in data.items()}, index=index, copy=copy)


def _labels(values: np.ndarray) -> pd.api.extensions.ExtensionArray:
    """Strings (an object array) in pandas' default string dtype, as pandas infers it for a column of them."""
    return pd.array(values, dtype=_label_dtype())


_SAVE_INTS = ("writer", "save", "attempts", "retries")
_SAVE_FLOATS = ("start", "end", "latency", "commit_delay")


def saves_frame(rows: list[SaveRow], pattern: str, writers: int, seed: int) -> pd.DataFrame:
    """The saves table: one row per logical save, ordered by writer and save."""
    rows = sorted(rows, key=_save_order)
    cols = _columns(rows, SAVE_COLUMNS)
    data: dict[str, Any] = {}
    for name in SAVE_COLUMNS:
        values = cols[name]
        if name in _SAVE_INTS:
            data[name] = np.array(values, dtype=np.int64)
        elif name in _SAVE_FLOATS:
            data[name] = np.array(values, dtype=np.float64)
        elif name == "version":
            data[name] = _versions(np.array(values, dtype=object)) if values else pd.array(values, dtype="Int64")
        elif name == "deferred":
            data[name] = np.array(values, dtype=bool)
        else:
            data[name] = _objects(values)
    return _with_run(data, pattern, writers, seed, copy=False)


def _objects(values: list[Any]) -> np.ndarray:
    """A list as a one-dimensional object array (never a two-dimensional one, whatever its items)."""
    array = np.empty(len(values), dtype=object)
    array[:] = values
    return array


def _versions(values: np.ndarray) -> pd.api.extensions.ExtensionArray:
    """Versions (ints, ``None`` where a call has none) as a nullable Int64 array, without a per-item step."""
    missing = np.equal(values, None)
    if not missing.any():
        return pd.arrays.IntegerArray(values.astype(np.int64), missing)
    filled = values.copy()
    filled[missing] = 0
    return pd.arrays.IntegerArray(filled.astype(np.int64), missing)


def calls_frame(records: CallLog, pattern: str, writers: int, seed: int) -> pd.DataFrame:
    """The calls table: one row per store call, ordered by start time (then writer, call)."""
    versions = {name: records.versions(name) for name in ("attempted_version", "current_version")}
    columns = {name: records.column(name) for name in CALL_COLUMNS if versions.get(name) is None}
    order = np.lexsort((columns["call"], columns["writer"], columns["start"]))  # (writer, call) is unique
    data: dict[str, Any] = {}
    for name in CALL_COLUMNS:
        kept = versions.get(name)
        if kept is not None:  # the usual case: int64 values and a mask, as the log keeps them
            numbers, missing = kept
            data[name] = pd.arrays.IntegerArray(numbers[order], missing[order])
            continue
        values = columns[name][order]
        if name in ("attempted_version", "current_version"):
            values = _versions(values)
        elif name in ("op", "result") and len(values):  # words, in the dtype pandas infers for them
            values = _labels(values)
        data[name] = values
    return _with_run(data, pattern, writers, seed, copy=False)


def _integral(starts: np.ndarray, ends: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """For each edge x: the integral from 0 to x of the number of intervals ``[start, end)`` covering t."""
    a = np.sort(starts)
    b = np.sort(ends)
    ca = np.concatenate([[0.0], np.cumsum(a)])
    cb = np.concatenate([[0.0], np.cumsum(b)])
    ka = np.searchsorted(a, edges, side="left")
    kb = np.searchsorted(b, edges, side="left")
    return (ka * edges - ca[ka]) - (kb * edges - cb[kb])


def _mean_count(starts: np.ndarray, ends: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """The time-averaged number of intervals open in each bin between consecutive *edges*."""
    integral = _integral(starts, ends, edges)
    return np.diff(integral) / np.diff(edges)


def timeline_frame(result: RunResult, width: float) -> pd.DataFrame:
    """The per-bin table behind :meth:`RunResult.timeline`."""
    rows, records, station = result._rows, result._records, result._station
    start = np.array([r.start for r in rows], dtype=float)
    end = np.array([r.end for r in rows], dtype=float)
    latency = np.array([r.latency for r in rows], dtype=float)
    told = np.array([r.start + r.commit_delay for r in rows if r.outcome == "committed"], dtype=float)
    call_start = records.column("start")
    call_end = records.column("end")
    results = records.column("result")
    ops = records.column("op")
    outcome = np.array([r.outcome for r in rows], dtype=object)
    horizon = max([0.0, *end, *told, call_end.max(initial=0.0)] + ([max(station.end)] if station else []))
    bins = max(1, math.ceil(horizon / width - 1e-9))
    edges = np.arange(bins + 1, dtype=float) * width

    def rate(times: np.ndarray) -> np.ndarray:
        counts, _ = np.histogram(times, bins=edges)
        return counts / width

    if station:
        st_op = np.array(station.op, dtype=object)
        st_result = np.array(station.result, dtype=object)
        st_arrive = np.array(station.arrive, dtype=float)
        st_start = np.array(station.start, dtype=float)
        st_end = np.array(station.end, dtype=float)
        commits = rate(st_end[(st_op == "save_event") & (st_result == "ok")])
        expired = rate(st_end[st_result == "expired"])
        served = st_result != "overloaded"  # an expired call waited in the queue too
        queue_depth = _mean_count(st_arrive[served], st_start[served], edges)
        in_store = _mean_count(st_arrive, st_end, edges)
        utilisation = _mean_count(st_start, st_end, edges) / (result.servers or 1)
    else:
        commits = rate(call_end[(ops == "save_event") & (results == "ok")])
        queue_depth = in_store = utilisation = np.full(bins, np.nan)
        expired = np.zeros(bins)
    which = np.clip(np.searchsorted(edges, end, side="right") - 1, 0, bins - 1)
    p50 = np.full(bins, np.nan)
    p99 = np.full(bins, np.nan)
    for k in np.unique(which):
        values = latency[which == k]
        p50[k] = np.percentile(values, 50)
        p99[k] = np.percentile(values, 99)
    return pd.DataFrame({
        "start": edges[:-1],
        "offered": rate(start),
        "calls": rate(call_start),
        "commits": commits,
        "goodput": rate(told),
        "rejected": rate(call_end[results == "overloaded"]),
        "timeouts": rate(call_end[results == "timeout"]),
        "expired": expired,
        "refused": rate(end[outcome == "refused"]),
        "deadlines": rate(end[outcome == "deadline"]),
        "queue_depth": queue_depth,
        "in_store": in_store,
        "utilisation": utilisation,
        "p50": p50,
        "p99": p99,
    })
