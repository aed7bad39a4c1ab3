"""Re-execute the lab's notebooks in place, so committed outputs are fresh and identical for everyone.

Usage (from the repository root)::

    python -m labtools.notebooks run                    # every notebook under notebooks/
    python -m labtools.notebooks run 01_simple_retry    # only the ones named (stem or path)
    python -m labtools.notebooks list
    python -m labtools.notebooks student DEST           # attendee copies, without solution cells
    python -m labtools.notebooks git-setup              # this clone's git: nbdime, and the metadata filter
    python -m labtools.notebooks lab [JUPYTER ARGS]     # JupyterLab on the chapters, saving them as committed

Each notebook runs top to bottom in a fresh ``python3`` kernel with its own
folder as working directory, the same environment ``pytest`` gives nbval
(no progress bars), and is written back with its outputs, tidied so that a
re-run with no source change leaves the file as it was:

* consecutive stream outputs of one name (``stdout``, ``stderr``) are merged into
  one with nbconvert's ``CoalesceStreamsPreprocessor``, since the kernel splits
  printed text at random points (nbval merges them the same way before it compares);
* every ``image/png`` output is re-encoded with an adaptive palette of at most
  256 colours (no dithering), which keeps what a projector shows and makes
  figures about a third of their size; the same figure gives the same bytes;
* the metadata that depends on the machine or the moment is removed
  (:data:`VOLATILE_KEYS`: the kernel's Python version, cell timings, widget state,
  UI state such as scrolling) and the kernelspec is the plain ``python3`` one, so
  the file is the same on every supported Python. The git filter that
  ``git-setup`` configures (nbstripout, keeping outputs: :func:`strip_filter_command`)
  strips the same keys when a file is added, so what opening a notebook in
  JupyterLab writes into it never reaches a commit.

The run also measures each notebook's run time, split into its core and its
"Going further" part, and stores it in ``notebooks/runtimes.json`` for the slot
estimate (``python -m labtools.slots``); a stored time is only replaced when the
new one differs by more than :data:`RUNTIME_TOLERANCE` (and 5 s), so re-runs
leave that file alone too.

A notebook that raises is reported and left unchanged on disk. The command
needs the ``notebooks`` extra (``pip install -e ".[notebooks]"``) and says so
at once when it is missing.
"""

from __future__ import annotations

import argparse
import base64
import copy
import importlib.util
import io
import json
import os
import sys
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

__all__ = [
    "KERNELSPEC",
    "NOTEBOOK_ENV",
    "REQUIRED_MODULES",
    "RUNTIME_TOLERANCE",
    "SOLUTION_TAG",
    "VOLATILE_KEYS",
    "Execution",
    "execute",
    "execute_notebook",
    "find_notebooks",
    "git_setup",
    "strip_filter_command",
    "strip_volatile_metadata",
    "main",
    "merge_streams",
    "missing_modules",
    "normalise_metadata",
    "shrink_images",
    "shrink_png",
    "student_copy",
    "tidy_outputs",
    "update_runtimes",
    "volatile_metadata",
    "write_notebook",
    "write_student_copies",
]

#: Environment every notebook is executed with (mirrors the repository's conftest.py).
NOTEBOOK_ENV = {"AETHER_PROGRESS": "0"}

#: Modules the runner needs beyond the core install (all from the ``notebooks`` extra).
REQUIRED_MODULES = ("nbformat", "nbclient", "ipykernel")

#: Colours kept when a figure is re-encoded: a palette PNG holds at most 256.
PNG_COLOURS = 256

#: The kernelspec every notebook is committed with.
KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}

#: Metadata that changes with the machine, the moment or the reader's scrolling, never with the content:
#: nbstripout's defaults plus the kernel's Python version (the git filter of ``git-setup`` strips the same).
VOLATILE_KEYS = (
    "metadata.signature",
    "metadata.widgets",
    "metadata.language_info.version",
    "cell.metadata.collapsed",
    "cell.metadata.ExecuteTime",
    "cell.metadata.execution",
    "cell.metadata.heading_collapsed",
    "cell.metadata.hidden",
    "cell.metadata.scrolled",
)

#: The keys nbstripout strips by default (the rest of VOLATILE_KEYS is passed to it with --extra-keys).
NBSTRIPOUT_DEFAULT_KEYS = (
    "metadata.signature",
    "metadata.widgets",
    "cell.metadata.collapsed",
    "cell.metadata.ExecuteTime",
    "cell.metadata.execution",
    "cell.metadata.heading_collapsed",
    "cell.metadata.hidden",
    "cell.metadata.scrolled",
)

#: A stored run time is replaced only when a new one differs by more than this share (and 5 s).
RUNTIME_TOLERANCE = 0.25


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
    one ``print`` loop may land as one output or as several. Merging them (with
    nbconvert's ``CoalesceStreamsPreprocessor``, which also applies carriage
    returns as a terminal would) makes the file depend only on what was printed.
    Streams separated by another output (a figure between two prints) stay apart,
    as Jupyter shows them. Returns how many outputs were merged away.
    """
    from nbconvert.preprocessors import CoalesceStreamsPreprocessor

    before = sum(len(cell.get("outputs", [])) for cell in nb.cells)
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream" and not isinstance(output.get("text"), str):
                output["text"] = "".join(output["text"])
    CoalesceStreamsPreprocessor().preprocess(nb, {})
    return before - sum(len(cell.get("outputs", [])) for cell in nb.cells)


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


def _pop_path(mapping: Any, dotted: str) -> bool:
    *parents, last = dotted.split(".")
    for key in parents:
        mapping = mapping.get(key) if isinstance(mapping, dict) else None
        if mapping is None:
            return False
    if isinstance(mapping, dict) and last in mapping:
        del mapping[last]
        return True
    return False


def _has_path(mapping: Any, dotted: str) -> bool:
    for key in dotted.split("."):
        if not isinstance(mapping, dict) or key not in mapping:
            return False
        mapping = mapping[key]
    return True


def volatile_metadata(nb: Any) -> list[str]:
    """Where *nb* carries metadata from :data:`VOLATILE_KEYS`, e.g. ``["metadata.language_info.version"]``.

    Cell keys are reported with the cell's index: ``"cell 3: cell.metadata.execution"``.
    A committed notebook should give an empty list (a test checks it).
    """
    found = [key for key in VOLATILE_KEYS if not key.startswith("cell.") and _has_path(nb, key)]
    for index, cell in enumerate(nb["cells"]):
        for key in VOLATILE_KEYS:
            if key.startswith("cell.") and _has_path(cell, key.removeprefix("cell.")):
                found.append(f"cell {index}: {key}")
    return found


def normalise_metadata(nb: Any) -> Any:
    """Remove :data:`VOLATILE_KEYS` from *nb* and set the plain ``python3`` kernelspec, in place; returns *nb*.

    Use it before writing a notebook that will be committed, so that the file
    depends only on its cells and outputs, not on which Python ran it or when.
    """
    strip_volatile_metadata(nb)
    nb["metadata"]["kernelspec"] = dict(KERNELSPEC)
    return nb


def strip_volatile_metadata(nb: Any) -> Any:
    """Remove :data:`VOLATILE_KEYS` from *nb* (a notebook node or a plain dict), in place; returns *nb*."""
    for key in VOLATILE_KEYS:
        if key.startswith("cell."):
            for cell in nb.get("cells", []):
                _pop_path(cell, key.removeprefix("cell."))
        else:
            _pop_path(nb, key)
    return nb


def write_notebook(nb: Any, path: Path) -> None:
    """Write *nb* to *path* as the collection commits it: normalised metadata, nbformat's layout, one final newline.

    The bytes depend only on the notebook's content, so writing the same notebook twice gives the same file.
    """
    import nbformat

    normalise_metadata(nb)
    text = nbformat.writes(nb)
    path.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")


@dataclass(frozen=True)
class Execution:
    """One notebook run: its wall seconds in all, and the seconds its core and its "Going further" part took."""

    seconds: float
    core: float
    optional: float


def _cell_seconds(cell: Any) -> float:
    timing = cell.get("metadata", {}).get("execution", {})
    start, end = timing.get("iopub.execute_input"), timing.get("shell.execute_reply")
    if not start or not end:
        return 0.0
    return max(0.0, (datetime.fromisoformat(end.replace("Z", "+00:00"))
                     - datetime.fromisoformat(start.replace("Z", "+00:00"))).total_seconds())


def execute(path: Path, timeout: int = 300) -> Execution:
    """Run *path* in place in a fresh kernel; returns its :class:`Execution` (times).

    Fresh outputs are tidied with :func:`tidy_outputs` and the file is written
    with :func:`write_notebook`. Each cell's time is taken from nbclient's timing
    record, which is then removed. Raises the kernel's error
    (``nbclient.exceptions.CellExecutionError``) if a cell fails; the file on disk
    is then left as it was.
    """
    import nbformat
    from nbclient import NotebookClient

    from labtools.slots import going_further_cells

    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
        record_timing=True,
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
    optional = going_further_cells(nb.cells)
    seconds = [_cell_seconds(cell) for cell in nb.cells]
    core = sum(s for i, s in enumerate(seconds) if i not in optional)
    extra = sum(s for i, s in enumerate(seconds) if i in optional)
    tidy_outputs(nb)
    write_notebook(nb, path)
    return Execution(seconds=elapsed, core=core, optional=extra)


def execute_notebook(path: Path, timeout: int = 300) -> float:
    """Run *path* in place in a fresh kernel (see :func:`execute`) and return the seconds it took."""
    return execute(path, timeout).seconds


def update_runtimes(folder: Path, measured: dict[str, Execution]) -> bool:
    """Store *measured* run times in *folder*'s ``runtimes.json``; returns whether the file changed.

    A stored time is replaced only when the new one differs from it by more
    than :data:`RUNTIME_TOLERANCE` of it and by more than 5 s, so that re-runs
    on the same machine leave the file alone. Times are whole seconds.
    """
    from labtools.slots import RUNTIMES_FILE, load_runtimes

    stored = load_runtimes(folder)
    updated = copy.deepcopy(stored)
    for name, run in measured.items():
        old = stored.get(name, {})
        entry = {}
        for part, value in (("core", run.core), ("optional", run.optional)):
            previous = old.get(part)
            close = previous is not None and abs(value - previous) <= max(5.0, RUNTIME_TOLERANCE * previous)
            entry[part] = previous if close else round(value)
        updated[name] = entry
    if updated == stored:
        return False
    text = json.dumps(dict(sorted(updated.items())), indent=1, sort_keys=True) + "\n"
    (folder / RUNTIMES_FILE).write_text(text, encoding="utf-8")
    return True


SOLUTION_TAG = "solution"


#: A tag the attendee copy puts on check cells for the moment it clears their outputs.
_HIDE_OUTPUT_TAG = "labtools-hide-output"


def student_copy(nb: Any) -> tuple[Any, int]:
    """*nb* as an attendee gets it: without the cells tagged ``solution``; returns ``(copy, removed)``.

    The check cell that follows each solution keeps its code but loses its
    output, which would give the answer away; the attendee writes their own
    answer cell in the solution's place and runs the check. Both steps are
    nbconvert's ``TagRemovePreprocessor`` (cells by tag, outputs by tag).
    """
    from nbconvert.preprocessors import TagRemovePreprocessor

    out = copy.deepcopy(nb)
    removed = 0
    after_solution = False
    for cell in out.cells:
        tags = cell.get("metadata", {}).get("tags", [])
        if SOLUTION_TAG in tags:
            removed += 1
            after_solution = True
            continue
        if after_solution and cell.cell_type == "code":
            cell.setdefault("metadata", {}).setdefault("tags", []).append(_HIDE_OUTPUT_TAG)
        after_solution = False
    remover = TagRemovePreprocessor(
        remove_cell_tags={SOLUTION_TAG}, remove_all_outputs_tags={_HIDE_OUTPUT_TAG}, enabled=True
    )
    out, _ = remover.preprocess(out, {})
    for cell in out.cells:
        tags = cell.get("metadata", {}).get("tags")
        if tags and _HIDE_OUTPUT_TAG in tags:
            tags.remove(_HIDE_OUTPUT_TAG)
            if not tags:
                del cell.metadata["tags"]
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
        attendee, removed = student_copy(nbformat.read(path, as_version=4))
        target = dest / path.name
        write_notebook(attendee, target)
        written.append((target, removed))
    return written


def strip_filter_command(python: str | None = None) -> list[str]:
    """The git clean filter for notebooks: nbstripout keeping outputs, counts and ids, stripping :data:`VOLATILE_KEYS`.

    It leaves every committed notebook byte for byte as :func:`write_notebook` wrote
    it (a test checks), and strips what JupyterLab adds on opening a notebook.
    """
    extra = [key for key in VOLATILE_KEYS if key not in NBSTRIPOUT_DEFAULT_KEYS]
    return [python or sys.executable, "-m", "nbstripout", "--keep-output", "--keep-count", "--keep-id",
            "--extra-keys", " ".join(extra)]


def git_setup(repository: Path = Path(".")) -> list[list[str]]:
    """Configure this clone's git for notebooks; returns the commands it ran.

    * the ``nbstripout`` clean filter named in ``.gitattributes``
      (:func:`strip_filter_command`), so opening a notebook in JupyterLab, which
      writes the kernel's Python version into it, leaves ``git status`` clean;
    * nbdime's diff and merge drivers (``nbdime config-git --enable``), so
      ``git diff`` and ``git merge`` show and merge notebooks cell by cell.

    Both are settings of this clone only (``.git/config``); run it once per clone.
    """
    import shlex
    import subprocess

    clean = " ".join(shlex.quote(part) for part in strip_filter_command())
    commands = [
        ["git", "config", "filter.nbstripout.clean", clean],
        ["git", "config", "filter.nbstripout.smudge", "cat"],
        [sys.executable, "-m", "nbdime", "config-git", "--enable"],
    ]
    for command in commands:
        subprocess.run(command, cwd=repository, check=True)
    return commands


def open_lab(folder: Path, jupyter_args: Sequence[str] = ()) -> int:
    """Enable the save hook (:mod:`labtools.jupyter`) here and run JupyterLab on *folder*; its exit code.

    Needs JupyterLab (the ``notebooks`` extra) and says so when it is missing.
    """
    import subprocess

    if missing_modules(("jupyterlab",)):
        print('python -m labtools.notebooks lab needs JupyterLab: pip install -e ".[notebooks]"', file=sys.stderr)
        return 2
    from labtools.jupyter import enable

    enable()
    try:
        command = [sys.executable, "-m", "jupyter", "lab", *jupyter_args, str(folder)]
        return subprocess.run(command, check=False).returncode
    except KeyboardInterrupt:
        return 130


def _run_one(args: tuple[Path, int]) -> tuple[Path, Execution | None, str | None]:
    path, timeout = args
    try:
        return path, execute(path, timeout), None
    except Exception as exc:  # reported to the user, one line per notebook
        return path, None, f"{type(exc).__name__}: {str(exc).strip().splitlines()[-1] if str(exc).strip() else ''}"


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the process exit code."""
    parser = argparse.ArgumentParser(prog="python -m labtools.notebooks", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--folder", type=Path, default=Path("notebooks"), help="where the notebooks are (default: notebooks)"
    )
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="execute notebooks in place")
    run.add_argument("names", nargs="*", help="notebooks to run (default: all)")
    run.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1), help="notebooks run at once")
    run.add_argument("--timeout", type=int, default=300, help="seconds allowed per cell")
    sub.add_parser("list", help="list the notebooks")
    sub.add_parser("git-setup", help="configure this clone's git: nbdime diffs and the metadata filter")
    lab = sub.add_parser("lab", help="open JupyterLab on the notebooks, saving them without volatile metadata",
                         description="Enable the lab's save hook (labtools.jupyter) in this environment and start "
                                     "JupyterLab on the notebooks folder; other arguments (--allow-root, "
                                     "--no-browser, --port ...) go to jupyter lab.")
    del lab  # its arguments are JupyterLab's: parse_known_args below hands them on
    student = sub.add_parser("student", help="write attendee copies without the solution cells")
    student.add_argument("dest", type=Path, help="folder to write the copies to")
    student.add_argument("names", nargs="*", help="notebooks to copy (default: all)")
    args, extra = parser.parse_known_args(argv)
    if extra and args.command != "lab":
        parser.error(f"unrecognized arguments: {' '.join(extra)}")

    if args.command == "git-setup":
        missing = missing_modules(("nbstripout", "nbdime"))
        if missing:
            print(f'git-setup needs {", ".join(missing)}: pip install -e ".[dev]"', file=sys.stderr)
            return 2
        for command in git_setup():
            print("  " + " ".join(command[:4]) + (" ..." if len(command) > 4 else ""))
        return 0
    folder: Path = args.folder
    if not folder.is_dir():
        parser.error(f"no folder {str(folder)!r}: run from the repository root or pass --folder")
    if args.command == "lab":
        return open_lab(folder, extra)
    if args.command == "list":
        for path in find_notebooks(folder):
            print(path.name)
        return 0
    if args.command == "student":
        if missing_modules(("nbformat",)):
            print('python -m labtools.notebooks student needs nbformat: pip install -e ".[notebooks]"', file=sys.stderr)
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
        results: Iterator[tuple[Path, Execution | None, str | None]] = (
            pool.map(_run_one, jobs) if pool else map(_run_one, jobs)
        )
        measured: dict[str, Execution] = {}
        for path, run, error in results:
            if run is not None:
                measured[path.stem] = run
                print(f"  ok    {path.name:<40} {run.seconds:6.1f} s", flush=True)
            else:
                failures += 1
                print(f"  FAIL  {path.name:<40} {error}", flush=True)
    if measured and folder.resolve() == paths[0].parent.resolve() and update_runtimes(folder, measured):
        print(f"  run times updated in {folder / 'runtimes.json'}", flush=True)
    print(f"done in {time.perf_counter() - total:.1f} s; {failures} failed", flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
