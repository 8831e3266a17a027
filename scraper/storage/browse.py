"""Read-only archive queries the web pages need beyond ``scraper.storage.search``.

Each function takes a Session and never writes. Full-text search itself stays in
``scraper.storage.search.search``, so the web app and the CLI rank results the same way.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any

from sqlalchemy import ColumnElement, exists, func, select
from sqlalchemy.orm import Session, selectinload

from scraper.storage.models import Article, CrawlError, CrawlRun, Digest, Mention, RunSource, Story
from scraper.storage.search import VISIBLE

RECENT_ERRORS = 5


def article_when(article: Article) -> datetime:
    """Give the date an article is filed under: published, else first seen (as search does)."""
    return article.published_at or article.first_seen_at


def _when() -> ColumnElement[Any]:
    return func.coalesce(Article.published_at, Article.first_seen_at)


@dataclass(frozen=True)
class Outlet:
    """One outlet's copy of a story, as listed beside a search result."""

    article_id: int
    source: str
    url: str
    when: datetime


def story(session: Session, story_id: int) -> Story | None:
    """Give a story with every visible copy, its URLs and its mentions loaded (None: no such
    story, or every copy is hidden)."""
    statement = (
        select(Story)
        .where(Story.id == story_id, exists().where(Article.story_id == Story.id, VISIBLE))
        .options(
            selectinload(Story.articles.and_(VISIBLE)).selectinload(Article.urls),
            selectinload(Story.articles.and_(VISIBLE)).selectinload(Article.mentions),
        )
    )
    return session.scalars(statement).first()


def story_articles(found: Story) -> list[Article]:
    """Give a story's copies oldest first: the original outlet leads."""
    return sorted(found.articles, key=lambda a: (article_when(a), a.id))


def story_outlets(session: Session, story_ids: Iterable[int]) -> dict[int, list[Outlet]]:
    """Give, per story, every outlet's copy (oldest first), in one indexed query."""
    ids = sorted(set(story_ids))
    outlets: dict[int, list[Outlet]] = {story_id: [] for story_id in ids}
    if not ids:
        return outlets
    rows = session.execute(
        select(
            Article.story_id,
            Article.id,
            Article.source,
            Article.canonical_url,
            _when().label("when"),
        ).where(Article.story_id.in_(ids), VISIBLE)
    ).all()
    for story_id, article_id, source, url, when in sorted(rows, key=lambda r: (r[4], r[1])):
        outlets[story_id].append(Outlet(article_id, source, url, when))
    return outlets


def latest_stories(session: Session, entity: str | None = None, limit: int = 50) -> list[Story]:
    """Give the newest stories (by when dramawatch first saw them), optionally only those
    with a copy mentioning ``entity``; copies and their mentions are loaded."""
    statement = (
        select(Story)
        .order_by(Story.first_seen_at.desc(), Story.id.desc())
        .limit(limit)
        .options(
            selectinload(Story.articles.and_(VISIBLE)).selectinload(Article.urls),
            selectinload(Story.articles.and_(VISIBLE)).selectinload(Article.mentions),
        )
    )
    if entity is None:
        statement = statement.where(exists().where(Article.story_id == Story.id, VISIBLE))
    else:
        # Nested, so each story is checked through its own copies (story_id index, then the
        # (article_id, entity) unique index); a flat EXISTS over articles and mentions lets
        # SQLite walk every mention of the name for every story (100x slower at 5k articles).
        mentions_it = exists().where(Mention.article_id == Article.id, Mention.entity == entity)
        statement = statement.where(
            exists().where(Article.story_id == Story.id, VISIBLE, mentions_it)
        )
    return list(session.scalars(statement))


def mentions_per_day(
    session: Session, entity: str, first: date, last: date, zone: tzinfo
) -> list[tuple[date, int]]:
    """Give the number of articles mentioning ``entity`` on each day ``first`` .. ``last``
    (days of ``zone``, every day listed, zeros included).

    The database counts per UTC hour, the same SQL on both engines, and the hours are folded
    into local days here: exact for every zone whose offset is whole hours.
    """
    since = datetime.combine(first, datetime.min.time(), tzinfo=zone)
    until = datetime.combine(last + timedelta(days=1), datetime.min.time(), tzinfo=zone)
    when = _when()
    if session.get_bind().dialect.name == "sqlite":
        hour = func.strftime("%Y-%m-%d %H", when)
    else:
        hour = func.to_char(func.timezone("UTC", when), "YYYY-MM-DD HH24")
    rows = session.execute(
        select(hour, func.count())
        .select_from(Mention)
        .join(Article, Article.id == Mention.article_id)
        .where(Mention.entity == entity, when >= since, when < until, VISIBLE)
        .group_by(hour)
    ).all()
    counts: Counter[date] = Counter()
    for bucket, count in rows:
        start = datetime.strptime(str(bucket), "%Y-%m-%d %H").replace(tzinfo=UTC)
        counts[start.astimezone(zone).date()] += int(count)
    days = (last - first).days + 1
    return [(first + timedelta(days=n), counts[first + timedelta(days=n)]) for n in range(days)]


@dataclass(frozen=True)
class SourceHealth:
    """One source at a glance: its last crawl, what it found, and its latest errors."""

    name: str
    configured: bool
    run_id: int | None
    run_started_at: datetime | None
    run_status: str | None
    pages_fetched: int
    articles_new: int
    articles_updated: int
    errors: int
    archived: int
    recent_errors: Sequence[CrawlError]

    @property
    def state(self) -> str:
        """Give ``never`` (not crawled yet), ``failing`` (errors, nothing fetched),
        ``errors`` (some pages failed) or ``ok``."""
        if self.run_id is None:
            return "never"
        if self.errors and not self.pages_fetched:
            return "failing"
        return "errors" if self.errors else "ok"


def source_health(session: Session, configured: Sequence[str]) -> list[SourceHealth]:
    """Give each configured source (then any other source the run history knows) with its
    last crawl's figures, its archived article count and its most recent errors."""
    last_run = (
        select(RunSource.source, func.max(RunSource.run_id).label("run_id"))
        .group_by(RunSource.source)
        .subquery()
    )
    latest = {
        row.source: (row, run)
        for row, run in session.execute(
            select(RunSource, CrawlRun)
            .join(
                last_run,
                (RunSource.source == last_run.c.source) & (RunSource.run_id == last_run.c.run_id),
            )
            .join(CrawlRun, CrawlRun.id == RunSource.run_id)
        )
    }
    archived: dict[str, int] = {
        source: count
        for source, count in session.execute(
            select(Article.source, func.count()).where(VISIBLE).group_by(Article.source)
        )
    }
    names = list(configured) + sorted(set(latest) - set(configured))
    health: list[SourceHealth] = []
    for name in names:
        errors = list(
            session.scalars(
                select(CrawlError)
                .where(CrawlError.source == name)
                .order_by(CrawlError.id.desc())
                .limit(RECENT_ERRORS)
            )
        )
        row, run = latest.get(name, (None, None))
        health.append(
            SourceHealth(
                name=name,
                configured=name in configured,
                run_id=run.id if run else None,
                run_started_at=run.started_at if run else None,
                run_status=run.status if run else None,
                pages_fetched=row.pages_fetched if row else 0,
                articles_new=row.articles_new if row else 0,
                articles_updated=row.articles_updated if row else 0,
                errors=row.errors if row else 0,
                archived=archived.get(name, 0),
                recent_errors=errors,
            )
        )
    return health


def digests(session: Session, limit: int = 500) -> list[Digest]:
    """Give the digests written so far (rows whose files exist), newest window first."""
    return list(
        session.scalars(
            select(Digest)
            .where(Digest.html_path != "")  # a window being rendered has no file yet
            .order_by(Digest.window_end.desc(), Digest.id.desc())
            .limit(limit)
        )
    )
