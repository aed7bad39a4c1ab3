"""When the callers of an open-loop run arrive: a rate, constant or changing, and a spacing.

An open loop is how a service meets its callers: they arrive at a rate of
their own, whether or not earlier saves have finished. :func:`arrival_times`
turns a rate into the instants at which fresh callers start:

* ``rate``: saves per second, a number, or a :class:`Step` / :class:`Ramp`
  (anything with ``at(t)`` and ``peak``);
* ``arrivals="poisson"`` (independent callers: exponential gaps; for a
  changing rate, by thinning) or ``"even"`` (one every ``1 / rate`` s).
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

from aether.checks import check_choice, check_number, check_seconds, show

__all__ = ["ARRIVALS", "MAX_ARRIVALS", "Ramp", "Rate", "Step", "arrival_times", "check_rate"]

ArrivalKind = Literal["poisson", "even"]
ARRIVALS: tuple[str, ...] = ("poisson", "even")

#: The most callers one open-loop run accepts (rate x duration): more is a typo, not an experiment.
MAX_ARRIVALS = 2_000_000


@runtime_checkable
class Rate(Protocol):
    """A rate that changes over time: ``at(t)`` saves per second at *t*, never above ``peak``."""

    def at(self, t: float) -> float: ...

    @property
    def peak(self) -> float: ...


@dataclass(frozen=True)
class Step:
    """A rate that jumps: ``Step([(0, 100), (5, 250)])`` is 100/s from 0 s, then 250/s from 5 s."""

    steps: Sequence[tuple[float, float]]

    def __post_init__(self) -> None:
        if isinstance(self.steps, (str, bytes)) or not isinstance(self.steps, Sequence) or not self.steps:
            raise TypeError(f"Step.steps must be a non-empty sequence of (start, rate) pairs; got {show(self.steps)}")
        pairs = []
        for item in self.steps:
            if not (isinstance(item, Sequence) and len(item) == 2):
                raise TypeError(f"Step.steps takes (start, rate) pairs; got {show(item)}")
            pairs.append((check_seconds("Step start", item[0]), check_number("Step rate", item[1], minimum=0.0)))
        starts = [start for start, _ in pairs]
        if starts != sorted(starts) or len(set(starts)) != len(starts):
            raise ValueError(f"Step.steps must be in increasing order of start; got {show(self.steps)}")
        if starts[0] != 0:
            raise ValueError(f"Step.steps must start at 0 s; got {show(self.steps)}")
        object.__setattr__(self, "steps", tuple(pairs))

    def at(self, t: float) -> float:
        rate = self.steps[0][1]
        for start, value in self.steps:
            if t >= start:
                rate = value
        return rate

    @property
    def peak(self) -> float:
        return max(rate for _, rate in self.steps)


@dataclass(frozen=True)
class Ramp:
    """A rate that moves linearly from ``start_rate`` to ``end_rate`` over ``[start, end]``, flat outside."""

    start_rate: float
    end_rate: float
    start: float
    end: float

    def __post_init__(self) -> None:
        check_number("Ramp.start_rate", self.start_rate, minimum=0.0)
        check_number("Ramp.end_rate", self.end_rate, minimum=0.0)
        check_seconds("Ramp.start", self.start)
        check_seconds("Ramp.end", self.end)
        if self.end <= self.start:
            raise ValueError(f"Ramp.end must be after start; got start={show(self.start)}, end={show(self.end)}")

    def at(self, t: float) -> float:
        if t <= self.start:
            return self.start_rate
        if t >= self.end:
            return self.end_rate
        return self.start_rate + (self.end_rate - self.start_rate) * (t - self.start) / (self.end - self.start)

    @property
    def peak(self) -> float:
        return max(self.start_rate, self.end_rate)


def check_rate(rate: object, name: str = "rate") -> float | Rate:
    """A positive finite rate, or a :class:`Rate` schedule with a positive peak (*name* words the message)."""
    if isinstance(rate, Rate) and not isinstance(rate, (int, float)):
        peak = check_number(f"{name} peak", rate.peak, minimum=0.0)
        if peak <= 0:
            raise ValueError(f"{name} must have a peak above 0 saves per second; got {show(rate)}")
        return rate
    if not isinstance(rate, (int, float)) or isinstance(rate, bool):
        raise TypeError(f"{name} must be a number of saves per second or a Step/Ramp; got {show(rate)} "
                        f"({type(rate).__name__})")
    return check_number(name, rate, above=0.0, unit="saves per second")


def arrival_times(rate: float | Rate, duration: float, arrivals: str, rng: random.Random) -> list[float]:
    """The instants in ``[0, duration)`` at which callers arrive (seconds, increasing)."""
    rate = check_rate(rate)
    duration = check_seconds("duration", duration, positive=True)
    check_choice("arrivals", arrivals, ARRIVALS)
    peak = rate.peak if isinstance(rate, Rate) else rate
    expected = peak * duration
    if expected > MAX_ARRIVALS:
        raise ValueError(f"rate x duration must be at most {MAX_ARRIVALS:_} callers; got {expected:.3g} "
                         f"(rate {peak:g}/s for {duration:g} s)")
    times: list[float] = []
    t = 0.0
    if not isinstance(rate, Rate):
        if arrivals == "even":
            count = math.ceil(duration * rate - 1e-9)
            return [i / rate for i in range(count) if i / rate < duration]
        while True:
            t += rng.expovariate(rate)
            if t >= duration:
                return times
            times.append(t)
    if arrivals == "even":
        # One caller each time the integral of the rate passes a whole number.
        step = 1.0 / (peak * 64)
        owed = 0.0
        while t < duration:
            owed += rate.at(t) * step
            if owed >= 1.0:
                owed -= 1.0
                times.append(t)
            t += step
        return times
    while True:  # thinning (Lewis & Shedler): candidates at the peak rate, each kept with rate(t) / peak
        t += rng.expovariate(peak)
        if t >= duration:
            return times
        if rng.random() * peak < rate.at(t):
            times.append(t)
