"""The lab's look: projector sizes, a colour and a line per pattern, files identical on every run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import pandas as pd
import pytest
from matplotlib.colors import to_hex
from matplotlib.figure import Figure
from plothelpers import (
    example_saves,
    example_sweep,
    line_for,
    make_saves,
)

from aether import plots
from aether.plots.style import styles_for

matplotlib.use("Agg")


@pytest.fixture
def saves() -> pd.DataFrame:
    return example_saves()


@pytest.fixture
def sweep() -> pd.DataFrame:
    return example_sweep()


# ----------------------------------------------------------------------------------------
# Style and colours
# ----------------------------------------------------------------------------------------


def test_style_sets_projector_sizes_inside_the_block_only() -> None:
    before = matplotlib.rcParams["font.size"]
    with plots.style():
        assert matplotlib.rcParams["font.size"] >= 13
        assert matplotlib.rcParams["axes.titlesize"] == 15
        assert tuple(matplotlib.rcParams["figure.figsize"]) == (9.0, 5.0)
    assert matplotlib.rcParams["font.size"] == before


def test_apply_style_makes_the_look_the_default() -> None:
    with matplotlib.rc_context():
        plots.apply_style()
        colors = [to_hex(c["color"]).upper() for c in matplotlib.rcParams["axes.prop_cycle"]]
        assert colors == list(plots.PALETTE)


def test_a_new_figure_from_a_plot_function_has_the_lab_size(saves: pd.DataFrame) -> None:
    ax = plots.plot_latency(saves)
    figure = ax.get_figure()
    assert isinstance(figure, Figure)
    assert tuple(figure.get_size_inches()) == (9.0, 5.0)
    assert ax.title.get_fontsize() == 15


def test_color_for_gives_a_palette_colour_and_the_same_one_every_time() -> None:
    assert plots.color_for("exponential") in plots.PALETTE
    assert plots.color_for("exponential") == plots.color_for("exponential")


def test_color_for_does_not_depend_on_the_interpreter_hash_seed() -> None:
    code = "from aether.plots import color_for; print(color_for('exponential'), color_for('naive'))"
    env = {**os.environ, "PYTHONHASHSEED": "12345", "MPLBACKEND": "Agg"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split() == [plots.color_for("exponential"), plots.color_for("naive")]


def test_color_for_uses_a_pinned_colour(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(plots.PATTERN_COLORS, "naive", "#123456")
    assert plots.color_for("naive") == "#123456"


def test_a_pattern_keeps_its_colour_across_figures(saves: pd.DataFrame, sweep: pd.DataFrame) -> None:
    latency = plots.plot_latency(saves)
    work = plots.plot_sweep(sweep[sweep["pattern"] == "fast"])
    assert to_hex(line_for(latency, "fast").get_color()) == to_hex(line_for(work, "fast").get_color())
    assert to_hex(line_for(work, "fast").get_color()).upper() == plots.color_for("fast").upper()


def test_groups_whose_colours_collide_still_get_distinct_colours() -> None:
    names = [f"p{i}" for i in range(50)]
    first, second = next((a, b) for a in names for b in names if a < b and plots.color_for(a) == plots.color_for(b))
    frame = make_saves([(first, 0.001, 0, "committed"), (second, 0.002, 0, "committed")])
    ax = plots.plot_latency(frame)
    assert line_for(ax, first).get_color() != line_for(ax, second).get_color()



# ----------------------------------------------------------------------------------------
# save_figure
# ----------------------------------------------------------------------------------------


def test_save_figure_writes_identical_png_bytes_for_two_renders(saves: pd.DataFrame, tmp_path: Path) -> None:
    first = plots.save_figure(plots.plot_latency(saves), tmp_path / "a.png")
    second = plots.save_figure(plots.plot_latency(saves), tmp_path / "b.png")
    assert first.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert first.read_bytes() == second.read_bytes()


def test_save_figure_png_carries_no_software_version(saves: pd.DataFrame, tmp_path: Path) -> None:
    data = plots.save_figure(plots.plot_retries(saves), tmp_path / "r.png").read_bytes()
    assert b"Software" not in data and b"atplotlib" not in data


@pytest.mark.parametrize("suffix", [".svg", ".pdf"])
def test_save_figure_vector_formats_are_deterministic_too(saves: pd.DataFrame, tmp_path: Path, suffix: str) -> None:
    first = plots.save_figure(plots.plot_latency(saves), tmp_path / f"a{suffix}")
    second = plots.save_figure(plots.plot_latency(saves), tmp_path / f"b{suffix}")
    assert first.read_bytes() == second.read_bytes()


def test_save_figure_creates_missing_folders(saves: pd.DataFrame, tmp_path: Path) -> None:
    target = tmp_path / "figures" / "latency.png"
    figure = plots.plot_latency(saves).get_figure()
    assert isinstance(figure, Figure)
    assert plots.save_figure(figure, target) == target
    assert target.exists()


def test_save_figure_names_an_unsupported_format(saves: pd.DataFrame, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="latency.jpg"):
        plots.save_figure(plots.plot_latency(saves), tmp_path / "latency.jpg")


def test_colour_clashes_avoid_yellow_while_other_colours_are_free() -> None:
    names = [f"p{i}" for i in range(50)]
    first, second = next((a, b) for a in names for b in names if a < b and plots.color_for(a) == plots.color_for(b))
    colors = {look.color for look in styles_for([first, second]).values()}
    assert len(colors) == 2
    assert plots.PALETTE[-1] not in colors


def test_legend_outside_anchors_the_legend_right_of_the_axes() -> None:
    _, ax = plt.subplots()
    ax.plot([0, 1], label="x")
    ax.legend()
    plots.legend_outside(ax)
    assert ax.get_legend().get_bbox_to_anchor().x0 > ax.bbox.x1 - 1


def test_the_retry_queues_variants_each_have_a_colour_and_a_line_of_their_own() -> None:
    from aether.plots.style import style_for

    looks = [style_for(name) for name in ("queued_writes", "queue, 4 workers", "queue, bounded")]
    assert len({look.color for look in looks}) == 3
    assert len({(look.linestyle, look.marker) for look in looks}) == 3
    assert "#000000" not in {look.color for look in looks}  # black is the no-retry baselines'


def test_no_outcome_or_call_result_takes_a_patterns_colour() -> None:
    from aether.plots.style import OUTCOME_STYLES, PATTERN_COLORS, RESULT_COLORS

    patterns = {c.upper() for c in PATTERN_COLORS.values()}
    outcomes = {name: look.color.upper() for name, look in OUTCOME_STYLES.items()}
    results = {name: color.upper() for name, color in RESULT_COLORS.items() if name != "conflict"}
    clashes = {n: c for n, c in {**outcomes, **results}.items() if c in patterns}
    assert not clashes


def test_two_labels_share_a_colour_only_as_names_of_one_pattern_with_one_line() -> None:
    from aether.plots.style import PATTERN_COLORS, PATTERN_LINES

    by_colour: dict[str, set[object]] = {}
    for label, colour in PATTERN_COLORS.items():
        by_colour.setdefault(colour.upper(), set()).add(PATTERN_LINES.get(label))
    assert {c: lines for c, lines in by_colour.items() if len(lines) > 1} == {}


def test_chapter_06s_clients_look_like_their_patterns_and_the_capped_one_like_no_other() -> None:
    from aether.plots.style import style_for

    assert style_for("jittered, 11 attempts") == style_for("retry_on_failure")
    assert style_for("no breaker") == style_for("no jitter")
    capped = style_for("jittered, 3 attempts")
    others = [style_for(name) for name in ("retry_on_failure", "no jitter", "circuit breaker", "no retry")]
    assert capped.color not in {look.color for look in others}
    assert (capped.linestyle, capped.marker) not in {(look.linestyle, look.marker) for look in others}
