"""Retry libraries and SDK retry modes beside the lab's patterns: their waits, side by side.

Use :func:`plot_wait_bands` to compare how long different retry policies (the lab's
jitter, a library's defaults, an SDK's retry mode) wait before each retry, from sampled
waits, without running a store.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from aether.plots.style import (
    DEFAULT_UNIT,
    UNIT_TEXT,
    describe,
    finish,
    legend_outside,
    new_axes,
    plain_log_axis,
    require,
    sorted_groups,
    styled,
    styles_for,
    time_factor,
)

__all__ = ["plot_wait_bands"]


@styled
def plot_wait_bands(
    waits: pd.DataFrame,
    *,
    by: str = "pattern",
    floor: float = 0.001,
    unit: str = DEFAULT_UNIT,
    ax: Axes | None = None,
    title: str | None = None,
    alt: str | None = None,
) -> Axes:
    """The spread of sampled waits per retry number, one band per policy, on a log scale.

    *waits* has one row per sampled wait: ``by`` (the policy's name), ``retry``
    (1 for the wait before the first retry) and ``wait`` in seconds. Each
    policy gets a shaded band from the 5th to the 95th percentile of its waits
    at each retry, a line through the median (in the policy's line style and
    marker), and a dotted line at its largest wait. Waits below *floor* seconds
    are drawn at *floor*. Use it to see the shape of a jitter: a band that
    reaches down to the floor (full jitter), a band of constant width (additive
    jitter), a line with no band (no jitter, or a cap that swallows the jitter).
    The legend sits right of the plot, where it covers no band.
    """
    factor = time_factor(unit)
    require(waits, [by, "retry", "wait"], name="waits", empty=False)
    if not floor > 0:
        raise ValueError(f"floor must be a number of seconds > 0 (a log scale has no zero); got {floor!r}")
    groups = sorted_groups(waits[by])
    styles = styles_for(groups)
    ax = new_axes(ax)
    for group in groups:
        rows = waits[waits[by] == group]
        stats = rows.groupby("retry")["wait"].quantile([0.05, 0.5, 0.95]).unstack()
        top = rows.groupby("retry")["wait"].max()
        x = stats.index.to_numpy(float)
        low, mid, high = (np.maximum(stats[q].to_numpy(float), floor) * factor for q in (0.05, 0.5, 0.95))
        look = styles[group]
        ax.fill_between(x, low, high, color=look.color, alpha=0.18, linewidth=0)
        ax.plot(x, mid, color=look.color, linestyle=look.linestyle, marker=look.marker, linewidth=2, markersize=5,
                label=f"{group}: median, 5-95 % band")
        ax.plot(x, np.maximum(top.to_numpy(float), floor) * factor, ":", color=look.color, linewidth=1.2)
    ax.set_yscale("log")
    plain_log_axis(ax.yaxis)
    retries = sorted(int(r) for r in waits["retry"].unique())
    ax.set_xticks(retries)
    finish(
        ax,
        title=title or "Wait before each retry",
        xlabel="retry number (count)",
        ylabel=f"wait before the retry ({UNIT_TEXT[unit]})",
        legend=True,
        legend_title=f"dotted: largest wait; waits under {floor * 1000:g} ms drawn at {floor * 1000:g} ms",
    )
    legend_outside(ax)  # the bands fill the plot from corner to corner: any legend inside would cover one
    describe(ax, alt, f"Bands of the 5th to 95th percentile of the wait before each retry number, on a log scale in "
                      f"{UNIT_TEXT[unit]}, with a line at the median, one per {by} ({', '.join(map(str, groups))}).")
    return ax
