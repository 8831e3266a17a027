"""News-search sources end to end on the fixture site's fake www.bing.com and news.google.com.

The crawl runs as ``scrapy crawl news`` with the search origins pointed at the fixture (its
proxy speaks no TLS) and the Google resolution slot without its delay (no timing here).
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from scraper.config import load_config
from scraper.core.aggregators import AggregatorLink
from scraper.core.discovery import Candidate
from scraper.crawler import settings
from scraper.crawler.spiders.news import NewsSpider
from scraper.storage.engine import make_engine, session_factory
from scraper.storage.models import Article, ArticleUrl, CrawlError, ResolvedAggregatorLink
from tests.conftest import ROOT, cli_env, dramawatch, make_config
from tests.site import SITE_DIR, FixtureSite
from web.app import create_app

SEARCH_CONFIG = SITE_DIR / "dramawatch-search.test.toml"
ORIGINS = {"bing": "http://www.bing.com", "google": "http://news.google.com"}
OST = "http://kwave.test/news/kim-soo-hyun-sings-for-queen-of-tears-ost/"
# every article the search test config leads to, under its publisher's canonical URL
GOLDEN = json.loads((SITE_DIR / "expected.json").read_text())
STORED = {
    # the outlet's own feed finds what it finds in the site's golden crawl
    "K-Wave Daily": {
        article["canonical_url"]
        for article in GOLDEN["articles"]
        if article["source"] == "K-Wave Daily"
    },
    "Bing News": {
        "http://hallyupost.test/story/queen-of-tears-bows-out-with-record-ratings",
        "http://seoulscreen.test/stories/kim-soohyun-in-his-own-words",
    },
    "Google News": {
        "http://dramabeat.test/articles/20425-queen-of-tears-finale-sets-tvn-ratings-record",
        "http://yeonye.test/news/articleView.html?idxno=30211",
    },
}
UNRESOLVED = {
    (
        "Bing News",
        "http://www.bing.com/news/apiclick.aspx?ref=FexRss&aid=&tid=fx03c9e5a1f4d6b8c0e2a3f5d7c9e1a4b6&c=8841129306655021743&mkt=en-us",
    ),
    (
        "Google News",
        "http://news.google.com/rss/articles/CBMiH0FVX3lxTGZpeHR1cmUtdW5rbm93bi10by1nb29nbGXSAQA?oc=5",
    ),
}


def crawl(config: Path, site: FixtureSite) -> subprocess.CompletedProcess[str]:
    """One crawl of ``config`` (``scrapy crawl news``, as the README says) on the fixture."""
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "scrapy",
            "crawl",
            "news",
            "-s",
            f"DRAMAWATCH_SEARCH_ORIGINS={json.dumps(ORIGINS)}",
            "-s",
            "DOWNLOAD_SLOTS={}",
        ],
        capture_output=True,
        text=True,
        timeout=240,
        env=cli_env(site, DRAMAWATCH_CONFIG=str(config)),
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def archive(directory: Path) -> Session:
    return session_factory(make_engine(f"sqlite:///{directory / 'archive.db'}"))()


def errors(session: Session, run_id: int) -> list[tuple[str, str, str]]:
    rows = session.scalars(select(CrawlError).where(CrawlError.run_id == run_id))
    return sorted((row.source, row.url, row.reason) for row in rows)


def gets(site: FixtureSite, host: str, prefix: str, method: str = "GET") -> list[str]:
    return [
        record.target
        for record in site.access_log
        if record.method == method and record.host == host and record.target.startswith(prefix)
    ]


def test_search_finds_each_article_once_under_its_publishers_url(
    site: FixtureSite, tmp_path: Path
) -> None:
    config = make_config(tmp_path, SEARCH_CONFIG)
    crawl(config, site)
    # one search feed per watch name and alias, and per locale: 6 names, Bing in two locales
    assert len(set(gets(site, "www.bing.com", "/news/search?"))) == 6 * 2
    assert len(set(gets(site, "news.google.com", "/rss/search?"))) == 6
    # Bing's click-through links are never requested: the publisher URL is in the link
    assert gets(site, "www.bing.com", "/news/apiclick.aspx") == []
    # found by the outlet's feed, two Bing searches and a Google search: fetched once
    assert sum(1 for r in site.access_log if r.url.startswith(OST) and "/amp/" not in r.url) == 1
    # the publisher's robots.txt is obeyed for what a search found
    assert site.hits("http://seoulscreen.test/stories/park-sung-hoon-photo-diary") == 0
    with archive(tmp_path) as session:
        stored = {
            source: set(
                session.scalars(select(Article.canonical_url).where(Article.source == source))
            )
            for source in STORED
        }
        assert stored == STORED
        assert session.scalar(select(func.count()).select_from(Article)) == sum(
            map(len, STORED.values())
        )
        urls = list(session.scalars(select(ArticleUrl.url)))
        assert not [url for url in urls if "bing.com" in url or "news.google.com" in url]
        # each Google resolution is kept by article id; an embedded id needed none
        assert session.scalar(select(func.count()).select_from(ResolvedAggregatorLink)) == 2
        run_errors = errors(session, 1)
    assert {(source, url) for source, url, _ in run_errors} == UNRESOLVED
    assert len(run_errors) == len(UNRESOLVED)  # once per run, though two feeds list one of them
    assert all(reason.startswith("unresolved aggregator link") for _, _, reason in run_errors)


def test_second_run_asks_google_nothing_known_and_retries_the_unresolved(
    site: FixtureSite, tmp_path: Path
) -> None:
    config = make_config(tmp_path, SEARCH_CONFIG)
    crawl(config, site)
    site.clear_log()
    crawl(config, site)
    assert gets(site, "news.google.com", "/_/", "POST") == []
    assert gets(site, "news.google.com", "/rss/articles/") == [
        "/rss/articles/CBMiH0FVX3lxTGZpeHR1cmUtdW5rbm93bi10by1nb29nbGXSAQA?hl=en-US&gl=US&ceid=US%3Aen"
    ]
    with archive(tmp_path) as session:
        assert {(s, u) for s, u, _ in errors(session, 2)} == UNRESOLVED
        assert session.scalar(select(func.count()).select_from(Article)) == sum(
            map(len, STORED.values())
        )


def test_google_links_stay_unresolved_when_resolution_is_off(
    site: FixtureSite, tmp_path: Path
) -> None:
    config = make_config(tmp_path, SEARCH_CONFIG, resolve_google_news=False)
    crawl(config, site)
    assert gets(site, "news.google.com", "/rss/articles/") == []
    assert gets(site, "news.google.com", "/_/", "POST") == []
    with archive(tmp_path) as session:
        google = set(
            session.scalars(select(Article.canonical_url).where(Article.source == "Google News"))
        )
        run_errors = errors(session, 1)
    # the id that embeds its URL needs no request; the others are reported, not fetched
    assert google == {"http://yeonye.test/news/articleView.html?idxno=30211"}
    unresolved = [(s, u) for s, u, reason in run_errors if reason == "unresolved aggregator link"]
    assert len([1 for s, _ in unresolved if s == "Google News"]) == 3
    assert not [r for _, _, r in run_errors if "not an article" in r]


def test_search_feed_disallowed_by_robots_is_reported_once(
    site: FixtureSite, tmp_path: Path
) -> None:
    config = make_config(tmp_path, SEARCH_CONFIG)
    site.set_page(
        "http://www.bing.com/robots.txt",
        "User-agent: *\nDisallow: /news/\n",
        content_type="text/plain; charset=utf-8",
    )
    crawl(config, site)
    assert gets(site, "www.bing.com", "/news/search") == []
    with archive(tmp_path) as session:
        bing = [e for e in errors(session, 1) if e[0] == "Bing News"]
    assert [reason for _, _, reason in bing] == ["disallowed by robots.txt"]
    status = dramawatch(config, "status", site=site)
    assert status.returncode == 0, status.stderr
    line = next(line for line in status.stdout.splitlines() if "Bing News" in line)
    assert "disallowed by robots.txt" in line

    app = create_app(
        session_factory(make_engine(f"sqlite:///{tmp_path / 'archive.db'}")),
        load_config(config, env={}),
        clock=lambda: datetime.now(UTC),
    )
    body = app.test_client().get("/sources").get_data(as_text=True)
    assert "Bing News" in body and "disallowed by robots.txt" in body


def test_adding_a_watch_entry_adds_its_searches(tmp_path: Path) -> None:
    config = make_config(tmp_path, SEARCH_CONFIG)
    before = load_config(config, env={})
    spider = NewsSpider(before, datetime.now(UTC))
    bing = next(s for s in before.sources if s.search == "bing")
    assert len(spider._search_feeds(bing)) == 12
    text = config.read_text("utf-8").replace(
        "[[sources]]", '[[watch]]\nname = "Park Ji-eun"\naliases = ["박지은"]\n\n[[sources]]', 1
    )
    config.write_text(text, "utf-8")
    after = load_config(config, env={})
    feeds = NewsSpider(after, datetime.now(UTC))._search_feeds(bing)
    assert len(feeds) == 16
    assert (
        "https://www.bing.com/news/search?q=%22Park+Ji-eun%22&format=rss&setlang=ko-KR&cc=KR"
        in feeds
    )


@pytest.mark.parametrize("engine", ["bing", "google"])
def test_outlet_feeds_without_search_request_no_search(engine: str, tmp_path: Path) -> None:
    config = load_config(make_config(tmp_path), env={})
    spider = NewsSpider(config, datetime.now(UTC))
    assert all(spider._search_feeds(source) == [] for source in config.sources)


def test_hand_given_aggregator_feed_gets_the_same_treatment(
    site: FixtureSite, tmp_path: Path
) -> None:
    config = make_config(tmp_path, SEARCH_CONFIG)
    feed = "http://news.google.com/rss/search?q=%22Queen+of+Tears%22&hl=en-US&gl=US&ceid=US:en"
    text = config.read_text("utf-8")
    text = text[: text.index('[[sources]]\nname = "Bing News"')]
    text += f'[[sources]]\nname = "Google News by hand"\nfeeds = ["{feed}"]\n'
    config.write_text(text, "utf-8")
    crawl(config, site)
    with archive(tmp_path) as session:
        by_hand = set(
            session.scalars(
                select(Article.canonical_url).where(Article.source == "Google News by hand")
            )
        )
        run_errors = errors(session, 1)
    assert by_hand == STORED["Google News"]
    assert [(s, r) for s, _, r in run_errors] == [
        ("Google News by hand", "unresolved aggregator link (HTTP 404)")
    ]
    assert sum(1 for r in site.access_log if r.url.startswith(OST) and "/amp/" not in r.url) == 1


def test_google_resolutions_share_one_rate_limited_slot(tmp_path: Path) -> None:
    spider = NewsSpider(
        load_config(make_config(tmp_path, SEARCH_CONFIG), env={}), datetime.now(UTC)
    )
    link = AggregatorLink("https://news.google.com/rss/articles/CBMiXYZ123456", "CBMiXYZ123456")
    meta = spider._resolution_meta(Candidate(link.url, None), link, "https://news.google.com/rss")
    slot = settings.DOWNLOAD_SLOTS[meta["download_slot"]]
    assert slot["concurrency"] == 1 and slot["delay"] > 0
