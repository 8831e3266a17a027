"""Scrapy components that make the crawl follow *new* news rather than the size of the web."""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from scrapy import Request
from scrapy import signals as scrapy_signals
from scrapy.crawler import Crawler
from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware as ScrapyRobotsTxtMiddleware
from scrapy.exceptions import IgnoreRequest, NotConfigured
from scrapy.http import Response, TextResponse
from scrapy.http.request import NO_CALLBACK
from scrapy.utils.defer import maybe_deferred_to_future
from scrapy.utils.httpobj import urlparse_cached
from scrapy.utils.misc import build_from_crawler, load_object
from twisted.internet.defer import Deferred

from scraper.core.urls import url_key
from scraper.crawler import scrapy_internals
from scraper.crawler import signals as dramawatch_signals
from scraper.crawler.items import PageItem
from scraper.crawler.recall import recalled
from scraper.crawler.resources import resources
from scraper.storage import fetch_memory
from scraper.storage.engine import Sessions

logger = logging.getLogger(__name__)

# RFC 9309 section 2.4: robots.txt rules are not used for more than 24 hours
ROBOTS_MAX_AGE = timedelta(hours=24)
# runs on which a page that failed transiently (timeout, 5xx) is tried again
MAX_TRANSIENT_FAILURES = 3
# fetches remembered in memory before they are written (also every 5 s and when idle)
MEMORY_FLUSH_ROWS = 50


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


class DisallowAll:
    """The rules of a host whose robots.txt could not be read (5xx or unreachable): RFC 9309
    section 2.3.1.4 has the crawler assume complete disallow."""

    def allowed(self, url: str | bytes, user_agent: str | bytes | None) -> bool:
        return False


class RobotsTxtMiddleware(ScrapyRobotsTxtMiddleware):
    """Scrapy's robots.txt middleware, RFC 9309 on every run.

    robots.txt is revalidated with the validators of the copy kept in the archive: a 304
    keeps that copy's rules (a 304 used to read as an empty file, allowing everything). 2xx:
    its rules apply; 4xx: allow all; 5xx or unreachable: the whole host is disallowed for the
    run, reported once. Rules read in this process are used for at most 24 h.

    In Scrapy 2.19 the requests that arrive while a host's robots.txt is being fetched all
    await one Deferred through ``maybe_deferred_to_future``; Twisted's ``asFuture`` hands the
    next callback None, so from the third such request on robots.txt was ignored (a feed
    linking several articles of a host not yet visited had its disallowed ones fetched).
    Here each waiter gets a Deferred of its own.
    """

    def __init__(self, crawler: Crawler, sessions: Sessions) -> None:
        super().__init__(crawler)
        self.sessions = sessions
        self.parser_class = load_object(crawler.settings.get("ROBOTSTXT_PARSER"))
        self._read_at: dict[str, datetime] = {}

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RobotsTxtMiddleware:
        if not crawler.settings.getbool("ROBOTSTXT_OBEY"):
            raise NotConfigured
        return cls(crawler, resources(crawler).sessions)

    async def robot_parser(self, request: Request) -> Any:
        netloc = urlparse_cached(request).netloc
        parsers = scrapy_internals.robot_parsers(self)
        pending = parsers.get(netloc)
        if isinstance(pending, Deferred):
            waiter: Deferred[Any] = Deferred()

            def share(parser: Any) -> Any:
                waiter.callback(parser)
                return parser

            pending.addCallback(share)
            return await maybe_deferred_to_future(waiter)
        read_at = self._read_at.get(netloc)
        if netloc in parsers and read_at and datetime.now(UTC) - read_at < ROBOTS_MAX_AGE:
            return pending
        placeholder: Deferred[Any] = Deferred()
        parsers[netloc] = placeholder
        try:
            parser = await self._read_rules(request)
        except Exception as exc:  # the archive failed us: the waiters must still be answered
            logger.exception("robots.txt of %s could not be kept or read", netloc)
            parser = self._unreadable(request, f"{netloc}/robots.txt", type(exc).__name__)
        parsers[netloc] = parser
        self._read_at[netloc] = datetime.now(UTC)
        self.crawler.stats.inc_value("robotstxt/request_count")
        placeholder.callback(parser)
        return parser

    async def _read_rules(self, request: Request) -> Any:
        """Give the parser of the request's host: its rules, None (allow all) or DisallowAll."""
        parsed = urlparse_cached(request)
        origin = f"{parsed.scheme}://{parsed.netloc}"
        with self.sessions() as session:
            kept = fetch_memory.recall_robots(session, origin)
        headers: dict[str, str] = {}
        if kept is not None and kept.status < 300:
            if kept.etag:
                headers["If-None-Match"] = kept.etag
            if kept.last_modified:
                headers["If-Modified-Since"] = kept.last_modified
        robots_request = Request(
            f"{origin}/robots.txt",
            headers=headers,
            priority=self.DOWNLOAD_PRIORITY,
            meta={"dont_obey_robotstxt": True, "dont_revalidate": True},
            callback=NO_CALLBACK,
        )
        try:
            response = await self.crawler.engine.download_async(robots_request)
        except Exception as exc:
            detail = exc.args[0] if isinstance(exc, IgnoreRequest) and exc.args else exc
            return self._unreadable(request, robots_request.url, f"{type(exc).__name__}: {detail}")
        self.crawler.stats.inc_value("robotstxt/response_count")
        self.crawler.stats.inc_value(f"robotstxt/response_status_count/{response.status}")
        status = response.status
        if status == 304 and kept is not None and kept.status < 300:
            body = kept.body
            status = kept.status
        elif 200 <= status < 300 or 400 <= status < 500:
            body = response.body if status < 300 else b""
        else:
            return self._unreadable(request, robots_request.url, f"HTTP {status}")
        etag = response.headers.get(b"ETag")
        modified = response.headers.get(b"Last-Modified")
        with self.sessions.begin() as session:
            fetch_memory.remember_robots(
                session,
                origin,
                fetch_memory.Robots(
                    status,
                    body,
                    etag.decode("latin-1") if etag else (kept.etag if kept else None),
                    modified.decode("latin-1")
                    if modified
                    else (kept.last_modified if kept else None),
                    datetime.now(UTC),
                ),
            )
        if status >= 400:
            return None
        parser = build_from_crawler(self.parser_class, self.crawler, body)
        await self.crawler.signals.send_catch_log_async(
            signal=scrapy_signals.robots_parsed, robotparser=parser, request=request
        )
        return parser

    def _unreadable(self, request: Request, robots_url: str, reason: str) -> DisallowAll:
        self.crawler.stats.inc_value("robotstxt/unreadable")
        self.crawler.signals.send_catch_log(
            signal=dramawatch_signals.page_failed,
            source=request.meta.get("source", ""),
            url=robots_url,
            reason=f"robots.txt unreadable ({reason}): host skipped for this run",
        )
        return DisallowAll()


class FetchMemoryMiddleware:
    """Requests an article page once, then again only when its feed or sitemap says so.

    Every article page fetched is remembered in the archive with its verdict (stored,
    off-topic, too old, not an article, failed) and validators, so a re-crawl of an unchanged
    site costs its discovery pages, not its articles, across restarts and workers. A page is
    requested again, conditionally, when its entry's modification (else publication) date is
    later than the one it was fetched under; after a transient failure (what Scrapy retries:
    timeouts, 5xx) it is retried on the next runs, at most ``MAX_TRANSIENT_FAILURES`` times.
    """

    def __init__(
        self,
        sessions: Sessions,
        transient_errors: tuple[type[Exception], ...],
        transient_codes: frozenset[int],
    ) -> None:
        self.sessions = sessions
        self.transient_errors = transient_errors
        self.transient_codes = transient_codes
        self.pending: dict[str, fetch_memory.Fetched] = {}
        self.flushed_at = time.monotonic()

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> FetchMemoryMiddleware:
        # a transient failure is what Scrapy's retry middleware retries
        errors = tuple(load_object(x) for x in crawler.settings.getlist("RETRY_EXCEPTIONS"))
        codes = frozenset(int(x) for x in crawler.settings.getlist("RETRY_HTTP_CODES"))
        middleware = cls(resources(crawler).sessions, errors, codes)
        crawler.signals.connect(middleware.item_scraped, signal=scrapy_signals.item_scraped)
        crawler.signals.connect(middleware.item_dropped, signal=scrapy_signals.item_dropped)
        crawler.signals.connect(middleware.spider_idle, signal=scrapy_signals.spider_idle)
        crawler.signals.connect(middleware.spider_closed, signal=scrapy_signals.spider_closed)
        return middleware

    def process_request(self, request: Request) -> None:
        if not remembered_page(request):
            return None
        known, found = recalled(request)
        if known:
            remembered = fetch_memory.Fetched(**found) if found is not None else None
        else:
            with self.sessions() as session:
                remembered = fetch_memory.recall(session, url_key(request.url))
        if remembered is None:
            return None
        # as plain values: a redirected request may be queued in Redis (cluster.RequestCodec)
        request.meta["remembered"] = dataclasses.asdict(remembered)
        if remembered.verdict == "failed transient":
            if remembered.failures < MAX_TRANSIENT_FAILURES:
                return None
        if changed_since(remembered, request):
            if remembered.etag:
                request.headers.setdefault(b"If-None-Match", remembered.etag.encode("latin-1"))
            if remembered.last_modified:
                request.headers.setdefault(
                    b"If-Modified-Since", remembered.last_modified.encode("latin-1")
                )
            return None
        raise IgnoreRequest(f"already fetched ({remembered.verdict}): {request.url}")

    def process_response(self, request: Request, response: Response) -> Response:
        if not remembered_page(request):
            return response
        remembered = remembered_of(request)
        if response.status == 304 and remembered is not None:
            self._remember(request, response, remembered.verdict)
            raise IgnoreRequest(f"not modified since the last crawl: {request.url}")
        if response.status == 200 and not isinstance(response, TextResponse):
            self._remember(request, response, "not an article")  # a PDF, an image...
        elif response.status in self.transient_codes:
            self._remember(request, response, "failed transient")
        elif response.status >= 300 and response.status not in (301, 302, 303, 307, 308):
            self._remember(request, response, "failed permanent")
        return response

    def process_exception(self, request: Request, exception: Exception) -> None:
        if not remembered_page(request) or isinstance(exception, IgnoreRequest):
            return None
        transient = isinstance(exception, self.transient_errors)
        self._remember(request, None, "failed transient" if transient else "failed permanent")
        return None

    def item_scraped(self, item: Any, response: Response) -> None:
        if isinstance(item, PageItem):
            self._remember(response.request, response, "stored")

    def item_dropped(self, item: Any, response: Response, exception: BaseException) -> None:
        if isinstance(item, PageItem):
            self._remember(response.request, response, item.verdict or "not an article")

    def _remember(
        self, request: Request | None, response: Response | None, verdict: fetch_memory.Verdict
    ) -> None:
        if request is None or not remembered_page(request):
            return
        remembered = remembered_of(request)
        failures = 0
        if verdict == "failed transient":
            failures = 1 + (remembered.failures if remembered else 0)
        etag = last_modified = None
        if response is not None and response.status in (200, 304):
            found = response.headers.get(b"ETag")
            etag = found.decode("latin-1") if found else None
            found = response.headers.get(b"Last-Modified")
            last_modified = found.decode("latin-1") if found else None
            if response.status == 304 and remembered is not None:
                etag = etag or remembered.etag
                last_modified = last_modified or remembered.last_modified
        now = datetime.now(UTC)
        urls = [*request.meta.get("redirect_urls", []), request.url]
        if response is not None:
            urls.append(response.url)
        modified_at: datetime | None = request.meta.get("modified_at") or (
            remembered.entry_modified_at if remembered else None
        )
        for url in dict.fromkeys(urls):
            key = url_key(url)
            self.pending[key] = fetch_memory.Fetched(
                key, url, verdict, etag, last_modified, modified_at, failures, now
            )
        if len(self.pending) >= MEMORY_FLUSH_ROWS or time.monotonic() - self.flushed_at > 5:
            self.flush()

    def flush(self) -> None:
        """Write the fetches remembered since the last flush."""
        self.flushed_at = time.monotonic()
        if not self.pending:
            return
        fetches, self.pending = list(self.pending.values()), {}
        with self.sessions.begin() as session:
            fetch_memory.remember(session, fetches)

    def spider_idle(self) -> None:
        self.flush()

    def spider_closed(self, reason: str) -> None:
        self.flush()


def remembered_page(request: Request) -> bool:
    """Give whether the fetch memory keeps ``request``'s page: an article page (a step of
    resolving an aggregator's link is not one: it is retried each run until it resolves)."""
    return bool(request.meta.get("article"))


def remembered_of(request: Request) -> fetch_memory.Fetched | None:
    """Give what the memory held for the request when it was let through, if anything."""
    found: dict[str, Any] | None = request.meta.get("remembered")
    return fetch_memory.Fetched(**found) if found is not None else None


def changed_since(remembered: fetch_memory.Fetched, request: Request) -> bool:
    """Give whether the request's feed or sitemap entry says the page changed since it was
    fetched: its modification date (else its publication date) is later than both the fetch
    and the modification date recorded then. An entry dated before the fetch describes the
    copy already read, which is what keeps a page listed by two sitemaps, with dates of
    different precision, from being fetched again for the difference."""
    changed_at: datetime | None = request.meta.get("modified_at") or request.meta.get(
        "published_at"
    )
    if changed_at is None:
        return False
    recorded = remembered.entry_modified_at
    return changed_at > max(remembered.fetched_at, recorded or remembered.fetched_at)


def revalidated(request: Request) -> bool:
    """Give whether ConditionalGetMiddleware revalidates ``request``: a discovery page, not an
    article (the fetch memory's) nor a request marked ``dont_revalidate`` (robots.txt, which
    keeps its own validators; a step of resolving an aggregator's link, which a 304 would end
    silently)."""
    return not (request.meta.get("article") or request.meta.get("dont_revalidate"))


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
        if not revalidated(request):
            return None
        with self.sessions() as session:
            cached = fetch_memory.discovery_validators(session, request.url)
        if cached is not None:
            etag, modified = cached
            if etag:
                request.headers.setdefault(b"If-None-Match", etag.encode("latin-1"))
            if modified:
                request.headers.setdefault(b"If-Modified-Since", modified.encode("latin-1"))
        return None

    def process_response(self, request: Request, response: Response) -> Response:
        if not revalidated(request):
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
                fetch_memory.remember_discovery(session, url, etag, modified, now)
