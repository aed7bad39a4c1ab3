"""The retry storm on a real PostgreSQL server: a service with a few connections, a queue, a short slowdown.

Chapter 08 shows a metastable failure in simulation: a store that is 77% busy
gets a one-second slowdown, callers time out and retry at once, and goodput
stays near zero after the slowdown ends while the store is busier than ever.
Use :func:`run_storm_real` to run the same experiment against a real
PostgreSQL server, and :func:`simulate_storm` to run the simulation calibrated
on that server (:func:`measure_storm_service`), so the two timelines can be
compared bin by bin (``docs/storm-on-postgres.md`` has the numbers).

What makes the real storm possible, and how this module provides each piece:

* **a small, known capacity.** A :class:`StormServer` is a service in front of
  PostgreSQL, like an application server's worker pool: ``workers``
  connections to the server behind one first-come-first-served queue
  (:class:`concurrent.futures.ThreadPoolExecutor`). Every store call of every
  caller joins the queue; a free worker runs it on its connection. That is
  the simulation's :class:`~aether.experiment.capacity.Capacity` with
  ``workers`` servers.
* **a known service time.** Each call does ``work`` seconds of work on the
  server (``pg_sleep`` in a SQL function, run by the worker's backend before
  the store's statement: a stand-in for what occupies a backend, such as I/O or
  a lock wait, that does not depend on how busy this machine's cores are),
  then the store's own statement.
* **work whose callers have gone.** A caller waits at most ``call_timeout``
  for each call (the simulation's per-call ``NetworkModel(timeout=...)``) and
  then raises :class:`~aether.errors.StoreTimeoutError`, but its call stays
  in the queue and the server still runs it (a write still commits): nothing
  tells a queue, or a PostgreSQL backend, that the client stopped waiting.
* **a short real slowdown.** From ``trigger_start`` to ``trigger_end`` seconds
  after the run's start, a separate connection sets the server's work factor
  to ``trigger_factor`` (the simulation's
  :class:`~aether.experiment.capacity.Slowdown`): the same backends now need
  that many times longer per call.

Every run is bounded: a fixed number of callers (``rate x duration``,
checked by :func:`~aether.experiment.realload.run_load_real`), each with a
whole-save timeout (``save_timeout``), and the server's queue is emptied
(pending calls cancelled) when the last caller is done. It sends traffic only
to the store it is given: start a throwaway server with
:func:`~aether.store.pglocal.start_local_postgres`::

    with start_local_postgres() as local:
        run = run_storm_real(storm_patterns()["retry at once"], conninfo=local.new_schema("storm"), rate=30)
        run.timeline(bin=0.5)
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from aether.checks import check_int, check_number, check_seconds, check_text
from aether.contracts import call_deadline, deadline_scope
from aether.errors import StoreTimeoutError, StoreUnavailableError
from aether.events import Event
from aether.experiment.capacity import Capacity, Slowdown
from aether.experiment.delays import Constant, Delay
from aether.experiment.harness import run_load
from aether.experiment.network import NetworkModel
from aether.experiment.result import RunResult
from aether.store import postgres
from aether.store.postgres import PostgresEventStore

__all__ = [
    "STORM_DATA",
    "ServerRecord",
    "StormRecord",
    "StormRun",
    "StormServer",
    "StormStore",
    "load_storm_record",
    "measure_storm_service",
    "record_storm",
    "run_storm_real",
    "storm_profile",
    "simulate_storm",
    "storm_summary",
]

_KNOB = "aether_storm_knob"
_WORK = "aether_storm_work"


class ServerRecord(NamedTuple):
    """One call as the :class:`StormServer` served it (seconds on :func:`time.monotonic`).

    ``op`` is ``"read"`` or ``"write"``; ``queued``: the caller put it in the
    queue; ``start`` / ``end``: a worker ran it; ``abandoned``: its caller had
    stopped waiting before it ended.
    """

    op: str
    queued: float
    start: float
    end: float
    abandoned: bool


class _Job:
    """A call in the queue: what it runs, and until when its caller waits."""

    __slots__ = ("op", "queued", "wait_until")

    def __init__(self, op: str, queued: float, wait_until: float) -> None:
        self.op = op
        self.queued = queued
        self.wait_until = wait_until


class StormServer:
    """A service of ``workers`` PostgreSQL connections behind one FIFO queue, doing ``work`` s per call.

    Use it (through :class:`StormStore`) when an experiment needs a server of
    small, known capacity that keeps serving calls whose callers have gone.
    Opening it creates, in the schema of *conninfo*, a one-row table and a SQL
    function that sleeps ``work x factor`` seconds; :meth:`set_factor` changes
    the factor from a separate connection (a slowdown of the server).
    :meth:`close` cancels the calls still queued and waits for the running ones.
    """

    def __init__(self, conninfo: str, *, workers: int = 2, work: float = 0.02,
                 statement_timeout: float = 30.0) -> None:
        import psycopg

        self.workers = check_int("workers", workers, 1, 64)
        self.work = check_seconds("work", work, maximum=10.0)
        self._backend = PostgresEventStore(conninfo, statement_timeout=statement_timeout)
        self._conninfo = conninfo
        with psycopg.connect(conninfo, autocommit=True) as admin:
            admin.execute(f"CREATE TABLE IF NOT EXISTS {_KNOB} (work double precision, factor double precision)")
            admin.execute(f"DELETE FROM {_KNOB}")
            admin.execute(f"INSERT INTO {_KNOB} VALUES (%s, 1.0)", (self.work,))
            admin.execute(f"CREATE OR REPLACE FUNCTION {_WORK}() RETURNS void LANGUAGE sql AS "
                          f"$$ SELECT pg_sleep(work * factor) FROM {_KNOB} $$")
        self._pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="storm-server")
        self._lock = threading.Lock()
        self.records: list[ServerRecord] = []
        self.first_call = threading.Event()
        self.first_deadline: float | None = None
        self._closed = False

    def set_factor(self, factor: float) -> None:
        """Make every call's work take *factor* times ``work`` from now on (1.0: normal speed)."""
        import psycopg

        factor = check_number("factor", factor, above=0.0, maximum=1000.0)
        with psycopg.connect(self._conninfo, autocommit=True) as admin:
            admin.execute(f"UPDATE {_KNOB} SET factor = %s", (factor,))

    def submit(self, op: str, sql: str, params: Any, wait: float,
               deadline: float | None = None) -> Future[list[tuple[Any, ...]]]:
        """Queue one statement of a caller who waits *wait* seconds; the future has its rows.

        *deadline* is the caller's whole-save deadline (on :func:`time.monotonic`),
        if it has one: the first call's is kept as :attr:`first_deadline`, and
        :attr:`first_call` is set.
        """
        now = time.monotonic()
        if not self.first_call.is_set():
            with self._lock:
                if self.first_deadline is None:
                    self.first_deadline = deadline if deadline is not None else now
            self.first_call.set()
        job = _Job(op, now, now + wait)
        try:
            return self._pool.submit(self._serve, job, sql, params)
        except RuntimeError as exc:  # the server was closed: the run is over
            raise StoreUnavailableError("the storm server is closed; the call was not sent") from exc

    def _serve(self, job: _Job, sql: str, params: Any) -> list[tuple[Any, ...]]:
        backend = self._backend
        start = time.monotonic()
        try:
            backend._connection().execute(f"SELECT {_WORK}()")  # type: ignore[arg-type]
            return backend._run(sql, params)
        finally:
            end = time.monotonic()
            with self._lock:
                self.records.append(ServerRecord(job.op, job.queued, start, end, end > job.wait_until))

    def close(self) -> None:
        """Cancel the calls still queued, wait for the running ones, and close the workers' connections."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._backend.close()

    def __enter__(self) -> StormServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _op_of(sql: str) -> str:
    return "write" if sql in (postgres._SQL_SAVE, postgres._SQL_EXPLAIN) else "read"


class StormStore(PostgresEventStore):
    """A :class:`~aether.store.postgres.PostgresEventStore` whose callers' calls queue at a :class:`StormServer`.

    Calls made inside a caller's save (with a :data:`~aether.contracts.call_deadline`,
    as every caller of :func:`~aether.experiment.realload.run_load_real` has)
    go through *server*'s queue, and the caller waits at most ``call_timeout``
    (or until its deadline, if sooner) for each, then raises
    :class:`~aether.errors.StoreTimeoutError` while the call stays queued.
    Calls without a deadline (the run's own reads of the store) go straight
    to the server. Other *settings* as for ``PostgresEventStore``.
    """

    def __init__(self, conninfo: str, *, server: StormServer, call_timeout: float = 0.25, **settings: Any) -> None:
        if not isinstance(server, StormServer):
            raise TypeError(f"server must be a StormServer; got {server!r} ({type(server).__name__})")
        self._server = server
        self._call_timeout = check_seconds("call_timeout", call_timeout, positive=True, maximum=3600.0)
        super().__init__(conninfo, **settings)

    @property
    def server(self) -> StormServer:
        """The service the callers' calls queue at."""
        return self._server

    @property
    def call_timeout(self) -> float:
        """Seconds a caller waits for one call before it gives up (the call still runs)."""
        return self._call_timeout

    def replace(self, **changes: Any) -> StormStore:
        """A new store on the same database and server with some settings changed (``call_timeout=...``, ...)."""
        settings: dict[str, Any] = {
            "statement_timeout": self.statement_timeout, "connect_timeout": self.connect_timeout,
            "isolation_level": self.isolation_level, "deadline_clock": self.deadline_clock,
            "call_timeout": self._call_timeout,
        }
        unknown = sorted(set(changes) - set(settings))
        if unknown:
            raise TypeError(f"replace() takes {', '.join(sorted(settings))}; got unknown {', '.join(unknown)}")
        settings.update(changes)
        return type(self)(self._conninfo, server=self._server, **settings)

    def _run(self, sql: str, params: Any) -> list[tuple[Any, ...]]:
        deadline = call_deadline.get()
        if deadline is None:  # not a caller's save (the run's own bookkeeping): straight to the server
            return super()._run(sql, params)
        clock = self.deadline_clock or time.monotonic
        left = deadline - clock()
        if left <= 0:
            raise StoreTimeoutError("the caller's deadline passed before the call was sent; nothing was sent")
        wait = min(self._call_timeout, left)
        future = self._server.submit(_op_of(sql), sql, params, wait, deadline=deadline)
        try:
            return future.result(timeout=wait)
        except FutureTimeout:
            raise StoreTimeoutError(
                f"no reply within {wait:.3g} s: the caller stopped waiting; the call stays queued and the "
                "server still runs it (a write may still commit)"
            ) from None


def measure_storm_service(conninfo: str, *, workers: int = 2, work: float = 0.02,
                          samples: int = 100) -> dict[str, Any]:
    """Service time of a read and of a write through a fresh :class:`StormServer`, one call at a time.

    Returns ``{"read": Quantiles, "write": Quantiles}`` (seconds from a worker
    taking the call to its end: the server's work and the statement), what
    :func:`simulate_storm` takes. It writes events of the actor ``service``.
    """
    from aether.calibrate import Quantiles

    samples = check_int("samples", samples, 2, 100_000)
    with StormServer(conninfo, workers=workers, work=work) as server:
        store = StormStore(conninfo, server=server, call_timeout=60.0, deadline_clock=time.monotonic)
        version = 0
        with deadline_scope(time.monotonic() + 3600.0):
            for _ in range(samples):
                version = store.get_latest_version("service")
                store.save_event(Event(actor_id="service", event_type="Measured", version=version + 1))
        store.close()
        records = list(server.records)
    return {op: Quantiles.of([r.end - r.start for r in records if r.op == op]) for op in ("read", "write")}


@dataclass(frozen=True)
class StormRun:
    """One run of :func:`run_storm_real`: the harness's result and what the server did.

    ``origin`` is the run's start on :func:`time.monotonic` (the harness's
    time 0, estimated from the first caller's arrival); ``server`` holds the
    server's :class:`ServerRecord` s; ``stored`` is how many events the store
    holds after the run (writes of callers that gave up count: they committed).
    """

    result: RunResult
    server: list[ServerRecord]
    origin: float
    workers: int
    work: float
    trigger: Slowdown
    call_timeout: float
    stored: int
    settings: Mapping[str, Any] = field(default_factory=dict)

    def timeline(self, bin: float = 0.5) -> pd.DataFrame:  # noqa: A002 - the word RunResult.timeline uses
        """:meth:`RunResult.timeline` with the server's own columns filled in.

        ``utilisation``: the fraction of the workers' time spent serving;
        ``served_for_gone``: calls per second the server finished whose caller
        had stopped waiting; ``in_store``: mean calls queued or in service.
        """
        frame = self.result.timeline(bin=bin).copy()
        width = check_seconds("bin", bin, positive=True)
        edges = np.append(frame["start"].to_numpy(), frame["start"].iloc[-1] + width)
        queued = np.array([r.queued - self.origin for r in self.server], dtype=float)
        start = np.array([r.start - self.origin for r in self.server], dtype=float)
        end = np.array([r.end - self.origin for r in self.server], dtype=float)
        gone = np.array([r.abandoned for r in self.server], dtype=bool)
        frame["utilisation"] = _overlap(start, end, edges) / width / self.workers
        frame["in_store"] = _overlap(queued, end, edges) / width
        frame["queue_depth"] = _overlap(queued, start, edges) / width
        counts, _ = np.histogram(end[gone], bins=edges)
        frame["served_for_gone"] = counts / width
        return frame

    def recovery_time(self, **kwargs: Any) -> float:
        """Seconds from the trigger's end until goodput is back: :meth:`RunResult.recovery_time`."""
        return self.result.recovery_time(self.trigger.end, **kwargs)


def _overlap(start: np.ndarray, end: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Total length of the intervals ``[start, end)`` inside each bin of *edges*."""
    lo, hi = edges[:-1][:, None], edges[1:][:, None]
    if len(start) == 0:
        return np.zeros(len(edges) - 1)
    return np.clip(np.minimum(end[None, :], hi) - np.maximum(start[None, :], lo), 0.0, None).sum(axis=1)


def run_storm_real(
    pattern: Any,
    *,
    conninfo: str,
    rate: float,
    duration: float = 10.0,
    workers: int = 2,
    work: float = 0.02,
    call_timeout: float = 0.25,
    trigger_start: float = 3.0,
    trigger_end: float = 4.0,
    trigger_factor: float = 4.0,
    save_timeout: float = 2.0,
    actors: int = 1000,
    seed: int = 0,
    name: str | None = None,
    max_callers: int = 1000,
) -> StormRun:
    """Run the open-loop storm experiment on a real PostgreSQL server; returns a :class:`StormRun`.

    A :class:`StormServer` of ``workers`` connections doing ``work`` seconds
    per call serves callers arriving at ``rate`` per second for ``duration``
    seconds (:func:`~aether.experiment.realload.run_load_real`, seeded like
    :func:`~aether.experiment.run_load`); each waits ``call_timeout`` per call
    and ``save_timeout`` for its whole save; the server's work is
    ``trigger_factor`` times longer from ``trigger_start`` to ``trigger_end``.
    *conninfo* should name a schema of its own (``LocalPostgres.new_schema``):
    the run creates the store's tables and the server's function there.
    Takes about ``duration + save_timeout`` seconds.
    """
    from aether.experiment.arrivals import arrival_times
    from aether.experiment.realload import run_load_real
    from aether.experiment.spec import RandomStreams

    rate = check_number("rate", rate, above=0.0, maximum=1000.0)
    duration = check_seconds("duration", duration, positive=True, maximum=600.0)
    save_timeout = check_seconds("save_timeout", save_timeout, positive=True, maximum=60.0)
    trigger = Slowdown(check_seconds("trigger_start", trigger_start), check_seconds("trigger_end", trigger_end),
                       factor=check_number("trigger_factor", trigger_factor, above=0.0, maximum=1000.0))
    first = arrival_times(rate, duration, "poisson", RandomStreams(seed).open_arrivals())
    first_arrival = first[0] if first else 0.0
    server = StormServer(conninfo, workers=workers, work=work)
    try:
        store = StormStore(conninfo, server=server, call_timeout=call_timeout)
        origin_box: list[float] = []
        stop = threading.Event()

        def drive_trigger() -> None:
            server.first_call.wait()
            if stop.is_set():
                return
            # The first caller's deadline is its arrival plus save_timeout: time 0 is first_arrival before that.
            origin_box.append(server.first_deadline - save_timeout - first_arrival)  # type: ignore[operator]
            for at, factor in ((trigger.start, trigger.factor), (trigger.end, 1.0)):
                if stop.wait(max(origin_box[0] + at - time.monotonic(), 0.0)):
                    return
                server.set_factor(factor)
            stop.wait(max(origin_box[0] + duration + save_timeout + 1.0 - time.monotonic(), 0.0))
            server.close()  # every caller is done: cancel what is still queued

        driver = threading.Thread(target=drive_trigger, name="storm-trigger", daemon=True)
        driver.start()
        try:
            result = run_load_real(pattern, store=store, rate=rate, duration=duration, timeout=save_timeout,
                                   actors=actors, seed=seed, name=name, verify=False, max_callers=max_callers)
        finally:
            stop.set()
            server.first_call.set()
            driver.join(30.0)
            if not origin_box:
                origin_box.append(time.monotonic())
            server.close()
            server.set_factor(1.0)
        stored = sum(store.get_latest_version(actor) for actor in store.actor_ids())
        store.close()
    finally:
        server.close()
    settings = {"rate": rate, "duration": duration, "workers": workers, "work": work, "call_timeout": call_timeout,
                "save_timeout": save_timeout, "actors": actors, "seed": seed}
    return StormRun(result=result, server=list(server.records), origin=origin_box[0], workers=workers, work=work,
                    trigger=trigger, call_timeout=call_timeout, stored=stored, settings=settings)


def simulate_storm(
    pattern: Any,
    *,
    service: Mapping[str, Delay],
    rate: float,
    duration: float = 10.0,
    workers: int = 2,
    call_timeout: float = 0.25,
    trigger_start: float = 3.0,
    trigger_end: float = 4.0,
    trigger_factor: float = 4.0,
    hop: Delay | None = None,
    actors: int = 1000,
    seed: int = 0,
    name: str | None = None,
) -> RunResult:
    """The simulated twin of :func:`run_storm_real`: same arrivals, capacity from *service*, same trigger.

    *service* is :func:`measure_storm_service`'s result (or any ``{"read":
    Delay, "write": Delay}``); the store has ``workers`` servers, never drops a
    call whose caller has gone (``drop_expired=False``: neither does the real
    server), and is ``trigger_factor`` times slower from ``trigger_start`` to
    ``trigger_end``; each call's caller waits ``call_timeout``; *hop* is the
    one-way delay of a call (default 0.2 ms, a local socket).
    """
    trigger = Slowdown(trigger_start, trigger_end, factor=trigger_factor)
    capacity = Capacity(workers=workers, service=dict(service), faults=[trigger], drop_expired=False)
    network = NetworkModel(hop=hop if hop is not None else Constant(0.0002), timeout=call_timeout)
    return run_load(pattern, rate=rate, duration=duration, actors=actors, capacity=capacity, network=network,
                    seed=seed, name=name)


def storm_summary(timeline: pd.DataFrame, trigger: Slowdown, rate: float, duration: float) -> dict[str, float]:
    """Numbers that describe a storm timeline (rates per second, from :meth:`StormRun.timeline` or
    :meth:`RunResult.timeline`): goodput before, during and after the trigger, the server's
    utilisation after it, and the time from the trigger's start until goodput first fell below
    half the rate (``collapse``; ``inf`` if it never did).
    """
    start = timeline["start"]
    width = float(start.iloc[1] - start.iloc[0]) if len(start) > 1 else duration
    before = timeline[(start >= 1.0) & (start + width <= trigger.start)]
    during = timeline[(start >= trigger.start) & (start + width <= trigger.end)]
    after = timeline[(start >= trigger.end + 1.0) & (start + width <= duration)]
    low = timeline[(start >= trigger.start) & (timeline["goodput"] < 0.5 * rate)]
    collapse = float(low["start"].iloc[0] + width - trigger.start) if len(low) else math.inf
    return {
        "goodput_before": float(before["goodput"].mean()),
        "goodput_during": float(during["goodput"].mean()),
        "goodput_after": float(after["goodput"].mean()),
        "calls_after": float(after["calls"].mean()),
        "utilisation_after": float(after["utilisation"].mean()),
        "collapse": collapse,
    }


def storm_patterns(attempts: int = 4) -> dict[str, Any]:
    """The contenders of the comparison: immediate retries (*attempts*), none, a retry budget, a breaker."""
    import functools

    from aether.patterns import CircuitBreakerPolicy, RetryBudgetPolicy, retry_on_failure

    attempts = check_int("attempts", attempts, 1, 100)
    return {
        "retry at once": functools.partial(retry_on_failure, max_attempts=attempts),
        "no retries": functools.partial(retry_on_failure, max_attempts=1),
        "retry budget": RetryBudgetPolicy(),
        "circuit breaker": CircuitBreakerPolicy(),
    }


def compare_storm(
    conninfo: Callable[[], str],
    service: Mapping[str, Delay],
    *,
    patterns: Mapping[str, Any] | None = None,
    seeds: range | list[int] = range(3),  # noqa: B008 - immutable
    repeats: int = 1,
    rate: float = 30.0,
    duration: float = 10.0,
    bin: float = 0.5,  # noqa: A002
    timelines: list[pd.DataFrame] | None = None,
    **settings: Any,
) -> pd.DataFrame:
    """Each pattern on the real server (*repeats* times per seed) and in simulation: one row per run.

    *conninfo* gives a fresh schema per real run; *service* is
    :func:`measure_storm_service`'s result; *settings* go to both
    :func:`run_storm_real` and :func:`simulate_storm` (``workers``,
    ``call_timeout``, ``trigger_*``...). Columns: ``pattern``, ``seed``,
    ``repeat``, ``kind`` (``"real"`` or ``"simulated"``), ``recovery``
    (:meth:`RunResult.recovery_time` after the trigger), ``drain`` (seconds
    from the trigger's end until the server finished its last call for a
    caller who had gone, before the arrivals stopped: the queue has drained;
    about ``duration - trigger_end`` means never) and
    :func:`storm_summary`'s numbers (rates per second over bins of *bin* s),
    and for real runs ``served_for_gone_after`` (calls per second the server
    served after the trigger for callers who had gone) and ``wall`` (seconds).
    Given a list as *timelines*, it appends each real run's :meth:`StormRun.timeline`
    (with ``pattern``, ``seed`` and ``repeat`` columns in front) to it.
    """
    patterns = dict(storm_patterns() if patterns is None else patterns)
    repeats = check_int("repeats", repeats, 1, 100)
    rows = []
    for name, pattern in patterns.items():
        for seed in seeds:
            sim = simulate_storm(pattern, service=service, rate=rate, duration=duration, seed=seed, name=name,
                                 **{k: v for k, v in settings.items() if k != "save_timeout"})
            trigger = Slowdown(settings.get("trigger_start", 3.0), settings.get("trigger_end", 4.0),
                               factor=settings.get("trigger_factor", 4.0))
            station = sim.station
            gone_ends = station.loc[station["abandoned"] & (station["end"] < duration), "end"].to_numpy()
            rows.append({"pattern": name, "seed": seed, "repeat": 0, "kind": "simulated",
                         "recovery": sim.recovery_time(trigger.end), "drain": _drain(gone_ends, trigger.end),
                         **storm_summary(sim.timeline(bin=bin), trigger, rate, duration)})
            for repeat in range(repeats):
                wall = time.perf_counter()
                run = run_storm_real(pattern, conninfo=conninfo(), rate=rate, duration=duration, seed=seed,
                                     name=name, **settings)
                wall = time.perf_counter() - wall
                frame = run.timeline(bin=bin)
                if timelines is not None:
                    timelines.append(frame.assign(pattern=name, seed=seed, repeat=repeat)[
                        ["pattern", "seed", "repeat", *frame.columns]])
                after = frame[(frame["start"] >= trigger.end + 1.0) & (frame["start"] + bin <= duration)]
                gone_ends = np.array([r.end - run.origin for r in run.server if r.abandoned], dtype=float)
                rows.append({"pattern": name, "seed": seed, "repeat": repeat, "kind": "real",
                             "recovery": run.recovery_time(),
                             "drain": _drain(gone_ends[gone_ends < duration], trigger.end),
                             **storm_summary(frame, run.trigger, rate, duration),
                             "served_for_gone_after": float(after["served_for_gone"].mean()),
                             "wall": round(wall, 2)})
    return pd.DataFrame(rows)


def _drain(gone_ends: np.ndarray, after: float) -> float:
    """Seconds from *after* to the end of the last call served for a caller who had gone (0: none after)."""
    late = gone_ends[gone_ends >= after]
    return float(late.max() - after) if len(late) else 0.0


#: The file (in ``aether/data``) that holds the committed record of the real storm (:func:`record_storm`).
STORM_DATA = "storm_postgres.json"
#: The columns of a real run's timeline that a record keeps (rates per second, per bin).
RECORD_COLUMNS = ("start", "offered", "calls", "goodput", "timeouts", "utilisation", "queue_depth",
                  "served_for_gone")


@dataclass(frozen=True)
class StormRecord:
    """The real storm as measured once, to compare with the simulation without a server.

    ``service``: the service time of a read and a write through the storm server
    (:func:`measure_storm_service`), what the simulation is calibrated with;
    ``runs``: one row per real run (:func:`compare_storm`'s real rows);
    ``timelines``: those runs' timelines (:data:`RECORD_COLUMNS`, per ``bin`` seconds);
    ``settings``: the experiment's settings (``rate``, ``duration``, ``bin``, ...);
    ``command``, ``measured``, ``server`` and ``machine``: how, when and where.
    Use :func:`load_storm_record` to read the committed one.
    """

    service: Mapping[str, Any]
    runs: pd.DataFrame
    timelines: pd.DataFrame
    settings: Mapping[str, Any]
    command: str
    measured: str
    server: str
    machine: Mapping[str, Any]

    def to_json(self) -> str:
        """The record as JSON, one run or one bin per line (what :meth:`from_json` reads)."""
        def table(frame: pd.DataFrame) -> str:
            rows = [json.dumps({k: _plain(v) for k, v in row.items()}) for row in frame.to_dict("records")]
            return "[\n  " + ",\n  ".join(rows) + "\n ]"

        head = {"format": 1, "command": self.command, "measured": self.measured, "server": self.server,
                "machine": dict(self.machine), "settings": dict(self.settings),
                "service": {op: list(q.values) for op, q in self.service.items()}}
        lines = [f" {json.dumps(k)}: {json.dumps(v)}" for k, v in head.items()]
        lines += [f' "runs": {table(self.runs)}', f' "timelines": {table(self.timelines)}']
        return "{\n" + ",\n".join(lines) + "\n}\n"

    @classmethod
    def from_json(cls, text: str | bytes) -> StormRecord:
        """Read a record written by :meth:`to_json` (anything else: :class:`ValueError`)."""
        from aether.calibrate import Quantiles

        if not isinstance(text, (str, bytes)):
            raise TypeError(f"text must be a str or bytes of JSON; got {type(text).__name__}")
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"text is not a storm record: not JSON ({exc})") from None
        if not isinstance(data, dict) or data.get("format") != 1:
            raise ValueError("text is not a storm record of format 1")
        return cls(service={op: Quantiles(tuple(v)) for op, v in data["service"].items()},
                   runs=pd.DataFrame(data["runs"]), timelines=pd.DataFrame(data["timelines"]),
                   settings=data["settings"], command=data["command"], measured=data["measured"],
                   server=data["server"], machine=data["machine"])


def _plain(value: Any) -> Any:
    """A JSON-ready scalar: floats rounded to 6 significant digits, infinity as ``null``."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return None if not math.isfinite(value) else float(f"{float(value):.6g}")
    return value


def record_storm(*, seeds: int = 3, rate: float = 30.0, patterns: Mapping[str, Any] | None = None,
                 bin: float = 0.5, command: str = "record_storm()") -> StormRecord:  # noqa: A002
    """Measure the storm server and run every pattern on it (one real run per seed): a :class:`StormRecord`.

    Starts (and removes) a throwaway local server (:func:`~aether.store.pglocal.start_local_postgres`).
    Takes about ``len(patterns) x seeds x 12`` seconds.
    """
    import datetime

    from aether.calibrate import machine_facts
    from aether.store.pglocal import start_local_postgres

    seeds = check_int("seeds", seeds, 1, 100)
    frames: list[pd.DataFrame] = []
    with start_local_postgres() as local:
        service = measure_storm_service(local.new_schema("service"))
        runs = compare_storm(lambda: local.new_schema("storm"), service, patterns=patterns, seeds=range(seeds),
                             rate=rate, bin=bin, timelines=frames)
        import psycopg

        with psycopg.connect(local.new_schema("version")) as conn:
            (version,) = conn.execute("SELECT version()").fetchone()  # type: ignore[misc]
    real = runs[runs["kind"] == "real"].drop(columns=["kind", "wall"]).reset_index(drop=True)
    timelines = pd.concat(frames, ignore_index=True)[["pattern", "seed", "repeat", *RECORD_COLUMNS]]
    settings = {"rate": rate, "duration": 10.0, "bin": bin, "workers": 2, "work": 0.02, "call_timeout": 0.25,
                "trigger_start": 3.0, "trigger_end": 4.0, "trigger_factor": 4.0, "save_timeout": 2.0,
                "actors": 1000}
    return StormRecord(service=service, runs=real, timelines=timelines, settings=settings, command=command,
                       measured=datetime.date.today().isoformat(), server=" ".join(str(version).split()[:2]),
                       machine=machine_facts())


def storm_profile(record: StormRecord) -> Any:
    """The storm server of *record* as a :class:`~aether.experiment.profiles.StoreProfile` (what it measured).

    ``workers`` connections, the read and write service times measured through
    the server (its ``work`` per call, then the store's statement on a local
    socket, as :data:`~aether.experiment.profiles.POSTGRES_LOCAL` measures it
    alone), and :func:`simulate_storm`'s 0.2 ms hop each way.
    """
    from aether.experiment.profiles import StoreProfile

    if not isinstance(record, StormRecord):
        raise TypeError(f"record must be a StormRecord; got {record!r} ({type(record).__name__})")
    s, m = record.settings, record.machine
    return StoreProfile(
        name="PostgreSQL storm server", read=record.service["read"], write=record.service["write"],
        workers=int(s["workers"]), hop=Constant(0.0002), path="0.2 ms hops",
        source=(f"aether/data/{STORM_DATA}: '{record.command}' measured {record.measured} against {record.server} "
                f"on {m.get('system', '?')} {m.get('arch', '?')}, {m.get('cpus', '?')} CPUs at load "
                f"{m.get('load', '?')}: {s['workers']} connections behind one queue, each call {s['work'] * 1000:g} "
                "ms of work on the server (pg_sleep) then the store's statement, timed one call at a time"))


def load_storm_record(path: str | None = None) -> StormRecord:
    """The committed record of the real storm (``aether/data/storm_postgres.json``), or the one at *path*."""
    from importlib import resources

    if path is None:
        return StormRecord.from_json(resources.files("aether.data").joinpath(STORM_DATA).read_bytes())
    with open(check_text("path", path), encoding="utf-8") as file:
        return StormRecord.from_json(file.read())


def main(argv: list[str] | None = None) -> int:
    """``python -m aether.experiment.realstorm``: the storm on a throwaway local server, real vs simulated."""
    import argparse

    from aether.store.pglocal import start_local_postgres

    parser = argparse.ArgumentParser(prog="python -m aether.experiment.realstorm", description=main.__doc__)
    parser.add_argument("--seeds", type=int, default=3, help="arrival schedules per pattern")
    parser.add_argument("--repeats", type=int, default=1, help="real runs per seed")
    parser.add_argument("--rate", type=float, default=30.0, help="saves arriving per second")
    parser.add_argument("--patterns", default="", help="comma-separated names (default: all four)")
    parser.add_argument("--csv", help="also write every run's row to this file")
    parser.add_argument("--record", help="instead: write a StormRecord (real runs and their timelines) as JSON")
    args = parser.parse_args(argv)
    patterns = storm_patterns()
    if args.patterns:
        patterns = {name: patterns[name] for name in args.patterns.split(",")}
    if args.record:
        command = f"python -m aether.experiment.realstorm --seeds {args.seeds} --rate {args.rate:g} --record FILE"
        record = record_storm(seeds=args.seeds, rate=args.rate, patterns=patterns, command=command)
        with open(args.record, "w", encoding="utf-8") as out:
            out.write(record.to_json())
        print(record.runs.groupby("pattern", sort=False)[["goodput_after", "utilisation_after", "drain"]]
              .mean().round(2).to_string())
        return 0
    with start_local_postgres() as local:
        service = measure_storm_service(local.new_schema("service"))
        print(f"service time per call (p50 / mean): read {service['read'].median * 1000:.1f} / "
              f"{service['read'].mean * 1000:.1f} ms, write {service['write'].median * 1000:.1f} / "
              f"{service['write'].mean * 1000:.1f} ms; capacity with 2 workers "
              f"{2 / (service['read'].mean + service['write'].mean):.1f} saves/s", flush=True)
        runs = compare_storm(lambda: local.new_schema("storm"), service, patterns=patterns,
                             seeds=range(args.seeds), repeats=args.repeats, rate=args.rate)
    if args.csv:
        runs.to_csv(args.csv, index=False)
    columns = ["goodput_before", "goodput_during", "goodput_after", "utilisation_after", "calls_after",
               "collapse", "recovery", "drain"]
    table = runs.groupby(["pattern", "kind"], sort=False)[columns].agg(["mean", "min", "max"])
    with pd.option_context("display.width", 250, "display.max_columns", 50):
        print(table.round(2).to_string())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
