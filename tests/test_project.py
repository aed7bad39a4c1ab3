"""The project's own files agree with each other: dependencies, public API, CI entry point."""

from __future__ import annotations

import inspect
import os
import re
import tomllib
from pathlib import Path

import aether

ROOT = Path(__file__).resolve().parent.parent


def _requirement_name(spec: str) -> str:
    return re.split(r"[<>=!~\[ ;]", spec.strip(), maxsplit=1)[0].lower()


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


#: PyPI name -> conda-forge name where the two differ. matplotlib-base is matplotlib without
#: the GUI toolkits; jupyterlab stands for the jupyter metapackage (the lab opens the notebooks).
CONDA_NAME = {"matplotlib": "matplotlib-base", "jupyter": "jupyterlab"}
#: conda packages whose version numbers are not those of the PyPI requirement they stand for.
OWN_VERSIONS = {"jupyterlab"}


ENVIRONMENT = ROOT / "environment.yml"


def _conda_dependencies() -> dict[str, str]:
    """environment.yml's conda dependencies: name -> the rest of the line (the version spec)."""
    found = {}
    text = ENVIRONMENT.read_text()
    for line in text.split("\ndependencies:", 1)[1].splitlines():
        match = re.match(r"^  - ([A-Za-z0-9_.\-]+)\s*(\S*)\s*$", line)
        if match:
            found[match.group(1).lower()] = match.group(2)
    return found


def _conda_packages() -> set[str]:
    return set(_conda_dependencies()) - {"python", "pip"}


def _attendee_install_requirements() -> dict[str, str]:
    """What ``pip install -e ".[notebooks]"`` asks for, by conda name: name -> version spec."""
    project = _pyproject()["project"]
    extras = project["optional-dependencies"]
    wanted = {}
    for spec in project["dependencies"] + extras["notebooks"]:
        name = _requirement_name(spec)
        if name != project["name"]:
            wanted[CONDA_NAME.get(name, name)] = spec.strip()[len(name) :].strip()
    return wanted


def test_environment_yml_lists_the_same_packages_as_the_attendee_install() -> None:
    assert _conda_packages() == set(_attendee_install_requirements())


def test_environment_yml_asks_for_the_same_minimum_versions_as_the_attendee_install() -> None:
    conda = _conda_dependencies()
    for name, spec in _attendee_install_requirements().items():
        if name not in OWN_VERSIONS:
            assert conda.get(name) == spec, name


def test_environment_yml_pins_python_in_the_form_binder_reads() -> None:
    # repo2docker (Binder) takes the Python version from the first dependency matching this
    # pattern, the one it uses itself; a range such as python>=3.11 does not match it.
    binder_pattern = re.compile(r"python\s*=+\s*([\d\.]*)")
    pins = [name + spec for name, spec in _conda_dependencies().items() if name == "python"]
    assert len(pins) == 1
    match = binder_pattern.match(pins[0])
    assert match and re.fullmatch(r"3\.\d+", match.group(1)), pins[0]
    minimum = re.fullmatch(r">=(\d+)\.(\d+)", _pyproject()["project"]["requires-python"])
    assert minimum
    assert tuple(int(n) for n in match.group(1).split(".")) >= (int(minimum[1]), int(minimum[2]))


def test_binder_keeps_the_dependency_layer_apart_from_the_package() -> None:
    # repo2docker builds environment.yml into a layer of its own before it copies the repository;
    # installing the package there (pip: -e .) would rebuild that layer after every commit.
    text = ENVIRONMENT.read_text()
    assert not re.search(r"^\s+- -e", text, re.M) and not re.search(r"^\s+- \.\s*$", text, re.M)
    post_build = ROOT / "postBuild"
    assert os.access(post_build, os.X_OK)
    assert re.search(r"^python -m pip install .*--no-deps -e \.$", post_build.read_text(), re.M)


def test_the_attendee_install_is_the_smallest_that_runs_every_chapter() -> None:
    extras = _pyproject()["project"]["optional-dependencies"]
    attendee = {_requirement_name(s) for s in extras["notebooks"]}
    assert {"jupyter", "ipykernel", "tenacity", "stamina"} <= attendee
    assert not attendee & {"pytest", "nbval", "ruff", "sphinx", "selenium"}, "test and build tools stay in dev"


def test_benchmark_only_dependencies_stay_out_of_the_core_install() -> None:
    project = _pyproject()["project"]
    core = {_requirement_name(s) for s in project["dependencies"]}
    bench = {_requirement_name(s) for s in project["optional-dependencies"]["bench"]}
    assert bench and not (bench & core)


def test_ci_entry_point_installs_from_the_repo_and_runs_pytest() -> None:
    script = ROOT / ".ci" / "run"
    assert os.access(script, os.X_OK)
    text = script.read_text()
    assert 'pip install --quiet -e ".[dev,bench]"' in text
    assert re.search(r"^pytest\s*$", text, re.M)


def test_ci_lints_the_code_and_the_notebooks_before_the_tests() -> None:
    text = (ROOT / ".ci" / "run").read_text()
    lint = re.search(r"^ruff check aether labtools tests notebooks bench docs\s*$", text, re.M)
    tests = re.search(r"^pytest\s*$", text, re.M)
    assert lint and tests and lint.start() < tests.start()
    dev = {_requirement_name(s) for s in _pyproject()["project"]["optional-dependencies"]["dev"]}
    assert "ruff" in dev


def test_the_package_declares_its_license_as_an_spdx_expression_with_the_file() -> None:
    pyproject = _pyproject()
    assert pyproject["project"]["license"] == "MIT"
    assert pyproject["project"]["license-files"] == ["LICENSE"]
    text = (ROOT / "LICENSE").read_text()
    assert text.startswith("MIT License") and "The Aether retry lab authors" in text
    setuptools = [r for r in pyproject["build-system"]["requires"] if _requirement_name(r) == "setuptools"]
    floor = re.fullmatch(r"setuptools>=(\d+)", setuptools[0].replace(" ", "")) if setuptools else None
    assert floor and int(floor[1]) >= 77, "SPDX license strings need setuptools 77"


def test_ci_runs_the_tests_then_checks_every_claim_at_perturbed_points_and_corners_then_builds_the_site() -> None:
    text = (ROOT / ".ci" / "run").read_text()
    tests = re.search(r"^pytest\s*$", text, re.M)
    claims = re.search(r"^python -m aether\.claims check --perturb [1-9]\d* --corners ([1-9]\d*|all) --jobs \d+$",
                       text, re.M)
    site = re.search(r"^python -m labtools\.site build$", text, re.M)
    assert tests and claims and site and tests.start() < claims.start() < site.start()


def test_ci_installs_debians_postgresql_where_pgserver_has_no_wheel() -> None:
    text = (ROOT / ".ci" / "run").read_text()
    assert "ls /usr/lib/postgresql/*/bin/pg_ctl" in text
    assert "--no-install-recommends postgresql" in text


def test_ci_treats_no_collected_tests_as_a_failure() -> None:
    text = (ROOT / ".ci" / "run").read_text()
    assert re.search(r'if \[ "\$status" -eq 5 \]; then\n.*\n\s+exit 1', text)


def test_ci_installs_the_browser_for_the_site_test_when_it_is_missing() -> None:
    text = (ROOT / ".ci" / "run").read_text()
    assert "command -v chromedriver" in text
    assert "apt-get install -y -q --no-install-recommends chromium chromium-driver" in text


PLACEHOLDER = re.compile(r"\bOWNER\b|\bUSER(NAME)?/|<your|example\.(com|org)/")


def test_no_placeholder_address_in_the_readme_or_the_project_metadata() -> None:
    for name in ("README.md", "pyproject.toml", "CITATION.cff", "CONTRIBUTING.md"):
        text = (ROOT / name).read_text()
        assert not PLACEHOLDER.search(text), name
    assert not re.search(r"mybinder\.org/v2/gh/", (ROOT / "README.md").read_text()), "no badge to a repository"


def test_the_readme_says_how_to_launch_binder_on_the_first_notebook() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "https://mybinder.org" in readme
    urlpath = re.search(r"`(lab/tree/notebooks/[^`]+\.ipynb)`", readme)
    assert urlpath and urlpath.group(1) == "lab/tree/notebooks/00_optimistic_concurrency.ipynb"
    assert (ROOT / urlpath.group(1).removeprefix("lab/tree/")).exists()


def test_nbval_does_not_compare_figure_bytes() -> None:
    # nbval skips image/png unless --nbdime is given: the runner re-encodes figures, and other
    # matplotlib or FreeType versions render them slightly differently.
    addopts = _pyproject()["tool"]["pytest"]["ini_options"]["addopts"]
    assert not any(opt.startswith("--nbdime") for opt in addopts)
    sanitize = (ROOT / "tests" / "nbval_sanitize.cfg").read_text()
    assert "image/png" not in sanitize


def test_every_public_name_is_documented() -> None:
    undocumented = [name for name in aether.__all__ if not inspect.getdoc(getattr(aether, name))]
    assert undocumented == []


def test_readme_quick_start_matches_the_project() -> None:
    readme = (ROOT / "README.md").read_text()
    quick = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    assert 'pip install -e ".[notebooks]"' in quick, "attendees install the smallest set"
    assert "Scripts" in quick and ".venv/bin" in quick, "Windows and POSIX paths both"
    assert "--allow-root" in quick
    assert 'pip install -e ".[dev]"' in readme and re.search(r"^\S*pytest\s*$", readme, re.M)
    assert "python -m labtools.notebooks run" in readme
    assert "python -m labtools.site build" in readme


def test_the_text_and_figures_have_their_own_licence_and_the_lab_a_citation() -> None:
    licence = (ROOT / "LICENSE-CC-BY-4.0.md").read_text()
    assert "Attribution 4.0 International" in licence and "Section 1" in licence
    citation = (ROOT / "CITATION.cff").read_text()
    assert re.search(r"^cff-version: 1\.2\.0$", citation, re.M)
    assert re.search(r"^license: \[?MIT", citation, re.M) or "CC-BY-4.0" in citation
    version = _pyproject()["project"]["version"]
    assert re.search(rf"^version: \"?{re.escape(version)}\"?$", citation, re.M)


def test_the_library_does_not_import_the_lab_s_tooling() -> None:
    offenders = [
        str(path.relative_to(ROOT))
        for path in (ROOT / "aether").rglob("*.py")
        if re.search(r"^\s*(from|import) labtools\b", path.read_text(), re.M)
    ]
    assert offenders == []
    assert not (ROOT / "aether" / "notebooks.py").exists()


def test_the_top_level_holds_the_core_only_and_leaves_the_rest_to_its_namespaces() -> None:
    import aether.experiment  # noqa: F401 - loaded, yet not re-exported
    import aether.patterns  # noqa: F401

    assert len(aether.__all__) <= 40
    core = ("aether.events", "aether.errors", "aether.store", "aether.clock", "aether.contracts", "aether.deadlines")
    homes = {name: getattr(getattr(aether, name), "__module__", "") for name in aether.__all__}
    assert {name: home for name, home in homes.items() if not home.startswith(core)} == {}
    assert not hasattr(aether, "run_contention") and not hasattr(aether, "jitter_retry")


def test_the_go_sentinel_names_live_in_aether_errors_only() -> None:
    import aether.errors

    assert aether.errors.ErrVersionConflict is aether.ConflictError
    assert aether.errors.ErrCircuitBreakerOpen is aether.CircuitBreakerOpenError
    assert "ErrVersionConflict" not in aether.__all__ and not hasattr(aether, "ErrCircuitBreakerOpen")


def test_from_aether_import_calibrate_is_always_the_module() -> None:
    import types

    from aether import calibrate

    assert isinstance(calibrate, types.ModuleType) and calibrate.__name__ == "aether.calibrate"


def test_importing_the_package_does_not_load_pandas_or_matplotlib() -> None:
    import subprocess
    import sys

    code = "import sys, aether; print('pandas' in sys.modules, 'matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


def test_unknown_attributes_still_raise_attribute_error() -> None:
    import pytest

    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        aether.nope  # noqa: B018
