"""How results are printed: comparison tables, verdicts against targets, and the machine header.

Every benchmark section produces a :class:`Table` of :class:`Row` objects. A row
compares one measurement of ours with one alternative measured in the same
run; ``ratio`` is always *ours divided by theirs* for a "higher is better"
figure (throughput), so ``2.00x`` means we do twice the work per second.
"""

from __future__ import annotations

import importlib.metadata
import os
import platform
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Row", "Table", "at_least", "fmt_mib", "fmt_rate", "fmt_seconds", "machine_lines", "ratio"]

_HEADERS = ("measurement", "aether", "alternative", "ratio", "target", "result")

#: The libraries whose versions the header reports (distribution names).
REPORTED_DISTRIBUTIONS = ("aether-retry-lab", "greenlet", "pandas", "numpy", "joblib", "simpy", "eventsourcing",
                          "looptime", "nbclient")


@dataclass(frozen=True)
class Row:
    """One printed line: its cells, in the order of the table's headers.

    Most rows compare one measurement of ours with one alternative measured
    in the same run: build those with :meth:`comparison`.
    """

    cells: tuple[str, ...]

    @classmethod
    def comparison(cls, measurement: str, ours: str = "", theirs: str = "", ratio: str = "", target: str = "",
                   result: str = "") -> Row:
        """A row of the standard layout; ``result`` is ``"met"``/``"missed"`` on rows that carry a target."""
        return cls((measurement, ours, theirs, ratio, target, result))


@dataclass
class Table:
    """A titled block of rows with free-text notes under it (settings, caveats, checks).

    The default headers are the comparison layout (see :meth:`Row.comparison`).
    """

    title: str
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    headers: tuple[str, ...] = _HEADERS

    def add(self, row: Row) -> None:
        """Append *row*."""
        self.rows.append(row)

    def note(self, text: str) -> None:
        """Append a note line printed under the rows."""
        self.notes.append(text)

    def render(self) -> str:
        """The table as aligned plain text (title, header, rule, rows, notes)."""
        width = len(self.headers)
        grid = [self.headers, *((*row.cells, *[""] * width)[:width] for row in self.rows)]
        widths = [max(len(line[i]) for line in grid) for i in range(len(self.headers))]
        lines = [f"== {self.title} =="]
        for n, line in enumerate(grid if self.rows else []):
            cells = enumerate(zip(line, widths, strict=True))
            text = "  ".join(cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in cells)
            lines.append("  " + text.rstrip())
            if n == 0:
                lines.append("  " + "-" * (sum(widths) + 2 * (len(widths) - 1)))
        lines.extend(f"  * {note}" for note in self.notes)
        return "\n".join(lines)


def ratio(ours: float, theirs: float) -> str:
    """``ours / theirs`` as ``"1.23x"`` (``"n/a"`` when *theirs* is zero)."""
    if theirs <= 0:
        return "n/a"
    return f"{ours / theirs:.2f}x"


def at_least(value: float, minimum: float, *, strictly: bool = False) -> str:
    """``"met"`` if *value* reaches *minimum* (exceeds it when *strictly*), else ``"missed"``."""
    ok = value > minimum if strictly else value >= minimum
    return "met" if ok else "missed"


def fmt_rate(per_second: float, unit: str = "/s") -> str:
    """A throughput with thousands separators: ``"412,300/s"``."""
    return f"{per_second:,.0f}{unit}"


def fmt_mib(num_bytes: float) -> str:
    """A byte count in MiB with one decimal."""
    return f"{num_bytes / 2**20:,.1f} MiB"


def fmt_seconds(seconds: float) -> str:
    """Seconds with a precision that suits the magnitude."""
    return f"{seconds:.3f} s" if seconds < 1 else f"{seconds:.1f} s"


def _cpu_model() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text(errors="replace").splitlines():
            if line.lower().startswith(("model name", "hardware", "cpu model")):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine() or "unknown CPU"


def _usable_cores() -> int | None:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return None


def _version(distribution: str) -> str:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def machine_lines(distributions: Sequence[str] = REPORTED_DISTRIBUTIONS) -> list[str]:
    """Lines describing where the figures were measured: CPU, cores, load, Python, library versions."""
    usable = _usable_cores()
    cores = f"{os.cpu_count()} logical cores" + (f" ({usable} usable)" if usable is not None else "")
    lines = [f"machine: {_cpu_model()}, {cores}, {platform.system()} {platform.release()}"]
    if hasattr(os, "getloadavg"):
        one, five, fifteen = os.getloadavg()
        lines.append(f"load average at start: {one:.2f} / {five:.2f} / {fifteen:.2f} (1 / 5 / 15 min)")
    lines.append(f"python: {platform.python_implementation()} {platform.python_version()}, "
                 f"SQLite library {sqlite3.sqlite_version}")
    lines.append("libraries: " + ", ".join(f"{name} {_version(name)}" for name in distributions))
    return lines
