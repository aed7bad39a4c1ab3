"""The writer loop every way of running shares, and what it collects.

A writer (or an open loop's caller) follows a :class:`WriterPlan`: wait until
its start, then make its logical saves through the pattern, one after
another, appending a :class:`~aether.experiment.recorder.SaveRow` per save to
its :class:`Collected`. How the save ended is named by
:func:`~aether.experiment.outcomes.outcome_of`, the classifier the recorder and
the store's queue use too.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aether.checks import show
from aether.contracts import Deferred
from aether.errors import AetherError
from aether.events import Event
from aether.experiment.capacity import ServiceStation
from aether.experiment.outcomes import outcome_of
from aether.experiment.recorder import CallLog, RecordingStore, SaveRow, WriteLedger

__all__ = ["Collected", "WriterPlan", "actor_for", "run_writer", "settle_tickets"]

_new_row = tuple.__new__  # SaveRow(...) without the generated Python __new__, in the hot loop


@dataclass
class WriterPlan:
    """What one writer does: *saves* logical saves, after *start_delay* seconds."""

    writer: int
    saves: int
    actors: int
    start_delay: float
    event_type: str


def actor_for(writer: int, save: int, actors: int) -> str:
    """The actor writer *writer*'s save *save* goes to: ``actor-{(writer + save) % actors}``."""
    return f"actor-{(writer + save) % actors}"


@dataclass
class Collected:
    """What a run (or one writer of it) collected: rows, call records, and what the store check needs."""

    rows: list[SaveRow] = field(default_factory=list)
    records: CallLog = field(default_factory=CallLog)
    tickets: list[tuple[int, Any]] = field(default_factory=list)
    committed: list[tuple[int, str, str, int]] = field(default_factory=list)
    errors: list[tuple[str, str, bool]] = field(default_factory=list)  # (type, message, is an AetherError)
    unacknowledged: list[str] = field(default_factory=list)  # ids of writes whose caller timed out
    ledger: WriteLedger = field(default_factory=WriteLedger)  # which write calls stored an event
    station: ServiceStation | None = None
    origin: float = 0.0

    def absorb(self, part: Collected) -> None:
        """Append one writer's rows (and what points into them) after the rows collected so far."""
        base = len(self.rows)
        self.rows.extend(part.rows)
        self.tickets.extend((base + i, ticket) for i, ticket in part.tickets)
        self.committed.extend((base + i, a, e, v) for i, a, e, v in part.committed)
        self.errors.extend(part.errors)
        self.unacknowledged.extend(part.unacknowledged)
        if part.ledger is not self.ledger:
            self.ledger.stored_calls.extend(part.ledger.stored_calls)


def run_writer(plan: WriterPlan, view: RecordingStore, fn: Callable[..., Any], pass_rng: bool,
               rng: random.Random | None, clock: Any, out: Collected) -> None:
    """Perform one writer's logical saves, appending a row per save to the writer's own *out*."""
    rows, tickets, committed_ids, errors = out.rows, out.tickets, out.committed, out.errors
    origin = view.origin
    if plan.start_delay:
        wait = plan.start_delay - (clock.now() - origin)
        if wait > 0:
            clock.sleep(wait)
    for save in range(plan.saves):
        actor = actor_for(plan.writer, save, plan.actors)
        view.begin_save(save)
        data = {"writer": plan.writer, "save": save}
        t0 = clock.now()
        outcome, error, version = "committed", "", None
        try:
            if pass_rng:
                result = fn(view, actor, plan.event_type, data, clock=clock, rng=rng)
            else:
                result = fn(view, actor, plan.event_type, data, clock=clock)
        except Exception as exc:  # how the save ended is data about the pattern, not a harness failure
            outcome = outcome_of(exc)
            if outcome in ("error", "timeout", "overloaded", "unavailable"):  # an error the pattern let through
                error = type(exc).__name__
                errors.append((error, str(exc), isinstance(exc, AetherError)))
        else:
            if isinstance(result, Event) or result is None:
                event = result if isinstance(result, Event) else view.last_event
                if event is None:
                    outcome, error = "error", "pattern returned without saving"
                else:
                    version = event.version
                    committed_ids.append((len(rows), event.actor_id, event.id, event.version))
            elif isinstance(result, Deferred):
                outcome = "queued"
                tickets.append((len(rows), result))
            else:
                outcome, error = "error", f"pattern returned {type(result).__name__}, not an Event or a ticket"
                errors.append(("TypeError", f"the pattern returned {show(result)}; a pattern returns the stored "
                               "Event (or a Deferred ticket)", False))
        t1 = clock.now()
        view.forget_raised()
        attempts = view.attempts
        rows.append(_new_row(SaveRow, (plan.writer, save, actor, t0 - origin, t1 - origin, t1 - t0, attempts,
                                       max(attempts - 1, 0), outcome, version,
                                       (t1 - t0) if outcome == "committed" else math.nan, error,
                                       outcome == "queued")))


def settle_tickets(col: Collected) -> None:
    """Fill in how each deferred save ended, from its ticket, once background work is done."""
    for index, ticket in col.tickets:
        row = col.rows[index]
        outcome = getattr(ticket, "outcome", "queued")
        event = getattr(ticket, "event", None)
        settled_at = getattr(ticket, "settled_at", None)
        attempts = int(getattr(ticket, "attempts", row.attempts))
        row = row._replace(attempts=attempts, retries=max(attempts - 1, 0))
        if outcome == "committed" and event is not None:
            delay = (settled_at - col.origin) - row.start if settled_at is not None else math.nan
            row = row._replace(outcome="committed", version=event.version, commit_delay=delay)
            col.committed.append((index, event.actor_id, event.id, event.version))
        else:
            row = row._replace(outcome=str(outcome))
        col.rows[index] = row
    col.tickets.clear()
