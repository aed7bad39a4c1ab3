"""Figures of chapters 02 (conflict-detailed retry) and 03 (jitter retry).

They follow :mod:`aether.plots`' look (same colours per pattern, labelled axes with
units, a title and a legend) and its conventions: each takes the lab's tidy tables,
accepts ``ax=None`` or an Axes to draw into, and returns the Axes.

* :func:`plot_commit_latency`: latency of the saves that committed, as a share of
  **all** saves, so a pattern that commits few saves cannot look fast by showing only
  its survivors; the legend gives each group's committed count.
* :func:`plot_waits`: the waits a backoff draws per retry number (chapter 03's picture
  of full, equal and decorrelated jitter).
* :func:`legend_outside`: move a legend to the right of the plot, where it hides no curve.
"""

from __future__ import annotations

from collections.abc import Hashable

import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from aether.plots import (
    _UNIT_TEXT,
    STYLE,
    _by_label,
    _colors_for,
    _finish,
    _format_time,
    _new_axes,
    _plain_log_axis,
    _require,
    _sorted_groups,
    _styled,
    _time_factor,
    color_for,
)

__all__ = ["legend_outside", "plot_commit_latency", "plot_waits"]


def _commit_label(group: Hashable, committed: np.ndarray, total: int, unit: str) -> str:
    """Legend text: the group, how many of its saves committed, and their median latency."""
    if len(committed) == 0:
        return f"{group}: 0 of {total} committed"
    return f"{group}: {len(committed)} of {total} committed, p50 {_format_time(float(np.median(committed)), unit)}"


@_styled
def plot_commit_latency(
    saves: pd.DataFrame,
    *,
    by: str = "pattern",
    unit: str = "ms",
    log: bool = False,
    ax: Axes | None = None,
    title: str | None = None,
) -> Axes:
    """Share of **all** saves committed within x, one step line per group.

    Use it instead of a latency ECDF of committed saves whenever the groups commit
    different numbers of saves: each curve rises only as far as its group's committed
    share (a pattern that commits 18 of 50 saves tops out at 36 %), and the legend
    gives "k of n committed" and the committed saves' median. Saves that gave up or
    failed count in n and never in k.
    """
    factor = _time_factor(unit)
    _require(saves, [by, "latency", "outcome"], name="saves")
    if saves.empty:
        raise ValueError("saves is empty: there is no latency to plot")
    ax = _new_axes(ax)
    groups = _sorted_groups(saves[by])
    colors = _colors_for(groups)
    for group in groups:
        rows = saves[saves[by] == group]
        committed = np.sort(rows.loc[rows["outcome"] == "committed", "latency"].to_numpy(float) * factor)
        label = _commit_label(group, committed, len(rows), unit)
        if len(committed) == 0:
            ax.plot([], [], color=colors[group], linestyle="--", label=label)
            continue
        shares = np.arange(1, len(committed) + 1) / len(rows) * 100.0
        ax.step(committed, shares, where="post", color=colors[group], label=label)
    ax.set_ylim(0, 102)
    if log:
        ax.set_xscale("log")
        _plain_log_axis(ax.xaxis)
    _finish(
        ax,
        title=title or f"Saves committed within a latency, by {by}",
        xlabel=f"latency of one logical save ({_UNIT_TEXT[unit]})",
        ylabel="share of all saves committed (%)",
        legend=True,
        legend_title=_by_label(by),
    )
    return ax


@_styled
def plot_waits(
    waits: pd.DataFrame,
    *,
    base: float,
    cap: float,
    savers: int = 300,
    floor_ms: float = 0.5,
    ax: Axes | None = None,
    title: str | None = None,
    seed: int = 0,
) -> Axes:
    """The sampled waits of one backoff variant against the retry number, with ``v = min(cap, base * 2**n)``.

    *waits* has the columns ``pattern`` (one variant), ``saver``, ``retry`` (0 for the first
    retry) and ``wait`` (seconds); the first *savers* savers are drawn, as dots spread a little
    sideways (by a generator seeded with *seed*) so that they do not hide each other. A variant
    whose every saver waits the same (no jitter) is drawn as large dots on top. Waits shorter
    than *floor_ms* sit on the bottom edge of the log scale.
    """
    _require(waits, ["pattern", "saver", "retry", "wait"], name="waits")
    names = waits["pattern"].unique()
    if len(names) != 1:
        raise ValueError(f"waits must hold one variant; got {sorted(map(str, names))}")
    name = str(names[0])
    sample = waits[waits["saver"] < savers]
    ax = _new_axes(ax)
    exact = bool((sample.groupby("retry")["wait"].nunique() == 1).all())
    rng = np.random.default_rng(seed)
    shift = 0.0 if exact else rng.uniform(-0.3, 0.3, len(sample))
    ax.scatter(sample["retry"] + shift, np.maximum(1000 * sample["wait"].to_numpy(float), floor_ms),
               s=40 if exact else 5, alpha=1 if exact else 0.25, color=color_for(name), zorder=3 if exact else 1)
    retries = np.arange(int(waits["retry"].max()) + 1)
    ax.plot(retries, 1000 * np.minimum(cap, base * 2.0 ** retries), "--", color="#333333", linewidth=1.5,
            label="v = min(cap, base·2ⁿ)")
    ax.set_yscale("log")
    ax.set_ylim(floor_ms * 0.8, 2000 * cap)
    ax.set_xticks(retries)
    _finish(ax, title=title or name, xlabel="retry number n (count)", ylabel="wait before the retry (ms)",
            legend=True)
    ax.title.set_fontsize(STYLE["font.size"] + 1)
    return ax


def legend_outside(ax: Axes) -> Axes:
    """Move *ax*'s legend to the right of the plot, so it hides no curve; returns *ax*."""
    legend = ax.get_legend()
    if legend is None:
        raise ValueError("the Axes has no legend to move")
    legend.set_loc("upper left")
    legend.set_bbox_to_anchor((1.01, 1.0))
    return ax
