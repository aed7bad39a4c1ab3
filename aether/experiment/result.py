"""What a run returns: the named rows it collected, and the tidy tables built from them."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

import numpy as np
import pandas as pd

from aether.experiment.recorder import CallRecord
from aether.experiment.summary import RunSummary, summarize

__all__ = ["CALL_COLUMNS", "SAVE_COLUMNS", "ClockKind", "RunResult", "SaveRow"]

ClockKind = Literal["simulated", "real"]


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


SAVE_COLUMNS = list(SaveRow._fields)
CALL_COLUMNS = list(CallRecord._fields)


@dataclass
class RunResult:
    """The outcome of one :func:`~aether.experiment.run_contention`: two tidy tables and the store.

    ``saves``: one row per logical save (the fields of :class:`SaveRow`), with the
    run's ``pattern``, ``writers`` and ``seed`` in front. ``calls``: one row per
    store call (the fields of :class:`~aether.experiment.recorder.CallRecord`).
    Times are seconds from the run's start.

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
    _rows: list[SaveRow] = field(default_factory=list, repr=False)
    _records: list[CallRecord] = field(default_factory=list, repr=False)

    @functools.cached_property
    def saves(self) -> pd.DataFrame:
        """One row per logical save (built on first use)."""
        return saves_frame(self._rows, self.pattern, self.writers, self.seed)

    @functools.cached_property
    def calls(self) -> pd.DataFrame:
        """One row per store call (built on first use)."""
        return calls_frame(self._records, self.pattern, self.writers, self.seed)

    def summary(self) -> RunSummary:
        """The headline numbers (see :class:`~aether.experiment.summary.RunSummary`)."""
        rows = sorted(self._rows, key=_save_order)  # the saves table's order, so sums round the same way
        return summarize(pattern=self.pattern, writers=self.writers, seed=self.seed, rows=rows,
                         records=self._records)

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


def _with_run(frame: pd.DataFrame, pattern: str, writers: int, seed: int) -> pd.DataFrame:
    frame.insert(0, "seed", seed)
    frame.insert(0, "writers", writers)
    frame.insert(0, "pattern", pattern)
    return frame


def saves_frame(rows: list[SaveRow], pattern: str, writers: int, seed: int) -> pd.DataFrame:
    """The saves table: one row per logical save, ordered by writer and save."""
    rows = sorted(rows, key=_save_order)
    cols = _columns(rows, SAVE_COLUMNS)
    data: dict[str, Any] = {}
    for name in SAVE_COLUMNS:
        values = cols[name]
        if name in ("writer", "save", "attempts", "retries"):
            data[name] = np.array(values, dtype=np.int64)
        elif name in ("start", "end", "latency", "commit_delay"):
            data[name] = np.array(values, dtype=np.float64)
        elif name == "version":
            data[name] = pd.array(values, dtype="Int64")
        elif name == "deferred":
            data[name] = np.array(values, dtype=bool)
        else:
            data[name] = pd.Series(values, dtype=object)
    return _with_run(pd.DataFrame(data), pattern, writers, seed)


def calls_frame(records: list[CallRecord], pattern: str, writers: int, seed: int) -> pd.DataFrame:
    """The calls table: one row per store call, ordered by start time (then writer, call)."""
    cols = _columns(records, CALL_COLUMNS)
    start = np.array(cols["start"], dtype=np.float64)
    writer = np.array(cols["writer"], dtype=np.int64)
    call = np.array(cols["call"], dtype=np.int64)
    order = np.lexsort((call, writer, start))  # stable: ties keep their recorded order
    data: dict[str, Any] = {}
    for name in CALL_COLUMNS:
        values = cols[name]
        if name in ("writer", "save", "call", "attempt"):
            column: Any = np.array(values, dtype=np.int64)[order]
        elif name in ("start", "end"):
            column = np.array(values, dtype=np.float64)[order]
        elif name in ("attempted_version", "current_version"):
            column = pd.array(values, dtype="Int64")[order]
        else:
            column = np.array(values, dtype=object)[order]
        data[name] = column
    return _with_run(pd.DataFrame(data), pattern, writers, seed)
