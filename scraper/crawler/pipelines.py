"""Thin item pipelines: extract -> match -> fingerprint and store, each calling a pure module.

CPU-heavy steps run in Twisted's thread pool, so downloads go on while a page is parsed.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem
from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet.threads import deferToThread

from scraper.config import Config
from scraper.core import dedup
from scraper.core.extract import Rejected, extract
from scraper.core.urls import clean_url, same_site
from scraper.core.verdict import ArticleFacts, Rules, compile_rules, judge, matched_text
from scraper.crawler import signals
from scraper.crawler.items import PageItem
from scraper.crawler.resources import resources
from scraper.storage import articles
from scraper.storage.engine import Sessions

logger = logging.getLogger(__name__)


__all__ = [
    "ArchivePipeline",
    "ExtractPipeline",
    "MatchPipeline",
    "canonical_url",
    "matched_text",
    "watch_rules",
]


def watch_rules(config: Config) -> Rules:
    """Give the compiled watch list with its rules and [filters], as every verdict uses it."""
    return compile_rules(
        config.watch,
        mute_sources=config.filters.mute_sources,
        mute_domains=config.filters.mute_domains,
    )


def canonical_url(fetched: str, declared: str | None) -> str:
    """Give the article's canonical URL: the page's own rel=canonical when it stays on the
    outlet's site; a syndicated copy pointing at the original outlet is its own article."""
    if declared and same_site(declared, fetched):
        return clean_url(declared)
    return clean_url(fetched)


def claimed_canonical(fetched: str, declared: str | None) -> str | None:
    """Give a rel=canonical naming another site's URL: believed only once the archive finds
    that article's text to be this page's (``articles.store_article``)."""
    if declared and not same_site(declared, fetched):
        return clean_url(declared)
    return None


class ExtractPipeline:
    """Turns a fetched page into an article (trafilatura), or drops it with the reason."""

    def __init__(self, crawler: Crawler, max_age_days: int) -> None:
        self.crawler = crawler
        self.max_age_days = max_age_days

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ExtractPipeline:
        return cls(crawler, resources(crawler).config.crawl.max_age_days)

    async def process_item(self, item: PageItem) -> PageItem:
        result = await maybe_deferred_to_future(
            deferToThread(
                extract,
                item.html,
                item.url,
                hint_published_at=item.hint_published_at,
                hint_title=item.hint_title,
            )
        )
        if isinstance(result, Rejected):
            item.verdict = "not an article"
            self.crawler.signals.send_catch_log(
                signal=signals.page_failed, source=item.source, url=item.url, reason=result.reason
            )
            raise DropItem(f"{item.url}: {result.reason}")
        published = result.published_at
        if self.max_age_days and published:
            age = datetime.now(UTC) - published
            if age > timedelta(days=self.max_age_days):
                item.verdict = "too old"
                raise DropItem(f"{item.url}: published {age.days} days ago")
        item.extracted = result
        item.html = ""  # the page is no longer needed; keep memory flat on big crawls
        return item


class MatchPipeline:
    """Keeps only articles that mention a watched name counting after its rules
    (``core.verdict.judge``, the decision ``inspect`` and ``rematch`` explain)."""

    def __init__(self, rules: Rules) -> None:
        self.rules = rules

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> MatchPipeline:
        return cls(watch_rules(resources(crawler).config))

    def process_item(self, item: PageItem) -> PageItem:
        extracted = item.extracted
        if extracted is None:
            raise DropItem(f"{item.url}: not extracted")
        verdict = judge(
            self.rules,
            ArticleFacts(
                title=extracted.title,
                text=extracted.text,
                source=item.source,
                language=extracted.language,
                canonical_url=canonical_url(item.url, extracted.canonical_url),
            ),
        )
        if not verdict.stored:
            item.verdict = "off-topic"
            raise DropItem(f"{item.url}: {verdict.reason}")
        item.mentions = list(verdict.counted)
        return item


class ArchivePipeline:
    """Fingerprints the article and stores it, one committed transaction per article."""

    def __init__(self, sessions: Sessions) -> None:
        self.sessions = sessions

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ArchivePipeline:
        return cls(resources(crawler).sessions)

    async def process_item(self, item: PageItem) -> PageItem:
        return await maybe_deferred_to_future(deferToThread(self.store, item))

    def store(self, item: PageItem) -> PageItem:
        extracted = item.extracted
        if extracted is None:
            raise DropItem(f"{item.url}: not extracted")
        record = articles.ArticleRecord(
            canonical_url=canonical_url(item.url, extracted.canonical_url),
            urls=tuple(item.seen_urls),
            source=item.source,
            title=extracted.title,
            text=extracted.text,
            author=extracted.author,
            language=extracted.language,
            published_at=extracted.published_at,
            mentions=tuple(articles.MentionRecord(m.entity, m.spans) for m in item.mentions),
            signature=dedup.signature(extracted.text),
            content_hash=dedup.content_hash(extracted.title, extracted.text),
            claimed_canonical=claimed_canonical(item.url, extracted.canonical_url),
        )
        with self.sessions.begin() as session:
            result = articles.store_article(session, record, datetime.now(UTC))
        item.article_id, item.story_id, item.status = (
            result.article_id,
            result.story_id,
            result.status,
        )
        logger.info(
            "%s article %d (story %d): %s",
            result.status,
            result.article_id,
            result.story_id,
            extracted.title[:120],
        )
        return item
