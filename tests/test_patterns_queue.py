"""Specification of RetryQueue: accept at once, save in the background, never lose a write."""

from __future__ import annotations

import threading

import pytest
from patternhelpers import ACTOR, ScriptedStore

from aether.clock import RealClock, SimulatedClock
from aether.errors import StoreUnavailableError
from aether.experiment import Deferred, NetworkModel, run_contention
from aether.patterns.queue import QueuedWrites, RetryQueue, Ticket


def started(store: object, clock: SimulatedClock | None = None, **settings: object) -> RetryQueue:
    return RetryQueue(store, clock=clock or SimulatedClock(record_sleeps=True), **settings).start()  # type: ignore[arg-type]


def writers_in_store(store: ScriptedStore, actor: str = ACTOR) -> list[int]:
    return [e.data["n"] for e in store.inner.get_events(actor) if e.event_type == "Placed"]


# --------------------------------------------------------------------------- the caller's side


def test_enqueue_returns_a_pending_ticket_at_once_without_calling_the_store() -> None:
    store, sim = ScriptedStore(), SimulatedClock()
    queue = started(store, sim)
    ticket = queue.enqueue(ACTOR, "Placed", {"n": 1})
    assert (ticket.outcome, ticket.event, ticket.settled_at, ticket.attempts) == ("pending", None, None, 0)
    assert (store.writes, sim.now(), queue.depth) == (0, 0.0, 1)


def test_a_ticket_is_a_deferred_result_for_the_experiment() -> None:
    ticket = started(ScriptedStore()).enqueue(ACTOR, "Placed")
    assert isinstance(ticket, Deferred)


def test_enqueue_validates_the_write_at_once() -> None:
    queue = started(ScriptedStore())
    with pytest.raises(ValueError, match="actor_id"):
        queue.enqueue("", "Placed")
    with pytest.raises(TypeError, match="event_type"):
        queue.enqueue(ACTOR, 7)  # type: ignore[arg-type]
    assert queue.depth == 0


def test_data_changed_after_enqueue_does_not_change_the_write() -> None:
    store = ScriptedStore()
    queue = started(store)
    data = {"n": 1}
    ticket = queue.enqueue(ACTOR, "Placed", data)
    data["n"] = 2
    queue.close()
    assert ticket.event is not None and ticket.event.data == {"n": 1}


# --------------------------------------------------------------------------- the worker


def test_the_worker_commits_writes_in_arrival_order() -> None:
    store = ScriptedStore()
    queue = started(store)
    tickets = [queue.enqueue(ACTOR, "Placed", {"n": n}) for n in range(5)]
    queue.close()
    assert writers_in_store(store) == [0, 1, 2, 3, 4]
    assert [t.event.version for t in tickets if t.event is not None] == [1, 2, 3, 4, 5]
    assert all(t.outcome == "committed" and t.attempts == 1 for t in tickets)


def test_a_failed_save_is_retried_after_capped_exponential_delays() -> None:
    store, sim = ScriptedStore(["down"] * 5), SimulatedClock(record_sleeps=True)
    queue = started(store, sim, base_delay=0.1, max_delay=0.3)
    ticket = queue.enqueue(ACTOR, "Placed", {"n": 0})
    queue.close()
    assert sim.sleeps == [0.1, 0.2, 0.3, 0.3, 0.3]
    assert (ticket.outcome, ticket.attempts) == ("committed", 6)
    assert ticket.delay == pytest.approx(1.2)  # the store is instant: the delay is the backoff


def test_no_write_is_lost_when_the_store_fails_intermittently() -> None:
    script = ["down", "ok", "rival", "down", "down", "ok", "lost-reply"] * 5
    store = ScriptedStore(script)
    queue = started(store, max_attempts=5)
    tickets = [queue.enqueue(ACTOR, "Placed", {"n": n}) for n in range(30)]
    queue.close()
    assert all(t.outcome == "committed" for t in tickets)
    assert writers_in_store(store) == list(range(30))  # each write once, in order
    versions = [e.version for e in store.inner.get_events(ACTOR)]
    assert versions == list(range(1, len(versions) + 1))


def test_a_save_whose_reply_was_lost_is_not_stored_twice() -> None:
    store = ScriptedStore(["lost-reply"])
    queue = started(store)
    ticket = queue.enqueue(ACTOR, "Placed", {"n": 0})
    queue.close()
    assert writers_in_store(store) == [0]
    assert (ticket.outcome, ticket.attempts) == ("committed", 2)
    assert ticket.event == store.inner.get_events(ACTOR)[0]


def test_a_conflict_is_retried_at_the_next_version() -> None:
    store = ScriptedStore(["rival"])
    queue = started(store)
    ticket = queue.enqueue(ACTOR, "Placed", {"n": 0})
    queue.close()
    assert ticket.event is not None and (ticket.event.version, ticket.attempts) == (2, 2)


def test_a_write_that_keeps_failing_goes_to_the_dead_letters_with_its_last_error() -> None:
    store = ScriptedStore(["down"] * 3)
    queue = started(store, max_attempts=3)
    doomed = queue.enqueue(ACTOR, "Placed", {"n": 0})
    after = queue.enqueue(ACTOR, "Placed", {"n": 1})
    queue.close()
    assert (doomed.outcome, doomed.attempts, doomed.event) == ("dead_letter", 3, None)
    assert isinstance(doomed.error, StoreUnavailableError)
    assert queue.dead_letters == [doomed]
    assert after.outcome == "committed"  # the worker carried on
    assert (queue.committed, writers_in_store(store)) == (1, [1])


def test_an_unexpected_error_dead_letters_the_write_records_it_and_the_worker_carries_on() -> None:
    bug = TypeError("a bug in the store")
    store = ScriptedStore([bug])
    queue = started(store)
    broken = queue.enqueue(ACTOR, "Placed", {"n": 0})
    fine = queue.enqueue(ACTOR, "Placed", {"n": 1})
    queue.close()
    assert (broken.outcome, broken.error, broken.attempts) == ("dead_letter", bug, 1)
    assert [(e.ticket, e.error) for e in queue.errors] == [(broken, bug)]
    assert fine.outcome == "committed"


def test_a_worker_killed_by_an_error_is_recorded_and_close_reports_the_unsaved_writes() -> None:
    class Abort(BaseException):
        """Something no retry loop should swallow (like KeyboardInterrupt)."""

    abort = Abort()
    queue = RetryQueue(ScriptedStore([abort]), clock=RealClock())
    queue.enqueue(ACTOR, "Placed", {"n": 0})
    queue.enqueue(ACTOR, "Placed", {"n": 1})
    queue.start()
    with pytest.raises(RuntimeError, match="1 write"):
        queue.close()
    assert [e.error for e in queue.errors] == [abort]


# --------------------------------------------------------------------------- stopping


def test_stop_with_drain_saves_every_queued_write_before_returning() -> None:
    store = ScriptedStore(["down"] * 4)
    queue = started(store)
    tickets = [queue.enqueue(ACTOR, "Placed", {"n": n}) for n in range(3)]
    assert queue.stop(drain=True) is True
    assert [t.outcome for t in tickets] == ["committed"] * 3
    assert queue.depth == 0


def test_a_stopped_queue_refuses_new_writes() -> None:
    queue = started(ScriptedStore())
    queue.stop()
    with pytest.raises(RuntimeError, match="stopped"):
        queue.enqueue(ACTOR, "Placed")


def test_stop_without_drain_finishes_the_write_in_hand_and_leaves_the_rest_queued() -> None:
    store, sim = ScriptedStore(["down"]), SimulatedClock()
    queue = started(store, sim, base_delay=1.0)
    tickets = [queue.enqueue(ACTOR, "Placed", {"n": n}) for n in range(3)]
    sim.sleep(0.5)  # the worker took the first write and backs off after its failure
    assert queue.stop(drain=False) is True
    assert [t.outcome for t in tickets] == ["committed", "pending", "pending"]
    assert queue.depth == 2


def test_a_stopped_queue_can_be_started_again_to_save_what_is_left() -> None:
    store, sim = ScriptedStore(["down"]), SimulatedClock()
    queue = started(store, sim, base_delay=1.0)
    tickets = [queue.enqueue(ACTOR, "Placed", {"n": n}) for n in range(3)]
    sim.sleep(0.5)
    queue.stop(drain=False)
    queue.start().close()
    assert [t.outcome for t in tickets] == ["committed"] * 3
    assert writers_in_store(store) == [0, 1, 2]


def test_stop_with_a_timeout_returns_false_while_the_worker_is_still_retrying() -> None:
    store, sim = ScriptedStore(["down"] * 3), SimulatedClock()
    queue = started(store, sim, base_delay=1.0, max_delay=1.0)
    ticket = queue.enqueue(ACTOR, "Placed")
    assert queue.stop(timeout=1.5) is False
    assert (sim.now(), ticket.outcome) == (1.5, "pending")
    assert queue.stop() is True
    assert (sim.now(), ticket.outcome) == (3.0, "committed")


def test_close_refuses_to_discard_writes_silently() -> None:
    queue = RetryQueue(ScriptedStore(), clock=SimulatedClock())  # never started: nobody saves
    queue.enqueue(ACTOR, "Placed")
    with pytest.raises(RuntimeError, match="1 write"):
        queue.close()


def test_a_ticket_can_be_waited_on_in_clock_time() -> None:
    store, sim = ScriptedStore(["down"]), SimulatedClock()
    queue = started(store, sim, base_delay=1.0)
    ticket = queue.enqueue(ACTOR, "Placed")
    assert ticket.wait(timeout=0.5) is False
    assert ticket.wait() is True
    assert (sim.now(), ticket.settled_at, ticket.outcome) == (1.0, 1.0, "committed")


# --------------------------------------------------------------------------- metrics


def test_depth_is_sampled_at_every_enqueue_and_dequeue() -> None:
    sim = SimulatedClock()
    queue = started(ScriptedStore(["down"]), sim, base_delay=1.0)
    queue.enqueue(ACTOR, "Placed", {"n": 0})
    queue.enqueue(ACTOR, "Placed", {"n": 1})
    sim.sleep(0.5)  # the worker takes the first write, fails, backs off for 1 s
    queue.enqueue(ACTOR, "Placed", {"n": 2})
    queue.close()
    assert queue.depth_samples == [(0.0, 1), (0.0, 2), (0.0, 1), (0.5, 2), (1.0, 1), (1.0, 0)]
    assert queue.max_depth == 2
    assert queue.delays == [1.0, 1.0, 0.5]


# --------------------------------------------------------------------------- settings and real threads


@pytest.mark.parametrize(("settings", "message"), [
    ({"max_attempts": 0}, "max_attempts"),
    ({"base_delay": -1}, "base_delay"),
    ({"base_delay": 2.0, "max_delay": 1.0}, "max_delay"),
    ({"workers": 0}, "workers"),
])
def test_bad_settings_are_refused_naming_the_setting(settings: dict[str, object], message: str) -> None:
    with pytest.raises((ValueError, TypeError), match=message):
        RetryQueue(ScriptedStore(), clock=SimulatedClock(), **settings)  # type: ignore[arg-type]
    with pytest.raises((ValueError, TypeError), match=message):
        QueuedWrites(**settings)  # type: ignore[arg-type]


def test_a_clock_that_cannot_run_a_worker_is_refused() -> None:
    class SleepOnly:
        def now(self) -> float:
            return 0.0

        def sleep(self, seconds: float) -> None: ...

    with pytest.raises(TypeError, match="spawn"):
        RetryQueue(ScriptedStore(), clock=SleepOnly())  # type: ignore[arg-type]


def test_writers_on_real_threads_lose_nothing_through_a_flaky_store() -> None:
    store = ScriptedStore(["down", "ok", "lost-reply", "rival"] * 10)
    queue = RetryQueue(store, clock=RealClock(), base_delay=0.001, max_delay=0.004).start()
    tickets: list[Ticket] = []

    def writer(w: int) -> None:
        for s in range(10):
            tickets.append(queue.enqueue(ACTOR, "Placed", {"n": w * 10 + s}))

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    queue.close()
    assert all(t.outcome == "committed" for t in tickets)
    assert sorted(writers_in_store(store)) == list(range(80))
    assert len(queue.depth_samples) == 160  # 80 enqueues, 80 dequeues


# --------------------------------------------------------------------------- in the experiment


def test_twenty_writers_through_the_queue_all_commit_and_callers_never_wait() -> None:
    policy = QueuedWrites()
    result = run_contention(policy, writers=20, seed=3)
    saves = result.saves
    assert (saves["outcome"] == "committed").all()
    assert (saves["latency"] == 0).all()  # enqueue costs no store call
    assert (saves["commit_delay"] > 0).all()
    queue = policy.queues[-1]
    assert (queue.committed, queue.max_depth, queue.dead_letters) == (20, 20, [])
    writers = set(result.calls["writer"])
    assert writers == {-1}  # only the worker touches the store
    assert (result.calls["result"] == "ok").all()  # one writer at a time: no conflict at all


def test_the_same_seed_gives_the_same_queued_run() -> None:
    first = run_contention(QueuedWrites(), writers=20, seed=5)
    second = run_contention(QueuedWrites(), writers=20, seed=5)
    assert first.saves.equals(second.saves)


def test_several_workers_drain_the_queue_consistently() -> None:
    policy = QueuedWrites(workers=3)
    result = run_contention(policy, writers=20, seed=1)
    assert (result.saves["outcome"] == "committed").all()
    assert policy.queues[-1].committed == 20


def test_the_queue_runs_with_real_threads_in_the_experiment() -> None:
    result = run_contention(QueuedWrites(), writers=20, saves_per_writer=2, clock="real",
                            network=NetworkModel.instant(), seed=0)
    assert (result.saves["outcome"] == "committed").all()
    assert len(result.saves) == 40
