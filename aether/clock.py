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
from heapq import heappushpop as _heappushpop
from typing import Any, Protocol, runtime_checkable

from greenlet import GreenletExit, getcurrent, greenlet

from aether.checks import MAX_SECONDS, check_bool, check_seconds
from aether.errors import AetherError

__all__ = [
    "DEFAULT_HORIZON",
    "MAX_IDLE_GREENLETS",
    "Clock",
    "RealClock",
    "Signal",
    "SimSignal",
    "SimTask",
    "SimulatedClock",
    "SimulationDeadlockError",
    "SimulationHorizonError",
    "Task",
    "TaskClock",
    "check_seconds",
]

_INF = math.inf

DEFAULT_HORIZON = 86_400.0
"""How much virtual time a :class:`SimulatedClock` lets its tasks run by default: one day.

Every chapter's longest run takes well under an hour of virtual time, so a
run that reaches a day is a pattern that never stops (a retry loop without a
limit): the clock ends it with :class:`SimulationHorizonError` instead of
computing for ever. Set another with ``SimulatedClock(horizon=...)``."""


class SimulationDeadlockError(AetherError, RuntimeError):
    """Every simulated task is waiting and nothing is scheduled to wake any of them.

    A real program in that state would hang forever; the simulation says so
    instead, naming each task and what it waits on.
    """


class SimulationHorizonError(AetherError, RuntimeError):
    """Simulated tasks were still running when virtual time reached the clock's horizon.

    A task that keeps sleeping (a retry loop without a limit, a worker that
    never stops) would keep a simulation busy for ever; the clock stops at
    its horizon (:data:`DEFAULT_HORIZON` unless set) and names the tasks
    still running. ``tasks`` holds their names.
    """

    def __init__(self, message: str, tasks: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.tasks = tasks

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (str(self), self.tasks))


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


def _task_name(fn: Callable[..., Any], name: str | None) -> str:
    """The name a spawned task goes by: *name*, else the function's name."""
    if not callable(fn):
        raise TypeError(f"spawn takes a callable; got {fn!r} ({type(fn).__name__})")
    return name if name is not None else getattr(fn, "__name__", "task")


# --------------------------------------------------------------------------- real time


class _RealTask:
    """A :class:`Task` on a daemon thread, made by :meth:`RealClock.spawn`.

    After it finishes, ``result`` holds what the function returned, or
    ``exception`` what it raised (the exception is kept, not re-raised).
    """

    def __init__(self, fn: Callable[..., Any], args: tuple[Any, ...], name: str) -> None:
        self.name = name
        self.result: Any = None
        self.exception: BaseException | None = None
        self._thread = threading.Thread(target=self._main, args=(fn, args), name=name, daemon=True)

    def _main(self, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
        try:
            self.result = fn(*args)
        except BaseException as exc:  # noqa: BLE001 - kept for the caller in .exception
            self.exception = exc

    def done(self) -> bool:
        """Whether the thread has run and finished."""
        return self._thread.ident is not None and not self._thread.is_alive()

    def join(self, timeout: float | None = None) -> bool:
        """Block until the thread finishes or *timeout* seconds pass; return :meth:`done`."""
        if timeout is not None:
            timeout = check_seconds("join timeout", timeout)
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
        """Block the calling thread for *seconds* (a finite number ``>= 0``)."""
        time.sleep(check_seconds("sleep duration", seconds))

    def spawn(self, fn: Callable[..., Any], /, *args: Any, name: str | None = None) -> _RealTask:
        """Run ``fn(*args)`` in a new daemon thread, started at once."""
        task = _RealTask(fn, args, _task_name(fn, name))
        task._thread.start()
        return task

    def signal(self, name: str = "signal") -> threading.Event:
        """A :class:`threading.Event` (it already is a real-time :class:`Signal`)."""
        return threading.Event()

    def __repr__(self) -> str:
        return "RealClock()"


# --------------------------------------------------------------------------- simulated time
#
# How the simulation runs. Every task is a greenlet whose parent is the *hub*:
# the greenlet that called run() (or that sleeps or waits outside a run). The
# clock keeps one heap of wake-ups, (time, sequence number, greenlet, value),
# so ties go to whoever was scheduled first. A task that sleeps pushes its own
# wake-up, pops the next one and switches straight to that greenlet, passing
# it the value its sleep or wait returns; the hub only gets control back when
# a task finishes (to check for an escaped exception) or when nothing may run
# now (the heap is empty, the next wake-up is past ``until``, or the signal the
# hub waits on was set).


class _TaskGreenlet(greenlet):
    """A greenlet that runs :class:`SimTask` s, one after another (tagged so the clock can recognise its tasks).

    ``task`` is the task it runs now. Making a greenlet and starting it costs
    about 8 us (its first switch sets up a fresh interpreter stack), so a task
    that finishes hands its greenlet back to the clock, which starts the next
    task on it: an open-loop run starts a task per caller.
    """

    __slots__ = ("clock", "task")  # no attribute dictionary per task

    clock: SimulatedClock
    task: SimTask


#: The value a task's first wake-up carries: it starts from the hub (see _switch_away), never from a sleep.
#: Its heap entry holds the SimTask itself, which gets a greenlet only when it starts.
_START = object()
#: What a task greenlet switches back to the hub with when its task has ended (it is in ``clock._freed``).
_FREED = object()
#: The most greenlets a clock keeps waiting for a task to start. Enough for an open loop's callers, which
#: end and arrive all the time; a closed loop's writers, which all end together, mostly end with theirs,
#: so that few are left to let go when the run ends.
MAX_IDLE_GREENLETS = 32


class _Wait:
    """One pending ``SimSignal.wait``; ``done`` once it was woken or timed out (never both).

    ``glet`` is the waiting task, or ``None`` for a caller outside a run (the
    hub), which is not scheduled but notices ``done`` itself.
    """

    __slots__ = ("done", "glet", "signal")

    def __init__(self, glet: greenlet | None, signal: SimSignal) -> None:
        self.glet = glet
        self.signal = signal
        self.done = False


def _call_flat(fn: Callable[..., Any], args: tuple[Any, ...]) -> Any:
    """``fn(*args)``, written out for up to eight arguments.

    In CPython 3.11 a call with ``*args`` runs the callee in a new C frame of
    the interpreter, where a plain call of a Python function does not; every
    suspended task keeps its C frames in its greenlet's saved stack, so the
    star call costs about 0.3 KB per task (0.3 MB at 1,000 writers).
    """
    n = len(args)
    if n > 8:
        return fn(*args)
    if n >= 5:
        if n == 8:
            return fn(args[0], args[1], args[2], args[3], args[4], args[5], args[6], args[7])
        if n == 7:
            return fn(args[0], args[1], args[2], args[3], args[4], args[5], args[6])
        if n == 6:
            return fn(args[0], args[1], args[2], args[3], args[4], args[5])
        return fn(args[0], args[1], args[2], args[3], args[4])
    if n == 4:
        return fn(args[0], args[1], args[2], args[3])
    if n == 3:
        return fn(args[0], args[1], args[2])
    if n == 2:
        return fn(args[0], args[1])
    return fn(args[0]) if n == 1 else fn()


def _run_tasks(task: SimTask) -> None:
    """A task greenlet's life: run its task, hand itself back to the hub, run the next task it is given.

    It tells the hub it is free through ``clock._freed``, not through the
    switch: a parked greenlet whose frame refers to the greenlet itself (an
    argument of the switch it waits in) would never be freed.
    """
    while True:
        task._main()
        clock = task._clock
        task = None  # an idle greenlet keeps no finished task
        if len(clock._idle) >= MAX_IDLE_GREENLETS:
            return  # enough wait for work already: this one ends, back to the hub
        glet: _TaskGreenlet = getcurrent()  # type: ignore[assignment]
        glet.task = None  # type: ignore[assignment]
        clock._freed = glet
        del glet
        task = clock._hub.switch(_FREED)  # type: ignore[union-attr]


class SimTask:
    """A simulated task: a greenlet scheduled by a :class:`SimulatedClock`.

    Made by :meth:`SimulatedClock.spawn`. After it finishes, ``result`` holds
    what the function returned, or ``exception`` what it raised (which
    :meth:`SimulatedClock.run` also re-raises). ``waiting_on`` says what it is
    blocked on, for deadlock reports.
    """

    __slots__ = ("name", "result", "exception", "waiting_on", "_clock", "_done", "_finished", "_glet", "_fn", "_args")

    def __init__(self, clock: SimulatedClock, fn: Callable[..., Any], args: tuple[Any, ...], name: str) -> None:
        self.name = name
        self.result: Any = None
        self.exception: BaseException | None = None
        self.waiting_on: str | None = None
        self._clock = clock
        self._done = False
        # The signal a join waits on, made by the first join that has to wait: most tasks are never joined.
        self._finished: SimSignal | None = None
        self._glet: _TaskGreenlet | None = None  # the greenlet that runs it, while it runs
        self._fn = fn
        self._args = args

    def _main(self) -> None:
        fn, args = self._fn, self._args
        # A finished task keeps its result, not its arguments: a run of many tasks frees each one's
        # (its view of the store, its random generators) as it ends, not when the whole run does.
        self._fn = self._args = None  # type: ignore[assignment]
        try:
            self.result = _call_flat(fn, args)
        except GreenletExit:
            raise
        except BaseException as exc:  # noqa: BLE001 - re-raised by the clock's run()
            self.exception = exc
            self._clock._failure = (self, exc)
        finally:
            del fn, args
            self._clock._live.discard(self)
            self._done = True
            self._glet = None  # its greenlet goes on to run other tasks
            if self._finished is not None:
                self._finished.set()

    def done(self) -> bool:
        """Whether the task has finished (returned or raised)."""
        return self._done

    def join(self, timeout: float | None = None) -> bool:
        """Wait in virtual time until the task has finished (or *timeout* passes); return :meth:`done`.

        From another task this parks the caller; from outside a run it runs
        the simulation until the task is done.
        """
        if getcurrent() is self._glet:
            raise RuntimeError(f"task {self.name!r} cannot join itself")
        if timeout is not None:
            timeout = check_seconds("join timeout", timeout)
        if self._done:
            return True
        if self._finished is None:
            self._finished = SimSignal(self._clock, f"task {self.name!r} finished")
        return self._finished.wait(timeout)

    def __repr__(self) -> str:
        return f"<SimTask {self.name!r} done={self.done()}>"


class SimSignal:
    """A :class:`Signal` in virtual time: waiting parks the task, not the thread.

    Made by :meth:`SimulatedClock.signal`. Use it where real code would use a
    :class:`threading.Event`, e.g. a worker waiting for a retry queue to fill.
    """

    def __init__(self, clock: SimulatedClock, name: str = "signal") -> None:
        self.name = name
        self._clock = clock
        self._flag = False
        self._waiters: list[_Wait] = []

    def is_set(self) -> bool:
        """Whether the flag is set."""
        return self._flag

    def set(self) -> None:
        """Set the flag and wake every waiter at the current virtual time, first waiter first."""
        self._flag = True
        clock = self._clock
        waiters, self._waiters = self._waiters, []
        for wait in waiters:
            if not wait.done:
                wait.done = True
                if wait.glet is not None:
                    clock._schedule(clock._now, wait.glet, True)

    def clear(self) -> None:
        """Reset the flag; later waiters block until the next :meth:`set`."""
        self._flag = False

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until the flag is set or *timeout* virtual seconds pass; return the flag.

        Inside a task this parks the task. Outside a run it runs the
        simulation until the flag is set or the time is up, and raises
        :class:`SimulationDeadlockError` if, without a timeout, nothing is
        left that could set it. Like :class:`threading.Event`, a waiter woken
        by :meth:`set` gets ``True`` even if the flag was cleared since.
        """
        if self._flag:
            return True
        if timeout is not None:
            timeout = check_seconds("wait timeout", timeout)
        current = getcurrent()
        if self._clock._is_task(current):
            return self._park(current, timeout)
        return self._run_until_set(timeout)

    def _run_until_set(self, timeout: float | None) -> bool:
        """Outside a run: run the simulation until :meth:`set` or the timeout; return whether it was set."""
        clock = self._clock
        wait = _Wait(None, self)
        self._waiters.append(wait)
        try:
            clock._run(until=None if timeout is None else clock._now + timeout, stop=wait)
        finally:
            woken = wait.done
            if not woken:
                wait.done = True
                self._waiters.remove(wait)
        return woken

    def _park(self, current: greenlet, timeout: float | None) -> bool:
        """Park the calling task until :meth:`set` or the timeout wakes it."""
        clock = self._clock
        task: SimTask = current.task  # type: ignore[attr-defined]
        wait = _Wait(current, self)
        self._waiters.append(wait)
        if timeout is not None:
            clock._schedule(clock._now + timeout, current, wait)
        task.waiting_on = f"signal {self.name!r}" + ("" if timeout is None else f" (timeout {timeout:g} s)")
        try:
            return bool(clock._switch_away(current))
        finally:
            task.waiting_on = None

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
    the same program always produces the same interleaving. ``sleep(0)``
    lets every other task due at the same instant run first.

    Called outside a running simulation, ``sleep(s)`` simply advances the
    clock by *s* (running any task due in that span), which makes it a handy
    fake clock for unit tests. With ``record_sleeps=True``, :attr:`sleeps`
    lists every sleep requested, in seconds, in the order they were made.

    If every live task waits on a signal that nothing can set, :meth:`run`
    raises :class:`SimulationDeadlockError` instead of hanging. Tasks run
    for at most ``horizon`` seconds of virtual time after ``start``
    (:data:`DEFAULT_HORIZON`, one day; ``None``: no bound): a run whose
    tasks are still going then raises :class:`SimulationHorizonError` naming
    them, instead of computing for ever. An exception
    escaping a task stops the run and is re-raised by :meth:`run`, with a note
    naming the task.

    Rule for code run on it: never hold a lock across a ``sleep``.
    """

    def __init__(
        self, start: float = 0.0, *, record_sleeps: bool = False, horizon: float | None = DEFAULT_HORIZON
    ) -> None:
        self._now = check_seconds("start", start)
        check_bool("record_sleeps", record_sleeps)
        self.horizon = None if horizon is None else check_seconds("horizon", horizon, positive=True)
        self._limit = _INF if self.horizon is None else self._now + self.horizon  # no wake-up runs later
        self._heap: list[tuple[float, int, greenlet, Any]] = []
        self._next_seq = itertools.count().__next__  # the tie-breaker of wake-ups at the same time
        self._hub: greenlet | None = None  # the greenlet running the scheduler, while a run is on
        self._idle: list[_TaskGreenlet] = []  # greenlets whose task has finished, for the next ones to start
        self._freed: _TaskGreenlet | None = None  # the greenlet whose task just ended, on its way to _idle
        self._until = _INF  # while a run is on: no wake-up later than this runs
        self._stop: _Wait | None = None  # while a run is on: the wait outside the run that ends it when done
        # sleep's fast path: a wake-up up to this time may run at once (-inf while a stop must be watched)
        self._fast_until = _INF
        self._live: set[SimTask] = set()
        self._failure: tuple[SimTask, BaseException] | None = None
        self.sleeps: list[float] | None = [] if record_sleeps else None

    # -- Clock ------------------------------------------------------------------

    def now(self) -> float:
        """The current virtual time in seconds."""
        return self._now

    def sleep(self, seconds: float) -> None:
        """Park the calling task for *seconds* of virtual time.

        Outside a run, advance the clock by *seconds*, running every task
        due on the way (and re-raising an exception that escapes one).
        """
        if seconds.__class__ is not float or not 0.0 <= seconds <= MAX_SECONDS:
            seconds = check_seconds("sleep duration", seconds)
        if self.sleeps is not None:
            self.sleeps.append(seconds)
        current = getcurrent()
        if current.__class__ is not _TaskGreenlet or current.clock is not self:  # type: ignore[attr-defined]
            self._run(until=self._now + seconds)
            return
        wake_up = (self._now + seconds, self._next_seq(), current, None)
        # The common case in one step (same outcome as the general path below):
        # push this wake-up, pop the earliest, and if that is a started task's
        # plain wake-up (a task to start is scheduled with _START) that may run
        # now, switch straight to it.
        when, _, glet, value = earliest = _heappushpop(self._heap, wake_up)
        if value is None and when <= self._fast_until:
            self._now = when
            if glet is not current:
                glet.switch(None)
            return
        heapq.heappush(self._heap, earliest)
        self._switch_away(current)

    # -- tasks and signals ------------------------------------------------------

    def spawn(self, fn: Callable[..., Any], /, *args: Any, name: str | None = None) -> SimTask:
        """Schedule ``fn(*args)`` to start at the current virtual time, after what is already due.

        The task runs once the simulation does: at the next :meth:`run`,
        ``sleep`` or ``wait`` outside a run, or, when spawned by another task,
        as soon as that task sleeps or waits.
        """
        task = SimTask(self, fn, args, _task_name(fn, name))
        self._live.add(task)
        self._schedule(self._now, task, _START)
        return task

    def signal(self, name: str = "signal") -> SimSignal:
        """Make a :class:`SimSignal` for tasks of this clock."""
        return SimSignal(self, name)

    def run(self, until: float | None = None) -> None:
        """Run scheduled tasks until none is left (or until virtual time *until*).

        With *until*, wake-ups due at *until* itself still run, the clock then
        reads *until* (if it was not later already), and a later ``run()``
        carries on from there. Raises :class:`SimulationDeadlockError` if,
        without *until*, tasks remain that nothing will ever wake, and
        re-raises the first exception that escapes a task. Refused (with
        :class:`RuntimeError`) from inside a task of this clock.
        """
        if until is not None:
            until = check_seconds("run until", until)
        self._run(until=until)

    @property
    def pending(self) -> int:
        """How many tasks have not finished yet."""
        return len(self._live)

    # -- the scheduler ----------------------------------------------------------

    def _is_task(self, glet: greenlet) -> bool:
        """Whether *glet* is one of this clock's tasks (so it can be parked rather than run the clock)."""
        return glet.__class__ is _TaskGreenlet and glet.clock is self  # type: ignore[attr-defined]

    def _schedule(self, when: float, glet: greenlet, value: Any) -> None:
        """Wake *glet* at virtual time *when*, switching into it with *value*."""
        heapq.heappush(self._heap, (when, self._next_seq(), glet, value))

    def _pop_next(self) -> tuple[greenlet, Any] | None:
        """Take the next wake-up that may run now and move the clock to its time.

        Returns the greenlet and the value to switch into it with, or ``None``
        when the run must stop here: nothing is scheduled, the next wake-up is
        past ``until``, or the signal the hub waits on was set. A timed-out
        ``wait`` leaves its signal's waiters here, so a later ``set`` cannot
        wake it a second time.
        """
        heap = self._heap
        stop = self._stop
        while heap and heap[0][0] <= self._until and not (stop is not None and stop.done):
            when, _, glet, value = heapq.heappop(heap)
            if value.__class__ is _Wait:
                if value.done:  # already woken by set(): this was its timeout
                    continue
                value.done = True
                value.signal._waiters.remove(value)
                value = False
            self._now = when
            return glet, value
        return None

    def _new_greenlet(self, hub: greenlet) -> _TaskGreenlet:
        glet = _TaskGreenlet(run=_run_tasks, parent=hub)
        glet.clock = self
        return glet

    def _switch_away(self, current: greenlet) -> Any:
        """Park *current* (already scheduled or waiting) and run whoever is next.

        Switches straight to the next task, or back to the hub when nothing
        may run now or the next task has not started yet (the hub starts every
        task, so a task's stack never sits on top of another's). Returns the
        value *current* is woken with.
        """
        following = self._pop_next()
        if following is None or following[1] is _START:
            return self._hub.switch(following)  # type: ignore[union-attr]
        glet, value = following
        if glet is current:  # it is itself the next to wake (e.g. sleep(0) with nobody else due)
            return value
        return glet.switch(value)

    def _run(self, until: float | None, stop: _Wait | None = None) -> None:
        """The hub: run tasks until *until*, until *stop* is done, or until none can run."""
        if self._hub is not None:
            raise RuntimeError("SimulatedClock.run() cannot be called from inside a simulated task")
        hub = self._hub = getcurrent()
        self._until = min(_INF if until is None else until, self._limit)
        self._stop = stop
        self._fast_until = self._until if stop is None else -_INF
        for task in self._live:
            if task._glet is not None:
                task._glet.parent = hub
        try:
            following = self._pop_next()
            while following is not None:
                glet, value = following
                if value is _START:  # a task to start, on a greenlet whose task has finished or a new one
                    task: SimTask = glet  # type: ignore[assignment]
                    glet = self._idle.pop() if self._idle else self._new_greenlet(hub)
                    glet.task = task
                    task._glet = glet
                    value = task
                # Back here when a task finishes (its greenlet, free for the next), when nothing
                # may run now (None), or with the next wake-up when it is a task to start.
                following = glet.switch(value)
                if following is _FREED:
                    self._idle.append(self._freed)  # type: ignore[arg-type]
                    self._freed = following = None
                self._raise_failure()
                if following is None:
                    following = self._pop_next()
        finally:
            # Greenlets left without a task are let go (killed): a clock between runs holds none.
            self._idle.clear()
            self._hub = None
            self._until = _INF
            self._stop = None
            self._fast_until = _INF
        if stop is not None and stop.done:
            return
        if self._live and self._heap and self._heap[0][0] > self._limit and (until is None or until > self._limit):
            self._horizon_reached()
        if until is None:
            if self._live or stop is not None:
                self._deadlock(stop)
        elif until > self._now:
            self._now = until

    def _raise_failure(self) -> None:
        """Re-raise an exception that escaped a task, noting which task and when."""
        if self._failure is None:
            return
        task, exc = self._failure
        self._failure = None
        exc.add_note(f"(raised in simulated task {task.name!r} at t={self._now:.6f} s)")
        raise exc

    def _horizon_reached(self) -> None:
        """Raise :class:`SimulationHorizonError` naming the tasks still running (the first ten)."""
        running = sorted(task.name for task in self._live)
        shown = ", ".join(repr(name) for name in running[:10])
        more = f" and {len(running) - 10} more" if len(running) > 10 else ""
        raise SimulationHorizonError(
            f"simulation reached its horizon of {self.horizon:g} s of virtual time (t={self._limit:.6f} s) with "
            f"{len(running)} task(s) still running: {shown}{more}. A pattern that never stops retrying? "
            "Give it a limit, or a longer horizon with SimulatedClock(horizon=...)",
            tuple(running),
        )

    def _deadlock(self, stop: _Wait | None) -> None:
        """Raise :class:`SimulationDeadlockError` naming the blocked tasks (the first ten) and what they wait on."""
        blocked = sorted(self._live, key=lambda t: t.name)
        lines = [f"{t.name!r} waits on {t.waiting_on or 'nothing known'}" for t in blocked[:10]]
        if len(blocked) > 10:
            lines.append(f"... and {len(blocked) - 10} more")
        who = f" while the caller waits on signal {stop.signal.name!r}" if stop is not None else ""
        raise SimulationDeadlockError(
            f"simulation deadlock at t={self._now:.6f} s: {len(blocked)} task(s) are waiting{who} "
            "and nothing is scheduled to wake them: " + "; ".join(lines or ["no tasks"])
        )

    def __repr__(self) -> str:
        return f"SimulatedClock(now={self._now:.6f}, pending={len(self._live)})"
