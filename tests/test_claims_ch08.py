"""Chapter 08's scenario pieces: a pattern saving the chapter's command, and the load step."""

from __future__ import annotations

import functools
import math

import pytest

from aether.claims.catalog._common import BUSY_SERVER
from aether.claims.catalog.ch08 import (
    CUT_AT,
    KEPT_UP,
    QUEUE_LIMIT,
    STORM_RATE,
    Decided,
    add_line,
    bounded_slowdown,
    committed_after,
    queue_wait,
    storm_then_cut,
)
from aether.experiment import Slowdown, run_load
from aether.experiment.scenarios import TIMEOUT
from aether.patterns import AdaptiveThrottlingPolicy, retry_on_failure


def test_a_decided_pattern_stores_what_the_command_decides_not_the_harness_data() -> None:
    result = run_load(Decided(functools.partial(retry_on_failure, max_attempts=3)), rate=50, duration=0.5,
                      actors=3, network=BUSY_SERVER.network(), seed=0)
    reads = set(result.calls.loc[result.calls["op"] != "save_event", "op"])
    assert reads == {"get_events"}, "a decision reads the actor's events, a blind save only its version"
    assert (result.saves["outcome"] == "committed").all()


def test_a_decided_shared_state_policy_is_bound_once_per_run() -> None:
    policy = AdaptiveThrottlingPolicy(window=2.0, buckets=10)
    run_load(Decided(policy), rate=50, duration=0.5, actors=5, network=BUSY_SERVER.network(), seed=0)
    assert len(policy.throttles) == 1


def test_the_chapters_command_appends_the_next_line() -> None:
    assert add_line([]) == {"line": 1}
    assert add_line(["e1", "e2"]) == {"line": 3}


def test_decided_refuses_what_is_not_a_pattern() -> None:
    with pytest.raises(TypeError, match="Decided.pattern"):
        Decided(42)


def test_the_load_step_changes_the_rate_at_the_cut() -> None:
    result = storm_then_cut({"rate": 40.0, "duration": 2 * CUT_AT}, 0, BUSY_SERVER, storm=False)
    starts = result.saves["start"]
    before, after = (starts < CUT_AT).sum() / CUT_AT, (starts >= CUT_AT).sum() / CUT_AT
    assert before == pytest.approx(STORM_RATE, rel=0.2)
    assert after == pytest.approx(40.0, rel=0.3)


def test_committed_after_counts_only_saves_that_arrived_from_then() -> None:
    result = run_load(Decided(retry_on_failure), rate=20, duration=2.0, actors=5, network=BUSY_SERVER.network(),
                      seed=0)
    assert committed_after(1.0)(result) == 1.0
    assert math.isnan(committed_after(5.0)(result)), "no save arrived from 5 s"


def test_the_queue_wait_is_the_limit_times_a_calls_mean_service_over_the_workers() -> None:
    # the busy server: reads 6.4 ms and writes 32 ms on 4 workers, so a call is 19.2 ms on average
    assert queue_wait(32) == pytest.approx(32 * 0.0192 / 4)
    assert queue_wait(32) < TIMEOUT < queue_wait(128)


def test_the_bounded_store_takes_its_queue_limit_from_the_point() -> None:
    assert bounded_slowdown({"queue_limit": 16}, BUSY_SERVER).queue_limit == 16
    assert bounded_slowdown({}, BUSY_SERVER).queue_limit == QUEUE_LIMIT


def test_kept_up_is_one_for_a_light_load_and_zero_when_the_store_falls_behind() -> None:
    light = run_load(Decided(retry_on_failure), rate=20, duration=6.0, actors=50, network=BUSY_SERVER.network(),
                     capacity=BUSY_SERVER.capacity(), seed=0)
    assert KEPT_UP(light) == 1.0
    stalled = run_load(Decided(retry_on_failure), rate=20, duration=6.0, actors=50, network=BUSY_SERVER.network(),
                       capacity=BUSY_SERVER.capacity(faults=[Slowdown(2.0, 4.0, 50.0)]), seed=0)
    assert KEPT_UP(stalled) == 0.0
