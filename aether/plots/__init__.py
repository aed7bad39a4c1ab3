"""The lab's figures, one function per figure, grouped by topic, in one consistent style.

Use these functions whenever a notebook shows the result of an experiment, so that every
chapter draws the same thing the same way: the same colour *and* line for the same
pattern, labelled axes with units, a title, a legend, an alt text and a background that
reads on a dark theme too. They take the tidy DataFrames of :mod:`aether.experiment`:
``saves`` (one row per logical save), ``calls`` (one row per store call), a sweep (one row
per run) or a run's ``timeline(bin)`` (one row per time bin).

Conventions (:mod:`aether.plots.style` says more):

* a function that draws one panel takes ``ax=None`` (a new figure) or an Axes you
  arranged, and returns the Axes; one that draws several panels returns them or the figure;
* every function takes ``alt`` (one sentence: what the figure shows) or builds it, and
  stores it on the figure as ``figure.aether_alt``; read it with :func:`alt_text`;
* time is stored in seconds and shown in ``unit``, ``"ms"`` by default
  (:data:`~aether.plots.style.DEFAULT_UNIT`); the clock of a whole run in seconds.

Latency (:mod:`aether.plots.latency`)
    :func:`plot_latency`: the latency (or time to commit) of every save, one curve per
    pattern, committed counts and percentiles in the legend.
    :func:`committed_counts`: the counts that legend gives.

Retries and waits (:mod:`aether.plots.retries`)
    :func:`plot_retries`: retries per save, bars per pattern.
    :func:`plot_waits`: the sampled waits of one backoff variant per retry number.
    :func:`plot_policy_waits`: an adaptive policy's wait by conflict distance.
    :func:`plot_distance_shares`: how far behind the conflicts of a run were.
    :func:`plot_tier_waits`: the mean wait after a conflict, per distance tier.

Sweeps: many runs (:mod:`aether.plots.sweeps`)
    :func:`plot_sweep`: a run metric against writers or any setting, one line per pattern.
    :func:`plot_outcomes`: the share of saves with one outcome against load.
    :func:`plot_latency_vs_load`: latency against offered load, the hockey stick.
    :func:`plot_baseline`: saves committed and completion time against writers, per store.
    :func:`plot_retry_limits`: give-ups, work and latency against ``max_attempts``.
    :func:`plot_scorecard`: one measurement per pattern and scenario, as a shaded grid;
    :func:`plot_pattern_map`: the winner of every cell of a map, ties marked.

Over the time of one run (:mod:`aether.plots.timelines`)
    :func:`plot_timeline`: every store call as a bar on its writer's row.
    :func:`plot_load`: offered load, store work, goodput and the store's queue over time.
    :func:`plot_goodput`: goodput (or another timeline column) over time, one line per run;
    :func:`plot_goodput_band`: the same across seeds, a median line and a band per pattern.
    :func:`plot_queue_depth`: a retry queue's depth over time.
    :func:`plot_commits`: committed saves so far over time, one line per run.
    :func:`plot_breaker_states`: a circuit breaker's state over time, with its calls.
    :func:`fault_windows`: a run's fault windows, to shade them.

Simulation against reality (:mod:`aether.plots.reality`)
    :func:`plot_ways`: one run metric per pattern, for each way of running.
    :func:`plot_latency_by_way`: latency distributions, one panel per pattern, a curve per way.
    :func:`plot_lock_handoff`: how SQLite hands its write lock to a waiter.
    :func:`plot_timeline_by_way`: an open-loop timeline, one panel per pattern, a line per way.

Retry libraries (:mod:`aether.plots.libraries`)
    :func:`plot_wait_bands`: the spread of waits per retry of several retry policies.

Style (:mod:`aether.plots.style`)
    :func:`style` and :func:`apply_style` for figures you draw yourself, :func:`color_for`
    and :func:`style_for` for a pattern's colour and line, :func:`legend_outside`,
    :func:`save_figure` (identical bytes on every run), :func:`alt_text`; the tables
    :data:`PATTERN_COLORS`, :data:`PATTERN_LINES`, :data:`OUTCOME_STYLES`,
    :data:`RESULT_COLORS`, :data:`LOAD_COLORS`, :data:`PALETTE`.
"""

from aether.plots.latency import committed_counts, plot_latency
from aether.plots.libraries import plot_wait_bands
from aether.plots.reality import (
    WAY_COLORS,
    WAY_LINES,
    plot_latency_by_way,
    plot_lock_handoff,
    plot_timeline_by_way,
    plot_ways,
)
from aether.plots.retries import (
    TIERS,
    plot_distance_by_seed,
    plot_distance_shares,
    plot_policy_waits,
    plot_retries,
    plot_tier_waits,
    plot_waits,
)
from aether.plots.style import (
    DEFAULT_UNIT,
    LOAD_COLORS,
    OUTCOME_STYLES,
    PALETTE,
    PATTERN_COLORS,
    PATTERN_LINES,
    RESULT_COLORS,
    STYLE,
    SWEEP_LABELS,
    TIME_UNITS,
    alt_text,
    apply_style,
    color_for,
    legend_outside,
    save_figure,
    show_alt_text_in_notebooks,
    style,
    style_for,
)
from aether.plots.sweeps import (
    plot_baseline,
    plot_latency_vs_load,
    plot_outcomes,
    plot_pattern_map,
    plot_retry_limits,
    plot_scorecard,
    plot_sweep,
    sweep_label,
)
from aether.plots.timelines import (
    CALL_MARKS,
    STATE_LEVELS,
    fault_windows,
    plot_breaker_states,
    plot_commits,
    plot_goodput,
    plot_goodput_band,
    plot_load,
    plot_queue_depth,
    plot_timeline,
)

#: Every figure function of the package, by topic (the tests check each one's alt text).
FIGURES: tuple[str, ...] = (
    "plot_latency",
    "plot_retries", "plot_waits", "plot_policy_waits", "plot_distance_shares", "plot_distance_by_seed",
    "plot_tier_waits",
    "plot_sweep", "plot_outcomes", "plot_latency_vs_load", "plot_baseline", "plot_retry_limits", "plot_scorecard",
    "plot_pattern_map",
    "plot_timeline", "plot_load", "plot_goodput", "plot_goodput_band", "plot_queue_depth", "plot_commits",
    "plot_breaker_states",
    "plot_ways", "plot_latency_by_way", "plot_lock_handoff", "plot_timeline_by_way",
    "plot_wait_bands",
)

__all__ = [
    "CALL_MARKS",
    "DEFAULT_UNIT",
    "FIGURES",
    "LOAD_COLORS",
    "OUTCOME_STYLES",
    "PALETTE",
    "PATTERN_COLORS",
    "PATTERN_LINES",
    "RESULT_COLORS",
    "STATE_LEVELS",
    "STYLE",
    "SWEEP_LABELS",
    "TIERS",
    "TIME_UNITS",
    "WAY_COLORS",
    "WAY_LINES",
    "alt_text",
    "apply_style",
    "color_for",
    "committed_counts",
    "fault_windows",
    "legend_outside",
    "plot_baseline",
    "plot_breaker_states",
    "plot_commits",
    "plot_distance_by_seed",
    "plot_distance_shares",
    "plot_goodput",
    "plot_goodput_band",
    "plot_latency",
    "plot_latency_by_way",
    "plot_latency_vs_load",
    "plot_load",
    "plot_lock_handoff",
    "plot_outcomes",
    "plot_policy_waits",
    "plot_queue_depth",
    "plot_retries",
    "plot_retry_limits",
    "plot_scorecard",
    "plot_pattern_map",
    "plot_sweep",
    "plot_tier_waits",
    "plot_timeline",
    "plot_timeline_by_way",
    "plot_wait_bands",
    "plot_waits",
    "plot_ways",
    "save_figure",
    "show_alt_text_in_notebooks",
    "style",
    "style_for",
    "sweep_label",
]

show_alt_text_in_notebooks()
