"""The committed record of the real storm on PostgreSQL, and the storm server's profile (no server needed)."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from aether.calibrate import Quantiles
from aether.experiment.realstorm import StormRecord, load_storm_record, storm_patterns, storm_profile


def record() -> StormRecord:
    service = {"read": Quantiles.of([0.023, 0.024]), "write": Quantiles.of([0.025, 0.027])}
    runs = pd.DataFrame([{"pattern": "no retries", "seed": 0, "repeat": 0, "drain": math.inf, "collapse": 0.5}])
    timelines = pd.DataFrame([{"pattern": "no retries", "seed": 0, "repeat": 0, "start": 0.5 * b, "offered": 30.0,
                               "goodput": 29.0} for b in range(3)])
    settings = {"rate": 30.0, "duration": 10.0, "workers": 2, "work": 0.02}
    return StormRecord(service=service, runs=runs, timelines=timelines, settings=settings, command="cmd",
                       measured="2026-01-01", server="PostgreSQL 16.2", machine={"cpus": 2})


def test_a_storm_record_reads_back_what_it_wrote_with_never_as_null() -> None:
    back = StormRecord.from_json(record().to_json())
    assert back.service["write"].values == record().service["write"].values
    assert back.timelines["goodput"].tolist() == [29.0] * 3
    assert back.runs["drain"].isna().all()  # infinity is written as null
    assert (back.command, back.server, back.settings["workers"]) == ("cmd", "PostgreSQL 16.2", 2)


def test_reading_something_that_is_not_a_storm_record_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="not a storm record"):
        StormRecord.from_json("[]")


def test_the_storm_profile_has_the_records_workers_and_service_times_and_names_its_source() -> None:
    profile = storm_profile(record())
    assert profile.workers == 2 and profile.write.mean == pytest.approx(0.026)
    assert "storm_postgres.json" in profile.source and "cmd" in profile.source
    with pytest.raises(TypeError, match="StormRecord"):
        storm_profile("record")  # type: ignore[arg-type]


def test_the_committed_record_has_every_pattern_and_seed_with_a_timeline() -> None:
    committed = load_storm_record()
    assert set(committed.runs["pattern"]) == set(storm_patterns())
    runs = committed.runs.groupby("pattern").size()
    bins = committed.timelines.groupby(["pattern", "seed"]).size()
    assert (runs >= 3).all() and (bins >= 20).all()
    assert 0.02 < committed.service["read"].median < 0.03
