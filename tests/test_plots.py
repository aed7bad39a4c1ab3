"""The standard figures: right type, labelled axes with units, one series per group, exact data."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection
from matplotlib.colors import to_hex
from matplotlib.container import BarContainer
from matplotlib.figure import Figure
from matplotlib.legend import Legend
from matplotlib.lines import Line2D
from matplotlib.patches import Polygon

from aether import plots
from aether.experiment import Outage
from aether.plots import plot_latency_vs_load, plot_load

matplotlib.use("Agg")


@pytest.fixture(autouse=True)
def _close_figures() -> Iterator[None]:
    yield
    plt.close("all")


# ----------------------------------------------------------------------------------------
# Small synthetic tables in the experiment harness's schema
# ----------------------------------------------------------------------------------------


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


@pytest.fixture
def saves() -> pd.DataFrame:
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


@pytest.fixture
def sweep() -> pd.DataFrame:
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


@pytest.fixture
def calls() -> pd.DataFrame:
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


# ----------------------------------------------------------------------------------------
# Style and colours
# ----------------------------------------------------------------------------------------


def test_style_sets_projector_sizes_inside_the_block_only() -> None:
    before = matplotlib.rcParams["font.size"]
    with plots.style():
        assert matplotlib.rcParams["font.size"] >= 13
        assert matplotlib.rcParams["axes.titlesize"] == 15
        assert tuple(matplotlib.rcParams["figure.figsize"]) == (9.0, 5.0)
    assert matplotlib.rcParams["font.size"] == before


def test_apply_style_makes_the_look_the_default() -> None:
    with matplotlib.rc_context():
        plots.apply_style()
        colors = [to_hex(c["color"]).upper() for c in matplotlib.rcParams["axes.prop_cycle"]]
        assert colors == list(plots.PALETTE)


def test_a_new_figure_from_a_plot_function_has_the_lab_size(saves: pd.DataFrame) -> None:
    ax = plots.plot_latency(saves)
    figure = ax.get_figure()
    assert isinstance(figure, Figure)
    assert tuple(figure.get_size_inches()) == (9.0, 5.0)
    assert ax.title.get_fontsize() == 15


def test_color_for_gives_a_palette_colour_and_the_same_one_every_time() -> None:
    assert plots.color_for("exponential") in plots.PALETTE
    assert plots.color_for("exponential") == plots.color_for("exponential")


def test_color_for_does_not_depend_on_the_interpreter_hash_seed() -> None:
    code = "from aether.plots import color_for; print(color_for('exponential'), color_for('naive'))"
    env = {**os.environ, "PYTHONHASHSEED": "12345", "MPLBACKEND": "Agg"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split() == [plots.color_for("exponential"), plots.color_for("naive")]


def test_color_for_uses_a_pinned_colour(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(plots.PATTERN_COLORS, "naive", "#123456")
    assert plots.color_for("naive") == "#123456"


def test_a_pattern_keeps_its_colour_across_figures(saves: pd.DataFrame, sweep: pd.DataFrame) -> None:
    latency = plots.plot_latency(saves)
    work = plots.plot_sweep(sweep[sweep["pattern"] == "fast"])
    assert to_hex(line_for(latency, "fast").get_color()) == to_hex(line_for(work, "fast").get_color())
    assert to_hex(line_for(work, "fast").get_color()).upper() == plots.color_for("fast").upper()


def test_groups_whose_colours_collide_still_get_distinct_colours() -> None:
    names = [f"p{i}" for i in range(50)]
    first, second = next((a, b) for a in names for b in names if a < b and plots.color_for(a) == plots.color_for(b))
    frame = make_saves([(first, 0.001, 0, "committed"), (second, 0.002, 0, "committed")])
    ax = plots.plot_latency(frame)
    assert line_for(ax, first).get_color() != line_for(ax, second).get_color()


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


def test_plot_latency_counts_only_committed_saves_by_default(saves: pd.DataFrame) -> None:
    ax = plots.plot_latency(saves)
    assert np.allclose(line_for(ax, "slow").get_xdata(), [10, 30])


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
    ax = plots.plot_latency(frame)
    assert "stuck: no saves" in legend_texts(ax)
    assert np.asarray(line_for(ax, "stuck").get_xdata()).size == 0


def test_plot_latency_refuses_when_no_save_matches_the_outcomes(saves: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match="queued"):
        plots.plot_latency(saves, outcomes=("queued",))


def test_plot_latency_hist_draws_one_histogram_per_pattern_summing_to_100_percent(saves: pd.DataFrame) -> None:
    ax = plots.plot_latency(saves, kind="hist")
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
# plot_retries
# ----------------------------------------------------------------------------------------


def test_plot_retries_returns_labelled_axes(saves: pd.DataFrame) -> None:
    ax = plots.plot_retries(saves)
    assert isinstance(ax, Axes)
    assert_labelled(ax, unit="%")


def test_plot_retries_draws_one_bar_group_per_pattern(saves: pd.DataFrame) -> None:
    ax = plots.plot_retries(saves)
    assert len([c for c in ax.containers if isinstance(c, BarContainer)]) == 2


def test_plot_retries_bar_heights_are_shares_of_saves() -> None:
    frame = make_saves([("a", 0.001, r, "committed") for r in (0, 0, 1, 3)])
    ax = plots.plot_retries(frame)
    (bars,) = ax.containers
    assert [b.get_height() for b in bars] == [50.0, 25.0, 0.0, 25.0]


def test_plot_retries_lumps_counts_at_or_above_the_cap_into_the_last_bar() -> None:
    frame = make_saves([("a", 0.001, 0, "committed"), ("a", 0.5, 40, "gave_up")])
    ax = plots.plot_retries(frame, cap=10)
    (bars,) = ax.containers
    assert len(bars) == 11
    assert bars[-1].get_height() == 50.0
    assert ax.get_xticklabels()[-1].get_text() == "≥10"


def test_plot_retries_names_a_missing_column(saves: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match="'retries'"):
        plots.plot_retries(saves.drop(columns="retries"))


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
    assert ax.get_ylabel() == "p95 latency (ms)"


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


# ----------------------------------------------------------------------------------------
# plot_timeline
# ----------------------------------------------------------------------------------------


def collection_of(ax: Axes, kind: str) -> LineCollection:
    (collection,) = [c for c in ax.collections if isinstance(c, LineCollection) and c.get_label() == kind]
    return collection


def segments_of(ax: Axes, kind: str) -> list[np.ndarray]:
    return [np.asarray(segment) for segment in collection_of(ax, kind).get_segments()]


def test_plot_timeline_returns_labelled_axes_in_ms(calls: pd.DataFrame) -> None:
    ax = plots.plot_timeline(calls)
    assert isinstance(ax, Axes)
    assert_labelled(ax, unit="ms")


def test_plot_timeline_draws_one_series_per_kind_of_call_with_a_legend(calls: pd.DataFrame) -> None:
    ax = plots.plot_timeline(calls)
    assert legend_texts(ax) == ["write ok", "conflict", "read"]


def test_plot_timeline_places_calls_in_ms_since_the_first_call(calls: pd.DataFrame) -> None:
    ax = plots.plot_timeline(calls)
    (conflict,) = segments_of(ax, "conflict")
    # writer 1's conflicting write ran from 10.003 s to 10.005 s; the run started at 10.000 s
    assert np.allclose(conflict, [[3.0, 1.0], [5.0, 1.0]])


def test_plot_timeline_puts_each_writer_on_its_own_row(calls: pd.DataFrame) -> None:
    ax = plots.plot_timeline(calls)
    rows = {segment[0, 1] for segment in segments_of(ax, "write ok")}
    assert rows == {0.0, 1.0}
    assert [t.get_text() for t in ax.get_yticklabels()] == ["0", "1"]


def test_plot_timeline_colours_unavailable_and_error_calls(calls: pd.DataFrame) -> None:
    extra = pd.DataFrame(
        [call(0, "save_event", 10.02, 10.03, "unavailable"), call(0, "get_events", 10.04, 10.05, "error")]
    )
    ax = plots.plot_timeline(pd.concat([calls, extra], ignore_index=True))
    assert len(segments_of(ax, "unavailable")) == 1 and len(segments_of(ax, "error")) == 1
    drawn = np.asarray(collection_of(ax, "error").get_edgecolor())[0]
    assert to_hex(tuple(drawn)) == to_hex(plots.RESULT_COLORS["error"])


def test_plot_timeline_gives_an_instant_call_a_visible_width() -> None:
    frame = pd.DataFrame([call(0, "get_latest_version", 0.0, 0.0), call(0, "save_event", 0.0, 0.01)])
    ax = plots.plot_timeline(frame)
    (read,) = segments_of(ax, "read")
    assert read[1, 0] > read[0, 0]


def test_plot_timeline_shows_at_most_max_writers_rows() -> None:
    frame = pd.DataFrame([call(w, "save_event", w * 0.001, w * 0.001 + 0.0005, writers=30) for w in range(30)])
    ax = plots.plot_timeline(frame, max_writers=20)
    assert {segment[0, 1] for segment in segments_of(ax, "write ok")} == set(range(20))
    assert "first 20 of 30 writers" in ax.get_title()


def test_plot_timeline_shows_the_chosen_writers_in_the_given_order(calls: pd.DataFrame) -> None:
    ax = plots.plot_timeline(calls, writers=[1])
    assert [t.get_text() for t in ax.get_yticklabels()] == ["1"]
    assert len(segments_of(ax, "conflict")) == 1


def test_plot_timeline_names_a_writer_that_made_no_call(calls: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match=r"\[7\]"):
        plots.plot_timeline(calls, writers=[0, 7])


def test_plot_timeline_refuses_calls_from_several_runs(calls: pd.DataFrame) -> None:
    two_runs = pd.concat([calls, calls.assign(seed=1)], ignore_index=True)
    with pytest.raises(ValueError, match="2 runs"):
        plots.plot_timeline(two_runs)


def test_plot_timeline_names_a_missing_column(calls: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match="'result'"):
        plots.plot_timeline(calls.drop(columns="result"))


def test_plot_timeline_refuses_an_empty_table(calls: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match="empty"):
        plots.plot_timeline(calls.iloc[0:0])


# ----------------------------------------------------------------------------------------
# save_figure
# ----------------------------------------------------------------------------------------


def test_save_figure_writes_identical_png_bytes_for_two_renders(saves: pd.DataFrame, tmp_path: Path) -> None:
    first = plots.save_figure(plots.plot_latency(saves), tmp_path / "a.png")
    second = plots.save_figure(plots.plot_latency(saves), tmp_path / "b.png")
    assert first.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert first.read_bytes() == second.read_bytes()


def test_save_figure_png_carries_no_software_version(saves: pd.DataFrame, tmp_path: Path) -> None:
    data = plots.save_figure(plots.plot_retries(saves), tmp_path / "r.png").read_bytes()
    assert b"Software" not in data and b"atplotlib" not in data


@pytest.mark.parametrize("suffix", [".svg", ".pdf"])
def test_save_figure_vector_formats_are_deterministic_too(saves: pd.DataFrame, tmp_path: Path, suffix: str) -> None:
    first = plots.save_figure(plots.plot_latency(saves), tmp_path / f"a{suffix}")
    second = plots.save_figure(plots.plot_latency(saves), tmp_path / f"b{suffix}")
    assert first.read_bytes() == second.read_bytes()


def test_save_figure_creates_missing_folders(saves: pd.DataFrame, tmp_path: Path) -> None:
    target = tmp_path / "figures" / "latency.png"
    figure = plots.plot_latency(saves).get_figure()
    assert isinstance(figure, Figure)
    assert plots.save_figure(figure, target) == target
    assert target.exists()


def test_save_figure_names_an_unsupported_format(saves: pd.DataFrame, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="latency.jpg"):
        plots.save_figure(plots.plot_latency(saves), tmp_path / "latency.jpg")


def test_colour_clashes_avoid_yellow_while_other_colours_are_free() -> None:
    from aether.plots import PALETTE, _colors_for

    colors = _colors_for(["committed", "gave_up"])
    assert len(set(colors.values())) == 2
    assert PALETTE[-1] not in colors.values()


# --------------------------------------------------------------------------- load figures


def _load_run() -> object:
    from aether.experiment import Capacity, Exponential, NetworkModel, Slowdown, run_load
    from aether.patterns import no_retry

    capacity = Capacity(service=Exponential(0.002), faults=[Slowdown(0.5, 1.0, 3)])
    return run_load(no_retry, rate=150, duration=2.0, actors=500, capacity=capacity,
                    network=NetworkModel(outages=[Outage(1.2, 1.4)]), seed=1)


def test_plot_load_draws_load_work_goodput_and_the_queue_with_faults_shaded() -> None:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        result = _load_run()
    fig = plot_load(result, bin=0.1)
    top, bottom = fig.axes[0], fig.axes[1]
    labels = [line.get_label() for line in top.get_lines()]
    assert labels == ["offered saves", "store calls", "goodput"]
    assert len(top.patches) == 2  # the slowdown and the outage, shaded
    assert {t.get_text() for t in top.get_legend().get_texts()} >= {"slowdown x3", "outage"}
    assert bottom.get_ylabel() == "calls waiting"
    timeline = result.timeline(bin=0.1)
    assert list(top.get_lines()[2].get_ydata()) == list(timeline["goodput"])
    plt.close(fig)


def test_plot_load_of_a_run_without_capacity_has_no_queue_panel() -> None:
    from aether.experiment import run_load
    from aether.patterns import no_retry

    fig = plot_load(run_load(no_retry, rate=50, duration=1.0, actors=100), bin=0.1)
    assert len(fig.axes) == 1
    plt.close(fig)


def test_plot_latency_vs_load_draws_one_line_per_pattern_against_the_rate() -> None:
    sweep = pd.DataFrame({"pattern": ["a", "a", "b", "b"], "rate": [10, 20, 10, 20], "p99": [0.01, 0.1, 0.02, 0.2],
                          "seed": [0, 0, 0, 0]})
    ax = plot_latency_vs_load(sweep)
    assert ax.get_xlabel() == "offered saves per second"
    assert ax.get_yscale() == "log"
    assert [line.get_label() for line in ax.get_lines()] == ["a", "b"]
    plt.close(ax.figure)
