"""Chapter 02, conflict-detailed retry: the conflict's current version instead of a fresh read."""

from __future__ import annotations

from aether.claims import Claim, Range, calls_per_save, contention_arm, less_than
from aether.claims.catalog._common import CLASSIC
from aether.patterns import conflict_detailed_retry, simple_retry

CLAIMS = [
    Claim(
        chapter=2, id="detailed-fewer-calls",
        statement="conflict-detailed retry makes at least a quarter fewer store calls than simple retry",
        subject=contention_arm("conflict-detailed retry", conflict_detailed_retry, saves_per_writer=5),
        baseline=contention_arm("simple retry", simple_retry, saves_per_writer=5),
        metric=calls_per_save(), relation=less_than(0.75),
        domain={"writers": Range(10, 50, integer=True, unit="writers x 5 saves")}, at={"writers": 20},
        profile=CLASSIC,
    ),
]
