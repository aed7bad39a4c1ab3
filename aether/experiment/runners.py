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

import inspect
import io
import math
import multiprocessing
import multiprocessing.connection
import os
import pickle
import random
import struct
import sys
import tempfile
import threading
import time
from collections.abc import Callable
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
from aether.experiment.gcpause import fewer_collections as _fewer_collections
from aether.experiment.libraries import guard_blocking_sleeps, is_library_give_up
from aether.experiment.network import NetworkModel, NetworkStore
from aether.experiment.recorder import CallRecord, RecordingStore, SaveRow

__all__ = ["Collected", "WriterPlan", "actor_for", "run_processes", "run_simulated", "run_threads"]

_new_row = tuple.__new__  # SaveRow(...) without the generated Python __new__, in the hot loop


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
        raise TypeError("pattern must be callable (store, actor_id, event_type, data, *, clock[, rng]); "
                        f"got {pattern!r}")
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


_READY = b"R"  # a writer process is at the start line
_DONE = b"D"  # followed by an 8-byte length and the pickled (Collected | None, error | None)


def _process_writer(plan: WriterPlan, pattern: Any, store: Any, network: NetworkModel | None, seed: int,
                    channel: Any, go: Any, origin: Any, timeout: float) -> None:
    """The body of one writer process: get ready, wait for the start, run, send back what it collected.

    It reports through its own pipe *channel* only (one byte at the start line,
    then one framed message), never through a lock shared with other
    processes, so a writer killed at any moment cannot block anyone else.
    """
    fd = channel.fileno()
    try:
        clock = RealClock()
        col, make_view, fn, pass_rng = _prepare(pattern, store, network, clock, seed, f"shared/{plan.writer}",
                                                -1 - plan.writer * 1000)
        view = make_view(plan.writer)
        rng = _pattern_rng(seed, plan.writer)
        os.write(fd, _READY)
        if not go.acquire(timeout=timeout):  # the parent gave up (or died): do not run on
            raise RuntimeError(f"writer-{plan.writer} was not started within {timeout:g} s")
        col.origin = origin.value
        make_view.set_origin(col.origin)
        run_writer(plan, view, fn, pass_rng, rng, clock, col)
        close = getattr(fn, "close", None)
        if callable(close):
            close()
        _settle_tickets(col)
        result: tuple[Collected | None, BaseException | None] = (col, None)
    except BaseException as exc:  # sent to the parent, which re-raises
        result = (None, exc)
    try:
        payload = pickle.dumps(result)
    except Exception as exc:  # an error that does not pickle still reaches the parent, as text
        error = result[1]
        payload = pickle.dumps((None, RuntimeError(f"writer-{plan.writer} failed: {error!r} (unpicklable: {exc})")))
    message = memoryview(_DONE + struct.pack("!Q", len(payload)) + payload)
    while message:
        message = message[os.write(fd, message):]
    channel.close()


class _WriterChannel:
    """The parent's end of one writer's pipe: bytes read so far, without ever blocking on them."""

    def __init__(self, proc: Any, reader: Any) -> None:
        self.proc, self.reader, self.buffer = proc, reader, bytearray()
        self.fd: int = reader.fileno()
        self.result: tuple[Collected | None, BaseException | None] | None = None  # once complete
        os.set_blocking(self.fd, False)

    @property
    def ready(self) -> bool:
        """The writer reached the start line (or already ended, with its message)."""
        return bool(self.buffer)

    def drain(self) -> None:
        """Read whatever the pipe holds now; unpickle the writer's message once it is complete."""
        while self.result is None:
            try:
                chunk = os.read(self.fd, 1 << 16)
            except BlockingIOError:
                return
            if not chunk:
                return
            self.buffer += chunk
            start = 1 if self.buffer[:1] == _READY else 0
            if self.buffer[start:start + 1] != _DONE or len(self.buffer) < start + 9:
                continue
            (size,) = struct.unpack("!Q", self.buffer[start + 1:start + 9])
            if len(self.buffer) >= start + 9 + size:
                self.result = pickle.loads(self.buffer[start + 9:start + 9 + size])


def _check_alive(channels: list[_WriterChannel], waiting_for: str, hint: str = "") -> None:
    """Raise if a writer process ended without sending what the run is *waiting_for* from it."""
    dead = []
    for channel in channels:
        if channel.proc.exitcode is None:
            continue
        channel.drain()  # it wrote all it ever will
        if channel.result is None:
            dead.append(channel.proc)
    if dead:
        names = ", ".join(f"{p.name} (exit code {p.exitcode})" for p in dead)
        raise RuntimeError(f"writer process(es) died without reporting: {names}; the run was stopped "
                           f"while waiting for {waiting_for}{hint}")


def _await_writers(channels: list[_WriterChannel], done: Callable[[_WriterChannel], bool], what: str,
                   deadline: float, timeout: float, hint: str = "") -> None:
    """Wait until *done* holds for every writer; a dead writer or the deadline ends the run at once."""
    while True:
        for channel in channels:
            channel.drain()
            found = channel.result
            if found is not None and found[1] is not None:
                raise found[1]
        _check_alive(channels, what, hint)
        pending = [c for c in channels if not done(c)]
        if not pending:
            return
        left = deadline - time.monotonic()
        if left <= 0:
            names = ", ".join(c.proc.name for c in pending)
            raise TimeoutError(f"{len(pending)} of {len(channels)} writer process(es) had not finished after "
                               f"timeout={timeout:g} s (waiting for {what}): {names}; they were stopped and the "
                               "run abandoned")
        multiprocessing.connection.wait([c.fd for c in pending] + [c.proc.sentinel for c in pending],
                                        timeout=min(left, 0.5))


def _start_method(*objects: Any) -> str:
    """``forkserver`` if what the writers receive can be imported by a fresh process, else ``fork``.

    A fork copies the parent, threads' state included: a thread that is inside
    SQLite at that moment leaves the child unable to use it, and a notebook
    kernel is a threaded process. ``forkserver`` forks each writer from a
    small single-threaded server instead, but the pattern must then travel by
    pickle, by name: a function defined in a notebook or a script
    (``__main__``), a lambda or a closure cannot. For those the writers are
    forked (the trade-off: they work as before, and the SQLite store refuses,
    at once and by name, only a fork made while another thread was inside it).
    Off Linux ``spawn`` is used, where fork is unsafe.

    Like ``spawn``, ``forkserver`` imports the main script once (in the
    server): a script that starts real runs must do so under
    ``if __name__ == "__main__":``. A notebook has no such script.
    """
    if not sys.platform.startswith("linux"):
        return "spawn"
    needs_main = False

    class _Probe(pickle.Pickler):
        def reducer_override(self, obj: Any) -> Any:
            nonlocal needs_main
            module = getattr(obj, "__module__", None) if isinstance(obj, type) or callable(obj) else None
            if module == "__main__" or type(obj).__module__ == "__main__":
                needs_main = True
            return NotImplemented

    try:
        _Probe(io.BytesIO()).dump(objects)
    except Exception:  # a lambda, a closure, a lock: only a fork can carry it
        return "fork"
    if needs_main:
        return "fork"
    return "forkserver" if _forkserver_socket_fits() else "spawn"


def _forkserver_socket_fits() -> bool:
    """Whether the fork server's socket path fits a Unix socket address (about 107 bytes).

    The server listens on a socket in multiprocessing's temporary folder, made
    under :func:`tempfile.gettempdir`; a long temporary path (a deep ``TMPDIR``)
    makes starting it fail with "AF_UNIX path too long". ``spawn`` carries the
    same importable writers without a socket, only slower to start.
    """
    cached = multiprocessing.process.current_process()._config.get("tempdir")
    base = cached or os.path.join(tempfile.gettempdir(), "pymp-" + "x" * 8)
    return len(os.path.join(base, "listener-" + "x" * 8).encode()) < 100


def run_processes(pattern: Any, plans: list[WriterPlan], store: Any, network: NetworkModel | None,
                   seed: int, timeout: float = 60.0) -> Collected:
    """Run each writer in its own process, all started together; see :func:`_start_method` for how.

    The whole run (start and saves) must end within *timeout* seconds: a
    writer that stops (``SIGSTOP``) or hangs ends the run with a
    :class:`TimeoutError` naming the writers that had not finished, and a
    writer that dies at any moment with a :class:`RuntimeError` naming it,
    within about half a second. Either way every writer process is killed
    before this returns.
    """
    method = _start_method(pattern, store, network, plans)
    ctx: Any = multiprocessing.get_context(method)
    if method == "forkserver":
        ctx.set_forkserver_preload(["__main__", "aether.experiment.runners"])  # imported once, by the server
    script = getattr(sys.modules.get("__main__"), "__file__", None)
    hint = (f" (writer processes import the main script {script!r} first: if it starts runs when imported, "
            'guard them with `if __name__ == "__main__":`)') if method != "fork" and script else ""
    go, origin = ctx.Semaphore(0), ctx.RawValue("d", 0.0)
    channels: list[_WriterChannel] = []
    deadline = time.monotonic() + timeout
    finished = False
    try:
        for plan in plans:
            reader, writer_end = ctx.Pipe(duplex=False)
            proc = ctx.Process(target=_process_writer, name=f"writer-{plan.writer}", daemon=True,
                               args=(plan, pattern, store, network, seed, writer_end, go, origin, timeout))
            proc.start()
            writer_end.close()  # only the writer holds its end now (siblings forked later do not inherit it)
            channels.append(_WriterChannel(proc, reader))
        _await_writers(channels, lambda c: c.ready, "every writer to reach the start line", deadline, timeout,
                       hint)
        col = Collected()
        col.origin = origin.value = RealClock().now()
        for _ in channels:
            go.release()
        _await_writers(channels, lambda c: c.result is not None, "every writer to finish", deadline, timeout)
        results = [(plan.writer, channel.result) for plan, channel in zip(plans, channels, strict=True)]
        finished = True
    finally:
        grace = time.monotonic() + (1.0 if finished else 0.0)  # writers that reported are leaving on their own
        for channel in channels:
            channel.proc.join(max(grace - time.monotonic(), 0.0))
            if channel.proc.is_alive():
                channel.proc.kill()  # SIGKILL: a stopped process ignores SIGTERM until it is continued
        for channel in channels:
            channel.proc.join(5)
            channel.reader.close()
    for _, found in sorted(results, key=lambda r: r[0]):
        assert found is not None
        part, _ = found
        assert part is not None
        col.records.extend(part.records)
        col.absorb(part)
    return col
