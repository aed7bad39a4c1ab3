"""Each chapter's ``exercise_reference`` gives what the notebook's worked solution computes.

A check cell compares the attendee's answer with ``exercise_reference(number, ...)``
of the chapter's claims module, so the notebook never holds the answer. Each
test here computes an exercise the way its solution cell does and asserts the
reference agrees; where the solution reads one of the notebook's sweeps, the
test builds a small frame and asserts on the value it must give.
"""

from __future__ import annotations

import functools
import math
import random
import statistics
from collections.abc import Mapping
from typing import Any

import pandas as pd
import pytest

from aether.calibrate_reality import herd_patterns
from aether.claims import sustained_recovery_time
from aether.claims.catalog import ch00, ch01, ch04, ch05, ch06, ch09, ch10, ch11
from aether.clock import Clock
from aether.events import Event
from aether.experiment import run_contention, run_load, sweep
from aether.experiment.realstorm import load_storm_record
from aether.experiment.scenarios import BUSY_SERVER, CLASSIC, Decided, busy_outage, decided
from aether.patterns import (
    CircuitBreakerPolicy,
    QueuedWrites,
    adaptive_delay,
    adaptive_retry,
    immediate_retry,
    simple_retry,
)

STORE = {"network": CLASSIC.network(), "capacity": CLASSIC.capacity()}


# --- chapter 00 ------------------------------------------------------------------------------------------------


def test_chapter_00_exercise_one_is_the_units_sold_two_at_a_time() -> None:
    stock = 3

    def reserve_two(events: list[Event]) -> dict[str, int] | None:
        sold = sum(event.data["units"] for event in events)
        return {"units": 2} if sold + 2 <= stock else None

    two = run_contention(lambda s, a, e, d, *, clock: immediate_retry(s, a, e, reserve_two, clock=clock), writers=6,
                         seed=1, **STORE)
    sold = sum(event.data["units"] for event in two.store.get_events("actor-0"))
    assert ch00.exercise_reference(1, stock) == sold


@pytest.mark.parametrize("stock", [1, 3, 5])
def test_chapter_00_exercise_two_is_the_stock_and_bounds_what_the_runs_used(stock: int) -> None:
    most = ch00.exercise_reference(2, stock)
    assert most == stock  # the solution: each lost write means another reservation was stored
    runs = sweep({"re-decide": functools.partial(ch00.reserving, stock=stock, blind=False)}, writers=[2, 10, 20],
                 seeds=range(3), progress=False, **STORE)
    assert int(runs["max_retries"].max()) + 1 <= most


def test_chapter_00_refuses_a_stock_below_one() -> None:
    with pytest.raises(ValueError, match="stock"):
        ch00.exercise_reference(2, 0)


# --- chapter 01 ------------------------------------------------------------------------------------------------


def _limits(p95_by_pattern: Mapping[str, list[list[float]]]) -> pd.DataFrame:
    """A sweep frame like section 4's: per pattern, per max_attempts (from 1), the p95 (s) of each seed."""
    return pd.DataFrame([{"pattern": pattern, "max_attempts": m, "seed": seed, "p95": p95}
                         for pattern, rows in p95_by_pattern.items() for m, by_seed in enumerate(rows, start=1)
                         for seed, p95 in enumerate(by_seed)])


def test_chapter_01_exercise_one_is_simple_retrys_largest_limit_within_500_ms_on_the_mean_of_seeds() -> None:
    limits = _limits({
        "simple_retry": [[0.1, 0.1], [0.2, 0.4], [0.45, 0.55], [0.4, 0.7]],  # means 0.1, 0.3, 0.5, 0.55 s
        "immediate_retry": [[0.1, 0.1], [0.1, 0.1], [0.1, 0.1], [0.1, 0.1], [0.1, 0.1]],
    })
    assert ch01.exercise_reference(1, limits) == 3


def test_chapter_01_exercise_one_needs_the_sweep() -> None:
    with pytest.raises(ValueError, match="limits"):
        ch01.exercise_reference(1)


def test_chapter_01_exercise_two_is_the_smallest_base_with_at_most_55_percent_given_up() -> None:
    bases = sweep({f"{base}": functools.partial(ch01.saving, retry=simple_retry, max_attempts=4, base_delay=base)
                   for base in (0.005, 0.010, 0.020, 0.040, 0.080)},
                  writers=[30], seeds=range(5), saves_per_writer=5, progress=False, **STORE)
    share = (bases["gave_up"] / bases["saves"]).groupby(bases["pattern"].astype(float)).mean()
    assert ch01.exercise_reference(2) == float(share[share <= 0.55].index.min())


# --- chapter 04 ------------------------------------------------------------------------------------------------


def test_chapter_04_exercise_one_is_the_mean_gave_up_of_adaptive_retry_with_jitter() -> None:
    jittered = sweep({"adaptive, jitter": decided(functools.partial(adaptive_retry, jitter=True))},
                     writers=[50], seeds=range(5), progress=False, **STORE)
    assert ch04.exercise_reference(1) == float(jittered["gave_up"].mean())


def test_chapter_04_exercise_two_is_the_nine_light_waits_between_ten_attempts() -> None:
    assert ch04.exercise_reference(2) == pytest.approx(sum(adaptive_delay(1, retry) for retry in range(9)))


# --- chapter 05 ------------------------------------------------------------------------------------------------


def test_chapter_05_exercise_one_is_the_queues_nine_capped_doubling_waits() -> None:
    assert ch05.exercise_reference(1) == pytest.approx(sum(min(1.0, 0.010 * 2**n) for n in range(9)))


def test_chapter_05_exercise_two_is_the_wasted_writes_of_three_workers() -> None:
    run = run_contention(decided(QueuedWrites(workers=3)), writers=50, seed=0, **STORE)
    assert ch05.exercise_reference(2) == run.summary().wasted_calls


# --- chapter 06 ------------------------------------------------------------------------------------------------


def _busy_run(pattern: Any, seed: int, rate: float = 80) -> Any:
    return run_load(pattern, rate=rate, duration=15.0, actors=5000, seed=seed, network=busy_outage({}, BUSY_SERVER),
                    capacity=BUSY_SERVER.capacity())


def test_chapter_06_exercise_one_is_the_median_recovery_for_good_with_a_two_second_reset() -> None:
    slow = Decided(CircuitBreakerPolicy(reset_timeout=2.0))
    median = float(pd.Series([sustained_recovery_time(_busy_run(slow, seed), after=4.0) for seed in range(5)]).median())
    assert ch06.exercise_reference(1) == median


def test_chapter_06_exercise_two_is_the_lowest_rate_where_the_jittered_client_storms() -> None:
    def stormed(rate: int) -> bool:
        return any(sustained_recovery_time(_busy_run(ch06.JITTERED, seed, rate=rate), after=4.0) == math.inf
                   for seed in range(5))

    assert ch06.exercise_reference(2) == next(rate for rate in (64, 68, 72, 76, 80) if stormed(rate))


# --- chapter 09 ------------------------------------------------------------------------------------------------


def test_chapter_09_exercise_one_is_the_smallest_spread_within_a_quarter_of_the_real_herds_work() -> None:
    real_24 = ch09.real_work("large herd")["no jitter"]

    def herd_cost(spread: float) -> float:
        runs = [run_contention(herd_patterns()["no jitter"], seed=seed, writers=24, start_spread=spread,
                               network=ch09.REAL_HOPS.network(), capacity=ch09.REAL_HOPS.capacity()).summary()
                for seed in range(10)]
        return statistics.median(s.write_calls / s.committed for s in runs)

    expected = next(s for s in [0, 0.002, 0.004, 0.008, 0.016, 0.032] if herd_cost(s) <= 1.25 * real_24)
    assert ch09.exercise_reference(1) == expected


def test_chapter_09_exercise_two_is_the_mean_share_served_for_callers_gone() -> None:
    runs = load_storm_record().runs
    at_once = runs[runs["pattern"] == "retry at once"]
    assert len(at_once) > 1
    assert ch09.exercise_reference(2) == float((at_once["served_for_gone_after"] / at_once["calls_after"]).mean())


# --- chapter 10 ------------------------------------------------------------------------------------------------


def test_chapter_10_exercise_one_counts_the_cells_no_retry_wins_or_ties() -> None:
    board = pd.DataFrame({"winner": ["no retry", "full jitter", "full jitter", "backoff + budget"],
                          "ties": [("no retry",), ("full jitter", "no retry"), ("full jitter",),
                                   ("backoff + budget", "no retry budget")]})
    assert ch10.exercise_reference(1, board) == 2


def test_chapter_10_exercise_one_needs_the_board() -> None:
    with pytest.raises(ValueError, match="board"):
        ch10.exercise_reference(1)


# --- chapter 11 ------------------------------------------------------------------------------------------------


@pytest.fixture
def tenacity() -> Any:
    return pytest.importorskip("tenacity",
                               reason='tenacity comes with the notebooks extra (pip install -e ".[notebooks]")')


def _key_of(data: Mapping[str, Any]) -> str:
    return f"save-{data['writer']}-{data['save']}"


def test_chapter_11_exercise_one_is_the_writes_of_tenacity_with_staminas_wait(tenacity: Any) -> None:
    def tenacity_stamina(store: Any, actor_id: str, event_type: str, data: Mapping[str, Any], *, clock: Clock,
                         rng: random.Random) -> Event:
        retrying = tenacity.Retrying(sleep=clock.sleep, wait=lambda state: ch11.stamina_wait(state.attempt_number, rng),
                                     retry=tenacity.retry_if_exception_type(ch11.RETRIED),
                                     stop=tenacity.stop_after_attempt(10))
        return retrying(ch11.attempt, store, actor_id, event_type, functools.partial(ch11.reserve, data),
                        _key_of(data))

    writes = run_contention(tenacity_stamina, writers=20, seed=3, **STORE).summary().write_calls
    assert ch11.exercise_reference(1) == writes


def test_chapter_11_exercise_two_is_the_saves_given_up_at_a_deadline_on_the_harness_clock(tenacity: Any) -> None:
    def tenacity_deadline(store: Any, actor_id: str, event_type: str, data: Mapping[str, Any], *, clock: Clock,
                          rng: random.Random) -> Event:
        start = clock.now()
        retrying = tenacity.Retrying(
            sleep=clock.sleep, wait=lambda state: rng.uniform(0.0, min(2.0, 0.005 * 2 ** (state.attempt_number - 1))),
            retry=tenacity.retry_if_exception_type(ch11.RETRIED),
            stop=tenacity.stop_any(tenacity.stop_after_attempt(50), lambda state: clock.now() - start >= 0.3))
        return retrying(ch11.attempt, store, actor_id, event_type, functools.partial(ch11.reserve, data),
                        _key_of(data))

    run = run_contention(tenacity_deadline, writers=50, seed=5, **STORE)
    gave_up = int((run.saves["outcome"] == "gave_up").sum())
    assert gave_up > 0
    assert ch11.exercise_reference(2) == gave_up


# --- every chapter ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("module", [ch00, ch01, ch04, ch05, ch06, ch09, ch10, ch11], ids=lambda m: m.__name__[-4:])
def test_an_unknown_exercise_number_is_refused_naming_it(module: Any) -> None:
    with pytest.raises(ValueError, match=r"number must be .*got 9"):
        module.exercise_reference(9)
