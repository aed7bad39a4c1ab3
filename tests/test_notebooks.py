"""The notebook collection's conventions, checked on the committed files.

nbval (run by the same ``pytest``) re-executes every notebook and compares
outputs; these tests check what nbval does not: that each notebook is
committed executed, follows the common skeleton, and links correctly.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import nbformat
import pytest

from labtools.notebooks import execute_notebook, find_notebooks

FOLDER = Path(__file__).resolve().parent.parent / "notebooks"
NOTEBOOKS = find_notebooks(FOLDER)
REQUIRED_HEADINGS = ("you will learn", "prerequisites", "try it", "summary", "exercises")
LINK = re.compile(r"\]\(([^)#\s]+\.ipynb)(#[^)]*)?\)")


def _load(path: Path) -> Any:
    return nbformat.read(path, as_version=4)


def _code_cells(nb: Any) -> list[Any]:
    return [c for c in nb.cells if c.cell_type == "code"]


def _headings(nb: Any) -> list[str]:
    found = []
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            found += [m.group(1).strip().lower() for m in re.finditer(r"^#+\s+(.*)$", cell.source, re.M)]
    return found


def test_notebooks_are_named_in_reading_order() -> None:
    for path in NOTEBOOKS:
        assert re.fullmatch(r"\d\d_[a-z0-9_]+\.ipynb", path.name), path.name


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
class TestEachNotebook:
    def test_uses_the_python3_kernel(self, path: Path) -> None:
        assert _load(path).metadata.kernelspec.name == "python3"

    def test_is_committed_executed_in_order(self, path: Path) -> None:
        counts = [c.execution_count for c in _code_cells(_load(path)) if c.source.strip()]
        assert None not in counts, "a code cell was not executed"
        assert counts == list(range(1, len(counts) + 1)), "cells were not run top to bottom in one kernel"

    def test_has_no_errors_or_warnings_in_its_outputs(self, path: Path) -> None:
        for cell in _code_cells(_load(path)):
            for output in cell.outputs:
                assert output.output_type != "error", cell.source[:80]
                if output.output_type == "stream":
                    assert output.name == "stdout", f"stderr output in cell: {cell.source[:80]!r}"

    def test_prints_tables_as_text_not_version_dependent_html(self, path: Path) -> None:
        for cell in _code_cells(_load(path)):
            for output in cell.outputs:
                assert "text/html" not in output.get("data", {}), cell.source[:80]

    def test_follows_the_skeleton(self, path: Path) -> None:
        nb = _load(path)
        assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("# "), "starts with a title"
        headings = _headings(nb)
        for required in REQUIRED_HEADINGS:
            assert any(h.startswith(required) for h in headings), f"missing a '{required}' section"

    def test_draws_at_least_one_figure(self, path: Path) -> None:
        images = [o for c in _code_cells(_load(path)) for o in c.outputs if "image/png" in o.get("data", {})]
        assert images

    def test_backs_its_claims_with_asserts(self, path: Path) -> None:
        assert any(re.search(r"^\s*assert ", c.source, re.M) for c in _code_cells(_load(path)))

    def test_links_resolve_to_existing_notebooks(self, path: Path) -> None:
        text = "\n".join(c.source for c in _load(path).cells if c.cell_type == "markdown")
        for target, _anchor in LINK.findall(text):
            assert (path.parent / target).resolve().exists(), f"broken link to {target}"

    def test_only_wall_clock_cells_skip_output_comparison(self, path: Path) -> None:
        for cell in _code_cells(_load(path)):
            tags = set(cell.metadata.get("tags", []))
            if tags & {"nbval-ignore-output", "nbval-skip"} or "NBVAL_IGNORE_OUTPUT" in cell.source:
                assert "nbval-skip" not in tags, "cells may not be skipped entirely"
                real = r"clock\s*=\s*\"real\"|\[\"clock\"\]\s*==\s*\"real\"|RealClock"
                assert re.search(real, cell.source), cell.source[:80]
                assert re.search(r"^\s*assert ", cell.source, re.M), "a wall-clock cell still asserts"


def test_the_first_notebook_links_to_every_other_one() -> None:
    if not NOTEBOOKS:
        pytest.skip("no notebooks yet")
    first = _load(NOTEBOOKS[0])
    text = "\n".join(c.source for c in first.cells if c.cell_type == "markdown")
    linked = {Path(t).name for t, _ in LINK.findall(text)}
    assert {p.name for p in NOTEBOOKS[1:]} <= linked


def test_find_notebooks_matches_stems_prefixes_and_refuses_unknown_names(tmp_path: Path) -> None:
    for name in ("00_intro.ipynb", "01_simple_retry.ipynb"):
        nbformat.write(nbformat.v4.new_notebook(), tmp_path / name)
    assert [p.name for p in find_notebooks(tmp_path)] == ["00_intro.ipynb", "01_simple_retry.ipynb"]
    assert [p.name for p in find_notebooks(tmp_path, ["01"])] == ["01_simple_retry.ipynb"]
    assert [p.name for p in find_notebooks(tmp_path, ["00_intro"])] == ["00_intro.ipynb"]
    with pytest.raises(SystemExit, match="no notebook matches"):
        find_notebooks(tmp_path, ["99_missing"])


def test_execute_notebook_writes_fresh_outputs_in_place(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.delenv("AETHER_PROGRESS", raising=False)
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("import os\nprint(os.environ['AETHER_PROGRESS'], 6 * 7)")]
    path = tmp_path / "00_tiny.ipynb"
    nbformat.write(nb, path)
    execute_notebook(path, timeout=60)
    cell = _load(path).cells[0]
    assert cell.execution_count == 1
    assert cell.outputs[0].text == "0 42\n"
    assert "AETHER_PROGRESS" not in os.environ  # set for the kernel only


def test_the_command_reports_a_failing_notebook_and_leaves_it_unchanged(tmp_path: Path, capsys: Any) -> None:
    from labtools.notebooks import main

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("raise RuntimeError('broken on purpose')")]
    path = tmp_path / "00_broken.ipynb"
    nbformat.write(nb, path)
    before = path.read_bytes()
    assert main(["--folder", str(tmp_path), "run", "--jobs", "1"]) == 1
    out = capsys.readouterr().out
    assert "FAIL  00_broken.ipynb" in out and "1 failed" in out
    assert path.read_bytes() == before
    assert main(["--folder", str(tmp_path), "list"]) == 0
    assert capsys.readouterr().out == "00_broken.ipynb\n"
