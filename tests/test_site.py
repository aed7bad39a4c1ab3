"""The site (``python -m labtools.site build``): every chapter a page, links that land, figures with alt text.

The site is built once for this module into a temporary folder, from the
committed notebooks and with no re-execution; the tests read the HTML it wrote.
"""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

pytest.importorskip("myst_nb", reason='the site needs the docs extra (included in dev): pip install -e ".[docs]"')
pytest.importorskip(
    "sphinx_book_theme", reason='the site needs the docs extra (included in dev): pip install -e ".[docs]"'
)

from labtools.notebooks import find_notebooks  # noqa: E402
from labtools.site import (  # noqa: E402
    alt_text_of,
    build,
    figure_alt_texts,
    jupyter_slug,
    page_ids,
    page_images,
    page_links,
)

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = find_notebooks(ROOT / "notebooks")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int, str]:
    """The built site: (its folder, Sphinx's exit code, the warnings it wrote)."""
    folder = tmp_path_factory.mktemp("site")
    out, warnings = folder / "html", folder / "warnings.txt"
    code = build(ROOT / "docs", out, warnings=warnings)
    return out, code, warnings.read_text() if warnings.exists() else ""


def _pages(out: Path) -> list[Path]:
    return sorted(p for p in out.rglob("*.html") if "_static" not in p.parts)


def _chapter_page(out: Path, notebook: Path) -> Path:
    return out / "chapters" / f"{notebook.stem}.html"


def _missing_alt(image: dict[str, str | None]) -> bool:
    """No alt text, or only the one docutils writes when there is none: the file's own address."""
    alt = (image.get("alt") or "").strip()
    return not alt or alt == image.get("src") or alt.endswith(".png")


# --- the build ----------------------------------------------------------------------------------


def test_the_site_builds_with_no_warning(site: tuple[Path, int, str]) -> None:
    _out, code, warnings = site
    assert warnings.strip() == ""
    assert code == 0


def test_every_chapter_has_a_page_with_its_title(site: tuple[Path, int, str]) -> None:
    out, _code, _warnings = site
    assert NOTEBOOKS, "no notebooks found"
    for notebook in NOTEBOOKS:
        page = _chapter_page(out, notebook)
        assert page.exists(), notebook.name
        nb = json.loads(notebook.read_text(encoding="utf-8"))
        title = next(c for c in nb["cells"] if c["cell_type"] == "markdown")
        heading = "".join(title["source"]).splitlines()[0].lstrip("# ").strip()
        html = page.read_text(encoding="utf-8")
        assert f"<title>{heading.split(':')[0]}" in html.replace("&#8217;", "'"), notebook.name


def test_the_home_page_lists_every_chapter_in_reading_order(site: tuple[Path, int, str]) -> None:
    out, _code, _warnings = site
    links = [urlsplit(h).path for h in page_links(out / "index.html")]
    chapters = [link for link in links if link.startswith("chapters/")]
    order = [f"chapters/{nb.stem}.html" for nb in NOTEBOOKS]
    first_seen = list(dict.fromkeys(c for c in chapters if c in order))
    assert first_seen == order


def test_the_site_is_built_from_the_committed_outputs_without_running_them(site: tuple[Path, int, str]) -> None:
    out, _code, _warnings = site
    # Every committed figure is on the site, byte for byte (myst-nb names each after its digest).
    expected = set(figure_alt_texts(ROOT / "notebooks"))
    written = {p.stem for p in (out / "_images").glob("*.png")}
    assert expected and expected <= written
    assert not (out / "reports").exists(), "no execution report: nothing was executed"


def test_the_site_has_a_search_index_that_knows_the_chapters(site: tuple[Path, int, str]) -> None:
    out, _code, _warnings = site
    assert (out / "search.html").exists()
    index = (out / "searchindex.js").read_text(encoding="utf-8")
    for notebook in NOTEBOOKS:
        assert f"chapters/{notebook.stem}" in index, notebook.stem


# --- links --------------------------------------------------------------------------------------


def test_every_internal_link_resolves_to_a_page_and_an_anchor_on_it(site: tuple[Path, int, str]) -> None:
    out, _code, _warnings = site
    broken = []
    for page in _pages(out):
        for href in page_links(page):
            parts = urlsplit(href)
            if parts.scheme or parts.netloc or href.startswith(("mailto:", "javascript:")):
                continue
            target = (page.parent / unquote(parts.path)).resolve() if parts.path else page
            if target.is_dir():
                target = target / "index.html"
            if not target.exists():
                broken.append(f"{page.relative_to(out)} -> {href}")
            elif parts.fragment and target.suffix == ".html" and unquote(parts.fragment) not in page_ids(target):
                broken.append(f"{page.relative_to(out)} -> {href} (no such anchor)")
    assert broken == []


def test_chapter_anchors_are_the_ones_jupyterlab_makes() -> None:
    assert jupyter_slug("The chapters") == "The-chapters"
    assert jupyter_slug("  1. The pattern ") == "1.-The-pattern"
    with pytest.raises(TypeError, match="title must be a str"):
        jupyter_slug(3)  # type: ignore[arg-type]


# --- figures and their alt text -------------------------------------------------------------------


def test_every_chapter_page_shows_its_figures(site: tuple[Path, int, str]) -> None:
    out, _code, _warnings = site
    for notebook in NOTEBOOKS:
        nb = json.loads(notebook.read_text(encoding="utf-8"))
        figures = sum("image/png" in o.get("data", {}) for c in nb["cells"] for o in c.get("outputs", []))
        images = page_images(_chapter_page(out, notebook))
        assert len(images) >= min(figures, 1), notebook.name


def test_every_figure_on_the_site_has_alt_text(site: tuple[Path, int, str]) -> None:
    """Fails while a chapter's figures carry no alt text: the message lists them by chapter."""
    out, _code, _warnings = site
    missing: dict[str, int] = {}
    total = 0
    for notebook in NOTEBOOKS:
        for image in page_images(_chapter_page(out, notebook)):
            total += 1
            if _missing_alt(image):
                missing[notebook.stem] = missing.get(notebook.stem, 0) + 1
    assert total
    assert missing == {}, f"{sum(missing.values())} of {total} figures have no alt text: {missing}"


def _png_with_text(**chunks: str) -> str:
    from PIL import Image, PngImagePlugin

    info = PngImagePlugin.PngInfo()
    for key, value in chunks.items():
        info.add_text(key.replace("_", " "), value)
    out = io.BytesIO()
    Image.new("RGB", (2, 2), "white").save(out, format="PNG", pnginfo=info)
    return base64.b64encode(out.getvalue()).decode()


def test_alt_text_is_read_from_the_image_s_output_metadata_first() -> None:
    output = {
        "output_type": "display_data",
        "data": {"image/png": _png_with_text(Description="from the file")},
        "metadata": {"image/png": {"alt": "Latency by pattern"}, "alt": "other"},
    }
    assert alt_text_of(output) == "Latency by pattern"


def test_alt_text_falls_back_to_the_output_metadata_then_to_the_png() -> None:
    png = _png_with_text(Description="Retries per save, by writer count")
    assert alt_text_of({"data": {"image/png": png}, "metadata": {"alt": "Queue length over time"}}) == (
        "Queue length over time"
    )
    assert alt_text_of({"data": {"image/png": png}, "metadata": {}}) == "Retries per save, by writer count"
    assert alt_text_of({"data": {"image/png": _png_with_text()}, "metadata": {}}) is None


def test_a_figure_s_alt_text_reaches_its_img_element(tmp_path: Path) -> None:
    import nbformat

    docs, notebooks = tmp_path / "docs", tmp_path / "notebooks"
    docs.mkdir()
    notebooks.mkdir()
    conf = (ROOT / "docs" / "conf.py").read_text(encoding="utf-8")
    (docs / "conf.py").write_text(
        conf.replace("ROOT = Path(__file__).resolve().parent.parent", f"ROOT = Path({str(tmp_path)!r})")
        .replace("sys.path.insert(0, str(ROOT))", f"sys.path.insert(0, {str(ROOT)!r})")
    )
    (docs / "index.md").write_text("# Home\n\n```{toctree}\n:glob:\n\nchapters/*\n```\n")
    figure = nbformat.v4.new_output(
        "display_data", data={"image/png": _png_with_text(), "text/plain": "<Figure>"},
        metadata={"image/png": {"alt": "Two lines: jitter stays flat"}},
    )
    cell = nbformat.v4.new_code_cell("plot()", execution_count=1, outputs=[figure])
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# A chapter"), cell])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, notebooks / "00_a.ipynb")
    assert build(docs, tmp_path / "html") == 0
    (image,) = page_images(tmp_path / "html" / "chapters" / "00_a.html")
    assert image["alt"] == "Two lines: jitter stays flat"


# --- the guides -----------------------------------------------------------------------------------


def test_the_instructor_guide_shows_each_chapter_s_core_time(site: tuple[Path, int, str]) -> None:
    out, _code, _warnings = site
    html = (out / "instructor-guide.html").read_text(encoding="utf-8")
    for notebook in NOTEBOOKS:
        assert f"<td><p>{notebook.stem}</p></td>" in html or f"<td>{notebook.stem}</td>" in html, notebook.stem
    for heading in ("Half a day", "A full day", "A room of 30 laptops", "The Binder fallback", "When a cell is slow"):
        assert heading in html, heading


def test_the_workshop_plans_name_only_chapters_that_exist() -> None:
    import re

    guide = (ROOT / "docs" / "instructor-guide.md").read_text(encoding="utf-8")
    named = set(re.findall(r"^\| \d+ \| (\d\d) ", guide, re.M))
    assert named and named <= {nb.stem[:2] for nb in NOTEBOOKS}
