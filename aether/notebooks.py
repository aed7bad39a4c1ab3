"""Re-execute the lab's notebooks in place, so committed outputs are fresh and identical for everyone.

Usage (from the repository root)::

    python -m aether.notebooks run                    # every notebook under notebooks/
    python -m aether.notebooks run 01_simple_retry    # only the ones named (stem or path)
    python -m aether.notebooks list

Each notebook runs top to bottom in a fresh ``python3`` kernel with its own
folder as working directory, the same environment ``pytest`` gives nbval
(no progress bars), and is written back with its outputs.
A notebook that raises is reported and left unchanged on disk.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import nullcontext
from pathlib import Path

__all__ = ["NOTEBOOK_ENV", "execute_notebook", "find_notebooks", "main"]

#: Environment every notebook is executed with (mirrors the repository's conftest.py).
NOTEBOOK_ENV = {"AETHER_PROGRESS": "0"}


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


def execute_notebook(path: Path, timeout: int = 300) -> float:
    """Run *path* in place in a fresh kernel and return the seconds it took.

    Raises the kernel's error (``nbclient.exceptions.CellExecutionError``) if a
    cell fails; the file on disk is then left as it was.
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
    nb.metadata.pop("widgets", None)
    nb.metadata["kernelspec"] = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
    nbformat.write(nb, path)
    return elapsed


def _run_one(args: tuple[Path, int]) -> tuple[Path, float, str | None]:
    path, timeout = args
    try:
        return path, execute_notebook(path, timeout), None
    except Exception as exc:  # reported to the user, one line per notebook
        return path, 0.0, f"{type(exc).__name__}: {str(exc).strip().splitlines()[-1] if str(exc).strip() else ''}"


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the process exit code."""
    parser = argparse.ArgumentParser(prog="python -m aether.notebooks", description=__doc__.split("\n\n")[0])
    parser.add_argument("--folder", type=Path, default=Path("notebooks"), help="where the notebooks are (default: notebooks)")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="execute notebooks in place")
    run.add_argument("names", nargs="*", help="notebooks to run (default: all)")
    run.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1), help="notebooks run at once")
    run.add_argument("--timeout", type=int, default=300, help="seconds allowed per cell")
    sub.add_parser("list", help="list the notebooks")
    args = parser.parse_args(argv)

    folder: Path = args.folder
    if not folder.is_dir():
        parser.error(f"no folder {str(folder)!r}: run from the repository root or pass --folder")
    if args.command == "list":
        for path in find_notebooks(folder):
            print(path.name)
        return 0

    paths = find_notebooks(folder, args.names)
    if args.jobs < 1:
        parser.error("--jobs must be at least 1")
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
