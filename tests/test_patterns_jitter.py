"""Specification of jitter_retry and its delay strategies (AWS "Exponential Backoff And Jitter")."""

from __future__ import annotations

import functools
import itertools
import random
import statistics
from typing import Any

import pandas as pd
import pytest
from patternhelpers import ACTOR, FailingStore, RivalStore

from aether.clock import SimulatedClock
from aether.errors import RetriesExhaustedError, StoreUnavailableError, VersionConflictError
from aether.experiment import run_contention
from aether.patterns.backoff import (
    AWS_BACKOFF,
    GO_BACKOFF,
    JITTERS,
    Backoff,
    decorrelated_jitter,
    equal_jitter,
    full_jitter,
    no_jitter,
)
from aether.patterns.jitter import jitter_retry

BASE, CAP = 0.005, 0.2


def first(n: int, backoff: Backoff, rng: random.Random) -> list[float]:
    return list(itertools.islice(backoff.delays(rng), n))


def exponential(n: int, base: float = BASE, cap: float = CAP) -> float:
    return min(cap, base * 2**n)


# --------------------------------------------------------------------------- the delay strategies


def test_no_jitter_is_the_capped_exponential_sequence() -> None:
    assert first(8, Backoff(BASE, CAP, "none"), random.Random(0)) == [0.005, 0.01, 0.02, 0.04, 0.08, 0.16, 0.2, 0.2]


def test_no_jitter_draws_nothing_from_the_rng() -> None:
    rng = random.Random(1)
    state = rng.getstate()
    first(5, AWS_BACKOFF, rng)
    assert rng.getstate() == state


def test_full_jitter_is_uniform_between_zero_and_the_exponential_delay_for_the_same_seed() -> None:
    ref = random.Random(42)
    expected = [ref.uniform(0, exponential(n)) for n in range(10)]
    assert first(10, Backoff(BASE, CAP, "full"), random.Random(42)) == expected


def test_equal_jitter_is_half_the_delay_plus_uniform_of_the_other_half_for_the_same_seed() -> None:
    ref = random.Random(42)
    expected = [exponential(n) / 2 + ref.uniform(0, exponential(n) / 2) for n in range(10)]
    assert first(10, Backoff(BASE, CAP, "equal"), random.Random(42)) == expected


def test_decorrelated_jitter_grows_from_the_previous_delay_starting_at_base_for_the_same_seed() -> None:
    ref, previous, expected = random.Random(42), BASE, []
    for _ in range(10):
        previous = min(CAP, ref.uniform(BASE, 3 * previous))
        expected.append(previous)
    assert first(10, Backoff(BASE, CAP, "decorrelated"), random.Random(42)) == expected


def test_full_jitter_spreads_evenly_over_zero_to_v() -> None:
    rng, v = random.Random(7), 0.08
    samples = [full_jitter(v, rng) for _ in range(20_000)]
    assert 0.0 <= min(samples) and max(samples) <= v
    assert statistics.fmean(samples) == pytest.approx(v / 2, rel=0.02)
    assert sum(s < v / 4 for s in samples) / len(samples) == pytest.approx(0.25, abs=0.015)


def test_equal_jitter_stays_between_half_v_and_v_with_mean_three_quarters() -> None:
    rng, v = random.Random(7), 0.08
    samples = [equal_jitter(v, rng) for _ in range(20_000)]
    assert v / 2 <= min(samples) and max(samples) <= v
    assert statistics.fmean(samples) == pytest.approx(0.75 * v, rel=0.02)


def test_decorrelated_jitter_first_delay_is_uniform_between_base_and_three_base() -> None:
    rng = random.Random(7)
    samples = [decorrelated_jitter(BASE, BASE, CAP, rng) for _ in range(20_000)]
    assert BASE <= min(samples) and max(samples) <= 3 * BASE
    assert statistics.fmean(samples) == pytest.approx(2 * BASE, rel=0.02)


def test_no_jitter_function_returns_v_itself() -> None:
    assert no_jitter(0.123, random.Random(0)) == 0.123


@pytest.mark.parametrize("jitter", JITTERS)
def test_no_strategy_ever_exceeds_the_cap(jitter: str) -> None:
    delays = first(300, Backoff(BASE, CAP, jitter), random.Random(3))
    assert max(delays) <= CAP
    assert min(delays) >= 0.0


def test_decorrelated_jitter_reaches_the_cap() -> None:
    delays = first(200, Backoff(BASE, CAP, "decorrelated"), random.Random(3))
    assert CAP in delays


def test_the_aws_preset_is_5_ms_capped_at_2_s() -> None:
    assert first(12, AWS_BACKOFF, random.Random(0))[0] == 0.005
    assert first(12, AWS_BACKOFF, random.Random(0))[-1] == 2.0


def test_the_go_preset_is_10_ms_doubling_up_to_1_s_without_jitter() -> None:
    assert first(9, GO_BACKOFF, random.Random(0)) == [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.0, 1.0]
    assert GO_BACKOFF.jitter == AWS_BACKOFF.jitter == "none"


def test_with_jitter_keeps_the_delays_and_changes_only_the_jitter() -> None:
    backoff = AWS_BACKOFF.with_jitter("equal")
    assert (backoff.base_delay, backoff.max_delay, backoff.jitter) == (0.005, 2.0, "equal")
    assert AWS_BACKOFF.jitter == "none"


@pytest.mark.parametrize(
    ("kwargs", "error", "named"),
    [
        ({"jitter": "ful"}, ValueError, "jitter must be one of"),
        ({"base_delay": -1.0}, ValueError, "base_delay"),
        ({"max_delay": "2"}, TypeError, "max_delay"),
        ({"base_delay": 0.5, "max_delay": 0.1}, ValueError, "max_delay must be >= base_delay"),
    ],
)
def test_backoff_refuses_bad_parameters_naming_them(kwargs: dict, error: type, named: str) -> None:
    with pytest.raises(error, match=named):
        Backoff(**{"base_delay": BASE, "max_delay": CAP, **kwargs})


# --------------------------------------------------------------------------- the pattern


@pytest.mark.parametrize("jitter", JITTERS)
def test_jitter_retry_sleeps_the_backoff_delays_of_its_rng(jitter: str) -> None:
    store, sim = RivalStore([1, 1, 1, 1]), SimulatedClock(record_sleeps=True)
    event = jitter_retry(store, ACTOR, "Placed", clock=sim, rng=random.Random(9), jitter=jitter,
                         base_delay=BASE, max_delay=CAP)
    assert sim.sleeps == first(4, Backoff(BASE, CAP, jitter), random.Random(9))
    assert event.version == 5


def test_each_call_starts_its_decorrelated_backoff_afresh() -> None:
    rng, ref = random.Random(11), random.Random(11)
    for rivals in ([1] * 6, [1] * 2):
        sim = SimulatedClock(record_sleeps=True)
        jitter_retry(RivalStore(rivals), ACTOR, "Placed", clock=sim, rng=rng, jitter="decorrelated")
        assert sim.sleeps == first(len(rivals), AWS_BACKOFF.with_jitter("decorrelated"), ref)


def test_jitter_retry_defaults_to_full_jitter() -> None:
    sim = SimulatedClock(record_sleeps=True)
    jitter_retry(RivalStore([1] * 5), ACTOR, "Placed", clock=sim, rng=random.Random(2))
    assert sim.sleeps == first(5, Backoff(0.005, 2.0, "full"), random.Random(2))


def test_jitter_retry_gives_up_after_50_attempts_by_default_from_the_last_conflict() -> None:
    store, sim = RivalStore([1] * 60), SimulatedClock(record_sleeps=True)
    with pytest.raises(RetriesExhaustedError) as info:
        jitter_retry(store, ACTOR, "Placed", clock=sim, rng=random.Random(2), jitter="none")
    assert (info.value.attempts, store.writes, len(sim.sleeps)) == (50, 50, 49)
    assert sim.sleeps[:3] == [0.005, 0.01, 0.02] and max(sim.sleeps) == 2.0
    assert isinstance(info.value.__cause__, VersionConflictError)
    assert info.value.__cause__.attempted_version == 50


def test_jitter_retry_honours_max_attempts() -> None:
    store = RivalStore([1] * 10)
    with pytest.raises(RetriesExhaustedError) as info:
        jitter_retry(store, ACTOR, "Placed", clock=SimulatedClock(), rng=random.Random(0), max_attempts=3)
    assert (info.value.attempts, store.writes) == (3, 3)


def test_jitter_retry_works_with_its_default_fresh_rng() -> None:
    sim = SimulatedClock(record_sleeps=True)
    jitter_retry(RivalStore([1, 1]), ACTOR, "Placed", clock=sim, jitter="equal", base_delay=0.01, max_delay=1.0)
    assert 0.005 <= sim.sleeps[0] <= 0.01 and 0.01 <= sim.sleeps[1] <= 0.02


def test_jitter_retry_lets_a_non_conflict_error_through_unchanged() -> None:
    error = StoreUnavailableError("outage")
    sim = SimulatedClock(record_sleeps=True)
    with pytest.raises(StoreUnavailableError) as info:
        jitter_retry(FailingStore(error), ACTOR, "Placed", clock=sim, rng=random.Random(0))
    assert info.value is error and sim.sleeps == []


@pytest.mark.parametrize(("kwargs", "named"), [({"max_attempts": 0}, "max_attempts"), ({"jitter": "x"}, "jitter")])
def test_jitter_retry_refuses_bad_parameters_before_touching_the_store(kwargs: dict, named: str) -> None:
    store = RivalStore()
    with pytest.raises(ValueError, match=named):
        jitter_retry(store, ACTOR, "Placed", clock=SimulatedClock(), **kwargs)
    assert (store.reads, store.writes) == (0, 0)


@pytest.mark.parametrize("jitter", JITTERS)
def test_twenty_contending_writers_all_commit_and_leave_a_consistent_store(jitter: str) -> None:
    result = run_contention(functools.partial(jitter_retry, jitter=jitter), writers=20, seed=4)
    summary = result.summary()
    assert summary.committed == 20
    assert result.store.get_latest_version("actor-0") == 20


def test_a_jittered_contention_run_is_identical_when_repeated_with_the_same_seed() -> None:
    pattern = functools.partial(jitter_retry, jitter="decorrelated")
    first_run, second_run = run_contention(pattern, writers=20, seed=4), run_contention(pattern, writers=20, seed=4)
    pd.testing.assert_frame_equal(first_run.saves, second_run.saves)
    pd.testing.assert_frame_equal(first_run.calls, second_run.calls)


def test_a_different_seed_gives_a_different_jittered_run() -> None:
    pattern = functools.partial(jitter_retry, jitter="full")
    a, b = run_contention(pattern, writers=20, seed=4), run_contention(pattern, writers=20, seed=5)
    assert not a.saves["latency"].equals(b.saves["latency"])


@pytest.mark.parametrize("draw", [no_jitter, full_jitter, equal_jitter])
def test_a_jitter_function_refuses_a_delay_that_is_not_a_finite_number_of_seconds(draw: Any) -> None:
    with pytest.raises(TypeError, match=r"^v must be a number of seconds; got 'x' \(str\)"):
        draw("x", random.Random(0))
    with pytest.raises(ValueError, match=r"^v must be a finite number of seconds >= 0; got nan"):
        draw(float("nan"), random.Random(0))


@pytest.mark.parametrize("draw", [no_jitter, full_jitter, equal_jitter])
def test_a_jitter_function_refuses_a_generator_that_is_not_one(draw: Any) -> None:
    with pytest.raises(TypeError, match=r"^rng must be a random.Random"):
        draw(0.1, random.Random)


def test_decorrelated_jitter_names_the_bad_bound() -> None:
    with pytest.raises(TypeError, match=r"^cap must be a number of seconds; got None"):
        decorrelated_jitter(0.01, 0.01, None, random.Random(0))  # type: ignore[arg-type]


def test_checked_jitter_draws_what_the_backoff_draws() -> None:
    backoff = Backoff(base_delay=0.01, max_delay=1.0, jitter="full")
    waits = list(itertools.islice(backoff.delays(random.Random(3)), 5))
    rng = random.Random(3)
    assert waits == [full_jitter(min(1.0, 0.01 * 2**retry), rng) for retry in range(5)]
