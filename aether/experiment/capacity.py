"""A store that feels load: servers, a first-come-first-served queue, service times, slowdowns.

Without a :class:`Capacity` every store call runs in zero time however many
arrive at once, so retrying costs nothing and a retry storm cannot happen.
With one, the store has ``workers`` servers. A call that reaches the store
waits in one FCFS queue for a free server, holds it for its service time
(drawn from ``service``, per operation if you like), and only then takes
effect: a write commits, a read sees the versions, at the end of its service.

* ``queue_limit=n``: a call that finds ``n`` calls already waiting is refused
  at once with :class:`~aether.errors.StoreOverloadedError`; refusing still
  costs a server ``reject_cost`` seconds (shedding load is cheap, not free).
* ``faults=[Slowdown(start, end, factor)]``: calls whose service starts in the
  window take ``factor`` times as long, the classic trigger of an overload.

Where each fault lives: a :class:`Slowdown` belongs to the store, so it is
given here; an :class:`~aether.experiment.network.Outage` (the store cannot be
reached) and a :class:`~aether.experiment.network.LatencySpike` belong to the
path, so they stay on the :class:`~aether.experiment.network.NetworkModel`,
and so does the caller's ``timeout``.

The queue is computed, not simulated call by call: in FCFS order each call
takes the server that frees first, so its start is ``max(arrival, earliest
free time)`` and its end ``start + service``. That is exact for a FCFS
multi-server queue, costs one heap operation per call, and runs unchanged on
the simulated clock (deterministic to the byte) and on real threads (under a
lock, with real sleeps until the computed times).
"""

from __future__ import annotations

import heapq
import random
import threading
from array import array
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from aether.checks import check_bool, check_int, check_number, show
from aether.experiment.delays import Constant, Delay, TimeWindow

__all__ = ["OPERATIONS", "Capacity", "ServiceStation", "Slowdown", "StationLog", "StationRecord"]

#: The operation kind of each store method: what a ``service`` mapping is keyed by.
OPERATIONS: Mapping[str, str] = {"get_latest_version": "read", "get_events": "read", "save_event": "write"}


@dataclass(frozen=True)
class Slowdown(TimeWindow):
    """Service times are multiplied by ``factor`` for calls whose service starts in ``[start, end)``.

    Times are seconds from the run's start. ``factor=5`` is a store five times
    slower (a compaction, a noisy neighbour, a cold cache); ``factor`` may also
    be below 1 (a faster store).
    """

    factor: float

    def __post_init__(self) -> None:
        super().__post_init__()
        check_number("Slowdown.factor", self.factor, above=0.0)


#: The most servers a :class:`Capacity` has: as many as the most writers one run starts.
MAX_WORKERS = 1_000_000


def _check_delay(name: str, value: object) -> Delay:
    if isinstance(value, type) or not isinstance(value, Delay):
        raise TypeError(f"{name} must be a Delay (e.g. Exponential(0.002)); got {show(value)} ({type(value).__name__})")
    return value


@dataclass(frozen=True, kw_only=True)
class Capacity:
    """How much work the store can do at once: ``workers`` servers behind one FCFS queue.

    * ``service``: the service time of a call, a :class:`~aether.experiment.network.Delay`
      or a mapping ``{"read": Delay, "write": Delay}`` (``"read"`` is
      ``get_latest_version`` and ``get_events``, ``"write"`` is ``save_event``);
    * ``queue_limit``: at most this many calls wait; one more is refused at
      once with :class:`~aether.errors.StoreOverloadedError` (``None``: unbounded);
    * ``reject_cost``: the server time a refusal costs;
    * ``faults``: :class:`Slowdown` windows;
    * ``drop_expired``: a call whose caller's deadline (the save's
      :data:`~aether.contracts.call_deadline` when the call was sent) has
      passed by the time a server would start it is dropped without service
      and recorded as ``"expired"`` (deadline propagation: the store spends
      no work on a caller that has gone). Calls without a deadline are never
      dropped, so this changes nothing for patterns that set none.

    Use it to ask what a retry policy does to a store under pressure: pass it
    to :func:`~aether.experiment.run_contention` or :func:`~aether.experiment.run_load`.
    """

    workers: int = 1
    service: Delay | Mapping[str, Delay]
    queue_limit: int | None = None
    reject_cost: Delay = field(default_factory=lambda: Constant(0.0001))
    faults: Sequence[Slowdown] = ()
    drop_expired: bool = True

    def __post_init__(self) -> None:
        check_int("Capacity.workers", self.workers, 1, MAX_WORKERS)
        check_bool("Capacity.drop_expired", self.drop_expired)
        if isinstance(self.service, Mapping):
            unknown = sorted(set(self.service) - {"read", "write"})
            if unknown:
                raise ValueError(f"Capacity.service keys must be 'read' and 'write'; got unknown {show(unknown)}")
            missing = sorted({"read", "write"} - set(self.service))
            if missing:
                raise ValueError(f"Capacity.service needs a Delay for {show(missing)} too; "
                                 f"got {show(dict(self.service))}")
            for kind, delay in self.service.items():
                _check_delay(f"Capacity.service[{show(kind)}]", delay)
            object.__setattr__(self, "service", dict(self.service))
        else:
            _check_delay("Capacity.service", self.service)
        if self.queue_limit is not None:
            check_int("Capacity.queue_limit", self.queue_limit, 0)
        _check_delay("Capacity.reject_cost", self.reject_cost)
        if isinstance(self.faults, (str, bytes)) or not isinstance(self.faults, Sequence):
            raise TypeError(f"Capacity.faults must be a sequence of Slowdown; got {show(self.faults)}")
        object.__setattr__(self, "faults", tuple(self.faults))
        for fault in self.faults:
            if not isinstance(fault, Slowdown):
                raise TypeError(f"Capacity.faults takes Slowdown items; got {show(fault)} ({type(fault).__name__})")

    def service_of(self, kind: str) -> Delay:
        """The service-time distribution of a ``"read"`` or a ``"write"``."""
        if isinstance(self.service, Mapping):
            return self.service[kind]
        return self.service

    @property
    def mean_service(self) -> float:
        """The mean service time of a write, in seconds (the figure utilisation is usually quoted with)."""
        return self.service_of("write").mean

    def utilisation(self, calls_per_second: float) -> float:
        """The offered utilisation ``rho = lambda * E[S] / workers`` for writes arriving at that rate."""
        rate = check_number("calls_per_second", calls_per_second, minimum=0.0)
        return rate * self.mean_service / self.workers


class StationRecord(NamedTuple):
    """One call as the store served it (clock seconds from the run's start).

    ``arrive``: it reached the store; ``start``: a server took it; ``end``: it
    took effect (or was refused, or dropped). ``result`` is ``"ok"``, ``"duplicate"``
    (a re-sent write the store already held), ``"conflict"``, ``"overloaded"``,
    ``"expired"`` (dropped unserved: its caller's deadline had passed when a
    server was free; ``start == end``), ``"unavailable"`` or ``"error"`` (see
    :mod:`~aether.experiment.outcomes`); ``abandoned`` says whether its caller
    had stopped waiting before the reply reached it (timed out while the call
    was on its way, queued or in service, or while the reply was on its way).
    """

    writer: int
    op: str
    arrive: float
    start: float
    end: float
    result: str
    abandoned: bool


class StationLog:
    """Every call the store served, column by column (see :class:`StationRecord` for the fields).

    The times go into :class:`array.array` of doubles and ``abandoned`` into a
    :class:`bytearray`, the rest into lists of objects the run already holds,
    so a served call costs a few pointers instead of a tuple and three floats.
    Iterating gives each call as a :class:`StationRecord`.
    """

    __slots__ = ("abandoned", "arrive", "end", "op", "result", "start", "writer")

    def __init__(self) -> None:
        self.writer: list[int] = []
        self.op: list[str] = []
        self.arrive = array("d")
        self.start = array("d")
        self.end = array("d")
        self.result: list[str] = []
        self.abandoned = bytearray()

    def __len__(self) -> int:
        return len(self.writer)

    def __bool__(self) -> bool:
        return bool(self.writer)

    def __iter__(self) -> Iterator[StationRecord]:
        columns = [getattr(self, name) for name in StationRecord._fields[:-1]]
        for *values, abandoned in zip(*columns, self.abandoned, strict=True):
            yield StationRecord._make((*values, bool(abandoned)))

    def __getitem__(self, index: int) -> StationRecord:
        return StationRecord(self.writer[index], self.op[index], self.arrive[index], self.start[index],
                             self.end[index], self.result[index], bool(self.abandoned[index]))

    def columns(self) -> dict[str, list[Any] | array[float] | bytearray]:
        """The columns by field name (views of the log, not copies)."""
        return {name: getattr(self, name) for name in StationRecord._fields}

    def __getstate__(self) -> dict[str, Any]:
        return self.columns()

    def __setstate__(self, state: dict[str, Any]) -> None:
        for name in StationRecord._fields:
            setattr(self, name, state[name])

    def __repr__(self) -> str:
        return f"<StationLog of {len(self)} calls>"


class ServiceStation:
    """The queue and servers of one run: shared by every caller's view of the store.

    Service times come from the station's own *rng*, drawn in arrival order.
    :meth:`admit` is called when a call reaches the store and returns when
    the call will start and end (or that it is refused); the caller then waits
    until the end on its own clock and performs the operation. :meth:`log`
    keeps a :class:`StationRecord` per served call (in a :class:`StationLog`).
    """

    def __init__(self, capacity: Capacity, origin: float = 0.0, rng: random.Random | None = None) -> None:
        self.capacity = capacity
        self.rng = rng if rng is not None else random.Random(0)
        self.origin = origin
        self._free = [origin] * capacity.workers  # a heap of the times each server becomes free
        self._waiting: deque[float] = deque()  # start times of admitted calls that have not started
        self._lock = threading.Lock()
        self.records = StationLog()
        self.committed_ids: set[str] = set()
        self._faults = capacity.faults
        self._limit = capacity.queue_limit
        self._service = {op: capacity.service_of(kind) for op, kind in OPERATIONS.items()}

    def set_origin(self, origin: float) -> None:
        """Measure fault windows and records from *origin*; only before any call arrived."""
        shift = origin - self.origin
        self.origin = origin
        self._free = [t + shift for t in self._free]
        heapq.heapify(self._free)

    def admit(self, op: str, now: float, deadline: float | None = None) -> tuple[float, float, str]:
        """Queue a call of *op* arriving at clock time *now*: ``(start, end, verdict)``.

        *verdict* is ``"serve"``, ``"overloaded"`` or ``"expired"``. A call that
        would have to wait while ``queue_limit`` calls already wait is refused:
        it "starts" at once and ends after ``reject_cost``; it takes the server
        that frees first for that long, without waiting behind the queue. With
        ``drop_expired``, a call whose caller's *deadline* (a clock time) has
        passed when a server would start it waits in the queue until then and
        is dropped without taking the server (``start == end``).
        """
        capacity, rng = self.capacity, self.rng
        with self._lock:  # service times are drawn in arrival order, so a seeded run is exact
            waiting = self._waiting
            while waiting and waiting[0] <= now:
                waiting.popleft()
            earliest = self._free[0]
            if self._limit is not None and earliest > now and len(waiting) >= self._limit:
                cost = capacity.reject_cost.sample(rng)
                heapq.heapreplace(self._free, max(earliest, now) + cost)
                return now, now + cost, "overloaded"
            start = earliest if earliest > now else now
            if deadline is not None and start >= deadline and capacity.drop_expired:
                if start > now:
                    waiting.append(start)
                return start, start, "expired"
            service = self._service[op].sample(rng)
            if self._faults:
                t = start - self.origin
                for fault in self._faults:
                    if fault.covers(t):
                        service *= fault.factor
            end = start + service
            heapq.heapreplace(self._free, end)
            if start > now:
                waiting.append(start)
            return start, end, "serve"

    def log(self, writer: int, op: str, arrive: float, start: float, end: float, result: str,
            abandoned: bool) -> int:
        """Keep the record of one served call (times are clock times; stored from the origin); its index."""
        origin = self.origin
        records = self.records
        with self._lock:
            records.writer.append(writer)
            records.op.append(op)
            records.arrive.append(arrive - origin)
            records.start.append(start - origin)
            records.end.append(end - origin)
            records.result.append(result)
            records.abandoned.append(abandoned)
            return len(records.writer) - 1

    def mark_abandoned(self, index: int) -> None:
        """Record that the caller of record *index* stopped waiting before the reply reached it."""
        with self._lock:
            self.records.abandoned[index] = True
