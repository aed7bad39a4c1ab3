"""Chapter 11, in production: what retrying every error costs during an outage."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from aether.claims import Claim, Range, calls_per_save, contention_arm, greater_than
from aether.claims.catalog._common import CLASSIC
from aether.experiment import NetworkModel, Outage
from aether.experiment.profiles import StoreProfile
from aether.patterns import jitter_retry, retry_on_failure


def down(params: Mapping[str, Any], profile: StoreProfile) -> NetworkModel:
    """The classic path with the store unreachable for the whole run."""
    return profile.network(outages=[Outage(0.0, 1000.0)])


RETRY_EVERYTHING = functools.partial(retry_on_failure, max_attempts=7, base_delay=0.01)

CLAIMS = [
    Claim(
        chapter=11, id="retry-everything-costs-calls",
        statement="during an outage, retrying every error makes seven times the calls of retrying conflicts only",
        subject=contention_arm("retry every error", RETRY_EVERYTHING, network=down),
        baseline=contention_arm("retry conflicts only", jitter_retry, network=down),
        metric=calls_per_save(), relation=greater_than(6.99),
        domain={"writers": Range(10, 50, integer=True, unit="writers")}, at={"writers": 20},
        profile=CLASSIC,
    ),
]
