"""What the crawl remembers between runs about pages it fetched: archived articles' URLs and
the conditional-GET validators (ETag, Last-Modified) of feeds, sitemaps and listings."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from scraper.storage.models import Article, ArticleUrl, FetchCache


def archived_updated_at(session: Session, key: str) -> datetime | None:
    """Give when the archived article known under the URL key ``key`` was last written, or
    None when no article has that URL."""
    return session.scalar(
        select(Article.updated_at)
        .join(ArticleUrl, ArticleUrl.article_id == Article.id)
        .where(ArticleUrl.url_key == key)
    )


def validators(session: Session, url: str) -> FetchCache | None:
    """Give the validators the last finished crawl kept for ``url``."""
    return session.get(FetchCache, url)


def store_validators(
    session: Session, url: str, etag: str | None, modified: str | None, now: datetime
) -> None:
    """Keep (or replace) the validators of ``url``."""
    session.merge(FetchCache(url=url, etag=etag, last_modified=modified, checked_at=now))
