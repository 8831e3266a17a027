"""The digest of a window: query the archive, build, render, write the files, record, mail.

A window is ``[window_start, window_end)`` over the time stories were first seen. By default
it runs from the end of the last *delivered* window (mailed, or written when there are no
recipients) to now, so nothing is lost when a send fails or a run is skipped: the undelivered
window's row is extended to the new end, re-rendered and delivered once. The very first
digest starts at :data:`EPOCH` and so covers everything archived.

Recording is serialised: each run first upserts the ``digest`` row of ``service_lock``,
which takes the row (PostgreSQL) or the database write lock (SQLite) until the window is
recorded, so two runs never record overlapping undelivered windows. Mailing is
:func:`digests.send.deliver`.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast
from zoneinfo import ZoneInfo

from sqlalchemy import CursorResult, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, selectinload, sessionmaker

from digests.build import (
    CHART_DAYS,
    ArticleRow,
    DigestRow,
    DigestView,
    MentionRow,
    StoryRow,
    build_digest,
    build_index,
)
from digests.render import render_html, render_index, render_text
from digests.send import DeliveryError, Outgoing, deliver, parse_smtp_url
from scraper.config import Config
from scraper.storage import search as archive_search
from scraper.storage.models import Article, Digest, Mention, ServiceLock, Story

logger = logging.getLogger(__name__)

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
DIGEST_LOCK = "digest"
INDEX_NAME = "index.html"
# Recording retries when another run delivered the window this run was extending.
_RECORD_TRIES = 3


@dataclass(frozen=True)
class DigestResult:
    html_path: Path
    text_path: Path
    story_count: int
    window_start: datetime
    window_end: datetime
    sent: bool


@dataclass(frozen=True)
class _Recorded:
    digest_id: int
    result: DigestResult
    view: DigestView
    html: str
    text: str
    delivered: bool


def run_digest(
    config: Config,
    sessions: sessionmaker[Session],
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    send: bool = False,
    force: bool = False,
    now: datetime | None = None,
) -> DigestResult:
    """Render, write and record the digest of a window; with ``send``, mail it unless that
    window was mailed already (``force`` mails it again). Raise :class:`~digests.send.DeliveryError`
    when mailing fails: the files are written and the window stays undelivered."""
    started = time.monotonic()
    now = now or datetime.now(UTC)
    recorded = None
    for _ in range(_RECORD_TRIES):
        recorded = _record(config, sessions, since, until, now)
        if recorded is not None:
            break
    if recorded is None:
        raise RuntimeError("another run delivered the digest window each time: try again")
    result = recorded.result
    digest = config.digest
    sent = False
    if send and not digest.recipients:
        logger.warning("[digest] recipients is empty: the digest is written, not mailed")
    try:
        if send and digest.recipients:
            if recorded.delivered and not force:
                logger.info(
                    "digest %d was mailed already: not sending it again", recorded.digest_id
                )
            elif result.story_count == 0 and not digest.send_empty:
                logger.info("digest %d has nothing new: not mailed", recorded.digest_id)
            elif not config.smtp_url:
                raise DeliveryError(
                    f"DRAMAWATCH_SMTP_URL is not set: the digest was written to "
                    f"{result.html_path} but not mailed"
                )
            else:
                try:
                    sent = deliver(
                        sessions,
                        recorded.digest_id,
                        Outgoing(recorded.view.subject, recorded.text, recorded.html),
                        smtp=parse_smtp_url(config.smtp_url),
                        sender=digest.sender,
                        recipients=digest.recipients,
                        now=now,
                        force=force,
                    )
                except DeliveryError as exc:
                    raise DeliveryError(
                        f"{exc} (the digest is written to {result.html_path}; the next "
                        "--send or scheduled digest mails it)"
                    ) from None
    finally:
        write_index(config, sessions, recorded.view.label)
    logger.info(
        "digest %d: %s, %d stories, %s in %.1fs: %s",
        recorded.digest_id,
        recorded.view.window_text,
        result.story_count,
        "mailed" if sent else "written",
        time.monotonic() - started,
        result.html_path,
    )
    return DigestResult(
        html_path=result.html_path,
        text_path=result.text_path,
        story_count=result.story_count,
        window_start=result.window_start,
        window_end=result.window_end,
        sent=sent,
    )


def _record(
    config: Config,
    sessions: sessionmaker[Session],
    since: datetime | None,
    until: datetime | None,
    now: datetime,
) -> _Recorded | None:
    """Render the window and record it; give None when the undelivered row this run meant to
    extend was delivered meanwhile (the caller starts over from the new last delivery)."""
    digest = config.digest
    with sessions.begin() as session:
        _take_lock(session, now)
        end = until or now
        start = since or last_delivered_end(session) or EPOCH
        start = min(start, end)
        row = session.scalar(
            select(Digest).where(Digest.window_start == start, Digest.window_end == end)
        )
        if row is None and until is None:
            # an undelivered "up to now" window from the same start: extend it, not a second one
            row = session.scalar(
                select(Digest)
                .where(Digest.window_start == start, Digest.delivered_at.is_(None))
                .order_by(Digest.window_end.desc())
                .limit(1)
            )
        view = build_digest(
            story_rows(session, start, end),
            mention_rows(session, chart_start(end, digest.timezone), end),
            config.watch,
            window_start=None if start == EPOCH else start,
            window_end=end,
            generated_at=now,
            timezone=digest.timezone,
            updated=updated_story_rows(session, start, end),
        )
        html, text = render_html(view), render_text(view)
        written_is_delivered = not digest.recipients
        old_paths: tuple[str, ...] = ()
        if row is None:
            row = Digest(
                window_start=start,
                window_end=end,
                created_at=now,
                story_count=view.story_count,
                html_path="",
                text_path="",
                recipients=[],
                attempts=0,
                delivered_at=now if written_is_delivered else None,
            )
            session.add(row)
            session.flush()
        elif row.window_end != end:
            old_paths = (row.html_path, row.text_path)
            extended = cast(
                CursorResult[Any],
                session.execute(
                    update(Digest)
                    .where(Digest.id == row.id, Digest.delivered_at.is_(None))
                    .values(
                        window_end=end,
                        created_at=now,
                        story_count=view.story_count,
                        delivered_at=now if written_is_delivered else None,
                    )
                    .execution_options(synchronize_session=False)
                ),
            )
            if extended.rowcount == 0:
                logger.info("digest %d was delivered by another run meanwhile", row.id)
                return None
            session.refresh(row)
        else:
            row.story_count = view.story_count
            if written_is_delivered and row.delivered_at is None:
                row.delivered_at = now
        html_path, text_path = _paths(digest.output_dir, row.id, end, digest.timezone)
        _write(html_path, html)
        _write(text_path, text)
        for old in old_paths:
            if old and old not in (str(html_path), str(text_path)):
                Path(old).unlink(missing_ok=True)
        row.html_path, row.text_path = str(html_path), str(text_path)
        return _Recorded(
            digest_id=row.id,
            result=DigestResult(html_path, text_path, view.story_count, start, end, False),
            view=view,
            html=html,
            text=text,
            delivered=row.delivered_at is not None,
        )


def _take_lock(session: Session, now: datetime) -> None:
    """Serialise digest recording across processes until this transaction ends."""
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    holder = f"{socket.gethostname()}:{os.getpid()}"
    session.execute(
        insert(ServiceLock)
        .values(name=DIGEST_LOCK, holder=holder, heartbeat_at=now)
        .on_conflict_do_update(
            index_elements=[ServiceLock.name], set_={"holder": holder, "heartbeat_at": now}
        )
    )


def last_delivered_end(session: Session) -> datetime | None:
    """Give the end of the latest delivered window, where the next default window starts."""
    return session.scalar(
        select(func.max(Digest.window_end)).where(Digest.delivered_at.is_not(None))
    )


def chart_start(window_end: datetime, timezone: str) -> datetime:
    """Give the first instant of the chart: local midnight ``CHART_DAYS - 1`` days before the
    window's last day."""
    zone = ZoneInfo(timezone)
    last_day = (window_end - timedelta(microseconds=1)).astimezone(zone).date()
    first_day = last_day - timedelta(days=CHART_DAYS - 1)
    return datetime(first_day.year, first_day.month, first_day.day, tzinfo=zone).astimezone(UTC)


def story_rows(session: Session, start: datetime, end: datetime) -> list[StoryRow]:
    """Give the stories first seen in ``[start, end)`` with their copies seen before ``end``."""
    stories = session.scalars(
        select(Story)
        .where(Story.first_seen_at >= start, Story.first_seen_at < end)
        .options(selectinload(Story.articles).selectinload(Article.mentions))
        .order_by(Story.id)
    ).all()
    return [_story_row(story, end) for story in stories]


def updated_story_rows(session: Session, start: datetime, end: datetime) -> list[StoryRow]:
    """Give the stories first seen before ``start`` with an article updated in place in
    ``[start, end)`` (the digest's "Updated" section)."""
    touched = select(Article.story_id).where(
        Article.updated_at >= start,
        Article.updated_at < end,
        Article.updated_at > Article.first_seen_at,
    )
    stories = session.scalars(
        select(Story)
        .where(Story.first_seen_at < start, Story.id.in_(touched))
        .options(selectinload(Story.articles).selectinload(Article.mentions))
        .order_by(Story.id)
    ).all()
    return [_story_row(story, end) for story in stories]


def _story_row(story: Story, end: datetime) -> StoryRow:
    everything = archive_search.SearchQuery()
    return StoryRow(
        story_id=story.id,
        title=story.title,
        first_seen_at=story.first_seen_at,
        articles=tuple(
            ArticleRow(
                source=article.source,
                url=article.canonical_url,
                title=article.title,
                published_at=article.published_at,
                first_seen_at=article.first_seen_at,
                entities=tuple(m.entity for m in article.mentions),
                snippet=archive_search.make_snippet(article, everything),
                updated_at=(
                    article.updated_at if article.first_seen_at < article.updated_at < end else None
                ),
            )
            for article in story.articles
            if article.first_seen_at < end
        ),
    )


def mention_rows(session: Session, start: datetime, end: datetime) -> list[MentionRow]:
    """Give one row per (article, watched name) dated in ``[start, end)`` by publication
    (or first sight, undated), for the mentions-per-day chart."""
    when = func.coalesce(Article.published_at, Article.first_seen_at)
    rows = session.execute(
        select(Mention.entity, when)
        .join(Article, Mention.article_id == Article.id)
        .where(when >= start, when < end)
    ).all()
    return [MentionRow(entity, at) for entity, at in rows]


def _paths(output_dir: Path, digest_id: int, end: datetime, timezone: str) -> tuple[Path, Path]:
    local = end.astimezone(ZoneInfo(timezone))
    stem = f"digest-{local:%Y-%m-%d-%H%M}-{digest_id}"
    return output_dir / f"{stem}.html", output_dir / f"{stem}.txt"


def _write(path: Path, content: str) -> None:
    """Write ``path`` atomically, so a reader (or a crash) never sees half a digest."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    partial.write_text(content, encoding="utf-8")
    os.replace(partial, path)


def write_index(config: Config, sessions: sessionmaker[Session], label: str) -> Path:
    """Rewrite ``index.html`` in the output directory: every recorded digest, newest first."""
    with sessions() as session:
        digests = session.scalars(select(Digest).order_by(Digest.window_end.desc())).all()
        rows = [
            DigestRow(
                window_start=None if d.window_start == EPOCH else d.window_start,
                window_end=d.window_end,
                story_count=d.story_count,
                html_name=Path(d.html_path).name,
                text_name=Path(d.text_path).name,
                delivered_at=d.delivered_at,
                recipients=len(d.recipients or []),
                attempts=d.attempts,
                last_error=d.last_error,
            )
            for d in digests
            if d.html_path
        ]
    path = config.digest.output_dir / INDEX_NAME
    _write(path, render_index(label, build_index(rows, config.digest.timezone)))
    return path
