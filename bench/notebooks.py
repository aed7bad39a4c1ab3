"""How long the lab's notebooks take to execute, one after another, each in a fresh kernel.

The notebooks are copied to a temporary folder and executed there exactly as
``python -m labtools.notebooks run --jobs 1`` would (same function, same
environment), so the committed files are never touched. A notebook that
fails is reported with its error and its time does not count.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from bench.report import Row, Table, fmt_seconds
from labtools.notebooks import execute_notebook, find_notebooks

__all__ = ["NotebookTiming", "run", "time_notebooks"]

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class NotebookTiming:
    """One executed notebook: its file name, the wall seconds it took, and its error if it failed."""

    name: str
    seconds: float
    error: str | None


def _copy(source: Path, target: Path) -> Path:
    shutil.copytree(source, target, ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
    return target


def _run_one(path: Path, timeout: int) -> NotebookTiming:
    start = time.perf_counter()
    try:
        execute_notebook(path, timeout)
    except Exception as exc:  # noqa: BLE001 - reported in the table; the others still run
        lines = str(exc).strip().splitlines()
        error = f"{type(exc).__name__}: {lines[-1] if lines else ''}"
        return NotebookTiming(path.name, time.perf_counter() - start, error)
    return NotebookTiming(path.name, time.perf_counter() - start, None)


def time_notebooks(folder: Path, timeout: int = 300) -> list[NotebookTiming]:
    """Execute every notebook of *folder* in a temporary copy, in order; their timings.

    Kernels import ``aether`` from this checkout (``PYTHONPATH``), and the
    environment is restored afterwards.
    """
    saved = dict(os.environ)
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), saved.get("PYTHONPATH")]))
    try:
        with tempfile.TemporaryDirectory(prefix="aether-bench-notebooks-") as tmp:
            copy = _copy(folder, Path(tmp) / folder.name)
            return [_run_one(path, timeout) for path in find_notebooks(copy)]
    finally:
        os.environ.clear()
        os.environ.update(saved)


def run(folder: Path = ROOT / "notebooks") -> Iterator[Table]:
    """Yield one table: every notebook's time, the total and the slowest."""
    table = Table("notebooks: execution time, one at a time, each in a fresh kernel (a temporary copy)",
                  headers=("notebook", "wall time", "result"))
    timings = time_notebooks(folder) if folder.is_dir() else []
    for timing in timings:
        table.add(Row((timing.name, fmt_seconds(timing.seconds), "ok" if timing.error is None else timing.error)))
    passed = [t for t in timings if t.error is None]
    if passed:
        slowest = max(passed, key=lambda t: t.seconds)
        table.add(Row((f"all {len(passed)} that ran", fmt_seconds(sum(t.seconds for t in passed)), "")))
        table.note(f"slowest: {slowest.name} ({fmt_seconds(slowest.seconds)})")
    if len(passed) < len(timings):
        table.note(f"{len(timings) - len(passed)} notebook(s) failed; their time is not in the total")
    if not timings:
        table.note("no notebooks found")
    table.note("kernel start-up is included in each notebook's time")
    yield table
