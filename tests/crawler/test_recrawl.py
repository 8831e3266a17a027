"""Crawling the fixture site twice: robots.txt on every run, the fetch memory, updates.

Each test copies the session's crawled archive (the first crawl), changes the site the way an
outlet would between two runs, crawls again and reads the archive and the access log.
"""

from __future__ import annotations

import json
import re
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import feedparser
from sqlalchemy import select
from sqlalchemy.orm import Session

from scraper.config import load_config
from scraper.core.urls import url_key
from scraper.storage.engine import make_engine, session_factory
from scraper.storage.models import Article, CrawlError, FetchMemory
from tests.conftest import dramawatch, make_config
from tests.site import EXPECTED, FixtureSite
from web.app import create_app

GOLDEN: dict[str, Any] = json.loads(EXPECTED.read_text(encoding="utf-8"))
PHOTO_DIARY = "http://seoulscreen.test/stories/park-sung-hoon-photo-diary"
SEOULSCREEN_ROBOTS = "http://seoulscreen.test/robots.txt"


def open_session(db: Path) -> Session:
    return session_factory(make_engine(f"sqlite:///{db}"))()


def recrawl(crawled_archive: Path, site: FixtureSite, tmp_path: Path) -> Path:
    """Copy the first crawl's archive into ``tmp_path`` and give the config using it."""
    config = make_config(tmp_path)
    shutil.copy(crawled_archive, tmp_path / "archive.db")
    return config


def crawl(config: Path, site: FixtureSite) -> str:
    result = dramawatch(config, "crawl", site=site)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def article_pages() -> list[str]:
    """Every article page the first crawl requested: stored ones and dropped ones."""
    stored = [u for e in GOLDEN["articles"] for u in e["seen_urls"]]
    dropped = [
        e["url"]
        for e in GOLDEN["not_stored"]
        if e["requested"] and e["reason"] not in ("listing-page",)
    ]
    return [*stored, *dropped]


def article_hits(site: FixtureSite) -> list[str]:
    keys = {url_key(u) for u in article_pages()}
    return [r.url for r in site.access_log if url_key(r.url) in keys]


DISCOVERY_PAGES = [
    "http://kwave.test/feed/",
    "http://dramabeat.test/feeds/latest.atom",
    "http://seoulscreen.test/sitemap.xml",
    "http://seoulscreen.test/sitemaps/news.xml",
    "http://hallyupost.test/k-drama/",
    "http://hallyupost.test/k-drama/page/2/",
    "http://hallyupost.test/k-drama/page/3/",
    "http://yeonye.test/rss/allArticle.xml",
]


def republish(site: FixtureSite) -> None:
    """Serve every feed, sitemap and listing again with fresh validators, as a live outlet
    does: an unchanged page then costs its download, and the pages it lists are considered."""
    for url in DISCOVERY_PAGES:
        end = re.search(r"</(rss|feed|urlset|sitemapindex|html)>\s*$", site.page_text(url))
        assert end is not None, url
        site.replace_text(url, end.group(0), f"{end.group(0)}\n<!-- republished -->\n")


def later(minutes: int = 5) -> datetime:
    return datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=minutes)


# ------------------------------------------------------------------ robots.txt (RFC 9309)


def test_a_revalidated_robots_txt_keeps_its_rules(
    crawled_archive: Path, site: FixtureSite, tmp_path: Path
) -> None:
    config = recrawl(crawled_archive, site, tmp_path)
    republish(site)
    crawl(config, site)
    answers = [r.status for r in site.access_log if r.url == SEOULSCREEN_ROBOTS]
    assert answers == [304]  # revalidated, not downloaded again
    assert site.hits(PHOTO_DIARY) == 0


def test_robots_txt_answered_5xx_disallows_the_host_and_is_reported(
    site: FixtureSite, tmp_path: Path
) -> None:
    site.set_status(SEOULSCREEN_ROBOTS, 503)
    config = make_config(tmp_path)
    crawl(config, site)
    seoulscreen = [r.url for r in site.access_log if r.host == "seoulscreen.test"]
    assert seoulscreen and all(url == SEOULSCREEN_ROBOTS for url in seoulscreen)
    with open_session(tmp_path / "archive.db") as session:
        assert not session.scalars(select(Article).where(Article.source == "Seoul Screen")).all()
        reasons = [e.reason for e in session.scalars(select(CrawlError))]
    assert any("robots.txt unreadable (HTTP 503)" in reason for reason in reasons), reasons


def test_robots_txt_answered_4xx_allows_everything(site: FixtureSite, tmp_path: Path) -> None:
    site.set_status(SEOULSCREEN_ROBOTS, 404)
    config = make_config(tmp_path)
    crawl(config, site)
    assert site.hits(PHOTO_DIARY) == 1


# ------------------------------------------------------------------ the fetch memory


def test_every_fetched_article_page_is_remembered_with_its_verdict(crawled_archive: Path) -> None:
    with open_session(crawled_archive) as session:
        memory = {row.url_key: row for row in session.scalars(select(FetchMemory))}
    for entry in GOLDEN["articles"]:
        assert memory[url_key(entry["canonical_url"])].verdict == "stored", entry["key"]
    verdicts = {
        "sidebar-only": "off-topic",
        "near-miss": "off-topic",
        "too-old": "too old",
    }
    for entry in GOLDEN["not_stored"]:
        if entry["requested"] and entry["reason"] in verdicts:
            row = memory[url_key(entry["url"])]
            assert row.verdict == verdicts[entry["reason"]], entry["key"]
            assert row.etag is not None
    # feeds, sitemaps and listings are discovery pages, kept with their validators
    assert memory["http://kwave.test/feed/"].verdict == "discovery"


def test_a_recrawl_requests_no_page_it_fetched_before(
    crawled_archive: Path, site: FixtureSite, tmp_path: Path
) -> None:
    config = recrawl(crawled_archive, site, tmp_path)
    republish(site)
    assert "0 new, 0 updated" in crawl(config, site)
    assert article_hits(site) == []  # neither stored nor dropped pages


# ------------------------------------------------------------------ updates noticed


def test_an_rss_atom_updated_that_moves_updates_the_article_in_place(
    crawled_archive: Path, site: FixtureSite, tmp_path: Path
) -> None:
    page = "http://kwave.test/news/queen-of-tears-holds-on-netflix-global-chart/"
    config = recrawl(crawled_archive, site, tmp_path)
    with open_session(tmp_path / "archive.db") as session:
        before = session.scalars(
            select(Article).where(Article.canonical_url.like("%netflix-global-chart%"))
        ).one()
        article_id, first_seen = before.id, before.first_seen_at
    first_digest = dramawatch(config, "digest")
    assert first_digest.returncode == 0, first_digest.stderr[-2000:]
    republish(site)
    feed = site.page_text("http://kwave.test/feed/")
    old = re.search(r"<atom:updated>[^<]+</atom:updated>", feed)
    assert old is not None
    site.replace_text(
        "http://kwave.test/feed/",
        old.group(0),
        f"<atom:updated>{later().isoformat()}</atom:updated>",
    )
    last = "as latecomers catch up.</p>"
    site.replace_text(page, last, last + "<p>Correction: the chart position was updated.</p>")
    assert "0 new, 1 updated" in crawl(config, site)
    # the moved entry is requested once, conditionally; the entries that did not move are not
    assert [url_key(u) for u in article_hits(site)] == [url_key(page)]
    with open_session(tmp_path / "archive.db") as session:
        after = session.get_one(Article, article_id)
        assert "Correction: the chart position" in after.text
        assert after.first_seen_at == first_seen and after.updated_at > first_seen
        story_id, updated_at = after.story_id, after.updated_at
    # the next digest lists the story under "Updated", not as new
    second_digest = dramawatch(config, "digest")
    assert second_digest.returncode == 0, second_digest.stderr[-2000:]
    text = Path(second_digest.stdout.strip().splitlines()[-1]).with_suffix(".txt").read_text()
    assert "0 new stories" in text
    updated_section = text[text.index("== Updated (1) ==") :]
    assert "Netflix" in updated_section
    # the web feed's entry for the story moves its <updated> to the update
    app = create_app(
        session_factory(make_engine(f"sqlite:///{tmp_path / 'archive.db'}")),
        load_config(config),
        clock=lambda: datetime.now(UTC),
    )
    atom = feedparser.parse(app.test_client().get("/feed.atom").data)
    story_entry = next(e for e in atom.entries if e.id.endswith(f"/stories/{story_id}"))
    assert story_entry.updated == updated_at.isoformat().replace("+00:00", "Z")
    search = dramawatch(config, "search", "--format", "json", "Netflix")
    rows = {row["id"]: row for row in json.loads(search.stdout)}
    assert rows[article_id]["updated_at"] is not None
    assert all(row["updated_at"] is None for i, row in rows.items() if i != article_id)


def test_a_sitemap_lastmod_that_moves_updates_the_article_in_place(
    crawled_archive: Path, site: FixtureSite, tmp_path: Path
) -> None:
    page = "http://seoulscreen.test/stories/kim-ji-won-pens-farewell-letter-to-hong-hae-in"
    sitemap = "http://seoulscreen.test/sitemaps/news.xml"
    config = recrawl(crawled_archive, site, tmp_path)
    republish(site)
    text = site.page_text(sitemap)
    entry = re.search(r"<loc>" + re.escape(page) + r"</loc>\s*<lastmod>([^<]+)</lastmod>", text)
    assert entry is not None
    site.replace_text(
        sitemap, entry.group(0), entry.group(0).replace(entry.group(1), later().isoformat())
    )
    # the index says news.xml changed (else its 304 would stand for the whole tree)
    index = "http://seoulscreen.test/sitemap.xml"
    moved = re.sub(
        r"(news\.xml</loc>\s*<lastmod>)[^<]+", rf"\g<1>{later().isoformat()}", site.page_text(index)
    )
    site.set_page(index, moved, content_type="application/xml")
    last = "in the history of its network.</p>"
    site.replace_text(page, last, last + "<p>Update: she has since signed for a film role.</p>")
    assert "0 new, 1 updated" in crawl(config, site)
    assert [url_key(u) for u in article_hits(site)] == [url_key(page)]


# ------------------------------------------------------------------ verified cross-host canonical

MOBILE_COPY = "http://kwdmobile.test/news/park-sung-hoon-on-playing-yoon-eun-sung/"
ORIGINAL = "http://kwave.test/news/park-sung-hoon-on-playing-yoon-eun-sung/"
IMPOSTOR = "http://kwdmobile.test/news/queen-of-tears-chart-exclusive/"
CLAIMED = "http://kwave.test/news/queen-of-tears-holds-on-netflix-global-chart/"


def with_mobile_host(config: Path) -> Path:
    """Add the mobile edition on a host of its own name (kwdmobile.test) as a source."""
    text = config.read_text(encoding="utf-8")
    text += '\n[[sources]]\nname = "K-Wave Daily mobile"\nfeeds = ["http://kwdmobile.test/feed/"]\n'
    config.write_text(text, encoding="utf-8")
    return config


def check_canonical_claims(db: Path) -> None:
    with open_session(db) as session:
        owner: dict[str, int] = {}
        for article in session.scalars(select(Article)):
            for url in article.urls:
                owner[url_key(url.url)] = article.id
        # the copy whose text is the original's is that article: one row, its URL joins urls
        assert owner[url_key(MOBILE_COPY)] == owner[url_key(ORIGINAL)]
        # the page whose text differs cannot merge itself into the article it names
        assert owner[url_key(IMPOSTOR)] != owner[url_key(CLAIMED)]
        assert len(set(owner.values())) == GOLDEN["counts"]["articles_stored"] + 1


def test_a_copy_on_another_host_joins_the_stored_article_it_names(
    crawled_archive: Path, site: FixtureSite, tmp_path: Path
) -> None:
    config = with_mobile_host(recrawl(crawled_archive, site, tmp_path))
    crawl(config, site)
    check_canonical_claims(tmp_path / "archive.db")


def test_a_copy_and_its_original_fetched_in_one_crawl_are_one_article(
    site: FixtureSite, tmp_path: Path
) -> None:
    config = with_mobile_host(make_config(tmp_path))
    crawl(config, site)
    check_canonical_claims(tmp_path / "archive.db")
