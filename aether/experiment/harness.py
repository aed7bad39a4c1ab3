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

import os
import random
import shutil
import tempfile
import time
import warnings
import weakref
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import pandas as pd

from aether.checks import check_bool, check_callable, check_choice, check_int, check_seconds, check_text
from aether.contracts import Bindable, Pattern, pattern_name
from aether.experiment.arrivals import ARRIVALS, Rate, arrival_times, check_rate
from aether.experiment.capacity import Capacity
from aether.experiment.gcpause import fewer_collections
from aether.experiment.network import NetworkModel
from aether.experiment.result import ClockKind, RunResult
from aether.experiment.runners import (
    Collected,
    WriterPlan,
    actor_for,
    run_processes,
    run_simulated,
    run_threads,
    start_delays,
)
from aether.experiment.verify import verify_store
from aether.store.memory import InMemoryEventStore
from aether.store.sqlite import SQLiteEventStore

__all__ = ["EVENT_TYPE", "MAX_WRITERS", "run_contention", "run_load", "sweep", "sweep_load"]

EVENT_TYPE = "ContentionTested"

#: The most writers (and saves per writer) one run accepts: a million simulated
#: greenlets take about a minute and a few GiB; more is a typo, not an experiment.
MAX_WRITERS = 1_000_000


def _make_store(store: Any) -> tuple[Any, Callable[[], None] | None]:
    if store is None or store == "memory":
        return InMemoryEventStore(), None
    if store == "sqlite":
        folder = tempfile.mkdtemp(prefix="aether-run-")
        path = os.path.join(folder, "events.sqlite3")
        return SQLiteEventStore(path), lambda: shutil.rmtree(folder, ignore_errors=True)
    if isinstance(store, str):
        raise ValueError(f"store must be 'memory', 'sqlite' or an EventStore; got {store!r}")
    if isinstance(store, type) or (callable(store) and not hasattr(store, "save_event")):
        return store(), None
    for method in ("save_event", "get_latest_version", "get_events"):
        if not callable(getattr(store, method, None)):
            raise TypeError(f"store must be 'memory', 'sqlite' or an EventStore (missing {method}); got {store!r}")
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

    Each save's ``outcome`` is ``"committed"``; ``"gave_up"`` (the pattern raised
    :class:`~aether.errors.RetriesExhaustedError`); ``"rejected"`` (a circuit
    breaker or the client's throttle refused it); ``"conflict"`` (a conflict escaped the pattern, as with
    :func:`~aether.patterns.no_retry`); ``"failed"`` (any other error, named in
    ``error``); or, for a pattern that defers work (:class:`Deferred`), whatever
    its ticket says once settled, such as ``"dead_letter"``.

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
    * ``timeout``: seconds a real-process run (``clock="real"`` on an SQLite store) may take in all;
      a writer still running then (stopped, stuck) ends the run with a :class:`TimeoutError` that
      names it, as a writer process that dies ends it with a :class:`RuntimeError` at once. Other
      runs accept it and do not use it.

    Every parameter is checked before anything runs: a wrong type is a
    :class:`TypeError`, a wrong value a :class:`ValueError`, naming both.

    """
    pattern = _check_pattern(pattern)
    writers = check_int("writers", writers, 1, MAX_WRITERS)
    saves_per_writer = check_int("saves_per_writer", saves_per_writer, 1, MAX_WRITERS)
    actors = check_int("actors", actors, 1)
    seed = check_int("seed", seed, 0)
    check_choice("clock", clock, ("simulated", "real"))
    if network is not None and not isinstance(network, NetworkModel):
        raise TypeError(f"network must be a NetworkModel or None; got {network!r}")
    start_spread = check_seconds("start_spread", start_spread)
    event_type = check_text("event_type", event_type)
    if name is not None:
        check_text("name", name)
    verify = check_bool("verify", verify)
    capacity = _check_capacity(capacity)
    timeout = check_seconds("timeout", timeout, positive=True)
    base, cleanup = _make_store(store)
    if clock == "real" and capacity is not None and isinstance(base, SQLiteEventStore):
        if cleanup is not None:
            cleanup()
        raise ValueError("capacity cannot be emulated for real processes on the SQLite store: there the "
                         "database's own locking is the capacity; use clock='simulated', or store='memory' "
                         "for real threads behind an emulated capacity")
    actor_ids = sorted({actor_for(w, s, actors) for w in range(writers) for s in range(min(saves_per_writer, actors))})
    delays = start_delays(writers, start_spread, seed)
    plans = [WriterPlan(w, saves_per_writer, actors, delays[w], event_type) for w in range(writers)]
    settings = {"workload": "closed", "actors": actors, "network": network, "start_spread": start_spread,
                "capacity": capacity}
    return _execute(pattern, plans, clock=clock, base=base, cleanup=cleanup, network=network, capacity=capacity,
                    seed=seed, actor_ids=actor_ids, verify=verify, label=name or pattern_name(pattern),
                    writers=writers, saves_per_writer=saves_per_writer, settings=settings, timeout=timeout)


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
    * ``capacity``, ``network``, ``store``, ``clock``, ``verify``: as for :func:`run_contention`
      (``clock="real"`` runs each caller on a thread, so keep real runs small).

    The result's ``saves`` has one row per caller (``writer`` is the caller's
    number, ``save`` is 0); :meth:`~aether.experiment.result.RunResult.timeline`
    bins load, goodput, queue and latency over time.
    """
    pattern = _check_pattern(pattern)
    rate = check_rate(rate)
    duration = check_seconds("duration", duration, positive=True)
    actors = check_int("actors", actors, 1)
    check_choice("arrivals", arrivals, ARRIVALS)
    seed = check_int("seed", seed, 0)
    check_choice("clock", clock, ("simulated", "real"))
    if network is not None and not isinstance(network, NetworkModel):
        raise TypeError(f"network must be a NetworkModel or None; got {network!r}")
    event_type = check_text("event_type", event_type)
    if name is not None:
        check_text("name", name)
    verify = check_bool("verify", verify)
    capacity = _check_capacity(capacity)
    times = arrival_times(rate, duration, arrivals, random.Random(f"{seed}/open-arrivals"))
    plans = [WriterPlan(i, 1, actors, t, event_type) for i, t in enumerate(times)]
    actor_ids = sorted({actor_for(i, 0, actors) for i in range(min(len(times), actors))})
    base, cleanup = _make_store(store)
    settings = {"workload": "open", "rate": rate, "duration": duration, "arrivals": arrivals, "actors": actors,
                "network": network, "capacity": capacity}
    return _execute(pattern, plans, clock=clock, base=base, cleanup=cleanup, network=network, capacity=capacity,
                    seed=seed, actor_ids=actor_ids, verify=verify, label=name or pattern_name(pattern),
                    writers=len(plans), saves_per_writer=1, settings=settings, open_loop=True)


def _check_capacity(capacity: object) -> Capacity | None:
    if capacity is not None and not isinstance(capacity, Capacity):
        raise TypeError(f"capacity must be a Capacity or None; got {capacity!r} ({type(capacity).__name__})")
    return capacity


def _execute(pattern: Any, plans: list[WriterPlan], *, clock: str, base: Any, cleanup: Callable[[], None] | None,
             network: NetworkModel | None, capacity: Capacity | None, seed: int, actor_ids: list[str], verify: bool,
             label: str, writers: int, saves_per_writer: int, settings: dict[str, Any],
             open_loop: bool = False, timeout: float = 60.0) -> RunResult:
    """Run the plans on the chosen clock, check the store, and wrap up the result (one path for both loops).

    The whole of it, store check included, runs with :func:`~aether.experiment.gcpause.fewer_collections`.
    """
    try:
        with fewer_collections():
            return _run_and_check(pattern, plans, clock=clock, base=base, cleanup=cleanup, network=network,
                                  capacity=capacity, seed=seed, actor_ids=actor_ids, verify=verify, label=label,
                                  writers=writers, saves_per_writer=saves_per_writer, settings=settings,
                                  open_loop=open_loop, timeout=timeout)
    except BaseException:
        if cleanup is not None:  # a temporary database of a failed run is of no use to anyone
            cleanup()
        raise


def _run_and_check(pattern: Any, plans: list[WriterPlan], *, clock: str, base: Any,
                   cleanup: Callable[[], None] | None, network: NetworkModel | None, capacity: Capacity | None,
                   seed: int, actor_ids: list[str], verify: bool, label: str, writers: int, saves_per_writer: int,
                   settings: dict[str, Any], open_loop: bool, timeout: float) -> RunResult:
    baseline = {a: base.get_latest_version(a) for a in actor_ids}
    wall = time.perf_counter()
    if clock == "simulated":
        col = run_simulated(pattern, plans, base, network, seed, capacity, open_loop)
    elif isinstance(base, SQLiteEventStore) and not open_loop:
        col = run_processes(pattern, plans, base, network, seed, timeout=timeout)
    else:
        col = run_threads(pattern, plans, base, network, seed, capacity, open_loop)
    wall = time.perf_counter() - wall
    _warn_about_errors(label, col)
    if verify:
        verify_store(base, ((a, e, v) for _, a, e, v in col.committed), baseline, actor_ids,
                     unacknowledged=col.unacknowledged)
    result = RunResult(pattern=label, writers=writers, saves_per_writer=saves_per_writer, seed=seed,
                       clock=clock,  # type: ignore[arg-type]
                       store=base, wall_seconds=wall, settings=settings, _rows=col.rows, _records=col.records,
                       _station=col.station.records if col.station is not None else None,
                       _unacknowledged=col.unacknowledged)
    if cleanup is not None:
        weakref.finalize(result, cleanup)
    return result


def _warn_about_errors(label: str, col: Collected) -> None:
    """Warn about pattern errors a reader would otherwise only see as a count in the summary."""
    if not col.errors:
        return
    bugs = [e for e in col.errors if not e[2]]
    if bugs:
        name, message, _ = bugs[0]
        warnings.warn(f"{len(bugs)} save(s) of {label!r} failed with an unexpected error; the first: {name}: "
                      f"{message}", RuntimeWarning, stacklevel=3)
    elif all(row.outcome == "failed" for row in col.rows):
        name, message, _ = col.errors[0]
        warnings.warn(f"every save of {label!r} failed; the first with {name}: {message}", RuntimeWarning,
                      stacklevel=3)


def _progress_default() -> bool:
    setting = os.environ.get("AETHER_PROGRESS")
    if setting is not None:
        return setting.strip().lower() not in ("", "0", "false", "no", "off")
    return "PYTEST_CURRENT_TEST" not in os.environ


def _check_pattern(pattern: object) -> Any:
    if isinstance(pattern, Bindable) or callable(pattern):
        return pattern
    raise TypeError("pattern must be a callable pattern(store, actor_id, event_type, data, *, clock[, rng]) "
                    f"or a Bindable; got {pattern!r} ({type(pattern).__name__})")


Measure = Callable[[RunResult], Mapping[str, Any]]


def _measured(result: RunResult, measure: Measure | None) -> dict[str, Any]:
    row = result.summary().as_dict()
    if measure is not None:
        extra = measure(result)
        if not isinstance(extra, Mapping):
            raise TypeError(f"measure must return a mapping of column to value; got {extra!r}")
        row.update(extra)
    return row


def _contention_row(label: str, pattern: Any, writers: int, seed: int, run_kwargs: Mapping[str, Any],
                    measure: Measure | None) -> dict[str, Any]:
    return _measured(run_contention(pattern, writers=writers, seed=seed, name=label, **run_kwargs), measure)


def _load_row(label: str, pattern: Any, rate: float, seed: int, run_kwargs: Mapping[str, Any],
              measure: Measure | None) -> dict[str, Any]:
    row = _measured(run_load(pattern, rate=rate, seed=seed, name=label, **run_kwargs), measure)
    row["rate"] = rate
    return row


def _named_patterns(patterns: Mapping[str, Any] | Sequence[Any] | Any) -> list[tuple[str, Any]]:
    if isinstance(patterns, Mapping):
        named = list(patterns.items())
    elif isinstance(patterns, (list, tuple)):
        named = [(pattern_name(p), p) for p in patterns]
    else:
        named = [(pattern_name(patterns), patterns)]
    for label, p in named:
        check_text("pattern label", label)
        _check_pattern(p)
    return named


def _values(name: str, values: object, example: str) -> list[Any]:
    if isinstance(values, (int, float, str, bytes)) or not isinstance(values, Iterable):
        raise TypeError(f"{name} must be an iterable, e.g. {example}; got {values!r}")
    return list(values)


def _run_grid(row: Callable[..., dict[str, Any]], named: list[tuple[str, Any]], xs: list[Any], seeds: list[int],
              jobs: object, progress: bool | None, run_kwargs: Mapping[str, Any],
              measure: Measure | None) -> pd.DataFrame:
    """One summary row per pattern x value x seed, in that order, sequential or on *jobs* processes."""
    jobs = check_int("jobs", jobs, -1)
    if jobs == 0:
        raise ValueError("jobs must be a positive int or -1 (one per core); got 0")
    if not named or not xs or not seeds:
        raise ValueError("a sweep needs at least one pattern, one value to sweep and one seed")
    if measure is not None:
        check_callable("measure", measure, "a callable taking a RunResult")
    from tqdm.auto import tqdm

    show = _progress_default() if progress is None else check_bool("progress", progress)
    runs = [(label, p, x, s) for label, p in named for x in xs for s in seeds]
    rows: list[dict[str, Any]] = []
    with tqdm(total=len(runs), desc="sweep", unit="run", disable=not show, leave=False) as bar:
        if jobs == 1 or len(runs) == 1:
            for label, p, x, s in runs:
                rows.append(row(label, p, x, s, run_kwargs, measure))
                bar.update()
        else:
            from joblib import Parallel, delayed

            parallel = Parallel(n_jobs=jobs, backend="loky", return_as="generator")
            for result in parallel(delayed(row)(label, p, x, s, run_kwargs, measure) for label, p, x, s in runs):
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
    """
    named = _named_patterns(patterns)
    counts = [check_int("writers", w, 1, MAX_WRITERS) for w in _values("writers", writers, "[1, 10, 100]")]
    seed_list = [check_int("seed", s, 0) for s in _values("seeds", seeds, "range(5)")]
    return _run_grid(_contention_row, named, counts, seed_list, jobs, progress, run_kwargs, measure)


def sweep_load(
    patterns: Mapping[str, Any] | Sequence[Any] | Any,
    *,
    rates: Iterable[float],
    seeds: Iterable[int] = (0, 1, 2),
    jobs: int = 1,
    progress: bool | None = None,
    measure: Measure | None = None,
    **run_kwargs: Any,
) -> pd.DataFrame:
    """Run :func:`run_load` for every pattern x arrival rate x seed; one summary row per run.

    The open-loop counterpart of :func:`sweep`: ``run_kwargs`` go to every run
    (``duration`` is required; ``capacity``, ``network``, ...), and each row
    also has the run's ``rate``. Plot latency against load with
    :func:`~aether.plots.plot_latency_vs_load` to see the hockey stick.
    """
    named = _named_patterns(patterns)
    rate_list = [check_rate(r) for r in _values("rates", rates, "[50, 100, 150]")]
    seed_list = [check_int("seed", s, 0) for s in _values("seeds", seeds, "range(5)")]
    return _run_grid(_load_row, named, rate_list, seed_list, jobs, progress, run_kwargs, measure)
