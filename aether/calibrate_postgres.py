"""Calibrate the simulator against a real PostgreSQL server: the "networked server" store profile.

:mod:`aether.calibrate` measures the embedded SQLite store. Use
:func:`calibrate_postgres` for the store on a server reached over a socket,
:class:`~aether.store.postgres.PostgresEventStore`; it measures, on this
machine:

* ``read``, ``write``, ``conflict``: the service time of ``get_latest_version``,
  of a committed ``save_event`` and of one that conflicts, for a lone writer
  (each one statement: the round trip over the socket and the server's work);
* ``connect``: what opening a new connection costs the store (a new server
  backend process: why clients keep their connections);
* ``served_at_once``: for 1, 2, 4 and 8 writer processes (each on an actor of
  its own, committing as fast as it can), their commits per second together
  over one writer's alone; ``writers_at_once`` is the largest: how many calls
  the server serves at once here. On a machine with few cores the writers and
  the server's backends share them, so this is the machine's figure as much
  as the server's;
* ``max_connections``: the server's connection limit, past which it refuses
  (:class:`~aether.errors.StoreOverloadedError`);
* ``server_start``: how long the throwaway server took to start, when
  :func:`calibrate_postgres` started one.

:attr:`PostgresCalibration.capacity` is the model that matches it, for the
simulated runs. Command line::

    python -m aether.calibrate_postgres [--samples N] [--seconds S] [--json FILE]

It needs the ``postgres`` extra, and starts (and removes) its own local
server unless given a connection string.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

from aether.calibrate import (
    Quantiles,
    format_duration,
    format_spread,
    machine_facts,
    measure_service,
    writer_rates,
    writers_at_once,
)
from aether.checks import check_int, check_number, check_seconds, check_text
from aether.experiment.capacity import Capacity

__all__ = ["FORMAT", "LEVELS", "PostgresCalibration", "calibrate_postgres", "main"]

FORMAT = 1
"""The version of :meth:`PostgresCalibration.to_json`'s layout."""

LEVELS = (1, 2, 4, 8)
"""How many writer processes the concurrency measurement runs at once, in turn."""

_DISTRIBUTIONS = ("read", "write", "conflict", "connect")


@dataclass(frozen=True, kw_only=True)
class PostgresCalibration:
    """What :func:`calibrate_postgres` measured (seconds; distributions as :class:`Quantiles`).

    ``served_at_once`` maps a number of writer processes to their commit rate
    together over one writer's (``lone_rate``, commits per second);
    ``command`` is the command line that reproduces the measurement.
    """

    read: Quantiles
    write: Quantiles
    conflict: Quantiles
    connect: Quantiles
    lone_rate: float
    served_at_once: Mapping[int, float]
    max_connections: int
    server_start: float | None
    server: str
    command: str
    machine: Mapping[str, str | int | float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in _DISTRIBUTIONS:
            if not isinstance(getattr(self, name), Quantiles):
                raise TypeError(f"PostgresCalibration.{name} must be a Quantiles; got {getattr(self, name)!r}")
        check_number("PostgresCalibration.lone_rate", self.lone_rate, above=0.0)
        if not isinstance(self.served_at_once, Mapping) or not self.served_at_once:
            raise TypeError(
                f"PostgresCalibration.served_at_once must be a non-empty mapping; got {self.served_at_once!r}"
            )
        served = {
            check_int("PostgresCalibration.served_at_once key", k, 1): check_number(
                "PostgresCalibration.served_at_once value", v, above=0.0
            )
            for k, v in self.served_at_once.items()
        }
        object.__setattr__(self, "served_at_once", dict(sorted(served.items())))
        check_int("PostgresCalibration.max_connections", self.max_connections, 1)
        if self.server_start is not None:
            check_seconds("PostgresCalibration.server_start", self.server_start)
        check_text("PostgresCalibration.server", self.server)
        check_text("PostgresCalibration.command", self.command)
        object.__setattr__(self, "machine", dict(self.machine))

    @property
    def writers_at_once(self) -> float:
        """The most writers the server served at once: the largest of ``served_at_once``."""
        return max(self.served_at_once.values())

    @property
    def workers(self) -> int:
        """The servers of the model: ``writers_at_once`` rounded, at least one."""
        return max(1, round(self.writers_at_once))

    @property
    def capacity(self) -> Capacity:
        """The :class:`~aether.experiment.capacity.Capacity` of the networked server profile.

        :attr:`workers` servers, the measured ``read`` and ``write`` service
        times (which include the round trip over the socket), no queue limit.
        """
        return Capacity(workers=self.workers, service={"read": self.read, "write": self.write})

    def to_json(self) -> str:
        """The calibration as JSON (what :meth:`from_json` reads back)."""
        out: dict[str, Any] = {"format": FORMAT}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, Quantiles):
                value = list(value.values)
            elif f.name == "served_at_once":
                value = {str(k): v for k, v in value.items()}
            out[f.name] = value
        return json.dumps(out, indent=1, ensure_ascii=False) + "\n"

    @classmethod
    def from_json(cls, text: str | bytes) -> PostgresCalibration:
        """Read a calibration written by :meth:`to_json` (anything else: :class:`ValueError`)."""
        if not isinstance(text, (str, bytes)):
            raise TypeError(f"text must be a str or bytes of JSON; got {type(text).__name__}")
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"text is not a PostgreSQL calibration: not JSON ({exc})") from None
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ValueError(f"text is not a PostgreSQL calibration of format {FORMAT}")
        names = {f.name for f in fields(cls)}
        if set(data) - {"format"} != names:
            raise ValueError(f"calibration fields must be {sorted(names)}; got {sorted(set(data) - {'format'})}")
        values = {name: data[name] for name in names}
        for name in _DISTRIBUTIONS:
            values[name] = Quantiles(tuple(values[name]))
        values["served_at_once"] = {int(k): v for k, v in values["served_at_once"].items()}
        return cls(**values)

    def __str__(self) -> str:
        m = self.machine
        served = ", ".join(f"{k}: {v:.2f}" for k, v in self.served_at_once.items())
        started = "not started here" if self.server_start is None else format_duration(self.server_start)
        rows = [
            ("command", self.command),
            ("measured on", f"{m.get('system', '?')} {m.get('arch', '?')}, {m.get('cpus', '?')} CPUs, "
                            f"Python {m.get('python', '?')}, load {m.get('load', '?')}"),
            ("server", self.server),
            ("server start", started),
            ("read", format_spread(self.read)),
            ("write", format_spread(self.write)),
            ("conflicting write", format_spread(self.conflict)),
            ("new connection", format_spread(self.connect)),
            ("one writer commits", f"{self.lone_rate:.0f} per second"),
            ("served at once", f"{served} (writer processes: rate together / one alone)"),
            ("writers at once", f"{self.writers_at_once:.2f} -> {self.workers} worker(s)"),
            ("max_connections", str(self.max_connections)),
        ]
        width = max(len(k) for k, _ in rows)
        return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:  # IPython shows the text table
        printer.text(str(self))


def _measure_connect(store: Any, count: int) -> list[float]:
    """Seconds the store takes to open a new connection (close, then open one)."""
    times = []
    for _ in range(count):
        store.close()
        t = time.perf_counter()
        store._connection()
        times.append(time.perf_counter() - t)
    return times


def calibrate_postgres(
    conninfo: str | None = None,
    *,
    samples: int = 200,
    seconds: float = 0.25,
    levels: Sequence[int] = LEVELS,
    connects: int = 20,
    command: str | None = None,
) -> PostgresCalibration:
    """Measure a PostgreSQL event store on this machine; returns a :class:`PostgresCalibration`.

    * ``conninfo``: the server to measure; ``None`` starts a throwaway local
      server (timed: ``server_start``) and removes it afterwards. A given
      server gets the store's tables, and events of actors named
      ``calibration``, ``warm-up`` and ``writer-N``, in its current schema;
    * ``samples``: reads, writes and conflicts timed;
    * ``seconds``: how long each level's writer processes commit;
    * ``levels``: the numbers of writer processes, run in turn;
    * ``connects``: connections opened and timed;
    * ``command``: the command line to print with the figures (the Python
      call by default).

    With the defaults it takes about three seconds plus the server's start.
    """
    samples = check_int("samples", samples, 1, 100_000)
    seconds = check_seconds("seconds", seconds, positive=True, maximum=60.0)
    connects = check_int("connects", connects, 1, 10_000)
    if isinstance(levels, (str, bytes)) or not isinstance(levels, Sequence) or not levels:
        raise TypeError(f"levels must be a non-empty sequence of writer counts; got {levels!r}")
    levels = tuple(check_int("levels item", level, 1, 64) for level in levels)
    if command is None:
        command = f"calibrate_postgres(samples={samples}, seconds={seconds}, levels={levels}, connects={connects})"
    command = check_text("command", command)
    from aether.store.pglocal import start_local_postgres
    from aether.store.postgres import PostgresEventStore

    server = None
    started = None
    if conninfo is None:
        t = time.perf_counter()
        server = start_local_postgres()
        started = round(time.perf_counter() - t, 4)
        conninfo = server.new_schema("calibration")
    try:
        store = PostgresEventStore(check_text("conninfo", conninfo))
        measure_service(store, samples=min(samples, 20), actor="warm-up")
        service = measure_service(store, samples=samples)
        connect = _measure_connect(store, connects)
        conn = store._connection()
        (version,) = conn.execute("SELECT version()").fetchone()  # type: ignore[misc]
        (max_connections,) = conn.execute("SHOW max_connections").fetchone()  # type: ignore[misc]
        store.close()
        lone, together = writer_rates(PostgresEventStore, conninfo, levels, seconds)
        served = {level: round(writers_at_once(lone, rates), 4) for level, rates in together.items()}
    finally:
        if server is not None:
            server.stop()
    return PostgresCalibration(
        read=Quantiles.of(service["read"]), write=Quantiles.of(service["write"]),
        conflict=Quantiles.of(service["conflict"]), connect=Quantiles.of(connect),
        lone_rate=round(lone, 2), served_at_once=served, max_connections=int(max_connections),
        server_start=started, server=" ".join(str(version).split()[:2]), command=command, machine=machine_facts(),
    )


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m aether.calibrate_postgres``: measure a throwaway local server, print the figures."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m aether.calibrate_postgres", description=main.__doc__)
    parser.add_argument("--samples", type=int, default=2000, help="reads, writes, conflicts timed")
    parser.add_argument("--seconds", type=float, default=1.0, help="seconds each level's writers commit")
    parser.add_argument("--json", help="also write the calibration to this file")
    args = parser.parse_args(argv)
    command = f"python -m aether.calibrate_postgres --samples {args.samples} --seconds {args.seconds}"
    cal = calibrate_postgres(samples=args.samples, seconds=args.seconds, command=command)
    print(cal)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            out.write(cal.to_json())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
