"""Scrapy components that make the crawl follow *new* news rather than the size of the web."""

from __future__ import annotations

import hashlib
import logging
from datetime import UTC, datetime
from typing import Any

from scrapy import Request
from scrapy import signals as scrapy_signals
from scrapy.crawler import Crawler
from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware as ScrapyRobotsTxtMiddleware
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response
from scrapy.utils.defer import maybe_deferred_to_future
from scrapy.utils.httpobj import urlparse_cached
from twisted.internet.defer import Deferred

from scraper.core.urls import url_key
from scraper.crawler import scrapy_internals
from scraper.crawler import signals as dramawatch_signals
from scraper.crawler.resources import resources
from scraper.storage import fetch_cache
from scraper.storage.engine import Sessions

logger = logging.getLogger(__name__)


class CanonicalFingerprinter:
    """Request fingerprints on the canonical URL key: an article linked with tracking
    parameters, as AMP or from a mobile host is requested once per run."""

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> CanonicalFingerprinter:
        return cls()

    def fingerprint(self, request: Request) -> bytes:
        identity = url_key(request.url)
        chain = request.meta.get("redirect_urls")
        if chain and request.url not in chain and identity in {url_key(url) for url in chain}:
            # a redirect to another form of the same URL (http -> https, a trailing slash
            # added, tracking parameters dropped) is followed, not dropped as already seen;
            # one back to a URL of its chain is a loop, dropped as seen (and reported)
            identity = request.url
        data = f"{request.method} {identity}".encode()
        return hashlib.sha1(data + request.body).digest()


class RobotsTxtMiddleware(ScrapyRobotsTxtMiddleware):
    """Scrapy's robots.txt middleware with every waiter given the parser.

    In Scrapy 2.19 the requests that arrive while a host's robots.txt is being fetched all
    await one Deferred through ``maybe_deferred_to_future``; Twisted's ``asFuture`` hands the
    next callback None, so from the third such request on robots.txt was ignored (a feed
    linking several articles of a host not yet visited had its disallowed ones fetched).
    Here each waiter gets a Deferred of its own.
    """

    async def robot_parser(self, request: Request) -> Any:
        pending = scrapy_internals.robot_parsers(self).get(urlparse_cached(request).netloc)
        if isinstance(pending, Deferred):
            waiter: Deferred[Any] = Deferred()

            def share(parser: Any) -> Any:
                waiter.callback(parser)
                return parser

            pending.addCallback(share)
            return await maybe_deferred_to_future(waiter)
        return await super().robot_parser(request)


class SkipArchivedMiddleware:
    """Drops requests for articles already in the archive, unless the feed says they changed.

    Re-crawling an unchanged site then costs its feeds and sitemaps, not its articles; and a
    crawl killed halfway resumes where it stopped.
    """

    def __init__(self, sessions: Sessions) -> None:
        self.sessions = sessions

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> SkipArchivedMiddleware:
        return cls(resources(crawler).sessions)

    def process_request(self, request: Request) -> None:
        if not request.meta.get("article"):
            return None
        changed_at: datetime | None = request.meta.get("published_at")
        with self.sessions() as session:
            updated_at = fetch_cache.archived_updated_at(session, url_key(request.url))
        if updated_at is None or (changed_at is not None and changed_at > updated_at):
            return None
        raise IgnoreRequest(f"already archived: {request.url}")


class ConditionalGetMiddleware:
    """Revalidates feeds, sitemaps and listing pages with If-None-Match / If-Modified-Since.

    A 304 means nothing new was published there, so the page is not parsed again. Validators
    are committed only when a run finishes, and not for a page whose discovered articles
    failed: a crawl killed halfway, or an article that timed out, is read again next time.
    """

    def __init__(self, sessions: Sessions) -> None:
        self.sessions = sessions
        self.pending: dict[str, tuple[str | None, str | None]] = {}
        self.spoiled: set[str] = set()

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ConditionalGetMiddleware:
        middleware = cls(resources(crawler).sessions)
        crawler.signals.connect(middleware.spider_closed, signal=scrapy_signals.spider_closed)
        crawler.signals.connect(middleware.page_failed, signal=dramawatch_signals.page_failed)
        return middleware

    def process_request(self, request: Request) -> None:
        if request.meta.get("article"):
            return None
        with self.sessions() as session:
            cached = fetch_cache.validators(session, request.url)
        if cached is not None:
            if cached.etag:
                request.headers.setdefault(b"If-None-Match", cached.etag.encode("latin-1"))
            if cached.last_modified:
                request.headers.setdefault(
                    b"If-Modified-Since", cached.last_modified.encode("latin-1")
                )
        return None

    def process_response(self, request: Request, response: Response) -> Response:
        if request.meta.get("article"):
            return response
        if response.status == 304:
            raise IgnoreRequest(f"not modified since the last crawl: {request.url}")
        etag = response.headers.get(b"ETag")
        modified = response.headers.get(b"Last-Modified")
        if response.status == 200 and (etag or modified):
            self.pending[request.url] = (
                etag.decode("latin-1") if etag else None,
                modified.decode("latin-1") if modified else None,
            )
        return response

    def page_failed(self, source: str, url: str, reason: str, via: str | None = None) -> None:
        self.spoiled.add(via or url)

    def spider_closed(self, reason: str) -> None:
        if reason != "finished":
            return
        now = datetime.now(UTC)
        with self.sessions.begin() as session:
            for url, (etag, modified) in self.pending.items():
                if url in self.spoiled:
                    continue
                fetch_cache.store_validators(session, url, etag, modified, now)
