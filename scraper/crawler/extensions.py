"""The run recorder: one crawl run in the history, with per-source pages, articles and errors."""

from __future__ import annotations

import logging
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from scrapy import Request, signals
from scrapy.crawler import Crawler
from scrapy.http import Response
from twisted.internet import task

from scraper.core.identity import process_gone, process_identity
from scraper.crawler import signals as dramawatch_signals
from scraper.crawler.items import PageItem
from scraper.crawler.resources import resources
from scraper.storage import articles
from scraper.storage import runs as run_history
from scraper.storage.engine import Session, Sessions

logger = logging.getLogger(__name__)

STATS_RUN_ID = "dramawatch/run_id"
# A crawl's process (its worker, host:pid) renews the run's heartbeat at every flush; a
# 'running' run whose heartbeat is older than this, or whose process is gone from this host,
# was killed (kill -9, power loss), and is shown as interrupted.
RUN_HEARTBEAT_TTL = timedelta(minutes=2)


def close_dead_runs(
    session: Session, now: datetime, ttl: timedelta = RUN_HEARTBEAT_TTL
) -> list[int]:
    """Mark as interrupted the runs whose crawl process died; give their ids. Live runs, here
    or on other hosts, are left alone, and so are runs without a heartbeat."""
    closed: list[int] = []
    for run in run_history.running_runs(session):
        last_seen = run.heartbeat_at
        if last_seen is None:
            continue
        if last_seen < now - ttl or (run.worker is not None and process_gone(run.worker)):
            run.status = "interrupted"
            run.finished_at = last_seen
            closed.append(run.id)
    return closed


class RunRecorder:
    """Writes the run row at start, counters every few seconds (so a killed crawl leaves an
    honest record), each error as it happens, and the outcome at the end."""

    def __init__(self, crawler: Crawler, sessions: Sessions, flush_s: float) -> None:
        self.crawler = crawler
        self.sessions = sessions
        self.flush_s = flush_s
        self.run_id: int | None = None
        self.pages: Counter[str] = Counter()
        self.articles: list[tuple[str, articles.StoreStatus]] = []
        self.loop: task.LoopingCall | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RunRecorder:
        flush_s = crawler.settings.getfloat("DRAMAWATCH_RUN_FLUSH_S")
        recorder = cls(crawler, resources(crawler).sessions, flush_s)
        crawler.signals.connect(recorder.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(recorder.spider_closed, signal=signals.spider_closed)
        crawler.signals.connect(recorder.response_received, signal=signals.response_received)
        crawler.signals.connect(recorder.item_scraped, signal=signals.item_scraped)
        crawler.signals.connect(recorder.page_failed, signal=dramawatch_signals.page_failed)
        return recorder

    def spider_opened(self) -> None:
        now = datetime.now(UTC)
        with self.sessions.begin() as session:
            for run_id in close_dead_runs(session, now):
                logger.warning("crawl run %d was killed before it finished: interrupted", run_id)
            self.run_id = run_history.start_run(session, now)
            run_history.claim_run(session, self.run_id, process_identity(), now)
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
            run_history.record_error(session, self.run_id, source, url, reason, datetime.now(UTC))

    def flush(self) -> None:
        if self.run_id is None:
            return
        pages, articles = dict(self.pages), self.articles
        self.pages, self.articles = Counter(), []
        with self.sessions.begin() as session:
            run_history.beat(session, self.run_id, datetime.now(UTC))
            run_history.count_pages(session, self.run_id, pages)
            for source, status in articles:
                run_history.count_article(session, self.run_id, source, status)

    def spider_closed(self, reason: str) -> None:
        if self.loop is not None and self.loop.running:
            self.loop.stop()
        if self.run_id is None:
            return
        self.flush()
        status = "finished" if reason == "finished" else "interrupted"
        with self.sessions.begin() as session:
            run_history.finish_run(session, self.run_id, status, datetime.now(UTC))
        logger.info("crawl run %d %s", self.run_id, status)
