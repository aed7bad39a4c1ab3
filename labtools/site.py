"""The collection's web site: every chapter as a page, built from the committed notebooks with no re-execution.

Usage (from the repository root)::

    python -m labtools.site build            # docs/_build/html, warnings are errors
    python -m labtools.site build --open     # and open the home page in a browser

It runs ``sphinx-build -W --keep-going -b html docs docs/_build/html`` (Sphinx with
myst-nb and the book theme; the ``docs`` extra installs them) and needs no network.
Its sources: ``docs/index.md`` (the home page and the chapter order), the guides
in ``docs/``, and the chapters themselves: the committed notebooks, copied by
:func:`stage_chapters` into ``docs/chapters/`` (git-ignored) when the build starts.

Figures keep their alt text. A notebook figure says what it shows in one of
these places, read in this order:

1. the output's metadata for the image: ``{"image/png": {"alt": "..."}}``
   (what ``IPython.display.Image(..., alt=...)`` and ``display(..., metadata=...)`` write);
2. the output's own metadata: ``{"alt": "..."}``;
3. a text chunk of the PNG itself: ``Alt``, ``Alt Text`` or ``Description``
   (``fig.savefig(..., metadata={"Description": ...})``).

:func:`setup_alt_text` gives the site's ``<img>`` that text; the site's tests list
every figure that has none.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import json
import sys
import webbrowser
from collections.abc import Iterator, Sequence
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

__all__ = [
    "ALT_TEXT_CHUNKS",
    "BUILD_DIR",
    "SOURCE_DIR",
    "alt_text_of",
    "build",
    "figure_alt_texts",
    "jupyter_slug",
    "main",
    "page_images",
    "page_links",
    "setup_alt_text",
    "stage_chapters",
    "write_slot_table",
]

#: Where the site's sources are and where it is built, relative to the repository root.
SOURCE_DIR = Path("docs")
BUILD_DIR = Path("docs/_build/html")
#: The tag of an exercise's worked solution, and myst-nb's tag that folds a cell on the page.
SOLUTION_TAG = "solution"
HIDE_TAG = "hide-cell"
#: PNG text chunks read as a figure's alt text, in order of preference.
ALT_TEXT_CHUNKS = ("Alt", "alt", "Alt Text", "Description")


def jupyter_slug(title: str) -> str:
    """The anchor JupyterLab gives a heading: its text with spaces as hyphens (``The chapters`` -> ``The-chapters``).

    The site uses the same anchors, so a chapter's ``[link](00_x.ipynb#The-chapters)``
    works in JupyterLab and on the site alike.
    """
    if not isinstance(title, str):
        raise TypeError(f"title must be a str, got {type(title).__name__}")
    return "-".join(title.strip().split())


def _png_alt(data: bytes) -> str | None:
    from PIL import Image

    with Image.open(io.BytesIO(data)) as image:
        chunks = dict(getattr(image, "text", {}) or {})
    for key in ALT_TEXT_CHUNKS:
        value = str(chunks.get(key, "")).strip()
        if value:
            return value
    return None


def alt_text_of(output: dict[str, Any], mime: str = "image/png") -> str | None:
    """The alt text a notebook output carries for its *mime* image, or ``None`` (see the module's list)."""
    metadata = output.get("metadata", {}) or {}
    for candidate in ((metadata.get(mime) or {}).get("alt"), metadata.get("alt")):
        if isinstance(candidate, str) and candidate.strip():
            return candidate.strip()
    data = output.get("data", {}).get(mime)
    if mime == "image/png" and data:
        return _png_alt(base64.b64decode(data if isinstance(data, str) else "".join(data)))
    return None


def _image_outputs(folder: Path) -> Iterator[tuple[Path, int, dict[str, Any], bytes]]:
    for path in sorted(folder.glob("*.ipynb")):
        nb = json.loads(path.read_text(encoding="utf-8"))
        for index, cell in enumerate(nb.get("cells", [])):
            for output in cell.get("outputs", []):
                data = output.get("data", {}).get("image/png")
                if data:
                    yield path, index, output, base64.b64decode(data if isinstance(data, str) else "".join(data))


def figure_alt_texts(folder: Path) -> dict[str, str | None]:
    """Every PNG figure of the notebooks in *folder*, by the SHA-256 of its bytes: its alt text or ``None``.

    myst-nb names each figure file after that digest, which is how the site
    finds a figure's alt text again.
    """
    found: dict[str, str | None] = {}
    for _path, _index, output, data in _image_outputs(folder):
        digest = hashlib.sha256(data).hexdigest()
        found[digest] = found.get(digest) or alt_text_of(output)
    return found


def setup_alt_text(app: Any, notebooks: Path) -> None:
    """Register with Sphinx *app*: every notebook figure without alt text gets the one its notebook carries."""
    from docutils import nodes

    texts: dict[str, str | None] = {}

    def read_notebooks(_app: Any) -> None:
        texts.clear()
        texts.update(figure_alt_texts(notebooks))

    def carry(_app: Any, doctree: Any) -> None:
        for image in doctree.findall(nodes.image):
            if image.get("alt"):
                continue
            alt = texts.get(Path(str(image.get("uri", ""))).stem)
            if alt:
                image["alt"] = alt

    app.connect("builder-inited", read_notebooks)
    app.connect("doctree-read", carry)


def stage_chapters(notebooks: Path, target: Path) -> list[Path]:
    """Copy every notebook of *notebooks* into *target*, emptied first; returns the copies in reading order.

    The site reads the chapters from this copy (a folder of the Sphinx source),
    so links between chapters (``01_simple_retry.ipynb``) resolve as they do in
    JupyterLab, and a chapter removed from ``notebooks/`` leaves no page behind.
    In the copy, every cell tagged ``solution`` also gets myst-nb's ``hide-cell``
    tag: a worked solution is folded behind a button on the site, as in JupyterLab.
    """
    import shutil

    if not notebooks.is_dir():
        raise ValueError(f"notebooks must be a folder, got {str(notebooks)!r}")
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    copies = []
    for path in sorted(notebooks.glob("*.ipynb")):
        nb = json.loads(path.read_text(encoding="utf-8"))
        for cell in nb.get("cells", []):
            tags = cell.get("metadata", {}).get("tags", [])
            if SOLUTION_TAG in tags and HIDE_TAG not in tags:
                tags.append(HIDE_TAG)
        copy = target / path.name
        copy.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        copies.append(copy)
    return copies


def write_slot_table(notebooks: Path, target: Path) -> Path:
    """Write the chapters' slot table (``python -m labtools.slots``) as Markdown to *target*, for the guide.

    The instructor guide includes this file, so its table is computed from the
    chapters at every build and never drifts from them.
    """
    from labtools.slots import estimate_folder, markdown_table

    slots = estimate_folder(notebooks)
    unmeasured = [slot.name for slot in slots if not slot.measured]
    note = ""
    if unmeasured:
        note = (
            f"\nNot measured yet (their run time is left out): {', '.join(unmeasured)}."
            " `python -m labtools.notebooks run` measures it.\n"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(markdown_table(slots) + note, encoding="utf-8")
    return target


def build(source: Path = SOURCE_DIR, out: Path = BUILD_DIR, *, quiet: bool = True, warnings: Path | None = None) -> int:
    """Build the site from *source* into *out* with warnings as errors; returns Sphinx's exit code (0: built).

    *out* is emptied first and the environment read afresh (``-E``), so a build
    never shows a page of an older one. With *warnings*, Sphinx also writes
    every warning to that file.
    """
    import shutil

    from sphinx.cmd.build import build_main

    if out.exists():
        shutil.rmtree(out)
    args = ["-W", "--keep-going", "-E", "-b", "html", str(source), str(out)]
    if warnings is not None:
        args[:0] = ["-w", str(warnings)]
    if quiet:
        args.insert(0, "-q")
    return build_main(args)


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.images: list[dict[str, str | None]] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if attributes.get("id"):
            self.ids.add(str(attributes["id"]))
        if tag == "a" and attributes.get("href"):
            self.links.append(str(attributes["href"]))
        if tag == "img":
            self.images.append(attributes)


def _parse(page: Path) -> _Collector:
    collector = _Collector()
    collector.feed(page.read_text(encoding="utf-8"))
    return collector


def page_links(page: Path) -> list[str]:
    """Every ``href`` of the ``<a>`` elements of HTML *page*, in order."""
    return _parse(page).links


def page_images(page: Path) -> list[dict[str, str | None]]:
    """The attributes of every ``<img>`` of HTML *page*, in order."""
    return _parse(page).images


def page_ids(page: Path) -> set[str]:
    """Every ``id`` on HTML *page*: what a ``#fragment`` link can land on."""
    return _parse(page).ids


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the process exit code."""
    parser = argparse.ArgumentParser(prog="python -m labtools.site", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    command = sub.add_parser("build", help="build the site into docs/_build/html (warnings are errors)")
    command.add_argument("--open", action="store_true", help="open the home page in a browser afterwards")
    command.add_argument("--verbose", action="store_true", help="show Sphinx's progress")
    args = parser.parse_args(argv)
    if not (SOURCE_DIR / "conf.py").exists():
        parser.error(f"no {SOURCE_DIR / 'conf.py'}: run from the repository root")
    try:
        import myst_nb  # noqa: F401
        import sphinx_book_theme  # noqa: F401
    except ImportError as missing:
        print(f'the site needs the docs extra ({missing.name} is missing): pip install -e ".[docs]"', file=sys.stderr)
        return 2
    code = build(quiet=not args.verbose)
    if code == 0:
        home = (BUILD_DIR / "index.html").resolve()
        print(f"built {home}")
        if args.open:
            webbrowser.open(home.as_uri())
    return code


if __name__ == "__main__":
    sys.exit(main())
