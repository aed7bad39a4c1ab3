"""Claims that hold where they say they hold, and the command that re-checks them.

A chapter's conclusion is a :class:`Claim`: what is compared (a :class:`Metric`
of each run), against which baseline (and ablation), over which domain of
parameters, on which store profile, in what share of seeds. :meth:`Claim.check`
runs it and returns a :class:`Verdict`, which a notebook shows as one line::

    verdict = claim.check(seeds=range(20))
    verdict            # full jitter does less work than no jitter: 20 of 20 seeds at 100 writers;
                       # claimed for 20-200 writers, laptop SQLite

``python -m aether.claims check [--chapter NN] [--seeds A-B] [--perturb K] [--corners K|all] [--jobs N]``
re-checks the catalog (:mod:`aether.claims.catalog`) on :data:`HELD_OUT_SEEDS`,
seeds no notebook uses, at each claim's point, at random points of its domain and at
its corners (:meth:`Claim.corners`), and exits non-zero if a claim does not hold.
"""

from aether.claims.check import PointResult, Verdict, check_claims
from aether.claims.metrics import (
    Metric,
    calls_per_save,
    committed_latency,
    committed_share,
    every_save_latency,
    gave_up_share,
    makespan,
    recovered_within,
    sustained_recovery,
    sustained_recovery_time,
    work,
    writes_per_save,
)
from aether.claims.model import (
    HELD_OUT_SEEDS,
    MAX_CORNERS,
    Arm,
    Claim,
    Corners,
    Range,
    Relation,
    Trial,
    at_least,
    at_most,
    contention_arm,
    greater_than,
    less_than,
    load_arm,
    wilson_interval,
)

__all__ = [
    "HELD_OUT_SEEDS",
    "MAX_CORNERS",
    "Arm",
    "Claim",
    "Corners",
    "Metric",
    "PointResult",
    "Range",
    "Relation",
    "Trial",
    "Verdict",
    "at_least",
    "at_most",
    "calls_per_save",
    "check_claims",
    "committed_latency",
    "committed_share",
    "contention_arm",
    "every_save_latency",
    "gave_up_share",
    "greater_than",
    "less_than",
    "load_arm",
    "makespan",
    "recovered_within",
    "sustained_recovery",
    "sustained_recovery_time",
    "wilson_interval",
    "work",
    "writes_per_save",
]
