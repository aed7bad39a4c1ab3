"""The helpers chapters 02 and 03 keep in their claims modules: the lagging replica and the exercise references."""

import pytest

from aether.claims.catalog import ch02, ch03
from aether.clock import SimulatedClock
from aether.patterns import ThrashingError, conflict_detailed_retry


def test_a_lagging_replica_reads_lag_versions_behind_what_it_stores():
    replica = ch02.LaggingReplica(lag=3, versions=7)
    assert len(replica.get_events("order-7")) == 4


def test_a_lagging_replica_counts_the_writes_it_receives():
    replica = ch02.LaggingReplica(lag=3)
    with pytest.raises(ThrashingError):
        conflict_detailed_retry(replica, "order-7", "ItemAdded", ch02.add_item, clock=SimulatedClock())
    assert replica.writes == 3


def test_chapter_02_exercise_one_reference_is_the_simulated_wait_in_milliseconds():
    assert ch02.exercise_reference(1) > 0


@pytest.mark.parametrize("module", [ch02, ch03])
def test_an_unknown_exercise_number_is_refused_naming_it(module):
    with pytest.raises(ValueError, match="number must be"):
        module.exercise_reference(9, runs=None)


def test_chapter_02_exercise_two_needs_the_runs():
    with pytest.raises(ValueError, match="runs"):
        ch02.exercise_reference(2)
