"""Chapter 03, jitter: why synchronised retries collide, and what randomising the wait buys."""

from __future__ import annotations

import functools

from aether.claims import Claim, Range, contention_arm, greater_than, less_than, makespan, work
from aether.claims.catalog._common import CLASSIC
from aether.patterns import immediate_retry, jitter_retry

FULL = functools.partial(jitter_retry, jitter="full", max_attempts=1000)
NONE = functools.partial(jitter_retry, jitter="none", max_attempts=1000)
AT_ONCE = functools.partial(immediate_retry, max_attempts=1000)

CLAIMS = [
    Claim(
        chapter=3, id="full-jitter-less-work",
        statement="full jitter does less work than no jitter",
        subject=contention_arm("full jitter", FULL), baseline=contention_arm("no jitter", NONE),
        metric=work(), relation=less_than(),
        domain={"writers": Range(20, 200, integer=True, unit="writers")}, at={"writers": 100},
        profile=CLASSIC,
    ),
    Claim(
        chapter=3, id="no-jitter-twice-the-work",
        statement="at 100 writers no jitter does more than twice the work of full jitter",
        subject=contention_arm("full jitter", FULL), baseline=contention_arm("no jitter", NONE),
        metric=work(), relation=less_than(0.5),
        domain={"writers": Range(100, 100, integer=True, unit="writers")},
        profile=CLASSIC,
    ),
    Claim(
        chapter=3, id="at-once-last-on-queueing-store",
        statement="on a store that queues, retrying at once finishes after full jitter",
        subject=contention_arm("retry at once", AT_ONCE), baseline=contention_arm("full jitter", FULL),
        metric=makespan(), relation=greater_than(),
        domain={"writers": Range(25, 100, integer=True, unit="writers"),
                "service_scale": Range(10, 60, log=True, unit="x service time")},
        at={"writers": 50, "service_scale": 12},
        profile=CLASSIC,
    ),
]
