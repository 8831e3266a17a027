"""digests/build.py: plain rows in, the digest's content out (groups, order, counts, chart)."""

from __future__ import annotations

import ast
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from digests import build
from digests.build import (
    ArticleRow,
    DigestRow,
    MentionRow,
    StoryRow,
    build_digest,
    build_index,
    watch_label,
)
from scraper.core.text import display_text
from scraper.core.urls import http_link

END = datetime(2026, 11, 20, 23, 0, tzinfo=UTC)  # 21 Nov 08:00 in Seoul
START = END - timedelta(days=1)


@dataclass(frozen=True)
class Entry:
    name: str
    kind: str


WATCH = (
    Entry("Kim Soo-hyun", "person"),
    Entry("Queen of Tears", "drama"),
    Entry("Kim Ji-won", "person"),
    Entry("Park Ji-eun", "other"),
)


def article(
    entities: tuple[str, ...],
    hours_before_end: float,
    source: str = "K-Wave Daily",
    url: str = "https://kwave.example/a",
    published: bool = True,
) -> ArticleRow:
    seen = END - timedelta(hours=hours_before_end)
    return ArticleRow(
        source=source,
        url=url,
        title="copy title",
        published_at=seen - timedelta(minutes=30) if published else None,
        first_seen_at=seen,
        entities=entities,
        snippet=f"snippet about {', '.join(entities)}",
    )


def story(story_id: int, title: str, *articles: ArticleRow) -> StoryRow:
    return StoryRow(story_id, title, min(a.first_seen_at for a in articles), tuple(articles))


def digest(
    stories: list[StoryRow],
    mentions: list[MentionRow] | None = None,
    start: datetime | None = START,
) -> build.DigestView:
    return build_digest(
        stories,
        mentions or [],
        WATCH,
        window_start=start,
        window_end=END,
        generated_at=END,
        timezone="Asia/Seoul",
    )


def test_stories_are_filed_once_under_their_first_name_dramas_first() -> None:
    view = digest(
        [
            story(1, "Both lead and drama", article(("Kim Soo-hyun", "Queen of Tears"), 5)),
            story(2, "Only the actor", article(("Kim Soo-hyun",), 4)),
            story(3, "Actor and actress", article(("Kim Ji-won", "Kim Soo-hyun"), 3)),
            story(4, "The writer", article(("Park Ji-eun",), 2)),
        ]
    )
    assert [(g.name, g.kind, [s.story_id for s in g.stories]) for g in view.groups] == [
        ("Queen of Tears", "drama", [1]),
        ("Kim Soo-hyun", "person", [3, 2]),
        ("Park Ji-eun", "other", [4]),
    ]
    assert sum(g.count for g in view.groups) == view.story_count == 4
    # tags keep every name the story mentions, in watch order (drama first)
    assert view.groups[1].stories[0].entities == ("Kim Soo-hyun", "Kim Ji-won")


def test_newest_first_by_publication_of_the_first_copy() -> None:
    view = digest(
        [
            story(1, "older", article(("Kim Ji-won",), 10)),
            story(2, "newer", article(("Kim Ji-won",), 1)),
            story(3, "middle", article(("Kim Ji-won",), 5), article(("Kim Ji-won",), 0.5, "Other")),
        ]
    )
    assert [s.title for s in view.groups[0].stories] == ["newer", "middle", "older"]


def test_counts_of_stories_articles_outlets_and_names() -> None:
    view = digest(
        [
            story(
                1,
                "syndicated",
                article(
                    ("Queen of Tears", "Kim Soo-hyun"), 5, "K-Wave Daily", "https://a.example/1"
                ),
                article(("Queen of Tears",), 4, "Hallyu Wire", "https://b.example/2"),
            ),
            story(2, "other", article(("Kim Ji-won",), 3, "K-Wave Daily")),
        ]
    )
    assert (view.story_count, view.article_count, view.outlet_count) == (2, 3, 2)
    counts = {n.name: (n.stories, n.articles) for n in view.names}
    assert counts == {
        "Queen of Tears": (1, 2),
        "Kim Soo-hyun": (1, 1),
        "Kim Ji-won": (1, 1),
        "Park Ji-eun": (0, 0),
    }
    outlets = view.groups[0].stories[0].outlets
    assert [o.source for o in outlets] == ["K-Wave Daily", "Hallyu Wire"]
    assert [o.href for o in outlets] == ["https://a.example/1", "https://b.example/2"]


def test_subject_names_the_watch_list_the_date_and_the_count() -> None:
    one = digest([story(1, "t", article(("Kim Ji-won",), 1))])
    assert one.subject == "Queen of Tears digest, 21 Nov 2026: 1 new story"
    assert digest([]).subject == "Queen of Tears digest, 21 Nov 2026: 0 new stories"
    assert (
        watch_label([Entry("A", "person"), Entry("B", "person"), Entry("C", "other")]) == "A / B +1"
    )


def test_window_text() -> None:
    assert digest([]).window_text == "2026-11-20 08:00 KST to 2026-11-21 08:00 KST"
    assert digest([], start=None).window_text == "everything archived until 2026-11-21 08:00 KST"


def test_chart_counts_mentions_per_local_day_over_fourteen_days() -> None:
    mentions = [
        # 20 Nov 23:30 UTC is already 21 Nov in Seoul
        MentionRow("Kim Soo-hyun", datetime(2026, 11, 20, 22, 30, tzinfo=UTC)),
        MentionRow("Kim Soo-hyun", datetime(2026, 11, 20, 15, 30, tzinfo=UTC)),
        # 14:00 UTC is 23:00 the same day in Seoul
        MentionRow("Kim Soo-hyun", datetime(2026, 11, 20, 14, 0, tzinfo=UTC)),
        MentionRow("Kim Ji-won", datetime(2026, 11, 8, 1, 0, tzinfo=UTC)),
        MentionRow("Kim Ji-won", datetime(2026, 11, 1, 1, 0, tzinfo=UTC)),  # before the chart
        MentionRow("Not watched any more", datetime(2026, 11, 20, 1, 0, tzinfo=UTC)),
    ]
    view = digest([], mentions)
    charts = {c.name: c for c in view.charts}
    assert list(charts) == ["Queen of Tears", "Kim Soo-hyun", "Kim Ji-won", "Park Ji-eun"]
    assert view.chart_range == "8 Nov 2026 – 21 Nov 2026"
    soo = charts["Kim Soo-hyun"]
    assert len(soo.bars) == 14
    assert soo.bars[-1].day == "11-21" and soo.bars[-1].count == 2
    assert soo.bars[-2].day == "11-20" and soo.bars[-2].count == 1
    assert soo.total == 3
    assert charts["Kim Ji-won"].bars[0].day == "11-08" and charts["Kim Ji-won"].bars[0].count == 1
    assert charts["Kim Ji-won"].total == 1
    # one scale for every name: the busiest day is full height, others in proportion
    assert soo.bars[-1].height == build.CHART_HEIGHT_PX
    assert charts["Kim Ji-won"].bars[0].height == build.CHART_HEIGHT_PX // 2
    assert charts["Park Ji-eun"].total == 0 and {b.height for b in charts["Park Ji-eun"].bars} == {
        0
    }
    assert soo.sparkline == "·" * 12 + "▄█"


def test_hostile_text_is_cleaned_and_cut() -> None:
    title = "<script>alert(1)</script>\x00 Kim\u202e nwod edispu \u2066x\u2069" + "long " * 2000
    view = digest([story(1, title, article(("Kim Ji-won",), 1))])
    shown = view.groups[0].stories[0].title
    assert len(shown) <= build.TITLE_CHARS
    assert shown.endswith("…")
    assert "\x00" not in shown and "\u202e" not in shown and "\u2066" not in shown
    # markup stays as text here: the HTML template escapes it
    assert shown.startswith("<script>alert(1)</script> Kim nwod edispu xlong long")


@pytest.mark.parametrize(
    ("value", "limit", "expected"),
    [
        ("  a\n\tb  ", 10, "a b"),
        ("a\x00b\x1fc\x7fd\x85e", 20, "a b c d e"),
        ("abc\u202edef\u202c", 20, "abcdef"),
        ("lone \ud800 surrogate", 30, "lone surrogate"),
        ("one two three four", 12, "one two…"),
        ("x" * 50, 10, "x" * 9 + "…"),
        ("김수현이 출연한 드라마", 30, "김수현이 출연한 드라마"),
    ],
)
def test_display_text(value: str, limit: int, expected: str) -> None:
    assert display_text(value, limit) == expected


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://kwave.example/a?b=1&c=2", "https://kwave.example/a?b=1&c=2"),
        ("http://kwave.example/", "http://kwave.example/"),
        ("javascript:alert(1)", None),
        ("JaVaScRiPt:alert(1)", None),
        ("data:text/html,<script>alert(1)</script>", None),
        ("vbscript:msgbox", None),
        ("ftp://files.example/a", None),
        ("//kwave.example/a", None),
        ("/relative/path", None),
        ("https://", None),
        ('https://kwave.example/"onmouseover="x', None),
        ("https://kwave.example/a b", None),
        ("https://kwave.example/\u202eevil", None),
        ("", None),
    ],
)
def test_only_http_links_are_links(url: str, expected: str | None) -> None:
    assert http_link(url) == expected


def test_story_link_is_the_first_http_copy() -> None:
    view = digest(
        [
            story(
                1,
                "t",
                article(("Kim Ji-won",), 3, "Bad", "javascript:alert(1)"),
                article(("Kim Ji-won",), 2, "Good", "https://good.example/x"),
            )
        ]
    )
    entry = view.groups[0].stories[0]
    assert entry.href == "https://good.example/x"
    assert [(o.source, o.href, o.url_text) for o in entry.outlets] == [
        ("Bad", None, "javascript:alert(1)"),
        ("Good", "https://good.example/x", "https://good.example/x"),
    ]


def test_names_gone_from_the_watch_list_come_last() -> None:
    view = digest(
        [
            story(1, "old name", article(("Someone Dropped",), 2)),
            story(2, "watched", article(("Kim Ji-won",), 1)),
        ]
    )
    assert [g.name for g in view.groups] == ["Kim Ji-won", "Someone Dropped"]
    assert view.groups[1].kind == "other"


def test_index_lists_digests_newest_first_with_their_status() -> None:
    rows = [
        DigestRow(None, START, 3, "d1.html", "d1.txt", START, 2, 1, None),
        DigestRow(START, END, 0, "d3.html", "d3.txt", None, 0, 2, "SMTP said 451 try later"),
        DigestRow(
            START - timedelta(days=2),
            START - timedelta(days=1),
            1,
            "d2.html",
            "d2.txt",
            START,
            0,
            0,
            None,
        ),
    ]
    entries = build_index(rows, "Asia/Seoul")
    assert [e.href for e in entries] == ["d3.html", "d1.html", "d2.html"]
    assert entries[0].status == "not mailed yet (2 attempts; SMTP said 451 try later)"
    assert entries[1].status.startswith("mailed to 2 on 2026-11-20 08:00 KST")
    assert entries[1].window_text.startswith("the beginning to ")
    assert entries[2].status == "written"


def test_build_is_pure() -> None:
    """No database, no Scrapy, no clock: the module is a function of its inputs."""
    source = Path(build.__file__).read_text(encoding="utf-8")
    tree = ast.parse(source)
    imported = {
        alias.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    } | {
        (node.module or "").split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom)
    }
    assert not imported & {"sqlalchemy", "scrapy", "time", "os", "jinja2"}
    assert ".now(" not in source and "today(" not in source


def test_updated_stories_are_listed_apart_never_as_new() -> None:
    fresh = story(1, "New this window", article(("Kim Soo-hyun",), 2))
    earlier = END - timedelta(days=3)
    revised = ArticleRow(
        source="K-Wave Daily",
        url="https://kwave.example/revised",
        title="Revised copy",
        published_at=earlier,
        first_seen_at=earlier,
        entities=("Kim Ji-won",),
        snippet="snippet",
        updated_at=END - timedelta(hours=1),
    )
    old = StoryRow(2, "Seen days ago, revised now", earlier, (revised,))
    new_and_revised = story(3, "New and revised", article(("Kim Ji-won",), 3))
    view = build_digest(
        [fresh, new_and_revised],
        [],
        WATCH,
        window_start=START,
        window_end=END,
        generated_at=END,
        timezone="Asia/Seoul",
        updated=[old, new_and_revised],
    )
    assert view.story_count == 2
    assert [s.story_id for s in view.updated] == [2]
    assert view.updated[0].when_iso == (END - timedelta(hours=1)).isoformat()
    assert 2 not in {s.story_id for g in view.groups for s in g.stories}
