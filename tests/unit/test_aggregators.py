"""scraper/core/aggregators.py: search-feed URLs, and aggregator links unwrapped (pure)."""

from __future__ import annotations

import base64

import pytest

from scraper.core import aggregators
from scraper.core.aggregators import AggregatorLink, unwrap
from tests.site import SITE_DIR
from tests.site import aggregators as fake_google

GOOGLE_ID = "CBMiLEFVX3lxTGZpeHR1cmUtZHJhbWFiZWF0LTIwNDI1LWZpbmFsZS1yYXRpbmdz0gEA"
KNOWN = fake_google.articles(SITE_DIR / "hosts")


def embedded_id(url: str) -> str:
    """An older-style Google News article id: the publisher URL in the id's own bytes."""
    data = b"\x08\x13\x22" + bytes([len(url)]) + url.encode() + b"\xd2\x01\x00"
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def test_bing_search_feed_url() -> None:
    url = aggregators.search_feed_url("bing", "Kim Soo-hyun", "en-US")
    assert url == (
        "https://www.bing.com/news/search?q=%22Kim+Soo-hyun%22&format=rss&setlang=en-US&cc=US"
    )


def test_google_search_feed_url() -> None:
    assert aggregators.search_feed_url("google", "Queen of Tears", "en-US") == (
        "https://news.google.com/rss/search?q=%22Queen+of+Tears%22&hl=en-US&gl=US&ceid=US:en"
    )
    korean = aggregators.search_feed_url("google", "눈물의 여왕", "ko-KR", "http://news.google.com")
    assert korean == (
        "http://news.google.com/rss/search?q=%22%EB%88%88%EB%AC%BC%EC%9D%98+%EC%97%AC%EC%99%95%22"
        "&hl=ko&gl=KR&ceid=KR:ko"
    )


def test_one_search_feed_per_distinct_name_and_locale() -> None:
    names = ["Kim Ji-won", "김지원", "Kim Ji-won ", "Queen of Tears"]
    urls = list(aggregators.search_feed_urls("bing", names, ["en-US", "ko-KR"]))
    assert len(urls) == len(set(urls)) == 6


def test_bing_link_gives_the_publisher_url_without_a_request() -> None:
    link = (
        "http://www.bing.com/news/apiclick.aspx?ref=FexRss&aid=&tid=12BE&url="
        "https%3a%2f%2fwww.outlet.example%2fnews%2f2041%3futm_source%3dbing&c=44&mkt=en-us"
    )
    assert unwrap(link) == "https://www.outlet.example/news/2041?utm_source=bing"


@pytest.mark.parametrize(
    "link",
    [
        "http://www.bing.com/news/apiclick.aspx?ref=FexRss&tid=1&c=2",
        "https://www.bing.com/news/apiclick.aspx?url=javascript%3aalert(1)",
    ],
)
def test_bing_link_without_a_publisher_url_is_unresolved(link: str) -> None:
    assert unwrap(link) == AggregatorLink(link)


def test_google_link_needs_resolution_unless_its_id_embeds_the_url() -> None:
    link = f"https://news.google.com/rss/articles/{GOOGLE_ID}?oc=5"
    assert unwrap(link) == AggregatorLink(link, GOOGLE_ID)
    old = f"https://news.google.com/rss/articles/{embedded_id('https://outlet.example/a/1')}?oc=5"
    assert unwrap(old) == "https://outlet.example/a/1"
    read = f"https://news.google.com/read/{GOOGLE_ID}?hl=en-US"
    assert unwrap(read) == AggregatorLink(read, GOOGLE_ID)


@pytest.mark.parametrize(
    "url",
    [
        "https://outlet.example/news/1",
        "https://www.bing.com/news/search?q=x&format=rss",
        "https://news.google.com/rss/search?q=x",
        "https://news.google.com/topics/ABC",
        "http://[::1/broken",
    ],
)
def test_other_links_are_fetched_as_they_are(url: str) -> None:
    assert unwrap(url) == url


def test_google_article_page_keeps_the_feed_locale() -> None:
    link = AggregatorLink(f"http://news.google.com/rss/articles/{GOOGLE_ID}?oc=5", GOOGLE_ID)
    feed = "http://news.google.com/rss/search?q=x&hl=ko&gl=KR&ceid=KR:ko"
    page = aggregators.google_article_page(link, feed)
    assert page == f"http://news.google.com/rss/articles/{GOOGLE_ID}?hl=ko&gl=KR&ceid=KR%3Ako"
    default = aggregators.google_article_page(link)
    assert default.endswith("?hl=en-US&gl=US&ceid=US%3Aen")
    assert aggregators.google_batchexecute_url(page) == (
        "http://news.google.com/_/DotsSplashUi/data/batchexecute"
    )


def test_google_resolution_round_trip_with_the_fake_endpoint() -> None:
    page = fake_google.article_page(f"/rss/articles/{GOOGLE_ID}?hl=en-US", KNOWN)
    assert page is not None
    status, _, html = page
    assert status == 200
    found = aggregators.parse_google_signature(html)
    assert found is not None
    body = aggregators.google_batchexecute_body(GOOGLE_ID, *found)
    answer = fake_google.batchexecute(fake_google.BATCHEXECUTE_PATH, body.encode(), KNOWN)
    assert answer is not None and answer[0] == 200
    assert aggregators.parse_google_batchexecute(answer[2]) == KNOWN[GOOGLE_ID]
    forged = aggregators.google_batchexecute_body(GOOGLE_ID, "AZforged", found[1])
    refused = fake_google.batchexecute(fake_google.BATCHEXECUTE_PATH, forged.encode(), KNOWN)
    assert refused is not None and aggregators.parse_google_batchexecute(refused[2]) is None


@pytest.mark.parametrize(
    "answer",
    [
        "",
        ")]}'\n\nnot json",
        ')]}\'\n\n[["wrb.fr","Fbv4je",null,null,null,[3],"generic"]]',
        ')]}\'\n\n[["wrb.fr","Fbv4je","[\\"garturlres\\",\\"ftp://x\\",1]"]]',
        ')]}\'\n\n{"a": 1}',
    ],
)
def test_batchexecute_answer_without_a_url(answer: str) -> None:
    assert aggregators.parse_google_batchexecute(answer) is None


def test_page_without_signature() -> None:
    assert aggregators.parse_google_signature("<html><body>consent</body></html>") is None


def test_publisher_suffix_is_dropped_from_the_title_hint() -> None:
    strip = aggregators.strip_publisher_suffix
    assert strip("Finale sets a record - DramaBeat", "DramaBeat") == "Finale sets a record"
    assert strip("Finale sets a record", "DramaBeat") == "Finale sets a record"
    assert strip(" - DramaBeat", "DramaBeat") == " - DramaBeat"
    assert strip("Title", None) == "Title" and strip(None, "X") is None


def test_the_fake_google_ids_need_resolution() -> None:
    assert KNOWN
    for article_id in KNOWN:
        link = f"https://news.google.com/rss/articles/{article_id}"
        assert unwrap(link) == AggregatorLink(link, article_id)


def test_a_found_article_belongs_to_the_configured_outlet_of_its_site() -> None:
    outlets = [
        ("Outlet", ["https://www.outlet.example/feed"]),
        ("Other", ["https://other.example/"]),
    ]
    assert aggregators.outlet_for("https://m.outlet.example/news/1", outlets) == "Outlet"
    assert aggregators.outlet_for("https://other.example/a", outlets) == "Other"
    assert aggregators.outlet_for("https://news.outlet.example/a", outlets) is None
