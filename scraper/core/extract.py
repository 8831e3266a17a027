"""Article extraction: one fetched page -> headline, body text and metadata, or why not.

Built on trafilatura for the body text (it drops navigation, sidebars, related links and comments)
and on our own reading of the page's structured metadata (OpenGraph, JSON-LD, <time>, itemprop),
which is more reliable for titles and dates than trafilatura's heuristics. The page is parsed once;
the same lxml tree feeds trafilatura and the metadata lookups.

Pure: the result depends on the arguments only. No network, no module-level mutable state, and
no clock: htmldate's upper date bound is fixed rather than "today". trafilatura's deduplication
is off because its LRU cache is global and would make one page's result depend on earlier ones.
"""

from __future__ import annotations

import html as html_lib
import json
import logging
import re
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

from trafilatura import bare_extraction
from trafilatura.settings import Document, Extractor
from trafilatura.utils import load_html

from scraper.core.urls import absolute_http_url

logger = logging.getLogger(__name__)

# Korea Standard Time: Korean outlets print bylines without an offset
KST = timezone(timedelta(hours=9), "KST")
MAX_TITLE_CHARS = 500
# One-line fields (titles, names) are cleaned from at most this much raw text.
MAX_INLINE_INPUT_CHARS = 20_000
MAX_AUTHOR_CHARS = 200
MAX_SITE_NAME_CHARS = 200
MIN_TEXT_CHARS = 200
MAX_FOOTER_LINE_CHARS = 200
# A page with this many linked headlines, one of them in its text and less text per headline
# than a short article section, is a listing.
MIN_LISTING_TEASERS = 3
MIN_TEASER_KEY_CHARS = 10
MAX_TEASER_CHARS = 250
# Larger inputs are not articles (or are hostile); parsing them would stall the pipeline.
MAX_HTML_CHARS = 10_000_000
# JSON-LD blocks beyond these sizes are data dumps, not article metadata.
MAX_JSON_LD_CHARS = 1_000_000
MAX_JSON_LD_NODES = 1_000
# htmldate discards dates after max_date; a fixed far bound keeps results independent of the clock.
HTMLDATE_MAX_DATE = "2099-12-31"
EARLIEST_YEAR = 1990
LATEST_YEAR = 2099

# C0 controls except tab/newline/carriage return, DEL, lone surrogates and XML non-characters:
# none of them belong in stored text and lxml refuses some of them.
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff\ufffe\uffff]")
_ALL_CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f\ud800-\udfff\ufffe\uffff]")
_SCRIPT_OR_STYLE = re.compile(
    r"<(script|style)\b[^<>]{0,500}>.*?(?:</\1\s*>|$)", re.IGNORECASE | re.DOTALL
)
_TAG = re.compile(r"</?[a-zA-Z][^<>]{0,500}>")
_NON_WORD = re.compile(r"[\W_]+")
# Separators between a headline and the outlet name in <title>/og:title, longest first.
_TITLE_SEPARATORS = (" :: ", " | ", " – ", " — ", " - ", " : ", " · ", " • ", " » ", " « ", " / ")
# Short closing lines that are outlet boilerplate, not story: syndication notes, copyright
# notices, and the Korean reporter sign-off ("김하나 기자 hana@example.com"), kept as the author.
_FOOTER_LINE = re.compile(
    r"^\W*(?:this (?:article|story|post|piece) (?:was )?(?:originally|first) "
    r"(?:appeared|published|ran)|(?:originally|first) (?:published|appeared) (?:on|in|at|by)\b"
    r"|.*(?:무단\s*전재|재배포\s*금지|all rights reserved|copyright\s*(?:©|\(c\)|\d{4})))",
    re.IGNORECASE,
)
_REPORTER_LINE = re.compile(r"^[(\[]?([가-힣]{2,4})\s*(?:기자|특파원)[)\]]?(?:\s+\S+@\S+)?$")
_LANGUAGE_TAG = re.compile(r"^([a-zA-Z]{2,3})(?:[-_][a-zA-Z0-9]{1,8})*$")
_NOT_A_LANGUAGE = frozenset({"und", "mul", "zxx", "mis"})
_HANGUL = re.compile(r"[\uac00-\ud7a3\u1100-\u11ff\u3130-\u318f]")
_LETTER = re.compile(r"[^\W\d_]")

_PUBLISHED_META_KEYS = (
    "article:published_time",
    "og:article:published_time",
    "og:published_time",
    "datepublished",
    "article.published",
    "publish-date",
    "publishdate",
    "pubdate",
    "dc.date.issued",
    "dcterms.issued",
    "sailthru.date",
    "parsely-pub-date",
)
_ARTICLE_TYPES = frozenset(
    {
        "article",
        "newsarticle",
        "reportagenews",
        "analysisnewsarticle",
        "opinionnewsarticle",
        "reviewnewsarticle",
        "backgroundnewsarticle",
        "blogposting",
        "liveblogposting",
        "socialmediaposting",
        "report",
    }
)
_SITE_TYPES = frozenset({"organization", "newsmediaorganization", "website"})
# Ancestors whose <time>/<h1> elements describe something other than the article itself.
_OFF_ARTICLE_TAGS = frozenset({"aside", "nav"})
# Matched as prefixes of class/id words ("comments-area", "commentlist", "related_posts"), not
# substrings: page builders put "widget" in the class of every block, the article included.
_OFF_ARTICLE_WORDS = ("comment", "sidebar", "related", "trending", "popular")
_MARKER_WORDS = re.compile(r"[\s_-]+")

_NUMERIC_DATE = re.compile(
    r"(\d{4})\s*[.\-/년]\s*(\d{1,2})\s*[.\-/월]\s*(\d{1,2})(?:\s*일)?\.?"
    r"(?:\s*\(?[월화수목금토일]\)?)?"
    r"(?:(?:\s*T\s*|\s+)(?:(오전|오후|[AaPp][Mm])\s*)?(\d{1,2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?"
    r"\s*(오전|오후|[AaPp][Mm])?)?"
    r"\s*(Z|UTC|GMT|KST|[+-]\d{2}:?\d{2})?"
)
_COMPACT_DATETIME = re.compile(r"^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})?$")
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
# "April 29, 2024" / "Apr. 29, 2024 5:30 PM", as bylines print them
_MONTH_NAME_DATE = re.compile(
    r"\b(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?\s+(\d{1,2})(?:st|nd|rd|th)?,?\s+(\d{4})"
    r"(?:,?\s+(?:at\s+)?(\d{1,2}):(\d{2})\s*([ap]\.?m\.?)?)?",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Extracted:
    """An article's fields as a reader sees them; published_at is tz-aware."""

    url: str
    canonical_url: str | None
    title: str
    text: str
    published_at: datetime | None
    author: str | None
    language: str | None
    site_name: str | None


@dataclass(frozen=True)
class Rejected:
    """A page that is not an article we can store, with a short human reason."""

    url: str
    reason: str


def extract(
    html: str,
    url: str,
    *,
    hint_published_at: datetime | None = None,
    hint_title: str | None = None,
) -> Extracted | Rejected:
    """Return the article in `html` fetched from `url`, or Rejected(url, reason); never raises.

    Hints (from a feed or sitemap entry) are used only when the page itself has no date or title.
    """
    url = _ALL_CONTROL_CHARS.sub("", url) if isinstance(url, str) else str(url)
    try:
        return _extract(html, url, hint_published_at, hint_title)
    except Exception as err:  # a malformed page must never stop the crawl; say what happened
        logger.warning("extraction failed for %s: %r", url, err, exc_info=True)
        return Rejected(url, f"extraction failed ({type(err).__name__})")


def parse_datetime(value: str, naive_zone: tzinfo = UTC) -> datetime | None:
    """Return a tz-aware datetime from a date string as publishers write it, or None.

    Accepts ISO 8601 / W3C, RFC 2822 (feeds), dotted and Korean forms ("2024.04.26 10:30",
    "2024년 4월 26일 오후 3:05") and compact "20240426103000". Naive values are taken to be in
    ``naive_zone`` (UTC unless the page says more).
    """
    text = " ".join(_ALL_CONTROL_CHARS.sub(" ", value).split())[:100]
    if not text:
        return None
    parsed = _parse_iso(text) or _parse_rfc2822(text) or _parse_loose(text)
    if parsed is None or not EARLIEST_YEAR <= parsed.year <= LATEST_YEAR:
        return None
    return _aware(parsed, naive_zone)


def clean_inline(value: str) -> str:
    """Return one-line display text: entities decoded, tags, scripts and control chars removed.

    Shared with discovery, whose feed titles carry the same markup leftovers as page titles.
    """
    text = _ALL_CONTROL_CHARS.sub(" ", value[:MAX_INLINE_INPUT_CHARS])
    if "&" in text:
        text = html_lib.unescape(text)
    if "<" in text:
        text = _TAG.sub(" ", _SCRIPT_OR_STYLE.sub(" ", text))
    return " ".join(_ALL_CONTROL_CHARS.sub(" ", text).split())


# -- the pipeline --------------------------------------------------------------------------------


def _extract(
    html: str, url: str, hint_published_at: datetime | None, hint_title: str | None
) -> Extracted | Rejected:
    if not isinstance(html, str):
        return Rejected(url, f"not text ({type(html).__name__})")
    if len(html) > MAX_HTML_CHARS:
        return Rejected(url, f"page too large ({len(html)} chars)")
    html = _CONTROL_CHARS.sub("", html)
    if not html.strip():
        return Rejected(url, "empty page")
    tree = load_html(html)
    if tree is None:
        return Rejected(url, "not an HTML document")

    document = bare_extraction(tree, options=_extractor_options(url))
    if not isinstance(document, Document) or not document.text:
        return Rejected(url, "no article text found")

    page = _PageMetadata.read(tree)
    site_name = _first_clean(
        [
            page.meta.get("og:site_name"),
            page.json_ld_site_name(),
            page.meta.get("application-name"),
        ],
        MAX_SITE_NAME_CHARS,
    )
    title = _choose_title(page, document.title, hint_title, site_name, url)
    if title is None:
        return Rejected(url, "no title found")
    if len(title) > MAX_TITLE_CHARS:
        logger.info("title of %s cut from %d to %d chars", url, len(title), MAX_TITLE_CHARS)
        title = title[: MAX_TITLE_CHARS - 1].rstrip() + "…"

    text, reporter = _clean_body(document.text, title)
    if len(text) < MIN_TEXT_CHARS:
        return Rejected(url, f"text too short ({len(text)} chars)")
    teasers = _teaser_count(tree, text)
    if teasers:
        return Rejected(url, f"listing page ({teasers} linked headlines)")

    site_name = (
        site_name
        or _first_clean([_site_from_title(page.html_title, title)], MAX_SITE_NAME_CHARS)
        or _first_clean([document.sitename], MAX_SITE_NAME_CHARS)
    )
    language = page.language() or _language_from_text(text)
    # a Korean-language page's bare "2024.04.29 08:05" byline is Korea time, not UTC
    naive_zone = KST if language == "ko" else UTC
    published_at = (
        page.published_at(naive_zone)
        or (parse_datetime(document.date, naive_zone) if document.date else None)
        or (_aware(hint_published_at) if isinstance(hint_published_at, datetime) else None)
    )
    return Extracted(
        url=url,
        canonical_url=page.canonical_url(url),
        title=title,
        text=text,
        published_at=published_at,
        author=(_clean_author(document.author) or _clean_author(page.json_ld_author()) or reporter),
        language=language,
        site_name=site_name,
    )


def _extractor_options(url: str) -> Extractor:
    """Build trafilatura's options for one page: body text and metadata, nothing stateful."""
    # trafilatura annotates date_params as dict[str, str]; htmldate takes booleans too
    date_params: dict[str, Any] = {
        "original_date": True,
        # pattern search in free text picks up dates the story merely mentions
        "extensive_search": False,
        "max_date": HTMLDATE_MAX_DATE,
    }
    return Extractor(
        output_format="python",
        comments=False,
        dedup=False,
        links=False,
        images=False,
        # tables stay on: older Korean portals still lay articles out in tables
        tables=True,
        with_metadata=True,
        url=url,
        date_params=date_params,
    )


# -- metadata read from the parsed page ----------------------------------------------------------


@dataclass(frozen=True)
class _PageMetadata:
    """The structured metadata of one parsed page, gathered in a single pass over its tree."""

    tree: Any
    meta: dict[str, str]
    json_ld: tuple[dict[str, Any], ...]
    html_title: str | None

    @classmethod
    def read(cls, tree: Any) -> _PageMetadata:
        meta: dict[str, str] = {}
        for element in tree.iter("meta"):
            content = element.get("content")
            if content is None or not content.strip():
                continue
            for attribute in ("property", "name", "itemprop", "http-equiv"):
                key = (element.get(attribute) or "").strip().lower()
                if key:
                    meta.setdefault(key, content.strip())
        title_element = tree.find(".//title")
        html_title = title_element.text_content() if title_element is not None else None
        return cls(tree, meta, tuple(_json_ld_nodes(tree)), html_title)

    def _node_by_id(self, ref: Any) -> dict[str, Any] | None:
        """Resolve a JSON-LD {"@id": ...} reference to the node it names in this page."""
        if isinstance(ref, dict) and len(ref) > 1:
            return ref
        ref_id = ref.get("@id") if isinstance(ref, dict) else None
        if isinstance(ref_id, str):
            for node in self.json_ld:
                if node.get("@id") == ref_id:
                    return node
        return ref if isinstance(ref, dict) else None

    def _article_nodes(self) -> list[dict[str, Any]]:
        return [node for node in self.json_ld if _json_ld_types(node) & _ARTICLE_TYPES]

    def json_ld_site_name(self) -> str | None:
        for node in self._article_nodes():
            publisher = self._node_by_id(node.get("publisher"))
            if publisher is not None and isinstance(publisher.get("name"), str):
                return str(publisher["name"])
        for node in self.json_ld:
            if _json_ld_types(node) & _SITE_TYPES and isinstance(node.get("name"), str):
                return str(node["name"])
        return None

    def json_ld_author(self) -> str | None:
        for node in self._article_nodes():
            authors = node.get("author")
            for author in authors if isinstance(authors, list) else [authors]:
                if isinstance(author, str):
                    return author
                resolved = self._node_by_id(author)
                if resolved is not None and isinstance(resolved.get("name"), str):
                    return str(resolved["name"])
        return None

    def json_ld_headline(self) -> str | None:
        for node in self._article_nodes():
            headline = node.get("headline") or node.get("name")
            if isinstance(headline, str):
                return headline
        return None

    def article_h1(self) -> str | None:
        """The headline element a reader sees: an h1 inside the article, else the page's only h1."""
        headings = [h for h in self.tree.iter("h1") if not _is_off_article(h)]
        for heading in headings:
            if any(a.tag in ("article", "main") for a in heading.iterancestors()):
                return str(heading.text_content())
        for element in self.tree.iterfind(".//*[@itemprop='headline']"):
            if element.tag != "meta":
                return str(element.text_content())
        if len(headings) == 1:
            return str(headings[0].text_content())
        return None

    def published_at(self, naive_zone: tzinfo = UTC) -> datetime | None:
        """The publication time from structured markup, most explicit source first."""
        for key in _PUBLISHED_META_KEYS:
            if key in self.meta and (found := parse_datetime(self.meta[key], naive_zone)):
                return found
        article_nodes = self._article_nodes()
        for node in [*article_nodes, *(n for n in self.json_ld if n not in article_nodes)]:
            value = node.get("datePublished")
            if isinstance(value, str) and (found := parse_datetime(value, naive_zone)):
                return found
        for element in self.tree.iterfind(".//*[@itemprop='datePublished']"):
            value = element.get("content") or element.get("datetime") or element.text_content()
            if value and (found := parse_datetime(value, naive_zone)):
                return found
        for element in self.tree.iter("time"):
            value = element.get("datetime")
            if value and not _is_off_article(element):
                if found := parse_datetime(value, naive_zone):
                    return found
        return None

    def canonical_url(self, page_url: str) -> str | None:
        candidates = [
            link.get("href")
            for link in self.tree.iter("link")
            if "canonical" in (link.get("rel") or "").lower().split()
        ]
        candidates.append(self.meta.get("og:url"))
        for candidate in candidates:
            if candidate and (absolute := absolute_http_url(candidate, page_url)):
                return absolute
        return None

    def language(self) -> str | None:
        root = self.tree.getroottree().getroot()
        for value in (
            root.get("lang"),
            root.get("{http://www.w3.org/XML/1998/namespace}lang"),
            self.meta.get("og:locale"),
            self.meta.get("content-language"),
        ):
            if value and (language := _normalise_language(value)):
                return language
        return None


def _json_ld_nodes(tree: Any) -> Iterator[dict[str, Any]]:
    """Yield the page's JSON-LD objects, flattening lists and @graph arrays, at most a thousand."""
    yielded = 0
    for script in tree.iter("script"):
        if (script.get("type") or "").strip().lower() != "application/ld+json":
            continue
        raw = script.text or ""
        if not raw.strip() or len(raw) > MAX_JSON_LD_CHARS:
            continue
        try:
            data = json.loads(raw, strict=False)
        except (ValueError, RecursionError):
            logger.debug("skipping unparsable JSON-LD block")
            continue
        pending = deque([data])
        while pending:
            item = pending.popleft()
            if isinstance(item, list):
                pending.extend(item)
            elif isinstance(item, dict):
                graph = item.get("@graph")
                if isinstance(graph, list):
                    pending.extend(graph)
                if "@type" in item:
                    yield item
                    yielded += 1
                    if yielded >= MAX_JSON_LD_NODES:
                        return


def _json_ld_types(node: dict[str, Any]) -> set[str]:
    types = node.get("@type")
    values = types if isinstance(types, list) else [types]
    return {value.rsplit("/", 1)[-1].lower() for value in values if isinstance(value, str)}


def _is_off_article(element: Any) -> bool:
    """True when the element sits in a sidebar, navigation, comment or related-links block.

    The walk stops at the enclosing <article>/<main>: wrappers above it (and <body>, whose
    classes say "has-sidebar" on many themes) hold the sidebar and the story alike.
    """
    for ancestor in element.iterancestors():
        if ancestor.tag in ("body", "html"):
            break
        if ancestor.tag in _OFF_ARTICLE_TAGS:
            return True
        marker = f"{ancestor.get('class') or ''} {ancestor.get('id') or ''}".lower()
        if any(word.startswith(_OFF_ARTICLE_WORDS) for word in _MARKER_WORDS.split(marker)):
            return True
        if ancestor.tag in ("article", "main"):
            break
    return False


def _teaser_count(tree: Any, text: str) -> int:
    """Linked headlines when the page is a list of teasers rather than an article, else 0.

    A listing shows several headlines that link elsewhere, its extracted "body" holds some of
    them, and each contributes only a short excerpt. A real article's related-story cards are
    not in its body, and a listicle with linked subheadings has long sections.
    """
    headlines = set()
    for heading in tree.iter("h2", "h3", "h4"):
        if heading.find(".//a[@href]") is None or _is_off_article(heading):
            continue
        key = _match_key(heading.text_content())
        if len(key) >= MIN_TEASER_KEY_CHARS:
            headlines.add(key)
    if len(headlines) < MIN_LISTING_TEASERS:
        return 0
    lines = {_match_key(line) for line in text.split("\n")}
    if headlines.isdisjoint(lines) or len(text) >= MAX_TEASER_CHARS * len(headlines):
        return 0
    return len(headlines)


# -- titles --------------------------------------------------------------------------------------


def _choose_title(
    page: _PageMetadata,
    trafilatura_title: str | None,
    hint_title: str | None,
    site_name: str | None,
    url: str,
) -> str | None:
    """Return the headline: the article's h1, else og/twitter/JSON-LD/trafilatura/<title>."""
    if trafilatura_title and _match_key(trafilatura_title) in _title_part_keys(page.html_title):
        # trafilatura guessed which side of "A - B" is the headline; with no outlet known to
        # tell, a whole title beats a headline cut in half
        trafilatura_title = None
    raw = [
        page.article_h1(),
        page.meta.get("og:title"),
        page.meta.get("twitter:title"),
        page.json_ld_headline(),
        trafilatura_title,
        page.html_title,
        hint_title,
    ]
    site_keys = {
        _match_key(name) for name in (site_name, page.meta.get("application-name")) if name
    }
    host = (urlsplit(url).hostname or "") if _is_parsable(url) else ""
    site_keys.update(_host_keys(host))
    site_keys.discard("")
    cleaned = [title for value in raw if value and (title := clean_inline(value))]
    # a logo h1 or an og:title that only names the outlet is not a headline
    stripped = [
        title
        for title in (_strip_site_affix(value, site_keys) for value in cleaned)
        if _match_key(title) not in site_keys
    ]
    if not stripped:
        return None
    known = {_match_key(title) for title in stripped}
    best = stripped[0]
    # "Outlet | Headline" with an unknown outlet: keep the side that another source gives alone
    for separator in _TITLE_SEPARATORS:
        if separator in best:
            head, _, tail = best.partition(separator)
            rest_head, _, last = best.rpartition(separator)
            for part in (rest_head, head, last, tail):
                if part.strip() and _match_key(part) in known:
                    return part.strip()
    return best


def _title_part_keys(title: str | None) -> set[str]:
    """Match keys of each side of every separator in a title."""
    keys: set[str] = set()
    for separator in _TITLE_SEPARATORS:
        if title and separator in title:
            keys.update(_match_key(part) for part in title.split(separator))
    return keys


def _strip_site_affix(title: str, site_keys: set[str]) -> str:
    """Remove " | Outlet"-style suffixes and "Outlet | "-style prefixes naming a known site."""
    stripped = True
    while stripped:
        stripped = False
        for separator in _TITLE_SEPARATORS:
            head, found, tail = title.rpartition(separator)
            if found and head.strip() and _match_key(tail) in site_keys:
                title, stripped = head.strip(), True
                break
            head, found, tail = title.partition(separator)
            if found and tail.strip() and _match_key(head) in site_keys:
                title, stripped = tail.strip(), True
                break
    return title


def _site_from_title(html_title: str | None, headline: str) -> str | None:
    """The outlet named beside the headline in <title> ("Outlet | Headline"), if any."""
    if not html_title:
        return None
    title = clean_inline(html_title)
    key = _match_key(headline)
    for separator in _TITLE_SEPARATORS:
        head, found, tail = title.rpartition(separator)
        if found and _match_key(head) == key:
            return tail.strip() or None
        head, found, tail = title.partition(separator)
        if found and _match_key(tail) == key:
            return head.strip() or None
    return None


def _host_keys(host: str) -> set[str]:
    """Match keys an outlet's name may take from its host: "www.k-wave.example" -> "kwave"."""
    labels = [label for label in host.lower().split(".") if label]
    while labels and labels[0] in ("www", "m", "amp", "mobile", "news"):
        labels = labels[1:]
    if len(labels) < 2:
        return set()
    return {_match_key(labels[0]), _match_key("".join(labels))}


def _match_key(value: str | None) -> str:
    return _NON_WORD.sub("", value or "").casefold()


# -- cleaning ------------------------------------------------------------------------------------


def _first_clean(values: list[str | None], limit: int) -> str | None:
    for value in values:
        if value and (cleaned := clean_inline(value)):
            return cleaned[:limit]
    return None


def _clean_author(value: str | None) -> str | None:
    if not value:
        return None
    author = clean_inline(value)[:MAX_AUTHOR_CHARS]
    if not author or ":" in author.split(" ", 1)[0]:  # "javascript:...", "https://..."
        return None
    return author


def _clean_body(text: str, title: str) -> tuple[str, str | None]:
    """Return the body without control characters, a repeated headline or closing boilerplate,
    and the reporter named in a closing sign-off, if any."""
    text = _CONTROL_CHARS.sub("", text.replace("\r", "\n"))
    lines = [" ".join(line.split()) for line in text.split("\n")]
    lines = [line for line in lines if line]
    if lines and _match_key(lines[0]) == _match_key(title):
        lines = lines[1:]
    reporter = None
    while lines and len(lines[-1]) <= MAX_FOOTER_LINE_CHARS:
        if signed := _REPORTER_LINE.match(lines[-1]):
            reporter = reporter or signed.group(1)
        elif not _FOOTER_LINE.match(lines[-1]):
            break
        lines.pop()
    return "\n".join(lines), reporter


def _normalise_language(value: str) -> str | None:
    """Return the primary language subtag ("en-US", "ko_KR" -> "en", "ko"), None if not a tag."""
    first = value.split(",")[0].split(";")[0].strip()
    match = _LANGUAGE_TAG.match(first)
    if match is None:
        return None
    language = match.group(1).lower()
    return None if language in _NOT_A_LANGUAGE else language


def _language_from_text(text: str) -> str | None:
    """Korean when the page declares no language but its letters are mostly Hangul."""
    sample = text[:2000]
    letters = len(_LETTER.findall(sample))
    if letters and len(_HANGUL.findall(sample)) / letters > 0.5:
        return "ko"
    return None


# -- URLs ----------------------------------------------------------------------------------------


def _is_parsable(url: str) -> bool:
    try:
        urlsplit(url)
    except ValueError:
        return False
    return True


def _aware(value: datetime, naive_zone: tzinfo = UTC) -> datetime:
    naive = value.tzinfo is None or value.utcoffset() is None
    return value.replace(tzinfo=naive_zone) if naive else value


def _parse_iso(text: str) -> datetime | None:
    candidate = text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text
    if len(candidate) < 8 or not candidate[:4].isdigit():
        return None
    try:
        return datetime.fromisoformat(candidate)
    except ValueError:
        return None


def _parse_rfc2822(text: str) -> datetime | None:
    if not any(c.isalpha() for c in text):
        return None
    try:
        return parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def _parse_loose(text: str) -> datetime | None:
    compact = _COMPACT_DATETIME.match(text)
    if compact:
        year, month, day, hour, minute, second = compact.groups()
        return _build(year, month, day, hour, minute, second, "")
    named = _MONTH_NAME_DATE.search(text)
    if named:
        month_name, day, year, hour, minute, meridiem = named.groups()
        return _build(
            year,
            str(_MONTHS.index(month_name[:3].lower()) + 1),
            day,
            hour,
            minute,
            None,
            (meridiem or "").replace(".", ""),
        )
    match = _NUMERIC_DATE.search(text)
    if match is None:
        return None
    year, month, day, meridiem, hour, minute, second, meridiem_after, zone = match.groups()
    parsed = _build(year, month, day, hour, minute, second, meridiem or meridiem_after or "")
    return parsed.replace(tzinfo=_zone(zone)) if parsed and zone else parsed


def _build(
    year: str,
    month: str,
    day: str,
    hour: str | None,
    minute: str | None,
    second: str | None,
    meridiem: str,
) -> datetime | None:
    """A naive datetime from matched digits; None when they name no real moment."""
    hours = int(hour or 0)
    if meridiem.lower() in ("오후", "pm") and hours < 12:
        hours += 12
    elif meridiem.lower() in ("오전", "am") and hours == 12:
        hours = 0
    try:
        return datetime(int(year), int(month), int(day), hours, int(minute or 0), int(second or 0))
    except ValueError:
        return None


def _zone(name: str) -> timezone | None:
    """The fixed offset a zone suffix names; None (naive, so UTC) for an impossible offset."""
    if name in ("Z", "UTC", "GMT"):
        return UTC
    if name == "KST":
        return KST
    sign = -1 if name.startswith("-") else 1
    digits = name[1:].replace(":", "")
    try:
        return timezone(sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))
    except ValueError:
        return None
