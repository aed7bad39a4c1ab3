"""The three ways to run writers: greenlets on a simulated clock, real threads, real processes.

Each runner takes the writers' plans and a store, runs every writer's saves
through the pattern, and returns what it collected (:class:`Collected`): one
:class:`~aether.experiment.result.SaveRow` per save, one
:class:`~aether.experiment.recorder.CallRecord` per store call, and what the
store check needs. The writer loop (:func:`run_writer`) and its outcome
classification are shared by all three, so the clocks differ only in how
writers are started and waited for.
"""

from __future__ import annotations

import contextlib
import gc
import inspect
import math
import multiprocessing
import queue
import random
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from aether.clock import RealClock, SimulatedClock
from aether.contracts import Bindable, Deferred, RunContext, pattern_name
from aether.errors import (
    AetherError,
    CircuitBreakerOpenError,
    RequestThrottledError,
    RetriesExhaustedError,
    VersionConflictError,
)
from aether.events import Event
from aether.experiment.capacity import Capacity, ServiceStation
from aether.experiment.libraries import guard_blocking_sleeps, is_library_give_up
from aether.experiment.network import NetworkModel, NetworkStore
from aether.experiment.recorder import CallRecord, RecordingStore
from aether.experiment.result import SaveRow

__all__ = ["Collected", "WriterPlan", "actor_for", "run_processes", "run_simulated", "run_threads"]

_new_row = tuple.__new__  # SaveRow(...) without the generated Python __new__, in the hot loop


@contextlib.contextmanager
def _fewer_collections() -> Iterator[None]:
    """Raise the gen-0 garbage-collection threshold while a simulated run allocates its rows.

    A run makes a few small objects per store call and frees almost none until
    it ends, so the collector's default gen-0 threshold (700) runs it again and
    again for nothing: it was 15-28% of a large run's time.
    """
    before = gc.get_threshold()
    gc.set_threshold(max(before[0], 50_000), *before[1:])
    try:
        yield
    finally:
        gc.set_threshold(*before)


def _accepts_rng(fn: Callable[..., Any]) -> bool:
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(p.name == "rng" or p.kind is inspect.Parameter.VAR_KEYWORD for p in params)


@dataclass
class WriterPlan:
    """What one writer does: *saves* logical saves, after *start_delay* seconds."""

    writer: int
    saves: int
    actors: int
    start_delay: float
    event_type: str


def actor_for(writer: int, save: int, actors: int) -> str:
    """The actor writer *writer*'s save *save* goes to: ``actor-{(writer + save) % actors}``."""
    return f"actor-{(writer + save) % actors}"


def run_writer(plan: WriterPlan, view: RecordingStore, fn: Callable[..., Any], pass_rng: bool,
               rng: random.Random | None, clock: Any, out: Collected) -> None:
    """Perform one writer's logical saves, appending a row per save to the writer's own *out*."""
    rows, tickets, committed_ids, errors = out.rows, out.tickets, out.committed, out.errors
    origin = view.origin
    if plan.start_delay:
        wait = plan.start_delay - (clock.now() - origin)
        if wait > 0:
            clock.sleep(wait)
    for save in range(plan.saves):
        actor = actor_for(plan.writer, save, plan.actors)
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
        except (CircuitBreakerOpenError, RequestThrottledError):
            outcome = "rejected"
        except VersionConflictError:
            outcome = "conflict"
        except Exception as exc:  # any other error is data about the pattern, not a harness failure
            if is_library_give_up(exc):  # tenacity's RetryError: a retry library gave up
                outcome = "gave_up"
            else:
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
        rows.append(_new_row(SaveRow, (plan.writer, save, actor, t0 - origin, t1 - origin, t1 - t0, attempts,
                                       max(attempts - 1, 0), outcome, version,
                                       (t1 - t0) if outcome == "committed" else math.nan, error,
                                       outcome == "queued")))


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


def start_delays(writers: int, spread: float, seed: int) -> list[float]:
    if spread <= 0:
        return [0.0] * writers
    rng = random.Random(f"{seed}/arrivals")
    return [rng.uniform(0.0, spread) for _ in range(writers)]


@dataclass
class Collected:
    rows: list[SaveRow] = field(default_factory=list)
    records: list[CallRecord] = field(default_factory=list)
    tickets: list[tuple[int, Any]] = field(default_factory=list)
    committed: list[tuple[int, str, str, int]] = field(default_factory=list)
    errors: list[tuple[str, str, bool]] = field(default_factory=list)  # (type, message, is an AetherError)
    unacknowledged: list[str] = field(default_factory=list)  # ids of writes whose caller timed out
    station: ServiceStation | None = None
    origin: float = 0.0

    def absorb(self, part: Collected) -> None:
        """Append one writer's rows (and what points into them) after the rows collected so far."""
        base = len(self.rows)
        self.rows.extend(part.rows)
        self.tickets.extend((base + i, ticket) for i, ticket in part.tickets)
        self.committed.extend((base + i, a, e, v) for i, a, e, v in part.committed)
        self.errors.extend(part.errors)
        self.unacknowledged.extend(part.unacknowledged)


def _settle_tickets(col: Collected) -> None:
    """Fill in how each deferred save ended, from its ticket, once background work is done."""
    for index, ticket in col.tickets:
        row = col.rows[index]
        outcome = getattr(ticket, "outcome", "queued")
        event = getattr(ticket, "event", None)
        settled_at = getattr(ticket, "settled_at", None)
        attempts = int(getattr(ticket, "attempts", row.attempts))
        row = row._replace(attempts=attempts, retries=max(attempts - 1, 0))
        if outcome == "committed" and event is not None:
            delay = (settled_at - col.origin) - row.start if settled_at is not None else math.nan
            row = row._replace(outcome="committed", version=event.version, commit_delay=delay)
            col.committed.append((index, event.actor_id, event.id, event.version))
        else:
            row = row._replace(outcome=str(outcome))
        col.rows[index] = row
    col.tickets.clear()


# --------------------------------------------------------------------------- the three ways to run


class _Views:
    """Makes each participant's view of the store: queued and networked (if modelled), then recorded."""

    def __init__(self, store: Any, network: NetworkModel | None, clock: Any, seed: int, col: Collected,
                 station: ServiceStation | None = None) -> None:
        self.store, self.network, self.clock, self.seed, self.col = store, network, clock, seed, col
        self.station = station
        if station is not None and network is None:
            self.network = NetworkModel.instant()
        self.made: list[RecordingStore] = []

    def __call__(self, writer: int) -> RecordingStore:
        if self.network is None:
            inner = self.store
        else:
            inner = NetworkStore(self.store, self.network, self.clock, _network_rng(self.seed, writer),
                                 station=self.station, writer=writer)
        view = RecordingStore(inner, self.clock, writer, self.col.records, unacknowledged=self.col.unacknowledged)
        self.made.append(view)
        return view

    def set_origin(self, origin: float) -> None:
        """Measure call times and fault windows from *origin* (the run's start on the clock)."""
        if self.station is not None:
            self.station.set_origin(origin)
        for view in self.made:
            view.origin = origin
            if isinstance(view.store, NetworkStore):
                view.store.origin = origin


def _prepare(pattern: Any, store: Any, network: NetworkModel | None, clock: Any, seed: int, shared: str = "shared",
             first_participant: int = -1, capacity: Capacity | None = None,
             ) -> tuple[Collected, _Views, Callable[..., Any], bool]:
    """What every way of running needs: the collection, the view factory, the bound pattern."""
    col = Collected()
    if capacity is not None:
        # The store's service times: a stream of their own, so turning capacity on leaves every
        # network delay as it was.
        col.station = ServiceStation(capacity, origin=clock.now(), rng=random.Random(f"{seed}/service"))
    make_view = _Views(store, network, clock, seed, col, col.station)
    ctx = RunContext(clock=clock, rng=random.Random(f"{seed}/{shared}"), seed=seed, _make_view=make_view,
                     _next_participant=first_participant)
    fn = _bind(pattern, ctx)
    return col, make_view, fn, _accepts_rng(fn)


def run_simulated(pattern: Any, plans: list[WriterPlan], store: Any, network: NetworkModel | None,
                  seed: int, capacity: Capacity | None = None, open_loop: bool = False) -> Collected:
    """Every writer a greenlet on one :class:`~aether.clock.SimulatedClock`.

    With *open_loop* the plans are callers in order of arrival: one task starts
    each at its arrival time (so only the callers in the system are alive),
    instead of every writer starting at once and sleeping until its start.
    """
    with _fewer_collections():
        clock = SimulatedClock()
        col, make_view, fn, pass_rng = _prepare(pattern, store, network, clock, seed, capacity=capacity)
        tasks: list[Any] = []
        # One writer runs at a time, so open-loop callers can share one collection; closed-loop writers
        # keep one each, so that rows come out grouped by writer whatever the interleaving.
        parts = [col] * len(plans) if open_loop else [Collected() for _ in plans]

        def start(plan: WriterPlan, part: Collected) -> Any:
            rng = _pattern_rng(seed, plan.writer) if pass_rng else None
            return clock.spawn(run_writer, plan, make_view(plan.writer), fn, pass_rng, rng, clock, part,
                               name=f"writer-{plan.writer}")

        if open_loop:
            def arrivals() -> None:
                for plan in plans:
                    wait = plan.start_delay - clock.now()
                    if wait > 0:
                        clock.sleep(wait)
                    tasks.append(start(plan, col))
            tasks.append(clock.spawn(arrivals, name="arrivals"))
        else:
            tasks.extend(start(plan, part) for plan, part in zip(plans, parts, strict=True))
        close = getattr(fn, "close", None)
        if callable(close):
            def closer() -> None:
                for task in tasks:  # the arrivals task appends callers while it runs: they are joined too
                    task.join()
                close()
            clock.spawn(closer, name="close-pattern")
        with guard_blocking_sleeps(clock, pattern_name(pattern)):  # a time.sleep in a writer: simulated, warned
            clock.run()
        if not open_loop:
            for part in parts:
                col.absorb(part)
        _settle_tickets(col)
    return col


def run_threads(pattern: Any, plans: list[WriterPlan], store: Any, network: NetworkModel | None,
                seed: int, capacity: Capacity | None = None, open_loop: bool = False) -> Collected:
    """Every writer a real thread, with wall-clock sleeps (capacity emulated under a lock)."""
    clock = RealClock()
    col, make_view, fn, pass_rng = _prepare(pattern, store, network, clock, seed, capacity=capacity)
    go = threading.Event()
    failures: list[BaseException] = []

    def body(plan: WriterPlan, view: RecordingStore, rng: random.Random, part: Collected) -> None:
        go.wait()
        try:
            run_writer(plan, view, fn, pass_rng, rng, clock, part)
        except BaseException as exc:  # pragma: no cover - surfaced below
            failures.append(exc)

    threads, parts = [], [Collected() for _ in plans]
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


def _process_writer(plan: WriterPlan, pattern: Any, store: Any, network: NetworkModel | None, seed: int,
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
        run_writer(plan, view, fn, pass_rng, rng, clock, col)
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


def run_processes(pattern: Any, plans: list[WriterPlan], store: Any, network: NetworkModel | None,
                   seed: int, timeout: float = 600.0) -> Collected:
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
        col = Collected()
        col.origin = origin.value = RealClock().now()
        go.set()
        results: list[tuple[int, Collected | None, BaseException | None]] = []
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


