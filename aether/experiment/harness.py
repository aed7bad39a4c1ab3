"""The contention experiment: N writers x M saves through one retry pattern.

:func:`run_contention` is the one call every notebook makes::

    result = run_contention(simple_retry, writers=50, seed=1)
    result.summary()        # the headline numbers
    result.saves            # one row per logical save
    result.calls            # one row per store call

Under ``clock="simulated"`` (the default) every writer is a greenlet on one
:class:`~aether.clock.SimulatedClock`: exact, fast and identical for a given
seed. Under ``clock="real"`` the same pattern code runs on real threads
(in-memory store) or real processes (SQLite store) with wall time.
:func:`sweep` runs it over patterns, writer counts and seeds.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import os
import shutil
import tempfile
import time
import warnings
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

import pandas as pd

from aether.checks import (
    check_bool,
    check_callable,
    check_choice,
    check_int,
    check_items,
    check_methods,
    check_text,
    show,
)
from aether.contracts import Bindable, Pattern, pattern_name
from aether.experiment.arrivals import Rate, check_rate
from aether.experiment.capacity import Capacity
from aether.experiment.gcpause import fewer_collections
from aether.experiment.network import NetworkModel
from aether.experiment.pipes import run_processes
from aether.experiment.result import ClockKind, RunResult
from aether.experiment.runners import run_simulated, run_threads
from aether.experiment.spec import (
    EVENT_TYPE,
    MAX_SAVES,
    MAX_WRITERS,
    STORE_METHODS,
    ClosedLoop,
    OpenLoop,
    RunSpec,
    check_pattern,
    check_store_setting,
)
from aether.experiment.verify import verify_store
from aether.experiment.writer import Collected
from aether.store.memory import InMemoryEventStore
from aether.store.sqlite import SQLiteEventStore

__all__ = ["BACKENDS", "EVENT_TYPE", "MAX_SAVES", "MAX_WRITERS", "run_contention", "run_load", "run_spec", "sweep",
           "sweep_load"]

#: The joblib backends a sweep runs on: ``"loky"`` (worker processes on this machine) or ``"dask"``
#: (the workers of the Dask cluster of the current ``dask.distributed.Client``).
BACKENDS: tuple[str, ...] = ("loky", "dask")


def _make_store(store: Any) -> tuple[Any, Callable[[], None] | None]:
    if store is None or store == "memory":
        return InMemoryEventStore(), None
    if store == "sqlite":
        folder = tempfile.mkdtemp(prefix="aether-run-")
        path = os.path.join(folder, "events.sqlite3")
        return SQLiteEventStore(path), lambda: shutil.rmtree(folder, ignore_errors=True)
    check_store_setting(store)
    if isinstance(store, type) or (callable(store) and not hasattr(store, "save_event")):
        made = store()
        check_methods("store (the factory's result)", made, STORE_METHODS, "an EventStore")
        return made, None
    return store, None


def run_contention(
    pattern: Pattern | Bindable,
    *,
    writers: int,
    saves_per_writer: int = 1,
    actors: int = 1,
    clock: ClockKind = "simulated",
    seed: int = 0,
    network: NetworkModel | None = NetworkModel(),  # noqa: B008 - immutable default
    store: Any = None,
    start_spread: float = 0.0,
    event_type: str = EVENT_TYPE,
    name: str | None = None,
    verify: bool = True,
    capacity: Capacity | None = None,
    timeout: float = 60.0,
) -> RunResult:
    """Run *writers* concurrent writers, each making *saves_per_writer* saves through *pattern*.

    Each save's ``outcome`` is one word of :mod:`~aether.experiment.outcomes`:
    ``"committed"``; ``"gave_up"`` (the pattern raised
    :class:`~aether.errors.RetriesExhaustedError`); ``"rejected"`` (a circuit
    breaker or the client's throttle refused it); ``"refused"`` (the command said
    no: :class:`~aether.errors.CommandRefusedError`); ``"deadline"`` (the save's
    deadline passed: :class:`~aether.errors.DeadlineExceededError`); ``"conflict"``
    (a conflict escaped the pattern, as with :func:`~aether.patterns.no_retry`);
    ``"timeout"``, ``"overloaded"`` or ``"unavailable"`` (a store error escaped the
    pattern); ``"error"`` (any other error, named in ``error``); or, for a pattern
    that defers work (:class:`Deferred`), whatever its ticket says once settled,
    such as ``"dead_letter"``.

    * ``pattern``: a callable ``pattern(store, actor_id, event_type, data, *, clock[, rng])``
      that performs one logical save (or a :class:`Bindable` with shared state);
    * ``actors``: how many actors the saves are spread over (writer *w*'s save *s*
      goes to ``actor-{(w + s) % actors}``); ``1`` means everyone fights over one;
    * ``clock``: ``"simulated"`` (greenlets, virtual time, exact) or ``"real"``
      (threads for an in-memory store, processes for ``store="sqlite"``);
    * ``network``: the :class:`NetworkModel` between writers and store (``None``: direct calls);
    * ``store``: ``None``/``"memory"``, ``"sqlite"`` (a temporary file), an
      :class:`~aether.store.base.EventStore`, or a zero-argument factory;
    * ``start_spread``: writers start at uniform random times in ``[0, start_spread]`` s
      (``0``: all at once, the thundering herd);
    * ``verify``: check the store after the run with :func:`~aether.experiment.verify.verify_store`;
    * ``capacity``: the store's servers, service times and queue (:class:`~aether.experiment.capacity.Capacity`);
      ``None`` (the default) is a store that serves every call in zero time. Real
      processes on the SQLite store (``clock="real", store="sqlite"``) refuse it:
      there the database's own locking is the capacity, and an emulated queue in
      each process would not be one queue;
    * ``timeout``: seconds a real run (``clock="real"``: threads or processes) may take in all;
      a writer still running then (stopped, stuck) ends the run with a :class:`TimeoutError` that
      names it (a writer process is killed; a thread cannot be, and is left to end on its own), as
      a writer process that dies ends it with a :class:`RuntimeError` at once. A simulated run
      does not use it (its time is virtual).

    ``writers x saves_per_writer`` must be at most :data:`MAX_SAVES`, and the run's estimated
    memory (:data:`~aether.experiment.spec.BYTES_PER_SAVE` per save) must be available now:
    otherwise a :class:`ValueError` says so before anything starts. The settings become a
    :class:`~aether.experiment.spec.RunSpec` (``result.spec``), run by :func:`run_spec`.

    Every parameter is checked before anything runs: a wrong type is a
    :class:`TypeError`, a wrong value a :class:`ValueError`, naming both.

    """
    spec = RunSpec(pattern=pattern, workload=ClosedLoop(writers, saves_per_writer, actors, start_spread),
                   clock=clock, seed=seed, network=network, capacity=capacity, store=store, event_type=event_type,
                   name=name, verify=verify, timeout=timeout)
    return run_spec(spec)


def run_load(
    pattern: Pattern | Bindable,
    *,
    rate: float | Rate,
    duration: float,
    actors: int = 100,
    arrivals: str = "poisson",
    capacity: Capacity | None = None,
    network: NetworkModel | None = NetworkModel(),  # noqa: B008 - immutable default
    seed: int = 0,
    clock: ClockKind = "simulated",
    store: Any = None,
    event_type: str = EVENT_TYPE,
    name: str | None = None,
    verify: bool = True,
    timeout: float = 60.0,
) -> RunResult:
    """Open loop: logical saves arrive at *rate* per second for *duration* seconds, each a fresh caller.

    This is how a service meets its callers: arrivals do not wait for earlier
    saves to finish, so when the store slows down work piles up instead of
    the callers politely slowing down with it (as the closed loop of
    :func:`run_contention` does). Caller *i* runs *pattern* once, on
    ``actor-{i % actors}``, starting at its arrival time; the run lasts until
    every caller has finished.

    * ``rate``: saves per second, or a changing rate (:class:`~aether.experiment.arrivals.Step`,
      :class:`~aether.experiment.arrivals.Ramp`);
    * ``arrivals``: ``"poisson"`` (independent callers) or ``"even"`` (evenly spaced);
    * ``capacity``, ``network``, ``store``, ``clock``, ``verify``, ``timeout``: as for
      :func:`run_contention` (``clock="real"`` runs each caller on a thread, so keep real runs
      small; ``timeout`` bounds such a run's wall time).
    * ``rate x duration`` (at the rate's peak) must be at most :data:`MAX_SAVES` expected callers,
      and their estimated memory must be available: otherwise :class:`ValueError` before anything runs.

    The result's ``saves`` has one row per caller (``writer`` is the caller's
    number, ``save`` is 0); :meth:`~aether.experiment.result.RunResult.timeline`
    bins load, goodput, queue and latency over time.
    """
    spec = RunSpec(pattern=pattern, workload=OpenLoop(rate, duration, actors, arrivals), clock=clock, seed=seed,
                   network=network, capacity=capacity, store=store, event_type=event_type, name=name, verify=verify,
                   timeout=timeout)
    return run_spec(spec)


def run_spec(spec: RunSpec) -> RunResult:
    """Run what *spec* describes (the one path every run takes); see :func:`run_contention`.

    Use it to run a :class:`~aether.experiment.spec.RunSpec` kept as a value,
    or varied with :func:`dataclasses.replace`.
    """
    if not isinstance(spec, RunSpec):
        raise TypeError(f"spec must be a RunSpec; got {show(spec)} ({type(spec).__name__})")
    base, cleanup = _make_store(spec.store)
    if _on_processes(spec, base) and spec.capacity is not None:
        if cleanup is not None:
            cleanup()
        raise ValueError("capacity cannot be emulated for real processes on the SQLite store: there the "
                         "database's own locking is the capacity; use clock='simulated', or store='memory' "
                         "for real threads behind an emulated capacity")
    try:
        with fewer_collections():
            return _run_and_check(spec, base, cleanup)
    except BaseException:
        if cleanup is not None:  # a temporary database of a failed run is of no use to anyone
            cleanup()
        raise


def _on_processes(spec: RunSpec, base: Any) -> bool:
    """Whether the run's writers are real processes: a real closed loop on the SQLite store."""
    return spec.clock == "real" and isinstance(base, SQLiteEventStore) and not spec.open_loop


def _run_and_check(spec: RunSpec, base: Any, cleanup: Callable[[], None] | None) -> RunResult:
    """Run the plans on the chosen clock, check the store, and wrap up the result (one path for both loops).

    The whole of it, store check included, runs with :func:`~aether.experiment.gcpause.fewer_collections`.
    """
    plans = spec.plans()
    actor_ids = spec.workload.actor_ids(plans)
    baseline = {a: base.get_latest_version(a) for a in actor_ids}
    streams, label = spec.streams, spec.label
    wall = time.perf_counter()
    if spec.clock == "simulated":
        col = run_simulated(spec.pattern, plans, base, spec.network, streams, spec.capacity, spec.open_loop)
    elif _on_processes(spec, base):
        col = run_processes(spec.pattern, plans, base, spec.network, spec.seed, timeout=spec.timeout)
    else:
        col = run_threads(spec.pattern, plans, base, spec.network, streams, spec.capacity, spec.open_loop,
                          timeout=spec.timeout)
    wall = time.perf_counter() - wall
    _warn_about_errors(label, col)
    if spec.verify:
        verify_store(base, ((a, e, v) for _, a, e, v in col.committed), baseline, actor_ids,
                     unacknowledged=col.unacknowledged)
    workload = spec.workload
    closed = isinstance(workload, ClosedLoop)
    writers, per = (workload.writers, workload.saves_per_writer) if closed else (len(plans), 1)  # type: ignore[union-attr]
    result = RunResult(pattern=label, writers=writers, saves_per_writer=per, seed=spec.seed,
                       clock=spec.clock, store=base, wall_seconds=wall, settings=spec.settings(), spec=spec,
                       _rows=col.rows, _records=col.records,
                       _station=col.station.records if col.station is not None else None,
                       _unacknowledged=col.unacknowledged, _stored_writes=len(col.ledger.stored_calls))
    if cleanup is not None:
        weakref.finalize(result, cleanup)
    return result


_ERROR_OUTCOMES = frozenset({"error", "timeout", "overloaded", "unavailable"})


def _warn_about_errors(label: str, col: Collected) -> None:
    """Warn about pattern errors a reader would otherwise only see as a count in the summary."""
    if not col.errors:
        return
    bugs = [e for e in col.errors if not e[2]]
    if bugs:
        name, message, _ = bugs[0]
        warnings.warn(f"{len(bugs)} save(s) of {label!r} failed with an unexpected error; the first: {name}: "
                      f"{message}", RuntimeWarning, stacklevel=3)
    elif all(row.outcome in _ERROR_OUTCOMES for row in col.rows):
        name, message, _ = col.errors[0]
        warnings.warn(f"every save of {label!r} failed; the first with {name}: {message}", RuntimeWarning,
                      stacklevel=3)


def _progress_default() -> bool:
    setting = os.environ.get("AETHER_PROGRESS")
    if setting is not None:
        return setting.strip().lower() not in ("", "0", "false", "no", "off")
    return "PYTEST_CURRENT_TEST" not in os.environ


Measure = Callable[[RunResult], Mapping[str, Any]]


def _measured(result: RunResult, measure: Measure | None) -> dict[str, Any]:
    row = result.summary().as_dict()
    if measure is not None:
        extra = measure(result)
        if not isinstance(extra, Mapping):
            raise TypeError(f"measure must return a mapping of column to value; got {show(extra)}")
        row.update(extra)
    return row


_WORKLOAD_KEYS = {ClosedLoop: ("saves_per_writer", "actors", "start_spread"),
                  OpenLoop: ("duration", "actors", "arrivals")}
_SPEC_KEYS = ("clock", "network", "capacity", "store", "event_type", "verify", "timeout")


def _base_spec(kind: type[ClosedLoop] | type[OpenLoop], first: Any, pattern: Any, run_kwargs: Mapping[str, Any],
               caller: str) -> RunSpec:
    """The specification every run of a sweep shares: *run_kwargs* checked once, split by where they belong."""
    allowed = _WORKLOAD_KEYS[kind]
    unknown = sorted(set(run_kwargs) - set(allowed) - set(_SPEC_KEYS))
    if unknown:
        raise TypeError(f"{caller}() got unexpected keyword argument(s) {unknown!r} for the runs; they take "
                        f"{sorted(allowed + _SPEC_KEYS)!r}")
    workload = kind(first, **{k: v for k, v in run_kwargs.items() if k in allowed})
    return RunSpec(pattern=pattern, workload=workload, **{k: v for k, v in run_kwargs.items() if k in _SPEC_KEYS})


def _contention_row(spec: RunSpec, measure: Measure | None) -> dict[str, Any]:
    return _measured(run_spec(spec), measure)


def _load_row(spec: RunSpec, measure: Measure | None) -> dict[str, Any]:
    row = _measured(run_spec(spec), measure)
    row["rate"] = spec.workload.rate  # type: ignore[union-attr]
    return row


def _vary(base: RunSpec, label: str, pattern: Any, x: Any, seed: int) -> RunSpec:
    """*base* with another pattern, label, seed and swept value (writers or rate)."""
    field_name = "writers" if isinstance(base.workload, ClosedLoop) else "rate"
    workload = dataclasses.replace(base.workload, **{field_name: x})
    return dataclasses.replace(base, pattern=pattern, name=label, seed=seed, workload=workload)


def _named_patterns(patterns: Mapping[str, Any] | Sequence[Any] | Any) -> list[tuple[str, Any]]:
    if isinstance(patterns, Mapping):
        named = list(patterns.items())
    elif isinstance(patterns, (list, tuple)):
        for i, p in enumerate(patterns):
            check_pattern(p, f"patterns[{i}]")
        named = [(pattern_name(p), p) for p in patterns]
    else:
        check_pattern(patterns, "patterns")
        named = [(pattern_name(patterns), patterns)]
    if not named:
        raise ValueError(f"patterns must hold at least one pattern; got {show(patterns)}")
    for label, p in named:
        check_text("patterns (a label)", label)
        check_pattern(p, f"patterns[{show(label)}]")
    return named


def _values(name: str, values: object, example: str) -> list[Any]:
    return check_items(name, values, f"an iterable, e.g. {example}")


#: The most worker processes a sweep starts: more than any machine has cores.
MAX_JOBS = 1024


def check_jobs(jobs: object) -> int:
    """*jobs*: a number of worker processes from 1 to :data:`MAX_JOBS`, or -1 (one per core)."""
    number = check_int("jobs", jobs, -1, MAX_JOBS)
    if number == 0:
        raise ValueError(f"jobs must be a positive int or -1 (one per core); got {show(jobs)}")
    return number


#: The progress bar of a call that runs several sweeps (``compare``): they advance it instead of their own.
_SHARED_BAR: contextvars.ContextVar[Any] = contextvars.ContextVar("aether_shared_bar", default=None)


@contextlib.contextmanager
def one_progress_bar(total: int, label: str, progress: bool | None = None) -> Iterator[None]:
    """One progress bar of *total* runs labelled *label* for every sweep run inside the block.

    Use it where one call runs several sweeps (as :func:`~aether.experiment.compare`
    does, one per scenario): the reader sees one bar saying what runs, not one
    bar per sweep. *progress* as for :func:`sweep`.
    """
    from tqdm.auto import tqdm

    show = _progress_default() if progress is None else check_bool("progress", progress)
    with tqdm(total=total, desc=label, unit="run", disable=not show, leave=False) as bar:
        token = _SHARED_BAR.set(bar)
        try:
            yield
        finally:
            _SHARED_BAR.reset(token)


def _check_backend(backend: object) -> str | None:
    """*backend* checked: ``None`` (sequential for ``jobs=1``, else loky) or one of :data:`BACKENDS`."""
    if backend is None:
        return None
    backend = check_choice("backend", backend, BACKENDS)
    if backend == "dask":
        try:
            from distributed import default_client
        except ImportError as error:
            raise ImportError("backend='dask' needs the 'distributed' package: pip install "
                              "'aether-retry-lab[cluster]'") from error
        try:
            default_client()
        except ValueError as error:
            raise ValueError("backend='dask' runs on the cluster of a dask.distributed Client: create one first, "
                             "e.g. Client('tcp://scheduler-host:8786'); no client was found") from error
    return str(backend)


def _run_grid(row: Callable[..., dict[str, Any]], base: RunSpec, named: list[tuple[str, Any]], xs: list[Any],
              seeds: list[int], jobs: object, progress: bool | None, measure: Measure | None,
              backend: object = None, what: str = "sweep") -> pd.DataFrame:
    """One summary row per pattern x value x seed, in that order, sequential or through joblib.

    Without a *backend* the runs go one after another in this process for
    *jobs* 1 (or a single run), else to loky; a *backend* named always gets
    them, with *jobs* runs at once. Rows come back in submission order, so the frame is the
    sequential one whatever runs them.
    """
    jobs = check_jobs(jobs)
    if not named or not xs or not seeds:
        raise ValueError("a sweep needs at least one pattern, one value to sweep and one seed")
    if measure is not None:
        check_callable("measure", measure, "a callable taking a RunResult", classes=False)
    chosen = _check_backend(backend)
    runs = [_vary(base, label, p, x, s) for label, p in named for x in xs for s in seeds]
    swept = "writer counts" if isinstance(base.workload, ClosedLoop) else "rates"
    label = f"{what}: {len(named)} pattern(s) x {len(xs)} {swept} x {len(seeds)} seed(s)"
    shared = _SHARED_BAR.get()
    with contextlib.ExitStack() as stack:
        if shared is None:
            stack.enter_context(one_progress_bar(len(runs), label, progress))
        bar = _SHARED_BAR.get()
        rows: list[dict[str, Any]] = []
        if chosen is None and (jobs == 1 or len(runs) == 1):  # a backend named is used even for one run
            for spec in runs:
                rows.append(row(spec, measure))
                bar.update()
        else:
            from joblib import Parallel, delayed, parallel_config

            # joblib registers the Dask backend on first use in a configuration, not by its name in Parallel.
            with parallel_config(backend=chosen or "loky"):
                parallel = Parallel(n_jobs=-1 if chosen == "dask" and jobs == 1 else jobs, return_as="generator")
                for result in parallel(delayed(row)(spec, measure) for spec in runs):
                    rows.append(result)  # in submission order, so the frame matches a sequential sweep
                    bar.update()
    return pd.DataFrame(rows)


def sweep(
    patterns: Mapping[str, Any] | Sequence[Any] | Any,
    *,
    writers: Iterable[int],
    seeds: Iterable[int] = (0, 1, 2),
    jobs: int = 1,
    progress: bool | None = None,
    measure: Measure | None = None,
    backend: str | None = None,
    **run_kwargs: Any,
) -> pd.DataFrame:
    """Run :func:`run_contention` for every pattern x writer count x seed; one summary row per run.

    ``patterns`` is a mapping of display name to pattern (or a list, named by
    :func:`~aether.contracts.pattern_name`). ``run_kwargs`` go to every run
    (``saves_per_writer``, ``network``, ``capacity``, ...). With ``jobs=N``
    (``-1``: one per core) the runs go to N worker processes (joblib's loky
    backend, which also carries patterns defined in a notebook); the frame is
    exactly the one a sequential sweep returns, row for row. A progress bar is
    shown unless ``progress=False``, the environment sets ``AETHER_PROGRESS=0``,
    or it runs under pytest. ``measure(result)``, if given, returns extra
    columns for the run's row (e.g. ``{"recovery": result.recovery_time(4.0)}``);
    it runs where the run ran, so the result itself need not travel.

    ``backend`` picks where the runs go: ``None`` (this process for ``jobs=1``,
    else loky), ``"loky"``, or ``"dask"``: the workers of the Dask cluster of
    the current :class:`distributed.Client` (``pip install
    'aether-retry-lab[cluster]'``), with ``jobs`` runs in flight (``-1``: as
    many as the cluster has worker threads; ``1``, the default, means that too). The frame is the same row for row
    whatever the backend: only where the runs happen changes.
    """
    named = _named_patterns(patterns)
    counts = [check_int(f"writers[{i}]", w, 1, MAX_WRITERS)
              for i, w in enumerate(_values("writers", writers, "[1, 10, 100]"))]
    seed_list = [check_int(f"seeds[{i}]", s, 0) for i, s in enumerate(_values("seeds", seeds, "range(5)"))]
    if not named or not counts or not seed_list:
        raise ValueError("a sweep needs at least one pattern, one value to sweep and one seed")
    base = _base_spec(ClosedLoop, max(counts), named[0][1], run_kwargs, "sweep")
    return _run_grid(_contention_row, base, named, counts, seed_list, jobs, progress, measure, backend, "sweep")


def sweep_load(
    patterns: Mapping[str, Any] | Sequence[Any] | Any,
    *,
    rates: Iterable[float],
    seeds: Iterable[int] = (0, 1, 2),
    jobs: int = 1,
    progress: bool | None = None,
    measure: Measure | None = None,
    backend: str | None = None,
    **run_kwargs: Any,
) -> pd.DataFrame:
    """Run :func:`run_load` for every pattern x arrival rate x seed; one summary row per run.

    The open-loop counterpart of :func:`sweep`: ``run_kwargs`` go to every run
    (``duration`` is required; ``capacity``, ``network``, ...), and each row
    also has the run's ``rate``; ``jobs`` and ``backend`` (a Dask cluster too) as for
    :func:`sweep`. Plot latency against load with
    :func:`~aether.plots.plot_latency_vs_load` to see the hockey stick.
    """
    named = _named_patterns(patterns)
    rate_list = [check_rate(r, f"rates[{i}]") for i, r in enumerate(_values("rates", rates, "[50, 100, 150]"))]
    seed_list = [check_int(f"seeds[{i}]", s, 0) for i, s in enumerate(_values("seeds", seeds, "range(5)"))]
    if not named or not rate_list or not seed_list:
        raise ValueError("a sweep needs at least one pattern, one value to sweep and one seed")
    if "duration" not in run_kwargs:
        raise TypeError("sweep_load() needs duration=... for the runs")
    peak = max(rate_list, key=lambda r: r.peak if isinstance(r, Rate) else r)
    base = _base_spec(OpenLoop, peak, named[0][1], run_kwargs, "sweep_load")
    return _run_grid(_load_row, base, named, rate_list, seed_list, jobs, progress, measure, backend, "sweep_load")
