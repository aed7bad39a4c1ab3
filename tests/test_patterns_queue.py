"""Specification of RetryQueue: accept at once, save in the background, never lose a write."""

from __future__ import annotations

import contextlib
import math
import re
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest
from patternhelpers import ACTOR, ScriptedStore

from aether.clock import RealClock, SimulatedClock
from aether.errors import StoreUnavailableError
from aether.events import Event
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
    assert [(e.write, e.error) for e in queue.errors] == [(broken, bug)]
    assert fine.outcome == "committed"


class Abort(BaseException):
    """Something no retry loop should swallow (like KeyboardInterrupt)."""


class InterruptedAfterSaving(ScriptedStore):
    """A store whose first save lands and then raises KeyboardInterrupt (the reply and the worker are lost)."""

    def __init__(self) -> None:
        super().__init__()
        self.interrupted = False

    def save_event(self, event: Event) -> None:
        super().save_event(event)
        if not self.interrupted:
            self.interrupted = True
            raise KeyboardInterrupt


def test_a_worker_killed_by_an_error_is_recorded_and_close_reports_every_unsaved_write() -> None:
    abort = Abort()
    queue = RetryQueue(ScriptedStore([abort]), clock=RealClock())
    held = queue.enqueue(ACTOR, "Placed", {"n": 0})
    queued = queue.enqueue(ACTOR, "Placed", {"n": 1})
    queue.start()
    with pytest.raises(RuntimeError, match="2 write"):
        queue.close()
    assert [(e.write, e.error) for e in queue.errors] == [(held, abort)]
    assert (held.outcome, queued.outcome, queue.pending()) == ("dead_letter", "dead_letter", 0)


def test_close_after_a_killed_worker_dead_letters_the_unsaved_writes_with_the_cause() -> None:
    queue = RetryQueue(ScriptedStore([KeyboardInterrupt()]), clock=RealClock())
    tickets = [queue.enqueue(ACTOR, "Placed", {"n": n}) for n in range(3)]
    queue.start()
    with pytest.raises(RuntimeError, match="3 write"):
        queue.close()
    assert [t.outcome for t in tickets] == ["dead_letter"] * 3
    assert queue.dead_letters == tickets
    for ticket in tickets:
        assert isinstance(ticket.error, RuntimeError) and "closed before" in str(ticket.error)
        assert isinstance(ticket.error.__cause__, KeyboardInterrupt)
        assert ticket.wait(timeout=0) is True


@pytest.mark.parametrize("clock_kind", ["simulated", "real"])
def test_a_write_whose_worker_was_interrupted_is_saved_by_the_restarted_worker(clock_kind: str) -> None:
    store = ScriptedStore([KeyboardInterrupt()])
    clock = SimulatedClock() if clock_kind == "simulated" else RealClock()
    queue = RetryQueue(store, clock=clock)
    tickets = [queue.enqueue(ACTOR, "Placed", {"n": n}) for n in range(3)]
    queue.start()
    if clock_kind == "simulated":
        with pytest.raises(KeyboardInterrupt):  # a simulated task's error comes out of the run
            queue.stop()
    else:
        assert queue.stop(timeout=5.0) is True  # the worker thread died
    assert [t.outcome for t in tickets] == ["pending"] * 3
    assert (queue.depth, queue.pending()) == (3, 3)  # the write in hand went back to the head of the queue
    assert [(e.write, type(e.error)) for e in queue.errors] == [(tickets[0], KeyboardInterrupt)]
    queue.start().close()
    assert [t.outcome for t in tickets] == ["committed"] * 3
    assert writers_in_store(store) == [0, 1, 2]
    assert [t.event.version for t in tickets if t.event is not None] == [1, 2, 3]


@pytest.mark.parametrize("clock_kind", ["simulated", "real"])
def test_a_write_interrupted_after_it_landed_is_not_stored_twice_after_a_restart(clock_kind: str) -> None:
    store = InterruptedAfterSaving()
    clock = SimulatedClock() if clock_kind == "simulated" else RealClock()
    queue = RetryQueue(store, clock=clock)
    ticket = queue.enqueue(ACTOR, "Placed", {"n": 0})
    queue.start()
    with contextlib.suppress(KeyboardInterrupt):
        queue.stop(timeout=5.0)
    assert ticket.outcome == "pending"
    queue.start().close()
    assert ticket.outcome == "committed"
    assert writers_in_store(store) == [0]
    assert ticket.event == store.inner.get_events(ACTOR)[0]  # the same event, re-sent: a no-op


def test_an_interrupted_worker_of_several_leaves_its_write_to_the_others() -> None:
    store = ScriptedStore([KeyboardInterrupt()])
    queue = RetryQueue(store, clock=RealClock(), workers=2)
    tickets = [queue.enqueue(f"order-{n}", "Placed", {"n": n}) for n in range(6)]
    queue.start()
    for ticket in tickets:
        assert ticket.wait(timeout=5.0) is True
    queue.close()
    assert [t.outcome for t in tickets] == ["committed"] * 6
    assert sum(len(store.inner.get_events(f"order-{n}")) for n in range(6)) == 6


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


@pytest.mark.parametrize("clock_kind", ["simulated", "real"])
@pytest.mark.parametrize(("timeout", "error"), [
    ("1", TypeError), (True, TypeError), ([1.0], TypeError),
    (-1, ValueError), (math.nan, ValueError), (math.inf, ValueError),
])
def test_a_ticket_refuses_a_timeout_that_is_not_a_duration(clock_kind: str, timeout: object,
                                                           error: type[Exception]) -> None:
    clock = SimulatedClock() if clock_kind == "simulated" else RealClock()
    queue = RetryQueue(ScriptedStore(), clock=clock)
    ticket = queue.enqueue(ACTOR, "Placed")  # not started yet: stays pending
    with pytest.raises(error, match="timeout"):
        ticket.wait(timeout)  # type: ignore[arg-type]
    queue.start().close()


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
    ({"max_attempts": "3"}, "max_attempts"),
    ({"max_attempts": True}, "max_attempts"),
    ({"max_attempts": 2.0}, "max_attempts"),
    ({"base_delay": math.nan}, "base_delay"),
    ({"base_delay": "0.1"}, "base_delay"),
    ({"max_delay": math.inf}, "max_delay"),
    ({"workers": 1.5}, "workers"),
    ({"name": ""}, "name"),
    ({"name": 7}, "name"),
])
def test_bad_settings_are_refused_naming_the_setting(settings: dict[str, object], message: str) -> None:
    with pytest.raises((ValueError, TypeError), match=message):
        RetryQueue(ScriptedStore(), clock=SimulatedClock(), **settings)  # type: ignore[arg-type]
    with pytest.raises((ValueError, TypeError), match=message):
        QueuedWrites(**settings)  # type: ignore[arg-type]


@pytest.mark.parametrize(("settings", "error"), [
    ({"max_attempts": "3"}, TypeError), ({"max_attempts": 0}, ValueError),
    ({"base_delay": math.nan}, ValueError), ({"name": 7}, TypeError),
])
def test_a_bad_setting_is_a_type_or_value_error_that_shows_the_value(settings: dict[str, object],
                                                                     error: type[Exception]) -> None:
    (name, value), = settings.items()
    with pytest.raises(error, match=f"{name}.*{re.escape(repr(value))}"):
        RetryQueue(ScriptedStore(), clock=SimulatedClock(), **settings)  # type: ignore[arg-type]


def test_a_store_without_the_store_methods_is_refused() -> None:
    with pytest.raises(TypeError, match="store"):
        RetryQueue(object(), clock=SimulatedClock())  # type: ignore[arg-type]


@pytest.mark.parametrize(("arguments", "error", "message"), [
    ({"drain": "no"}, TypeError, "drain"),
    ({"drain": 0}, TypeError, "drain"),
    ({"timeout": -1}, ValueError, "timeout"),
    ({"timeout": "1"}, TypeError, "timeout"),
])
def test_stop_refuses_bad_arguments_before_stopping(arguments: dict[str, object], error: type[Exception],
                                                    message: str) -> None:
    queue = started(ScriptedStore())
    with pytest.raises(error, match=message):
        queue.stop(**arguments)  # type: ignore[arg-type]
    queue.enqueue(ACTOR, "Placed")  # still accepting: the bad call changed nothing


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


# --------------------------------------------------------------------------- writes lost at exit

EXIT_SCRIPT = textwrap.dedent("""
    import sys, threading, time
    from aether import InMemoryEventStore, RealClock
    from aether.patterns import RetryQueue

    class StuckStore(InMemoryEventStore):
        # A store whose saves never return, so the worker holds its write until the process ends.
        def save_event(self, event):
            threading.Event().wait()

    mode = sys.argv[1]
    queue = RetryQueue(InMemoryEventStore() if mode == "closed" else StuckStore(), clock=RealClock(), name="audit")
    for n in range(5):
        queue.enqueue("order-1", "Placed", {"n": n})
    if mode == "stuck":
        queue.start()
        deadline = time.monotonic() + 10
        while queue.depth != 4 and time.monotonic() < deadline:
            time.sleep(0.001)  # until the worker holds the first write
    if mode == "closed":
        queue.start().close()
    print("unsaved", queue.pending(), "queued", queue.depth, flush=True)
""")


def exit_without_close(tmp_path: Path, mode: str) -> subprocess.CompletedProcess[str]:
    """Run the script above in a fresh interpreter; it exits at its end, whatever the queue holds."""
    script = tmp_path / "exit_without_close.py"
    script.write_text(EXIT_SCRIPT)
    return subprocess.run([sys.executable, str(script), mode], capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize(("mode", "queued"), [("stuck", 4), ("never-started", 5)])
def test_a_process_that_exits_without_close_warns_how_many_accepted_writes_it_drops(
        tmp_path: Path, mode: str, queued: int) -> None:
    done = exit_without_close(tmp_path, mode)
    print(f"{mode}: exit status {done.returncode}; stdout {done.stdout.strip()!r}; stderr {done.stderr.strip()!r}")
    assert done.stdout.split() == ["unsaved", "5", "queued", str(queued)]  # one in the worker's hand, if started
    assert "RuntimeWarning: retry queue 'audit' ended without close() with 5 accepted write(s) never saved" \
        in done.stderr
    assert "DurableOutbox" in done.stderr  # and it says what to use instead


def test_a_process_whose_queue_was_closed_exits_without_a_warning(tmp_path: Path) -> None:
    done = exit_without_close(tmp_path, "closed")
    assert (done.returncode, done.stdout.split(), done.stderr) == (0, ["unsaved", "0", "queued", "0"], "")
