"""The lab's standard figures, in one consistent style.

Use these functions whenever a notebook shows the result of an experiment, so that every
chapter draws latency, retries, sweeps and timelines the same way: the same colour for the
same pattern, labelled axes with units, a title and a legend. They take the tidy
DataFrames produced by :mod:`aether.experiment`:

* ``saves``: one row per logical save (``latency``, ``retries``, ``outcome``, ...);
* ``calls``: one row per store call (``op``, ``start``, ``end``, ``result``, ...);
* ``sweep``: one row per run (``writers``, ``seed``, ``p95``, ``write_calls``, ...);
* a run's ``timeline(bin)``: one row per time bin (``offered``, ``calls``, ``goodput``, ...).

Every plotting function accepts ``ax=None`` (draw into a new figure) or an existing
:class:`~matplotlib.axes.Axes` (draw into a subplot you arranged), and returns the
:class:`~matplotlib.axes.Axes` it drew into, so a notebook can annotate it further.
Time is stored in seconds and shown in milliseconds unless you pick another ``unit``.

Use :func:`style` (a context manager) or :func:`apply_style` for figures you draw yourself,
and :func:`save_figure` to write a file that is byte-for-byte the same on every run.
"""

from __future__ import annotations

import contextlib
import functools
import zlib
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, ParamSpec, TypeVar, cast

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from cycler import cycler
from matplotlib import ticker
from matplotlib.axes import Axes
from matplotlib.figure import Figure

__all__ = [
    "PALETTE",
    "PATTERN_COLORS",
    "RESULT_COLORS",
    "STYLE",
    "SWEEP_LABELS",
    "TIME_UNITS",
    "LOAD_COLORS",
    "apply_style",
    "color_for",
    "fault_windows",
    "plot_goodput",
    "plot_latency_vs_load",
    "plot_load",
    "plot_latency",
    "plot_outcomes",
    "plot_retries",
    "plot_scorecard",
    "plot_sweep",
    "plot_timeline",
    "save_figure",
    "style",
    "sweep_label",
]

# --------------------------------------------------------------------------------------
# Style
# --------------------------------------------------------------------------------------

#: The Okabe–Ito colour-blind-safe palette, darkest and most distinct colours first
#: (yellow last: it is hard to see on a white projector screen).
PALETTE: tuple[str, ...] = (
    "#0072B2",  # blue
    "#E69F00",  # orange
    "#009E73",  # bluish green
    "#D55E00",  # vermillion
    "#CC79A7",  # reddish purple
    "#56B4E9",  # sky blue
    "#000000",  # black
    "#F0E442",  # yellow
)

#: Colours pinned to the lab's baseline pattern names, so they look the same in every notebook;
#: :func:`color_for` derives a stable colour for any other name. Add an entry to pin another.
PATTERN_COLORS: dict[str, str] = {
    # baselines
    "no_retry": "#000000",
    "immediate_retry": "#000000",
    "no backoff": "#000000",
    "no retries": "#000000",
    # one colour per pattern, the same in every chapter (vermillion is kept for conflicts): the
    # Okabe-Ito colours first, then Paul Tol's muted ones, so that no two patterns share a colour
    "simple_retry": "#0072B2",
    "conflict_detailed_retry": "#CC79A7",
    "jitter_retry": "#009E73",
    "full jitter": "#009E73",
    "no jitter": "#E69F00",
    "equal jitter": "#44AA99",
    "decorrelated jitter": "#999933",
    "adaptive_retry": "#882255",
    "queued_writes": "#332288",
    "retry queue": "#332288",
    "circuit_breaker": "#56B4E9",
    "circuit breaker": "#56B4E9",
    "retry budget": "#AA4499",
    "budgeted_retry": "#AA4499",
    "adaptive_throttling": "#117733",
    "adaptive throttling": "#117733",
    "retry_on_failure": "#CC6677",
    "retry at once": "#CC6677",
    # outcomes, when a figure is split by outcome
    "committed": "#009E73",
    "gave_up": "#000000",
}

#: Colour of each kind of store call in :func:`plot_timeline`.
RESULT_COLORS: dict[str, str] = {
    "write ok": "#009E73",
    "conflict": "#D55E00",
    "read": "#9A9A9A",
    "unavailable": "#DDCC77",
    "timeout": "#8C510A",
    "overloaded": "#762A83",
    "error": "#000000",
}

#: Colours of the series of :func:`plot_load` (load, work and goodput), and the shading of faults.
LOAD_COLORS: dict[str, str] = {
    "offered": "#000000",
    "calls": "#666666",
    "goodput": "#009E73",
    "queue_depth": "#0072B2",
    "utilisation": "#E69F00",
    "fault": "#BDBDBD",
}

#: Matplotlib settings of the lab's look: large enough to read on a projector.
STYLE: dict[str, Any] = {
    "figure.figsize": (9.0, 5.0),
    "figure.dpi": 100,
    "figure.constrained_layout.use": True,
    "font.size": 13,
    "axes.titlesize": 15,
    "axes.titleweight": "bold",
    "axes.labelsize": 13,
    "xtick.labelsize": 12,
    "ytick.labelsize": 12,
    "legend.fontsize": 12,
    "legend.title_fontsize": 12,
    "legend.framealpha": 0.9,
    "axes.grid": True,
    "grid.color": "#b0b0b0",
    "grid.alpha": 0.35,
    "grid.linewidth": 0.8,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.prop_cycle": cycler(color=list(PALETTE)),
    "lines.linewidth": 2.2,
    "lines.markersize": 7,
    "savefig.dpi": 150,
    "svg.hashsalt": "aether",
}

#: Time units accepted by ``unit=``, as the factor from seconds.
TIME_UNITS: dict[str, float] = {"s": 1.0, "ms": 1e3, "us": 1e6}

_UNIT_TEXT = {"s": "s", "ms": "ms", "us": "µs"}

#: Readable axis label of each sweep column; ``{unit}`` marks the time columns.
SWEEP_LABELS: dict[str, str] = {
    "writers": "concurrent writers (count)",
    "seed": "seed",
    "committed": "committed saves (count)",
    "failed": "failed saves (count)",
    "p50": "median latency, p50 ({unit})",
    "p95": "p95 latency ({unit})",
    "p99": "p99 latency ({unit})",
    "mean_retries": "mean retries per save (count)",
    "max_retries": "max retries per save (count)",
    "calls": "store calls (count)",
    "write_calls": "store writes (work)",
    "wasted_calls": "wasted store calls (count)",
    "makespan": "completion time ({unit})",
    "throughput": "throughput (commits/s)",
    "rate": "offered saves per second",
    "utilisation": "store utilisation (%)",
    "mean_queue_wait": "mean queue wait ({unit})",
    "timeouts": "timed-out calls (count)",
    "overloaded": "calls refused by a full queue (count)",
    "failure_rate": "store failure rate (fraction of calls)",
    "success_rate": "saves that succeed (fraction)",
    "calls_per_save": "store calls per save (load)",
}

_TIME_COLUMNS = frozenset({"p50", "p95", "p99", "makespan", "mean_queue_wait"})

_P = ParamSpec("_P")
_R = TypeVar("_R")


@contextlib.contextmanager
def style() -> Iterator[None]:
    """Draw in the lab's look inside a ``with`` block, leaving global settings untouched.

    Use it around figures you build yourself (``with style(): fig, ax = plt.subplots()``);
    the ``plot_*`` functions already use it.
    """
    interactive = mpl.is_interactive()
    try:
        with mpl.rc_context(cast(Any, STYLE)):
            try:
                yield
            finally:
                # A notebook's inline backend switches interactive mode on when the first figure
                # inside this block selects it; keep that, or later figures would not be shown.
                interactive = mpl.is_interactive()
    finally:
        mpl.interactive(interactive)


def apply_style() -> None:
    """Make the lab's look the default for the rest of the process (e.g. a notebook's first cell)."""
    mpl.rcParams.update(cast(Any, STYLE))


def color_for(name: object) -> str:
    """The colour of a pattern (or any group) name: the same name always gets the same colour.

    A name pinned in :data:`PATTERN_COLORS` gets its pinned colour; any other name gets a
    palette colour chosen by a stable checksum of its text (not Python's salted ``hash``),
    so figures agree across notebooks, runs and machines.
    """
    key = str(name)
    if key in PATTERN_COLORS:
        return PATTERN_COLORS[key]
    return PALETTE[zlib.crc32(key.encode("utf-8")) % (len(PALETTE) - 1)]  # yellow only on demand


def _colors_for(groups: Sequence[Hashable]) -> dict[Hashable, str]:
    """A distinct colour per group: each group's own colour unless an earlier group took it."""
    colors: dict[Hashable, str] = {}
    for group in groups:
        preferred = color_for(group)
        if preferred in colors.values():
            start = PALETTE.index(preferred) if preferred in PALETTE else 0
            free = [PALETTE[(start + i) % len(PALETTE)] for i in range(len(PALETTE))]
            free = [c for c in free if c not in colors.values()]
            # Yellow (the palette's last colour) is hard to see on white: take it only when nothing else is free.
            free.sort(key=lambda c: c == PALETTE[-1])
            preferred = free[0] if free else preferred
        colors[group] = preferred
    return colors


def save_figure(fig: Figure | Axes, path: str | Path, *, dpi: int = 150) -> Path:
    """Write *fig* (or the figure of an Axes) to *path*, identical bytes on every run.

    Use it instead of ``fig.savefig`` for figures kept in the repository: the file carries
    no timestamp and no software version, so re-running a notebook does not change it.
    The format follows the suffix: ``.png`` (default choice), ``.svg`` or ``.pdf``.
    Missing parent folders are created. Returns the path written.
    """
    figure = fig.get_figure(root=True) if isinstance(fig, Axes) else fig
    if not isinstance(figure, Figure):
        raise TypeError(f"save_figure needs a Figure or an Axes, got {type(fig).__name__}")
    target = Path(path)
    fmt = target.suffix.lower().lstrip(".")
    metadata = _DETERMINISTIC_METADATA.get(fmt)
    if metadata is None:
        raise ValueError(f"save_figure writes .png, .svg or .pdf files, got {str(target)!r}")
    target.parent.mkdir(parents=True, exist_ok=True)
    with mpl.rc_context({"svg.hashsalt": "aether"}):
        figure.savefig(target, format=fmt, dpi=dpi, metadata=metadata)
    return target


_DETERMINISTIC_METADATA: dict[str, dict[str, Any]] = {
    "png": {"Software": None},
    "svg": {"Date": None, "Creator": None},
    "pdf": {"CreationDate": None, "Creator": None, "Producer": None},
}

# --------------------------------------------------------------------------------------
# Shared helpers
# --------------------------------------------------------------------------------------


def _require(df: pd.DataFrame, columns: Iterable[str], *, name: str) -> None:
    """Raise a ValueError naming every column of *columns* that *df* lacks."""
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"{name} must be a pandas DataFrame, got {type(df).__name__}")
    missing = [c for c in columns if c not in df.columns]
    if missing:
        listed = ", ".join(repr(c) for c in missing)
        raise ValueError(f"{name} is missing column(s) {listed}; it has {list(map(str, df.columns))}")


def _time_factor(unit: str) -> float:
    """Seconds-to-*unit* factor, with a clear error for an unknown unit."""
    try:
        return TIME_UNITS[unit]
    except KeyError:
        raise ValueError(f"unit must be one of {sorted(TIME_UNITS)}, got {unit!r}") from None


def _sorted_groups(values: Iterable[Hashable]) -> list[Hashable]:
    """Distinct group values in a stable order: numbers numerically, anything else by text."""
    distinct = list(dict.fromkeys(v for v in values if not pd.isna(v)))
    if all(isinstance(v, (int, float, np.integer, np.floating)) for v in distinct):
        return sorted(distinct)  # type: ignore[type-var]
    return sorted(distinct, key=str)


def _styled(func: Callable[_P, _R]) -> Callable[_P, _R]:
    """Run a plotting function inside :func:`style`, so every artist it creates gets the lab's look."""

    @functools.wraps(func)
    def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        with style():
            return func(*args, **kwargs)

    return wrapper


def _new_axes(ax: Axes | None) -> Axes:
    """The Axes to draw into: *ax*, or a fresh figure (in the current style)."""
    if ax is not None:
        return ax
    _, new = plt.subplots()
    return new


def _plain_log_axis(axis: Any, ticks: Sequence[float] | None = None) -> None:
    """Label a log axis with plain numbers (1, 2, 5, 10 ...) instead of powers of ten.

    With *ticks*, put a tick at exactly those values (e.g. the writer counts of a sweep).
    """
    if ticks is not None:
        axis.set_major_locator(ticker.FixedLocator(list(ticks)))
    else:
        axis.set_major_locator(ticker.LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    axis.set_major_formatter(ticker.FuncFormatter(lambda value, _pos: f"{value:g}"))
    axis.set_minor_formatter(ticker.NullFormatter())


def _finish(ax: Axes, *, title: str, xlabel: str, ylabel: str, legend: bool, legend_title: str | None = None) -> None:
    """Apply the lab's text sizes, grid and legend explicitly (independent of rcParams at draw time)."""
    ax.set_title(title, fontsize=STYLE["axes.titlesize"], fontweight=STYLE["axes.titleweight"])
    ax.set_xlabel(xlabel, fontsize=STYLE["axes.labelsize"])
    ax.set_ylabel(ylabel, fontsize=STYLE["axes.labelsize"])
    ax.tick_params(labelsize=STYLE["xtick.labelsize"])
    ax.grid(True, color=STYLE["grid.color"], alpha=STYLE["grid.alpha"], linewidth=STYLE["grid.linewidth"])
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    if legend:
        ax.legend(
            title=legend_title,
            alignment="left",
            fontsize=STYLE["legend.fontsize"],
            title_fontsize=STYLE["legend.title_fontsize"],
            framealpha=STYLE["legend.framealpha"],
        )


def _few_numeric_ticks(values: pd.Series, most: int = 12) -> list[float] | None:
    """The distinct values as tick positions when they are few numbers (e.g. writer counts), else None."""
    distinct = _sorted_groups(values)
    if len(distinct) > most or not all(isinstance(v, (int, float, np.integer, np.floating)) for v in distinct):
        return None
    return [float(cast(float, v)) for v in distinct]


def _by_label(by: str) -> str:
    """Legend title for a grouping column."""
    return {"pattern": "pattern", "writers": "writers"}.get(by, by)


def _format_time(value: float, unit: str) -> str:
    """A time value with about three significant digits and its unit."""
    return f"{value:.3g} {_UNIT_TEXT[unit]}"


# --------------------------------------------------------------------------------------
# Latency
# --------------------------------------------------------------------------------------


@_styled
def plot_latency(
    saves: pd.DataFrame,
    *,
    by: str = "pattern",
    kind: Literal["ecdf", "hist"] = "ecdf",
    log: bool = False,
    unit: str = "ms",
    outcomes: Sequence[str] | None = ("committed",),
    bins: int = 40,
    ax: Axes | None = None,
    title: str | None = None,
) -> Axes:
    """Latency distribution of logical saves, one curve per group (pattern by default).

    Use the ECDF (default) to compare patterns: read off "what share of saves finished
    within x ms"; each curve marks its p50 and p95, and the legend gives their values.
    Use ``kind="hist"`` to show the shape (bimodal retries, long tails) and ``log=True``
    when latencies span several orders of magnitude. Only committed saves count by
    default; pass ``outcomes=None`` for all saves, or a tuple of outcome names.
    A group with no matching saves stays in the legend, marked "no saves".
    """
    if kind not in ("ecdf", "hist"):
        raise ValueError(f"kind must be 'ecdf' or 'hist', got {kind!r}")
    factor = _time_factor(unit)
    _require(saves, [by, "latency"] + (["outcome"] if outcomes is not None else []), name="saves")
    if saves.empty:
        raise ValueError("saves is empty: there is no latency to plot")
    groups = _sorted_groups(saves[by])
    selected = saves if outcomes is None else saves[saves["outcome"].isin(list(outcomes))]
    samples = {g: selected.loc[selected[by] == g, "latency"].dropna().to_numpy(float) * factor for g in groups}
    if all(len(s) == 0 for s in samples.values()):
        raise ValueError(f"no save has an outcome in {tuple(outcomes or ())!r}: there is no latency to plot")

    ax = _new_axes(ax)
    colors = _colors_for(groups)
    if kind == "ecdf":
        _draw_ecdfs(ax, samples, colors, unit)
        ylabel = "share of saves finished (%)"
    else:
        _draw_histograms(ax, samples, colors, unit, log=log, bins=bins)
        ylabel = "share of saves (%)"
    if log:
        ax.set_xscale("log")
        _plain_log_axis(ax.xaxis)
    which = "all" if outcomes is None else "/".join(outcomes)
    _finish(
        ax,
        title=title or f"Save latency by {by} ({which} saves)",
        xlabel=f"latency of one logical save ({_UNIT_TEXT[unit]})",
        ylabel=ylabel,
        legend=True,
        legend_title=_by_label(by),
    )
    return ax


def _percentile_label(group: Hashable, values: np.ndarray, unit: str) -> str:
    """Legend text: the group, its p50 and p95, or a note that it has no saves."""
    if len(values) == 0:
        return f"{group}: no saves"
    p50, p95 = np.percentile(values, [50, 95])
    return f"{group}: p50 {_format_time(p50, unit)}, p95 {_format_time(p95, unit)}"


def _draw_ecdfs(ax: Axes, samples: Mapping[Hashable, np.ndarray], colors: Mapping[Hashable, str], unit: str) -> None:
    """One ECDF step line per group (y in %), with p50 and p95 marked as dots."""
    for group, values in samples.items():
        label = _percentile_label(group, values, unit)
        if len(values) == 0:
            ax.plot([], [], color=colors[group], label=label, linestyle="--")
            continue
        xs = np.sort(values)
        ys = np.arange(1, len(xs) + 1) / len(xs) * 100.0
        ax.step(xs, ys, where="post", color=colors[group], label=label)
        marks = np.percentile(values, [50, 95])
        ax.plot(marks, [50, 95], linestyle="none", marker="o", color=colors[group], label="_percentiles")
    ax.set_ylim(0, 102)
    ax.set_yticks([0, 25, 50, 75, 95, 100])


def _draw_histograms(
    ax: Axes,
    samples: Mapping[Hashable, np.ndarray],
    colors: Mapping[Hashable, str],
    unit: str,
    *,
    log: bool,
    bins: int,
) -> None:
    """Overlaid step histograms on shared bins, heights as a share of each group's saves."""
    everything = np.concatenate([s for s in samples.values() if len(s)])
    if log:
        positive = everything[everything > 0]
        low, high = (positive.min(), positive.max()) if len(positive) else (1.0, 10.0)
        edges = np.geomspace(low, high if high > low else low * 10, bins + 1)
    else:
        low, high = everything.min(), everything.max()
        edges = np.linspace(low, high if high > low else low + 1.0, bins + 1)
    for group, values in samples.items():
        label = _percentile_label(group, values, unit)
        if len(values) == 0:
            ax.plot([], [], color=colors[group], label=label, linestyle="--")
            continue
        weights = np.full(len(values), 100.0 / len(values))
        ax.hist(
            values,
            bins=edges.tolist(),
            weights=weights,
            histtype="step",
            linewidth=2.2,
            color=colors[group],
            label=label,
        )


# --------------------------------------------------------------------------------------
# Retries
# --------------------------------------------------------------------------------------


@_styled
def plot_retries(
    saves: pd.DataFrame,
    *,
    by: str = "pattern",
    cap: int = 10,
    outcomes: Sequence[str] | None = None,
    ax: Axes | None = None,
    title: str | None = None,
) -> Axes:
    """How many retries each save needed: share of saves with 0, 1, 2, ... retries, bars per group.

    Use it to see whether a pattern resolves conflicts in one retry or drags a long tail.
    Counts of *cap* or more share the last bar, labelled ``"≥cap"``, so a runaway pattern
    does not squeeze the others. All outcomes count by default (a save that gave up
    after 5 retries did retry 5 times); pass ``outcomes=("committed",)`` to narrow.
    """
    if cap < 1:
        raise ValueError(f"cap must be at least 1, got {cap!r}")
    _require(saves, [by, "retries"] + (["outcome"] if outcomes is not None else []), name="saves")
    if saves.empty:
        raise ValueError("saves is empty: there are no retries to plot")
    groups = _sorted_groups(saves[by])
    selected = saves if outcomes is None else saves[saves["outcome"].isin(list(outcomes))]
    retries = selected["retries"].astype(float).clip(upper=cap)
    top = int(retries.max()) if len(retries.dropna()) else 0
    buckets = np.arange(top + 1)

    ax = _new_axes(ax)
    colors = _colors_for(groups)
    width = 0.8 / len(groups)
    for i, group in enumerate(groups):
        counts = retries[selected[by] == group].value_counts()
        total = counts.sum()
        shares = [100.0 * counts.get(float(b), 0) / total if total else 0.0 for b in buckets]
        offset = (i - (len(groups) - 1) / 2) * width
        label = str(group) if total else f"{group}: no saves"
        ax.bar(buckets + offset, shares, width=width, color=colors[group], label=label)
    labels = [str(b) for b in buckets]
    if top == cap:
        labels[-1] = f"≥{cap}"
    ax.set_xticks(buckets, labels)
    ax.set_ylim(0, None)
    _finish(
        ax,
        title=title or f"Retries per save, by {by}",
        xlabel="retries of one logical save (count)",
        ylabel="share of saves (%)",
        legend=True,
        legend_title=_by_label(by),
    )
    return ax


# --------------------------------------------------------------------------------------
# Sweeps
# --------------------------------------------------------------------------------------


def sweep_label(column: str, unit: str = "ms") -> str:
    """The readable axis label of a sweep column, with its unit (the column name if unknown)."""
    return SWEEP_LABELS.get(column, column).format(unit=_UNIT_TEXT.get(unit, unit))


@_styled
def plot_sweep(
    sweep: pd.DataFrame,
    *,
    x: str = "writers",
    y: str = "write_calls",
    by: str = "pattern",
    spread: Literal["minmax", "iqr", "none"] = "minmax",
    unit: str = "ms",
    logx: bool = False,
    logy: bool = False,
    ax: Axes | None = None,
    title: str | None = None,
) -> Axes:
    """How a run metric grows with load: one line per group, the mean over seeds, with a band.

    Use it for the lab's main comparison, e.g. store writes (work) or p95 latency against
    the number of concurrent writers. The band spans the seeds' ``"minmax"`` (default) or
    interquartile range (``"iqr"``); ``"none"`` draws the mean only. Time columns (p50,
    p95, p99, makespan) are shown in *unit*. Use ``logx``/``logy`` for sweeps over
    powers of two or quadratic growth.
    """
    if spread not in ("minmax", "iqr", "none"):
        raise ValueError(f"spread must be 'minmax', 'iqr' or 'none', got {spread!r}")
    factor = _time_factor(unit) if y in _TIME_COLUMNS else 1.0
    _require(sweep, list(dict.fromkeys([x, y, by])), name="sweep")
    if sweep.empty:
        raise ValueError("sweep is empty: there are no runs to plot")

    ax = _new_axes(ax)
    groups = _sorted_groups(sweep[by])
    colors = _colors_for(groups)
    for group in groups:
        rows = sweep[sweep[by] == group]
        stats = _spread_stats(rows, x=x, y=y, spread=spread, factor=factor)
        if stats.empty:
            ax.plot([], [], color=colors[group], label=f"{group}: no runs", linestyle="--")
            continue
        ax.plot(stats.index, stats["mean"], marker="o", color=colors[group], label=str(group))
        if spread != "none":
            ax.fill_between(stats.index, stats["low"], stats["high"], color=colors[group], alpha=0.18, linewidth=0)
    xticks = _few_numeric_ticks(sweep[x])
    if logx:
        ax.set_xscale("log")
        _plain_log_axis(ax.xaxis, xticks)
    elif xticks is not None:
        ax.set_xticks(xticks)
    if logy:
        ax.set_yscale("log")
        _plain_log_axis(ax.yaxis)
    ylabel = sweep_label(y, unit)
    _finish(
        ax,
        title=title or f"{ylabel.split(' (')[0].capitalize()} vs {sweep_label(x, unit).split(' (')[0]}",
        xlabel=sweep_label(x, unit),
        ylabel=ylabel,
        legend=True,
        legend_title=_seeds_note(by, sweep, spread),
    )
    return ax


def _seeds_note(by: str, runs: pd.DataFrame, spread: str) -> str:
    """Legend title saying what the line and the band summarise."""
    count = runs["seed"].nunique() if "seed" in runs.columns else None
    if count == 1:
        return f"{_by_label(by)} (one seed)"
    seeds = f"{count} seeds" if count is not None else "seeds"
    band = {"minmax": "; band: min–max", "iqr": "; band: IQR", "none": ""}[spread]
    return f"{_by_label(by)} (line: mean of {seeds}{band})"


def _spread_stats(rows: pd.DataFrame, *, x: str, y: str, spread: str, factor: float) -> pd.DataFrame:
    """Per x: the mean of y over seeds, and the band's low and high edges."""
    values = rows[[x, y]].dropna()
    grouped = values.groupby(x, sort=True)[y]
    low_q, high_q = (0.25, 0.75) if spread == "iqr" else (0.0, 1.0)
    stats = pd.DataFrame(
        {
            "mean": grouped.mean(),
            "low": grouped.quantile(low_q),
            "high": grouped.quantile(high_q),
        }
    )
    return stats.astype(float) * factor


# --------------------------------------------------------------------------------------
# Outcomes
# --------------------------------------------------------------------------------------


@_styled
def plot_outcomes(
    data: pd.DataFrame,
    *,
    x: str = "writers",
    by: str = "pattern",
    outcome: str = "committed",
    ax: Axes | None = None,
    title: str | None = None,
) -> Axes:
    """Share of saves with one outcome (committed by default) against load, one line per group.

    Use it for patterns that may give up or reject work: the line shows how much of the
    work still succeeds as writers are added. *data* is either a ``saves`` table (any
    *outcome* name works, and the share is averaged over seeds) or a ``sweep`` table
    (``committed`` and ``failed`` columns; *outcome* must be ``"committed"`` or ``"failed"``).
    """
    shares = _outcome_shares(data, x=x, by=by, outcome=outcome)
    ax = _new_axes(ax)
    groups = _sorted_groups(shares[by])
    colors = _colors_for(groups)
    for group in groups:
        line = shares[shares[by] == group].groupby(x, sort=True)["share"].mean()
        ax.plot(line.index, line.to_numpy(float), marker="o", color=colors[group], label=str(group))
    ax.set_ylim(-2, 102)
    xticks = _few_numeric_ticks(shares[x])
    if xticks is not None:
        ax.set_xticks(xticks)
    readable = outcome.replace("_", " ")
    _finish(
        ax,
        title=title or f"Share of saves {readable}, by {by}",
        xlabel=sweep_label(x),
        ylabel=f"saves {readable} (%)",
        legend=True,
        legend_title=_seeds_note(by, data, "none"),
    )
    return ax


def _outcome_shares(data: pd.DataFrame, *, x: str, by: str, outcome: str) -> pd.DataFrame:
    """One row per run: ``by``, ``x`` and the share (%) of its saves with *outcome*."""
    if isinstance(data, pd.DataFrame) and "outcome" in data.columns:
        _require(data, [x, by, "outcome"], name="saves")
        if data.empty:
            raise ValueError("saves is empty: there are no outcomes to plot")
        keys = [c for c in dict.fromkeys([by, x, "seed"]) if c in data.columns]
        hit = data["outcome"].eq(outcome).astype(float)
        frame = hit.groupby([data[k] for k in keys]).mean().mul(100.0).rename("share")
        return frame.reset_index()
    _require(data, [x, by, "committed", "failed"], name="sweep")
    if outcome not in ("committed", "failed"):
        raise ValueError(f"a sweep table only counts 'committed' and 'failed' saves, got outcome={outcome!r}")
    if data.empty:
        raise ValueError("sweep is empty: there are no outcomes to plot")
    total = (data["committed"] + data["failed"]).astype(float)
    share = data[outcome].astype(float).div(total.where(total > 0)).mul(100.0)
    return pd.DataFrame({by: data[by], x: data[x], "share": share})


# --------------------------------------------------------------------------------------
# Timeline
# --------------------------------------------------------------------------------------


def _call_kind(op: pd.Series, result: pd.Series) -> pd.Series:
    """Classify store calls for the timeline: write ok, conflict, read, unavailable, error."""
    kind = pd.Series("write ok", index=op.index, dtype=object)
    kind[op != "save_event"] = "read"
    kind[(op == "save_event") & (result == "conflict")] = "conflict"
    kind[result == "unavailable"] = "unavailable"
    kind[result == "timeout"] = "timeout"
    kind[result == "overloaded"] = "overloaded"
    kind[result == "error"] = "error"
    return kind


@_styled
def plot_timeline(
    calls: pd.DataFrame,
    *,
    writers: Sequence[int] | None = None,
    max_writers: int = 20,
    unit: str = "ms",
    ax: Axes | None = None,
    title: str | None = None,
) -> Axes:
    """Every store call of one run as a bar on its writer's row, coloured by its result.

    Use it to *see* contention: conflicts (vermillion) bunch up where writers read the
    same version at once, and the gaps between a writer's calls are its back-off sleeps.
    Pass the calls of a single run (one pattern, writer count and seed). Shows *writers*
    if given, else the first *max_writers* writers; time runs from the run's first call.
    Very short calls get a minimum visible width so that none disappears.
    """
    factor = _time_factor(unit)
    _require(calls, ["writer", "op", "start", "end", "result"], name="calls")
    if calls.empty:
        raise ValueError("calls is empty: there is no store call to plot")
    _require_single_run(calls)
    if max_writers < 1:
        raise ValueError(f"max_writers must be at least 1, got {max_writers!r}")

    all_writers = _sorted_groups(calls["writer"])
    shown = list(writers) if writers is not None else all_writers[:max_writers]
    unknown = [w for w in shown if w not in set(all_writers)]
    if unknown:
        raise ValueError(f"writers {unknown!r} made no store call; the run has writers {all_writers!r}")
    t0 = float(calls["start"].min())
    rows = calls[calls["writer"].isin(shown)]
    row_of = {w: i for i, w in enumerate(shown)}
    start = (rows["start"].to_numpy(float) - t0) * factor
    end = (rows["end"].to_numpy(float) - t0) * factor
    span = max(float(np.nanmax(end)) if len(end) else 0.0, 1e-12)
    end = np.maximum(end, start + span * 0.002)
    y = rows["writer"].map(row_of).to_numpy(float)
    kind = _call_kind(rows["op"], rows["result"]).to_numpy()

    ax = _new_axes(ax)
    thickness = _row_thickness(ax, len(shown))
    for name, color in RESULT_COLORS.items():
        mask = kind == name
        if mask.any():
            ax.hlines(y[mask], start[mask], end[mask], colors=color, linewidth=thickness, label=name, capstyle="butt")
    ax.set_ylim(len(shown) - 0.5, -0.5)
    step = max(1, int(np.ceil(len(shown) / 20)))
    ax.set_yticks(range(0, len(shown), step), [str(w) for w in shown[::step]])
    ax.set_xlim(0, span * 1.01)
    note = f" (first {len(shown)} of {len(all_writers)} writers)" if len(shown) < len(all_writers) else ""
    _finish(
        ax,
        title=title or f"Store calls over time, per writer{note}",
        xlabel=f"time since the run's first call ({_UNIT_TEXT[unit]})",
        ylabel="writer (id)",
        legend=False,
    )
    ax.grid(False, axis="y")
    ax.legend(
        title="store call",
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
        fontsize=STYLE["legend.fontsize"],
        title_fontsize=STYLE["legend.title_fontsize"],
    )
    return ax


def _require_single_run(calls: pd.DataFrame) -> None:
    """Refuse calls from several runs: their writers would overlap on one row."""
    keys = [c for c in ("pattern", "writers", "seed") if c in calls.columns]
    if not keys:
        return
    runs = calls[keys].drop_duplicates()
    if len(runs) > 1:
        first = dict(zip(keys, runs.iloc[0].tolist(), strict=True))
        raise ValueError(
            f"calls holds {len(runs)} runs (distinct {', '.join(keys)}); select one, e.g. the run {first!r}"
        )


def _row_thickness(ax: Axes, rows: int) -> float:
    """Line width in points that fills about 70 % of one writer's row."""
    figure = ax.get_figure(root=True)
    inches = figure.get_figheight() if figure is not None else STYLE["figure.figsize"][1]
    height_points = ax.get_position().height * inches * 72.0
    return float(np.clip(0.7 * height_points / max(rows, 1), 1.5, 18.0))


# --------------------------------------------------------------------------------------
# load over time, and latency against load


def fault_windows(settings: Mapping[str, Any]) -> list[tuple[float, float, str]]:
    """The fault windows of a run, ``(start, end, label)``, from its ``settings``.

    Outages and latency spikes come from the run's network model, slowdowns from its capacity.
    """
    windows: list[tuple[float, float, str]] = []
    network = settings.get("network")
    if network is not None:
        windows += [(o.start, o.end, "outage") for o in getattr(network, "outages", ())]
        windows += [(s.start, s.end, f"latency +{s.extra * 1000:g} ms") for s in getattr(network, "spikes", ())]
    capacity = settings.get("capacity")
    if capacity is not None:
        windows += [(f.start, f.end, f"slowdown x{f.factor:g}") for f in getattr(capacity, "faults", ())]
    return windows


@_styled
def plot_load(
    result: Any,
    *,
    bin: float = 0.25,  # noqa: A002 - the timeline's own word
    faults: Sequence[tuple[float, float, str]] | None = None,
    title: str | None = None,
    fig: Figure | None = None,
) -> Figure:
    """Load, work and goodput over time (top), and the store's queue (bottom), faults shaded.

    Use it to see how a pattern meets load: ``offered`` is the saves arriving,
    ``store calls`` the work the callers make of them (retries included) and
    ``goodput`` the saves whose caller was told of success. When the calls line
    stays high above goodput after a fault has ended, retries are keeping the
    store busy with work that no longer helps: a retry storm. *result* is a
    :class:`~aether.experiment.RunResult` (its timeline is binned at *bin*
    seconds and its faults shaded) or a timeline frame (pass *faults*).
    """
    if isinstance(result, pd.DataFrame):
        timeline, windows = result, list(faults or [])
    else:
        timeline = result.timeline(bin=bin)
        windows = list(faults) if faults is not None else fault_windows(result.settings)
    _require(timeline, ["start", "offered", "calls", "goodput", "queue_depth", "utilisation"], name="timeline")
    if timeline.empty:
        raise ValueError("timeline is empty: there is nothing to plot")
    width = float(timeline["start"].iloc[1] - timeline["start"].iloc[0]) if len(timeline) > 1 else bin
    mid = timeline["start"].to_numpy(float) + width / 2
    has_queue = not timeline["queue_depth"].isna().all()
    if fig is None:
        fig = plt.figure(figsize=(10.0, 6.5 if has_queue else 4.8))
    axes = fig.subplots(2, 1, sharex=True, height_ratios=[2, 1]) if has_queue else [fig.subplots()]
    top = axes[0]
    for column, label in (("offered", "offered saves"), ("calls", "store calls"), ("goodput", "goodput")):
        top.plot(mid, timeline[column], color=LOAD_COLORS[column], label=label,
                 linestyle="--" if column == "offered" else "-")
    for ax in axes:
        for start, end, label in windows:
            ax.axvspan(start, end, color=LOAD_COLORS["fault"], alpha=0.45, linewidth=0,
                       label=label if ax is top else None)
    _finish(top, title=title or "Load, store work and goodput over time", xlabel="" if has_queue else
            "time since the run's start (s)", ylabel="per second", legend=False)
    top.set_ylim(bottom=0)
    top.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=STYLE["legend.fontsize"])
    if has_queue:
        bottom = axes[1]
        bottom.plot(mid, timeline["queue_depth"], color=LOAD_COLORS["queue_depth"], label="calls waiting")
        _finish(bottom, title="", xlabel="time since the run's start (s)", ylabel="calls waiting", legend=False)
        bottom.set_ylim(bottom=0)
        twin = bottom.twinx()
        twin.plot(mid, 100 * timeline["utilisation"], color=LOAD_COLORS["utilisation"], linestyle=":",
                  label="server busy")
        twin.set_ylim(0, 105)
        twin.set_ylabel("server busy (%)", fontsize=STYLE["axes.labelsize"])
        twin.grid(False)
        lines = bottom.get_lines() + twin.get_lines()
        bottom.legend(lines, [line.get_label() for line in lines], loc="upper left", bbox_to_anchor=(1.12, 1.0),
                      fontsize=STYLE["legend.fontsize"])
    return fig


@_styled
def plot_latency_vs_load(
    sweep: pd.DataFrame,
    *,
    x: str = "rate",
    y: str = "p99",
    by: str = "pattern",
    unit: str = "ms",
    logy: bool = True,
    ax: Axes | None = None,
    title: str | None = None,
) -> Axes:
    """Latency against offered load, one line per pattern: the hockey stick.

    *sweep* is a frame of run summaries from :func:`~aether.experiment.sweep_load`
    (or any frame with *x*, *y* and *by* columns; *x* is the offered ``rate`` by
    default, the same for every seed). Latency stays flat while the
    store has spare capacity and turns up sharply as utilisation nears 100%:
    queueing, not the store's own speed, is what callers then wait for.
    """
    _require(sweep, list(dict.fromkeys([x, y, by])), name="sweep")
    frame = sweep.copy()
    if x == "utilisation":
        frame[x] = 100 * frame[x]
    ax = plot_sweep(frame, x=x, y=y, by=by, unit=unit, logy=logy, ax=ax, title=title or "Latency against load")
    if x == "utilisation":
        ax.set_xlabel("store utilisation (%)", fontsize=STYLE["axes.labelsize"])
    elif x == "rate":
        ax.set_xlabel("offered saves per second", fontsize=STYLE["axes.labelsize"])
    return ax


@_styled
def plot_goodput(
    runs: Mapping[str, Any],
    *,
    bin: float = 0.5,  # noqa: A002 - the timeline's own word
    column: str = "goodput",
    faults: Sequence[tuple[float, float, str]] | None = None,
    ax: Axes | None = None,
    title: str | None = None,
) -> Axes:
    """One line per run of a timeline column over time (goodput by default), faults shaded.

    Use it to compare how patterns ride out the same fault: *runs* maps a label
    to a :class:`~aether.experiment.RunResult` of the same scenario, or to its
    timeline frame (then pass *faults*; a sweep's ``measure`` can return
    ``result.timeline(bin)`` so no run needs repeating). The offered rate of
    the first run is drawn dashed for reference.
    """
    if not runs:
        raise ValueError("runs is empty: there is nothing to plot")
    ax = _new_axes(ax)
    colors = _colors_for(list(runs))
    timelines = {label: run if isinstance(run, pd.DataFrame) else run.timeline(bin=bin) for label, run in runs.items()}
    first = next(iter(runs.values()))
    windows = list(faults) if faults is not None else ([] if isinstance(first, pd.DataFrame)
                                                        else fault_windows(first.settings))
    for start, end, label in windows:
        ax.axvspan(start, end, color=LOAD_COLORS["fault"], alpha=0.45, linewidth=0, label=label)
    offered = next(iter(timelines.values()))
    width = float(offered["start"].iloc[1] - offered["start"].iloc[0]) if len(offered) > 1 else bin
    ax.plot(offered["start"] + width / 2, offered["offered"], color=LOAD_COLORS["offered"], linestyle="--",
            linewidth=1.4, label="offered saves")
    for label, timeline in timelines.items():
        _require(timeline, ["start", column], name="timeline")
        ax.plot(timeline["start"] + width / 2, timeline[column], color=colors[label], label=str(label))
    ax.set_ylim(bottom=0)
    _finish(ax, title=title or f"{column.capitalize()} over time", xlabel="time since the run's start (s)",
            ylabel=f"{column} (per second)", legend=False)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=STYLE["legend.fontsize"])
    return ax


@_styled
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
) -> Axes:
    """A grid of one measurement: a row per pattern, a column per scenario, the number in each cell.

    Use it as the one-slide summary of a comparison. Cells are shaded from
    worst (light) to best (dark) within each column, so the best pattern of a
    scenario stands out whatever the scale; *higher_is_better* says which end
    is best.
    """
    _require(table, [row, column, value], name="table")
    grid = table.pivot_table(index=row, columns=column, values=value, aggfunc="mean", sort=False)
    scores = grid.rank(ascending=higher_is_better, pct=True)
    if ax is None:
        _, ax = plt.subplots(figsize=(1.6 * grid.shape[1] + 3.5, 0.5 * grid.shape[0] + 1.6))
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
    return ax
