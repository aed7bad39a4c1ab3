"""The latency figure: one curve per group over every save, committed counts and percentiles in the legend."""

from __future__ import annotations

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.axes import Axes
from matplotlib.patches import Polygon
from plothelpers import (
    assert_labelled,
    example_saves,
    legend_texts,
    line_for,
    make_saves,
    series_lines,
)

from aether import plots

matplotlib.use("Agg")


@pytest.fixture
def saves() -> pd.DataFrame:
    return example_saves()


# ----------------------------------------------------------------------------------------
# plot_latency
# ----------------------------------------------------------------------------------------


def test_plot_latency_returns_labelled_axes_in_ms(saves: pd.DataFrame) -> None:
    ax = plots.plot_latency(saves)
    assert isinstance(ax, Axes)
    assert_labelled(ax, unit="ms")


def test_plot_latency_draws_one_ecdf_per_pattern(saves: pd.DataFrame) -> None:
    ax = plots.plot_latency(saves)
    assert len(series_lines(ax)) == 2
    assert len(legend_texts(ax)) == 2


def test_plot_latency_ecdf_x_values_are_sorted_latencies_in_ms(saves: pd.DataFrame) -> None:
    ax = plots.plot_latency(saves)
    assert np.allclose(line_for(ax, "fast").get_xdata(), [1, 2, 3, 4, 5])


def test_plot_latency_ecdf_climbs_to_100_percent(saves: pd.DataFrame) -> None:
    ax = plots.plot_latency(saves)
    assert np.allclose(line_for(ax, "fast").get_ydata(), [20, 40, 60, 80, 100])


def test_plot_latency_in_seconds_keeps_the_stored_values(saves: pd.DataFrame) -> None:
    ax = plots.plot_latency(saves, unit="s")
    assert np.allclose(line_for(ax, "fast").get_xdata(), [0.001, 0.002, 0.003, 0.004, 0.005])
    assert "(s)" in ax.get_xlabel()


def test_plot_latency_counts_every_save_by_default(saves: pd.DataFrame) -> None:
    ax = plots.plot_latency(saves)
    assert np.allclose(line_for(ax, "slow").get_xdata(), [10, 30, 90])


def test_plot_latency_of_committed_saves_rises_only_to_their_share_of_all_saves(saves: pd.DataFrame) -> None:
    ax = plots.plot_latency(saves, outcomes=("committed",))
    assert np.allclose(line_for(ax, "slow").get_xdata(), [10, 30])
    assert np.allclose(line_for(ax, "slow").get_ydata(), [100 / 3, 200 / 3])
    assert ax.get_ylabel() == "share of all saves committed (%)"


def test_plot_latency_with_all_outcomes_includes_saves_that_gave_up(saves: pd.DataFrame) -> None:
    ax = plots.plot_latency(saves, outcomes=None)
    assert np.allclose(line_for(ax, "slow").get_xdata(), [10, 30, 90])


def test_plot_latency_legend_gives_p50_and_p95(saves: pd.DataFrame) -> None:
    ax = plots.plot_latency(saves)
    label = str(line_for(ax, "fast").get_label())
    # median of 1..5 ms is 3 ms; the 95th percentile (linear) is 4 + 0.8 * (5 - 4) = 4.8 ms
    assert "p50 3 ms" in label and "p95 4.8 ms" in label


def test_plot_latency_marks_p50_and_p95_on_each_curve(saves: pd.DataFrame) -> None:
    ax = plots.plot_latency(saves)
    marks = [line for line in ax.get_lines() if str(line.get_label()).startswith("_")]
    assert len(marks) == 2
    assert any(np.allclose(m.get_xdata(), [3, 4.8]) and np.allclose(m.get_ydata(), [50, 95]) for m in marks)


def test_plot_latency_keeps_a_pattern_without_committed_saves_in_the_legend() -> None:
    frame = make_saves([("fast", 0.001, 0, "committed"), ("stuck", 0.2, 9, "gave_up")])
    ax = plots.plot_latency(frame, outcomes=("committed",))
    assert "stuck: 0 of 1 committed" in legend_texts(ax)
    assert np.asarray(line_for(ax, "stuck").get_xdata()).size == 0


def test_plot_latency_refuses_when_no_save_matches_the_outcomes(saves: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match="queued"):
        plots.plot_latency(saves, outcomes=("queued",))


def test_plot_latency_hist_draws_one_histogram_per_pattern_summing_to_100_percent(saves: pd.DataFrame) -> None:
    ax = plots.plot_latency(saves, kind="hist", outcomes=("committed",))
    assert len(ax.patches) == 2
    assert ax.get_ylabel() == "share of saves (%)"
    fast = next(p for p in ax.patches if str(p.get_label()).startswith("fast"))
    assert isinstance(fast, Polygon)
    heights = np.asarray(fast.get_xy())[:, 1]
    # a step outline visits each bar's top twice; every bar is one save of five (20 %) or empty
    assert set(np.round(heights, 6)) <= {0.0, 20.0}


def test_plot_latency_log_uses_a_log_x_axis(saves: pd.DataFrame) -> None:
    assert plots.plot_latency(saves, log=True).get_xscale() == "log"
    assert plots.plot_latency(saves, kind="hist", log=True).get_xscale() == "log"


def test_plot_latency_draws_into_a_given_axes(saves: pd.DataFrame) -> None:
    _, (left, right) = plt.subplots(1, 2)
    ax = plots.plot_latency(saves, ax=right)
    assert ax is right
    assert len(series_lines(left)) == 0 and len(series_lines(right)) == 2


def test_plot_latency_names_a_missing_column(saves: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match="'latency'"):
        plots.plot_latency(saves.drop(columns="latency"))


def test_plot_latency_names_an_unknown_kind(saves: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match="'violin'"):
        plots.plot_latency(saves, kind="violin")  # type: ignore[arg-type]


def test_plot_latency_names_an_unknown_unit(saves: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match="'minutes'"):
        plots.plot_latency(saves, unit="minutes")


# ----------------------------------------------------------------------------------------
# The chapters' variants: every save with committed counts, committed of all, time to commit
# ----------------------------------------------------------------------------------------


def test_plot_latency_names_the_committed_count_of_each_pattern() -> None:
    frame = pd.DataFrame({"pattern": ["a", "a", "a", "b", "b"], "latency": [0.01, 0.02, 0.03, 0.05, 0.5],
                          "outcome": ["committed", "conflict", "conflict", "committed", "committed"]})
    labels = legend_texts(plots.plot_latency(frame, log=True))
    assert labels[0].startswith("a: 1 of 3 committed, p50")
    assert labels[1].startswith("b: 2 of 2 committed, p50")
    assert plots.committed_counts(frame) == {"a": (1, 3), "b": (2, 2)}


def test_plot_latency_by_outcome_leaves_out_the_committed_counts(saves: pd.DataFrame) -> None:
    labels = legend_texts(plots.plot_latency(saves, by="outcome"))
    assert labels[0].startswith("committed: p50") and labels[1].startswith("gave_up: p50")


def committed_few() -> pd.DataFrame:
    rows = [("few", 0.010, "committed"), ("few", 0.5, "gave_up"), ("few", 0.6, "gave_up"), ("few", 0.7, "gave_up"),
            ("all", 0.020, "committed"), ("all", 0.030, "committed")]
    return pd.DataFrame(rows, columns=["pattern", "latency", "outcome"])


def test_plot_latency_of_committed_saves_tops_out_at_each_groups_committed_share() -> None:
    ax = plots.plot_latency(committed_few(), outcomes=("committed",))
    tops = {str(line.get_label()).split(":")[0]: line.get_ydata()[-1] for line in series_lines(ax)}
    assert tops == {"all": pytest.approx(100.0), "few": pytest.approx(25.0)}


def test_plot_latency_legend_says_never_for_a_percentile_the_curve_does_not_reach() -> None:
    labels = legend_texts(plots.plot_latency(committed_few(), outcomes=("committed",), percentiles=(50,)))
    assert labels == ["all: 2 of 2 committed, p50 25 ms", "few: 1 of 4 committed, p50 never"]


def test_plot_latency_keeps_a_group_without_commits_in_the_legend_with_its_count() -> None:
    frame = pd.DataFrame([("none", 0.5, "gave_up"), ("one", 0.1, "committed")],
                         columns=["pattern", "latency", "outcome"])
    labels = legend_texts(plots.plot_latency(frame, outcomes=("committed",), percentiles=(50,)))
    assert labels[0] == "none: 0 of 1 committed"


def test_plot_latency_marks_the_saves_that_did_not_commit_with_a_cross() -> None:
    frame = pd.DataFrame({"pattern": ["a", "a", "a", "b"], "latency": [0.1, 0.2, 0.3, 0.1],
                          "outcome": ["committed", "gave_up", "committed", "committed"]})
    ax = plots.plot_latency(frame, unit="s", mark_failed=True)
    labels = legend_texts(ax)
    assert labels[0].startswith("a: 2 of 3 committed") and labels[1].startswith("b: 1 of 1 committed")
    assert labels[-1] == "a save that did not commit"
    assert list(line_for(ax, "a").get_ydata())[-1] == pytest.approx(100.0)
    crosses = [line for line in ax.get_lines() if line.get_marker() == "x" and len(line.get_xdata())]
    assert len(crosses) == 1 and list(crosses[0].get_xdata()) == [0.2]


def test_plot_latency_of_a_never_stored_save_stops_the_time_to_commit_below_100() -> None:
    frame = pd.DataFrame({"pattern": ["q", "q"], "commit_delay": [0.5, float("nan")],
                          "outcome": ["committed", "dead_letter"]})
    ax = plots.plot_latency(frame, column="commit_delay", percentiles=(95,))
    assert max(line_for(ax, "q").get_ydata()) == pytest.approx(50.0)
    assert "p95 never" in legend_texts(ax)[0]
    assert ax.get_xlabel() == "time to commit of one logical save (ms)"


def test_plot_latency_keeps_saves_refused_at_once_on_a_log_axis_at_the_floor() -> None:
    frame = pd.DataFrame({"pattern": ["circuit breaker"] * 4, "latency": [0.0, 0.01, 0.02, 0.5],
                          "outcome": ["rejected", "committed", "committed", "committed"]})
    ax = plots.plot_latency(frame, log=True, floor=1e-4, unit="s", percentiles=(50, 99), tail_line=True)
    assert legend_texts(ax)[0].startswith("circuit breaker: 3 of 4 committed, p50")
    curve = line_for(ax, "circuit breaker")
    assert curve.get_ydata()[-1] == 100.0 and len(curve.get_xdata()) == 4
    assert curve.get_xdata()[0] == pytest.approx(1e-4)
    assert ax.get_xscale() == "log"
    tail = [line for line in ax.get_lines() if line.get_label() == "_tail"]
    assert len(tail) == 1 and tail[0].get_xdata()[0] == pytest.approx(np.percentile([1e-4, 0.01, 0.02, 0.5], 99))


def test_plot_latency_needs_the_outcome_column_to_count_commits() -> None:
    with pytest.raises(ValueError, match="outcome"):
        plots.plot_latency(pd.DataFrame({"pattern": ["a"], "latency": [0.1]}), counts=True)


def test_plot_latency_draws_groups_in_the_order_given(saves: pd.DataFrame) -> None:
    labels = legend_texts(plots.plot_latency(saves, order=["slow", "fast"]))
    assert labels[0].startswith("slow") and labels[1].startswith("fast")


def test_plot_latency_can_give_the_committed_saves_own_median_on_a_curve_of_all_saves() -> None:
    ax = plots.plot_latency(committed_few(), outcomes=("committed",), percentiles=(50,), percentiles_of="finished")
    assert legend_texts(ax) == ["all: 2 of 2 committed, committed p50 25 ms",
                                "few: 1 of 4 committed, committed p50 10 ms"]
    marks = {tuple(line.get_xdata()): tuple(line.get_ydata()) for line in ax.get_lines()
             if line.get_label() == "_percentiles"}
    assert marks[(10.0,)] == (12.5,)  # the committed median sits on the curve, at half of its 25 %
