"""The PostgreSQL calibration: what it measures, how it is kept, and its bad input.

It measures the test process's own local server (each call on a new schema),
with few samples: these tests check the figures' shape, never their speed.
"""

from __future__ import annotations

import os

import pytest
from storehelpers import postgres_conninfo

if os.environ.get("CI", "").lower() != "true":
    pytest.importorskip("psycopg", reason='needs psycopg 3: pip install -e ".[postgres]"')

from aether.calibrate import Quantiles  # noqa: E402
from aether.calibrate_postgres import PostgresCalibration, calibrate_postgres  # noqa: E402
from aether.experiment.capacity import Capacity  # noqa: E402


@pytest.fixture(scope="module")
def calibration() -> PostgresCalibration:
    return calibrate_postgres(postgres_conninfo("calibration"), samples=8, seconds=0.05, levels=(1, 2), connects=3)


def test_it_times_reads_writes_conflicts_and_new_connections(calibration: PostgresCalibration) -> None:
    for name in ("read", "write", "conflict", "connect"):
        distribution = getattr(calibration, name)
        assert isinstance(distribution, Quantiles)
        assert 0 < distribution.median < 5.0, name


def test_it_measures_writers_served_at_once_at_each_level(calibration: PostgresCalibration) -> None:
    assert list(calibration.served_at_once) == [1, 2]
    assert all(ratio > 0 for ratio in calibration.served_at_once.values())
    assert calibration.writers_at_once == max(calibration.served_at_once.values())
    assert calibration.lone_rate > 0


def test_the_capacity_uses_the_measured_service_times(calibration: PostgresCalibration) -> None:
    capacity = calibration.capacity

    assert isinstance(capacity, Capacity)
    assert capacity.workers == calibration.workers >= 1
    assert capacity.service == {"read": calibration.read, "write": calibration.write}


def test_a_given_server_is_not_timed_as_started(calibration: PostgresCalibration) -> None:
    assert calibration.server_start is None
    assert calibration.server.startswith("PostgreSQL ")
    assert calibration.max_connections >= 1


def test_the_printed_figures_name_the_command_that_produced_them(calibration: PostgresCalibration) -> None:
    text = str(calibration)

    assert text.splitlines()[0].endswith(calibration.command)
    assert "calibrate_postgres(samples=8" in calibration.command
    assert "served at once" in text and "new connection" in text


def test_a_calibration_reads_back_from_its_json(calibration: PostgresCalibration) -> None:
    assert PostgresCalibration.from_json(calibration.to_json()) == calibration


@pytest.mark.parametrize("text", ["", "[]", '{"format": 99}', '{"format": 1, "read": [0, 1]}'])
def test_text_that_is_not_a_calibration_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="calibration"):
        PostgresCalibration.from_json(text)


@pytest.mark.parametrize(
    ("settings", "error", "name"),
    [
        ({"samples": 0}, ValueError, "samples"),
        ({"samples": 2.5}, TypeError, "samples"),
        ({"seconds": 0}, ValueError, "seconds"),
        ({"levels": "12"}, TypeError, "levels"),
        ({"levels": ()}, TypeError, "levels"),
        ({"levels": (0,)}, ValueError, "levels"),
        ({"connects": 0}, ValueError, "connects"),
        ({"command": ""}, ValueError, "command"),
    ],
)
def test_bad_settings_are_refused_before_anything_runs(settings: dict, error: type[Exception], name: str) -> None:
    with pytest.raises(error, match=name):
        calibrate_postgres("host=/nonexistent", **settings)
