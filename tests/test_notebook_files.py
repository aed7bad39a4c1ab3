"""Notebook files that opening and re-running leave alone: no volatile metadata, reproducible writes, a git filter.

Also the slot estimate (``python -m labtools.slots``) and the stored run times it reads.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from labtools.notebooks import (
    KERNELSPEC,
    Execution,
    find_notebooks,
    normalise_metadata,
    strip_filter_command,
    student_copy,
    update_runtimes,
    volatile_metadata,
    write_notebook,
)
from labtools.slots import (
    LINES_PER_MINUTE,
    MINUTES_PER_EXERCISE,
    WORDS_PER_MINUTE,
    estimate,
    going_further_cells,
    markdown_table,
    prose_words,
)

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = find_notebooks(ROOT / "notebooks")
md, code = nbformat.v4.new_markdown_cell, nbformat.v4.new_code_cell


def _opened_in_jupyterlab(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """*nb* as JupyterLab saves it after a kernel of another Python ran it: version, timings, UI state."""
    nb.metadata.setdefault("language_info", {"name": "python"})["version"] = "3.13.1"
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}}}
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.metadata["execution"] = {"iopub.execute_input": "2026-01-01T10:00:00.000Z"}
            cell.metadata["scrolled"] = True
    return nb


# --- committed notebooks ------------------------------------------------------------------------


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_notebooks_carry_no_volatile_metadata(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    assert volatile_metadata(nb) == []
    assert nb.metadata.kernelspec == KERNELSPEC


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_notebooks_are_stored_as_the_runner_writes_them(path: Path, tmp_path: Path) -> None:
    copy = tmp_path / path.name
    write_notebook(nbformat.read(path, as_version=4), copy)
    assert copy.read_bytes() == path.read_bytes()


# --- normalising and writing --------------------------------------------------------------------


def test_normalising_removes_what_the_machine_and_the_moment_add_and_keeps_the_rest() -> None:
    solution = code("x = 1", metadata={"tags": ["solution"], "jupyter": {"source_hidden": True}})
    nb = _opened_in_jupyterlab(nbformat.v4.new_notebook(cells=[md("# A"), solution, code("print(x)")]))
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3.13 (venv)", "language": "python"}
    normalise_metadata(nb)
    assert volatile_metadata(nb) == []
    assert nb.metadata.language_info == {"name": "python"}
    assert nb.metadata.kernelspec == KERNELSPEC
    assert nb.cells[1].metadata == {"tags": ["solution"], "jupyter": {"source_hidden": True}}


def test_volatile_metadata_names_where_it_is() -> None:
    nb = _opened_in_jupyterlab(nbformat.v4.new_notebook(cells=[md("# A"), code("1")]))
    assert volatile_metadata(nb) == [
        "metadata.widgets",
        "metadata.language_info.version",
        "cell 1: cell.metadata.execution",
        "cell 1: cell.metadata.scrolled",
    ]


def test_writing_the_same_notebook_twice_gives_the_same_bytes_whatever_python_ran_it(tmp_path: Path) -> None:
    nb = nbformat.v4.new_notebook(cells=[md("# A"), code("print('é')")])
    nb.metadata["language_info"] = {"name": "python", "pygments_lexer": "ipython3"}
    first, second = tmp_path / "a.ipynb", tmp_path / "b.ipynb"
    write_notebook(nb, first)
    write_notebook(_opened_in_jupyterlab(nbformat.read(first, as_version=4)), second)
    assert first.read_bytes() == second.read_bytes()
    assert first.read_bytes().endswith(b"}\n") and "é" in first.read_text(encoding="utf-8")


def test_an_executed_notebook_is_written_with_no_timing_and_no_python_version(tmp_path: Path) -> None:
    from labtools.notebooks import execute

    path = tmp_path / "00_tiny.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[md("# Tiny"), code("print(6 * 7)")]), path)
    run = execute(path, timeout=60)
    nb = nbformat.read(path, as_version=4)
    assert volatile_metadata(nb) == []
    assert nb.cells[1].outputs[0].text == "42\n"
    assert run.seconds >= run.core >= 0 and run.optional == 0


# --- the git filter -----------------------------------------------------------------------------


def _strip(path: Path) -> bytes:
    command = strip_filter_command()
    return subprocess.run([*command, "-t", str(path)], capture_output=True, check=True).stdout


@pytest.mark.parametrize("path", NOTEBOOKS[:3], ids=lambda p: p.stem)
def test_the_git_filter_leaves_committed_notebooks_byte_for_byte(path: Path) -> None:
    pytest.importorskip("nbstripout", reason='nbstripout comes with the dev extra (pip install -e ".[dev]")')
    assert _strip(path) == path.read_bytes()


def test_the_git_filter_strips_what_opening_in_jupyterlab_adds(tmp_path: Path) -> None:
    pytest.importorskip("nbstripout", reason='nbstripout comes with the dev extra (pip install -e ".[dev]")')
    clean, opened = tmp_path / "clean.ipynb", tmp_path / "opened.ipynb"
    nb = nbformat.v4.new_notebook(cells=[md("# A"), code("1", execution_count=1)])
    nb.metadata["language_info"] = {"name": "python", "pygments_lexer": "ipython3"}
    write_notebook(nb, clean)
    nbformat.write(_opened_in_jupyterlab(nbformat.read(clean, as_version=4)), opened)
    assert opened.read_bytes() != clean.read_bytes()
    assert _strip(opened) == clean.read_bytes()


def test_after_git_setup_opening_a_notebook_changes_nothing_git_would_commit(tmp_path: Path) -> None:
    # The filter is the second line of defence, for a JupyterLab without the lab's save hook (see the tests of
    # labtools.jupyter below): git status lists the opened file (its size changed) until git add, which stages
    # nothing (git compares sizes before it runs the filter); git diff shows nothing at once.
    pytest.importorskip("nbstripout", reason='nbstripout comes with the dev extra (pip install -e ".[dev]")')
    pytest.importorskip("nbdime", reason='nbdime comes with the dev extra (pip install -e ".[dev]")')
    if shutil.which("git") is None:
        pytest.skip("git is not installed (apt-get install git)")
    repo = tmp_path / "clone"
    repo.mkdir()
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "init", "-q"], check=True)
    shutil.copy(ROOT / ".gitattributes", repo / ".gitattributes")
    path = repo / "00_a.ipynb"
    nb = nbformat.v4.new_notebook(cells=[md("# A"), code("1", execution_count=1)])
    nb.metadata["language_info"] = {"name": "python", "pygments_lexer": "ipython3"}
    write_notebook(nb, path)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "a"], check=True)
    code_ = subprocess.run(
        [sys.executable, "-m", "labtools.notebooks", "git-setup"], cwd=repo, capture_output=True, text=True
    )
    assert code_.returncode == 0, code_.stderr
    nbformat.write(_opened_in_jupyterlab(nbformat.read(path, as_version=4)), path)
    diff = subprocess.run([*git, "diff"], capture_output=True, text=True, check=True).stdout
    assert diff == ""
    subprocess.run([*git, "add", "-A"], check=True)
    staged = subprocess.run([*git, "diff", "--cached"], capture_output=True, text=True, check=True).stdout
    status = subprocess.run([*git, "status", "--porcelain"], capture_output=True, text=True, check=True).stdout
    assert staged == "" and status == ""
    assert (repo / ".gitattributes").read_bytes() == (ROOT / ".gitattributes").read_bytes(), "nbdime left it alone"


# --- attendee copies ----------------------------------------------------------------------------


def test_an_attendee_copy_has_no_trace_of_the_tag_it_used_to_hide_outputs() -> None:
    check = code("assert answer == 2", outputs=[nbformat.v4.new_output("stream", name="stdout", text="ok\n")])
    nb = nbformat.v4.new_notebook(cells=[code("answer = 2", metadata={"tags": ["solution"]}), check])
    copy, removed = student_copy(nb)
    assert removed == 1 and len(copy.cells) == 1
    assert copy.cells[0].outputs == [] and "tags" not in copy.cells[0].metadata


# --- run times ----------------------------------------------------------------------------------


def test_run_times_are_stored_once_and_kept_while_new_ones_stay_close(tmp_path: Path) -> None:
    assert update_runtimes(tmp_path, {"03_jitter": Execution(seconds=40.0, core=30.4, optional=8.0)})
    stored = (tmp_path / "runtimes.json").read_text()
    assert json.loads(stored) == {"03_jitter": {"core": 30, "optional": 8}}
    assert not update_runtimes(tmp_path, {"03_jitter": Execution(seconds=44.0, core=34.0, optional=11.0)})
    assert (tmp_path / "runtimes.json").read_text() == stored
    assert update_runtimes(tmp_path, {"03_jitter": Execution(seconds=80.0, core=60.0, optional=8.0)})
    assert json.loads((tmp_path / "runtimes.json").read_text()) == {"03_jitter": {"core": 60, "optional": 8}}


# --- the slot estimate --------------------------------------------------------------------------


def test_prose_words_leave_out_code_and_link_targets() -> None:
    text = "Read `save_event` [the docs](https://example.invalid/a/b) now.\n\n```python\nx = 1\n```\n"
    assert prose_words(text) == 4  # Read, the, docs, now


def test_going_further_runs_from_its_heading_to_the_next_heading_as_high() -> None:
    cells = [md("# T"), code("a"), md("## Going further: storms"), code("b"), md("### Detail"), code("c"),
             md("## Summary"), code("d")]
    assert going_further_cells(cells) == {2, 3, 4, 5}


def test_the_estimate_adds_prose_code_run_time_and_core_exercises() -> None:
    words = " ".join(["word"] * 400)  # 2 minutes
    nb = nbformat.v4.new_notebook(cells=[
        md(f"# T\n\n{words}"),
        code("\n".join(f"x{i} = {i}" for i in range(30))),  # 2 minutes
        code("answer = 1", metadata={"tags": ["solution"]}),  # one core exercise: 5 minutes
        md("## Going further"),
        code("y = 2"),
        code("answer_2 = 1", metadata={"tags": ["solution"]}),  # an optional exercise
    ])
    slot = estimate(nb, "03_t", {"core": 60.0, "optional": 30.0})
    assert slot.words == 401 and slot.code_lines == 30 and slot.exercises == 1
    assert slot.core_minutes == pytest.approx(401 / WORDS_PER_MINUTE + 30 / LINES_PER_MINUTE + 1 + MINUTES_PER_EXERCISE)
    assert slot.optional_minutes == pytest.approx(
        2 / WORDS_PER_MINUTE + 1 / LINES_PER_MINUTE + 0.5 + MINUTES_PER_EXERCISE
    )
    assert slot.fits


def test_an_unmeasured_chapter_says_so_in_the_table() -> None:
    nb = nbformat.v4.new_notebook(cells=[md("# T\n\nSome words here.")])
    slot = estimate(nb, "00_t", None)
    assert not slot.measured
    table = markdown_table([slot])
    assert "| 00_t | 4 | 0 | not measured | 0 | 1 | yes | – |" in table


def test_the_estimate_rejects_a_name_that_is_not_text() -> None:
    with pytest.raises(TypeError, match="name must be a str"):
        estimate(nbformat.v4.new_notebook(), 3)  # type: ignore[arg-type]


def test_the_slot_command_prints_a_row_per_chapter(capsys: pytest.CaptureFixture[str]) -> None:
    from labtools.slots import main

    assert main(["--folder", str(ROOT / "notebooks")]) == 0
    out = capsys.readouterr().out
    for path in NOTEBOOKS:
        assert f"| {path.stem} |" in out


# --- saving from JupyterLab ---------------------------------------------------------------------


NEEDS_JUPYTERLAB = 'JupyterLab comes with the notebooks extra: pip install -e ".[notebooks]"'


class _Server:
    """What the extension's loader uses of a Jupyter ServerApp: its contents manager and its log."""

    def __init__(self, root: Path) -> None:
        import logging

        from jupyter_server.services.contents.filemanager import FileContentsManager

        self.contents_manager = FileContentsManager(root_dir=str(root))
        self.log = logging.getLogger("test-server")


def _save_as_jupyterlab_does(server: _Server, nb: nbformat.NotebookNode, name: str) -> bytes:
    server.contents_manager.save({"type": "notebook", "format": "json", "content": json.loads(nbformat.writes(nb))},
                                 name)
    return (Path(server.contents_manager.root_dir) / name).read_bytes()


def test_with_the_save_hook_an_opened_chapter_is_saved_byte_for_byte_as_committed(tmp_path: Path) -> None:
    pytest.importorskip("jupyter_server", reason=NEEDS_JUPYTERLAB)
    from labtools.jupyter import _load_jupyter_server_extension

    server = _Server(tmp_path)
    _load_jupyter_server_extension(server)
    opened = _opened_in_jupyterlab(nbformat.read(NOTEBOOKS[0], as_version=4))
    opened.metadata["kernelspec"]["display_name"] = "Python 3 (ipykernel) [aether]"
    assert _save_as_jupyterlab_does(server, opened, NOTEBOOKS[0].name) == NOTEBOOKS[0].read_bytes()


def test_without_the_save_hook_an_opened_chapter_changes_size(tmp_path: Path) -> None:
    pytest.importorskip("jupyter_server", reason=NEEDS_JUPYTERLAB)
    opened = _opened_in_jupyterlab(nbformat.read(NOTEBOOKS[0], as_version=4))
    saved = _save_as_jupyterlab_does(_Server(tmp_path), opened, NOTEBOOKS[0].name)
    assert len(saved) != len(NOTEBOOKS[0].read_bytes())  # what makes git status list the file


def test_the_save_hook_keeps_edits_and_other_kernels(tmp_path: Path) -> None:
    pytest.importorskip("jupyter_server", reason=NEEDS_JUPYTERLAB)
    from labtools.jupyter import _load_jupyter_server_extension

    server = _Server(tmp_path)
    _load_jupyter_server_extension(server)
    nb = nbformat.v4.new_notebook(cells=[md("# A"), code("x = 1")])
    nb.metadata["kernelspec"] = {"display_name": "R", "language": "R", "name": "ir"}
    nb.cells[1].source = "x = 2  # an attendee's edit"
    saved = nbformat.reads(_save_as_jupyterlab_does(server, _opened_in_jupyterlab(nb), "a.ipynb").decode(),
                           as_version=4)
    assert saved.cells[1].source == "x = 2  # an attendee's edit"
    assert saved.metadata.kernelspec.name == "ir" and volatile_metadata(saved) == []


def test_enabling_the_extension_writes_its_server_config_once(tmp_path: Path) -> None:
    from labtools.jupyter import CONFIG_NAME, enable

    path = enable(tmp_path)
    assert path == tmp_path / "etc" / "jupyter" / "jupyter_server_config.d" / CONFIG_NAME
    assert json.loads(path.read_text()) == {"ServerApp": {"jpserver_extensions": {"labtools.jupyter": True}}}
    before = path.stat().st_mtime_ns
    assert enable(tmp_path) == path and path.stat().st_mtime_ns == before


def test_the_extension_is_found_by_jupyter_server() -> None:
    pytest.importorskip("jupyter_server", reason=NEEDS_JUPYTERLAB)
    from jupyter_server.extension.utils import get_loader, get_metadata

    module, points = get_metadata("labtools.jupyter")
    assert points == [{"module": "labtools.jupyter"}]
    assert callable(get_loader(module))


def test_the_lab_command_enables_the_hook_and_hands_its_other_arguments_to_jupyterlab(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("jupyterlab", reason=NEEDS_JUPYTERLAB)
    import labtools.jupyter
    from labtools.notebooks import main

    ran: list[list[str]] = []
    monkeypatch.setattr(labtools.jupyter.sys, "prefix", str(tmp_path))
    monkeypatch.setattr(subprocess, "run", lambda command, check: ran.append(command) or subprocess.CompletedProcess(
        command, 0))
    assert main(["--folder", str(ROOT / "notebooks"), "lab", "--no-browser", "--port", "8899"]) == 0
    assert ran[0][1:] == ["-m", "jupyter", "lab", "--no-browser", "--port", "8899", str(ROOT / "notebooks")]
    assert (tmp_path / "etc" / "jupyter" / "jupyter_server_config.d" / labtools.jupyter.CONFIG_NAME).is_file()


def test_other_commands_still_refuse_arguments_they_do_not_know(capsys: pytest.CaptureFixture[str]) -> None:
    from labtools.notebooks import main

    with pytest.raises(SystemExit) as exit_:
        main(["list", "--no-browser"])
    assert exit_.value.code == 2 and "unrecognized arguments: --no-browser" in capsys.readouterr().err


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_each_chapters_core_fits_its_30_minute_slot_by_the_stated_estimate(path: Path) -> None:
    from labtools.slots import SLOT_MINUTES, estimate_folder

    slot = estimate_folder(path.parent, [path.stem])[0]
    assert slot.measured, f"{path.stem} has no measured run time: python -m labtools.notebooks run {path.stem}"
    assert slot.fits, (f"{path.stem}: core {slot.core_minutes:.1f} min > {SLOT_MINUTES} (prose "
                       f"{slot.prose_minutes:.1f}, code {slot.code_minutes:.1f}, run {slot.run_minutes:.1f}, "
                       f"exercises {slot.exercise_minutes:.0f}): move what does not fit under 'Going further'")
