"""Sphinx configuration of the collection's site: the committed, executed notebooks, never re-executed.

Build it from the repository root with ``python -m labtools.site build`` (the same
as ``sphinx-build -W --keep-going -E -b html docs docs/_build/html``). The chapters are
the committed notebooks of ``notebooks/``, copied afresh into ``docs/chapters/``
(git-ignored) at the start of every build, so the site never shows an old copy.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # labtools, when the package is not installed

from labtools.site import setup_alt_text, stage_chapters, write_slot_table  # noqa: E402

project = "Aether retry lab"
author = "The Aether retry lab authors"
copyright = "the Aether retry lab authors; text and figures CC BY 4.0, code MIT"  # noqa: A001

extensions = ["myst_nb"]

root_doc = "index"
exclude_patterns = ["_build", "_generated", "**/.ipynb_checkpoints", "Thumbs.db", ".DS_Store"]

# The notebooks are committed executed (python -m labtools.notebooks run): the site shows those outputs.
nb_execution_mode = "off"
nb_execution_raise_on_error = True
nb_merge_streams = True
# Worked solutions (tagged "solution", given "hide-cell" in the staged copy) stay folded until asked for.
nb_code_prompt_show = "Show the solution ({type})"
nb_code_prompt_hide = "Hide the solution ({type})"
myst_enable_extensions = ["colon_fence", "dollarmath"]
# Anchors as JupyterLab makes them ("## The chapters" -> #The-chapters), so a chapter's links work in both.
myst_heading_anchors = 3
myst_heading_slug_func = "labtools.site.jupyter_slug"

html_theme = "sphinx_book_theme"
html_title = "Aether retry lab"
html_theme_options = {
    "home_page_in_toc": True,
    "show_navbar_depth": 1,
    "show_toc_level": 2,
    "use_download_button": True,
    "use_fullscreen_button": False,
    "use_repository_button": False,
}
html_last_updated_fmt = None
html_copy_source = True  # the download button offers each chapter as .ipynb
html_show_sourcelink = False

# No request leaves the build: intersphinx and link checks stay off.
suppress_warnings: list[str] = []


def setup(app):  # noqa: ANN001, ANN201 - Sphinx's hook
    """Copy the chapters in, write the guide's slot table, carry each figure's alt text (see labtools.site)."""
    stage_chapters(ROOT / "notebooks", Path(app.srcdir) / "chapters")
    write_slot_table(ROOT / "notebooks", Path(app.srcdir) / "_generated" / "slots.md")
    setup_alt_text(app, ROOT / "notebooks")
    return {"parallel_read_safe": True}
