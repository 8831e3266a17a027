"""The whole crawl against the loopback fixture site, checked against its golden truth."""

from __future__ import annotations

import json
import re
import shutil
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from scraper.core.urls import url_key
from scraper.storage.engine import make_engine, session_factory
from scraper.storage.models import Article, ArticleUrl, CrawlRun, Mention, Story
from tests.conftest import dramawatch, make_config
from tests.site import EXPECTED, FixtureSite

GOLDEN: dict[str, Any] = json.loads(EXPECTED.read_text(encoding="utf-8"))


def open_session(db: Path) -> Session:
    return session_factory(make_engine(f"sqlite:///{db}"))()


def stored_by_key(session: Session) -> dict[str, Article]:
    """Give archived articles by the url_key of every URL they are known under."""
    found: dict[str, Article] = {}
    for article in session.scalars(select(Article)):
        for url in article.urls:
            found[url_key(url.url)] = article
    return found


def test_exactly_the_right_articles_are_stored(crawled_archive: Path) -> None:
    with open_session(crawled_archive) as session:
        by_key = stored_by_key(session)
        ids = {a.id for a in by_key.values()}
        matched = {e["key"]: by_key.get(url_key(e["canonical_url"])) for e in GOLDEN["articles"]}
        missing = [k for k, a in matched.items() if a is None]
        assert not missing, f"expected articles not stored: {missing}"
        assert len(ids) == len(GOLDEN["articles"])
        for entry in GOLDEN["not_stored"]:
            assert url_key(entry["url"]) not in by_key, entry["key"]


def test_each_article_has_the_right_fields_and_entities(crawled_archive: Path) -> None:
    with open_session(crawled_archive) as session:
        by_key = stored_by_key(session)
        for entry in GOLDEN["articles"]:
            article = by_key[url_key(entry["canonical_url"])]
            assert url_key(article.canonical_url) == url_key(entry["canonical_url"]), entry["key"]
            assert article.source == entry["source"]
            assert article.title == entry["title"], entry["key"]
            assert article.language == entry["language"], entry["key"]
            assert article.published_at is not None and article.published_at.tzinfo is not None
            assert sorted(m.entity for m in article.mentions) == sorted(entry["entities"]), entry[
                "key"
            ]
            known = {url_key(u.url) for u in article.urls}
            for seen in entry["seen_urls"]:
                assert url_key(seen) in known, (entry["key"], seen)


def test_byline_dates_are_read_as_written(crawled_archive: Path, fixture_site: FixtureSite) -> None:
    """12-hour English and Korean bylines are the only date on these pages (issue 11 item 7)."""
    exact = [e for e in GOLDEN["articles"] if e.get("published_exact")]
    assert exact
    with open_session(crawled_archive) as session:
        by_key = stored_by_key(session)
        for entry in exact:
            article = by_key[url_key(entry["canonical_url"])]
            # bylines print the minute, not the second
            expected = fixture_site.date(entry["published_offset"]).replace(second=0)
            assert article.published_at == expected, entry["key"]


def test_mention_spans_point_at_the_names(crawled_archive: Path) -> None:
    with open_session(crawled_archive) as session:
        for mention in session.scalars(select(Mention)):
            combined = f"{mention.article.title}\n\n{mention.article.text}"
            for start, end in mention.spans:
                assert 0 <= start < end <= len(combined)
                assert combined[start:end].strip()


def test_copies_share_a_story_and_unrelated_articles_never_do(crawled_archive: Path) -> None:
    with open_session(crawled_archive) as session:
        by_key = stored_by_key(session)
        story_of = {
            e["key"]: by_key[url_key(e["canonical_url"])].story_id for e in GOLDEN["articles"]
        }
        by_label: dict[str, set[int]] = defaultdict(set)
        for entry in GOLDEN["articles"]:
            by_label[entry["story"]].add(story_of[entry["key"]])
        for label, stories in by_label.items():
            assert len(stories) == 1, f"story {label} split over {stories}"
        all_ids = [next(iter(s)) for s in by_label.values()]
        assert len(set(all_ids)) == len(all_ids), "two different stories were merged"
        assert (
            session.scalar(select(func.count()).select_from(Story)) == GOLDEN["counts"]["stories"]
        )


def test_pages_that_must_not_be_requested_are_not(
    crawled_archive: Path, fixture_site: FixtureSite
) -> None:
    for entry in GOLDEN["not_stored"]:
        if entry["requested"] is False:
            assert fixture_site.hits(entry["url"]) == 0, entry["key"]


def test_the_run_is_recorded(crawled_archive: Path) -> None:
    with open_session(crawled_archive) as session:
        run = session.scalars(select(CrawlRun)).one()
        assert run.status == "finished"
        assert run.articles_new == GOLDEN["counts"]["articles_stored"]
        assert run.pages_fetched >= GOLDEN["counts"]["articles_stored"]
        assert {s.source for s in run.sources} == {s["name"] for s in GOLDEN["sources"]}
        assert run.finished_at is not None


def test_second_crawl_of_an_unchanged_site_adds_nothing(
    crawled_archive: Path, site: FixtureSite, tmp_path: Path
) -> None:
    config = make_config(tmp_path)
    shutil.copy(crawled_archive, tmp_path / "archive.db")
    with open_session(tmp_path / "archive.db") as session:
        before = session.scalar(select(func.count()).select_from(ArticleUrl))
    result = dramawatch(config, "crawl", site=site)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "0 new, 0 updated" in result.stdout
    with open_session(tmp_path / "archive.db") as session:
        assert session.scalar(select(func.count()).select_from(ArticleUrl)) == before
        assert (
            session.scalar(select(func.count()).select_from(Article))
            == GOLDEN["counts"]["articles_stored"]
        )
    # already-archived articles are not downloaded again
    article_hits = [
        r
        for r in site.access_log
        if any(url_key(r.url) == url_key(u) for e in GOLDEN["articles"] for u in e["seen_urls"])
    ]
    assert article_hits == []


def test_changed_article_is_updated_in_place(
    crawled_archive: Path, site: FixtureSite, tmp_path: Path
) -> None:
    entry = next(e for e in GOLDEN["articles"] if e["key"] == "kw-ost-vocal")
    config = make_config(tmp_path)
    shutil.copy(crawled_archive, tmp_path / "archive.db")
    with open_session(tmp_path / "archive.db") as session:
        before = stored_by_key(session)[url_key(entry["canonical_url"])]
        article_id, first_seen = before.id, before.first_seen_at
    # the outlet edits the article, and its feed entry carries a newer date
    marker = "<p>Update: the agency confirmed a music video for the song will follow next week.</p>"
    last_paragraph = "streams worldwide on Netflix.</p>"
    site.replace_text(entry["canonical_url"], last_paragraph, last_paragraph + marker)
    feed_url = "http://kwave.test/feed/"
    feed = site.page_text(feed_url)
    item = feed[feed.index("kim-soo-hyun-sings-for-queen-of-tears-ost/?utm_source") :]
    old_date = re.search(r"<pubDate>([^<]+)</pubDate>", item)
    assert old_date is not None
    newer = format_datetime(datetime.now(UTC) + timedelta(minutes=5))
    site.replace_text(feed_url, old_date.group(0), f"<pubDate>{newer}</pubDate>")

    result = dramawatch(config, "crawl", site=site)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "1 updated" in result.stdout
    with open_session(tmp_path / "archive.db") as session:
        after = session.get_one(Article, article_id)
        assert "music video" in after.text
        assert after.first_seen_at == first_seen
        assert after.updated_at > first_seen
        assert (
            session.scalar(select(func.count()).select_from(Article))
            == GOLDEN["counts"]["articles_stored"]
        )


def test_url_variants_collapse_to_the_article(crawled_archive: Path) -> None:
    with open_session(crawled_archive) as session:
        by_key = stored_by_key(session)
    checked = 0
    for entry in GOLDEN["articles"]:
        for variant in entry.get("variant_urls", []):
            if "?p=" in variant:
                continue
            assert url_key(variant) == url_key(entry["canonical_url"]) or (
                url_key(variant) in by_key
            ), (entry["key"], variant)
            checked += 1
    assert checked, "the golden data lists URL variants"


def test_run_once_end_to_end(site: FixtureSite, tmp_path: Path) -> None:
    """The crontab line: crawl, then the digest of everything new, written as files."""
    config = make_config(tmp_path)
    first = dramawatch(config, "run-once", site=site)
    assert first.returncode == 0, first.stderr[-3000:]
    assert f"{GOLDEN['counts']['articles_stored']} new" in first.stdout
    html_path = Path(first.stdout.strip().splitlines()[-1])
    assert html_path.is_file() and html_path.parent == tmp_path / "digests"
    html = html_path.read_text(encoding="utf-8")
    text = html_path.with_suffix(".txt").read_text(encoding="utf-8")
    titles: dict[str, list[str]] = defaultdict(list)
    for entry in GOLDEN["articles"]:
        titles[entry["story"]].append(entry["title"])
    for label, candidates in titles.items():  # a story shows one of its copies' titles
        assert any(title in text for title in candidates), label
    assert f"{GOLDEN['counts']['stories']} new stories" in text
    assert "<script" not in html.lower()
    assert (tmp_path / "digests" / "index.html").is_file()

    second = dramawatch(config, "run-once", site=site)
    assert second.returncode == 0, second.stderr[-3000:]
    assert "0 new, 0 updated" in second.stdout
    with open_session(tmp_path / "archive.db") as session:
        assert (
            session.scalar(select(func.count()).select_from(Article))
            == GOLDEN["counts"]["articles_stored"]
        )
        assert session.scalar(select(func.count()).select_from(CrawlRun)) == 2


def test_recall_and_precision_on_the_fixture_site(
    crawled_archive: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The figures the closing note quotes: recall, precision, stories versus articles."""
    with open_session(crawled_archive) as session:
        stored = {url_key(u.url) for u in session.scalars(select(ArticleUrl))}
        articles = session.scalar(select(func.count()).select_from(Article)) or 0
        stories = session.scalar(select(func.count()).select_from(Story)) or 0
    relevant = [e for e in GOLDEN["articles"]]
    found = [e for e in relevant if url_key(e["canonical_url"]) in stored]
    recall = len(found) / len(relevant)
    precision = len(found) / articles if articles else 0.0
    with capsys.disabled():
        print(
            f"\nfixture site: recall {recall:.2f}, precision {precision:.2f}, "
            f"{stories} stories / {articles} articles"
        )
    assert recall == 1.0
    assert precision == 1.0
