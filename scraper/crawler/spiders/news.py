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
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.internet.error import (
    ConnectionRefusedError,
    DNSLookupError,
    TCPTimedOutError,
    TimeoutError,
)
from twisted.python.failure import Failure

from scraper.config import Config, Source
from scraper.core import aggregators
from scraper.core.aggregators import AggregatorLink
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
from scraper.crawler.resources import resources
from scraper.storage import aggregator_links
from scraper.storage.engine import Sessions

# how deep a sitemap index may nest before we stop following it
MAX_SITEMAP_DEPTH = 3
UNRESOLVED = "unresolved aggregator link"
ROBOTS_DENIED = "disallowed by robots.txt"


class NewsSpider(Spider):
    name = "news"

    def __init__(self, config: Config, now: datetime, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.config = config
        self.now = now
        self.sources = {s.name: s for s in config.sources}
        self.follow = {s.name: re.compile(s.follow) for s in config.sources if s.follow}
        # an article a search or aggregator leads to is its outlet's when the outlet is configured
        self.outlets = [
            (s.name, (*s.feeds, *s.sitemaps, *s.pages))
            for s in config.sources
            if s.search is None and (s.feeds or s.sitemaps or s.pages)
        ]
        self.budget: Counter[str] = Counter()
        self.links: Sessions | None = None  # the resolved-link cache
        self.search_origins: dict[str, str] = {}
        # what is reported once per run: unresolved links, sources whose search robots.txt denies
        self.reported: set[tuple[str, str]] = set()

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> NewsSpider:
        shared = resources(crawler)
        spider = super().from_crawler(crawler, shared.config, datetime.now(UTC), *args, **kwargs)
        spider.search_origins = {
            **aggregators.SEARCH_ORIGINS,
            **crawler.settings.getdict("DRAMAWATCH_SEARCH_ORIGINS"),
        }
        if shared.config.crawl.resolve_google_news:
            spider.links = shared.sessions
        crawler.signals.connect(spider.request_dropped, signal=scrapy_signals.request_dropped)
        return spider

    async def start(self) -> AsyncIterator[Request]:
        for source in self.config.crawled_sources:
            for url in source.feeds:
                yield self._entry(url, source, self.parse_feed)
            for url in source.sitemaps:
                yield self._entry(url, source, self.parse_sitemap, depth_sitemap=0)
            for url in source.pages:
                yield self._entry(url, source, self.parse_listing)
            for url in self._search_feeds(source):
                yield self._entry(url, source, self.parse_feed, search=True)

    def _search_feeds(self, source: Source) -> list[str]:
        """One news-search feed per watch name and alias and per locale of the source."""
        if source.search is None:
            return []
        names = [name for entry in self.config.watch for name in (entry.name, *entry.aliases)]
        origin = self.search_origins.get(source.search)
        return list(
            aggregators.search_feed_urls(source.search, names, source.search_locales, origin)
        )

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
            hint_publisher=response.meta.get("publisher"),
        )

    # ------------------------------------------------------------ aggregator links

    def _through_aggregator(
        self, source: Source, candidate: Candidate, link: AggregatorLink, via: str
    ) -> Request | None:
        """Give the request that leads to the publisher's article behind a Google News link:
        the article itself when its resolution is cached, else the first resolution step."""
        if link.article_id is None or self.links is None:
            self._unresolved(source.name, link.url, via)
            return None
        with self.links() as session:
            cached = aggregator_links.publisher_url(session, link.article_id)
        if cached is not None:
            return self._article(source, candidate, cached, via)
        return self._request(
            aggregators.google_article_page(link, via),
            source,
            self.parse_google_page,
            errback=self.on_resolution_error,
            **self._resolution_meta(candidate, link, via),
        )

    def _resolution_meta(
        self, candidate: Candidate, link: AggregatorLink, via: str
    ) -> dict[str, Any]:
        return {
            # not revalidated as a feed is: a 304 would end the resolution silently
            "dont_revalidate": True,
            "via": via,
            "aggregator_link": link.url,
            "article_id": link.article_id,
            "candidate": (candidate.published_at, candidate.title, candidate.publisher),
            # one slot for every resolution request, rate-limited in settings (DOWNLOAD_SLOTS)
            "download_slot": dramawatch_settings.DRAMAWATCH_GOOGLE_NEWS_SLOT,
        }

    def parse_google_page(self, response: Response) -> Iterator[Request]:
        """Read the article page's decoding signature and ask for the publisher URL."""
        meta = response.meta
        found = (
            aggregators.parse_google_signature(response.text)
            if isinstance(response, TextResponse)
            else None
        )
        if found is None:
            self._unresolved(meta["source"], meta["aggregator_link"], meta["via"], "no signature")
            return
        signature, timestamp = found
        keep = (
            "dont_revalidate",
            "via",
            "aggregator_link",
            "article_id",
            "candidate",
            "download_slot",
        )
        yield Request(
            aggregators.google_batchexecute_url(response.url),
            method="POST",
            body=aggregators.google_batchexecute_body(meta["article_id"], signature, timestamp),
            headers={"Content-Type": "application/x-www-form-urlencoded;charset=UTF-8"},
            callback=self.parse_google_batchexecute,
            errback=self.on_resolution_error,
            meta={"source": meta["source"], **{key: meta[key] for key in keep}},
        )

    def parse_google_batchexecute(self, response: Response) -> Iterator[Request]:
        """Remember the publisher URL Google gave and request the article there."""
        meta = response.meta
        url = (
            aggregators.parse_google_batchexecute(response.text)
            if isinstance(response, TextResponse)
            else None
        )
        if url is None:
            self._unresolved(meta["source"], meta["aggregator_link"], meta["via"], "no URL")
            return
        if self.links is not None:
            with self.links.begin() as session:
                aggregator_links.remember(session, meta["article_id"], url, datetime.now(UTC))
        published_at, title, publisher = meta["candidate"]
        candidate = Candidate(url, published_at, title, publisher)
        request = self._article(self._source(response), candidate, url, meta["via"])
        if request is not None:
            yield request

    def on_resolution_error(self, failure: Failure) -> None:
        request = failure.request  # type: ignore[attr-defined]
        meta = request.meta
        reason = describe_failure(failure, self.crawler.settings.getint("DOWNLOAD_MAXSIZE"))
        if isinstance(failure.value, IgnoreRequest) and not isinstance(failure.value, HttpError):
            reason = failure.getErrorMessage().splitlines()[0] if failure.getErrorMessage() else ""
        self._unresolved(meta["source"], meta["aggregator_link"], meta.get("via"), reason)

    def _unresolved(self, source: str, url: str, via: str | None, detail: str = "") -> None:
        """Report a link whose publisher URL is unknown, once per run; nothing is remembered,
        so the next run tries it again."""
        if (source, url) in self.reported:
            return
        self.reported.add((source, url))
        self._fail(source, url, f"{UNRESOLVED} ({detail})" if detail else UNRESOLVED, via)

    # ------------------------------------------------------------ helpers

    def _articles(
        self, source: Source, candidates: Iterable[Candidate], via: str
    ) -> Iterator[Request]:
        for candidate in candidates:
            if self._too_old(candidate.published_at):
                continue
            target = aggregators.unwrap(candidate.url)
            if isinstance(target, AggregatorLink):
                request = self._through_aggregator(source, candidate, target, via)
            else:
                request = self._article(source, candidate, target, via, target != candidate.url)
            if request is not None:
                yield request

    def _article(
        self, source: Source, candidate: Candidate, url: str, via: str, unwrapped: bool = True
    ) -> Request | None:
        """Give the request for an article at ``url``, with its feed entry's hints. What a
        search or an aggregator found on a configured outlet's site is that outlet's: an
        article in both its feed and a search is then one request of one source."""
        if unwrapped or source.search is not None:
            outlet = aggregators.outlet_for(url, self.outlets)
            source = self.sources[outlet] if outlet is not None else source
        return self._request(
            url,
            source,
            self.parse_article,
            article=True,
            via=via,
            published_at=candidate.published_at,
            modified_at=candidate.modified_at,
            title=aggregators.strip_publisher_suffix(candidate.title, candidate.publisher),
            publisher=candidate.publisher,
        )

    def _too_old(self, published_at: datetime | None) -> bool:
        days = self.config.crawl.max_age_days
        return bool(days and published_at and published_at < self.now - timedelta(days=days))

    def _request(
        self, url: str, source: Source, callback: Any, errback: Any = None, **meta: Any
    ) -> Request | None:
        """Give a request counted against the source's page budget, or None past it.

        Articles and discovery pages (listing pagination, sitemap children) have a budget
        each, so an endless pagination trap never starves the articles of its source.
        """
        # a step of resolving an aggregator's link leads to an article: in the article budget
        kind = "article" if meta.get("article") or "aggregator_link" in meta else "listing"
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
        return self._entry(url, source, callback, errback, **meta)

    def _entry(
        self, url: str, source: Source, callback: Any, errback: Any = None, **meta: Any
    ) -> Request:
        """Give a request outside the page budget (the configured feeds, sitemaps, pages)."""
        return Request(
            url,
            callback=callback,
            errback=errback or self.on_error,
            meta={"source": source.name, **meta},
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
            if request.meta.get("search") and "robots.txt" in failure.getErrorMessage():
                # a search feed the aggregator forbids: the source would be empty, so say why
                if (request.meta["source"], ROBOTS_DENIED) not in self.reported:
                    self.reported.add((request.meta["source"], ROBOTS_DENIED))
                    self._fail(request.meta["source"], request.url, ROBOTS_DENIED)
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
