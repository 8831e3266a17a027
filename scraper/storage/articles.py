"""Article writes and identity lookups. Every function takes a Session; the caller owns the
transaction (``with factory.begin() as session``), so each article commits on its own."""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import (
    Select,
    and_,
    bindparam,
    delete,
    func,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from scraper.core import dedup
from scraper.core.urls import url_key
from scraper.storage.engine import insert_for
from scraper.storage.models import (
    Article,
    ArticleUrl,
    LshBand,
    Mention,
    Story,
)

logger = logging.getLogger(__name__)

StoreStatus = Literal["new", "updated", "unchanged"]
# near-duplicate candidates examined per article: band collisions beyond this are noise
MAX_STORY_CANDIDATES = 50
# longer URLs are kept truncated: they are almost always tracking junk
MAX_URL_CHARS = 2048


@dataclass(frozen=True)
class MentionRecord:
    entity: str
    spans: tuple[tuple[int, int], ...]


@dataclass(frozen=True)
class ArticleRecord:
    """What the pipeline hands the archive for one page: extracted, matched, fingerprinted."""

    canonical_url: str
    urls: tuple[str, ...]
    source: str
    title: str
    text: str
    author: str | None
    language: str | None
    published_at: datetime | None
    mentions: tuple[MentionRecord, ...]
    signature: bytes
    content_hash: str
    # a rel=canonical on another host: believed only if that article's text is this one's
    claimed_canonical: str | None = None


@dataclass(frozen=True)
class StoreResult:
    article_id: int
    story_id: int
    status: StoreStatus


def find_article_id(session: Session, keys: Iterable[str]) -> int | None:
    """Give the id of the article any of these URL keys belongs to."""
    keys = list(set(keys))
    by_url = select(ArticleUrl.article_id).where(ArticleUrl.url_key.in_(keys)).limit(1)
    found = session.scalar(by_url)
    if found is None:
        found = session.scalar(select(Article.id).where(Article.canonical_key.in_(keys)).limit(1))
    return found


def store_article(session: Session, record: ArticleRecord, now: datetime) -> StoreResult:
    """Insert or update one article, idempotently and safely against concurrent writers."""
    canonical_key = url_key(record.canonical_url)
    keys = {canonical_key, *(url_key(u) for u in record.urls)}
    article_id = find_article_id(session, keys)
    if article_id is None and record.claimed_canonical:
        lock_bands(session, record.signature)  # a copy and its original are stored in turn
        joined = _join_claimed(session, record, now)
        if joined is not None:
            return joined
    if article_id is None:
        try:
            with session.begin_nested():
                article = _insert_article(session, record, canonical_key, now)
        except IntegrityError:
            # another writer stored the same document between our lookup and insert
            article_id = find_article_id(session, keys)
            if article_id is None:
                raise
        else:
            _add_urls(session, article.id, record, now)
            _absorb_claimants(session, article)
            return StoreResult(article.id, article.story_id, "new")
    article = session.get_one(Article, article_id, with_for_update=_locks(session))
    _add_urls(session, article.id, record, now)
    # the crawl stores only what counts under today's rules: a hidden article it meets again
    # (rules loosened since the rematch that hid it) is visible again
    article.hidden = False
    if article.content_hash == record.content_hash:
        return StoreResult(article.id, article.story_id, "unchanged")
    article.title = record.title
    article.text = record.text
    article.author = record.author
    article.language = record.language
    article.published_at = record.published_at or article.published_at
    article.updated_at = now
    article.content_hash = record.content_hash
    article.signature = record.signature
    session.execute(delete(Mention).where(Mention.article_id == article.id))
    session.execute(delete(LshBand).where(LshBand.article_id == article.id))
    session.flush()
    _add_mentions_and_bands(session, article.id, record)
    return StoreResult(article.id, article.story_id, "updated")


def _join_claimed(session: Session, record: ArticleRecord, now: datetime) -> StoreResult | None:
    """Store a copy from another host as the article its rel=canonical names, when that
    article is archived and its text is the copy's; None when it is not (the claim stays
    unverified)."""
    claimed = record.claimed_canonical
    if claimed is None:
        return None
    target_id = find_article_id(session, [url_key(claimed)])
    if target_id is None:
        return None
    target = session.get_one(Article, target_id)
    if not dedup.same_document(target.signature, record.signature):
        logger.info(
            "%s claims to be %s but its text differs: kept apart",
            record.canonical_url,
            target.canonical_url,
        )
        return None
    _add_urls(session, target.id, record, now)
    return StoreResult(target.id, target.story_id, "unchanged")


def _absorb_claimants(session: Session, article: Article) -> None:
    """Fold into a newly stored article the copies stored earlier whose rel=canonical named
    it and whose text is its own: their URLs join it and their rows go."""
    claimants = session.scalars(
        select(Article).where(
            Article.claimed_canonical_key == article.canonical_key, Article.id != article.id
        )
    ).all()
    for claimant in claimants:
        if not dedup.same_document(article.signature, claimant.signature):
            continue
        logger.info("%s is a copy of %s: merged", claimant.canonical_url, article.canonical_url)
        session.execute(
            update(ArticleUrl)
            .where(ArticleUrl.article_id == claimant.id)
            .values(article_id=article.id)
        )
        story_id = claimant.story_id
        session.execute(delete(Mention).where(Mention.article_id == claimant.id))
        session.execute(delete(LshBand).where(LshBand.article_id == claimant.id))
        session.execute(delete(Article).where(Article.id == claimant.id))
        session.expunge(claimant)
        if story_id != article.story_id and not session.scalar(
            select(Article.id).where(Article.story_id == story_id).limit(1)
        ):
            session.execute(delete(Story).where(Story.id == story_id))


def _locks(session: Session) -> bool:
    return session.get_bind().dialect.name != "sqlite"


def _insert_article(
    session: Session, record: ArticleRecord, canonical_key: str, now: datetime
) -> Article:
    lock_bands(session, record.signature)
    story_id = find_story(session, record.signature)
    if story_id is None:
        story = Story(title=record.title, first_seen_at=now)
        session.add(story)
        session.flush()
        story_id = story.id
    article = Article(
        canonical_url=record.canonical_url,
        canonical_key=canonical_key,
        source=record.source,
        title=record.title,
        text=record.text,
        author=record.author,
        language=record.language,
        published_at=record.published_at,
        first_seen_at=now,
        updated_at=now,
        content_hash=record.content_hash,
        signature=record.signature,
        story_id=story_id,
        claimed_canonical_key=(
            url_key(record.claimed_canonical) if record.claimed_canonical else None
        ),
    )
    session.add(article)
    session.flush()
    _add_mentions_and_bands(session, article.id, record)
    return article


def lock_bands(session: Session, signature: bytes) -> None:
    """Serialize story choice between concurrent writers of near-duplicates (PostgreSQL).

    Two copies of one story stored at the same moment (two crawl workers, or two pipeline
    threads) would each miss the other's uncommitted row and open two stories. Near-duplicates
    share at least one LSH band, which is how they are found, so each writer first takes a
    transaction-scoped advisory lock per band hash, in sorted order (no deadlock): the second
    waits for the first to commit, then finds its story. Unrelated articles do not wait for each
    other. SQLite needs nothing: its write transactions (BEGIN IMMEDIATE) run one at a time.
    """
    if session.get_bind().dialect.name != "postgresql":
        return
    bands = enumerate(dedup.band_hashes(signature))
    keys = sorted({_int64((band << 56) ^ value) for band, value in bands})
    session.execute(
        text("SELECT pg_advisory_xact_lock(k) FROM unnest(CAST(:keys AS bigint[])) AS k"),
        {"keys": keys},
    )


def _int64(value: int) -> int:
    """Give ``value`` wrapped to a signed 64-bit integer (an advisory lock key)."""
    value &= (1 << 64) - 1
    return value - (1 << 64) if value >= 1 << 63 else value


def find_story(session: Session, signature: bytes) -> int | None:
    """Give the story of the most similar archived article, found through the LSH band index."""
    hashes = dedup.band_hashes(signature)
    if not hashes:
        return None  # the empty signature is similar to nothing
    candidates = _band_neighbours(session, hashes)
    if not candidates:
        return None  # most new articles: nothing shares a band
    rows = session.execute(
        select(Article.id, Article.story_id, Article.signature).where(Article.id.in_(candidates))
    ).all()
    return dedup.choose_story(signature, [(r[0], r[1], r[2]) for r in rows])


def _band_neighbours(session: Session, hashes: Sequence[int]) -> list[int]:
    """Give the archived articles sharing most LSH bands with ``hashes`` (one per band)."""
    if session.get_bind().dialect.name == "postgresql":
        # A join with the (band, hash) arrays: 64 index-only probes of the primary key (it
        # holds article_id). The OR-ed pairs made a BitmapOr that then read every matching
        # row's heap page, scattered over a band table of 64M rows at 1M articles; on a
        # machine whose page cache cannot hold it, those reads were the 2.3 s tail.
        pairs = text(
            "SELECT b.article_id FROM lsh_bands AS b "
            "JOIN unnest(CAST(:bands AS integer[]), CAST(:hashes AS bigint[])) AS q(band, hash) "
            "ON b.band = q.band AND b.hash = q.hash "
            "GROUP BY b.article_id ORDER BY count(*) DESC, b.article_id LIMIT :limit"
        )
        found = session.execute(
            pairs,
            {
                "bands": list(range(len(hashes))),
                "hashes": list(hashes),
                "limit": MAX_STORY_CANDIDATES,
            },
        )
        return list(found.scalars())
    statement = _sqlite_band_lookup(len(hashes))
    return list(session.execute(statement, {f"h{b}": h for b, h in enumerate(hashes)}).scalars())


@functools.cache
def _sqlite_band_lookup(bands: int) -> Select[int]:
    """Give the SQLite band lookup for ``bands`` hashes (parameters h0, h1...), built once:
    building the 64 OR-ed pairs took longer than running them."""
    # one (band, hash) equality pair per band, OR-ed: SQLite's MULTI-INDEX OR probes the
    # primary key, which covers article_id. A row-value IN made SQLite scan the whole table,
    # so every lookup grew with the archive (6 s at 20k articles).
    pairs = (
        and_(LshBand.band == band, LshBand.hash == bindparam(f"h{band}")) for band in range(bands)
    )
    return (
        select(LshBand.article_id)
        .where(or_(*pairs))
        .group_by(LshBand.article_id)
        .order_by(func.count().desc(), LshBand.article_id)
        .limit(MAX_STORY_CANDIDATES)
    )


def _add_mentions_and_bands(session: Session, article_id: int, record: ArticleRecord) -> None:
    # executemany of one cached statement: a multi-row VALUES was compiled again every time
    if record.mentions:
        session.execute(
            insert_for(session, Mention.__table__),
            [
                {"article_id": article_id, "entity": m.entity, "spans": [list(s) for s in m.spans]}
                for m in record.mentions
            ],
        )
    session.execute(
        insert_for(session, LshBand.__table__).on_conflict_do_nothing(),
        [
            {"band": band, "hash": value, "article_id": article_id}
            for band, value in enumerate(dedup.band_hashes(record.signature))
        ],
    )


def _add_urls(session: Session, article_id: int, record: ArticleRecord, now: datetime) -> None:
    urls = dict.fromkeys(u[:MAX_URL_CHARS] for u in (record.canonical_url, *record.urls))
    session.execute(
        insert_for(session, ArticleUrl)
        .values(
            [
                {
                    "article_id": article_id,
                    "url": url,
                    "url_key": url_key(url),
                    "first_seen_at": now,
                }
                for url in urls
            ]
        )
        .on_conflict_do_nothing(index_elements=["url"])
    )
