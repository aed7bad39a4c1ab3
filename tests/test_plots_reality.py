"""The figures of chapter 09: what they draw, and what they refuse."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.collections import LineCollection, PathCollection  # noqa: E402
from matplotlib.colors import to_hex  # noqa: E402

from aether.calibrate import next_busy_poll  # noqa: E402
from aether.plots import (  # noqa: E402
    WAY_COLORS,
    plot_latency_by_way,
    plot_lock_handoff,
    plot_timeline_by_way,
    plot_ways,
)


def runs() -> pd.DataFrame:
    rows = [{"pattern": p, "way": w, "write_calls": 10 * (i + 1) + k, "makespan": 0.1 * (i + 1)}
            for i, p in enumerate(["immediate retry", "full jitter"])
            for w in ["simulated", "real SQLite"] for k in range(3)]
    return pd.DataFrame(rows)


def dots(ax) -> list[PathCollection]:
    return [c for c in ax.collections if isinstance(c, PathCollection)]


def test_plot_ways_draws_a_dot_per_run_and_a_bar_per_median_in_each_ways_colour() -> None:
    ax = plot_ways(runs(), "write_calls", ways=["simulated", "real SQLite"])
    assert sum(len(c.get_offsets()) for c in dots(ax)) == 12
    bars = [c for c in ax.collections if isinstance(c, LineCollection)]
    assert len(bars) == 4  # a median per pattern and way
    labelled = {c.get_label(): c for c in dots(ax) if not c.get_label().startswith("_")}
    assert list(labelled) == ["simulated", "real SQLite"]
    assert to_hex(labelled["real SQLite"].get_facecolor()[0]) == WAY_COLORS["real SQLite"].lower()
    assert [t.get_text() for t in ax.get_xticklabels()] == ["immediate retry", "full jitter"]
    assert ax.get_title() and ax.get_ylabel() == "store writes (work)"


def test_plot_ways_shows_times_in_the_unit_asked() -> None:
    ax = plot_ways(runs(), "makespan", unit="s")
    assert ax.get_ylabel() == "completion time (s)"
    offsets = np.concatenate([c.get_offsets()[:, 1] for c in dots(ax)])
    assert offsets.max() == pytest.approx(0.2)


def test_plot_ways_refuses_a_frame_without_the_columns_or_a_way_it_does_not_have() -> None:
    with pytest.raises(ValueError, match="missing"):
        plot_ways(runs().drop(columns="way"), "write_calls")
    with pytest.raises(ValueError, match="no rows"):
        plot_ways(runs(), "write_calls", ways=["real threads"])
    with pytest.raises(TypeError, match="DataFrame"):
        plot_ways([1, 2], "write_calls")  # type: ignore[arg-type]


def test_plot_latency_by_way_draws_one_panel_per_pattern_and_one_curve_per_way() -> None:
    rng = np.random.default_rng(0)
    saves = pd.DataFrame({"pattern": ["a"] * 40 + ["b"] * 40, "way": (["simulated"] * 20 + ["real SQLite"] * 20) * 2,
                          "latency": rng.uniform(0.005, 0.1, 80), "outcome": "committed"})
    axes = plot_latency_by_way(saves, columns=2)
    assert axes.shape == (1, 2)
    assert [ax.get_title() for ax in axes.flat] == ["a", "b"]
    assert all(len(ax.get_lines()) == 2 for ax in axes.flat)
    assert axes[0, 0].get_legend().get_texts()[0].get_text().startswith("simulated: p50 ")
    colours = [line.get_color() for line in axes[0, 0].get_lines()]
    assert colours == [WAY_COLORS["simulated"], WAY_COLORS["real SQLite"]]


def test_plot_lock_handoff_draws_the_busy_handlers_staircase_under_the_measured_points() -> None:
    waits = [(0.0006, 0.0011), (0.0021, 0.0032), (0.0051, 0.0082)]
    ax = plot_lock_handoff(waits)
    stairs = [line for line in ax.get_lines() if "busy handler" in line.get_label()][0]
    xs, ys = stairs.get_data()
    assert ys[np.searchsorted(xs, 4.0)] == pytest.approx(1000 * next_busy_poll(0.004))
    assert ax.get_xlabel().endswith("(ms)") and ax.get_ylabel().endswith("(ms)")
    with pytest.raises(ValueError, match="empty"):
        plot_lock_handoff([])


def test_plot_latency_by_way_labels_the_shared_time_axis_under_the_last_panel_of_each_column() -> None:
    saves = pd.DataFrame({"pattern": ["a", "b", "c"] * 10, "way": "simulated",
                          "latency": np.linspace(0.005, 0.1, 30), "outcome": "committed"})
    axes = plot_latency_by_way(saves, columns=2)
    assert [ax.get_xlabel() for ax in axes.flat[:3]] == ["", "latency of one save (ms)", "latency of one save (ms)"]
    assert not axes.flat[3].get_visible()


def timelines() -> pd.DataFrame:
    rows = [{"pattern": p, "way": w, "seed": seed, "start": 0.5 * b, "goodput": 30.0 - 10 * i + seed}
            for i, p in enumerate(["retry at once", "no retries"]) for w in ["simulated", "real PostgreSQL"]
            for seed in range(3) for b in range(4)]
    return pd.DataFrame(rows)


def test_plot_timeline_by_way_draws_a_line_per_run_and_a_median_per_way_in_each_pattern_panel() -> None:
    axes = plot_timeline_by_way(timelines(), ways=["simulated", "real PostgreSQL"], fault=(0.5, 1.0), rate=30)
    first = axes.flat[0]
    assert first.get_title() == "retry at once" and axes.flat[1].get_title() == "no retries"
    medians = [line for line in first.get_lines() if "median" in line.get_label()]
    assert [line.get_label() for line in medians] == ["simulated (median of 3 runs)",
                                                      "real PostgreSQL (median of 3 runs)"]
    assert list(medians[1].get_ydata()) == [31.0] * 4  # the median of the three seeds' 30, 31, 32
    assert to_hex(medians[1].get_color()) == WAY_COLORS["real PostgreSQL"].lower()
    assert len(first.get_lines()) == 1 + 2 * (3 + 1)  # the offered rate, then per way 3 runs and the median


def test_plot_timeline_by_way_refuses_a_frame_without_the_run_column() -> None:
    with pytest.raises(ValueError, match="seed"):
        plot_timeline_by_way(timelines().drop(columns="seed"))
