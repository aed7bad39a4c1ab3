"""Sweep figures: a run metric against load, one line per pattern, the mean over seeds with a band."""

from __future__ import annotations

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.axes import Axes
from plothelpers import (
    assert_labelled,
    band_y_range,
    example_sweep,
    line_for,
    make_saves,
    make_sweep,
    series_lines,
)

from aether import plots
from aether.plots import plot_latency_vs_load

matplotlib.use("Agg")


@pytest.fixture
def sweep() -> pd.DataFrame:
    return example_sweep()


# ----------------------------------------------------------------------------------------
# plot_sweep
# ----------------------------------------------------------------------------------------


def test_plot_sweep_returns_labelled_axes_with_the_work_label(sweep: pd.DataFrame) -> None:
    ax = plots.plot_sweep(sweep)
    assert isinstance(ax, Axes)
    assert_labelled(ax)
    assert ax.get_ylabel() == "store writes (work)"
    assert ax.get_xlabel() == "concurrent writers (count)"


def test_plot_sweep_draws_one_line_per_pattern(sweep: pd.DataFrame) -> None:
    ax = plots.plot_sweep(sweep)
    assert [line.get_label() for line in series_lines(ax)] == ["fast", "slow"]


def test_plot_sweep_line_is_the_mean_over_seeds(sweep: pd.DataFrame) -> None:
    ax = plots.plot_sweep(sweep)
    assert np.allclose(line_for(ax, "slow").get_xdata(), [1, 4])
    assert np.allclose(line_for(ax, "slow").get_ydata(), [1, 12])  # (8 + 10 + 18) / 3


def test_plot_sweep_band_spans_min_to_max_over_seeds(sweep: pd.DataFrame) -> None:
    ax = plots.plot_sweep(sweep[sweep["pattern"] == "slow"])
    assert band_y_range(ax) == (1.0, 18.0)


def test_plot_sweep_iqr_band_spans_the_middle_half_of_seeds() -> None:
    frame = make_sweep({("a", 1): [0.0, 10.0, 20.0, 30.0, 40.0], ("a", 2): [0.0, 10.0, 20.0, 30.0, 40.0]})
    ax = plots.plot_sweep(frame, spread="iqr")
    assert band_y_range(ax) == (10.0, 30.0)


def test_plot_sweep_without_spread_draws_no_band(sweep: pd.DataFrame) -> None:
    assert len(plots.plot_sweep(sweep, spread="none").collections) == 0


def test_plot_sweep_shows_time_columns_in_ms() -> None:
    frame = make_sweep({("a", 1): [0.010, 0.020], ("a", 2): [0.030, 0.050]}, column="p95")
    ax = plots.plot_sweep(frame, y="p95")
    assert np.allclose(line_for(ax, "a").get_ydata(), [15, 40])
    assert ax.get_ylabel() == "p95 latency of every save (ms)"


def test_plot_sweep_labels_makespan_as_completion_time_in_ms(sweep: pd.DataFrame) -> None:
    ax = plots.plot_sweep(sweep, y="makespan")
    assert ax.get_ylabel() == "completion time (ms)"
    assert np.allclose(line_for(ax, "fast").get_ydata(), [10, 10])


def test_plot_sweep_does_not_scale_count_columns(sweep: pd.DataFrame) -> None:
    ax = plots.plot_sweep(sweep, y="calls")
    assert np.allclose(line_for(ax, "fast").get_ydata(), [2, 8])


def test_plot_sweep_names_a_missing_column(sweep: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match="'goodput'"):
        plots.plot_sweep(sweep, y="goodput")


def test_plot_sweep_log_axes(sweep: pd.DataFrame) -> None:
    ax = plots.plot_sweep(sweep, logx=True, logy=True)
    assert (ax.get_xscale(), ax.get_yscale()) == ("log", "log")


# ----------------------------------------------------------------------------------------
# plot_outcomes
# ----------------------------------------------------------------------------------------


def test_plot_outcomes_from_saves_averages_the_share_over_seeds() -> None:
    seed0 = make_saves([("a", 0.001, 0, "committed"), ("a", 0.001, 0, "committed")], writers=2, seed=0)
    seed1 = make_saves([("a", 0.001, 0, "committed"), ("a", 0.1, 9, "gave_up")], writers=2, seed=1)
    ax = plots.plot_outcomes(pd.concat([seed0, seed1], ignore_index=True))
    assert np.allclose(line_for(ax, "a").get_ydata(), [75.0])  # (100 % + 50 %) / 2
    assert_labelled(ax, unit="%")


def test_plot_outcomes_from_saves_plots_any_outcome() -> None:
    frame = make_saves([("a", 0.001, 0, "committed"), ("a", 0.1, 9, "gave_up")], writers=2)
    ax = plots.plot_outcomes(frame, outcome="gave_up")
    assert np.allclose(line_for(ax, "a").get_ydata(), [50.0])
    assert "gave up" in ax.get_ylabel()


def test_plot_outcomes_from_a_sweep_uses_committed_over_all_saves(sweep: pd.DataFrame) -> None:
    frame = sweep.assign(committed=3, failed=1)
    ax = plots.plot_outcomes(frame)
    assert [line.get_label() for line in series_lines(ax)] == ["fast", "slow"]
    assert np.allclose(line_for(ax, "fast").get_ydata(), [75.0, 75.0])


def test_plot_outcomes_from_a_sweep_refuses_outcomes_it_does_not_count(sweep: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match="'gave_up'"):
        plots.plot_outcomes(sweep, outcome="gave_up")



def test_plot_latency_vs_load_draws_one_line_per_pattern_against_the_rate() -> None:
    sweep = pd.DataFrame({"pattern": ["a", "a", "b", "b"], "rate": [10, 20, 10, 20], "p99": [0.01, 0.1, 0.02, 0.2],
                          "seed": [0, 0, 0, 0]})
    ax = plot_latency_vs_load(sweep)
    assert ax.get_xlabel() == "offered saves per second"
    assert ax.get_yscale() == "log"
    assert [line.get_label() for line in ax.get_lines()] == ["a", "b"]
    plt.close(ax.figure)


# ----------------------------------------------------------------------------------------
# plot_baseline and plot_retry_limits
# ----------------------------------------------------------------------------------------


def baseline_runs() -> pd.DataFrame:
    rows = []
    for store, slow in (("instant store", 1.0), ("1 server", 5.0)):
        for writers in (1, 10, 100):
            for seed in (0, 1):
                rows.append({"pattern": "no_retry", "store": store, "writers": writers, "seed": seed,
                             "saves": 5 * writers, "committed": 5 + seed, "makespan": 0.2 * slow * writers})
    return pd.DataFrame(rows)


def test_baseline_draws_one_line_per_store_and_the_reference_on_the_left() -> None:
    left, right = plots.plot_baseline(baseline_runs(), title="No retry")
    labels = [t.get_text() for t in left.get_legend().get_texts()]
    assert labels == ["1 server", "instant store", "one winner per round (100/N)"]
    assert [t.get_text() for t in right.get_legend().get_texts()] == ["1 server", "instant store"]
    assert left.get_xscale() == right.get_xscale() == right.get_yscale() == "log"
    assert "ms" in right.get_ylabel() and "%" in left.get_ylabel()
    assert "2 seeds" in left.get_legend().get_title().get_text()


def test_baseline_plots_the_mean_over_seeds_in_milliseconds() -> None:
    _, right = plots.plot_baseline(baseline_runs())
    line = next(ln for ln in right.get_lines() if ln.get_label() == "instant store")
    assert list(line.get_ydata()) == pytest.approx([200.0, 2000.0, 20000.0])


def test_baseline_shows_the_completion_time_in_the_unit_asked() -> None:
    _, right = plots.plot_baseline(baseline_runs(), unit="s")
    line = next(ln for ln in right.get_lines() if ln.get_label() == "instant store")
    assert list(line.get_ydata()) == pytest.approx([0.2, 2.0, 20.0])
    assert right.get_ylabel().endswith("(s)")


def test_baseline_refuses_a_table_without_the_store_column() -> None:
    with pytest.raises(ValueError, match="store"):
        plots.plot_baseline(baseline_runs().drop(columns="store"))


def test_retry_limits_draw_three_panels_against_max_attempts_with_latency_in_ms() -> None:
    limits = pd.DataFrame([{"pattern": "simple_retry", "max_attempts": m, "seed": seed, "saves": 100,
                            "gave_up": 90 - 10 * m, "write_calls": 100 * m, "p95_all": 0.05 * 2**m}
                           for m in (1, 2, 3) for seed in (0, 1)])
    gave_up, work, latency = plots.plot_retry_limits(limits, title="limits")
    assert list(gave_up.get_lines()[0].get_ydata()) == pytest.approx([80.0, 70.0, 60.0])
    assert list(work.get_lines()[0].get_ydata()) == pytest.approx([1.0, 2.0, 3.0])
    assert list(latency.get_lines()[0].get_ydata()) == pytest.approx([100.0, 200.0, 400.0])
    assert latency.get_yscale() == "log" and "ms" in latency.get_ylabel()
    assert "max_attempts" in work.get_xlabel() and work.get_legend() is None
    assert plots.alt_text(gave_up).count(".") == 1  # one sentence for the figure, not one per panel
