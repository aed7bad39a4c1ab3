"""The lab's look, shared by every figure of :mod:`aether.plots`, and the helpers the figures share.

Use it for figures you draw yourself, so they match the lab's: :func:`style` (a context
manager) or :func:`apply_style`, :func:`style_for` for a pattern's colour and line, and
:func:`save_figure` to write a file that is byte-for-byte the same on every run.

Conventions every figure function of the package follows:

* **Time** is stored in seconds in every table and shown in ``unit`` (one of
  :data:`TIME_UNITS`), which defaults to :data:`DEFAULT_UNIT` (milliseconds) everywhere.
  The clock of a whole run (the x axis of load, goodput or a breaker over time) is in seconds.
* **A pattern keeps one colour and one line** (line style and marker) in every figure of the
  collection (:data:`PATTERN_COLORS`, :data:`PATTERN_LINES`), so two lines never differ by
  colour alone and stay apart under colour blindness. Outcomes have their own table
  (:data:`OUTCOME_STYLES`).
* **Alt text**: every figure function takes ``alt`` (one sentence: what the figure shows) or
  builds one, and stores it on the figure it drew as ``figure.aether_alt``; read it with
  :func:`alt_text`, whatever the function returned. Drawn into a panel of a figure that
  already has alt text, the sentence is appended. :func:`save_figure` writes it into the
  file's description.
* **Background**: figures and axes are filled with an opaque light colour, so they read on a
  dark notebook theme too.
"""

from __future__ import annotations

import contextlib
import functools
import zlib
from collections.abc import Callable, Hashable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, NamedTuple, ParamSpec, TypeVar, cast

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from cycler import cycler
from matplotlib import ticker
from matplotlib.axes import Axes
from matplotlib.figure import Figure, SubFigure

from aether.checks import check_choice, check_text

__all__ = [
    "BACKGROUND",
    "DEFAULT_UNIT",
    "LINES",
    "LOAD_COLORS",
    "OUTCOME_STYLES",
    "PALETTE",
    "PATTERN_COLORS",
    "PATTERN_LINES",
    "RESULT_COLORS",
    "STYLE",
    "SWEEP_LABELS",
    "TIME_COLUMNS",
    "TIME_UNITS",
    "UNIT_TEXT",
    "LineStyle",
    "SeriesStyle",
    "alt_text",
    "apply_style",
    "by_label",
    "color_for",
    "describe",
    "few_numeric_ticks",
    "figure_of",
    "finish",
    "format_time",
    "legend_outside",
    "new_axes",
    "plain_log_axis",
    "require",
    "save_figure",
    "shade_faults",
    "sorted_groups",
    "style",
    "style_for",
    "styled",
    "styles_for",
    "time_factor",
]

# --------------------------------------------------------------------------------------
# Colours and lines
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

#: The opaque light fill of every figure and axes, so figures read on a dark theme too.
BACKGROUND = "#FFFFFF"

#: Colours pinned to the lab's pattern names, so they look the same in every notebook;
#: :func:`color_for` derives a stable colour for any other name. Add an entry to pin another
#: (a chapter's own label for a pattern: ``PATTERN_COLORS["mine"] = PATTERN_COLORS["full jitter"]``;
#: the label then takes that pattern's line too).
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
    "equal jitter": "#88CCEE",
    "decorrelated jitter": "#999933",
    "adaptive_retry": "#882255",
    "queued_writes": "#332288",
    "retry queue": "#332288",
    # variants of the retry queue that chapter 05 compares with it, each with a colour of its own
    "queue, 4 workers": "#77AADD",
    "queue, bounded": "#225555",
    "circuit_breaker": "#56B4E9",
    "circuit breaker": "#56B4E9",
    # chapter 06's ordinary clients: 11 jittered attempts is retry_on_failure as chapters 06-07 run it;
    # the breaker's loop without a breaker is 11 attempts without jitter; 3 capped attempts a colour of its own
    # (matplotlib's grey)
    "jittered, 11 attempts": "#CC6677",
    "no breaker": "#E69F00",
    "jittered, 3 attempts": "#7F7F7F",
    "retry budget": "#AA4499",
    "budgeted_retry": "#AA4499",
    "adaptive_throttling": "#117733",
    "adaptive throttling": "#117733",
    "retry_on_failure": "#CC6677",
    "retry at once": "#CC6677",
    # server-side defences against a retry storm (chapter 08)
    "bounded queue": "#BBCC33",
    "deadline + drop": "#661100",
    # chapter 10's labels for the same patterns (its map names each contender in words)
    "no retry": "#000000",
    "simple": "#0072B2",
    "conflict-detailed": "#CC79A7",
    "adaptive": "#882255",
    "retry failures + jitter": "#CC6677",
    "backoff + budget": "#AA4499",
    "backoff + breaker": "#56B4E9",
    # chapter 10's retries that outlast its one-second outage (Paul Tol's teal; ColorBrewer's brown)
    "patient jitter": "#44AA99",
    "patient jitter + budget": "#B15928",
    # retry libraries' and SDKs' defaults (chapter 11): Paul Tol's dark red, orange, dark blue, magenta,
    # and dark yellow
    "stamina defaults": "#994455",
    "jitter_retry, 100 ms base": "#EE7733",
    "Go v2 / JS, pre-2026 (cap after jitter)": "#004488",
    "botocore 1.34.107+, pre-2026 (cap first, 1 s base)": "#EE3377",
    "2026 (cap first, 50 ms base)": "#997700",
    # the two answers of chapter 00's loser: the Go examples' blind re-append, and the command retry
    "blind re-append": "#BB5566",
    "re-decide": "#6699CC",
    # chapter 07: the AWS SDK's retry loop with its quota is the retry budget, without it the retry of
    # failures with jitter; the loop of 11 quick attempts, with and without the quota, has colours of its own
    # (with the quota: matplotlib's brown)
    "SDK loop + quota": "#AA4499",
    "SDK loop alone": "#CC6677",
    "11 quick attempts + quota": "#8C564B",
    "11 quick attempts alone": "#AA3377",
}


class LineStyle(NamedTuple):
    """How a series' line looks apart from its colour: a matplotlib line style and marker."""

    linestyle: str
    marker: str


class SeriesStyle(NamedTuple):
    """Everything that tells one series from another: colour, line style and marker."""

    color: str
    linestyle: str
    marker: str

    def kwargs(self, points: int | None = None) -> dict[str, Any]:
        """Keyword arguments for ``Axes.plot`` / ``Axes.step``.

        With *points* (the line's length), a long line carries its marker at about eight
        places rather than at every point.
        """
        look: dict[str, Any] = {"color": self.color, "linestyle": self.linestyle, "marker": self.marker}
        if points is not None and points > 12:
            look["markevery"] = max(1, points // 8)
        return look


#: Every line a series can take, in the order :func:`styles_for` hands them out on a clash:
#: four line styles times six markers, so no two of the first 24 series look alike in grey.
LINES: tuple[LineStyle, ...] = tuple(
    LineStyle(linestyle, marker)
    for marker in ("o", "s", "^", "D", "v", "P")
    for linestyle in ("-", "--", "-.", ":")
)

#: The line of each pattern: one pattern, one line style and marker in every figure, and no
#: two patterns of different colours share a line (so they stay apart when colours merge,
#: as under deuteranopia). Aliases of one pattern (``"jitter_retry"``, ``"full jitter"``)
#: share its colour and its line.
PATTERN_LINES: dict[str, LineStyle] = {
    "no_retry": LineStyle(":", "h"),
    "immediate_retry": LineStyle(":", "h"),
    "no backoff": LineStyle(":", "h"),
    "no retries": LineStyle(":", "h"),
    "simple_retry": LineStyle("-", "o"),
    "conflict_detailed_retry": LineStyle("--", "s"),
    "jitter_retry": LineStyle("-", "^"),
    "full jitter": LineStyle("-", "^"),
    "no jitter": LineStyle("--", "o"),
    "equal jitter": LineStyle("-.", "v"),
    "decorrelated jitter": LineStyle(":", "D"),
    "adaptive_retry": LineStyle("-.", "D"),
    "queued_writes": LineStyle("--", "P"),
    "retry queue": LineStyle("--", "P"),
    "queue, 4 workers": LineStyle("-.", "X"),
    "queue, bounded": LineStyle(":", "*"),
    "circuit_breaker": LineStyle("-", "s"),
    "circuit breaker": LineStyle("-", "s"),
    "jittered, 11 attempts": LineStyle(":", "v"),
    "no breaker": LineStyle("--", "o"),
    "jittered, 3 attempts": LineStyle("--", "d"),
    "retry budget": LineStyle("--", "^"),
    "budgeted_retry": LineStyle("--", "^"),
    "adaptive_throttling": LineStyle("-.", "o"),
    "adaptive throttling": LineStyle("-.", "o"),
    "retry_on_failure": LineStyle(":", "v"),
    "retry at once": LineStyle(":", "v"),
    "bounded queue": LineStyle("--", "X"),
    "deadline + drop": LineStyle("-", "P"),
    # chapter 10's labels: each the line of the pattern it names
    "no retry": LineStyle(":", "h"),
    "simple": LineStyle("-", "o"),
    "conflict-detailed": LineStyle("--", "s"),
    "adaptive": LineStyle("-.", "D"),
    "retry failures + jitter": LineStyle(":", "v"),
    "backoff + budget": LineStyle("--", "^"),
    "backoff + breaker": LineStyle("-", "s"),
    "patient jitter": LineStyle("-", "X"),
    "patient jitter + budget": LineStyle("-.", "P"),
    "stamina defaults": LineStyle("--", "D"),
    "jitter_retry, 100 ms base": LineStyle("-.", "^"),
    "Go v2 / JS, pre-2026 (cap after jitter)": LineStyle("-.", "s"),
    "botocore 1.34.107+, pre-2026 (cap first, 1 s base)": LineStyle(":", "s"),
    "2026 (cap first, 50 ms base)": LineStyle(":", "P"),
    "blind re-append": LineStyle("--", "v"),
    "re-decide": LineStyle("-", "D"),
    "SDK loop + quota": LineStyle("--", "^"),
    "SDK loop alone": LineStyle(":", "v"),
    "11 quick attempts + quota": LineStyle("-.", "<"),
    "11 quick attempts alone": LineStyle(":", "o"),
}

#: The look of each save outcome when a figure is split by outcome (``by="outcome"``):
#: success solid and green, the ways a save ends without committing each with its own
#: colour, line style and marker. ``refused`` (the command's decision said no),
#: ``deadline`` (the save's deadline passed) and ``expired`` (a queued write outlived its
#: time) sit beside the older outcomes. No outcome takes a pattern's colour (a green
#: "committed" is not full jitter's green, "gave up" is not the black of "no retry").
OUTCOME_STYLES: dict[str, SeriesStyle] = {
    "committed": SeriesStyle("#4DAC26", "-", "o"),
    "gave_up": SeriesStyle("#B2182B", "--", "x"),
    "failed": SeriesStyle("#D55E00", "-.", "s"),
    "rejected": SeriesStyle("#762A83", ":", "v"),
    "refused": SeriesStyle("#053061", "--", "D"),
    "deadline": SeriesStyle("#8C510A", "-.", "^"),
    "expired": SeriesStyle("#BF812D", ":", "P"),
    "dead_letter": SeriesStyle("#8E0152", "--", "*"),
    "queued": SeriesStyle("#4393C3", ":", "o"),
    "pending": SeriesStyle("#9A9A9A", ":", "s"),
    "error": SeriesStyle("#40004B", "-", "X"),
}

#: Colour of each kind of store call in :func:`~aether.plots.plot_timeline`.
RESULT_COLORS: dict[str, str] = {
    "write ok": "#4DAC26",
    "conflict": "#D55E00",
    "read": "#9A9A9A",
    "unavailable": "#DDCC77",
    "timeout": "#8C510A",
    "overloaded": "#762A83",
    "error": "#40004B",
}

#: Colours of the series of :func:`~aether.plots.plot_load` (load, work and goodput), and of faults.
LOAD_COLORS: dict[str, str] = {
    "offered": "#000000",
    "calls": "#666666",
    "goodput": "#4DAC26",
    "queue_depth": "#0072B2",
    "utilisation": "#E69F00",
    "fault": "#BDBDBD",
}

#: Matplotlib settings of the lab's look: large enough to read on a projector, opaque and light.
STYLE: dict[str, Any] = {
    "figure.figsize": (9.0, 5.0),
    "figure.dpi": 100,
    "figure.constrained_layout.use": True,
    "figure.facecolor": BACKGROUND,
    "axes.facecolor": BACKGROUND,
    "savefig.facecolor": BACKGROUND,
    "savefig.transparent": False,
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

# --------------------------------------------------------------------------------------
# Units and labels
# --------------------------------------------------------------------------------------

#: Time units accepted by ``unit=``, as the factor from seconds.
TIME_UNITS: dict[str, float] = {"s": 1.0, "ms": 1e3, "us": 1e6}

#: The unit every figure shows durations in unless given another ``unit``.
DEFAULT_UNIT = "ms"

#: How each unit is written on an axis.
UNIT_TEXT: dict[str, str] = {"s": "s", "ms": "ms", "us": "µs"}

#: Readable axis label of each sweep column; ``{unit}`` marks the time columns.
SWEEP_LABELS: dict[str, str] = {
    "writers": "concurrent writers (count)",
    "seed": "seed",
    "committed": "committed saves (count)",
    "failed": "failed saves (count)",
    "p50": "median latency of every save, p50 ({unit})",
    "p95": "p95 latency of every save ({unit})",
    "p99": "p99 latency of every save ({unit})",
    "p50_committed": "median latency of committed saves, p50 ({unit})",
    "p95_committed": "p95 latency of committed saves ({unit})",
    "p99_committed": "p99 latency of committed saves ({unit})",
    "commit_delay_p50": "median time to commit, p50 ({unit})",
    "commit_delay_p95": "p95 time to commit ({unit})",
    "commit_delay_p99": "p99 time to commit ({unit})",
    "refused": "refused saves (count)",
    "deadlines": "saves past their deadline (count)",
    "expired": "calls dropped at the store, caller gone (count)",
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
    "mean_latency": "mean latency of every save ({unit})",
    "mean_latency_committed": "mean latency of committed saves ({unit})",
    "latency": "latency ({unit})",
    "timeouts": "timed-out calls (count)",
    "overloaded": "calls refused by a full queue (count)",
    "failure_rate": "store failure rate (fraction of calls)",
    "success_rate": "saves that succeed (fraction)",
    "calls_per_save": "store calls per save (load)",
}

#: The summary columns that hold seconds, shown in ``unit`` by the figures.
TIME_COLUMNS: frozenset[str] = frozenset(
    {
        "p50", "p95", "p99", "p50_all", "p95_all", "p99_all", "p50_committed", "p95_committed", "p99_committed",
        "commit_delay_p50", "commit_delay_p95", "commit_delay_p99", "makespan", "mean_queue_wait", "mean_latency",
        "mean_latency_committed", "latency",
    }
)

_P = ParamSpec("_P")
_R = TypeVar("_R")


# --------------------------------------------------------------------------------------
# The look
# --------------------------------------------------------------------------------------


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


def styled(func: Callable[_P, _R]) -> Callable[_P, _R]:
    """Run a plotting function inside :func:`style`, so every artist it creates gets the lab's look."""

    @functools.wraps(func)
    def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        with style():
            return func(*args, **kwargs)

    return wrapper


def _checksum(text: str) -> int:
    """A stable checksum of *text* (not Python's salted ``hash``), the same on every machine."""
    return zlib.crc32(text.encode("utf-8"))


def color_for(name: object) -> str:
    """The colour of a pattern, outcome or any group name: the same name always gets the same colour.

    A name pinned in :data:`PATTERN_COLORS` (or an outcome of :data:`OUTCOME_STYLES`) gets its
    pinned colour; any other name gets a palette colour chosen by a stable checksum of its
    text, so figures agree across notebooks, runs and machines.
    """
    key = str(name)
    if key in PATTERN_COLORS:
        return PATTERN_COLORS[key]
    if key in OUTCOME_STYLES:
        return OUTCOME_STYLES[key].color
    return PALETTE[_checksum(key) % (len(PALETTE) - 1)]  # yellow only on demand


def style_for(name: object) -> SeriesStyle:
    """The colour, line style and marker of a pattern, outcome or any group name.

    A pattern of :data:`PATTERN_LINES` keeps its line; a name pinned only in
    :data:`PATTERN_COLORS` takes the line of the pattern whose colour it was given (it is
    that pattern under another label); an outcome takes :data:`OUTCOME_STYLES`; any other
    name a line chosen by a stable checksum of its text.
    """
    key = str(name)
    if key not in PATTERN_COLORS and key in OUTCOME_STYLES:
        return OUTCOME_STYLES[key]
    color = color_for(key)
    line = PATTERN_LINES.get(key)
    if line is None and key in PATTERN_COLORS:
        line = next((PATTERN_LINES[n] for n, c in PATTERN_COLORS.items() if c == color and n in PATTERN_LINES), None)
    if line is None:
        line = LINES[_checksum(key) % len(LINES)]
    return SeriesStyle(color, line.linestyle, line.marker)


def styles_for(groups: Sequence[Hashable]) -> dict[Hashable, SeriesStyle]:
    """A style per group, no two alike in one figure: each group's own style unless an earlier group took it.

    No two groups of one figure share a line (line style and marker), so they stay apart
    without colour: on a clash the later group takes the next free line of :data:`LINES`.
    On a clash of colours the later group takes the next free palette colour (yellow last),
    unless its colour is pinned (variants of one pattern keep the pattern's colour and
    differ by line only).
    """
    styles: dict[Hashable, SeriesStyle] = {}
    for group in groups:
        preferred = style_for(group)
        taken_colors = {s.color for s in styles.values()}
        pinned = str(group) in PATTERN_COLORS or str(group) in OUTCOME_STYLES
        if preferred.color in taken_colors and not pinned:
            start = PALETTE.index(preferred.color) if preferred.color in PALETTE else 0
            free = [PALETTE[(start + i) % len(PALETTE)] for i in range(len(PALETTE))]
            free = [c for c in free if c not in taken_colors]
            # Yellow (the palette's last colour) is hard to see on white: take it only when nothing else is free.
            free.sort(key=lambda c: c == PALETTE[-1])
            if free:
                preferred = preferred._replace(color=free[0])
        taken_lines = {LineStyle(s.linestyle, s.marker) for s in styles.values()}
        own = LineStyle(preferred.linestyle, preferred.marker)
        if own in taken_lines:
            start = LINES.index(own) if own in LINES else -1
            free_lines = [LINES[(start + i) % len(LINES)] for i in range(1, len(LINES) + 1)]
            line = next((candidate for candidate in free_lines if candidate not in taken_lines), own)
            preferred = preferred._replace(linestyle=line.linestyle, marker=line.marker)
        styles[group] = preferred
    return styles


# --------------------------------------------------------------------------------------
# Alt text and background
# --------------------------------------------------------------------------------------


def figure_of(drawn: Any) -> Figure:
    """The figure that a figure function drew on, from what it returned (Figure, Axes, a tuple or array of them)."""
    if isinstance(drawn, Figure):
        return drawn
    if isinstance(drawn, SubFigure):
        return cast(Figure, drawn.get_figure(root=True))
    if isinstance(drawn, Axes):
        figure = drawn.get_figure(root=True)
        if isinstance(figure, Figure):
            return figure
    if isinstance(drawn, (tuple, list, np.ndarray)):
        items = list(np.asarray(drawn, dtype=object).flat) if isinstance(drawn, np.ndarray) else list(drawn)
        if items:
            return figure_of(items[0])
    raise TypeError(f"drawn must be a Figure, an Axes or a sequence of Axes; got {type(drawn).__name__}")


def describe(drawn: Any, alt: str | None, default: str) -> None:
    """Store the alt text (*alt*, or *default* when None) on the figure *drawn* belongs to, and make it opaque.

    The text goes to ``figure.aether_alt`` (appended after a sentence another function
    already stored there, when several functions draw panels of one figure) and, where
    the matplotlib version has it, to ``figure.set_alt_text``. The figure and every axes
    of it get the opaque light :data:`BACKGROUND`.
    """
    text = default if alt is None else check_text("alt", alt)
    figure = figure_of(drawn)
    previous = getattr(figure, "aether_alt", None)
    combined = text if not previous or previous == text else f"{previous} {text}"
    figure.aether_alt = combined  # type: ignore[attr-defined]
    setter = getattr(figure, "set_alt_text", None)
    if callable(setter):
        setter(combined)
    figure.set_facecolor(BACKGROUND)
    for ax in figure.axes:
        ax.set_facecolor(BACKGROUND)


def show_alt_text_in_notebooks() -> bool:
    """Make a notebook carry each figure's alt text in its output's metadata; True if in IPython.

    The inline backend turns a figure into a PNG without its alt text. This wraps
    the PNG formatter IPython uses for figures so the output also carries
    ``{"image/png": {"alt": ...}}`` (the text :func:`describe` stored), which the
    collection's site and screen readers of rendered notebooks use. The PNG bytes
    are the formatter's own. The backend registers its formatter only when the
    first figure is drawn, so the wrapper is (re)applied after every cell, before
    the backend shows that cell's figures. :mod:`aether.plots` calls this on import.
    """
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    if shell is None or not hasattr(shell, "display_formatter"):
        return False
    formatter = shell.display_formatter.formatters["image/png"]

    def wrap(*_: Any) -> None:
        current = formatter.type_printers.get(Figure)
        if current is None or getattr(current, "aether_alt_wrapper", False):
            return

        def png_with_alt(figure: Figure) -> Any:
            data = current(figure)
            text = getattr(figure, "aether_alt", None)
            return (data, {"alt": text}) if data is not None and text else data

        png_with_alt.aether_alt_wrapper = True  # type: ignore[attr-defined]
        formatter.for_type(Figure, png_with_alt)

    if not getattr(shell, "aether_alt_hooked", False):
        shell.aether_alt_hooked = True
        shell.events.register("post_execute", wrap)
    wrap()
    return True


def alt_text(drawn: Any) -> str:
    """The alt text a figure function stored (one sentence per panel it drew); '' if none.

    Pass what the function returned (a Figure, an Axes, or a tuple or array of Axes).
    """
    return str(getattr(figure_of(drawn), "aether_alt", ""))


# --------------------------------------------------------------------------------------
# Saving
# --------------------------------------------------------------------------------------

_DETERMINISTIC_METADATA: dict[str, dict[str, Any]] = {
    "png": {"Software": None},
    "svg": {"Date": None, "Creator": None},
    "pdf": {"CreationDate": None, "Creator": None, "Producer": None},
}

_DESCRIPTION_KEY = {"png": "Description", "svg": "Description", "pdf": "Subject"}


def save_figure(fig: Figure | Axes, path: str | Path, *, dpi: int = 150) -> Path:
    """Write *fig* (or the figure of an Axes) to *path*, identical bytes on every run.

    Use it instead of ``fig.savefig`` for figures kept in the repository: the file carries
    no timestamp and no software version, so re-running a notebook does not change it;
    it carries the figure's alt text as its description. The format follows the suffix:
    ``.png`` (default choice), ``.svg`` or ``.pdf``. Missing parent folders are created.
    Returns the path written.
    """
    figure = fig.get_figure(root=True) if isinstance(fig, Axes) else fig
    if not isinstance(figure, Figure):
        raise TypeError(f"save_figure needs a Figure or an Axes, got {type(fig).__name__}")
    target = Path(path)
    fmt = target.suffix.lower().lstrip(".")
    metadata = _DETERMINISTIC_METADATA.get(fmt)
    if metadata is None:
        raise ValueError(f"save_figure writes .png, .svg or .pdf files, got {str(target)!r}")
    alt = getattr(figure, "aether_alt", "")
    if alt:
        metadata = {**metadata, _DESCRIPTION_KEY[fmt]: alt}
    target.parent.mkdir(parents=True, exist_ok=True)
    with mpl.rc_context({"svg.hashsalt": "aether"}):
        figure.savefig(target, format=fmt, dpi=dpi, metadata=metadata, facecolor=BACKGROUND)
    return target


# --------------------------------------------------------------------------------------
# Helpers the figures share
# --------------------------------------------------------------------------------------


def require(df: pd.DataFrame, columns: Iterable[str], *, name: str, empty: bool = True) -> None:
    """Check that *df* is a DataFrame with every column of *columns* (and, unless *empty*, a row).

    Wrong type: a TypeError; missing columns: a ValueError naming each of them and the
    columns *df* has; no rows when ``empty=False``: a ValueError.
    """
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"{name} must be a pandas DataFrame, got {type(df).__name__}")
    missing = [c for c in columns if c not in df.columns]
    if missing:
        listed = ", ".join(repr(c) for c in missing)
        raise ValueError(f"{name} is missing column(s) {listed}; it has {list(map(str, df.columns))}")
    if not empty and df.empty:
        raise ValueError(f"{name} is empty: there is nothing to plot")


def time_factor(unit: str) -> float:
    """Seconds-to-*unit* factor, with a clear error for an unknown unit."""
    check_choice("unit", unit, TIME_UNITS)
    return TIME_UNITS[unit]


def sorted_groups(values: Iterable[Hashable]) -> list[Hashable]:
    """Distinct group values in a stable order: numbers numerically, anything else by text."""
    distinct = list(dict.fromkeys(v for v in values if not pd.isna(v)))
    if all(isinstance(v, (int, float, np.integer, np.floating)) for v in distinct):
        return sorted(distinct)  # type: ignore[type-var]
    return sorted(distinct, key=str)


def new_axes(ax: Axes | None, **subplots: Any) -> Axes:
    """The Axes to draw into: *ax*, or a fresh figure (in the current style; *subplots* go to ``plt.subplots``)."""
    if ax is not None:
        return ax
    _, new = plt.subplots(**subplots)
    return cast(Axes, new)


def plain_log_axis(axis: Any, ticks: Sequence[float] | None = None) -> None:
    """Label a log axis with plain numbers (1, 2, 5, 10 ...) instead of powers of ten.

    With *ticks*, put a tick at exactly those values (e.g. the writer counts of a sweep).
    Call it after drawing: an axis spanning more than three decades gets a tick per decade only.
    """
    if ticks is not None:
        axis.set_major_locator(ticker.FixedLocator(list(ticks)))
    else:
        low, high = sorted(float(v) for v in axis.get_view_interval())
        wide = low > 0 and high / low > 1e3
        axis.set_major_locator(ticker.LogLocator(base=10, subs=(1.0,) if wide else (1.0, 2.0, 5.0)))
    axis.set_major_formatter(ticker.FuncFormatter(lambda value, _pos: f"{value:g}"))
    axis.set_minor_formatter(ticker.NullFormatter())


def finish(ax: Axes, *, title: str, xlabel: str, ylabel: str, legend: bool, legend_title: str | None = None) -> None:
    """Apply the lab's text sizes, grid, background and legend explicitly (independent of rcParams at draw time)."""
    ax.set_title(title, fontsize=STYLE["axes.titlesize"], fontweight=STYLE["axes.titleweight"])
    ax.set_xlabel(xlabel, fontsize=STYLE["axes.labelsize"])
    ax.set_ylabel(ylabel, fontsize=STYLE["axes.labelsize"])
    ax.tick_params(labelsize=STYLE["xtick.labelsize"])
    ax.grid(True, color=STYLE["grid.color"], alpha=STYLE["grid.alpha"], linewidth=STYLE["grid.linewidth"])
    ax.set_axisbelow(True)
    ax.set_facecolor(BACKGROUND)
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


def few_numeric_ticks(values: pd.Series, most: int = 12) -> list[float] | None:
    """The distinct values as tick positions when they are few numbers (e.g. writer counts), else None."""
    distinct = sorted_groups(values)
    if len(distinct) > most or not all(isinstance(v, (int, float, np.integer, np.floating)) for v in distinct):
        return None
    return [float(cast(float, v)) for v in distinct]


def by_label(by: str) -> str:
    """Legend title for a grouping column."""
    return {"pattern": "pattern", "writers": "writers"}.get(by, by)


def format_time(value: float, unit: str) -> str:
    """A time value (already in *unit*) with about three significant digits and its unit; 'never' if infinite."""
    if not np.isfinite(value):
        return "never"
    return f"{value:.3g} {UNIT_TEXT[unit]}"


def shade_faults(ax: Axes, faults: Sequence[tuple[float, float, str]], *, label_each: bool = True) -> None:
    """Shade each fault window ``(start, end, label)`` in the fault grey (behind the data).

    With ``label_each=False`` only the first window gets a legend entry, as ``store <label>``.
    """
    for i, (start, end, label) in enumerate(faults):
        if label_each:
            ax.axvspan(start, end, color=LOAD_COLORS["fault"], alpha=0.45, linewidth=0, label=label)
        else:
            ax.axvspan(start, end, color=LOAD_COLORS["fault"], alpha=0.5, zorder=0,
                       label=f"store {label}" if i == 0 else "_fault")


def legend_outside(ax: Axes) -> Axes:
    """Move *ax*'s legend to the right of the plot, so it hides no curve; returns *ax*."""
    legend = ax.get_legend()
    if legend is None:
        raise ValueError("the Axes has no legend to move")
    legend.set_loc("upper left")
    legend.set_bbox_to_anchor((1.01, 1.0))
    return ax
