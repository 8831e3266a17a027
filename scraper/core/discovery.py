"""Candidate discovery: feed, sitemap and listing-page bodies -> article URLs with their dates.

Pure: the spider fetches, these functions only read what it fetched. feedparser is handed the
body as a stream so it never fetches a URL or opens a local path; the sitemap parser resolves no
entities and loads no DTD. A body that is not what it should be raises DiscoveryError with a
one-line reason; no other exception escapes.
"""

from __future__ import annotations

import gzip
import io
import logging
import re
import time
import xml.sax
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Any
from urllib.parse import urlsplit

import feedparser
from lxml import etree
from lxml import html as lxml_html

from scraper.core.dates import EARLIEST_YEAR, KST, LATEST_YEAR, parse_datetime
from scraper.core.extract import clean_inline, language_from_text
from scraper.core.urls import absolute_http_url, same_site

logger = logging.getLogger(__name__)

# The sitemap protocol caps a sitemap at 50 MB uncompressed; feeds are far smaller in practice.
MAX_BODY_BYTES = 50 * 1024 * 1024
MAX_TITLE_CHARS = 500

_GZIP_MAGIC = b"\x1f\x8b"
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# A complete feed ends by closing its root element; a truncated download does not.
_FEED_ROOT_CLOSED = re.compile(rb"</(?:[\w.-]+:)?(?:rss|feed|RDF)\s*>(?:\s|<!--.*?-->)*$", re.S)
_HTML_START = re.compile(
    rb"^\s*(?:<\?xml[^>]*>\s*)?(?:<!--.*?-->\s*)*(?:<!doctype\s+html|<html)", re.I | re.S
)

# Links in these regions of a listing page are site furniture, not the list of articles.
# ("widget" is not among the words: page builders put it on every block, the list included.)
_BOILERPLATE_TAGS = frozenset({"nav", "aside"})
_PAGE_FRAME_TAGS = frozenset({"header", "footer"})  # boilerplate unless inside an <article>
_BOILERPLATE_ROLES = frozenset({"navigation", "banner", "contentinfo", "complementary", "search"})
_BOILERPLATE_WORDS = frozenset(
    {
        "nav",
        "navbar",
        "navigation",
        "menu",
        "gnb",
        "lnb",
        "breadcrumb",
        "breadcrumbs",
        "sidebar",
        "aside",
        "comment",
        "comments",
        "cmt",
        "footer",
        "masthead",
        "cookie",
        "consent",
        "newsletter",
        "share",
        "sharing",
        "social",
        "related",
        "trending",
        "popular",
        "rank",
        "ranking",
    }
)
_BOILERPLATE_TOKENS = frozenset({"header", "site-header", "global-header", "top-bar", "topbar"})
_WORD_SPLIT = re.compile(r"[-_]+")
# Path segments of pages that list or manage things rather than tell a story.
_NON_ARTICLE_SEGMENTS = frozenset(
    {
        "tag",
        "tags",
        "category",
        "categories",
        "topic",
        "topics",
        "author",
        "authors",
        "user",
        "users",
        "profile",
        "login",
        "logout",
        "signin",
        "sign-in",
        "signup",
        "sign-up",
        "register",
        "account",
        "search",
        "subscribe",
        "feed",
        "rss",
        "wp-login.php",
        "wp-admin",
        "privacy",
        "privacy-policy",
        "terms",
        "about",
        "about-us",
        "contact",
        "contact-us",
    }
)
_NON_ARTICLE_EXTENSIONS = (
    ".jpg",
    ".jpeg",
    ".png",
    ".gif",
    ".webp",
    ".svg",
    ".ico",
    ".pdf",
    ".zip",
    ".mp3",
    ".mp4",
    ".xml",
    ".rss",
    ".css",
    ".js",
)
_SEARCH_PARAMS = frozenset({"s", "q", "query", "replytocom"})


class DiscoveryError(Exception):
    """A feed, sitemap or listing body that cannot be read; str() is a one-line reason."""

    def __init__(self, reason: str) -> None:
        self.reason = " ".join(reason.split())[:300]
        super().__init__(self.reason)


@dataclass(frozen=True)
class Candidate:
    """A URL worth fetching, with the dates, title and publisher its feed or sitemap gave.

    ``modified_at`` is the entry's own modification date (RSS atom:updated or dc:modified,
    Atom <updated>, sitemap <lastmod>): a later one on the next crawl means it changed.
    """

    url: str
    published_at: datetime | None
    title: str | None = None
    # the outlet an aggregator's item names: RSS <source>, Bing's <News:Source>
    publisher: str | None = None
    modified_at: datetime | None = None


@dataclass(frozen=True)
class Sitemap:
    """A parsed sitemap: child sitemaps (from an index) and page URLs (from a urlset)."""

    children: list[Candidate]
    urls: list[Candidate]


@dataclass(frozen=True)
class Listing:
    """Article links found in a listing page's content, and pages that continue the list."""

    articles: list[str]
    next_pages: list[str]


# -- feeds ---------------------------------------------------------------------------------------


def parse_feed(body: bytes, base_url: str) -> list[Candidate]:
    """Return the entries of an RSS 0.9x/1.0/2.0 or Atom feed, in feed order, links absolute.

    Raises DiscoveryError for a body that is empty, not a feed, or cut short.
    """
    data = _decompressed(body)
    if not data.strip():
        raise DiscoveryError("empty body")
    try:
        parsed = feedparser.parse(
            io.BytesIO(data),
            response_headers={"content-location": base_url},
            resolve_relative_uris=True,
            sanitize_html=True,
        )
    except Exception as err:  # feedparser has no error contract of its own
        logger.warning("feedparser failed on %s", base_url, exc_info=True)
        raise DiscoveryError(f"feed parser failed ({type(err).__name__})") from err

    problem = parsed.get("bozo_exception")
    if not parsed.get("version"):
        if _HTML_START.match(data[:2048]):
            raise DiscoveryError("not a feed (an HTML page)")
        detail = f": {_first_line(problem)}" if isinstance(problem, xml.sax.SAXException) else ""
        raise DiscoveryError(f"not a feed{detail}")
    if isinstance(problem, xml.sax.SAXParseException) and not _FEED_ROOT_CLOSED.search(
        data[-4096:]
    ):
        raise DiscoveryError(f"truncated feed ({_first_line(problem)})")
    if problem is not None:
        logger.info("feed %s is not well-formed, read leniently: %s", base_url, problem)

    entries = parsed.get("entries", [])
    naive_zone = _feed_zone(parsed.get("feed", {}), entries)
    candidates: dict[str, Candidate] = {}
    for entry in entries:
        url = absolute_http_url(_entry_link(entry), base_url)
        if url is None or url in candidates:
            continue
        candidates[url] = Candidate(
            url,
            _entry_published_at(entry, naive_zone),
            _title(entry.get("title")),
            publisher=_entry_publisher(entry),
            modified_at=_entry_modified_at(entry, naive_zone),
        )
    return list(candidates.values())


def _entry_publisher(entry: Any) -> str | None:
    """The outlet an aggregator's item names: RSS 2.0 <source>, Bing News <News:Source>."""
    source = dict.get(entry, "source")
    if isinstance(source, dict) and (name := _title(source.get("title"))):
        return name
    return _title(dict.get(entry, "news_source"))


def _feed_zone(feed: Any, entries: list[Any]) -> tzinfo:
    """The zone of the feed's dates written without one: KST for a Korean feed, else UTC.

    Korean CMSs write ``2026-12-01 15:05:00`` meaning Seoul time; the feed says it is Korean in
    its ``<language>`` or, often not at all, only in its Hangul titles.
    """
    language = feed.get("language") if isinstance(feed, dict) else None
    if isinstance(language, str) and language.strip().lower()[:2] == "ko":
        return KST
    titles = " ".join(str(entry.get("title") or "") for entry in entries[:20])
    return KST if language_from_text(f"{feed.get('title') or ''} {titles}") == "ko" else UTC


def _entry_link(entry: Any) -> str | None:
    """The entry's own page: Atom rel=alternate (HTML first), RSS <link>, else a permalink guid."""
    alternates = [
        link
        for link in entry.get("links", [])
        if link.get("href") and link.get("rel", "alternate") == "alternate"
    ]
    alternates.sort(key=lambda link: "html" not in (link.get("type") or "text/html"))
    if alternates:
        return str(alternates[0]["href"])
    for key in ("link", "id"):
        value = entry.get(key)
        if isinstance(value, str) and value.startswith(("http://", "https://", "/")):
            return value
    return None


def _entry_published_at(entry: Any, naive_zone: tzinfo) -> datetime | None:
    return _entry_date(entry, ("published", "updated", "created"), naive_zone)


def _entry_modified_at(entry: Any, naive_zone: tzinfo) -> datetime | None:
    """The entry's modification date: Atom <updated> or RSS atom:updated / dcterms:modified
    (feedparser's "updated"), else RSS dc:modified."""
    return _entry_date(entry, ("updated", "dc_modified"), naive_zone)


def _entry_date(entry: Any, keys: tuple[str, ...], naive_zone: tzinfo) -> datetime | None:
    """The first of the entry's ``keys`` that holds a date, timezone-aware."""
    for key in keys:
        # dict.get: FeedParserDict.get maps a missing "updated" onto "published", with a warning
        raw = dict.get(entry, key)
        # our parser first: feedparser reads a date written without a zone as UTC
        if isinstance(raw, str) and (found := parse_datetime(raw, naive_zone)):
            return found
        parsed: time.struct_time | None = dict.get(entry, f"{key}_parsed")
        if parsed is not None and EARLIEST_YEAR <= parsed.tm_year <= LATEST_YEAR:
            try:
                # feedparser has already converted the time to UTC
                return datetime(*parsed[:6], tzinfo=UTC)
            except ValueError:
                continue
    return None


# -- sitemaps ------------------------------------------------------------------------------------


def parse_sitemap(body: bytes, base_url: str) -> Sitemap:
    """Return a sitemap index's child sitemaps or a urlset's pages, with lastmod / news dates.

    Reads the XML as a stream and frees each entry once read, so a 50,000-URL sitemap never
    exists as a whole tree. Namespaced or not, plain or gzip. Raises DiscoveryError for a body
    that is empty, not XML, not a sitemap, or cut short.
    """
    data = _decompressed(body)
    if not data.strip():
        raise DiscoveryError("empty body")
    children: list[Candidate] = []
    urls: list[Candidate] = []
    for kind, entry in _sitemap_entries(data):
        candidate = _sitemap_candidate(entry, base_url)
        if candidate is not None:
            (children if kind == "sitemap" else urls).append(candidate)
    return Sitemap(children=children, urls=urls)


def _sitemap_entries(data: bytes) -> Iterator[tuple[str, Any]]:
    """Yield ("url" | "sitemap", element) for each entry of the sitemap, then free it."""
    events = etree.iterparse(
        io.BytesIO(data),
        events=("start", "end"),
        resolve_entities=False,
        load_dtd=False,
        no_network=True,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )
    root = None
    try:
        for event, element in events:
            if root is None:
                root = element
                if _local_name(root) not in ("urlset", "sitemapindex"):
                    raise DiscoveryError(f"not a sitemap (root element <{_local_name(root)}>)")
                continue
            if event == "end" and element.getparent() is root:
                kind = _local_name(element)
                if kind in ("url", "sitemap"):
                    yield kind, element
                element.clear()
                while element.getprevious() is not None:
                    del root[0]
    except etree.XMLSyntaxError as err:
        if root is None:
            raise DiscoveryError(f"not XML ({_first_line(err)})") from err
        raise DiscoveryError(f"truncated or malformed sitemap ({_first_line(err)})") from err
    except (etree.LxmlError, ValueError, LookupError) as err:  # odd encodings, bad bytes
        raise DiscoveryError(f"not XML ({_first_line(err)})") from err
    if root is None:
        raise DiscoveryError("not XML (no root element)")


def _sitemap_candidate(entry: Any, base_url: str) -> Candidate | None:
    """One <url> or <sitemap> entry: loc, news:publication_date over lastmod, news:title."""
    values: dict[str, str] = {}
    for child in entry:
        nested = child.iter() if _local_name(child) == "news" else [child]
        # <loc>, <lastmod>; inside <news:news> its date, title and publication language
        for element in nested:
            name = _local_name(element)
            if name and name not in values and element.text and element.text.strip():
                values[name] = element.text.strip()
    url = absolute_http_url(values.get("loc"), base_url)
    if url is None:
        return None
    korean = values.get("language", "").lower()[:2] == "ko" or (
        language_from_text(values.get("title", "")) == "ko"
    )
    naive_zone = KST if korean else UTC
    published_at = None
    for key in ("publication_date", "lastmod"):
        if key in values and (published_at := parse_datetime(values[key], naive_zone)):
            break
    modified_at = parse_datetime(values["lastmod"], naive_zone) if "lastmod" in values else None
    return Candidate(url, published_at, _title(values.get("title")), modified_at=modified_at)


def _local_name(element: Any) -> str:
    tag = element.tag
    return tag.rpartition("}")[2] if isinstance(tag, str) else ""


# -- listing pages -------------------------------------------------------------------------------


def parse_listing(html: str, base_url: str, follow: re.Pattern[str] | None) -> Listing:
    """Return the same-site article links in a listing page's content, and its next pages.

    Articles come from the main content area, never from navigation, header, footer, sidebars
    or comments, and never point at tag, category, author, login or search pages. Next pages
    are links anywhere on the page whose absolute URL matches `follow`, and rel=next.
    """
    root = _parse_html(html)
    base = base_url
    for base_element in root.iter("base"):
        base = absolute_http_url(base_element.get("href"), base_url) or base_url
        break
    here = _comparable(base_url)

    next_pages: dict[str, None] = {}
    for element in root.iter("a", "link"):
        url = absolute_http_url(element.get("href"), base)
        if url is None or _comparable(url) == here:
            continue
        rel = (element.get("rel") or "").lower().split()
        # <link> only for rel=next: its canonical/alternate siblings are not further pages
        matches = element.tag == "a" and follow is not None and follow.search(url)
        if "next" in rel or matches:
            next_pages.setdefault(url, None)

    articles: dict[str, None] = {}
    content = _content_area(root)
    for link in content.iter("a"):
        url = absolute_http_url(link.get("href"), base)
        if (
            url is not None
            and url not in next_pages
            and _comparable(url) != here
            and same_site(url, base_url)
            and _looks_like_article(url)
            and not _in_boilerplate(link, content)
        ):
            articles.setdefault(url, None)
    return Listing(articles=list(articles), next_pages=list(next_pages))


def _parse_html(html: str) -> Any:
    if not isinstance(html, str) or not html.strip():
        raise DiscoveryError("empty page")
    # bytes with a fixed encoding: lxml refuses str with an encoding declaration, and the
    # declared charset of an already-decoded page is moot
    data = _CONTROL_CHARS.sub("", html).encode("utf-8", "replace")
    try:
        return lxml_html.document_fromstring(
            data, parser=lxml_html.HTMLParser(encoding="utf-8", remove_comments=True)
        )
    except (etree.ParserError, etree.LxmlError, ValueError) as err:
        raise DiscoveryError(f"not an HTML page ({_first_line(err)})") from err


def _content_area(root: Any) -> Any:
    """The page's <main> (or role=main) when it has links, else the whole document."""
    for element in root.iter():
        if not isinstance(element.tag, str):
            continue
        if element.tag == "main" or (element.get("role") or "").lower() == "main":
            if element.find(".//a") is not None:
                return element
    return root


def _in_boilerplate(link: Any, content: Any) -> bool:
    """True when the link or a region around it, up to the content area, is navigation, a page
    header or footer, an aside or comments. <body> and wrappers above <main> are not judged:
    many themes mark them "has-sidebar" although they hold the content too."""
    chain = [link]
    for ancestor in link.iterancestors():
        if ancestor is content or ancestor.tag in ("body", "html"):
            break
        chain.append(ancestor)
    for position, element in enumerate(chain):
        tag = element.tag if isinstance(element.tag, str) else ""
        if tag in _BOILERPLATE_TAGS:
            return True
        if tag in _PAGE_FRAME_TAGS and not any(a.tag == "article" for a in chain[position + 1 :]):
            return True
        if (element.get("role") or "").lower() in _BOILERPLATE_ROLES:
            return True
        for token in f"{element.get('class') or ''} {element.get('id') or ''}".lower().split():
            if token in _BOILERPLATE_TOKENS or not _BOILERPLATE_WORDS.isdisjoint(
                _WORD_SPLIT.split(token)
            ):
                return True
    return False


def _looks_like_article(url: str) -> bool:
    parts = urlsplit(url)
    path = parts.path.lower()
    segments = [segment for segment in path.split("/") if segment]
    if not segments or path.endswith(_NON_ARTICLE_EXTENSIONS):
        return False
    if not _NON_ARTICLE_SEGMENTS.isdisjoint(segments):
        return False
    query_keys = {pair.split("=", 1)[0].lower() for pair in parts.query.split("&") if pair}
    return _SEARCH_PARAMS.isdisjoint(query_keys)


def _comparable(url: str) -> str:
    """A URL without fragment or trailing slash, for "is this the page itself?" checks."""
    return url.partition("#")[0].rstrip("/")


# -- shared --------------------------------------------------------------------------------------


def _decompressed(body: bytes) -> bytes:
    """The body, gunzipped when it is gzip (sitemap.xml.gz), at most MAX_BODY_BYTES."""
    if not isinstance(body, bytes | bytearray | memoryview):
        raise DiscoveryError(f"body is {type(body).__name__}, not bytes")
    data = bytes(body)
    if not data.startswith(_GZIP_MAGIC):
        if len(data) > MAX_BODY_BYTES:
            raise DiscoveryError(f"body larger than {MAX_BODY_BYTES} bytes")
        return data
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(data)) as stream:
            data = stream.read(MAX_BODY_BYTES + 1)
    except (OSError, EOFError, zlib.error) as err:
        raise DiscoveryError(f"corrupt gzip body ({_first_line(err)})") from err
    if len(data) > MAX_BODY_BYTES:
        raise DiscoveryError(f"body larger than {MAX_BODY_BYTES} bytes uncompressed")
    return data


def _title(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    return clean_inline(value)[:MAX_TITLE_CHARS] or None


def _first_line(error: object) -> str:
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__
