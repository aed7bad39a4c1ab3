"""Chapter 02 and 03 figures: honest committed-latency curves, sampled waits, a legend moved aside."""

from __future__ import annotations

from collections.abc import Iterator

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from aether.plots_rev0203 import legend_outside, plot_commit_latency, plot_waits

matplotlib.use("Agg")


@pytest.fixture(autouse=True)
def _close_figures() -> Iterator[None]:
    yield
    plt.close("all")


def _saves() -> pd.DataFrame:
    rows = [("few", 0.010, "committed"), ("few", 0.5, "gave_up"), ("few", 0.6, "gave_up"), ("few", 0.7, "gave_up"),
            ("all", 0.020, "committed"), ("all", 0.030, "committed")]
    return pd.DataFrame(rows, columns=["pattern", "latency", "outcome"])


def test_commit_latency_rises_only_to_the_committed_share_of_all_saves() -> None:
    ax = plot_commit_latency(_saves())
    tops = {line.get_label().split(":")[0]: line.get_ydata()[-1] for line in ax.get_lines()}
    assert tops == {"all": pytest.approx(100.0), "few": pytest.approx(25.0)}


def test_commit_latency_legend_names_the_committed_counts() -> None:
    labels = [t.get_text() for t in plot_commit_latency(_saves()).get_legend().get_texts()]
    assert labels == ["all: 2 of 2 committed, p50 25 ms", "few: 1 of 4 committed, p50 10 ms"]


def test_commit_latency_keeps_a_group_without_commits_in_the_legend() -> None:
    saves = pd.DataFrame([("none", 0.5, "gave_up")], columns=["pattern", "latency", "outcome"])
    labels = [t.get_text() for t in plot_commit_latency(saves).get_legend().get_texts()]
    assert labels == ["none: 0 of 1 committed"]


def test_waits_draws_every_sampled_wait_and_the_exponential_delay() -> None:
    waits = pd.DataFrame({"pattern": "full jitter", "saver": np.repeat(np.arange(4), 3),
                          "retry": np.tile(np.arange(3), 4), "wait": np.linspace(0.001, 0.01, 12)})
    ax = plot_waits(waits, base=0.005, cap=2.0, savers=2)
    assert len(ax.collections[0].get_offsets()) == 6
    assert np.allclose(ax.get_lines()[0].get_ydata(), [5, 10, 20])
    assert ax.get_yscale() == "log" and ax.get_title() == "full jitter"


def test_waits_refuses_a_table_of_several_variants() -> None:
    waits = pd.DataFrame({"pattern": ["a", "b"], "saver": [0, 0], "retry": [0, 0], "wait": [0.1, 0.1]})
    with pytest.raises(ValueError, match="one variant"):
        plot_waits(waits, base=0.005, cap=2.0)


def test_legend_outside_anchors_the_legend_right_of_the_axes() -> None:
    _, ax = plt.subplots()
    ax.plot([0, 1], label="x")
    ax.legend()
    legend_outside(ax)
    assert ax.get_legend().get_bbox_to_anchor().x0 > ax.bbox.x1 - 1
