"""Chapter 06, circuit breaker: failing fast while the store is down.

Every arm saves with a decision (:func:`~aether.claims.catalog._common.add_line`,
retry the command) on the busy server with a 0.25 s timeout and an outage from 3 s to 4 s.
The breaker runs :func:`~aether.patterns.circuit_breaker_retry`'s loop (11 attempts, waits of
10 ms doubling to 1 s, no jitter). The baseline is the strongest ordinary client: the same 11
attempts with full jitter (:func:`~aether.patterns.retry_on_failure`, 10 ms doubling to 1 s);
the ablation is the breaker's own loop with a breaker that never opens.
"""

from __future__ import annotations

import functools

from aether.claims import (
    Claim,
    Range,
    at_most,
    committed_share,
    greater_than,
    less_than,
    load_arm,
    recovered_within,
    sustained_recovery,
)
from aether.claims.catalog._common import BUSY_SERVER, Decided, busy_outage
from aether.patterns import CircuitBreakerPolicy, retry_on_failure


def never_a_failure(error: BaseException) -> bool:
    """A failure rule that counts nothing: its breaker admits every call (the same loop without a breaker)."""
    return False


RUN = {"actors": 5000}
BREAKER = Decided(CircuitBreakerPolicy())
#: The ablation: the breaker's loop (11 attempts, no jitter) with a breaker that never opens.
NO_BREAKER = Decided(CircuitBreakerPolicy(counts_as_failure=never_a_failure, name="no breaker"))
#: The baseline: the same 11 attempts with full-jitter backoff (10 ms doubling, capped at 1 s).
JITTERED = Decided(functools.partial(retry_on_failure, max_attempts=11, base_delay=0.01, max_delay=1.0))
NO_RETRY = Decided(functools.partial(retry_on_failure, max_attempts=1))

CLAIMS = [
    Claim(
        chapter=6, id="breaker-recovers-for-good",
        statement="after a one-second outage the breaker's goodput is back within half a second, for good",
        subject=load_arm("circuit breaker", BREAKER, network=busy_outage, **RUN),
        metric=sustained_recovery(after=4.0), relation=at_most(0.5),
        domain={"rate": Range(40, 95, unit="saves/s"), "duration": Range(15, 15, unit="s of arrivals")},
        at={"rate": 80},
        profile=BUSY_SERVER,
        note="Was 'recovered within half a second in every seed', measured with a lenient recovery time (80% "
             "of the offered rate for 1.5 s, which a backlog flush passes before a collapse) and shown at "
             "80 saves/s only. Measured for good (every 2-s window from then to the end at least 80% of "
             "arrivals, with 5 s of run to spare) it holds from 40 to 95 saves/s (store 38-91% busy); the "
             "breaker was back at 0 s in every notebook seed.",
    ),
    Claim(
        chapter=6, id="breaker-ends-the-storm",
        statement="where an outage can set off a retry storm, in at least 70% of seeds the breaker's goodput is "
                  "back for good within a second while neither jittered backoff with the same attempts nor the "
                  "breaker's own loop without a breaker gets back",
        subject=load_arm("circuit breaker", BREAKER, network=busy_outage, **RUN),
        baseline=load_arm("jittered backoff", JITTERED, network=busy_outage, **RUN),
        ablation=load_arm("no breaker", NO_BREAKER, network=busy_outage, **RUN),
        metric=recovered_within(after=4.0, within=1.0), relation=greater_than(1.0),
        domain={"rate": Range(85, 95, unit="saves/s"), "duration": Range(10, 10, unit="s of arrivals")},
        at={"rate": 90},
        profile=BUSY_SERVER, share=0.7,
        note="The old baseline was the ablation alone (11 un-jittered attempts), never named; jitter does not "
             "save the retrying client. First encoded as 'commits more than twice what either commits' over "
             "12-s runs: false on the held-out seeds (0 of 30 at 80 saves/s: 12 s of arrivals is too short for "
             "a storm to cost that much, and in 1-2 seeds of 30 at each rate the storm did not start at all, "
             "e.g. seed 10006 at 80/s: jittered backoff 99.9% committed). A storm is likely, not certain: the "
             "claim says how often, with recovery measured for good. At 80 saves/s over 10-s runs both retrying "
             "clients stormed in only 11 of 16 notebook seeds (chapter 07's scan, the same clients), so the "
             "domain starts at 85; below 80 the storm starts in fewer seeds still (notebook seeds: 2 of 5 at "
             "72/s, 4 of 5 at 76/s for jittered backoff).",
    ),
    Claim(
        chapter=6, id="breaker-costs-where-store-has-room",
        statement="where the store has room for the retries, the breaker commits less than jittered backoff "
                  "with the same attempts",
        subject=load_arm("circuit breaker", BREAKER, network=busy_outage, **RUN),
        baseline=load_arm("jittered backoff", JITTERED, network=busy_outage, **RUN),
        metric=committed_share(), relation=less_than(),
        domain={"rate": Range(40, 65, unit="saves/s"), "duration": Range(10, 10, unit="s of arrivals")},
        at={"rate": 60},
        profile=BUSY_SERVER,
    ),
    Claim(
        chapter=6, id="breaker-commits-as-much-as-no-retry",
        statement="through a one-second outage the breaker commits at least 97% of what no retry at all commits",
        subject=load_arm("circuit breaker", BREAKER, network=busy_outage, **RUN),
        baseline=load_arm("no retry", NO_RETRY, network=busy_outage, **RUN),
        metric=committed_share(), relation=greater_than(0.97),
        domain={"rate": Range(40, 90, unit="saves/s"), "duration": Range(10, 10, unit="s of arrivals")},
        at={"rate": 80},
        profile=BUSY_SERVER,
        note="Was 'the breaker commits more than no retry' (greater_than(1)): no retry commits a little more in "
             "most runs (with blind saves, 58 of 60 held-out runs). The breaker's worth is against the retries "
             "it stops, not against not retrying.",
    ),
]
