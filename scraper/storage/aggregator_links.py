"""Resolved aggregator links: a Google News article id and the publisher URL it stands for."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from scraper.storage.models import ResolvedAggregatorLink


def publisher_url(session: Session, article_id: str) -> str | None:
    """Give the publisher URL an aggregator article id was resolved to, or None."""
    link = session.get(ResolvedAggregatorLink, article_id)
    return link.publisher_url if link is not None else None


def remember(session: Session, article_id: str, url: str, now: datetime) -> None:
    """Record (or refresh) the publisher URL of an aggregator article id."""
    insert: Any = sqlite_insert if session.get_bind().dialect.name == "sqlite" else pg_insert
    statement = insert(ResolvedAggregatorLink).values(
        article_id=article_id, publisher_url=url, resolved_at=now
    )
    session.execute(
        statement.on_conflict_do_update(
            index_elements=[ResolvedAggregatorLink.article_id],
            set_={"publisher_url": url, "resolved_at": now},
        )
    )
