"""The collection's claims, one module per chapter (``ch00`` ... ``ch11``), each with a ``CLAIMS`` list.

The chapters own their claims: a chapter rebuilt on the claims API rewrites its
module. Every claim here must hold on :data:`~aether.claims.HELD_OUT_SEEDS` when
committed; a headline found false is kept in its corrected form, with the
original wording and the evidence against it in its ``note``.

Run sizes are chosen for CI: ``python -m aether.claims check --perturb 2 --jobs 2``
(30 held-out seeds at each claim's point and at two perturbed points) costs about
350 s of CPU, three minutes on two idle cores. One perturbed point is not enough: it
passed two headlines that the second point (and a scan) found false. Closed-loop claims cost well under a
second of CPU per seed; open-loop claims run 15-30 s of arrivals (long enough that
"recovered for good" has at least 5 s of run after it) and cost most: a storm arm
takes 0.5-1.5 s of CPU per seed, so keep them few and short.
"""

from __future__ import annotations

import importlib

from aether.checks import check_int
from aether.claims.model import Claim

__all__ = ["CHAPTERS", "claims"]

#: The chapters that have a module here.
CHAPTERS: tuple[int, ...] = tuple(range(12))


def claims(chapter: int | None = None) -> list[Claim]:
    """Every claim of the catalog, or of one *chapter*, in chapter order."""
    if chapter is not None:
        chapter = check_int("chapter", chapter, 0, 99)
        if chapter not in CHAPTERS:
            raise ValueError(f"chapter must be one of {list(CHAPTERS)}; got {chapter!r}")
    out: list[Claim] = []
    for n in CHAPTERS if chapter is None else (chapter,):
        module = importlib.import_module(f"aether.claims.catalog.ch{n:02d}")
        out += list(module.CLAIMS)
    return out
