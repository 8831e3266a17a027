"""The SQL of ``dramawatch rematch``: read archived articles in id order, write new verdicts.

The caller owns the transaction, one per batch, and decides (``core.verdict``) what each
article's mentions are under today's rules. Nothing here deletes an article: one that no watch
entry counts for is marked hidden, and keeps the mentions it had, so a later rematch under
other rules can bring it back.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session, selectinload

from scraper.storage.articles import MentionRecord
from scraper.storage.models import Article, Mention

DEFAULT_BATCH = 500


@dataclass(frozen=True)
class ArchivedArticle:
    """One archived article as a rematch sees it: stored text and today's mentions."""

    id: int
    canonical_url: str
    source: str
    title: str
    text: str
    language: str | None
    hidden: bool
    mentions: tuple[MentionRecord, ...]


@dataclass(frozen=True)
class Rematched:
    """The new verdict for one article: visible with these mentions, or hidden."""

    article_id: int
    hidden: bool
    mentions: tuple[MentionRecord, ...] = ()


def archived_batch(
    session: Session, after_id: int = 0, size: int = DEFAULT_BATCH
) -> list[ArchivedArticle]:
    """Give up to ``size`` archived articles (hidden ones too) with ids above ``after_id``."""
    found = session.scalars(
        select(Article)
        .where(Article.id > after_id)
        .order_by(Article.id)
        .limit(size)
        .options(selectinload(Article.mentions))
    ).all()
    return [
        ArchivedArticle(
            id=article.id,
            canonical_url=article.canonical_url,
            source=article.source,
            title=article.title,
            text=article.text,
            language=article.language,
            hidden=article.hidden,
            mentions=tuple(
                MentionRecord(m.entity, tuple((int(a), int(b)) for a, b in m.spans))
                for m in article.mentions
            ),
        )
        for article in found
    ]


def apply_rematch(session: Session, changes: Sequence[Rematched]) -> None:
    """Write new verdicts: hide an article (its mentions kept), or show it with new mentions."""
    hide = [change.article_id for change in changes if change.hidden]
    if hide:
        session.execute(update(Article).where(Article.id.in_(hide)).values(hidden=True))
    show = [change for change in changes if not change.hidden]
    if not show:
        return
    ids = [change.article_id for change in show]
    session.execute(update(Article).where(Article.id.in_(ids)).values(hidden=False))
    session.execute(delete(Mention).where(Mention.article_id.in_(ids)))
    rows = [
        {"article_id": change.article_id, "entity": m.entity, "spans": [list(s) for s in m.spans]}
        for change in show
        for m in change.mentions
    ]
    if rows:
        session.execute(insert(Mention), rows)
