"""The message of one alert: a title and a body listing its stories, one line each.

Pure: no database, no clock, no network. Titles and outlet names come from the web, so they
are made one-line text, and in markdown their syntax is escaped: a headline cannot turn into
a link or hide the next one.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from scraper.core.extract import clean_inline
from scraper.core.urls import is_http_url
from scraper.storage.alerts import AlertStory

TITLE_CHARS = 160
NAME_CHARS = 60
# characters that start markdown syntax inside a line (emphasis, code, links, HTML, tables,
# strike-through); each story line starts with "- ", so line-start syntax cannot occur
_MARKDOWN = re.compile(r"([\\`*_\[\]<>|~])")
# characters that reorder the text around them
_BIDI = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


@dataclass(frozen=True)
class AlertMessage:
    title: str
    body: str
    body_format: str  # "markdown" | "text", apprise's NotifyFormat values
    story_ids: tuple[int, ...]


def plain(value: str, limit: int) -> str:
    """Give ``value`` as one line of at most ``limit`` characters, without control or bidi
    characters."""
    text = clean_inline(_BIDI.sub("", value))
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _markdown(value: str) -> str:
    return _MARKDOWN.sub(r"\\\1", value)


def alert_label(watch: Sequence[tuple[str, str]]) -> str:
    """Give the name a message's title starts with: the alert's dramas, else its first names
    (``watch`` holds (name, kind) pairs in watch-list order)."""
    dramas = [name for name, kind in watch if kind == "drama"]
    names = dramas or [name for name, _ in watch]
    if not names:
        return "dramawatch"
    label = " / ".join(names[:2]) + (f" +{len(names) - 2}" if len(names) > 2 else "")
    return plain(label, NAME_CHARS * 2)


def _line(story: AlertStory, body_format: str, order: dict[str, int]) -> str:
    title = plain(story.title, TITLE_CHARS) or "(untitled)"
    outlets = ", ".join(plain(o, NAME_CHARS) for o in story.outlets)
    names = ", ".join(
        plain(e, NAME_CHARS) for e in sorted(story.entities, key=lambda e: order.get(e, len(order)))
    )
    url = story.url.strip() if is_http_url(story.url.strip()) else ""
    if body_format == "markdown":
        # a URL's own parentheses and spaces would end the link early
        href = url.replace("(", "%28").replace(")", "%29").replace(" ", "%20")
        head = f"[{_markdown(title)}]({href})" if href else _markdown(title)
        parts = [head, _markdown(outlets), _markdown(names)]
        return "- " + " · ".join(p for p in parts if p)
    parts = [title, outlets, url, names]
    return "- " + " | ".join(p for p in parts if p)


def build_message(
    stories: Sequence[AlertStory],
    *,
    label: str,
    watch_order: Sequence[str],
    max_items: int,
    body_format: str,
) -> AlertMessage:
    """Give one message for these stories: "<label>: N new stories", then the newest
    ``max_items`` stories, one line each (title, outlets, link, watch names), then
    "and N more"."""
    newest = sorted(stories, key=lambda s: (s.when, s.story_id), reverse=True)
    order = {name: rank for rank, name in enumerate(watch_order)}
    lines = [_line(story, body_format, order) for story in newest[:max_items]]
    rest = len(newest) - max_items
    if rest > 0:
        lines.append(f"and {rest} more")
    count = len(newest)
    return AlertMessage(
        title=f"{label}: {count} new {'story' if count == 1 else 'stories'}",
        body="\n".join(lines),
        body_format=body_format,
        story_ids=tuple(s.story_id for s in newest),
    )


def probe_message(alert_name: str, body_format: str) -> AlertMessage:
    """Give the message ``dramawatch alerts test NAME`` sends."""
    name = plain(alert_name, NAME_CHARS)
    body = f"A test message for the alert {name}: new stories will arrive like this."
    return AlertMessage(
        title="dramawatch: test message",
        body=_markdown(body) if body_format == "markdown" else body,
        body_format=body_format,
        story_ids=(),
    )
