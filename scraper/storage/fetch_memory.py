"""The fetch memory: every page a crawl fetched, and each origin's last robots.txt.

Every function takes a Session; the caller owns the transaction. Writes are upserts on the
primary key, so workers sharing the archive never race a check against an insert.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from scraper.storage.engine import insert_for
from scraper.storage.models import Article, ArticleUrl, FetchMemory, RobotsTxt

Verdict = Literal[
    "discovery",
    "stored",
    "off-topic",
    "too old",
    "not an article",
    "failed transient",
    "failed permanent",
]
# a key longer than the column is cut: such URLs are tracking junk, and a cut key only
# makes two of them share a memory
MAX_KEY_CHARS = 2048


@dataclass(frozen=True)
class Fetched:
    """What one fetch of a page found: written to the memory under ``key``."""

    key: str
    url: str
    verdict: Verdict
    etag: str | None
    last_modified: str | None
    entry_modified_at: datetime | None
    failures: int
    fetched_at: datetime


@dataclass(frozen=True)
class Robots:
    """An origin's last robots.txt answer (2xx rules, or a 4xx meaning allow all)."""

    status: int
    body: bytes
    etag: str | None
    last_modified: str | None
    fetched_at: datetime


def _fetched(row: FetchMemory) -> Fetched:
    """Give the memory row as a Fetched."""
    return Fetched(
        key=row.url_key,
        url=row.url,
        verdict=row.verdict,  # type: ignore[arg-type]  # written only from Verdict
        etag=row.etag,
        last_modified=row.last_modified,
        entry_modified_at=row.entry_modified_at,
        failures=row.failures,
        fetched_at=row.fetched_at,
    )


def recall(session: Session, key: str) -> Fetched | None:
    """Give what the memory holds for ``key``; an article archived before the memory
    existed is recalled as stored, fetched when it was last updated."""
    row = session.get(FetchMemory, key[:MAX_KEY_CHARS])
    if row is not None:
        return _fetched(row)
    archived = session.execute(
        select(ArticleUrl.url, Article.updated_at)
        .join(Article, ArticleUrl.article_id == Article.id)
        .where(ArticleUrl.url_key == key)
        .limit(1)
    ).first()
    if archived is None:
        return None
    return Fetched(key, archived[0], "stored", None, None, None, 0, archived[1])


def recall_many(session: Session, keys: Iterable[str]) -> dict[str, Fetched | None]:
    """Give what ``recall`` gives for each of ``keys``, in two statements for all of them."""
    wanted = {key: key[:MAX_KEY_CHARS] for key in keys}
    rows = session.scalars(select(FetchMemory).where(FetchMemory.url_key.in_(set(wanted.values()))))
    remembered = {row.url_key: _fetched(row) for row in rows}
    found: dict[str, Fetched | None] = {
        key: remembered.get(stored) for key, stored in wanted.items()
    }
    missing = [key for key, fetched in found.items() if fetched is None]
    if missing:
        archived = session.execute(
            select(ArticleUrl.url_key, ArticleUrl.url, Article.updated_at)
            .join(Article, ArticleUrl.article_id == Article.id)
            .where(ArticleUrl.url_key.in_(missing))
        )
        for key, url, updated_at in archived:
            if found.get(key) is None:
                found[key] = Fetched(key, url, "stored", None, None, None, 0, updated_at)
    return found


def remember(session: Session, fetches: Iterable[Fetched]) -> None:
    """Write these fetches over what the memory held for their keys."""
    rows = {
        f.key[:MAX_KEY_CHARS]: {
            "url_key": f.key[:MAX_KEY_CHARS],
            "url": f.url,
            "verdict": f.verdict,
            "etag": f.etag,
            "last_modified": f.last_modified,
            "entry_modified_at": f.entry_modified_at,
            "failures": f.failures,
            "fetched_at": f.fetched_at,
        }
        for f in fetches
    }
    if not rows:
        return
    statement = insert_for(session, FetchMemory).values(list(rows.values()))
    columns = ("url", "verdict", "etag", "last_modified", "entry_modified_at", "failures")
    session.execute(
        statement.on_conflict_do_update(
            index_elements=["url_key"],
            set_={
                **{c: statement.excluded[c] for c in columns},
                "fetched_at": statement.excluded.fetched_at,
            },
        )
    )


def discovery_validators(session: Session, url: str) -> tuple[str | None, str | None] | None:
    """Give the (ETag, Last-Modified) a discovery page was last served with, if any."""
    row = session.get(FetchMemory, url[:MAX_KEY_CHARS])
    if row is None or row.verdict != "discovery":
        return None
    return row.etag, row.last_modified


def remember_discovery(
    session: Session, url: str, etag: str | None, last_modified: str | None, now: datetime
) -> None:
    """Keep a discovery page's validators for the next run's conditional request."""
    remember(session, [Fetched(url, url, "discovery", etag, last_modified, None, 0, now)])


def recall_robots(session: Session, origin: str) -> Robots | None:
    """Give the origin's last robots.txt answer, if one was kept."""
    row = session.get(RobotsTxt, origin)
    if row is None:
        return None
    return Robots(row.status, row.body, row.etag, row.last_modified, row.fetched_at)


def remember_robots(session: Session, origin: str, robots: Robots) -> None:
    """Keep the origin's robots.txt answer (2xx or 4xx; never an error, which keeps the
    last good copy)."""
    values = {
        "origin": origin,
        "status": robots.status,
        "body": robots.body,
        "etag": robots.etag,
        "last_modified": robots.last_modified,
        "fetched_at": robots.fetched_at,
    }
    statement = insert_for(session, RobotsTxt).values(values)
    session.execute(
        statement.on_conflict_do_update(
            index_elements=["origin"],
            set_={k: statement.excluded[k] for k in values if k != "origin"},
        )
    )
