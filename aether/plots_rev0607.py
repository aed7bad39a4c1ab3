"""Figures of chapters 06 (circuit breaker) and 07 (retry budget), in the lab's style.

* :func:`plot_breaker_states`: a breaker's state over time, with the calls that
  met it (failure, success, refused): the state machine as a picture;
* :func:`plot_every_save`: the latency of *every* save, one ECDF per pattern,
  whatever its outcome, with the committed count in the legend, so that a
  pattern that fails fast is not flattered by comparing only its survivors.

Colours follow :mod:`aether.plots`: a pattern keeps its :data:`~aether.plots.PATTERN_COLORS`
colour (sky blue is the circuit breaker), outcomes use the lab's outcome colours,
and fault windows are shaded in ``LOAD_COLORS["fault"]`` grey, never sky blue.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from aether.patterns import BreakerState, CircuitBreaker
from aether.plots import LOAD_COLORS, PATTERN_COLORS, RESULT_COLORS, STYLE, _colors_for, _finish, style

__all__ = ["CALL_MARKS", "STATE_LEVELS", "plot_breaker_states", "plot_every_save"]

#: The height of each breaker state in :func:`plot_breaker_states`.
STATE_LEVELS: dict[BreakerState, int] = {BreakerState.CLOSED: 0, BreakerState.HALF_OPEN: 1, BreakerState.OPEN: 2}

#: Marker and colour of each kind of call in :func:`plot_breaker_states`.
CALL_MARKS: dict[str, tuple[str, str]] = {
    "failure": ("x", RESULT_COLORS["error"]),
    "success": ("o", RESULT_COLORS["write ok"]),
    "refused": ("|", RESULT_COLORS["overloaded"]),
}


def _state_steps(breaker: CircuitBreaker, end: float) -> tuple[list[float], list[int]]:
    """The breaker's state over time as points for a step plot (closed at time 0)."""
    times, levels = [0.0], [STATE_LEVELS[BreakerState.CLOSED]]
    for move in breaker.transitions:
        times.append(move.time)
        levels.append(STATE_LEVELS[move.target])
    times.append(end)
    levels.append(levels[-1])
    return times, levels


def plot_breaker_states(breaker: CircuitBreaker, calls: Sequence[tuple[float, str]] = (), *, end: float,
                        faults: Sequence[tuple[float, float, str]] = (), ax: Axes | None = None,
                        title: str | None = None) -> Axes:
    """A breaker's state over time (a step line), and below it each call: failure, success or refused.

    Use it to read a breaker's story: how long each open period lasts, which call
    re-opened it, which caller a half-open breaker turned away. *calls* holds
    ``(time, kind)`` pairs with *kind* one of :data:`CALL_MARKS`; *faults* are
    ``(start, end, label)`` windows, shaded grey. Times are seconds on the breaker's clock.
    """
    unknown = sorted({kind for _, kind in calls} - set(CALL_MARKS))
    if unknown:
        raise ValueError(f"call kinds must be among {sorted(CALL_MARKS)}; got {unknown!r}")
    with style():
        if ax is None:
            _, ax = plt.subplots(figsize=(10, 4.5))
        for start, stop, label in faults:
            ax.axvspan(start, stop, color=LOAD_COLORS["fault"], alpha=0.45, linewidth=0, label=label)
        times, levels = _state_steps(breaker, end)
        ax.step(times, levels, where="post", color=PATTERN_COLORS["circuit breaker"], linewidth=2.5,
                label="breaker state")
        for kind, (marker, color) in CALL_MARKS.items():
            at = [t for t, what in calls if what == kind]
            if at:
                ax.plot(at, [-1] * len(at), linestyle="none", marker=marker, markersize=11, markeredgewidth=2.5,
                        color=color, label=f"call: {kind}")
        ax.set_yticks([-1, 0, 1, 2], ["calls", "closed", "half-open", "open"])
        ax.set_ylim(-1.6, 2.5)
        ax.set_xlim(0, end)
        _finish(ax, title=title or f"State of circuit breaker {breaker.name!r} over time",
                xlabel="time on the breaker's clock (s)", ylabel="state / calls", legend=False)
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=STYLE["legend.fontsize"])
    return ax


def plot_every_save(saves: pd.DataFrame, *, by: str = "pattern", ax: Axes | None = None,
                    title: str | None = None) -> Axes:
    """Latency of every save, committed or not, one ECDF per group; the legend counts the committed.

    Use it to compare patterns that fail some saves fast (a breaker, a budget) with
    patterns that make every save wait: a curve of the survivors alone would
    hide the saves that failed. Each curve's legend gives its committed count,
    its save count and its p50 / p99 over all saves; a dotted vertical line at
    each curve's p99. Latency is shown in seconds on a log axis.
    """
    missing = [c for c in (by, "latency", "outcome") if c not in saves.columns]
    if missing:
        raise ValueError(f"saves lacks the column(s) {missing!r}")
    if saves.empty:
        raise ValueError("saves is empty: there is no latency to plot")
    groups = list(dict.fromkeys(saves[by]))
    colors = _colors_for(groups)
    with style():
        if ax is None:
            _, ax = plt.subplots(figsize=(10, 5))
        for group in groups:
            rows = saves[saves[by] == group]
            values = np.sort(rows["latency"].to_numpy(float))
            values = np.maximum(values, 1e-4)  # a save refused at once took 0 s: draw it at 0.1 ms
            share = 100.0 * np.arange(1, len(values) + 1) / len(values)
            committed = int((rows["outcome"] == "committed").sum())
            p50, p99 = np.percentile(values, [50, 99])
            ax.step(values, share, where="post", color=colors[group], linewidth=2.2,
                    label=f"{group}: {committed} of {len(rows)} committed; p50 {p50:.3f} s, p99 {p99:.2f} s")
            ax.axvline(p99, color=colors[group], linestyle=":", linewidth=1.4)
        ax.set_xscale("log")
        ax.set_ylim(0, 101)
        _finish(ax, title=title or "Latency of every save, whatever its outcome",
                xlabel="latency of one logical save (s, log scale)", ylabel="share of saves finished (%)",
                legend=False)
        ax.legend(loc="center left", fontsize=STYLE["legend.fontsize"], title="all saves (line: p99)",
                  title_fontsize=STYLE["legend.title_fontsize"])
    return ax
