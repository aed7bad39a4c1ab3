"""Retry libraries in the harness: blocking sleeps caught and slept on the simulated clock, give-ups recognised."""

from __future__ import annotations

import functools
import threading
import time
import warnings
from collections.abc import Iterator
from typing import Any

import matplotlib
import matplotlib.pyplot as plt
import pytest

from aether import Event, SimulatedClock, VersionConflictError
from aether.errors import ConflictError
from aether.experiment import libraries, run_contention
from aether.experiment.libraries import (
    BlockingSleeps,
    BlockingSleepWarning,
    guard_blocking_sleeps,
    is_library_give_up,
)
from aether.patterns import immediate_retry, jitter_retry

matplotlib.use("Agg")


def save_once(store: Any, actor_id: str, event_type: str, data: Any = None) -> Any:
    event = Event(actor_id=actor_id, event_type=event_type, version=store.get_latest_version(actor_id) + 1, data=data)
    store.save_event(event)
    return event


def retry_sleeping_with(sleep: Any, store: Any, actor_id: str, event_type: str, data: Any = None) -> Any:
    """Retry conflicts after a fixed 50 ms wait made with *sleep*."""
    for _ in range(100):
        try:
            return save_once(store, actor_id, event_type, data)
        except VersionConflictError:
            sleep(0.05)
    raise AssertionError("unreachable in these tests")


def blocking_retry(store: Any, actor_id: str, event_type: str, data: Any = None, *, clock: Any) -> Any:
    return retry_sleeping_with(lambda seconds: time.sleep(seconds), store, actor_id, event_type, data)


def clock_retry(store: Any, actor_id: str, event_type: str, data: Any = None, *, clock: Any) -> Any:
    return retry_sleeping_with(clock.sleep, store, actor_id, event_type, data)


def same_calls(first: Any, second: Any) -> bool:
    return bool(first.calls.drop(columns="pattern").equals(second.calls.drop(columns="pattern")))


@pytest.fixture(autouse=True)
def _time_sleep_is_itself_again() -> Iterator[None]:
    real = time.sleep
    yield
    assert time.sleep is real, "a test left time.sleep replaced"
    plt.close("all")


# --------------------------------------------------------------------------- the blocking-sleep guard


def test_a_time_sleep_in_a_simulated_writer_sleeps_on_the_simulated_clock_and_warns() -> None:
    with pytest.warns(BlockingSleepWarning, match=r"clock\.sleep"):
        blocked = run_contention(blocking_retry, writers=10, seed=0)
    on_the_clock = run_contention(clock_retry, writers=10, seed=0)
    assert same_calls(blocked, on_the_clock)
    assert blocked.summary().makespan > 0.05 * 9  # the waits show in simulated time
    assert blocked.wall_seconds < 0.05 * blocked.summary().mean_retries * 10 / 2  # and were not slept for real


def test_the_warning_counts_the_sleeps_and_their_seconds_and_names_the_caller() -> None:
    with pytest.warns(BlockingSleepWarning) as caught:
        result = run_contention(blocking_retry, writers=10, seed=0)
    retries = int(result.saves["retries"].sum())
    warning = caught[0].message
    assert isinstance(warning, BlockingSleepWarning) and isinstance(warning.report, BlockingSleeps)
    assert warning.report.calls == retries
    assert warning.report.seconds == pytest.approx(0.05 * retries)
    assert set(warning.report.callers) == {f"{__name__}.blocking_retry.<locals>.<lambda>"}
    assert "'blocking_retry'" in str(warning) and f"{retries} time(s)" in str(warning)


def test_the_warning_points_at_the_caller_of_the_harness() -> None:
    with pytest.warns(BlockingSleepWarning) as caught:
        run_contention(blocking_retry, writers=3, seed=0)
    assert caught[0].filename == __file__


def test_a_pattern_left_on_the_default_real_clock_is_caught_too() -> None:
    def forgets_the_clock(store: Any, actor_id: str, event_type: str, data: Any = None, *, clock: Any) -> Any:
        return jitter_retry(store, actor_id, event_type, data, rng=None)  # no clock=: RealClock

    with pytest.warns(BlockingSleepWarning, match=r"aether\.clock\.RealClock\.sleep"):
        run_contention(forgets_the_clock, writers=5, seed=0)


def test_zero_second_sleeps_are_redirected_without_a_warning() -> None:
    def yields(store: Any, actor_id: str, event_type: str, data: Any = None, *, clock: Any) -> Any:
        return retry_sleeping_with(lambda _: time.sleep(0), store, actor_id, event_type, data)

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = run_contention(yields, writers=5, seed=0)
    assert result.summary().committed == 5


def test_a_run_without_blocking_sleeps_does_not_warn() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        run_contention(clock_retry, writers=5, seed=0)


def test_the_warning_can_be_made_an_error_and_time_sleep_is_restored() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", BlockingSleepWarning)
        with pytest.raises(BlockingSleepWarning):
            run_contention(blocking_retry, writers=3, seed=0)


def test_time_sleep_is_restored_when_the_run_fails_and_no_warning_is_given() -> None:
    class Stop(BaseException):
        pass

    def sleeps_then_stops(store: Any, actor_id: str, event_type: str, data: Any = None, *, clock: Any) -> Any:
        time.sleep(0.01)
        raise Stop

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(Stop):
            run_contention(sleeps_then_stops, writers=2, seed=0)


def test_sleeps_outside_the_simulated_tasks_are_real() -> None:
    clock = SimulatedClock()
    other_thread: list[float] = []

    def elsewhere() -> None:
        start = time.perf_counter()
        time.sleep(0.02)
        other_thread.append(time.perf_counter() - start)

    with guard_blocking_sleeps(clock, "test") as report:
        assert time.sleep is not libraries._real_sleep
        start = time.perf_counter()
        time.sleep(0.02)  # not in a task of the clock: a real sleep
        here = time.perf_counter() - start
        thread = threading.Thread(target=elsewhere)
        thread.start()
        thread.join()
    assert here >= 0.02 and other_thread[0] >= 0.02
    assert report.calls == 0 and clock.now() == 0.0


def test_guards_nest_and_each_counts_its_own_clock() -> None:
    outer_clock, inner_clock = SimulatedClock(), SimulatedClock()
    outer_clock.spawn(lambda: time.sleep(1.0))  # time.sleep looked up when the task runs
    inner_clock.spawn(lambda: time.sleep(2.0))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with guard_blocking_sleeps(outer_clock, "outer") as outer:
            with guard_blocking_sleeps(inner_clock, "inner") as inner:
                inner_clock.run()
            outer_clock.run()
            assert time.sleep is not libraries._real_sleep  # the outer guard is still on
    assert (outer.seconds, inner.seconds) == (1.0, 2.0)
    assert (outer_clock.now(), inner_clock.now()) == (1.0, 2.0)
    assert [str(w.message).split()[0] for w in caught] == ["'inner'", "'outer'"]


def test_the_guard_refuses_a_real_clock_a_bad_label_and_a_second_guard_on_one_clock() -> None:
    from aether import RealClock

    with pytest.raises(TypeError, match="SimulatedClock"):
        guard_blocking_sleeps(RealClock(), "x")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="label"):
        guard_blocking_sleeps(SimulatedClock(), 3)  # type: ignore[arg-type]
    clock = SimulatedClock()
    with guard_blocking_sleeps(clock, "first"):
        with pytest.raises(RuntimeError, match="already on"):
            with guard_blocking_sleeps(clock, "second"):
                pass


# --------------------------------------------------------------------------- give-ups of retry libraries


def test_is_library_give_up_recognises_tenacity_retry_error_by_name_and_module() -> None:
    RetryError = type("RetryError", (Exception,), {"__module__": "tenacity"})
    Subclass = type("MyRetryError", (RetryError,), {"__module__": "app"})
    Lookalike = type("RetryError", (Exception,), {"__module__": "elsewhere"})
    assert is_library_give_up(RetryError()) and is_library_give_up(Subclass())
    assert not is_library_give_up(Lookalike()) and not is_library_give_up(ValueError())


# --------------------------------------------------------------------------- with tenacity itself


@pytest.fixture
def tenacity() -> Any:
    return pytest.importorskip(
        "tenacity", reason='tenacity comes with the notebooks extra (pip install -e ".[notebooks]")'
    )


def tenacity_pattern(tenacity: Any, **settings: Any) -> Any:
    def pattern(store: Any, actor_id: str, event_type: str, data: Any = None, *, clock: Any) -> Any:
        retrying = tenacity.Retrying(sleep=clock.sleep, wait=tenacity.wait_exponential(multiplier=0.005, max=2.0),
                                     retry=tenacity.retry_if_exception_type(ConflictError), **settings)
        return retrying(save_once, store, actor_id, event_type, data)
    return pattern


def test_a_plain_tenacity_retry_function_runs_on_the_simulated_clock_with_a_warning(tenacity: Any) -> None:
    @tenacity.retry(wait=tenacity.wait_exponential(multiplier=0.005, max=2.0),
                    retry=tenacity.retry_if_exception_type(ConflictError), stop=tenacity.stop_after_attempt(50))
    def save_with_retry(store: Any, actor_id: str, event_type: str, data: Any) -> Any:
        return save_once(store, actor_id, event_type, data)

    def plain(store: Any, actor_id: str, event_type: str, data: Any = None, *, clock: Any) -> Any:
        return save_with_retry(store, actor_id, event_type, data)

    def given_the_clock(store: Any, actor_id: str, event_type: str, data: Any = None, *, clock: Any) -> Any:
        return save_with_retry.retry_with(sleep=clock.sleep)(store, actor_id, event_type, data)

    with pytest.warns(BlockingSleepWarning, match=r"tenacity\.nap\.sleep") as caught:
        blocked = run_contention(plain, writers=10, seed=0)
    assert same_calls(blocked, run_contention(given_the_clock, writers=10, seed=0))
    assert caught[0].message.report.seconds > 1.0 > blocked.wall_seconds


def test_tenacity_binds_its_default_sleep_at_import_so_only_time_sleep_can_be_replaced(tenacity: Any,
                                                                                     monkeypatch: Any) -> None:
    import tenacity.nap

    monkeypatch.setattr(tenacity.nap, "sleep", lambda seconds: None)
    assert tenacity.Retrying().sleep is not tenacity.nap.sleep  # the default argument kept the original


def test_a_tenacity_give_up_counts_as_gave_up_and_a_reraised_conflict_as_conflict(tenacity: Any) -> None:
    stop = tenacity.stop_after_attempt(2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        wrapped = run_contention(tenacity_pattern(tenacity, stop=stop), writers=10, seed=0)
        reraised = run_contention(tenacity_pattern(tenacity, stop=stop, reraise=True), writers=10, seed=0)
    gave_up = wrapped.saves[wrapped.saves["outcome"] != "committed"]
    assert len(gave_up) > 0 and set(gave_up["outcome"]) == {"gave_up"} and set(gave_up["error"]) == {""}
    assert (reraised.saves["outcome"].replace("conflict", "gave_up") == wrapped.saves["outcome"]).all()
    assert same_calls(wrapped, reraised)


# --------------------------------------------------------------------------- with stamina itself


@pytest.fixture
def stamina() -> Iterator[Any]:
    stamina = pytest.importorskip(
        "stamina", reason='stamina comes with the notebooks extra (pip install -e ".[notebooks]")'
    )
    stamina.instrumentation.set_on_retry_hooks([])  # its default hook logs every retry
    yield stamina
    stamina.instrumentation.set_on_retry_hooks(None)


def stamina_pattern(stamina: Any) -> Any:
    @stamina.retry(on=ConflictError)
    def save_with_retry(store: Any, actor_id: str, event_type: str, data: Any) -> Any:
        return save_once(store, actor_id, event_type, data)

    def pattern(store: Any, actor_id: str, event_type: str, data: Any = None, *, clock: Any) -> Any:
        return save_with_retry(store, actor_id, event_type, data)
    return pattern


def test_stamina_sync_retries_run_on_the_simulated_clock_with_a_warning(stamina: Any) -> None:
    with pytest.warns(BlockingSleepWarning, match=r"tenacity\.nap\.sleep") as caught:
        result = run_contention(stamina_pattern(stamina), writers=5, seed=0)
    report = caught[0].message.report
    assert result.summary().committed == 5
    assert report.calls == int(result.saves["retries"].sum()) and report.seconds >= 0.1 * report.calls
    assert result.summary().makespan >= 0.1 and result.wall_seconds < report.seconds


def test_stamina_testing_mode_is_immediate_retry_call_for_call_without_a_warning(stamina: Any) -> None:
    with stamina.set_testing(True, attempts=3), warnings.catch_warnings():
        warnings.simplefilter("error")
        tested = run_contention(stamina_pattern(stamina), writers=10, seed=0)
    immediate = run_contention(functools.partial(immediate_retry, max_attempts=3), writers=10, seed=0)
    assert same_calls(tested, immediate)
    assert (tested.saves["outcome"] == "conflict").sum() == (immediate.saves["outcome"] == "gave_up").sum() > 0
