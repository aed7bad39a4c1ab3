"""Chapter 05, eventual consistency: a retry queue that accepts at once and saves later."""

from __future__ import annotations

from aether.claims import Claim, Range, at_least, at_most, committed_share, contention_arm, writes_per_save
from aether.claims.catalog._common import CLASSIC, classic_outage
from aether.patterns import QueuedWrites

CLAIMS = [
    Claim(
        chapter=5, id="queue-one-write-per-save",
        statement="with one worker, a queue's writes never conflict: one store write per save",
        subject=contention_arm("queued writes", QueuedWrites()),
        metric=writes_per_save(), relation=at_most(1.0),
        domain={"writers": Range(20, 100, integer=True, unit="writers")}, at={"writers": 50},
        profile=CLASSIC,
    ),
    Claim(
        chapter=5, id="queue-loses-nothing-in-outage",
        statement="through an outage the queue loses nothing",
        subject=contention_arm("queued writes", QueuedWrites(), network=classic_outage, start_spread=3.0),
        metric=committed_share(), relation=at_least(1.0),
        domain={"writers": Range(50, 50, integer=True, unit="writers"), "outage": Range(1, 8, unit="s outage")},
        at={"outage": 1.0},
        profile=CLASSIC,
    ),
]
