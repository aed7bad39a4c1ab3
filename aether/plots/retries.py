"""Retries and the waits between them: how many retries saves need, and how long patterns wait.

* :func:`plot_retries`: the share of saves with 0, 1, 2 ... retries, bars per pattern;
* :func:`plot_waits`: the sampled waits of one backoff variant against the retry number;
* :func:`plot_policy_waits`: the wait an adaptive policy asks for, by conflict distance;
* :func:`plot_distance_shares`: how far behind the conflicts of a run were;
* :func:`plot_distance_by_seed`: the share of conflicts at distance 1, 2, 3 or more, one point per seed;
* :func:`plot_tier_waits`: the mean wait after a conflict, by the conflict's distance tier.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib import ticker
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from aether.plots.style import (
    DEFAULT_UNIT,
    PALETTE,
    STYLE,
    UNIT_TEXT,
    by_label,
    color_for,
    describe,
    finish,
    new_axes,
    require,
    sorted_groups,
    styled,
    styles_for,
    time_factor,
)

__all__ = ["TIERS", "plot_distance_by_seed", "plot_distance_shares", "plot_policy_waits", "plot_retries",
           "plot_tier_waits", "plot_waits"]

#: The default adaptive policy's tiers: (name, lowest distance - 0.5, highest distance + 0.5).
TIERS: tuple[tuple[str, float, float], ...] = (("light", 0.5, 2.5), ("moderate", 2.5, 10.5), ("high", 10.5, 25.5))
_TIER_SHADES = ("#EEEEEE", "#DDDDDD", "#CCCCCC")  # greys: the tiers are not a pattern, an outcome or a load series
_RETRY_LINES = ("-", "--", ":")


@styled
def plot_retries(
    saves: pd.DataFrame,
    *,
    by: str = "pattern",
    cap: int = 10,
    outcomes: Sequence[str] | None = None,
    ax: Axes | None = None,
    title: str | None = None,
    alt: str | None = None,
) -> Axes:
    """How many retries each save needed: share of saves with 0, 1, 2, ... retries, bars per group.

    Use it to see whether a pattern resolves conflicts in one retry or drags a long tail.
    Counts of *cap* or more share the last bar, labelled ``"≥cap"``, so a runaway pattern
    does not squeeze the others. All outcomes count by default (a save that gave up
    after 5 retries did retry 5 times); pass ``outcomes=("committed",)`` to narrow.
    """
    if cap < 1:
        raise ValueError(f"cap must be at least 1, got {cap!r}")
    require(saves, [by, "retries"] + (["outcome"] if outcomes is not None else []), name="saves")
    if saves.empty:
        raise ValueError("saves is empty: there are no retries to plot")
    groups = sorted_groups(saves[by])
    selected = saves if outcomes is None else saves[saves["outcome"].isin(list(outcomes))]
    retries = selected["retries"].astype(float).clip(upper=cap)
    top = int(retries.max()) if len(retries.dropna()) else 0
    buckets = np.arange(top + 1)

    ax = new_axes(ax)
    styles = styles_for(groups)
    width = 0.8 / len(groups)
    for i, group in enumerate(groups):
        counts = retries[selected[by] == group].value_counts()
        total = counts.sum()
        shares = [100.0 * counts.get(float(b), 0) / total if total else 0.0 for b in buckets]
        offset = (i - (len(groups) - 1) / 2) * width
        label = str(group) if total else f"{group}: no saves"
        ax.bar(buckets + offset, shares, width=width, color=styles[group].color, label=label)
    labels = [str(b) for b in buckets]
    if top == cap:
        labels[-1] = f"≥{cap}"
    ax.set_xticks(buckets, labels)
    ax.set_ylim(0, None)
    finish(
        ax,
        title=title or f"Retries per save, by {by}",
        xlabel="retries of one logical save (count)",
        ylabel="share of saves (%)",
        legend=True,
        legend_title=by_label(by),
    )
    describe(ax, alt, f"Bars of the share of saves that needed 0, 1, 2 or more retries (≥{cap} together), "
                      f"side by side for each {by} ({', '.join(map(str, groups))}).")
    return ax


@styled
def plot_waits(
    waits: pd.DataFrame,
    *,
    base: float,
    cap: float,
    savers: int = 300,
    floor: float = 0.0005,
    unit: str = DEFAULT_UNIT,
    seed: int = 0,
    ax: Axes | None = None,
    title: str | None = None,
    alt: str | None = None,
) -> Axes:
    """The sampled waits of one backoff variant against the retry number, with ``v = min(cap, base * 2**n)``.

    *waits* has the columns ``pattern`` (one variant), ``saver``, ``retry`` (0 for the first
    retry) and ``wait`` (seconds); the first *savers* savers are drawn, as dots spread a little
    sideways (by a generator seeded with *seed*) so that they do not hide each other. A variant
    whose every saver waits the same (no jitter) is drawn as large dots on top. Waits shorter
    than *floor* seconds sit on the bottom edge of the log scale. Use it to show what a jitter
    does to the waits, one variant per panel.
    """
    factor = time_factor(unit)
    require(waits, ["pattern", "saver", "retry", "wait"], name="waits")
    names = waits["pattern"].unique()
    if len(names) != 1:
        raise ValueError(f"waits must hold one variant; got {sorted(map(str, names))}")
    name = str(names[0])
    sample = waits[waits["saver"] < savers]
    ax = new_axes(ax)
    exact = bool((sample.groupby("retry")["wait"].nunique() == 1).all())
    rng = np.random.default_rng(seed)
    shift = 0.0 if exact else rng.uniform(-0.3, 0.3, len(sample))
    ax.scatter(sample["retry"] + shift, np.maximum(sample["wait"].to_numpy(float), floor) * factor,
               s=40 if exact else 5, alpha=1 if exact else 0.25, color=color_for(name), zorder=3 if exact else 1)
    retries = np.arange(int(waits["retry"].max()) + 1)
    ax.plot(retries, np.minimum(cap, base * 2.0 ** retries) * factor, "--", color="#333333", linewidth=1.5,
            label="v = min(cap, base·2ⁿ)")
    ax.set_yscale("log")
    ax.set_ylim(floor * factor * 0.8, 2 * cap * factor)
    ax.set_xticks(retries)
    finish(ax, title=title or name, xlabel="retry number n (count)",
           ylabel=f"wait before the retry ({UNIT_TEXT[unit]})", legend=True)
    ax.title.set_fontsize(STYLE["font.size"] + 1)
    describe(ax, alt, f"Dots of the waits {name} drew before each retry number, on a log scale in "
                      f"{UNIT_TEXT[unit]}, beside the dashed exponential delay min(cap, base·2ⁿ).")
    return ax


def _log_ticks(ax: Axes, ticks_ms: Sequence[float], low_ms: float, high_ms: float, factor: float) -> None:
    """A log y axis from *low_ms* to *high_ms*, ticked at *ticks_ms* (all in ms), shown in the unit of *factor*."""
    ax.set_yscale("log")
    scale = factor / 1000.0
    ax.set_ylim(low_ms * scale, high_ms * scale)
    ax.yaxis.set_major_locator(ticker.FixedLocator([t * scale for t in ticks_ms]))
    ax.yaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:g}"))
    ax.yaxis.set_minor_formatter(ticker.NullFormatter())


@styled
def plot_policy_waits(
    waits: pd.DataFrame,
    *,
    unit: str = DEFAULT_UNIT,
    ax: Axes | None = None,
    title: str | None = None,
    alt: str | None = None,
) -> Axes:
    """The wait before retry 1, 2, 3 by conflict distance: one step line per retry, tiers shaded.

    *waits* has columns ``distance``, ``retry`` and ``wait`` (seconds), one row per pair.
    Use it to show an adaptive policy's table of waits as a picture.
    """
    factor = time_factor(unit)
    require(waits, ["distance", "retry", "wait"], name="waits", empty=False)
    ax = new_axes(ax)
    for (tier, low, high), shade in zip(TIERS, _TIER_SHADES, strict=True):
        ax.axvspan(low, high, color=shade, zorder=0)
        ax.text((low + high) / 2, 3.0 * factor, tier, ha="center", va="top", fontsize=13)
    for i, (retry, rows) in enumerate(waits.groupby("retry", sort=True)):
        ax.step(rows["distance"], factor * rows["wait"], where="mid", linestyle=_RETRY_LINES[i % 3],
                linewidth=2.6, color=PALETTE[i % len(PALETTE)], label=f"retry {retry}")
    _log_ticks(ax, [50, 100, 200, 500, 1000, 2000], 30, 3200, factor)
    ax.set_xlim(0.5, float(waits["distance"].max()) + 0.5)
    finish(ax, title=title or "adaptive_delay: the wait after a conflict, by distance",
           xlabel="conflict distance (commits since our read)",
           ylabel=f"wait before the retry ({UNIT_TEXT[unit]})", legend=False)
    ax.legend(title="before", loc="lower right")
    describe(ax, alt, f"Step lines of the wait before each retry against the conflict's distance, "
                      f"one per retry number, on a log scale in {UNIT_TEXT[unit]}, the light, moderate "
                      f"and high tiers shaded.")
    return ax


@styled
def plot_distance_shares(
    distances: pd.DataFrame,
    *,
    panel: str = "network",
    by: str = "writers",
    top: int = 12,
    title: str | None = None,
    alt: str | None = None,
) -> Figure:
    """Share of conflicts at each distance, one panel per *panel* value and one bar per *by* value.

    *distances* has one row per conflict, with ``distance``, *panel* and *by*
    columns. Distances of *top* or more share the last bar. Returns the figure.
    Use it to see how far behind the conflicts of a run were, and how that grows with the crowd.
    """
    require(distances, ["distance", panel, by], name="distances", empty=False)
    panels = list(dict.fromkeys(distances[panel]))
    crowd = sorted(distances[by].unique())
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
    describe(fig, alt, f"Bars of the share of conflicts at each distance (1 to ≥{top} commits since the read), "
                       f"one panel per {panel} and one bar per {by}, the distance tiers shaded.")
    return fig


_DISTANCE_MARKERS = ("o", "s", "^", "D")
_DISTANCE_SHADES = ("#333333", "#7A7A7A", "#B0B0B0", "#D0D0D0")  # greys: a distance is not a pattern or an outcome


@styled
def plot_distance_by_seed(
    runs: pd.DataFrame,
    *,
    shares: Sequence[str],
    x: str = "writers",
    ax: Axes | None = None,
    title: str | None = None,
    alt: str | None = None,
) -> Axes:
    """The share of a run's conflicts in each distance bucket, one point per run (seed) and a bar for the mean.

    *runs* has one row per run, an *x* column (the writer count) and one column per
    name in *shares*, each a share of the run's conflicts (0-1), such as
    ``"distance 1"``, ``"distance 2"``, ``"distance 3+"``. Use it to show what
    distances a store really produces, and how much they vary from seed to seed.
    """
    shares = list(shares)
    if not shares:
        raise ValueError("shares must name at least one column of runs; got none")
    require(runs, [x, *shares], name="runs", empty=False)
    ax = new_axes(ax)
    xs = sorted_groups(runs[x])
    positions = np.arange(len(xs))
    width = 0.8 / len(shares)
    rng = np.random.default_rng(0)
    for i, column in enumerate(shares):
        color, marker = _DISTANCE_SHADES[i % len(_DISTANCE_SHADES)], _DISTANCE_MARKERS[i % len(_DISTANCE_MARKERS)]
        offset = (i - (len(shares) - 1) / 2) * width
        for position, value in zip(positions, xs, strict=True):
            values = 100 * runs.loc[runs[x] == value, column].to_numpy(float)
            spread = rng.uniform(-width / 4, width / 4, len(values))
            ax.scatter(position + offset + spread, values, s=22, alpha=0.6, color=color, marker=marker,
                       label=column if position == positions[0] else None, zorder=3)
            ax.hlines(values.mean(), position + offset - width / 2.5, position + offset + width / 2.5,
                      color=color, linewidth=2.5, zorder=4)
    ax.set_xticks(positions, [str(v) for v in xs])
    ax.set_ylim(-3, 103)
    finish(ax, title=title or "Distance of the conflicts, per run", xlabel=by_label(x),
           ylabel="share of the run's conflicts (%)", legend=True, legend_title="one point per seed, bar: mean")
    describe(ax, alt, f"Points of the share of each run's conflicts at {', '.join(shares)}, one point per seed, "
                      f"grouped by {x}, with a bar at each group's mean.")
    return ax


@styled
def plot_tier_waits(
    waits: pd.DataFrame,
    *,
    by: str = "pattern",
    unit: str = DEFAULT_UNIT,
    ax: Axes | None = None,
    title: str | None = None,
    alt: str | None = None,
) -> Axes:
    """Mean wait after a conflict per distance tier, one bar per *by* group, labelled with its count.

    *waits* has one row per retried conflict with ``tier`` (light, moderate,
    high), ``wait`` (seconds) and *by* columns. Use it to check that a policy waits
    longer after the conflicts that say the actor is busier.
    """
    factor = time_factor(unit)
    require(waits, ["tier", "wait", by], name="waits", empty=False)
    names = list(dict.fromkeys(waits[by]))
    styles = styles_for(names)
    tiers = [t for t, _, _ in TIERS]
    ax = new_axes(ax)
    width = 0.8 / len(names)
    for i, name in enumerate(names):
        rows = waits[waits[by] == name]
        stats = rows.groupby("tier", observed=False)["wait"].agg(["mean", "size"]).reindex(tiers)
        bars = ax.bar(np.arange(len(tiers)) + (i - (len(names) - 1) / 2) * width,
                      factor * stats["mean"].fillna(0), width=width, color=styles[name].color, label=name)
        ax.bar_label(bars, labels=[f"n={int(n)}" for n in stats["size"].fillna(0)], fontsize=10, padding=2)
    ax.set_xticks(np.arange(len(tiers)), ["light (1-2)", "moderate (3-10)", "high (>10)"])
    _log_ticks(ax, [10, 20, 50, 100, 200, 500, 1000, 2000], 10, 2500, factor)
    finish(ax, title=title or "Mean wait after a conflict, by its distance",
           xlabel="tier of the conflict's distance", ylabel=f"mean wait before the retry ({UNIT_TEXT[unit]})",
           legend=False)
    ax.grid(False, axis="x")
    ax.legend(title=by, loc="upper left")
    describe(ax, alt, f"Bars of the mean wait after a conflict in each distance tier (light, moderate, high), "
                      f"one bar per {by} ({', '.join(map(str, names))}), on a log scale in {UNIT_TEXT[unit]}.")
    return ax
