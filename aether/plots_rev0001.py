"""Figures for the first two chapters: the no-retry baseline, and latency of every save.

* :func:`plot_baseline` draws, side by side, the share of saves that commit and
  the completion time against the number of writers, one line per store
  (an instant store, a store with a capacity), with the seeds' spread as a band.
* :func:`plot_retry_limits` shows what a retry limit buys and costs: give-ups,
  store writes per save and the p95 latency of every save, against ``max_attempts``.
* :func:`plot_latency_every_save` compares the latency of *every* save between
  patterns, committed or not, and says in the legend how many of each
  pattern's saves committed, so that a fast curve made of failures cannot pass
  for a fast pattern.

Both follow the look of :mod:`aether.plots` (same colours per name, labelled axes with units).
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.axes import Axes

from aether.plots import (
    PATTERN_COLORS,
    _finish,
    _plain_log_axis,
    _require,
    _sorted_groups,
    _styled,
    plot_latency,
    plot_sweep,
)

__all__ = ["committed_counts", "plot_baseline", "plot_latency_every_save", "plot_retry_limits"]

_LINESTYLES = ("-", "--", ":", "-.")
_MARKERS = ("o", "s", "^", "D")


@_styled
def plot_baseline(
    runs: pd.DataFrame,
    *,
    by: str = "store",
    title: str | None = None,
) -> tuple[Axes, Axes]:
    """Left: saves committed (%) vs writers; right: completion time (ms) vs writers; one line per *by*.

    *runs* is a :func:`~aether.experiment.sweep` table of one pattern (columns
    ``writers``, ``seed``, ``committed``, ``saves``, ``makespan`` and *by*).
    Lines are the mean over seeds, bands the min-max. The left panel adds the
    reference "one winner per round" (100/N). Both axes of writers are
    logarithmic, and so is the completion time, which may span decades.
    Use it to show that adding writers adds conflicts, not commits, and what
    that wasted work costs in time once the store has a capacity.
    """
    _require(runs, ["writers", "seed", "committed", "saves", "makespan", by], name="runs")
    if runs.empty:
        raise ValueError("runs is empty: there is nothing to plot")
    pattern = str(runs["pattern"].iloc[0]) if "pattern" in runs.columns else "no_retry"
    color = PATTERN_COLORS.get(pattern, "#000000")
    fig, (left, right) = plt.subplots(1, 2, figsize=(15, 5.5))
    if title:
        fig.suptitle(title, fontsize=16, fontweight="bold")
    frame = runs.assign(share=100.0 * runs["committed"] / runs["saves"], makespan_ms=1000.0 * runs["makespan"])
    writers = sorted(int(w) for w in frame["writers"].unique())
    for index, group in enumerate(_sorted_groups(frame[by])):
        rows = frame[frame[by] == group]
        style = {"color": color, "linestyle": _LINESTYLES[index % 4], "marker": _MARKERS[index % 4]}
        for ax, column in ((left, "share"), (right, "makespan_ms")):
            stats = rows.groupby("writers")[column].agg(["mean", "min", "max"])
            ax.plot(stats.index, stats["mean"], label=str(group), **style)
            ax.fill_between(stats.index, stats["min"], stats["max"], color=color, alpha=0.15, linewidth=0)
    left.plot(writers, [100.0 / n for n in writers], linestyle=":", color="#777777", zorder=1,
              label="one winner per round (100/N)")
    seeds = frame["seed"].nunique()
    note = f"{pattern} (line: mean of {seeds} seeds; band: min–max)"
    left.set_ylim(0, 104)
    right.set_yscale("log")
    _plain_log_axis(right.yaxis)
    for ax in (left, right):
        ax.set_xscale("log")
        _plain_log_axis(ax.xaxis, writers)
    _finish(left, title="Saves committed", xlabel="concurrent writers (count)", ylabel="saves committed (%)",
            legend=True, legend_title=note)
    _finish(right, title="Completion time (makespan)", xlabel="concurrent writers (count)",
            ylabel="completion time of the run (ms)", legend=True, legend_title=note)
    return left, right


@_styled
def plot_latency_every_save(
    saves: pd.DataFrame,
    *,
    by: str = "pattern",
    log: bool = True,
    unit: str = "ms",
    ax: Axes | None = None,
    title: str | None = None,
) -> Axes:
    """The latency ECDF of every save (committed or not), one curve per group, committed counts in the legend.

    *saves* is a ``saves`` table (``by``, ``latency``, ``outcome``), possibly of
    several seeds. Each legend entry reads "name: p50 ..., p95 ... (k of n
    committed)". Use it instead of a committed-only latency figure whenever
    patterns that give up are compared with patterns that do not.
    """
    _require(saves, [by, "latency", "outcome"], name="saves")
    ax = plot_latency(saves, by=by, outcomes=None, log=log, unit=unit, ax=ax,
                      title=title or f"Latency of every save, committed or not, by {by}")
    counts = committed_counts(saves, by=by)
    legend = ax.get_legend()
    for text in legend.get_texts():
        name = text.get_text().split(":")[0]
        if name in counts:
            committed, total = counts[name]
            text.set_text(f"{text.get_text()} ({committed:,} of {total:,} committed)")
    return ax


def committed_counts(saves: pd.DataFrame, *, by: str = "pattern") -> dict[str, tuple[int, int]]:
    """``{group: (committed, total)}``: the numbers :func:`plot_latency_every_save` writes in its legend."""
    _require(saves, [by, "outcome"], name="saves")
    return {str(g): (int((rows["outcome"] == "committed").sum()), len(rows))
            for g, rows in saves.groupby(by, sort=False)}


@_styled
def plot_retry_limits(limits: pd.DataFrame, *, title: str | None = None) -> tuple[Axes, Axes, Axes]:
    """Give-ups (%), store writes per save and p95 latency of every save (ms), against ``max_attempts``.

    *limits* is a sweep table with a ``max_attempts`` column (one run per limit
    and seed) and the columns ``gave_up``, ``saves``, ``write_calls`` and
    ``p95_all`` (the p95 latency of every save, committed or not, in seconds,
    e.g. from ``sweep(..., measure=...)``). Lines are the mean over seeds,
    bands the min-max; the latency axis is logarithmic, because each extra
    retry doubles the wait. Use it to choose a retry limit.
    """
    _require(limits, ["max_attempts", "seed", "pattern", "gave_up", "saves", "write_calls", "p95_all"],
             name="limits")
    frame = limits.assign(gave_up_pct=100.0 * limits["gave_up"] / limits["saves"],
                          writes_per_save=limits["write_calls"] / limits["saves"], p95=limits["p95_all"])
    fig, axes = plt.subplots(1, 3, figsize=(17, 5.2))
    if title:
        fig.suptitle(title, fontsize=16, fontweight="bold")
    panels = (("gave_up_pct", "Saves that gave up", "saves that gave up (%)"),
              ("writes_per_save", "Work", "store writes per save (count)"),
              ("p95", "p95 latency of every save", "p95 latency, committed or not (ms)"))
    for ax, (column, name, ylabel) in zip(axes, panels, strict=True):
        plot_sweep(frame, x="max_attempts", y=column, ax=ax, title=name, logy=column == "p95")
        ax.set_xlabel("max_attempts, the first try included (count)")
        ax.set_ylabel(ylabel)
        if column != "p95":
            ax.set_ylim(0, None)
        if ax is not axes[0]:
            ax.get_legend().remove()
    return axes[0], axes[1], axes[2]
