"""Distributions of delays: how long a network hop, a think time or a store's service takes.

Every delay in the experiment (hops and think time in the
:class:`~aether.experiment.network.NetworkModel`, service times in a
:class:`~aether.experiment.capacity.Capacity`) is a :class:`Delay`: sampled
with the caller's seeded generator, with a known mean.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from aether.checks import check_seconds, show

__all__ = ["AbsNormal", "Constant", "Delay", "Exponential", "TimeWindow", "Uniform"]


@dataclass(frozen=True)
class TimeWindow:
    """A fault's window ``[start, end)`` in seconds from the run's start: the base of every timed fault.

    :class:`~aether.experiment.network.Outage`, :class:`~aether.experiment.network.LatencySpike`
    and :class:`~aether.experiment.capacity.Slowdown` are windows with what happens inside them;
    a subclass adds its own fields after ``start`` and ``end``, and checks them after calling
    ``super().__post_init__()``.
    """

    start: float
    end: float

    def __post_init__(self) -> None:
        kind = type(self).__name__
        check_seconds(f"{kind}.start", self.start)
        check_seconds(f"{kind}.end", self.end)
        if self.end <= self.start:
            raise ValueError(f"{kind}.end must be after start; got start={show(self.start)}, end={show(self.end)}")

    def covers(self, t: float) -> bool:
        """Whether *t* (seconds from the run's start) is inside the window."""
        return self.start <= t < self.end


@runtime_checkable
class Delay(Protocol):
    """A distribution of delays in seconds, sampled with the caller's rng."""

    def sample(self, rng: random.Random) -> float:
        """Draw one delay (seconds, ``>= 0``)."""
        ...

    @property
    def mean(self) -> float:
        """The expected delay in seconds."""
        ...


@dataclass(frozen=True)
class Constant:
    """Always the same delay."""

    seconds: float

    def __post_init__(self) -> None:
        check_seconds("Constant.seconds", self.seconds)

    def sample(self, rng: random.Random) -> float:
        return self.seconds

    @property
    def mean(self) -> float:
        return self.seconds


@dataclass(frozen=True)
class AbsNormal:
    """``|Normal(mu, sigma)|``: the per-hop delay of the classic backoff simulation (10 ms, 2 ms)."""

    mu: float = 0.010
    sigma: float = 0.002

    def __post_init__(self) -> None:
        check_seconds("AbsNormal.mu", self.mu)
        check_seconds("AbsNormal.sigma", self.sigma)

    def sample(self, rng: random.Random) -> float:
        return abs(rng.gauss(self.mu, self.sigma))

    @property
    def mean(self) -> float:
        # E|X| for X ~ N(mu, sigma^2): the folded normal mean.
        if self.sigma == 0:
            return abs(self.mu)
        s, m = self.sigma, self.mu
        return s * math.sqrt(2 / math.pi) * math.exp(-(m * m) / (2 * s * s)) + m * math.erf(m / (s * math.sqrt(2)))


@dataclass(frozen=True)
class Uniform:
    """A delay drawn uniformly from ``[low, high]``."""

    low: float
    high: float

    def __post_init__(self) -> None:
        check_seconds("Uniform.low", self.low)
        check_seconds("Uniform.high", self.high)
        if self.high < self.low:
            raise ValueError(f"Uniform.high must be >= low; got low={show(self.low)}, high={show(self.high)}")

    def sample(self, rng: random.Random) -> float:
        return rng.uniform(self.low, self.high)

    @property
    def mean(self) -> float:
        return (self.low + self.high) / 2


@dataclass(frozen=True)
class Exponential:
    """An exponentially distributed delay with the given mean (memoryless service time)."""

    mean_seconds: float

    def __post_init__(self) -> None:
        check_seconds("Exponential.mean_seconds", self.mean_seconds)

    def sample(self, rng: random.Random) -> float:
        return rng.expovariate(1.0 / self.mean_seconds) if self.mean_seconds > 0 else 0.0

    @property
    def mean(self) -> float:
        return self.mean_seconds
