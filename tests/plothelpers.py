"""Small synthetic tables in the experiment harness's schema, and ways to read figures, for the figure tests."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection
from matplotlib.legend import Legend
from matplotlib.lines import Line2D


def make_saves(rows: list[tuple[str, float, int, str]], *, writers: int = 4, seed: int = 0) -> pd.DataFrame:
    """Saves from (pattern, latency seconds, retries, outcome) tuples."""
    records = []
    for i, (pattern, latency, retries, outcome) in enumerate(rows):
        records.append(
            {
                "pattern": pattern,
                "writers": writers,
                "seed": seed,
                "writer": i % writers,
                "save": i // writers,
                "actor_id": "account-1",
                "start": 0.0,
                "end": latency,
                "latency": latency,
                "attempts": retries + 1,
                "retries": retries,
                "outcome": outcome,
                "version": i + 1 if outcome == "committed" else pd.NA,
                "error": "",
            }
        )
    frame = pd.DataFrame(records)
    frame["version"] = frame["version"].astype("Int64")
    return frame


def example_saves() -> pd.DataFrame:
    """Pattern "fast": 1..5 ms, no retries; "slow": 10 and 30 ms committed, one 90 ms save gave up."""
    return make_saves(
        [
            ("fast", 0.003, 0, "committed"),
            ("fast", 0.001, 0, "committed"),
            ("fast", 0.005, 0, "committed"),
            ("fast", 0.002, 0, "committed"),
            ("fast", 0.004, 0, "committed"),
            ("slow", 0.010, 1, "committed"),
            ("slow", 0.030, 3, "committed"),
            ("slow", 0.090, 12, "gave_up"),
        ]
    )


def make_sweep(values: dict[tuple[str, int], list[float]], column: str = "write_calls") -> pd.DataFrame:
    """A sweep with one run per seed for each (pattern, writers), *column* taking the given values."""
    records = []
    for (pattern, writers), per_seed in values.items():
        for seed, value in enumerate(per_seed):
            row = {
                "pattern": pattern,
                "writers": writers,
                "seed": seed,
                "committed": writers,
                "failed": 0,
                "p50": 0.001,
                "p95": 0.002,
                "p99": 0.003,
                "mean_retries": 0.0,
                "max_retries": 0,
                "calls": 2 * writers,
                "write_calls": writers,
                "wasted_calls": 0,
                "makespan": 0.01,
                "throughput": 100.0,
            }
            row[column] = value
            records.append(row)
    return pd.DataFrame(records)


def example_sweep() -> pd.DataFrame:
    return make_sweep(
        {
            ("fast", 1): [1.0, 1.0, 1.0],
            ("fast", 4): [4.0, 5.0, 6.0],
            ("slow", 1): [1.0, 1.0, 1.0],
            ("slow", 4): [8.0, 10.0, 18.0],
        }
    )


def call(writer: int, op: str, start: float, end: float, result: str = "ok", **extra: object) -> dict[str, object]:
    """One row of the calls table."""
    row: dict[str, object] = {
        "pattern": "fast",
        "writers": 2,
        "seed": 0,
        "writer": writer,
        "save": 0,
        "call": 0,
        "op": op,
        "attempt": 1,
        "start": start,
        "end": end,
        "result": result,
        "attempted_version": pd.NA if op != "save_event" else 2,
        "current_version": 1,
    }
    row.update(extra)
    return row


def example_calls() -> pd.DataFrame:
    """Two writers race: both read at t=10 s, writer 1's write conflicts, it re-reads and commits."""
    return pd.DataFrame(
        [
            call(0, "get_latest_version", 10.000, 10.001),
            call(1, "get_latest_version", 10.000, 10.001),
            call(0, "save_event", 10.002, 10.004),
            call(1, "save_event", 10.003, 10.005, "conflict"),
            call(1, "get_latest_version", 10.008, 10.009, attempt=2),
            call(1, "save_event", 10.010, 10.012, attempt=2),
        ]
    )


def series_lines(ax: Axes) -> list[Line2D]:
    """Lines that stand for a group (helper lines such as percentile dots have a '_' label)."""
    return [line for line in ax.get_lines() if not str(line.get_label()).startswith("_")]


def legend_texts(ax: Axes) -> list[str]:
    legend = ax.get_legend()
    assert isinstance(legend, Legend)
    return [text.get_text() for text in legend.get_texts()]


def band_y_range(ax: Axes) -> tuple[float, float]:
    """Lowest and highest y of the single shaded band in *ax*."""
    (band,) = ax.collections
    ys = np.asarray(band.get_paths()[0].vertices)[:, 1]
    return float(ys.min()), float(ys.max())


def line_for(ax: Axes, group: str) -> Line2D:
    (line,) = [line for line in series_lines(ax) if str(line.get_label()).split(":")[0] == group]
    return line


def assert_labelled(ax: Axes, *, unit: str | None = None) -> None:
    """Title and both axis labels are set, and each axis label names its unit in parentheses."""
    assert ax.get_title().strip()
    for label in (ax.get_xlabel(), ax.get_ylabel()):
        assert label.strip()
        assert "(" in label and label.endswith(")"), label
    if unit is not None:
        assert f"({unit})" in ax.get_xlabel() + ax.get_ylabel()


def collection_of(ax: Axes, kind: str) -> LineCollection:
    (collection,) = [c for c in ax.collections if isinstance(c, LineCollection) and c.get_label() == kind]
    return collection


def segments_of(ax: Axes, kind: str) -> list[np.ndarray]:
    return [np.asarray(segment) for segment in collection_of(ax, kind).get_segments()]

