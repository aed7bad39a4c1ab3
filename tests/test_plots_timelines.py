"""Figures over the time of one run: store calls per writer, load and goodput, queues, commits, a breaker."""

from __future__ import annotations

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.axes import Axes
from matplotlib.colors import to_hex
from plothelpers import (
    assert_labelled,
    call,
    collection_of,
    example_calls,
    legend_texts,
    segments_of,
)

from aether import SimulatedClock, plots
from aether.experiment import NetworkModel, Outage, run_contention
from aether.patterns import CircuitBreaker, QueuedWrites, simple_retry
from aether.plots import plot_load

matplotlib.use("Agg")


@pytest.fixture
def calls() -> pd.DataFrame:
    return example_calls()


# ----------------------------------------------------------------------------------------
# plot_timeline
# ----------------------------------------------------------------------------------------




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


def _flat_timeline(goodput: float) -> pd.DataFrame:
    starts = np.arange(0.0, 2.0, 0.5)
    return pd.DataFrame({"start": starts, "offered": 40.0, "goodput": goodput})


def test_plot_goodput_band_draws_the_median_of_the_seeds_and_a_band_from_lowest_to_highest() -> None:
    ax = plots.plot_goodput_band({"circuit breaker": [_flat_timeline(10.0), _flat_timeline(30.0),
                                                      _flat_timeline(20.0)]}, faults=[(0.5, 1.0, "outage")])
    offered, median = ax.get_lines()
    assert offered.get_label() == "offered saves"
    assert median.get_label() == "circuit breaker (median of 3 seeds)"
    assert list(median.get_ydata()) == [20.0] * 4
    band = ax.collections[0].get_paths()[0].vertices[:, 1]
    assert band.min() == 10.0 and band.max() == 30.0
    plt.close(ax.figure)


def test_plot_goodput_band_cuts_the_x_axis_at_end() -> None:
    ax = plots.plot_goodput_band({"a": [_flat_timeline(10.0)]}, faults=[], end=1.0)
    assert max(ax.get_lines()[1].get_xdata()) < 1.0
    plt.close(ax.figure)


def test_plot_goodput_band_refuses_a_pattern_given_one_run_instead_of_a_list() -> None:
    with pytest.raises(TypeError, match="list of runs"):
        plots.plot_goodput_band({"a": _flat_timeline(10.0)}, faults=[])


# ----------------------------------------------------------------------------------------
# Queues and commits over a run, a breaker's states
# ----------------------------------------------------------------------------------------


def test_queue_depth_and_commits_follow_a_run_with_its_outage_shaded() -> None:
    queued = QueuedWrites()
    network = NetworkModel(outages=(Outage(0.2, 0.4),))
    runs = {"queued_writes": run_contention(queued, writers=10, network=network, start_spread=0.5),
            "simple_retry": run_contention(simple_retry, writers=10, network=network, start_spread=0.5)}
    faults = plots.fault_windows(runs["simple_retry"].settings)
    ax = plots.plot_queue_depth({"queued_writes": queued.queues[-1]}, faults=faults)
    assert max(ax.get_lines()[0].get_ydata()) == queued.queues[-1].max_depth
    ax = plots.plot_commits(runs, faults=faults)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels[0] == "store outage" and labels[1] == "queued_writes: 10 of 10"
    lines = [line for line in ax.get_lines() if not line.get_label().startswith("_")]
    assert to_hex(lines[0].get_color()) == plots.PATTERN_COLORS["queued_writes"].lower()
    assert lines[0].get_linestyle() != lines[1].get_linestyle()


def test_variants_pinned_to_one_colour_keep_it_and_differ_by_line(monkeypatch: pytest.MonkeyPatch) -> None:
    queued = QueuedWrites()
    runs = {label: run_contention(queued, writers=4, seed=0) for label in ("queue, 1 worker", "queue, 4 workers")}
    for label in runs:
        monkeypatch.setitem(plots.PATTERN_COLORS, label, plots.PATTERN_COLORS["queued_writes"])
    ax = plots.plot_commits(runs)
    first, second = [line for line in ax.get_lines() if not line.get_label().startswith("_")]
    assert to_hex(first.get_color()) == to_hex(second.get_color())
    assert (first.get_linestyle(), first.get_marker()) != (second.get_linestyle(), second.get_marker())


def opened_and_closed() -> CircuitBreaker:
    clock = SimulatedClock()
    breaker = CircuitBreaker(clock=clock, failure_threshold=1, reset_timeout=1.0)
    breaker.can_retry()
    breaker.record_failure()
    clock.sleep(1.0)
    breaker.can_retry()
    breaker.record_success()
    return breaker


def test_breaker_states_step_through_open_half_open_and_closed_in_sky_blue() -> None:
    ax = plots.plot_breaker_states(opened_and_closed(), [(0.0, "failure"), (1.0, "success")], end=2.0,
                                   faults=[(0.0, 0.5, "outage")])
    state = ax.get_lines()[0]
    assert list(state.get_ydata()) == [0, 2, 1, 0, 0]
    assert state.get_color() == plots.PATTERN_COLORS["circuit breaker"]
    assert to_hex(ax.patches[0].get_facecolor()) == plots.LOAD_COLORS["fault"].lower()


def test_breaker_states_refuse_an_unknown_call_kind() -> None:
    with pytest.raises(ValueError, match="call kinds"):
        plots.plot_breaker_states(opened_and_closed(), [(0.0, "lost")], end=1.0)
