"""The retry queue delivers a command: it re-decides when it delivers, refuses, keeps one key, has a deadline.

The invariant tests send N writers' reservations from a stock of S through the
queue with a decision that refuses once S are stored: exactly min(N, S) are
stored and the rest refused, on the simulated clock and on real threads, with
one worker (writes serialised) and with several (their deliveries conflict).
The blind mapping is run beside them to show by how much it oversells.
"""

from __future__ import annotations

import functools
import pickle
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pytest
from patternhelpers import ACTOR, ScriptedStore, commit_rival, reserve_one

from aether.clock import SimulatedClock
from aether.contracts import RunContext, call_deadline
from aether.errors import CommandRefusedError, DeadlineExceededError, StoreUnavailableError
from aether.events import Event
from aether.experiment import run_contention
from aether.patterns.queue import QueuedWrites, RetryQueue, Ticket
from aether.patterns.shared import SharedStatePolicy

STOCK = 5
WRITERS = 12


def started(store: object, clock: SimulatedClock | None = None, **settings: object) -> RetryQueue:
    return RetryQueue(store, clock=clock or SimulatedClock(record_sleeps=True), **settings).start()  # type: ignore[arg-type]


def units(events: Sequence[Event]) -> Mapping[str, Any]:
    """A decision that always reserves, recording nothing."""
    return {"units": 1}


# --------------------------------------------------------------------------- the invariant, in the experiment


class _ReserveThroughQueue:
    """The writers' callable: each save enqueues one reservation; closing it drains the queue."""

    def __init__(self, queue: RetryQueue, stock: int, blind: bool) -> None:
        self.queue, self.stock, self.blind = queue, stock, blind

    def __call__(self, store: Any, actor_id: str, event_type: str, data: Mapping[str, Any], *,
                 clock: Any) -> Ticket:
        command = data if self.blind else functools.partial(reserve_one, self.stock, data)
        return self.queue(store, actor_id, event_type, command, clock=clock)

    def close(self) -> None:
        self.queue.close()


@dataclass(frozen=True)
class ReservingQueue:
    """An experiment pattern: one reservation per save from a stock of *stock*, through a queue per run."""

    policy: QueuedWrites
    stock: int
    blind: bool = False

    @property
    def name(self) -> str:
        return f"{self.policy.name} {'blind' if self.blind else 'deciding'}"

    def bind(self, ctx: RunContext) -> _ReserveThroughQueue:
        return _ReserveThroughQueue(self.policy.bind(ctx), self.stock, self.blind)


def tally(result: Any) -> tuple[int, int, int]:
    """(events stored at the actor, saves committed, saves refused) of a one-actor run."""
    stored = len(result.store.get_events("actor-0"))
    outcomes = result.saves["outcome"]
    return stored, int((outcomes == "committed").sum()), int((outcomes == "refused").sum())


@pytest.mark.parametrize("workers", [1, 3])
def test_with_a_decision_the_queue_stores_the_stock_and_refuses_the_rest_simulated(workers: int) -> None:
    policy = QueuedWrites(workers=workers, max_delay=0.05, max_attempts=100)
    result = run_contention(ReservingQueue(policy, STOCK), writers=WRITERS, seed=3)
    stored, committed, refused = tally(result)
    queue = policy.queues[-1]
    conflicts = int((result.calls["result"] == "conflict").sum())
    print(f"queue, {workers} worker(s), simulated: {WRITERS} writers, stock {STOCK}: stored {stored}, "
          f"refused {refused}, conflicts between workers {conflicts}")
    assert (stored, committed, refused) == (STOCK, STOCK, WRITERS - STOCK)
    assert (queue.committed, len(queue.refused), queue.dead_letters) == (STOCK, WRITERS - STOCK, [])
    assert (result.saves["latency"] == 0).all()  # the callers still never wait


def test_several_workers_conflict_and_decide_again() -> None:
    policy = QueuedWrites(workers=3, max_delay=0.05, max_attempts=100)
    result = run_contention(ReservingQueue(policy, STOCK), writers=WRITERS, seed=3)
    assert (result.calls["result"] == "conflict").any()  # the decisions above survived real contention
    assert tally(result) == (STOCK, STOCK, WRITERS - STOCK)


@pytest.mark.parametrize("workers", [1, 3])
def test_with_a_decision_the_queue_stores_the_stock_and_refuses_the_rest_on_threads(workers: int) -> None:
    policy = QueuedWrites(workers=workers, base_delay=0.001, max_delay=0.01, max_attempts=200)
    result = run_contention(ReservingQueue(policy, STOCK), writers=WRITERS, clock="real", network=None, seed=3,
                            timeout=60)
    stored, committed, refused = tally(result)
    print(f"queue, {workers} worker(s), threads: {WRITERS} writers, stock {STOCK}: stored {stored}, "
          f"refused {refused}")
    assert (stored, committed, refused) == (STOCK, STOCK, WRITERS - STOCK)


@pytest.mark.parametrize("clock", ["simulated", "real"])
def test_the_blind_mapping_through_the_queue_oversells_by_every_writer_beyond_the_stock(clock: str) -> None:
    policy = QueuedWrites(base_delay=0.001, max_delay=0.01)
    result = run_contention(ReservingQueue(policy, STOCK, blind=True), writers=WRITERS, clock=clock,
                            network=None, seed=3, timeout=60)
    stored, committed, refused = tally(result)
    print(f"queue blind, {clock}: {WRITERS} writers, stock {STOCK}: stored {stored}, "
          f"oversold by {stored - STOCK}")
    assert (stored, committed, refused) == (WRITERS, WRITERS, 0)


# --------------------------------------------------------------------------- deciding when delivering


def test_the_decision_is_made_when_the_worker_delivers_not_when_the_write_is_enqueued() -> None:
    store = ScriptedStore()
    queue = RetryQueue(store, clock=SimulatedClock())
    seen: list[int] = []

    def decide(events: Sequence[Event]) -> Mapping[str, Any]:
        seen.append(len(events))
        return {"n": len(events)}

    ticket = queue.enqueue(ACTOR, "Placed", decide)
    commit_rival(store.inner, ACTOR)  # the state changes while the write waits
    queue.start().close()
    assert seen == [1] and ticket.event is not None and ticket.event.data == {"n": 1}


def test_the_decision_is_made_again_on_a_fresh_read_after_a_conflict() -> None:
    store = ScriptedStore(["rival", "rival"])
    queue = started(store)
    seen: list[int] = []

    def decide(events: Sequence[Event]) -> Mapping[str, Any]:
        seen.append(len(events))
        return {"n": len(events)}

    ticket = queue.enqueue(ACTOR, "Placed", decide)
    queue.close()
    assert seen == [0, 1, 2] and ticket.attempts == 3
    assert ticket.event is not None and (ticket.event.version, ticket.event.data) == (3, {"n": 2})


def test_a_refusal_settles_the_ticket_as_refused_without_retrying_or_dead_lettering() -> None:
    store = ScriptedStore(["rival"])
    queue = started(store)
    refusing = queue.enqueue(ACTOR, "Placed", lambda events: None if events else {"first": True})
    after = queue.enqueue(ACTOR, "Placed", {"n": 1})
    queue.close()
    assert (refusing.outcome, refusing.attempts, refusing.event) == ("refused", 2, None)
    assert isinstance(refusing.error, CommandRefusedError) and refusing.error.version == 1
    assert (queue.refused, queue.dead_letters, queue.errors) == ([refusing], [], [])
    assert after.outcome == "committed" and store.writes == 2  # the refused write stored nothing


def test_a_decision_that_raises_dead_letters_the_write_records_it_and_the_worker_carries_on() -> None:
    bug = ZeroDivisionError("a bug in the decision")

    def broken(events: Sequence[Event]) -> Mapping[str, Any]:
        raise bug

    queue = started(ScriptedStore())
    failed = queue.enqueue(ACTOR, "Placed", broken)
    fine = queue.enqueue(ACTOR, "Placed", units)
    queue.close()
    assert (failed.outcome, failed.error, fine.outcome) == ("dead_letter", bug, "committed")
    assert [(e.write, e.error) for e in queue.errors] == [(failed, bug)]


def test_a_decision_that_landed_before_its_reply_was_lost_is_stored_and_decided_once() -> None:
    store = ScriptedStore(["lost-reply"])
    queue = started(store)
    seen: list[int] = []

    def decide(events: Sequence[Event]) -> Mapping[str, Any]:
        seen.append(len(events))
        return {"units": 1}

    ticket = queue.enqueue(ACTOR, "Placed", decide)
    queue.close()
    assert (ticket.outcome, ticket.attempts, seen) == ("committed", 2, [0])
    assert store.inner.get_events(ACTOR) == [ticket.event] and store.writes == 1  # found by its key


class InterruptedAfterSaving(ScriptedStore):
    """A store whose first save lands and then raises KeyboardInterrupt: the worker dies unaware."""

    def save_event(self, event: Event) -> None:
        super().save_event(event)
        if self.writes == 1:
            raise KeyboardInterrupt


def test_a_decided_write_interrupted_after_it_landed_is_found_by_its_key_after_a_restart() -> None:
    store = InterruptedAfterSaving()
    queue = RetryQueue(store, clock=SimulatedClock())
    seen: list[int] = []

    def decide(events: Sequence[Event]) -> Mapping[str, Any]:
        seen.append(len(events))
        return {"units": 1}

    ticket = queue.enqueue(ACTOR, "Placed", decide)
    with pytest.raises(KeyboardInterrupt):
        queue.start().stop()
    assert ticket.outcome == "pending"
    commit_rival(store.inner, ACTOR)  # another writer appends before the restart
    queue.start().close()
    assert (ticket.outcome, seen, store.writes) == ("committed", [0], 1)  # not decided or sent again
    assert ticket.event == store.inner.get_events(ACTOR)[0] and ticket.event.id == ticket.key


def test_every_delivery_attempt_carries_the_writes_one_key() -> None:
    store = ScriptedStore(["rival", "down", "rival"])
    queue = started(store)
    ticket = queue.enqueue(ACTOR, "Placed", units, key="order-7-reserve")
    queue.close()
    assert ticket.key == "order-7-reserve" and {e.id for e in store.saved} == {"order-7-reserve"}
    assert ticket.event is not None and ticket.event.id == "order-7-reserve" and store.writes == 4


def test_a_generated_key_is_on_the_ticket_and_is_the_stored_events_id() -> None:
    store = ScriptedStore()
    queue = started(store)
    ticket = queue.enqueue(ACTOR, "Placed", {"n": 0})
    queue.close()
    assert ticket.key and ticket.event is not None and ticket.event.id == ticket.key


def test_a_write_whose_key_is_already_stored_is_committed_as_the_stored_event() -> None:
    store = ScriptedStore()
    queue = started(store)
    first = queue.enqueue(ACTOR, "Placed", {"n": 0}, key="k")
    again = queue.enqueue(ACTOR, "Placed", units, key="k")
    queue.close()
    assert (again.outcome, again.event) == ("committed", first.event)
    assert len(store.inner.get_events(ACTOR)) == 1


def test_enqueue_refuses_a_bad_key_or_deadline_before_accepting() -> None:
    queue = started(ScriptedStore())
    with pytest.raises(TypeError, match="key"):
        queue.enqueue(ACTOR, "Placed", units, key=7)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="deadline"):
        queue.enqueue(ACTOR, "Placed", units, deadline=0)
    assert queue.pending() == 0
    queue.close()


# --------------------------------------------------------------------------- deadlines


def test_a_write_still_queued_at_its_deadline_ends_as_deadline_without_a_store_call() -> None:
    store = ScriptedStore()
    clock = SimulatedClock()
    queue = RetryQueue(store, clock=clock)
    ticket = queue.enqueue(ACTOR, "Placed", units, deadline=0.5)
    clock.sleep(1.0)  # nobody delivers for a second
    queue.start().close()
    assert (ticket.outcome, ticket.attempts, store.writes) == ("deadline", 0, 0)
    assert isinstance(ticket.error, DeadlineExceededError) and queue.expired == [ticket]


def test_no_delivery_attempt_starts_after_the_deadline_and_no_backoff_ends_past_it() -> None:
    store = ScriptedStore(["down"] * 100)
    clock = SimulatedClock(record_sleeps=True)
    queue = RetryQueue(store, clock=clock, max_attempts=100, deadline=0.1).start()
    ticket = queue.enqueue(ACTOR, "Placed", units)
    queue.close()
    assert ticket.outcome == "deadline" and queue.dead_letters == []
    assert isinstance(ticket.error, DeadlineExceededError)
    assert isinstance(ticket.error.__cause__, StoreUnavailableError)
    assert clock.sleeps[:3] == [0.01, 0.02, 0.04] and len(clock.sleeps) == 3  # 0.08 more would end at 0.15
    assert ticket.attempts == store.writes == 4 and ticket.settled_at is not None and ticket.settled_at <= 0.1


def test_store_calls_of_a_delivery_run_inside_the_writes_deadline_scope() -> None:
    seen: list[float | None] = []

    class Watching(ScriptedStore):
        def save_event(self, event: Event) -> None:
            seen.append(call_deadline.get())
            super().save_event(event)

    clock = SimulatedClock(start=10.0)
    queue = RetryQueue(Watching(), clock=clock).start()
    queue.enqueue(ACTOR, "Placed", units, deadline=2.0)
    queue.enqueue(ACTOR, "Placed", units)
    queue.close()
    assert seen == [12.0, None]


def test_a_policy_deadline_bounds_every_queued_write_of_the_run() -> None:
    policy = QueuedWrites(deadline=0.12)  # about three deliveries' time (two calls of ~17 ms each)
    result = run_contention(policy, writers=20, seed=3)
    outcomes = result.saves["outcome"]
    print(f"queue, deadline 120 ms, 20 writers: {int((outcomes == 'committed').sum())} committed, "
          f"{int((outcomes == 'deadline').sum())} past their deadline")
    assert set(outcomes) == {"committed", "deadline"} and (outcomes == "committed").sum() >= 2
    queue = policy.queues[-1]
    assert len(queue.expired) == int((outcomes == "deadline").sum())
    assert all(t.settled_at is not None and t.settled_at - t.enqueued_at <= 0.12 for t in queue.expired)
    assert (result.saves.loc[outcomes == "committed", "commit_delay"] <= 0.12).all()


@pytest.mark.parametrize("deadline", [0, -1.0, float("nan")])
def test_a_queue_deadline_must_be_a_positive_number_of_seconds(deadline: float) -> None:
    with pytest.raises(ValueError, match="deadline"):
        RetryQueue(ScriptedStore(), clock=SimulatedClock(), deadline=deadline)
    with pytest.raises(ValueError, match="deadline"):
        QueuedWrites(deadline=deadline)


# --------------------------------------------------------------------------- the policy


def test_queued_writes_is_a_shared_state_policy_whose_pickle_carries_the_settings_only() -> None:
    policy = QueuedWrites(workers=2, deadline=1.0)
    run_contention(policy, writers=3, seed=1)
    copy = pickle.loads(pickle.dumps(policy))
    assert isinstance(policy, SharedStatePolicy) and len(policy.queues) == 1
    assert copy == policy and copy.queues == [] and (copy.workers, copy.deadline) == (2, 1.0)


def test_with_a_decision_queues_in_sqlite_processes_store_the_stock_and_refuse_the_rest() -> None:
    writers, stock = 6, 4  # each process has its own queue: their workers conflict in the file
    policy = QueuedWrites(base_delay=0.001, max_delay=0.02, max_attempts=200)
    result = run_contention(ReservingQueue(policy, stock), writers=writers, clock="real", store="sqlite",
                            network=None, seed=3, timeout=60)
    stored, committed, refused = tally(result)
    print(f"queue, sqlite processes: {writers} writers, stock {stock}: stored {stored}, refused {refused}")
    assert (stored, committed, refused) == (stock, stock, writers - stock)
