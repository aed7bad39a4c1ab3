"""The collection's claims, one module per chapter (``ch00`` ... ``ch11``), each with a ``CLAIMS`` list.

The chapters own their claims: a chapter rebuilt on the claims API rewrites its
module. Every claim here must hold on :data:`~aether.claims.HELD_OUT_SEEDS` when
committed; a headline found false is kept in its corrected form, with the
original wording and the evidence against it in its ``note``.

Run sizes are chosen for CI: ``python -m aether.claims check --perturb 1 --corners 1 --jobs 2``
(30 held-out seeds at each claim's point, at one perturbed point and at one corner of its
domain) costs about 420 s of CPU, three and a half minutes on two idle cores (65 claims; the
storms of chapters 06-08 take two thirds of it). One random point alone is not enough: it passed
two headlines that a second point (and a scan) found false at an end of their domains,
which is what the corner is for; before a release, check every corner (``--corners all``).
Closed-loop claims cost well under a
second of CPU per seed; open-loop claims run 15-30 s of arrivals (long enough that
"recovered for good" has at least 5 s of run after it) and cost most: a storm arm
takes 0.5-1.5 s of CPU per seed, so keep them few and short.
"""

from __future__ import annotations

import importlib
import re

from aether.checks import check_int, check_text
from aether.claims.model import Claim

__all__ = ["CHAPTERS", "claim", "claims"]

#: The chapters that have a module here.
CHAPTERS: tuple[int, ...] = tuple(range(12))
_KEY = re.compile(r"ch(\d{2})/[a-z0-9]+(?:-[a-z0-9]+)*")


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


def claim(key: str) -> Claim:
    """The catalog's claim named *key* (``"ch03/full-jitter-less-work"``): how a chapter shows its conclusion.

    A chapter checks its claim on a few of its own seeds and shows the verdict's
    one line; ``python -m aether.claims check`` re-checks the same claim on the
    held-out seeds and perturbed points::

        claim("ch03/full-jitter-less-work").check(seeds=range(10))
    """
    check_text("key", key)
    match = _KEY.fullmatch(key)
    if not match:
        raise ValueError(f"key must read 'chNN/claim-id' (like 'ch03/full-jitter-less-work'); got {key!r}")
    if int(match.group(1)) not in CHAPTERS:
        raise ValueError(f"no chapter {match.group(1)} in the catalog (chNN runs from ch00 to ch{CHAPTERS[-1]:02d}); "
                         f"got {key!r}")
    found = {c.key: c for c in claims(int(match.group(1)))}
    if key not in found:
        raise ValueError(f"no claim {key!r} in the catalog; chapter {int(match.group(1)):02d} has "
                         f"{', '.join(sorted(found)) or 'none'}")
    return found[key]
