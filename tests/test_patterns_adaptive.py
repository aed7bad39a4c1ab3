"""Specification of adaptive_retry: the wait follows the conflict's distance."""

from __future__ import annotations

import functools
import random

import pandas as pd
import pytest
from patternhelpers import ACTOR, FailingStore, RivalStore

from aether.clock import SimulatedClock
from aether.errors import RetriesExhaustedError, StoreUnavailableError, VersionConflictError, is_version_conflict
from aether.experiment import run_contention
from aether.patterns.adaptive import AdaptivePolicy, adaptive_delay, adaptive_retry

# --------------------------------------------------------------------------- the delay policy


def test_distance_1_is_light_contention_and_waits_50_ms() -> None:
    assert adaptive_delay(1, 0) == 0.050


def test_distance_2_is_still_light_contention() -> None:
    assert adaptive_delay(2, 0) == 0.050


def test_light_wait_does_not_grow_with_attempts() -> None:
    assert adaptive_delay(1, 7) == 0.050


def test_distance_5_is_moderate_and_waits_50_ms_per_competing_commit() -> None:
    assert adaptive_delay(5, 0) == 0.250
    assert adaptive_delay(5, 4) == 0.250


def test_moderate_tier_starts_at_distance_3_and_ends_at_10() -> None:
    assert adaptive_delay(3, 0) == 3 * 0.050
    assert adaptive_delay(10, 0) == 0.500


def test_distance_20_is_high_and_doubles_from_half_a_second_with_each_retry() -> None:
    assert [adaptive_delay(20, attempt) for attempt in range(3)] == [0.5, 1.0, 2.0]


def test_high_tier_is_capped_at_2_s() -> None:
    assert adaptive_delay(20, 3) == 2.0
    assert adaptive_delay(500, 2000) == 2.0


def test_high_tier_continues_where_the_moderate_tier_ends() -> None:
    assert adaptive_delay(11, 0) == adaptive_delay(10, 0)


@pytest.mark.parametrize("distance", [0, -3])
def test_a_distance_below_one_counts_as_light(distance: int) -> None:
    assert adaptive_delay(distance, 0) == 0.050


def test_a_custom_policy_moves_the_tiers_and_caps_every_delay() -> None:
    policy = AdaptivePolicy(light_up_to=1, moderate_up_to=4, light_delay=0.01, per_version=0.02, max_delay=0.07)
    assert [adaptive_delay(d, 0, policy) for d in (1, 2, 4, 5)] == [0.01, 0.04, 0.07, 0.07]


@pytest.mark.parametrize(
    ("kwargs", "error", "named"),
    [
        ({"light_up_to": 0}, ValueError, "light_up_to"),
        ({"light_up_to": 5, "moderate_up_to": 4}, ValueError, "moderate_up_to"),
        ({"per_version": -0.05}, ValueError, "per_version"),
        ({"light_delay": 0.5, "max_delay": 0.1}, ValueError, "max_delay must be >= light_delay"),
    ],
)
def test_policy_refuses_bad_parameters_naming_them(kwargs: dict, error: type, named: str) -> None:
    with pytest.raises(error, match=named):
        AdaptivePolicy(**kwargs)


@pytest.mark.parametrize(("distance", "attempt", "error"), [(1.5, 0, TypeError), (True, 0, TypeError),
                                                             (3, -1, ValueError)])
def test_adaptive_delay_refuses_bad_arguments(distance: object, attempt: int, error: type) -> None:
    with pytest.raises(error):
        adaptive_delay(distance, attempt)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- the pattern


def test_waits_follow_the_distance_of_each_conflict() -> None:
    store, sim = RivalStore([1, 5, 2]), SimulatedClock(record_sleeps=True)
    event = adaptive_retry(store, ACTOR, "Placed", clock=sim)
    assert sim.sleeps == [0.050, 0.250, 0.050]
    assert event.version == 9  # 8 rival commits, then ours


def test_a_quiet_actors_first_retry_waits_the_full_light_delay_not_less() -> None:
    sim = SimulatedClock(record_sleeps=True)
    adaptive_retry(RivalStore([1]), ACTOR, "Placed", clock=sim)
    assert sim.sleeps == [AdaptivePolicy().light_delay] == [0.050]


def test_without_work_between_read_and_save_every_wait_is_the_light_tiers_and_writers_wait_alike() -> None:
    result = run_contention(adaptive_retry, writers=30, seed=0)
    calls = result.calls.sort_values(["writer", "start"], kind="stable")
    conflicts = calls[(calls["op"] == "save_event") & (calls["result"] == "conflict")]
    assert ((conflicts["current_version"] - conflicts["attempted_version"] + 1) <= 2).all()
    following = calls.groupby("writer")["start"].shift(-1).loc[conflicts.index]
    waits = (following - conflicts["end"]).dropna()
    assert len(waits) > 30 and waits.round(9).eq(0.050).all()


def test_repeated_high_contention_backs_off_exponentially() -> None:
    sim = SimulatedClock(record_sleeps=True)
    adaptive_retry(RivalStore([20, 20, 20, 20]), ACTOR, "Placed", clock=sim)
    assert sim.sleeps == [0.5, 1.0, 2.0, 2.0]


def test_jitter_draws_each_wait_as_equal_jitter_of_the_policy_delay() -> None:
    sim, ref = SimulatedClock(record_sleeps=True), random.Random(5)
    adaptive_retry(RivalStore([1, 5]), ACTOR, "Placed", clock=sim, rng=random.Random(5), jitter=True)
    assert sim.sleeps == [d / 2 + ref.uniform(0, d / 2) for d in (0.050, 0.250)]


def test_without_jitter_the_rng_is_not_used() -> None:
    rng = random.Random(5)
    state = rng.getstate()
    adaptive_retry(RivalStore([1, 5]), ACTOR, "Placed", clock=SimulatedClock(), rng=rng)
    assert rng.getstate() == state


def test_jitter_works_with_its_default_fresh_rng() -> None:
    sim = SimulatedClock(record_sleeps=True)
    adaptive_retry(RivalStore([5]), ACTOR, "Placed", clock=sim, jitter=True)
    assert 0.125 <= sim.sleeps[0] <= 0.250


def test_reads_the_latest_version_again_before_each_retry() -> None:
    store = RivalStore([3])
    event = adaptive_retry(store, ACTOR, "Placed", clock=SimulatedClock())
    assert event.version == 4
    assert (store.reads, store.writes) == (2, 2)


def test_gives_up_after_10_attempts_by_default_from_the_last_conflict() -> None:
    store, sim = RivalStore([1] * 20), SimulatedClock(record_sleeps=True)
    with pytest.raises(RetriesExhaustedError) as info:
        adaptive_retry(store, ACTOR, "Placed", clock=sim)
    assert (info.value.attempts, store.writes, len(sim.sleeps)) == (10, 10, 9)
    assert isinstance(info.value.__cause__, VersionConflictError)
    assert info.value.__cause__.current_version == 10
    assert is_version_conflict(info.value)


def test_a_non_conflict_error_propagates_at_once_unchanged() -> None:
    error = TypeError("not an event")
    sim = SimulatedClock(record_sleeps=True)
    with pytest.raises(TypeError) as info:
        adaptive_retry(FailingStore(error), ACTOR, "Placed", clock=sim)
    assert info.value is error and sim.sleeps == []


def test_an_outage_during_a_retry_propagates_unchanged() -> None:
    error = StoreUnavailableError("outage")
    with pytest.raises(StoreUnavailableError) as info:
        adaptive_retry(FailingStore(error, [1], healthy_saves=1), ACTOR, "Placed", clock=SimulatedClock())
    assert info.value is error


@pytest.mark.parametrize(("kwargs", "error"), [({"max_attempts": 0}, ValueError), ({"policy": {}}, TypeError)])
def test_bad_parameters_are_refused_before_touching_the_store(kwargs: dict, error: type) -> None:
    store = RivalStore()
    with pytest.raises(error):
        adaptive_retry(store, ACTOR, "Placed", clock=SimulatedClock(), **kwargs)
    assert (store.reads, store.writes) == (0, 0)


@pytest.mark.parametrize("jitter", [False, True])
def test_twenty_contending_writers_leave_a_consistent_store(jitter: bool) -> None:
    result = run_contention(functools.partial(adaptive_retry, jitter=jitter), writers=20, seed=2)
    summary = result.summary()
    assert summary.committed + summary.gave_up == 20 and summary.committed >= 1
    assert result.store.get_latest_version("actor-0") == summary.committed
    assert result.saves["attempts"].max() <= 10


def test_an_adaptive_contention_run_is_identical_when_repeated_with_the_same_seed() -> None:
    pattern = functools.partial(adaptive_retry, jitter=True)
    first, second = run_contention(pattern, writers=20, seed=2), run_contention(pattern, writers=20, seed=2)
    pd.testing.assert_frame_equal(first.saves, second.saves)


def test_jitter_takes_a_bool_not_a_jitter_name() -> None:
    import pytest

    from aether import InMemoryEventStore
    from aether.patterns.adaptive import adaptive_retry

    with pytest.raises(TypeError, match="jitter must be True or False"):
        adaptive_retry(InMemoryEventStore(), "a", "t", jitter="none")  # type: ignore[arg-type]
