"""Other libraries' retry code in the harness: blocking sleeps caught, library give-ups recognised.

Attendees write their retries with tenacity or stamina, and the harness runs
them like any pattern. Two things would otherwise go silently wrong.

**A blocking sleep in a simulated writer.** On the simulated clock every writer
is a greenlet on one thread, and only :meth:`SimulatedClock.sleep
<aether.clock.SimulatedClock.sleep>` lets the others run. A writer that calls
:func:`time.sleep` instead (a plain ``@tenacity.retry`` function, stamina's
synchronous retries, a pattern that kept the default ``RealClock``) stops the
whole simulation for real: the wall time is the *sum* of every writer's
backoff, and the backoff is invisible in simulated time, so latencies and
completion times come out wrong without a word. While a simulated run is on,
:class:`guard_blocking_sleeps` replaces the module attribute ``time.sleep``
(which tenacity's default sleep, ``tenacity.nap.sleep``, and so stamina, look
up at every call) with a guard. Called from a task of the run's clock, it
sleeps that long on the simulated clock instead and counts the call; called
from anywhere else (another thread, code outside the run) it is the real
``time.sleep``. After the run a :class:`BlockingSleepWarning` says how many
sleeps, how many seconds and from where, and what to do instead.

Why sleep on the simulated clock rather than for real, or fail? Sleeping for
real gives numbers that are wrong and takes the sum of all backoffs in wall
time (minutes, for stamina's defaults and fifty writers), so the warning would
come only after a long wait for nothing. Failing at the first call would
refuse code that cannot be given a clock at all (stamina's synchronous retries
have no sleep hook). Redirected, the waits the library chose show in simulated
time, as they would on real threads; what stays approximate is said in the
warning: waits drawn from the global ``random`` module differ from run to run,
and a library that measures elapsed time itself (tenacity's
``stop_after_delay``, stamina's ``timeout``) still reads the wall clock. To
make the warning an error: ``warnings.simplefilter("error", BlockingSleepWarning)``.

What the guard cannot see: code that bound the function before the run
(``from time import sleep``), and sleeps in C code. Sleeps of zero seconds are
redirected too (they let other writers due at the same instant run, as a real
``time.sleep(0)`` lets other threads run), but they are not warned about: they
change no number.

**A library's give-up.** tenacity with ``reraise=False`` (its default) ends with
``tenacity.RetryError`` when its stop condition fires, ``from`` the last error,
as the lab's patterns end with :class:`~aether.errors.RetriesExhaustedError`.
:func:`is_library_give_up` recognises it, without importing tenacity, so the
harness records such a save as ``"gave_up"``.
"""

from __future__ import annotations

import sys
import threading
import time
import warnings
from collections import Counter
from dataclasses import dataclass, field
from types import FrameType, TracebackType

from greenlet import getcurrent

from aether.checks import check_text, show
from aether.clock import SimulatedClock

__all__ = [
    "LIBRARY_GIVE_UPS",
    "BlockingSleepWarning",
    "BlockingSleeps",
    "guard_blocking_sleeps",
    "is_library_give_up",
]

#: The exceptions, as (module, class name), with which a retry library says it gave up.
LIBRARY_GIVE_UPS: tuple[tuple[str, str], ...] = (("tenacity", "RetryError"),)


def is_library_give_up(error: BaseException) -> bool:
    """Whether *error* is a retry library's "I gave up" (``tenacity.RetryError``, or a subclass).

    Checked by class name and module along the error's class hierarchy, so the
    library need not be installed (nor imported) for the check to run.
    """
    for cls in type(error).__mro__:
        top = cls.__module__.split(".")[0]
        if (top, cls.__name__) in LIBRARY_GIVE_UPS:
            return True
    return False


class BlockingSleepWarning(RuntimeWarning):
    """A simulated writer called :func:`time.sleep`; the harness slept on the simulated clock instead.

    ``report`` is the run's :class:`BlockingSleeps` (``None`` when built by hand).
    """

    def __init__(self, message: str, report: BlockingSleeps | None = None) -> None:
        super().__init__(message)
        self.report = report


@dataclass
class BlockingSleeps:
    """What the guard saw during one simulated run: blocking sleeps made by its writers.

    ``calls`` counts every ``time.sleep`` made from a task of the run,
    ``seconds`` adds up their durations (all of them slept on the simulated
    clock instead), and ``callers`` counts the calls by the function that made
    them (``module.function``, e.g. ``tenacity.nap.sleep``).
    """

    label: str
    calls: int = 0
    seconds: float = 0.0
    callers: Counter[str] = field(default_factory=Counter)

    def message(self) -> str:
        """The warning's text: what happened, why it matters, what to do."""
        where = ", ".join(f"{name} ({n}x)" for name, n in self.callers.most_common(3))
        return (
            f"{self.label!r} called time.sleep {self.calls} time(s) from simulated writers, "
            f"{self.seconds:.3g} s in all (from {where}). A real sleep would stop every simulated writer and "
            "hide the wait from simulated time, so the harness slept on the simulated clock instead; waits "
            "drawn from the global random module still differ from run to run, and a stop or timeout the "
            "library measures itself still reads the wall clock. Give the library the clock's sleep: build "
            "tenacity.Retrying(sleep=clock.sleep, ...) inside the pattern; for stamina's synchronous "
            "retries, which take no sleep function, use stamina.set_testing in tests."
        )


_lock = threading.Lock()
_real_sleep = time.sleep  # what time.sleep was when the first of the guards now on began
_runs: dict[SimulatedClock, BlockingSleeps] = {}  # the runs being guarded, by their clock


def _caller(frame: FrameType | None) -> str:
    if frame is None:  # pragma: no cover - time.sleep is always called from a frame
        return "?"
    return f"{frame.f_globals.get('__name__', '?')}.{frame.f_code.co_qualname}"


def _guarded_sleep(seconds: float) -> None:
    """``time.sleep`` while a simulated run is guarded: on the run's clock inside its tasks, real elsewhere."""
    report = _runs.get(getattr(getcurrent(), "clock", None))  # type: ignore[arg-type]
    if report is None:
        _real_sleep(seconds)
        return
    report.calls += 1
    report.seconds += seconds
    report.callers[_caller(sys._getframe(1))] += 1
    getcurrent().clock.sleep(float(seconds))  # type: ignore[attr-defined]


def _outside_the_package() -> int:
    """The ``stacklevel`` that points a warning at the first frame outside :mod:`aether`."""
    level, frame = 1, sys._getframe(1)
    while frame is not None and frame.f_globals.get("__name__", "").partition(".")[0] == "aether":
        level += 1
        frame = frame.f_back
    return level


class guard_blocking_sleeps:  # noqa: N801 - used like a function: ``with guard_blocking_sleeps(clock, label):``
    """While the block runs, a ``time.sleep`` in a task of *clock* sleeps on *clock* instead, and is counted.

    Use it around :meth:`SimulatedClock.run <aether.clock.SimulatedClock.run>`
    (the harness's ``run_simulated`` does). On leaving the block without an
    error, if the tasks slept more than zero seconds that way, it warns with
    :class:`BlockingSleepWarning`, naming *label* (the pattern). The ``as``
    target is the :class:`BlockingSleeps` report. Guards nest and may run in
    several threads at once; ``time.sleep`` is itself again once the last one ends.
    """

    def __init__(self, clock: SimulatedClock, label: str) -> None:
        if not isinstance(clock, SimulatedClock):
            raise TypeError(f"clock must be a SimulatedClock; got {show(clock)} ({type(clock).__name__})")
        self.clock = clock
        self.report = BlockingSleeps(check_text("label", label))

    def __enter__(self) -> BlockingSleeps:
        global _real_sleep
        with _lock:
            if self.clock in _runs:
                raise RuntimeError(f"the blocking-sleep guard is already on for {show(self.clock)}")
            if not _runs and time.sleep is not _guarded_sleep:
                _real_sleep, time.sleep = time.sleep, _guarded_sleep
            _runs[self.clock] = self.report
        return self.report

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        with _lock:
            del _runs[self.clock]
            if not _runs and time.sleep is _guarded_sleep:  # someone else's replacement is left alone
                time.sleep = _real_sleep
        if exc_type is None and self.report.seconds > 0:
            warnings.warn(BlockingSleepWarning(self.report.message(), self.report), stacklevel=_outside_the_package())

    def __repr__(self) -> str:
        return f"guard_blocking_sleeps({self.clock!r}, {self.report.label!r})"

