"""The run recorder: one crawl run in the history, with per-source pages, articles and errors."""

from __future__ import annotations

import logging
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from scrapy import Request, signals
from scrapy.crawler import Crawler
from scrapy.http import Response
from sqlalchemy.orm import Session, sessionmaker
from twisted.internet import task

from scraper import archive
from scraper import signals as dramawatch_signals
from scraper.items import PageItem
from scraper.middlewares import archive_sessions

logger = logging.getLogger(__name__)

STATS_RUN_ID = "dramawatch/run_id"


class RunRecorder:
    """Writes the run row at start, counters every few seconds (so a killed crawl leaves an
    honest record), each error as it happens, and the outcome at the end."""

    def __init__(self, crawler: Crawler, sessions: sessionmaker[Session], flush_s: float) -> None:
        self.crawler = crawler
        self.sessions = sessions
        self.flush_s = flush_s
        self.run_id: int | None = None
        self.pages: Counter[str] = Counter()
        self.articles: list[tuple[str, archive.StoreStatus]] = []
        self.loop: task.LoopingCall | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RunRecorder:
        recorder = cls(
            crawler, archive_sessions(crawler), crawler.settings.getfloat("DRAMAWATCH_RUN_FLUSH_S")
        )
        crawler.signals.connect(recorder.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(recorder.spider_closed, signal=signals.spider_closed)
        crawler.signals.connect(recorder.response_received, signal=signals.response_received)
        crawler.signals.connect(recorder.item_scraped, signal=signals.item_scraped)
        crawler.signals.connect(recorder.page_failed, signal=dramawatch_signals.page_failed)
        return recorder

    def spider_opened(self) -> None:
        now = datetime.now(UTC)
        with self.sessions.begin() as session:
            self.run_id = archive.start_run(session, now)
        if self.crawler.stats is not None:
            self.crawler.stats.set_value(STATS_RUN_ID, self.run_id)
        logger.info("crawl run %d started", self.run_id)
        self.loop = task.LoopingCall(self.flush)
        self.loop.start(self.flush_s, now=False)

    def response_received(self, response: Response, request: Request) -> None:
        source = request.meta.get("source")
        if source and response.status != 304:
            self.pages[source] += 1

    def item_scraped(self, item: Any) -> None:
        if isinstance(item, PageItem) and item.status:
            self.articles.append((item.source, item.status))

    def page_failed(self, source: str, url: str, reason: str) -> None:
        if self.run_id is None:
            return
        with self.sessions.begin() as session:
            archive.record_error(session, self.run_id, source, url, reason, datetime.now(UTC))

    def flush(self) -> None:
        if self.run_id is None or not (self.pages or self.articles):
            return
        pages, articles = dict(self.pages), self.articles
        self.pages, self.articles = Counter(), []
        with self.sessions.begin() as session:
            archive.count_pages(session, self.run_id, pages)
            for source, status in articles:
                archive.count_article(session, self.run_id, source, status)

    def spider_closed(self, reason: str) -> None:
        if self.loop is not None and self.loop.running:
            self.loop.stop()
        if self.run_id is None:
            return
        self.flush()
        status = "finished" if reason == "finished" else "interrupted"
        with self.sessions.begin() as session:
            archive.finish_run(session, self.run_id, status, datetime.now(UTC))
        logger.info("crawl run %d %s", self.run_id, status)
