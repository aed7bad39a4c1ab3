"""Specification of adaptive throttling (the SRE book's client-side throttle) and retry_on_failure."""

from __future__ import annotations

import random
import threading

import pytest
from patternhelpers import ACTOR, ScriptedStore, recording_clock

from aether import RequestThrottledError, RetriesExhaustedError, SimulatedClock, StoreTimeoutError
from aether.experiment import Capacity, Constant, NetworkModel, Outage, run_load
from aether.patterns import AdaptiveThrottlingPolicy, ClientThrottle, adaptive_throttling, retry_on_failure


def throttle_with(requests: int, accepts: int, *, k: float = 2.0, seed: int = 7) -> ClientThrottle:
    throttle = ClientThrottle(window=10.0, k=k, clock=SimulatedClock(), rng=random.Random(seed))
    slot = throttle._current()
    slot[1], slot[2] = requests, accepts
    return throttle


@pytest.mark.parametrize(
    ("requests", "accepts", "k", "expected"),
    [(0, 0, 2.0, 0.0), (100, 100, 2.0, 0.0), (100, 50, 2.0, 0.0), (100, 40, 2.0, 20 / 101),
     (100, 0, 2.0, 100 / 101), (100, 40, 1.0, 60 / 101), (9, 1, 2.0, 0.7)],
)
def test_the_rejection_probability_is_the_books_formula(requests: int, accepts: int, k: float,
                                                        expected: float) -> None:
    assert throttle_with(requests, accepts, k=k).rejection_probability() == pytest.approx(expected)


def test_rejections_follow_the_probability_with_a_seeded_generator() -> None:
    throttle = throttle_with(100, 40, seed=3)
    draws = random.Random(3)
    expected = []
    for _ in range(50):  # each decision counts the new request before the next one
        requests, accepts = throttle.counts()
        probability = max(0.0, (requests - 2 * accepts) / (requests + 1))
        expected.append(probability > 0 and draws.random() < probability)
        assert throttle.allow() == (not expected[-1])
    assert throttle.rejected == sum(expected) > 0


def test_a_healthy_store_is_never_throttled() -> None:
    throttle = ClientThrottle(window=10.0, clock=SimulatedClock(), rng=random.Random(1))
    for _ in range(1000):
        assert throttle.allow()
        throttle.record_accept()


def test_old_counts_age_out_of_the_window_so_traffic_resumes() -> None:
    clock = SimulatedClock()
    throttle = ClientThrottle(window=10.0, buckets=10, clock=clock, rng=random.Random(1))
    for _ in range(200):  # a store that accepts nothing
        throttle.allow()
    assert throttle.rejection_probability() > 0.9
    clock.sleep(5.0)
    assert throttle.counts() == (200, 0)  # still inside the window
    clock.sleep(5.0)
    assert throttle.counts() == (0, 0)
    assert throttle.rejection_probability() == 0.0


def test_counting_is_thread_safe() -> None:
    throttle = ClientThrottle(window=100.0, k=10**9, rng=random.Random(1))  # the real clock; never rejects

    def work() -> None:
        for _ in range(2000):
            throttle.allow()
            throttle.record_accept()

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert throttle.counts() == (16_000, 16_000)


def test_a_throttled_attempt_fails_fast_without_touching_the_store() -> None:
    throttle = throttle_with(1000, 0, seed=1)
    throttle.rng = random.Random(0)
    store = ScriptedStore()
    clock = recording_clock()
    with pytest.raises(RequestThrottledError) as caught:
        for _ in range(20):  # with p close to 1, one of the first attempts is refused
            adaptive_throttling(store, ACTOR, "T", throttle=throttle, clock=clock)
    assert caught.value.attempt == 1
    assert store.writes == throttle.counts()[1]  # every save that went out was accepted and counted
    assert throttle.counts()[0] == 1000 + store.writes + 1  # the refused attempt counts as a request


def test_outages_are_retried_with_the_same_event_and_not_counted_as_accepts() -> None:
    store = ScriptedStore(["down", "down", "ok"])
    throttle = throttle_with(100, 100)  # a healthy history: nothing is throttled yet
    clock = recording_clock()
    event = adaptive_throttling(store, ACTOR, "T", throttle=throttle, clock=clock, max_attempts=3)
    assert [e.id for e in store.saved] == [event.id] * 3
    assert throttle.counts() == (103, 101)
    assert clock.sleeps == [0.010, 0.020]


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="k"):
        ClientThrottle(k=0)
    with pytest.raises(ValueError, match="window"):
        ClientThrottle(window=-1)
    with pytest.raises(TypeError, match="throttle"):
        adaptive_throttling(ScriptedStore(), ACTOR, "T", throttle=None)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="max_attempts"):
        AdaptiveThrottlingPolicy(max_attempts=2.5)  # type: ignore[arg-type]


def test_the_policy_gives_each_run_its_own_throttle() -> None:
    policy = AdaptiveThrottlingPolicy(window=1.0, buckets=4)
    network = NetworkModel(hop=Constant(0.001), outages=[Outage(0.5, 1.5)])
    result = run_load(policy, rate=200, duration=3.0, actors=1000, network=network, seed=2)
    run_load(policy, rate=50, duration=1.0, actors=1000, seed=2)
    assert len(policy.throttles) == 2
    assert policy.throttles[0].rejected > 0
    assert set(result.saves["outcome"]) >= {"committed", "rejected"}


# --------------------------------------------------------------------------- retry_on_failure


def test_retry_on_failure_retries_timeouts_at_once_with_the_same_event() -> None:
    store = ScriptedStore([StoreTimeoutError("late"), "down", "ok"])
    clock = recording_clock()
    event = retry_on_failure(store, ACTOR, "T", clock=clock, max_attempts=3)
    assert [e.id for e in store.saved] == [event.id] * 3
    assert clock.sleeps == []


def test_retry_on_failure_reads_again_after_a_conflict_and_waits_with_full_jitter() -> None:
    store = ScriptedStore(["rival", "ok"])
    clock = recording_clock()
    event = retry_on_failure(store, ACTOR, "T", clock=clock, rng=random.Random(4), base_delay=0.1)
    # a new version after the conflict, under the logical save's one idempotency key
    assert (store.saved[0].version, event.version) == (1, 2) and store.saved[0].id == event.id
    assert clock.sleeps == [random.Random(4).uniform(0.0, 0.1)]


def test_retry_on_failure_gives_up_after_max_attempts() -> None:
    store = ScriptedStore(["down"] * 5)
    with pytest.raises(RetriesExhaustedError) as caught:
        retry_on_failure(store, ACTOR, "T", clock=recording_clock(), max_attempts=2)
    assert caught.value.attempts == 2 and store.writes == 2


def test_retry_on_failure_refuses_bad_settings_before_any_call() -> None:
    store = ScriptedStore()
    with pytest.raises(TypeError, match="rng"):
        retry_on_failure(store, ACTOR, "T", clock=recording_clock(), rng=5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_attempts"):
        retry_on_failure(store, ACTOR, "T", clock=recording_clock(), max_attempts=0)
    assert store.writes == 0 and store.get_latest_version(ACTOR) == 0


def test_retry_on_failure_under_capacity_commits_every_save_below_saturation() -> None:
    capacity = Capacity(service=Constant(0.002))
    result = run_load(retry_on_failure, rate=100, duration=2.0, actors=50, capacity=capacity, seed=1)
    assert (result.saves["outcome"] == "committed").all()
