"""Metrics that do not flatter: sustained recovery, 'not within T s', every-save latency."""

from __future__ import annotations

import functools
import math

import pytest

from aether.claims import (
    committed_latency,
    every_save_latency,
    recovered_within,
    sustained_recovery_time,
)
from aether.experiment import Capacity, Exponential, NetworkModel, Outage, run_contention, run_load
from aether.patterns import jitter_retry, retry_on_failure, simple_retry

SERVICE = {"read": Exponential(0.0032), "write": Exponential(0.0064)}


def outage_run(duration: float, rate: float = 40):
    network = NetworkModel(hop=Exponential(0.001), timeout=0.25, outages=[Outage(3.0, 4.0)])
    return run_load(retry_on_failure, rate=rate, duration=duration, actors=1000, capacity=Capacity(service=SERVICE),
                    network=network, seed=1)


def test_a_light_load_recovers_for_good_soon_after_an_outage():
    took = sustained_recovery_time(outage_run(20.0), after=4.0)
    assert 0 <= took <= 1.0


def test_recovery_found_too_near_the_end_of_the_run_does_not_count():
    assert sustained_recovery_time(outage_run(8.0), after=4.0, tail=5.0) == math.inf


def test_not_recovered_within_needs_a_run_long_enough_to_tell():
    with pytest.raises(ValueError, match="too short to tell recovery within 10 s"):
        recovered_within(after=4.0, within=10.0)(outage_run(8.0))


def test_recovered_within_is_one_when_goodput_is_back_for_good():
    assert recovered_within(after=4.0, within=2.0)(outage_run(20.0)) == 1.0


def test_sustained_recovery_refuses_a_closed_loop_run():
    with pytest.raises(ValueError, match="open-loop"):
        sustained_recovery_time(run_contention(jitter_retry, writers=3, seed=0), after=0.0)


def test_every_save_latency_counts_saves_that_gave_up_and_committed_latency_says_it_does_not():
    result = run_contention(simple_retry, writers=30, seed=0)
    saves = result.saves
    assert (saves["outcome"] == "gave_up").any()
    every, committed = every_save_latency(0.95), committed_latency(0.95)
    assert "every save" in every.name and "committed saves only" in committed.name
    assert every(result) == pytest.approx(float(saves["latency"].quantile(0.95)))
    kept = saves.loc[saves["outcome"] == "committed", "latency"]
    assert committed(result) == pytest.approx(float(kept.quantile(0.95)))


# -- how often a conflict's distance leaves the light tier (chapter 04) ----------------------------------------


def test_beyond_light_share_counts_the_conflicts_whose_distance_is_above_the_light_tier():
    from aether.claims.metrics import beyond_light_share
    from aether.patterns import adaptive_retry

    think = run_contention(adaptive_retry, writers=30, seed=0, network=NetworkModel(think_time=Exponential(0.1)))
    calls = think.calls
    conflicts = calls[(calls["op"] == "save_event") & (calls["result"] == "conflict")]
    distance = conflicts["current_version"] - conflicts["attempted_version"] + 1
    assert beyond_light_share()(think) == pytest.approx((distance > 2).mean())
    assert 0 < beyond_light_share()(think) < beyond_light_share(1)(think)


def test_beyond_light_share_is_zero_for_a_run_without_conflicts():
    from aether.claims.metrics import beyond_light_share

    assert beyond_light_share()(run_contention(simple_retry, writers=1, seed=0)) == 0.0


@pytest.mark.parametrize(("light_up_to", "error"), [(-1, ValueError), (2.5, TypeError), (True, TypeError)])
def test_beyond_light_share_refuses_a_bad_tier_naming_it(light_up_to, error):
    from aether.claims.metrics import beyond_light_share

    with pytest.raises(error, match="light_up_to"):
        beyond_light_share(light_up_to)


# -- time to commit of every save (chapter 05) ---------------------------------------------------------------


def test_time_to_commit_of_a_direct_pattern_is_its_committed_saves_latency():
    from aether.claims.metrics import time_to_commit

    result = run_contention(jitter_retry, writers=20, seed=0)
    assert (result.saves["outcome"] == "committed").all()
    assert time_to_commit(0.5)(result) == result.saves["latency"].quantile(0.5, interpolation="higher")


def test_time_to_commit_counts_a_save_never_stored_as_never():
    from aether.claims.metrics import time_to_commit

    result = run_contention(functools.partial(simple_retry, max_attempts=1), writers=20, seed=0)
    assert (result.saves["outcome"] != "committed").sum() > 1  # more than the p95's share lost
    assert math.isinf(time_to_commit(0.95)(result)) and math.isfinite(time_to_commit(0.0)(result))


def test_time_to_commit_of_a_queue_is_enqueue_to_commit_not_the_callers_wait():
    from aether.claims.metrics import time_to_commit
    from aether.patterns import QueuedWrites

    result = run_contention(QueuedWrites(), writers=20, seed=0)
    assert result.saves["latency"].max() == 0.0 and time_to_commit(0.5)(result) > 0.0


@pytest.mark.parametrize("q", [-0.1, 1.5])
def test_time_to_commit_refuses_a_quantile_outside_0_1(q):
    from aether.claims.metrics import time_to_commit

    with pytest.raises(ValueError, match="q"):
        time_to_commit(q)


def breaker_outage_run(seed: int):
    from aether.experiment.scenarios import BUSY_SERVER, Decided, busy_outage
    from aether.patterns import CircuitBreakerPolicy

    network = busy_outage({"outage": 1.0}, BUSY_SERVER)  # the store unreachable from 3 to 4 s
    return run_load(Decided(CircuitBreakerPolicy(reset_timeout=2.0)), rate=80, duration=15.0, actors=5000,
                    seed=seed, network=network, capacity=BUSY_SERVER.capacity())


@pytest.mark.parametrize("seed", [2, 3])
def test_sustained_recovery_is_not_before_the_first_save_commits_again(seed):
    # The breaker stays open until about 5 s: a 2-s window from 4.75 s keeps up on the backlog it
    # flushes later, yet nothing committed from 4.75 to 5 s, so recovery is not before 5 s.
    result = breaker_outage_run(seed)
    took = sustained_recovery_time(result, after=4.0)
    timeline = result.timeline(0.25)
    quiet = timeline[(timeline["start"] >= 4.0) & (timeline["goodput"] == 0)]
    assert math.isfinite(took)
    assert 4.0 + took > quiet["start"].max()
