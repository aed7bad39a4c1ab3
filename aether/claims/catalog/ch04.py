"""Chapter 04, adaptive retry: waits that follow the conflict's version distance."""

from __future__ import annotations

import functools

from aether.claims import Claim, Range, contention_arm, every_save_latency, less_than
from aether.claims.catalog._common import CLASSIC
from aether.patterns import adaptive_retry, jitter_retry, simple_retry

#: The ablation: adaptive retry's first wait (50 ms) for every conflict, whatever the distance; same attempts.
FLAT_WAIT = functools.partial(simple_retry, base_delay=0.05, max_delay=0.05, max_attempts=10)

CLAIMS = [
    Claim(
        chapter=4, id="adaptive-lower-p95",
        statement="with work between read and save, adaptive retry has a lower p95 than full jitter, "
                  "and than the same attempts at a flat 50 ms wait",
        subject=contention_arm("adaptive", adaptive_retry),
        baseline=contention_arm("full jitter", jitter_retry),
        ablation=contention_arm("flat 50 ms wait", FLAT_WAIT),
        metric=every_save_latency(0.95), relation=less_than(),
        domain={"writers": Range(40, 60, integer=True, unit="writers"),
                "think_time": Range(0.1, 0.1, unit="s think time")},
        at={"writers": 50},
        profile=CLASSIC,
    ),
]
