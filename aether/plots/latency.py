"""How long saves take: the latency distribution of every save, per pattern.

One figure, :func:`plot_latency`, draws every variant the chapters need: every save or
only some outcomes, the time to reply or the time to commit, a cumulative curve or a
histogram, with the committed count in the legend so that a fast curve made of give-ups
cannot pass for a fast pattern. :func:`committed_counts` gives the counts it writes there.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import Literal

import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from aether.checks import check_choice
from aether.plots.style import (
    DEFAULT_UNIT,
    UNIT_TEXT,
    SeriesStyle,
    by_label,
    describe,
    finish,
    format_time,
    new_axes,
    plain_log_axis,
    require,
    sorted_groups,
    styled,
    styles_for,
    time_factor,
)

__all__ = ["committed_counts", "plot_latency"]

_COLUMN_TEXT = {"latency": "latency", "commit_delay": "time to commit"}


def committed_counts(saves: pd.DataFrame, *, by: str = "pattern") -> dict[str, tuple[int, int]]:
    """``{group: (committed, total)}``: the counts :func:`plot_latency` writes in its legend."""
    require(saves, [by, "outcome"], name="saves")
    return {str(g): (int((rows["outcome"] == "committed").sum()), len(rows))
            for g, rows in saves.groupby(by, sort=False)}


class _Group:
    """One group's saves as the figure sees them: finished times (in the unit) and the total."""

    def __init__(self, rows: pd.DataFrame, *, column: str, outcomes: Sequence[str] | None, factor: float) -> None:
        finished = rows if outcomes is None else rows[rows["outcome"].isin(list(outcomes))]
        finished = finished.dropna(subset=[column]).sort_values(column, kind="stable")
        self.total = len(rows)
        self.times = finished[column].to_numpy(float) * factor
        self.failed = (finished["outcome"] != "committed").to_numpy() if "outcome" in finished else None
        self.committed = int((rows["outcome"] == "committed").sum()) if "outcome" in rows else None

    def shares(self) -> np.ndarray:
        """The ECDF heights: the share (%) of *all* the group's saves finished by each time."""
        return np.arange(1, len(self.times) + 1) / max(self.total, 1) * 100.0

    def percentiles(self, qs: Sequence[float], *, of_finished: bool = False) -> np.ndarray:
        """Each percentile of the time to finish over all the group's saves; inf where the curve never gets there.

        With *of_finished*, over the finished saves only (e.g. the committed saves' median).
        """
        if not len(qs):
            return np.zeros(0)
        if of_finished or len(self.times) == self.total:
            return np.percentile(self.times, list(qs)) if len(self.times) else np.full(len(qs), np.inf)
        values = np.r_[self.times, np.full(self.total - len(self.times), np.inf)]
        return np.percentile(values, list(qs), method="higher")


def _label(group: Hashable, data: _Group, qs: Sequence[float], unit: str, counts: bool, of: str | None) -> str:
    """Legend text: the group, how many of its saves committed, and its percentiles (or "no saves").

    *of* names the saves the percentiles count when they are the finished ones only (None: all saves).
    """
    parts = [f"{data.committed} of {data.total} committed"] if counts and data.committed is not None else []
    if len(data.times):
        values = data.percentiles(qs, of_finished=of is not None)
        prefix = "" if of is None else f"{of} "
        parts += [f"{prefix}p{q:g} {format_time(v, unit)}" for q, v in zip(qs, values, strict=True)]
    elif not parts:
        parts = ["no saves"]
    return f"{group}: {', '.join(parts)}"


@styled
def plot_latency(
    saves: pd.DataFrame,
    *,
    by: str = "pattern",
    column: str = "latency",
    outcomes: Sequence[str] | None = None,
    kind: Literal["ecdf", "hist"] = "ecdf",
    log: bool = False,
    unit: str = DEFAULT_UNIT,
    percentiles: Sequence[float] = (50, 95),
    percentiles_of: Literal["all", "finished"] = "all",
    counts: bool | None = None,
    mark_failed: bool = False,
    tail_line: bool = False,
    floor: float | None = None,
    order: Sequence[Hashable] | None = None,
    bins: int = 40,
    ax: Axes | None = None,
    title: str | None = None,
    alt: str | None = None,
) -> Axes:
    """The latency of every save, one curve per group (pattern by default), committed counts in the legend.

    Use it to compare patterns: each ECDF step line reads "what share of the group's saves
    finished within x". Heights are shares of **all** the group's saves, so a pattern that
    gives up or drops saves cannot look fast by showing only its survivors: its curve stops
    below 100 %. Each curve marks its *percentiles* with the group's marker (``never`` in
    the legend where the curve does not get there); the legend says how many saves committed
    (``counts``; by default whenever the table has an ``outcome`` column and the groups are
    not outcomes themselves). ``percentiles_of="finished"`` takes the percentiles over the
    finished saves only (the committed saves' median, with ``outcomes=("committed",)``); the
    legend then names them ("committed p50").

    * ``outcomes=("committed",)``: only those saves count as finished (the others keep the
      curve below 100 %); ``None`` (default) counts every save, whatever its outcome.
    * ``column="commit_delay"``: time to commit instead of the reply's latency; a save with
      no value in *column* (never stored) never finishes.
    * ``kind="hist"``: the shape of the distribution (bimodal retries, long tails) instead.
    * ``log=True`` for latencies spanning decades; ``floor`` (seconds) draws smaller values
      at the floor (a save refused at once takes 0 s, which a log axis cannot show).
    * ``mark_failed=True`` puts a cross on each finished save that did not commit;
      ``tail_line=True`` a dotted vertical line at each curve's last percentile.
    * ``order`` fixes the groups' order (default: sorted).
    """
    check_choice("kind", kind, ("ecdf", "hist"))
    check_choice("percentiles_of", percentiles_of, ("all", "finished"))
    factor = time_factor(unit)
    needs_outcome = outcomes is not None or mark_failed or bool(counts)
    require(saves, [by, column] + (["outcome"] if needs_outcome else []), name="saves")
    if saves.empty:
        raise ValueError("saves is empty: there is no latency to plot")
    if floor is not None and not floor > 0:
        raise ValueError(f"floor must be a number of seconds > 0; got {floor!r}")
    show_counts = ("outcome" in saves.columns and by != "outcome") if counts is None else counts
    groups = sorted_groups(saves[by]) if order is None else list(order)
    data = {g: _Group(saves[saves[by] == g], column=column, outcomes=outcomes, factor=factor) for g in groups}
    if all(len(d.times) == 0 for d in data.values()):
        which = f"an outcome in {tuple(outcomes)!r}" if outcomes is not None else f"a value in {column!r}"
        raise ValueError(f"no save has {which}: there is no latency to plot")
    if floor is not None:
        for d in data.values():
            d.times = np.maximum(d.times, floor * factor)

    ax = new_axes(ax)
    styles = styles_for(groups)
    of = None if percentiles_of == "all" else ("finished" if outcomes is None else "/".join(outcomes))
    labels = {g: _label(g, d, percentiles, unit, show_counts, of) for g, d in data.items()}
    if kind == "ecdf":
        _draw_ecdfs(ax, data, styles, labels, percentiles, of_finished=of is not None, mark_failed=mark_failed,
                    tail_line=tail_line)
        which = "finished" if outcomes is None else "/".join(outcomes)
        ylabel = f"share of all saves {which} (%)"
    else:
        _draw_histograms(ax, data, styles, labels, log=log, bins=bins)
        ylabel = "share of saves (%)"
    if log:
        ax.set_xscale("log")
        plain_log_axis(ax.xaxis)
    what = _COLUMN_TEXT.get(column, column)
    saves_text = "every save" if outcomes is None else f"{'/'.join(outcomes)} saves"
    note = f" (dotted: p{percentiles[-1]:g})" if tail_line and percentiles else ""
    finish(
        ax,
        title=title or f"{what.capitalize()} of {saves_text}, by {by}",
        xlabel=f"{what} of one logical save ({UNIT_TEXT[unit]})",
        ylabel=ylabel,
        legend=True,
        legend_title=by_label(by) + note,
    )
    names = ", ".join(str(g) for g in groups)
    shape = "histogram" if kind == "hist" else "cumulative share of all saves finished"
    describe(ax, alt, f"The {what} of {saves_text} as a {shape} against time in {UNIT_TEXT[unit]}, "
                      f"one curve per {by} ({names}), with each one's committed count and percentiles in the legend.")
    return ax


def _draw_ecdfs(
    ax: Axes,
    data: Mapping[Hashable, _Group],
    styles: Mapping[Hashable, SeriesStyle],
    labels: Mapping[Hashable, str],
    qs: Sequence[float],
    *,
    of_finished: bool,
    mark_failed: bool,
    tail_line: bool,
) -> None:
    """One ECDF step line per group (y in % of all its saves), with its percentiles marked on the curve."""
    for group, d in data.items():
        look = styles[group]
        if len(d.times) == 0:
            ax.plot([], [], color=look.color, linestyle=look.linestyle, label=labels[group])
            continue
        ys = d.shares()
        ax.step(d.times, ys, where="post", color=look.color, linestyle=look.linestyle, label=labels[group])
        marks = d.percentiles(qs, of_finished=of_finished)
        shown = np.isfinite(marks)
        heights = np.asarray(qs, dtype=float) * (len(d.times) / d.total if of_finished else 1.0)
        ax.plot(marks[shown], heights[shown], linestyle="none", marker=look.marker,
                color=look.color, label="_percentiles")
        if tail_line and len(qs) and shown[-1]:
            ax.axvline(marks[-1], color=look.color, linestyle=":", linewidth=1.4, label="_tail")
        if mark_failed and d.failed is not None and d.failed.any():
            ax.plot(d.times[d.failed], ys[d.failed], linestyle="none", marker="x", markersize=7, color=look.color,
                    label="_failed")
    if mark_failed:
        ax.plot([], [], linestyle="none", marker="x", color="#444444", label="a save that did not commit")
    ax.set_ylim(0, 102)
    ax.set_yticks([0, 25, 50, 75, 95, 100])


def _draw_histograms(
    ax: Axes,
    data: Mapping[Hashable, _Group],
    styles: Mapping[Hashable, SeriesStyle],
    labels: Mapping[Hashable, str],
    *,
    log: bool,
    bins: int,
) -> None:
    """Overlaid step histograms on shared bins, heights as a share of each group's saves."""
    everything = np.concatenate([d.times for d in data.values() if len(d.times)])
    if log:
        positive = everything[everything > 0]
        low, high = (positive.min(), positive.max()) if len(positive) else (1.0, 10.0)
        edges = np.geomspace(low, high if high > low else low * 10, bins + 1)
    else:
        low, high = everything.min(), everything.max()
        edges = np.linspace(low, high if high > low else low + 1.0, bins + 1)
    for group, d in data.items():
        look = styles[group]
        if len(d.times) == 0:
            ax.plot([], [], color=look.color, linestyle=look.linestyle, label=labels[group])
            continue
        weights = np.full(len(d.times), 100.0 / d.total)
        ax.hist(d.times, bins=edges.tolist(), weights=weights, histtype="step", linewidth=2.2, color=look.color,
                linestyle=look.linestyle, label=labels[group])
