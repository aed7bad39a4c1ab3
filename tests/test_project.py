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


def _conda_packages() -> set[str]:
    names = set()
    text = (ROOT / "environment.yml").read_text()
    for line in text.split("\ndependencies:", 1)[1].splitlines():
        match = re.match(r"^  - ([A-Za-z0-9_.\-]+)", line)
        if match:
            names.add(match.group(1).lower())
    return names - {"python", "pip"}


def test_environment_yml_lists_the_same_packages_as_the_dev_install() -> None:
    project = _pyproject()["project"]
    extras = project["optional-dependencies"]
    wanted = {_requirement_name(s) for s in project["dependencies"]}
    wanted |= {_requirement_name(s) for s in extras["notebooks"] + extras["dev"]}
    wanted.discard(project["name"])
    assert _conda_packages() == wanted


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


def test_every_public_name_is_documented() -> None:
    undocumented = [name for name in aether.__all__ if not inspect.getdoc(getattr(aether, name))]
    assert undocumented == []


def test_readme_quick_start_matches_the_project() -> None:
    readme = (ROOT / "README.md").read_text()
    assert 'pip install -e ".[dev]"' in readme
    assert "pytest" in readme
    assert "python -m aether.notebooks run" in readme


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
