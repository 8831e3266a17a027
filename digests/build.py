"""Digest content from plain archive rows: grouping, order, counts and the 14-day chart.

Pure: no database, no clock, no I/O. ``publish.py`` queries the archive and hands rows here,
and the templates only lay out what this module decided, so every rule about what a reader
sees (which links are safe, how long a title may be, which group a story falls in) is a
function of its inputs and tested as such.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from scraper.core.text import display_text
from scraper.core.urls import http_link

KIND_ORDER = ("drama", "person", "other")
CHART_DAYS = 14
CHART_HEIGHT_PX = 40
TITLE_CHARS = 200
SNIPPET_CHARS = 300
NAME_CHARS = 80
URL_CHARS = 120
_SPARKS = "▁▂▃▄▅▆▇█"


class WatchName(Protocol):
    """A watch-list entry as far as the digest cares (``config.WatchEntry`` qualifies)."""

    @property
    def name(self) -> str: ...

    @property
    def kind(self) -> str: ...


@dataclass(frozen=True)
class ArticleRow:
    """One archived copy of a story, as ``publish.py`` reads it."""

    source: str
    url: str
    title: str
    published_at: datetime | None
    first_seen_at: datetime
    entities: tuple[str, ...]
    snippet: str
    updated_at: datetime | None = None  # the last in-place update of its text, if any


@dataclass(frozen=True)
class StoryRow:
    """A story first seen in the window, with the copies known by the window's end."""

    story_id: int
    title: str
    first_seen_at: datetime
    articles: tuple[ArticleRow, ...]


@dataclass(frozen=True)
class MentionRow:
    """One article mentioning one watched name, dated for the per-day chart."""

    entity: str
    at: datetime


@dataclass(frozen=True)
class DigestRow:
    """A past digest for the index page."""

    window_start: datetime | None
    window_end: datetime
    story_count: int
    html_name: str
    text_name: str
    delivered_at: datetime | None
    recipients: int
    attempts: int
    last_error: str | None


@dataclass(frozen=True)
class Outlet:
    """One outlet's copy: ``href`` is None when the URL is not http(s), and is then shown
    only as text."""

    source: str
    href: str | None
    url_text: str
    when: str


@dataclass(frozen=True)
class StoryEntry:
    story_id: int
    title: str
    href: str | None
    when: str
    when_iso: str
    entities: tuple[str, ...]
    snippet: str
    outlets: tuple[Outlet, ...]


@dataclass(frozen=True)
class Group:
    """Stories filed under one watch entry (the first one they mention, dramas first)."""

    name: str
    kind: str
    stories: tuple[StoryEntry, ...]

    @property
    def count(self) -> int:
        return len(self.stories)


@dataclass(frozen=True)
class NameCount:
    """How many of the window's stories and articles mention one watched name."""

    name: str
    kind: str
    stories: int
    articles: int


@dataclass(frozen=True)
class Bar:
    day: str
    weekday: str
    count: int
    height: int


@dataclass(frozen=True)
class Chart:
    """Mentions per day of one watched name over the chart's days (a shared scale)."""

    name: str
    total: int
    bars: tuple[Bar, ...]
    sparkline: str


@dataclass(frozen=True)
class DigestView:
    """Everything the templates show; nothing in it needs escaping decisions but HTML's."""

    label: str
    subject: str
    window_text: str
    date_text: str
    generated_text: str
    story_count: int
    article_count: int
    outlet_count: int
    groups: tuple[Group, ...]
    names: tuple[NameCount, ...]
    charts: tuple[Chart, ...]
    chart_range: str
    # stories seen before the window whose articles were updated in it, last update first
    updated: tuple[StoryEntry, ...] = ()


@dataclass(frozen=True)
class IndexEntry:
    href: str
    text_href: str
    window_text: str
    story_count: int
    status: str


def watch_label(watch: Sequence[WatchName]) -> str:
    """Give the watch list's name for subjects and headings: its dramas, else its first names."""
    dramas = [w.name for w in watch if w.kind == "drama"]
    names = dramas or [w.name for w in watch]
    if not names:
        return "dramawatch"
    label = " / ".join(names[:2]) + (f" +{len(names) - 2}" if len(names) > 2 else "")
    return display_text(label, NAME_CHARS)


def format_local(moment: datetime, zone: ZoneInfo) -> str:
    """Give ``moment`` as a reader in the digest's time zone reads it."""
    local = moment.astimezone(zone)
    return f"{local:%Y-%m-%d %H:%M} {local.tzname() or zone.key}"


def _long_date(day: date) -> str:
    return f"{day.day} {day:%b %Y}"


def _story_when(story: StoryRow) -> datetime:
    """A story's date: when its first copy was published (or first seen, undated)."""
    dates = [a.published_at or a.first_seen_at for a in story.articles]
    return min(dates) if dates else story.first_seen_at


def _entity_order(watch: Sequence[WatchName], seen: Iterable[str]) -> dict[str, int]:
    """Rank watched names: dramas, then people, then others, each in watch-list order; names
    no longer in the watch list come last, alphabetically."""
    ranked = sorted(
        enumerate(watch),
        key=lambda pair: (
            KIND_ORDER.index(pair[1].kind) if pair[1].kind in KIND_ORDER else len(KIND_ORDER),
            pair[0],
        ),
    )
    order = {entry.name: rank for rank, (_, entry) in enumerate(ranked)}
    for name in sorted(set(seen) - set(order)):
        order[name] = len(order)
    return order


def _entry(story: StoryRow, order: dict[str, int], zone: ZoneInfo) -> StoryEntry:
    articles = sorted(story.articles, key=lambda a: (a.published_at or a.first_seen_at, a.url))
    entities = sorted({e for a in articles for e in a.entities}, key=lambda e: order[e])
    outlets = tuple(
        Outlet(
            source=display_text(a.source, NAME_CHARS),
            href=http_link(a.url),
            url_text=display_text(a.url, URL_CHARS),
            when=format_local(a.published_at or a.first_seen_at, zone),
        )
        for a in articles
    )
    lead = articles[0] if articles else None
    when = _story_when(story)
    return StoryEntry(
        story_id=story.story_id,
        title=display_text(story.title or (lead.title if lead else ""), TITLE_CHARS),
        href=next((o.href for o in outlets if o.href), None),
        when=format_local(when, zone),
        when_iso=when.isoformat(timespec="seconds"),
        entities=tuple(display_text(e, NAME_CHARS) for e in entities),
        snippet=display_text(lead.snippet, SNIPPET_CHARS) if lead else "",
        outlets=outlets,
    )


def _charts(
    mentions: Sequence[MentionRow], watch: Sequence[WatchName], last_day: date, zone: ZoneInfo
) -> tuple[tuple[Chart, ...], str]:
    days = [last_day - timedelta(days=back) for back in range(CHART_DAYS - 1, -1, -1)]
    counts: Counter[tuple[str, date]] = Counter(
        (m.entity, m.at.astimezone(zone).date()) for m in mentions
    )
    peak = max((counts[(w.name, d)] for w in watch for d in days), default=0)
    charts = []
    for entry in watch:
        values = [counts[(entry.name, d)] for d in days]
        bars = tuple(
            Bar(
                day=f"{d:%m-%d}",
                weekday=f"{d:%a}",
                count=n,
                height=max(2, round(n * CHART_HEIGHT_PX / peak)) if n else 0,
            )
            for d, n in zip(days, values, strict=True)
        )
        spark = "".join(
            _SPARKS[min(len(_SPARKS) - 1, (n * len(_SPARKS) - 1) // peak)] if n else "·"
            for n in values
        )
        charts.append(Chart(display_text(entry.name, NAME_CHARS), sum(values), bars, spark))
    return tuple(charts), f"{_long_date(days[0])} – {_long_date(days[-1])}"


def build_digest(
    stories: Sequence[StoryRow],
    mentions: Sequence[MentionRow],
    watch: Sequence[WatchName],
    *,
    window_start: datetime | None,
    window_end: datetime,
    generated_at: datetime,
    timezone: str,
    updated: Sequence[StoryRow] = (),
) -> DigestView:
    """Give the digest of the window's new stories: grouped by the first watched name each
    mentions (dramas, then people), newest first in each group, with counts and the
    mentions-per-day chart of the 14 days ending with the window.

    ``updated`` are stories first seen earlier whose articles were updated in the window:
    listed apart, last update first, never counted as new (a story new in the window is
    only new). ``window_start`` None means the window holds everything archived before
    ``window_end``.
    """
    zone = ZoneInfo(timezone)
    order = _entity_order(watch, (e for s in stories for a in s.articles for e in a.entities))
    kinds = {w.name: w.kind for w in watch}
    newest_first = sorted(stories, key=lambda s: (_story_when(s), s.story_id), reverse=True)
    grouped: dict[str, list[StoryEntry]] = {}
    for story in newest_first:
        entry = _entry(story, order, zone)
        entities = {e for a in story.articles for e in a.entities}
        home = min(entities, key=lambda e: order[e]) if entities else ""
        grouped.setdefault(home, []).append(entry)
    groups = tuple(
        Group(
            name=display_text(name, NAME_CHARS) if name else "Unmatched",
            kind=kinds.get(name, "other"),
            stories=tuple(entries),
        )
        for name, entries in sorted(grouped.items(), key=lambda kv: order.get(kv[0], len(order)))
    )
    last_day = (window_end - timedelta(microseconds=1)).astimezone(zone).date()
    ordered = sorted(watch, key=lambda w: order[w.name])
    names = tuple(
        NameCount(
            name=display_text(w.name, NAME_CHARS),
            kind=w.kind,
            stories=sum(1 for s in stories if any(w.name in a.entities for a in s.articles)),
            articles=sum(1 for s in stories for a in s.articles if w.name in a.entities),
        )
        for w in ordered
    )
    charts, chart_range = _charts(mentions, ordered, last_day, zone)
    label = watch_label(watch)
    count = len(stories)
    end_day = window_end.astimezone(zone).date()
    nouns = "story" if count == 1 else "stories"
    if window_start is None:
        window_text = f"everything archived until {format_local(window_end, zone)}"
    else:
        window_text = f"{format_local(window_start, zone)} to {format_local(window_end, zone)}"
    return DigestView(
        label=label,
        subject=f"{label} digest, {_long_date(end_day)}: {count} new {nouns}",
        window_text=window_text,
        date_text=_long_date(end_day),
        generated_text=format_local(generated_at, zone),
        story_count=count,
        article_count=sum(len(s.articles) for s in stories),
        outlet_count=len({a.source for s in stories for a in s.articles}),
        groups=groups,
        names=names,
        charts=charts,
        chart_range=chart_range,
        updated=_updated_entries(updated, {s.story_id for s in stories}, watch, zone),
    )


def _updated_entries(
    updated: Sequence[StoryRow], new: set[int], watch: Sequence[WatchName], zone: ZoneInfo
) -> tuple[StoryEntry, ...]:
    """Give the entries of updated stories, dated by their last update, last first."""
    order = _entity_order(watch, (e for s in updated for a in s.articles for e in a.entities))
    entries = []
    for story in updated:
        times = [a.updated_at for a in story.articles if a.updated_at is not None]
        if story.story_id in new or not times:
            continue
        last = max(times)
        entry = _entry(story, order, zone)
        entries.append(
            (last, replace(entry, when=format_local(last, zone), when_iso=last.isoformat()))
        )
    entries.sort(key=lambda pair: (pair[0], pair[1].story_id), reverse=True)
    return tuple(entry for _, entry in entries)


def build_index(digests: Sequence[DigestRow], timezone: str) -> tuple[IndexEntry, ...]:
    """Give the index page's entries, newest window first, each with its delivery status."""
    zone = ZoneInfo(timezone)
    entries = []
    for row in sorted(digests, key=lambda d: d.window_end, reverse=True):
        if row.delivered_at is not None and row.recipients:
            status = f"mailed to {row.recipients} on {format_local(row.delivered_at, zone)}"
        elif row.delivered_at is not None:
            status = "written"
        elif row.last_error:
            status = (
                f"not mailed yet ({row.attempts} attempts; {display_text(row.last_error, 120)})"
            )
        else:
            status = "not mailed yet"
        start = (
            "the beginning" if row.window_start is None else format_local(row.window_start, zone)
        )
        entries.append(
            IndexEntry(
                href=row.html_name,
                text_href=row.text_name,
                window_text=f"{start} to {format_local(row.window_end, zone)}",
                story_count=row.story_count,
                status=status,
            )
        )
    return tuple(entries)
