"""What ``python -m labtools.notebooks run`` does to fresh outputs before it writes a notebook back.

A re-run with no source change must leave the file as it was (stream outputs
merged), figures must stay small and readable (palette PNGs), and without the
``notebooks`` extra the command must say at once what to install.
"""

from __future__ import annotations

import base64
import io
import sys
from pathlib import Path
from typing import Any

import nbformat
import numpy as np
import pytest
from matplotlib.figure import Figure
from PIL import Image

from labtools.notebooks import execute_notebook, main, merge_streams, missing_modules, shrink_images, shrink_png

new_output = nbformat.v4.new_output


def _cell(*outputs: Any) -> Any:
    cell = nbformat.v4.new_code_cell("pass")
    cell.outputs = list(outputs)
    return cell


def _notebook(*cells: Any) -> Any:
    nb = nbformat.v4.new_notebook()
    nb.cells = list(cells)
    return nb


def _stdout(text: str) -> Any:
    return new_output("stream", name="stdout", text=text)


def _figure_png(**savefig: Any) -> bytes:
    """A typical lab figure: lines, translucent markers, a legend, a title, labelled axes."""
    rng = np.random.default_rng(0)
    fig = Figure(figsize=(6, 3.5), dpi=100)  # no pyplot: no backend, nothing to close
    ax = fig.subplots()
    for colour, scale in (("#0072B2", 1.0), ("#E69F00", 2.0), ("#009E73", 3.0)):
        x = np.arange(40)
        ax.plot(x, scale * np.sqrt(x), color=colour, label=f"scale {scale}")
        ax.scatter(x, scale * np.sqrt(x) + rng.normal(0, 0.4, x.size), color=colour, alpha=0.3, s=12)
    ax.set(title="Latency by attempt", xlabel="attempt (count)", ylabel="latency (ms)")
    ax.legend()
    out = io.BytesIO()
    fig.savefig(out, format="png", **savefig)
    return out.getvalue()


def _rgb(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB")).astype(int)


# --- stream outputs --------------------------------------------------------------------------------------


def test_consecutive_stdout_chunks_become_one_output() -> None:
    nb = _notebook(_cell(_stdout("Bob missed:"), _stdout("\n"), _stdout("  version 8\n")))
    assert merge_streams(nb) == 2
    (output,) = nb.cells[0].outputs
    assert output.name == "stdout" and output.text == "Bob missed:\n  version 8\n"


def test_streams_of_different_names_or_apart_stay_separate() -> None:
    figure = new_output("display_data", data={"text/plain": "<Figure>"})
    stderr = new_output("stream", name="stderr", text="careful\n")
    nb = _notebook(_cell(_stdout("a\n"), stderr, _stdout("b\n"), figure, _stdout("c\n"), _stdout("d\n")))
    merge_streams(nb)
    outputs = nb.cells[0].outputs
    assert [(o.output_type, o.get("name"), o.get("text")) for o in outputs] == [
        ("stream", "stdout", "a\n"),
        ("stream", "stderr", "careful\n"),
        ("stream", "stdout", "b\n"),
        ("display_data", None, None),
        ("stream", "stdout", "c\nd\n"),
    ]


def test_merging_leaves_markdown_cells_and_merged_outputs_alone() -> None:
    nb = _notebook(nbformat.v4.new_markdown_cell("# Title"), _cell(_stdout("one\n")))
    before = nbformat.writes(nb)
    assert merge_streams(nb) == 0
    assert nbformat.writes(nb) == before


def test_nbval_compares_merged_committed_streams_equal_to_split_fresh_ones() -> None:
    # nbval coalesces every cell's streams (committed and fresh) before comparing, so a
    # committed output merged by the runner still matches a fresh one split at random.
    from nbval.plugin import coalesce_streams

    split = [_stdout("seed 0: closed"), _stdout(" after 0.15 s\n"), _stdout("seed 1: closed\n")]
    merged = [_stdout("seed 0: closed after 0.15 s\nseed 1: closed\n")]
    assert [o.text for o in coalesce_streams(split)] == [o.text for o in coalesce_streams(merged)]


def test_executed_notebook_keeps_text_printed_in_pieces_as_one_output(tmp_path: Path) -> None:
    nb = _notebook(
        nbformat.v4.new_code_cell(
            "import time\nfor i in range(3):\n    print(i, end='', flush=True)\n    time.sleep(0.3)\nprint()"
        )
    )
    path = tmp_path / "00_pieces.ipynb"
    nbformat.write(nb, path)
    execute_notebook(path, timeout=60)
    outputs = nbformat.read(path, as_version=4).cells[0].outputs
    assert [(o.output_type, o.name, o.text) for o in outputs] == [("stream", "stdout", "012\n")]


# --- figures ---------------------------------------------------------------------------------------------


def test_a_figure_becomes_a_smaller_palette_png_of_the_same_size() -> None:
    original = _figure_png()
    small = shrink_png(original)
    assert len(small) < 0.6 * len(original)
    with Image.open(io.BytesIO(small)) as image, Image.open(io.BytesIO(original)) as before:
        assert image.format == "PNG" and image.mode == "P"
        assert image.size == before.size
        assert len(image.getcolors(256) or []) <= 256


def test_a_shrunk_figure_looks_the_same() -> None:
    original = _figure_png()
    before, after = _rgb(original), _rgb(shrink_png(original))
    error = np.abs(before - after).max(axis=2)
    white = (before == 255).all(axis=2)
    assert (after[white] == 255).all(), "the background stays pure white"
    assert error.max() <= 24, "no pixel moves more than a tenth of the range in any channel"
    assert error.mean() < 0.5


def test_shrinking_is_deterministic_and_never_grows_a_file() -> None:
    original = _figure_png()
    assert shrink_png(original) == shrink_png(original)
    tiny = io.BytesIO()
    Image.new("RGB", (1, 1), "white").save(tiny, format="PNG", optimize=True)
    assert shrink_png(tiny.getvalue()) == tiny.getvalue()
    once = shrink_png(original)
    assert len(shrink_png(once)) <= len(once)


def test_a_transparent_figure_keeps_its_transparency() -> None:
    small = shrink_png(_figure_png(transparent=True))
    with Image.open(io.BytesIO(small)) as image:
        alpha = np.asarray(image.convert("RGBA"))[..., 3]
    assert alpha.min() == 0 and alpha.max() == 255


def test_the_resolution_is_carried_over() -> None:
    with Image.open(io.BytesIO(shrink_png(_figure_png(dpi=144)))) as image:
        assert round(image.info["dpi"][0]) == 144


def test_every_png_output_of_a_notebook_is_re_encoded() -> None:
    png = _figure_png()
    figure = new_output("display_data", data={"image/png": base64.b64encode(png).decode(), "text/plain": "<Figure>"})
    nb = _notebook(_cell(_stdout("x\n")), _cell(figure))
    before, after = shrink_images(nb)
    assert before == len(png) and after < before
    stored = nb.cells[1].outputs[0].data
    assert base64.b64decode(stored["image/png"]) == shrink_png(png)
    assert stored["text/plain"] == "<Figure>"


def test_an_executed_notebook_stores_its_figures_as_palette_pngs(tmp_path: Path) -> None:
    code = "import matplotlib.pyplot as plt\nplt.plot([0, 1, 4, 9], label='x²')\nplt.legend()\nplt.show()"
    path = tmp_path / "00_figure.ipynb"
    nbformat.write(_notebook(nbformat.v4.new_code_cell(code)), path)
    execute_notebook(path, timeout=60)
    (image,) = [o.data["image/png"] for o in nbformat.read(path, as_version=4).cells[0].outputs if "data" in o]
    with Image.open(io.BytesIO(base64.b64decode(image))) as figure:
        assert figure.mode == "P"


# --- the notebooks extra ---------------------------------------------------------------------------------


def test_without_the_notebooks_extra_the_command_says_what_to_install(
    tmp_path: Path, monkeypatch: Any, capsys: Any
) -> None:
    nbformat.write(_notebook(), tmp_path / "00_a.ipynb")
    nbformat.write(_notebook(), tmp_path / "01_b.ipynb")
    monkeypatch.setitem(sys.modules, "nbformat", None)  # as if it were not installed
    assert missing_modules() == ["nbformat"]
    code = main(["--folder", str(tmp_path), "run", "--jobs", "1"])
    out, err = capsys.readouterr()
    assert code != 0
    assert 'pip install -e ".[notebooks]"' in err and "nbformat" in err
    assert "FAIL" not in out and "executing" not in out, "no notebook is attempted"


def test_listing_notebooks_needs_no_extra(tmp_path: Path, monkeypatch: Any, capsys: Any) -> None:
    nbformat.write(_notebook(), tmp_path / "00_a.ipynb")
    monkeypatch.setitem(sys.modules, "nbformat", None)
    assert main(["--folder", str(tmp_path), "list"]) == 0
    assert capsys.readouterr().out == "00_a.ipynb\n"


@pytest.mark.parametrize("name", ["nbformat", "nbclient", "ipykernel"])
def test_the_runner_checks_each_module_of_the_extra(name: str, monkeypatch: Any) -> None:
    monkeypatch.setitem(sys.modules, name, None)
    assert missing_modules() == [name]


# --------------------------------------------------------------------------- attendee copies


def test_student_copies_drop_the_solutions_and_hide_the_checks_output(tmp_path: Path) -> None:
    import nbformat
    from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

    from labtools.notebooks import main

    folder, dest = tmp_path / "notebooks", tmp_path / "students"
    folder.mkdir()
    check = new_code_cell("assert answer_1 == 2\nprint('Exercise 1: correct')",
                          outputs=[new_output("stream", name="stdout", text="Exercise 1: correct\n")])
    nb = new_notebook(cells=[
        new_markdown_cell("**1.** What is 1 + 1? Store it in `answer_1`."),
        new_code_cell("answer_1 = 1 + 1", metadata={"tags": ["solution"], "jupyter": {"source_hidden": True}}),
        check,
        new_code_cell("print('kept')", outputs=[new_output("stream", name="stdout", text="kept\n")]),
    ])
    nbformat.write(nb, folder / "08_demo.ipynb")
    assert main(["--folder", str(folder), "student", str(dest)]) == 0
    copy = nbformat.read(dest / "08_demo.ipynb", as_version=4)
    sources = [cell.source for cell in copy.cells]
    assert "answer_1 = 1 + 1" not in sources and len(copy.cells) == 3
    assert copy.cells[1].source.startswith("assert answer_1") and copy.cells[1].outputs == []
    assert copy.cells[2].outputs[0]["text"] == "kept\n"
    original = nbformat.read(folder / "08_demo.ipynb", as_version=4)
    assert len(original.cells) == 4  # the notebooks themselves are untouched


def test_every_solution_of_the_collection_is_removed_from_the_student_copies(tmp_path: Path) -> None:
    import nbformat

    from labtools.notebooks import SOLUTION_TAG, write_student_copies

    written = write_student_copies(Path("notebooks"), tmp_path)
    assert written, "no notebooks were copied"
    for target, removed in written:
        original = nbformat.read(Path("notebooks") / target.name, as_version=4)
        tagged = sum(SOLUTION_TAG in c.get("metadata", {}).get("tags", []) for c in original.cells)
        copy = nbformat.read(target, as_version=4)
        assert removed == tagged
        assert not any(SOLUTION_TAG in c.get("metadata", {}).get("tags", []) for c in copy.cells)
        assert len(copy.cells) == len(original.cells) - tagged
