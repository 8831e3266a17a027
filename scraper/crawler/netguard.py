"""The SSRF guard: links from the web never reach into the user's network.

:class:`NetGuardMiddleware` runs first among the downloader middlewares, on every request the
downloader is given: discovered links, sitemap children, robots.txt, and the new request each
redirect makes (Scrapy's redirect middleware hands it back to the engine, so it passes here
again before it is sent). A request whose host is a private address by itself, or a name that
resolves to one here, is refused before any connection is opened and reported once as
"refused: private address".

Names are resolved with the resolver the crawl connects with (Scrapy's caching resolver,
``TWISTED_DNS_RESOLVER``): the address checked is the cached one the download then connects
to, so a name cannot answer a public address to the check and a private one to the connection.
All of a name's addresses (IPv4 and IPv6, from ``getaddrinfo``) are checked too. Through an
HTTP proxy a name that does not resolve here is left to the proxy, as it is the proxy that
connects; without one, such a request fails on its own as "host not found".

Exempt: the configured source URLs (the user's own choice), and every link of a source whose
configured URL is itself on a private address (a LAN feed, the tests' loopback site).
``[crawl] allow_private_networks = true`` turns the guard off (``NotConfigured``).
"""

from __future__ import annotations

import logging
import socket
from ipaddress import ip_address
from typing import Any, cast
from urllib.parse import urlsplit

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest, NotConfigured
from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet import defer, error, threads
from w3lib.url import safe_url_string

from scraper.config import Config, load_config
from scraper.core.netguard import REFUSED_REASON, is_private_host, is_public_address
from scraper.crawler import signals as dramawatch_signals

logger = logging.getLogger(__name__)


class PrivateAddressRefused(IgnoreRequest):
    """A request the guard refused: its host is, or resolves to, a private address."""


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
        config = load_config(crawler.settings.get("DRAMAWATCH_CONFIG"))
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
            return None
        self.refuse(request)
        raise PrivateAddressRefused(f"{REFUSED_REASON}: {request.url}")

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
    """Give the addresses ``host`` resolves to here: the crawl resolver's answer (the one the
    download connects to) and every address ``getaddrinfo`` knows; [] when it does not
    resolve (left to the proxy, or failing as "host not found")."""
    from twisted.internet import reactor  # the crawl's, installed by then (not at import)

    # reactor.resolve() asks the installed resolver: Scrapy's, with the cache connections use;
    # both lookups are started at once, so a new host costs one lookup's time
    crawl_answer = cast(Any, reactor).resolve(host)
    all_answers = threads.deferToThread(socket.getaddrinfo, host, None, type=socket.SOCK_STREAM)
    addresses: list[str] = []
    try:
        addresses.append(await maybe_deferred_to_future(crawl_answer))
    except (error.DNSLookupError, error.TimeoutError, defer.TimeoutError) as exc:
        logger.debug("%s does not resolve here: %s", host, exc)
    try:
        infos = await maybe_deferred_to_future(all_answers)
    except OSError:
        return addresses
    return [*addresses, *(str(info[4][0]) for info in infos)]
