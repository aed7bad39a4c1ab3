"""Many runs at once: a run metric against load or a setting, one line per pattern.

* :func:`plot_sweep`: a summary column against writers (or any x), mean over seeds with a band;
* :func:`plot_outcomes`: the share of saves with one outcome against load;
* :func:`plot_latency_vs_load`: latency against offered load, the hockey stick;
* :func:`plot_baseline`: saves committed and completion time against writers, one line per store;
* :func:`plot_retry_limits`: give-ups, work and p95 latency against ``max_attempts``;
* :func:`plot_scorecard`: one measurement per pattern and scenario, as a shaded grid;
* :func:`plot_pattern_map`: the winning pattern of every cell of a map, ties marked.

Each takes a table with one row per run (from :func:`~aether.experiment.sweep`,
:func:`~aether.experiment.sweep_load` or :func:`~aether.experiment.compare`).
"""

from __future__ import annotations

from typing import Literal

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from aether.checks import check_choice
from aether.plots.style import (
    DEFAULT_UNIT,
    STYLE,
    SWEEP_LABELS,
    TIME_COLUMNS,
    UNIT_TEXT,
    by_label,
    color_for,
    describe,
    few_numeric_ticks,
    finish,
    new_axes,
    plain_log_axis,
    require,
    sorted_groups,
    styled,
    styles_for,
    time_factor,
)

__all__ = [
    "plot_baseline",
    "plot_latency_vs_load",
    "plot_outcomes",
    "plot_pattern_map",
    "plot_retry_limits",
    "plot_scorecard",
    "plot_sweep",
    "sweep_label",
]

_LINESTYLES = ("-", "--", ":", "-.")
_MARKERS = ("o", "s", "^", "D")


def sweep_label(column: str, unit: str = DEFAULT_UNIT) -> str:
    """The readable axis label of a sweep column, with its unit (the column name if unknown)."""
    return SWEEP_LABELS.get(column, column).format(unit=UNIT_TEXT.get(unit, unit))


@styled
def plot_sweep(
    sweep: pd.DataFrame,
    *,
    x: str = "writers",
    y: str = "write_calls",
    by: str = "pattern",
    spread: Literal["minmax", "iqr", "none"] = "minmax",
    unit: str = DEFAULT_UNIT,
    logx: bool = False,
    logy: bool = False,
    ax: Axes | None = None,
    title: str | None = None,
    alt: str | None = None,
) -> Axes:
    """How a run metric grows with load: one line per group, the mean over seeds, with a band.

    Use it for the lab's main comparison, e.g. store writes (work) or p95 latency against
    the number of concurrent writers. The band spans the seeds' ``"minmax"`` (default) or
    interquartile range (``"iqr"``); ``"none"`` draws the mean only. Time columns (p50,
    p95, p99, makespan ...: :data:`~aether.plots.style.TIME_COLUMNS`) are shown in *unit*.
    Use ``logx``/``logy`` for sweeps over powers of two or quadratic growth.
    """
    check_choice("spread", spread, ("minmax", "iqr", "none"))
    factor = time_factor(unit) if y in TIME_COLUMNS else 1.0
    require(sweep, list(dict.fromkeys([x, y, by])), name="sweep")
    if sweep.empty:
        raise ValueError("sweep is empty: there are no runs to plot")

    ax = new_axes(ax)
    groups = sorted_groups(sweep[by])
    styles = styles_for(groups)
    for group in groups:
        look = styles[group]
        rows = sweep[sweep[by] == group]
        stats = _spread_stats(rows, x=x, y=y, spread=spread, factor=factor)
        if stats.empty:
            ax.plot([], [], color=look.color, label=f"{group}: no runs", linestyle="--")
            continue
        ax.plot(stats.index, stats["mean"], label=str(group), **look.kwargs())
        if spread != "none":
            ax.fill_between(stats.index, stats["low"], stats["high"], color=look.color, alpha=0.18, linewidth=0)
    xticks = few_numeric_ticks(sweep[x])
    if logx:
        ax.set_xscale("log")
        plain_log_axis(ax.xaxis, xticks)
    elif xticks is not None:
        ax.set_xticks(xticks)
    if logy:
        ax.set_yscale("log")
        plain_log_axis(ax.yaxis)
    ylabel = sweep_label(y, unit)
    xlabel = sweep_label(x, unit)
    finish(
        ax,
        title=title or f"{ylabel.split(' (')[0].capitalize()} vs {xlabel.split(' (')[0]}",
        xlabel=xlabel,
        ylabel=ylabel,
        legend=True,
        legend_title=_seeds_note(by, sweep, spread),
    )
    describe(ax, alt, f"Lines of {ylabel} against {xlabel}, one per {by} ({', '.join(map(str, groups))}), "
                      f"the mean over seeds{'' if spread == 'none' else ' with a band of their spread'}.")
    return ax


def _seeds_note(by: str, runs: pd.DataFrame, spread: str) -> str:
    """Legend title saying what the line and the band summarise."""
    count = runs["seed"].nunique() if "seed" in runs.columns else None
    if count == 1:
        return f"{by_label(by)} (one seed)"
    seeds = f"{count} seeds" if count is not None else "seeds"
    band = {"minmax": "; band: min–max", "iqr": "; band: IQR", "none": ""}[spread]
    return f"{by_label(by)} (line: mean of {seeds}{band})"


def _spread_stats(rows: pd.DataFrame, *, x: str, y: str, spread: str, factor: float) -> pd.DataFrame:
    """Per x: the mean of y over seeds, and the band's low and high edges."""
    values = rows[[x, y]].dropna()
    grouped = values.groupby(x, sort=True)[y]
    low_q, high_q = (0.25, 0.75) if spread == "iqr" else (0.0, 1.0)
    stats = pd.DataFrame({"mean": grouped.mean(), "low": grouped.quantile(low_q), "high": grouped.quantile(high_q)})
    return stats.astype(float) * factor


@styled
def plot_outcomes(
    data: pd.DataFrame,
    *,
    x: str = "writers",
    by: str = "pattern",
    outcome: str = "committed",
    ax: Axes | None = None,
    title: str | None = None,
    alt: str | None = None,
) -> Axes:
    """Share of saves with one outcome (committed by default) against load, one line per group.

    Use it for patterns that may give up or reject work: the line shows how much of the
    work still succeeds as writers are added. *data* is either a ``saves`` table (any
    *outcome* name works, and the share is averaged over seeds) or a ``sweep`` table
    (``committed`` and ``failed`` columns; *outcome* must be ``"committed"`` or ``"failed"``).
    """
    shares = _outcome_shares(data, x=x, by=by, outcome=outcome)
    ax = new_axes(ax)
    groups = sorted_groups(shares[by])
    styles = styles_for(groups)
    for group in groups:
        line = shares[shares[by] == group].groupby(x, sort=True)["share"].mean()
        ax.plot(line.index, line.to_numpy(float), label=str(group), **styles[group].kwargs())
    ax.set_ylim(-2, 102)
    xticks = few_numeric_ticks(shares[x])
    if xticks is not None:
        ax.set_xticks(xticks)
    readable = outcome.replace("_", " ")
    finish(
        ax,
        title=title or f"Share of saves {readable}, by {by}",
        xlabel=sweep_label(x),
        ylabel=f"saves {readable} (%)",
        legend=True,
        legend_title=_seeds_note(by, data, "none"),
    )
    describe(ax, alt, f"Lines of the share of saves {readable} against {sweep_label(x)}, "
                      f"one per {by} ({', '.join(map(str, groups))}).")
    return ax


def _outcome_shares(data: pd.DataFrame, *, x: str, by: str, outcome: str) -> pd.DataFrame:
    """One row per run: ``by``, ``x`` and the share (%) of its saves with *outcome*."""
    if isinstance(data, pd.DataFrame) and "outcome" in data.columns:
        require(data, [x, by, "outcome"], name="saves")
        if data.empty:
            raise ValueError("saves is empty: there are no outcomes to plot")
        keys = [c for c in dict.fromkeys([by, x, "seed"]) if c in data.columns]
        hit = data["outcome"].eq(outcome).astype(float)
        frame = hit.groupby([data[k] for k in keys]).mean().mul(100.0).rename("share")
        return frame.reset_index()
    require(data, [x, by, "committed", "failed"], name="sweep")
    if outcome not in ("committed", "failed"):
        raise ValueError(f"a sweep table only counts 'committed' and 'failed' saves, got outcome={outcome!r}")
    if data.empty:
        raise ValueError("sweep is empty: there are no outcomes to plot")
    total = (data["committed"] + data["failed"]).astype(float)
    share = data[outcome].astype(float).div(total.where(total > 0)).mul(100.0)
    return pd.DataFrame({by: data[by], x: data[x], "share": share})


@styled
def plot_latency_vs_load(
    sweep: pd.DataFrame,
    *,
    x: str = "rate",
    y: str = "p99",
    by: str = "pattern",
    unit: str = DEFAULT_UNIT,
    logy: bool = True,
    ax: Axes | None = None,
    title: str | None = None,
    alt: str | None = None,
) -> Axes:
    """Latency against offered load, one line per pattern: the hockey stick.

    *sweep* is a frame of run summaries from :func:`~aether.experiment.sweep_load`
    (or any frame with *x*, *y* and *by* columns; *x* is the offered ``rate`` by
    default, the same for every seed). Latency stays flat while the
    store has spare capacity and turns up sharply as utilisation nears 100%:
    queueing, not the store's own speed, is what callers then wait for.
    """
    require(sweep, list(dict.fromkeys([x, y, by])), name="sweep")
    frame = sweep.copy()
    if x == "utilisation":
        frame[x] = 100 * frame[x]
    default = f"Lines of {sweep_label(y, unit)} against the offered load, one per {by}: the hockey stick."
    ax = plot_sweep(frame, x=x, y=y, by=by, unit=unit, logy=logy, ax=ax, title=title or "Latency against load",
                    alt=alt if alt is not None else default)
    if x == "utilisation":
        ax.set_xlabel("store utilisation (%)", fontsize=STYLE["axes.labelsize"])
    elif x == "rate":
        ax.set_xlabel("offered saves per second", fontsize=STYLE["axes.labelsize"])
    return ax


@styled
def plot_baseline(
    runs: pd.DataFrame,
    *,
    by: str = "store",
    unit: str = DEFAULT_UNIT,
    title: str | None = None,
    alt: str | None = None,
) -> tuple[Axes, Axes]:
    """Left: saves committed (%) vs writers; right: completion time vs writers; one line per *by*.

    *runs* is a :func:`~aether.experiment.sweep` table of one pattern (columns
    ``writers``, ``seed``, ``committed``, ``saves``, ``makespan`` and *by*).
    Lines are the mean over seeds, bands the min-max. The left panel adds the
    reference "one winner per round" (100/N). Both axes of writers are
    logarithmic, and so is the completion time, which may span decades.
    Use it to show that adding writers adds conflicts, not commits, and what
    that wasted work costs in time once the store has a capacity.
    """
    factor = time_factor(unit)
    require(runs, ["writers", "seed", "committed", "saves", "makespan", by], name="runs", empty=False)
    pattern = str(runs["pattern"].iloc[0]) if "pattern" in runs.columns else "no_retry"
    color = color_for(pattern)
    fig, (left, right) = plt.subplots(1, 2, figsize=(15, 5.5))
    if title:
        fig.suptitle(title, fontsize=16, fontweight="bold")
    frame = runs.assign(share=100.0 * runs["committed"] / runs["saves"], makespan_shown=factor * runs["makespan"])
    writers = sorted(int(w) for w in frame["writers"].unique())
    stores = sorted_groups(frame[by])
    for index, group in enumerate(stores):
        rows = frame[frame[by] == group]
        look = {"color": color, "linestyle": _LINESTYLES[index % 4], "marker": _MARKERS[index % 4]}
        for ax, column in ((left, "share"), (right, "makespan_shown")):
            stats = rows.groupby("writers")[column].agg(["mean", "min", "max"])
            ax.plot(stats.index, stats["mean"], label=str(group), **look)
            ax.fill_between(stats.index, stats["min"], stats["max"], color=color, alpha=0.15, linewidth=0)
    left.plot(writers, [100.0 / n for n in writers], linestyle=":", color="#777777", zorder=1,
              label="one winner per round (100/N)")
    seeds = frame["seed"].nunique()
    note = f"{pattern} (line: mean of {seeds} seeds; band: min–max)"
    left.set_ylim(0, 104)
    right.set_yscale("log")
    plain_log_axis(right.yaxis)
    for ax in (left, right):
        ax.set_xscale("log")
        plain_log_axis(ax.xaxis, writers)
    finish(left, title="Saves committed", xlabel="concurrent writers (count)", ylabel="saves committed (%)",
           legend=True, legend_title=note)
    finish(right, title="Completion time (makespan)", xlabel="concurrent writers (count)",
           ylabel=f"completion time of the run ({UNIT_TEXT[unit]})", legend=True, legend_title=note)
    describe(fig, alt, f"Two panels against the number of writers, one line per {by} "
                       f"({', '.join(map(str, stores))}): the share of saves committed beside the 100/N reference, "
                       f"and the run's completion time in {UNIT_TEXT[unit]}.")
    return left, right


@styled
def plot_retry_limits(
    limits: pd.DataFrame,
    *,
    unit: str = DEFAULT_UNIT,
    title: str | None = None,
    alt: str | None = None,
) -> tuple[Axes, Axes, Axes]:
    """Give-ups (%), store writes per save and p95 latency of every save, against ``max_attempts``.

    *limits* is a sweep table with a ``max_attempts`` column (one run per limit
    and seed) and the columns ``gave_up``, ``saves``, ``write_calls`` and
    ``p95_all`` (the p95 latency of every save, committed or not, in seconds,
    e.g. from ``sweep(..., measure=...)``). Lines are the mean over seeds,
    bands the min-max; the latency axis is logarithmic, because each extra
    retry doubles the wait. Use it to choose a retry limit.
    """
    require(limits, ["max_attempts", "seed", "pattern", "gave_up", "saves", "write_calls", "p95_all"],
            name="limits")
    frame = limits.assign(gave_up_pct=100.0 * limits["gave_up"] / limits["saves"],
                          writes_per_save=limits["write_calls"] / limits["saves"], p95=limits["p95_all"])
    fig, axes = plt.subplots(1, 3, figsize=(17, 5.2))
    if title:
        fig.suptitle(title, fontsize=16, fontweight="bold")
    panels = (("gave_up_pct", "Saves that gave up", "saves that gave up (%)"),
              ("writes_per_save", "Work", "store writes per save (count)"),
              ("p95", "p95 latency of every save", f"p95 latency, committed or not ({UNIT_TEXT[unit]})"))
    for ax, (column, name, ylabel) in zip(axes, panels, strict=True):
        plot_sweep(frame, x="max_attempts", y=column, ax=ax, title=name, logy=column == "p95", unit=unit)
        ax.set_xlabel("max_attempts, the first try included (count)")
        ax.set_ylabel(ylabel)
        if column != "p95":
            ax.set_ylim(0, None)
        if ax is not axes[0]:
            ax.get_legend().remove()
    fig.aether_alt = ""  # type: ignore[attr-defined]  # the panels' sentences give way to one for the figure
    describe(fig, alt, f"Three panels against max_attempts, one line per pattern: the share of saves that gave up, "
                       f"store writes per save, and the p95 latency of every save in {UNIT_TEXT[unit]}.")
    return axes[0], axes[1], axes[2]


@styled
def plot_scorecard(
    table: pd.DataFrame,
    *,
    value: str,
    row: str = "pattern",
    column: str = "scenario",
    fmt: str = ".0%",
    higher_is_better: bool = True,
    ax: Axes | None = None,
    title: str | None = None,
    alt: str | None = None,
) -> Axes:
    """A grid of one measurement: a row per pattern, a column per scenario, the number in each cell.

    Use it as the one-slide summary of a comparison. Cells are shaded from
    worst (light) to best (dark) within each column, so the best pattern of a
    scenario stands out whatever the scale; *higher_is_better* says which end
    is best.
    """
    require(table, [row, column, value], name="table")
    grid = table.pivot_table(index=row, columns=column, values=value, aggfunc="mean", sort=False)
    scores = grid.rank(ascending=higher_is_better, pct=True)
    ax = new_axes(ax, figsize=(1.6 * grid.shape[1] + 3.5, 0.5 * grid.shape[0] + 1.6))
    ax.imshow(scores.to_numpy(float), cmap="Greens", vmin=0, vmax=1.15, aspect="auto")
    for i in range(grid.shape[0]):
        for j in range(grid.shape[1]):
            number = grid.iat[i, j]
            text = "-" if pd.isna(number) else ("never" if np.isinf(number) else format(number, fmt))
            ax.text(j, i, text, ha="center", va="center", fontsize=STYLE["xtick.labelsize"])
    ax.set_xticks(range(grid.shape[1]), [str(c) for c in grid.columns])
    ax.set_yticks(range(grid.shape[0]), [str(r) for r in grid.index])
    ax.tick_params(length=0, labelsize=STYLE["xtick.labelsize"])
    ax.grid(False)
    for side in ("top", "right", "left", "bottom"):
        ax.spines[side].set_visible(False)
    ax.xaxis.tick_top()
    ax.set_title(title or f"{value} per scenario (darker: better)", fontsize=STYLE["axes.titlesize"],
                 fontweight=STYLE["axes.titleweight"], pad=12)
    describe(ax, alt, f"A grid of {value}, one row per {row} and one column per {column}, each cell shaded "
                      f"darker the better it is within its column.")
    return ax


def _cell_label(names: tuple[str, ...], most: int = 3) -> str:
    shown = list(names[:most])
    if len(names) > most:
        shown.append(f"+{len(names) - most} more")
    return "\n".join(shown)


def plot_pattern_map(
    winners: pd.DataFrame,
    *,
    fmt: str = ".0%",
    suffix: str = "",
    rows: tuple[str, str] = ("failure", "contention"),
    column: str = "load",
    ax: Axes | None = None,
    title: str | None = None,
    alt: str | None = None,
) -> Axes:
    """Where each pattern wins: one cell per (row, column) of a map, in the winner's colour, ties marked.

    *winners* is :func:`aether.experiment.patternmap.winners`' table (``winner``,
    ``value``, ``lo``, ``hi``, ``ties``, ``clear`` per cell). A cell with a clear
    winner (every other pattern loses to it, paired seed by seed, by more than the
    metric's margin) is filled with the winner's colour and names it with its value
    and interval; a tied cell is hatched grey and lists the patterns that tie.
    No shade encodes a size, so 76% next to 77% never reads as a verdict.
    Use it to show a grid of conditions, not a ranking; *fmt* and *suffix*
    format the values (``".2f", " s"`` for seconds).
    """
    require(winners, [*rows, column, "winner", "value", "lo", "hi", "ties", "clear"], name="winners", empty=False)
    row_keys = list(dict.fromkeys(zip(winners[rows[0]], winners[rows[1]], strict=True)))
    col_keys = sorted(winners[column].unique())
    ax = new_axes(ax, figsize=(2.6 * len(col_keys) + 2.2, 1.0 * len(row_keys) + 1.2))
    for _, cell in winners.iterrows():
        i = row_keys.index((cell[rows[0]], cell[rows[1]]))
        j = col_keys.index(cell[column])
        number = f"{format(cell['value'], fmt)}{suffix} [{format(cell['lo'], fmt)}-{format(cell['hi'], fmt)}]"
        if cell["clear"]:
            face, hatch, text = color_for(cell["winner"]), None, f"{cell['winner']}\n{number}"
            ax.add_patch(plt.Rectangle((j - 0.48, i - 0.46), 0.96, 0.92, facecolor=face, edgecolor="white",
                                       alpha=0.9))
        else:
            face, hatch = "#EEEEEE", "///"
            text = f"tie ({len(cell['ties'])}): {_cell_label(tuple(cell['ties']))}\n{number}"
            ax.add_patch(plt.Rectangle((j - 0.48, i - 0.46), 0.96, 0.92, facecolor=face, edgecolor="#BBBBBB",
                                       hatch=hatch, linewidth=0.5))
        ax.text(j, i, text, ha="center", va="center", fontsize=STYLE["legend.fontsize"] - 1, linespacing=1.1,
                bbox={"boxstyle": "round,pad=0.2", "facecolor": "white", "edgecolor": "none", "alpha": 0.85})
    ax.set_xlim(-0.5, len(col_keys) - 0.5)
    ax.set_ylim(len(row_keys) - 0.5, -0.5)
    ax.set_xticks(range(len(col_keys)), [f"{column} {c:g}" if isinstance(c, (int, float)) else str(c)
                                         for c in col_keys])
    ax.set_yticks(range(len(row_keys)), [f"{a}\n{b}" for a, b in row_keys])
    ax.tick_params(length=0, labelsize=STYLE["xtick.labelsize"])
    ax.grid(False)
    for side in ("top", "right", "left", "bottom"):
        ax.spines[side].set_visible(False)
    ax.xaxis.tick_top()
    ax.set_title(title or "Where each pattern wins (hatched: a tie within the margin)",
                 fontsize=STYLE["axes.titlesize"], fontweight=STYLE["axes.titleweight"], pad=12)
    describe(ax, alt, f"A grid with one cell per {rows[0]} and {rows[1]} (rows) and {column} (columns); each cell "
                      f"is filled with the colour of the pattern that wins it and names it, or is hatched grey "
                      f"and lists the tied patterns.")
    return ax
