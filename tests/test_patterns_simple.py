"""Specification of simple_retry: capped exponential backoff, a few attempts, honest give-up."""

from __future__ import annotations

import pandas as pd
import pytest
from patternhelpers import ACTOR, FailingStore, RivalStore, recording_clock

from aether.errors import RetriesExhaustedError, StoreUnavailableError, VersionConflictError, is_version_conflict
from aether.experiment import run_contention
from aether.patterns.simple import simple_retry


def test_commits_on_the_first_attempt_without_sleeping_when_nobody_competes() -> None:
    store, sim = RivalStore(), recording_clock()
    event = simple_retry(store, ACTOR, "Placed", {"n": 1}, clock=sim)
    assert (event.version, store.writes, sim.sleeps) == (1, 1, [])
    assert store.inner.get_events(ACTOR) == [event]


def test_waits_10_20_40_ms_before_the_three_retries_of_the_four_default_attempts() -> None:
    store, sim = RivalStore([1, 1, 1]), recording_clock()
    event = simple_retry(store, ACTOR, "Placed", clock=sim)
    assert sim.sleeps == [0.010, 0.020, 0.040]
    assert event.version == 4  # three rival commits, then ours


def test_delay_doubles_until_it_reaches_max_delay() -> None:
    store, sim = RivalStore([1] * 6), recording_clock()
    simple_retry(store, ACTOR, "Placed", clock=sim, max_attempts=7, base_delay=0.1, max_delay=0.5)
    assert sim.sleeps == [0.1, 0.2, 0.4, 0.5, 0.5, 0.5]


def test_reads_the_latest_version_again_before_each_retry() -> None:
    store = RivalStore([3])
    event = simple_retry(store, ACTOR, "Placed", clock=recording_clock())
    assert event.version == 4  # the rival's three commits were seen by the second read
    assert (store.reads, store.writes) == (2, 2)


def test_gives_up_after_max_attempts_without_a_final_sleep() -> None:
    store, sim = RivalStore([1] * 10), recording_clock()
    with pytest.raises(RetriesExhaustedError) as info:
        simple_retry(store, ACTOR, "Placed", clock=sim)
    assert (info.value.actor_id, info.value.attempts) == (ACTOR, 4)
    assert store.writes == 4
    assert len(sim.sleeps) == 3


def test_give_up_is_raised_from_the_last_conflict() -> None:
    store = RivalStore([1] * 10)
    with pytest.raises(RetriesExhaustedError) as info:
        simple_retry(store, ACTOR, "Placed", clock=recording_clock())
    cause = info.value.__cause__
    assert isinstance(cause, VersionConflictError)
    assert (cause.attempted_version, cause.current_version) == (4, 4)  # the fourth attempt lost to rival commit 4
    assert is_version_conflict(info.value)


def test_max_attempts_one_means_a_single_attempt() -> None:
    store, sim = RivalStore([1]), recording_clock()
    with pytest.raises(RetriesExhaustedError) as info:
        simple_retry(store, ACTOR, "Placed", clock=sim, max_attempts=1)
    assert (info.value.attempts, store.writes, sim.sleeps) == (1, 1, [])


def test_a_non_conflict_error_propagates_at_once_unchanged() -> None:
    error = StoreUnavailableError("outage")
    store, sim = FailingStore(error), recording_clock()
    with pytest.raises(StoreUnavailableError) as info:
        simple_retry(store, ACTOR, "Placed", clock=sim)
    assert info.value is error
    assert (store.writes, sim.sleeps) == (1, [])


@pytest.mark.parametrize(
    ("kwargs", "error", "named"),
    [
        ({"max_attempts": 0}, ValueError, "max_attempts"),
        ({"max_attempts": 2.5}, TypeError, "max_attempts"),
        ({"base_delay": -0.01}, ValueError, "base_delay"),
        ({"max_delay": float("nan")}, ValueError, "max_delay"),
        ({"base_delay": 0.5, "max_delay": 0.1}, ValueError, "max_delay must be >= base_delay"),
    ],
)
def test_bad_parameters_are_refused_before_touching_the_store(kwargs: dict, error: type, named: str) -> None:
    store = RivalStore()
    with pytest.raises(error, match=named):
        simple_retry(store, ACTOR, "Placed", clock=recording_clock(), **kwargs)
    assert (store.reads, store.writes) == (0, 0)


def test_twenty_contending_writers_leave_a_consistent_store_and_use_at_most_four_attempts() -> None:
    result = run_contention(simple_retry, writers=20, seed=3)
    summary = result.summary()
    assert summary.committed + summary.gave_up == 20
    assert summary.committed >= 1
    assert result.store.get_latest_version("actor-0") == summary.committed
    assert result.saves["attempts"].max() <= 4
    assert set(result.saves.loc[result.saves["outcome"] == "gave_up", "attempts"]) <= {4}


def test_a_contention_run_is_identical_when_repeated_with_the_same_seed() -> None:
    first = run_contention(simple_retry, writers=20, seed=3)
    second = run_contention(simple_retry, writers=20, seed=3)
    pd.testing.assert_frame_equal(first.saves, second.saves)
