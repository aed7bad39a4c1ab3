"""Chapter 06, circuit breaker: failing fast while the store is down."""

from __future__ import annotations

import functools

from aether.claims import Claim, Range, at_most, committed_share, greater_than, load_arm, sustained_recovery
from aether.claims.catalog._common import BUSY_SERVER, busy_outage
from aether.patterns import CircuitBreakerPolicy, retry_on_failure


def never_a_failure(error: BaseException) -> bool:
    """A failure rule that counts nothing: its breaker admits every call (the same loop without a breaker)."""
    return False


RUN = {"actors": 5000}

CLAIMS = [
    Claim(
        chapter=6, id="breaker-recovers-fast",
        statement="after a one-second outage the breaker's goodput is back within half a second, for good",
        subject=load_arm("circuit breaker", CircuitBreakerPolicy(), network=busy_outage, **RUN),
        metric=sustained_recovery(after=4.0), relation=at_most(0.5),
        domain={"rate": Range(60, 90, unit="saves/s"), "duration": Range(20, 20, unit="s of arrivals")},
        at={"rate": 80},
        profile=BUSY_SERVER,
    ),
    Claim(
        chapter=6, id="breaker-commits-nearly-as-much-as-no-retry",
        statement="through a one-second outage the breaker commits at least 90% of what no retry commits, and "
                  "more than the same retries without a breaker",
        subject=load_arm("circuit breaker", CircuitBreakerPolicy(), network=busy_outage, **RUN),
        baseline=load_arm("no retry", functools.partial(retry_on_failure, max_attempts=1), network=busy_outage,
                          **RUN),
        ablation=load_arm("same retries, no breaker",
                          CircuitBreakerPolicy(counts_as_failure=never_a_failure, name="no breaker"),
                          network=busy_outage, **RUN),
        metric=committed_share(), relation=greater_than(0.9),
        domain={"rate": Range(70, 90, unit="saves/s"), "duration": Range(15, 15, unit="s of arrivals")},
        at={"rate": 80},
        profile=BUSY_SERVER,
        note="Was 'the breaker commits more than no retry and than the same retries without a breaker' "
             "(greater_than(1)). Against the ablation it holds by far (0.90-0.94 against 0.24-0.29), but no "
             "retry at all commits a little more than the breaker in 58 of 60 held-out runs (seed 10000: "
             "0.9305 against 0.9345): the breaker's worth is against the retries it stops, not against "
             "not retrying. A first correction, 'within 3% of no retry', was fragile: at 86 saves/s the breaker "
             "committed 0.85 against 0.93 in 2 of 30 seeds (10003, 10018).",
    ),
]
