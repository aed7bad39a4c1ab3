"""decided(pattern) of aether.experiment.scenarios: the saves made as commands, for plain and queued patterns."""

from __future__ import annotations

import functools
import pickle

import pytest

from aether.experiment import run_contention
from aether.experiment.scenarios import Decided, decided
from aether.patterns import QueuedWrites, jitter_retry, simple_retry


def test_a_decided_pattern_reads_the_events_before_every_attempt_instead_of_the_latest_version():
    calls = run_contention(decided(simple_retry), writers=5, seed=0).calls
    assert set(calls["op"]) == {"get_events", "save_event"}
    blind = run_contention(simple_retry, writers=5, seed=0).calls
    assert "get_latest_version" in set(blind["op"])


def test_a_pattern_decided_on_the_writers_data_stores_it_once_per_save():
    result = run_contention(decided(functools.partial(jitter_retry, max_attempts=100), None), writers=10, seed=1)
    events = result.store.get_events("actor-0")
    assert (result.saves["outcome"] == "committed").all()
    assert sorted(e.data["writer"] for e in events) == list(range(10))


def test_a_decided_pattern_gets_the_runs_seeded_generator_when_it_draws_random_waits():
    first = run_contention(decided(jitter_retry), writers=10, seed=3).summary()
    again = run_contention(decided(jitter_retry), writers=10, seed=3).summary()
    assert first == again


def test_a_decided_queue_binds_the_queue_and_drains_it_after_the_last_writer():
    queued = QueuedWrites()
    result = run_contention(decided(queued), writers=10, seed=0)
    assert (result.saves["outcome"] == "committed").all() and len(queued.queues) == 1
    worker = result.calls[result.calls["writer"] < 0]
    assert set(worker["op"]) == {"get_events", "save_event"}


def test_a_decided_pattern_goes_by_the_wrapped_patterns_name_and_pickles():
    wrapped = decided(QueuedWrites(name="my queue"))
    assert wrapped.name == "my queue"
    assert isinstance(pickle.loads(pickle.dumps(wrapped)), Decided)


def test_decided_refuses_what_is_not_a_pattern():
    with pytest.raises(TypeError, match="pattern"):
        decided(42)
