"""Figures of chapters 04 (adaptive retry) and 05 (eventual consistency), in the lab's style.

* :func:`plot_save_latency`: every save's latency, whatever its outcome, with the
  committed count in the legend, so that a pattern that drops its slow saves
  cannot look fast;
* :func:`plot_policy_waits`: the wait an adaptive policy asks for, by distance;
* :func:`plot_distance_shares`: how far behind the conflicts of a run were;
* :func:`plot_tier_waits`: the mean wait after a conflict, by the conflict's tier;
* :func:`plot_queue_depth`: a retry queue's depth over time;
* :func:`plot_commits`: committed saves so far, over time, one line per run.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib import ticker
from matplotlib.axes import Axes

from aether.plots import LOAD_COLORS, PALETTE, _colors_for, color_for, style

__all__ = [
    "TIERS",
    "plot_commits",
    "plot_distance_shares",
    "plot_policy_waits",
    "plot_queue_depth",
    "plot_save_latency",
    "plot_tier_waits",
]

#: The default adaptive policy's tiers: (name, lowest distance - 0.5, highest distance + 0.5).
TIERS: tuple[tuple[str, float, float], ...] = (("light", 0.5, 2.5), ("moderate", 2.5, 10.5), ("high", 10.5, 25.5))
_TIER_SHADES = ("#EEEEEE", "#DDDDDD", "#CCCCCC")  # greys: the tiers are not a pattern, an outcome or a load series
_FAULT = LOAD_COLORS["fault"]
_UNITS = {"ms": 1000.0, "s": 1.0}
_STYLES = ("-", "--", "-.", ":")  # line styles tell apart variants of one pattern drawn in its colour


def _axes(ax: Axes | None) -> Axes:
    if ax is not None:
        return ax
    _, ax = plt.subplots()
    return ax


def _shade_faults(ax: Axes, faults: Sequence[tuple[float, float, str]]) -> None:
    for i, (start, end, label) in enumerate(faults):
        ax.axvspan(start, end, color=_FAULT, alpha=0.5, zorder=0, label=f"store {label}" if i == 0 else "_fault")


def plot_save_latency(saves: pd.DataFrame, *, by: str = "pattern", column: str = "latency", unit: str = "s",
                      ax: Axes | None = None, title: str | None = None) -> Axes:
    """ECDF of *column* over every save of each group, committed or not; failed saves marked with a cross.

    Use it to compare patterns that may give up: each curve counts all of the
    group's saves, the legend says how many committed (and the p95 of all), and
    a save that did not commit is a cross on its curve, so a pattern cannot
    look fast by dropping its slow saves. A group's saves with no value in
    *column* (e.g. ``commit_delay`` of a save that was never stored) count as
    never finished: the curve stops below 100 %.
    """
    for name in (by, column, "outcome"):
        if name not in saves.columns:
            raise ValueError(f"saves needs a {name!r} column; got {list(saves.columns)}")
    if saves.empty:
        raise ValueError("saves is empty: there is no latency to plot")
    factor = _UNITS[unit]
    groups: list[Hashable] = list(dict.fromkeys(saves[by]))
    colors = _colors_for(groups)
    with style():
        ax = _axes(ax)
        for group in groups:
            rows = saves[saves[by] == group]
            total = len(rows)
            known = rows.dropna(subset=[column]).sort_values(column, kind="stable")
            xs = known[column].to_numpy(float) * factor
            ys = np.arange(1, len(xs) + 1) / total * 100.0
            committed = int((rows["outcome"] == "committed").sum())
            values = rows[column].fillna(np.inf).to_numpy(float)  # a save never stored never finished
            p95 = np.percentile(values, 95, method="linear" if np.isfinite(values).all() else "higher") * factor
            p95_text = "never" if not np.isfinite(p95) else f"{p95:.3g} {unit}"
            label = f"{group}: {committed}/{total} committed, p95 {p95_text}"
            ax.step(np.r_[0.0, xs], np.r_[0.0, ys], where="post", color=colors[group], label=label)
            lost = (known["outcome"] != "committed").to_numpy()
            if lost.any():
                ax.plot(xs[lost], ys[lost], linestyle="none", marker="x", markersize=7, color=colors[group],
                        label="_lost")
        ax.plot([], [], linestyle="none", marker="x", color="#444444", label="a save that did not commit")
        ax.set_ylim(0, 102)
        ax.set_yticks([0, 25, 50, 75, 95, 100])
        ax.set(title=title or f"Latency of every save by {by}",
               xlabel=f"{'time to commit' if column == 'commit_delay' else 'latency'} of one save ({unit})",
               ylabel="share of all saves finished (%)")
        ax.legend(loc="lower right", fontsize=11)
    return ax


def plot_policy_waits(waits: pd.DataFrame, *, ax: Axes | None = None, title: str | None = None) -> Axes:
    """The wait before retry 1, 2, 3 by conflict distance: one step line per retry, tiers shaded.

    *waits* has columns ``distance``, ``retry`` and ``wait`` (seconds), one row per pair.
    """
    with style():
        ax = _axes(ax)
        for (tier, low, high), shade in zip(TIERS, _TIER_SHADES, strict=True):
            ax.axvspan(low, high, color=shade, zorder=0)
            ax.text((low + high) / 2, 3000, tier, ha="center", va="top", fontsize=13)
        for i, (retry, rows) in enumerate(waits.groupby("retry", sort=True)):
            ax.step(rows["distance"], 1000 * rows["wait"], where="mid", linestyle=("-", "--", ":")[i % 3],
                    linewidth=2.6, color=PALETTE[i % len(PALETTE)], label=f"retry {retry}")
        ax.set_yscale("log")
        ax.set_ylim(30, 3200)
        ax.yaxis.set_major_locator(ticker.FixedLocator([50, 100, 200, 500, 1000, 2000]))
        ax.yaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:g}"))
        ax.yaxis.set_minor_formatter(ticker.NullFormatter())
        ax.set_xlim(0.5, float(waits["distance"].max()) + 0.5)
        ax.set(title=title or "adaptive_delay: the wait after a conflict, by distance",
               xlabel="conflict distance (commits since our read)", ylabel="wait before the retry (ms)")
        ax.legend(title="before", loc="lower right")
    return ax


def plot_distance_shares(distances: pd.DataFrame, *, panel: str = "network", by: str = "writers", top: int = 12,
                         title: str | None = None) -> Any:
    """Share of conflicts at each distance, one panel per *panel* value and one bar per *by* value.

    *distances* has one row per conflict, with ``distance``, *panel* and *by*
    columns. Distances of *top* or more share the last bar. Returns the figure.
    """
    panels = list(dict.fromkeys(distances[panel]))
    crowd = sorted(distances[by].unique())
    with style():
        fig, axes = plt.subplots(1, len(panels), figsize=(7.5 * len(panels), 5.5), sharey=True, squeeze=False)
        for ax, name in zip(axes[0], panels, strict=True):
            rows = distances[distances[panel] == name]
            shown = rows["distance"].clip(upper=top)
            for (tier, low, high), shade in zip(TIERS, _TIER_SHADES, strict=True):
                ax.axvspan(low, min(high, top + 0.5), color=shade, zorder=0)
                ax.text((low + min(high, top + 0.5)) / 2, 109, tier, ha="center", va="top", fontsize=12)
            width = 0.8 / len(crowd)
            xs = np.arange(1, top + 1)
            for i, n in enumerate(crowd):
                counts = shown[rows[by] == n].value_counts(normalize=True)
                ax.bar(xs + (i - (len(crowd) - 1) / 2) * width, [100 * counts.get(x, 0.0) for x in xs],
                       width=width, color=PALETTE[i % len(PALETTE)], label=f"{n} {by}")
            ax.set_xticks(xs, [str(x) for x in range(1, top)] + [f"≥{top}"])
            ax.set_xlim(0.5, top + 0.5)
            ax.set_ylim(0, 112)
            ax.set_yticks([0, 20, 40, 60, 80, 100])
            ax.set(title=str(name), xlabel="conflict distance (commits since our read)")
        axes[0][0].set_ylabel("share of conflicts (%)")
        axes[0][-1].legend(loc="center right")
        fig.suptitle(title or "Distance of every conflict", fontsize=16, fontweight="bold")
    return fig


def plot_tier_waits(waits: pd.DataFrame, *, by: str = "pattern", ax: Axes | None = None,
                    title: str | None = None) -> Axes:
    """Mean wait after a conflict per distance tier, one bar per *by* group, labelled with its count.

    *waits* has one row per retried conflict with ``tier`` (light, moderate,
    high), ``wait`` (seconds) and *by* columns.
    """
    names = list(dict.fromkeys(waits[by]))
    colors = _colors_for(names)
    tiers = [t for t, _, _ in TIERS]
    with style():
        ax = _axes(ax)
        width = 0.8 / len(names)
        for i, name in enumerate(names):
            rows = waits[waits[by] == name]
            stats = rows.groupby("tier", observed=False)["wait"].agg(["mean", "size"]).reindex(tiers)
            bars = ax.bar(np.arange(len(tiers)) + (i - (len(names) - 1) / 2) * width,
                          1000 * stats["mean"].fillna(0), width=width, color=colors[name], label=name)
            ax.bar_label(bars, labels=[f"n={int(n)}" for n in stats["size"].fillna(0)], fontsize=10, padding=2)
        ax.set_xticks(np.arange(len(tiers)), ["light (1-2)", "moderate (3-10)", "high (>10)"])
        ax.set_yscale("log")
        ax.yaxis.set_major_locator(ticker.FixedLocator([10, 20, 50, 100, 200, 500, 1000, 2000]))
        ax.yaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:g}"))
        ax.yaxis.set_minor_formatter(ticker.NullFormatter())
        ax.set_ylim(10, 2500)
        ax.set(title=title or "Mean wait after a conflict, by its distance",
               xlabel="tier of the conflict's distance", ylabel="mean wait before the retry (ms)")
        ax.legend(title=by, loc="upper left")
    return ax


def plot_queue_depth(queues: Mapping[str, Any], *, faults: Sequence[tuple[float, float, str]] = (),
                     ax: Axes | None = None, title: str | None = None) -> Axes:
    """Writes waiting in each queue over time, one step line per queue; fault windows shaded.

    *queues* maps a label to anything with ``depth_samples`` (``(time, depth)``
    pairs, as :class:`~aether.patterns.RetryQueue` records them). Each line
    takes its label's colour (:func:`~aether.plots.color_for`, so variants of
    one pattern pinned to its colour stay that colour) and a line style of its own.
    """
    with style():
        ax = _axes(ax)
        _shade_faults(ax, faults)
        for i, (label, queue) in enumerate(queues.items()):
            times, depths = zip(*queue.depth_samples, strict=True)
            ax.step(times, depths, where="post", color=color_for(label), linestyle=_STYLES[i % len(_STYLES)],
                    label=label)
        ax.set(title=title or "Queue depth", xlabel="time since the run's start (s)",
               ylabel="writes waiting in the queue (count)", ylim=(0, None))
        ax.legend(loc="upper left")
    return ax


def plot_commits(runs: Mapping[str, Any], *, faults: Sequence[tuple[float, float, str]] = (),
                 ax: Axes | None = None, title: str | None = None) -> Axes:
    """Committed saves so far against time, one step line per run (a label to a RunResult); faults shaded.

    Colours and line styles as in :func:`plot_queue_depth`; the legend says how many saves each run committed.
    """
    with style():
        ax = _axes(ax)
        _shade_faults(ax, faults)
        for i, (label, result) in enumerate(runs.items()):
            saves = result.saves[result.saves["outcome"] == "committed"]
            done = (saves["start"] + saves["commit_delay"]).sort_values().to_numpy()
            ax.step(np.r_[0.0, done], np.arange(len(done) + 1), where="post", color=color_for(label),
                    linestyle=_STYLES[i % len(_STYLES)], label=f"{label}: {len(done)} of {len(result.saves)}")
        ax.set(title=title or "Committed saves so far", xlabel="time since the run's start (s)",
               ylabel="committed saves (count)")
        ax.legend(loc="upper left")
    return ax

