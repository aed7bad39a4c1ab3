"""Chapter 04, adaptive retry: waits that follow the conflict's version distance."""

from __future__ import annotations

import functools

from aether.claims import Claim, Range, contention_arm, every_save_latency, less_than
from aether.claims.catalog._common import CLASSIC
from aether.patterns import adaptive_retry, jitter_retry, simple_retry

#: The ablation: adaptive retry's first wait (50 ms) for every conflict, whatever the distance; same attempts.
FLAT_WAIT = functools.partial(simple_retry, base_delay=0.05, max_delay=0.05, max_attempts=10)

DOMAIN = {"writers": Range(40, 60, integer=True, unit="writers"), "think_time": Range(0.1, 0.1, unit="s think time")}

CLAIMS = [
    Claim(
        chapter=4, id="adaptive-lower-p95-than-full-jitter",
        statement="with work between read and save, adaptive retry has a lower p95 of every save than full jitter",
        subject=contention_arm("adaptive", adaptive_retry),
        baseline=contention_arm("full jitter", jitter_retry),
        metric=every_save_latency(0.95), relation=less_than(),
        domain=DOMAIN, at={"writers": 50},
        profile=CLASSIC,
    ),
    Claim(
        chapter=4, id="distance-signal-does-not-pay",
        statement="with work between read and save, a flat 50 ms wait with the same 10 attempts has a lower p95 "
                  "of every save than adaptive retry: the distance signal does not pay",
        subject=contention_arm("flat 50 ms wait", FLAT_WAIT),
        baseline=contention_arm("adaptive", adaptive_retry),
        metric=every_save_latency(0.95), relation=less_than(),
        domain=DOMAIN, at={"writers": 50},
        profile=CLASSIC,
        note="Was 'adaptive retry has a lower p95 than full jitter' with its ablation (the same attempts at a "
             "flat 50 ms wait) as a second reference. It held in 0 of 60 held-out runs: adaptive beats full "
             "jitter, but the ablation beats adaptive in every seed (seed 10000: p95 2.05 s flat, 2.69 s "
             "adaptive, 3.73 s full jitter), so the edge is the 10-attempt budget and the waits' scale, not "
             "the distance.",
    ),
]
