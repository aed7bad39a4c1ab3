"""Chapter 08, retry storms: a short trigger, timeouts and retries keep a busy store down."""

from __future__ import annotations

import functools

from aether.claims import Claim, Range, at_most, committed_share, greater_than, load_arm, recovered_within
from aether.claims.catalog._common import BUSY_SERVER, busy_slowdown, busy_timeouts
from aether.patterns import RetryBudgetPolicy, retry_on_failure

RUN = {"actors": 5000}
AT_ONCE = functools.partial(retry_on_failure, max_attempts=3)
NO_BUDGET = RetryBudgetPolicy(retry_cost=0, unavailable_cost=0, max_attempts=3, base_delay=0.0,
                              name="same retries, no budget")

CLAIMS = [
    Claim(
        chapter=8, id="storm-outlasts-ten-seconds",
        statement="from 85 saves/s (82% busy), a one-second 4x slowdown makes retrying at once a storm that "
                  "has not ended 10 s later, in at least three runs in four",
        subject=load_arm("retry at once", AT_ONCE, network=busy_timeouts, capacity=busy_slowdown, **RUN),
        metric=recovered_within(after=4.0, within=10.0), relation=at_most(0.0),
        domain={"rate": Range(85, 90, unit="saves/s"), "duration": Range(20, 30, unit="s of arrivals")},
        at={"rate": 85},
        profile=BUSY_SERVER,
        share=0.75,
        note="Was 'the storm never recovers' over 75-85 saves/s. 'Never' is not a measurement: with the "
             "sustained-recovery metric, retrying at once was back for good within 10 s in 6 of 30 held-out "
             "seeds at 80/s and 19 of 30 at 75/s (median 4.5 s); within 20 s in 27 of 30 at 75/s. How long a "
             "storm lasts depends on the load: at 85/s none of 30 recovered within 10 s. (30-s runs, "
             "level 0.8 over 2-s windows.) At 87/s, 2 of 30 held-out seeds (10004, 10027) did recover within 10 s, "
             "hence 'three runs in four' (share 0.75), not 'every run'.",
    ),
    Claim(
        chapter=8, id="budget-ends-storm",
        statement="a retry budget commits more through the storm than retrying at once, and than the same "
                  "retries without the budget",
        subject=load_arm("retry budget", RetryBudgetPolicy(max_attempts=3, base_delay=0.0), network=busy_timeouts,
                         capacity=busy_slowdown, **RUN),
        baseline=load_arm("retry at once", AT_ONCE, network=busy_timeouts, capacity=busy_slowdown, **RUN),
        ablation=load_arm("same retries, no budget", NO_BUDGET, network=busy_timeouts, capacity=busy_slowdown,
                          **RUN),
        metric=committed_share(), relation=greater_than(),
        domain={"rate": Range(80, 85, unit="saves/s"), "duration": Range(15, 15, unit="s of arrivals")},
        at={"rate": 80},
        profile=BUSY_SERVER,
        note="Was claimed over 75-85 saves/s. Below 80/s the trigger does not always start a storm, and where "
             "it does not, the budget's refused retries cost it a few saves: at 75, 77 and 79/s it held in "
             "26-29 of 30 seeds (held-out seeds 10000-10029 and 20000-20029), fragile at the 0.8 share; from "
             "80 to 85/s in 29-30 of 30 on both seed sets.",
    ),
]
