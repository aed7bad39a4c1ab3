"""``python -m aether.claims check [--chapter NN] [--seeds A-B] [--perturb K] [--corners K|all] [--jobs N]``.

Re-checks the catalog's claims and prints one row per claim: chapter, claim,
share of seeds that held, its Wilson interval, domain, profile, verdict. Below
the table, every claim that did not hold says at which point (its own, a
perturbed one or a corner) and in which seeds it broke. Progress goes to stderr;
the last line states the wall time.
Exit status: 0 if every claim holds, 1 if any does not, 2 for a usage error.

``python -m aether.claims list [--chapter NN]`` prints the claims without running them.

``--corners all`` also checks every corner of each claim's domain (every axis at its
low or high end); ``--corners K`` a seeded sample of K corners per claim, other than
the claim's own point (``--corner-seed`` picks which).

CI runs ``python -m aether.claims check --perturb 1 --corners 1 --jobs 2``: the whole catalog
on the held-out seeds at each claim's point, one perturbed point and one corner, about
420 s of CPU (three and a half minutes on two idle cores); one chapter takes from a second
(``--chapter 2``) to about two minutes of CPU (``--chapter 8``). Before a release:
``--perturb 2 --corners all``.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence

from aether.claims.check import check_claims
from aether.claims.model import HELD_OUT_SEEDS, Corners, check_corners


def parse_seeds(text: str) -> range:
    """``"A-B"`` (inclusive) or ``"A"`` as a range of seeds."""
    parts = text.split("-")
    try:
        if len(parts) == 1:
            low = high = int(parts[0])
        elif len(parts) == 2:
            low, high = int(parts[0]), int(parts[1])
        else:
            raise ValueError
    except ValueError:
        raise argparse.ArgumentTypeError(f"--seeds must be A-B or A (non-negative integers); got {text!r}") from None
    if low < 0 or high < low:
        raise argparse.ArgumentTypeError(f"--seeds must be A-B with 0 <= A <= B; got {text!r}")
    return range(low, high + 1)


def parse_corners(text: str) -> Corners:
    """``"all"`` or ``"K"`` (an int >= 0) as the number of corners to check per claim."""
    try:
        return check_corners("--corners", text if text == "all" else int(text))
    except (TypeError, ValueError):
        raise argparse.ArgumentTypeError(f"--corners must be 'all' or an int >= 0; got {text!r}") from None


def _table(rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip() for r in rows)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m aether.claims", description=__doc__.split("\n\n")[1])
    sub = parser.add_subparsers(dest="command", required=True)
    check = sub.add_parser("check", help="re-check the claims")
    listing = sub.add_parser("list", help="list the claims without running them")
    for p in (check, listing):
        p.add_argument("--chapter", type=int, help="only this chapter's claims (e.g. 3)")
    check.add_argument("--seeds", type=parse_seeds, default=HELD_OUT_SEEDS,
                       help=f"seeds A-B, inclusive (default: the held-out {HELD_OUT_SEEDS.start}-"
                            f"{HELD_OUT_SEEDS.stop - 1})")
    check.add_argument("--perturb", type=int, default=0, help="also check K seeded random points of each domain")
    check.add_argument("--perturb-seed", type=int, default=0, help="which K random points (default 0)")
    check.add_argument("--corners", type=parse_corners, default=0, metavar="K|all",
                       help="also check each domain's corners: all of them, or K seeded corners per claim other "
                            "than its own point (default 0)")
    check.add_argument("--corner-seed", type=int, default=0, help="which K corners (default 0)")
    check.add_argument("--jobs", type=int, default=1, help="worker processes (-1: one per core)")
    check.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)

    from aether.claims.catalog import claims as catalog

    try:
        chosen = catalog(args.chapter)
    except ValueError as error:
        parser.error(str(error))
    if args.command == "list":
        for c in chosen:
            print(c)
        return 0
    if args.perturb < 0:
        parser.error(f"--perturb must be >= 0; got {args.perturb}")
    if args.perturb_seed < 0 or args.corner_seed < 0:
        parser.error(f"--perturb-seed and --corner-seed must be >= 0; got {args.perturb_seed}, {args.corner_seed}")
    if args.jobs == 0 or args.jobs < -1:
        parser.error(f"--jobs must be a positive int or -1; got {args.jobs}")
    seeds = args.seeds
    started = time.perf_counter()
    print(f"checking {len(chosen)} claims on seeds {seeds.start}-{seeds.stop - 1} ({len(seeds)} seeds), "
          f"{args.perturb} perturbed point(s) and {args.corners} corner(s) each, {args.jobs} job(s)",
          file=sys.stderr)
    verdicts = check_claims(chosen, seeds, perturb=args.perturb, perturb_seed=args.perturb_seed,
                            corners=args.corners, corner_seed=args.corner_seed, jobs=args.jobs,
                            progress=not args.quiet)
    wall = time.perf_counter() - started
    rows = [["chapter", "claim", "share", "interval", "domain", "profile", "verdict", "cpu"]]
    for v in verdicts:
        c = v.claim
        low, high = v.interval
        rows.append([f"{c.chapter:02d}", c.id, f"{v.successes}/{v.n}", f"[{low:.2f}, {high:.2f}]", c.domain_text(),
                     c.profile.label, v.status, f"{v.seconds:.1f}s"])
    print(_table(rows))
    failed = [v for v in verdicts if not v.passed]
    for v in failed:
        print("\n" + v.message)
    held = len(verdicts) - len(failed)
    print(f"\n{held} of {len(verdicts)} claims hold; wall time {wall:.1f} s", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
