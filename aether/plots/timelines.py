"""What happens over the time of one run: store calls, load, goodput, queues, commits, a breaker's state.

* :func:`plot_timeline`: every store call of a run as a bar on its writer's row;
* :func:`plot_load`: offered load, store work and goodput over time, and the store's queue;
* :func:`plot_goodput`: one timeline column (goodput by default) over time, one line per run;
* :func:`plot_goodput_band`: the same over many seeds, one median line and band per pattern;
* :func:`plot_queue_depth`: a retry queue's depth over time, one line per queue;
* :func:`plot_commits`: committed saves so far over time, one line per run;
* :func:`plot_breaker_states`: a circuit breaker's state over time, with the calls that met it;
* :func:`fault_windows`: the fault windows of a run, to shade them.

Fault windows are shaded in ``LOAD_COLORS["fault"]`` grey in every figure. The x axis of a
figure over a whole run is in seconds; store calls (:func:`plot_timeline`) are in ``unit``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from aether.patterns import BreakerState, CircuitBreaker
from aether.plots.style import (
    DEFAULT_UNIT,
    LOAD_COLORS,
    PATTERN_COLORS,
    RESULT_COLORS,
    STYLE,
    UNIT_TEXT,
    describe,
    finish,
    new_axes,
    require,
    shade_faults,
    sorted_groups,
    styled,
    styles_for,
    time_factor,
)

__all__ = [
    "CALL_MARKS",
    "STATE_LEVELS",
    "fault_windows",
    "plot_breaker_states",
    "plot_commits",
    "plot_goodput",
    "plot_goodput_band",
    "plot_load",
    "plot_queue_depth",
    "plot_timeline",
]

#: The height of each breaker state in :func:`plot_breaker_states`.
STATE_LEVELS: dict[BreakerState, int] = {BreakerState.CLOSED: 0, BreakerState.HALF_OPEN: 1, BreakerState.OPEN: 2}

#: Marker and colour of each kind of call in :func:`plot_breaker_states`.
CALL_MARKS: dict[str, tuple[str, str]] = {
    "failure": ("x", RESULT_COLORS["error"]),
    "success": ("o", RESULT_COLORS["write ok"]),
    "refused": ("|", RESULT_COLORS["overloaded"]),
}


# --------------------------------------------------------------------------------------
# Store calls of one run


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


@styled
def plot_timeline(
    calls: pd.DataFrame,
    *,
    writers: Sequence[int] | None = None,
    max_writers: int = 20,
    unit: str = DEFAULT_UNIT,
    ax: Axes | None = None,
    title: str | None = None,
    alt: str | None = None,
) -> Axes:
    """Every store call of one run as a bar on its writer's row, coloured by its result.

    Use it to *see* contention: conflicts (vermillion) bunch up where writers read the
    same version at once, and the gaps between a writer's calls are its back-off sleeps.
    Pass the calls of a single run (one pattern, writer count and seed). Shows *writers*
    if given, else the first *max_writers* writers; time runs from the run's first call.
    Very short calls get a minimum visible width so that none disappears.
    """
    factor = time_factor(unit)
    require(calls, ["writer", "op", "start", "end", "result"], name="calls")
    if calls.empty:
        raise ValueError("calls is empty: there is no store call to plot")
    _require_single_run(calls)
    if max_writers < 1:
        raise ValueError(f"max_writers must be at least 1, got {max_writers!r}")

    all_writers = sorted_groups(calls["writer"])
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

    ax = new_axes(ax)
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
    finish(
        ax,
        title=title or f"Store calls over time, per writer{note}",
        xlabel=f"time since the run's first call ({UNIT_TEXT[unit]})",
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
    kinds = [name for name in RESULT_COLORS if (kind == name).any()]
    describe(ax, alt, f"Each store call of {len(shown)} writers as a bar on its writer's row over "
                      f"{UNIT_TEXT[unit]} since the run's first call, coloured by result ({', '.join(kinds)}).")
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
# Load over time


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


@styled
def plot_load(
    result: Any,
    *,
    bin: float = 0.25,  # noqa: A002 - the timeline's own word
    faults: Sequence[tuple[float, float, str]] | None = None,
    fig: Figure | None = None,
    title: str | None = None,
    alt: str | None = None,
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
    require(timeline, ["start", "offered", "calls", "goodput", "queue_depth", "utilisation"], name="timeline",
            empty=False)
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
    finish(top, title=title or "Load, store work and goodput over time", xlabel="" if has_queue else
           "time since the run's start (s)", ylabel="per second", legend=False)
    top.set_ylim(bottom=0)
    top.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=STYLE["legend.fontsize"])
    if has_queue:
        bottom = axes[1]
        bottom.plot(mid, timeline["queue_depth"], color=LOAD_COLORS["queue_depth"], label="calls waiting")
        finish(bottom, title="", xlabel="time since the run's start (s)", ylabel="calls waiting", legend=False)
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
    queue = " and, below, the calls waiting at the store and how busy its servers were" if has_queue else ""
    shaded = f", {len(windows)} fault window(s) shaded" if windows else ""
    describe(fig, alt, f"Lines of offered saves, store calls and goodput per second over the run's time in "
                       f"seconds{queue}{shaded}.")
    return fig


@styled
def plot_goodput(
    runs: Mapping[str, Any],
    *,
    bin: float = 0.5,  # noqa: A002 - the timeline's own word
    column: str = "goodput",
    faults: Sequence[tuple[float, float, str]] | None = None,
    ax: Axes | None = None,
    title: str | None = None,
    alt: str | None = None,
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
    ax = new_axes(ax)
    styles = styles_for(list(runs))
    timelines = {label: run if isinstance(run, pd.DataFrame) else run.timeline(bin=bin) for label, run in runs.items()}
    first = next(iter(runs.values()))
    windows = list(faults) if faults is not None else ([] if isinstance(first, pd.DataFrame)
                                                        else fault_windows(first.settings))
    shade_faults(ax, windows)
    offered = next(iter(timelines.values()))
    width = float(offered["start"].iloc[1] - offered["start"].iloc[0]) if len(offered) > 1 else bin
    ax.plot(offered["start"] + width / 2, offered["offered"], color=LOAD_COLORS["offered"], linestyle="--",
            linewidth=1.4, label="offered saves")
    for label, timeline in timelines.items():
        require(timeline, ["start", column], name="timeline")
        ax.plot(timeline["start"] + width / 2, timeline[column], label=str(label),
                **styles[label].kwargs(points=len(timeline)))
    ax.set_ylim(bottom=0)
    finish(ax, title=title or f"{column.capitalize()} over time", xlabel="time since the run's start (s)",
           ylabel=f"{column} (per second)", legend=False)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=STYLE["legend.fontsize"])
    describe(ax, alt, f"Lines of {column} per second over the run's time in seconds, one per run "
                      f"({', '.join(map(str, runs))}), beside the dashed offered load, faults shaded.")
    return ax


@styled
def plot_goodput_band(
    runs: Mapping[str, Sequence[Any]],
    *,
    bin: float = 0.5,  # noqa: A002 - the timeline's own word
    column: str = "goodput",
    faults: Sequence[tuple[float, float, str]] | None = None,
    end: float | None = None,
    ax: Axes | None = None,
    title: str | None = None,
    alt: str | None = None,
) -> Axes:
    """A timeline column over time across seeds: per pattern, the median line and the seeds' min-max band.

    Use it instead of :func:`plot_goodput` when the claim is about every seed, not one:
    *runs* maps a pattern's label to its runs of the same scenario (one
    :class:`~aether.experiment.RunResult` or timeline frame per seed; frames need
    *faults*). *end* cuts the x axis (default: the longest timeline). The offered
    rate's median is drawn dashed for reference; the legend sits outside the axes.
    """
    if not runs:
        raise ValueError("runs is empty: there is nothing to plot")
    for label, seeds in runs.items():
        if isinstance(seeds, (str, bytes, pd.DataFrame)) or not isinstance(seeds, Sequence) or not seeds:
            raise TypeError(f"runs[{label!r}] must be a non-empty list of runs (one per seed); got {seeds!r}")
    ax = new_axes(ax)
    styles = styles_for(list(runs))
    first = next(iter(runs.values()))[0]
    windows = list(faults) if faults is not None else ([] if isinstance(first, pd.DataFrame)
                                                        else fault_windows(first.settings))
    shade_faults(ax, windows)
    offered_drawn = False
    for label, seeds in runs.items():
        frames = [run if isinstance(run, pd.DataFrame) else run.timeline(bin=bin) for run in seeds]
        for frame in frames:
            require(frame, ["start", column, "offered"], name="timeline")
        table = pd.concat([f.set_index("start")[column] for f in frames], axis=1).sort_index()
        if end is not None:
            table = table[table.index < end]
        width = float(table.index[1] - table.index[0]) if len(table) > 1 else bin
        x = table.index.to_numpy() + width / 2
        if not offered_drawn:
            offered = pd.concat([f.set_index("start")["offered"] for f in frames], axis=1).sort_index()
            offered = offered[offered.index < end] if end is not None else offered
            ax.plot(offered.index.to_numpy() + width / 2, offered.median(axis=1, skipna=True), linestyle="--",
                    color=LOAD_COLORS["offered"], linewidth=1.4, label="offered saves")
            offered_drawn = True
        look = styles[label]
        seeds_text = f"median of {len(frames)} seeds" if len(frames) > 1 else "1 seed"
        ax.plot(x, table.median(axis=1, skipna=True), label=f"{label} ({seeds_text})",
                **look.kwargs(points=len(table)))
        ax.fill_between(x, table.min(axis=1, skipna=True), table.max(axis=1, skipna=True), color=look.color,
                        alpha=0.18, linewidth=0)
    ax.set_ylim(bottom=0)
    finish(ax, title=title or f"{column.capitalize()} over time, across seeds", xlabel="time since the run's start (s)",
           ylabel=f"{column} (per second)", legend=False)
    several = any(len(seeds) > 1 for seeds in runs.values())
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=STYLE["legend.fontsize"],
              title="band: min-max over seeds" if several else None)
    describe(ax, alt, f"Lines of the median {column} per second over the run's time in seconds, one per pattern "
                      f"({', '.join(map(str, runs))}), each with a band from the lowest to the highest seed, "
                      f"beside the dashed offered load, faults shaded.")
    return ax


# --------------------------------------------------------------------------------------
# Queues and commits over time


@styled
def plot_queue_depth(
    queues: Mapping[str, Any],
    *,
    faults: Sequence[tuple[float, float, str]] = (),
    ax: Axes | None = None,
    title: str | None = None,
    alt: str | None = None,
) -> Axes:
    """Writes waiting in each queue over time, one step line per queue; fault windows shaded.

    *queues* maps a label to anything with ``depth_samples`` (``(time, depth)``
    pairs, as :class:`~aether.patterns.RetryQueue` records them). Each line
    takes its label's colour and line (:func:`~aether.plots.style.style_for`; variants of one
    pattern pinned to its colour keep that colour and take lines of their own).
    """
    if not queues:
        raise ValueError("queues is empty: there is nothing to plot")
    ax = new_axes(ax)
    shade_faults(ax, faults, label_each=False)
    styles = styles_for(list(queues))
    for label, queue in queues.items():
        times, depths = zip(*queue.depth_samples, strict=True)
        ax.step(times, depths, where="post", label=label, **styles[label].kwargs(points=len(times)))
    finish(ax, title=title or "Queue depth", xlabel="time since the run's start (s)",
           ylabel="writes waiting in the queue (count)", legend=False)
    ax.set_ylim(0, None)
    ax.legend(loc="upper left")
    describe(ax, alt, f"Step lines of the writes waiting in each queue ({', '.join(map(str, queues))}) "
                      f"over the run's time in seconds{', faults shaded' if faults else ''}.")
    return ax


@styled
def plot_commits(
    runs: Mapping[str, Any],
    *,
    faults: Sequence[tuple[float, float, str]] = (),
    ax: Axes | None = None,
    title: str | None = None,
    alt: str | None = None,
) -> Axes:
    """Committed saves so far against time, one step line per run (a label to a RunResult); faults shaded.

    Colours and lines as in :func:`plot_queue_depth`; the legend says how many saves each run
    committed. Use it to see when the work of a run lands, e.g. a queue that commits after an outage.
    """
    if not runs:
        raise ValueError("runs is empty: there is nothing to plot")
    ax = new_axes(ax)
    shade_faults(ax, faults, label_each=False)
    styles = styles_for(list(runs))
    for label, result in runs.items():
        saves = result.saves[result.saves["outcome"] == "committed"]
        done = (saves["start"] + saves["commit_delay"]).sort_values().to_numpy()
        ax.step(np.r_[0.0, done], np.arange(len(done) + 1), where="post",
                label=f"{label}: {len(done)} of {len(result.saves)}", **styles[label].kwargs(points=len(done) + 1))
    finish(ax, title=title or "Committed saves so far", xlabel="time since the run's start (s)",
           ylabel="committed saves (count)", legend=False)
    ax.legend(loc="upper left")
    describe(ax, alt, f"Step lines of the saves committed so far over the run's time in seconds, one per run "
                      f"({', '.join(map(str, runs))}){', faults shaded' if faults else ''}.")
    return ax


# --------------------------------------------------------------------------------------
# A circuit breaker's state


def _state_steps(breaker: CircuitBreaker, end: float) -> tuple[list[float], list[int]]:
    """The breaker's state over time as points for a step plot (closed at time 0)."""
    times, levels = [0.0], [STATE_LEVELS[BreakerState.CLOSED]]
    for move in breaker.transitions:
        times.append(move.time)
        levels.append(STATE_LEVELS[move.target])
    times.append(end)
    levels.append(levels[-1])
    return times, levels


@styled
def plot_breaker_states(
    breaker: CircuitBreaker,
    calls: Sequence[tuple[float, str]] = (),
    *,
    end: float,
    faults: Sequence[tuple[float, float, str]] = (),
    ax: Axes | None = None,
    title: str | None = None,
    alt: str | None = None,
) -> Axes:
    """A breaker's state over time (a step line), and below it each call: failure, success or refused.

    Use it to read a breaker's story: how long each open period lasts, which call
    re-opened it, which caller a half-open breaker turned away. *calls* holds
    ``(time, kind)`` pairs with *kind* one of :data:`CALL_MARKS`; *faults* are
    ``(start, end, label)`` windows, shaded grey. Times are seconds on the breaker's clock.
    """
    unknown = sorted({kind for _, kind in calls} - set(CALL_MARKS))
    if unknown:
        raise ValueError(f"call kinds must be among {sorted(CALL_MARKS)}; got {unknown!r}")
    ax = new_axes(ax, figsize=(10, 4.5))
    shade_faults(ax, faults)
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
    finish(ax, title=title or f"State of circuit breaker {breaker.name!r} over time",
           xlabel="time on the breaker's clock (s)", ylabel="state / calls", legend=False)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=STYLE["legend.fontsize"])
    describe(ax, alt, f"A step line of circuit breaker {breaker.name!r} moving between closed, half-open and open "
                      f"over {end:g} s, with {len(calls)} calls below it marked by kind (failure, success, refused).")
    return ax
