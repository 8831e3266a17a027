"""Atom 1.0 feeds of the monitor itself: one entry per story, so a feed reader can subscribe.

Built with ElementTree (which escapes) over text cleaned of characters XML 1.0 forbids, so a
hostile title can neither inject markup nor make the feed ill-formed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from xml.etree import ElementTree

from scraper.core.urls import http_link
from scraper.storage.browse import story_articles
from scraper.storage.models import Story
from scraper.storage.search import excerpt
from web.display import xml_text

ATOM_NS = "http://www.w3.org/2005/Atom"
TITLE_CHARS = 300
SUMMARY_CHARS = 600


@dataclass(frozen=True)
class FeedEntry:
    id: str
    title: str
    link: str
    published: datetime
    updated: datetime
    summary: str
    categories: tuple[str, ...]
    related: tuple[str, ...]


def _stamp(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def story_entry(found: Story, story_url: Callable[[int], str]) -> FeedEntry:
    """Give the feed entry of a story: its title, its outlets and names, the first copy's
    opening lines, and a related link to every outlet's http(s) copy."""
    copies = story_articles(found)
    outlets = list(dict.fromkeys(a.source for a in copies))
    names = list(dict.fromkeys(m.entity for a in copies for m in a.mentions))
    lead = copies[0].text if copies else ""
    summary = f"{', '.join(outlets)}. " if outlets else ""
    summary += excerpt(lead, 0, SUMMARY_CHARS)
    related = [url for url in (http_link(a.canonical_url) for a in copies) if url]
    updated = max([found.first_seen_at, *(a.updated_at for a in copies)])
    link = story_url(found.id)
    return FeedEntry(
        id=link,
        title=found.title,
        link=link,
        published=found.first_seen_at,
        updated=updated,
        summary=summary,
        categories=tuple(names),
        related=tuple(dict.fromkeys(related)),
    )


def atom_feed(
    *, title: str, feed_url: str, page_url: str, updated: datetime, entries: Sequence[FeedEntry]
) -> bytes:
    """Give the UTF-8 bytes of a valid Atom 1.0 feed document; ``updated`` dates an empty
    feed (otherwise the newest entry does, so the feed changes only when a story does)."""

    def child(
        parent: ElementTree.Element, tag: str, text: str | None = None, **attrs: str
    ) -> ElementTree.Element:
        element = ElementTree.SubElement(parent, tag, attrs)
        if text is not None:
            element.text = text
        return element

    # unqualified tags under a literal default xmlns: the Atom namespace without touching
    # ElementTree's global prefix registry
    feed = ElementTree.Element("feed", {"xmlns": ATOM_NS})
    child(feed, "id", feed_url)
    child(feed, "title", xml_text(title, TITLE_CHARS))
    child(feed, "updated", _stamp(max((e.updated for e in entries), default=updated)))
    child(feed, "link", rel="self", type="application/atom+xml", href=feed_url)
    child(feed, "link", rel="alternate", type="text/html", href=page_url)
    author = child(feed, "author")
    child(author, "name", "dramawatch")
    child(feed, "generator", "dramawatch")
    for entry in entries:
        node = child(feed, "entry")
        child(node, "id", entry.id)
        child(node, "title", xml_text(entry.title, TITLE_CHARS) or "(untitled)", type="text")
        child(node, "published", _stamp(entry.published))
        child(node, "updated", _stamp(entry.updated))
        child(node, "link", rel="alternate", type="text/html", href=entry.link)
        for url in entry.related:
            child(node, "link", rel="related", href=url)
        for name in entry.categories:
            child(node, "category", term=xml_text(name))
        child(node, "summary", xml_text(entry.summary, SUMMARY_CHARS + 200), type="text")
    body: bytes = ElementTree.tostring(feed, encoding="utf-8", xml_declaration=True)
    return body
