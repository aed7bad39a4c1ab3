"""``sweep(jobs=2)`` against a sequential sweep of the same runs, and a check that both frames are identical.

:func:`aether.experiment.sweep` with ``jobs=N`` hands its runs to N worker
processes (joblib's loky backend) and promises the exact frame a sequential
sweep returns. This section measures what the second core buys on the
simulation section's own sweep (a few seconds sequentially, so that starting
the workers does not dominate) and fails loudly, with
:func:`pandas.testing.assert_frame_equal`, if the frames differ.

loky keeps its workers between calls (and stops them after a while idle), so
the first parallel sweep in a Python process (a notebook kernel, say) also
pays for starting them. Both cases are measured: "cold" stops the workers
before each repetition, "warm" reuses the ones the cold repetition started.

:func:`dask_table` runs the same sweep with ``backend="dask"`` on a local
Dask cluster of ``JOBS`` worker processes (one thread each), next to loky's
``JOBS`` warm workers: what moving a sweep to a cluster costs on one machine,
with the frames checked identical to the sequential one.
"""

from __future__ import annotations

import gc
import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import pandas as pd
import pandas.testing as pdt

from aether.experiment import sweep
from bench.config import Sizes
from bench.report import Row, Table, at_least, fmt_rate, fmt_seconds, ratio
from bench.simulation import JITTERS, sweep_pattern
from bench.timing import rotated

__all__ = ["JOBS", "TARGET_SPEEDUP", "dask_table", "run"]

#: How many worker processes the parallel sweep gets: the cores of the machine the figures are quoted for.
JOBS = 2
#: The speed-up the parallel sweep must reach on two cores.
TARGET_SPEEDUP = 1.6

SEQUENTIAL = "sequential"
COLD = "cold"
WARM = "warm"


@dataclass
class _Timing:
    seconds: list[float] = field(default_factory=list)
    cpu_seconds: list[float] = field(default_factory=list)  # this process and its child processes (the workers)

    def rate(self, attempts: int) -> float:
        """Median write attempts per second."""
        return attempts / statistics.median(self.seconds)


def _stop_workers() -> None:
    """Stop loky's reusable workers, so the next parallel sweep starts its own."""
    from joblib.externals.loky import get_reusable_executor

    get_reusable_executor().shutdown(wait=True)


def run(sizes: Sizes) -> Table:
    """Time a sequential sweep, a cold and a warm ``sweep(jobs=JOBS)``; check their frames match."""
    patterns = {j: sweep_pattern(j) for j in JITTERS}
    writers, seeds = sizes.sweep_writers, sizes.sweep_seeds

    def sequential() -> pd.DataFrame:
        return sweep(patterns, writers=writers, seeds=seeds, progress=False)

    def parallel() -> pd.DataFrame:
        return sweep(patterns, writers=writers, seeds=seeds, jobs=JOBS, progress=False)

    timings = {name: _Timing() for name in (SEQUENTIAL, COLD, WARM)}

    def timed(name: str, work: Callable[[], pd.DataFrame]) -> tuple[str, pd.DataFrame]:
        if name == COLD:
            _stop_workers()  # untimed set-up: the sweep starts workers of its own
        gc.collect()
        start, cpu = time.perf_counter(), _cpu()
        frame = work()
        timings[name].seconds.append(time.perf_counter() - start)
        timings[name].cpu_seconds.append(_cpu() - cpu)
        return name, frame

    # A warm repetition reuses the workers of the cold one just before it, so the two stay a pair.
    steps = {SEQUENTIAL: [(SEQUENTIAL, sequential)], "parallel": [(COLD, parallel), (WARM, parallel)]}
    frames: list[tuple[str, pd.DataFrame]] = []
    load_before = _load()
    try:
        for repetition in range(sizes.sweep_repeats):
            for group in rotated(list(steps), repetition):
                frames.extend(timed(name, work) for name, work in steps[group])
    finally:
        _stop_workers()
    reference = next(frame for name, frame in frames if name == SEQUENTIAL)
    for name, frame in frames:
        pdt.assert_frame_equal(frame, reference, obj=f"sweep frame ({name})")  # the promise of sweep(jobs=N)
    checked = sum(name != SEQUENTIAL for name, _ in frames)
    attempts = int(reference["write_calls"].sum())
    runs = len(reference)
    seq_rate = timings[SEQUENTIAL].rate(attempts)
    table = Table(f"simulation: sweep(jobs={JOBS}) vs a sequential sweep of the same {runs} runs (writers "
                  f"{writers[0]}..{writers[-1]}, {len(seeds)} seeds, jitter none/full), simulated write attempts "
                  f"per second, median of {sizes.sweep_repeats}")
    target = f">= {TARGET_SPEEDUP:.2f}x"
    for name, label in ((COLD, "starting its workers"), (WARM, "workers already running")):
        rate = timings[name].rate(attempts)
        table.add(Row.comparison(f"sweep(jobs={JOBS}), {label}, vs sequential", fmt_rate(rate), fmt_rate(seq_rate),
                                 ratio(rate, seq_rate), target, at_least(rate / seq_rate, TARGET_SPEEDUP)))
    table.note(f"sequential sweep {fmt_seconds(statistics.median(timings[SEQUENTIAL].seconds))}, "
               f"jobs={JOBS} {fmt_seconds(statistics.median(timings[COLD].seconds))} cold and "
               f"{fmt_seconds(statistics.median(timings[WARM].seconds))} warm, for {attempts:,} write attempts")
    table.note(f"frames identical (pandas.testing.assert_frame_equal): yes, {checked} parallel frame(s) checked "
               f"against the sequential one")
    seq = timings[SEQUENTIAL]
    share = statistics.median(c / s for c, s in zip(seq.cpu_seconds, seq.seconds, strict=True))
    table.note(f"{_cores()}; the sequential sweep got {share:.0%} of a core (CPU time / wall time: other programs "
               f"on the machine take the rest); load average {load_before} before, {_load()} after")
    if _CHILDREN_VISIBLE:
        costs = {name: statistics.median(timings[name].cpu_seconds) / statistics.median(seq.cpu_seconds)
                 for name in (COLD, WARM)}
        table.note("CPU time of this process and its workers, less sensitive to a busy machine: a parallel sweep "
                   f"costs {costs[COLD]:.2f}x the sequential one's cold (starting the workers included) and "
                   f"{costs[WARM]:.2f}x warm, so on {JOBS} idle cores it could reach about "
                   f"{min(JOBS, JOBS / costs[COLD]):.2f}x cold and {min(JOBS, JOBS / costs[WARM]):.2f}x warm "
                   "(fresh workers have a smaller heap to collect than this process)")
    return table


#: Whether the CPU time of running child processes can be read (Linux's /proc).
_CHILDREN_VISIBLE = os.path.isdir(f"/proc/{os.getpid()}")


def _cpu() -> float:
    """User + system seconds of this process and of its child processes, running or finished (reaped)."""
    total = time.process_time()
    if not _CHILDREN_VISIBLE:
        return total
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    total += usage.ru_utime + usage.ru_stime
    me, tick = str(os.getpid()), os.sysconf("SC_CLK_TCK")
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:  # gone meanwhile
            continue
        if fields[1] == me:  # field 4 of stat, the parent's pid; utime and stime are fields 14 and 15
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


def _load() -> str:
    return f"{os.getloadavg()[0]:.2f}" if hasattr(os, "getloadavg") else "n/a"


def _cores() -> str:
    try:
        usable = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        usable = os.cpu_count() or 0
    return f"{usable} usable core(s)" + ("" if usable >= JOBS else f": fewer than jobs={JOBS}, expect no speed-up")


def dask_table(sizes: Sizes) -> Table:
    """The sweep on loky's workers and on a local Dask cluster of as many worker processes; frames checked."""
    patterns = {j: sweep_pattern(j) for j in JITTERS}
    writers, seeds = sizes.sweep_writers, sizes.sweep_seeds
    title = (f"simulation: the same sweep on loky and on a local Dask cluster, {JOBS} worker processes each "
             f"(writers {writers[0]}..{writers[-1]}, {len(seeds)} seeds, jitter none/full), simulated write "
             f"attempts per second, median of {sizes.sweep_repeats}")
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        table = Table(title)
        table.add(Row.comparison("sweep(backend='dask')", "", "skipped: distributed not installed"))
        return table

    def on(backend: str) -> pd.DataFrame:
        return sweep(patterns, writers=writers, seeds=seeds, jobs=JOBS, backend=backend, progress=False)

    reference = sweep(patterns, writers=writers, seeds=seeds, progress=False)
    load_before = _load()
    seconds: dict[str, list[float]] = {"loky": [], "dask": []}
    started = time.perf_counter()
    with LocalCluster(processes=True, n_workers=JOBS, threads_per_worker=1, dashboard_address=None,
                      host="127.0.0.1") as cluster, Client(cluster) as client:
        client.wait_for_workers(JOBS, timeout=120)
        cluster_start = time.perf_counter() - started
        on("loky")  # untimed: start loky's workers, so both sides run warm
        on("dask")
        try:
            for repetition in range(sizes.sweep_repeats):
                for backend in rotated(list(seconds), repetition):
                    gc.collect()
                    start = time.perf_counter()
                    frame = on(backend)
                    seconds[backend].append(time.perf_counter() - start)
                    pdt.assert_frame_equal(frame, reference, obj=f"sweep frame ({backend})")
        finally:
            _stop_workers()
    attempts = int(reference["write_calls"].sum())
    loky_rate = attempts / statistics.median(seconds["loky"])
    dask_rate = attempts / statistics.median(seconds["dask"])
    table = Table(title)
    table.add(Row.comparison(f"sweep(jobs={JOBS}, backend='dask') vs backend='loky', workers running",
                             fmt_rate(dask_rate), fmt_rate(loky_rate), ratio(dask_rate, loky_rate)))
    table.note(f"{len(reference)} runs, {attempts:,} write attempts: loky "
               f"{fmt_seconds(statistics.median(seconds['loky']))}, Dask "
               f"{fmt_seconds(statistics.median(seconds['dask']))}; starting the local cluster took "
               f"{fmt_seconds(cluster_start)} (not timed above); frames identical to the sequential sweep: yes, "
               f"{2 * sizes.sweep_repeats} checked")
    table.note(f"{_cores()}; load average {load_before} before, {_load()} after. On a real cluster the same call "
               "spreads the runs over every worker of the cluster")
    return table
