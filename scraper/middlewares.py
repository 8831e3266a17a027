"""Scrapy components that make the crawl follow *new* news rather than the size of the web."""

from __future__ import annotations

import hashlib
import logging
from datetime import datetime

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from scraper.config import load_config
from scraper.db import make_engine, session_factory, upgrade
from scraper.models import Article, ArticleUrl
from scraper.urls import url_key

logger = logging.getLogger(__name__)


class CanonicalFingerprinter:
    """Request fingerprints on the canonical URL key: an article linked with tracking
    parameters, as AMP or from a mobile host is requested once per run."""

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> CanonicalFingerprinter:
        return cls()

    def fingerprint(self, request: Request) -> bytes:
        data = f"{request.method} {url_key(request.url)}".encode()
        return hashlib.sha1(data + request.body).digest()


def database_url(crawler: Crawler) -> str:
    """Give the archive's URL: the DRAMAWATCH_DATABASE_URL setting, else the config's."""
    url: str | None = crawler.settings.get("DRAMAWATCH_DATABASE_URL")
    return url or load_config(crawler.settings.get("DRAMAWATCH_CONFIG")).database_url


def archive_sessions(crawler: Crawler) -> sessionmaker[Session]:
    """Give a session factory on the archive, upgraded to the current schema."""
    engine = make_engine(database_url(crawler))
    upgrade(engine)
    return session_factory(engine)


class SkipArchivedMiddleware:
    """Drops requests for articles already in the archive, unless the feed says they changed.

    Re-crawling an unchanged site then costs its feeds and sitemaps, not its articles; and a
    crawl killed halfway resumes where it stopped.
    """

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> SkipArchivedMiddleware:
        return cls(archive_sessions(crawler))

    def process_request(self, request: Request) -> None:
        if not request.meta.get("article"):
            return None
        changed_at: datetime | None = request.meta.get("published_at")
        with self.sessions() as session:
            updated_at = session.scalar(
                select(Article.updated_at)
                .join(ArticleUrl, ArticleUrl.article_id == Article.id)
                .where(ArticleUrl.url_key == url_key(request.url))
            )
        if updated_at is None or (changed_at is not None and changed_at > updated_at):
            return None
        raise IgnoreRequest(f"already archived: {request.url}")
