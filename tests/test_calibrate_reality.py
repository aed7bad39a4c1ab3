"""The record of real contention runs that chapter 09 holds the simulation against."""

from __future__ import annotations

import pandas as pd
import pytest

from aether.calibrate_reality import (
    ContentionRecord,
    herd_patterns,
    load_contention_record,
    record_contention,
    run_row,
    start_skew,
    steady_patterns,
)
from aether.experiment import run_contention
from aether.experiment.profiles import LAPTOP_SQLITE


def simulated(spread: float = 0.0, writers: int = 6):
    return run_contention(herd_patterns()["full jitter"], writers=writers, start_spread=spread, seed=1,
                          name="full jitter", network=LAPTOP_SQLITE.network(), capacity=LAPTOP_SQLITE.capacity())


def test_start_skew_is_the_spread_of_the_first_calls_ends() -> None:
    assert start_skew(simulated(0.0)) == pytest.approx(0.0, abs=1e-3)
    assert 0.0 < start_skew(simulated(0.05, writers=20)) <= 0.051


def test_a_run_row_holds_its_scenario_way_summary_and_start_skew() -> None:
    row = run_row(simulated(), scenario="herd", way="simulated", seed=1)
    assert (row["scenario"], row["way"], row["pattern"], row["seed"]) == ("herd", "simulated", "full jitter", 1)
    assert row["committed"] == row["saves"] == 6 and row["write_calls"] >= 6 and "start_skew" in row


def test_a_record_reads_back_what_it_wrote() -> None:
    runs = pd.DataFrame([run_row(simulated(), scenario="herd", way="real SQLite", seed=s) for s in range(2)])
    record = ContentionRecord(runs=runs, command="a command", measured="2026-01-01", machine={"cpus": 2})
    back = ContentionRecord.from_json(record.to_json())
    assert (back.command, back.measured, back.machine) == ("a command", "2026-01-01", {"cpus": 2})
    assert back.runs["write_calls"].tolist() == runs["write_calls"].tolist()
    assert back.runs["start_skew"].tolist() == pytest.approx(runs["start_skew"].tolist(), rel=1e-5)


def test_reading_something_that_is_not_a_record_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="not a contention record"):
        ContentionRecord.from_json('{"format": 2}')
    with pytest.raises(ValueError, match="not JSON"):
        ContentionRecord.from_json("nope")
    with pytest.raises(TypeError, match="text"):
        ContentionRecord.from_json(3)  # type: ignore[arg-type]


def test_the_committed_record_has_every_scenario_on_real_sqlite_with_every_save_committed() -> None:
    runs = load_contention_record().runs
    sqlite = runs[runs["way"] == "real SQLite"]
    assert set(sqlite["scenario"]) == {"herd", "steady", "large herd"}
    assert set(sqlite.loc[sqlite["scenario"] == "steady", "pattern"]) == set(steady_patterns())
    assert set(sqlite.loc[sqlite["scenario"] == "herd", "pattern"]) == set(herd_patterns())
    assert (runs["committed"] == runs["saves"]).all()


def test_recording_refuses_a_way_it_does_not_know_before_running_anything() -> None:
    with pytest.raises(ValueError, match="ways must be among"):
        record_contention(ways=["real PostgreSQL"])
