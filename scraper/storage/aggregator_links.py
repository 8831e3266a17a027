"""Resolved aggregator links: a Google News article id and the publisher URL it stands for."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from scraper.storage.engine import insert_for
from scraper.storage.models import ResolvedAggregatorLink


def publisher_url(session: Session, article_id: str) -> str | None:
    """Give the publisher URL an aggregator article id was resolved to, or None."""
    link = session.get(ResolvedAggregatorLink, article_id)
    return link.publisher_url if link is not None else None


def remember(session: Session, article_id: str, url: str, now: datetime) -> None:
    """Record (or refresh) the publisher URL of an aggregator article id."""
    statement = insert_for(session, ResolvedAggregatorLink).values(
        article_id=article_id, publisher_url=url, resolved_at=now
    )
    session.execute(
        statement.on_conflict_do_update(
            index_elements=[ResolvedAggregatorLink.article_id],
            set_={"publisher_url": url, "resolved_at": now},
        )
    )
