"""Tests for scraper.core.urls: display form, identity key, and their properties."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from scraper.core.urls import (
    AMP_QUERY_PARAMS,
    TRACKING_PARAMS,
    clean_url,
    is_http_url,
    same_site,
    url_key,
)

ARTICLE = "https://example.com/k-drama/2024/04/queen-of-tears-finale"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "HTTPS://WWW.Example.COM:443/news/1?utm_source=x&page=2&fbclid=abc&a=1#top",
            "https://www.example.com/news/1?page=2&a=1",
        ),
        ("http://example.com:80", "http://example.com/"),
        ("http://example.com:8080/a", "http://example.com:8080/a"),
        ("https://user:secret@example.com/a", "https://example.com/a"),
        ("https://example.com/a?gclid=1&mc_cid=2&mc_eid=3&igshid=4&_ga=5", "https://example.com/a"),
        ("https://example.com/a?UTM_Campaign=x&ocid=y&cmpid=z&ref_src=t", "https://example.com/a"),
        ("https://example.com/a?b=2&a=1", "https://example.com/a?b=2&a=1"),
        ("https://example.com/%7euser/a%2fb/%41%zz", "https://example.com/~user/a%2Fb/A%25zz"),
        ("https://example.com/a/./b/../c", "https://example.com/a/c"),
        ("https://example.com/a b", "https://example.com/a%20b"),
        ("  https://example.com/a\n", "https://example.com/a"),
        ("https://m.example.com/amp/a/", "https://m.example.com/amp/a/"),
        (
            "https://example.com/기사/김수현?q=눈물의 여왕",
            "https://example.com/%EA%B8%B0%EC%82%AC/%EA%B9%80%EC%88%98%ED%98%84"
            "?q=%EB%88%88%EB%AC%BC%EC%9D%98%20%EC%97%AC%EC%99%95",
        ),
        ("https://한국일보.kr/a", "https://xn--3e0bm80ac2h5no.kr/a"),
        ("https://EXAMPLE.com./a", "https://example.com/a"),
    ],
)
def test_clean_url(url: str, expected: str) -> None:
    assert clean_url(url) == expected


def test_clean_url_joins_on_base() -> None:
    base = "https://www.example.com/k-drama/page/2/"
    assert clean_url("../../../news/1?utm_medium=rss", base) == "https://www.example.com/news/1"
    assert clean_url("//cdn.example.com/x", base) == "https://cdn.example.com/x"
    assert clean_url("https://other.org/y", base) == "https://other.org/y"


@pytest.mark.parametrize(
    "garbage",
    [
        "",
        "   ",
        "%%%",
        "mailto:desk@example.com",
        "javascript:void(0)",
        "ftp://example.com/file",
        "http://[::1",
        "http://exa mple.com/",
        "http://example.com:99999/",
        "http://example.com:port/",
        "http://example.com:\u00b2/",
        "http://",
        "/relative/path",
        "http://a..b\udcff/",
    ],
)
def test_garbage_is_returned_stripped_and_not_http(garbage: str) -> None:
    assert not is_http_url(garbage)
    assert clean_url(garbage) == clean_url(clean_url(garbage))
    assert url_key(garbage) == url_key(url_key(garbage))
    assert url_key(garbage) == garbage.strip("".join(chr(c) for c in range(0x21)))


@pytest.mark.parametrize(
    "variant",
    [
        ARTICLE,
        "http://example.com/k-drama/2024/04/queen-of-tears-finale",
        "https://www.example.com/k-drama/2024/04/queen-of-tears-finale/",
        "https://m.example.com/k-drama/2024/04/queen-of-tears-finale",
        "https://mobile.example.com/k-drama/2024/04/queen-of-tears-finale",
        "https://amp.example.com/k-drama/2024/04/queen-of-tears-finale",
        "https://EXAMPLE.COM:443/k-drama/2024/04/queen-of-tears-finale#comments",
        "https://example.com/k-drama/2024/04/queen-of-tears-finale/amp",
        "https://example.com/k-drama/2024/04/queen-of-tears-finale/amp/",
        "https://example.com/k-drama/2024/04/queen-of-tears-finale/AMP",
        "https://example.com/amp/k-drama/2024/04/queen-of-tears-finale",
        "https://example.com/k-drama/2024/04/queen-of-tears-finale?amp=1",
        "https://example.com/k-drama/2024/04/queen-of-tears-finale?amp",
        "https://example.com/k-drama/2024/04/queen-of-tears-finale?outputType=amp",
        "https://example.com/k-drama/2024/04/queen-of-tears-finale?utm_source=tw&utm_medium=social",
        "https://example.com/k-drama/2024/04/queen-of-tears-finale?fbclid=IwAR0abc",
        "https://example.com/k-drama/2024/04/%71ueen-of-tears-finale",
        "https://example-com.cdn.ampproject.org/c/s/example.com/k-drama/2024/04/queen-of-tears-finale/amp",
        "https://www.google.com/amp/s/m.example.com/k-drama/2024/04/queen-of-tears-finale/amp/",
    ],
)
def test_url_key_folds_variants(variant: str) -> None:
    assert url_key(variant) == ARTICLE


def test_url_key_amp_html_suffix_and_query_order() -> None:
    assert url_key("https://example.com/news/1.amp.html") == "https://example.com/news/1.html"
    assert url_key("https://example.com/a?b=2&a=1") == url_key("https://example.com/a?a=1&b=2")
    assert url_key("https://example.com/") == "https://example.com/"
    assert url_key("https://example.com/amp") == "https://example.com/"
    assert url_key("http://example.com:8080/a") == "https://example.com:8080/a"


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("https://example.com/news/1", "https://example.com/news/2"),
        ("https://example.com/news/1", "https://example.com/News/1"),
        ("https://example.com/news/1", "https://example.com/news/1/comments"),
        ("https://example.com/news?id=1", "https://example.com/news?id=2"),
        ("https://example.com/a%2Fb", "https://example.com/a/b"),
        ("https://example.com/news/amp-stories", "https://example.com/news"),
        ("https://example.com/amp/news", "https://example.com/amp-news"),
        ("https://news.example.com/a", "https://example.com/a"),
        ("https://m.com/a", "https://com/a"),
    ],
)
def test_url_key_keeps_different_pages_apart(a: str, b: str) -> None:
    assert url_key(a) != url_key(b)


def test_is_http_url() -> None:
    assert is_http_url("https://example.com")
    assert is_http_url("http://192.168.0.1:8080/x")
    assert is_http_url("http://[::1]:8080/x")
    assert is_http_url("https://한국일보.kr/")
    assert is_http_url("\x00 https://example.com\t")  # edge controls are stripped, as browsers do
    assert not is_http_url("//example.com/a")
    assert not is_http_url("file:///etc/passwd")
    assert not is_http_url("https:///no-host")


def test_same_site() -> None:
    assert same_site("https://www.example.com/a", "http://m.example.com/b")
    assert same_site("https://amp.example.com/a", "https://EXAMPLE.com:8443/b")
    assert not same_site("https://news.example.com/a", "https://example.com/a")
    assert not same_site("https://example.com/a", "https://example.org/a")
    assert not same_site("mailto:a@example.com", "https://example.com/")


# --- properties ---------------------------------------------------------------------------

_SEGMENT_CHARS = st.characters(
    codec="utf-8", categories=("L", "N", "P", "S", "Zs"), exclude_characters="/"
)
_segments = st.text(_SEGMENT_CHARS, min_size=1, max_size=12).filter(
    lambda s: (
        s not in {".", ".."}
        and s.lower() != "amp"
        and not s.lower().endswith((".amp.html", ".amp.htm"))
    )
)
_labels = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?", fullmatch=True).filter(
    lambda s: s not in {"www", "m", "mobile", "amp"}
)
_hosts = st.builds(
    lambda labels, tld: ".".join([*labels, tld]),
    st.lists(_labels, min_size=1, max_size=2),
    st.sampled_from(["com", "kr", "co.kr", "net"]),
)
_param_names = st.from_regex(r"[a-z][a-z0-9]{0,6}", fullmatch=True).filter(
    lambda s: s not in TRACKING_PARAMS and s not in AMP_QUERY_PARAMS
)


def _path(segments: list[str]) -> str:
    return "/" + "/".join(quote(segment, safe="") for segment in segments)


@st.composite
def _articles(draw: st.DrawFn) -> tuple[str, list[str], list[tuple[str, str]]]:
    host = draw(_hosts)
    segments = draw(st.lists(_segments, min_size=1, max_size=4))
    params = draw(
        st.lists(
            st.tuples(_param_names, st.from_regex(r"[A-Za-z0-9]{1,5}", fullmatch=True)),
            max_size=3,
            unique_by=lambda p: p[0],
        )
    )
    return host, segments, params


def _url(host: str, segments: list[str], params: list[tuple[str, str]]) -> str:
    query = "&".join(f"{name}={value}" for name, value in params)
    return f"https://{host}{_path(segments)}" + (f"?{query}" if query else "")


_TRACKERS = [
    "utm_source=newsletter",
    "utm_medium=email",
    "fbclid=IwAR0x",
    "gclid=Cj0K",
    "mc_cid=1a2b",
    "mc_eid=3c4d",
    "igshid=abc",
    "_ga=2.1.3",
    "yclid=99",
    "ref_src=twsrc",
]


@given(_articles(), st.data())
@settings(max_examples=200)
def test_key_ignores_variants(
    article: tuple[str, list[str], list[tuple[str, str]]], data: st.DataObject
) -> None:
    host, segments, params = article
    key = url_key(_url(host, segments, params))

    variant_host = data.draw(st.sampled_from(["", "www.", "m.", "mobile.", "amp."])) + host
    if data.draw(st.booleans()):
        variant_host = variant_host.upper()
    scheme = data.draw(st.sampled_from(["http", "https", "HTTPS"]))
    port = data.draw(st.sampled_from(["", ":443" if scheme.lower() == "https" else ":80"]))
    path = _path(segments)
    amp = data.draw(st.sampled_from(["", "/amp", "/amp/", "lead", "query", "outputType"]))
    query_items = [f"{n}={v}" for n, v in data.draw(st.permutations(params))]
    if amp == "lead":
        path = "/amp" + path
    elif amp == "query":
        query_items.append("amp=1")
    elif amp == "outputType":
        query_items.append("outputType=amp")
    elif amp:
        path += amp
    if data.draw(st.booleans()) and not path.endswith("/"):
        path += "/"
    for tracker in data.draw(st.lists(st.sampled_from(_TRACKERS), max_size=3)):
        query_items.insert(data.draw(st.integers(0, len(query_items))), tracker)
    fragment = data.draw(st.sampled_from(["", "#comments", "#:~:text=Kim"]))
    query = "?" + "&".join(query_items) if query_items else ""
    variant = f"{scheme}://{variant_host}{port}{path}{query}{fragment}"

    assert url_key(variant) == key


@given(_articles(), _articles())
@settings(max_examples=200)
def test_key_never_merges_different_paths(
    a: tuple[str, list[str], list[tuple[str, str]]], b: tuple[str, list[str], list[tuple[str, str]]]
) -> None:
    host, segments_a, params = a
    segments_b = b[1]
    if segments_a != segments_b:
        assert url_key(_url(host, segments_a, params)) != url_key(_url(host, segments_b, params))


@given(st.text())
@example("https://a.cdn.ampproject.org/amp/c/s/example.com/x")
@example("https://www.google.com/amp/amp/s/a.b/amp")
@example("http://example.com/amp/./amp/../amp//")
@example("https://x.com/%")
@settings(max_examples=500)
def test_clean_and_key_are_idempotent_on_any_text(text: str) -> None:
    assert clean_url(clean_url(text)) == clean_url(text)
    assert url_key(url_key(text)) == url_key(text)


@given(_articles(), st.sampled_from(["", "/", "/amp", "?amp=1&utm_source=x", "#frag"]))
def test_key_is_idempotent_on_urls(
    article: tuple[str, list[str], list[tuple[str, str]]], suffix: str
) -> None:
    url = _url(*article) + suffix
    assert url_key(url_key(url)) == url_key(url)
    assert clean_url(clean_url(url)) == clean_url(url)
    assert is_http_url(url_key(url))
    assert url_key(url).isascii()
