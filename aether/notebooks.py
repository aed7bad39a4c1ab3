"""Re-execute the lab's notebooks in place, so committed outputs are fresh and identical for everyone.

Usage (from the repository root)::

    python -m aether.notebooks run                    # every notebook under notebooks/
    python -m aether.notebooks run 01_simple_retry    # only the ones named (stem or path)
    python -m aether.notebooks list
    python -m aether.notebooks student DEST           # attendee copies, without solution cells

Each notebook runs top to bottom in a fresh ``python3`` kernel with its own
folder as working directory, the same environment ``pytest`` gives nbval
(no progress bars), and is written back with its outputs, tidied so that a
re-run with no source change leaves the file as it was:

* consecutive stream outputs of one name (``stdout``, ``stderr``) are merged into
  one, since the kernel splits printed text at random points;
* every ``image/png`` output is re-encoded with an adaptive palette of at most
  256 colours (no dithering), which keeps what a projector shows and makes
  figures about a third of their size; the same figure gives the same bytes.

A notebook that raises is reported and left unchanged on disk. The command
needs the ``notebooks`` extra (``pip install -e ".[notebooks]"``) and says so
at once when it is missing.
"""

from __future__ import annotations

import argparse
import base64
import importlib.util
import io
import os
import sys
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import nullcontext
from pathlib import Path
from typing import Any

__all__ = [
    "NOTEBOOK_ENV",
    "REQUIRED_MODULES",
    "SOLUTION_TAG",
    "student_copy",
    "write_student_copies",
    "execute_notebook",
    "find_notebooks",
    "main",
    "merge_streams",
    "missing_modules",
    "shrink_images",
    "shrink_png",
    "tidy_outputs",
]

#: Environment every notebook is executed with (mirrors the repository's conftest.py).
NOTEBOOK_ENV = {"AETHER_PROGRESS": "0"}

#: Modules the runner needs beyond the core install (all from the ``notebooks`` extra).
REQUIRED_MODULES = ("nbformat", "nbclient", "ipykernel")

#: Colours kept when a figure is re-encoded: a palette PNG holds at most 256.
PNG_COLOURS = 256


def find_notebooks(folder: Path, names: Sequence[str] = ()) -> list[Path]:
    """The notebooks in *folder* (sorted), or those matching *names* (stems, file names or paths)."""
    every = sorted(p for p in folder.glob("*.ipynb") if not p.name.startswith("."))
    if not names:
        return every
    chosen: list[Path] = []
    for name in names:
        path = Path(name)
        if path.suffix == ".ipynb" and path.exists():
            chosen.append(path.resolve())
            continue
        matches = [p for p in every if p.stem == name or p.name == name or p.stem.startswith(name)]
        if not matches:
            known = ", ".join(p.stem for p in every) or "none"
            raise SystemExit(f"no notebook matches {name!r}; known: {known}")
        chosen.extend(matches)
    return list(dict.fromkeys(chosen))


def missing_modules(names: Sequence[str] = REQUIRED_MODULES) -> list[str]:
    """Those of *names* that cannot be imported here (found without importing them)."""
    missing = []
    for name in names:
        try:
            found = importlib.util.find_spec(name) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            missing.append(name)
    return missing


def merge_streams(nb: Any) -> int:
    """Merge consecutive stream outputs of the same name in every code cell of *nb*, in place.

    The kernel sends printed text in chunks whose boundaries depend on timing, so
    one ``print`` loop may land as one output or as several. Merging them makes
    the file depend only on what was printed. Streams separated by another
    output (a figure between two prints) stay apart, as Jupyter shows them.
    Returns how many outputs were merged away.
    """
    merged = 0
    for cell in nb.cells:
        if cell.get("cell_type") != "code":
            continue
        kept: list[Any] = []
        for output in cell.get("outputs", []):
            previous = kept[-1] if kept else None
            if (
                output.get("output_type") == "stream"
                and previous is not None
                and previous.get("output_type") == "stream"
                and previous.get("name") == output.get("name")
            ):
                previous["text"] = _text(previous["text"]) + _text(output["text"])
                merged += 1
            else:
                kept.append(output)
        cell["outputs"] = kept
    return merged


def _text(value: str | list[str]) -> str:
    return value if isinstance(value, str) else "".join(value)


def shrink_png(data: bytes) -> bytes:
    """*data* re-encoded as a palette PNG of at most 256 colours, or *data* itself if that is not smaller.

    Opaque figures (matplotlib's usual output) are quantised with Pillow's
    maximum-coverage adaptive palette, which keeps pure white and every
    plotted colour within a few levels of the original; figures with
    transparency use the fast-octree palette, the one that keeps alpha.
    No dithering, and ``optimize=True``: the same input gives the same bytes.
    Only the resolution (``dpi``) is carried over from the original's metadata.
    """
    from PIL import Image

    with Image.open(io.BytesIO(data)) as original:
        original.load()
        dpi = original.info.get("dpi")
        rgba = original.convert("RGBA")
    if rgba.getchannel("A").getextrema() == (255, 255):
        palette = rgba.convert("RGB").quantize(
            colors=PNG_COLOURS, method=Image.Quantize.MAXCOVERAGE, dither=Image.Dither.NONE
        )
    else:
        palette = rgba.quantize(colors=PNG_COLOURS, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE)
    out = io.BytesIO()
    options: dict[str, Any] = {"optimize": True}
    if dpi:
        options["dpi"] = dpi
    palette.save(out, format="PNG", **options)
    smaller = out.getvalue()
    return smaller if len(smaller) < len(data) else data


def shrink_images(nb: Any) -> tuple[int, int]:
    """Re-encode every ``image/png`` output of *nb* with :func:`shrink_png`, in place.

    Returns the total size of the decoded images before and after, in bytes.
    """
    before = after = 0
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if "image/png" not in data:
                continue
            raw = base64.b64decode(data["image/png"])
            small = shrink_png(raw)
            before += len(raw)
            after += len(small)
            if small is not raw:
                data["image/png"] = base64.b64encode(small).decode("ascii")
    return before, after


def tidy_outputs(nb: Any) -> None:
    """What the runner does to fresh outputs before writing: :func:`merge_streams`, then :func:`shrink_images`."""
    merge_streams(nb)
    shrink_images(nb)


def execute_notebook(path: Path, timeout: int = 300) -> float:
    """Run *path* in place in a fresh kernel and return the seconds it took.

    Fresh outputs are tidied with :func:`tidy_outputs` before the file is
    written. Raises the kernel's error (``nbclient.exceptions.CellExecutionError``)
    if a cell fails; the file on disk is then left as it was.
    """
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
        record_timing=False,
    )
    saved = {name: os.environ.get(name) for name in NOTEBOOK_ENV}
    os.environ.update(NOTEBOOK_ENV)  # the kernel inherits this process's environment
    start = time.perf_counter()
    try:
        client.execute()
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    elapsed = time.perf_counter() - start
    tidy_outputs(nb)
    nb.metadata.pop("widgets", None)
    nb.metadata["kernelspec"] = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
    nbformat.write(nb, path)
    return elapsed


SOLUTION_TAG = "solution"


def student_copy(nb: Any) -> tuple[Any, int]:
    """*nb* as an attendee gets it: without the cells tagged ``solution``; returns ``(copy, removed)``.

    The check cell that follows each solution keeps its code but loses its
    output, which would give the answer away; the attendee writes their own
    answer cell in the solution's place and runs the check.
    """
    import copy as _copy

    out = _copy.deepcopy(nb)
    kept: list[Any] = []
    removed = 0
    after_solution = False
    for cell in out.cells:
        if SOLUTION_TAG in cell.get("metadata", {}).get("tags", []):
            removed += 1
            after_solution = True
            continue
        if after_solution and cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
        after_solution = False
        kept.append(cell)
    out.cells = kept
    return out, removed


def write_student_copies(folder: Path, dest: Path, names: Sequence[str] = ()) -> list[tuple[Path, int]]:
    """Write attendee copies of the notebooks in *folder* (or those named) to *dest*: ``[(path, removed)]``."""
    import nbformat

    paths = find_notebooks(folder, names)
    if dest.resolve() == folder.resolve():
        raise SystemExit("the student copies must go to another folder than the notebooks themselves")
    dest.mkdir(parents=True, exist_ok=True)
    written = []
    for path in paths:
        copy, removed = student_copy(nbformat.read(path, as_version=4))
        target = dest / path.name
        nbformat.write(copy, target)
        written.append((target, removed))
    return written


def _run_one(args: tuple[Path, int]) -> tuple[Path, float, str | None]:
    path, timeout = args
    try:
        return path, execute_notebook(path, timeout), None
    except Exception as exc:  # reported to the user, one line per notebook
        return path, 0.0, f"{type(exc).__name__}: {str(exc).strip().splitlines()[-1] if str(exc).strip() else ''}"


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the process exit code."""
    parser = argparse.ArgumentParser(prog="python -m aether.notebooks", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--folder", type=Path, default=Path("notebooks"), help="where the notebooks are (default: notebooks)"
    )
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="execute notebooks in place")
    run.add_argument("names", nargs="*", help="notebooks to run (default: all)")
    run.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1), help="notebooks run at once")
    run.add_argument("--timeout", type=int, default=300, help="seconds allowed per cell")
    sub.add_parser("list", help="list the notebooks")
    student = sub.add_parser("student", help="write attendee copies without the solution cells")
    student.add_argument("dest", type=Path, help="folder to write the copies to")
    student.add_argument("names", nargs="*", help="notebooks to copy (default: all)")
    args = parser.parse_args(argv)

    folder: Path = args.folder
    if not folder.is_dir():
        parser.error(f"no folder {str(folder)!r}: run from the repository root or pass --folder")
    if args.command == "list":
        for path in find_notebooks(folder):
            print(path.name)
        return 0
    if args.command == "student":
        if missing_modules(("nbformat",)):
            print('python -m aether.notebooks student needs nbformat: pip install -e ".[notebooks]"', file=sys.stderr)
            return 2
        for target, removed in write_student_copies(folder, args.dest, args.names):
            print(f"  {target}  ({removed} solution cell(s) removed)")
        return 0

    paths = find_notebooks(folder, args.names)
    if args.jobs < 1:
        parser.error("--jobs must be at least 1")
    missing = missing_modules()
    if missing:
        print(
            f"{parser.prog} run needs the notebooks extra, which is not installed here"
            f" (missing: {', '.join(missing)}).\n"
            'Install it from the repository root with: pip install -e ".[notebooks]"',
            file=sys.stderr,
        )
        return 2
    failures = 0
    print(f"executing {len(paths)} notebook(s) with {args.jobs} job(s)", flush=True)
    jobs = [(p, args.timeout) for p in paths]
    total = time.perf_counter()
    with ProcessPoolExecutor(max_workers=args.jobs) if args.jobs > 1 and len(paths) > 1 else nullcontext() as pool:
        results: Iterator[tuple[Path, float, str | None]] = pool.map(_run_one, jobs) if pool else map(_run_one, jobs)
        for path, seconds, error in results:
            if error is None:
                print(f"  ok    {path.name:<40} {seconds:6.1f} s", flush=True)
            else:
                failures += 1
                print(f"  FAIL  {path.name:<40} {error}", flush=True)
    print(f"done in {time.perf_counter() - total:.1f} s; {failures} failed", flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
