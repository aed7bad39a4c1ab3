"""Real runs of the contention experiment, recorded once, to hold the simulation against.

Chapter 09 compares the calibrated simulation with real writers. Real runs take
seconds and differ from run to run and machine to machine, so the chapter's
figures and tables come from a record of real runs committed with the package
(``aether/data/contention_reality.json``), made by one command::

    python -m aether.calibrate_reality --out aether/data/contention_reality.json

Use :func:`record_contention` to make a record on this machine and
:func:`load_contention_record` to read the committed one. It runs, with 2 ms
network hops emulated by real sleeps:

* **the herd**: :data:`HERD_WRITERS` writers save once each on one actor, all at
  the same instant, without and with full jitter (:func:`herd_patterns`);
* **the steady stream**: :data:`STEADY` (8 writers x 4 saves on one actor)
  with four patterns (:func:`steady_patterns`);
* **the large herd**: the herd with :data:`LARGE_HERD` writers, on real SQLite only;

each on **real threads** against the in-memory store behind the calibrated
capacity (:data:`~aether.experiment.profiles.LAPTOP_SQLITE`), and on **real
processes** against the **real SQLite** store, whose own locking is the capacity.
Each run is one row: its summary (:meth:`~aether.experiment.RunResult.summary`)
and :func:`start_skew`, how far apart its writers got going.
"""

from __future__ import annotations

import datetime
import functools
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

import pandas as pd

from aether.checks import check_int, check_text

__all__ = [
    "HERD_WRITERS",
    "LARGE_HERD",
    "REALITY_DATA",
    "STEADY",
    "ContentionRecord",
    "herd_patterns",
    "load_contention_record",
    "record_contention",
    "start_skew",
    "steady_patterns",
]

#: The file (in ``aether/data``) that holds the committed record.
REALITY_DATA = "contention_reality.json"
#: Writers in the herd (each saves once; all on one actor).
HERD_WRITERS = 20
#: Writers in the large herd, run on real SQLite only (where a fresh calibration over-predicted).
LARGE_HERD = 24
#: The steady stream of contention: writers and saves per writer, all on one actor.
STEADY: Mapping[str, int] = {"writers": 8, "saves_per_writer": 4}
#: Each emulated network hop of a real run, seconds (a real sleep).
HOP = 0.002
#: The summary fields a record keeps per run.
FIELDS = ("saves", "committed", "write_calls", "wasted_calls", "mean_retries", "p50_committed", "p95_committed",
          "makespan")


def herd_patterns() -> dict[str, Any]:
    """The herd's two contenders: backoff from 5 ms to a 50 ms cap, without and with full jitter."""
    from aether.patterns import jitter_retry

    return {label: functools.partial(jitter_retry, jitter=kind, max_delay=0.05, max_attempts=1000)
            for label, kind in (("no jitter", "none"), ("full jitter", "full"))}


def steady_patterns() -> dict[str, Any]:
    """The steady stream's four contenders; each may try 1000 times, so every save commits.

    Immediate retry; backoff from 5 ms to a 300 ms cap without and with full
    jitter; adaptive retry with tiers of 100 ms per competing commit.
    """
    from aether.patterns import AdaptivePolicy, adaptive_retry, immediate_retry, jitter_retry

    return {
        "immediate retry": functools.partial(immediate_retry, max_attempts=1000),
        "no jitter": functools.partial(jitter_retry, jitter="none", max_delay=0.3, max_attempts=1000),
        "full jitter": functools.partial(jitter_retry, jitter="full", max_delay=0.3, max_attempts=1000),
        "adaptive": functools.partial(adaptive_retry, max_attempts=1000,
                                      policy=AdaptivePolicy(light_delay=0.1, per_version=0.1)),
    }


def start_skew(result: Any) -> float:
    """How far apart a run's writers got going: the spread of the ends of their first store calls (s)."""
    calls = result.calls
    first = calls[calls["call"] == 1]
    return float(first["end"].max() - first["end"].min()) if len(first) else math.nan


def run_row(result: Any, *, scenario: str, way: str, seed: int) -> dict[str, Any]:
    """One run as a record's row: scenario, way, pattern, seed, :data:`FIELDS` and ``start_skew``."""
    summary = result.summary()
    return {"scenario": scenario, "way": way, "pattern": summary.pattern, "seed": seed,
            **{name: getattr(summary, name) for name in FIELDS}, "start_skew": start_skew(result)}


@dataclass(frozen=True)
class ContentionRecord:
    """Real contention runs as measured once: one row per run (``runs``), and how, when and where."""

    runs: pd.DataFrame
    command: str
    measured: str
    machine: Mapping[str, Any]

    def to_json(self) -> str:
        """The record as JSON, one run per line (what :meth:`from_json` reads)."""
        rows = [json.dumps({k: _plain(v) for k, v in row.items()}) for row in self.runs.to_dict("records")]
        head = {"format": 1, "command": self.command, "measured": self.measured, "machine": dict(self.machine)}
        lines = [f" {json.dumps(k)}: {json.dumps(v)}" for k, v in head.items()]
        lines.append(' "runs": [\n  ' + ",\n  ".join(rows) + "\n ]")
        return "{\n" + ",\n".join(lines) + "\n}\n"

    @classmethod
    def from_json(cls, text: str | bytes) -> ContentionRecord:
        """Read a record written by :meth:`to_json` (anything else: :class:`ValueError`)."""
        if not isinstance(text, (str, bytes)):
            raise TypeError(f"text must be a str or bytes of JSON; got {type(text).__name__}")
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"text is not a contention record: not JSON ({exc})") from None
        if not isinstance(data, dict) or data.get("format") != 1 or "runs" not in data:
            raise ValueError("text is not a contention record of format 1")
        return cls(runs=pd.DataFrame(data["runs"]), command=data["command"], measured=data["measured"],
                   machine=data["machine"])

    def __str__(self) -> str:
        m = self.machine
        counts = self.runs.groupby(["scenario", "way"], sort=False).size()
        runs = "; ".join(f"{scenario}, {way}: {n} runs" for (scenario, way), n in counts.items())
        return (f"{self.command}\nmeasured {self.measured} on {m.get('system', '?')} {m.get('arch', '?')}, "
                f"{m.get('cpus', '?')} CPUs, load {m.get('load', '?')}\n{runs}")


def _plain(value: Any) -> Any:
    """A JSON-ready scalar: floats to 6 significant digits (NaN as ``null``)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return None if not math.isfinite(value) else float(f"{value:.6g}")
    if hasattr(value, "item"):  # numpy scalars
        return _plain(value.item())
    return value


def record_contention(*, herd_seeds: int = 4, steady_seeds: int = 3,
                      ways: Sequence[str] = ("real threads", "real SQLite"),
                      command: str = "record_contention()") -> ContentionRecord:
    """Run the herd and the steady stream for real, each way and seed: a :class:`ContentionRecord`.

    Takes about a minute on a busy 2-core machine with the defaults.
    """
    from aether.calibrate import machine_facts
    from aether.experiment import Constant, NetworkModel, run_contention
    from aether.experiment.profiles import LAPTOP_SQLITE

    herd_seeds = check_int("herd_seeds", herd_seeds, 0, 100)
    steady_seeds = check_int("steady_seeds", steady_seeds, 0, 100)
    settings = {"real threads": {"capacity": LAPTOP_SQLITE.capacity()}, "real SQLite": {"store": "sqlite"}}
    unknown = sorted(set(ways) - set(settings))
    if unknown:
        raise ValueError(f"ways must be among {sorted(settings)}; got {unknown[0]!r}")
    hops = NetworkModel(hop=Constant(HOP))
    rows = []
    plan = [("herd", herd_patterns(), {"writers": HERD_WRITERS}, herd_seeds, ways),
            ("steady", steady_patterns(), dict(STEADY), steady_seeds, ways),
            ("large herd", herd_patterns(), {"writers": LARGE_HERD}, herd_seeds,
             [way for way in ways if way == "real SQLite"])]
    for scenario, patterns, size, seeds, scenario_ways in plan:
        for name, pattern in patterns.items():
            for way in scenario_ways:
                for seed in range(seeds):
                    result = run_contention(pattern, seed=seed, name=name, network=hops, clock="real",
                                            **size, **settings[way])
                    rows.append(run_row(result, scenario=scenario, way=way, seed=seed))
    return ContentionRecord(runs=pd.DataFrame(rows), command=check_text("command", command),
                            measured=datetime.date.today().isoformat(), machine=machine_facts())


def load_contention_record(path: str | None = None) -> ContentionRecord:
    """The committed record (``aether/data/contention_reality.json``), or the one at *path*."""
    if path is None:
        return ContentionRecord.from_json(resources.files("aether.data").joinpath(REALITY_DATA).read_bytes())
    with open(check_text("path", path), encoding="utf-8") as file:
        return ContentionRecord.from_json(file.read())


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m aether.calibrate_reality --out FILE``: record the real contention runs."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m aether.calibrate_reality", description=main.__doc__)
    parser.add_argument("--out", required=True, help="the JSON file to write")
    parser.add_argument("--herd-seeds", type=int, default=4)
    parser.add_argument("--steady-seeds", type=int, default=3)
    args = parser.parse_args(argv)
    command = (f"python -m aether.calibrate_reality --herd-seeds {args.herd_seeds} "
               f"--steady-seeds {args.steady_seeds} --out FILE")
    record = record_contention(herd_seeds=args.herd_seeds, steady_seeds=args.steady_seeds, command=command)
    with open(args.out, "w", encoding="utf-8") as out:
        out.write(record.to_json())
    print(record)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
