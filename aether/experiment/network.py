"""A network between writers and the store: delays per hop, think time, faults.

Patterns call the store directly; in an experiment that store is wrapped in a
:class:`NetworkStore`, so every call costs a request hop and a response hop on
the writer's clock. Under a :class:`~aether.clock.SimulatedClock` those delays
are virtual and free; under a :class:`~aether.clock.RealClock` they are real
sleeps, so a real run sees the same shape of contention as a simulated one.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from aether.clock import Clock, check_seconds
from aether.errors import StoreUnavailableError
from aether.events import Event

__all__ = [
    "AbsNormal",
    "Constant",
    "Delay",
    "Exponential",
    "LatencySpike",
    "NetworkModel",
    "NetworkStore",
    "Outage",
    "Uniform",
]


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
            raise ValueError(f"Uniform.high must be >= low; got low={self.low!r}, high={self.high!r}")

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


@dataclass(frozen=True)
class Outage:
    """The store is unreachable from ``start`` until ``end`` (seconds from the run's start).

    A call that arrives at the store inside the window fails with
    :class:`~aether.errors.StoreUnavailableError` and changes nothing.
    """

    start: float
    end: float

    def __post_init__(self) -> None:
        check_seconds("Outage.start", self.start)
        check_seconds("Outage.end", self.end)
        if self.end <= self.start:
            raise ValueError(f"Outage.end must be after start; got start={self.start!r}, end={self.end!r}")

    def covers(self, t: float) -> bool:
        return self.start <= t < self.end


@dataclass(frozen=True)
class LatencySpike:
    """Every hop that starts between ``start`` and ``end`` takes ``extra`` seconds longer."""

    start: float
    end: float
    extra: float

    def __post_init__(self) -> None:
        check_seconds("LatencySpike.start", self.start)
        check_seconds("LatencySpike.extra", self.extra)
        if self.end <= self.start:
            raise ValueError(f"LatencySpike.end must be after start; got start={self.start!r}, end={self.end!r}")

    def covers(self, t: float) -> bool:
        return self.start <= t < self.end


@dataclass(frozen=True)
class NetworkModel:
    """How expensive and unreliable the path to the store is.

    * ``hop``: delay of each request and each response (default ``|N(10 ms, 2 ms)|``);
    * ``think_time``: optional delay between a writer reading the latest version
      and its next call (the work of building the event), which widens the race window;
    * ``outages`` and ``spikes``: faults at fixed times from the run's start.

    ``NetworkModel.instant()`` is a network with no delay at all.
    """

    hop: Delay = field(default_factory=AbsNormal)
    think_time: Delay | None = None
    outages: Sequence[Outage] = ()
    spikes: Sequence[LatencySpike] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.hop, Delay):
            raise TypeError(f"NetworkModel.hop must be a Delay (e.g. AbsNormal()); got {self.hop!r}")
        if self.think_time is not None and not isinstance(self.think_time, Delay):
            raise TypeError(f"NetworkModel.think_time must be a Delay or None; got {self.think_time!r}")
        object.__setattr__(self, "outages", tuple(self.outages))
        object.__setattr__(self, "spikes", tuple(self.spikes))
        for outage in self.outages:
            if not isinstance(outage, Outage):
                raise TypeError(f"NetworkModel.outages takes Outage items; got {outage!r}")
        for spike in self.spikes:
            if not isinstance(spike, LatencySpike):
                raise TypeError(f"NetworkModel.spikes takes LatencySpike items; got {spike!r}")

    @classmethod
    def instant(cls) -> NetworkModel:
        """A network with zero delay: store calls take no time at all."""
        return cls(hop=Constant(0.0))


class NetworkStore:
    """Wraps a store so that each call crosses the :class:`NetworkModel`.

    A call sleeps one request hop, runs on the store (or fails if an outage
    covers that instant), then sleeps one response hop, all on *clock*.
    ``origin`` is the clock time the fault windows are measured from.
    """

    def __init__(self, store: object, model: NetworkModel, clock: Clock, rng: random.Random, origin: float = 0.0) -> None:
        self.store = store
        self.model = model
        self.clock = clock
        self.rng = rng
        self.origin = origin
        self._hop = model.hop
        self._faulty = bool(model.outages or model.spikes)

    def _sleep_hop(self) -> None:
        delay = self._hop.sample(self.rng)
        if self._faulty:
            t = self.clock.now() - self.origin
            for spike in self.model.spikes:
                if spike.covers(t):
                    delay += spike.extra
        if delay:
            self.clock.sleep(delay)

    def _arrive(self) -> None:
        self._sleep_hop()
        if self.model.outages:
            t = self.clock.now() - self.origin
            for outage in self.model.outages:
                if outage.covers(t):
                    self._sleep_hop()
                    raise StoreUnavailableError(f"event store unavailable (outage from {outage.start:g} s to {outage.end:g} s)")

    def save_event(self, event: Event) -> None:
        self._arrive()
        try:
            self.store.save_event(event)  # type: ignore[attr-defined]
        finally:
            self._sleep_hop()

    def get_latest_version(self, actor_id: str) -> int:
        self._arrive()
        try:
            version: int = self.store.get_latest_version(actor_id)  # type: ignore[attr-defined]
        finally:
            self._sleep_hop()
        if self.model.think_time is not None:
            self.clock.sleep(self.model.think_time.sample(self.rng))
        return version

    def get_events(self, actor_id: str, from_version: int = 1) -> list[Event]:
        self._arrive()
        try:
            events: list[Event] = self.store.get_events(actor_id, from_version)  # type: ignore[attr-defined]
        finally:
            self._sleep_hop()
        return events
