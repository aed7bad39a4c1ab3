"""One big run: many simulated writers on one actor, against the same run of an older checkout.

The run is the memory section's, scaled up: *writers* writers (10,000 at
full size) x 1 save on one actor, :func:`~aether.patterns.jitter_retry` with
full jitter (5 ms base, 2 s cap, 50 attempts), seed 0, the default network,
timed end to end: :func:`~aether.experiment.run_contention` (which checks the
store) and then both result tables, ``result.saves`` and ``result.calls``.

Every repetition runs in a fresh interpreter, so neither side inherits the
other's heap. With ``--baseline DIR`` (a checkout of an older commit, e.g. a
``git worktree``) the same run is made with that checkout's ``aether``,
interleaved with ours, and the ratio of the median wall times is printed next
to its target. Both sides must simulate the same run (same write attempts and
outcomes), or the comparison stops with an error.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.config import Sizes
from bench.report import Row, Table, fmt_rate, fmt_seconds
from bench.timing import rotated

__all__ = ["TARGET_TIME_RATIO", "ScaleRun", "run", "run_once"]

#: Our wall time for the big run must be at most this fraction of the baseline's.
TARGET_TIME_RATIO = 0.45

ROOT = Path(__file__).resolve().parent.parent

# Run in the child interpreter; prints one JSON line. Kept to the API both old and new checkouts share.
_CHILD = """
import json, sys, time, functools
import aether
from aether.experiment import run_contention
from aether.patterns.jitter import jitter_retry
writers = int(sys.argv[1])
pattern = functools.partial(jitter_retry, jitter="full", base_delay=0.005, max_delay=2.0, max_attempts=50)
cpu, start = time.process_time(), time.perf_counter()
result = run_contention(pattern, writers=writers, seed=0)
ran = time.perf_counter()
saves, calls = result.saves, result.calls
done = time.perf_counter()
print(json.dumps({
    "aether": aether.__file__,
    "seconds": done - start,
    "cpu_seconds": time.process_time() - cpu,
    "run_seconds": ran - start,
    "simulation_seconds": result.wall_seconds,
    "frame_seconds": done - ran,
    "attempts": int((calls["op"] == "save_event").sum()),
    "calls": len(calls),
    "outcomes": {str(k): int(v) for k, v in saves["outcome"].value_counts().sort_index().items()},
}))
"""


@dataclass(frozen=True)
class ScaleRun:
    """What one child run reported (seconds of wall time; the rest describes the simulated run)."""

    aether: str
    seconds: float
    cpu_seconds: float
    run_seconds: float
    simulation_seconds: float
    frame_seconds: float
    attempts: int
    calls: int
    outcomes: dict[str, int]

    def same_run(self, other: ScaleRun) -> bool:
        """Whether *other* simulated the same run (write attempts, calls and outcomes)."""
        return (self.attempts, self.calls, self.outcomes) == (other.attempts, other.calls, other.outcomes)


def run_once(checkout: Path, writers: int) -> ScaleRun:
    """Make the big run in a fresh interpreter that imports ``aether`` from *checkout*."""
    env = {**os.environ, "PYTHONPATH": str(checkout)}
    env.pop("PYTHONSTARTUP", None)
    done = subprocess.run([sys.executable, "-c", _CHILD, str(writers)], cwd=checkout, env=env, capture_output=True,
                          text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"the big run with the aether of {checkout} failed:\n{done.stderr.strip()}")
    data: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    imported = Path(data["aether"]).resolve()
    if checkout.resolve() not in imported.parents:
        raise RuntimeError(f"the run meant for {checkout} imported aether from {imported}")
    return ScaleRun(**data)


def run(sizes: Sizes, baseline: Path | None) -> Table:
    """Time the big run with our aether (and the baseline's, interleaved); one table."""
    writers, repeats = sizes.scale_writers, sizes.scale_repeats
    sides = {"ours": ROOT} | ({"baseline": baseline} if baseline is not None else {})
    runs: dict[str, list[ScaleRun]] = {name: [] for name in sides}
    for repetition in range(repeats):
        for name in rotated(list(sides), repetition):
            runs[name].append(run_once(sides[name], writers))
    first = runs["ours"][0]
    for name, done in runs.items():
        for other in done:
            if not first.same_run(other):
                raise AssertionError(f"the {name} big run differs from ours: {other} vs {first}")
    table = Table(f"simulation: {writers:,} writers x 1 save on one actor (full jitter, seed 0), end to end with "
                  f"both result tables, wall seconds (lower is better), median of {repeats}, a fresh process each")
    ours = {key: statistics.median(getattr(r, key) for r in runs["ours"])
            for key in ("seconds", "run_seconds", "frame_seconds", "cpu_seconds")}
    if baseline is None:
        table.add(Row.comparison("end to end vs the baseline checkout", fmt_seconds(ours["seconds"]),
                                 "skipped: no --baseline", "", f"<= {TARGET_TIME_RATIO:.2f}x"))
    else:
        theirs = {key: statistics.median(getattr(r, key) for r in runs["baseline"]) for key in ours}
        value = ours["seconds"] / theirs["seconds"]
        table.add(Row.comparison("end to end vs the baseline checkout", fmt_seconds(ours["seconds"]),
                                 fmt_seconds(theirs["seconds"]), f"{value:.2f}x", f"<= {TARGET_TIME_RATIO:.2f}x",
                                 "met" if value <= TARGET_TIME_RATIO else "missed"))
        for key, label in (("run_seconds", "  of which run_contention (simulation and store check)"),
                           ("frame_seconds", "  of which building result.saves and result.calls"),
                           ("cpu_seconds", "end to end, CPU time of the process (less sensitive to a busy machine)")):
            table.add(Row.comparison(label, fmt_seconds(ours[key]), fmt_seconds(theirs[key]),
                                     f"{ours[key] / theirs[key]:.2f}x" if theirs[key] > 0 else "n/a"))
        table.note(f"baseline: the aether of {baseline} ({_describe(baseline)})")
    table.note(f"the run: {first.attempts:,} write attempts, {first.calls:,} store calls, outcomes "
               + ", ".join(f"{k} {v:,}" for k, v in first.outcomes.items())
               + f"; ours {fmt_rate(first.attempts / ours['seconds'])} write attempts end to end")
    table.note("ratio = our wall time / the baseline's: 0.60x means the same run takes 60% of the time")
    return table


def _describe(checkout: Path) -> str:
    """The checkout's commit, if it is a git work tree."""
    done = subprocess.run(["git", "-C", str(checkout), "log", "-1", "--format=%h %s"], capture_output=True,
                          text=True, check=False)
    line = done.stdout.strip()
    return line[:90] + ("..." if len(line) > 90 else "") if done.returncode == 0 and line else "not a git checkout"
