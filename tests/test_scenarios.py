"""The lab's shared scenarios: the two stores, their faults, and saves that decide."""

from __future__ import annotations

import functools

import pytest

from aether.clock import SimulatedClock
from aether.experiment import run_contention, run_load
from aether.experiment.scenarios import (
    BUSY_SERVER,
    CLASSIC,
    TIMEOUT,
    Decided,
    add_line,
    busy_outage,
    busy_slowdown,
    classic_outage,
    decided,
)
from aether.patterns import QueuedWrites, RetryBudgetPolicy, jitter_retry, simple_retry


def _classic_run(pattern, writers=10, seed=1):  # noqa: ANN001, ANN202
    return run_contention(pattern, writers=writers, seed=seed, network=CLASSIC.network(),
                          capacity=CLASSIC.capacity())


def test_by_default_each_save_appends_the_next_line_and_with_none_the_writers_own_data():
    from aether.store import InMemoryEventStore

    for decide, expected in ((add_line, {"line": 1}), (None, {"n": 7})):
        store = InMemoryEventStore()
        call = Decided(simple_retry, decide).bind(None)  # a plain pattern needs no run context
        call(store, "order-1", "LineAdded", {"n": 7}, clock=SimulatedClock())
        assert dict(store.get_events("order-1")[0].data) == expected


def test_a_decision_that_refuses_ends_the_save_as_refused_not_failed():
    result = _classic_run(Decided(simple_retry, lambda events: None if events else {"first": True}), writers=5)
    summary = result.summary()
    assert summary.committed == 1 and summary.refused == 4


def test_a_shared_state_policy_is_bound_per_run_and_keeps_its_state_readable():
    policy = RetryBudgetPolicy(max_attempts=3)
    summary = _classic_run(Decided(policy), writers=5).summary()
    assert summary.pattern == "budgeted_retry" and summary.committed + summary.gave_up == 5


def test_a_queue_drains_before_the_run_ends():
    result = _classic_run(decided(QueuedWrites()), writers=5)
    assert result.summary().committed == 5


def test_the_label_names_the_arm_and_the_pattern_does_by_default():
    assert decided(simple_retry).name == "simple_retry"
    assert decided(simple_retry, label="mine").name == "mine"


@pytest.mark.parametrize("bad", [None, 3, "simple_retry", int])
def test_what_is_no_pattern_is_refused_with_its_value(bad):  # noqa: ANN001
    with pytest.raises(TypeError, match="pattern"):
        Decided(bad)


def test_a_decision_that_is_no_callable_is_refused():
    with pytest.raises(TypeError, match="decide"):
        Decided(simple_retry, "add_line")  # type: ignore[arg-type]


def test_add_line_numbers_the_next_line_after_the_lines_read():
    assert add_line([]) == {"line": 1}


def test_the_busy_server_faults_fall_where_the_chapters_say():
    net = busy_outage({"outage": 2.0}, BUSY_SERVER)
    assert net.timeout == TIMEOUT and [(o.start, o.end) for o in net.outages] == [(3.0, 5.0)]
    slow = busy_slowdown({}, BUSY_SERVER)
    assert [(f.start, f.end, f.factor) for f in slow.faults] == [(3.0, 4.0, 4.0)]
    assert [(o.start, o.end) for o in classic_outage({"outage": 1.5}, CLASSIC).outages] == [(1.0, 2.5)]


def test_the_busy_server_is_busy_but_not_overloaded_at_80_saves_a_second():
    result = run_load(decided(functools.partial(jitter_retry, jitter="full")), rate=80, duration=5, seed=0,
                      network=BUSY_SERVER.network(timeout=TIMEOUT), capacity=BUSY_SERVER.capacity(), actors=5000)
    assert 0.6 < result.summary().utilisation < 0.9
