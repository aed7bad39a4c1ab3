"""Chapter 10, choosing a pattern: every pattern on the same calibrated store."""

from __future__ import annotations

from aether.claims import Claim, Range, at_least, committed_share, contention_arm
from aether.claims.catalog._common import CLASSIC
from aether.patterns import jitter_retry

CLAIMS = [
    Claim(
        chapter=10, id="full-jitter-hot-actor",
        statement="on a hot actor, full jitter commits all but one save",
        subject=contention_arm("full jitter", jitter_retry, saves_per_writer=5),
        metric=committed_share(), relation=at_least(0.99),
        domain={"writers": Range(20, 100, integer=True, unit="writers x 5 saves")}, at={"writers": 50},
        profile=CLASSIC,
    ),
]
