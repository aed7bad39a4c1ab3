"""The ``python -m bench`` command line: choose sections and size, print the tables as they finish."""

from __future__ import annotations

import argparse
import dataclasses
import re
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from bench import claims, memory, notebooks, queueing, simulation, stores
from bench.config import FULL, QUICK, SECTIONS, Sizes
from bench.report import Table, machine_lines

__all__ = ["main", "parse_sections"]


def parse_sections(values: Sequence[str] | None) -> list[str]:
    """The sections named by ``--only`` (repeatable; ``,`` or ``|`` separated), in run order; all when none."""
    if not values:
        return list(SECTIONS)
    wanted = {name.strip() for value in values for name in re.split(r"[,|]", value) if name.strip()}
    unknown = sorted(wanted - set(SECTIONS))
    if unknown:
        raise ValueError(f"unknown section(s) {', '.join(map(repr, unknown))}; choose from {', '.join(SECTIONS)}")
    return [name for name in SECTIONS if name in wanted]


def _runners(sizes: Sizes, profile: bool, baseline: Path | None) -> dict[str, Callable[[], Iterator[Table]]]:
    return {
        "stores": lambda: stores.run(sizes),
        "simulation": lambda: simulation.run(sizes, profile=profile, baseline=baseline),
        "queueing": lambda: queueing.run(sizes),
        "memory": lambda: memory.run(sizes),
        "claims": lambda: claims.run(sizes),
        "notebooks": lambda: notebooks.run() if sizes.notebooks else iter([_skipped("notebooks", "--quick")]),
    }


def _skipped(section: str, why: str) -> Table:
    table = Table(f"{section}: skipped")
    table.note(f"not run with {why}")
    return table


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench", description="Run the lab's benchmarks and print "
                                     "figures and ratios measured side by side in this run.")
    parser.add_argument("--quick", action="store_true", help="tiny sizes, a few seconds; notebooks skipped")
    parser.add_argument("--only", action="append", metavar="SECTION",
                        help=f"run only these sections ({'|'.join(SECTIONS)}); repeatable, or several joined by , or |")
    parser.add_argument("--repeats", type=int,
                        help="repetitions per comparison (default: 5, sweeps and the big run 3; quick 2, 1)")
    parser.add_argument("--no-profile", action="store_true", help="skip the cProfile breakdown of the harness")
    parser.add_argument("--baseline", type=Path, metavar="DIR",
                        help="a checkout of an older commit (e.g. a git worktree): the simulation section times "
                             "its big run with that checkout's aether too, interleaved with ours")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the chosen sections and print their tables; returns the exit code."""
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        sections = parse_sections(args.only)
    except ValueError as exc:
        parser.error(str(exc))
    sizes = QUICK if args.quick else FULL
    if args.baseline is not None and not (args.baseline / "aether" / "__init__.py").is_file():
        parser.error(f"--baseline must be a checkout with an aether package; {str(args.baseline)!r} has none")
    if args.repeats is not None:
        if args.repeats < 1:
            parser.error(f"--repeats must be at least 1; got {args.repeats}")
        sizes = dataclasses.replace(sizes, repeats=args.repeats, sweep_repeats=args.repeats,
                                    scale_repeats=args.repeats)
    started = time.perf_counter()
    print(f"python -m bench: {sizes.label}; sections: {', '.join(sections)}")
    for line in machine_lines():
        print(line)
    runners = _runners(sizes, profile=not args.no_profile, baseline=args.baseline)
    for section in sections:
        section_start = time.perf_counter()
        for table in runners[section]():
            print()
            print(table.render(), flush=True)
        print(f"  ({section}: {time.perf_counter() - section_start:.1f} s)", flush=True)
    print(f"\nall done in {time.perf_counter() - started:.1f} s")
    return 0
