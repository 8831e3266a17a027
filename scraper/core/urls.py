"""Pure URL identity: one display form and one identity key per article URL.

Two functions do the work. ``clean_url`` gives the form we store and show: absolute, ASCII
(IDN hosts in punycode, non-ASCII paths percent-encoded as UTF-8), scheme and host lower-cased,
credentials, default port, fragment and tracking parameters removed, percent-encoding
normalised (RFC 3986 6.2.2: escapes of unreserved characters decoded, other escapes
upper-cased, stray ``%`` escaped), dot segments removed; the remaining query keeps its order.
``url_key`` folds the variants that outlets and aggregators produce for one article (AMP pages,
mobile hosts, ``http``, trailing slashes, parameter order, AMP caches) into one key.

Garbage never raises. Input that is not an absolute ``http(s)`` URL with a valid host after
joining on ``base`` (``mailto:``, ``javascript:``, relative links without a base, broken IPv6
literals, hosts with spaces, ...) comes back from ``clean_url`` and ``url_key`` only stripped
of surrounding whitespace and of tab/CR/LF (as browsers do), and ``is_http_url`` says ``False``
for it, so callers filter with ``is_http_url`` and never see an exception.

Deliberately *not* folded, because real sites serve different pages there: path case,
``index.html`` versus ``/``, repeated slashes inside a path, ``amp`` segments in the middle of
a path, and query parameters that are not known trackers (``?page=2``, ``?id=123``).
Fragments are dropped, so ``#!`` single-page routes collapse onto their page.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import NamedTuple
from urllib.parse import quote, unquote, urljoin, urlsplit

__all__ = [
    "AMP_QUERY_PARAMS",
    "SITE_HOST_PREFIXES",
    "TRACKING_PARAMS",
    "TRACKING_PREFIXES",
    "absolute_http_url",
    "clean_url",
    "domain_name",
    "http_link",
    "is_http_url",
    "on_domains",
    "same_site",
    "url_key",
]

logger = logging.getLogger(__name__)

#: Query parameters (compared lower-cased) that only say where a click came from.
TRACKING_PARAMS: frozenset[str] = frozenset(
    """
    fbclid gclid gclsrc dclid gbraid wbraid msclkid yclid twclid ttclid li_fat_id igshid igsh
    mc_cid mc_eid _ga _gl _hsenc _hsmi mkt_tok vero_id vero_conv oly_anon_id oly_enc_id
    rb_clickid s_cid ocid cmpid cmp icid ito smid smtyp ref_src ref_url ns_source ns_mchannel
    ns_campaign ns_linkname ns_fee __twitter_impression sr_share spm share_source
    """.split()
)
#: Query-parameter prefixes (lower-cased) of whole tracking families (utm_source, pk_kwd, ...).
TRACKING_PREFIXES: tuple[str, ...] = ("utm_", "pk_", "mtm_", "hsa_", "wt.")
#: AMP switches in the query: name -> values (lower-cased) that mean "serve the AMP page".
AMP_QUERY_PARAMS: Mapping[str, frozenset[str]] = MappingProxyType(
    {
        "amp": frozenset({"", "1", "true", "yes"}),
        "_amp": frozenset({"", "1", "true", "yes"}),
        "outputtype": frozenset({"amp"}),
    }
)
#: Host prefixes that name a rendering of a site rather than another site.
SITE_HOST_PREFIXES: tuple[str, ...] = ("www.", "m.", "mobile.", "amp.")

_DEFAULT_PORTS: Mapping[str, int] = MappingProxyType({"http": 80, "https": 443})
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
# Characters left as they are (RFC 3986 pchar / query); everything else is percent-encoded.
_PATH_SAFE = "/:@!$&'()*+,;="
_QUERY_SAFE = "/?:@!$&'()*+,;="
_PCT_ESCAPE = re.compile(r"%([0-9A-Fa-f]{2})")
_STRAY_PCT = re.compile(r"%(?![0-9A-Fa-f]{2})")
_TAB_NEWLINE = re.compile(r"[\t\r\n]")
_ASCII_HOST = re.compile(r"[a-z0-9_-][a-z0-9_.-]*")
_IPV6_HOST = re.compile(r"\[[0-9a-f:.]+\]")
_AMP_CACHE_PATH = re.compile(r"/[cvi]/(s/)?([^/?#]+)(/.*)?")
_AMP_VIEWER_PATH = re.compile(r"/amp/(s/)?([^/?#]+\.[^/?#]+)(/.*)?")
# Whitespace and C0 controls stripped from both ends, as the WHATWG URL parser does.
_EDGE_JUNK = "".join(chr(c) for c in range(0x21))


class _Parts(NamedTuple):
    """A parsed absolute http(s) URL, already normalised component by component."""

    scheme: str
    host: str
    port: int | None
    path: str
    query: tuple[str, ...]  # raw "name=value" items, tracking parameters removed


def _tidy(url: str) -> str:
    """Return ``url`` without edge whitespace/controls and without tab/CR/LF anywhere."""
    return _TAB_NEWLINE.sub("", url.strip(_EDGE_JUNK))


def _escape_fix(match: re.Match[str]) -> str:
    char = chr(int(match.group(1), 16))
    return char if char in _UNRESERVED else "%" + match.group(1).upper()


def _normalise_component(raw: str, safe: str) -> str:
    """Return ``raw`` with RFC 3986 percent-encoding normalisation applied (idempotent)."""
    if "%" in raw:
        raw = _STRAY_PCT.sub("%25", raw)
        raw = _PCT_ESCAPE.sub(_escape_fix, raw)
    # '%' is safe here: every '%' left starts a valid escape.
    return quote(raw, safe=safe + "%", errors="surrogatepass")


def _remove_dot_segments(path: str) -> str:
    """Return ``path`` with ``.`` and ``..`` segments resolved (RFC 3986 5.2.4)."""
    if "/." not in path:
        return path
    out: list[str] = []
    segments = path.split("/")[1:]
    for index, segment in enumerate(segments):
        last = index == len(segments) - 1
        if segment == ".":
            if last:
                out.append("")
        elif segment == "..":
            if out:
                out.pop()
            if last:
                out.append("")
        else:
            out.append(segment)
    return "/" + "/".join(out)


def _normalise_host(host: str) -> str | None:
    """Return the lower-cased ASCII (punycode) host, or None if it is not a valid host."""
    host = host.rstrip(".")
    if not host.isascii():
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            return None
    host = host.lower()
    if _ASCII_HOST.fullmatch(host) or _IPV6_HOST.fullmatch(host):
        return host
    return None


def _split_netloc(netloc: str) -> tuple[str, str] | None:
    """Return (host, port text) of a netloc, credentials dropped; None if malformed."""
    hostport = netloc.rpartition("@")[2]
    if hostport.startswith("["):
        host, bracket, rest = hostport.partition("]")
        if not bracket or (rest and not rest.startswith(":")):
            return None
        return host + "]", rest[1:]
    host, _, port = hostport.partition(":")
    return host, port


def _parse(url: str, base: str | None = None) -> _Parts | None:
    """Return the normalised parts of an absolute http(s) URL, or None for anything else."""
    url = _tidy(url)
    try:
        if base:
            url = urljoin(_tidy(base), url)
        split = urlsplit(url)
    except ValueError:  # invalid IPv6 literal, NFKC-unsafe netloc, ...
        return None
    scheme = split.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        return None
    netloc = _split_netloc(split.netloc)
    if netloc is None:
        return None
    host = _normalise_host(netloc[0])
    if host is None:
        return None
    port: int | None = None
    if netloc[1]:
        if not (netloc[1].isascii() and netloc[1].isdigit()) or int(netloc[1]) > 65535:
            return None
        port = int(netloc[1])
        if port == _DEFAULT_PORTS[scheme]:
            port = None
    path = _remove_dot_segments(_normalise_component(split.path or "/", _PATH_SAFE))
    if not path.startswith("/"):
        path = "/" + path
    query: tuple[str, ...] = ()
    if split.query:
        normalised = _normalise_component(split.query, _QUERY_SAFE)
        query = tuple(item for item in normalised.split("&") if item and not _is_tracking(item))
    return _Parts(scheme, host, port, path, query)


def _param_name(item: str) -> str:
    name = item.partition("=")[0]
    return (unquote(name) if "%" in name else name).lower()


def _is_tracking(item: str) -> bool:
    name = _param_name(item)
    return name in TRACKING_PARAMS or name.startswith(TRACKING_PREFIXES)


def _is_amp_switch(item: str) -> bool:
    values = AMP_QUERY_PARAMS.get(_param_name(item))
    return values is not None and unquote(item.partition("=")[2]).lower() in values


def _build(parts: _Parts) -> str:
    port = f":{parts.port}" if parts.port is not None else ""
    query = "?" + "&".join(parts.query) if parts.query else ""
    return f"{parts.scheme}://{parts.host}{port}{parts.path}{query}"


def clean_url(url: str, base: str | None = None) -> str:
    """Return the display-safe absolute form of ``url`` (see the module docstring).

    Keeps what a reader would want to follow: ``www.``, ``m.``, AMP markers and the order of
    the remaining query parameters. Input that is not an absolute http(s) URL after joining
    on ``base`` is returned stripped of whitespace, never raised on.
    """
    parts = _parse(url, base)
    if parts is None:
        if base:
            try:
                return _tidy(urljoin(_tidy(base), _tidy(url)))
            except ValueError:
                pass
        return _tidy(url)
    return _build(parts)


def _site_host(host: str) -> str:
    """Return ``host`` without rendering prefixes (www., m., mobile., amp.), keeping a dot."""
    stripped = host.startswith(SITE_HOST_PREFIXES)
    while stripped:
        stripped = False
        for prefix in SITE_HOST_PREFIXES:
            if host.startswith(prefix) and "." in host[len(prefix) :]:
                host = host[len(prefix) :]
                stripped = True
    return host


def _is_amp_wrapper(host: str) -> bool:
    """Return True for hosts that serve other sites' pages (AMP cache, Google AMP viewer)."""
    if host.endswith("cdn.ampproject.org"):
        return True
    return host.endswith("google.com") and _site_host(host) == "google.com"


def _unwrap_amp_cache(parts: _Parts) -> _Parts:
    """Return the publisher URL behind a Google AMP cache or AMP viewer URL, else ``parts``."""
    if parts.host.endswith("cdn.ampproject.org"):
        match = _AMP_CACHE_PATH.fullmatch(parts.path)
    else:
        match = _AMP_VIEWER_PATH.fullmatch(parts.path)
    if match is None:
        return parts
    scheme = "https" if match.group(1) else "http"
    inner = f"{scheme}://{match.group(2)}{match.group(3) or '/'}"
    if parts.query:
        inner += "?" + "&".join(parts.query)
    return _parse(inner) or parts


def _strip_amp_path(path: str) -> str:
    """Return ``path`` without trailing slashes and AMP markers, repeated to a fixpoint."""
    while True:
        before = path
        path = path.rstrip("/")
        lowered = path.lower()
        if lowered.endswith("/amp"):
            path = path[:-4]
        elif lowered.startswith("/amp/"):
            path = path[4:]
        elif lowered.endswith(".amp.html") or lowered.endswith(".amp.htm"):
            cut = lowered.rfind(".amp.htm")
            path = path[:cut] + path[cut + 4 :]
        if path == before or not path:
            return path or "/"


def url_key(url: str) -> str:
    """Return the identity key of ``url``: equal keys mean the same article.

    ``clean_url`` plus: https, host without www./m./mobile./amp., AMP markers and AMP caches
    removed, trailing slash removed (except the root), query parameters sorted. Idempotent
    (``url_key(url_key(u)) == url_key(u)``); path segments other than AMP markers are kept, so
    two different article paths never share a key. Non-http(s) input: as ``clean_url``.
    """
    parts = _parse(url)
    if parts is None:
        return clean_url(url)
    parts = _key_parts(parts)
    # A wrapper URL can wrap another one, and stripping AMP markers can expose a wrapper
    # path; repeat to a fixpoint (each round shortens the URL) so the key stays idempotent.
    while _is_amp_wrapper(parts.host):
        again = _key_parts(parts)
        if again == parts:
            break
        parts = again
    return _build(parts)


def _key_parts(parts: _Parts) -> _Parts:
    """Return ``parts`` with every variant marker folded (one round of ``url_key``)."""
    if _is_amp_wrapper(parts.host):
        parts = _unwrap_amp_cache(parts)
    port = None if parts.port == _DEFAULT_PORTS["https"] else parts.port
    query = tuple(sorted(item for item in parts.query if not _is_amp_switch(item)))
    return _Parts("https", _site_host(parts.host), port, _strip_amp_path(parts.path), query)


def is_http_url(url: str) -> bool:
    """Return True if ``url`` is an absolute http(s) URL with a valid host."""
    return _parse(url) is not None


def same_site(a: str, b: str) -> bool:
    """Return True if both URLs are http(s) on one host, ignoring www./m./mobile./amp.

    Sub-domains other than those prefixes count as other sites (news.example.com is not
    example.com): the public-suffix list would be needed to do better, and listing pages
    link their own host.
    """
    parts_a = _parse(a)
    parts_b = _parse(b)
    if parts_a is None or parts_b is None:
        return False
    return _site_host(parts_a.host) == _site_host(parts_b.host)


def domain_name(text: str) -> str | None:
    """Return ``text`` as a lower-cased ASCII domain name ("Spam.Example." -> "spam.example"),
    or None if it is not one (a URL, an IP address, a name without a dot)."""
    host = _normalise_host(text.strip())
    if host is None or "." not in host or host.replace(".", "").isdigit() or ":" in host:
        return None
    return host


def on_domains(url: str, domains: Iterable[str]) -> bool:
    """Return True if ``url``'s host is one of ``domains`` (normalised by domain_name) or a
    sub-domain of one: ``news.spam.example`` is on ``spam.example``, ``notspam.example`` is not."""
    parts = _parse(url)
    if parts is None:
        return False
    host = parts.host
    return any(host == domain or host.endswith("." + domain) for domain in domains)


# What an href must never hold: controls, spaces, bidi controls (which reorder the text around
# the link), quotes that would end an attribute if escaping ever failed, and the backslash
# browsers read as a slash (``<`` and ``>`` are escaped by the templates and percent-encoded
# by browsers).
_NOT_IN_LINK = re.compile(
    "[\x00-\x20\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069" + "\"'`\\\\" + "]"
)
# ASCII control characters, which browsers drop from a link (tab, CR, LF) or never send
_LINK_CONTROLS = re.compile(r"[\x00-\x1f\x7f\ud800-\udfff\ufffe\uffff]")


def http_link(url: str | None) -> str | None:
    """Give ``url`` when it is an absolute http(s) URL safe to put in an href, else None."""
    if not url:
        return None
    url = url.strip()
    if not url or _NOT_IN_LINK.search(url):
        return None
    return url if is_http_url(url) else None


def absolute_http_url(href: str | None, base: str) -> str | None:
    """Give ``href`` joined on ``base``, fragment dropped, when it is an http(s) URL with a
    host; else None (no exception, whatever the page wrote)."""
    if not href:
        return None
    href = _LINK_CONTROLS.sub("", href).strip()
    if not href or href.startswith("#"):
        return None
    try:
        # most sitemap and feed links are absolute already: skip the costly join
        url = href if href.startswith(("http://", "https://")) else urljoin(base, href)
        url = url.partition("#")[0]
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:  # an unbalanced IPv6 bracket, an unusable base
        return None
    if parts.scheme.lower() not in ("http", "https") or not host or re.search(r"\s", url):
        return None
    return url
