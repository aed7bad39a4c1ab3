"""Calibrate the simulator against the real SQLite store, on the machine it runs on.

The simulated chapters run on a model of a store: a
:class:`~aether.experiment.capacity.Capacity` (servers, one FCFS queue,
service times) behind a :class:`~aether.experiment.network.NetworkModel`. Use
:func:`calibrate` when you want that model to stand for the real
:class:`~aether.store.sqlite.SQLiteEventStore` on your machine::

    cal = calibrate()                       # two or three seconds
    run_contention(pattern, writers=20, capacity=cal.capacity, network=cal.network(hop=0.002))
    text = cal.to_json()                    # keep it ...
    Calibration.from_json(text) == cal      # ... and get it back
    reference_calibration()                 # the committed one, for exact notebook outputs

What it measures, at the lab's durability (WAL journal, ``synchronous=NORMAL``):

* ``read``, ``write``, ``conflict``: the service time of ``get_latest_version``,
  of a committed ``save_event`` and of one that conflicts, for a lone writer;
* ``write_fsync``: a committed save at ``synchronous=FULL``, one fsync per
  commit: what full durability would cost;
* ``writers_at_once``: what ``concurrent`` writer processes commit together
  (each on an actor of its own), over what one commits alone: how many
  writers the store serves at once (SQLite: about one, it has one write lock);
* ``lock_waits``: how long a writer waits for the write lock while another
  connection still holds it. SQLite's busy handler does not wake the waiter
  when the lock is freed: it sleeps 1, 2, 5, 10, 15, 20, 25, 25, 25, 50, 50,
  100 ms between attempts (:data:`SQLITE_BUSY_DELAYS`), so the waiter gets
  the lock at its next attempt;
* ``sleep_overshoot``: how much longer than asked a real ``time.sleep``
  lasts (the operating system's scheduler);
* ``start_skew``: how far apart the harness's writer processes (and threads)
  get going, from the start signal until their first store call returned.

The service times, the writers served at once and the oversleep become the
model (:attr:`Calibration.capacity`, :meth:`Calibration.network`). The model
has no place for the busy handler or the start skew, which is why they are
measured too: they are what the simulation leaves out.
"""

from __future__ import annotations

import bisect
import contextlib
import json
import math
import operator
import os
import platform
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields
from importlib import resources
from typing import Any

from aether.checks import check_callable, check_int, check_methods, check_number, check_seconds, check_text, show
from aether.errors import VersionConflictError
from aether.events import Event, validate_actor_id
from aether.experiment.capacity import Capacity
from aether.experiment.network import Constant, NetworkModel
from aether.store.sqlite import SQLiteEventStore

__all__ = [
    "FORMAT",
    "LOCK_HOLDS",
    "MAX_CONCURRENT",
    "MAX_SAMPLES",
    "MAX_START_WRITERS",
    "MIN_PHASE_SECONDS",
    "SQLITE_BUSY_DELAYS",
    "BusyPolls",
    "Calibration",
    "Quantiles",
    "busy_poll_times",
    "calibrate",
    "measure_service",
    "next_busy_poll",
    "reference_calibration",
    "writers_at_once",
]

#: The version of the JSON layout written by :meth:`Calibration.to_json`.
FORMAT = 1

#: SQLite's default busy handler (``sqliteDefaultBusyCallback``, built with ``usleep``): the
#: sleeps, in seconds, between a waiting connection's attempts at a lock; 100 ms after the last.
SQLITE_BUSY_DELAYS: tuple[float, ...] = (0.001, 0.002, 0.005, 0.010, 0.015, 0.020, 0.025, 0.025,
                                         0.025, 0.050, 0.050, 0.100)

#: How long :func:`calibrate` holds the write lock while a second connection waits for it, in
#: seconds: one hold between each pair of the busy handler's first attempts (0, 1, 3, 8, 18 ms).
LOCK_HOLDS: tuple[float, ...] = (0.0005, 0.002, 0.005, 0.012)

#: The most writer processes the concurrency measurement and the start skew use.
MAX_CONCURRENT = 64
MAX_START_WRITERS = 1000

#: The most rounds :func:`measure_service` times (three store calls each).
MAX_SAMPLES = 1_000_000

#: The shortest phase of the concurrency measurement :func:`calibrate` accepts, in seconds: a
#: shorter one measures process start-up noise rather than commit rates.
MIN_PHASE_SECONDS = 0.01

_REFERENCE = "reference_calibration.json"
_DISTRIBUTIONS = ("read", "write", "conflict", "write_fsync", "sleep_overshoot")


# --------------------------------------------------------------------------- the busy handler


#: When the busy handler's first attempts are made: the running sums of :data:`SQLITE_BUSY_DELAYS`
#: (0, 1, 3, 8, ..., 228 ms, then 328 ms); after the last one, one attempt every 100 ms.
_POLL_STARTS: tuple[float, ...] = tuple(round(sum(SQLITE_BUSY_DELAYS[:k]), 6)
                                        for k in range(len(SQLITE_BUSY_DELAYS) + 1))
_STEADY = SQLITE_BUSY_DELAYS[-1]
_SLACK = 1e-12  # a poll at the timeout itself still counts, despite rounding


def _poll_time(k: int) -> float:
    """When attempt number *k* (0: the first try) is made, in closed form."""
    if k < len(_POLL_STARTS):
        return _POLL_STARTS[k]
    return round(_POLL_STARTS[-1] + _STEADY * (k - len(_POLL_STARTS) + 1), 6)


def _first_poll_at_or_after(seconds: float) -> int:
    """The number of the first attempt made at or after *seconds*, in closed form."""
    if seconds <= _POLL_STARTS[-1] + _SLACK:
        return bisect.bisect_left(_POLL_STARTS, seconds - _SLACK)
    k = len(_POLL_STARTS) - 1 + math.ceil((seconds - _POLL_STARTS[-1] - _SLACK) / _STEADY - 1e-9)
    return k + (_poll_time(k) < seconds - _SLACK)


class BusyPolls(Sequence[float]):
    """The busy handler's attempts up to a timeout, as a sequence computed in closed form.

    Indexing, ``len`` and searching take constant time whatever the timeout,
    so a timeout of days costs no memory; iterating yields the attempts one
    by one. Slices are plain lists.
    """

    __slots__ = ("_count", "timeout")

    def __init__(self, timeout: float = 5.0) -> None:
        timeout = check_seconds("timeout", timeout)
        self.timeout = timeout
        last = _first_poll_at_or_after(timeout + 2 * _SLACK)  # the first attempt after the timeout
        while last > 0 and _poll_time(last - 1) > timeout + _SLACK:
            last -= 1
        while _poll_time(last) <= timeout + _SLACK:
            last += 1
        self._count = last

    def __len__(self) -> int:
        return self._count

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            return [_poll_time(k) for k in range(*index.indices(self._count))]
        k = operator.index(index)
        if k < 0:
            k += self._count
        if not 0 <= k < self._count:
            raise IndexError(f"busy poll index {index} out of range (there are {self._count})")
        return _poll_time(k)

    def __iter__(self) -> Iterator[float]:
        return (_poll_time(k) for k in range(self._count))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, BusyPolls):
            return self._count == other._count
        if isinstance(other, Sequence) and not isinstance(other, (str, bytes)):
            return len(other) == self._count and all(a == b for a, b in zip(self, other, strict=False))
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        head = ", ".join(f"{t:g}" for t in self[:4])
        tail = f", ..., {self[-1]:g}" if self._count > 4 else ""
        return f"BusyPolls(timeout={self.timeout:g}: [{head}{tail}], {self._count:_} attempts)"


def busy_poll_times(timeout: float = 5.0) -> BusyPolls:
    """When a connection that found the lock taken tries again: seconds after its first try.

    ``[0, 0.001, 0.003, 0.008, 0.018, 0.033, ...]``, up to *timeout* (the
    store's ``busy_timeout``), after which SQLite gives up: "database is locked".
    The schedule is computed in closed form (:class:`BusyPolls`): any timeout
    costs the same small memory and time.
    """
    return BusyPolls(timeout)


def next_busy_poll(held: float, timeout: float = 5.0) -> float:
    """The busy handler's first attempt at or after *held* seconds: when a waiter gets the lock.

    A writer that arrives while another holds the lock for *held* more
    seconds does not get it after *held*, but at the busy handler's next
    attempt: for a lock held 2 ms, at 3 ms; held 4 ms, at 8 ms.
    ``math.inf`` past *timeout*. Closed form: constant time for any *timeout*.
    """
    held = check_seconds("held", held)
    timeout = check_seconds("timeout", timeout)
    at = _poll_time(_first_poll_at_or_after(held))
    return at if at <= timeout + _SLACK else math.inf


# ------------------------------------------------------------------------ a measured distribution


@dataclass(frozen=True)
class Quantiles:
    """A delay distribution given by evenly spaced quantiles, from the minimum to the maximum.

    Use it to put a measured distribution into the model as it was
    measured, tail included: ``Quantiles.of(samples)`` keeps 101
    percentiles, and :meth:`sample` draws from them by inverse transform
    (linear between neighbouring quantiles). It is a
    :class:`~aether.experiment.network.Delay`, so it goes wherever a service
    time or a network hop does.
    """

    values: tuple[float, ...]

    def __post_init__(self) -> None:
        if isinstance(self.values, (str, bytes)) or not isinstance(self.values, Iterable):
            raise TypeError(f"Quantiles.values must be a sequence of seconds; got {show(self.values)} "
                            f"({type(self.values).__name__})")
        values = tuple(check_seconds("Quantiles.values item", v) for v in self.values)
        if len(values) < 2:
            raise ValueError(f"Quantiles.values needs the minimum and the maximum; got {show(values)}")
        if any(b < a for a, b in zip(values, values[1:], strict=False)):
            raise ValueError(f"Quantiles.values must not decrease; got {show(values)}")
        object.__setattr__(self, "values", values)

    @classmethod
    def of(cls, samples: Iterable[float], points: int = 101) -> Quantiles:
        """The *points* evenly spaced quantiles (101: every percentile) of measured *samples*."""
        points = check_int("points", points, 2)
        data = sorted(check_seconds("sample", s) for s in samples)
        if not data:
            raise ValueError("Quantiles.of needs at least one sample; got none")
        if len(data) == 1:
            return cls((data[0], data[0]))
        inner = statistics.quantiles(data, n=points - 1, method="inclusive")
        return cls(tuple(round(v, 9) for v in (data[0], *inner, data[-1])))

    def quantile(self, q: float) -> float:
        """The *q*-quantile (``0 <= q <= 1``), linear between the stored ones."""
        q = check_number("q", q, minimum=0.0, maximum=1.0)
        return self._at(q * (len(self.values) - 1))

    def _at(self, u: float) -> float:
        values = self.values
        i = min(int(u), len(values) - 2)
        return values[i] + (u - i) * (values[i + 1] - values[i])

    def sample(self, rng: Any) -> float:
        """Draw one delay: the quantile at a uniform random level."""
        return self._at(rng.random() * (len(self.values) - 1))

    @property
    def mean(self) -> float:
        """The mean of the distribution :meth:`sample` draws from (seconds)."""
        v = self.values
        return (sum(v) - (v[0] + v[-1]) / 2) / (len(v) - 1)

    @property
    def median(self) -> float:
        """The 0.5-quantile (seconds)."""
        return self.quantile(0.5)

    def shifted(self, seconds: float) -> Quantiles:
        """The same distribution, *seconds* later (e.g. a 2 ms hop plus a measured overshoot)."""
        seconds = check_seconds("seconds", seconds)
        return Quantiles(tuple(round(v + seconds, 9) for v in self.values))

    def __repr__(self) -> str:
        return (f"Quantiles(median={format_duration(self.median)}, "
                f"p99={format_duration(self.quantile(0.99))}, {len(self.values)} points)")


# --------------------------------------------------------------------------- the calibration


@dataclass(frozen=True, kw_only=True)
class Calibration:
    """What :func:`calibrate` measured, and the model settings that match it.

    The raw figures are in seconds (distributions as :class:`Quantiles`):
    the ``read``, ``write``, ``conflict`` and ``write_fsync`` service times;
    ``writers_at_once`` (measured with ``concurrent_writers`` processes);
    ``lock_waits``, pairs ``(held, waited)``: the lock was still held for
    *held* seconds after a writer asked for it, and the writer got it after
    *waited*; the ``sleep_overshoot`` of real sleeps of ``probe_sleep``;
    ``start_skew`` and ``start_skew_threads`` for ``start_writers`` writers;
    and ``machine``, what it was measured on.

    Use :attr:`capacity` and :meth:`network` in a simulated run, and
    :meth:`to_json` / :meth:`from_json` to keep a calibration.
    """

    read: Quantiles
    write: Quantiles
    conflict: Quantiles
    write_fsync: Quantiles
    writers_at_once: float
    concurrent_writers: int
    lock_waits: tuple[tuple[float, float], ...]
    sleep_overshoot: Quantiles
    probe_sleep: float
    start_skew: float
    start_skew_threads: float
    start_writers: int
    machine: Mapping[str, str | int | float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        def keep(name: str, value: object) -> None:
            object.__setattr__(self, name, value)

        for name in _DISTRIBUTIONS:
            value = getattr(self, name)
            if not isinstance(value, Quantiles):
                raise TypeError(f"Calibration.{name} must be a Quantiles; got {show(value)} "
                                f"({type(value).__name__})")
        keep("writers_at_once", check_number("Calibration.writers_at_once", self.writers_at_once,
                                             above=0.0))
        check_int("Calibration.concurrent_writers", self.concurrent_writers, 2, MAX_CONCURRENT)
        keep("lock_waits", _lock_waits(self.lock_waits))
        keep("probe_sleep", check_seconds("Calibration.probe_sleep", self.probe_sleep,
                                          positive=True))
        keep("start_skew", check_seconds("Calibration.start_skew", self.start_skew))
        keep("start_skew_threads", check_seconds("Calibration.start_skew_threads",
                                                 self.start_skew_threads))
        check_int("Calibration.start_writers", self.start_writers, 2, MAX_START_WRITERS)
        if not isinstance(self.machine, Mapping):
            raise TypeError(f"Calibration.machine must be a mapping; got {show(self.machine)} "
                            f"({type(self.machine).__name__})")
        for key, value in self.machine.items():
            if not isinstance(key, str) or isinstance(value, bool) or \
                    not isinstance(value, (str, int, float)):
                raise TypeError("Calibration.machine maps names to str or numbers; "
                                f"got {show(key)}: {show(value)}")
        keep("machine", dict(self.machine))

    # -- the model ---------------------------------------------------------------

    @property
    def workers(self) -> int:
        """The servers of the model: ``writers_at_once`` rounded, at least one."""
        return max(1, round(self.writers_at_once))

    @property
    def capacity(self) -> Capacity:
        """The :class:`~aether.experiment.capacity.Capacity` that matches the store.

        :attr:`workers` servers; a read takes the measured ``read`` time, a
        write the measured ``write`` time (of a commit; a conflict costs a
        little less, see ``conflict``); no queue limit.
        """
        service = {"read": self.read, "write": self.write}
        return Capacity(workers=self.workers, service=service)

    def network(self, hop: float = 0.0, **settings: Any) -> NetworkModel:
        """The :class:`~aether.experiment.network.NetworkModel` that matches a real run.

        *hop* is the delay per hop that the real run emulates (its
        ``NetworkModel(hop=Constant(hop))``). A real sleep lasts longer than
        asked, so each simulated hop is *hop* plus a draw from the measured
        ``sleep_overshoot``; ``hop=0`` is the instant network (a real run
        sleeps nothing then). Other *settings* (``think_time``, ``timeout``,
        ...) go to the model as they are.
        """
        hop = check_seconds("hop", hop)
        delay = self.sleep_overshoot.shifted(hop) if hop > 0 else Constant(0.0)
        return NetworkModel(hop=delay, **settings)

    @property
    def fsync(self) -> float:
        """What an fsync per commit adds to a write: ``write_fsync`` and ``write`` medians apart."""
        return max(0.0, self.write_fsync.median - self.write.median)

    # -- keeping it --------------------------------------------------------------

    def as_dict(self) -> dict[str, Any]:
        """The figures as plain JSON-ready values (distributions as lists of quantiles)."""
        out: dict[str, Any] = {"format": FORMAT}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, Quantiles):
                value = list(value.values)
            elif f.name == "lock_waits":
                value = [list(pair) for pair in value]
            elif f.name == "machine":
                value = dict(value)
            out[f.name] = value
        return out

    def to_json(self) -> str:
        """The calibration as a JSON text (exactly what :meth:`from_json` reads back)."""
        # One field per line, each list on one line: short, and calibrations diff field by field.
        lines = [f" {json.dumps(name)}: {json.dumps(value, ensure_ascii=False)}"
                 for name, value in self.as_dict().items()]
        return "{\n" + ",\n".join(lines) + "\n}\n"

    @classmethod
    def from_json(cls, text: str | bytes) -> Calibration:
        """Read a calibration written by :meth:`to_json`; anything else is refused.

        Not JSON, another format version, a missing or unknown field, or a
        wrong value is a :class:`ValueError`; a wrong type a :class:`TypeError`.
        """
        if not isinstance(text, (str, bytes)):
            raise TypeError(f"text must be a str or bytes of JSON; got {type(text).__name__}")
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"text is not a calibration: not JSON ({exc})") from None
        if not isinstance(data, dict):
            raise TypeError(f"a calibration is a JSON object; got {type(data).__name__}")
        if data.get("format") != FORMAT:
            raise ValueError(f"calibration format must be {FORMAT}; got {data.get('format')!r}")
        names = {f.name for f in fields(cls)}
        missing, unknown = sorted(names - set(data)), sorted(set(data) - names - {"format"})
        if missing or unknown:
            raise ValueError(f"calibration fields missing {missing!r}, unknown {unknown!r}")
        values: dict[str, Any] = {name: data[name] for name in names}
        for name in _DISTRIBUTIONS:
            if not isinstance(values[name], list):
                raise TypeError(f"calibration field {name} must be a list of quantiles; "
                                f"got {values[name]!r}")
            values[name] = Quantiles(tuple(values[name]))
        return cls(**values)

    # -- reading it --------------------------------------------------------------

    def __str__(self) -> str:
        m = self.machine
        held = " / ".join(format_duration(h) for h, _ in self.lock_waits)
        waited = " / ".join(format_duration(w) for _, w in self.lock_waits)
        polls = " / ".join(format_duration(next_busy_poll(h)) for h, _ in self.lock_waits)
        load = f", load {m['load']:.1f}" if isinstance(m.get("load"), (int, float)) else ""
        rows = [
            ("measured on", f"{m.get('system', '?')} {m.get('arch', '?')}, {m.get('cpus', '?')} "
                            f"CPUs, Python {m.get('python', '?')}, SQLite {m.get('sqlite', '?')}"
                            f"{load}"),
            ("read", format_spread(self.read)),
            ("write (synchronous=NORMAL)", format_spread(self.write)),
            ("conflicting write", format_spread(self.conflict)),
            ("write with fsync (FULL)", format_spread(self.write_fsync)),
            ("writers served at once", f"{self.writers_at_once:.2f} ({self.concurrent_writers} "
                                       f"writer processes) -> {self.workers} worker(s)"),
            ("lock held", held),
            ("waiter got it after", f"{waited} (busy handler's attempts: {polls})"),
            ("sleep overshoot", f"{format_spread(self.sleep_overshoot)} "
                                f"(sleeps of {format_duration(self.probe_sleep)})"),
            ("start skew", f"{format_duration(self.start_skew)} for {self.start_writers} processes, "
                           f"{format_duration(self.start_skew_threads)} for as many threads"),
        ]
        width = max(len(k) for k, _ in rows)
        return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:  # IPython shows the text table
        printer.text(str(self))


def _lock_waits(value: object) -> tuple[tuple[float, float], ...]:
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise TypeError(f"Calibration.lock_waits must be a sequence of (held, waited) pairs; "
                        f"got {show(value)} ({type(value).__name__})")
    pairs = []
    for pair in value:
        if isinstance(pair, (str, bytes)) or not isinstance(pair, Sequence) or len(pair) != 2:
            raise TypeError(f"Calibration.lock_waits items must be (held, waited) pairs; "
                            f"got {show(pair)}")
        pairs.append((check_seconds("Calibration.lock_waits held", pair[0]),
                      check_seconds("Calibration.lock_waits waited", pair[1])))
    return tuple(pairs)


def format_duration(seconds: float) -> str:
    """*seconds* in µs, ms or s, three significant digits ("never" for infinity)."""
    if seconds == math.inf:
        return "never"
    for unit, factor in (("s", 1.0), ("ms", 1e-3)):
        if seconds >= factor:
            return f"{seconds / factor:.3g} {unit}"
    return f"{seconds / 1e-6:.3g} µs"


def format_spread(q: Quantiles) -> str:
    """A distribution's p50, p90 and p99, as :func:`format_duration` writes them."""
    return (f"p50 {format_duration(q.median)}, p90 {format_duration(q.quantile(0.9))}, "
            f"p99 {format_duration(q.quantile(0.99))}")


def reference_calibration() -> Calibration:
    """The calibration committed with the package, measured once on a reference machine.

    Notebooks use it for their simulated cells, so that their outputs are
    the same on every machine; compare it with a live :func:`calibrate` to
    see how your machine differs (its ``machine`` says where it was measured).
    """
    data = resources.files("aether").joinpath("data", _REFERENCE)
    return Calibration.from_json(data.read_text(encoding="utf-8"))


# --------------------------------------------------------------------------- measuring


def measure_service(store: Any, *, samples: int, actor: str = "calibration",
                    timer: Callable[[], float] = time.perf_counter) -> dict[str, list[float]]:
    """Time *samples* reads, committed writes and conflicting writes on *store*, one at a time.

    Returns ``{"read": [...], "write": [...], "conflict": [...]}`` in
    seconds, measured with *timer*. Each round commits the actor's next
    version, reads the latest version, and sends the version just taken
    again (a conflict); building the events is not timed. A store that
    accepts the stale version is not an optimistic store: :class:`ValueError`.
    Every parameter is checked before the first save, *timer* included: it
    must return finite numbers that do not go back.
    """
    check_methods("store", store, ("get_latest_version", "save_event"), "an event store")
    samples = check_int("samples", samples, 1, MAX_SAMPLES)
    validate_actor_id(check_text("actor", actor))
    check_callable("timer", timer, "a function returning the time in seconds (time.perf_counter)")
    _elapsed(timer, _reading(timer))  # two readings: numbers, finite, not going back
    version = store.get_latest_version(actor)
    times: dict[str, list[float]] = {"read": [], "write": [], "conflict": []}
    for _ in range(samples):
        event = Event(actor_id=actor, event_type="Calibrated", version=version + 1)
        t = _reading(timer)
        store.save_event(event)
        times["write"].append(_elapsed(timer, t))
        version += 1
        t = _reading(timer)
        store.get_latest_version(actor)
        times["read"].append(_elapsed(timer, t))
        stale = Event(actor_id=actor, event_type="Calibrated", version=version)
        t = _reading(timer)
        try:
            store.save_event(stale)
        except VersionConflictError:
            times["conflict"].append(_elapsed(timer, t))
        else:
            raise ValueError(f"the store accepted version {version} of {actor!r} twice: "
                             "not an optimistic store")
    return times


def _reading(timer: Callable[[], float]) -> float:
    """One reading of *timer*, refused unless it is a finite number."""
    value = timer()
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"timer must return a number of seconds; it returned {show(value)} "
                        f"({type(value).__name__})")
    if not math.isfinite(value):
        raise ValueError(f"timer must return finite numbers of seconds; it returned {show(value)}")
    return float(value)


def _elapsed(timer: Callable[[], float], start: float) -> float:
    """Seconds since the reading *start*, refused if the timer went back."""
    elapsed = _reading(timer) - start
    if elapsed < 0:
        raise ValueError(f"timer must not go back; it went back by {-elapsed!r} s")
    return elapsed


def writers_at_once(lone: float, together: Sequence[float]) -> float:
    """How many writers a store serves at once, from commit rates (per second).

    *lone* is the rate of one writer on its own; *together* the rates of
    writers running at the same time. A store that serves them one at a
    time gives them together about the lone rate (``1.0``); one that serves
    *k* at once, *k* times as much.
    """
    lone = check_number("lone", lone, above=0.0)
    if isinstance(together, (str, bytes)) or not isinstance(together, Sequence):
        raise TypeError(f"together must be a non-empty sequence of rates; got {show(together)} "
                        f"({type(together).__name__})")
    if not together:
        raise ValueError(f"together must be a non-empty sequence of rates; got {show(together)}")
    return sum(check_number("together rate", r, minimum=0.0) for r in together) / lone


#: The writer process of the concurrency measurements: a fresh interpreter that imports only the
#: store (no harness, no pandas), so it starts fast and works from any parent (a notebook kernel,
#: a script without a main guard, a process with threads). ``{module}`` and ``{store}`` name the
#: store's class. Lines in: seconds to write for, or "stop"; lines out: "ready", then one commit
#: rate per request.
_WRITER_SCRIPT = """
import sys, time
from aether.events import Event
from {module} import {store} as Store
store = Store(sys.argv[1])
actor = sys.argv[2]
version = store.get_latest_version(actor)
print("ready", flush=True)
for line in sys.stdin:
    if line.strip() == "stop":
        break
    start = time.perf_counter()
    deadline, count = start + float(line), 0
    while count == 0 or time.perf_counter() < deadline:  # at least one commit: a rate above zero
        store.save_event(Event(actor_id=actor, event_type="Calibrated", version=version + 1))
        version += 1
        count += 1
    print(count / (time.perf_counter() - start), flush=True)
store.close()
"""


def writer_rates(store: type, target: str, levels: Sequence[int],
                 seconds: float) -> tuple[float, dict[int, list[float]]]:
    """Commit rates of writer processes: one alone, then each level's first writers together.

    Each writer is a fresh interpreter that opens ``store(target)`` (a class
    of :mod:`aether.store`: a file path for SQLite, a connection string for
    PostgreSQL) and commits to an actor of its own for *seconds* at each
    request. Returns the lone rate and, per level, the rates of its writers.
    Shared by :func:`calibrate` and :mod:`aether.calibrate_postgres`.
    """
    import aether

    script = _WRITER_SCRIPT.format(module=store.__module__, store=store.__qualname__)
    env = dict(os.environ)
    root = os.path.dirname(os.path.dirname(os.path.abspath(aether.__file__)))
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    procs = [subprocess.Popen([sys.executable, "-c", script, target, f"writer-{w}"],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
             for w in range(max(levels))]

    def ask(chosen: list[Any]) -> list[float]:
        for proc in chosen:
            proc.stdin.write(f"{seconds!r}\n")
            proc.stdin.flush()
        return [float(proc.stdout.readline()) for proc in chosen]

    try:
        for proc in procs:
            if proc.stdout.readline().strip() != "ready":
                raise RuntimeError("a calibration writer process failed to start "
                                   f"(exit code {proc.poll()})")
        lone = ask(procs[:1])[0]
        together = {level: ask(procs[:level]) for level in levels}
        for proc in procs:
            proc.stdin.write("stop\n")
            proc.stdin.close()
        for proc in procs:
            proc.wait(30.0)
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            proc.stdout.close()
    return lone, together


def _measure_concurrency(path: str, writers: int, seconds: float) -> tuple[float, list[float]]:
    """Commit rates of one SQLite writer process alone, then of *writers* processes at once."""
    from aether.store.sqlite import SQLiteEventStore

    lone, together = writer_rates(SQLiteEventStore, path, [writers], seconds)
    return lone, together[writers]


def _measure_lock_waits(path: str, holds: Sequence[float], repeats: int,
                        busy_timeout: float) -> list[tuple[float, float]]:
    """Per hold: how long the lock stayed taken after a writer asked for it, and how long it waited.

    Both count from the waiter's first attempt, which SQLite's statement
    trace marks: the holder starts its hold only then, so a waiter slow to
    get going does not shorten the hold it sees. Medians of *repeats* tries.
    """
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    waiter = sqlite3.connect(path, timeout=busy_timeout, isolation_level=None,
                             check_same_thread=False)
    try:
        waiter.execute("SELECT count(*) FROM events").fetchall()
        out = []
        for hold in holds:
            held, waited = [], []
            for _ in range(repeats):
                asked, attempt, got = threading.Event(), [], []

                def traced(statement: str, attempt: list[float] = attempt,
                           asked: threading.Event = asked) -> None:
                    if statement.startswith("BEGIN IMMEDIATE") and not attempt:
                        attempt.append(time.perf_counter())  # its first try for the lock
                        asked.set()

                def wait_for_lock(got: list[float] = got) -> None:
                    waiter.execute("BEGIN IMMEDIATE")  # the busy handler sleeps in here
                    got.append(time.perf_counter())
                    waiter.execute("ROLLBACK")

                holder.execute("BEGIN IMMEDIATE")
                waiter.set_trace_callback(traced)
                thread = threading.Thread(target=wait_for_lock, daemon=True,
                                          name="calibration-lock-waiter")
                thread.start()
                asked.wait()
                time.sleep(hold)
                freed = time.perf_counter()
                holder.execute("COMMIT")
                thread.join()
                waiter.set_trace_callback(None)
                held.append(freed - attempt[0])
                waited.append(got[0] - attempt[0])
            out.append((round(statistics.median(held), 9), round(statistics.median(waited), 9)))
        return out
    finally:
        holder.close()
        waiter.close()


def _measure_overshoot(probe: float, count: int) -> list[float]:
    out = []
    for _ in range(count):
        start = time.perf_counter()
        time.sleep(probe)
        out.append(max(0.0, time.perf_counter() - start - probe))
    return out


def _read_then_save(store: Any, actor_id: str, event_type: str, data: Any = None, *,
                    clock: Any) -> Event:
    """One save on the writer's own actor, after a read: the read shows when it got going."""
    own = isinstance(data, Mapping) and "writer" in data
    actor = f"skew-{data['writer']}" if own else actor_id
    version = store.get_latest_version(actor) + 1
    event = Event(actor_id=actor, event_type=event_type, version=version, data=data)
    store.save_event(event)
    return event


def _start_skew(store: Any, writers: int) -> float:
    """From the start signal until each writer's first store call returned: last minus first."""
    from aether.experiment.harness import run_contention  # the harness is what is measured

    result = run_contention(_read_then_save, writers=writers, clock="real", store=store,
                            network=None, name="start skew")
    calls = result.calls
    first = calls[calls["call"] == 1].groupby("writer")["end"].min()
    return round(float(first.max() - first.min()), 9)


def machine_facts(**extra: str | int | float) -> dict[str, str | int | float]:
    """What a calibration records of the machine it ran on: system, CPUs, Python, *extra*, load."""
    try:
        cpus = len(os.sched_getaffinity(0))  # type: ignore[attr-defined]
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    machine: dict[str, str | int | float] = {
        "system": platform.system(), "arch": platform.machine(), "cpus": cpus,
        "python": platform.python_version(), **extra,
    }
    with contextlib.suppress(AttributeError, OSError):
        machine["load"] = round(os.getloadavg()[0], 2)
    return machine


def calibrate(path: str | os.PathLike[str] | None = None, *, samples: int = 200,
              seconds: float = 0.25, concurrent: int = 2, start_writers: int = 20,
              probe_sleep: float = 0.002) -> Calibration:
    """Measure the real SQLite store on this machine; returns a :class:`Calibration`.

    * ``path``: the folder the measurement's database files go in (its
      disk is the one measured; they are removed afterwards). ``None``: a
      fresh temporary folder;
    * ``samples``: reads, writes and conflicts timed (a tenth as many
      fsync'ed writes, half as many sleeps);
    * ``seconds``: how long one writer process, then ``concurrent`` of
      them, commit as fast as they can (at least :data:`MIN_PHASE_SECONDS`);
    * ``start_writers``: how many writer processes (and threads) the start
      skew is measured with (the lab's herd is 20);
    * ``probe_sleep``: the sleep whose overshoot is measured (the lab's
      fast hop, 2 ms).

    With the defaults it takes two or three seconds, more on a busy machine.
    Parameters are checked first: a wrong type is a :class:`TypeError`, a
    wrong value a :class:`ValueError`.
    """
    samples = check_int("samples", samples, 1, 100_000)
    seconds = check_number("seconds", seconds, minimum=MIN_PHASE_SECONDS, maximum=60.0, unit="seconds")
    concurrent = check_int("concurrent", concurrent, 2, MAX_CONCURRENT)
    start_writers = check_int("start_writers", start_writers, 2, MAX_START_WRITERS)
    probe_sleep = check_seconds("probe_sleep", probe_sleep, positive=True, maximum=1.0)
    if path is not None:
        if not isinstance(path, (str, os.PathLike)):
            raise TypeError(f"path must be a folder (str or os.PathLike) or None; got {show(path)} "
                            f"({type(path).__name__})")
        if not os.path.isdir(path):
            raise ValueError(f"path must be an existing folder; got {show(os.fspath(path))}")
    folder = tempfile.mkdtemp(prefix="aether-calibration-",
                              dir=None if path is None else os.fspath(path))
    try:
        from aether.store.memory import InMemoryEventStore

        store = SQLiteEventStore(os.path.join(folder, "normal.sqlite3"))
        measure_service(store, samples=min(samples, 20), actor="warm-up")  # caches, statements
        service = measure_service(store, samples=samples)
        with SQLiteEventStore(os.path.join(folder, "full.sqlite3"), synchronous="FULL") as full:
            fsync = measure_service(full, samples=max(5, samples // 10))["write"]
        lone, together = _measure_concurrency(store.path, concurrent, seconds)
        waits = _measure_lock_waits(store.path, LOCK_HOLDS, 3, store.busy_timeout)
        overshoot = _measure_overshoot(probe_sleep, max(10, samples // 2))
        skew = _start_skew(SQLiteEventStore(os.path.join(folder, "skew.sqlite3")), start_writers)
        skew_threads = _start_skew(InMemoryEventStore(), start_writers)
        store.close()
        return Calibration(
            read=Quantiles.of(service["read"]), write=Quantiles.of(service["write"]),
            conflict=Quantiles.of(service["conflict"]), write_fsync=Quantiles.of(fsync),
            writers_at_once=round(writers_at_once(lone, together), 4),
            concurrent_writers=concurrent, lock_waits=tuple(waits),
            sleep_overshoot=Quantiles.of(overshoot), probe_sleep=probe_sleep,
            start_skew=skew, start_skew_threads=skew_threads, start_writers=start_writers,
            machine=machine_facts(sqlite=sqlite3.sqlite_version, journal_mode="wal", synchronous="NORMAL"))
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m aether.calibrate [--json FILE]``: measure, print, optionally keep the figures."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m aether.calibrate", description=main.__doc__)
    parser.add_argument("--samples", type=int, default=2000, help="reads, writes, conflicts timed")
    parser.add_argument("--seconds", type=float, default=1.0,
                        help="seconds of each phase of the concurrency measurement")
    parser.add_argument("--json", help="also write the calibration to this file")
    args = parser.parse_args(argv)
    cal = calibrate(samples=args.samples, seconds=args.seconds)
    print(cal)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            out.write(cal.to_json())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
