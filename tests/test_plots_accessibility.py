"""Every figure can be read by everyone: alt text, lines that differ without colour, a light opaque background."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.colors import to_rgba
from plothelpers import example_calls, example_saves, example_sweep, make_saves

from aether import SimulatedClock, plots
from aether.patterns import CircuitBreaker
from aether.plots.style import LINES, LineStyle, figure_of, styles_for

matplotlib.use("Agg")


def _timeline() -> pd.DataFrame:
    starts = np.arange(0.0, 2.0, 0.25)
    return pd.DataFrame({"start": starts, "offered": 40.0, "calls": 60.0, "goodput": 38.0,
                         "queue_depth": 2.0, "utilisation": 0.7})


def _run() -> SimpleNamespace:
    saves = pd.DataFrame({"outcome": ["committed", "committed", "gave_up"], "start": [0.0, 0.1, 0.2],
                          "commit_delay": [0.05, 0.2, np.nan]})
    return SimpleNamespace(saves=saves)


def _breaker() -> CircuitBreaker:
    clock = SimulatedClock()
    breaker = CircuitBreaker(clock=clock, failure_threshold=1, reset_timeout=1.0)
    breaker.can_retry()
    breaker.record_failure()
    return breaker


def _waits() -> pd.DataFrame:
    return pd.DataFrame({"pattern": "full jitter", "saver": np.repeat(np.arange(3), 3),
                         "retry": np.tile(np.arange(3), 3), "wait": np.linspace(0.001, 0.05, 9)})


def _runs_by_way() -> pd.DataFrame:
    return pd.DataFrame([{"pattern": p, "way": w, "write_calls": 10 + k, "latency": 0.01 * (k + 1),
                          "outcome": "committed"}
                         for p in ("a", "b") for w in ("simulated", "real SQLite") for k in range(3)])


#: One small call of every public figure function; the keyword arguments go to each call.
CALLS: dict[str, Callable[..., Any]] = {
    "plot_latency": lambda **kw: plots.plot_latency(example_saves(), **kw),
    "plot_retries": lambda **kw: plots.plot_retries(example_saves(), **kw),
    "plot_waits": lambda **kw: plots.plot_waits(_waits(), base=0.005, cap=1.0, **kw),
    "plot_policy_waits": lambda **kw: plots.plot_policy_waits(
        pd.DataFrame({"distance": [1, 2, 3], "retry": 1, "wait": [0.05, 0.1, 0.2]}), **kw),
    "plot_distance_shares": lambda **kw: plots.plot_distance_shares(
        pd.DataFrame({"distance": [1, 2, 15], "writers": [5, 5, 20], "network": "n"}), **kw),
    "plot_distance_by_seed": lambda **kw: plots.plot_distance_by_seed(
        pd.DataFrame({"writers": [5, 5, 20], "distance 1": [1.0, 0.9, 0.8], "distance 2+": [0.0, 0.1, 0.2]}),
        shares=["distance 1", "distance 2+"], **kw),
    "plot_tier_waits": lambda **kw: plots.plot_tier_waits(
        pd.DataFrame({"pattern": ["x", "y"], "wait": [0.05, 0.2],
                      "tier": pd.Categorical(["light", "high"], categories=["light", "moderate", "high"])}), **kw),
    "plot_sweep": lambda **kw: plots.plot_sweep(example_sweep(), **kw),
    "plot_outcomes": lambda **kw: plots.plot_outcomes(example_sweep(), **kw),
    "plot_latency_vs_load": lambda **kw: plots.plot_latency_vs_load(
        pd.DataFrame({"pattern": ["a", "a"], "rate": [10, 20], "p99": [0.01, 0.1], "seed": 0}), **kw),
    "plot_baseline": lambda **kw: plots.plot_baseline(
        pd.DataFrame({"pattern": "no_retry", "store": "s", "writers": [1, 10], "seed": 0, "saves": [5, 50],
                      "committed": 5, "makespan": [0.1, 1.0]}), **kw),
    "plot_retry_limits": lambda **kw: plots.plot_retry_limits(
        pd.DataFrame({"pattern": "simple_retry", "max_attempts": [1, 2], "seed": 0, "saves": 10, "gave_up": [5, 2],
                      "write_calls": [10, 15], "p95_all": [0.01, 0.02]}), **kw),
    "plot_scorecard": lambda **kw: plots.plot_scorecard(
        pd.DataFrame({"pattern": ["a", "b"], "scenario": "s", "share": [0.5, 0.9]}), value="share", **kw),
    "plot_pattern_map": lambda **kw: plots.plot_pattern_map(
        pd.DataFrame({"failure": "none", "contention": "hot", "load": [0.4, 0.7], "winner": ["a", "b"],
                      "value": [0.9, 0.5], "lo": [0.85, 0.4], "hi": [0.95, 0.6], "ties": [("a",), ("b", "a")],
                      "clear": [True, False]}), **kw),
    "plot_timeline": lambda **kw: plots.plot_timeline(example_calls(), **kw),
    "plot_load": lambda **kw: plots.plot_load(_timeline(), **kw),
    "plot_goodput": lambda **kw: plots.plot_goodput({"a": _timeline(), "b": _timeline()}, **kw),
    "plot_goodput_band": lambda **kw: plots.plot_goodput_band({"a": [_timeline(), _timeline()], "b": [_timeline()]},
                                                              faults=[], **kw),
    "plot_queue_depth": lambda **kw: plots.plot_queue_depth(
        {"queued_writes": SimpleNamespace(depth_samples=[(0.0, 0), (0.1, 3), (0.4, 0)])}, **kw),
    "plot_commits": lambda **kw: plots.plot_commits({"a": _run(), "b": _run()}, **kw),
    "plot_breaker_states": lambda **kw: plots.plot_breaker_states(_breaker(), [(0.0, "failure")], end=2.0, **kw),
    "plot_ways": lambda **kw: plots.plot_ways(_runs_by_way(), "write_calls", **kw),
    "plot_latency_by_way": lambda **kw: plots.plot_latency_by_way(_runs_by_way(), **kw),
    "plot_lock_handoff": lambda **kw: plots.plot_lock_handoff([(0.001, 0.002), (0.003, 0.005)], **kw),
    "plot_timeline_by_way": lambda **kw: plots.plot_timeline_by_way(
        _timeline().assign(pattern="a", way="simulated", seed=0), **kw),
    "plot_wait_bands": lambda **kw: plots.plot_wait_bands(_waits().assign(retry=lambda f: f["retry"] + 1), **kw),
}


def test_every_public_figure_function_is_listed_and_exercised_here() -> None:
    public = {name for name in plots.__all__ if name.startswith("plot_")}
    assert set(plots.FIGURES) == public == set(CALLS)


@pytest.mark.parametrize("name", sorted(CALLS))
def test_a_figure_builds_a_one_sentence_alt_text_when_none_is_given(name: str) -> None:
    text = plots.alt_text(CALLS[name]())
    assert text and text[0].isupper() and text.endswith(".")
    assert text.count(". ") == 0, text  # one sentence


@pytest.mark.parametrize("name", sorted(CALLS))
def test_a_figure_keeps_the_alt_text_it_is_given(name: str) -> None:
    drawn = CALLS[name](alt="What this figure shows.")
    assert plots.alt_text(drawn) == "What this figure shows."
    assert figure_of(drawn).aether_alt == "What this figure shows."  # type: ignore[attr-defined]


@pytest.mark.parametrize("name", sorted(CALLS))
def test_a_figure_has_an_opaque_light_background(name: str) -> None:
    figure = figure_of(CALLS[name]())
    for color in [figure.get_facecolor()] + [ax.get_facecolor() for ax in figure.axes if ax.patch.get_visible()]:
        red, green, blue, alpha = to_rgba(color)
        assert alpha == 1.0
        assert 0.2126 * red + 0.7152 * green + 0.0722 * blue > 0.9  # light: dark text reads on it


def test_panels_drawn_into_one_figure_each_add_their_sentence() -> None:
    _, (left, right) = plt.subplots(1, 2)
    plots.plot_latency(example_saves(), ax=left)
    plots.plot_retries(example_saves(), ax=right)
    text = plots.alt_text(left)
    assert text == plots.alt_text(right)
    first, second = text.split(". ")
    assert first.startswith("The latency of every save") and second.startswith("Bars of the share of saves")


def test_an_alt_text_must_be_text() -> None:
    with pytest.raises(TypeError, match="alt"):
        plots.plot_latency(example_saves(), alt=3)  # type: ignore[arg-type]


def test_save_figure_writes_the_alt_text_into_the_png(tmp_path: Any) -> None:
    from PIL import Image

    ax = plots.plot_latency(example_saves(), alt="Latency of two patterns.")
    path = plots.save_figure(ax, tmp_path / "latency.png")
    with Image.open(path) as image:
        assert image.info["Description"] == "Latency of two patterns."


# ----------------------------------------------------------------------------------------
# Lines that differ without colour
# ----------------------------------------------------------------------------------------


def test_patterns_of_different_colours_never_share_a_line() -> None:
    lines_by_color: dict[str, set[LineStyle]] = {}
    for name, line in plots.PATTERN_LINES.items():
        lines_by_color.setdefault(plots.PATTERN_COLORS[name], set()).add(line)
    assert all(len(lines) == 1 for lines in lines_by_color.values()), "aliases of one pattern share its line"
    distinct = [next(iter(lines)) for lines in lines_by_color.values()]
    assert len(set(distinct)) == len(distinct)


def test_every_pattern_with_a_colour_has_a_line() -> None:
    assert set(plots.PATTERN_LINES) == set(plots.PATTERN_COLORS)


def test_a_label_pinned_to_a_patterns_colour_takes_its_line_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(plots.PATTERN_COLORS, "my_retry", plots.PATTERN_COLORS["full jitter"])
    assert plots.style_for("my_retry") == plots.style_for("full jitter")


def test_outcomes_each_have_their_own_colour_and_line() -> None:
    outcomes = plots.OUTCOME_STYLES
    assert {"committed", "gave_up", "failed", "rejected", "refused", "deadline", "expired"} <= set(outcomes)
    assert len({s.color for s in outcomes.values()}) == len(outcomes)
    assert len({(s.linestyle, s.marker) for s in outcomes.values()}) == len(outcomes)
    assert plots.style_for("refused") == outcomes["refused"]


def test_lines_drawn_in_one_figure_never_share_a_line_style_and_marker() -> None:
    names = ["no_retry", "no backoff", "simple_retry", *[f"p{i}" for i in range(20)]]
    looks = styles_for(names)
    assert len({(s.linestyle, s.marker) for s in looks.values()}) == len(names) <= len(LINES)


def test_comparison_figures_draw_each_pattern_in_its_own_line() -> None:
    frame = make_saves([(p, 0.001 * (i + 1), 0, "committed") for i, p in enumerate(["simple_retry", "full jitter"])])
    ax = plots.plot_sweep(example_sweep().replace({"fast": "simple_retry", "slow": "full jitter"}))
    lines = [line for line in ax.get_lines() if not str(line.get_label()).startswith("_")]
    assert [(line.get_linestyle(), line.get_marker()) for line in lines] == [
        (plots.PATTERN_LINES[p].linestyle, plots.PATTERN_LINES[p].marker) for p in ("full jitter", "simple_retry")]
    latency = plots.plot_latency(frame)
    marks = [line.get_marker() for line in latency.get_lines() if line.get_label() == "_percentiles"]
    assert marks == [plots.PATTERN_LINES["full jitter"].marker, plots.PATTERN_LINES["simple_retry"].marker]


def test_a_figure_drawn_in_a_notebook_carries_its_alt_text_in_the_output_metadata(tmp_path: Path) -> None:
    nbformat = pytest.importorskip("nbformat", reason="needs the notebooks extra: pip install -e '.[notebooks]'")
    nbclient = pytest.importorskip("nbclient", reason="needs the notebooks extra: pip install -e '.[notebooks]'")
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_code_cell("import pandas as pd\nfrom aether.plots import plot_sweep"),
        nbformat.v4.new_code_cell(
            "frame = pd.DataFrame({'writers': [1, 2], 'p95': [0.1, 0.2], 'pattern': ['a', 'a']})\n"
            "ax = plot_sweep(frame, x='writers', y='p95', alt='Two points rising.')"
        ),
        nbformat.v4.new_code_cell("import matplotlib.pyplot as plt\nfigure, axes = plt.subplots()"),
    ]
    nbclient.NotebookClient(notebook, timeout=60, resources={"metadata": {"path": str(tmp_path)}}).execute()
    images = [[o for o in cell.outputs if "image/png" in o.get("data", {})] for cell in notebook.cells[1:]]
    assert images[0][0]["metadata"] == {"image/png": {"alt": "Two points rising."}}
    assert images[1][0].get("metadata", {}) == {}, "a figure not drawn by aether.plots has no alt text to carry"
