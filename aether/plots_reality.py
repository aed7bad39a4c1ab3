"""Figures for comparing the simulation with reality (chapter 09), in the lab's style.

Use them when the same patterns ran several ways (simulated, on real threads,
on real SQLite processes) and you want to see, per pattern, how far apart the
ways are: :func:`plot_ways` for one number per run (work, completion time),
:func:`plot_latency_by_way` for the latency distributions, and
:func:`plot_lock_handoff` for how SQLite hands its write lock to a waiter.
Each takes a tidy DataFrame (or the calibration's figures) and returns what it
drew into, like the functions of :mod:`aether.plots`.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib import ticker
from matplotlib.axes import Axes

from aether.calibrate import busy_poll_times, next_busy_poll
from aether.plots import PALETTE, STYLE, SWEEP_LABELS, TIME_UNITS, style

__all__ = ["WAY_COLORS", "plot_latency_by_way", "plot_lock_handoff", "plot_ways"]

#: One colour per way of running, the same in every figure of the chapter.
WAY_COLORS: dict[str, str] = {
    "chapter 03 model": "#000000",
    "simulated": "#0072B2",
    "real threads": "#E69F00",
    "real SQLite": "#009E73",
}

_UNIT_TEXT = {"s": "s", "ms": "ms", "us": "µs"}
_TIME_COLUMNS = frozenset({"p50", "p95", "p99", "makespan", "mean_latency", "latency"})


def _way_color(way: Hashable, index: int) -> str:
    return WAY_COLORS.get(str(way), PALETTE[index % (len(PALETTE) - 1)])


def _require(frame: pd.DataFrame, columns: Sequence[str], name: str) -> None:
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"{name} must be a pandas DataFrame; got {type(frame).__name__}")
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{name} is missing column(s) {missing!r}; it has {list(map(str, frame.columns))}")
    if frame.empty:
        raise ValueError(f"{name} is empty: there is nothing to plot")


def _factor(unit: str) -> float:
    if unit not in TIME_UNITS:
        raise ValueError(f"unit must be one of {sorted(TIME_UNITS)}; got {unit!r}")
    return TIME_UNITS[unit]


def _finish(ax: Axes, title: str, xlabel: str, ylabel: str, legend_title: str | None) -> None:
    ax.set_title(title, fontsize=STYLE["axes.titlesize"], fontweight=STYLE["axes.titleweight"])
    ax.set_xlabel(xlabel, fontsize=STYLE["axes.labelsize"])
    ax.set_ylabel(ylabel, fontsize=STYLE["axes.labelsize"])
    ax.grid(True, color=STYLE["grid.color"], alpha=STYLE["grid.alpha"], linewidth=STYLE["grid.linewidth"])
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    if legend_title is not None:
        ax.legend(title=legend_title, alignment="left", fontsize=STYLE["legend.fontsize"],
                  title_fontsize=STYLE["legend.title_fontsize"], framealpha=STYLE["legend.framealpha"])


def _order(values: pd.Series, given: Sequence[Hashable] | None) -> list[Hashable]:
    present = list(dict.fromkeys(values))
    if given is None:
        return present
    unknown = [v for v in given if v not in present]
    if unknown:
        raise ValueError(f"no rows for {unknown!r}; the data has {present!r}")
    return list(given)


def plot_ways(runs: pd.DataFrame, y: str, *, by: str = "pattern", way: str = "way",
              order: Sequence[Hashable] | None = None, ways: Sequence[Hashable] | None = None, unit: str = "ms",
              ylabel: str | None = None, logy: bool = False, ax: Axes | None = None,
              title: str | None = None) -> Axes:
    """One run metric per pattern, side by side for each way of running: a dot per run, a bar at the median.

    Use it to see at a glance whether the ways agree: where the bars of a
    pattern are level, the simulation told the truth; where the dots of one
    way spread, that way is noisy. *runs* has one row per run with columns
    *by*, *way* and *y* (a summary column such as ``write_calls`` or ``makespan``;
    time columns are shown in *unit*). *order* and *ways* fix the order of the
    groups along the axis and within each group.
    """
    _require(runs, [by, way, y], "runs")
    factor = _factor(unit) if y in _TIME_COLUMNS else 1.0
    groups, kinds = _order(runs[by], order), _order(runs[way], ways)
    with style():
        if ax is None:
            _, ax = plt.subplots()
        width = 0.8 / len(kinds)
        for k, kind in enumerate(kinds):
            color = _way_color(kind, k)
            for g, group in enumerate(groups):
                values = runs.loc[(runs[by] == group) & (runs[way] == kind), y].dropna().to_numpy(float) * factor
                if not len(values):
                    continue
                centre = g - 0.4 + width * (k + 0.5)
                spread = np.linspace(-width * 0.25, width * 0.25, len(values)) if len(values) > 1 else np.zeros(1)
                ax.scatter(centre + spread, values, s=28, color=color, alpha=0.75, zorder=3,
                           label=str(kind) if g == 0 else "_run")
                ax.hlines(np.median(values), centre - width * 0.42, centre + width * 0.42, color=color,
                          linewidth=3, zorder=4)
        ax.set_xticks(range(len(groups)), [str(g) for g in groups])
        ax.set_xlim(-0.55, len(groups) - 0.45)
        if logy:
            ax.set_yscale("log")
        label = ylabel or SWEEP_LABELS.get(y, y).replace("{unit}", _UNIT_TEXT.get(unit, unit))
        _finish(ax, title or f"{label} by {by}", by, label, f"{way} (dot: one run; bar: median)")
    return ax


def plot_latency_by_way(saves: pd.DataFrame, *, by: str = "pattern", way: str = "way",
                        order: Sequence[Hashable] | None = None, ways: Sequence[Hashable] | None = None,
                        unit: str = "ms", log: bool = True, columns: int = 2,
                        title: str | None = None) -> np.ndarray:
    """The latency distribution (ECDF) of committed saves: one panel per pattern, one curve per way.

    Read each panel from left to right: the further left a curve, the sooner
    saves commit; where the curves of a panel lie on top of each other, the
    ways agree on the whole distribution, not only on its median. The legend
    gives each way's p50 and p95. *saves* has one row per save with *by*,
    *way*, ``latency`` and ``outcome``. Returns the array of panels.
    """
    _require(saves, [by, way, "latency", "outcome"], "saves")
    factor = _factor(unit)
    groups, kinds = _order(saves[by], order), _order(saves[way], ways)
    rows = -(-len(groups) // columns)
    committed = saves[saves["outcome"] == "committed"]
    with style():
        fig, axes = plt.subplots(rows, columns, figsize=(7.0 * columns, 4.2 * rows), sharex=True, squeeze=False)
        for panel, (ax, group) in enumerate(zip(axes.flat, groups, strict=False)):
            for k, kind in enumerate(kinds):
                values = np.sort(committed.loc[(committed[by] == group) & (committed[way] == kind),
                                               "latency"].to_numpy(float) * factor)
                if not len(values):
                    continue
                p50, p95 = np.percentile(values, [50, 95])
                shares = np.arange(1, len(values) + 1) / len(values) * 100
                ax.step(values, shares, where="post", color=_way_color(kind, k),
                        label=f"{kind}: p50 {p50:.3g}, p95 {p95:.3g} {_UNIT_TEXT[unit]}")
            if log:
                ax.set_xscale("log")
                ax.xaxis.set_major_locator(ticker.LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
                ax.xaxis.set_major_formatter(ticker.FuncFormatter(lambda value, _pos: f"{value:g}"))
                ax.xaxis.set_minor_formatter(ticker.NullFormatter())
            ax.set_ylim(0, 102)
            ax.set_yticks([0, 25, 50, 75, 95, 100])
            last_row = panel >= len(groups) - columns  # a shared x axis: label it under the last row
            xlabel = f"latency of one save ({_UNIT_TEXT[unit]})" if last_row else ""
            _finish(ax, str(group), xlabel, "saves finished (%)", way)
            ax.get_legend().set_title(None)
        for ax in axes.flat[len(groups):]:
            ax.set_visible(False)
        if title:
            fig.suptitle(title, fontsize=STYLE["axes.titlesize"] + 1, fontweight="bold")
    return axes


def plot_lock_handoff(lock_waits: Sequence[tuple[float, float]], *, busy_timeout: float = 5.0,
                      ax: Axes | None = None, title: str | None = None, label: str = "measured") -> Axes:
    """How long a writer waits for SQLite's write lock, against how long another writer still held it.

    The diagonal is a lock that wakes its waiter the moment it is freed; the
    staircase is SQLite's busy handler, whose waiter only looks again after
    sleeping 1, 2, 5, 10 ... ms; the dots are *lock_waits*, the pairs
    ``(held, waited)`` in seconds of a :class:`~aether.calibrate.Calibration`.
    The vertical distance between a dot and the diagonal is time the lock
    stood free while a writer slept.
    """
    pairs = [(float(h), float(w)) for h, w in lock_waits]
    if not pairs:
        raise ValueError("lock_waits is empty: there is nothing to plot")
    top = max(max(h for h, _ in pairs) * 1.25, 0.004)
    xs = np.linspace(0.0, top, 600)
    with style():
        if ax is None:
            _, ax = plt.subplots()
        ax.plot(1000 * xs, 1000 * xs, "--", color="#777777", linewidth=1.5, label="woken when freed")
        stairs = [next_busy_poll(x, busy_timeout) for x in xs]
        ax.plot(1000 * xs, 1000 * np.array(stairs), color="#D55E00", linewidth=2.2,
                label="SQLite busy handler: next attempt")
        polls = [p for p in busy_poll_times(busy_timeout) if 0 < p <= next_busy_poll(top, busy_timeout)]
        for poll in polls:
            ax.axhline(1000 * poll, color="#D55E00", alpha=0.25, linewidth=1, zorder=0)
        ax.scatter([1000 * h for h, _ in pairs], [1000 * w for _, w in pairs], s=70, color="#0072B2", zorder=5,
                   label=label)
        ax.set_xlim(0, 1000 * top)
        ax.set_ylim(0, 1000 * next_busy_poll(top, busy_timeout) * 1.08)
        _finish(ax, title or "Waiting for SQLite's write lock",
                "lock still held after the waiter asked (ms)", "waiter got the lock after (ms)", "")
        ax.get_legend().set_title(None)
    return ax
