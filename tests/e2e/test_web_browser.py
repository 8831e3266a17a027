"""The web app in headless Chromium (Debian's package, driven by Playwright), served by
waitress on a loopback port, on a desktop and a phone viewport.

A user types a name into the search box, gets results, opens a story and follows a name to
its timeline chart. Screenshots land in tests/artifacts/ (kept by CI as artifacts).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest

from scraper.storage.engine import make_engine, session_factory, upgrade
from tests.conftest import ARTIFACTS, CHROMIUM_ARGS, chromium_path
from tests.e2e.test_web import NOW, Fixture, build_archive, web_config
from web.app import create_app, make_server

pytestmark = pytest.mark.browser

VIEWPORTS: dict[str, dict[str, Any]] = {
    "desktop": {"viewport": {"width": 1280, "height": 900}},
    "phone": {
        "viewport": {"width": 390, "height": 844},
        "device_scale_factor": 2,
        "is_mobile": True,
        "has_touch": True,
    },
}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Fixture]]:
    """Give the base URL of the app served by waitress (in a thread) over the fixture archive."""
    folder = tmp_path_factory.mktemp("web-browser")
    url = f"sqlite:///{folder / 'archive.db'}"
    engine = make_engine(url)
    upgrade(engine)
    config = replace(web_config(folder), database_url=url)
    fixture = build_archive(session_factory(engine), config)
    app = create_app(fixture.sessions, config, clock=lambda: NOW)
    server = make_server(app, "127.0.0.1", 0, threads=4)
    thread = threading.Thread(target=server.run, name="waitress", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.effective_port}", fixture
    server.close()
    thread.join(timeout=5)
    engine.dispose()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    executable = chromium_path()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


class Watcher:
    """Records what must never happen in the page: requests off the app, CSP violations,
    script dialogs (a hostile title's alert() running), page errors."""

    def __init__(self, page: Any, base: str) -> None:
        self.base = base
        self.problems: list[str] = []
        page.on("request", self.on_request)
        page.on("console", self.on_console)
        page.on("dialog", self.on_dialog)
        page.on("pageerror", lambda error: self.problems.append(f"page error: {error}"))

    def on_request(self, request: Any) -> None:
        if not request.url.startswith(self.base + "/"):
            self.problems.append(f"request off the app: {request.url}")

    def on_console(self, message: Any) -> None:
        if message.type == "error":
            self.problems.append(f"console error: {message.text}")

    def on_dialog(self, dialog: Any) -> None:
        self.problems.append(f"a script ran: dialog {dialog.message!r}")
        dialog.dismiss()


@pytest.mark.parametrize("device", list(VIEWPORTS))
def test_search_open_story_and_see_the_timeline(
    served: tuple[str, Fixture], browser: Any, device: str
) -> None:
    base, fixture = served
    ARTIFACTS.mkdir(exist_ok=True)
    context = browser.new_context(**VIEWPORTS[device])
    page = context.new_page()
    watcher = Watcher(page, base)
    try:
        page.goto(base + "/")
        assert page.locator("h1").first.inner_text().startswith("Newest stories")
        page.screenshot(path=str(ARTIFACTS / f"web-{device}-1-home.png"))

        search_box = page.locator("#q")
        search_box.click()
        search_box.press_sequentially("Kim Soo-hyun")
        with page.expect_navigation():
            search_box.press("Enter")
        assert "q=Kim+Soo-hyun" in page.url
        hits = page.locator("li.hit")
        assert hits.count() >= 5
        assert page.locator("li.hit p.snippet mark").count() >= 5
        first_title = hits.first.locator("h2 a")
        assert "Kim Soo-hyun" in first_title.inner_text()
        assert_fits_width(page)
        page.screenshot(path=str(ARTIFACTS / f"web-{device}-2-search.png"), full_page=True)

        with page.expect_navigation():
            first_title.click()
        assert "/stories/" in page.url
        assert page.locator("h1").is_visible()
        assert page.locator("li.copy").count() >= 1
        assert_fits_width(page)
        page.screenshot(path=str(ARTIFACTS / f"web-{device}-3-story.png"))

        with page.expect_navigation():
            page.locator("li.copy ul.tags a", has_text="Kim Soo-hyun").first.click()
        assert page.url.endswith("/watch/Kim%20Soo-hyun")
        chart = page.locator("figure.chart svg.timeline")
        chart.wait_for(state="visible")
        box = chart.bounding_box()
        assert box is not None and box["width"] > 250 and box["height"] > 60
        bars = chart.locator("rect.bar")
        assert bars.count() == 30
        drawn = chart.evaluate(
            "svg => [...svg.querySelectorAll('rect.bar')]"
            ".filter(bar => bar.getBoundingClientRect().height > 1).length"
        )
        assert drawn >= 5, "bars with counts are drawn with a visible height"
        fill = bars.first.evaluate("bar => getComputedStyle(bar).fill")
        assert fill not in ("", "none", "rgb(0, 0, 0)"), "the stylesheet colours the chart"
        assert_fits_width(page)
        page.screenshot(path=str(ARTIFACTS / f"web-{device}-4-timeline.png"))

        page.goto(f"{base}/stories/{fixture.stories['hostile']}")
        assert page.locator("h1").inner_text().startswith("<script>")
        assert_fits_width(page)
        page.screenshot(path=str(ARTIFACTS / f"web-{device}-5-hostile.png"))
    finally:
        context.close()
    assert watcher.problems == []


def assert_fits_width(page: Any) -> None:
    """The layout never scrolls sideways (long titles and URLs wrap)."""
    overflow = page.evaluate(
        "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 1, f"page is {overflow}px wider than the viewport"
