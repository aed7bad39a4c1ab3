"""Specification of conflict_detailed_retry: retry at the conflict's version, log it, stop when thrashing."""

from __future__ import annotations

import logging
import pickle
from collections.abc import Sequence

import pandas as pd
import pytest
from patternhelpers import ACTOR, FailingStore, RivalStore, recording_clock

from aether.errors import (
    CircuitBreakerOpenError,
    RetriesExhaustedError,
    StoreUnavailableError,
    VersionConflictError,
    is_version_conflict,
)
from aether.events import Event
from aether.experiment import run_contention
from aether.patterns.detailed import (
    ConflictHistoryError,
    ConflictRecord,
    ThrashingError,
    ThrashingPolicy,
    ThrashingVerdict,
    conflict_detailed_retry,
)
from aether.patterns.simple import simple_retry

LOGGER = "aether.patterns.detailed"


class StuckStore(RivalStore):
    """The actor is at version 7 and version 8 is held by a writer that never commits: every save loses."""

    def __init__(self) -> None:
        super().__init__()
        for version in range(1, 8):
            self.inner.save_event(Event(actor_id=ACTOR, event_type="Earlier", version=version))

    def save_event(self, event: Event) -> None:
        self.writes += 1
        raise VersionConflictError(event.actor_id, event.version, 7)


class ScriptedConflictsStore(RivalStore):
    """Saves lose with the scripted ``current`` versions, in order; after the script, saves are accepted."""

    def __init__(self, currents: Sequence[int]) -> None:
        super().__init__()
        self.currents = list(currents)

    def save_event(self, event: Event) -> None:
        self.writes += 1
        if self.writes <= len(self.currents):
            raise VersionConflictError(event.actor_id, event.version, self.currents[self.writes - 1])


def records(*rows: tuple[int, int]) -> list[ConflictRecord]:
    """Conflict records from ``(attempted, current)`` pairs, attempts numbered from 1."""
    return [ConflictRecord(i, 0.0, a, c, c - (a - 1)) for i, (a, c) in enumerate(rows, start=1)]


# --------------------------------------------------------------------------- retrying


def test_retries_at_the_conflicts_current_version_plus_one_without_reading_again() -> None:
    store = RivalStore([3])
    event = conflict_detailed_retry(store, ACTOR, "Placed", clock=recording_clock())
    assert event.version == 4
    assert (store.reads, store.writes) == (1, 2)


def test_waits_like_simple_retry_10_20_40_ms() -> None:
    sim = recording_clock()
    conflict_detailed_retry(RivalStore([1, 1, 1]), ACTOR, "Placed", clock=sim)
    assert sim.sleeps == [0.010, 0.020, 0.040]


def test_delay_is_capped_at_max_delay() -> None:
    sim = recording_clock()
    conflict_detailed_retry(RivalStore([1] * 5), ACTOR, "Placed", clock=sim, max_attempts=6, base_delay=0.1,
                            max_delay=0.3)
    assert sim.sleeps == [0.1, 0.2, 0.3, 0.3, 0.3]


def test_on_conflict_receives_a_record_per_conflict_even_on_success() -> None:
    history: list[ConflictRecord] = []
    conflict_detailed_retry(RivalStore([2, 1]), ACTOR, "Placed", clock=recording_clock(), on_conflict=history.append)
    assert history == [
        ConflictRecord(attempt=1, time=0.0, attempted=1, current=2, distance=2, delay=0.010),
        ConflictRecord(attempt=2, time=0.010, attempted=3, current=3, distance=1, delay=0.020),
    ]


def test_gives_up_at_the_attempt_limit_with_the_history() -> None:
    store, sim = RivalStore([1] * 10), recording_clock()
    with pytest.raises(ConflictHistoryError) as info:
        conflict_detailed_retry(store, ACTOR, "Placed", clock=sim)
    err = info.value
    assert isinstance(err, RetriesExhaustedError) and not isinstance(err, ThrashingError)
    assert (err.attempts, store.writes, len(sim.sleeps)) == (4, 4, 3)
    assert [r.current for r in err.history] == [1, 2, 3, 4]
    assert err.history[-1].delay == 0.0  # no wait after the last conflict


def test_give_up_is_raised_from_the_last_conflict() -> None:
    with pytest.raises(ConflictHistoryError) as info:
        conflict_detailed_retry(RivalStore([1] * 10), ACTOR, "Placed", clock=recording_clock())
    cause = info.value.__cause__
    assert isinstance(cause, VersionConflictError) and cause.current_version == 4
    assert is_version_conflict(info.value)


def test_a_non_conflict_error_propagates_at_once_unchanged() -> None:
    error = StoreUnavailableError("outage")
    sim = recording_clock()
    with pytest.raises(StoreUnavailableError) as info:
        conflict_detailed_retry(FailingStore(error), ACTOR, "Placed", clock=sim)
    assert info.value is error and sim.sleeps == []


def test_an_error_during_a_retry_propagates_after_on_conflict_saw_the_history_so_far() -> None:
    error = StoreUnavailableError("outage")
    store = FailingStore(error, [2], healthy_saves=1)
    history: list[ConflictRecord] = []
    with pytest.raises(StoreUnavailableError) as info:
        conflict_detailed_retry(store, ACTOR, "Placed", clock=recording_clock(), on_conflict=history.append)
    assert info.value is error
    assert [(r.attempted, r.current) for r in history] == [(1, 2)]


@pytest.mark.parametrize(
    ("kwargs", "error", "named"),
    [
        ({"max_attempts": 0}, ValueError, "max_attempts"),
        ({"base_delay": -0.01}, ValueError, "base_delay"),
        ({"base_delay": 0.5, "max_delay": 0.1}, ValueError, "max_delay must be >= base_delay"),
        ({"thrashing": "never"}, TypeError, "thrashing"),
    ],
)
def test_bad_parameters_are_refused_before_touching_the_store(kwargs: dict, error: type, named: str) -> None:
    store = RivalStore()
    with pytest.raises(error, match=named):
        conflict_detailed_retry(store, ACTOR, "Placed", clock=recording_clock(), **kwargs)
    assert (store.reads, store.writes) == (0, 0)


# --------------------------------------------------------------------------- logging


def test_each_retried_conflict_is_logged_with_structured_fields(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    conflict_detailed_retry(RivalStore([2]), ACTOR, "Placed", clock=recording_clock())
    [record] = [r for r in caplog.records if r.name == LOGGER]
    assert record.levelno == logging.INFO
    fields = {k: getattr(record, k) for k in ("actor_id", "attempted_version", "current_version", "attempt",
                                               "distance", "delay")}
    assert fields == {"actor_id": ACTOR, "attempted_version": 1, "current_version": 2, "attempt": 1,
                      "distance": 2, "delay": 0.010}
    assert "retrying at 3" in record.getMessage()


def test_giving_up_is_logged_as_a_warning_with_the_verdict(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    with pytest.raises(ThrashingError):
        conflict_detailed_retry(StuckStore(), ACTOR, "Placed", clock=recording_clock(), max_attempts=11)
    warning = caplog.records[-1]
    assert (warning.levelno, warning.verdict, warning.current_version, warning.attempt) == (logging.WARNING,
                                                                                            "stuck", 7, 3)


# --------------------------------------------------------------------------- thrashing


def test_a_stuck_actor_stops_the_retries_after_three_conflicts_at_the_same_version() -> None:
    store = StuckStore()
    with pytest.raises(ThrashingError) as info:
        conflict_detailed_retry(store, ACTOR, "Placed", clock=recording_clock(), max_attempts=11)
    err = info.value
    assert (err.verdict, err.attempts, store.writes) == ("stuck", 3, 3)
    assert [r.current for r in err.history] == [7, 7, 7]
    assert isinstance(err, RetriesExhaustedError) and isinstance(err.__cause__, VersionConflictError)


def test_against_a_stuck_actor_detailed_retry_does_less_work_than_simple_retry_with_the_same_limit() -> None:
    simple_store, detailed_store = StuckStore(), StuckStore()
    with pytest.raises(RetriesExhaustedError):
        simple_retry(simple_store, ACTOR, "Placed", clock=recording_clock(), max_attempts=11)
    with pytest.raises(ThrashingError):
        conflict_detailed_retry(detailed_store, ACTOR, "Placed", clock=recording_clock(), max_attempts=11)
    assert (simple_store.writes, simple_store.reads) == (11, 11)
    assert (detailed_store.writes, detailed_store.reads) == (3, 1)


def test_a_store_that_barely_moves_stops_the_retries_as_no_progress() -> None:
    store = ScriptedConflictsStore([7, 7, 8, 8, 9, 9])
    with pytest.raises(ThrashingError) as info:
        conflict_detailed_retry(store, ACTOR, "Placed", clock=recording_clock(), max_attempts=11)
    assert (info.value.verdict, info.value.attempts, store.writes) == ("no_progress", 4, 4)
    assert "moved 1 version(s) over the last 4 conflicts" in str(info.value)


def test_steady_contention_of_one_commit_per_conflict_is_not_thrashing() -> None:
    store = ScriptedConflictsStore([7, 8, 9, 10, 11])
    event = conflict_detailed_retry(store, ACTOR, "Placed", clock=recording_clock(), max_attempts=11)
    assert event.version == 12


def test_one_stale_conflict_report_is_tolerated() -> None:
    store = ScriptedConflictsStore([7, 7, 8, 9, 10])
    event = conflict_detailed_retry(store, ACTOR, "Placed", clock=recording_clock(), max_attempts=11)
    assert event.version == 11


def test_a_distance_at_the_give_up_distance_is_hopeless_at_once() -> None:
    policy = ThrashingPolicy(give_up_distance=5)
    with pytest.raises(ThrashingError) as info:
        conflict_detailed_retry(RivalStore([5]), ACTOR, "Placed", clock=recording_clock(), thrashing=policy)
    assert (info.value.verdict, info.value.attempts) == ("hopeless", 1)


def test_without_a_give_up_distance_a_large_distance_is_retried() -> None:
    event = conflict_detailed_retry(RivalStore([50]), ACTOR, "Placed", clock=recording_clock())
    assert event.version == 51


def test_on_thrashing_receives_the_verdict_before_the_error_is_raised() -> None:
    verdicts: list[ThrashingVerdict] = []
    with pytest.raises(ThrashingError):
        conflict_detailed_retry(StuckStore(), ACTOR, "Placed", clock=recording_clock(), max_attempts=11,
                                on_thrashing=verdicts.append)
    [verdict] = verdicts
    assert (verdict.kind, verdict.actor_id, len(verdict.history)) == ("stuck", ACTOR, 3)


def test_an_error_raised_by_on_thrashing_replaces_the_thrashing_error() -> None:
    def open_breaker(verdict: ThrashingVerdict) -> None:
        raise CircuitBreakerOpenError("orders", 1.0)

    with pytest.raises(CircuitBreakerOpenError):
        conflict_detailed_retry(StuckStore(), ACTOR, "Placed", clock=recording_clock(), max_attempts=11,
                                on_thrashing=open_breaker)


def test_on_conflict_receives_the_records_the_error_carries_when_thrashing_stops_the_retries() -> None:
    history: list[ConflictRecord] = []
    with pytest.raises(ThrashingError) as info:
        conflict_detailed_retry(StuckStore(), ACTOR, "Placed", clock=recording_clock(), max_attempts=11,
                                on_conflict=history.append)
    assert tuple(history) == info.value.history


def test_a_verdict_stops_the_save_before_the_wait_its_last_record_names() -> None:
    sim = recording_clock()
    with pytest.raises(ThrashingError) as info:
        conflict_detailed_retry(StuckStore(), ACTOR, "Placed", clock=sim, max_attempts=11)
    assert sim.sleeps == [0.010, 0.020]
    assert [r.delay for r in info.value.history] == [0.010, 0.020, 0.040]


def test_an_error_raised_by_on_conflict_propagates_after_the_save_that_lost() -> None:
    def refuse(record: ConflictRecord) -> None:
        raise CircuitBreakerOpenError("orders", 1.0)

    store = RivalStore([1])
    with pytest.raises(CircuitBreakerOpenError):
        conflict_detailed_retry(store, ACTOR, "Placed", clock=recording_clock(), on_conflict=refuse)
    assert store.writes == 1


def test_thrashing_error_survives_pickling_with_history_and_verdict() -> None:
    with pytest.raises(ThrashingError) as info:
        conflict_detailed_retry(StuckStore(), ACTOR, "Placed", clock=recording_clock(), max_attempts=11)
    copy = pickle.loads(pickle.dumps(info.value))
    assert (copy.verdict, copy.history, copy.attempts, str(copy)) == (
        info.value.verdict, info.value.history, 3, str(info.value))


# --------------------------------------------------------------------------- the policy on its own


def test_policy_finds_nothing_in_an_empty_or_healthy_history() -> None:
    policy = ThrashingPolicy()
    assert policy.judge(ACTOR, []) is None
    assert policy.judge(ACTOR, records((1, 3), (4, 5), (6, 9), (10, 12))) is None


def test_policy_needs_stuck_after_consecutive_equal_versions() -> None:
    policy = ThrashingPolicy(stuck_after=3, no_progress_window=10)
    assert policy.judge(ACTOR, records((8, 7), (8, 7))) is None
    assert policy.judge(ACTOR, records((8, 7), (8, 7), (8, 7))).kind == "stuck"  # type: ignore[union-attr]


def test_policy_judges_no_progress_over_its_window() -> None:
    policy = ThrashingPolicy(no_progress_window=3, no_progress_versions=2)
    assert policy.judge(ACTOR, records((1, 5), (6, 6), (7, 7))).kind == "no_progress"  # type: ignore[union-attr]
    assert policy.judge(ACTOR, records((1, 5), (6, 6), (7, 8))) is None


def test_policy_calls_hopeless_before_anything_else() -> None:
    policy = ThrashingPolicy(give_up_distance=3)
    verdict = policy.judge(ACTOR, records((8, 7), (8, 7), (8, 10)))
    assert verdict is not None and verdict.kind == "hopeless"


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [({"stuck_after": 1}, "stuck_after"), ({"no_progress_window": 1}, "no_progress_window"),
     ({"no_progress_versions": -1}, "no_progress_versions"), ({"give_up_distance": 0}, "give_up_distance")],
)
def test_policy_refuses_bad_parameters_naming_them(kwargs: dict, named: str) -> None:
    with pytest.raises(ValueError, match=named):
        ThrashingPolicy(**kwargs)


# --------------------------------------------------------------------------- under contention


def test_twenty_contending_writers_leave_a_consistent_store_reading_once_per_save() -> None:
    result = run_contention(conflict_detailed_retry, writers=20, seed=3)
    summary = result.summary()
    assert summary.committed + summary.gave_up == 20 and summary.committed >= 1
    assert result.store.get_latest_version("actor-0") == summary.committed
    assert (result.calls["op"] == "get_latest_version").sum() == 20


def test_a_detailed_contention_run_is_identical_when_repeated_with_the_same_seed() -> None:
    first = run_contention(conflict_detailed_retry, writers=20, seed=3)
    second = run_contention(conflict_detailed_retry, writers=20, seed=3)
    pd.testing.assert_frame_equal(first.saves, second.saves)


def test_a_no_progress_threshold_that_calls_all_contention_thrashing_is_refused() -> None:
    # over 4 conflicts contention alone moves the store at least 3 versions
    with pytest.raises(ValueError, match=r"no_progress_versions must be below no_progress_window \(4\).*got 4"):
        ThrashingPolicy(no_progress_window=4, no_progress_versions=4)
