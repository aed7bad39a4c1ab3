"""Specification of the two clocks: `SimulatedClock` (virtual time) and `RealClock` (wall time)."""

from __future__ import annotations

import math
import random
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from aether.clock import (
    DEFAULT_HORIZON,
    Clock,
    RealClock,
    Signal,
    SimSignal,
    SimTask,
    SimulatedClock,
    SimulationDeadlockError,
    SimulationHorizonError,
    Task,
    TaskClock,
)
from aether.store import InMemoryEventStore

BAD_TYPES = ["1", None, [1], 1j, True]
BAD_VALUES = [-1, -0.001, math.nan, math.inf, -math.inf]


def sleeper(clock: SimulatedClock, log: list[tuple[str, float]], name: str, *delays: float) -> None:
    """A task that sleeps each delay in turn and logs (name, now) after each wake-up."""
    for delay in delays:
        clock.sleep(delay)
        log.append((name, clock.now()))


def after(clock: SimulatedClock, delay: float, *actions: Callable[[], object]) -> None:
    """A task that sleeps *delay*, then calls each action in turn."""
    clock.sleep(delay)
    for action in actions:
        action()


# --------------------------------------------------------------------------- protocols


def test_both_clocks_satisfy_the_task_clock_protocol() -> None:
    for clock in (RealClock(), SimulatedClock()):
        assert isinstance(clock, Clock)
        assert isinstance(clock, TaskClock)


def test_simulated_tasks_and_signals_satisfy_their_protocols() -> None:
    clock = SimulatedClock()
    task = clock.spawn(lambda: None)
    assert isinstance(task, Task)
    assert isinstance(clock.signal(), Signal)


# --------------------------------------------------------------------------- virtual time


def test_a_new_clock_starts_at_its_start_time() -> None:
    assert SimulatedClock().now() == 0.0
    assert SimulatedClock(start=100.0).now() == 100.0


def test_virtual_time_jumps_straight_to_the_next_wake_up() -> None:
    clock = SimulatedClock(start=10.0)
    log: list[tuple[str, float]] = []
    clock.spawn(sleeper, clock, log, "long", 3600.0)
    clock.spawn(sleeper, clock, log, "short", 0.5)
    started = time.monotonic()
    clock.run()
    assert log == [("short", 10.5), ("long", 3610.0)]
    assert clock.now() == 3610.0
    assert time.monotonic() - started < 60  # an hour of virtual time is not waited for


def test_now_inside_a_task_reads_the_virtual_time_before_and_after_a_sleep() -> None:
    clock = SimulatedClock(start=10.0)
    seen: list[float] = []

    def task() -> None:
        seen.append(clock.now())
        clock.sleep(1.5)
        seen.append(clock.now())

    clock.spawn(task)
    clock.run()
    assert seen == [10.0, 11.5]


def test_tasks_wake_in_order_of_wake_up_time() -> None:
    clock = SimulatedClock()
    log: list[tuple[str, float]] = []
    clock.spawn(sleeper, clock, log, "a", 2.0)
    clock.spawn(sleeper, clock, log, "b", 1.0)
    clock.spawn(sleeper, clock, log, "c", 3.0)
    clock.run()
    assert log == [("b", 1.0), ("a", 2.0), ("c", 3.0)]


def test_tasks_waking_at_the_same_time_run_in_spawn_order() -> None:
    clock = SimulatedClock()
    log: list[tuple[str, float]] = []
    names = [f"w{i}" for i in range(10)]
    for name in names:
        clock.spawn(sleeper, clock, log, name, 1.0)
    clock.run()
    assert [name for name, _ in log] == names
    assert {t for _, t in log} == {1.0}


def test_ties_go_to_whoever_scheduled_the_wake_up_first_not_who_was_spawned_first() -> None:
    clock = SimulatedClock()
    log: list[tuple[str, float]] = []
    # "early" is spawned first but schedules its t=2 wake-up at t=1;
    # "late" scheduled its t=2 wake-up at t=0, so it wakes first.
    clock.spawn(sleeper, clock, log, "early", 1.0, 1.0)
    clock.spawn(sleeper, clock, log, "late", 2.0)
    clock.run()
    assert log == [("early", 1.0), ("late", 2.0), ("early", 2.0)]


def test_sleep_zero_lets_every_other_task_due_now_run_first() -> None:
    clock = SimulatedClock()
    log: list[str] = []

    def polite() -> None:
        log.append("polite before")
        clock.sleep(0)
        log.append("polite after")

    clock.spawn(polite)
    clock.spawn(lambda: log.append("other"))
    clock.run()
    assert log == ["polite before", "other", "polite after"]
    assert clock.now() == 0.0


def test_sleep_zero_with_nobody_else_due_returns_at_once() -> None:
    clock = SimulatedClock()
    log: list[tuple[str, float]] = []
    clock.spawn(sleeper, clock, log, "alone", 0, 0, 0)
    clock.spawn(sleeper, clock, log, "later", 1.0)
    clock.run()
    assert log == [("alone", 0.0), ("alone", 0.0), ("alone", 0.0), ("later", 1.0)]


def test_a_thousand_writers_each_sleeping_a_few_times_all_complete() -> None:
    clock = SimulatedClock()
    finished: list[int] = []

    def writer(i: int) -> None:
        for _ in range(3):
            clock.sleep(0.001 * (1 + i % 10))
        finished.append(i)

    for i in range(1000):
        clock.spawn(writer, i, name=f"writer-{i}")
    clock.run()
    assert sorted(finished) == list(range(1000))
    assert clock.pending == 0
    assert clock.now() == pytest.approx(0.030)  # the slowest writer: 3 x 10 ms


def test_a_long_chain_of_tasks_each_spawning_the_next_completes() -> None:
    clock = SimulatedClock()
    reached: list[int] = []

    def link(i: int) -> None:
        reached.append(i)
        if i < 1500:
            clock.spawn(link, i + 1)
        clock.sleep(1.0)

    clock.spawn(link, 0)
    clock.run()
    assert reached == list(range(1501))  # longer than the recursion limit


# --------------------------------------------------------------------------- invalid durations


@pytest.mark.parametrize("clock", [RealClock(), SimulatedClock()], ids=["real", "simulated"])
@pytest.mark.parametrize("seconds", BAD_VALUES, ids=repr)
def test_sleep_rejects_negative_nan_and_infinite_durations_naming_the_value(clock: Clock, seconds: float) -> None:
    with pytest.raises(ValueError, match="finite number of seconds >= 0; got " + repr(seconds)):
        clock.sleep(seconds)


@pytest.mark.parametrize("clock", [RealClock(), SimulatedClock()], ids=["real", "simulated"])
@pytest.mark.parametrize("seconds", BAD_TYPES, ids=repr)
def test_sleep_rejects_what_is_not_a_number_naming_its_type(clock: Clock, seconds: Any) -> None:
    with pytest.raises(TypeError, match=f"number of seconds; got .*{type(seconds).__name__}"):
        clock.sleep(seconds)


def test_a_rejected_sleep_leaves_the_simulated_clock_unchanged() -> None:
    clock = SimulatedClock(start=5.0, record_sleeps=True)
    with pytest.raises(ValueError):
        clock.sleep(-1)
    assert clock.now() == 5.0
    assert clock.sleeps == []


def test_sleep_accepts_ints_and_other_real_numbers() -> None:
    from fractions import Fraction

    clock = SimulatedClock()
    clock.sleep(2)
    clock.sleep(Fraction(1, 2))  # type: ignore[arg-type]  # any real number works
    assert clock.now() == 2.5
    assert type(clock.now()) is float


@pytest.mark.parametrize(
    ("call", "what"),
    [
        (lambda c: c.run(until=-1.0), "run until"),
        (lambda c: c.signal().wait(timeout=math.nan), "wait timeout"),
        (lambda c: c.spawn(lambda: None).join(timeout=-2), "join timeout"),
        (lambda c: SimulatedClock(start=math.inf), "start"),
    ],
    ids=["run-until", "wait-timeout", "join-timeout", "start"],
)
def test_other_durations_are_checked_and_named_in_the_error(call: Callable[[SimulatedClock], Any], what: str) -> None:
    with pytest.raises(ValueError, match=what):
        call(SimulatedClock())


# --------------------------------------------------------------------------- outside a run


def test_sleep_outside_a_run_advances_time_and_runs_the_tasks_due_meanwhile() -> None:
    clock = SimulatedClock()
    log: list[tuple[str, float]] = []
    clock.spawn(sleeper, clock, log, "soon", 1.0)
    clock.spawn(sleeper, clock, log, "later", 5.0)
    clock.sleep(2.0)
    assert clock.now() == 2.0
    assert log == [("soon", 1.0)]
    assert clock.pending == 1


def test_sleep_outside_a_run_with_no_tasks_just_advances_time() -> None:
    clock = SimulatedClock()
    clock.sleep(0.25)
    clock.sleep(0.75)
    assert clock.now() == 1.0


def test_record_sleeps_lists_every_requested_sleep_in_order() -> None:
    clock = SimulatedClock(record_sleeps=True)
    clock.spawn(sleeper, clock, [], "task", 0.5, 0.25)
    clock.sleep(1)  # recorded first; the task then runs inside this sleep
    clock.run()
    assert clock.sleeps == [1.0, 0.5, 0.25]


def test_sleeps_are_not_recorded_by_default() -> None:
    clock = SimulatedClock()
    clock.sleep(1.0)
    assert clock.sleeps is None


def test_run_until_stops_at_that_time_and_a_later_run_carries_on() -> None:
    clock = SimulatedClock()
    log: list[tuple[str, float]] = []
    clock.spawn(sleeper, clock, log, "ticker", 1.0, 1.0, 1.0)
    clock.run(until=2.0)
    assert log == [("ticker", 1.0), ("ticker", 2.0)]  # a wake-up due at `until` itself runs
    assert clock.now() == 2.0
    assert clock.pending == 1
    clock.run()
    assert log[-1] == ("ticker", 3.0)
    assert clock.pending == 0


def test_run_until_runs_every_wake_up_due_exactly_then() -> None:
    clock = SimulatedClock()
    log: list[tuple[str, float]] = []
    clock.spawn(sleeper, clock, log, "a", 1.0)
    clock.spawn(sleeper, clock, log, "b", 2.0)
    clock.spawn(sleeper, clock, log, "c", 2.0, 0.5)
    clock.run(until=2.0)
    assert log == [("a", 1.0), ("b", 2.0), ("c", 2.0)]
    assert clock.pending == 1


def test_run_until_moves_the_clock_to_that_time_even_with_nothing_to_do() -> None:
    clock = SimulatedClock()
    clock.run(until=7.5)
    assert clock.now() == 7.5


def test_run_until_does_not_call_a_waiting_task_a_deadlock() -> None:
    clock = SimulatedClock()
    signal = clock.signal("later")
    clock.spawn(signal.wait)
    clock.run(until=1.0)  # code outside may still set the signal
    signal.set()
    clock.run()
    assert clock.pending == 0


# --------------------------------------------------------------------------- determinism


def contended_program(seed: int) -> list[tuple[str, float, int]]:
    """Five writers race a read-sleep-write on one counter; returns who wrote what, when."""
    clock = SimulatedClock()
    counter = [0]
    trace: list[tuple[str, float, int]] = []

    def writer(name: str, rng: random.Random) -> None:
        for _ in range(20):
            seen = counter[0]
            clock.sleep(rng.expovariate(100.0))
            counter[0] = seen + 1  # lost updates depend on the interleaving
            trace.append((name, clock.now(), counter[0]))

    for i in range(5):
        clock.spawn(writer, f"w{i}", random.Random(f"{seed}-{i}"), name=f"w{i}")
    clock.run()
    return trace


def test_the_same_seeds_give_the_identical_trace_twice() -> None:
    first = contended_program(seed=1)
    assert len(first) == 100
    assert len({name for name, _, _ in first[:10]}) > 1  # the writers really interleave
    assert contended_program(seed=1) == first


def test_different_seeds_give_different_traces() -> None:
    assert contended_program(seed=1) != contended_program(seed=2)


# --------------------------------------------------------------------------- signals


def test_wait_returns_true_when_another_task_sets_the_signal() -> None:
    clock = SimulatedClock()
    signal = clock.signal("ready")
    seen: list[tuple[bool, float]] = []
    clock.spawn(lambda: seen.append((signal.wait(), clock.now())))
    clock.spawn(after, clock, 3.0, signal.set)
    clock.run()
    assert seen == [(True, 3.0)]


def test_wait_returns_false_when_the_timeout_passes_at_that_virtual_time() -> None:
    clock = SimulatedClock(start=1.0)
    signal = clock.signal("never")
    seen: list[tuple[bool, float]] = []
    clock.spawn(lambda: seen.append((signal.wait(timeout=2.0), clock.now())))
    clock.run()
    assert seen == [(False, 3.0)]


def test_wait_on_a_set_signal_returns_true_without_time_passing() -> None:
    clock = SimulatedClock()
    signal = clock.signal()
    signal.set()
    log: list[str] = []

    def waiter() -> None:
        assert signal.wait(timeout=5.0) is True
        log.append("waiter")

    clock.spawn(waiter)
    clock.spawn(lambda: log.append("other"))
    clock.run()
    assert log == ["waiter", "other"]  # it did not even yield
    assert clock.now() == 0.0


def test_clear_resets_the_flag_so_waiters_block_again() -> None:
    clock = SimulatedClock()
    signal = clock.signal()
    signal.set()
    signal.clear()
    assert not signal.is_set()
    seen: list[tuple[bool, float]] = []
    clock.spawn(lambda: seen.append((signal.wait(timeout=1.0), clock.now())))
    clock.run()
    assert seen == [(False, 1.0)]


def test_set_wakes_every_waiter_in_the_order_they_started_waiting() -> None:
    clock = SimulatedClock()
    signal = clock.signal("go")
    woken: list[tuple[int, float]] = []

    def waiter(i: int) -> None:
        clock.sleep(i * 0.1)  # start waiting at different times, in order 4, 3, 2, 1, 0
        signal.wait()
        woken.append((i, clock.now()))

    for i in reversed(range(5)):
        clock.spawn(waiter, i)
    clock.spawn(after, clock, 1.0, signal.set)
    clock.run()
    assert woken == [(i, 1.0) for i in range(5)]


def test_a_waiter_whose_timeout_fired_is_not_woken_again_by_a_later_set() -> None:
    clock = SimulatedClock()
    signal = clock.signal("late")
    log: list[tuple[str, Any, float]] = []

    def waiter() -> None:
        log.append(("wait", signal.wait(timeout=1.0), clock.now()))
        clock.sleep(5.0)  # a second wake-up from set() at t=2 would cut this short
        log.append(("slept", None, clock.now()))

    clock.spawn(waiter)
    clock.spawn(after, clock, 2.0, signal.set)
    clock.run()
    assert log == [("wait", False, 1.0), ("slept", None, 6.0)]


def test_a_waiter_woken_by_set_is_not_woken_again_by_its_timeout() -> None:
    clock = SimulatedClock()
    signal = clock.signal("early")
    log: list[tuple[str, Any, float]] = []

    def waiter() -> None:
        log.append(("wait", signal.wait(timeout=5.0), clock.now()))
        clock.sleep(10.0)  # its stale timeout at t=5 must not cut this short
        log.append(("slept", None, clock.now()))

    clock.spawn(waiter)
    clock.spawn(after, clock, 1.0, signal.set)
    clock.run()
    assert log == [("wait", True, 1.0), ("slept", None, 11.0)]


def test_wait_outside_a_run_returns_as_soon_as_a_task_sets_the_signal() -> None:
    clock = SimulatedClock()
    signal = clock.signal("ready")
    clock.spawn(after, clock, 1.0, signal.set, lambda: clock.sleep(10.0))
    assert signal.wait() is True
    assert clock.now() == 1.0
    assert clock.pending == 1


def test_wait_outside_a_run_with_a_timeout_returns_false_at_the_deadline() -> None:
    clock = SimulatedClock()
    signal = clock.signal()
    assert signal.wait(timeout=2.5) is False
    assert clock.now() == 2.5


def test_a_signal_set_outside_a_run_wakes_its_waiters_at_the_next_run() -> None:
    clock = SimulatedClock()
    signal = clock.signal()
    seen: list[tuple[bool, float]] = []
    clock.spawn(lambda: seen.append((signal.wait(), clock.now())))
    clock.run(until=4.0)
    signal.set()
    clock.run()
    assert seen == [(True, 4.0)]


# --------------------------------------------------------------------------- tasks


def test_spawn_names_a_task_after_its_function_unless_given_a_name() -> None:
    clock = SimulatedClock()

    def flush() -> None:
        pass

    assert clock.spawn(flush).name == "flush"
    assert clock.spawn(flush, name="flusher-2").name == "flusher-2"


@pytest.mark.parametrize("clock", [RealClock(), SimulatedClock()], ids=["real", "simulated"])
def test_spawn_rejects_what_is_not_callable(clock: TaskClock) -> None:
    with pytest.raises(TypeError, match="spawn takes a callable; got 42"):
        clock.spawn(42)  # type: ignore[arg-type]


def test_a_task_starts_only_when_the_simulation_runs() -> None:
    clock = SimulatedClock()
    ran: list[bool] = []
    task = clock.spawn(lambda: ran.append(True))
    assert ran == [] and not task.done() and clock.pending == 1
    clock.run()
    assert ran == [True] and task.done() and clock.pending == 0


def test_a_finished_task_keeps_its_return_value() -> None:
    clock = SimulatedClock()
    task = clock.spawn(lambda a, b: a + b, 2, 3)
    clock.run()
    assert task.result == 5
    assert task.exception is None


def test_join_from_another_task_waits_until_that_task_finishes() -> None:
    clock = SimulatedClock()

    def worker_fn() -> int:
        clock.sleep(2.0)
        return 42

    worker = clock.spawn(worker_fn, name="worker")
    seen: list[tuple[bool, Any, float]] = []
    clock.spawn(lambda: seen.append((worker.join(), worker.result, clock.now())))
    clock.run()
    assert seen == [(True, 42, 2.0)]


def test_join_from_outside_a_run_runs_the_simulation_until_the_task_is_done() -> None:
    clock = SimulatedClock()
    worker = clock.spawn(clock.sleep, 2.0)
    other = clock.spawn(clock.sleep, 9.0)
    assert worker.join() is True
    assert clock.now() == 2.0
    assert not other.done()


def test_join_with_a_timeout_returns_false_if_the_task_is_still_running() -> None:
    clock = SimulatedClock()
    worker = clock.spawn(clock.sleep, 2.0)
    assert worker.join(timeout=1.0) is False
    assert clock.now() == 1.0
    assert not worker.done()


def test_join_of_a_finished_task_returns_true_at_once() -> None:
    clock = SimulatedClock()
    worker = clock.spawn(lambda: None)
    clock.run()
    assert worker.join() is True
    assert clock.now() == 0.0


def test_a_task_cannot_join_itself() -> None:
    clock = SimulatedClock()
    box: list[SimTask] = []
    box.append(clock.spawn(lambda: box[0].join(), name="selfish"))
    with pytest.raises(RuntimeError, match="'selfish' cannot join itself"):
        clock.run()


def test_a_task_can_spawn_tasks_that_run_in_the_same_simulation() -> None:
    clock = SimulatedClock()
    log: list[tuple[str, float]] = []

    def parent() -> None:
        clock.sleep(1.0)
        children = [clock.spawn(sleeper, clock, log, f"child-{i}", float(i)) for i in (1, 2, 3)]
        for child in children:
            child.join()
        log.append(("parent", clock.now()))

    clock.spawn(parent)
    clock.run()
    assert log == [("child-1", 2.0), ("child-2", 3.0), ("child-3", 4.0), ("parent", 4.0)]


def test_an_exception_escaping_a_task_is_reraised_by_run_with_a_note_naming_the_task() -> None:
    clock = SimulatedClock()

    def faulty() -> None:
        clock.sleep(1.5)
        raise KeyError("boom")

    task = clock.spawn(faulty, name="faulty-writer")
    with pytest.raises(KeyError, match="boom") as excinfo:
        clock.run()
    assert task.exception is excinfo.value
    assert any("'faulty-writer'" in note and "t=1.5" in note for note in excinfo.value.__notes__)


def test_after_a_task_failed_a_later_run_carries_on_with_the_other_tasks() -> None:
    clock = SimulatedClock()
    log: list[tuple[str, float]] = []
    clock.spawn(after, clock, 1.0, lambda: 1 / 0)
    clock.spawn(sleeper, clock, log, "survivor", 2.0)
    with pytest.raises(ZeroDivisionError):
        clock.run()
    clock.run()
    assert log == [("survivor", 2.0)]


def test_run_may_be_called_from_another_greenlet_than_the_one_that_spawned_the_tasks() -> None:
    from greenlet import greenlet

    clock = SimulatedClock()
    log: list[tuple[str, float]] = []
    clock.spawn(sleeper, clock, log, "a", 1.0)
    clock.spawn(sleeper, clock, log, "b", 2.0)
    greenlet(clock.run).switch()
    assert log == [("a", 1.0), ("b", 2.0)]
    assert clock.pending == 0


def test_run_from_inside_a_task_is_refused() -> None:
    clock = SimulatedClock()
    errors: list[RuntimeError] = []

    def nested() -> None:
        try:
            clock.run()
        except RuntimeError as exc:
            errors.append(exc)

    clock.spawn(nested)
    clock.run()
    assert len(errors) == 1
    assert "inside a simulated task" in str(errors[0])


# --------------------------------------------------------------------------- deadlocks


def test_a_task_waiting_forever_is_a_deadlock_naming_the_task_and_the_signal() -> None:
    clock = SimulatedClock()
    signal = clock.signal("retry-queue")
    clock.spawn(signal.wait, name="retry-worker")
    clock.spawn(clock.sleep, 3.0, name="finisher")
    with pytest.raises(SimulationDeadlockError, match=r"'retry-worker' waits on signal 'retry-queue'") as excinfo:
        clock.run()
    assert "t=3.0" in str(excinfo.value)
    assert "finisher" not in str(excinfo.value)


def test_tasks_joining_each_other_in_a_cycle_are_a_deadlock() -> None:
    clock = SimulatedClock()
    tasks: dict[str, SimTask] = {}
    tasks["a"] = clock.spawn(lambda: tasks["b"].join(), name="a")
    tasks["b"] = clock.spawn(lambda: tasks["a"].join(), name="b")
    with pytest.raises(SimulationDeadlockError, match="2 task"):
        clock.run()


def test_waiting_outside_a_run_on_a_signal_nothing_can_set_is_a_deadlock() -> None:
    clock = SimulatedClock()
    signal: SimSignal = clock.signal("orphan")
    with pytest.raises(SimulationDeadlockError, match="caller waits on signal 'orphan'"):
        signal.wait()


def test_a_deadlock_error_is_a_runtime_error() -> None:
    assert issubclass(SimulationDeadlockError, RuntimeError)


# --------------------------------------------------------------------------- real clock


def test_real_now_never_goes_backwards() -> None:
    clock = RealClock()
    readings = [clock.now() for _ in range(1000)]
    assert readings == sorted(readings)


def test_real_sleep_really_waits_at_least_the_requested_time() -> None:
    clock = RealClock()
    started = time.monotonic()
    clock.sleep(0.05)
    assert time.monotonic() - started >= 0.05


def test_real_spawn_runs_the_function_in_another_thread_and_join_waits_for_it() -> None:
    clock = RealClock()
    where: list[threading.Thread] = []

    def work(x: int) -> int:
        where.append(threading.current_thread())
        return x * 2

    task = clock.spawn(work, 21, name="doubler")
    assert task.join(timeout=5.0) is True
    assert task.done()
    assert task.result == 42
    assert where[0] is not threading.main_thread()
    assert where[0].name == "doubler"


def test_real_join_with_a_timeout_returns_false_while_the_thread_runs() -> None:
    clock = RealClock()
    release = threading.Event()
    task = clock.spawn(release.wait)
    assert task.join(timeout=0.01) is False
    release.set()
    assert task.join(timeout=5.0) is True


def test_real_task_keeps_the_exception_it_raised() -> None:
    clock = RealClock()

    def faulty() -> None:
        raise ValueError("bad")

    task = clock.spawn(faulty)
    task.join(timeout=5.0)
    assert isinstance(task.exception, ValueError)


def test_real_signal_is_a_threading_event() -> None:
    assert isinstance(RealClock().signal("ready"), threading.Event)


# --------------------------------------------------------------------------- with a store


def test_simulated_writers_contending_on_one_actor_all_save_in_version_order() -> None:
    from aether.errors import VersionConflictError
    from aether.events import Event

    clock = SimulatedClock()
    store = InMemoryEventStore()
    conflicts = [0]

    def writer(i: int) -> None:
        rng = random.Random(i)
        while True:
            version = store.get_latest_version("actor") + 1
            clock.sleep(0.010)
            try:
                store.save_event(Event(actor_id="actor", event_type="Bumped", version=version, data={"by": i}))
                return
            except VersionConflictError:
                conflicts[0] += 1
                clock.sleep(rng.uniform(0.0, 0.050))

    for i in range(20):
        clock.spawn(writer, i)
    clock.run()
    assert store.get_latest_version("actor") == 20
    assert sorted(e.data["by"] for e in store.get_events("actor")) == list(range(20))
    assert conflicts[0] > 0  # they really raced


def test_a_waiting_task_woken_by_set_gets_true_even_if_the_flag_is_cleared_at_once() -> None:
    clock = SimulatedClock()
    signal = clock.signal("pulse")
    seen: list[bool] = []
    clock.spawn(lambda: seen.append(signal.wait()))
    clock.spawn(after, clock, 1.0, signal.set, signal.clear)
    clock.run()
    assert seen == [True]


def test_wait_outside_a_run_notices_a_set_even_if_the_flag_is_cleared_at_once() -> None:
    clock = SimulatedClock()
    signal = clock.signal("pulse")
    clock.spawn(after, clock, 1.0, signal.set, signal.clear, lambda: clock.sleep(10.0))
    assert signal.wait() is True
    assert clock.now() == 1.0


# --------------------------------------------------------------------------- the horizon


def _retry_for_ever(clock: SimulatedClock) -> None:
    while True:  # a retry loop without a limit
        clock.sleep(1.0)


def test_a_task_that_never_stops_sleeping_ends_at_the_horizon_with_an_error_naming_it() -> None:
    clock = SimulatedClock(horizon=100.0)
    clock.spawn(_retry_for_ever, clock, name="writer-7")
    clock.spawn(lambda: clock.sleep(5.0), name="writer-1")  # finishes in time: not named
    with pytest.raises(SimulationHorizonError, match=r"horizon of 100 s.*1 task\(s\) still running: 'writer-7'") \
            as caught:
        clock.run()
    assert caught.value.tasks == ("writer-7",)
    assert clock.now() <= 100.0


def test_the_default_horizon_is_a_day_of_virtual_time_and_ends_an_endless_retry() -> None:
    clock = SimulatedClock()
    assert clock.horizon == DEFAULT_HORIZON == 86_400.0
    clock.spawn(lambda: _retry_for_ever_fast(clock), name="endless")
    with pytest.raises(SimulationHorizonError, match="'endless'"):
        clock.run()


def _retry_for_ever_fast(clock: SimulatedClock) -> None:
    while True:
        clock.sleep(60.0)


def test_the_horizon_counts_from_the_start_time_and_none_removes_it() -> None:
    late = SimulatedClock(start=1000.0, horizon=10.0)
    late.spawn(lambda: late.sleep(9.0))
    late.run()
    assert late.now() == 1009.0
    unbounded = SimulatedClock(horizon=None)
    unbounded.spawn(lambda: unbounded.sleep(10.0 * DEFAULT_HORIZON))
    unbounded.run()
    assert unbounded.now() == 10.0 * DEFAULT_HORIZON


def test_run_until_before_the_horizon_pauses_as_usual_and_an_idle_clock_may_pass_it() -> None:
    clock = SimulatedClock(horizon=10.0)
    clock.spawn(_retry_for_ever, clock, name="w")
    clock.run(until=5.0)
    assert clock.now() == 5.0
    with pytest.raises(SimulationHorizonError):
        clock.run(until=50.0)
    idle = SimulatedClock(horizon=10.0)
    idle.sleep(50.0)  # no task: nothing runs for ever, the clock just reads later
    assert idle.now() == 50.0


@pytest.mark.parametrize(("horizon", "error"), [(0, ValueError), (-1.0, ValueError), (math.nan, ValueError),
                                                (math.inf, ValueError), ("1", TypeError), (True, TypeError)])
def test_a_bad_horizon_is_refused_naming_it(horizon: object, error: type[Exception]) -> None:
    with pytest.raises(error, match="horizon"):
        SimulatedClock(horizon=horizon)  # type: ignore[arg-type]


@pytest.mark.parametrize("flag", [0, 1, "True", None])
def test_record_sleeps_must_be_a_bool(flag: object) -> None:
    with pytest.raises(TypeError, match="record_sleeps"):
        SimulatedClock(record_sleeps=flag)  # type: ignore[arg-type]


def test_tasks_that_run_one_after_another_share_one_greenlet() -> None:
    from greenlet import getcurrent

    clock = SimulatedClock()
    ran_on: list[object] = []

    def step(i: int) -> None:
        ran_on.append(getcurrent())
        if i < 5:
            clock.spawn(step, i + 1)  # starts once this one has ended

    clock.spawn(step, 0)
    clock.run()
    assert len(ran_on) == 6
    assert all(glet is ran_on[0] for glet in ran_on)


def test_a_task_joins_a_finished_task_from_the_greenlet_that_ran_it() -> None:
    clock = SimulatedClock()

    def later() -> Any:
        clock.sleep(1.0)
        second = clock.spawn(first.join, name="second")
        clock.sleep(1.0)  # still running when second starts: second takes the free greenlet, first's
        return second

    starter = clock.spawn(later, name="starter")
    first = clock.spawn(lambda: None, name="first")
    clock.run()
    second = starter.result
    assert first.done() and second.done()
    assert second.exception is None and second.result is True


def test_a_finished_run_leaves_no_greenlet_of_its_tasks_alive() -> None:
    import gc
    import weakref

    from greenlet import getcurrent

    clock = SimulatedClock()
    glets: list[weakref.ref[Any]] = []

    def task(i: int) -> None:
        glets.append(weakref.ref(getcurrent()))
        clock.sleep(0.001 * (i % 3))  # some end while others still run, and their greenlets wait for work

    for i in range(10):
        clock.spawn(task, i)
    clock.run(until=0.0015)
    clock.spawn(task, 10)
    clock.run()
    gc.collect()
    assert len(glets) == 11
    assert all(ref() is None for ref in glets)


def test_a_clock_keeps_at_most_max_idle_greenlets_waiting_for_work() -> None:
    import gc
    import weakref

    from greenlet import getcurrent

    from aether.clock import MAX_IDLE_GREENLETS

    clock = SimulatedClock()
    glets: list[weakref.ref[Any]] = []

    def writer() -> None:
        glets.append(weakref.ref(getcurrent()))
        clock.sleep(1.0)  # all 100 end together at t=1

    alive: list[int] = []

    def counter() -> None:
        clock.sleep(2.0)
        gc.collect()
        alive.append(sum(ref() is not None for ref in glets))

    for _ in range(100):
        clock.spawn(writer)
    clock.spawn(counter)
    clock.run()
    assert alive == [MAX_IDLE_GREENLETS]
