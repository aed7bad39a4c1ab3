"""Two clocks for one pattern code: wall time and simulated time.

Retry patterns never call :func:`time.sleep` or :func:`time.monotonic`
themselves; they take a *clock* with :meth:`~Clock.now` and
:meth:`~Clock.sleep`. The same code then runs

* on :class:`RealClock`: wall time, with writers as real threads or processes;
* on :class:`SimulatedClock`: virtual time, with writers as greenlets. A
  ``sleep`` parks the writer and virtual time jumps straight to the next
  wake-up, so a thousand writers finish in well under a second and a run with
  a given seed is identical every time.

Both clocks also offer what background work needs: :meth:`spawn` starts a
task (a thread, or a simulated task), and :meth:`signal` makes a
:class:`Signal` a task can wait on (like :class:`threading.Event`), in the
clock's own time.
"""

from __future__ import annotations

import heapq
import itertools
import math
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol, TypeVar, runtime_checkable

from greenlet import GreenletExit, getcurrent, greenlet

from aether.errors import AetherError

__all__ = [
    "Clock",
    "RealClock",
    "Signal",
    "SimulatedClock",
    "SimulationDeadlockError",
    "Task",
    "TaskClock",
]

T = TypeVar("T")
_INF = math.inf


class SimulationDeadlockError(AetherError, RuntimeError):
    """Every simulated task is waiting and nothing is scheduled to wake any of them.

    A real program in that state would hang forever; the simulation says so
    instead, naming each task and what it waits on.
    """


@runtime_checkable
class Clock(Protocol):
    """What a retry pattern needs from time: read it and wait."""

    def now(self) -> float:
        """Seconds on this clock (only differences are meaningful)."""
        ...

    def sleep(self, seconds: float) -> None:
        """Wait *seconds* (a finite number ``>= 0``) on this clock."""
        ...


@runtime_checkable
class Signal(Protocol):
    """A flag a task can wait on, in its clock's time (the shape of :class:`threading.Event`)."""

    def set(self) -> None:
        """Set the flag and wake every waiter."""
        ...

    def clear(self) -> None:
        """Reset the flag."""
        ...

    def is_set(self) -> bool:
        """Whether the flag is set."""
        ...

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the flag is set or *timeout* seconds pass; return the flag."""
        ...


@runtime_checkable
class Task(Protocol):
    """A running piece of background work started by :meth:`TaskClock.spawn`."""

    name: str

    def done(self) -> bool:
        """Whether the task has finished (returned or raised)."""
        ...

    def join(self, timeout: float | None = None) -> bool:
        """Wait until the task finishes or *timeout* passes; return :meth:`done`."""
        ...


@runtime_checkable
class TaskClock(Clock, Protocol):
    """A clock that can also run background tasks and make signals for them."""

    def spawn(self, fn: Callable[..., Any], /, *args: Any, name: str | None = None) -> Task:
        """Start ``fn(*args)`` as a concurrent task on this clock."""
        ...

    def signal(self, name: str = "signal") -> Signal:
        """Make a :class:`Signal` whose ``wait`` runs in this clock's time."""
        ...


def _check_seconds(seconds: object, what: str = "sleep") -> None:
    try:
        if 0.0 <= seconds < _INF:  # type: ignore[operator]
            return
    except TypeError:
        raise TypeError(f"{what} takes a number of seconds; got {seconds!r} ({type(seconds).__name__})") from None
    raise ValueError(f"{what} takes a finite number of seconds >= 0; got {seconds!r}")


# --------------------------------------------------------------------------- real time


class _RealTask:
    def __init__(self, fn: Callable[..., Any], args: tuple[Any, ...], name: str) -> None:
        self.name = name
        self.result: Any = None
        self.exception: BaseException | None = None
        self._thread = threading.Thread(target=self._main, args=(fn, args), name=name, daemon=True)

    def _main(self, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
        try:
            self.result = fn(*args)
        except BaseException as exc:  # reported through .exception and join()
            self.exception = exc

    def done(self) -> bool:
        return self._thread.ident is not None and not self._thread.is_alive()

    def join(self, timeout: float | None = None) -> bool:
        if timeout is not None:
            _check_seconds(timeout, "join timeout")
        self._thread.join(timeout)
        return self.done()

    def __repr__(self) -> str:
        return f"<RealTask {self.name!r} done={self.done()}>"


class RealClock:
    """Wall time: ``now`` is :func:`time.monotonic`, ``sleep`` is :func:`time.sleep`.

    Use it in production code and in the real-time experiments that show the
    simulated results hold on real threads and processes. ``spawn`` starts a
    daemon thread; ``signal`` returns a :class:`threading.Event`.
    """

    def now(self) -> float:
        """Seconds from :func:`time.monotonic`."""
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        """Block the calling thread for *seconds*."""
        _check_seconds(seconds)
        time.sleep(seconds)

    def spawn(self, fn: Callable[..., Any], /, *args: Any, name: str | None = None) -> _RealTask:
        """Run ``fn(*args)`` in a new daemon thread."""
        task = _RealTask(fn, args, name or getattr(fn, "__name__", "task"))
        task._thread.start()
        return task

    def signal(self, name: str = "signal") -> threading.Event:
        """A :class:`threading.Event` (it already is a real-time :class:`Signal`)."""
        return threading.Event()

    def __repr__(self) -> str:
        return "RealClock()"


# --------------------------------------------------------------------------- simulated time


class _TaskGreenlet(greenlet):
    clock: SimulatedClock
    task: SimTask


class _Wait:
    """One pending ``Signal.wait`` (with or without a timeout)."""

    __slots__ = ("glet", "signal", "done")

    def __init__(self, glet: greenlet, signal: SimSignal) -> None:
        self.glet = glet
        self.signal = signal
        self.done = False


class SimTask:
    """A simulated task: a greenlet scheduled by a :class:`SimulatedClock`."""

    def __init__(self, clock: SimulatedClock, fn: Callable[..., Any], args: tuple[Any, ...], name: str) -> None:
        self.name = name
        self.result: Any = None
        self.exception: BaseException | None = None
        self.waiting_on: str | None = None
        self._clock = clock
        self._finished = SimSignal(clock, f"task {name!r} finished")
        self._glet = _TaskGreenlet(run=self._main)
        self._glet.clock = clock
        self._glet.task = self
        self._fn = fn
        self._args = args

    def _main(self, _start: object = None) -> None:
        try:
            self.result = self._fn(*self._args)
        except GreenletExit:
            raise
        except BaseException as exc:
            self.exception = exc
            self._clock._failure = (self, exc)
        finally:
            self._clock._live.discard(self)
            self._finished.set()

    def done(self) -> bool:
        return self._finished.is_set()

    def join(self, timeout: float | None = None) -> bool:
        """Wait in virtual time until the task has finished (or *timeout* passes)."""
        return self._finished.wait(timeout)

    def __repr__(self) -> str:
        return f"<SimTask {self.name!r} done={self.done()}>"


class SimSignal:
    """A :class:`Signal` in virtual time: waiting parks the task, not the thread."""

    def __init__(self, clock: SimulatedClock, name: str = "signal") -> None:
        self.name = name
        self._clock = clock
        self._flag = False
        self._waiters: list[_Wait] = []

    def is_set(self) -> bool:
        return self._flag

    def set(self) -> None:
        self._flag = True
        clock = self._clock
        waiters, self._waiters = self._waiters, []
        for wait in waiters:
            if not wait.done:
                wait.done = True
                clock._schedule(clock._now, wait.glet, True)

    def clear(self) -> None:
        self._flag = False

    def wait(self, timeout: float | None = None) -> bool:
        if self._flag:
            return True
        if timeout is not None:
            _check_seconds(timeout, "wait timeout")
        clock = self._clock
        current = getcurrent()
        if not clock._is_task(current):
            # Outside the simulation: run it until the flag is set or time is up.
            deadline = None if timeout is None else clock._now + timeout
            clock._run(until=deadline, stop=self)
            return self._flag
        task: SimTask = current.task  # type: ignore[attr-defined]
        wait = _Wait(current, self)
        self._waiters.append(wait)
        if timeout is not None:
            clock._schedule(clock._now + timeout, current, wait)
        task.waiting_on = f"signal {self.name!r}" + ("" if timeout is None else f" (timeout {timeout:g} s)")
        try:
            result = clock._hub.switch()  # type: ignore[union-attr]
        finally:
            task.waiting_on = None
        return bool(result)

    def __repr__(self) -> str:
        return f"<SimSignal {self.name!r} set={self._flag}>"


class SimulatedClock:
    """Deterministic virtual time for plain synchronous code.

    Use it to run many writers at once, exactly and fast::

        clock = SimulatedClock()
        for i in range(1000):
            clock.spawn(writer, i, name=f"writer-{i}")
        clock.run()          # returns when every task has finished
        clock.now()          # the virtual time the last one finished at

    Each task is a greenlet; only one runs at a time, and it runs until it
    calls :meth:`sleep` (or waits on a :class:`SimSignal`). Virtual time then
    jumps to the earliest wake-up; ties go to whoever was scheduled first, so
    the same program always produces the same interleaving.

    Called outside a running simulation, ``sleep(s)`` simply advances the
    clock by *s* (running any task due in that span), which makes it a handy
    fake clock for unit tests. :attr:`sleeps` records every sleep requested.

    If every live task waits on a signal that nothing can set, :meth:`run`
    raises :class:`SimulationDeadlockError` instead of hanging. An exception
    escaping a task stops the run and is re-raised by :meth:`run`.

    Rule for code run on it: never hold a lock across a ``sleep``.
    """

    def __init__(self, start: float = 0.0, *, record_sleeps: bool = False) -> None:
        _check_seconds(start, "start time")
        self._now = float(start)
        self._heap: list[tuple[float, int, greenlet, Any]] = []
        self._seq = itertools.count()
        self._hub: greenlet | None = None
        self._live: set[SimTask] = set()
        self._failure: tuple[SimTask, BaseException] | None = None
        self.sleeps: list[float] | None = [] if record_sleeps else None

    # -- Clock ------------------------------------------------------------------

    def now(self) -> float:
        """The current virtual time in seconds."""
        return self._now

    def sleep(self, seconds: float) -> None:
        """Park the calling task for *seconds* of virtual time."""
        try:
            ok = 0.0 <= seconds < _INF
        except TypeError:
            ok = False
        if not ok:
            _check_seconds(seconds)
        if self.sleeps is not None:
            self.sleeps.append(seconds)
        current = getcurrent()
        if current.__class__ is _TaskGreenlet and current.clock is self:  # type: ignore[attr-defined]
            heapq.heappush(self._heap, (self._now + seconds, next(self._seq), current, None))
            self._hub.switch()  # type: ignore[union-attr]
        else:
            self._run(until=self._now + seconds)

    # -- tasks and signals ------------------------------------------------------

    def spawn(self, fn: Callable[..., Any], /, *args: Any, name: str | None = None) -> SimTask:
        """Schedule ``fn(*args)`` to start at the current virtual time."""
        task = SimTask(self, fn, args, name or getattr(fn, "__name__", "task"))
        if self._hub is not None:
            task._glet.parent = self._hub
        self._live.add(task)
        self._schedule(self._now, task._glet, None)
        return task

    def signal(self, name: str = "signal") -> SimSignal:
        """Make a :class:`SimSignal` for tasks of this clock."""
        return SimSignal(self, name)

    def run(self, until: float | None = None) -> None:
        """Run scheduled tasks until none is left (or virtual time *until*).

        Raises :class:`SimulationDeadlockError` if tasks remain that nothing
        will ever wake, and re-raises the first exception that escapes a task.
        """
        if until is not None:
            _check_seconds(until, "run until")
        self._run(until=until)

    @property
    def pending(self) -> int:
        """How many tasks have not finished yet."""
        return len(self._live)

    # -- the scheduler ----------------------------------------------------------

    def _is_task(self, glet: greenlet) -> bool:
        return glet.__class__ is _TaskGreenlet and glet.clock is self  # type: ignore[attr-defined]

    def _schedule(self, when: float, glet: greenlet, value: Any) -> None:
        heapq.heappush(self._heap, (when, next(self._seq), glet, value))

    def _run(self, until: float | None, stop: SimSignal | None = None) -> None:
        if self._hub is not None:
            raise RuntimeError("SimulatedClock.run() cannot be called from inside a simulated task")
        hub = self._hub = getcurrent()
        for task in self._live:
            if not task._glet:  # not started yet: finish back into the hub
                task._glet.parent = hub
        heap = self._heap
        pop = heapq.heappop
        try:
            while heap:
                if stop is not None and stop._flag:
                    return
                if until is not None and heap[0][0] > until:
                    break
                when, _, glet, value = pop(heap)
                if value.__class__ is _Wait:
                    if value.done:
                        continue
                    value.done = True
                    value.signal._waiters.remove(value)
                    value = False
                self._now = when
                glet.switch(value)
                if self._failure is not None:
                    task, exc = self._failure
                    self._failure = None
                    exc.add_note(f"(raised in simulated task {task.name!r} at t={self._now:.6f} s)")
                    raise exc
            else:
                if stop is not None and stop._flag:
                    return
                if until is None and (self._live or stop is not None):
                    self._deadlock(stop)
        finally:
            self._hub = None
        if until is not None and until > self._now:
            self._now = until

    def _deadlock(self, stop: SimSignal | None) -> None:
        blocked = sorted(self._live, key=lambda t: t.name)
        lines = [f"{t.name!r} waits on {t.waiting_on or 'nothing known'}" for t in blocked[:10]]
        if len(blocked) > 10:
            lines.append(f"... and {len(blocked) - 10} more")
        who = f" while the caller waits on signal {stop.name!r}" if stop is not None else ""
        raise SimulationDeadlockError(
            f"simulation deadlock at t={self._now:.6f} s: {len(blocked)} task(s) are waiting{who} "
            "and nothing is scheduled to wake them: " + "; ".join(lines or ["no tasks"])
        )

    def __repr__(self) -> str:
        return f"SimulatedClock(now={self._now:.6f}, pending={len(self._live)})"
