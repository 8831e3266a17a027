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
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

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
from scraper.core.identity import process_identity
from scraper.storage import digests as digest_records
from scraper.storage import leases
from scraper.storage import search as archive_search
from scraper.storage.engine import Session, Sessions
from scraper.storage.models import Digest, Story

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
    sessions: Sessions,
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
    sessions: Sessions,
    since: datetime | None,
    until: datetime | None,
    now: datetime,
) -> _Recorded | None:
    """Render the window and record it; give None when the window this run rendered is no
    longer the one to record (another run delivered meanwhile: the caller starts over).

    The archive is read, the digest rendered and its files written before the digest lock is
    taken, so crawl writers are not held up meanwhile; the lock covers the record only."""
    digest = config.digest
    end = until or now
    with sessions() as session:
        start = _window_start(session, since, end)
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
    staged = (_stage(digest.output_dir, html), _stage(digest.output_dir, text))
    try:
        with sessions.begin() as session:
            leases.take_lock(session, DIGEST_LOCK, process_identity(), now)
            if _window_start(session, since, end) != start:
                logger.info("a digest was delivered meanwhile: rendering the window again")
                return None
            recorded = _record_window(
                session, config, view, (start, end), now, until is None, staged
            )
    finally:
        for path in staged:
            path.unlink(missing_ok=True)
    if recorded is None:
        return None
    digest_id, html_path, text_path, delivered = recorded
    return _Recorded(
        digest_id=digest_id,
        result=DigestResult(html_path, text_path, view.story_count, start, end, False),
        view=view,
        html=html,
        text=text,
        delivered=delivered,
    )


def _window_start(session: Session, since: datetime | None, end: datetime) -> datetime:
    start = since or digest_records.last_delivered_end(session) or EPOCH
    return min(start, end)


def _record_window(
    session: Session,
    config: Config,
    view: DigestView,
    window: tuple[datetime, datetime],
    now: datetime,
    extend_open: bool,
    staged: tuple[Path, Path],
) -> tuple[int, Path, Path, bool] | None:
    """Record the rendered window (under the digest lock) and move its files into place; give
    the digest's id, its two paths and whether it counts as delivered;
    ``extend_open``: an undelivered window from the same start may be extended to this end."""
    digest = config.digest
    start, end = window
    row = digest_records.window(session, start, end)
    if row is None and extend_open:
        # an undelivered "up to now" window from the same start: extend it, not a second one
        row = digest_records.undelivered_from(session, start)
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
        values = {
            "created_at": now,
            "story_count": view.story_count,
            "delivered_at": now if written_is_delivered else None,
        }
        if not digest_records.extend(session, row.id, end, values):
            logger.info("digest %d was delivered by another run meanwhile", row.id)
            return None
        session.refresh(row)
    else:
        row.story_count = view.story_count
        if written_is_delivered and row.delivered_at is None:
            row.delivered_at = now
    html_path, text_path = _paths(digest.output_dir, row.id, end, digest.timezone)
    os.replace(staged[0], html_path)
    os.replace(staged[1], text_path)
    for old in old_paths:
        if old and old not in (str(html_path), str(text_path)):
            Path(old).unlink(missing_ok=True)
    row.html_path, row.text_path = str(html_path), str(text_path)
    return row.id, html_path, text_path, row.delivered_at is not None


def chart_start(window_end: datetime, timezone: str) -> datetime:
    """Give the first instant of the chart: local midnight ``CHART_DAYS - 1`` days before the
    window's last day."""
    zone = ZoneInfo(timezone)
    last_day = (window_end - timedelta(microseconds=1)).astimezone(zone).date()
    first_day = last_day - timedelta(days=CHART_DAYS - 1)
    return datetime(first_day.year, first_day.month, first_day.day, tzinfo=zone).astimezone(UTC)


def story_rows(session: Session, start: datetime, end: datetime) -> list[StoryRow]:
    """Give the stories first seen in ``[start, end)`` with their copies seen before ``end``."""
    stories = digest_records.stories_first_seen(session, start, end)
    return [_story_row(story, end) for story in stories]


def updated_story_rows(session: Session, start: datetime, end: datetime) -> list[StoryRow]:
    """Give the stories first seen before ``start`` with an article updated in place in
    ``[start, end)`` (the digest's "Updated" section)."""
    stories = digest_records.stories_updated(session, start, end)
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
    return [
        MentionRow(entity, at) for entity, at in digest_records.mention_dates(session, start, end)
    ]


def _paths(output_dir: Path, digest_id: int, end: datetime, timezone: str) -> tuple[Path, Path]:
    local = end.astimezone(ZoneInfo(timezone))
    stem = f"digest-{local:%Y-%m-%d-%H%M}-{digest_id}"
    return output_dir / f"{stem}.html", output_dir / f"{stem}.txt"


def _stage(directory: Path, content: str) -> Path:
    """Write ``content`` to a new hidden file in ``directory``, to be moved into place."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f".digest-{os.getpid()}-{uuid.uuid4().hex}.tmp"
    path.write_text(content, encoding="utf-8")
    return path


def _write(path: Path, content: str) -> None:
    """Write ``path`` atomically, so a reader (or a crash) never sees half a digest."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # unique per writer: two threads of one process may rewrite the index at once
    partial = path.with_name(f".{path.name}.{os.getpid()}-{uuid.uuid4().hex}.tmp")
    partial.write_text(content, encoding="utf-8")
    os.replace(partial, path)


def write_index(config: Config, sessions: Sessions, label: str) -> Path:
    """Rewrite ``index.html`` in the output directory: every recorded digest, newest first."""
    with sessions() as session:
        digests = digest_records.newest_first(session)
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
