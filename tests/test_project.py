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


def _conda_dependencies() -> dict[str, str]:
    """environment.yml's conda dependencies: name -> the rest of the line (the version spec)."""
    found = {}
    text = (ROOT / "environment.yml").read_text()
    for line in text.split("\ndependencies:", 1)[1].splitlines():
        match = re.match(r"^  - ([A-Za-z0-9_.\-]+)\s*(\S*)\s*$", line)
        if match:
            found[match.group(1).lower()] = match.group(2)
    return found


def _conda_packages() -> set[str]:
    return set(_conda_dependencies()) - {"python", "pip"}


def _dev_install_requirements() -> dict[str, str]:
    """What ``pip install -e ".[dev]"`` asks for, by conda name: name -> version spec."""
    project = _pyproject()["project"]
    extras = project["optional-dependencies"]
    wanted = {}
    for spec in project["dependencies"] + extras["notebooks"] + extras["dev"]:
        name = _requirement_name(spec)
        if name != project["name"]:
            wanted[CONDA_NAME.get(name, name)] = spec.strip()[len(name) :].strip()
    return wanted


def test_environment_yml_lists_the_same_packages_as_the_dev_install() -> None:
    assert _conda_packages() == set(_dev_install_requirements())


def test_environment_yml_asks_for_the_same_minimum_versions_as_the_dev_install() -> None:
    conda = _conda_dependencies()
    for name, spec in _dev_install_requirements().items():
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


def test_environment_yml_installs_this_package_in_editable_mode() -> None:
    assert re.search(r"^\s+- -e \.\s*$", (ROOT / "environment.yml").read_text(), re.M)


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
    lint = re.search(r"^ruff check aether tests notebooks bench\s*$", text, re.M)
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


def test_the_binder_badge_opens_the_first_notebook_of_the_project_s_repository() -> None:
    readme = (ROOT / "README.md").read_text()
    badge = re.search(
        r"\[!\[[^\]]*\]\(https://mybinder\.org/badge_logo\.svg\)\]"
        r"\(https://mybinder\.org/v2/gh/([^/]+/[^/]+)/([^?)]+)\?urlpath=([^)]+)\)",
        readme,
    )
    assert badge, "no mybinder.org badge in README.md"
    repo, _branch, urlpath = badge.groups()
    assert urlpath == "lab/tree/notebooks/00_optimistic_concurrency.ipynb"
    assert (ROOT / urlpath.removeprefix("lab/tree/")).exists()
    urls = _pyproject()["project"]["urls"]
    assert urls["Homepage"] == f"https://github.com/{repo}"
    assert urls["Documentation"] == f"https://github.com/{repo}#readme"
    assert urls["Issues"] == f"https://github.com/{repo}/issues"


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
    assert 'pip install -e ".[dev]"' in readme
    assert "pytest" in readme
    assert "python -m labtools.notebooks run" in readme


def test_the_package_re_exports_every_pattern_and_experiment_name() -> None:
    import aether.experiment
    import aether.patterns

    for module in (aether.experiment, aether.patterns):
        for name in module.__all__:
            assert name in aether.__all__, name
            assert getattr(aether, name) is getattr(module, name)


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
