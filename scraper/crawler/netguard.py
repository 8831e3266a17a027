"""The SSRF guard: links from the web never reach into the user's network.

:class:`NetGuardMiddleware` runs first among the downloader middlewares, on every request the
downloader is given: discovered links, sitemap children, robots.txt, and the new request each
redirect makes (Scrapy's redirect middleware hands it back to the engine, so it passes here
again before it is sent). A request whose host is a private address by itself, or a name that
resolves to one here (any of its IPv4 and IPv6 addresses, from ``getaddrinfo``), is refused
before any connection is opened and reported once as "refused: private address". Through an
HTTP proxy a name that does not resolve here is left to the proxy, as it is the proxy that
connects; without one, such a request fails on its own as "host not found".

:class:`GuardedResolver` (``TWISTED_DNS_RESOLVER``) checks again when connecting: a direct
connection's name that resolves to a private address is refused then, unless the guard let it
through (an exempt source's host, a configured URL's, a proxy's). So a name cannot answer a
public address to the check and a private one to the connection (DNS rebinding).

Exempt: the configured source URLs (the user's own choice), and every link of a source whose
configured URL is itself on a private address (a LAN feed, the tests' loopback site).
``[crawl] allow_private_networks = true`` turns the guard off.
"""

from __future__ import annotations

import logging
import socket
from ipaddress import ip_address
from typing import Any
from urllib.parse import urlsplit
from urllib.request import getproxies

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.exceptions import CannotResolveHostError, IgnoreRequest, NotConfigured
from scrapy.resolver import CachingThreadedResolver
from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet import threads
from twisted.internet.base import ReactorBase
from twisted.internet.defer import Deferred
from twisted.internet.error import DNSLookupError
from w3lib.url import safe_url_string

from scraper.config import Config
from scraper.core.netguard import REFUSED_REASON, is_private_host, is_public_address
from scraper.crawler import signals as dramawatch_signals
from scraper.crawler.resources import resources

logger = logging.getLogger(__name__)


class PrivateAddressRefused(IgnoreRequest):
    """A request the guard refused: its host is, or resolves to, a private address."""


class PrivateAddressResolved(DNSLookupError):
    """A connection refused when its name resolved to a private address the guard had not
    let through."""


def configured_hosts(config: Config) -> set[str]:
    """Give the hosts of every configured source URL (lower-cased)."""
    urls = (url for s in config.sources for url in (*s.feeds, *s.sitemaps, *s.pages))
    return {(urlsplit(url).hostname or "").lower() for url in urls}


class GuardedResolver(CachingThreadedResolver):
    """Scrapy's caching resolver, refusing at connection time a name that resolves to a
    private address, unless it is approved (the guard let it through, or it is a proxy's)."""

    def __init__(
        self,
        reactor: ReactorBase,
        cache_size: int,
        timeout: float,
        *,
        enabled: bool = True,
        approved: set[str] | None = None,
    ) -> None:
        super().__init__(reactor, cache_size, timeout)
        self.enabled = enabled
        self.approved = set(approved or ())
        # names refused when connecting: Twisted reports them as lookups without results
        self.refused: set[str] = set()

    @classmethod
    def from_crawler(cls, crawler: Crawler, reactor: ReactorBase) -> GuardedResolver:
        # Scrapy builds the resolver with the CrawlerProcess standing in for a crawler (it
        # reads settings only); the config is that of the crawl the process runs
        settings = crawler.settings
        crawl = next(iter(getattr(crawler, "crawlers", ())), crawler)
        config = resources(crawl).config
        proxies = {(urlsplit(url).hostname or "").lower() for url in getproxies().values()}
        return cls(
            reactor,
            settings.getint("DNSCACHE_SIZE") if settings.getbool("DNSCACHE_ENABLED") else 0,
            settings.getfloat("DNS_TIMEOUT"),
            enabled=not config.crawl.allow_private_networks,
            approved=proxies | configured_hosts(config),
        )

    def approve(self, host: str) -> None:
        """Let connections to ``host`` resolve to a private address (the guard allowed it)."""
        self.approved.add(host.lower())

    def getHostByName(self, name: str, timeout: Any = ()) -> Deferred[str]:  # noqa: N802
        answer = super().getHostByName(name, timeout)
        if self.enabled and name.lower() not in self.approved:
            answer.addCallback(self._refuse_private, name)
        return answer

    def _refuse_private(self, address: str, name: str) -> str:
        if not _public(address):
            self.refused.add(name.lower())
            logger.debug("%s: %s resolved to %s when connecting", REFUSED_REASON, name, address)
            raise PrivateAddressResolved(f"{REFUSED_REASON}: {name} resolves to {address}")
        return address


class NetGuardMiddleware:
    """Refuses requests to loopback, private, link-local and other non-public addresses,
    except those the configuration itself points at."""

    def __init__(self, crawler: Crawler, config: Config) -> None:
        self.crawler = crawler
        self.configured: dict[str, tuple[str, ...]] = {
            source.name: (*source.feeds, *source.sitemaps, *source.pages)
            for source in config.sources
        }
        # in the form a Request gives its URL, so that a configured URL is recognised as such
        self.configured_urls = {
            safe_url_string(url) for urls in self.configured.values() for url in urls
        }
        # per crawl: host -> private?, source -> exempt?, the hosts an exempt source reached
        # (its robots.txt requests carry no source), and the URLs already reported
        self.verdicts: dict[str, bool] = {}
        self.exempt: dict[str, bool] = {}
        self.exempt_hosts: set[str] = set()
        self.reported: set[str] = set()

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> NetGuardMiddleware:
        config = resources(crawler).config
        if config.crawl.allow_private_networks:
            raise NotConfigured("crawl.allow_private_networks is true")
        return cls(crawler, config)

    async def process_request(self, request: Request) -> None:
        host = (urlsplit(request.url).hostname or "").lower()
        if not request.meta.get("redirect_urls") and request.url in self.configured_urls:
            self.exempt_hosts.add(host)  # its robots.txt too
            return None
        if not await self.private(host):
            return None
        source = request.meta.get("source")
        if (source and await self.source_exempt(source)) or (
            not source and host in self.exempt_hosts
        ):
            self.exempt_hosts.add(host)
            _approve(host)
            return None
        self.refuse(request)
        raise PrivateAddressRefused(f"{REFUSED_REASON}: {request.url}")

    def process_exception(self, request: Request, exception: Exception) -> None:
        """Report a request whose name the resolver refused when connecting (after any
        retries) as refused, not as "host not found"."""
        host = (urlsplit(request.url).hostname or "").lower()
        resolver = _resolver()
        if (
            isinstance(exception, (CannotResolveHostError, DNSLookupError))
            and resolver is not None
            and host in resolver.refused
        ):
            self.refuse(request)
            raise PrivateAddressRefused(f"{REFUSED_REASON}: {request.url}") from exception
        return None

    async def private(self, host: str) -> bool:
        """Give whether ``host`` is, or resolves here to, a private address (cached per crawl)."""
        if host not in self.verdicts:
            literal = is_private_host(host)
            self.verdicts[host] = (
                literal if literal is not None else not all(map(_public, await resolve(host)))
            )
        return self.verdicts[host]

    async def source_exempt(self, source: str) -> bool:
        """Give whether a configured URL of ``source`` is on a private address."""
        if source not in self.exempt:
            urls = self.configured.get(source, ())
            hosts = {(urlsplit(url).hostname or "").lower() for url in urls}
            self.exempt[source] = any([await self.private(host) for host in hosts])
        return self.exempt[source]

    def refuse(self, request: Request) -> None:
        """Report a refused request once per URL, in the log and in the run's errors."""
        if request.url in self.reported:
            return
        self.reported.add(request.url)
        chain = request.meta.get("redirect_urls") or []
        via = f" (redirected from {chain[0]})" if chain else ""
        logger.warning("%s: %s%s", REFUSED_REASON, request.url, via)
        source = request.meta.get("source")
        if source:
            # no via=: a refusal is final, the feed that led here need not be read again
            self.crawler.signals.send_catch_log(
                signal=dramawatch_signals.page_failed,
                source=source,
                url=request.url,
                reason=REFUSED_REASON,
            )


def _public(address: str) -> bool:
    try:
        return is_public_address(ip_address(address.split("%", 1)[0]))
    except ValueError:
        return False


async def resolve(host: str) -> list[str]:
    """Give every address ``host`` resolves to here (IPv4 and IPv6); [] when it does not
    resolve (left to the proxy, or failing as "host not found")."""
    try:
        infos = await maybe_deferred_to_future(
            threads.deferToThread(socket.getaddrinfo, host, None, type=socket.SOCK_STREAM)
        )
    except (OSError, UnicodeError) as exc:
        logger.debug("%s does not resolve here: %s", host, exc)
        return []
    return [str(info[4][0]) for info in infos]


def _resolver() -> GuardedResolver | None:
    """Give the crawl's resolver if it is ours (TWISTED_DNS_RESOLVER may name another)."""
    from twisted.internet import reactor  # the crawl's, installed by then (not at import)

    resolver = getattr(reactor, "resolver", None)
    return resolver if isinstance(resolver, GuardedResolver) else None


def _approve(host: str) -> None:
    """Tell the crawl's resolver, if it is ours, that ``host`` may resolve privately."""
    resolver = _resolver()
    if resolver is not None:
        resolver.approve(host)
