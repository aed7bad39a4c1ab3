"""The ways to run writers in this process: greenlets on a simulated clock, or real threads.

Each runner takes a :class:`~aether.experiment.spec.RunSpec`'s plans and a
store, runs every writer's saves through the pattern with the shared writer
loop (:func:`~aether.experiment.writer.run_writer`), and returns what it
collected (:class:`~aether.experiment.writer.Collected`). Real processes, for
the SQLite store, are in :mod:`~aether.experiment.pipes`.

Each participant sees the store through a view: the store's queue
(:class:`~aether.experiment.capacity.ServiceStation`, if the run has a
capacity), the path to it (:class:`~aether.experiment.network.NetworkStore`,
with the run's :class:`~aether.experiment.network.NetworkModel` or none), and
the recorder (:class:`~aether.experiment.recorder.RecordingStore`).
"""

from __future__ import annotations

import contextlib
import inspect
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any

from aether.checks import show
from aether.clock import RealClock, SimulatedClock
from aether.contracts import RunContext, is_bindable, pattern_name
from aether.experiment.capacity import Capacity, ServiceStation
from aether.experiment.gcpause import fewer_collections as _fewer_collections
from aether.experiment.libraries import guard_blocking_sleeps
from aether.experiment.network import NetworkModel, NetworkStore
from aether.experiment.recorder import CallLog, RecordingStore
from aether.experiment.spec import RandomStreams
from aether.experiment.writer import Collected, WriterPlan, run_writer, settle_tickets

__all__ = ["prepare", "run_simulated", "run_threads"]


#: What accepts_rng found for each pattern callable still alive (a sweep runs the same pattern many times).
_TAKES_RNG: weakref.WeakKeyDictionary[Any, bool] = weakref.WeakKeyDictionary()


def accepts_rng(fn: Callable[..., Any]) -> bool:
    """Whether a pattern callable takes an ``rng`` keyword (by name, or through ``**kwargs``)."""
    try:
        return _TAKES_RNG[fn]
    except (KeyError, TypeError):  # not asked yet, or not something a weak dictionary can hold
        pass
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        found = False
    else:
        found = any(p.name == "rng" or p.kind is inspect.Parameter.VAR_KEYWORD for p in params)
    with contextlib.suppress(TypeError):
        _TAKES_RNG[fn] = found
    return found


def _bind(pattern: Any, ctx: RunContext) -> Callable[..., Any]:
    if is_bindable(pattern) and not inspect.isfunction(pattern):
        bound = pattern.bind(ctx)
        if not callable(bound):
            raise TypeError(f"{pattern_name(pattern)}.bind() must return a callable; got {show(bound)}")
        return bound
    if not callable(pattern):
        raise TypeError("pattern must be callable (store, actor_id, event_type, data, *, clock[, rng]); "
                        f"got {show(pattern)}")
    return pattern




class _Views:
    """Makes each participant's view of the store: queued and networked (if modelled), then recorded."""

    def __init__(self, store: Any, network: NetworkModel | None, clock: Any, streams: RandomStreams,
                 col: Collected, station: ServiceStation | None = None, *, keep: bool = False) -> None:
        self.store, self.network, self.clock, self.streams, self.col = store, network, clock, streams, col
        self.station = station
        # The views made, for set_origin (real threads and processes start late on their clock). A simulated
        # run starts at its clock's zero and keeps none, so each writer's view (and its rng) goes when it ends.
        self.made: list[RecordingStore] | None = [] if keep else None

    def __call__(self, writer: int) -> RecordingStore:
        if self.network is None and self.station is None:
            inner = self.store
        else:
            inner = NetworkStore._for_run(self.store, self.network, self.clock, self.streams.network(writer),
                                          self.station, writer)
        # The store, network, clock and log were checked when the run was set up: no check per participant.
        view = RecordingStore._for_run(inner, self.clock, writer, self.col.records, self.col.unacknowledged,
                                       self.col.ledger)
        if self.made is not None:
            self.made.append(view)
        return view

    def set_origin(self, origin: float) -> None:
        """Measure call times and fault windows from *origin* (the run's start on the clock)."""
        if self.made is None:
            raise RuntimeError("set_origin needs the views kept: make the factory with keep=True")
        if self.station is not None:
            self.station.set_origin(origin)
        for view in self.made:
            view.origin = origin
            if isinstance(view.store, NetworkStore):
                view.store.origin = origin


def prepare(pattern: Any, store: Any, network: NetworkModel | None, capacity: Capacity | None, clock: Any,
            streams: RandomStreams, shared: str = "shared", first_participant: int = -1, threaded: bool = False,
            ) -> tuple[Collected, _Views, Callable[..., Any], bool]:
    """What every way of running needs: the collection, the view factory, the bound pattern.

    *threaded*: the participants are real threads sharing one call log (appended under its lock).
    """
    col = Collected(records=CallLog(threaded=threaded))
    if capacity is not None:
        col.station = ServiceStation(capacity, origin=clock.now(), rng=streams.service())
    make_view = _Views(store, network, clock, streams, col, col.station, keep=not isinstance(clock, SimulatedClock))
    ctx = RunContext(clock=clock, rng=streams.shared(shared), seed=streams.seed, _make_view=make_view,
                     _next_participant=first_participant)
    fn = _bind(pattern, ctx)
    return col, make_view, fn, accepts_rng(fn)


def run_simulated(pattern: Any, plans: list[WriterPlan], store: Any, network: NetworkModel | None,
                  streams: RandomStreams, capacity: Capacity | None = None, open_loop: bool = False) -> Collected:
    """Every writer a greenlet on one :class:`~aether.clock.SimulatedClock`.

    With *open_loop* the plans are callers in order of arrival: one task starts
    each at its arrival time (so only the callers in the system are alive),
    instead of every writer starting at once and sleeping until its start.
    """
    with _fewer_collections():
        clock = SimulatedClock()
        col, make_view, fn, pass_rng = prepare(pattern, store, network, capacity, clock, streams)
        tasks: list[Any] = []
        # One writer runs at a time, so open-loop callers can share one collection; closed-loop writers
        # keep one each, so that rows come out grouped by writer whatever the interleaving.
        # Their call records go to the run's one log through the views, so the parts share it (and the ledger).
        parts = [col] * len(plans) if open_loop else [Collected(records=col.records, ledger=col.ledger)
                                                      for _ in plans]

        def start(plan: WriterPlan, part: Collected) -> Any:
            rng = streams.pattern(plan.writer) if pass_rng else None
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
        settle_tickets(col)
    return col


def run_threads(pattern: Any, plans: list[WriterPlan], store: Any, network: NetworkModel | None,
                streams: RandomStreams, capacity: Capacity | None = None, open_loop: bool = False,
                timeout: float | None = None) -> Collected:
    """Every writer a real thread, with wall-clock sleeps (capacity emulated under a lock).

    With a *timeout*, the writers must all have finished within that many
    seconds of the start: otherwise the run ends with a :class:`TimeoutError`
    naming the writers still running (Python cannot stop a thread: they are
    daemon threads, left to end on their own, and their rows are discarded).
    """
    clock = RealClock()
    col, make_view, fn, pass_rng = prepare(pattern, store, network, capacity, clock, streams, threaded=True)
    go = threading.Event()
    failures: list[BaseException] = []

    def body(plan: WriterPlan, view: RecordingStore, rng: Any, part: Collected) -> None:
        go.wait()
        try:
            run_writer(plan, view, fn, pass_rng, rng, clock, part)
        except BaseException as exc:  # pragma: no cover - surfaced below
            failures.append(exc)

    threads, parts = [], [Collected(ledger=col.ledger) for _ in plans]
    for plan, part in zip(plans, parts, strict=True):
        args = (plan, make_view(plan.writer), streams.pattern(plan.writer), part)
        threads.append(threading.Thread(target=body, args=args, daemon=True, name=f"writer-{plan.writer}"))
    for thread in threads:
        thread.start()
    col.origin = clock.now()
    make_view.set_origin(col.origin)
    deadline = time.monotonic() + timeout if timeout is not None else None
    go.set()
    for thread in threads:
        thread.join(None if deadline is None else max(deadline - time.monotonic(), 0.0))
    running = [t.name for t in threads if t.is_alive()]
    if running:
        shown = ", ".join(running[:10]) + (f" and {len(running) - 10} more" if len(running) > 10 else "")
        raise TimeoutError(f"{len(running)} of {len(threads)} writer thread(s) had not finished after "
                           f"timeout={timeout:g} s: {shown}; the run was abandoned (the threads end on their own)")
    close = getattr(fn, "close", None)
    if callable(close):
        close()
    if failures:
        raise failures[0]
    for part in parts:
        col.absorb(part)
    settle_tickets(col)
    return col
