"""scraper.core.extract: golden pages with expected fields, then each rule on small pages."""

from __future__ import annotations

import json
import random
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scraper.core.extract import (
    MAX_TITLE_CHARS,
    Extracted,
    Rejected,
    extract,
)

PAGES = Path(__file__).parents[1] / "fixtures" / "pages"
GOLDEN = sorted(path.stem for path in PAGES.glob("*.json"))
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")

BODY = (
    "<p>Kim Ji-won and Kim Soo-hyun led the weekend drama through sixteen episodes, and the "
    "finale drew the largest audience the cable channel had ever recorded for a series.</p>"
    "<p>The production company said the cast would return for a farewell special in May, "
    "with unaired footage from the location shoots and questions sent in by viewers.</p>"
)


def page(
    *,
    head: str = "",
    body: str = BODY,
    title: str | None = "A headline about the drama",
    lang: str | None = "en",
) -> str:
    """A small but complete article page; each test adds the markup it is about."""
    lang_attr = f' lang="{lang}"' if lang else ""
    title_tag = f"<title>{title}</title>" if title is not None else ""
    return (
        f"<!DOCTYPE html><html{lang_attr}><head><meta charset='utf-8'>{title_tag}{head}</head>"
        f"<body><article>{body}</article></body></html>"
    )


def extracted(html: str, url: str = "https://news.example/2024/story", **hints: Any) -> Extracted:
    result = extract(html, url, **hints)
    assert isinstance(result, Extracted), result
    return result


# -- golden pages --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", GOLDEN)
def test_golden_page(name: str) -> None:
    case = json.loads((PAGES / f"{name}.json").read_text(encoding="utf-8"))
    html = (PAGES / f"{name}.html").read_text(encoding="utf-8")
    expected = case["expected"]
    result = extract(html, case["url"])

    if expected.get("rejected"):
        assert isinstance(result, Rejected), result
        assert result.url == case["url"]
        assert result.reason.startswith(expected["reason_startswith"])
        return
    assert isinstance(result, Extracted), result
    assert result.url == case["url"]
    for field in ("title", "author", "language", "canonical_url", "site_name"):
        assert getattr(result, field) == expected[field], field
    if expected["published_at"] is None:
        assert result.published_at is None
    else:
        assert result.published_at == datetime.fromisoformat(expected["published_at"])
        assert result.published_at is not None and result.published_at.tzinfo is not None
    assert result.text.startswith(expected["text_startswith"])
    assert result.text.endswith(expected["text_endswith"])
    for snippet in expected["text_contains"]:
        assert snippet in result.text
    for snippet in expected["text_excludes"]:
        assert snippet not in result.text, snippet
        assert snippet not in result.title, snippet


def test_there_are_enough_golden_pages() -> None:
    assert len(GOLDEN) >= 8
    for name in GOLDEN:
        assert (PAGES / f"{name}.html").is_file()


@pytest.mark.parametrize(
    ("name", "only_outside_body"),
    [("wordpress_finale", "Park Sung-hoon"), ("korean_portal", "박성훈")],
)
def test_name_only_in_sidebar_related_or_comments_stays_out_of_text(
    name: str, only_outside_body: str
) -> None:
    case = json.loads((PAGES / f"{name}.json").read_text(encoding="utf-8"))
    html = (PAGES / f"{name}.html").read_text(encoding="utf-8")
    # the page names them in its trending box, related links and a comment
    assert html.count(only_outside_body) >= 3
    result = extracted(html, case["url"])
    assert only_outside_body not in result.text
    assert only_outside_body not in result.title


def test_results_do_not_depend_on_earlier_pages() -> None:
    """The syndicated copy repeats the original's body: trafilatura's dedup cache must be off."""
    original = (PAGES / "jsonld_graph.html").read_text(encoding="utf-8")
    copy = (PAGES / "syndicated.html").read_text(encoding="utf-8")
    first = extracted(original, "https://kwaveinsider.example/a")
    second = extracted(copy, "https://asiaentertainmenthub.example/b")
    again = extracted(original, "https://kwaveinsider.example/a")
    assert first == again
    assert second.text == first.text.split("\n", 1)[1]  # the copy has no standfirst


# -- titles --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("title", "head"),
    [
        ("Finale breaks record | Seoul Screen Daily", ""),
        ("Finale breaks record - Seoul Screen Daily", ""),
        ("Finale breaks record – Seoul Screen Daily", ""),
        ("Finale breaks record — Seoul Screen Daily", ""),
        ("Finale breaks record :: Seoul Screen Daily", ""),
        ("Seoul Screen Daily | Finale breaks record", ""),
        ("Finale breaks record | SEOUL SCREEN DAILY", ""),
        ("Finale breaks record | Screen", '<meta name="application-name" content="Screen">'),
        (
            "Finale breaks record | Newsdesk",
            '<meta property="og:title" content="Finale breaks record">',
        ),
        (
            "Something else",
            '<meta property="og:title" content="Finale breaks record | Seoul Screen Daily">',
        ),
        ("Something else", '<meta name="twitter:title" content="Finale breaks record">'),
    ],
)
def test_title_loses_outlet_affix(title: str, head: str) -> None:
    head += '<meta property="og:site_name" content="Seoul Screen Daily">'
    result = extracted(page(title=title, head=head))
    assert result.title == "Finale breaks record"


def test_title_uses_host_when_outlet_is_not_declared() -> None:
    html = page(title="Finale breaks record | Seoul Screen Daily")
    result = extracted(html, "https://www.seoulscreendaily.example/2024/finale")
    assert result.title == "Finale breaks record"
    assert result.site_name == "Seoul Screen Daily"


def test_title_keeps_dashes_that_are_part_of_the_headline() -> None:
    headline = "Kim Soo-hyun - the actor who never says no"
    result = extracted(page(title=headline, head='<meta property="og:site_name" content="Pulse">'))
    assert result.title == headline


def test_title_prefers_the_article_h1() -> None:
    body = "<h1>The headline on the page</h1>" + BODY
    head = '<meta property="og:title" content="An SEO variant of the headline">'
    assert extracted(page(head=head, body=body)).title == "The headline on the page"


def test_page_builder_widgets_are_not_sidebars() -> None:
    body = (
        '<div class="elementor-widget elementor-widget-theme-post-title">'
        "<h1>The headline in a widget</h1></div>"
        '<div class="elementor-widget-post-info"><time datetime="2024-04-29T09:00:00Z">x</time>'
        f'</div><div class="elementor-widget-theme-post-content">{BODY}</div>'
    )
    result = extracted(page(title="Other | Pulse", body=body))
    assert result.title == "The headline in a widget"
    assert result.published_at == datetime(2024, 4, 29, 9, tzinfo=UTC)


def test_sidebar_classes_on_body_and_wrappers_do_not_hide_the_article() -> None:
    html = page(body=TIME_IN_HEADER + BODY).replace(
        "<body>", '<body class="single has-sidebar"><div class="content-sidebar-wrap">'
    )
    result = extracted(html)
    assert result.title == "The article's own headline"
    assert result.published_at == datetime(2024, 4, 4, 12, tzinfo=UTC)


def test_logo_h1_is_not_a_title() -> None:
    html = page(
        title="Finale breaks record | Pulse",
        head='<meta property="og:site_name" content="Pulse">',
    ).replace("<body>", '<body><header><h1><a href="/">Pulse</a></h1></header>')
    assert extracted(html).title == "Finale breaks record"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("&#8220;Queen of Tears&#8221; ends", "“Queen of Tears” ends"),
        ("&amp;#8220;Queen of Tears&amp;#8221; ends", "“Queen of Tears” ends"),
        ("Tom &amp; Jerry &hellip; again", "Tom & Jerry … again"),
        ("&lt;b&gt;Bold&lt;/b&gt; claim", "Bold claim"),
    ],
)
def test_title_entities_are_decoded(raw: str, expected: str) -> None:
    html = page(title="x", head=f'<meta property="og:title" content="{raw}">')
    assert extracted(html).title == expected


def test_script_element_in_headline_is_dropped() -> None:
    body = "<h1>Casting news <script>alert(document.cookie)</script></h1>" + BODY
    result = extracted(page(title="Casting news | Pulse", body=body), "https://pulse.example/a")
    assert result.title == "Casting news"


def test_script_written_as_text_in_headline_stays_text() -> None:
    # the page shows the characters; only real markup is removed, and every output escapes
    shown = "&lt;script&gt;alert(1)&lt;/script&gt;"
    body = f"<h1>Why fans typed {shown} into the vote</h1>" + BODY
    result = extracted(page(title=f"Why fans typed {shown} into the vote | Pulse", body=body))
    assert result.title == "Why fans typed <script>alert(1)</script> into the vote"


@pytest.mark.parametrize(
    ("generic", "head"),
    [
        ("Article View", ""),
        ("News", ""),
        ("기사 상세", ""),
        ("기사상세 | Pulse", '<meta property="og:site_name" content="Pulse">'),
        ("Pulse", '<meta property="og:site_name" content="Pulse">'),
        ("Drama", '<meta property="article:section" content="Drama">'),
    ],
)
def test_generic_cms_title_is_never_the_headline(generic: str, head: str) -> None:
    head += f'<meta property="og:title" content="{generic}">'
    body = "<h2>The headline just above the story</h2>" + BODY
    assert extracted(page(title=generic, head=head, body=body)).title == (
        "The headline just above the story"
    )


def test_headline_equal_to_its_section_is_kept_when_the_page_has_no_other() -> None:
    head = '<meta property="article:section" content="Ratings table">'
    assert extracted(page(title="Ratings table", head=head)).title == "Ratings table"


def test_application_name_filled_with_the_headline_is_not_the_site() -> None:
    headline = "A headline that the template also put in application-name"
    head = (
        f'<meta name="application-name" content="{headline}">'
        '<meta property="og:site_name" content="Pulse">'
        f'<meta property="og:title" content="{headline}">'
    )
    assert extracted(page(title=headline, head=head)).title == headline


def test_headline_linking_to_another_page_is_a_story_card() -> None:
    body = (
        '<article class="card"><h1><a href="https://elsewhere.example/other">'
        "A story card from another outlet</a></h1></article>"
        '<h2 itemprop="headline"><a href="">The page\'s own headline</a></h2>' + BODY
    )
    assert extracted(page(title="x", body=body)).title == "The page's own headline"


def test_overlong_title_is_cut() -> None:
    result = extracted(page(title="Kim Soo-hyun " * 800))
    assert len(result.title) == MAX_TITLE_CHARS
    assert result.title.endswith("…")


def test_hint_title_only_when_page_has_none() -> None:
    html = page(title=None)
    assert extracted(html, hint_title="From the feed").title == "From the feed"
    assert extracted(page(), hint_title="From the feed").title == "A headline about the drama"


def test_page_without_any_title_takes_its_first_sentence() -> None:
    result = extracted(page(title=None))
    assert result.title == (
        "Kim Ji-won and Kim Soo-hyun led the weekend drama through sixteen episodes, and the "
        "finale drew the largest audience the cable channel had ever recorded for a series."
    )
    assert result.text.startswith(result.title)


# -- dates ---------------------------------------------------------------------------------------


ARTICLE_META = '<meta property="article:published_time" content="2024-04-01T09:00:00+09:00">'
JSON_LD = (
    '<script type="application/ld+json">{"@context":"https://schema.org","@graph":['
    '{"@type":"WebPage","datePublished":"2024-01-01T00:00:00Z"},'
    '{"@type":"NewsArticle","datePublished":"2024-04-02T00:00:00Z"}]}</script>'
)
ITEMPROP = '<span itemprop="datePublished" content="2024-04-03T00:00:00Z">April 3</span>'
TIME = '<time datetime="2024-04-04T12:00:00">April 4</time>'
TIME_IN_HEADER = f"<header><h1>The article's own headline</h1>{TIME}</header>"


@pytest.mark.parametrize(
    ("head", "body", "expected"),
    [
        (ARTICLE_META + JSON_LD, ITEMPROP + TIME, datetime(2024, 4, 1, tzinfo=UTC)),
        (JSON_LD, ITEMPROP + TIME, datetime(2024, 4, 2, tzinfo=UTC)),
        ("", ITEMPROP + TIME, datetime(2024, 4, 3, tzinfo=UTC)),
        ("", TIME, datetime(2024, 4, 4, 12, tzinfo=UTC)),
        ('<meta property="article:published_time" content="garbage">', TIME, None),
    ],
)
def test_published_at_prefers_the_most_explicit_markup(
    head: str, body: str, expected: datetime | None
) -> None:
    result = extracted(page(head=head, body=body + BODY))
    want = expected or datetime(2024, 4, 4, 12, tzinfo=UTC)
    assert result.published_at == want
    assert result.published_at is not None and result.published_at.tzinfo is not None


def test_published_at_from_graph_without_article_type() -> None:
    head = (
        '<script type="application/ld+json">[{"@type":"BreadcrumbList"},'
        '{"@graph":[{"@type":"WebPage","datePublished":"2024-04-26 10:30"}]}]</script>'
    )
    result = extracted(page(head=head))
    assert result.published_at == datetime(2024, 4, 26, 10, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    "elsewhere",
    [
        '<div class="comments"><time datetime="2025-01-01T00:00:00Z">later</time></div>',
        '<aside><time datetime="2025-01-01T00:00:00Z">later</time></aside>',
        '<div id="related-posts"><time datetime="2025-01-01T00:00:00Z">later</time></div>',
    ],
)
def test_time_elements_outside_the_article_do_not_date_it(elsewhere: str) -> None:
    result = extracted(page(body=elsewhere + TIME + BODY))
    assert result.published_at == datetime(2024, 4, 4, 12, tzinfo=UTC)


def test_trafilatura_date_is_used_when_markup_has_none() -> None:
    result = extracted(page(), "https://news.example/2024/04/29/finale-record/")
    assert result.published_at == datetime(2024, 4, 29, tzinfo=UTC)


def test_hint_date_only_when_page_has_none() -> None:
    hint = datetime(2024, 4, 20, 8, 0)  # naive: taken as UTC
    result = extracted(page(), hint_published_at=hint)
    assert result.published_at == datetime(2024, 4, 20, 8, 0, tzinfo=UTC)
    dated = extracted(page(body=TIME + BODY), hint_published_at=hint)
    assert dated.published_at == datetime(2024, 4, 4, 12, tzinfo=UTC)


# -- language, canonical URL, author, site name ------------------------------------------------


@pytest.mark.parametrize(
    ("lang", "head", "expected"),
    [
        ("en-US", "", "en"),
        ("ko_KR", "", "ko"),
        (None, '<meta property="og:locale" content="ko_KR">', "ko"),
        (None, '<meta http-equiv="content-language" content="en-GB, ko">', "en"),
        ("x-klingon-nonsense!", "", None),
        ("und", "", None),
        (None, "", None),
    ],
)
def test_language(lang: str | None, head: str, expected: str | None) -> None:
    assert extracted(page(lang=lang, head=head)).language == expected


def test_language_of_undeclared_hangul_page() -> None:
    body = (
        "<p>"
        + "배우 김수현이 주연을 맡은 드라마가 최고 시청률을 기록하며 막을 내렸다. " * 8
        + "</p>"
    )
    assert extracted(page(lang=None, body=body)).language == "ko"


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        ('<link rel="canonical" href="/2024/story">', "https://news.example/2024/story"),
        ('<link rel="Canonical" href="https://news.example/c">', "https://news.example/c"),
        ('<link rel="canonical" href="//cdn.news.example/c">', "https://cdn.news.example/c"),
        ('<meta property="og:url" content="https://news.example/og">', "https://news.example/og"),
        (
            '<link rel="canonical" href="javascript:alert(1)">'
            '<meta property="og:url" content="/og">',
            "https://news.example/og",
        ),
        ('<link rel="canonical" href="ftp://news.example/c">', None),
        ('<link rel="canonical" href="http://[broken">', None),
        ('<link rel="canonical" href="">', None),
        ("", None),
    ],
)
def test_canonical_url(head: str, expected: str | None) -> None:
    result = extracted(page(head=head), "https://news.example/2024/story?utm_source=x")
    assert result.canonical_url == expected


def test_author_from_json_ld_reference() -> None:
    head = (
        '<script type="application/ld+json">{"@graph":['
        '{"@type":"NewsArticle","author":{"@id":"#p1"},"publisher":{"@id":"#org"}},'
        '{"@type":"Person","@id":"#p1","name":"Mina Park"},'
        '{"@type":"Organization","@id":"#org","name":"K-Wave Insider"}]}</script>'
    )
    result = extracted(page(head=head))
    assert result.author == "Mina Park"
    assert result.site_name == "K-Wave Insider"


def test_javascript_author_is_dropped() -> None:
    result = extracted(page(head='<meta name="author" content="javascript:alert(1)">'))
    assert result.author is None


# -- body text -----------------------------------------------------------------------------------


def test_short_text_is_rejected_with_its_length() -> None:
    result = extract(
        page(body="<p>Just one short line about the drama.</p>"), "https://n.example/a"
    )
    assert isinstance(result, Rejected)
    assert re.fullmatch(r"text too short \(\d+ chars\)", result.reason)


def test_repeated_headline_is_not_body_text() -> None:
    result = extracted(
        page(title="A headline about the drama", body="<h1>A headline about the drama</h1>" + BODY)
    )
    assert not result.text.startswith("A headline")


@pytest.mark.parametrize(
    "footer",
    [
        "This article originally appeared on K-Wave Insider.",
        "This story was first published by Seoul Screen Daily.",
        "Originally published at kwaveinsider.example",
        "© 2024 Pulse Media. All rights reserved.",
        "ⓒ 한류스크린, 무단전재 및 재배포 금지",
    ],
)
def test_closing_boilerplate_is_dropped(footer: str) -> None:
    result = extracted(page(body=BODY + f"<p>{footer}</p>"))
    assert result.text.endswith("questions sent in by viewers.")


def test_korean_reporter_sign_off_becomes_author() -> None:
    body = BODY + "<p>김하나 기자 hana@news.example</p>"
    result = extracted(page(body=body))
    assert result.author == "김하나"
    assert "hana@" not in result.text


def test_listicle_with_linked_subheadings_is_an_article() -> None:
    sections = "".join(
        f'<h2><a href="/drama/show-{i}">{i}. A drama worth watching number {i}</a></h2>'
        f"<p>{'A long paragraph explaining why this series deserves a place on the list. ' * 5}</p>"
        for i in range(1, 6)
    )
    result = extracted(page(body=sections))
    assert "A drama worth watching number 3" in result.text


def _teasers(count: int) -> str:
    return "".join(
        f'<h2><a href="/deal/{i}">Deal number {i} on a drama box set</a></h2>'
        f"<p>Save {i}0% on the complete series this week, shipping included.</p>"
        for i in range(count)
    )


def test_listing_page_of_teasers_is_rejected() -> None:
    result = extract(page(title="Deals", body=_teasers(12)), "https://news.example/deals/")
    assert isinstance(result, Rejected) and result.reason.startswith("listing page")


def test_page_declared_an_article_is_one_even_when_its_body_is_a_list() -> None:
    head = '<meta property="og:type" content="article">'
    html = page(title="Twelve box-set deals", head=head, body=BODY + _teasers(12))
    assert extracted(html).title == "Twelve box-set deals"


def test_linked_headlines_around_an_article_do_not_make_it_a_listing() -> None:
    box = (
        '<div class="rail">' + _teasers(20).replace("<p>", "<!--").replace("</p>", "-->") + "</div>"
    )
    read_also = '<p><a href="/deal/3">Deal number 3 on a drama box set</a></p>'
    body = BODY.replace("</p>", "</p>" + read_also, 1)
    result = extracted(page(body=body).replace("</article>", "</article>" + box))
    assert result.title == "A headline about the drama"


# -- never raises --------------------------------------------------------------------------------


def _junk() -> str:
    return bytes(random.Random(7).randrange(256) for _ in range(30_000)).decode("latin-1")


HOSTILE_INPUTS = {
    "empty": "",
    "whitespace": " \n\t ",
    "nul bytes": "\x00" * 200,
    "binary junk": _junk(),
    "fragment": "<p>only a fragment</p>",
    "xml declaration": '<?xml version="1.0" encoding="iso-8859-1"?>' + page(),
    "nul inside": page(
        title="Ti\x00tle\x07", body="<p>" + "Body\x00 text\x1b here. " * 30 + "</p>"
    ),
    "lone surrogate": page(body="<p>" + "bad \ud800 surrogate text. " * 30 + "</p>"),
    "deep nesting": page(body="<div>" * 50_000 + BODY + "</div>" * 50_000),
    "deep inline": page(body="<p>" + "<b>" * 20_000 + "x" + "</b>" * 20_000 + "</p>"),
    "nested json-ld": page(
        head='<script type="application/ld+json">' + "[" * 50_000 + "]" * 50_000 + "</script>"
    ),
    "broken json-ld": page(
        head='<script type="application/ld+json">{"@type": "NewsArticle",</script>'
    ),
    "unclosed everything": "<html><head><title>Open<body><article><p>" + "text " * 100,
    "comment only": "<!-- nothing here -->",
    "not html": "Kim Soo-hyun " * 200,
}


@pytest.mark.parametrize("name", sorted(HOSTILE_INPUTS))
def test_hostile_input_never_raises(name: str) -> None:
    result = extract(HOSTILE_INPUTS[name], "https://news.example/a")
    assert isinstance(result, (Extracted, Rejected))
    assert_clean(result)


@pytest.mark.parametrize(
    ("html", "reason"),
    [
        ("", "empty page"),
        ("\x00\x00 \x01", "empty page"),
        (_junk(), "not an HTML document"),
    ],
)
def test_rejection_reasons(html: str, reason: str) -> None:
    assert extract(html, "https://news.example/a") == Rejected("https://news.example/a", reason)


def test_control_characters_are_stripped_from_every_field() -> None:
    html = page(
        title="Ti\x00tle \x1bwith controls",
        head='<meta name="author" content="Mina\x00 Park">'
        '<meta property="og:site_name" content="Pul\x01se">',
        body="<p>" + "Body\x00 text\x1b here. " * 30 + "</p>",
    )
    result = extracted(html)
    assert result.title == "Title with controls"
    assert result.author == "Mina Park"
    assert result.site_name == "Pulse"
    assert_clean(result)


def test_control_characters_are_stripped_from_the_url() -> None:
    assert extracted(page(), "https://news.example/a\x00b").url == "https://news.example/ab"
    assert extract("", "https://news.example/\x07x").url == "https://news.example/x"


def assert_clean(result: Extracted | Rejected) -> None:
    for value in vars(result).values():
        if isinstance(value, str):
            assert not CONTROL.search(value)


HTML_BITS = st.sampled_from(
    [
        "<html>",
        "<head>",
        "<title>",
        "</title>",
        "<body>",
        "<article>",
        "</article>",
        "<p>",
        "</p>",
        "<h1>",
        "</h1>",
        "<script>",
        "</script>",
        '<meta property="og:title" content="',
        '<script type="application/ld+json">{"@graph":[',
        '<time datetime="',
        '">',
        "&#8220;",
        "&amp;",
        "\x00",
        "Kim Soo-hyun ",
        "김수현 ",
        "<div class='comments'>",
        "</div>",
        '<link rel="canonical" href="',
        "javascript:",
        "2024.04.26 10:30",
    ]
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.one_of(
        st.text(max_size=3000),
        st.lists(st.one_of(HTML_BITS, st.text(max_size=40)), max_size=120).map("".join),
    )
)
def test_fuzzed_html_never_raises(html: str) -> None:
    result = extract(html, "https://news.example/a")
    assert isinstance(result, (Extracted, Rejected))
    assert_clean(result)
    if isinstance(result, Extracted):
        assert result.title and len(result.title) <= MAX_TITLE_CHARS
        assert result.published_at is None or result.published_at.tzinfo is not None
