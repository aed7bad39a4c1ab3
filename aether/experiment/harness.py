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
import shutil
import tempfile
import time
import warnings
import weakref
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import pandas as pd

from aether.checks import check_bool, check_choice, check_int, check_seconds, check_text
from aether.contracts import Bindable, Pattern, pattern_name
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

__all__ = ["EVENT_TYPE", "MAX_WRITERS", "run_contention", "sweep"]

EVENT_TYPE = "ContentionTested"

#: The most writers (and saves per writer) one run accepts: a million simulated
#: greenlets take about a minute and a few GiB; more is a typo, not an experiment.
MAX_WRITERS = 1_000_000


def _make_store(store: Any) -> tuple[Any, Callable[[], None] | None]:
    if store is None or store == "memory":
        return InMemoryEventStore(), None
    if store == "sqlite":
        folder = tempfile.mkdtemp(prefix="aether-run-")
        return SQLiteEventStore(os.path.join(folder, "events.sqlite3")), lambda: shutil.rmtree(folder, ignore_errors=True)
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
    timeout: float = 60.0,
) -> RunResult:
    """Run *writers* concurrent writers, each making *saves_per_writer* saves through *pattern*.

    Each save's ``outcome`` is ``"committed"``; ``"gave_up"`` (the pattern raised
    :class:`~aether.errors.RetriesExhaustedError`); ``"rejected"`` (a circuit
    breaker refused it); ``"conflict"`` (a conflict escaped the pattern, as with
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
    timeout = check_seconds("timeout", timeout, positive=True)
    base, cleanup = _make_store(store)
    try:
        actor_ids = sorted({actor_for(w, s, actors) for w in range(writers)
                            for s in range(min(saves_per_writer, actors))})
        baseline = {a: base.get_latest_version(a) for a in actor_ids}
        delays = start_delays(writers, start_spread, seed)
        plans = [WriterPlan(w, saves_per_writer, actors, delays[w], event_type) for w in range(writers)]

        wall = time.perf_counter()
        if clock == "simulated":
            col = run_simulated(pattern, plans, base, network, seed)
        elif isinstance(base, SQLiteEventStore):
            col = run_processes(pattern, plans, base, network, seed, timeout=timeout)
        else:
            col = run_threads(pattern, plans, base, network, seed)
        wall = time.perf_counter() - wall

        label = name or pattern_name(pattern)
        _warn_about_errors(label, col)
        if verify:
            verify_store(base, ((a, e, v) for _, a, e, v in col.committed), baseline, actor_ids)
    except BaseException:
        if cleanup is not None:  # a temporary database of a failed run is of no use to anyone
            cleanup()
        raise
    result = RunResult(pattern=label, writers=writers, saves_per_writer=saves_per_writer, seed=seed, clock=clock,
                       store=base, wall_seconds=wall,
                       settings={"actors": actors, "network": network, "start_spread": start_spread},
                       _rows=col.rows, _records=col.records)
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


def _summary_row(label: str, pattern: Any, writers: int, seed: int, run_kwargs: Mapping[str, Any]) -> dict[str, Any]:
    return run_contention(pattern, writers=writers, seed=seed, name=label, **run_kwargs).summary().as_dict()


def sweep(
    patterns: Mapping[str, Any] | Sequence[Any] | Any,
    *,
    writers: Iterable[int],
    seeds: Iterable[int] = (0, 1, 2),
    jobs: int = 1,
    progress: bool | None = None,
    **run_kwargs: Any,
) -> pd.DataFrame:
    """Run :func:`run_contention` for every pattern x writer count x seed; one summary row per run.

    ``patterns`` is a mapping of display name to pattern (or a list, named by
    :func:`~aether.contracts.pattern_name`). ``run_kwargs`` go to every run
    (``saves_per_writer``, ``network``, ...). With ``jobs=N`` (``-1``: one per
    core) the runs go to N worker processes (joblib's loky backend, which also
    carries patterns defined in a notebook); the frame is exactly the one a
    sequential sweep returns, row for row. A progress bar is shown unless
    ``progress=False``, the environment sets ``AETHER_PROGRESS=0``, or it runs
    under pytest.
    """
    if isinstance(patterns, Mapping):
        named = list(patterns.items())
    elif isinstance(patterns, (list, tuple)):
        named = [(pattern_name(p), p) for p in patterns]
    else:
        named = [(pattern_name(patterns), patterns)]
    if isinstance(writers, (int, str, bytes)) or not isinstance(writers, Iterable):
        raise TypeError(f"writers must be an iterable of writer counts, e.g. [1, 10, 100]; got {writers!r}")
    if isinstance(seeds, (int, str, bytes)) or not isinstance(seeds, Iterable):
        raise TypeError(f"seeds must be an iterable of seeds, e.g. range(5); got {seeds!r}")
    writer_counts = [check_int("writers", w, 1, MAX_WRITERS) for w in writers]
    seed_list = [check_int("seed", s, 0) for s in seeds]
    jobs = check_int("jobs", jobs, -1)
    if jobs == 0:
        raise ValueError("jobs must be a positive int or -1 (one per core); got 0")
    if not named or not writer_counts or not seed_list:
        raise ValueError("sweep needs at least one pattern, one writer count and one seed")
    for label, p in named:
        check_text("pattern label", label)
        _check_pattern(p)
    from tqdm.auto import tqdm

    show = _progress_default() if progress is None else check_bool("progress", progress)
    runs = [(label, p, w, s) for label, p in named for w in writer_counts for s in seed_list]
    bar = tqdm(total=len(runs), desc="sweep", unit="run", disable=not show, leave=False)
    with bar:
        if jobs == 1 or len(runs) == 1:
            rows = []
            for label, p, w, s in runs:
                rows.append(_summary_row(label, p, w, s, run_kwargs))
                bar.update()
        else:
            from joblib import Parallel, delayed

            parallel = Parallel(n_jobs=jobs, backend="loky", return_as="generator")
            rows = []
            for row in parallel(delayed(_summary_row)(label, p, w, s, run_kwargs) for label, p, w, s in runs):
                rows.append(row)  # in submission order, so the frame matches a sequential sweep
                bar.update()
    return pd.DataFrame(rows)
