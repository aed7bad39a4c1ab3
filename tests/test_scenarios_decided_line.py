"""Specification of aether.experiment.scenarios' Decided and add_line: saves that decide again (retry the command)."""

from __future__ import annotations

import functools
import pickle

from aether.experiment import run_load
from aether.experiment.scenarios import BUSY_SERVER, Decided, add_line, busy_outage
from aether.patterns import CircuitBreakerPolicy, retry_on_failure


def test_add_line_numbers_the_next_line_after_the_events_read() -> None:
    assert add_line([]) == {"line": 1}


def test_a_decided_pattern_stores_the_decision_not_the_experiments_blind_data() -> None:
    result = run_load(Decided(functools.partial(retry_on_failure, max_attempts=1)), rate=20, duration=0.5,
                      actors=3, seed=1)
    events = [e for actor in ("actor-0", "actor-1", "actor-2") for e in result.store.get_events(actor)]
    assert events and [e.data for e in events if e.actor_id == "actor-0"] == [
        {"line": n} for n in range(1, 1 + sum(e.actor_id == "actor-0" for e in events))]


def test_a_decided_policy_keeps_its_runs_readable_on_the_wrapped_policy() -> None:
    policy = CircuitBreakerPolicy()
    run_load(Decided(policy), rate=20, duration=0.5, actors=50, seed=1,
             network=busy_outage({}, BUSY_SERVER), capacity=BUSY_SERVER.capacity())
    assert len(policy.breakers) == 1


def test_a_decided_pattern_reads_the_actor_before_every_write() -> None:
    result = run_load(Decided(functools.partial(retry_on_failure, max_attempts=1)), rate=20, duration=0.5,
                      actors=50, seed=2)
    ops = result.calls["op"].value_counts()
    assert ops["get_events"] == ops["save_event"]


def test_a_decided_pattern_survives_pickling_for_worker_processes() -> None:
    wrapped = Decided(CircuitBreakerPolicy())
    assert pickle.loads(pickle.dumps(wrapped)).name == wrapped.name == "circuit_breaker"
