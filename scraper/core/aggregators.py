"""News aggregators: search-feed URLs to ask for, and their links unwrapped to the publisher's.

Pure: nothing here fetches. Bing News links carry the publisher URL in their ``url=``
parameter; Google News article links carry an article id, from which the publisher URL is read
offline when the id still embeds it (older ids), else learned from Google in two requests the
crawler makes (the mechanism of the googlenewsdecoder package): the article's RSS page gives a
signature and a timestamp, and a ``batchexecute`` POST with them gives the URL.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from urllib.parse import parse_qs, quote, quote_plus, urlencode, urlsplit

from scraper.core.urls import is_http_url, same_site

# Where each engine's news search lives (the crawler may point them elsewhere, e.g. at tests).
SEARCH_ORIGINS = {"bing": "https://www.bing.com", "google": "https://news.google.com"}
BING_HOSTS = frozenset({"www.bing.com", "bing.com", "cn.bing.com"})
GOOGLE_NEWS_HOST = "news.google.com"
GOOGLE_BATCHEXECUTE_PATH = "/_/DotsSplashUi/data/batchexecute"
_DEFAULT_LOCALE = {"hl": "en-US", "gl": "US", "ceid": "US:en"}

_GOOGLE_ARTICLE_PATH = re.compile(r"^/(?:rss/)?(?:articles|read)/([A-Za-z0-9_-]{8,})/?$")
_SIGNATURE = re.compile(r'data-n-a-sg="([^"]+)"')
_TIMESTAMP = re.compile(r'data-n-a-ts="(\d+)"')
# the request context googlenewsdecoder sends with each "garturlreq"
_GARTURLREQ_CONTEXT: list[object] = [
    ["X", "X", ["X", "X"], None, None, 1, 1, "US:en", None, 1, None, None, None, None, None, 0, 1],
    "X",
    "X",
    1,
    [1, 1, 1],
    1,
    1,
    None,
    0,
    0,
    None,
    0,
]


@dataclass(frozen=True)
class AggregatorLink:
    """A link through an aggregator whose publisher URL is not in the link itself.

    ``article_id`` is the Google News article id that a resolution request can turn into the
    publisher URL; None when nothing can (a Bing link without its ``url=`` parameter).
    """

    url: str
    article_id: str | None = None


def search_queries(names: Iterable[str]) -> list[str]:
    """Give each distinct name once, in order: one search per watch name and alias."""
    return list(dict.fromkeys(name.strip() for name in names if name.strip()))


def search_feed_url(engine: str, query: str, locale: str, origin: str | None = None) -> str:
    """Give the RSS URL of a news search for ``query`` as an exact phrase, in ``locale``."""
    base = (origin or SEARCH_ORIGINS[engine]).rstrip("/")
    language, _, region = locale.partition("-")
    phrase = quote_plus(f'"{query}"')
    if engine == "bing":
        return f"{base}/news/search?q={phrase}&format=rss&setlang={locale}&cc={region}"
    if engine == "google":
        # Google News names English editions by locale (en-US, en-GB), the others by language
        hl = locale if language == "en" else language
        return f"{base}/rss/search?q={phrase}&hl={hl}&gl={region}&ceid={region}:{language}"
    raise ValueError(f"unknown news-search engine {engine!r}")


def search_feed_urls(
    engine: str, names: Iterable[str], locales: Iterable[str], origin: str | None = None
) -> Iterator[str]:
    """Yield one search-feed URL per name and locale."""
    for query in search_queries(names):
        for locale in locales:
            yield search_feed_url(engine, query, locale, origin)


def unwrap(url: str) -> str | AggregatorLink:
    """Give the URL to fetch for a feed link: the publisher's when an aggregator wraps it (and
    the link says it), the link itself when no aggregator does, or an AggregatorLink."""
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
    except ValueError:
        return url
    if host in BING_HOSTS and parts.path.lower().endswith("/apiclick.aspx"):
        target = parse_qs(parts.query).get("url", [""])[0]
        return target if is_http_url(target) else AggregatorLink(url)
    if host == GOOGLE_NEWS_HOST and (match := _GOOGLE_ARTICLE_PATH.match(parts.path)):
        article_id = match.group(1)
        return _embedded_google_url(article_id) or AggregatorLink(url, article_id)
    return url


def _embedded_google_url(article_id: str) -> str | None:
    """The publisher URL an older Google News article id holds in plain bytes, if it does."""
    try:
        data = base64.urlsafe_b64decode(article_id + "=" * (-len(article_id) % 4))
    except (binascii.Error, ValueError):
        return None
    # a protobuf message: field 1 (varint), then field 4 (bytes: the URL, or a newer opaque id)
    if not data.startswith(b"\x08\x13\x22"):
        return None
    length, position, shift = 0, 3, 0
    while position < len(data):
        byte = data[position]
        length |= (byte & 0x7F) << shift
        position += 1
        shift += 7
        if not byte & 0x80:
            break
    target = data[position : position + length].decode("utf-8", "replace")
    return target if is_http_url(target) else None


def google_article_page(link: AggregatorLink, feed_url: str | None = None) -> str:
    """Give the URL of the page carrying the link's decoding signature: its RSS article page,
    in the locale of the feed that listed it (hl, gl, ceid), on the link's own origin."""
    if link.article_id is None:
        raise ValueError(f"not a Google News article link: {link.url}")
    parts = urlsplit(link.url)
    query = parse_qs(urlsplit(feed_url).query) if feed_url else {}
    locale = {key: query.get(key, [default])[0] for key, default in _DEFAULT_LOCALE.items()}
    return f"{parts.scheme}://{parts.netloc}/rss/articles/{link.article_id}?{urlencode(locale)}"


def google_batchexecute_url(page_url: str) -> str:
    """Give the decoding endpoint on the same origin as the article page."""
    parts = urlsplit(page_url)
    return f"{parts.scheme}://{parts.netloc}{GOOGLE_BATCHEXECUTE_PATH}"


def parse_google_signature(html: str) -> tuple[str, str] | None:
    """Give (signature, timestamp) from a Google News article page, or None without them."""
    signature, timestamp = _SIGNATURE.search(html), _TIMESTAMP.search(html)
    if signature is None or timestamp is None:
        return None
    return signature.group(1), timestamp.group(1)


def google_batchexecute_body(article_id: str, signature: str, timestamp: str) -> str:
    """Give the form body (``f.req=...``) of the request that decodes one article id."""
    inner = ["garturlreq", _GARTURLREQ_CONTEXT, article_id, int(timestamp), signature]
    envelope = [[["Fbv4je", json.dumps(inner, separators=(",", ":")), None, "generic"]]]
    return "f.req=" + quote(json.dumps(envelope, separators=(",", ":")), safe="")


def parse_google_batchexecute(text: str) -> str | None:
    """Give the publisher URL in a batchexecute answer, or None when it holds none.

    The answer is a ``)]}'`` guard line, a blank line, then a JSON array of rows; the row
    ``["wrb.fr", "Fbv4je", "<JSON: ["garturlres", URL, ...]>", ...]`` carries the URL.
    """
    body = text.split("\n\n", 1)[1] if "\n\n" in text else text.removeprefix(")]}'")
    try:
        rows = json.loads(body)
    except ValueError:
        return None
    for row in rows if isinstance(rows, list) else ():
        if not (isinstance(row, list) and len(row) >= 3 and row[:2] == ["wrb.fr", "Fbv4je"]):
            continue
        try:
            payload = json.loads(row[2]) if isinstance(row[2], str) else None
        except ValueError:
            continue
        if isinstance(payload, list) and len(payload) > 1 and payload[0] == "garturlres":
            target = payload[1]
            if isinstance(target, str) and is_http_url(target):
                return target
    return None


def strip_publisher_suffix(title: str | None, publisher: str | None) -> str | None:
    """Give a search item's title without the " - Publisher" its aggregator appends."""
    if not title or not publisher:
        return title
    for separator in (" - ", " | ", " – "):
        suffix = f"{separator}{publisher}"
        if title.endswith(suffix) and len(title) > len(suffix):
            return title[: -len(suffix)].rstrip()
    return title


def outlet_for(url: str, outlets: Iterable[tuple[str, Iterable[str]]]) -> str | None:
    """Give the name of the configured outlet whose own feeds, sitemaps or pages are on the
    site of ``url`` (a search found one of its articles), or None."""
    for name, outlet_urls in outlets:
        if any(same_site(url, outlet_url) for outlet_url in outlet_urls):
            return name
    return None
