"""The web app over HTTP (Flask's test client), on SQLite and the real PostgreSQL.

The fixture archive is stored through ``articles.store_article`` with mentions found by the
real matcher, so stories, spans and search behave as after a crawl. It holds hostile content
(markup, event handlers, javascript:/data: URLs, bidi overrides, a 10,000-character title):
every page must show it as text and link nothing but http(s).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import feedparser
import lxml.etree
import lxml.html
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, inspect, select, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, selectinload, sessionmaker

from digests.publish import run_digest
from scraper.config import Config, load_config
from scraper.core import dedup
from scraper.core.match import compile_watchlist
from scraper.core.text import display_text
from scraper.core.urls import http_link, url_key
from scraper.storage import articles
from scraper.storage import runs as run_history
from scraper.storage import search as archive_search
from scraper.storage.articles import ArticleRecord, MentionRecord
from scraper.storage.engine import make_engine, session_factory, upgrade
from scraper.storage.models import Article, CrawlError, CrawlRun, Digest, Mention, RunSource, Story
from tests.site import EXPECTED
from web import app as web_app
from web.app import authorized, create_app, is_loopback, read_only_engine, serve, start_message
from web.charts import nice_ceiling, timeline_svg
from web.display import highlight, match_spans, query_terms

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 11, 20, 3, 0, tzinfo=UTC)  # 12:00 in Seoul
RLO = "\u202e"
LONG_TITLE = "Kim Soo-hyun " + "very long headline " * 526  # over 10,000 characters
HOSTILE_TITLE = (
    f'<script>alert("title")</script><img src=x onerror=alert(1)> Kim Soo-hyun {RLO}gpj.exe'
)

CONFIG_TOML = """
[database]
url = "sqlite:///unused.db"

[digest]
timezone = "Asia/Seoul"
output_dir = "digests"

[[watch]]
name = "Queen of Tears"
kind = "drama"
aliases = ["눈물의 여왕"]

[[watch]]
name = "Kim Soo-hyun"
kind = "person"
aliases = ["김수현"]

[[watch]]
name = "Kim Ji-won"
kind = "person"
aliases = ["김지원"]

[[watch]]
name = "Park Sung-hoon"
kind = "person"
aliases = ["박성훈"]

[[sources]]
name = "K-Wave Daily"
feeds = ["http://kwave.test/feed"]

[[sources]]
name = "Seoul Screen"
feeds = ["http://seoulscreen.test/rss"]

[[sources]]
name = "Hallyu Ledger"
sitemaps = ["http://ledger.test/sitemap.xml"]

[[sources]]
name = "연예 브리핑"
pages = ["http://briefing.test/drama/"]

[[sources]]
name = "Broken Outlet"
feeds = ["http://broken.test/feed"]
"""

FINALE = (
    "The last episode of Queen of Tears drew the highest audience share the cable channel has "
    "ever measured, passing the record its own romantic comedy set five years earlier. Kim "
    "Soo-hyun and Kim Ji-won closed the story with a quiet scene in the garden of the family "
    "villa, and viewers flooded message boards with theories about the final shot. The "
    "network thanked the audience in a short statement and promised a special behind-the-"
    "scenes broadcast for the following weekend."
)
FINALE_COPY = FINALE + " A rerun of the two-part ending is planned for the holiday week."
COVER = (
    "Kim Ji-won appears on the cover of a fashion monthly wearing a pale blue suit, her first "
    "shoot since filming wrapped. In the interview she talks about learning to ride a horse "
    "for one scene, about the letters fans sent to the set, and about the quiet months she "
    "plans before choosing her next role."
)
KOREAN = (
    "배우 김수현이 드라마 눈물의 여왕 종영 소감을 전했다. 그는 팬 미팅에서 마지막 촬영 날의 "
    "기억을 이야기하며 함께한 배우와 제작진에게 고마움을 표했다. "
    "팬 미팅은 서울에서 이틀 동안 열렸다."
)
SUNGHOON = (
    "Park Sung-hoon has signed for a thriller series about a forger who paints copies of "
    "museum masterpieces. Shooting starts in the spring in Busan, and the actor said he was "
    "happy to play someone who is not a villain for once, even if the forger bends the law."
)
HOSTILE_TEXT = (
    "Kim Soo-hyun fans reported a strange page. <script>alert('text')</script> It also said "
    '<a href="javascript:alert(2)">click</a> and <img src=x onerror=alert(3)>, then ended '
    f"with a reversed tail {RLO}evil text that should not flip the page."
)
# one distinct paragraph per day for the timeline: too different to be merged into a story
TIMELINE = [
    "Kim Soo-hyun donated rice to a shelter in Incheon on his birthday, a habit of many years.",
    "A wax figure of Kim Soo-hyun was unveiled at a museum on Jeju island this morning.",
    "Kim Soo-hyun topped a brand reputation ranking for actors compiled from online data.",
    "Tickets for the Kim Soo-hyun fan meeting in Bangkok sold out within nine minutes.",
    "Kim Soo-hyun was spotted at an airport heading to Milan for a watch brand event.",
    "A children's hospital thanked Kim Soo-hyun for a quiet gift of reading tablets.",
    "Kim Soo-hyun recorded a narration for a documentary about whales off the east coast.",
    "Photos of Kim Soo-hyun training for a marathon spread quickly among his fans.",
]


@dataclass(frozen=True)
class Spec:
    key: str
    source: str
    url: str
    title: str
    text: str
    published: timedelta | None
    urls: tuple[str, ...] = ()
    author: str | None = "Staff writer"


SPECS = [
    Spec("finale", "K-Wave Daily", "https://kwave.test/queen-of-tears-finale-record",
         "Queen of Tears finale sets a channel record", FINALE, timedelta(days=-2, hours=-5)),
    Spec("finale_copy", "Seoul Screen", "https://seoulscreen.test/news/finale-record",
         "Queen of Tears finale breaks the channel's record", FINALE_COPY,
         timedelta(days=-2, hours=-2),
         urls=("https://seoulscreen.test/news/finale-record/amp?utm_source=x",)),
    Spec("cover", "Hallyu Ledger", "https://ledger.test/kim-ji-won-cover",
         "Kim Ji-won on a fashion monthly cover", COVER, timedelta(days=-3)),
    Spec("korean", "연예 브리핑", "https://briefing.test/drama/1001",
         "김수현, 눈물의 여왕 종영 소감", KOREAN, timedelta(days=-1, hours=-1)),
    Spec("sunghoon", "K-Wave Daily", "https://kwave.test/park-sung-hoon-thriller",
         "Park Sung-hoon to play a forger", SUNGHOON, None),
    Spec("hostile", "K-Wave Daily", "javascript:alert(1)", HOSTILE_TITLE, HOSTILE_TEXT,
         timedelta(hours=-6),
         urls=("data:text/html,<script>alert(2)</script>", "https://kwave.test/odd?x=<b>"),
         author='<img src=x onerror=alert("author")>'),
    Spec("long", "Seoul Screen", "https://seoulscreen.test/news/long", LONG_TITLE,
         "Kim Soo-hyun headline test body with enough words to fingerprint it properly here.",
         timedelta(days=-4)),
    *(
        Spec(f"day{n}", "Hallyu Ledger", f"https://ledger.test/day-{n}", paragraph[:60],
             paragraph, timedelta(days=-5 - n, hours=-n))
        for n, paragraph in enumerate(TIMELINE)
    ),
]


@dataclass
class Fixture:
    sessions: sessionmaker[Session]
    config: Config
    ids: dict[str, int]  # spec key -> article id
    stories: dict[str, int]  # spec key -> story id
    digests: dict[str, int]
    dialect: str


def web_config(folder: Path) -> Config:
    """Give the test config (written as TOML and loaded, so it is validated like a user's)."""
    (folder / "digests").mkdir(exist_ok=True)
    path = folder / "dramawatch.toml"
    path.write_text(CONFIG_TOML, encoding="utf-8")
    return load_config(path, env={})


def build_archive(sessions: sessionmaker[Session], config: Config) -> Fixture:
    """Store the fixture articles, two crawl runs and three digest records."""
    matcher = compile_watchlist(config.watch)
    ids: dict[str, int] = {}
    stories: dict[str, int] = {}
    for spec in SPECS:
        published = NOW + spec.published if spec.published is not None else None
        seen = (published or NOW - timedelta(hours=12)) + timedelta(hours=1)
        mentions = matcher.find(f"{spec.title}\n\n{spec.text}")
        record = ArticleRecord(
            canonical_url=spec.url,
            urls=spec.urls or (spec.url,),
            source=spec.source,
            title=spec.title,
            text=spec.text,
            author=spec.author,
            language="ko" if spec.key == "korean" else "en",
            published_at=published,
            mentions=tuple(MentionRecord(m.entity, m.spans) for m in mentions),
            signature=dedup.signature(spec.text),
            content_hash=dedup.content_hash(spec.title, spec.text),
        )
        with sessions.begin() as session:
            stored = articles.store_article(session, record, seen)
        ids[spec.key] = stored.article_id
        stories[spec.key] = stored.story_id
    with sessions.begin() as session:
        first = run_history.start_run(session, NOW - timedelta(days=1))
        run_history.count_pages(session, first, {"K-Wave Daily": 10, "Seoul Screen": 4})
        run_history.record_error(session, first, "Broken Outlet", "http://broken.test/feed",
                             "connection refused", NOW - timedelta(days=1))
        run_history.finish_run(session, first, "finished", NOW - timedelta(hours=23, minutes=58))
        second = run_history.start_run(session, NOW - timedelta(hours=1))
        run_history.count_pages(
            session, second, {"K-Wave Daily": 5, "Seoul Screen": 3, "Hallyu Ledger": 7}
        )
        run_history.count_article(session, second, "K-Wave Daily", "new")
        run_history.record_error(session, second, "Broken Outlet", "javascript:alert('url')",
                             "<script>alert('reason')</script> timed out", NOW - timedelta(hours=1))
        run_history.record_error(session, second, "Seoul Screen", "https://seoulscreen.test/404",
                             "HTTP 404", NOW - timedelta(hours=1))
        run_history.finish_run(session, second, "finished", NOW - timedelta(minutes=50))
    written = run_digest(config, sessions, until=NOW, now=NOW)  # the real digest renderer
    digests = add_digests(sessions, config)
    with sessions() as session:
        digests["real"] = session.scalars(
            select(Digest.id).where(Digest.html_path == str(written.html_path))
        ).one()
    with sessions() as session:
        dialect = session.get_bind().dialect.name
    return Fixture(sessions, config, ids, stories, digests, dialect)


def add_digests(sessions: sessionmaker[Session], config: Config) -> dict[str, int]:
    folder = config.digest.output_dir
    inside = folder / "digest-2026-11-19.html"
    inside.write_text(
        '<!doctype html><html><head><style>h1{color:#8e2450}</style></head><body>'
        '<h1 style="font-size:20px">Queen of Tears digest</h1>'
        "<script>document.title='ran'</script><p>3 new stories</p></body></html>",
        encoding="utf-8",
    )
    inside.with_suffix(".txt").write_text("Queen of Tears digest\n3 new stories\n", "utf-8")
    outside = folder.parent / "elsewhere.html"
    outside.write_text("<p>not a digest</p>", encoding="utf-8")
    rows = {
        "inside": (inside, inside.with_suffix(".txt")),
        "outside": (outside, outside),
        "traversal": (folder / ".." / "elsewhere.html", folder / ".." / "elsewhere.html"),
    }
    ids: dict[str, int] = {}
    with sessions.begin() as session:
        for n, (key, (html, txt)) in enumerate(rows.items()):
            digest = Digest(
                window_start=NOW - timedelta(days=n + 2),
                window_end=NOW - timedelta(days=n + 1),
                created_at=NOW - timedelta(days=n + 1),
                story_count=3,
                html_path=str(html),
                text_path=str(txt),
                recipients=["fan@example.test"] if n == 0 else [],
                delivered_at=NOW - timedelta(days=n + 1) if n == 0 else None,
                attempts=1,
                last_error=None,
            )
            session.add(digest)
            session.flush()
            ids[key] = digest.id
    return ids


@contextmanager
def database(
    request: pytest.FixtureRequest, folder: Path, backend: str
) -> Iterator[tuple[str, Engine]]:
    """Give a fresh, upgraded database of ``backend`` (a PostgreSQL one is dropped after)."""
    if backend == "sqlite":
        url = f"sqlite:///{folder / 'archive.db'}"
        engine = make_engine(url)
        upgrade(engine)
        yield url, engine
        engine.dispose()
        return
    from tests.conftest import PG_ADMIN_URL

    admin: Engine = request.getfixturevalue("pg_admin")
    name = f"dw_web_{uuid.uuid4().hex[:12]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    engine = make_engine(url)
    try:
        upgrade(engine)
        yield url, engine
    finally:
        engine.dispose()
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def fixture(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Fixture]:
    """The fixture archive, once per backend (the app never writes, so tests share it)."""
    folder = tmp_path_factory.mktemp(f"web-{request.param}")
    with database(request, folder, request.param) as (url, engine):
        config = replace(web_config(folder), database_url=url)
        yield build_archive(session_factory(engine), config)


@pytest.fixture
def app(fixture: Fixture) -> Flask:
    return create_app(fixture.sessions, fixture.config, clock=lambda: NOW)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


# ---------------------------------------------------------------- helpers

LINK_ATTRS = ("href", "src", "action", "formaction", "xlink:href", "poster", "data")


def page(client: FlaskClient, url: str, status: int = 200) -> tuple[str, lxml.html.HtmlElement]:
    """GET an HTML page, check status, headers and safety, give its text and parsed tree."""
    response = client.get(url)
    body = response.get_data(as_text=True)
    assert response.status_code == status, body[:2000]
    assert response.mimetype == "text/html"
    check_headers(response.headers)
    tree = check_safe_html(body)
    return body, tree


def check_headers(headers: Any) -> None:
    csp = headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp
    assert "script-src" not in csp and "unsafe-eval" not in csp
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "no-referrer"


def check_safe_html(body: str) -> lxml.html.HtmlElement:
    """No script element, no event-handler attribute, no link but http(s) or the app's own,
    no bidi override, no raw hostile markup: everything from articles arrived as text."""
    assert "Traceback" not in body
    assert RLO not in body
    assert "<script" not in body.lower()
    assert "onerror=alert" not in body.replace("&#34;", '"') or "&lt;img" in body
    tree = lxml.html.fromstring(body)
    assert not tree.xpath("//script | //iframe | //object | //embed")
    for element in tree.iter():
        if not isinstance(element.tag, str):
            continue
        for name, value in element.attrib.items():
            assert not name.lower().startswith("on"), (element.tag, name)
            if name.lower() in LINK_ATTRS:
                assert value.startswith(("http://", "https://", "/", "?")), (name, value)
        assert "style" not in element.attrib, element.tag
    return tree


def story_id(fixture: Fixture, key: str) -> int:
    return fixture.stories[key]


def watch_url(name: str) -> str:
    return "/watch/" + quote(name)


# ---------------------------------------------------------------- search page


def test_empty_box_lists_the_newest_stories_once_each(
    client: FlaskClient, fixture: Fixture
) -> None:
    body, tree = page(client, "/")
    assert tree.xpath("//h1")[0].text_content().startswith("Newest stories")
    assert tree.xpath("//input[@id='q' and @type='search']")
    links = [a.get("href") for a in tree.xpath("//li[@class='hit']/h2/a")]
    ids = [int(href.rsplit("/", 1)[1]) for href in links]
    assert len(ids) == len(set(ids)), "a story is listed once, with its outlets"
    # newest first: hostile (6 h ago), undated (first seen 11 h ago), Korean (25 h ago)
    assert ids[:3] == [
        story_id(fixture, "hostile"), story_id(fixture, "sunghoon"), story_id(fixture, "korean")
    ]
    assert story_id(fixture, "finale") in ids
    hit = tree.xpath(f"//li[h2/a/@href='/stories/{story_id(fixture, 'finale')}']")[0]
    outlets = [li.text_content().strip() for li in hit.xpath(".//ul[@class='outlets']/li")]
    assert outlets == ["K-Wave Daily", "Seoul Screen"]
    assert "2 outlets" in hit.text_content()
    names = [a.text_content() for a in hit.xpath(".//ul[@class='tags']//a")]
    assert "Queen of Tears" in names and "Kim Soo-hyun" in names
    assert hit.xpath(".//time[@datetime]")


def test_search_text_highlights_the_escaped_match(client: FlaskClient, fixture: Fixture) -> None:
    body, tree = page(client, "/?q=audience+share")
    hits = tree.xpath("//li[@class='hit']")
    assert hits and f"/stories/{story_id(fixture, 'finale')}" in hits[0].xpath(".//h2/a/@href")[0]
    marks = [m.text_content() for m in hits[0].xpath(".//p[@class='snippet']/mark")]
    assert marks == ["audience share"]
    assert tree.xpath("//input[@id='q']/@value") == ["audience share"]


def test_search_highlights_name_variants_and_hangul(client: FlaskClient) -> None:
    _, tree = page(client, "/?entity=Kim+Soo-hyun&q=%EB%A7%88%EC%A7%80%EB%A7%89")  # 마지막
    snippet = tree.xpath("//p[@class='snippet']")[0]
    marks = [m.text_content() for m in snippet.xpath("mark")]
    assert "김수현" in "".join(marks) and "마지막" in marks


def test_hostile_text_is_highlighted_as_text(client: FlaskClient) -> None:
    body, tree = page(client, "/?q=strange+page")
    snippet = tree.xpath("//p[@class='snippet']")[0]
    assert [m.text_content() for m in snippet.xpath("mark")] == ["strange page", "page"]
    assert "<script>alert('text')</script>" in snippet.text_content()
    assert "&lt;script&gt;alert(&#39;text&#39;)&lt;/script&gt;" in body


def test_filters_by_name_source_and_dates(client: FlaskClient, fixture: Fixture) -> None:
    def stories(url: str) -> set[int]:
        _, tree = page(client, url)
        return {int(h.rsplit("/", 1)[1]) for h in tree.xpath("//li[@class='hit']/h2/a/@href")}

    assert stories("/?entity=kim+ji-won") == {
        story_id(fixture, "finale"), story_id(fixture, "cover")
    }
    assert stories("/?source=Hallyu+Ledger&q=Kim") == (
        {story_id(fixture, "cover")} | {story_id(fixture, f"day{n}") for n in range(8)}
    )
    # 2026-11-17 in Seoul is the cover story's day (published 2026-11-17 12:00 KST)
    assert stories("/?from=2026-11-17&to=2026-11-17") == {story_id(fixture, "cover")}
    assert stories("/?entity=Kim+Soo-hyun&from=2026-11-19") == {
        story_id(fixture, "hostile"), story_id(fixture, "korean")
    }
    _, tree = page(client, "/?entity=Park+Sung-hoon&source=Seoul+Screen")
    assert not tree.xpath("//li[@class='hit']") and tree.xpath("//p[@class='empty']")


def test_results_are_paginated(
    client: FlaskClient, fixture: Fixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(web_app, "PAGE_SIZE", 4)
    seen: list[str] = []
    url: str | None = "/?q=Kim"
    pages = 0
    while url:
        _, tree = page(client, url)
        seen += tree.xpath("//li[@class='hit']/h2/a/@href")
        following = tree.xpath("//a[@rel='next']/@href")
        url = following[0] if following else None
        pages += 1
    assert pages >= 3
    assert "q=Kim" in tree.xpath("//a[@rel='prev']/@href")[0]
    assert len(seen) >= 10


@pytest.mark.parametrize(
    "url, words",
    [
        ('/?q=%22unbalanced', "could not be understood"),
        ("/?q=%22%22", "could not be understood"),
        ("/?from=2026-13-01", "not a date"),
        ("/?to=yesterday", "not a date"),
        ("/?from=2026-11-20&to=2026-11-01", "after"),
        ("/?entity=Nobody", "not a watched name"),
        ("/?source=Nowhere", "not a configured source"),
        ("/?page=0", "page must be"),
        ("/?page=x", "page must be"),
        ("/?q=" + "a" * 600, "too long"),
        ("/watch/Kim%20Soo-hyun?days=5000", "days must be"),
        ("/watch/Kim%20Soo-hyun?from=2020-01-01&to=2026-01-01", "too long"),
        ("/watch/Kim%20Soo-hyun?from=bad", "not a date"),
    ],
)
def test_bad_requests_get_a_friendly_400_page(client: FlaskClient, url: str, words: str) -> None:
    body, tree = page(client, url, status=400)
    assert words in tree.xpath("//p[@class='message']")[0].text_content()
    assert tree.xpath("//a[@href='/']")


# ---------------------------------------------------------------- story and watch pages


def test_story_page_lists_every_copy(client: FlaskClient, fixture: Fixture) -> None:
    _, tree = page(client, f"/stories/{story_id(fixture, 'finale')}")
    copies = tree.xpath("//li[@class='copy']")
    assert [c.xpath("h2")[0].text_content().split(":")[0] for c in copies] == [
        "K-Wave Daily", "Seoul Screen"
    ]
    hrefs = copies[1].xpath(".//ul[@class='links']//a/@href")
    assert "https://seoulscreen.test/news/finale-record" in hrefs
    assert any("amp" in h for h in hrefs), "every URL seen for the article is listed"
    assert copies[0].xpath(".//time")[0].get("datetime").startswith("2026-11-17T22:00")
    assert "2026-11-18 07:00 KST" in copies[0].text_content()
    assert {a.text_content() for a in copies[0].xpath(".//ul[@class='tags']//a")} >= {
        "Queen of Tears", "Kim Soo-hyun", "Kim Ji-won"
    }


def test_hostile_story_is_text_and_links_only_http(client: FlaskClient, fixture: Fixture) -> None:
    body, tree = page(client, f"/stories/{story_id(fixture, 'hostile')}")
    title = tree.xpath("//h1")[0].text_content()
    assert title.startswith('<script>alert("title")</script><img src=x onerror=alert(1)>')
    assert "&lt;script&gt;" in body and "&lt;img src=x onerror=alert(1)&gt;" in body
    links = tree.xpath("//ul[@class='links']//a/@href")
    assert links == ["https://kwave.test/odd?x=<b>"]
    unlinked = [s.text_content() for s in tree.xpath("//span[@class='unlinked']")]
    assert unlinked == ["javascript:alert(1)", "data:text/html,<script>alert(2)</script>"]
    assert 'onerror=alert("author")' in tree.xpath("//li[@class='copy']")[0].text_content()


def test_long_titles_are_cut(client: FlaskClient, fixture: Fixture) -> None:
    _, tree = page(client, "/?q=headline")
    titles = [a.text_content() for a in tree.xpath("//li[@class='hit']/h2/a")]
    assert titles and all(len(t) <= 300 for t in titles) and titles[0].endswith("…")
    _, tree = page(client, f"/stories/{story_id(fixture, 'long')}")
    assert len(tree.xpath("//h1")[0].text_content()) <= 500


@pytest.mark.parametrize(
    "url",
    [
        "/stories/999999",
        "/stories/99999999999999999999",
        "/stories/abc",
        "/stories/-1",
        "/watch/Nobody",
        "/watch/Nobody/feed.atom",
        "/digests/999999",
        "/no/such/page",
    ],
)
def test_unknown_ids_get_a_404_page(client: FlaskClient, url: str) -> None:
    page(client, url, status=404)


def test_watch_page_draws_the_timeline(client: FlaskClient, fixture: Fixture) -> None:
    body, tree = page(client, watch_url("Kim Soo-hyun"))
    svg = tree.xpath("//figure[@class='chart']/svg")[0]
    bars = svg.xpath("rect[@class='bar']")
    assert len(bars) == 30
    days = [b.get("data-day") for b in bars]
    assert days[0] == "2026-10-22" and days[-1] == "2026-11-20"
    counts = {b.get("data-day"): int(b.get("data-count")) for b in bars}
    assert counts == expected_per_day(fixture, "Kim Soo-hyun", days)
    assert sum(counts.values()) >= 10
    assert f"{sum(counts.values())} articles in this range" in body
    latest = tree.xpath("//section/ol[@class='results']//h3/a/@href")
    assert latest[0] == f"/stories/{story_id(fixture, 'hostile')}"
    assert tree.xpath("//a[@href='/watch/Kim%20Soo-hyun/feed.atom']")


def test_watch_range_and_case(client: FlaskClient, fixture: Fixture) -> None:
    _, tree = page(client, watch_url("kim soo-hyun") + "?days=7")
    assert tree.xpath("//h1")[0].text.strip() == "Kim Soo-hyun"
    assert len(tree.xpath("//rect[@class='bar']")) == 7
    _, tree = page(client, watch_url("Kim Ji-won") + "?from=2026-11-15&to=2026-11-18")
    bars = tree.xpath("//rect[@class='bar']")
    assert [b.get("data-day") for b in bars] == [
        "2026-11-15", "2026-11-16", "2026-11-17", "2026-11-18"
    ]
    assert [int(b.get("data-count")) for b in bars] == [0, 0, 1, 2]  # two copies on the 18th


def expected_per_day(fixture: Fixture, entity: str, days: list[str]) -> dict[str, int]:
    """Count per Seoul day from the stored rows, independently of the app's SQL."""
    from zoneinfo import ZoneInfo

    zone = ZoneInfo("Asia/Seoul")
    counts = dict.fromkeys(days, 0)
    with fixture.sessions() as session:
        rows = session.execute(
            select(Article.published_at, Article.first_seen_at)
            .join(Mention, Mention.article_id == Article.id)
            .where(Mention.entity == entity)
        ).all()
    for published, seen in rows:
        day = (published or seen).astimezone(zone).date().isoformat()
        if day in counts:
            counts[day] += 1
    return counts


# ---------------------------------------------------------------- sources and digests


def test_sources_page_shows_each_source_health(client: FlaskClient) -> None:
    body, tree = page(client, "/sources")
    rows = {
        r.xpath("th")[0].text_content().strip(): [td.text_content().strip() for td in r.xpath("td")]
        for r in tree.xpath("//table[@class='sources']/tbody/tr")
    }
    assert list(rows) == [
        "K-Wave Daily", "Seoul Screen", "Hallyu Ledger", "연예 브리핑", "Broken Outlet"
    ]
    assert rows["K-Wave Daily"][0] == "ok" and rows["K-Wave Daily"][2:5] == ["5", "1", "0"]
    assert rows["Seoul Screen"][0] == "errors"
    assert rows["Broken Outlet"][0] == "failing"
    assert rows["연예 브리핑"][0] == "never" and rows["연예 브리핑"][-1] == "1"
    assert rows["K-Wave Daily"][-1] == "3"
    assert "&lt;script&gt;alert(&#39;reason&#39;)&lt;/script&gt; timed out" in body
    errors = tree.xpath("//section[@class='errors']")
    assert [e.xpath("h3")[0].text_content() for e in errors] == ["Seoul Screen", "Broken Outlet"]
    assert len(errors[1].xpath(".//li")) == 2


def test_digests_are_listed_and_viewable_only_inside_output_dir(
    client: FlaskClient, fixture: Fixture
) -> None:
    _, tree = page(client, "/digests")
    assert len(tree.xpath("//table[@class='digests']/tbody/tr")) == 4
    real = client.get(f"/digests/{fixture.digests['real']}")
    assert real.status_code == 200 and real.mimetype == "text/html"
    assert "Queen of Tears finale sets a channel record" in real.get_data(as_text=True)
    assert "sandbox" in real.headers["Content-Security-Policy"]
    response = client.get(f"/digests/{fixture.digests['inside']}")
    assert response.status_code == 200 and b"Queen of Tears digest" in response.data
    csp = response.headers["Content-Security-Policy"]
    assert "sandbox" in csp and "script-src" not in csp and "default-src 'none'" in csp
    text_response = client.get(f"/digests/{fixture.digests['inside']}/text")
    assert text_response.mimetype == "text/plain" and b"3 new stories" in text_response.data
    for key in ("outside", "traversal"):
        page(client, f"/digests/{fixture.digests[key]}", status=404)
        page(client, f"/digests/{fixture.digests[key]}/text", status=404)


# ---------------------------------------------------------------- JSON


def test_api_search_gives_the_cli_objects(client: FlaskClient, fixture: Fixture) -> None:
    response = client.get("/api/search?q=record&entity=queen+of+tears&limit=5")
    assert response.status_code == 200 and response.mimetype == "application/json"
    check_headers(response.headers)
    got = response.get_json()
    with fixture.sessions() as session:
        hits = archive_search.search(
            session, archive_search.SearchQuery(text="record", entity="Queen of Tears", limit=5)
        )
        expected = [archive_search.article_json(h.article, h.snippet) for h in hits]
    assert got == json.loads(json.dumps(expected))
    assert set(got[0]) == {
        "id", "url", "urls", "title", "published_at", "first_seen_at", "source", "entities",
        "story_id", "snippet", "updated_at",
    }
    assert {row["id"] for row in got} == {fixture.ids["finale"], fixture.ids["finale_copy"]}


def test_api_search_filters_and_limits(client: FlaskClient, fixture: Fixture) -> None:
    rows = client.get("/api/search?source=Hallyu+Ledger&limit=3").get_json()
    assert len(rows) == 3 and {r["source"] for r in rows} == {"Hallyu Ledger"}
    rows = client.get("/api/search?since=2026-11-19T00:00:00Z&until=2026-11-20").get_json()
    assert {r["id"] for r in rows} == {
        fixture.ids["hostile"], fixture.ids["korean"], fixture.ids["sunghoon"]
    }
    rows = client.get("/api/search?limit=0").get_json()
    assert len(rows) == len(SPECS)
    hostile = next(r for r in rows if r["id"] == fixture.ids["hostile"])
    assert hostile["title"] == HOSTILE_TITLE  # JSON carries the stored text, unaltered


@pytest.mark.parametrize(
    "url, status",
    [
        ("/api/search?q=%22open", 400),
        ("/api/search?since=notadate", 400),
        ("/api/search?entity=Nobody", 400),
        ("/api/search?limit=-1", 400),
        ("/api/stories/424242", 404),
        ("/api/stories/nope", 404),
        ("/api/nothing", 404),
    ],
)
def test_api_errors_are_json(client: FlaskClient, url: str, status: int) -> None:
    response = client.get(url)
    assert response.status_code == status
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert body["status"] == status and body["error"]


def test_api_story(client: FlaskClient, fixture: Fixture) -> None:
    got = client.get(f"/api/stories/{story_id(fixture, 'finale')}").get_json()
    assert got["id"] == story_id(fixture, "finale")
    assert [a["id"] for a in got["articles"]] == [fixture.ids["finale"], fixture.ids["finale_copy"]]
    assert all(a["story_id"] == got["id"] and a["snippet"] for a in got["articles"])


# ---------------------------------------------------------------- Atom


def parse_feed(client: FlaskClient, url: str) -> tuple[Any, lxml.etree._Element]:
    response = client.get(url)
    assert response.status_code == 200
    assert response.mimetype == "application/atom+xml"
    root = lxml.etree.fromstring(response.data)  # raises unless well-formed
    assert root.tag == "{http://www.w3.org/2005/Atom}feed"
    parsed = feedparser.parse(response.data)
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.version == "atom10"
    return parsed, root


def test_atom_feed_has_one_entry_per_story(client: FlaskClient, fixture: Fixture) -> None:
    parsed, root = parse_feed(client, "/feed.atom")
    with fixture.sessions() as session:
        story_count = len(session.scalars(select(Story.id)).all())
    assert len(parsed.entries) == story_count == len(set(fixture.stories.values()))
    ids = [e.id for e in parsed.entries]
    assert len(set(ids)) == len(ids)
    assert ids[0] == f"http://localhost/stories/{story_id(fixture, 'hostile')}"
    for entry in root.iter("{http://www.w3.org/2005/Atom}entry"):
        for tag in ("id", "title", "updated"):
            assert entry.find(f"{{http://www.w3.org/2005/Atom}}{tag}") is not None
    hostile = parsed.entries[0]
    assert hostile.title_detail.type == "text/plain"
    raw_title = root.find("{http://www.w3.org/2005/Atom}entry/{http://www.w3.org/2005/Atom}title")
    assert raw_title is not None and raw_title.text is not None
    assert raw_title.text.startswith("<script>alert(") and RLO not in raw_title.text
    related = [link.href for e in parsed.entries for link in e.links if link.rel == "related"]
    assert related and all(h.startswith(("http://", "https://")) for h in related)
    finale_url = f"/stories/{story_id(fixture, 'finale')}"
    finale = next(e for e in parsed.entries if e.id.endswith(finale_url))
    assert {t.term for t in finale.tags} >= {"Queen of Tears", "Kim Ji-won"}
    assert len([link for link in finale.links if link.rel == "related"]) == 2


def test_watch_feed_has_only_that_name(client: FlaskClient, fixture: Fixture) -> None:
    parsed, _ = parse_feed(client, "/watch/Kim%20Ji-won/feed.atom")
    assert [e.id.rsplit("/", 1)[1] for e in parsed.entries] == [
        str(story_id(fixture, "finale")), str(story_id(fixture, "cover"))
    ]
    assert parsed.feed.title == "dramawatch: new stories about Kim Ji-won"
    parsed, _ = parse_feed(client, "/watch/Park%20Sung-hoon/feed.atom")
    assert len(parsed.entries) == 1


# ---------------------------------------------------------------- read-only and auth


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "OPTIONS"])
@pytest.mark.parametrize("url", ["/", "/api/search", "/feed.atom", "/stories/1"])
def test_only_get_and_head(client: FlaskClient, method: str, url: str) -> None:
    response = client.open(url, method=method, data={"q": "x"})
    assert response.status_code == 405
    assert response.headers["Allow"] == "GET, HEAD"
    if url.startswith("/api/"):
        assert response.get_json()["status"] == 405


def test_head_works(client: FlaskClient) -> None:
    response = client.head("/")
    assert response.status_code == 200 and response.data == b""


def test_server_engine_refuses_writes(fixture: Fixture) -> None:
    engine = read_only_engine(fixture.config.database_url)
    try:
        with pytest.raises(SQLAlchemyError, match="(?i)read.?only"):
            with session_factory(engine).begin() as session:
                session.execute(text("UPDATE stories SET title = 'changed'"))
        with session_factory(engine)() as session:
            assert session.scalar(select(Story.title).where(Story.title == "changed")) is None
    finally:
        engine.dispose()


def test_password_is_required_when_set(fixture: Fixture) -> None:
    app = create_app(fixture.sessions, fixture.config, clock=lambda: NOW, password="s3cret é")
    client = app.test_client()
    missing = client.get("/")
    assert missing.status_code == 401 and "Basic" in missing.headers["WWW-Authenticate"]
    check_safe_html(missing.get_data(as_text=True))
    assert client.get("/api/search").get_json()["status"] == 401
    assert client.get("/static/style.css").status_code == 401
    import base64

    def basic(user: str, password: str) -> dict[str, str]:
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        return {"Authorization": f"Basic {token}"}

    assert client.get("/", headers=basic("anyone", "s3cret é")).status_code == 200
    assert client.get("/", headers=basic("", "s3cret é")).status_code == 200
    assert client.get("/", headers=basic("anyone", "wrong")).status_code == 401
    # a WSGI header is latin-1 text standing for the client's UTF-8 bytes
    bearer = {"Authorization": "Bearer s3cret é".encode().decode("latin-1")}
    assert client.get("/api/search", headers=bearer).status_code == 200
    assert client.get("/", headers={"Authorization": "Bearer nope"}).status_code == 401


def test_a_failing_database_gives_an_error_page_not_a_traceback(
    fixture: Fixture, tmp_path: Path
) -> None:
    broken = make_engine(f"sqlite:///{tmp_path / 'empty.db'}")  # no schema: every query fails
    app = create_app(session_factory(broken), fixture.config, clock=lambda: NOW)
    client = app.test_client()
    response = client.get("/?q=Kim")
    assert response.status_code == 500
    body = response.get_data(as_text=True)
    assert "Traceback" not in body and "no such table" not in body
    check_safe_html(body)
    assert client.get("/api/search").get_json()["status"] == 500
    broken.dispose()


# ---------------------------------------------------------------- pure helpers


def test_display_helpers() -> None:
    assert display_text("a\x00b\u202ec\n\td", 100) == "a bc d"
    assert display_text("x" * 20, 10) == "x" * 9 + "…"
    assert http_link("javascript:alert(1)") is None
    assert http_link("data:text/html,hi") is None
    assert http_link("https://ok.test/a b") is None
    assert http_link("HTTPS://ok.test/a") == "HTTPS://ok.test/a"
    assert query_terms('kim -park "queen of" OR tear*') == [
        ("kim", False), ("queen", False), ("of", False), ("tear", True)
    ]
    text_ = "Tom & Jerry <b>amp</b> tears"
    spans = match_spans(text_, query_terms("amp tear*"))
    assert str(highlight(text_, spans)) == (
        "Tom &amp; Jerry &lt;b&gt;<mark>amp</mark>&lt;/b&gt; <mark>tears</mark>"
    )


def test_chart_svg_is_well_formed_and_escaped() -> None:
    from datetime import date

    days = [(date(2026, 11, 1) + timedelta(days=n), n % 3) for n in range(10)]
    svg = timeline_svg(days, 'Articles about <b>"x"</b>')
    root = lxml.etree.fromstring(svg.encode())
    assert len(root.findall("{http://www.w3.org/2000/svg}rect")) == 10
    assert "<b>" not in svg
    assert [nice_ceiling(n) for n in (0, 1, 3, 7, 11, 60)] == [1, 1, 5, 10, 20, 100]


def test_loopback_and_auth_helpers() -> None:
    assert all(map(is_loopback, ["127.0.0.1", "127.8.0.1", "::1", "[::1]", "localhost"]))
    assert not any(map(is_loopback, ["0.0.0.0", "", "::", "192.168.1.2", "example.com"]))
    assert authorized("Bearer pw", "pw") and not authorized("Bearer pw2", "pw")
    assert not authorized("Basic !!!", "pw") and not authorized(None, "pw")
    assert "loopback only" in start_message("127.0.0.1", 8080, False)
    assert "password required" in start_message("0.0.0.0", 8080, True)


# ---------------------------------------------------------------- serving


def test_serve_refuses_off_loopback_without_password(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = web_config(tmp_path)
    assert serve(config, host="0.0.0.0", port=0) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "DRAMAWATCH_WEB_PASSWORD" in err


def test_dramawatch_web_serves_with_waitress_and_stops_on_sigterm(tmp_path: Path) -> None:
    import urllib.error
    import urllib.request

    config_path = tmp_path / "dramawatch.toml"
    config_path.write_text(CONFIG_TOML.replace("unused.db", "fresh/archive.db"), encoding="utf-8")
    env = {**os.environ, "DRAMAWATCH_WEB_PASSWORD": "hunter2", "PYTHONPATH": str(ROOT)}
    env.pop("DRAMAWATCH_DATABASE_URL", None)
    command = [sys.executable, "-m", "scraper.app.cli", "--config", str(config_path), "web"]
    process = subprocess.Popen(
        [*command, "--port", "0"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert "password required" in line and "hunter2" not in line
        port = int(re.search(r":(\d+)/", line).group(1))  # type: ignore[union-attr]
        with pytest.raises(urllib.error.HTTPError) as denied:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10)
        assert denied.value.code == 401
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/", headers={"Authorization": "Bearer hunter2"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 200 and b"The archive is empty" in response.read()
            assert response.headers["Server"] == "dramawatch"
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert (tmp_path / "fresh" / "archive.db").exists(), "a fresh install gets its schema"


def test_no_write_statement_reaches_the_database(fixture: Fixture, client: FlaskClient) -> None:
    """Every route, through an engine that records statements: only SELECTs (and the
    dialect's own housekeeping) are sent."""
    from sqlalchemy import event

    engine = fixture.sessions.kw["bind"]
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        for url in [
            "/", "/?q=Kim", f"/stories/{story_id(fixture, 'finale')}", watch_url("Kim Soo-hyun"),
            "/sources", "/digests", "/api/search?q=Kim", "/feed.atom",
            "/watch/Kim%20Ji-won/feed.atom",
            f"/api/stories/{story_id(fixture, 'finale')}",
        ]:
            assert client.get(url).status_code == 200, url
    finally:
        event.remove(engine, "before_cursor_execute", record)
    write = re.compile(r"\s*(INSERT|UPDATE|DELETE|CREATE|DROP|ALTER)", re.I)
    writes = [s for s in statements if write.match(s)]
    assert statements and not writes




# ---------------------------------------------------------------- the pipeline's archive
# The archive the real crawl builds from the loopback fixture site (conftest's
# crawled_archive, SQLite), and the same articles stored into PostgreSQL through
# articles.store_article, which assigns the stories again on that engine.

GOLDEN: dict[str, Any] = json.loads(EXPECTED.read_text(encoding="utf-8"))


@dataclass
class Crawled:
    sessions: sessionmaker[Session]
    config: Config
    story_of: dict[str, int]  # golden article key -> story id


def _columns(row: Any) -> dict[str, Any]:
    return {c.key: getattr(row, c.key) for c in inspect(type(row)).column_attrs}


def copy_archive(source: sessionmaker[Session], target: sessionmaker[Session]) -> None:
    """Store every crawled article again (in first-seen order), then copy the run history."""
    with source() as reading:
        crawled = reading.scalars(
            select(Article)
            .order_by(Article.first_seen_at, Article.id)
            .options(selectinload(Article.urls), selectinload(Article.mentions))
        ).all()
        for article in crawled:
            record = ArticleRecord(
                canonical_url=article.canonical_url,
                urls=tuple(u.url for u in article.urls),
                source=article.source,
                title=article.title,
                text=article.text,
                author=article.author,
                language=article.language,
                published_at=article.published_at,
                mentions=tuple(
                    MentionRecord(m.entity, tuple((s[0], s[1]) for s in m.spans))
                    for m in article.mentions
                ),
                signature=article.signature,
                content_hash=article.content_hash,
            )
            with target.begin() as writing:
                articles.store_article(writing, record, article.first_seen_at)
        history = [
            *reading.scalars(select(CrawlRun)),
            *reading.scalars(select(RunSource)),
            *reading.scalars(select(CrawlError)),
        ]
        with target.begin() as writing:
            for row in history:
                writing.add(type(row)(**_columns(row)))
                writing.flush()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def crawled(
    request: pytest.FixtureRequest,
    crawled_archive: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Crawled]:
    config = load_config(crawled_archive.parent / "dramawatch.toml", env={})
    source = read_only_engine(f"sqlite:///{crawled_archive}")
    try:
        if request.param == "sqlite":
            sessions = session_factory(source)
            yield Crawled(sessions, config, golden_stories(sessions))
            return
        folder = tmp_path_factory.mktemp("web-crawled")
        with database(request, folder, "postgresql") as (url, engine):
            sessions = session_factory(engine)
            copy_archive(session_factory(source), sessions)
            yield Crawled(sessions, replace(config, database_url=url), golden_stories(sessions))
    finally:
        source.dispose()


def golden_stories(sessions: sessionmaker[Session]) -> dict[str, int]:
    with sessions() as session:
        by_key = {
            url_key(u.url): a.story_id
            for a in session.scalars(select(Article).options(selectinload(Article.urls)))
            for u in a.urls
        }
    return {e["key"]: by_key[url_key(e["canonical_url"])] for e in GOLDEN["articles"]}


def crawled_client(crawled: Crawled) -> FlaskClient:
    return create_app(crawled.sessions, crawled.config).test_client()


def test_pipeline_archive_lists_every_golden_story_once(crawled: Crawled) -> None:
    client = crawled_client(crawled)
    listed: list[int] = []
    for number in (1, 2):  # the golden articles fill more than one page of results
        _, tree = page(client, f"/?page={number}")
        for href in tree.xpath("//li[@class='hit']/h2/a/@href"):
            story_id = int(href.rsplit("/", 1)[1])
            listed += [] if story_id in listed else [story_id]
    assert sorted(listed) == sorted(set(crawled.story_of.values()))
    assert len(listed) == GOLDEN["counts"]["stories"]
    for members in GOLDEN["stories"].values():
        assert len({crawled.story_of[key] for key in members}) == 1


def test_pipeline_story_pages_show_every_outlet(crawled: Crawled) -> None:
    client = crawled_client(crawled)
    sources = {e["key"]: e["source"] for e in GOLDEN["articles"]}
    for members in GOLDEN["stories"].values():
        story = crawled.story_of[members[0]]
        _, tree = page(client, f"/stories/{story}")
        copies = tree.xpath("//li[@class='copy']")
        shown = [c.xpath("h2")[0].text_content().split(":")[0] for c in copies]
        assert sorted(shown) == sorted(sources[key] for key in members)
        assert len(client.get(f"/api/stories/{story}").get_json()["articles"]) == len(members)


def test_pipeline_search_finds_each_article_by_its_title(crawled: Crawled) -> None:
    client = crawled_client(crawled)
    for entry in GOLDEN["articles"]:
        words = re.findall(r"\w+", entry["title"])[:5]
        _, tree = page(client, "/?q=" + quote(" ".join(words)))
        found = [int(h.rsplit("/", 1)[1]) for h in tree.xpath("//li[@class='hit']/h2/a/@href")]
        assert crawled.story_of[entry["key"]] in found, entry["key"]
        entity = quote(entry["entities"][-1])
        rows = client.get(f"/api/search?entity={entity}&q={quote(' '.join(words))}").get_json()
        assert any(r["story_id"] == crawled.story_of[entry["key"]] for r in rows), entry["key"]


def test_pipeline_timelines_and_feeds_count_the_golden_articles(crawled: Crawled) -> None:
    client = crawled_client(crawled)
    for watch in crawled.config.watch:
        articles = [e for e in GOLDEN["articles"] if watch.name in e["entities"]]
        _, tree = page(client, watch_url(watch.name))
        bars = tree.xpath("//rect[@class='bar']")
        assert sum(int(b.get("data-count")) for b in bars) == len(articles), watch.name
        parsed, _ = parse_feed(client, watch_url(watch.name) + "/feed.atom")
        stories = {crawled.story_of[e["key"]] for e in articles}
        assert {int(e.id.rsplit("/", 1)[1]) for e in parsed.entries} == stories, watch.name
    parsed, _ = parse_feed(client, "/feed.atom")
    assert len(parsed.entries) == GOLDEN["counts"]["stories"]


def test_pipeline_sources_and_api(crawled: Crawled) -> None:
    client = crawled_client(crawled)
    _, tree = page(client, "/sources")
    rows = {
        r.xpath("th")[0].text_content().strip(): [td.text_content().strip() for td in r.xpath("td")]
        for r in tree.xpath("//table[@class='sources']/tbody/tr")
    }
    for source in GOLDEN["sources"]:
        state, _last, pages, new, *_rest, archived = rows[source["name"]]
        expected = sum(1 for e in GOLDEN["articles"] if e["source"] == source["name"])
        assert state in ("ok", "errors") and int(pages) > 0, source["name"]
        assert int(new) == int(archived) == expected, source["name"]
    got = client.get("/api/search?limit=0").get_json()
    with crawled.sessions() as session:
        hits = archive_search.search(session, archive_search.SearchQuery(limit=None))
        expected = [archive_search.article_json(h.article, h.snippet) for h in hits]
    assert got == json.loads(json.dumps(expected))
    assert len(got) == GOLDEN["counts"]["articles_stored"]
    page(client, "/digests")
