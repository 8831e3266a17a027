"""The fault host (issue 7): every way a page can go wrong costs that page only, and the run
ends with a per-source error summary.

One crawl of the faults config (tests/site/dramawatch-faults.test.toml, with the site's
``slow_delay=1.0`` and its ``timeout_s = 3``) is shared by every test here. The config gets one
extra source, "Fault Extras", whose feed (served with ``set_page``) carries the faults the
fixed files cannot: a 15 MB page streamed without Content-Length, a redirect to another form of
the same URL, a redirect chain longer than the redirect limit, and a news-search-style feed
linking several articles of an outlet not yet visited, some of which its robots.txt disallows.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from scraper.config import load_config
from scraper.core.urls import url_key
from tests.conftest import dramawatch, make_config
from tests.e2e.test_cli import call_cli
from tests.site import EXPECTED, FAULTS_CONFIG, AccessRecord, FixtureSite

GOLDEN: dict[str, Any] = json.loads(EXPECTED.read_text(encoding="utf-8"))
FAULTS = {route["url"]: route for route in GOLDEN["faults"]["routes"]}
F = "http://faults.test"
SS = "http://seoulscreen.test/stories"

EXTRAS_SOURCE = """
[[sources]]
name = "Fault Extras"
feeds = ["http://faults.test/extras-feed.xml"]
"""
REDIRECT_HOPS = 12  # /hop/0 -> /hop/1 -> ... : more than Scrapy's REDIRECT_MAX_TIMES (10)
# Seoul Screen articles as a news-search feed on another host would list them: the crawl meets
# seoulscreen.test here for the first time, with all these requests waiting on its robots.txt.
SEOUL_SCREEN_ALLOWED = [
    f"{SS}/kim-soohyun-in-his-own-words",
    f"{SS}/kim-ji-won-pens-farewell-letter-to-hong-hae-in",
    f"{SS}/kwak-dong-yeon-on-playing-the-son-who-disappoints",
    f"{SS}/after-queen-of-tears-where-the-cast-goes-next",
]
SEOUL_SCREEN_DISALLOWED = [
    f"{SS}/park-sung-hoon-photo-diary",
    "http://seoulscreen.test/search?q=queen+of+tears",
    "http://seoulscreen.test/share/kim-soohyun-in-his-own-words",
]
MOVED_ARTICLE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Kim Ji-won on the last day of filming | Fault Line News</title>
<link rel="canonical" href="http://faults.test/moved/">
<meta property="article:published_time" content="{{date:-2h:iso}}"></head>
<body><main><article><h1>Kim Ji-won on the last day of filming</h1>
<p>Kim Ji-won said the final day on the set of Queen of Tears was spent mostly waiting for the
rain to stop, and that the crew sang to pass the time between takes in the village hall.</p>
<p>The actress described the farewell dinner that followed as quiet, with the cast trading
notebooks of lines they had crossed out over eleven months, and she kept hers as a souvenir.</p>
</article></main></body></html>
"""


def _item(url: str, offset: str) -> str:
    return (
        f"<item><title>t</title><link>{url}</link><pubDate>{{{{date:{offset}}}}}</pubDate></item>"
    )


EXTRAS_FEED = (
    '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>Extras</title>'
    "<link>http://faults.test/</link>"
    + _item(f"{F}/huge?chunked=1", "-1h")
    + _item(f"{F}/moved", "-2h")
    + _item(f"{F}/hop/0", "-2h")
    + "".join(
        _item(url, "-1d")
        for pair in zip(SEOUL_SCREEN_ALLOWED, [*SEOUL_SCREEN_DISALLOWED, ""], strict=True)
        for url in pair
        if url
    )
    + "</channel></rss>"
)


@dataclass(frozen=True)
class FaultRun:
    directory: Path
    database: Path
    returncode: int
    stdout: str
    stderr: str
    log: list[AccessRecord]
    max_pages: int
    timeout_s: float

    def hits(self, url: str) -> int:
        return sum(1 for record in self.log if record.url == url)

    def record(self, url: str) -> AccessRecord:
        found = [r for r in self.log if r.url == url]
        assert found, f"{url} was never requested"
        return found[-1]

    def query(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        with sqlite3.connect(self.database) as db:
            return db.execute(sql, params).fetchall()

    def article(self, url: str) -> dict[str, Any] | None:
        rows = self.query(
            "SELECT a.id, a.title, a.text, a.source FROM articles a JOIN article_urls u "
            "ON u.article_id = a.id WHERE u.url_key = ?",
            url_key(url),
        )
        if not rows:
            return None
        article_id, title, text, source = rows[0]
        entities = {
            e for (e,) in self.query("SELECT entity FROM mentions WHERE article_id = ?", article_id)
        }
        return {
            "id": article_id,
            "title": title,
            "text": text,
            "source": source,
            "entities": entities,
        }

    def errors(self) -> list[tuple[str, str, str]]:
        return [
            tuple(row)
            for row in self.query("SELECT source, url, reason FROM crawl_errors ORDER BY id")
        ]

    def reason(self, url: str) -> str:
        reasons = [reason for _, error_url, reason in self.errors() if error_url == url]
        assert len(reasons) == 1, (url, self.errors())
        return reasons[0]


@pytest.fixture(scope="module")
def fault_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FaultRun]:
    directory = tmp_path_factory.mktemp("faults")
    config = make_config(directory, base=FAULTS_CONFIG)
    config.write_text(config.read_text(encoding="utf-8") + EXTRAS_SOURCE, encoding="utf-8")
    crawl = load_config(config).crawl
    with FixtureSite(slow_delay=1.0) as site:
        # FixtureSite has no public call for redirects: give this private instance one more
        redirects = site._hosts["faults.test"].redirects
        redirects["/moved"] = [301, "/moved/"]
        redirects.update({f"/hop/{n}": [302, f"/hop/{n + 1}"] for n in range(REDIRECT_HOPS)})
        site.set_page(f"{F}/moved/", MOVED_ARTICLE)
        site.set_page(
            f"{F}/extras-feed.xml", EXTRAS_FEED, content_type="application/rss+xml; charset=utf-8"
        )
        result = dramawatch(config, "-v", "crawl", site=site)
        time.sleep(0.2)  # /never's last attempt is logged when the server notices the hang-up
        yield FaultRun(
            directory=directory,
            database=directory / "archive.db",
            returncode=result.returncode,
            stdout=result.stdout,
            stderr=result.stderr,
            log=site.access_log,
            max_pages=crawl.max_pages_per_source,
            timeout_s=crawl.timeout_s,
        )


# ---------------------------------------------------------------- the run as a whole


def test_the_run_finishes_and_prints_one_line_per_failed_source(fault_run: FaultRun) -> None:
    assert fault_run.returncode == 0, fault_run.stderr[-3000:]
    assert "Traceback" not in fault_run.stderr
    lines = fault_run.stdout.strip().splitlines()
    assert lines[0].startswith("crawl run 1 finished: ")
    failed = [line for line in lines if line.startswith("failed: ")]
    assert [line.split(": ")[1] for line in failed] == ["Fault Line", "Fault Extras"]
    fault_line = next(line for line in failed if line.startswith("failed: Fault Line: "))
    count = sum(1 for source, _, _ in fault_run.errors() if source == "Fault Line")
    assert fault_line.endswith(f"(+{count - 1} more)")


def test_each_fault_costs_only_its_own_page(fault_run: FaultRun) -> None:
    """Exactly the good pages are stored: the fault host's three, the clean outlet's four,
    and the extras (a same-URL redirect, the robots-allowed Seoul Screen articles)."""
    expected = [
        f"{F}/flaky",
        f"{F}/slow",
        f"{F}/euc-kr",
        f"{F}/moved/",
        *[e["canonical_url"] for e in GOLDEN["articles"] if e["source"] == "K-Wave Daily"],
        *SEOUL_SCREEN_ALLOWED,
    ]
    missing = [url for url in expected if fault_run.article(url) is None]
    assert not missing
    assert fault_run.query("SELECT count(*) FROM articles") == [(len(expected),)]
    for entry in GOLDEN["articles"]:
        if entry["source"] == "K-Wave Daily":
            article = fault_run.article(entry["canonical_url"])
            assert article is not None and article["title"] == entry["title"]
            assert article["entities"] == set(entry["entities"]) & {
                "Queen of Tears",
                "Kim Soo-hyun",
                "Kim Ji-won",
            }


def test_runs_summarises_errors_per_source(fault_run: FaultRun) -> None:
    config = fault_run.directory / "dramawatch.toml"
    table = call_cli(config, "runs")
    assert table.code == 0, table
    assert table.stdout.startswith("run 1  finished")
    for source, errors in (
        ("Fault Line", 8),
        ("Fault Extras", 2),
        ("K-Wave Daily", 0),
        ("Slow Source", 0),
    ):
        line = next(line for line in table.stdout.splitlines() if line.strip().startswith(source))
        assert line.rstrip().endswith(f"{errors} errors"), line
    assert f"! Fault Line: {F}/never: timed out after 3 s" in table.stdout

    runs = json.loads(call_cli(config, "runs", "--format", "json").stdout)
    assert len(runs) == 1 and runs[0]["status"] == "finished"
    assert runs[0]["finished_at"] is not None
    errors = runs[0]["errors"]
    assert all(set(error) == {"source", "url", "reason"} for error in errors)
    assert {(e["source"], e["url"]) for e in errors} == {
        ("Fault Line", f"{F}/never"),
        ("Fault Line", f"{F}/missing"),
        ("Fault Line", f"{F}/loop-a"),
        ("Fault Line", f"{F}/huge"),
        ("Fault Line", f"{F}/binary"),
        ("Fault Line", f"{F}/empty"),
        ("Fault Line", f"{F}/notxml-feed"),
        ("Fault Line", f"{F}/truncated-feed.xml"),
        ("Fault Extras", f"{F}/huge?chunked=1"),
        ("Fault Extras", f"{F}/hop/0"),
    }


# ---------------------------------------------------------------- one fault at a time


def test_page_that_never_answers_times_out_and_the_crawl_moves_on(fault_run: FaultRun) -> None:
    assert fault_run.reason(f"{F}/never") == f"timed out after {fault_run.timeout_s:g} s"
    attempts = [r for r in fault_run.log if r.url == f"{F}/never"]
    assert len(attempts) == 1 + load_config(FAULTS_CONFIG).crawl.retries
    assert all(r.status is None for r in attempts)  # the client hung up each time
    # the hanging page held up nothing else: every other page got its answer
    assert all(r.status is not None for r in fault_run.log if r.url != f"{F}/never")


def test_page_failing_twice_is_retried_then_stored(fault_run: FaultRun) -> None:
    route = FAULTS[f"{F}/flaky"]
    assert [r.status for r in fault_run.log if r.url == f"{F}/flaky"] == [500, 500, 200]
    article = fault_run.article(f"{F}/flaky")
    assert article is not None
    assert article["title"] == route["title"]
    assert article["entities"] == set(route["entities"])
    assert not [e for e in fault_run.errors() if e[1] == f"{F}/flaky"]


def test_missing_page_is_one_error_and_not_retried(fault_run: FaultRun) -> None:
    assert fault_run.reason(f"{F}/missing") == "HTTP 404"
    assert fault_run.hits(f"{F}/missing") == 1


def test_redirect_loop_is_an_error_not_a_silent_drop(fault_run: FaultRun) -> None:
    assert fault_run.reason(f"{F}/loop-a") == "redirect loop"
    assert fault_run.hits(f"{F}/loop-a") == 1
    assert fault_run.hits(f"{F}/loop-b") == 1


def test_endless_redirect_chain_is_an_error_after_the_redirect_limit(fault_run: FaultRun) -> None:
    assert fault_run.reason(f"{F}/hop/0") == "too many redirects (more than 10)"
    hops = [r.url for r in fault_run.log if r.url.startswith(f"{F}/hop/")]
    assert hops == [f"{F}/hop/{n}" for n in range(11)]


def test_redirect_to_another_form_of_the_same_url_is_followed(fault_run: FaultRun) -> None:
    """/moved answers 301 to /moved/: one URL identity, so a fingerprint on the URL key alone
    would drop the redirect as already seen (as it would http -> https)."""
    assert [r.status for r in fault_run.log if r.url in (f"{F}/moved", f"{F}/moved/")] == [301, 200]
    article = fault_run.article(f"{F}/moved/")
    assert article is not None and article["title"] == "Kim Ji-won on the last day of filming"
    urls = {
        u
        for (u,) in fault_run.query(
            "SELECT url FROM article_urls WHERE article_id = ?", article["id"]
        )
    }
    assert urls == {f"{F}/moved", f"{F}/moved/"}


def test_feeds_that_are_not_xml_or_are_truncated_are_errors(fault_run: FaultRun) -> None:
    assert fault_run.reason(f"{F}/notxml-feed").startswith("feed: not a feed")
    assert fault_run.reason(f"{F}/truncated-feed.xml").startswith("feed: truncated feed")
    # the two complete items before the cut are not salvaged (which the golden notes allow)
    assert fault_run.hits(f"{F}/truncated/1") == fault_run.hits(f"{F}/truncated/2") == 0


@pytest.mark.parametrize("url", [f"{F}/huge", f"{F}/huge?chunked=1"])
def test_huge_page_download_is_bounded_and_logged(fault_run: FaultRun, url: str) -> None:
    reason = fault_run.reason(url)
    assert reason == "too large: over the 8 MB download limit"
    assert fault_run.record(url).bytes_sent < 15 * 1024 * 1024
    assert fault_run.article(url) is None
    warnings = [line for line in fault_run.stderr.splitlines() if "WARNING" in line and url in line]
    assert any(reason in line for line in warnings), warnings


def test_binary_bytes_and_empty_page_are_rejected(fault_run: FaultRun) -> None:
    assert fault_run.reason(f"{F}/binary") == "not an HTML document"
    assert fault_run.reason(f"{F}/empty") == "empty page"
    assert fault_run.article(f"{F}/binary") is None and fault_run.article(f"{F}/empty") is None


def test_euc_kr_page_is_decoded_and_stored_with_its_hangul_mentions(fault_run: FaultRun) -> None:
    route = FAULTS[f"{F}/euc-kr"]
    article = fault_run.article(f"{F}/euc-kr")
    assert article is not None
    assert article["title"] == route["title"]
    assert "김수현이 직접 부른 곡" in article["text"]
    assert "\ufffd" not in article["text"]
    assert article["entities"] == set(route["entities"])
    combined = f"{article['title']}\n\n{article['text']}"
    spans = fault_run.query(
        "SELECT entity, spans FROM mentions WHERE article_id = ?", article["id"]
    )
    matched = {entity: {combined[a:b] for a, b in json.loads(raw)} for entity, raw in spans}
    assert matched == {"Queen of Tears": {"눈물의 여왕"}, "Kim Soo-hyun": {"김수현"}}


def test_endless_pagination_is_bounded_by_max_pages_per_source(fault_run: FaultRun) -> None:
    trap = sorted(
        int(r.url.rsplit("/", 1)[1]) for r in fault_run.log if r.url.startswith(f"{F}/trap/page/")
    )
    # the configured entry page, then max_pages_per_source pages of pagination, each once
    assert trap == list(range(1, fault_run.max_pages + 2))
    # and the trap spent the pagination budget only: every article of the source was fetched
    for route in ("flaky", "euc-kr", "missing", "binary", "empty"):
        assert fault_run.hits(f"{F}/{route}") >= 1, route


def test_robots_disallowed_articles_are_never_requested(fault_run: FaultRun) -> None:
    assert fault_run.hits(f"{F}/private/leaked-script") == 0
    # several requests waited on seoulscreen.test's robots.txt at once: each obeys it
    assert [url for url in SEOUL_SCREEN_DISALLOWED if fault_run.hits(url)] == []
    assert all(fault_run.hits(url) == 1 for url in SEOUL_SCREEN_ALLOWED)
    assert fault_run.hits("http://seoulscreen.test/robots.txt") == 1


def test_slow_source_does_not_hold_up_the_others(fault_run: FaultRun) -> None:
    slow = fault_run.record(f"{F}/slow-feed.xml?delay=2")
    assert slow.status == 200
    clean = [r for r in fault_run.log if r.host in ("kwave.test", "m.kwave.test")]
    assert len(clean) >= 8  # robots.txt twice, the feed, six articles (one of them off-topic)
    # the clean source was done before the slow one answered
    assert max(r.at for r in clean) < slow.at
    # and the slow page of the fault host (1 s) came through within the timeout
    assert fault_run.article(f"{F}/slow") is not None
