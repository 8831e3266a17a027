"""The ``news`` spider: configured sources -> requests -> page items.

It discovers article URLs from feeds, sitemaps and listing pages and hands each fetched page
on as a :class:`PageItem`; extraction, matching and storage happen in the item pipelines.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import AsyncIterator, Iterable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from scrapy import Request, Spider
from scrapy import signals as scrapy_signals
from scrapy.crawler import Crawler
from scrapy.exceptions import (
    CannotResolveHostError,
    DownloadCancelledError,
    DownloadConnectionRefusedError,
    DownloadTimeoutError,
    IgnoreRequest,
)
from scrapy.http import Response, TextResponse
from scrapy.settings import BaseSettings
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.internet.error import (
    ConnectionRefusedError,
    DNSLookupError,
    TCPTimedOutError,
    TimeoutError,
)
from twisted.python.failure import Failure

from scraper.config import Config, Source, load_config
from scraper.core.discovery import (
    Candidate,
    DiscoveryError,
    parse_feed,
    parse_listing,
    parse_sitemap,
)
from scraper.crawler import settings as dramawatch_settings
from scraper.crawler import signals
from scraper.crawler.items import PageItem

# how deep a sitemap index may nest before we stop following it
MAX_SITEMAP_DEPTH = 3


def _load(settings: BaseSettings) -> Config:
    return load_config(settings.get("DRAMAWATCH_CONFIG"))


class NewsSpider(Spider):
    name = "news"

    def __init__(self, config: Config, now: datetime, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.config = config
        self.now = now
        self.sources = {s.name: s for s in config.sources}
        self.follow = {s.name: re.compile(s.follow) for s in config.sources if s.follow}
        self.budget: Counter[str] = Counter()

    @classmethod
    def update_settings(cls, settings: BaseSettings) -> None:
        super().update_settings(settings)
        settings.setdict(dramawatch_settings.from_config(_load(settings)), priority="spider")

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> NewsSpider:
        spider = cls(_load(crawler.settings), datetime.now(UTC), *args, **kwargs)
        spider._set_crawler(crawler)
        crawler.signals.connect(spider.request_dropped, signal=scrapy_signals.request_dropped)
        return spider

    async def start(self) -> AsyncIterator[Request]:
        for source in self.config.sources:
            for url in source.feeds:
                yield self._entry(url, source, self.parse_feed)
            for url in source.sitemaps:
                yield self._entry(url, source, self.parse_sitemap, depth_sitemap=0)
            for url in source.pages:
                yield self._entry(url, source, self.parse_listing)

    # ------------------------------------------------------------ discovery callbacks

    def parse_feed(self, response: Response) -> Iterator[Request]:
        source = self._source(response)
        try:
            candidates = parse_feed(response.body, response.url)
        except DiscoveryError as exc:
            self._fail(source.name, response.url, f"feed: {exc}")
            return
        yield from self._articles(source, candidates, response.url)

    def parse_sitemap(self, response: Response) -> Iterator[Request]:
        source = self._source(response)
        try:
            sitemap = parse_sitemap(response.body, response.url)
        except DiscoveryError as exc:
            self._fail(source.name, response.url, f"sitemap: {exc}")
            return
        depth = int(response.meta.get("depth_sitemap", 0))
        if depth < MAX_SITEMAP_DEPTH:
            for child in sitemap.children:
                if not self._too_old(child.published_at):
                    request = self._request(child.url, source, self.parse_sitemap, depth=depth + 1)
                    if request is not None:
                        yield request
        yield from self._articles(source, sitemap.urls, response.url)

    def parse_listing(self, response: Response) -> Iterator[Request]:
        source = self._source(response)
        if not isinstance(response, TextResponse):
            self._fail(source.name, response.url, "listing: not a text page")
            return
        try:
            listing = parse_listing(response.text, response.url, self.follow.get(source.name))
        except DiscoveryError as exc:
            self._fail(source.name, response.url, f"listing: {exc}")
            return
        for url in listing.next_pages:
            request = self._request(url, source, self.parse_listing)
            if request is not None:
                yield request
        yield from self._articles(
            source, [Candidate(url, None) for url in listing.articles], response.url
        )

    def parse_article(self, response: Response) -> Iterator[PageItem]:
        source = self._source(response)
        if not isinstance(response, TextResponse):
            content_type = (response.headers.get("Content-Type") or b"").decode("latin-1")
            self._fail(source.name, response.url, f"not a text page ({content_type or 'no type'})")
            return
        seen = [*response.meta.get("redirect_urls", []), response.url]
        yield PageItem(
            url=response.url,
            seen_urls=list(dict.fromkeys(seen)),
            source=source.name,
            html=response.text,
            hint_published_at=response.meta.get("published_at"),
            hint_title=response.meta.get("title"),
        )

    # ------------------------------------------------------------ helpers

    def _articles(
        self, source: Source, candidates: Iterable[Candidate], via: str
    ) -> Iterator[Request]:
        for candidate in candidates:
            if self._too_old(candidate.published_at):
                continue
            request = self._request(
                candidate.url,
                source,
                self.parse_article,
                article=True,
                via=via,
                published_at=candidate.published_at,
                modified_at=candidate.modified_at,
                title=candidate.title,
            )
            if request is not None:
                yield request

    def _too_old(self, published_at: datetime | None) -> bool:
        days = self.config.crawl.max_age_days
        return bool(days and published_at and published_at < self.now - timedelta(days=days))

    def _request(self, url: str, source: Source, callback: Any, **meta: Any) -> Request | None:
        """Give a request counted against the source's page budget, or None past it.

        Articles and discovery pages (listing pagination, sitemap children) have a budget
        each, so an endless pagination trap never starves the articles of its source.
        """
        kind = "article" if meta.get("article") else "listing"
        budget = source.name if kind == "article" else f"{source.name} ({kind} pages)"
        limit = self.config.crawl.max_pages_per_source
        if self.budget[budget] >= limit:
            if self.budget[budget] == limit:
                self.logger.info(
                    "%s: budget of %d %s pages reached; skipping further ones",
                    source.name,
                    limit,
                    kind,
                )
                self.budget[budget] += 1
            return None
        self.budget[budget] += 1
        if "depth" in meta:
            meta["depth_sitemap"] = meta.pop("depth")
        return self._entry(url, source, callback, **meta)

    def _entry(self, url: str, source: Source, callback: Any, **meta: Any) -> Request:
        """Give a request outside the page budget (the configured feeds, sitemaps, pages)."""
        return Request(
            url, callback=callback, errback=self.on_error, meta={"source": source.name, **meta}
        )

    def _source(self, response: Response) -> Source:
        return self.sources[response.meta["source"]]

    def on_error(self, failure: Failure) -> None:
        request = failure.request  # type: ignore[attr-defined]
        if isinstance(failure.value, IgnoreRequest) and not isinstance(failure.value, HttpError):
            max_redirects = self.crawler.settings.getint("REDIRECT_MAX_TIMES")
            if max_redirects and request.meta.get("redirect_times", 0) >= max_redirects:
                self._fail(
                    request.meta["source"],
                    request.meta["redirect_urls"][0],
                    f"too many redirects (more than {max_redirects})",
                    request.meta.get("via"),
                )
                return
            # robots.txt, an archived article, an offsite link: a decision, not a fault
            self.logger.debug("ignored %s: %s", request.url, failure.getErrorMessage())
            return
        self._fail(
            request.meta["source"],
            request.url,
            describe_failure(failure, self.crawler.settings.getint("DOWNLOAD_MAXSIZE")),
            request.meta.get("via"),
        )

    def request_dropped(self, request: Request) -> None:
        """Report a redirect back to a URL of its own chain: the scheduler drops it as already
        seen, so without this a redirect loop would vanish from the run's errors."""
        chain = request.meta.get("redirect_urls")
        if chain and "source" in request.meta and request.url in chain:
            self._fail(request.meta["source"], chain[0], "redirect loop", request.meta.get("via"))

    def _fail(self, source: str, url: str, reason: str, via: str | None = None) -> None:
        """Report a page that cost an error; ``via`` is the feed or listing that led to it."""
        self.logger.warning("%s: %s: %s", source, url, reason)
        self.crawler.signals.send_catch_log(
            signal=signals.page_failed, source=source, url=url, reason=reason, via=via
        )


def describe_failure(failure: Failure, max_size: int = 0) -> str:
    """Give a one-line reason for a failed request."""
    error = failure.value
    if isinstance(error, HttpError) and error.response is not None:
        return f"HTTP {error.response.status}"
    if isinstance(error, (DownloadTimeoutError, TimeoutError, TCPTimedOutError)):
        request = getattr(failure, "request", None)
        timeout = request.meta.get("download_timeout") if request is not None else None
        return f"timed out after {timeout:g} s" if timeout else "timed out"
    if isinstance(error, (CannotResolveHostError, DNSLookupError)):
        return "host not found"
    if isinstance(error, (DownloadConnectionRefusedError, ConnectionRefusedError)):
        return "connection refused"
    message = failure.getErrorMessage().splitlines()[0] if failure.getErrorMessage() else ""
    too_large = "max size" in message or not message  # announced, or cut while streaming
    if isinstance(error, DownloadCancelledError) and max_size and too_large:
        return f"too large: over the {max_size / 2**20:g} MB download limit"
    return f"{type(error).__name__}: {message}"[:300] if error is not None else message[:300]
