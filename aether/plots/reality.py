"""The simulation against reality: the same patterns run several ways, side by side.

Use them when the same patterns ran several ways (simulated, on real threads, on real
SQLite processes) and you want to see, per pattern, how far apart the ways are:

* :func:`plot_ways`: one number per run (work, completion time), a dot per run and a bar at the median;
* :func:`plot_latency_by_way`: the latency distributions, one panel per pattern, one curve per way;
* :func:`plot_lock_handoff`: how SQLite hands its write lock to a waiter;
* :func:`plot_timeline_by_way`: an open-loop timeline (goodput per bin), one panel per pattern, one line per way.

Each way keeps one colour and one look (:data:`WAY_COLORS`, :data:`WAY_LINES`) in every figure.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from aether.calibrate import busy_poll_times, next_busy_poll
from aether.plots.style import (
    DEFAULT_UNIT,
    LINES,
    PALETTE,
    STYLE,
    TIME_COLUMNS,
    UNIT_TEXT,
    LineStyle,
    describe,
    finish,
    new_axes,
    plain_log_axis,
    require,
    shade_faults,
    styled,
    time_factor,
)
from aether.plots.sweeps import sweep_label

__all__ = ["WAY_COLORS", "WAY_LINES", "plot_latency_by_way", "plot_lock_handoff", "plot_timeline_by_way",
           "plot_ways"]

#: One colour per way of running, the same in every figure of the chapter.
WAY_COLORS: dict[str, str] = {
    "chapter 03 model": "#000000",
    "simulated": "#0072B2",
    "simulated, all at once": "#0072B2",
    "simulated, measured skew": "#56B4E9",
    "real threads": "#E69F00",
    "real SQLite": "#009E73",
    "real PostgreSQL": "#CC79A7",
}

#: One line style and marker per way of running, so the ways stay apart without colour.
WAY_LINES: dict[str, LineStyle] = {
    "chapter 03 model": LineStyle(":", "x"),
    "simulated": LineStyle("-", "o"),
    "simulated, all at once": LineStyle("-", "o"),
    "simulated, measured skew": LineStyle(":", "v"),
    "real threads": LineStyle("--", "s"),
    "real SQLite": LineStyle("-.", "^"),
    "real PostgreSQL": LineStyle("--", "D"),
}


def _way_color(way: Hashable, index: int) -> str:
    return WAY_COLORS.get(str(way), PALETTE[index % (len(PALETTE) - 1)])


def _way_line(way: Hashable, index: int) -> LineStyle:
    return WAY_LINES.get(str(way), LINES[index % len(LINES)])


def _order(values: pd.Series, given: Sequence[Hashable] | None) -> list[Hashable]:
    present = list(dict.fromkeys(values))
    if given is None:
        return present
    unknown = [v for v in given if v not in present]
    if unknown:
        raise ValueError(f"no rows for {unknown!r}; the data has {present!r}")
    return list(given)


@styled
def plot_ways(
    runs: pd.DataFrame,
    y: str,
    *,
    by: str = "pattern",
    way: str = "way",
    order: Sequence[Hashable] | None = None,
    ways: Sequence[Hashable] | None = None,
    unit: str = DEFAULT_UNIT,
    ylabel: str | None = None,
    logy: bool = False,
    ax: Axes | None = None,
    title: str | None = None,
    alt: str | None = None,
) -> Axes:
    """One run metric per pattern, side by side for each way of running: a dot per run, a bar at the median.

    Use it to see at a glance whether the ways agree: where the bars of a
    pattern are level, the simulation told the truth; where the dots of one
    way spread, that way is noisy. *runs* has one row per run with columns
    *by*, *way* and *y* (a summary column such as ``write_calls`` or ``makespan``;
    time columns are shown in *unit*). *order* and *ways* fix the order of the
    groups along the axis and within each group.
    """
    require(runs, [by, way, y], name="runs", empty=False)
    factor = time_factor(unit) if y in TIME_COLUMNS else 1.0
    groups, kinds = _order(runs[by], order), _order(runs[way], ways)
    ax = new_axes(ax)
    width = 0.8 / len(kinds)
    for k, kind in enumerate(kinds):
        color, marker = _way_color(kind, k), _way_line(kind, k).marker
        for g, group in enumerate(groups):
            values = runs.loc[(runs[by] == group) & (runs[way] == kind), y].dropna().to_numpy(float) * factor
            if not len(values):
                continue
            centre = g - 0.4 + width * (k + 0.5)
            spread = np.linspace(-width * 0.25, width * 0.25, len(values)) if len(values) > 1 else np.zeros(1)
            ax.scatter(centre + spread, values, s=28, color=color, marker=marker, alpha=0.75, zorder=3,
                       label=str(kind) if g == 0 else "_run")
            ax.hlines(np.median(values), centre - width * 0.42, centre + width * 0.42, color=color,
                      linewidth=3, zorder=4)
    ax.set_xticks(range(len(groups)), [str(g) for g in groups])
    ax.set_xlim(-0.55, len(groups) - 0.45)
    if logy:
        ax.set_yscale("log")
    label = ylabel or sweep_label(y, unit)
    finish(ax, title=title or f"{label} by {by}", xlabel=by, ylabel=label, legend=True,
           legend_title=f"{way} (dot: one run; bar: median)")
    describe(ax, alt, f"Dots of {label}, one per run, with a bar at the median, for each {by} "
                      f"({', '.join(map(str, groups))}) and each {way} ({', '.join(map(str, kinds))}) side by side.")
    return ax


@styled
def plot_latency_by_way(
    saves: pd.DataFrame,
    *,
    by: str = "pattern",
    way: str = "way",
    order: Sequence[Hashable] | None = None,
    ways: Sequence[Hashable] | None = None,
    unit: str = DEFAULT_UNIT,
    log: bool = True,
    columns: int = 2,
    title: str | None = None,
    alt: str | None = None,
) -> np.ndarray:
    """The latency distribution (ECDF) of committed saves: one panel per pattern, one curve per way.

    Read each panel from left to right: the further left a curve, the sooner
    saves commit; where the curves of a panel lie on top of each other, the
    ways agree on the whole distribution, not only on its median. The legend
    gives each way's p50 and p95. *saves* has one row per save with *by*,
    *way*, ``latency`` and ``outcome``. Returns the array of panels.
    """
    require(saves, [by, way, "latency", "outcome"], name="saves", empty=False)
    factor = time_factor(unit)
    groups, kinds = _order(saves[by], order), _order(saves[way], ways)
    rows = -(-len(groups) // columns)
    committed = saves[saves["outcome"] == "committed"]
    fig, axes = plt.subplots(rows, columns, figsize=(7.0 * columns, 4.2 * rows), sharex=True, squeeze=False)
    for panel, (ax, group) in enumerate(zip(axes.flat, groups, strict=False)):
        for k, kind in enumerate(kinds):
            values = np.sort(committed.loc[(committed[by] == group) & (committed[way] == kind),
                                           "latency"].to_numpy(float) * factor)
            if not len(values):
                continue
            p50, p95 = np.percentile(values, [50, 95])
            shares = np.arange(1, len(values) + 1) / len(values) * 100
            ax.step(values, shares, where="post", color=_way_color(kind, k), linestyle=_way_line(kind, k).linestyle,
                    label=f"{kind}: p50 {p50:.3g}, p95 {p95:.3g} {UNIT_TEXT[unit]}")
        if log:
            ax.set_xscale("log")
            plain_log_axis(ax.xaxis)
        ax.set_ylim(0, 102)
        ax.set_yticks([0, 25, 50, 75, 95, 100])
        last_row = panel >= len(groups) - columns  # a shared x axis: label it under the last row
        xlabel = f"latency of one save ({UNIT_TEXT[unit]})" if last_row else ""
        finish(ax, title=str(group), xlabel=xlabel, ylabel="saves finished (%)", legend=True)
    for ax in axes.flat[len(groups):]:
        ax.set_visible(False)
    if title:
        fig.suptitle(title, fontsize=STYLE["axes.titlesize"] + 1, fontweight="bold")
    describe(fig, alt, f"Cumulative shares of committed saves against latency in {UNIT_TEXT[unit]}, one panel per "
                       f"{by} ({', '.join(map(str, groups))}) and one curve per {way} ({', '.join(map(str, kinds))}).")
    return axes


@styled
def plot_lock_handoff(
    lock_waits: Sequence[tuple[float, float]],
    *,
    busy_timeout: float = 5.0,
    label: str = "measured",
    unit: str = DEFAULT_UNIT,
    ax: Axes | None = None,
    title: str | None = None,
    alt: str | None = None,
) -> Axes:
    """How long a writer waits for SQLite's write lock, against how long another writer still held it.

    The diagonal is a lock that wakes its waiter the moment it is freed; the
    staircase is SQLite's busy handler, whose waiter only looks again after
    sleeping 1, 2, 5, 10 ... ms; the dots are *lock_waits*, the pairs
    ``(held, waited)`` in seconds of a :class:`~aether.calibrate.Calibration`.
    The vertical distance between a dot and the diagonal is time the lock
    stood free while a writer slept.
    """
    factor = time_factor(unit)
    pairs = [(float(h), float(w)) for h, w in lock_waits]
    if not pairs:
        raise ValueError("lock_waits is empty: there is nothing to plot")
    top = max(max(h for h, _ in pairs) * 1.25, 0.004)
    xs = np.linspace(0.0, top, 600)
    ax = new_axes(ax)
    ax.plot(factor * xs, factor * xs, "--", color="#777777", linewidth=1.5, label="woken when freed")
    stairs = [next_busy_poll(x, busy_timeout) for x in xs]
    ax.plot(factor * xs, factor * np.array(stairs), color="#D55E00", linewidth=2.2,
            label="SQLite busy handler: next attempt")
    polls = [p for p in busy_poll_times(busy_timeout) if 0 < p <= next_busy_poll(top, busy_timeout)]
    for poll in polls:
        ax.axhline(factor * poll, color="#D55E00", alpha=0.25, linewidth=1, zorder=0)
    ax.scatter([factor * h for h, _ in pairs], [factor * w for _, w in pairs], s=70, color="#0072B2", zorder=5,
               label=label)
    ax.set_xlim(0, factor * top)
    ax.set_ylim(0, factor * next_busy_poll(top, busy_timeout) * 1.08)
    text = UNIT_TEXT[unit]
    finish(ax, title=title or "Waiting for SQLite's write lock",
           xlabel=f"lock still held after the waiter asked ({text})", ylabel=f"waiter got the lock after ({text})",
           legend=True)
    describe(ax, alt, f"Dots of how long {len(pairs)} writers waited for SQLite's write lock against how long it "
                      f"was still held, in {text}, over the diagonal of an instant hand-off and the busy handler's "
                      f"staircase.")
    return ax


@styled
def plot_timeline_by_way(
    timelines: pd.DataFrame,
    y: str = "goodput",
    *,
    by: str = "pattern",
    way: str = "way",
    run: str = "seed",
    order: Sequence[Hashable] | None = None,
    ways: Sequence[Hashable] | None = None,
    fault: tuple[float, float] | None = None,
    rate: float | None = None,
    ylabel: str = "saves told of success per second",
    columns: int = 2,
    title: str | None = None,
    alt: str | None = None,
) -> np.ndarray:
    """An open-loop timeline, one panel per pattern: a thin line per run and a thick line at the median, per way.

    Use it to compare the *shape* of a run that happened several ways (a real
    server and its simulation): where the thick lines of a panel follow each
    other, the ways agree bin by bin; the thin lines show the spread across
    runs. *timelines* has one row per bin and run with columns *by*, *way*,
    *run*, ``start`` (the bin's start, s) and *y*. *fault* ``(start, end)`` is
    shaded; *rate*, the offered rate, is drawn as a dotted line. Returns the panels.
    """
    require(timelines, [by, way, run, "start", y], name="timelines", empty=False)
    groups, kinds = _order(timelines[by], order), _order(timelines[way], ways)
    rows = -(-len(groups) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(7.0 * columns, 4.0 * rows), sharex=True, sharey=True,
                             squeeze=False)
    for panel, (ax, group) in enumerate(zip(axes.flat, groups, strict=False)):
        if fault is not None:
            shade_faults(ax, [(fault[0], fault[1], "slowdown")])
        if rate is not None:
            ax.axhline(rate, color="#777777", linestyle=":", linewidth=1.5, label=f"offered ({rate:g}/s)")
        for k, kind in enumerate(kinds):
            color, line = _way_color(kind, k), _way_line(kind, k)
            mine = timelines[(timelines[by] == group) & (timelines[way] == kind)]
            if mine.empty:
                continue
            wide = mine.pivot_table(index="start", columns=run, values=y, aggfunc="mean").sort_index()
            for column in wide.columns:
                ax.plot(wide.index, wide[column], color=color, linestyle=line.linestyle, linewidth=0.8, alpha=0.35)
            ax.plot(wide.index, wide.median(axis=1), color=color, linestyle=line.linestyle, marker=line.marker,
                    markersize=4, linewidth=2.4, label=f"{kind} (median of {wide.shape[1]} runs)")
        last_row = panel >= len(groups) - columns
        finish(ax, title=str(group), xlabel="time since the run started (s)" if last_row else "",
               ylabel=ylabel if panel % columns == 0 else "", legend=panel == 0)
    for ax in axes.flat[len(groups):]:
        ax.set_visible(False)
    if title:
        fig.suptitle(title, fontsize=STYLE["axes.titlesize"] + 1, fontweight="bold")
    what = f"{ylabel[:1].upper()}{ylabel[1:]} against time"
    describe(fig, alt, f"{what}, one panel per {by} ({', '.join(map(str, groups))}), a thin line per "
                       f"run and a thick line at the median for each {way} ({', '.join(map(str, kinds))}).")
    return axes
