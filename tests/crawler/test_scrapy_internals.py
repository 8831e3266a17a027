"""The private parts of Scrapy that dramawatch reads (scraper.crawler.scrapy_internals) exist in
the installed Scrapy: checked on a real engine during a real crawl of the loopback site, never
on fakes. When a Scrapy release renames one, this fails, loudly, before the claim limit of the
distributed crawl or its robots.txt refresh silently stop working."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from importlib.metadata import version

from packaging.requirements import Requirement

from tests.conftest import ROOT, cli_env
from tests.site import FixtureSite

PROBE = """
import json, sys
from scrapy import Spider
from scrapy.crawler import CrawlerProcess
from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware
from scraper.crawler import scrapy_internals
from scraper.crawler.cluster import has_room, in_flight, wake

class Probe(Spider):
    name = "probe"
    start_urls = ["http://kwave.test/"]

    def parse(self, response):
        engine = self.crawler.engine
        robots = self.crawler.get_downloader_middleware(RobotsTxtMiddleware)
        held = scrapy_internals.requests_in_progress(engine)
        wake(self.crawler)
        found = {
            "this request in progress": response.request in held,
            "held": len(held),
            "in flight": in_flight(self.crawler),
            "room under a limit of 1": has_room(self.crawler, 1),
            "room under a limit of 2": has_room(self.crawler, 2),
            "room without a limit": has_room(self.crawler, 0),
            "engine woken": scrapy_internals.wake(engine),
            "robots.txt parsers by host": sorted(scrapy_internals.robot_parsers(robots)),
        }
        print("PROBE " + json.dumps(found), flush=True)

process = CrawlerProcess({
    "ROBOTSTXT_OBEY": True,
    "TWISTED_REACTOR": "twisted.internet.asyncioreactor.AsyncioSelectorReactor",
    "LOG_LEVEL": "WARNING",
})
process.crawl(Probe)
process.start()
"""


def test_the_private_parts_read_exist_in_the_installed_scrapy(site: FixtureSite) -> None:
    result = subprocess.run(
        [sys.executable, "-c", PROBE],
        capture_output=True,
        text=True,
        timeout=120,
        env=cli_env(site),
        cwd=ROOT,
    )
    lines = [line for line in result.stdout.splitlines() if line.startswith("PROBE ")]
    assert result.returncode == 0 and lines, result.stderr[-3000:]
    assert json.loads(lines[0][len("PROBE ") :]) == {
        "this request in progress": True,
        "held": 1,
        "in flight": 2,  # held, plus the response being scraped
        "room under a limit of 1": False,
        "room under a limit of 2": True,
        "room without a limit": True,
        "engine woken": True,
        "robots.txt parsers by host": ["kwave.test"],
    }


def test_scrapy_is_pinned_to_a_range_that_holds_the_installed_version() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    pins = [Requirement(r) for r in project["dependencies"] if Requirement(r).name == "scrapy"]
    assert len(pins) == 1 and pins[0].specifier, "pin Scrapy to the versions checked here"
    assert pins[0].specifier.contains(version("scrapy"))
    assert any(spec.operator == "<" for spec in pins[0].specifier), "an upper bound, too"
