"""The figures of chapters 04 and 05 draw what they say, from the experiment's own tables."""

from __future__ import annotations

from collections.abc import Iterator

import matplotlib
import matplotlib.pyplot as plt
import pandas as pd
import pytest
from matplotlib.colors import to_hex

from aether.experiment import NetworkModel, Outage, run_contention
from aether.patterns import QueuedWrites, adaptive_delay, simple_retry
from aether.plots import PATTERN_COLORS, fault_windows
from aether.plots_rev0405 import (
    plot_commits,
    plot_distance_shares,
    plot_policy_waits,
    plot_queue_depth,
    plot_save_latency,
    plot_tier_waits,
)

matplotlib.use("Agg")


@pytest.fixture(autouse=True)
def _close_figures() -> Iterator[None]:
    yield
    plt.close("all")


def test_save_latency_counts_every_save_and_names_the_committed_in_the_legend() -> None:
    saves = pd.DataFrame({"pattern": ["a", "a", "a", "b"], "latency": [0.1, 0.2, 0.3, 0.1],
                          "outcome": ["committed", "gave_up", "committed", "committed"]})
    ax = plot_save_latency(saves)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels[0].startswith("a: 2/3 committed") and labels[1].startswith("b: 1/1 committed")
    curve = ax.get_lines()[0]
    assert list(curve.get_ydata())[-1] == pytest.approx(100.0)
    crosses = [line for line in ax.get_lines() if line.get_marker() == "x" and len(line.get_xdata())]
    assert len(crosses) == 1 and list(crosses[0].get_xdata()) == [0.2]


def test_save_latency_of_a_never_stored_save_stops_the_curve_below_100() -> None:
    saves = pd.DataFrame({"pattern": ["q", "q"], "commit_delay": [0.5, float("nan")],
                          "outcome": ["committed", "dead_letter"]})
    ax = plot_save_latency(saves, column="commit_delay")
    assert max(ax.get_lines()[0].get_ydata()) == pytest.approx(50.0)
    assert "p95 never" in ax.get_legend().get_texts()[0].get_text()


def test_policy_waits_draw_one_line_per_retry() -> None:
    waits = pd.DataFrame([(d, n, adaptive_delay(d, n - 1)) for d in range(1, 26) for n in (1, 2, 3)],
                         columns=["distance", "retry", "wait"])
    ax = plot_policy_waits(waits)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["retry 1", "retry 2", "retry 3"]


def test_distance_shares_and_tier_waits_draw_a_bar_per_group() -> None:
    distances = pd.DataFrame({"distance": [1, 1, 3, 15], "writers": [5, 20, 20, 20], "network": ["n"] * 4})
    fig = plot_distance_shares(distances)
    assert len(fig.axes[0].patches) == 2 * 12 + 3  # two bars per distance, three tier shades
    waits = pd.DataFrame({"pattern": ["x", "x", "y"], "wait": [0.05, 0.2, 0.01],
                          "tier": pd.Categorical(["light", "moderate", "light"],
                                                 categories=["light", "moderate", "high"])})
    ax = plot_tier_waits(waits)
    assert len(ax.patches) == 2 * 3


def test_queue_depth_and_commits_follow_a_run_with_its_outage_shaded() -> None:
    queued = QueuedWrites()
    network = NetworkModel(outages=(Outage(0.2, 0.4),))
    runs = {"queued_writes": run_contention(queued, writers=10, network=network, start_spread=0.5),
            "simple_retry": run_contention(simple_retry, writers=10, network=network, start_spread=0.5)}
    faults = fault_windows(runs["simple_retry"].settings)
    ax = plot_queue_depth({"queued_writes": queued.queues[-1]}, faults=faults)
    assert max(ax.get_lines()[0].get_ydata()) == queued.queues[-1].max_depth
    ax = plot_commits(runs, faults=faults)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels[0] == "store outage" and labels[1] == "queued_writes: 10 of 10"
    lines = [line for line in ax.get_lines() if not line.get_label().startswith("_")]
    assert to_hex(lines[0].get_color()) == PATTERN_COLORS["queued_writes"].lower()
    assert lines[0].get_linestyle() != lines[1].get_linestyle()
