"""Chapter 02, the conflict's distance signal: what the store's conflicts really say, and what a pattern can do with it.

The runs save *commands*: :func:`add_item` re-reads the order and refuses once it is
cancelled, and :func:`commanded` hands it to any pattern in place of the experiment's
blind data, so the claims measure the command retry chapter 00 teaches.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Sequence
from typing import Any

from aether.claims import Claim, Metric, Range, Relation, at_least, committed_share, contention_arm
from aether.claims.catalog._common import CLASSIC
from aether.events import Event
from aether.patterns import conflict_detailed_retry, simple_retry

__all__ = ["CLAIMS", "DETAILED", "SIMPLE", "add_item", "commanded", "conflict_distances", "distance_one_share",
           "smallest_distance"]


def add_item(events: Sequence[Event]) -> dict[str, int] | None:
    """Add a line to an order, unless the order was cancelled: ``None`` (refuse) then.

    A command, not blind data: it depends on the state it reads, so a writer that
    lost a race must read again and decide again.
    """
    if any(event.event_type == "OrderCancelled" for event in events):
        return None
    return {"line": len(events) + 1}


def _takes_rng(pattern: Callable[..., Any]) -> bool:
    try:
        return "rng" in inspect.signature(pattern).parameters
    except (TypeError, ValueError):
        return False


def _save_command(pattern: Callable[..., Any], decide: Callable[[Sequence[Event]], Any], store: Any, actor_id: str,
                  event_type: str, data: Any = None, *, clock: Any, rng: Any = None) -> Any:
    if rng is not None and _takes_rng(pattern):
        return pattern(store, actor_id, event_type, decide, clock=clock, rng=rng)
    return pattern(store, actor_id, event_type, decide, clock=clock)


def commanded(pattern: Callable[..., Any], decide: Callable[[Sequence[Event]], Any] = add_item) -> Any:
    """*pattern* saving the command *decide* (default :func:`add_item`) instead of the experiment's blind data.

    Use it to run :func:`~aether.experiment.run_contention` or a claim's arm with
    the command retry: every attempt reads the actor's events and decides again.
    The result is a picklable partial, so sweeps and ``--jobs`` can use it.
    """
    if not callable(pattern):
        raise TypeError(f"pattern must be a retry pattern (a callable); got {pattern!r}")
    if not callable(decide):
        raise TypeError(f"decide must be a decision decide(events) -> data | None; got {decide!r}")
    return functools.partial(_save_command, pattern, decide)


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

CLAIMS = [
    Claim(
        chapter=2, id="distance-at-least-one",
        statement="on an honest store every conflict's distance is at least 1",
        subject=contention_arm("conflict-detailed retry", DETAILED),
        metric=smallest_distance(), relation=at_least(1),
        domain=_CROWD, at={"writers": 20, "saves_per_writer": 1},
        profile=CLASSIC,
        note="The old chapter's stale-store demo raised conflicts with attempted 8 and current 7: distance 0, which "
             "no store that accepts version current + 1 can produce.",
    ),
    Claim(
        chapter=2, id="distance-mostly-one",
        statement="under the command retry at least three quarters of conflicts have distance 1, whatever the crowd",
        subject=contention_arm("conflict-detailed retry", DETAILED),
        metric=distance_one_share(), relation=at_least(0.75),
        domain=_CROWD, at={"writers": 50, "saves_per_writer": 1},
        profile=CLASSIC,
        note="Distance counts commits between a writer's read and its write, one network round trip on this path, "
             "not the writers it competes with: 5 writers and 100 both give distance 1 in 86-100% of conflicts "
             "(one save each). Was 'at least 80%': fragile on the held-out seeds at 88 writers x 2 saves (28 of 30; "
             "seeds 10022 and 10025: 78.9% and 78.7%); at 100 writers x 3 saves seeds 10000-10009 gave 79-89%. "
             "The profile matters: on the busy "
             "four-worker server (BUSY_SERVER), which commits several writes at once, 10 writers x 3 saves gave "
             "67-76% (seeds 20000-20019); on local PostgreSQL it held at 45-92 writers.",
    ),
    Claim(
        chapter=2, id="verdicts-silent-under-contention",
        statement="under contention on an honest store conflict-detailed retry commits every save simple retry does",
        subject=contention_arm("conflict-detailed retry", DETAILED),
        baseline=contention_arm("simple retry", SIMPLE),
        metric=committed_share(), relation=Relation(">=", 1.0),
        domain=_CROWD, at={"writers": 20, "saves_per_writer": 1},
        profile=CLASSIC,
        note="Its thrashing verdicts never fire on contention alone: each conflict of a save that re-reads names a "
             "later current version than the one before. Was 'about a third fewer store calls than simple retry', "
             "which held for the blind shortcut that skips the read; a command must read every attempt.",
    ),
]
