"""Chapter 07, retry budget: the AWS SDKs' retry quota, shared by a client's writers.

Every arm saves with a decision (:func:`~aether.claims.catalog._common.add_line`) on the busy
server with a 0.25 s timeout and an outage from 3 s (one second unless the domain says how long).
The quota is the AWS SDKs' retry quota as botocore keeps it before 2026
(:meth:`~aether.patterns.RetryBudgetPolicy.aws_standard`: 500 tokens, 5 a retry, 10 after a
timeout, a success gives back its retry's cost or 1). The main client is the SDK's own retry loop
(botocore's standard mode before 2026: 3 attempts, waits drawn from 0-1 s, then 0-2 s), with the
quota (``SDK_QUOTA``) and without it (``SDK_ALONE``, the ablation). The aggressive client is the
Go examples' loop: 11 attempts, waits of 10 ms doubling to 1 s without jitter, with the quota
(``QUICK_QUOTA``) and with free retries (``QUICK_ALONE``).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from aether.claims import (
    Claim,
    Range,
    at_least,
    calls_per_save,
    committed_share,
    greater_than,
    less_than,
    load_arm,
    recovered_within,
)
from aether.claims.catalog._common import BUSY_SERVER, Decided, busy_outage
from aether.errors import StoreTimeoutError, StoreUnavailableError
from aether.experiment.network import NetworkModel
from aether.experiment.profiles import StoreProfile
from aether.experiment.scenarios import TIMEOUT
from aether.patterns import RetryBudget, RetryBudgetPolicy, retry_on_failure

RUN = {"actors": 5000}
#: botocore's standard retry loop before 2026: 3 attempts, full jitter, ``rand() * min(2**n, 20)`` s.
SDK_LOOP: dict[str, Any] = {"max_attempts": 3, "base_delay": 1.0, "max_delay": 20.0}
SDK_QUOTA = Decided(RetryBudgetPolicy.aws_standard(jitter="full", name="SDK loop + quota", **SDK_LOOP))
#: The ablation: the same loop and waits, no quota.
SDK_ALONE = Decided(functools.partial(retry_on_failure, **SDK_LOOP), label="SDK loop alone")
#: The aggressive client: 11 attempts, 10 ms doubling to 1 s, no jitter, with the quota and with free retries.
QUICK_QUOTA = Decided(RetryBudgetPolicy.aws_standard(name="11 quick attempts + quota"))
QUICK_ALONE = Decided(RetryBudgetPolicy(retry_cost=0, unavailable_cost=0, name="11 quick attempts alone"))
NO_RETRY = Decided(functools.partial(retry_on_failure, max_attempts=1), label="no retry")


def flaky_store(params: Mapping[str, Any], profile: StoreProfile) -> NetworkModel:
    """The busy server's path with a 0.25 s timeout where a share ``failure_rate`` of calls fail at once."""
    return profile.network(timeout=TIMEOUT, failure_rate=float(params["failure_rate"]))


CLAIMS = [
    Claim(
        chapter=7, id="quota-ends-the-sdk-storm",
        statement="near the busy store's capacity, in at least a quarter of seeds the AWS retry quota's goodput is "
                  "back for good within two seconds of a one-second outage while the SDK's retry loop alone is not",
        subject=load_arm("SDK loop + quota", SDK_QUOTA, network=busy_outage, **RUN),
        baseline=load_arm("SDK loop alone", SDK_ALONE, network=busy_outage, **RUN),
        metric=recovered_within(after=4.0, within=2.0), relation=greater_than(1.0),
        domain={"rate": Range(92, 95, unit="saves/s"), "duration": Range(12, 12, unit="s of arrivals")},
        at={"rate": 95},
        profile=BUSY_SERVER, share=0.25,
        note="A storm of the loop alone is likely, not certain, and how likely depends on the seeds. First "
             "stated as 'in at least half of seeds' over 90-95 saves/s from notebook seeds 0-15 (at 90: the "
             "quota back within 2 s in 16, the loop alone not in 8; at 95: 14 and 14, 13 holding). Held-out "
             "seeds 10000-10029 broke it: 8 of 30 held at 90.5 saves/s, 14 at 92.3, 19 at 92.9 and at 95. So the "
             "domain starts at 92 and the share is a quarter. Within one second instead of two the quota was "
             "back in only 13 of 16 notebook seeds at 90.",
    ),
    Claim(
        chapter=7, id="quota-commits-more-than-no-retry",
        statement="through an outage of a quarter of a second to two seconds, the SDK's loop with the AWS retry "
                  "quota commits more saves than not retrying",
        subject=load_arm("SDK loop + quota", SDK_QUOTA, network=busy_outage, **RUN),
        baseline=load_arm("no retry", NO_RETRY, network=busy_outage, **RUN),
        metric=committed_share(), relation=greater_than(),
        domain={"rate": Range(40, 90, unit="saves/s"), "outage": Range(0.25, 2.0, unit="s of outage"),
                "duration": Range(10, 10, unit="s of arrivals")},
        at={"rate": 60, "outage": 1.0},
        profile=BUSY_SERVER,
        note="Replaces 'a budget commits what no retry commits', which held only for the Go examples' loop of "
             "11 quick attempts (its 100 paid retries all meet the store still down). With the SDK's loop the "
             "retries wait up to 1 s, then up to 2 s, and most land after the outage: at 90 saves/s, 1 s "
             "outage, 95.7% against 93.1% (median of seeds 30000-30029, 29 of 30 above). The corners held in 30 of "
             "30 seeds (30000-30029): 90 saves/s with a 2 s outage, 40 with 0.25 s.",
    ),
    Claim(
        chapter=7, id="quota-costs-on-long-outages",
        statement="where the store has room for the retries and the outage lasts 2 to 3 s, the quota commits "
                  "fewer saves than the same loop without it",
        subject=load_arm("SDK loop + quota", SDK_QUOTA, network=busy_outage, **RUN),
        baseline=load_arm("SDK loop alone", SDK_ALONE, network=busy_outage, **RUN),
        metric=committed_share(), relation=less_than(),
        domain={"rate": Range(45, 65, unit="saves/s"), "outage": Range(2.0, 3.0, unit="s of outage"),
                "duration": Range(10, 10, unit="s of arrivals")},
        at={"rate": 50, "outage": 2.0},
        profile=BUSY_SERVER,
        note="A 2 s outage at 40 saves/s: 91.2% against 96.0%; at 65: 87.8% against 94.9% (seeds "
             "30000-30019). With a one-second outage, or shorter, the two commit the same to a few tenths of "
             "a percent, so the domain starts at 2 s. First stated for 40-65 saves/s and 1.5-3 s: at its "
             "corner of 40 saves/s and 1.5 s the quota is not spent and both commit the same (15 of 30 "
             "held-out seeds), and at 40 saves/s and 2 s it held 28 of 30. At 45-65 saves/s and 2-3 s: 210 of "
             "210 at the point, 2 perturbed points and the 4 corners, on each of seeds 10000-10029, "
             "30000-30029 and 40000-40029.",
    ),
    Claim(
        chapter=7, id="empty-quota-holds-back-retries",
        statement="on a store that fails 35-50% of calls at once, the SDK's loop without its quota makes more "
                  "than 1.15 times the store calls it makes with it: the quota, soon empty, holds back retries",
        subject=load_arm("SDK loop alone", SDK_ALONE, network=flaky_store, **RUN),
        baseline=load_arm("SDK loop + quota", SDK_QUOTA, network=flaky_store, **RUN),
        metric=calls_per_save(), relation=greater_than(1.15),
        domain={"rate": Range(40, 80, unit="saves/s"), "failure_rate": Range(0.35, 0.5, unit="of calls failing"),
                "duration": Range(15, 15, unit="s of arrivals")},
        at={"rate": 50, "failure_rate": 0.4},
        profile=BUSY_SERVER,
        note="Seeds 30000-30009 at 50 saves/s, 20 s: 30% of calls failing, 3.00 calls a save alone against "
             "2.35 with the quota (1.36-1.45 times no retry's 1.70: the 500-token reserve is still a large "
             "part of 20 s); 50% failing, 3.46 against 1.80. Once empty, the bucket gains 1 token per "
             "first-attempt success and keeps 5 for each failed retry (a successful retry gets its 5 back), "
             "so beyond the reserve it pays for at most one failed retry per five first-attempt successes. At 35% "
             "failing, 40 and 80 saves/s: 30 of 30 (seeds 30000-30029).",
    ),
    Claim(
        chapter=7, id="quota-on-quick-loop-recovers",
        statement="with the loop of 11 quick attempts and the AWS retry quota, goodput is back for good within a "
                  "second of a one-second outage near the busy store's capacity",
        subject=load_arm("11 quick attempts + quota", QUICK_QUOTA, network=busy_outage, **RUN),
        metric=recovered_within(after=4.0, within=1.0), relation=at_least(1.0),
        domain={"rate": Range(85, 95, unit="saves/s"), "duration": Range(10, 10, unit="s of arrivals")},
        at={"rate": 90},
        profile=BUSY_SERVER,
        note="Was 'budget-ends-the-storm', which also required chapter 06's jittered backoff and the same loop "
             "with free retries not to be back (they storm: 6.3-6.6% committed against 98.3% with 60 s of "
             "arrivals at 90 saves/s). That the free loop storms is chapter 06's claim "
             "(ch06/breaker-ends-the-storm, its 'no breaker' arm); running it again here cost 68 s of CPU at "
             "--perturb 2. Held-out seeds 10000-10029 at --perturb 2: the paired form held in 86 of 90. Seeds "
             "30000-30029 at 95 saves/s: 29 of 30 (seed 30023 not back within a second).",
    ),
    Claim(
        chapter=7, id="quota-on-quick-loop-commits-only-what-no-retry-commits",
        statement="with the loop of 11 quick attempts, through a one-second outage, the quota commits at most 1% "
                  "more saves than not retrying: its paid retries all meet the store still down",
        subject=load_arm("11 quick attempts + quota", QUICK_QUOTA, network=busy_outage, **RUN),
        baseline=load_arm("no retry", NO_RETRY, network=busy_outage, **RUN),
        metric=committed_share(), relation=less_than(1.01),
        domain={"rate": Range(40, 95, unit="saves/s"), "duration": Range(10, 10, unit="s of arrivals")},
        at={"rate": 80},
        profile=BUSY_SERVER,
        note="Was 'budget-commits-what-no-retry-commits' (at least 98% of no retry), read in the chapter as "
             "'a budget does not save more than not retrying'. That holds for this loop only: its waits of "
             "10 ms doubling spend the 100-retry reserve within about 0.3 s of the outage's start. Seeds "
             "30000-30029: 30 of 30 at 40 saves/s, 28 of 30 at 95 (30004 and 30028, where no retry meets late "
             "congestion near the store's capacity).",
    ),
]


def _drain_and_refill(refused_cost: float, timeout_cost: float, refund: float | None) -> tuple[int, float]:
    """Exercise 1's bucket: 60 retries after refused connections, 40 after timeouts, 30 successful retries
    after refused connections (refunding *refund*, ``None``: what the retry cost), 120 first-attempt successes."""
    bucket = RetryBudget(max_tokens=500, retry_cost=refused_cost, unavailable_cost=refused_cost,
                         timeout_cost=timeout_cost, success_refund=1, refund_retry_cost=refund is None)
    paid = sum(bucket.allow(StoreUnavailableError("down")) for _ in range(60))
    paid += sum(bucket.allow(StoreTimeoutError("no reply")) for _ in range(40))
    for _ in range(30):
        bucket.record_success(refused_cost if refund is None else None)
    for _ in range(120):
        bucket.record_success()
    return paid, bucket.tokens


@functools.lru_cache(maxsize=4)
def _quota_loss(rate: float = 50, outage: float = 2.5, seeds: range = range(4)) -> float:
    """Exercise 2: the mean over *seeds* of the loop alone's committed share minus the quota's."""
    from aether.experiment import run_load

    network = busy_outage({"outage": outage}, BUSY_SERVER)

    def share(arm: Any, seed: int) -> float:
        result = run_load(arm, rate=rate, duration=12.0, actors=5000, seed=seed, network=network,
                          capacity=BUSY_SERVER.capacity())
        return float(result.saves["outcome"].eq("committed").mean())

    return sum(share(SDK_ALONE, seed) - share(SDK_QUOTA, seed) for seed in seeds) / len(seeds)


def exercise_reference(number: int) -> Any:
    """The reference answer of exercise *number* (1 or 2), computed here so the notebook never shows it."""
    if number == 1:
        return _drain_and_refill(5, 10, None)
    if number == 2:
        return _quota_loss()
    raise ValueError(f"number must be 1 or 2; got {number!r}")


def _same(answer: Any, expected: Any) -> bool:
    try:
        if isinstance(expected, tuple):
            return len(answer) == len(expected) and all(abs(float(a) - float(e)) < 1e-6
                                                         for a, e in zip(answer, expected, strict=True))
        return abs(float(answer) - float(expected)) <= 1e-6 * max(1.0, abs(float(expected)))
    except (TypeError, ValueError):
        return False


def exercise_hint(number: int, answer: Any) -> str | None:
    """A hint for a known wrong answer to exercise *number*, or ``None``; it never contains the expected value."""
    if number == 1:
        try:
            paid = int(answer[0])
        except (TypeError, ValueError, IndexError):
            return "answer with a pair: (retries paid, tokens at the end)"
        if paid == _drain_and_refill(10, 10, None)[0]:
            return "a refused connection is not a timeout: before 2026 only a connect or read timeout costs 10"
        if _same(answer, _drain_and_refill(5, 5, None)):
            return "a retry after a timeout costs 10 tokens before 2026, not 5"
        if _same(answer, _drain_and_refill(5, 10, 1)):
            return "a success after a retry gives back what that retry cost, not 1"
        return None
    if number == 2:
        expected = _quota_loss()
        if _same(answer, -expected):
            return "the loop alone's share minus the quota's, not the other way round"
        if _same(answer, 100 * expected):
            return "as a fraction of the saves, not in percentage points"
        return None
    raise ValueError(f"number must be 1 or 2; got {number!r}")
