"""The site (``python -m labtools.site build``): every chapter a page, links that land, figures with alt text.

The site is built once for this module into a temporary folder, from the
committed notebooks and with no re-execution; the tests read the HTML it wrote,
and a real browser opens it: headless Chromium opens the home page and one chapter.
The browser tests need Chromium and its driver (Debian: ``apt-get install chromium
chromium-driver``; ``.ci/run`` installs them) and selenium (in the dev extra).
Without them they are skipped, saying so, except under CI (``CI=true``), where a
missing browser fails. Screenshots go to ``.site-screenshots/`` (git-ignored) for a
person to look at. (One module, so that one build serves both: builds share ``docs/chapters``.)
"""

from __future__ import annotations

import base64
import io
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
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


# --- in a real browser ---------------------------------------------------------------------------

SCREENSHOTS = ROOT / ".site-screenshots"
CHAPTER = "03_jitter_retry"
HOW = 'apt-get install chromium chromium-driver, and pip install -e ".[dev]" for selenium and the docs extra'


def _browser() -> tuple[str, str] | None:
    """(chromium, chromedriver) paths, or None."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    driver = shutil.which("chromedriver")
    return (browser, driver) if browser and driver else None


def _missing() -> str | None:
    """Why the browser tests cannot run here, or None."""
    for module in ("selenium", "myst_nb", "sphinx_book_theme"):
        try:
            __import__(module)
        except ImportError:
            return f"{module} is not installed ({HOW})"
    if _browser() is None:
        return f"no Chromium with chromedriver on PATH ({HOW})"
    return None


def _require_browser() -> None:
    reason = _missing()
    if reason is None:
        return
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI must run the browser tests: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def driver(site: tuple[Path, int, str]) -> Iterator[object]:
    _require_browser()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    browser, chromedriver = _browser() or ("", "")
    profile = tempfile.mkdtemp(prefix="site-browser-")
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for flag in (
        "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--disable-dev-shm-usage", "--window-size=1280,900", f"--user-data-dir={profile}",
    ):
        options.add_argument(flag)
    session = webdriver.Chrome(service=Service(executable_path=chromedriver), options=options)
    session.set_page_load_timeout(60)
    SCREENSHOTS.mkdir(exist_ok=True)
    try:
        yield session
    finally:
        session.quit()
        shutil.rmtree(profile, ignore_errors=True)


def _visible_images(driver: object) -> list[dict[str, object]]:
    return driver.execute_script(  # type: ignore[attr-defined]
        "return Array.from(document.querySelectorAll('main img, article img'))"
        ".filter(i => i.complete && i.naturalWidth > 0)"
        ".map(i => ({src: i.src, width: i.naturalWidth, alt: i.alt}));"
    )


def test_the_home_page_shows_its_title_and_the_chapters_navigation(driver: object, site: tuple[Path, int, str]) -> None:
    from selenium.webdriver.common.by import By

    driver.get((site[0] / "index.html").as_uri())  # type: ignore[attr-defined]
    assert driver.title.startswith("Aether retry lab")  # type: ignore[attr-defined]
    heading = driver.find_element(By.CSS_SELECTOR, "article.bd-article section > h1")  # type: ignore[attr-defined]
    assert heading.is_displayed() and "Aether retry lab" in heading.text
    nav = driver.find_elements(By.CSS_SELECTOR, "nav.bd-links a, .bd-sidebar-primary a.reference.internal")  # type: ignore[attr-defined]
    texts = [a.get_attribute("textContent").strip() for a in nav]
    assert any(t.startswith("Optimistic concurrency") for t in texts), texts
    assert len([a for a in nav if "chapters/" in (a.get_attribute("href") or "")]) >= 12
    driver.save_screenshot(str(SCREENSHOTS / "home.png"))  # type: ignore[attr-defined]


def test_a_chapter_page_renders_its_title_a_figure_and_the_navigation(
    driver: object, site: tuple[Path, int, str]
) -> None:
    from selenium.webdriver.common.by import By

    driver.get((site[0] / "chapters" / f"{CHAPTER}.html").as_uri())  # type: ignore[attr-defined]
    assert "Jitter retry" in driver.title  # type: ignore[attr-defined]
    heading = driver.find_element(By.CSS_SELECTOR, "article.bd-article section > h1")  # type: ignore[attr-defined]
    assert heading.is_displayed() and heading.text.startswith("Jitter retry")
    images = _visible_images(driver)
    assert images and all(int(i["width"]) > 100 for i in images), images  # type: ignore[call-overload]
    figure = driver.find_element(By.CSS_SELECTOR, "article img, main img")  # type: ignore[attr-defined]
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", figure)  # type: ignore[attr-defined]
    next_link = driver.find_elements(By.CSS_SELECTOR, "a.right-next")  # type: ignore[attr-defined]
    assert next_link and "04_adaptive_retry" in (next_link[0].get_attribute("href") or "")
    current = driver.find_elements(By.CSS_SELECTOR, "nav.bd-links li.current > a")  # type: ignore[attr-defined]
    assert current and "Jitter retry" in current[0].get_attribute("textContent")
    driver.save_screenshot(str(SCREENSHOTS / f"{CHAPTER}.png"))  # type: ignore[attr-defined]


def test_without_a_browser_the_browser_tests_skip_saying_how_to_include_them(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda _name: None)
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="apt-get install chromium chromium-driver"):
        _require_browser()


def test_under_ci_a_missing_browser_fails_instead_of_skipping(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda _name: None)
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI must run the browser tests"):
        _require_browser()
