"""A network between writers and the store: delays per hop, think time, faults, client timeouts.

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
from math import cos as _cos
from math import log as _log
from math import sin as _sin
from math import sqrt as _sqrt
from typing import Any

from aether.checks import check_instance, check_int, check_methods, check_number, check_rng, check_seconds, show
from aether.clock import Clock
from aether.deadlines import call_deadline
from aether.errors import StoreOverloadedError, StoreTimeoutError, StoreUnavailableError
from aether.events import Event
from aether.experiment.capacity import ServiceStation
from aether.experiment.delays import AbsNormal, Constant, Delay, Exponential, TimeWindow, Uniform
from aether.experiment.outcomes import outcome_of
from aether.experiment.recorder import WriteLedger

#: random.gauss's constant, for the hops drawn inline.
_TWOPI = math.tau


def _abs_gauss(rng: random.Random, mu: float, sigma: float) -> float:
    """``abs(rng.gauss(mu, sigma))`` written out: the same draws from the same generator, in the same order.

    The second value of each pair is kept in ``rng.gauss_next`` for the next
    draw, as ``random.Random.gauss`` keeps it: one Python call per hop instead
    of ``AbsNormal.sample``'s and ``gauss``'s.
    """
    z = rng.gauss_next
    rng.gauss_next = None
    if z is None:
        x2pi = rng.random() * _TWOPI
        g2rad = _sqrt(-2.0 * _log(1.0 - rng.random()))
        z = _cos(x2pi) * g2rad
        rng.gauss_next = _sin(x2pi) * g2rad
    return abs(mu + z * sigma)


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


@dataclass(frozen=True)
class Outage(TimeWindow):
    """The store is unreachable from ``start`` until ``end`` (seconds from the run's start).

    A call that arrives at the store inside the window fails with
    :class:`~aether.errors.StoreUnavailableError` and changes nothing.
    """


@dataclass(frozen=True)
class LatencySpike(TimeWindow):
    """Every hop that starts between ``start`` and ``end`` takes ``extra`` seconds longer."""

    extra: float

    def __post_init__(self) -> None:
        super().__post_init__()
        check_seconds("LatencySpike.extra", self.extra)


@dataclass(frozen=True)
class NetworkModel:
    """How expensive and unreliable the path to the store is.

    * ``hop``: delay of each request and each response (default ``|N(10 ms, 2 ms)|``);
    * ``think_time``: optional delay between a writer reading the actor's state (the
      latest version, or all its events for a decision) and its next call (the work of
      building the event), which widens the race window;
    * ``outages`` and ``spikes``: faults at fixed times from the run's start;
    * ``timeout``: the caller waits at most this many seconds for a reply, then
      gets :class:`~aether.errors.StoreTimeoutError`. The call is not cancelled:
      it still runs at the store, so a timed-out write may commit;
    * ``failure_rate``: the chance that a call reaching the store fails at once
      with :class:`~aether.errors.StoreUnavailableError`, changing nothing (a
      flaky dependency: the "failure rate" of the retry-budget literature).

    ``NetworkModel.instant()`` is a network with no delay at all.
    """

    hop: Delay = field(default_factory=AbsNormal)
    think_time: Delay | None = None
    outages: Sequence[Outage] = ()
    spikes: Sequence[LatencySpike] = ()
    timeout: float | None = None
    failure_rate: float = 0.0

    def __post_init__(self) -> None:
        if not isinstance(self.hop, Delay):
            raise TypeError(f"NetworkModel.hop must be a Delay (e.g. AbsNormal()); got {show(self.hop)}")
        if self.think_time is not None and not isinstance(self.think_time, Delay):
            raise TypeError(f"NetworkModel.think_time must be a Delay or None; got {show(self.think_time)}")
        for name in ("outages", "spikes"):
            value = getattr(self, name)
            if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
                raise TypeError(f"NetworkModel.{name} must be a sequence; got {show(value)} ({type(value).__name__})")
            object.__setattr__(self, name, tuple(value))
        for outage in self.outages:
            if not isinstance(outage, Outage):
                raise TypeError(f"NetworkModel.outages takes Outage items; got {show(outage)}")
        for spike in self.spikes:
            if not isinstance(spike, LatencySpike):
                raise TypeError(f"NetworkModel.spikes takes LatencySpike items; got {show(spike)}")
        if self.timeout is not None:
            object.__setattr__(self, "timeout", check_seconds("NetworkModel.timeout", self.timeout, positive=True))
        object.__setattr__(self, "failure_rate",
                           check_number("NetworkModel.failure_rate", self.failure_rate, minimum=0.0, maximum=1.0))

    @classmethod
    def instant(cls) -> NetworkModel:
        """A network with zero delay: store calls take no time at all."""
        return cls(hop=Constant(0.0))


_STORE_METHODS = ("save_event", "get_latest_version", "get_events")


def _check_origin(origin: object) -> float:
    """A run's start on its clock: any finite number (clocks may start anywhere)."""
    if type(origin) is float and -math.inf < origin < math.inf:
        return origin
    return check_number("origin", origin)


class NetworkStore:
    """Wraps a store so that each call crosses the :class:`NetworkModel` (and queues at the store).

    A call sleeps one request hop and reaches the store (or fails if an
    outage covers that instant). Without a *station* it takes effect at once;
    with one (a :class:`~aether.experiment.capacity.ServiceStation`, shared by
    every caller) it waits for a server and takes effect at the end of its
    service. Then it sleeps one response hop, all on *clock*.

    The caller stops waiting at its client deadline: ``sent + timeout`` (the
    model's ``timeout``), or the current save's deadline
    (:data:`~aether.contracts.call_deadline`, set by a pattern with a
    ``deadline``), whichever is earlier; it then raises
    :class:`~aether.errors.StoreTimeoutError`, while the call still runs at
    the store (on a task of its own if the caller has gone). The station sees
    the save's deadline as it was when the call was sent, and may drop the
    call unserved once it has passed.

    *model* ``None`` is a path with no delay, no faults and no timeout (the
    store's queue alone). ``origin`` is the clock time the fault windows are
    measured from; *writer* labels the station's records.
    """

    __slots__ = ("_failure_rate", "_faulty", "_gauss_hop", "_hop", "_may_fail", "_outages", "_plain", "_timeout",
                 "clock", "model", "origin", "rng", "station", "store", "writer")

    def __init__(self, store: object, model: NetworkModel | None, clock: Clock, rng: random.Random,
                 origin: float = 0.0, *, station: ServiceStation | None = None, writer: int = 0) -> None:
        check_methods("store", store, _STORE_METHODS, "an EventStore")
        if model is not None:
            check_instance("model", model, NetworkModel, "a NetworkModel or None")
        check_methods("clock", clock, ("now", "sleep"), "a Clock")
        check_rng("rng", rng)
        origin = _check_origin(origin)
        if station is not None:
            check_instance("station", station, ServiceStation, "a ServiceStation or None")
        writer = check_int("writer", writer)
        self._setup(store, model, clock, rng, origin, station, writer)

    @classmethod
    def _for_run(cls, store: object, model: NetworkModel | None, clock: Clock, rng: random.Random,
                 station: ServiceStation | None, writer: int) -> NetworkStore:
        """A participant's path in a run, from arguments the run has checked once for all its participants."""
        self = cls.__new__(cls)
        self._setup(store, model, clock, rng, 0.0, station, writer)
        return self

    def _setup(self, store: object, model: NetworkModel | None, clock: Clock, rng: random.Random, origin: float,
               station: ServiceStation | None, writer: int) -> None:
        self.store = store
        self.model = model
        self.clock = clock
        self.rng = rng
        self.origin = origin
        self.station = station
        self.writer = writer
        self._hop = model.hop if model is not None else None
        self._faulty = model is not None and bool(model.outages or model.spikes)
        self._timeout = model.timeout if model is not None else None
        self._failure_rate = model.failure_rate if model is not None else 0.0
        self._outages = model.outages if model is not None else ()
        self._may_fail = bool(self._failure_rate or self._outages)
        # The common hop, |N(mu, sigma)| with no spikes, drawn inline on the hot path: the same draws from
        # the same generator as AbsNormal.sample, without three Python calls per hop.
        hop = self._hop
        self._gauss_hop: tuple[Any, float, float] | None = (
            (rng, hop.mu, hop.sigma)
            if type(hop) is AbsNormal and not self._faulty and type(rng).gauss is random.Random.gauss else None)
        # The most common call of all: that hop, nothing that may fail on the way, no queue and no timeout.
        self._plain = self._gauss_hop is not None and not self._may_fail and station is None and self._timeout is None

    def _hop_delay(self) -> float:
        fast = self._gauss_hop
        if fast is not None:  # the usual hop, no spikes: one call instead of sample's and gauss's
            rng, mu, sigma = fast
            return _abs_gauss(rng, mu, sigma)
        if self._hop is None:
            return 0.0
        delay = self._hop.sample(self.rng)
        if self._faulty:
            t = self.clock.now() - self.origin
            for spike in self.model.spikes:  # type: ignore[union-attr]
                if spike.covers(t):
                    delay += spike.extra
        return delay

    def _sleep_hop(self) -> None:
        delay = self._hop_delay()
        if delay:
            self.clock.sleep(delay)

    def _outage(self) -> StoreUnavailableError | None:
        if not self._may_fail:
            return None
        if self._failure_rate and self.rng.random() < self._failure_rate:
            return StoreUnavailableError(f"event store failed the call (failure rate {self._failure_rate:g})")
        if self._outages:
            t = self.clock.now() - self.origin
            for outage in self._outages:
                if outage.covers(t):
                    return StoreUnavailableError(
                        f"event store unavailable (outage from {outage.start:g} s to {outage.end:g} s)")
        return None

    def _call(self, op: str, args: tuple[Any, ...], ledger: WriteLedger | None = None,
              key: tuple[int, int] | None = None) -> Any:
        due = call_deadline.get()
        if self.station is None and self._timeout is None and due is None:
            return self._direct(op, args, ledger, key)
        return self._queued(op, args, due, ledger, key)

    def _direct(self, op: str, args: tuple[Any, ...], ledger: WriteLedger | None,
                key: tuple[int, int] | None) -> Any:
        """The call with unlimited capacity and no timeout: hop, take effect at once, hop."""
        fast = self._gauss_hop
        if fast is None:
            self._sleep_hop()
        else:
            rng, mu, sigma = fast
            delay = _abs_gauss(rng, mu, sigma)
            if delay:
                self.clock.sleep(delay)
        if self._may_fail:
            outage = self._outage()
            if outage is not None:
                self._sleep_hop()
                raise outage
        try:
            value = getattr(self.store, op)(*args)
            if ledger is not None:
                ledger.took_effect(args[0].id, key)
            return value
        finally:
            if fast is None:
                self._sleep_hop()
            else:
                delay = _abs_gauss(rng, mu, sigma)
                if delay:
                    self.clock.sleep(delay)

    def _queued(self, op: str, args: tuple[Any, ...], due: float | None, ledger: WriteLedger | None,
                key: tuple[int, int] | None) -> Any:
        """The call through the store's queue and/or with a client deadline."""
        clock = self.clock
        sent = clock.now()
        deadline = sent + self._timeout if self._timeout is not None else None
        if due is not None and (deadline is None or due < deadline):
            deadline = due
            if deadline <= sent:  # the save's deadline has passed: nothing is sent
                raise StoreTimeoutError(f"no call to {op}: the save's deadline passed {sent - deadline:g} s ago")
        request = self._hop_delay()
        if deadline is not None and sent + request >= deadline:
            # The request is still on the wire when the caller gives up; it arrives and runs all the same.
            clock.spawn(self._serve_later, request, op, args, due, ledger, key, name=f"late-{op}")
            self._give_up(sent, deadline, op)
        if request:
            clock.sleep(request)
        outcome, value, end, logged = self._serve(op, args, deadline, due, ledger, key)
        if outcome == "gone":
            self._give_up(sent, deadline, op)
        response = self._hop_delay()
        if deadline is not None and end + response > deadline:
            if logged is not None:  # served in time, but the reply reaches the caller after it has gone
                self.station.mark_abandoned(logged)  # type: ignore[union-attr]
            self._give_up(sent, deadline, op)
        if response:
            clock.sleep(response)
        if outcome == "raise":
            raise value
        return value

    def _give_up(self, sent: float, deadline: float | None, op: str) -> None:
        assert deadline is not None
        wait = deadline - self.clock.now()
        if wait > 0:
            self.clock.sleep(wait)
        raise StoreTimeoutError(f"no reply from the event store to {op} within {deadline - sent:g} s")

    def _serve_later(self, delay: float, op: str, args: tuple[Any, ...], due: float | None,
                     ledger: WriteLedger | None, key: tuple[int, int] | None) -> None:
        if delay:
            self.clock.sleep(delay)
        self._serve(op, args, None, due, ledger, key, abandoned=True)

    def _serve(self, op: str, args: tuple[Any, ...], deadline: float | None, due: float | None,
               ledger: WriteLedger | None, key: tuple[int, int] | None,
               abandoned: bool = False) -> tuple[str, Any, float, int | None]:
        """The store's side of a call that has just arrived: ``(outcome, value, end, record)``.

        *outcome* is ``"return"`` or ``"raise"`` (with the value or error for
        the caller), or ``"gone"`` if the caller's deadline passes before the
        call takes effect: the rest of the call then runs on a task of its own.
        *record* is the index of the station's record of the call, if it has one.
        """
        clock = self.clock
        arrive = clock.now()
        outage = self._outage() if self._may_fail else None
        if outage is not None:
            return "raise", outage, arrive, None
        station = self.station
        if station is None:
            start = end = arrive
            verdict = "serve"
        else:
            start, end, verdict = station.admit(op, arrive, due)
        if deadline is not None and end > deadline:
            clock.spawn(self._finish, op, args, arrive, start, end, verdict, True, ledger, key, name=f"late-{op}")
            return "gone", None, end, None
        kind, value, record = self._finish(op, args, arrive, start, end, verdict, abandoned, ledger, key)
        return kind, value, end, record

    def _finish(self, op: str, args: tuple[Any, ...], arrive: float, start: float, end: float, verdict: str,
                abandoned: bool, ledger: WriteLedger | None, key: tuple[int, int] | None,
                ) -> tuple[str, Any, int | None]:
        """Wait until the call's end, take effect at the store (unless refused or expired), log it at the station."""
        clock = self.clock
        wait = end - clock.now()
        if wait > 0:
            clock.sleep(wait)
        station = self.station
        if verdict != "serve":
            assert station is not None
            record = station.log(self.writer, op, arrive, start, end, verdict, abandoned or verdict == "expired")
            if verdict == "expired":
                return "raise", StoreTimeoutError(f"event store dropped {op}: its caller's deadline had passed"), \
                    record
            queue = f" ({station.capacity.queue_limit} calls waiting)"
            return "raise", StoreOverloadedError(f"event store overloaded: {op} refused{queue}"), record
        try:
            value = getattr(self.store, op)(*args)
        except Exception as error:  # the caller gets it after the response hop
            record = None
            if station is not None:
                record = station.log(self.writer, op, arrive, start, end, outcome_of(error), abandoned)
            return "raise", error, record
        stored = ledger.took_effect(args[0].id, key) if ledger is not None and op == "save_event" else True
        record = None
        if station is not None:
            result = "ok"
            if op == "save_event":
                event_id = args[0].id
                if event_id in station.committed_ids or not stored:
                    result = "duplicate"
                else:
                    station.committed_ids.add(event_id)
            record = station.log(self.writer, op, arrive, start, end, result, abandoned)
        return "return", value, record

    def save_event(self, event: Event) -> None:
        self._call("save_event", (event,))

    def save_event_as(self, event: Event, ledger: WriteLedger, call: tuple[int, int]) -> None:
        """:meth:`save_event`, telling *ledger* that call *call* stored *event* if and when it does."""
        if self._plain and call_deadline.get() is None:  # what _direct does on its fast path, in one frame
            rng, mu, sigma = self._gauss_hop  # type: ignore[misc]
            sleep = self.clock.sleep
            delay = _abs_gauss(rng, mu, sigma)
            if delay:
                sleep(delay)
            try:
                self.store.save_event(event)  # type: ignore[attr-defined]
                ledger.took_effect(event.id, call)
            finally:
                delay = _abs_gauss(rng, mu, sigma)
                if delay:
                    sleep(delay)
            return
        self._call("save_event", (event,), ledger, call)

    def get_latest_version(self, actor_id: str) -> int:
        if self._plain and call_deadline.get() is None:  # as in save_event_as
            rng, mu, sigma = self._gauss_hop  # type: ignore[misc]
            sleep = self.clock.sleep
            delay = _abs_gauss(rng, mu, sigma)
            if delay:
                sleep(delay)
            try:
                version: int = self.store.get_latest_version(actor_id)  # type: ignore[attr-defined]
            finally:
                delay = _abs_gauss(rng, mu, sigma)
                if delay:
                    sleep(delay)
        else:
            version = self._call("get_latest_version", (actor_id,))
        if self.model is not None and self.model.think_time is not None:
            self.clock.sleep(self.model.think_time.sample(self.rng))
        return version

    def get_events(self, actor_id: str, from_version: int = 1) -> list[Event]:
        events: list[Event] = self._call("get_events", (actor_id, from_version))
        if from_version <= 1 and self.model is not None and self.model.think_time is not None:
            self.clock.sleep(self.model.think_time.sample(self.rng))  # a decision reads the whole state, then works
        return events
