"""Chapter 01, simple retry: capped exponential backoff and its retry limit."""

from __future__ import annotations

from aether.claims import Claim, Range, committed_share, contention_arm, greater_than
from aether.claims.catalog._common import CLASSIC
from aether.patterns import no_retry, simple_retry

CLAIMS = [
    Claim(
        chapter=1, id="simple-beats-no-retry",
        statement="simple retry commits more than five times as many saves as no retry",
        subject=contention_arm("simple retry", simple_retry, saves_per_writer=5),
        baseline=contention_arm("no retry", no_retry, saves_per_writer=5),
        metric=committed_share(), relation=greater_than(5),
        domain={"writers": Range(20, 20, integer=True, unit="writers x 5 saves")},
        profile=CLASSIC,
    ),
]
