"""The item that flows through the pipelines: one fetched page, filled in stage by stage."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from scraper.core.extract import Extracted
from scraper.core.match import Mention
from scraper.storage.articles import StoreStatus
from scraper.storage.fetch_memory import Verdict


@dataclass
class PageItem:
    url: str  # the URL the page was finally served from (after redirects)
    seen_urls: list[str]  # every URL that led here: feed link, redirect chain, final URL
    source: str
    html: str
    hint_published_at: datetime | None = None  # from the feed or sitemap entry
    hint_title: str | None = None
    hint_publisher: str | None = None  # the outlet an aggregator's item named
    extracted: Extracted | None = None
    mentions: list[Mention] = field(default_factory=list)
    article_id: int | None = None
    story_id: int | None = None
    status: StoreStatus | None = None
    verdict: Verdict | None = None  # why a pipeline dropped it (the fetch memory keeps it)
