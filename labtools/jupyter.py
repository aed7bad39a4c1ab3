"""A Jupyter server extension that saves the lab's notebooks in the form they are committed in.

Opening a chapter in JupyterLab starts a kernel, and JupyterLab writes what the
kernel reports (its Python version, say) into the notebook's metadata and
autosaves it. The file then differs from the committed one in bytes and size,
although nothing a reader sees has changed, and ``git status`` lists it (git
takes a changed size as a change without asking the clean filter).

This extension registers a pre-save hook that removes the same volatile
metadata the runner and the git filter remove (:data:`labtools.notebooks.VOLATILE_KEYS`)
before the server writes a notebook, so a notebook that was only opened is
saved byte for byte as committed. Edits are kept as they are.

``python -m labtools.notebooks lab`` (the README's way to open the chapters)
enables it in the environment's own Jupyter configuration
(``{sys.prefix}/etc/jupyter``, :func:`enable`) and starts JupyterLab on the
chapters; from then on a plain ``jupyter lab`` in that environment has it too
(``jupyter server extension list`` shows it). ``git-setup`` and Binder's
``postBuild`` enable it the same way.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from labtools.notebooks import KERNELSPEC, strip_volatile_metadata

__all__ = ["CONFIG_NAME", "enable", "keep_committed_form"]

#: The file, in ``etc/jupyter/jupyter_server_config.d`` of an environment, that enables the extension.
CONFIG_NAME = "aether-retry-lab.json"


def enable(prefix: Path | str | None = None) -> Path:
    """Enable the extension in the environment at *prefix* (default: this one, ``sys.prefix``); returns the file.

    Writes what ``jupyter server extension enable --sys-prefix labtools.jupyter``
    writes, without starting a second Python; writing it again changes nothing.
    """
    folder = Path(sys.prefix if prefix is None else prefix) / "etc" / "jupyter" / "jupyter_server_config.d"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / CONFIG_NAME
    text = json.dumps({"ServerApp": {"jpserver_extensions": {"labtools.jupyter": True}}}, indent=2) + "\n"
    if not path.is_file() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")
    return path


def keep_committed_form(model: dict[str, Any], path: str = "", **kwargs: Any) -> None:
    """Pre-save hook: strip volatile metadata from a notebook *model* about to be saved, in place.

    Files that are not notebooks pass untouched. A notebook on the plain
    ``python3`` kernel gets the lab's kernelspec (JupyterLab may rewrite its
    display name); a notebook on another kernel keeps its own.
    """
    if model.get("type") != "notebook" or not isinstance(model.get("content"), dict):
        return
    nb = strip_volatile_metadata(model["content"])
    metadata = nb.get("metadata", {})
    if metadata.get("kernelspec", {}).get("name") == KERNELSPEC["name"]:
        metadata["kernelspec"] = dict(KERNELSPEC)


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": "labtools.jupyter"}]


def _load_jupyter_server_extension(serverapp: Any) -> None:
    serverapp.contents_manager.register_pre_save_hook(keep_committed_form)
    serverapp.log.info("labtools.jupyter: notebooks are saved without volatile metadata")
