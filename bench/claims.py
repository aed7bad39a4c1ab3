"""What re-checking the collection's claims costs: the whole catalog on the held-out seeds, on two cores.

The claims method multiplies runs (every claim over 30 held-out seeds, at its
point and at perturbed points of its domain), so its cost decides how many
seeds and points the lab can afford. This section times two checks with
:func:`aether.claims.check_claims` on :data:`JOBS` worker processes:

* **the catalog on the held-out seeds**: every claim at its point, the 30 seeds
  (target: :data:`TARGET_SECONDS` of wall time or less on two cores);
* **CI's check**: the same with :data:`CI_PERTURB` perturbed point and :data:`CI_CORNERS`
  sampled corner per claim, which is what ``.ci/run`` runs
  (``python -m aether.claims check --perturb 1 --corners 1 --jobs 2``).

Each row prints the wall time, the CPU time the runs took (summed over the
workers) and how many claims held; the notes name the costliest chapters. The
quick size checks one chapter on two seeds, to keep the test suite fast.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence

from aether.claims import HELD_OUT_SEEDS, Verdict, check_claims
from aether.claims.catalog import claims
from bench.config import Sizes
from bench.report import Row, Table, fmt_seconds

__all__ = ["CI_CORNERS", "CI_PERTURB", "JOBS", "TARGET_SECONDS", "run"]

#: Worker processes: the two cores CI and the figures are quoted for.
JOBS = 2
#: The perturbed points per claim that CI checks.
CI_PERTURB = 1
#: The corners of its domain per claim that CI checks (a seeded sample).
CI_CORNERS = 1
#: The wall time the whole catalog on the held-out seeds may take on two cores.
TARGET_SECONDS = 600.0


def _check(seeds: Sequence[int], perturb: int, chapter: int | None, corners: int = 0) -> tuple[list[Verdict], float]:
    started = time.perf_counter()
    verdicts = check_claims(claims(chapter), seeds, perturb=perturb, corners=corners, jobs=JOBS)
    return verdicts, time.perf_counter() - started


def _row(label: str, verdicts: list[Verdict], wall: float, *, target: bool) -> Row:
    cpu = sum(v.seconds for v in verdicts)
    held = sum(v.passed for v in verdicts)
    ok = "met" if wall <= TARGET_SECONDS else "missed"
    runs = f"{sum(v.successes for v in verdicts)}/{sum(v.n for v in verdicts)} runs held"
    return Row.comparison(label, fmt_seconds(wall), f"{fmt_seconds(cpu)} CPU",
                          f"{held}/{len(verdicts)} hold ({runs})", f"<= {TARGET_SECONDS:.0f} s" if target else "",
                          ok if target else "")


def run(sizes: Sizes) -> Iterator[Table]:
    """Check the catalog at its points, then as CI does; one table with a row each."""
    quick = not sizes.notebooks
    seeds = list(HELD_OUT_SEEDS)[:2] if quick else list(HELD_OUT_SEEDS)
    chapter = 0 if quick else None
    table = Table("claims: the catalog re-checked on the held-out seeds, 2 worker processes",
                  headers=("measurement", "wall", "work", "claims", "target", "result"))
    scope = "chapter 00" if quick else "the whole catalog"
    at_points, wall = _check(seeds, 0, chapter)
    table.add(_row(f"{scope}, {len(seeds)} held-out seeds, each claim at its point", at_points, wall,
                   target=True))
    ci, ci_wall = _check(seeds, CI_PERTURB, chapter, CI_CORNERS)
    table.add(_row(f"{scope}, {len(seeds)} seeds x (its point + {CI_PERTURB} perturbed + {CI_CORNERS} corner): "
                   "CI's check", ci, ci_wall, target=False))
    by_chapter: dict[int, float] = {}
    for v in ci:
        by_chapter[v.claim.chapter] = by_chapter.get(v.claim.chapter, 0.0) + v.seconds
    costly = sorted(by_chapter.items(), key=lambda kv: -kv[1])[:4]
    table.note("CPU by chapter in CI's check, costliest first: "
               + ", ".join(f"{ch:02d} {fmt_seconds(s)}" for ch, s in costly))
    table.note(f"seeds {seeds[0]}-{seeds[-1]}; 'work' is the CPU time of the runs summed over the workers; a claim "
               "holds when the Wilson lower bound of its share of seeds reaches the share it promises"
               + (" (two seeds never settle one: the quick size times the check, it does not judge it)"
                  if quick else ""))
    yield table
