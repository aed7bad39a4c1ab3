"""The built site in a real browser: headless Chromium opens the home page and one chapter.

Needs Chromium and its driver (Debian: ``apt-get install chromium chromium-driver``;
``.ci/run`` installs them) and selenium (in the dev extra). Without them the tests
are skipped, saying so, except under CI (``CI=true``), where a missing browser
fails. Screenshots go to ``.site-screenshots/`` (git-ignored) for a person to look at.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
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
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    _require_browser()
    from labtools.site import build

    out = tmp_path_factory.mktemp("browser-site") / "html"
    assert build(ROOT / "docs", out) == 0
    return out


@pytest.fixture(scope="module")
def driver(site: Path) -> Iterator[object]:
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


def test_the_home_page_shows_its_title_and_the_chapters_navigation(driver: object, site: Path) -> None:
    from selenium.webdriver.common.by import By

    driver.get((site / "index.html").as_uri())  # type: ignore[attr-defined]
    assert driver.title.startswith("Aether retry lab")  # type: ignore[attr-defined]
    heading = driver.find_element(By.CSS_SELECTOR, "article.bd-article section > h1")  # type: ignore[attr-defined]
    assert heading.is_displayed() and "Aether retry lab" in heading.text
    nav = driver.find_elements(By.CSS_SELECTOR, "nav.bd-links a, .bd-sidebar-primary a.reference.internal")  # type: ignore[attr-defined]
    texts = [a.get_attribute("textContent").strip() for a in nav]
    assert any(t.startswith("Optimistic concurrency") for t in texts), texts
    assert len([a for a in nav if "chapters/" in (a.get_attribute("href") or "")]) >= 12
    driver.save_screenshot(str(SCREENSHOTS / "home.png"))  # type: ignore[attr-defined]


def test_a_chapter_page_renders_its_title_a_figure_and_the_navigation(driver: object, site: Path) -> None:
    from selenium.webdriver.common.by import By

    driver.get((site / "chapters" / f"{CHAPTER}.html").as_uri())  # type: ignore[attr-defined]
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
