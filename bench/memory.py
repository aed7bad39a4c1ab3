"""Peak memory (``tracemalloc``) of simulated runs: one big run, and a whole sweep.

``tracemalloc`` counts every Python allocation made while it traces, so the
peak is what a run adds on top of the already imported program. Allocations
are deterministic for a given seed, so one measurement each is enough.
"""

from __future__ import annotations

import gc
import tracemalloc
from collections.abc import Callable, Iterator
from typing import Any

from aether.experiment import run_contention, sweep
from bench.config import Sizes
from bench.models import bare_contention, simpy_available, simpy_contention
from bench.report import Row, Table, fmt_mib, ratio
from bench.simulation import JITTERS, harness_model, sweep_pattern

__all__ = ["TARGET_VS_SIMPY", "peak_bytes", "run"]

#: Our peak memory for the big run at most this multiple of SimPy's (which keeps only counters).
TARGET_VS_SIMPY = 1.5


def peak_bytes(work: Callable[[], Any]) -> int:
    """The peak of traced memory while *work* runs, in bytes (its result is kept until the end)."""
    gc.collect()
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        result = work()
        _, peak = tracemalloc.get_traced_memory()
        del result
    finally:
        tracemalloc.stop()
    return peak


def _row(label: str, ours: int, theirs: int | None, target: float | None = None) -> Row:
    if theirs is None:
        return Row.comparison(label, fmt_mib(ours), "skipped: not installed")
    if target is None:
        return Row.comparison(label, fmt_mib(ours), fmt_mib(theirs), ratio(ours, theirs))
    return Row.comparison(label, fmt_mib(ours), fmt_mib(theirs), ratio(ours, theirs), f"<= {target:.2f}x",
                          "met" if ours <= target * theirs else "missed")


def run(sizes: Sizes) -> Iterator[Table]:
    """Yield one table: the big run next to SimPy and the bare heap, then the sweep."""
    writers = sizes.memory_run_writers
    model = harness_model("full")
    ours = peak_bytes(lambda: run_contention(sweep_pattern("full"), writers=writers, seed=0))
    bare = peak_bytes(lambda: bare_contention(writers, 0, model))
    simpy = peak_bytes(lambda: simpy_contention(writers, 0, model)) if simpy_available() else None
    seeds = sizes.memory_sweep_seeds
    swept = peak_bytes(lambda: sweep({j: sweep_pattern(j) for j in JITTERS}, writers=sizes.sweep_writers,
                                     seeds=seeds, progress=False))
    table = Table("memory: peak traced memory (tracemalloc); ratio = aether / alternative, lower is leaner")
    table.add(_row(f"{writers:,} writers x 1 save, full jitter, seed 0 vs SimPy", ours, simpy, TARGET_VS_SIMPY))
    table.add(_row(f"{writers:,} writers x 1 save, full jitter, seed 0 vs bare heapq", ours, bare))
    table.add(Row.comparison(f"sweep(): writers {sizes.sweep_writers[0]}..{sizes.sweep_writers[-1]}, "
                             f"jitter none/full, {len(seeds)} seed(s) ({', '.join(map(str, seeds))})",
                             fmt_mib(swept)))
    table.note("ours keeps every call and save as result tables (pandas) and the store's events; "
               "SimPy and the bare heap keep only counters")
    table.note("the sweep keeps one summary row per run; its peak is that of its largest run")
    yield table
