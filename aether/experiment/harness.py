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
"""

from __future__ import annotations

import functools
import inspect
import math
import multiprocessing
import operator
import os
import queue
import random
import shutil
import sys
import tempfile
import threading
import time
import warnings
import weakref
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np
import pandas as pd

from aether.clock import RealClock, SimulatedClock, TaskClock
from aether.errors import AetherError, CircuitBreakerOpenError, RetriesExhaustedError, VersionConflictError
from aether.events import Event
from aether.experiment.network import NetworkModel, NetworkStore
from aether.experiment.recorder import CallRecord, RecordingStore
from aether.experiment.summary import RunSummary, _summarize_arrays
from aether.store.memory import InMemoryEventStore
from aether.store.sqlite import SQLiteEventStore

__all__ = [
    "Bindable",
    "Deferred",
    "ExperimentInvariantError",
    "RunContext",
    "RunResult",
    "pattern_name",
    "run_contention",
    "sweep",
    "verify_store",
]

ClockKind = Literal["simulated", "real"]
EVENT_TYPE = "ContentionTested"

SAVE_COLUMNS = ["writer", "save", "actor_id", "start", "end", "latency", "attempts", "retries", "outcome",
                "version", "commit_delay", "error", "deferred"]
CALL_COLUMNS = list(CallRecord._fields)


class ExperimentInvariantError(AetherError, AssertionError):
    """After a run, the store does not hold exactly the committed saves, gapless.

    Raised by :func:`verify_store` (and so by every :func:`run_contention`):
    a lost save, a duplicate, a gap or an event nobody committed means a store
    or a pattern is broken, and no figure drawn from that run could be trusted.
    """


@runtime_checkable
class Deferred(Protocol):
    """What a pattern returns when it accepted a save for later (a retry queue's ticket).

    The experiment records the save as accepted at once, and after the run
    reads how it ended: ``outcome`` (``"committed"`` or e.g. ``"dead_letter"``),
    ``event`` (the stored event), ``settled_at`` (clock time) and ``attempts``.
    """

    @property
    def outcome(self) -> str: ...

    @property
    def event(self) -> Event | None: ...

    @property
    def settled_at(self) -> float | None: ...

    @property
    def attempts(self) -> int: ...


@dataclass
class RunContext:
    """What a stateful pattern gets once per run (see :class:`Bindable`).

    ``clock`` is the run's clock (it can ``spawn`` background tasks), ``rng``
    a seeded generator for shared state, and :meth:`store_for` gives a
    recorded, networked view of the store for a background participant
    (recorded with a negative writer number).
    """

    clock: TaskClock
    rng: random.Random
    seed: int
    _make_view: Callable[[int], RecordingStore]
    _next_participant: int = -1

    def store_for(self, name: str = "worker") -> RecordingStore:
        """A store view for background work such as a queue worker."""
        view = self._make_view(self._next_participant)
        self._next_participant -= 1
        return view


@runtime_checkable
class Bindable(Protocol):
    """A pattern with state shared by all writers of a client (breaker, budget, queue).

    ``bind(ctx)`` is called once per run (per process in real mode) and
    returns the callable the writers use. If that callable has a ``close()``
    method, it is called after every writer has finished, in clock time,
    and must return once background work is done (a queue drains).
    """

    def bind(self, ctx: RunContext) -> Callable[..., Any]: ...


def pattern_name(pattern: object) -> str:
    """A readable name for a pattern: its ``name`` attribute, or the function's name."""
    name = getattr(pattern, "name", None)
    if isinstance(name, str) and name:
        return name
    if isinstance(pattern, functools.partial):
        inner = pattern_name(pattern.func)
        args = ", ".join(f"{k}={_label_value(v)}" for k, v in pattern.keywords.items())
        return f"{inner}({args})" if args else inner
    return getattr(pattern, "__name__", type(pattern).__name__)


def _label_value(value: object) -> str:
    # A function's repr carries its memory address, which differs on every run and machine.
    if callable(value) and not isinstance(value, type):
        return getattr(value, "__name__", type(value).__name__)
    return repr(value)


def _accepts_rng(fn: Callable[..., Any]) -> bool:
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(p.name == "rng" or p.kind is inspect.Parameter.VAR_KEYWORD for p in params)


# --------------------------------------------------------------------------- result


@dataclass
class RunResult:
    """The outcome of one :func:`run_contention`: two tidy tables and the store.

    ``saves``: one row per logical save (writer, save, actor_id, start, end,
    latency, attempts, retries, outcome, version, commit_delay, error, deferred), with the
    run's ``pattern``, ``writers`` and ``seed`` in front. ``calls``: one row per
    store call (writer, save, call, op, attempt, start, end, result,
    attempted_version, current_version). Times are seconds from the run's start.

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
    _rows: list[tuple[Any, ...]] = field(default_factory=list, repr=False)
    _records: list[CallRecord] = field(default_factory=list, repr=False)

    @functools.cached_property
    def saves(self) -> pd.DataFrame:
        """One row per logical save (built on first use)."""
        return _saves_frame(self._rows, self.pattern, self.writers, self.seed)

    @functools.cached_property
    def calls(self) -> pd.DataFrame:
        """One row per store call (built on first use)."""
        return _calls_frame(self._records, self.pattern, self.writers, self.seed)

    def summary(self) -> RunSummary:
        """The headline numbers (see :class:`~aether.experiment.summary.RunSummary`)."""
        rows = sorted(self._rows, key=_save_order)  # the saves table's order, so sums round the same way
        committed = [r for r in rows if r[8] == "committed"]
        writes = [c.result for c in self._records if c.op == "save_event"]
        return _summarize_arrays(
            pattern=self.pattern,
            writers=self.writers,
            seed=self.seed,
            outcomes=[r[8] for r in rows],
            latency=np.array([r[5] for r in committed], dtype=float),
            commit_delay=np.array([r[10] for r in committed], dtype=float),
            retries=np.array([r[7] for r in rows], dtype=np.int64),
            end=np.array([r[4] for r in rows], dtype=float),
            settled=np.array([r[3] + r[10] for r in rows], dtype=float),
            deferred=sum(1 for r in rows if r[12]),
            calls=len(self._records),
            write_calls=len(writes),
            ok_writes=writes.count("ok"),
        )

    def __repr__(self) -> str:
        return (f"<RunResult {self.pattern!r}: {self.writers} writers x {self.saves_per_writer} saves, "
                f"seed {self.seed}, {self.clock} clock>")


# --------------------------------------------------------------------------- one writer


@dataclass
class _WriterPlan:
    writer: int
    saves: int
    actors: int
    start_delay: float
    event_type: str


def _actor_for(writer: int, save: int, actors: int) -> str:
    return f"actor-{(writer + save) % actors}"


def _run_writer(plan: _WriterPlan, view: RecordingStore, fn: Callable[..., Any], pass_rng: bool,
                rng: random.Random, clock: Any, out: _Collected) -> None:
    """Perform one writer's logical saves, appending a row per save to the writer's own *out*."""
    rows, tickets, committed_ids, errors = out.rows, out.tickets, out.committed, out.errors
    if plan.start_delay:
        clock.sleep(plan.start_delay)
    origin = view.origin
    for save in range(plan.saves):
        actor = _actor_for(plan.writer, save, plan.actors)
        view.begin_save(save)
        data = {"writer": plan.writer, "save": save}
        t0 = clock.now()
        outcome, error, version = "committed", "", None
        try:
            if pass_rng:
                result = fn(view, actor, plan.event_type, data, clock=clock, rng=rng)
            else:
                result = fn(view, actor, plan.event_type, data, clock=clock)
        except RetriesExhaustedError:
            outcome = "gave_up"
        except CircuitBreakerOpenError:
            outcome = "rejected"
        except VersionConflictError:
            outcome = "conflict"
        except Exception as exc:  # any other error is data about the pattern, not a harness failure
            outcome, error = "failed", type(exc).__name__
            errors.append((type(exc).__name__, str(exc), isinstance(exc, AetherError)))
        else:
            if isinstance(result, Event) or result is None:
                event = result if isinstance(result, Event) else view.last_event
                if event is None:
                    outcome, error = "failed", "pattern returned without saving"
                else:
                    version = event.version
                    committed_ids.append((len(rows), event.actor_id, event.id, event.version))
            elif isinstance(result, Deferred):
                outcome = "queued"
                tickets.append((len(rows), result))
            else:
                outcome, error = "failed", f"pattern returned {type(result).__name__}, not an Event or a ticket"
                errors.append(("TypeError", f"the pattern returned {result!r}; a pattern returns the stored "
                               "Event (or a Deferred ticket)", False))
        t1 = clock.now()
        attempts = view.attempts
        rows.append((plan.writer, save, actor, t0 - origin, t1 - origin, t1 - t0, attempts, max(attempts - 1, 0),
                     outcome, version, (t1 - t0) if outcome == "committed" else math.nan, error,
                     outcome == "queued"))


def _bind(pattern: Any, ctx: RunContext) -> Callable[..., Any]:
    if isinstance(pattern, Bindable) and not inspect.isfunction(pattern):
        bound = pattern.bind(ctx)
        if not callable(bound):
            raise TypeError(f"{pattern_name(pattern)}.bind() must return a callable; got {bound!r}")
        return bound
    if not callable(pattern):
        raise TypeError(f"pattern must be callable (store, actor_id, event_type, data, *, clock[, rng]); got {pattern!r}")
    return pattern


def _pattern_rng(seed: int, writer: int) -> random.Random:
    return random.Random(f"{seed}/pattern/{writer}")


def _network_rng(seed: int, writer: int) -> random.Random:
    # A stream of its own: changing the pattern does not change the network's delays (common random numbers).
    return random.Random(f"{seed}/network/{writer}")


def _start_delays(writers: int, spread: float, seed: int) -> list[float]:
    if spread <= 0:
        return [0.0] * writers
    rng = random.Random(f"{seed}/arrivals")
    return [rng.uniform(0.0, spread) for _ in range(writers)]


@dataclass
class _Collected:
    rows: list[tuple[Any, ...]] = field(default_factory=list)
    records: list[CallRecord] = field(default_factory=list)
    tickets: list[tuple[int, Any]] = field(default_factory=list)
    committed: list[tuple[int, str, str, int]] = field(default_factory=list)
    errors: list[tuple[str, str, bool]] = field(default_factory=list)  # (type, message, is an AetherError)
    origin: float = 0.0

    def absorb(self, part: _Collected) -> None:
        """Append one writer's rows (and what points into them) after the rows collected so far."""
        base = len(self.rows)
        self.rows.extend(part.rows)
        self.tickets.extend((base + i, ticket) for i, ticket in part.tickets)
        self.committed.extend((base + i, a, e, v) for i, a, e, v in part.committed)
        self.errors.extend(part.errors)


def _settle_tickets(col: _Collected) -> None:
    for index, ticket in col.tickets:
        row = list(col.rows[index])
        outcome = getattr(ticket, "outcome", "queued")
        event = getattr(ticket, "event", None)
        settled_at = getattr(ticket, "settled_at", None)
        row[6] = int(getattr(ticket, "attempts", row[6]))
        row[7] = max(row[6] - 1, 0)
        if outcome == "committed" and event is not None:
            row[8] = "committed"
            row[9] = event.version
            row[10] = (settled_at - col.origin) - row[3] if settled_at is not None else math.nan
            col.committed.append((index, event.actor_id, event.id, event.version))
        else:
            row[8] = str(outcome)
        col.rows[index] = tuple(row)
    col.tickets.clear()


# --------------------------------------------------------------------------- the three ways to run


class _Views:
    """Makes each participant's view of the store: networked (if a model is given), then recorded."""

    def __init__(self, store: Any, network: NetworkModel | None, clock: Any, seed: int,
                 records: list[CallRecord]) -> None:
        self.store, self.network, self.clock, self.seed, self.records = store, network, clock, seed, records
        self.made: list[RecordingStore] = []

    def __call__(self, writer: int) -> RecordingStore:
        if self.network is None:
            inner = self.store
        else:
            inner = NetworkStore(self.store, self.network, self.clock, _network_rng(self.seed, writer))
        view = RecordingStore(inner, self.clock, writer, self.records)
        self.made.append(view)
        return view

    def set_origin(self, origin: float) -> None:
        """Measure call times and fault windows from *origin* (the run's start on the clock)."""
        for view in self.made:
            view.origin = origin
            if isinstance(view.store, NetworkStore):
                view.store.origin = origin


def _prepare(pattern: Any, store: Any, network: NetworkModel | None, clock: Any, seed: int, shared: str = "shared",
             first_participant: int = -1) -> tuple[_Collected, _Views, Callable[..., Any], bool]:
    """What every way of running needs: the collection, the view factory, the bound pattern."""
    col = _Collected()
    make_view = _Views(store, network, clock, seed, col.records)
    ctx = RunContext(clock=clock, rng=random.Random(f"{seed}/{shared}"), seed=seed, _make_view=make_view,
                     _next_participant=first_participant)
    fn = _bind(pattern, ctx)
    return col, make_view, fn, _accepts_rng(fn)


def _run_simulated(pattern: Any, plans: list[_WriterPlan], store: Any, network: NetworkModel | None,
                   seed: int) -> _Collected:
    clock = SimulatedClock()
    col, make_view, fn, pass_rng = _prepare(pattern, store, network, clock, seed)
    tasks, parts = [], [_Collected() for _ in plans]
    for plan, part in zip(plans, parts, strict=True):
        tasks.append(clock.spawn(_run_writer, plan, make_view(plan.writer), fn, pass_rng,
                                 _pattern_rng(seed, plan.writer), clock, part, name=f"writer-{plan.writer}"))
    close = getattr(fn, "close", None)
    if callable(close):
        def closer() -> None:
            for task in tasks:
                task.join()
            close()
        clock.spawn(closer, name="close-pattern")
    clock.run()
    for part in parts:
        col.absorb(part)
    _settle_tickets(col)
    return col


def _run_threads(pattern: Any, plans: list[_WriterPlan], store: Any, network: NetworkModel | None,
                 seed: int) -> _Collected:
    clock = RealClock()
    col, make_view, fn, pass_rng = _prepare(pattern, store, network, clock, seed)
    go = threading.Event()
    failures: list[BaseException] = []

    def body(plan: _WriterPlan, view: RecordingStore, rng: random.Random, part: _Collected) -> None:
        go.wait()
        try:
            _run_writer(plan, view, fn, pass_rng, rng, clock, part)
        except BaseException as exc:  # pragma: no cover - surfaced below
            failures.append(exc)

    threads, parts = [], [_Collected() for _ in plans]
    for plan, part in zip(plans, parts, strict=True):
        args = (plan, make_view(plan.writer), _pattern_rng(seed, plan.writer), part)
        threads.append(threading.Thread(target=body, args=args, daemon=True, name=f"writer-{plan.writer}"))
    for thread in threads:
        thread.start()
    col.origin = clock.now()
    make_view.set_origin(col.origin)
    go.set()
    for thread in threads:
        thread.join()
    close = getattr(fn, "close", None)
    if callable(close):
        close()
    if failures:
        raise failures[0]
    for part in parts:
        col.absorb(part)
    _settle_tickets(col)
    return col


def _process_writer(plan: _WriterPlan, pattern: Any, store: Any, network: NetworkModel | None, seed: int,
                    ready: Any, go: Any, origin: Any, out: Any) -> None:
    try:
        clock = RealClock()
        col, make_view, fn, pass_rng = _prepare(pattern, store, network, clock, seed, f"shared/{plan.writer}",
                                                -1 - plan.writer * 1000)
        view = make_view(plan.writer)
        rng = _pattern_rng(seed, plan.writer)
        ready.release()
        go.wait()
        col.origin = origin.value
        make_view.set_origin(col.origin)
        _run_writer(plan, view, fn, pass_rng, rng, clock, col)
        close = getattr(fn, "close", None)
        if callable(close):
            close()
        _settle_tickets(col)
        out.put((plan.writer, col, None))
    except BaseException as exc:  # sent to the parent, which re-raises
        out.put((plan.writer, None, exc))


def _check_alive(procs: list[Any]) -> None:
    dead = [p for p in procs if p.exitcode not in (None, 0)]
    if dead:
        names = ", ".join(f"{p.name} (exit code {p.exitcode})" for p in dead)
        raise RuntimeError(f"writer process(es) died without reporting: {names}")


def _run_processes(pattern: Any, plans: list[_WriterPlan], store: Any, network: NetworkModel | None,
                   seed: int, timeout: float = 600.0) -> _Collected:
    # fork is fast and lets notebook-defined patterns cross over; elsewhere (macOS, Windows) fork is unsafe.
    ctx: Any = multiprocessing.get_context("fork" if sys.platform.startswith("linux") else "spawn")
    ready, go, origin, out = ctx.Semaphore(0), ctx.Event(), ctx.Value("d", 0.0), ctx.Queue()
    procs = [ctx.Process(target=_process_writer, args=(plan, pattern, store, network, seed, ready, go, origin, out),
                         name=f"writer-{plan.writer}", daemon=True) for plan in plans]
    deadline = time.monotonic() + timeout
    try:
        for proc in procs:
            proc.start()
        started = 0
        while started < len(procs):
            if ready.acquire(timeout=0.5):
                started += 1
                continue
            _check_alive(procs)
            if time.monotonic() > deadline:
                raise RuntimeError(f"writer processes did not start within {timeout:g} s")
        col = _Collected()
        col.origin = origin.value = RealClock().now()
        go.set()
        results: list[tuple[int, _Collected | None, BaseException | None]] = []
        while len(results) < len(procs):
            try:
                results.append(out.get(timeout=0.5))
            except queue.Empty:
                _check_alive(procs)
                if time.monotonic() > deadline:
                    raise RuntimeError(f"writer processes did not finish within {timeout:g} s") from None
        for proc in procs:
            proc.join()
    finally:
        for proc in procs:
            if proc.is_alive():
                proc.terminate()
    for _, _, exc in results:
        if exc is not None:
            raise exc
    for _, part, _ in sorted(results, key=lambda r: r[0]):
        assert part is not None
        col.records.extend(part.records)
        col.absorb(part)
    return col


# --------------------------------------------------------------------------- checks and entry points


def verify_store(store: Any, committed: Iterable[tuple[str, str, int]], baseline: Mapping[str, int],
                 actors: Iterable[str]) -> None:
    """Check that *store* holds exactly the *committed* ``(actor_id, event_id, version)`` saves.

    For every actor: versions are gapless from 1, each committed save is
    stored exactly once at the version it reported, and no event was written
    after ``baseline[actor]`` that nobody committed. Raises
    :class:`ExperimentInvariantError` with what is wrong.
    """
    by_actor: dict[str, list[tuple[str, int]]] = {}
    for actor_id, event_id, version in committed:
        by_actor.setdefault(actor_id, []).append((event_id, version))
    problems: list[str] = []
    for actor in sorted(set(actors) | set(by_actor)):
        events = store.get_events(actor)
        versions = [e.version for e in events]
        if versions != list(range(1, len(versions) + 1)):
            problems.append(f"actor {actor!r}: versions are not gapless 1..{len(versions)}: {versions[:20]}")
        new = {e.id: e.version for e in events if e.version > baseline.get(actor, 0)}
        expected = by_actor.get(actor, [])
        ids = [eid for eid, _ in expected]
        if len(set(ids)) != len(ids):
            problems.append(f"actor {actor!r}: the same event was reported committed twice")
        for event_id, version in expected:
            stored = new.get(event_id)
            if stored is None:
                problems.append(f"actor {actor!r}: committed event {event_id} (version {version}) is not in the store")
            elif stored != version:
                problems.append(f"actor {actor!r}: event {event_id} reported at version {version}, stored at {stored}")
        extra = set(new) - set(ids)
        if extra:
            problems.append(f"actor {actor!r}: {len(extra)} stored event(s) that no writer committed")
    if problems:
        raise ExperimentInvariantError("store check failed after the run: " + "; ".join(problems[:10]))


def _make_store(store: Any, clock: ClockKind) -> tuple[Any, Callable[[], None] | None]:
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


def _check_count(name: str, value: object, minimum: int) -> int:
    """*value* as an int (numpy integers accepted) if it is a whole number >= *minimum*."""
    try:
        number = operator.index(value)  # type: ignore[arg-type]
    except TypeError:
        number = None
    if isinstance(value, bool) or number is None or number < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}; got {value!r}")
    return number


def run_contention(
    pattern: Any,
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
      (``0``: all at once, the thundering herd).

    After the run the store is checked with :func:`verify_store`.
    """
    writers = _check_count("writers", writers, 1)
    saves_per_writer = _check_count("saves_per_writer", saves_per_writer, 1)
    actors = _check_count("actors", actors, 1)
    seed = _check_count("seed", seed, 0)
    if clock not in ("simulated", "real"):
        raise ValueError(f"clock must be 'simulated' or 'real'; got {clock!r}")
    if network is not None and not isinstance(network, NetworkModel):
        raise TypeError(f"network must be a NetworkModel or None; got {network!r}")
    if not (isinstance(start_spread, (int, float)) and math.isfinite(start_spread) and start_spread >= 0):
        raise ValueError(f"start_spread must be a finite number of seconds >= 0; got {start_spread!r}")
    base, cleanup = _make_store(store, clock)
    try:
        actor_ids = sorted({_actor_for(w, s, actors) for w in range(writers)
                            for s in range(min(saves_per_writer, actors))})
        baseline = {a: base.get_latest_version(a) for a in actor_ids}
        delays = _start_delays(writers, float(start_spread), seed)
        plans = [_WriterPlan(w, saves_per_writer, actors, delays[w], event_type) for w in range(writers)]

        wall = time.perf_counter()
        if clock == "simulated":
            col = _run_simulated(pattern, plans, base, network, seed)
        elif isinstance(base, SQLiteEventStore):
            col = _run_processes(pattern, plans, base, network, seed)
        else:
            col = _run_threads(pattern, plans, base, network, seed)
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


def _warn_about_errors(label: str, col: _Collected) -> None:
    """Warn about pattern errors a reader would otherwise only see as a count in the summary."""
    if not col.errors:
        return
    bugs = [e for e in col.errors if not e[2]]
    if bugs:
        name, message, _ = bugs[0]
        warnings.warn(f"{len(bugs)} save(s) of {label!r} failed with an unexpected error; the first: {name}: "
                      f"{message}", RuntimeWarning, stacklevel=3)
    elif all(row[8] == "failed" for row in col.rows):
        name, message, _ = col.errors[0]
        warnings.warn(f"every save of {label!r} failed; the first with {name}: {message}", RuntimeWarning,
                      stacklevel=3)


def _save_order(row: tuple[Any, ...]) -> tuple[int, int]:
    return row[0], row[1]


def _saves_frame(rows: list[tuple[Any, ...]], pattern: str, writers: int, seed: int) -> pd.DataFrame:
    frame = pd.DataFrame.from_records(rows, columns=SAVE_COLUMNS)
    frame = frame.sort_values(["writer", "save"], kind="stable").reset_index(drop=True)
    frame["version"] = frame["version"].astype("Int64")
    for col in ("writer", "save", "attempts", "retries"):
        frame[col] = frame[col].astype("int64")
    for col in ("start", "end", "latency", "commit_delay"):
        frame[col] = frame[col].astype("float64")
    frame["deferred"] = frame["deferred"].astype("bool")
    frame.insert(0, "seed", seed)
    frame.insert(0, "writers", writers)
    frame.insert(0, "pattern", pattern)
    return frame


def _calls_frame(records: list[CallRecord], pattern: str, writers: int, seed: int) -> pd.DataFrame:
    frame = pd.DataFrame.from_records(records, columns=CALL_COLUMNS)
    frame = frame.sort_values(["start", "writer", "call"], kind="stable").reset_index(drop=True)
    for col in ("attempted_version", "current_version"):
        frame[col] = frame[col].astype("Int64")
    for col in ("writer", "save", "call", "attempt"):
        frame[col] = frame[col].astype("int64")
    frame.insert(0, "seed", seed)
    frame.insert(0, "writers", writers)
    frame.insert(0, "pattern", pattern)
    return frame


def _progress_default() -> bool:
    setting = os.environ.get("AETHER_PROGRESS")
    if setting is not None:
        return setting.strip().lower() not in ("", "0", "false", "no", "off")
    return "PYTEST_CURRENT_TEST" not in os.environ


def sweep(
    patterns: Mapping[str, Any] | Sequence[Any] | Any,
    *,
    writers: Iterable[int],
    seeds: Iterable[int] = (0, 1, 2),
    progress: bool | None = None,
    **run_kwargs: Any,
) -> pd.DataFrame:
    """Run :func:`run_contention` for every pattern x writer count x seed; one summary row per run.

    ``patterns`` is a mapping of display name to pattern (or a list, named by
    :func:`pattern_name`). ``run_kwargs`` go to every run (``saves_per_writer``,
    ``network``, ...). A progress bar is shown unless ``progress=False``, the
    environment sets ``AETHER_PROGRESS=0``, or it runs under pytest.
    """
    if isinstance(patterns, Mapping):
        named = list(patterns.items())
    elif isinstance(patterns, (list, tuple)):
        named = [(pattern_name(p), p) for p in patterns]
    else:
        named = [(pattern_name(patterns), patterns)]
    writer_counts = list(writers)
    seed_list = list(seeds)
    if not named or not writer_counts or not seed_list:
        raise ValueError("sweep needs at least one pattern, one writer count and one seed")
    from tqdm.auto import tqdm

    show = _progress_default() if progress is None else progress
    jobs = [(label, p, w, s) for label, p in named for w in writer_counts for s in seed_list]
    rows = []
    for label, p, w, s in tqdm(jobs, desc="sweep", unit="run", disable=not show, leave=False):
        result = run_contention(p, writers=w, seed=s, name=label, **run_kwargs)
        rows.append(result.summary().as_dict())
    return pd.DataFrame(rows)
