"""The digest as written to ``output_dir``, opened in headless Chromium (Debian's package,
driven by Playwright): it renders, shows the stories, runs no article script and fetches
nothing. Screenshots land in tests/artifacts/ (kept by CI as artifacts)."""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from digests.publish import run_digest
from scraper.storage.engine import make_engine, session_factory, upgrade
from tests.conftest import ARTIFACTS, CHROMIUM_ARGS, chromium_path
from tests.digest_fixtures import HOSTILE_TITLE, NOW, make_config, pieces, store

pytestmark = pytest.mark.browser



def png_pixels(png: bytes) -> tuple[int, int, bytes]:
    """Give width, height and the decompressed scanlines of a PNG (enough to tell blank)."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    offset, width, height, data = 8, 0, 0, b""
    while offset < len(png):
        (length,) = struct.unpack(">I", png[offset : offset + 4])
        kind = png[offset + 4 : offset + 8]
        body = png[offset + 8 : offset + 8 + length]
        if kind == b"IHDR":
            width, height = struct.unpack(">II", body[:8])
        elif kind == b"IDAT":
            data += body
        offset += 12 + length
    return width, height, zlib.decompress(data)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    executable = chromium_path()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@pytest.fixture
def digest_file(tmp_path: Path) -> Path:
    url = f"sqlite:///{tmp_path / 'archive.db'}"
    engine = make_engine(url)
    upgrade(engine)
    sessions: sessionmaker[Session] = session_factory(engine)
    store(sessions, pieces())
    result = run_digest(make_config(tmp_path, url), sessions, now=NOW)
    engine.dispose()
    return result.html_path


@pytest.mark.parametrize(
    ("viewport", "width", "height"), [("desktop", 1024, 900), ("phone", 390, 844)]
)
def test_digest_renders_in_chromium(
    browser: Any, digest_file: Path, viewport: str, width: int, height: int
) -> None:
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    requests: list[str] = []
    dialogs: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    try:
        page.goto(digest_file.as_uri(), wait_until="load")
        headings = page.locator("h3").all_inner_texts()
        assert "Queen of Tears director's cut adds twenty unseen minutes" in headings
        assert "Kim Ji-won fronts a winter magazine issue in hanbok-inspired coats" in headings
        hostile = next(h for h in headings if h.startswith("<script>alert('title')</script>"))
        assert len(hostile) <= 200 and len(HOSTILE_TITLE) > 10_000
        assert page.locator("script").count() == 0
        assert page.locator("[onerror], [onmouseover]").count() == 0
        assert page.locator("h2").first.inner_text() == "Watched names"
        hrefs = page.eval_on_selector_all("a", "links => links.map(a => a.href)")
        assert hrefs and all(h.startswith(("https://", "http://")) for h in hrefs)
        assert page.locator("td[bgcolor]").count() > 0  # the chart's bars
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 1, f"the digest is {overflow}px wider than a {width}px screen"
        ARTIFACTS.mkdir(exist_ok=True)
        shot = ARTIFACTS / f"digest-{viewport}.png"
        page.screenshot(path=str(shot), full_page=True)
    finally:
        context.close()
    assert dialogs == []  # no article script ran
    assert requests == [digest_file.as_uri()]  # nothing fetched: no images, fonts or CSS
    shot_width, shot_height, pixels = png_pixels(shot.read_bytes())
    assert shot_width == width and shot_height > height
    assert len(set(pixels)) > 32, "the screenshot is blank"


def test_index_links_to_the_digest(browser: Any, digest_file: Path) -> None:
    page = browser.new_page()
    try:
        page.goto((digest_file.parent / "index.html").as_uri())
        links = page.locator("td a").first
        assert links.get_attribute("href") == digest_file.name
        links.click()
        page.wait_for_load_state()
        assert page.url == digest_file.as_uri()
        assert page.title().startswith("Queen of Tears digest, 20 Nov 2026: 4 new stories")
    finally:
        page.close()
