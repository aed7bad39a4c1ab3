"""Store profiles: calibrated numbers with their source, scaled only with a stated reason."""

from __future__ import annotations

import random

import pytest

from aether.calibrate import reference_calibration
from aether.experiment import Capacity, Constant, NetworkModel, Slowdown
from aether.experiment.profiles import (
    LAPTOP_SQLITE,
    PROFILES,
    SERVER_DB,
    SQLITE_FSYNC,
    Scaled,
    fsync_measurement,
    profile,
)


def test_laptop_sqlite_is_the_reference_calibration():
    cal = reference_calibration()
    capacity = LAPTOP_SQLITE.capacity()
    assert capacity.service_of("read") == cal.read and capacity.service_of("write") == cal.write
    assert capacity.workers == cal.workers
    assert "reference_calibration.json" in LAPTOP_SQLITE.source


def test_sqlite_with_fsync_is_the_committed_measurement_with_its_provenance():
    data = fsync_measurement()
    assert SQLITE_FSYNC.write.values == tuple(data["write"])
    assert data["machine"]["synchronous"] == "FULL" and data["samples"] >= 100
    assert data["command"] in SQLITE_FSYNC.source and data["measured"] in SQLITE_FSYNC.source
    assert SQLITE_FSYNC.write.median > 3 * LAPTOP_SQLITE.write.median  # an fsync per commit costs


def test_the_server_profile_says_it_is_an_estimate():
    assert SERVER_DB.estimate and "estimate" in SERVER_DB.source and "[an estimate]" in str(SERVER_DB)


def test_every_profile_is_found_by_name():
    assert [profile(name).name for name in PROFILES] == ["laptop SQLite", "SQLite with fsync", "server database"]
    with pytest.raises(ValueError, match="name must be one of"):
        profile("postgres-on-mars")


def test_a_profile_gives_a_capacity_and_a_network_with_a_chapters_settings():
    capacity = SERVER_DB.capacity(faults=[Slowdown(3.0, 4.0, 4)], queue_limit=10)
    network = SERVER_DB.network(timeout=0.25)
    assert isinstance(capacity, Capacity) and capacity.workers == 4 and capacity.queue_limit == 10
    assert isinstance(network, NetworkModel) and network.timeout == 0.25 and network.hop == SERVER_DB.hop


@pytest.mark.parametrize("name", ["service", "workers"])
def test_a_profile_refuses_speeds_from_bare_numbers(name):
    with pytest.raises(ValueError, match=f"{name} comes from the profile"):
        LAPTOP_SQLITE.capacity(**{name: 1})


def test_a_profile_refuses_a_hop_from_bare_numbers():
    with pytest.raises(ValueError, match="with_hop"):
        LAPTOP_SQLITE.network(hop=Constant(0.01))


def test_scaling_multiplies_service_times_and_keeps_the_reason():
    slow = LAPTOP_SQLITE.scaled(100, reason="a shared server at 100x the laptop's service time")
    assert slow.capacity().service_of("write").mean == pytest.approx(100 * LAPTOP_SQLITE.write.mean)
    assert slow.label == "laptop SQLite x100"
    assert "a shared server at 100x the laptop's service time" in str(slow)
    rng_a, rng_b = random.Random(1), random.Random(1)
    assert slow.write.sample(rng_a) == pytest.approx(100 * LAPTOP_SQLITE.write.sample(rng_b))


def test_scaling_needs_a_reason():
    with pytest.raises(TypeError):
        LAPTOP_SQLITE.scaled(10)  # type: ignore[call-arg]
    with pytest.raises(ValueError, match="reason"):
        LAPTOP_SQLITE.scaled(10, reason="")
    with pytest.raises(ValueError, match="factor"):
        LAPTOP_SQLITE.scaled(0, reason="nothing")


def test_another_path_is_named_in_the_label():
    far = LAPTOP_SQLITE.with_hop(Constant(0.010), reason="the classic simulation's network")
    assert far.label == "laptop SQLite, 10 ms hops" and far.network().hop == Constant(0.010)


def test_scaled_is_a_delay():
    with pytest.raises(TypeError, match="Scaled.delay"):
        Scaled(0.1, 2)  # type: ignore[arg-type]
