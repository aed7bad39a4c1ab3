"""Chapter 02, the conflict's distance signal: what the store's conflicts really say, and what a pattern can do with it.

Two facts the chapter shows are properties, not measurements, and the notebook
asserts them on every run instead of sampling them here: every conflict of an
honest store has distance at least 1 (the store refuses version ``current + 1``
only after a commit since the read), and under contention alone
conflict-detailed retry makes the same calls as simple retry (its verdicts
never fire while every re-read moves ``current`` forward).

The runs save *commands*: :func:`add_item` re-reads the order and refuses once it is
cancelled, and :func:`commanded` hands it to any pattern in place of the experiment's
blind data, so the claims measure the command retry chapter 00 teaches.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from aether.claims import Claim, Metric, Range, at_least, contention_arm
from aether.claims.catalog._common import CLASSIC
from aether.clock import SimulatedClock
from aether.errors import RetriesExhaustedError
from aether.events import Event
from aether.experiment.delays import AbsNormal
from aether.experiment.scenarios import Decided
from aether.patterns import ThrashingPolicy, conflict_detailed_retry, simple_retry
from aether.store import InMemoryEventStore

__all__ = ["CLAIMS", "DETAILED", "SIMPLE", "WIDE_HOPS", "LaggingReplica", "add_item", "commanded",
           "conflict_distances", "distance_one_share", "exercise_reference", "smallest_distance"]


def add_item(events: Sequence[Event]) -> dict[str, int] | None:
    """Add a line to an order, unless the order was cancelled: ``None`` (refuse) then.

    A command, not blind data: it depends on the state it reads, so a writer that
    lost a race must read again and decide again.
    """
    if any(event.event_type == "OrderCancelled" for event in events):
        return None
    return {"line": len(events) + 1}


def commanded(pattern: Any, decide: Callable[[Sequence[Event]], Any] = add_item) -> Decided:
    """*pattern* saving the command *decide* (default :func:`add_item`) instead of the experiment's blind data.

    Use it to run :func:`~aether.experiment.run_contention` or a claim's arm with
    the command retry: every attempt reads the actor's events and decides again.
    It is :class:`~aether.experiment.scenarios.Decided` with the chapter's decision.
    """
    return Decided(pattern, decide)


def conflict_distances(result: Any) -> Any:
    """The distance of every conflict of a run (a pandas Series): ``current - (attempted - 1)``, from its calls."""
    calls = result.calls
    conflicts = calls[calls["result"] == "conflict"]
    return conflicts["current_version"] - conflicts["attempted_version"] + 1


def _smallest(result: Any) -> float:
    distances = conflict_distances(result)
    return float(distances.min()) if len(distances) else float("nan")


def _share_of_one(result: Any) -> float:
    distances = conflict_distances(result)
    return float((distances == 1).mean()) if len(distances) else float("nan")


def smallest_distance() -> Metric:
    """The smallest distance among a run's conflicts (NaN without conflicts)."""
    return Metric("smallest conflict distance", _smallest, "commits")


def distance_one_share() -> Metric:
    """The share of a run's conflicts at distance 1: one commit since the writer's read (0-1, shown as %)."""
    return Metric("conflicts at distance 1", _share_of_one, "%")


#: The chapter's arms: the patterns with their defaults (4 attempts, 10 ms doubling), saving add_item.
DETAILED = commanded(conflict_detailed_retry)
SIMPLE = commanded(simple_retry)

_CROWD = {"writers": Range(5, 100, integer=True, unit="writers"),
          "saves_per_writer": Range(1, 3, integer=True, unit="saves per writer")}

#: The calibrated store behind hops as slow on average (10 ms) but four times as spread (sigma 8 ms, not 2 ms):
#: a path whose latency varies, where the distance starts to grow with the crowd.
WIDE_HOPS = CLASSIC.with_hop(AbsNormal(0.010, 0.008), reason="a path whose latency varies: 10 ms hops, sigma 8 ms",
                             path="10 ms hops, sigma 8 ms")


class LaggingReplica(InMemoryEventStore):
    """A store whose reads come from a replica stuck *lag* versions behind; writes go to the primary.

    Use it to show a history whose ``current`` stands still: every re-read misses
    the same *lag* commits, so every retry conflicts again. It starts with *versions*
    events on ``order-7`` and counts the writes it receives in ``writes``.
    """

    def __init__(self, lag: int, versions: int = 7) -> None:
        super().__init__()
        self.lag, self.writes = lag, 0
        for version in range(1, versions + 1):
            super().save_event(Event(actor_id="order-7", event_type="ItemAdded", version=version))

    def get_events(self, actor_id: str, from_version: int = 1) -> list[Event]:
        events = super().get_events(actor_id, from_version)
        return events[: max(0, len(events) - self.lag)]

    def save_event(self, event: Event) -> None:
        self.writes += 1
        super().save_event(event)


def _patient_wait(stuck_after: int) -> float:
    replica, clock = LaggingReplica(lag=3), SimulatedClock()
    try:
        conflict_detailed_retry(replica, "order-7", "ItemAdded", add_item, clock=clock, max_attempts=11,
                                thrashing=ThrashingPolicy(stuck_after=stuck_after))
    except RetriesExhaustedError:
        pass
    return 1000 * clock.now()


def _crowd_ratio(runs: Any) -> float:
    per_save = (runs["conflicts"] / runs["saves"]).groupby(runs["writers"]).mean()
    return float(per_save[100] / per_save[5])


def exercise_reference(number: int, runs: Any = None) -> float:
    """The reference value of the chapter's exercise *number* (1 or 2; 2 needs section 3's *runs*), for its check."""
    if number == 1:
        return _patient_wait(5)
    if number == 2:
        if runs is None:
            raise ValueError("exercise 2 needs runs (section 3's sweep); got runs=None")
        return _crowd_ratio(runs)
    raise ValueError(f"number must be 1 or 2; got {number!r}")


CLAIMS = [
    Claim(
        chapter=2, id="distance-mostly-one",
        statement="on a path with tight latency (10 ms hops, sigma 2 ms) under the command retry at least three "
                  "quarters of conflicts have distance 1, from 5 to 100 writers",
        subject=contention_arm("conflict-detailed retry", DETAILED),
        metric=distance_one_share(), relation=at_least(0.75),
        domain=_CROWD, at={"writers": 50, "saves_per_writer": 1},
        profile=CLASSIC,
        note="Distance measures how stale my read was compared with the others': my read-to-write time over the "
             "fastest competitor's. On this tight path that is about one round trip for everyone, so 5 writers and "
             "100 both give distance 1 in 86-100% of conflicts (one save each). Was 'whatever the crowd': on the "
             "same store behind hops with the same 10 ms mean but sigma 8 ms (WIDE_HOPS) the share at distance 1 "
             "falls from 0.75-1.0 at 5 writers to 0.23-0.39 at 100 (mean distance 2.05-2.46, up to 7), so the "
             "distance does grow with the crowd once latencies vary. Was 'at least 80%': fragile on the held-out "
             "seeds at 88 writers x 2 saves (28 of 30; seeds 10022 and 10025: 78.9% and 78.7%); at 100 writers x 3 "
             "saves seeds 10000-10009 gave 79-89%. On the busy four-worker server (BUSY_SERVER), which commits "
             "several writes at once, 10 writers x 3 saves gave 67-76% (seeds 20000-20019); on local PostgreSQL it "
             "held at 45-92 writers. The claims 'distance-at-least-one' and 'verdicts-silent-under-contention' "
             "were removed: the first is a property of any store that accepts current + 1, the second compared "
             "identical call logs; the notebook asserts both.",
    ),
]
