"""Specification of the circuit breaker: closed, open, half-open, and fail-fast retries."""

from __future__ import annotations

import threading
import time

import pytest
from patternhelpers import ACTOR, CONFLICT, DOWN, ScriptedStore

from aether.clock import RealClock, SimulatedClock
from aether.errors import (
    CircuitBreakerOpenError,
    RetriesExhaustedError,
    StoreUnavailableError,
    VersionConflictError,
    is_version_conflict,
)
from aether.experiment import NetworkModel, Outage, run_contention
from aether.patterns.breaker import (
    BreakerState,
    CircuitBreaker,
    CircuitBreakerPolicy,
    Transition,
    circuit_breaker_retry,
    store_unavailable_or_conflict,
)

CLOSED, OPEN, HALF_OPEN = BreakerState.CLOSED, BreakerState.OPEN, BreakerState.HALF_OPEN
def breaker(sim: SimulatedClock, **settings: object) -> CircuitBreaker:
    settings = {"failure_threshold": 3, "reset_timeout": 1.0, **settings}
    return CircuitBreaker(clock=sim, **settings)  # type: ignore[arg-type]


def fail(b: CircuitBreaker, times: int) -> None:
    for _ in range(times):
        assert b.allow()
        b.record_failure()


# --------------------------------------------------------------------------- states under simulated time


def test_a_new_breaker_is_closed_and_admits_calls() -> None:
    b = breaker(SimulatedClock())
    assert (b.state, b.allow(), b.retry_after()) == (CLOSED, True, 0.0)


def test_failure_threshold_consecutive_failures_open_it() -> None:
    b = breaker(SimulatedClock())
    fail(b, 2)
    assert b.state is CLOSED
    fail(b, 1)
    assert b.state is OPEN


def test_a_success_resets_the_count_of_consecutive_failures() -> None:
    b = breaker(SimulatedClock())
    fail(b, 2)
    b.record_success()
    fail(b, 2)
    assert (b.state, b.consecutive_failures) == (CLOSED, 2)


def test_an_open_breaker_refuses_calls_and_says_how_long_to_wait() -> None:
    sim = SimulatedClock()
    b = breaker(sim)
    fail(b, 3)
    sim.sleep(0.25)
    assert b.allow() is False
    assert b.retry_after() == pytest.approx(0.75)
    assert (b.admitted, b.rejected) == (3, 1)


def test_after_reset_timeout_it_is_half_open_and_admits_only_the_trial_calls() -> None:
    sim = SimulatedClock()
    b = breaker(sim, half_open_max_calls=2)
    fail(b, 3)
    sim.sleep(1.0)
    assert b.state is HALF_OPEN
    assert [b.allow() for _ in range(3)] == [True, True, False]


def test_a_successful_trial_closes_it() -> None:
    sim = SimulatedClock()
    b = breaker(sim)
    fail(b, 3)
    sim.sleep(1.0)
    assert b.allow()
    b.record_success()
    assert (b.state, b.consecutive_failures) == (CLOSED, 0)


def test_a_failed_trial_opens_it_again_for_a_full_reset_timeout() -> None:
    sim = SimulatedClock()
    b = breaker(sim)
    fail(b, 3)
    sim.sleep(1.5)
    assert b.allow()
    b.record_failure()
    assert (b.state, b.retry_after()) == (OPEN, 1.0)


def test_a_late_failure_report_does_not_extend_the_open_period() -> None:
    sim = SimulatedClock()
    b = breaker(sim)
    fail(b, 3)
    sim.sleep(0.5)
    b.record_failure()  # a call admitted before the breaker opened reports now
    assert b.retry_after() == pytest.approx(0.5)


def test_every_transition_is_recorded_with_its_clock_time_and_reported() -> None:
    sim, seen = SimulatedClock(), list[Transition]()
    b = breaker(sim, on_transition=seen.append)
    sim.sleep(2.0)
    fail(b, 3)  # opens at 2.0
    sim.sleep(1.5)  # half-open since 3.0
    assert b.allow()
    b.record_success()  # closes at 3.5
    expected = [Transition(2.0, CLOSED, OPEN), Transition(3.0, OPEN, HALF_OPEN), Transition(3.5, HALF_OPEN, CLOSED)]
    assert b.transitions == expected
    assert seen == expected


def test_by_default_a_conflict_is_a_success_and_an_outage_a_failure() -> None:
    b = breaker(SimulatedClock(), failure_threshold=1)
    b.record_error(CONFLICT)
    assert b.state is CLOSED
    b.record_error(DOWN)
    assert b.state is OPEN


def test_conflicts_can_be_made_to_count_as_failures() -> None:
    b = breaker(SimulatedClock(), failure_threshold=1, counts_as_failure=store_unavailable_or_conflict)
    b.record_error(CONFLICT)
    assert b.state is OPEN


def test_call_runs_the_function_and_records_how_it_ended() -> None:
    b = breaker(SimulatedClock(), failure_threshold=1)
    assert b.call(lambda: 42) == 42
    with pytest.raises(StoreUnavailableError):
        b.call(lambda: (_ for _ in ()).throw(DOWN))
    assert (b.successes, b.failures, b.state) == (1, 1, OPEN)


def test_call_on_an_open_breaker_fails_fast_without_calling() -> None:
    sim = SimulatedClock()
    b = breaker(sim, name="store")
    fail(b, 3)
    sim.sleep(0.4)
    calls: list[int] = []
    with pytest.raises(CircuitBreakerOpenError) as info:
        b.call(lambda: calls.append(1))
    assert (calls, info.value.name) == ([], "store")
    assert info.value.retry_after == pytest.approx(0.6)


@pytest.mark.parametrize(("settings", "message"), [
    ({"failure_threshold": 0}, "failure_threshold"),
    ({"reset_timeout": -1.0}, "reset_timeout"),
    ({"half_open_max_calls": 0}, "half_open_max_calls"),
    ({"counts_as_failure": "StoreUnavailableError"}, "counts_as_failure"),
    ({"max_attempts": 0}, "max_attempts"),
    ({"base_delay": 0.5, "max_delay": 0.1}, "max_delay"),
])
def test_bad_settings_are_refused_naming_the_setting(settings: dict[str, object], message: str) -> None:
    with pytest.raises((ValueError, TypeError), match=message):
        CircuitBreakerPolicy(**settings)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- the retry pattern


def test_retry_waits_capped_exponential_delays_between_failed_attempts() -> None:
    sim = SimulatedClock(record_sleeps=True)
    store = ScriptedStore(["rival", "down", "rival", "down"])
    b = breaker(sim, failure_threshold=10)
    event = circuit_breaker_retry(store, ACTOR, "Placed", breaker=b, clock=sim, base_delay=0.1, max_delay=0.3)
    assert sim.sleeps == [0.1, 0.2, 0.3, 0.3]
    assert store.inner.get_events(ACTOR)[-1] == event


def test_retry_after_an_outage_saves_the_same_event_again() -> None:
    store = ScriptedStore(["lost-reply"])
    sim = SimulatedClock()
    event = circuit_breaker_retry(store, ACTOR, "Placed", breaker=breaker(sim), clock=sim)
    assert store.saved == [event, event]
    assert store.inner.get_events(ACTOR) == [event]  # stored once


def test_retry_after_a_conflict_reads_the_version_again() -> None:
    store = ScriptedStore(["rival"])
    sim = SimulatedClock()
    event = circuit_breaker_retry(store, ACTOR, "Placed", breaker=breaker(sim), clock=sim)
    assert [e.version for e in store.saved] == [1, 2]
    assert event.version == 2


def test_retry_fails_fast_once_the_breaker_opens_chained_to_the_last_error() -> None:
    sim = SimulatedClock(record_sleeps=True)
    store = ScriptedStore(["down"] * 10)
    b = breaker(sim, failure_threshold=3, name="events")
    with pytest.raises(CircuitBreakerOpenError) as info:
        circuit_breaker_retry(store, ACTOR, "Placed", breaker=b, clock=sim, base_delay=0.1)
    assert len(store.saved) == 3  # the fourth attempt was refused without calling the store
    assert isinstance(info.value.__cause__, StoreUnavailableError)
    assert info.value.name == "events"
    assert info.value.retry_after == pytest.approx(1.0 - 0.4)  # opened at 0.3 (after waits of 0.1, 0.2), now 0.7


def test_retry_gives_up_after_max_attempts_from_the_last_conflict() -> None:
    sim = SimulatedClock()
    store = ScriptedStore(["rival"] * 3)
    with pytest.raises(RetriesExhaustedError) as info:
        circuit_breaker_retry(store, ACTOR, "Placed", breaker=breaker(sim), clock=sim, max_attempts=3)
    assert info.value.attempts == 3
    assert is_version_conflict(info.value)
    assert isinstance(info.value.__cause__, VersionConflictError)


def test_other_errors_propagate_unchanged_and_release_the_breaker() -> None:
    sim = SimulatedClock()
    bug = TypeError("a bug")
    b = breaker(sim)
    with pytest.raises(TypeError) as info:
        circuit_breaker_retry(ScriptedStore([bug]), ACTOR, "Placed", breaker=b, clock=sim)
    assert info.value is bug
    assert (b.admitted, b.successes + b.failures) == (1, 1)


def test_contention_alone_never_opens_the_default_breaker() -> None:
    policy = CircuitBreakerPolicy()
    result = run_contention(policy, writers=20, seed=2)
    assert (result.calls["result"] == "conflict").sum() > 20
    assert "rejected" not in set(result.saves["outcome"])
    assert policy.breakers[-1].transitions == []


def test_counting_conflicts_as_failures_turns_a_busy_store_into_a_refused_one() -> None:
    policy = CircuitBreakerPolicy(counts_as_failure=store_unavailable_or_conflict)
    result = run_contention(policy, writers=20, seed=2)
    assert (result.saves["outcome"] == "rejected").sum() > 0  # the same run as above, refused instead
    assert policy.breakers[-1].transitions[0].target is OPEN


def test_the_same_seed_gives_the_same_run() -> None:
    first = run_contention(CircuitBreakerPolicy(), writers=20, seed=4)
    second = run_contention(CircuitBreakerPolicy(), writers=20, seed=4)
    assert first.saves.equals(second.saves)
    assert len(first.saves) == 20


def test_during_an_outage_the_breaker_saves_store_calls() -> None:
    network = NetworkModel(outages=(Outage(0.5, 1.5),))
    runs = {}
    for label, counts in (("breaker", None), ("plain", lambda error: False)):
        policy = CircuitBreakerPolicy() if counts is None else CircuitBreakerPolicy(counts_as_failure=counts)
        runs[label] = run_contention(policy, writers=20, start_spread=1.0, network=network, seed=1)
    unavailable = {k: int((r.calls["result"] == "unavailable").sum()) for k, r in runs.items()}
    rejected = {k: int((r.saves["outcome"] == "rejected").sum()) for k, r in runs.items()}
    assert rejected["plain"] == 0 and rejected["breaker"] > 0
    # at most: 5 failures to open it, the calls already in flight then (one per writer), one trial per reset_timeout
    assert unavailable["breaker"] <= 5 + 20 + 2
    assert unavailable["plain"] > 3 * unavailable["breaker"]


# --------------------------------------------------------------------------- real threads


def test_on_eight_real_threads_the_trial_limit_and_the_counts_hold() -> None:
    b = CircuitBreaker(clock=RealClock(), failure_threshold=3, reset_timeout=0.05, half_open_max_calls=2)
    store_up = threading.Event()
    lock = threading.Lock()
    trials_now, trials_peak, attempts = [0], [0], [0]

    def store_call() -> None:
        trial = 1 if b.state is HALF_OPEN else 0  # this call was admitted while half-open
        with lock:
            trials_now[0] += trial
            trials_peak[0] = max(trials_peak[0], trials_now[0])
        time.sleep(0.002)
        with lock:
            trials_now[0] -= trial
        if not store_up.is_set():
            raise StoreUnavailableError("down")

    def writer() -> None:
        deadline = time.monotonic() + 0.6
        while time.monotonic() < deadline:
            with lock:
                attempts[0] += 1
            try:
                b.call(store_call)
            except (CircuitBreakerOpenError, StoreUnavailableError):
                time.sleep(0.001)

    threads = [threading.Thread(target=writer) for _ in range(8)]
    for thread in threads:
        thread.start()
    time.sleep(0.3)
    store_up.set()
    for thread in threads:
        thread.join()

    assert trials_peak[0] <= 2
    assert b.admitted + b.rejected == attempts[0]
    assert b.successes + b.failures == b.admitted
    assert b.state is CLOSED  # the store came back and a trial closed it
    moves = [(t.source, t.target) for t in b.transitions]
    assert moves[0] == (CLOSED, OPEN) and moves[-1] == (HALF_OPEN, CLOSED)
    assert all(m in {(CLOSED, OPEN), (OPEN, HALF_OPEN), (HALF_OPEN, OPEN), (HALF_OPEN, CLOSED)} for m in moves)
    assert all(a.target == b_.source for a, b_ in zip(b.transitions, b.transitions[1:], strict=False))
    assert [t.time for t in b.transitions] == sorted(t.time for t in b.transitions)
