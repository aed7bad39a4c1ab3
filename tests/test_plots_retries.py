"""Retry figures: retries per save, the waits a backoff draws, an adaptive policy's waits."""

from __future__ import annotations

import matplotlib
import numpy as np
import pandas as pd
import pytest
from matplotlib.axes import Axes
from matplotlib.container import BarContainer
from plothelpers import (
    assert_labelled,
    example_saves,
    make_saves,
)

from aether import plots
from aether.patterns import adaptive_delay

matplotlib.use("Agg")


@pytest.fixture
def saves() -> pd.DataFrame:
    return example_saves()


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
# Waits: a backoff's samples, an adaptive policy's table, waits by distance tier
# ----------------------------------------------------------------------------------------


def test_waits_draws_every_sampled_wait_and_the_exponential_delay() -> None:
    waits = pd.DataFrame({"pattern": "full jitter", "saver": np.repeat(np.arange(4), 3),
                          "retry": np.tile(np.arange(3), 4), "wait": np.linspace(0.001, 0.01, 12)})
    ax = plots.plot_waits(waits, base=0.005, cap=2.0, savers=2)
    assert len(ax.collections[0].get_offsets()) == 6
    assert np.allclose(ax.get_lines()[0].get_ydata(), [5, 10, 20])
    assert ax.get_yscale() == "log" and ax.get_title() == "full jitter"


def test_waits_refuses_a_table_of_several_variants() -> None:
    waits = pd.DataFrame({"pattern": ["a", "b"], "saver": [0, 0], "retry": [0, 0], "wait": [0.1, 0.1]})
    with pytest.raises(ValueError, match="one variant"):
        plots.plot_waits(waits, base=0.005, cap=2.0)


def test_policy_waits_draw_one_line_per_retry() -> None:
    waits = pd.DataFrame([(d, n, adaptive_delay(d, n - 1)) for d in range(1, 26) for n in (1, 2, 3)],
                         columns=["distance", "retry", "wait"])
    ax = plots.plot_policy_waits(waits)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["retry 1", "retry 2", "retry 3"]
    assert ax.get_ylabel().endswith("(ms)")


def test_policy_waits_in_seconds_keep_the_stored_values() -> None:
    waits = pd.DataFrame([(d, 1, adaptive_delay(d, 0)) for d in range(1, 26)], columns=["distance", "retry", "wait"])
    ax = plots.plot_policy_waits(waits, unit="s")
    assert np.allclose(ax.get_lines()[0].get_ydata(), waits["wait"])


def test_distance_shares_and_tier_waits_draw_a_bar_per_group() -> None:
    distances = pd.DataFrame({"distance": [1, 1, 3, 15], "writers": [5, 20, 20, 20], "network": ["n"] * 4})
    fig = plots.plot_distance_shares(distances)
    assert len(fig.axes[0].patches) == 2 * 12 + 3  # two bars per distance, three tier shades
    waits = pd.DataFrame({"pattern": ["x", "x", "y"], "wait": [0.05, 0.2, 0.01],
                          "tier": pd.Categorical(["light", "moderate", "light"],
                                                 categories=["light", "moderate", "high"])})
    ax = plots.plot_tier_waits(waits)
    assert len(ax.patches) == 2 * 3


def test_distance_by_seed_draws_one_point_per_run_and_bucket_and_a_mean_bar_per_group() -> None:
    runs = pd.DataFrame({"writers": [5, 5, 5, 20, 20], "distance 1": [1.0, 0.9, 0.8, 0.7, 0.6],
                         "distance 2+": [0.0, 0.1, 0.2, 0.3, 0.4]})
    ax = plots.plot_distance_by_seed(runs, shares=["distance 1", "distance 2+"])
    points = sum(len(c.get_offsets()) for c in ax.collections if hasattr(c, "get_offsets") and c.get_offsets().size)
    assert points >= 2 * len(runs)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["5", "20"]


def test_distance_by_seed_needs_a_share_column() -> None:
    with pytest.raises(ValueError, match="shares"):
        plots.plot_distance_by_seed(pd.DataFrame({"writers": [5]}), shares=[])
