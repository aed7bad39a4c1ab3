"""Chapter 07, retry budget: a token bucket shared by a client's writers."""

from __future__ import annotations

from aether.claims import Claim, Range, at_least, committed_share, less_than, load_arm, recovered_within
from aether.claims.catalog._common import BUSY_SERVER, busy_outage
from aether.patterns import RetryBudgetPolicy

RUN = {"actors": 5000}
NO_BUDGET = RetryBudgetPolicy(retry_cost=0, unavailable_cost=0, name="no budget")

CLAIMS = [
    Claim(
        chapter=7, id="budget-recovers-with-store",
        statement="with the AWS budget, goodput is back within a second of a one-second outage, for good",
        subject=load_arm("retry budget", RetryBudgetPolicy(), network=busy_outage, **RUN),
        metric=recovered_within(after=4.0, within=1.0), relation=at_least(1.0),
        domain={"rate": Range(70, 85, unit="saves/s"), "duration": Range(15, 15, unit="s of arrivals")},
        at={"rate": 80},
        profile=BUSY_SERVER,
        note="First encoded over 70-90 saves/s: fragile with two perturbed points (28 of 30 held-out seeds at "
             "87.6/s: seeds 10018 and 10019 never recovered within the run), and at 90/s (86% busy) 2 of 30 "
             "never recovered either: near saturation the budget alone does not end it. At 85/s all 30 "
             "recovered at once.",
    ),
    Claim(
        chapter=7, id="budget-costs-where-store-has-room",
        statement="where the store has room for the retries, the budget commits less than the same retries "
                  "without it",
        subject=load_arm("retry budget", RetryBudgetPolicy(), network=busy_outage, **RUN),
        baseline=load_arm("same retries, no budget", NO_BUDGET, network=busy_outage, **RUN),
        metric=committed_share(), relation=less_than(),
        domain={"rate": Range(30, 50, unit="saves/s"), "duration": Range(15, 15, unit="s of arrivals")},
        at={"rate": 40},
        profile=BUSY_SERVER,
    ),
]
