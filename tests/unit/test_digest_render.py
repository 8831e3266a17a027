"""digests/render.py: escaping, links, inlined CSS and the plain-text part."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser

import jinja2
import pytest

from digests import render
from digests.build import ArticleRow, DigestView, IndexEntry, MentionRow, StoryRow, build_digest
from digests.render import render_html, render_index, render_text
from scraper.config import WatchEntry

END = datetime(2026, 11, 20, 23, 0, tzinfo=UTC)
WATCH = (
    WatchEntry("Queen of Tears", "drama"),
    WatchEntry("Kim Soo-hyun", "person"),
    WatchEntry("Kwak Dong-yeon", "person"),
)
HOSTILE_TITLE = (
    '<script>alert("t")</script><img src=x onerror=alert(1)> Kwak Dong-yeon \u202eevil '
    + "padding " * 1300
)


class Page(HTMLParser):
    """Collects what a browser would build: elements with attributes, and visible text."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def all_text(self) -> str:
        return "".join(self.text)


def view(stories: list[StoryRow]) -> DigestView:
    return build_digest(
        stories,
        [MentionRow("Kim Soo-hyun", END - timedelta(days=d)) for d in range(0, 14, 3)],
        WATCH,
        window_start=END - timedelta(days=1),
        window_end=END,
        generated_at=END,
        timezone="Asia/Seoul",
    )


def row(url: str, title: str, text: str, source: str, entity: str, hours: int) -> StoryRow:
    seen = END - timedelta(hours=hours)
    return StoryRow(
        hours,
        title,
        seen,
        (ArticleRow(source, url, title, seen, seen, (entity,), text),),
    )


STORIES = [
    row(
        "https://kwave.example/ok?a=1&b=2",
        "Queen of Tears wins the grand prize",
        "Queen of Tears took the top award on Saturday night.",
        "K-Wave Daily",
        "Queen of Tears",
        2,
    ),
    row(
        "javascript:alert('x')",
        HOSTILE_TITLE,
        "Kwak Dong-yeon said <script>steal()</script> and <b onmouseover=alert(2)>more</b>.",
        'Evil <Outlet> & "Co"',
        "Kwak Dong-yeon",
        1,
    ),
    row(
        "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
        "Kim Soo-hyun fan meeting sells out",
        "Kim Soo-hyun will meet fans in Seoul.",
        "Data Outlet",
        "Kim Soo-hyun",
        3,
    ),
]


@pytest.fixture(scope="module")
def page() -> Page:
    return Page(render_html(view(STORIES)))


def test_no_markup_from_articles_becomes_markup(page: Page) -> None:
    assert not [t for t, _ in page.tags if t in ("script", "img", "iframe", "object", "embed", "b")]
    handlers = [(t, a) for t, attrs in page.tags for a in attrs if a.lower().startswith("on")]
    assert handlers == []
    text = page.all_text()
    assert '<script>alert("t")</script><img src=x onerror=alert(1)> Kwak Dong-yeon' in text
    assert "<script>steal()</script>" in text
    assert 'Evil <Outlet> & "Co"' in text


def test_only_http_links_are_emitted(page: Page) -> None:
    hrefs = [attrs.get("href") for tag, attrs in page.tags if tag == "a"]
    assert hrefs and all(h == "https://kwave.example/ok?a=1&b=2" for h in hrefs)
    srcs = [attrs.get("src") for _, attrs in page.tags if "src" in attrs]
    assert srcs == []
    # the refused URLs are still shown, as text
    assert "javascript:alert('x')" in page.all_text()
    assert "data:text/html;base64," in page.all_text()


def test_long_titles_are_cut_and_bidi_overrides_dropped(page: Page) -> None:
    text = page.all_text()
    assert "\u202e" not in text
    assert "padding " * 40 not in text
    heading = next(t for t in page.text if t.startswith('<script>alert("t")'))
    assert len(heading) <= 200 and heading.endswith("…")


def test_css_is_inlined_and_nothing_is_fetched() -> None:
    html = render_html(view(STORIES))
    page = Page(html)
    styled = [tag for tag, attrs in page.tags if attrs.get("style")]
    assert {"body", "h1", "h3", "p", "td"} <= set(styled)
    assert not [tag for tag, _ in page.tags if tag == "link"]
    assert "url(" not in html and "@import" not in html
    # only @media rules (which cannot be inlined) stay in <style>
    style = html[html.index("<style>") : html.index("</style>")]
    assert style.count("{") - style.count("@media") == style.count("}") - style.count("@media")
    assert ".story {" not in style


def test_chart_is_drawn_with_table_cells(page: Page) -> None:
    bars = [attrs for tag, attrs in page.tags if tag == "td" and attrs.get("bgcolor")]
    assert bars, "no bars drawn"
    assert all((attrs.get("height") or "").isdigit() for attrs in bars)
    assert "Mentions per day" in page.all_text()


def test_plain_text_part_is_text() -> None:
    text = render_text(view(STORIES))
    assert "Queen of Tears wins the grand prize" in text
    assert "&lt;" not in text and "&amp;" not in text
    assert "- K-Wave Daily: https://kwave.example/ok?a=1&b=2" in text
    assert "javascript:alert('x') (not a web link)" in text
    assert "\u202e" not in text
    assert "== Queen of Tears (1) ==" in text and "== Kwak Dong-yeon (1) ==" in text


def test_empty_digest_says_so() -> None:
    empty = view([])
    assert "Nothing new in this window." in Page(render_html(empty)).all_text()
    assert "Nothing new in this window." in render_text(empty)


def test_one_environment_autoescaped_and_strict() -> None:
    env = render.ENVIRONMENT
    assert env.undefined is jinja2.StrictUndefined
    assert callable(env.autoescape)
    assert env.autoescape("digest.html") is True
    assert env.autoescape("digest.txt") is False
    with pytest.raises(jinja2.UndefinedError):
        env.get_template("digest.html").render(view=object())
    with pytest.raises(jinja2.UndefinedError):
        env.from_string("{{ missing }}").render()


def test_index_page_escapes_and_links_files() -> None:
    html = render_index(
        "Queen <of> Tears",
        [IndexEntry("digest-1.html", "digest-1.txt", "a to b", 3, "not mailed yet (<b>451</b>)")],
    )
    page = Page(html)
    assert "Queen <of> Tears digests" in page.all_text()
    assert "(<b>451</b>)" in page.all_text()
    assert [a["href"] for t, a in page.tags if t == "a"] == [
        "digest-1.html",
        "digest-1.html",
        "digest-1.txt",
    ]


def test_updated_stories_have_their_own_section() -> None:
    seen = END - timedelta(days=5)
    revised = ArticleRow(
        "K-Wave Daily",
        "https://kwave.example/revised",
        "<b>Revised</b> & corrected",
        seen,
        seen,
        ("Kim Soo-hyun",),
        "snippet",
        updated_at=END - timedelta(hours=2),
    )
    digest = build_digest(
        [],
        [],
        WATCH,
        window_start=END - timedelta(days=1),
        window_end=END,
        generated_at=END,
        timezone="Asia/Seoul",
        updated=[StoryRow(99, "<b>Revised</b> & corrected", seen, (revised,))],
    )
    html, text = render_html(digest), render_text(digest)
    page = Page(html)
    assert "Updated 1" in page.all_text() and "<b>" not in html
    assert "&lt;b&gt;Revised&lt;/b&gt; &amp; corrected" in html
    assert "Nothing new in this window." in text  # an update is never new
    assert "== Updated (1) ==" in text and "* <b>Revised</b> & corrected" in text
