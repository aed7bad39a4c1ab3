"""The benchmark command runs end to end, and its reference simulators implement one model.

Nothing here asserts on speed: benchmarks print figures, tests check that they can.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from bench.cli import main, parse_sections
from bench.config import SECTIONS
from bench.models import (
    LOOPTIME_DEFAULT_NOOP_CYCLES,
    ContentionModel,
    bare_contention,
    clock_contention,
    looptime_available,
    looptime_contention,
    simpy_available,
    simpy_contention,
)
from bench.report import Row, Table
from bench.timing import rotated

#: Why a comparison test is skipped, and how to include it.
SIMPY_MISSING = 'SimPy is not installed: it comes with the bench extra (pip install -e ".[dev,bench]")'
LOOPTIME_MISSING = 'looptime is not installed: it comes with the bench extra (pip install -e ".[dev,bench]")'

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def quick_run() -> subprocess.CompletedProcess[str]:
    """One ``python -m bench --quick`` from the repository root, shared by the tests below.

    The checkout is its own ``--baseline``, so the big run's comparison with an
    older checkout runs too (both sides in their own processes).
    """
    return subprocess.run([sys.executable, "-m", "bench", "--quick", "--baseline", str(ROOT)], cwd=ROOT,
                          capture_output=True, text=True, timeout=240, check=False)


def _row(stdout: str, measurement: str) -> str:
    """The printed row whose measurement starts with *measurement* (fails the test if there is none)."""
    match = re.search(rf"^  {re.escape(measurement)}.*$", stdout, flags=re.MULTILINE)
    assert match, f"no row {measurement!r} in the output"
    return match.group(0)


# --------------------------------------------------------------------------- the command


@pytest.mark.slow
def test_quick_run_exits_successfully(quick_run: subprocess.CompletedProcess[str]) -> None:
    assert quick_run.returncode == 0, quick_run.stderr


@pytest.mark.slow
def test_quick_run_prints_a_table_for_every_section(quick_run: subprocess.CompletedProcess[str]) -> None:
    titles = re.findall(r"^== (\w+):", quick_run.stdout, flags=re.MULTILINE)
    assert set(titles) == set(SECTIONS)


@pytest.mark.slow
def test_quick_run_prints_ratios_next_to_the_figures(quick_run: subprocess.CompletedProcess[str]) -> None:
    header = re.compile(r"^\s+measurement\s+aether\s+alternative\s+ratio\s+target\s+result$", flags=re.MULTILINE)
    assert header.search(quick_run.stdout)
    assert re.search(r"/s\s+\d+\.\d\dx\s", quick_run.stdout), "no throughput row carries a ratio"


@pytest.mark.slow
def test_quick_run_names_the_machine_and_library_versions(quick_run: subprocess.CompletedProcess[str]) -> None:
    assert re.search(r"^machine: .+ logical cores", quick_run.stdout, flags=re.MULTILINE)
    assert re.search(r"^python: \w+ 3\.\d+", quick_run.stdout, flags=re.MULTILINE)
    assert re.search(r"^libraries: .*pandas \d", quick_run.stdout, flags=re.MULTILINE)


@pytest.mark.slow
def test_quick_run_times_the_parallel_sweep_against_the_sequential_one_and_finds_the_frames_identical(
        quick_run: subprocess.CompletedProcess[str]) -> None:
    for label in ("starting its workers", "workers already running"):
        row = _row(quick_run.stdout, f"sweep(jobs=2), {label}")
        assert re.search(r"/s\s+\d+\.\d\dx\s+>= 1\.60x\s+(met|missed)$", row), row
    assert "frames identical (pandas.testing.assert_frame_equal): yes" in quick_run.stdout


@pytest.mark.slow
@pytest.mark.skipif(not looptime_available(), reason=LOOPTIME_MISSING)
def test_quick_run_compares_the_harness_with_asyncio_on_looptime(quick_run: subprocess.CompletedProcess[str]) -> None:
    rows = [_row(quick_run.stdout, "run_contention end to end vs asyncio + looptime coroutines"),
            _row(quick_run.stdout, "our SimulatedClock, minimal writers vs asyncio + looptime coroutines")]
    rows += [_row(quick_run.stdout, f"run_contention end to end vs asyncio + looptime, noop_cycles={cycles}")
             for cycles in (LOOPTIME_DEFAULT_NOOP_CYCLES, 0)]
    for row in rows:
        assert re.search(r"/s\s+\d+\.\d\dx$", row), row
    agreement = re.search(r"^  configuration .*$", quick_run.stdout, flags=re.MULTILINE)
    assert agreement and "asyncio + looptime" in agreement.group(0)


@pytest.mark.slow
def test_quick_run_times_the_big_run_against_the_baseline_checkout(quick_run: subprocess.CompletedProcess[str]) -> None:
    row = _row(quick_run.stdout, "end to end vs the baseline checkout")
    assert re.search(r"\d s\s+\d\.\d\dx\s+<= 0\.45x\s+(met|missed)$", row), row
    assert _row(quick_run.stdout, "  of which building result.saves and result.calls")


@pytest.mark.slow
def test_quick_run_puts_the_sweep_targets_next_to_their_ratios(quick_run: subprocess.CompletedProcess[str]) -> None:
    if simpy_available():
        assert re.search(r"x\s+>= 0\.45x\s+(met|missed)$", _row(quick_run.stdout, "run_contention end to end vs SimPy"))


def test_a_baseline_without_an_aether_package_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--quick", "--only", "simulation", "--baseline", str(tmp_path)])
    assert exit_info.value.code == 2
    assert "aether package" in capsys.readouterr().err


def test_an_unknown_section_is_refused_with_its_name(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--quick", "--only", "store"])
    assert exit_info.value.code == 2
    assert "'store'" in capsys.readouterr().err


# --------------------------------------------------------------------------- small parts


def test_only_selects_sections_in_run_order_whatever_order_they_are_named_in() -> None:
    assert parse_sections(["memory,stores", "memory|notebooks"]) == ["stores", "memory", "notebooks"]


def test_no_only_option_selects_every_section() -> None:
    assert parse_sections(None) == list(SECTIONS)


def test_each_repetition_starts_with_the_next_contender() -> None:
    assert [rotated("abc", r) for r in range(4)] == [list("abc"), list("bca"), list("cab"), list("abc")]


def test_a_table_aligns_every_row_under_its_header() -> None:
    table = Table("demo", [Row.comparison("save", "1/s", "2/s", "0.50x"), Row.comparison("a longer name", "10/s")])
    lines = table.render().splitlines()
    ratio_column = lines[1].index("ratio")
    assert lines[3][ratio_column:ratio_column + 5] == "0.50x"


# --------------------------------------------------------------------------- the reference simulators


@pytest.mark.parametrize("jitter", ["none", "full"])
def test_bare_heap_and_simulated_clock_versions_of_the_model_agree_exactly(jitter: str) -> None:
    model = ContentionModel(jitter=jitter)
    assert bare_contention(25, 3, model) == clock_contention(25, 3, model)


@pytest.mark.skipif(not simpy_available(), reason=SIMPY_MISSING)
def test_simpy_version_of_the_model_agrees_exactly_with_the_bare_heap() -> None:
    model = ContentionModel(jitter="full")
    assert simpy_contention(25, 3, model) == bare_contention(25, 3, model)


@pytest.mark.skipif(not looptime_available(), reason=LOOPTIME_MISSING)
def test_asyncio_version_of_the_model_on_looptime_agrees_exactly_with_the_bare_heap() -> None:
    model = ContentionModel(jitter="full")
    assert looptime_contention(25, 3, model) == bare_contention(25, 3, model)


@pytest.mark.skipif(not looptime_available(), reason=LOOPTIME_MISSING)
def test_looptime_idle_cycles_do_not_change_a_run_of_the_model() -> None:
    model = ContentionModel(jitter="none")
    default = looptime_contention(10, 1, model, noop_cycles=LOOPTIME_DEFAULT_NOOP_CYCLES)
    assert looptime_contention(10, 1, model, noop_cycles=0) == default


def test_every_writer_of_the_model_either_commits_or_gives_up() -> None:
    outcome = bare_contention(40, 0, ContentionModel(jitter="none", max_attempts=3))
    assert outcome.committed + outcome.gave_up == 40
    assert outcome.gave_up > 0


def test_the_model_refuses_a_jitter_it_does_not_implement() -> None:
    with pytest.raises(ValueError, match="'equal'"):
        ContentionModel(jitter="equal")


def test_quick_run_times_the_claims_check_at_its_points_and_as_ci_runs_it(
        quick_run: subprocess.CompletedProcess[str]) -> None:
    at_points = _row(quick_run.stdout, "chapter 00, 2 held-out seeds, each claim at its point")
    assert re.search(r"\d+/\d+ hold \(\d+/\d+ runs held\)\s+<= 600 s\s+(met|missed)$", at_points)
    ci = _row(quick_run.stdout, "chapter 00, 2 seeds x (its point + 1 perturbed + 1 corner)")
    assert re.search(r"\d+/\d+ hold", ci)
