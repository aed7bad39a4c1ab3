"""A run's settings in one validated object, and every random stream of a seed named in one place.

:func:`~aether.experiment.run_contention` and :func:`~aether.experiment.run_load`
check their arguments once and build a :class:`RunSpec`; the runners receive
that object and nothing else. :func:`~aether.experiment.sweep`,
:func:`~aether.experiment.sweep_load` and :func:`~aether.experiment.compare`
build one specification and vary it with :func:`dataclasses.replace`. Use a
``RunSpec`` directly when you want to keep a run's settings as a value (to
store, compare or run again with :func:`~aether.experiment.run_spec`).

* :class:`ClosedLoop`: *writers* writers, each making *saves_per_writer* saves
  one after another (the workload of :func:`~aether.experiment.run_contention`);
* :class:`OpenLoop`: fresh callers arriving at *rate* per second for *duration*
  seconds (the workload of :func:`~aether.experiment.run_load`);
* :class:`RandomStreams`: the named random streams of a seed, so that changing
  one part of a run (the pattern, the capacity) leaves the others' draws alone
  (common random numbers).
"""

from __future__ import annotations

import math
import os
import random
from dataclasses import dataclass, field
from typing import Any, Literal

from aether.checks import (
    check_bool,
    check_choice,
    check_instance,
    check_int,
    check_methods,
    check_seconds,
    check_text,
    show,
)
from aether.contracts import is_bindable, pattern_name
from aether.experiment.arrivals import ARRIVALS, MAX_ARRIVALS, Rate, arrival_times, check_rate
from aether.experiment.capacity import Capacity
from aether.experiment.network import NetworkModel
from aether.experiment.writer import WriterPlan, actor_for

__all__ = [
    "BYTES_PER_SAVE",
    "EVENT_TYPE",
    "MAX_ACTORS",
    "MAX_SAVES",
    "MAX_WRITERS",
    "ClosedLoop",
    "OpenLoop",
    "RandomStreams",
    "RunSpec",
    "available_memory",
]

EVENT_TYPE = "ContentionTested"

#: The most writers (and saves per writer) one run accepts: a million simulated
#: greenlets take about a minute and a few GiB; more is a typo, not an experiment.
MAX_WRITERS = 1_000_000
#: The most logical saves one run accepts (writers x saves per writer, or an open loop's
#: expected callers): the same limit as :data:`~aether.experiment.arrivals.MAX_ARRIVALS`.
MAX_SAVES = MAX_ARRIVALS
#: The most actors one run spreads its saves over. More actors than saves is the idiom for "every
#: save its own actor" (``actors=10**9``), so the limit is only that of a 64-bit int: beyond it
#: (``10**400``) the number is a typo.
MAX_ACTORS = 2**63 - 1
#: What one logical save costs in memory while a simulated run holds it, about (its row, its
#: calls' records, a writer's greenlet and views): 2 million callers took about 6 GB.
BYTES_PER_SAVE = 3_000
#: Below this estimate (in bytes) a run is not checked against the memory available: 64 MiB, 22,000 saves.
FITS_ANYWHERE = 64 * 2**20

ClockKind = Literal["simulated", "real"]


class _SeededOnUse(random.Random):
    """``random.Random(seed)``, seeded when first drawn from: a stream never drawn from costs no seeding.

    Seeding a Mersenne Twister from a string hashes it and mixes 624 words
    of state, a few microseconds per writer and stream; a pattern that never
    draws (no jitter) or a writer that never retries need not pay it. The
    first draw (``random``, ``getrandbits``, or anything built on them), a
    ``getstate``, ``setstate``, ``seed`` or a copy turns the object into the
    plain :class:`random.Random` it stands for, seeded with *seed*, so every
    number is the one ``random.Random(seed)`` gives.
    """

    def __init__(self, seed: str) -> None:  # noqa: D107 - no seeding here, on purpose
        self._pending_seed = seed
        self.gauss_next = None

    def _seeded(self) -> random.Random:
        seed = self._pending_seed
        del self._pending_seed
        self.__class__ = random.Random  # type: ignore[assignment]
        self.seed(seed)
        return self

    # A caller may hold a bound method taken before the first draw (gauss does): it stays right after it.
    def random(self) -> float:
        if "_pending_seed" in self.__dict__:
            self._seeded()
        return random.Random.random(self)

    def getrandbits(self, k: int, /) -> int:
        if "_pending_seed" in self.__dict__:
            self._seeded()
        return random.Random.getrandbits(self, k)

    def seed(self, a: Any = None, version: int = 2) -> None:
        del self._pending_seed
        self.__class__ = random.Random  # type: ignore[assignment]
        self.seed(a, version)

    def getstate(self) -> tuple[Any, ...]:
        return self._seeded().getstate()

    def setstate(self, state: tuple[Any, ...]) -> None:
        self._seeded().setstate(state)

    def __reduce__(self) -> tuple[Any, ...]:
        return self._seeded().__reduce__()


@dataclass(frozen=True)
class RandomStreams:
    """The random streams of one seed, each named here and nowhere else.

    Each part of a run draws from a stream of its own, so turning capacity on
    leaves every network delay as it was, and changing the pattern leaves the
    arrivals alone.
    """

    seed: int

    def pattern(self, writer: int) -> random.Random:
        """The ``rng`` a pattern receives in writer *writer* (seeded when the pattern first draws from it)."""
        return _SeededOnUse(f"{self.seed}/pattern/{writer}")

    def network(self, writer: int) -> random.Random:
        """Writer *writer*'s network delays and failures."""
        return random.Random(f"{self.seed}/network/{writer}")

    def service(self) -> random.Random:
        """The store's service times (drawn in arrival order)."""
        return random.Random(f"{self.seed}/service")

    def shared(self, scope: str = "shared") -> random.Random:
        """The generator of a pattern's shared state (:class:`~aether.contracts.RunContext`)."""
        return random.Random(f"{self.seed}/{scope}")

    def start_spread(self) -> random.Random:
        """The closed loop's start times within ``start_spread``."""
        return random.Random(f"{self.seed}/arrivals")

    def open_arrivals(self) -> random.Random:
        """The open loop's arrival times."""
        return random.Random(f"{self.seed}/open-arrivals")


def available_memory() -> float | None:
    """Bytes of memory the system has available now, or ``None`` where that cannot be read."""
    try:
        with open("/proc/meminfo", encoding="ascii") as info:
            for line in info:
                if line.startswith("MemAvailable:"):
                    return float(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return float(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return None


def check_saves(saves: float, what: str, given: str = "") -> None:
    """Refuse a run of more than :data:`MAX_SAVES` saves, or one whose estimated memory is not available.

    *given* shows the arguments the count comes from (``" from rate=..., duration=..."``).
    """
    if saves > MAX_SAVES:
        raise ValueError(f"{what} must be at most {MAX_SAVES:_} saves in one run; got {saves:.6g}{given}")
    need = saves * BYTES_PER_SAVE
    if need < FITS_ANYWHERE:
        return  # no machine that runs the lab lacks this much: not worth reading the system's figure per run
    free = available_memory()
    if free is not None and need > free:
        raise ValueError(f"{what} is {saves:.6g} saves, which need about {need / 2**30:.1f} GiB "
                         f"({BYTES_PER_SAVE} bytes each) while {free / 2**30:.1f} GiB is available; "
                         "run fewer saves (or several smaller runs)")


@dataclass(frozen=True)
class ClosedLoop:
    """*writers* writers, each making *saves_per_writer* saves in turn over *actors* actors.

    Writer *w*'s save *s* goes to ``actor-{(w + s) % actors}``; writers start at
    uniform random times in ``[0, start_spread]`` seconds.
    """

    writers: int
    saves_per_writer: int = 1
    actors: int = 1
    start_spread: float = 0.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "writers", check_int("writers", self.writers, 1, MAX_WRITERS))
        object.__setattr__(self, "saves_per_writer",
                           check_int("saves_per_writer", self.saves_per_writer, 1, MAX_WRITERS))
        object.__setattr__(self, "actors", check_int("actors", self.actors, 1, MAX_ACTORS))
        object.__setattr__(self, "start_spread", check_seconds("start_spread", self.start_spread))
        check_saves(self.writers * self.saves_per_writer, "writers x saves_per_writer")

    def plans(self, streams: RandomStreams, event_type: str) -> list[WriterPlan]:
        """One plan per writer, with its start delay."""
        if self.start_spread > 0:
            rng = streams.start_spread()
            delays = [rng.uniform(0.0, self.start_spread) for _ in range(self.writers)]
        else:
            delays = [0.0] * self.writers
        return [WriterPlan(w, self.saves_per_writer, self.actors, delays[w], event_type)
                for w in range(self.writers)]

    def actor_ids(self, plans: list[WriterPlan]) -> list[str]:
        """The actors the run writes to (what the store check reads)."""
        per = min(self.saves_per_writer, self.actors)
        return sorted({actor_for(w, s, self.actors) for w in range(self.writers) for s in range(per)})

    def settings(self) -> dict[str, Any]:
        return {"workload": "closed", "actors": self.actors, "start_spread": self.start_spread}


@dataclass(frozen=True)
class OpenLoop:
    """Fresh callers arriving at *rate* per second for *duration* seconds, caller *i* on ``actor-{i % actors}``."""

    rate: float | Rate
    duration: float
    actors: int = 100
    arrivals: str = "poisson"

    def __post_init__(self) -> None:
        given = self.rate
        object.__setattr__(self, "rate", check_rate(self.rate))
        object.__setattr__(self, "duration", check_seconds("duration", self.duration, positive=True))
        object.__setattr__(self, "actors", check_int("actors", self.actors, 1, MAX_ACTORS))
        check_choice("arrivals", self.arrivals, ARRIVALS)
        peak = self.rate.peak if isinstance(self.rate, Rate) else self.rate
        check_saves(math.ceil(peak * self.duration), "rate x duration (the expected callers)",
                    f" from rate={show(given)}, duration={show(self.duration)}")

    def plans(self, streams: RandomStreams, event_type: str) -> list[WriterPlan]:
        """One plan per caller, starting at its arrival time."""
        times = arrival_times(self.rate, self.duration, self.arrivals, streams.open_arrivals())
        return [WriterPlan(i, 1, self.actors, t, event_type) for i, t in enumerate(times)]

    def actor_ids(self, plans: list[WriterPlan]) -> list[str]:
        return sorted({actor_for(i, 0, self.actors) for i in range(min(len(plans), self.actors))})

    def settings(self) -> dict[str, Any]:
        return {"workload": "open", "rate": self.rate, "duration": self.duration, "arrivals": self.arrivals,
                "actors": self.actors}


def check_pattern(pattern: object, name: str = "pattern") -> Any:
    """*pattern* if it is a pattern (a callable, or a :class:`~aether.contracts.Bindable`), else TypeError.

    A class is refused: calling it makes an instance, not a save (``pattern=CircuitBreakerPolicy``
    for ``pattern=CircuitBreakerPolicy()``).
    """
    if isinstance(pattern, type):
        raise TypeError(f"{name} must be a pattern (a function or a Bindable instance), not a class; "
                        f"got {show(pattern)} (did you mean {pattern.__name__}()?)")
    if is_bindable(pattern) or callable(pattern):
        return pattern
    raise TypeError(f"{name} must be a callable pattern(store, actor_id, event_type, data, *, clock[, rng]) "
                    f"or a Bindable; got {show(pattern)} ({type(pattern).__name__})")


#: The methods an object given as a run's ``store`` must have.
STORE_METHODS = ("save_event", "get_latest_version", "get_events")


def check_store_setting(store: object) -> object:
    """A run's ``store``: ``None``, ``"memory"``, ``"sqlite"``, an event store, or a zero-argument factory.

    A class counts as a factory (``store=InMemoryEventStore`` makes a fresh store for the run);
    any other callable without ``save_event`` is a factory too, called when the run starts.
    """
    if store is None:
        return store
    if isinstance(store, str):
        return check_choice("store", store, ("memory", "sqlite"))
    if isinstance(store, type) or (callable(store) and not hasattr(store, "save_event")):
        return store
    return check_methods("store", store, STORE_METHODS, "'memory', 'sqlite', an EventStore or a factory")


@dataclass(frozen=True, kw_only=True)
class RunSpec:
    """Everything one run needs, checked once: the pattern, the workload and the world around it.

    * ``pattern``: the retry pattern (a callable or a :class:`~aether.contracts.Bindable`);
    * ``workload``: a :class:`ClosedLoop` or an :class:`OpenLoop`;
    * ``clock``: ``"simulated"`` or ``"real"``; ``seed``: every random stream's seed
      (see :class:`RandomStreams`);
    * ``network``: the :class:`~aether.experiment.network.NetworkModel` between callers and
      store (``None``: direct calls); ``capacity``: the store's servers and queue
      (:class:`~aether.experiment.capacity.Capacity`, ``None``: unlimited), kept apart from the network;
    * ``store``: ``None``/``"memory"``, ``"sqlite"``, an event store, or a zero-argument factory;
    * ``event_type``, ``name`` (the label; the pattern's name by default), ``verify``;
    * ``timeout``: seconds a real run may take in all (see :func:`~aether.experiment.run_contention`).
    """

    pattern: Any
    workload: ClosedLoop | OpenLoop
    clock: ClockKind = "simulated"
    seed: int = 0
    network: NetworkModel | None = field(default_factory=NetworkModel)
    capacity: Capacity | None = None
    store: Any = None
    event_type: str = EVENT_TYPE
    name: str | None = None
    verify: bool = True
    timeout: float = 60.0

    def __post_init__(self) -> None:
        check_pattern(self.pattern)
        check_instance("workload", self.workload, (ClosedLoop, OpenLoop), "a ClosedLoop or an OpenLoop")
        check_choice("clock", self.clock, ("simulated", "real"))
        object.__setattr__(self, "seed", check_int("seed", self.seed, 0))
        if self.network is not None:
            check_instance("network", self.network, NetworkModel, "a NetworkModel or None")
        if self.capacity is not None:
            check_instance("capacity", self.capacity, Capacity, "a Capacity or None")
        check_store_setting(self.store)
        object.__setattr__(self, "event_type", check_text("event_type", self.event_type))
        if self.name is not None:
            check_text("name", self.name)
        object.__setattr__(self, "verify", check_bool("verify", self.verify))
        object.__setattr__(self, "timeout", check_seconds("timeout", self.timeout, positive=True))

    @property
    def label(self) -> str:
        """The run's name in tables and legends: ``name``, or the pattern's own name."""
        return self.name or pattern_name(self.pattern)

    @property
    def streams(self) -> RandomStreams:
        """The seed's named random streams."""
        return RandomStreams(self.seed)

    @property
    def open_loop(self) -> bool:
        return isinstance(self.workload, OpenLoop)

    def plans(self) -> list[WriterPlan]:
        """One plan per writer (closed loop) or caller (open loop)."""
        return self.workload.plans(self.streams, self.event_type)

    def settings(self) -> dict[str, Any]:
        """The settings a :class:`~aether.experiment.result.RunResult` keeps (its ``settings`` dict)."""
        return {**self.workload.settings(), "network": self.network, "capacity": self.capacity}
