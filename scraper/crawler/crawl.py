"""Running the ``news`` spider once, in this process, and reading back the run it recorded."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from scrapy.crawler import CrawlerProcess
from scrapy.settings import Settings

from scraper.config import Config
from scraper.crawler.extensions import STATS_RUN_ID
from scraper.crawler.resources import attach
from scraper.crawler.spiders.news import NewsSpider
from scraper.storage.engine import Session, Sessions
from scraper.storage.models import CrawlRun

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SourceFailure:
    source: str
    errors: int
    url: str
    reason: str


@dataclass(frozen=True)
class CrawlOutcome:
    run_id: int
    status: str
    pages_fetched: int
    articles_new: int
    articles_updated: int
    failures: tuple[SourceFailure, ...]


def crawl_settings(config: Config, overrides: dict[str, Any] | None = None) -> Settings:
    """Give the Scrapy settings for a crawl of ``config`` (the project module plus overrides)."""
    settings = Settings()
    settings.setmodule("scraper.crawler.settings", priority="project")
    settings.set("DRAMAWATCH_CONFIG", str(config.path), priority="cmdline")
    # the dramawatch command line owns logging: Scrapy logs through the root logger's handlers
    settings.set("LOG_INSTALL_ROOT_HANDLER", False, priority="cmdline")
    settings.setdict(overrides or {}, priority="cmdline")
    return settings


def run_crawl(
    config: Config, sessions: Sessions, overrides: dict[str, Any] | None = None
) -> CrawlOutcome:
    """Crawl every source once (blocking; starts and stops Twisted's reactor), with this config
    and archive: the crawl loads no config and opens no engine of its own."""
    process = CrawlerProcess(crawl_settings(config, overrides))
    crawler = process.create_crawler(NewsSpider)
    attach(crawler, config, sessions)
    process.crawl(crawler)
    process.start()
    run_id = crawler.stats.get_value(STATS_RUN_ID) if crawler.stats else None
    if run_id is None:
        raise RuntimeError("the crawl ended before it could record a run")
    with sessions() as session:
        return outcome(session, run_id)


def outcome(session: Session, run_id: int) -> CrawlOutcome:
    """Give a run's totals and one failure line per failed source."""
    run = session.get_one(CrawlRun, run_id)
    first: dict[str, SourceFailure] = {}
    for error in run.errors:
        seen = first.get(error.source)
        count = seen.errors + 1 if seen else 1
        url, reason = (seen.url, seen.reason) if seen else (error.url, error.reason)
        first[error.source] = SourceFailure(error.source, count, url, reason)
    return CrawlOutcome(
        run_id=run.id,
        status=run.status,
        pages_fetched=run.pages_fetched,
        articles_new=run.articles_new,
        articles_updated=run.articles_updated,
        failures=tuple(first.values()),
    )
