"""How long each chapter takes in a workshop: the core time by one stated estimate, and the optional rest.

Usage (from the repository root)::

    python -m labtools.slots                  # the table, in Markdown, for every notebook
    python -m labtools.slots 03_jitter_retry  # only the ones named

The estimate (the collection's rule for a 30-minute slot):

* prose is read at :data:`WORDS_PER_MINUTE` (200) words a minute: every word of
  the markdown cells, code spans and link targets excluded;
* code is read at :data:`LINES_PER_MINUTE` (15) lines a minute: every non-blank
  line of the code cells an attendee sees (cells tagged ``solution`` are collapsed
  and not counted);
* the notebook's run time is added as measured: ``python -m labtools.notebooks run``
  records each chapter's core and optional seconds in ``notebooks/runtimes.json``;
* each core exercise counts :data:`MINUTES_PER_EXERCISE` (5) minutes; an exercise
  is one cell tagged ``solution``.

A markdown heading that starts with "Going further" opens the optional part: it
runs to the next heading of the same or a higher level (or to the end). Everything
else is core. A chapter without such a heading is all core.

Use it when planning a workshop (the instructor guide's table is this command's
output) or when a chapter grows: a core over :data:`SLOT_MINUTES` minutes does not
fit its slot, and what does not fit belongs in "Going further".
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "LINES_PER_MINUTE",
    "MINUTES_PER_EXERCISE",
    "RUNTIMES_FILE",
    "SLOT_MINUTES",
    "WORDS_PER_MINUTE",
    "Slot",
    "estimate",
    "going_further_cells",
    "load_runtimes",
    "main",
    "markdown_table",
    "prose_words",
]

WORDS_PER_MINUTE = 200
LINES_PER_MINUTE = 15
MINUTES_PER_EXERCISE = 5
SLOT_MINUTES = 30
#: Where the runner stores measured run times, beside the notebooks.
RUNTIMES_FILE = "runtimes.json"
#: The tag of an exercise's worked solution (one per exercise).
SOLUTION_TAG = "solution"

_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$", re.M)
_GOING_FURTHER = re.compile(r"^going further\b", re.I)
_FENCE = re.compile(r"^(```|~~~).*?^\1", re.M | re.S)
_CODE_SPAN = re.compile(r"`[^`\n]*`")
_LINK_TARGET = re.compile(r"\]\([^)]*\)")
_HTML = re.compile(r"<[^>]+>")
_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9'’.\-]*")


@dataclass(frozen=True)
class Slot:
    """One chapter's estimate: the parts of its core time in minutes, and what is optional.

    ``run_minutes`` is ``None`` when no run time has been measured yet (the
    total then leaves it out and ``measured`` is false).
    """

    name: str
    words: int
    code_lines: int
    exercises: int
    run_minutes: float | None
    optional_cells: int
    optional_minutes: float

    @property
    def prose_minutes(self) -> float:
        """Reading the core's prose at :data:`WORDS_PER_MINUTE`."""
        return self.words / WORDS_PER_MINUTE

    @property
    def code_minutes(self) -> float:
        """Reading the core's code at :data:`LINES_PER_MINUTE`."""
        return self.code_lines / LINES_PER_MINUTE

    @property
    def exercise_minutes(self) -> float:
        """:data:`MINUTES_PER_EXERCISE` per core exercise."""
        return self.exercises * MINUTES_PER_EXERCISE

    @property
    def measured(self) -> bool:
        """Whether the run time is a measurement (else it is missing from the total)."""
        return self.run_minutes is not None

    @property
    def core_minutes(self) -> float:
        """The core's time: prose + code + run time + exercises."""
        return self.prose_minutes + self.code_minutes + (self.run_minutes or 0.0) + self.exercise_minutes

    @property
    def fits(self) -> bool:
        """Whether the core fits a :data:`SLOT_MINUTES`-minute slot."""
        return self.core_minutes <= SLOT_MINUTES


def _source(cell: Any) -> str:
    source = cell.get("source", "")
    return source if isinstance(source, str) else "".join(source)


def _tags(cell: Any) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


def prose_words(markdown: str) -> int:
    """Words a reader reads in *markdown*: fenced code, code spans, link targets and HTML tags left out."""
    text = _FENCE.sub(" ", markdown)
    text = _CODE_SPAN.sub(" ", text)
    text = _LINK_TARGET.sub("]", text)
    text = _HTML.sub(" ", text)
    return len(_WORD.findall(text))


def going_further_cells(cells: Sequence[Any]) -> set[int]:
    """Indices of the cells in the optional part: from a "Going further" heading to the next heading as high."""
    optional: set[int] = set()
    level: int | None = None  # the open "Going further" heading's level
    for index, cell in enumerate(cells):
        if cell.get("cell_type") == "markdown":
            for match in _HEADING.finditer(_source(cell)):
                depth, title = len(match.group(1)), match.group(2)
                if _GOING_FURTHER.match(title):
                    level = depth if level is None else min(level, depth)
                elif level is not None and depth <= level:
                    level = None
        if level is not None:
            optional.add(index)
    return optional


def _code_lines(cell: Any) -> int:
    return sum(1 for line in _source(cell).splitlines() if line.strip())


def load_runtimes(folder: Path) -> dict[str, dict[str, float]]:
    """The measured run times stored beside the notebooks: ``{stem: {"core": s, "optional": s}}``."""
    path = folder / RUNTIMES_FILE
    if not path.exists():
        return {}
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected an object of notebook names, got {type(data).__name__}")
    return data


def estimate(nb: Any, name: str, runtime: dict[str, float] | None = None) -> Slot:
    """The :class:`Slot` of notebook *nb* (an nbformat node or its JSON dict), called *name*.

    *runtime* is the measured ``{"core": seconds, "optional": seconds}``, or ``None``
    when the chapter has not been run yet.
    """
    if not isinstance(name, str):
        raise TypeError(f"name must be a str, got {type(name).__name__}")
    cells = list(nb["cells"])
    optional = going_further_cells(cells)
    words = code = exercises = 0
    optional_words = optional_code = optional_exercises = 0
    for index, cell in enumerate(cells):
        kind = cell.get("cell_type")
        is_optional = index in optional
        if kind == "markdown":
            n = prose_words(_source(cell))
            if is_optional:
                optional_words += n
            else:
                words += n
        elif kind == "code":
            if SOLUTION_TAG in _tags(cell):
                if is_optional:
                    optional_exercises += 1
                else:
                    exercises += 1
                continue
            n = _code_lines(cell)
            if is_optional:
                optional_code += n
            else:
                code += n
    run = None if runtime is None else float(runtime.get("core", 0.0)) / 60
    optional_run = 0.0 if runtime is None else float(runtime.get("optional", 0.0)) / 60
    optional_minutes = (
        optional_words / WORDS_PER_MINUTE
        + optional_code / LINES_PER_MINUTE
        + optional_run
        + optional_exercises * MINUTES_PER_EXERCISE
    )
    return Slot(
        name=name,
        words=words,
        code_lines=code,
        exercises=exercises,
        run_minutes=run,
        optional_cells=len(optional),
        optional_minutes=optional_minutes,
    )


def estimate_folder(folder: Path, names: Sequence[str] = ()) -> list[Slot]:
    """The :class:`Slot` of every notebook in *folder* (or of those named), in reading order."""
    import nbformat

    from labtools.notebooks import find_notebooks

    runtimes = load_runtimes(folder)
    return [
        estimate(nbformat.read(path, as_version=4), path.stem, runtimes.get(path.stem))
        for path in find_notebooks(folder, names)
    ]


def _minutes(value: float) -> str:
    return f"{math.ceil(value)}" if value else "0"


def markdown_table(slots: Iterable[Slot]) -> str:
    """The slots as a Markdown table, with a total row: what the instructor guide shows.

    Columns: the core's prose words and code lines, its measured run time, its
    exercises, its estimated minutes, whether that fits a :data:`SLOT_MINUTES`-minute
    slot, and the optional part's minutes.
    """
    header = (
        "| chapter | words | code lines | run (min) | exercises | core (min) | fits | extra (min) |\n"
        "|---|---:|---:|---:|---:|---:|:-:|---:|\n"
    )
    rows = []
    total_core = total_optional = 0.0
    for slot in slots:
        run = f"{slot.run_minutes:.1f}" if slot.run_minutes is not None else "not measured"
        fits = "yes" if slot.fits else "**no**"
        optional = _minutes(slot.optional_minutes) if slot.optional_cells else "–"
        rows.append(
            f"| {slot.name} | {slot.words} | {slot.code_lines} | {run} | {slot.exercises} |"
            f" {_minutes(slot.core_minutes)} | {fits} | {optional} |"
        )
        total_core += math.ceil(slot.core_minutes)
        total_optional += math.ceil(slot.optional_minutes)
    rows.append(f"| **all** | | | | | {total_core:.0f} | | {total_optional:.0f} |")
    legend = (
        "\n*core*: the estimate of the core's minutes; *fits*: within a 30-minute slot; *extra*: the"
        ' "Going further" part\'s minutes (–: no such part marked).\n'
    )
    return header + "\n".join(rows) + "\n" + legend


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point: print the table; returns the process exit code."""
    parser = argparse.ArgumentParser(prog="python -m labtools.slots", description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", help="notebooks to estimate (default: all)")
    parser.add_argument(
        "--folder", type=Path, default=Path("notebooks"), help="where the notebooks are (default: notebooks)"
    )
    args = parser.parse_args(argv)
    if not args.folder.is_dir():
        parser.error(f"no folder {str(args.folder)!r}: run from the repository root or pass --folder")
    slots = estimate_folder(args.folder, args.names)
    sys.stdout.write(markdown_table(slots))
    unmeasured = [s.name for s in slots if not s.measured]
    if unmeasured:
        print(
            f"\nnot measured (run time left out): {', '.join(unmeasured)};"
            " `python -m labtools.notebooks run` measures and stores it",
            file=sys.stderr,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
