"""Modules of the package meet only through public names: no private name is imported across modules."""

from __future__ import annotations

import ast
from pathlib import Path

import aether

PACKAGE = Path(aether.__file__).parent


def private_imports(source: str, module: str) -> list[str]:
    """Each ``from X import _name`` of *source* (the module *module*) that reaches into another module.

    Relative imports are resolved against *module*; importing a public name under a private
    alias (``import x as _x``) is fine, and so is a module importing from itself.
    """
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom):
            target = node.module or ""
            if node.level:
                base = module.split(".")[: -node.level]
                target = ".".join([*base, target] if target else base)
            for alias in node.names:
                if alias.name.startswith("_") and not alias.name.startswith("__") and target != module:
                    found.append(f"{module} imports {alias.name} from {target}")
        elif isinstance(node, ast.Import):
            found += [f"{module} imports {alias.name}" for alias in node.names
                      if any(part.startswith("_") and not part.startswith("__") for part in alias.name.split("."))]
    return found


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def test_the_checker_finds_a_private_name_imported_from_another_module() -> None:
    assert private_imports("from aether.plots.style import _checksum, require", "aether.plots.latency") == [
        "aether.plots.latency imports _checksum from aether.plots.style"]
    assert private_imports("from .style import _checksum", "aether.plots.latency") == [
        "aether.plots.latency imports _checksum from aether.plots.style"]
    assert private_imports("from aether.checks import check_int as _check_int", "aether.clock") == []


def test_no_module_of_aether_imports_a_private_name_of_another() -> None:
    found = [line for path in sorted(PACKAGE.rglob("*.py"))
             for line in private_imports(path.read_text(encoding="utf-8"), module_name(path))]
    assert found == []
