r"""Where each retry pattern wins: a map over load, contention and failure, built with the sweep machinery.

Chapter 10 stands on it. Every contender makes the same saves (a decision,
``decide(events)``, under one idempotency key per save: :class:`Commanded`)
on the same busy server (:data:`~aether.experiment.scenarios.BUSY_SERVER`,
callers' timeout 0.25 s), in an open loop, at every cell of a grid:

* **load**: the offered rate as a share of the store's capacity (:data:`LOADS`);
* **contention**: how many actors the saves share (:data:`CONTENTION`: spread over
  5,000 actors, or a few hot ones);
* **failure**: none, a one-second outage, or a one-second 4x slowdown, the trigger of
  chapter 08's storm (:data:`FAILURES`).

Each run is measured by :func:`measure_cell` (committed share, sustained recovery,
every-save latency, calls per save); :func:`build` runs the grid with
:func:`~aether.experiment.sweep_load` (``jobs`` processes, or a Dask cluster with
``backend="dask"``), :func:`summarise` gives each pattern's mean and 95% interval
per cell, and :func:`winners` names each cell's winner and the patterns that tie with
it; :func:`guide` reads the recommendations off it. The committed map is rebuilt with::

    python -m aether.experiment.patternmap build --seeds 0-19 --jobs 2 --out aether/data/pattern_map.csv

(``--backend dask`` runs the same sweeps on a local Dask cluster of ``--jobs`` workers). The map
holds 12 contenders x 18 cells x 20 seeds = 4,320 runs; a full rebuild costs about 2,900 s of wall
time on two cores shared with other work (the first ten contenders took 2,189 s, the two patient
ones 675 s). Each run is deterministic per (pattern, cell, seed), whatever else is built with it,
so the map grows without a full rebuild: build only the new contenders and merge them with the
committed runs in a full build's order::

    python -m aether.experiment.patternmap build --seeds 0-19 --jobs 2 --patterns "patient jitter" \
        "patient jitter + budget" --out new.csv
    python -m aether.experiment.patternmap merge aether/data/pattern_map.csv new.csv --out aether/data/pattern_map.csv

The file holds one row per run, so it is the same bytes whichever way it is built; a test
rebuilds a few cells and finds their rows in the committed file.

Cells are called by :func:`verdicts`: each pattern's per-seed difference from the cell's best
(the seeds are shared, so the differences are paired), with a 95% interval on their mean and a
practical-equivalence margin per measurement (:data:`MARGINS`).
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import inspect
import io
import math
import random
import statistics
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from aether.checks import (
    check_choice,
    check_instance,
    check_int,
    check_items,
    check_number,
    check_text,
    show,
)
from aether.contracts import RunContext, is_bindable
from aether.events import Event
from aether.experiment.capacity import Slowdown
from aether.experiment.harness import BACKENDS, check_jobs, one_progress_bar, sweep_load
from aether.experiment.network import Outage
from aether.experiment.result import RunResult
from aether.experiment.runners import accepts_rng

__all__ = [
    "CAPACITY",
    "COLUMNS",
    "CONTENTION",
    "DATA_FILE",
    "DURATION",
    "FAILURES",
    "LOADS",
    "MARGINS",
    "METRICS",
    "PATIENT",
    "PATIENT_BUDGET",
    "RECOVERY_WITHIN",
    "Commanded",
    "append_entry",
    "build",
    "cell_settings",
    "contenders",
    "guide",
    "load_map",
    "main",
    "merge",
    "measure_cell",
    "outcome_time",
    "summarise",
    "to_csv",
    "verdicts",
    "winners",
]

#: Offered load as a share of the store's capacity (:data:`CAPACITY` saves/s).
LOADS: tuple[float, ...] = (0.4, 0.7, 0.85)
#: Contention: how many actors the saves are spread over.
CONTENTION: Mapping[str, int] = {"spread": 5000, "hot": 5}
#: The failure of each cell: none, the store unreachable, or 4x slower (from :data:`FAULT_START`, for 1 s).
FAILURES: tuple[str, ...] = ("none", "outage", "slowdown")
#: When the fault starts (seconds of arrivals) and how long it lasts.
FAULT_START, FAULT_LENGTH = 3.0, 1.0
#: Seconds of arrivals per run: long enough to tell recovery within :data:`RECOVERY_WITHIN` s for good.
DURATION = 10.0
#: The callers' timeout on every store call (seconds), as in chapters 06-08.
TIMEOUT = 0.25
#: Recovered means goodput back for good within this many seconds of the fault's end.
RECOVERY_WITHIN = 1.0
#: The measurements of every run, the map's columns, in order.
METRICS: tuple[str, ...] = ("committed_share", "recovered", "p95_outcome", "calls_per_save")
#: The columns of the map's file, in order: the cell, the pattern, the seed, the measurements.
COLUMNS: tuple[str, ...] = ("failure", "contention", "load", "pattern", "seed", *METRICS)
#: Where the committed map lives inside the package.
DATA_FILE = "pattern_map.csv"
#: The practical-equivalence margin of each measurement: a pattern within it of a cell's best (on the mean
#: paired difference over seeds) ties the best. Half a point of committed share; a tenth of the seeds for
#: recovery; 25 ms of p95 time to outcome; a twentieth of a store call per save.
MARGINS: Mapping[str, float] = {"committed_share": 0.005, "recovered": 0.10, "p95_outcome": 0.025,
                                "calls_per_save": 0.05}
#: Which way each measurement is better.
HIGHER_IS_BETTER: Mapping[str, bool] = {"committed_share": True, "recovered": True, "p95_outcome": False,
                                        "calls_per_save": False}


def _profile() -> Any:
    from aether.experiment.scenarios import BUSY_SERVER

    return BUSY_SERVER


def _capacity_saves() -> float:
    profile = _profile()
    return profile.workers / (profile.read.mean + profile.write.mean)


#: The busy server's capacity in saves per second (a read and a write each): about 104.
CAPACITY: float = _capacity_saves()


# --------------------------------------------------------------------------- the saves


def append_entry(request: Mapping[str, Any], events: Sequence[Event]) -> dict[str, Any]:
    """The map's decision: append the request as the actor's next entry, numbered after what was read.

    It never refuses, so every save can commit and the map compares patterns on
    the same work; it is re-made on every fresh read, as a decision is.
    """
    return {**request, "entry": len(events) + 1}


class _Saving:
    """A bound contender: each save passes a decision and a key made from the caller and save numbers."""

    def __init__(self, retry: Callable[..., Any]) -> None:
        self.retry = retry
        self.rng = accepts_rng(retry)

    def __call__(self, store: Any, actor_id: str, event_type: str, data: Mapping[str, Any], *, clock: Any,
                 rng: random.Random | None = None) -> Any:
        decide = functools.partial(append_entry, dict(data))
        key = f"save-{data['writer']}-{data['save']}"
        extra = {"rng": rng} if self.rng and rng is not None else {}
        return self.retry(store, actor_id, event_type, decide, clock=clock, key=key, **extra)

    def close(self) -> None:
        """Close the retry if it has background work (a queue drains); nothing otherwise."""
        close = getattr(self.retry, "close", None)
        if close is not None:
            close()


@dataclass(frozen=True)
class Commanded:
    """A retry pattern whose saves carry a decision (:func:`append_entry`) and one idempotency key each.

    The experiment hands patterns the Go template's blind mapping; wrap a pattern
    in this to save the chapters' way instead (retry the command, not the write:
    chapters 00 and 05). *pattern* is a pattern function (a partial is fine) or a
    policy with shared state (a breaker, a budget, a queue); ``name`` labels it.
    """

    pattern: Any
    name: str

    def __post_init__(self) -> None:
        check_text("name", self.name)
        if not (callable(self.pattern) or is_bindable(self.pattern)) or isinstance(self.pattern, type):
            raise TypeError(f"pattern must be a pattern function or a policy instance; got {show(self.pattern)}")

    def bind(self, ctx: RunContext) -> _Saving:
        """The callers' callable for one run (a policy is bound to the run first)."""
        inner = self.pattern
        if is_bindable(inner) and not inspect.isfunction(inner):
            inner = inner.bind(ctx)
        return _Saving(inner)


#: The patient contenders' wait: full jitter on ``min(1 s, 0.2 s * 2**n)``, six attempts in all. Their
#: waits add up to 1.7 s on average (3.4 s at most): longer than the map's one-second outage.
PATIENT: Mapping[str, float] = {"base_delay": 0.2, "max_delay": 1.0, "max_attempts": 6}


#: The patient budget: 200 retries in the bucket, a retry costs 1 token whatever failed, and every
#: successful save puts 0.1 back (one retry per ten successes once the bucket is spent).
PATIENT_BUDGET: Mapping[str, float] = {"max_tokens": 200, "retry_cost": 1, "unavailable_cost": 1,
                                       "success_refund": 0.1}


def contenders() -> dict[str, Commanded]:
    """The map's patterns by label: every pattern of the collection and the combinations production uses.

    Conflict retries (simple, conflict-detailed, full jitter, adaptive) retry
    conflicts only; "retry failures + jitter" retries store failures too, with
    full jitter on a 10 ms base, four attempts (what most client code does: its
    waits end within 70 ms, long before the map's one-second outage does);
    "backoff + budget" and "backoff + breaker" put chapter 07's budget (its
    defaults: 500 tokens, 10 per retry after a store failure, 1 back per success,
    so an outage spends it within a quarter of a second) and chapter 06's breaker
    on capped exponential backoff; "patient jitter" retries failures with full
    jitter long enough to outlast the outage (:data:`PATIENT`), and
    "patient jitter + budget" does the same on a budget that refills
    (:data:`PATIENT_BUDGET`); "retry queue" accepts the write and lands it later.
    """
    from aether.patterns import (
        AdaptiveThrottlingPolicy,
        CircuitBreakerPolicy,
        QueuedWrites,
        RetryBudgetPolicy,
        adaptive_retry,
        conflict_detailed_retry,
        jitter_retry,
        no_retry,
        retry_on_failure,
        simple_retry,
    )

    patterns: dict[str, Any] = {
        "no retry": no_retry,
        "simple": simple_retry,
        "conflict-detailed": conflict_detailed_retry,
        "full jitter": jitter_retry,
        "adaptive": adaptive_retry,
        "retry failures + jitter": functools.partial(retry_on_failure, base_delay=0.010, max_attempts=4),
        "backoff + budget": RetryBudgetPolicy(),
        "backoff + breaker": CircuitBreakerPolicy(),
        "adaptive throttling": AdaptiveThrottlingPolicy(window=2.0, buckets=10),
        "retry queue": QueuedWrites(),
        "patient jitter": functools.partial(retry_on_failure, **PATIENT),
        "patient jitter + budget": RetryBudgetPolicy(jitter="full", **PATIENT_BUDGET,  # type: ignore[arg-type]
                                                     **PATIENT),
    }
    return {label: Commanded(pattern, label) for label, pattern in patterns.items()}


# --------------------------------------------------------------------------- one cell


def cell_settings(contention: str, failure: str, duration: float = DURATION) -> dict[str, Any]:
    """The :func:`~aether.experiment.run_load` settings of a cell (all but the rate): store, path, actors.

    The store is the busy server of chapters 06-08 with the callers' 0.25 s
    timeout; ``"outage"`` makes it unreachable, ``"slowdown"`` 4x slower, for
    one second from :data:`FAULT_START`.
    """
    contention = check_choice("contention", contention, tuple(CONTENTION))
    failure = check_choice("failure", failure, FAILURES)
    profile = _profile()
    end = FAULT_START + FAULT_LENGTH
    outages = [Outage(FAULT_START, end)] if failure == "outage" else []
    faults = [Slowdown(FAULT_START, end, 4.0)] if failure == "slowdown" else []
    return {"duration": duration, "actors": CONTENTION[contention],
            "network": profile.network(timeout=TIMEOUT, outages=outages), "capacity": profile.capacity(faults=faults)}


def _outcome_times(saves: pd.DataFrame) -> np.ndarray:
    """How long each save took to reach its outcome: the caller's wait, or for a deferred save the time to commit."""
    latency = saves["latency"].to_numpy(dtype=float)
    delay = saves["commit_delay"].to_numpy(dtype=float)
    deferred = saves["deferred"].to_numpy(dtype=bool)
    return np.where(deferred & ~np.isnan(delay), delay, latency)


def outcome_time(result: RunResult, q: float = 0.95) -> float:
    """The *q*-quantile over every save of the time until its outcome was known (see :func:`measure_cell`).

    Use it to compare a pattern whose callers wait with one that defers the write
    (a queue's caller returns at once; its save is done when it is stored).
    """
    check_instance("result", result, RunResult, "a RunResult")
    return float(np.percentile(_outcome_times(result.saves), 100 * check_number("q", q, minimum=0.0, maximum=1.0)))


def measure_cell(result: RunResult, *, failure: str) -> dict[str, float]:
    """The map's measurements of one run.

    * ``committed_share``: committed saves over offered saves (a queue's count once it drained);
    * ``recovered``: 1 if goodput was back for good (80% of arrivals over every 2-s window to the
      end) within :data:`RECOVERY_WITHIN` s of the fault's end, else 0; NaN without a fault;
    * ``p95_outcome``: the 95th percentile over *every* save of the time until its outcome was
      known (a queued save: until it was stored; a failed one: until its caller heard);
    * ``calls_per_save``: store calls (reads and writes) per offered save: the work.
    """
    from aether.claims.metrics import sustained_recovery_time

    failure = check_choice("failure", failure, FAILURES)
    summary = result.summary()
    recovered = math.nan
    if failure != "none":
        took = sustained_recovery_time(result, FAULT_START + FAULT_LENGTH)
        recovered = 1.0 if took <= RECOVERY_WITHIN else 0.0
    return {"committed_share": summary.committed / summary.saves,
            "recovered": recovered,
            "p95_outcome": outcome_time(result, 0.95),
            "calls_per_save": summary.calls / summary.saves}


# --------------------------------------------------------------------------- the grid


def _rate(load: float) -> float:
    return round(load * CAPACITY, 3)


def _check_names(name: str, values: Iterable[str] | None, allowed: Sequence[str]) -> list[str]:
    if values is None:
        return list(allowed)
    items = check_items(name, values, f"a list of names from {list(allowed)}", empty=False)
    return [check_choice(f"{name}[{i}]", v, tuple(allowed)) for i, v in enumerate(items)]


def build(seeds: Iterable[int], *, patterns: Iterable[str] | None = None, loads: Iterable[float] | None = None,
          contention: Iterable[str] | None = None, failures: Iterable[str] | None = None, jobs: int = 1,
          backend: str | None = None, progress: bool | None = None, duration: float = DURATION) -> pd.DataFrame:
    """Run every pattern at every cell for every seed; one row per run with :data:`COLUMNS`.

    Each (contention, failure) pair is one :func:`~aether.experiment.sweep_load` over the
    patterns, the rates of *loads* and the seeds, so ``jobs`` and ``backend`` (``"dask"``: the
    cluster of the current ``dask.distributed.Client``) work as there, and the frame is the same
    row for row whichever runs it. Leave out *patterns*, *loads*, *contention* or *failures* for
    all of them; a subset gives the same rows as the full grid's (a cheap re-check of the map).
    """
    named = contenders()
    pattern_list = _check_names("patterns", patterns, tuple(named))
    load_list = [float(x) for x in (LOADS if loads is None else check_items("loads", loads, "a list of loads",
                                                                             empty=False))]
    for i, load in enumerate(load_list):
        if load not in LOADS:
            raise ValueError(f"loads[{i}] must be one of the map's loads {list(LOADS)}; got {show(load)}")
    contention_list = _check_names("contention", contention, tuple(CONTENTION))
    failure_list = _check_names("failures", failures, FAILURES)
    seed_list = [check_int(f"seeds[{i}]", s, 0) for i, s in enumerate(check_items("seeds", seeds, "a list of seeds",
                                                                                    empty=False))]
    check_jobs(jobs)
    chosen = {label: named[label] for label in pattern_list}
    rates = [_rate(load) for load in load_list]
    loads_by_rate = dict(zip(rates, load_list, strict=True))
    total = len(chosen) * len(rates) * len(seed_list) * len(contention_list) * len(failure_list)
    label = (f"pattern map: {len(chosen)} pattern(s) x {len(rates)} load(s) x {len(contention_list)} contention(s) "
             f"x {len(failure_list)} failure(s) x {len(seed_list)} seed(s)")
    frames = []
    with one_progress_bar(total, label, progress):
        for failure in failure_list:
            for level in contention_list:
                frame = sweep_load(chosen, rates=rates, seeds=seed_list, jobs=jobs, backend=backend,
                                   measure=functools.partial(measure_cell, failure=failure),
                                   **cell_settings(level, failure, duration))
                frames.append(pd.DataFrame({"failure": failure, "contention": level,
                                            "load": frame["rate"].map(loads_by_rate), "pattern": frame["pattern"],
                                            "seed": frame["seed"],
                                            **{m: frame[m].astype(float).round(6) for m in METRICS}}))
    return pd.concat(frames, ignore_index=True)[list(COLUMNS)]


def to_csv(runs: pd.DataFrame) -> str:
    """The map's file text: :data:`COLUMNS`, one line per run, the same bytes for the same runs."""
    check_instance("runs", runs, pd.DataFrame, "a DataFrame from build()")
    buffer = io.StringIO()
    runs[list(COLUMNS)].to_csv(buffer, index=False, lineterminator="\n", float_format="%.6g")
    return buffer.getvalue()


def merge(*parts: pd.DataFrame) -> pd.DataFrame:
    """Runs from several builds as one map, in the order a single :func:`build` of all of them gives.

    Runs are deterministic per (pattern, cell, seed), so a map can be extended
    without rebuilding it: build only the new contenders (or seeds) and merge them
    with the committed runs; a run present in several parts is taken from the
    last. ``to_csv(merge(old, new))`` is then the bytes a full build would write.
    """
    if not parts:
        raise ValueError("parts must hold at least one DataFrame from build() or load_map(); got none")
    for i, part in enumerate(parts):
        check_instance(f"parts[{i}]", part, pd.DataFrame, "a DataFrame from build() or load_map()")
    runs = pd.concat(parts, ignore_index=True)
    keys = ["failure", "contention", "load", "pattern", "seed"]
    runs = runs.drop_duplicates(keys, keep="last")
    orders = {"failure": list(FAILURES), "contention": list(CONTENTION), "pattern": list(contenders()),
              "load": list(LOADS)}
    rank = {name: runs[name].map({v: i for i, v in enumerate(values)}) for name, values in orders.items()}
    for name, ranks in rank.items():
        if ranks.isna().any():
            odd = runs.loc[ranks.isna(), name].iloc[0]
            raise ValueError(f"parts hold a {name} the map does not have: {show(odd)}")
    order = pd.DataFrame({**rank, "seed": runs["seed"]}).sort_values(
        ["failure", "contention", "pattern", "load", "seed"], kind="stable").index
    return runs.loc[order, list(COLUMNS)].reset_index(drop=True)


def load_map(path: str | Path | None = None) -> pd.DataFrame:
    """The committed map (one row per run), or the file at *path*."""
    if path is None:
        text = resources.files("aether").joinpath("data", DATA_FILE).read_text(encoding="utf-8")
        return pd.read_csv(io.StringIO(text))
    return pd.read_csv(path)


# --------------------------------------------------------------------------- reading it


def _interval(values: pd.Series) -> tuple[float, float, float, int]:
    """Mean and 95% t-interval of the mean over seeds (NaN dropped), and the count."""
    data = values.dropna().to_numpy(dtype=float)
    n = len(data)
    if n == 0:
        return math.nan, math.nan, math.nan, 0
    mean = float(data.mean())
    if n == 1:
        return mean, mean, mean, 1
    half = _t95(n - 1) * float(data.std(ddof=1)) / math.sqrt(n)
    return mean, mean - half, mean + half, n


@functools.cache
def _t95(df: int) -> float:
    """The two-sided 95% quantile of Student's t with *df* degrees of freedom (by bisection on its CDF)."""
    if df >= 200:
        return statistics.NormalDist().inv_cdf(0.975)
    low, high = 1.9, 13.0
    for _ in range(60):
        mid = (low + high) / 2
        if _t_cdf(mid, df) < 0.975:
            low = mid
        else:
            high = mid
    return (low + high) / 2


def _t_cdf(t: float, df: int) -> float:
    # Simpson's rule on the t density from 0 to t: ample for a quantile used to draw an interval.
    c = math.gamma((df + 1) / 2) / (math.sqrt(df * math.pi) * math.gamma(df / 2))
    steps = 2000
    h = t / steps
    total = sum((1 if i in (0, steps) else 4 if i % 2 else 2) * (1 + (i * h) ** 2 / df) ** (-(df + 1) / 2)
                for i in range(steps + 1))
    return 0.5 + c * total * h / 3


def summarise(runs: pd.DataFrame) -> pd.DataFrame:
    """Each pattern's mean, 95% interval (``_lo``, ``_hi``) and seed count per cell, for every measurement."""
    check_instance("runs", runs, pd.DataFrame, "a DataFrame from build() or load_map()")
    rows = []
    for (failure, contention, load, pattern), group in runs.groupby(["failure", "contention", "load", "pattern"],
                                                                     sort=False):
        row: dict[str, Any] = {"failure": failure, "contention": contention, "load": load, "pattern": pattern}
        for metric in METRICS:
            mean, lo, hi, n = _interval(group[metric])
            row.update({metric: mean, f"{metric}_lo": lo, f"{metric}_hi": hi, f"{metric}_n": n})
        rows.append(row)
    return pd.DataFrame(rows)


def _paired_interval(diffs: np.ndarray) -> tuple[float, float, float]:
    """Mean and 95% t-interval of the mean of paired differences (one per seed)."""
    n = len(diffs)
    mean = float(diffs.mean())
    if n < 2:
        return mean, -math.inf, math.inf
    half = _t95(n - 1) * float(diffs.std(ddof=1)) / math.sqrt(n)
    return mean, mean - half, mean + half


def verdicts(runs: pd.DataFrame, metric: str = "committed_share") -> pd.DataFrame:
    """Each pattern against its cell's best on *metric*, paired seed by seed: ``best``, ``tie`` or ``lose``.

    The seeds are shared: seed *s* gives every pattern the same arrivals, so the
    comparison is the difference per seed, pattern minus the cell's best (the
    pattern with the best mean), signed so that negative is worse. ``diff`` is
    its mean over the seeds both have, ``diff_lo``/``diff_hi`` its 95%
    t-interval. A pattern **loses** when it is worse by more than the metric's
    :data:`MARGINS` on average *and* the interval excludes zero (surely worse,
    and by more than matters); otherwise it **ties** with the best. Use it, not
    overlapping intervals, to call a cell: overlapping per-pattern intervals miss a
    difference that every seed shows, and a significant 0.05-point lead is no win.
    """
    check_instance("runs", runs, pd.DataFrame, "a DataFrame from build() or load_map()")
    metric = check_choice("metric", metric, METRICS)
    sign = 1.0 if HIGHER_IS_BETTER[metric] else -1.0
    margin = MARGINS[metric]
    rows = []
    for (failure, contention, load), cell in runs.groupby(["failure", "contention", "load"], sort=False):
        table = cell.pivot_table(index="seed", columns="pattern", values=metric, sort=False, dropna=False)
        table = table.dropna(axis=1, how="all")
        if table.empty:
            continue
        means = table.mean()
        best = (means * sign).idxmax()
        for pattern in table.columns:
            both = table[[pattern, best]].dropna()
            diffs = sign * (both[pattern] - both[best]).to_numpy(dtype=float)
            diff, lo, hi = _paired_interval(diffs)
            if pattern == best:
                verdict = "best"
            elif diff < -margin and hi < 0:
                verdict = "lose"
            else:
                verdict = "tie"
            rows.append({"failure": failure, "contention": contention, "load": load, "pattern": pattern,
                         "mean": float(means[pattern]), "best": best, "diff": diff, "diff_lo": lo, "diff_hi": hi,
                         "n": len(diffs), "verdict": verdict})
    return pd.DataFrame(rows)


def winners(runs: pd.DataFrame, metric: str = "committed_share") -> pd.DataFrame:
    """Per cell: the best pattern on *metric*, its margin over the runner-up, and the patterns tied with it.

    *runs* is one row per run (:func:`build`, :func:`load_map`); the calls are
    :func:`verdicts`' (paired per seed, with a practical-equivalence margin).
    ``value``/``lo``/``hi`` are the winner's mean and 95% interval over seeds (for
    display); ``ties`` lists the patterns that do not lose to it, the winner first,
    then by mean, and ``losers`` those that do; ``clear`` is True when every other
    pattern loses.
    """
    metric = check_choice("metric", metric, METRICS)
    calls = verdicts(runs, metric)
    higher = HIGHER_IS_BETTER[metric]
    rows = []
    for (failure, contention, load), cell in calls.groupby(["failure", "contention", "load"], sort=False):
        ranked = cell.sort_values("mean", ascending=not higher, kind="stable")
        best = ranked[ranked["verdict"] == "best"].iloc[0]
        tied = ranked[ranked["verdict"] != "lose"]
        others = ranked[ranked["verdict"] != "best"]
        group = runs[(runs["failure"] == failure) & (runs["contention"] == contention) & (runs["load"] == load)
                     & (runs["pattern"] == best["pattern"])]
        value, lo, hi, _ = _interval(group[metric])
        rows.append({"failure": failure, "contention": contention, "load": load, "winner": best["pattern"],
                     "value": value, "lo": lo, "hi": hi,
                     "margin": abs(best["mean"] - others.iloc[0]["mean"]) if len(others) else math.nan,
                     "ties": tuple(tied["pattern"]),
                     "losers": tuple(ranked.loc[ranked["verdict"] == "lose", "pattern"]), "clear": len(tied) == 1})
    return pd.DataFrame(rows)


def guide(board: pd.DataFrame) -> pd.DataFrame:
    """The decision guide that follows from a map: per cell, what to use, in words, from :func:`winners`.

    A clear cell recommends its winner; a tied cell recommends any of its tied
    patterns (they commit the same within the margin), written as "any but" the
    losers where those are fewer. One row per cell with ``failure``,
    ``contention``, ``load`` and ``use``; nothing is added that the map does not say.
    """
    check_instance("board", board, pd.DataFrame, "a DataFrame from winners()")
    rows = []
    for _, cell in board.iterrows():
        ties, losers = list(cell["ties"]), list(cell.get("losers", ()))
        if cell["clear"]:
            use = ties[0]
        elif not losers:
            use = "any"
        elif losers and len(losers) < len(ties):
            use = "any but " + ", ".join(losers)
        else:
            use = "any of " + ", ".join(ties)
        rows.append({"failure": cell["failure"], "contention": cell["contention"], "load": cell["load"],
                     "use": use})
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- the command


def _seed_range(text: str) -> range:
    first, _, last = text.partition("-")
    try:
        low, high = int(first), int(last or first)
    except ValueError:
        raise argparse.ArgumentTypeError(f"seeds must read A-B (like 0-29); got {text!r}") from None
    if low < 0 or high < low:
        raise argparse.ArgumentTypeError(f"seeds must read A-B with 0 <= A <= B; got {text!r}")
    return range(low, high + 1)


@contextlib.contextmanager
def _cluster(backend: str | None, jobs: int) -> Iterator[None]:
    """A local Dask cluster of *jobs* single-threaded workers for ``backend="dask"``; nothing otherwise."""
    if backend != "dask":
        yield
        return
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=max(jobs, 1), threads_per_worker=1, processes=True, dashboard_address=None,
                      host="127.0.0.1") as c, \
            Client(c):
        yield


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m aether.experiment.patternmap build ...``: build the map, write it, print what it cost."""
    parser = argparse.ArgumentParser(prog="python -m aether.experiment.patternmap",
                                     description="Build chapter 10's map of where each retry pattern wins.")
    commands = parser.add_subparsers(dest="command", required=True)
    cmd = commands.add_parser("build", help="run the grid and write one row per run as CSV")
    cmd.add_argument("--seeds", type=_seed_range, default=range(20),
                     help="seeds A-B (default 0-19, the committed map's)")
    cmd.add_argument("--jobs", type=int, default=1, help="worker processes (or Dask workers)")
    cmd.add_argument("--backend", choices=BACKENDS, default=None, help="loky (default with --jobs > 1) or dask "
                     "(a local cluster of --jobs workers)")
    cmd.add_argument("--out", type=Path, default=None, help="the CSV file to write (default: standard output)")
    cmd.add_argument("--patterns", nargs="+", default=None, help="a subset of the patterns (labels)")
    cmd.add_argument("--loads", nargs="+", type=float, default=None, help=f"a subset of {list(LOADS)}")
    cmd.add_argument("--contention", nargs="+", default=None, help=f"a subset of {list(CONTENTION)}")
    cmd.add_argument("--failures", nargs="+", default=None, help=f"a subset of {list(FAILURES)}")
    cmd.add_argument("--quiet", action="store_true", help="no progress bar, no cost line")
    joined = commands.add_parser("merge", help="merge maps (the committed one and new runs) in a full build's order")
    joined.add_argument("parts", nargs="+", type=Path, help="CSV files from build; a run in several: the last")
    joined.add_argument("--out", type=Path, default=None, help="the CSV file to write (default: standard output)")
    args = parser.parse_args(argv)
    if args.command == "merge":
        text = to_csv(merge(*(load_map(part) for part in args.parts)))
        if args.out is None:
            sys.stdout.write(text)
        else:
            args.out.write_text(text, encoding="utf-8")
        return 0
    check_jobs(args.jobs)
    wall, cpu = time.perf_counter(), time.process_time()
    with _cluster(args.backend, args.jobs):
        runs = build(args.seeds, patterns=args.patterns, loads=args.loads, contention=args.contention,
                     failures=args.failures, jobs=args.jobs, backend=args.backend, progress=not args.quiet)
    wall = time.perf_counter() - wall
    text = to_csv(runs)
    if args.out is None:
        sys.stdout.write(text)
    else:
        args.out.write_text(text, encoding="utf-8")
    if not args.quiet:
        cells = runs.groupby(["failure", "contention", "load"]).ngroups
        print(f"pattern map: {cells} cells x {runs['pattern'].nunique()} patterns x {runs['seed'].nunique()} seeds "
              f"= {len(runs)} runs in {wall:.0f} s wall ({args.jobs} job(s), backend "
              f"{args.backend or ('loky' if args.jobs != 1 else 'this process')}); this process's CPU "
              f"{time.process_time() - cpu:.0f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
