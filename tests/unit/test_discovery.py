"""Tests for scraper.core.discovery: feeds, sitemaps and listing pages from our own fixtures."""

from __future__ import annotations

import gzip
import re
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scraper.core import discovery
from scraper.core.discovery import (
    Candidate,
    DiscoveryError,
    Listing,
    Sitemap,
    parse_feed,
    parse_listing,
    parse_sitemap,
)

FEEDS = Path(__file__).parents[1] / "fixtures" / "feeds"
PAGES = Path(__file__).parents[1] / "fixtures" / "pages"
KST = timezone(timedelta(hours=9))
SSD = "https://www.seoulscreendaily.example"


def fixture(name: str) -> bytes:
    return (FEEDS / name).read_bytes()


def reason(excinfo: pytest.ExceptionInfo[DiscoveryError]) -> str:
    message = str(excinfo.value)
    assert "\n" not in message and message == excinfo.value.reason
    return message


# -- feeds ---------------------------------------------------------------------------------------


def test_rss2_wordpress_feed() -> None:
    candidates = parse_feed(fixture("rss2_wordpress.xml"), f"{SSD}/feed/")
    assert candidates == [
        Candidate(
            f"{SSD}/2024/04/29/queen-of-tears-finale-rating/",
            datetime(2024, 4, 29, 0, 15, tzinfo=UTC),
            "“Queen of Tears” Signs Off With the Highest Rating in tvN History",
        ),
        Candidate(
            # relative <link> resolved; tracking parameters are urls.py's business, not ours
            f"{SSD}/2024/04/28/kim-ji-won-next-project/?utm_source=rss&utm_medium=rss",
            datetime(2024, 4, 28, 18, 30, tzinfo=KST),
            "Kim Ji-won’s next project: what we know",  # double-escaped &#8217;
        ),
        # the javascript: item is dropped; a permalink guid stands in for a missing <link>
        Candidate(
            f"{SSD}/2024/04/20/park-sung-hoon-villain-interview/",
            datetime(2024, 4, 20, 12, 0, tzinfo=KST),
            "Park Sung-hoon explains his villain",
            modified_at=datetime(2024, 4, 20, 12, 0, tzinfo=KST),  # its dc:date
        ),
        # the repeated finale link is dropped
        Candidate(f"{SSD}/2024/04/10/undated-story/", None, "A story with no date"),
    ]


def test_atom_feed_uses_html_alternate_links_and_xml_base() -> None:
    candidates = parse_feed(fixture("atom.xml"), "https://kwaveinsider.example/feed.atom")
    assert candidates == [
        Candidate(
            "https://kwaveinsider.example/interviews/kim-ji-won-hong-hae-in-interview",
            datetime(2024, 5, 2, 14, 0, tzinfo=UTC),
            "Kim Ji-won on Playing Hong Hae-in: ‘I Wanted Her Pride to Crack Slowly’",
            modified_at=datetime(2024, 5, 2, 16, 45, 10, tzinfo=UTC),  # its <updated>
        ),
        Candidate(
            "https://kwaveinsider.example/news/lee-joo-bin-cheon-da-hye",
            datetime(2024, 5, 1, 9, 30, tzinfo=KST),  # only <updated>
            "Lee Joo-bin on comic timing",
            modified_at=datetime(2024, 5, 1, 9, 30, tzinfo=KST),
        ),
    ]


def test_bing_news_feed_names_the_publisher() -> None:
    first, second = parse_feed(fixture("bing_news.rss"), "https://www.bing.com/news/search")
    assert first.url.startswith("http://www.bing.com/news/apiclick.aspx?ref=FexRss&")
    assert first.publisher == "Seoul Screen Daily" and second.publisher == "Style Notes"
    assert first.published_at == datetime(2026, 11, 30, 9, 15, tzinfo=UTC)
    assert first.title == "Kim Ji-won picks her next drama after a record year"


def test_google_news_feed_names_the_publisher() -> None:
    first, second = parse_feed(fixture("google_news.rss"), "https://news.google.com/rss/search")
    assert first.url.startswith("https://news.google.com/rss/articles/CBMi")
    assert (first.publisher, second.publisher) == ("Seoul Screen Daily", "연예일보")
    assert first.title == "Kim Ji-won picks her next drama after a record year - Seoul Screen Daily"
    assert first.published_at == datetime(2026, 11, 30, 9, 15, tzinfo=UTC)


def test_outlet_feeds_name_no_publisher() -> None:
    candidates = parse_feed(fixture("rss2_wordpress.xml"), "https://outlet.example/feed")
    assert candidates and all(candidate.publisher is None for candidate in candidates)


def test_rss1_rdf_feed() -> None:
    candidates = parse_feed(fixture("rss1_rdf.xml"), "https://kculturewire.example/rss")
    assert [c.url for c in candidates] == [
        "https://kculturewire.example/drama/queen-of-tears-farewell-special",
        "https://kculturewire.example/drama/lovely-runner-ratings",
    ]
    assert candidates[0].published_at == datetime(2024, 5, 3, 17, 20, tzinfo=UTC)
    assert candidates[1].published_at == datetime(2024, 5, 2, tzinfo=UTC)


def test_feed_entries_give_their_modification_dates() -> None:
    feed = b"""<?xml version="1.0"?>
<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom"
     xmlns:dc="http://purl.org/dc/elements/1.1/"><channel><title>t</title>
<item><title>a</title><link>https://x.example/a</link>
  <pubDate>Mon, 29 Apr 2024 00:00:00 GMT</pubDate>
  <atom:updated>2024-04-30T08:00:00Z</atom:updated></item>
<item><title>b</title><link>https://x.example/b</link>
  <pubDate>Mon, 29 Apr 2024 00:00:00 GMT</pubDate>
  <dc:modified>2024-05-01T09:00:00+09:00</dc:modified></item>
<item><title>c</title><link>https://x.example/c</link>
  <pubDate>Mon, 29 Apr 2024 00:00:00 GMT</pubDate></item>
</channel></rss>"""
    found = {c.url[-1]: c.modified_at for c in parse_feed(feed, "https://x.example/feed")}
    assert found == {
        "a": datetime(2024, 4, 30, 8, tzinfo=UTC),
        "b": datetime(2024, 5, 1, 9, tzinfo=KST),
        "c": None,
    }


def test_rss091_feed_without_dates_and_with_html_entities() -> None:
    candidates = parse_feed(fixture("rss091.xml"), "https://www.dramapulse.example/rss.xml")
    assert candidates == [
        Candidate(
            "https://www.dramapulse.example/news/lee-joo-bin-legal-thriller",
            None,
            "Lee Joo-bin Joins a New Legal Thriller",
        ),
        Candidate(
            "https://www.dramapulse.example/news/filming-locations",
            None,
            "Café scenes: where the drama was filmed",
        ),
    ]


def test_euc_kr_feed_with_portal_dates() -> None:
    candidates = parse_feed(
        fixture("korean_euckr.xml"), "https://www.hanryuscreen.example/rss/S1N1.xml"
    )
    assert [c.title for c in candidates] == [
        "'눈물의 여왕', tvN 역대 최고 시청률로 유종의 미",
        "박성훈, 윤은성 캐릭터 비하인드 공개",
    ]
    # a Korean feed's naive date is Seoul time, not UTC
    assert candidates[0].published_at == datetime(2024, 4, 29, 8, 5, tzinfo=KST)
    assert candidates[1].published_at == datetime(2024, 4, 26, 17, 40, tzinfo=KST)


def _naive_dated_feed(language: str, title: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
        f"<title>Seoul desk</title><language>{language}</language>"
        f"<item><title>{title}</title><link>https://desk.example/a/1</link>"
        "<pubDate>2026-12-01 15:05:00</pubDate></item></channel></rss>"
    ).encode()


@pytest.mark.parametrize(
    ("language", "title", "expected"),
    [
        ("ko-KR", "Queen of Tears cast reunites", datetime(2026, 12, 1, 15, 5, tzinfo=KST)),
        ("", "눈물의 여왕 배우들 다시 모였다", datetime(2026, 12, 1, 15, 5, tzinfo=KST)),
        ("en", "Queen of Tears cast reunites", datetime(2026, 12, 1, 15, 5, tzinfo=UTC)),
    ],
)
def test_a_korean_feeds_naive_dates_are_korea_time(
    language: str, title: str, expected: datetime
) -> None:
    [candidate] = parse_feed(_naive_dated_feed(language, title), "https://desk.example/rss")
    assert candidate.published_at == expected


@pytest.mark.parametrize(
    "name", ["rss2_wordpress.xml", "atom.xml", "rss1_rdf.xml", "rss091.xml", "korean_euckr.xml"]
)
def test_feed_dates_are_aware_and_links_absolute(name: str) -> None:
    candidates = parse_feed(fixture(name), "https://feeds.example/feed")
    assert candidates
    for candidate in candidates:
        assert candidate.url.startswith(("http://", "https://"))
        assert candidate.published_at is None or candidate.published_at.tzinfo is not None


def test_gzip_feed_is_read() -> None:
    body = fixture("rss1_rdf.xml")
    base = "https://kculturewire.example/rss"
    assert parse_feed(gzip.compress(body, mtime=0), base) == parse_feed(body, base)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"", "empty body"),
        (b"  \n ", "empty body"),
        ((FEEDS / "error_page.html").read_bytes(), "not a feed (an HTML page)"),
        (b"<!-- cached --><html><body>Service unavailable</body></html>", "not a feed"),
        (b'{"items": []}', "not a feed"),
        (b"/etc/passwd", "not a feed"),  # a path: feedparser must not open it
        (b"https://www.seoulscreendaily.example/feed/", "not a feed"),  # nor fetch a URL
        (b"\x1f\x8b\x08\x00garbage", "corrupt gzip body"),
    ],
)
def test_not_a_feed(body: bytes, expected: str) -> None:
    with pytest.raises(DiscoveryError) as excinfo:
        parse_feed(body, f"{SSD}/feed/")
    assert reason(excinfo).startswith(expected)


def test_sitemap_is_not_a_feed() -> None:
    with pytest.raises(DiscoveryError, match="not a feed"):
        parse_feed(fixture("sitemap_urlset.xml"), f"{SSD}/feed/")


@pytest.mark.parametrize("name", ["rss2_wordpress.xml", "atom.xml", "rss1_rdf.xml"])
@pytest.mark.parametrize("keep", [0.3, 0.6, 0.97])
def test_truncated_feed(name: str, keep: float) -> None:
    body = fixture(name)
    with pytest.raises(DiscoveryError) as excinfo:
        parse_feed(body[: int(len(body) * keep)], "https://feeds.example/feed")
    assert reason(excinfo).startswith("truncated feed")


def test_lenient_feed_with_trailing_comment_is_not_truncated() -> None:
    body = (
        b'<?xml version="1.0"?><rss version="0.91"><channel><title>x</title>'
        b"<item><title>Caf&eacute;</title><link>https://news.example/a</link></item>"
        b"</channel></rss>\n<!-- served from cache in 0.02s -->\n"
    )
    assert [c.title for c in parse_feed(body, "https://news.example/rss")] == ["Café"]


def test_feed_with_empty_channel_is_empty_not_an_error() -> None:
    body = b'<?xml version="1.0"?><rss version="2.0"><channel><title>x</title></channel></rss>'
    assert parse_feed(body, "https://feeds.example/feed") == []


# -- sitemaps ------------------------------------------------------------------------------------


def test_urlset() -> None:
    sitemap = parse_sitemap(fixture("sitemap_urlset.xml"), f"{SSD}/post-sitemap1.xml")
    assert sitemap.children == []
    assert sitemap.urls == [
        Candidate(
            f"{SSD}/2024/04/29/queen-of-tears-finale-rating/",
            datetime(2024, 4, 30, 2, 2, 41, tzinfo=UTC),
            modified_at=datetime(2024, 4, 30, 2, 2, 41, tzinfo=UTC),  # <lastmod>
        ),
        Candidate(
            f"{SSD}/2024/04/27/lovely-runner-episode-ratings/",  # whitespace around <loc>
            datetime(2024, 4, 27, tzinfo=UTC),
            modified_at=datetime(2024, 4, 27, tzinfo=UTC),
        ),
        Candidate(f"{SSD}/2024/04/20/park-sung-hoon-villain-interview/", None),  # bad lastmod
        Candidate(f"{SSD}/2024/04/18/queen-of-tears-ost-album/", None),  # relative loc
        # the ftp: entry and the entry without <loc> are dropped
    ]


def test_sitemap_index() -> None:
    sitemap = parse_sitemap(fixture("sitemap_index.xml"), f"{SSD}/sitemap_index.xml")
    assert sitemap.urls == []
    assert sitemap.children == [
        Candidate(
            f"{SSD}/post-sitemap1.xml",
            datetime(2024, 4, 30, 2, 2, 41, tzinfo=UTC),
            modified_at=datetime(2024, 4, 30, 2, 2, 41, tzinfo=UTC),
        ),
        Candidate(
            f"{SSD}/post-sitemap2.xml.gz",
            datetime(2024, 3, 31, 23, 59, 59, tzinfo=KST),
            modified_at=datetime(2024, 3, 31, 23, 59, 59, tzinfo=KST),
        ),
        Candidate(f"{SSD}/news-sitemap.xml", None),
    ]


def test_google_news_sitemap_prefers_publication_date() -> None:
    base = "https://www.hanryuscreen.example/news-sitemap.xml"
    sitemap = parse_sitemap(fixture("sitemap_news.xml"), base)
    assert sitemap.urls == [
        Candidate(
            "https://www.hanryuscreen.example/news/articleView.html?idxno=310245",
            datetime(2024, 4, 29, 8, 5, tzinfo=KST),  # not the later <lastmod>
            "'눈물의 여왕', tvN 역대 최고 시청률로 유종의 미",
            modified_at=datetime(2024, 4, 29, 9, 40, tzinfo=KST),  # which says it changed
        ),
        Candidate(
            "https://www.hanryuscreen.example/news/articleView.html?idxno=310101&sc_section_code=S1N1",
            datetime(2024, 4, 26, tzinfo=KST),  # <news:language>ko: a bare date is Seoul time
            "박성훈, 윤은성 캐릭터 “비하인드” 공개",
        ),
    ]


def test_sitemap_without_namespace() -> None:
    sitemap = parse_sitemap(fixture("sitemap_plain.xml"), "https://kculturewire.example/s.xml")
    assert [c.url for c in sitemap.urls] == [
        "https://kculturewire.example/drama/queen-of-tears-farewell-special",
        "https://kculturewire.example/drama/lovely-runner-ratings",
    ]
    assert sitemap.urls[0].published_at == datetime(2024, 5, 3, 18, 20, tzinfo=UTC)


@pytest.mark.parametrize("name", ["sitemap_urlset.xml", "sitemap_index.xml", "sitemap_news.xml"])
def test_gzip_sitemap_reads_like_the_plain_one(name: str) -> None:
    body = fixture(name)
    assert parse_sitemap(gzip.compress(body, mtime=0), SSD) == parse_sitemap(body, SSD)


def test_image_loc_is_not_the_page_url() -> None:
    body = (
        b'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
        b'xmlns:image="http://www.google.com/schemas/sitemap-image/1.1"><url>'
        b"<image:image><image:loc>https://cdn.example/a.jpg</image:loc>"
        b"<image:title>A still</image:title></image:image>"
        b"<loc>https://news.example/story</loc></url></urlset>"
    )
    assert parse_sitemap(body, "https://news.example/") == Sitemap(
        children=[], urls=[Candidate("https://news.example/story", None)]
    )


def test_huge_sitemap_is_streamed() -> None:
    count = 50_000
    entries = "".join(
        f"<url><loc>https://news.example/2024/story-{i}</loc><lastmod>2024-04-29</lastmod></url>"
        for i in range(count)
    )
    body = (
        '<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        + entries
        + "</urlset>"
    ).encode()
    sitemap = parse_sitemap(gzip.compress(body, compresslevel=1), "https://news.example/")
    assert len(sitemap.urls) == count
    day = datetime(2024, 4, 29, tzinfo=UTC)
    assert sitemap.urls[-1] == Candidate(
        f"https://news.example/2024/story-{count - 1}", day, modified_at=day
    )


def test_oversized_body_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(discovery, "MAX_BODY_BYTES", 1_000)
    bomb = gzip.compress(b"<urlset>" + b" " * 10_000 + b"</urlset>")
    with pytest.raises(DiscoveryError, match="larger than"):
        parse_sitemap(bomb, SSD)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"", "empty body"),
        ((FEEDS / "error_page.html").read_bytes(), "not a sitemap (root element <html>)"),
        (fixture("rss2_wordpress.xml"), "not a sitemap (root element <rss>)"),
        (fixture("sitemap_urlset.xml")[:700], "truncated or malformed sitemap"),
        (b"<html><body><p>Bad gateway", "not a sitemap (root element <html>)"),
        (b"\x00\x01\x02 random \xff bytes", "not XML"),
        (b"just some text", "not XML"),
        (b"\x1f\x8b\x08\x00\x00\x00\x00\x00", "corrupt gzip body"),
        (b'<?xml version="1.0" encoding="no-such-charset"?><urlset/>', "not XML"),
    ],
)
def test_not_a_sitemap(body: bytes, expected: str) -> None:
    with pytest.raises(DiscoveryError) as excinfo:
        parse_sitemap(body, SSD)
    assert reason(excinfo).startswith(expected)


def test_sitemap_entities_are_not_resolved() -> None:
    body = (
        b'<?xml version="1.0"?><!DOCTYPE urlset [<!ENTITY secret SYSTEM "file:///etc/hostname">'
        b'<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>'
        b"<urlset><url><loc>https://news.example/&secret;</loc></url>"
        b"<url><loc>https://news.example/&b;</loc></url></urlset>"
    )
    try:
        sitemap = parse_sitemap(body, "https://news.example/")
    except DiscoveryError:
        return
    for candidate in sitemap.urls:
        assert len(candidate.url) < 60


# -- listing pages -------------------------------------------------------------------------------


LISTING_URL = f"{SSD}/category/k-drama/"


def test_listing_articles_come_from_the_content_area() -> None:
    html = (PAGES / "listing.html").read_text(encoding="utf-8")
    listing = parse_listing(html, LISTING_URL, re.compile(r"/k-drama/page/\d+"))
    assert listing == Listing(
        articles=[
            f"{SSD}/2024/04/29/queen-of-tears-finale-rating/",
            f"{SSD}/2024/04/27/lovely-runner-episode-ratings/",
            f"{SSD}/2024/04/20/park-sung-hoon-villain-interview/",
            "https://seoulscreendaily.example/2024/04/18/queen-of-tears-ost-album/",
        ],
        next_pages=[
            f"{SSD}/category/k-drama/page/2/",
            f"{SSD}/category/k-drama/page/3/?utm_source=pager",
        ],
    )


def test_listing_skips_site_furniture_and_non_articles() -> None:
    html = (PAGES / "listing.html").read_text(encoding="utf-8")
    articles = parse_listing(html, LISTING_URL, None).articles
    for unwanted in (
        "nav-featured-story",  # nav
        "footer-linked-story",  # footer
        "park-sung-hoon-instagram-post",  # aside
        "old-comment-target",  # comments
        "/tag/",
        "/category/",
        "/author/",
        "/login/",
        "partner.example",  # another site
        "javascript:",
        "mailto:",
        "#",
    ):
        assert not any(unwanted in url for url in articles), unwanted


def test_listing_without_follow_still_has_rel_next() -> None:
    html = (PAGES / "listing.html").read_text(encoding="utf-8")
    assert parse_listing(html, LISTING_URL, None).next_pages == [f"{SSD}/category/k-drama/page/2/"]


def test_portal_listing_without_semantic_markup() -> None:
    base = "https://www.hanryuscreen.example/news/articleList.html?sc_section_code=S1N1"
    html = (FEEDS / "listing_portal.html").read_text(encoding="utf-8")
    listing = parse_listing(html, base, re.compile(r"articleList\.html\?page=\d+"))
    assert listing == Listing(
        articles=[
            "https://www.hanryuscreen.example/news/articleView.html?idxno=310245",
            "https://www.hanryuscreen.example/news/articleView.html?idxno=310101",
        ],
        next_pages=[
            "https://www.hanryuscreen.example/news/articleList.html?page=2&sc_section_code=S1N1",
            "https://www.hanryuscreen.example/news/articleList.html?page=3&sc_section_code=S1N1",
        ],
    )


def test_listing_respects_base_href_and_rel_next_links() -> None:
    html = (
        '<html><head><base href="https://news.example/drama/"></head><body><main>'
        '<h2><a href="2024/finale">Finale</a></h2>'
        '<h2><a href="https://www.news.example/2024/special">Special</a></h2>'
        '<a rel="next" href="?page=2">Older</a>'
        '<a href="ftp://news.example/file">ftp</a><a href="data:text/html,hi">data</a>'
        "</main></body></html>"
    )
    listing = parse_listing(html, "https://news.example/drama", None)
    assert listing.articles == [
        "https://news.example/drama/2024/finale",
        "https://www.news.example/2024/special",
    ]
    assert listing.next_pages == ["https://news.example/drama/?page=2"]


def test_listing_header_inside_article_card_is_content() -> None:
    html = (
        "<html><body><header><a href='/2024/header-story'>x</a></header>"
        "<article><header><h2><a href='/2024/card-story'>Card</a></h2></header></article>"
        "</body></html>"
    )
    assert parse_listing(html, "https://news.example/", None).articles == [
        "https://news.example/2024/card-story"
    ]


def test_listing_built_with_page_builder_widgets() -> None:
    html = (
        '<html><body><div class="elementor-widget elementor-widget-posts">'
        '<article class="elementor-post"><h3><a href="/2024/04/29/finale/">Finale</a></h3>'
        '</article></div><div class="sidebar"><a href="/2024/04/01/old/">old</a></div>'
        "</body></html>"
    )
    assert parse_listing(html, "https://news.example/drama/", None).articles == [
        "https://news.example/2024/04/29/finale/"
    ]


def test_listing_in_a_theme_that_marks_body_and_wrappers_with_sidebar() -> None:
    html = (
        '<html><body class="archive has-sidebar"><div class="content-sidebar-wrap">'
        '<main class="content"><h2><a href="/2024/04/29/finale/">Finale</a></h2></main>'
        '<aside class="sidebar"><a href="/2024/04/01/old/">old</a></aside></div></body></html>'
    )
    assert parse_listing(html, "https://news.example/drama/", None).articles == [
        "https://news.example/2024/04/29/finale/"
    ]


def test_listing_with_encoding_declaration() -> None:
    html = (
        '<?xml version="1.0" encoding="euc-kr"?><html><body><a href="/a/1">기사</a></body></html>'
    )
    assert parse_listing(html, "https://news.example/", None).articles == [
        "https://news.example/a/1"
    ]


@pytest.mark.parametrize("base", ["https://[broken/", "not a url", ""])
def test_listing_with_unusable_base_url(base: str) -> None:
    html = (FEEDS / "listing_portal.html").read_text(encoding="utf-8")
    listing = parse_listing(html, base, re.compile(r"page=\d+"))
    assert listing.articles == []  # relative links cannot be placed, absolute ones are off-site
    assert listing.next_pages == []


@pytest.mark.parametrize("html", ["", "   \n"])
def test_empty_listing_page(html: str) -> None:
    with pytest.raises(DiscoveryError, match="empty page"):
        parse_listing(html, "https://news.example/", None)


# -- nothing but DiscoveryError ever escapes -----------------------------------------------------

ALL_FIXTURES = sorted(path.name for path in FEEDS.iterdir()) + ["../pages/listing.html"]
BASES = st.sampled_from(
    ["https://news.example/feed", "http://[::1]/x", "not a url", "", "https://[broken/"]
)


def check_feed(body: bytes, base: str) -> None:
    try:
        candidates = parse_feed(body, base)
    except DiscoveryError as err:
        assert "\n" not in str(err)
        return
    for candidate in candidates:
        assert candidate.url.startswith(("http://", "https://"))
        assert candidate.published_at is None or candidate.published_at.tzinfo is not None


def check_sitemap(body: bytes, base: str) -> None:
    try:
        sitemap = parse_sitemap(body, base)
    except DiscoveryError as err:
        assert "\n" not in str(err)
        return
    for candidate in [*sitemap.children, *sitemap.urls]:
        assert candidate.url.startswith(("http://", "https://"))


def check_listing(html: str, base: str) -> None:
    try:
        listing = parse_listing(html, base, re.compile(r"page"))
    except DiscoveryError as err:
        assert "\n" not in str(err)
        return
    for url in [*listing.articles, *listing.next_pages]:
        assert url.startswith(("http://", "https://"))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=st.binary(max_size=4096), base=BASES)
def test_random_bytes_raise_only_discovery_error(body: bytes, base: str) -> None:
    check_feed(body, base)
    check_sitemap(body, base)
    check_listing(body.decode("latin-1"), base)
    check_listing(body.decode("utf-8", "replace"), base)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    name=st.sampled_from(ALL_FIXTURES),
    cut=st.floats(min_value=0, max_value=1),
    noise=st.binary(max_size=32),
    base=BASES,
)
def test_damaged_fixtures_raise_only_discovery_error(
    name: str, cut: float, noise: bytes, base: str
) -> None:
    body = (FEEDS / name).read_bytes()
    position = int(len(body) * cut)
    damaged = body[:position] + noise + body[position + len(noise) :]
    for variant in (body[:position], damaged, gzip.compress(damaged, mtime=0)):
        check_feed(variant, base)
        check_sitemap(variant, base)
        check_listing(variant.decode("utf-8", "replace"), base)
