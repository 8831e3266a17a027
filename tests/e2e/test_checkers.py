"""The pages pass checkers nobody here wrote (issue 12): every web page and the digest pass the
Nu Html Checker (vnu.jar, run with the machine's Java) with no errors, and axe-core in the
headless Chromium the browser tests use, with no violations.

Both checkers come from npm, pinned in tests/checkers/package.json and package-lock.json; the
``checkers`` fixture installs them (``npm ci``) into tests/checkers/node_modules when missing.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from digests.publish import INDEX_NAME
from scraper.storage.models import Digest
from tests.conftest import need
from tests.e2e.test_web import Fixture
from tests.e2e.test_web_browser import browser, served  # noqa: F401  (Chromium; the app served)

CHECKERS = Path(__file__).parents[1] / "checkers"
VNU = CHECKERS / "node_modules" / "vnu-jar" / "build" / "dist" / "vnu.jar"
AXE = CHECKERS / "node_modules" / "axe-core" / "axe.min.js"


@pytest.fixture(scope="session")
def checkers() -> tuple[Path, Path]:
    """Give the paths of vnu.jar and axe.min.js, installed from the lock file when missing."""
    if not (VNU.exists() and AXE.exists()):
        need(shutil.which("npm") is not None, "npm")
        # vnu-jar's install script only downloads a Java runtime: the machine has one
        command = ["npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund"]
        result = subprocess.run(command, cwd=CHECKERS, capture_output=True, text=True, timeout=600)
        assert result.returncode == 0, result.stderr[-3000:]
    need(shutil.which("java") is not None, "java")
    return VNU, AXE


def page_paths(fixture: Fixture) -> list[str]:
    """Give every kind of page the app serves, over the fixture archive."""
    paths = ["/", "/?q=Kim+Soo-hyun", "/?q=%22no+such+words%22", "/sources", "/digests"]
    paths += [f"/stories/{story_id}" for story_id in sorted(set(fixture.stories.values()))]
    paths += [f"/watch/{quote(entry.name)}" for entry in fixture.config.watch]
    paths.append(f"/digests/{fixture.digests['real']}")  # the others are planted test files
    paths += ["/stories/999999", "/?since=not-a-date"]  # the error pages
    return paths


def fetch(url: str) -> str:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=30) as response:
            return str(response.read().decode("utf-8"))
    except urllib.error.HTTPError as error:  # an error page is a page too
        return str(error.read().decode("utf-8"))


@pytest.fixture(scope="module")
def pages(served: tuple[str, Fixture]) -> dict[str, str]:  # noqa: F811
    base, fixture = served
    found = {path: fetch(base + path) for path in page_paths(fixture)}
    with fixture.sessions() as session:
        digest = session.get_one(Digest, fixture.digests["real"])
    digest_files = [Path(digest.html_path), Path(fixture.config.digest.output_dir) / INDEX_NAME]
    for file in digest_files:
        found[f"digest file {file.name}"] = file.read_text(encoding="utf-8")
    return found


def test_every_page_and_the_digest_pass_the_nu_html_checker(
    checkers: tuple[Path, Path], pages: dict[str, str], tmp_path: Path
) -> None:
    vnu, _ = checkers
    names: dict[str, str] = {}
    for number, (label, html) in enumerate(pages.items()):
        file = tmp_path / f"page-{number}.html"
        file.write_text(html, encoding="utf-8")
        names[file.as_uri()] = label
    result = subprocess.run(
        ["java", "-jar", str(vnu), "--errors-only", "--format", "json", *sorted(names)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    messages = json.loads(result.stderr or '{"messages": []}')["messages"]
    problems = [
        f"{names.get(m.get('url', ''), m.get('url'))}: line {m.get('lastLine')}: {m['message']}"
        for m in messages
    ]
    assert problems == []
    assert result.returncode == 0


@pytest.mark.browser
def test_every_page_and_the_digest_pass_axe_core(
    checkers: tuple[Path, Path],
    served: tuple[str, Fixture],  # noqa: F811
    browser: Any,  # noqa: F811
    pages: dict[str, str],
) -> None:
    _, axe = checkers
    base, fixture = served
    # the app's Content-Security-Policy rightly forbids injected scripts: lifted for axe only
    context = browser.new_context(bypass_csp=True)
    violations: list[str] = []
    try:
        page = context.new_page()
        targets: list[tuple[str, str | None]] = [(path, None) for path in page_paths(fixture)]
        targets += [(label, html) for label, html in pages.items() if label.startswith("digest")]
        for label, html in targets:
            if html is None:
                page.goto(base + label)
            else:
                page.set_content(html)
            page.add_script_tag(path=str(axe))
            found = page.evaluate("async () => (await axe.run(document)).violations")
            for violation in found:
                where = [node["target"] for node in violation["nodes"]][:3]
                violations.append(f"{label}: {violation['id']}: {violation['help']} at {where}")
    finally:
        context.close()
    assert violations == [], "\n".join(violations)
