"""The digest records: windows, their files, delivery, and the archive reads a digest needs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, exists, func, select, update
from sqlalchemy.orm import Session, selectinload

from scraper.storage.models import Article, Digest, Mention, Story
from scraper.storage.search import VISIBLE


def latest(session: Session) -> Digest | None:
    """Give the digest with the latest window end."""
    return session.scalars(select(Digest).order_by(Digest.window_end.desc()).limit(1)).first()


def newest_first(session: Session) -> Sequence[Digest]:
    """Give every recorded digest, newest window first."""
    return session.scalars(select(Digest).order_by(Digest.window_end.desc())).all()


def last_delivered_end(session: Session) -> datetime | None:
    """Give the end of the latest delivered window, where the next default window starts."""
    return session.scalar(
        select(func.max(Digest.window_end)).where(Digest.delivered_at.is_not(None))
    )


def window(session: Session, start: datetime, end: datetime) -> Digest | None:
    """Give the digest of exactly ``[start, end)``."""
    return session.scalar(
        select(Digest).where(Digest.window_start == start, Digest.window_end == end)
    )


def undelivered_from(session: Session, start: datetime) -> Digest | None:
    """Give the latest undelivered digest whose window starts at ``start``."""
    return session.scalar(
        select(Digest)
        .where(Digest.window_start == start, Digest.delivered_at.is_(None))
        .order_by(Digest.window_end.desc())
        .limit(1)
    )


def extend(session: Session, digest_id: int, end: datetime, values: dict[str, Any]) -> bool:
    """Move an undelivered digest's window end to ``end`` (with ``values``); give False when
    it was delivered meanwhile."""
    extended = cast(
        CursorResult[Any],
        session.execute(
            update(Digest)
            .where(Digest.id == digest_id, Digest.delivered_at.is_(None))
            .values(window_end=end, **values)
            .execution_options(synchronize_session=False)
        ),
    )
    return extended.rowcount != 0


def stories_first_seen(session: Session, start: datetime, end: datetime) -> Sequence[Story]:
    """Give the stories first seen in ``[start, end)``, their visible articles and mentions
    loaded (articles hidden by ``rematch`` are left out)."""
    return session.scalars(
        select(Story)
        .where(
            Story.first_seen_at >= start,
            Story.first_seen_at < end,
            exists().where(Article.story_id == Story.id, VISIBLE),
        )
        .options(selectinload(Story.articles.and_(VISIBLE)).selectinload(Article.mentions))
        .order_by(Story.id)
    ).all()


def stories_updated(session: Session, start: datetime, end: datetime) -> Sequence[Story]:
    """Give the stories first seen before ``start`` with a visible article updated in place in
    ``[start, end)`` (a digest's "Updated" section), their visible articles loaded."""
    touched = select(Article.story_id).where(
        Article.updated_at >= start,
        Article.updated_at < end,
        Article.updated_at > Article.first_seen_at,
        VISIBLE,
    )
    return session.scalars(
        select(Story)
        .where(Story.first_seen_at < start, Story.id.in_(touched))
        .options(selectinload(Story.articles.and_(VISIBLE)).selectinload(Article.mentions))
        .order_by(Story.id)
    ).all()


def mention_dates(session: Session, start: datetime, end: datetime) -> list[tuple[str, datetime]]:
    """Give one (watched name, date) per mention dated in ``[start, end)`` by publication (or
    first sight, undated)."""
    when = func.coalesce(Article.published_at, Article.first_seen_at)
    rows = session.execute(
        select(Mention.entity, when)
        .join(Article, Mention.article_id == Article.id)
        .where(when >= start, when < end, VISIBLE)
    ).all()
    return [(entity, at) for entity, at in rows]


@dataclass(frozen=True)
class Claim:
    window_end: datetime
    delivered_at: datetime | None
    attempts: int


def claim_delivery(session: Session, digest_id: int, force: bool) -> Claim | None:
    """Count a delivery attempt of the digest, unless it was delivered already (or ``force``);
    give the claimed row, or None. The row stays locked until the transaction ends."""
    claim = update(Digest).where(Digest.id == digest_id)
    if not force:
        claim = claim.where(Digest.delivered_at.is_(None))
    claimed = cast(CursorResult[Any], session.execute(claim.values(attempts=Digest.attempts + 1)))
    if claimed.rowcount == 0:
        return None
    row = session.execute(
        select(Digest.window_end, Digest.delivered_at, Digest.attempts).where(
            Digest.id == digest_id
        )
    ).one()
    return Claim(row.window_end, row.delivered_at, row.attempts)


def record_failure(session: Session, digest_id: int, error: str) -> None:
    """Keep why the last delivery attempt failed."""
    session.execute(update(Digest).where(Digest.id == digest_id).values(last_error=error))


def record_delivery(
    session: Session, digest_id: int, now: datetime, recipients: Sequence[str]
) -> None:
    """Mark the digest delivered to ``recipients``."""
    session.execute(
        update(Digest)
        .where(Digest.id == digest_id)
        .values(delivered_at=now, recipients=list(recipients), last_error=None)
    )
