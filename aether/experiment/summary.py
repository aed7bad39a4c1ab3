"""The headline numbers of a contention run, computed in one place from its rows."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aether.experiment.capacity import StationLog
    from aether.experiment.recorder import CallLog, SaveRow

import numpy as np

__all__ = ["RunSummary", "summarize"]


@dataclass(frozen=True)
class RunSummary:
    """The headline numbers of one run. Times are seconds; one word per result (see :mod:`~aether.experiment.outcomes`).

    * ``saves`` = ``committed`` + ``refused`` + ``failed``: a refusal (the command said no)
      is an answer, not a failure; ``failed`` counts every other save that ended without its
      event: ``gave_up`` + ``rejected`` + ``deadlines`` + ``conflicts`` + ``dead_letters`` +
      ``errors`` (``conflicts`` are conflicts that escaped a pattern without retry,
      ``dead_letters`` deferred saves a retry queue gave up on, ``errors`` saves ended by any
      other error, store errors the pattern let through included);
    * ``p50``, ``p95``, ``p99``, ``mean_latency``: latency of every save, whatever its outcome,
      as its caller waited; ``p50_committed``… the same over committed saves only;
    * ``calls``: every store call; ``write_calls``: ``save_event`` calls (the *work*);
      ``wasted_calls``: write calls that stored nothing (a conflict, an outage, an error, a
      refusal by a full queue, or a re-send the store acknowledged without storing anything;
      a write whose caller timed out but which committed all the same is not wasted);
    * ``makespan``: from the run's start until the last save returned (or, for a deferred
      save, was committed); ``throughput``: committed saves per second of makespan;
    * ``utilisation``: the fraction of the store's server time that was busy over the
      makespan, and ``mean_queue_wait`` the mean time a served call waited for a server (both
      NaN without a :class:`~aether.experiment.capacity.Capacity`); ``timeouts``: calls
      whose caller stopped waiting; ``overloaded``: calls a full queue refused; ``expired``:
      calls the store dropped unserved because their caller's deadline had passed;
    * ``deferred``: saves a pattern accepted for later (a retry queue's tickets); for them
      ``p50``… measure how long the *caller* waited, and ``commit_delay_p50`` / ``commit_delay_p95``
      how long until the event was stored (for other committed saves the two are the same).
    """

    pattern: str
    writers: int
    seed: int
    saves: int
    committed: int
    failed: int
    gave_up: int
    rejected: int
    conflicts: int
    errors: int
    p50: float
    p95: float
    p99: float
    mean_latency: float
    mean_retries: float
    max_retries: int
    calls: int
    write_calls: int
    wasted_calls: int
    makespan: float
    throughput: float
    p50_committed: float = math.nan
    p95_committed: float = math.nan
    p99_committed: float = math.nan
    mean_latency_committed: float = math.nan
    refused: int = 0
    deadlines: int = 0
    deferred: int = 0
    dead_letters: int = 0
    commit_delay_p50: float = math.nan
    commit_delay_p95: float = math.nan
    utilisation: float = math.nan
    mean_queue_wait: float = math.nan
    timeouts: int = 0
    overloaded: int = 0
    expired: int = 0

    def as_dict(self) -> dict[str, Any]:
        """The fields as a plain dict, in declaration order."""
        return asdict(self)

    def __str__(self) -> str:
        ms = 1000.0
        rows = [
            ("pattern", self.pattern),
            ("writers x saves", f"{self.writers} writers, {self.saves} saves (seed {self.seed})"),
            ("committed", f"{self.committed}"),
            *([("refused", f"{self.refused}")] if self.refused else []),
            ("failed", f"{self.failed} (gave up {self.gave_up}, rejected {self.rejected}, conflicts {self.conflicts}, "
                       + (f"deadlines {self.deadlines}, " if self.deadlines else "")
                       + (f"dead letters {self.dead_letters}, " if self.dead_letters else "")
                       + f"errors {self.errors})"),
            ("latency p50/p95/p99", f"{self.p50 * ms:.1f} / {self.p95 * ms:.1f} / {self.p99 * ms:.1f} ms"),
            ("committed p50/p95/p99",
             f"{self.p50_committed * ms:.1f} / {self.p95_committed * ms:.1f} / {self.p99_committed * ms:.1f} ms"),
            *([("deferred saves", f"{self.deferred}"),
               ("time to commit p50/p95", f"{self.commit_delay_p50 * ms:.1f} / {self.commit_delay_p95 * ms:.1f} ms")]
              if self.deferred else []),
            ("retries mean / max", f"{self.mean_retries:.2f} / {self.max_retries}"),
            ("store calls", f"{self.calls} ({self.write_calls} writes, {self.wasted_calls} wasted)"),
            ("makespan", f"{self.makespan * ms:.1f} ms"),
            ("throughput", f"{self.throughput:.1f} commits/s"),
            *([("store utilisation", f"{self.utilisation:.1%}"),
               ("mean queue wait", f"{self.mean_queue_wait * ms:.1f} ms")]
              if not math.isnan(self.utilisation) else []),
            *([("timeouts / overloaded / expired", f"{self.timeouts} / {self.overloaded} / {self.expired}")]
              if self.timeouts or self.overloaded or self.expired else []),
        ]
        width = max(len(k) for k, _ in rows)
        return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:  # IPython display: the text table
        printer.text(str(self))


def _percentile(values: np.ndarray, q: float) -> float:
    # The same computation as pandas' Series.quantile (linear interpolation), without building a Series.
    return float(np.percentile(values, q * 100)) if len(values) else math.nan


def summarize(*, pattern: str, writers: int, seed: int, rows: Sequence[SaveRow],
              records: CallLog, station: StationLog | None = None,
              workers: int | None = None, stored_writes: int | None = None) -> RunSummary:
    """The one place the summary arithmetic lives (called by :meth:`RunResult.summary`).

    *rows* are the run's saves in the saves table's order, *records* its store calls,
    *station* the store's own records of a run with a capacity of *workers* servers,
    *stored_writes* the number of write calls that stored an event (from the run's
    :class:`~aether.experiment.recorder.WriteLedger`; without it, the write calls that
    returned ``"ok"``).
    """
    committed = [r for r in rows if r.outcome == "committed"]
    results = records.result
    writes = [result for op, result in zip(records.op, results, strict=True) if op == "save_event"]
    latency = np.array([r.latency for r in rows], dtype=float)
    committed_latency = np.array([r.latency for r in committed], dtype=float)
    counts = Counter(r.outcome for r in rows)
    n_saves, n_committed = len(rows), counts.get("committed", 0)
    refused = counts.get("refused", 0)
    named = {k: counts.get(k, 0) for k in ("gave_up", "rejected", "conflict", "deadline", "dead_letter")}
    failed = n_saves - n_committed - refused
    retries = np.array([r.retries for r in rows], dtype=np.int64)
    end = np.array([r.end for r in rows], dtype=float)
    settled = np.array([r.start + r.commit_delay for r in rows], dtype=float)
    # A deferred save (a retry queue's) finishes when it is committed, not when the caller returned.
    makespan = float(np.nanmax(np.concatenate([end, settled]))) if n_saves else 0.0
    commit_delay = np.array([r.commit_delay for r in committed], dtype=float)
    commit_delay = commit_delay[~np.isnan(commit_delay)]
    stored = writes.count("ok") if stored_writes is None else stored_writes
    extra: dict[str, Any] = {}
    if station is not None and workers:
        starts, ends, served = station.start, station.end, station.result
        waits = [start - arrive for arrive, start, result in zip(station.arrive, starts, served, strict=True)
                 if result not in ("overloaded", "expired")]  # calls a server took
        busy = sum(end - start for start, end in zip(starts, ends, strict=True))
        span = max([makespan, *ends])
        extra["utilisation"] = busy / (workers * span) if span > 0 else math.nan
        extra["mean_queue_wait"] = float(np.mean(waits)) if waits else math.nan
        extra["expired"] = served.count("expired")
    return RunSummary(
        pattern=pattern,
        writers=writers,
        seed=seed,
        saves=n_saves,
        committed=n_committed,
        failed=failed,
        gave_up=named["gave_up"],
        rejected=named["rejected"],
        conflicts=named["conflict"],
        errors=failed - sum(named.values()),
        p50=_percentile(latency, 0.50),
        p95=_percentile(latency, 0.95),
        p99=_percentile(latency, 0.99),
        mean_latency=float(np.mean(latency)) if n_saves else math.nan,
        mean_retries=float(np.mean(retries)) if n_saves else 0.0,
        max_retries=int(np.max(retries)) if n_saves else 0,
        calls=len(records),
        write_calls=len(writes),
        wasted_calls=len(writes) - stored,
        makespan=makespan,
        throughput=n_committed / makespan if makespan > 0 else math.nan,
        p50_committed=_percentile(committed_latency, 0.50),
        p95_committed=_percentile(committed_latency, 0.95),
        p99_committed=_percentile(committed_latency, 0.99),
        mean_latency_committed=float(np.mean(committed_latency)) if n_committed else math.nan,
        refused=refused,
        deadlines=named["deadline"],
        deferred=sum(1 for r in rows if r.deferred),
        dead_letters=named["dead_letter"],
        commit_delay_p50=_percentile(commit_delay, 0.50),
        commit_delay_p95=_percentile(commit_delay, 0.95),
        timeouts=results.count("timeout"),
        overloaded=results.count("overloaded"),
        **extra,
    )
