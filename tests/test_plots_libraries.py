"""The retry libraries' figure: the spread of waits per retry, one band per policy."""

from __future__ import annotations

import matplotlib
import matplotlib.pyplot as plt
import pandas as pd
import pytest

from aether.plots import plot_wait_bands

matplotlib.use("Agg")


def waits() -> pd.DataFrame:
    return pd.DataFrame({"pattern": ["a"] * 6 + ["b"] * 6, "retry": [1, 1, 1, 2, 2, 2] * 2,
                         "wait": [0.0, 0.01, 0.02, 0.02, 0.03, 0.04, 1, 1, 1, 2, 2, 2]})


def medians(ax: plt.Axes) -> list[list[float]]:
    return [line.get_ydata().tolist() for line in ax.get_lines() if "median" in str(line.get_label())]


def test_plot_wait_bands_draws_a_band_and_a_median_per_policy() -> None:
    ax = plot_wait_bands(waits(), unit="s", title="t")
    assert medians(ax) == [[0.01, 0.03], [1.0, 2.0]]
    assert len(ax.collections) == 2 and ax.get_yscale() == "log" and ax.get_title() == "t"
    assert "(s)" in ax.get_ylabel() and "(count)" in ax.get_xlabel()


def test_plot_wait_bands_shows_waits_in_ms_by_default() -> None:
    ax = plot_wait_bands(waits())
    assert medians(ax) == [pytest.approx([10.0, 30.0]), pytest.approx([1000.0, 2000.0])]
    assert ax.get_ylabel().endswith("(ms)")


def test_plot_wait_bands_draws_each_policy_in_its_own_line() -> None:
    ax = plot_wait_bands(waits())
    first, second = [line for line in ax.get_lines() if "median" in str(line.get_label())]
    assert (first.get_linestyle(), first.get_marker()) != (second.get_linestyle(), second.get_marker())


def test_plot_wait_bands_refuses_bad_input() -> None:
    with pytest.raises(ValueError, match="missing"):
        plot_wait_bands(pd.DataFrame({"pattern": ["a"], "wait": [1.0]}))
    with pytest.raises(ValueError, match="empty"):
        plot_wait_bands(pd.DataFrame({"pattern": [], "retry": [], "wait": []}))
    with pytest.raises(ValueError, match="floor"):
        plot_wait_bands(pd.DataFrame({"pattern": ["a"], "retry": [1], "wait": [1.0]}), floor=0)


def test_the_libraries_and_sdk_modes_have_pinned_looks_no_other_pattern_shares() -> None:
    from aether.plots.style import PATTERN_COLORS, PATTERN_LINES, style_for

    labels = ["stamina defaults", "jitter_retry, 100 ms base", "Go v2 / JS, pre-2026 (cap after jitter)",
              "botocore 1.34.107+, pre-2026 (cap first, 1 s base)", "2026 (cap first, 50 ms base)"]
    looks = {label: style_for(label) for label in labels}
    assert all(label in PATTERN_COLORS and label in PATTERN_LINES for label in labels)
    others = {(c, PATTERN_LINES[n]) for n, c in PATTERN_COLORS.items() if n not in labels and n in PATTERN_LINES}
    for look in looks.values():
        assert (look.linestyle, look.marker) not in {(line.linestyle, line.marker) for _, line in others}
        assert look.color not in {color for color, _ in others}
    assert len({(s.color, s.linestyle, s.marker) for s in looks.values()}) == len(labels)


def test_plot_wait_bands_puts_its_legend_beside_the_plot_where_it_covers_no_band() -> None:
    ax = plot_wait_bands(waits())
    anchor = ax.get_legend().get_bbox_to_anchor().transformed(ax.transAxes.inverted())
    assert anchor.x0 > 1.0
