"""Named store profiles: the one place a chapter gets a store's speed from.

A simulated run needs a :class:`~aether.experiment.capacity.Capacity` (how fast
the store serves a read and a write, how many at once) and a
:class:`~aether.experiment.network.NetworkModel` (the path to it). Numbers
invented per chapter made conclusions that hold only on that chapter's store,
so every store speed comes from a :class:`StoreProfile` measured on a real store
and documented with where its numbers come from:

* :data:`LAPTOP_SQLITE`: the lab's SQLite store (WAL, ``synchronous=NORMAL``) as
  the committed reference calibration measured it
  (:func:`aether.calibrate.reference_calibration`): about 9 µs a read, 35 µs a
  commit, one writer at a time, called in-process (no network);
* :data:`SQLITE_FSYNC`: the same store with ``synchronous=FULL``, one fsync per
  commit, measured with :func:`measure_fsync` (the numbers and where they were
  measured are in ``aether/data/sqlite_fsync_calibration.json``);
* :data:`SERVER_DB`: a database server across a data-centre network. **An
  estimate** until a PostgreSQL calibration replaces it: see its ``source``.

A chapter that needs another store scales a profile and says why::

    shared = LAPTOP_SQLITE.scaled(100, reason="a shared server at 100x the laptop's service time")
    run_contention(pattern, writers=50, capacity=shared.capacity(), network=shared.network())
    shared.network(timeout=0.25)                 # the same path, with a caller timeout
    shared.capacity(faults=[Slowdown(3, 4, 4)])  # the same store, with a slowdown

``python -m aether.experiment.profiles`` prints the profiles;
``python -m aether.experiment.profiles measure-fsync FILE`` measures the fsync
profile on this machine and writes it to FILE.
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import random
import shutil
import sqlite3
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cache
from importlib import resources
from types import MappingProxyType
from typing import Any

from aether.checks import check_bool, check_int, check_number, check_text, show
from aether.experiment.capacity import Capacity, Slowdown
from aether.experiment.delays import AbsNormal, Constant, Delay, Exponential
from aether.experiment.network import NetworkModel

__all__ = [
    "FSYNC_DATA",
    "LAPTOP_SQLITE",
    "PROFILES",
    "SERVER_DB",
    "SQLITE_FSYNC",
    "Scaled",
    "StoreProfile",
    "fsync_measurement",
    "measure_fsync",
    "profile",
]

#: The largest factor a profile is scaled by: a million times the laptop store is already a
#: service time of minutes per call, beyond any store a chapter means.
MAX_SCALE = 1e6
#: The most calls a profile's store serves at once (the capacity model's own bound).
MAX_WORKERS = 1_000_000

#: The file (in ``aether/data``) that holds the measured fsync profile.
FSYNC_DATA = "sqlite_fsync_calibration.json"


@dataclass(frozen=True)
class Scaled:
    """A :class:`~aether.experiment.delays.Delay` *factor* times another: a slower (or faster) store."""

    delay: Delay
    factor: float

    def __post_init__(self) -> None:
        if not isinstance(self.delay, Delay):
            raise TypeError(f"Scaled.delay must be a Delay; got {show(self.delay)} ({type(self.delay).__name__})")
        check_number("Scaled.factor", self.factor, above=0.0, maximum=MAX_SCALE)

    def sample(self, rng: random.Random) -> float:
        """Draw from the inner delay and scale it."""
        return self.delay.sample(rng) * self.factor

    @property
    def mean(self) -> float:
        """The inner mean times the factor (seconds)."""
        return self.delay.mean * self.factor


@dataclass(frozen=True, kw_only=True)
class StoreProfile:
    """A store and the path to it, with where the numbers come from.

    * ``name``: the short label a claim or a figure shows ("laptop SQLite");
    * ``read`` / ``write``: service-time distributions of a read and a commit;
    * ``workers``: how many calls the store serves at once;
    * ``hop``: the delay of each request and each response on the path (``Constant(0)``: in-process);
    * ``source``: where the numbers come from (a calibration file, a measurement, an estimate);
    * ``scale``, ``path`` and ``reasons``: set by :meth:`scaled` and :meth:`with_hop`, never by hand.

    Use :meth:`capacity` and :meth:`network` in a run; both take the settings a
    chapter adds (a timeout, an outage, a slowdown, a queue limit), never other speeds.
    """

    name: str
    read: Delay
    write: Delay
    workers: int = 1
    hop: Delay = field(default_factory=lambda: Constant(0.0))
    source: str
    estimate: bool = False
    scale: float = 1.0
    path: str = ""
    reasons: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        check_text("StoreProfile.name", self.name)
        for kind in ("read", "write", "hop"):
            value = getattr(self, kind)
            if not isinstance(value, Delay):
                raise TypeError(f"StoreProfile.{kind} must be a Delay; got {show(value)} ({type(value).__name__})")
        check_int("StoreProfile.workers", self.workers, 1, MAX_WORKERS)
        check_text("StoreProfile.source", self.source)
        check_bool("StoreProfile.estimate", self.estimate)
        check_number("StoreProfile.scale", self.scale, above=0.0, maximum=MAX_SCALE)
        check_text("StoreProfile.path", self.path, empty=True)
        if not isinstance(self.reasons, tuple):
            raise TypeError(f"StoreProfile.reasons must be a tuple of str; got {show(self.reasons)}")
        for number, reason in enumerate(self.reasons):
            check_text(f"StoreProfile.reasons[{number}]", reason)

    # -- using it -----------------------------------------------------------------

    def capacity(self, *, faults: Sequence[Slowdown] = (), queue_limit: int | None = None,
                 **settings: Any) -> Capacity:
        """The store's :class:`~aether.experiment.capacity.Capacity`, with a chapter's faults or queue limit.

        ``settings`` go to :class:`Capacity` as they are (``reject_cost``); its
        ``service`` and ``workers`` are the profile's and cannot be given here.
        """
        for name in ("service", "workers"):
            if name in settings:
                raise ValueError(f"{name} comes from the profile {self.name!r}; scale the profile instead "
                                 f"(profile.scaled(factor, reason=...)); got {name}={settings[name]!r}")
        return Capacity(workers=self.workers, service={"read": self.read, "write": self.write},
                        faults=faults, queue_limit=queue_limit, **settings)

    def network(self, **settings: Any) -> NetworkModel:
        """The path to the store as a :class:`~aether.experiment.network.NetworkModel`.

        ``settings`` (``timeout``, ``outages``, ``think_time``, ``failure_rate``,
        ``spikes``) go to the model as they are; the hop is the profile's (change
        it with :meth:`with_hop`, stating why).
        """
        if "hop" in settings:
            raise ValueError(f"hop comes from the profile {self.name!r}; use profile.with_hop(delay, reason=...); "
                             f"got hop={settings['hop']!r}")
        return NetworkModel(hop=self.hop, **settings)

    def scaled(self, factor: float, *, reason: str) -> StoreProfile:
        """The same store *factor* times slower (``factor < 1``: faster), with the *reason* stated.

        The reason is kept and shown (``str(profile)``), so a reader sees why a
        chapter's store is not the calibrated one.
        """
        factor = check_number("factor", factor, above=0.0)
        reason = check_text("reason", reason)
        return replace(self, read=Scaled(self.read, factor), write=Scaled(self.write, factor),
                       scale=self.scale * factor, reasons=(*self.reasons, reason))

    def with_hop(self, hop: Delay, *, reason: str, path: str | None = None) -> StoreProfile:
        """The same store behind another path (each request and response takes *hop*), with the *reason*.

        *path* is how the label names it (default: "10 ms hops" from the hop's mean).
        """
        if not isinstance(hop, Delay):
            raise TypeError(f"hop must be a Delay (e.g. AbsNormal(0.010, 0.002)); got {hop!r}")
        reason = check_text("reason", reason)
        path = f"{_ms(hop.mean)} hops" if path is None else check_text("path", path)
        return replace(self, hop=hop, path=path, reasons=(*self.reasons, reason))

    # -- reading it ---------------------------------------------------------------

    @property
    def label(self) -> str:
        """The short label a claim shows: the name, and the scale if there is one ("laptop SQLite x100")."""
        label = self.name if self.scale == 1.0 else f"{self.name} x{self.scale:g}"
        return f"{label}, {self.path}" if self.path else label

    def __str__(self) -> str:
        text = (f"{self.label}: read {_ms(self.read.mean)}, write {_ms(self.write.mean)} (means), "
                f"{self.workers} at once, hop {_ms(self.hop.mean)}")
        if self.reasons:
            text += " (" + "; ".join(self.reasons) + ")"
        if self.estimate:
            text += " [an estimate]"
        return text

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:  # IPython: the one line
        printer.text(str(self))


def _ms(seconds: float) -> str:
    if seconds >= 1e-3 or seconds == 0:
        return f"{seconds * 1e3:.3g} ms"
    return f"{seconds * 1e6:.3g} µs"


# --------------------------------------------------------------------------- the fsync measurement


def measure_fsync(samples: int = 400, path: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """Measure the SQLite store with ``synchronous=FULL`` (one fsync per commit) on this machine.

    Times *samples* reads, commits and conflicting writes with
    :func:`aether.calibrate.measure_service` on a fresh database in *path*
    (a temporary folder if ``None``; its disk is the one measured) and
    returns them as 101 quantiles each, with the machine and the date: the
    layout of ``aether/data/sqlite_fsync_calibration.json``.
    """
    from aether.calibrate import Quantiles, measure_service
    from aether.store.sqlite import SQLiteEventStore

    samples = check_int("samples", samples, 10, 100_000)
    if path is not None:
        if not isinstance(path, (str, os.PathLike)) or isinstance(path, bytes):
            raise TypeError(f"path must be a folder's path (str or os.PathLike) or None; got {show(path)} "
                            f"({type(path).__name__})")
        if not os.fspath(path):
            raise ValueError("path must be a folder's path or None; got ''")
    folder = tempfile.mkdtemp(prefix="aether-fsync-", dir=None if path is None else os.fspath(path))
    try:
        with SQLiteEventStore(os.path.join(folder, "full.sqlite3"), synchronous="FULL") as store:
            measure_service(store, samples=10, actor="warm-up")
            times = measure_service(store, samples=samples)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    try:
        cpus = len(os.sched_getaffinity(0))  # type: ignore[attr-defined]
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    machine: dict[str, Any] = {"system": platform.system(), "arch": platform.machine(), "cpus": cpus,
                               "python": platform.python_version(), "sqlite": sqlite3.sqlite_version,
                               "journal_mode": "wal", "synchronous": "FULL"}
    if hasattr(os, "getloadavg"):
        machine["load"] = round(os.getloadavg()[0], 2)
    return {
        "format": 1,
        "what": "SQLiteEventStore(synchronous='FULL'): service times of a lone writer, seconds, 101 quantiles",
        "measured": datetime.date.today().isoformat(),
        "command": "python -m aether.experiment.profiles measure-fsync aether/data/" + FSYNC_DATA,
        "samples": samples,
        **{kind: list(Quantiles.of(values).values) for kind, values in times.items()},
        "machine": machine,
    }


@cache
def fsync_measurement() -> Mapping[str, Any]:
    """The committed fsync measurement (the JSON written by :func:`measure_fsync`)."""
    text = resources.files("aether").joinpath("data", FSYNC_DATA).read_text(encoding="utf-8")
    data = json.loads(text)
    if data.get("format") != 1:
        raise ValueError(f"{FSYNC_DATA} format must be 1; got {data.get('format')!r}")
    return data


# --------------------------------------------------------------------------- the profiles


def _laptop_sqlite() -> StoreProfile:
    from aether.calibrate import reference_calibration

    cal = reference_calibration()
    m = cal.machine
    return StoreProfile(
        name="laptop SQLite", read=cal.read, write=cal.write, workers=cal.workers, hop=Constant(0.0),
        source=(f"aether/data/reference_calibration.json: SQLite {m.get('sqlite')} (WAL, synchronous=NORMAL) "
                f"on {m.get('system')} {m.get('arch')}, {m.get('cpus')} CPUs; measured read, commit and "
                f"writers-at-once ({cal.writers_at_once:.2f} -> {cal.workers}); embedded, so no network"))


def _sqlite_fsync() -> StoreProfile:
    from aether.calibrate import Quantiles

    data = fsync_measurement()
    m = data["machine"]
    laptop = _laptop_sqlite()
    return StoreProfile(
        name="SQLite with fsync", read=Quantiles(tuple(data["read"])), write=Quantiles(tuple(data["write"])),
        workers=laptop.workers, hop=Constant(0.0),
        source=(f"aether/data/{FSYNC_DATA}: {data['samples']} reads, commits and conflicts of "
                f"SQLiteEventStore(synchronous='FULL') measured {data['measured']} with "
                f"'{data['command']}' on {m.get('system')} {m.get('arch')}, {m.get('cpus')} CPUs, SQLite "
                f"{m.get('sqlite')}; one writer at a time, as the reference calibration measured"))


#: The networked server: an estimate, documented here until a PostgreSQL calibration replaces it.
_SERVER_SOURCE = (
    "an estimate, not a measurement: a PostgreSQL-class server in the same data centre. Network: "
    "0.25 ms each way (|N(0.25 ms, 0.05 ms)|), a typical in-zone round trip of about 0.5 ms. Reads: "
    "exponential, mean 0.2 ms (an indexed lookup of a hot row, parse and plan included). Commits: "
    "exponential, mean 1 ms (a WAL flush on an SSD with synchronous_commit=on, a few times SQLite's "
    "fsync-free commit). 4 served at once (connections on a 4-core server; group commit lets flushes "
    "overlap). A PostgreSQL calibration will replace these numbers.")


@cache
def _profiles() -> dict[str, StoreProfile]:
    server = StoreProfile(name="server database", read=Exponential(0.0002), write=Exponential(0.001), workers=4,
                          hop=AbsNormal(0.00025, 0.00005), source=_SERVER_SOURCE, estimate=True)
    return {"laptop-sqlite": _laptop_sqlite(), "sqlite-fsync": _sqlite_fsync(), "server-db": server}


def profile(name: str) -> StoreProfile:
    """The profile called *name*: ``"laptop-sqlite"``, ``"sqlite-fsync"`` or ``"server-db"``."""
    check_text("name", name)
    profiles = _profiles()
    if name not in profiles:
        raise ValueError(f"name must be one of {sorted(profiles)}; got {name!r}")
    return profiles[name]


# The profiles are built on first use (PEP 562), not at import: building the laptop profile
# imports aether.calibrate, which itself imports this package's capacity and network modules,
# so an eager build would make "import aether.calibrate" circular once aether.experiment
# re-exports the profiles.

#: Every named profile by its key (``"laptop-sqlite"``, ``"sqlite-fsync"``, ``"server-db"``).
PROFILES: Mapping[str, StoreProfile]
#: The lab's SQLite store as the committed reference calibration measured it.
LAPTOP_SQLITE: StoreProfile
#: The same store with an fsync on every commit, as measured with :func:`measure_fsync`.
SQLITE_FSYNC: StoreProfile
#: A database server across a data-centre network: an estimate (see its ``source``).
SERVER_DB: StoreProfile

_LAZY = {"LAPTOP_SQLITE": "laptop-sqlite", "SQLITE_FSYNC": "sqlite-fsync", "SERVER_DB": "server-db"}


def __getattr__(name: str) -> Any:
    """Build ``PROFILES`` and the three profile constants on first use."""
    if name == "PROFILES":
        return MappingProxyType(_profiles())
    if name in _LAZY:
        return _profiles()[_LAZY[name]]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m aether.experiment.profiles [measure-fsync FILE [--samples N]]``."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m aether.experiment.profiles", description=main.__doc__)
    sub = parser.add_subparsers(dest="command")
    measure = sub.add_parser("measure-fsync", help="measure SQLite with synchronous=FULL and write the JSON")
    measure.add_argument("file")
    measure.add_argument("--samples", type=int, default=400)
    args = parser.parse_args(argv)
    if args.command == "measure-fsync":
        data = measure_fsync(args.samples)
        lines = [f" {json.dumps(k)}: {json.dumps(v)}" for k, v in data.items()]
        with open(args.file, "w", encoding="utf-8") as out:
            out.write("{\n" + ",\n".join(lines) + "\n}\n")
        print(f"wrote {args.file}: write median {sorted(data['write'])[50] * 1e3:.3f} ms", file=sys.stderr)
        return 0
    for key, p in _profiles().items():
        print(f"{key}: {p}\n    source: {p.source}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
