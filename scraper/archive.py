"""Reads and writes of the archive. Every function takes a Session; the caller owns the
transaction (``with factory.begin() as session``), so each article commits on its own."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    column,
    delete,
    exists,
    func,
    literal_column,
    or_,
    select,
    table,
    text,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from scraper import dedup
from scraper.models import (
    Article,
    ArticleUrl,
    CrawlError,
    CrawlRun,
    LshBand,
    Mention,
    RunSource,
    Story,
)
from scraper.urls import url_key

logger = logging.getLogger(__name__)

StoreStatus = Literal["new", "updated", "unchanged"]
# near-duplicate candidates examined per article: band collisions beyond this are noise
MAX_STORY_CANDIDATES = 50
SNIPPET_CHARS = 240
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


@dataclass(frozen=True)
class StoreResult:
    article_id: int
    story_id: int
    status: StoreStatus


def _insert(session: Session) -> Any:
    """Give the dialect's INSERT that knows ON CONFLICT (SQLite and PostgreSQL both do)."""
    return sqlite_insert if session.get_bind().dialect.name == "sqlite" else pg_insert


def find_article_id(session: Session, keys: Iterable[str]) -> int | None:
    """Give the id of the article any of these URL keys belongs to."""
    keys = list(set(keys))
    by_url = select(ArticleUrl.article_id).where(ArticleUrl.url_key.in_(keys)).limit(1)
    found = session.scalar(by_url)
    if found is None:
        found = session.scalar(select(Article.id).where(Article.canonical_key.in_(keys)).limit(1))
    return found


def known_url_keys(session: Session, keys: Iterable[str]) -> set[str]:
    """Give the subset of URL keys already in the archive (to skip refetching them)."""
    keys = list(set(keys))
    if not keys:
        return set()
    return set(session.scalars(select(ArticleUrl.url_key).where(ArticleUrl.url_key.in_(keys))))


def store_article(session: Session, record: ArticleRecord, now: datetime) -> StoreResult:
    """Insert or update one article, idempotently and safely against concurrent writers."""
    canonical_key = url_key(record.canonical_url)
    keys = {canonical_key, *(url_key(u) for u in record.urls)}
    article_id = find_article_id(session, keys)
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
            return StoreResult(article.id, article.story_id, "new")
    article = session.get_one(Article, article_id, with_for_update=_locks(session))
    _add_urls(session, article.id, record, now)
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
    bands = list(enumerate(dedup.band_hashes(signature)))
    if not bands:
        return None  # the empty signature is similar to nothing
    hits = (
        select(LshBand.article_id)
        # one (band, hash) equality pair per band, OR-ed: SQLite (MULTI-INDEX OR) and
        # PostgreSQL (BitmapOr) both probe the primary key. A row-value IN made SQLite scan
        # the whole table, so every lookup grew with the archive (6 s at 20k articles).
        .where(or_(*(and_(LshBand.band == band, LshBand.hash == value) for band, value in bands)))
        .group_by(LshBand.article_id)
        .order_by(func.count().desc())
        .limit(MAX_STORY_CANDIDATES)
    )
    rows = session.execute(
        select(Article.id, Article.story_id, Article.signature).where(Article.id.in_(hits))
    ).all()
    return dedup.choose_story(signature, [(r[0], r[1], r[2]) for r in rows])


def _add_mentions_and_bands(session: Session, article_id: int, record: ArticleRecord) -> None:
    if record.mentions:
        session.execute(
            _insert(session)(Mention).values(
                [
                    {
                        "article_id": article_id,
                        "entity": m.entity,
                        "spans": [list(s) for s in m.spans],
                    }
                    for m in record.mentions
                ]
            )
        )
    session.execute(
        _insert(session)(LshBand)
        .values(
            [
                {"band": band, "hash": value, "article_id": article_id}
                for band, value in enumerate(dedup.band_hashes(record.signature))
            ]
        )
        .on_conflict_do_nothing()
    )


def _add_urls(session: Session, article_id: int, record: ArticleRecord, now: datetime) -> None:
    urls = dict.fromkeys(u[:MAX_URL_CHARS] for u in (record.canonical_url, *record.urls))
    session.execute(
        _insert(session)(ArticleUrl)
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


# ---------------------------------------------------------------- search


class SearchSyntaxError(ValueError):
    """A full-text query that cannot be parsed; str() is the one-line reason."""


@dataclass(frozen=True)
class SearchQuery:
    text: str | None = None
    entity: str | None = None
    source: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    limit: int | None = 50
    offset: int = 0


@dataclass(frozen=True)
class SearchHit:
    article: Article
    snippet: str


# the FTS5 external-content table the migrations create on SQLite
ARTICLES_FTS = table("articles_fts", column("rowid"))

_TOKEN = re.compile(r'"([^"]*)"|(\S+)')
_WORD = re.compile(r"\w+\*?")


def fts5_query(query: str) -> str:
    """Translate a web-search-style query (words, "phrases", OR, -word, prefix*) to FTS5,
    quoting every term so punctuation in names (Soo-hyun) is never FTS5 syntax."""
    if query.count('"') % 2:
        raise SearchSyntaxError("unbalanced quote in search text")
    parts: list[str] = []
    negated: list[str] = []
    for phrase, word in _TOKEN.findall(query):
        if word.upper() == "OR" and not phrase:
            if parts and parts[-1] != "OR":
                parts.append("OR")
            continue
        negate = bool(word.startswith("-")) and len(word) > 1
        words = _WORD.findall(phrase if phrase else word)
        if not words:
            continue
        prefix = words[-1].endswith("*")
        terms = " ".join(w.rstrip("*") for w in words)
        term = f'"{terms}"' + ("*" if prefix else "")
        (negated if negate else parts).append(term)
    while parts and parts[-1] == "OR":
        parts.pop()
    if not parts:
        raise SearchSyntaxError("search text has no words to look for")
    expression = " ".join(parts)
    for term in negated:
        expression = f"({expression}) NOT {term}"
    return expression


def search(session: Session, query: SearchQuery) -> list[SearchHit]:
    """Give matching articles: best match first for text queries, else newest first."""
    if query.text and "\x00" in query.text:
        # PostgreSQL refuses NUL in a text parameter, and it is never part of a word
        query = replace(query, text=query.text.replace("\x00", " "))
    when = func.coalesce(Article.published_at, Article.first_seen_at)
    statement: Select[Any] = select(Article).options(
        selectinload(Article.urls), selectinload(Article.mentions)
    )
    dialect = session.get_bind().dialect.name
    if query.text:
        if dialect == "sqlite":
            match = fts5_query(query.text)
            rank: ColumnElement[float] = literal_column("bm25(articles_fts, 5.0, 1.0)")
            statement = (
                statement.join(ARTICLES_FTS, ARTICLES_FTS.c.rowid == Article.id)
                .where(literal_column("articles_fts").op("MATCH")(match))
                .order_by(rank, when.desc())
            )
        else:
            fts5_query(query.text)  # same syntax rules on every backend
            tsquery = func.websearch_to_tsquery("simple", query.text)
            document: ColumnElement[Any] = literal_column("articles.search_vector")  # GIN-indexed
            statement = statement.where(document.op("@@")(tsquery)).order_by(
                func.ts_rank(document, tsquery).desc(), when.desc()
            )
    else:
        statement = statement.order_by(when.desc(), Article.id.desc())
    if query.entity:
        statement = statement.where(
            exists().where(Mention.article_id == Article.id, Mention.entity == query.entity)
        )
    if query.source:
        statement = statement.where(Article.source == query.source)
    if query.since:
        statement = statement.where(when >= query.since)
    if query.until:
        statement = statement.where(when < query.until)
    if query.limit:
        statement = statement.limit(query.limit)
    if query.offset:
        statement = statement.offset(query.offset)
    try:
        articles = session.scalars(statement).unique().all()
    except Exception as exc:  # the engine's own parse errors, whatever the driver calls them
        if "fts5" in str(exc).lower() or "syntax" in str(exc).lower():
            raise SearchSyntaxError(f"cannot parse search text: {query.text!r}") from None
        raise
    return [SearchHit(a, make_snippet(a, query)) for a in articles]


def make_snippet(article: Article, query: SearchQuery) -> str:
    """Give a short plain-text excerpt around the first hit of the query or watched name."""
    body = article.text
    start = -1
    if query.text:
        for word in _WORD.findall(query.text.replace("*", "")):
            found = re.search(rf"\b{re.escape(word)}", body, re.IGNORECASE)
            if found:
                start = found.start()
                break
    if start < 0:
        offset = len(article.title) + 2  # spans index title + "\n\n" + text
        for mention in article.mentions:
            if query.entity and mention.entity != query.entity:
                continue
            in_text = [s for s in mention.spans if s[0] >= offset]
            if in_text:
                start = in_text[0][0] - offset
                break
    return excerpt(body, max(start, 0))


def excerpt(body: str, around: int, width: int = SNIPPET_CHARS) -> str:
    """Give about ``width`` characters of ``body`` near ``around``, cut at word boundaries."""
    body = " ".join(body[: around + width * 2].split())
    begin = max(0, around - width // 3)
    if begin:
        space = body.find(" ", begin)
        begin = space + 1 if 0 <= space < around else begin
    chunk = body[begin : begin + width]
    if begin + width < len(body) and " " in chunk:
        chunk = chunk[: chunk.rfind(" ")]
    return ("…" if begin else "") + chunk + ("…" if begin + width < len(body) else "")


def article_json(article: Article, snippet: str) -> dict[str, Any]:
    """Give the public JSON object of an article (CLI ``--format json`` and the web API)."""
    return {
        "id": article.id,
        "url": article.canonical_url,
        "urls": [u.url for u in article.urls],
        "title": article.title,
        "published_at": article.published_at.isoformat() if article.published_at else None,
        "first_seen_at": article.first_seen_at.isoformat(),
        "source": article.source,
        "entities": [m.entity for m in article.mentions],
        "story_id": article.story_id,
        "snippet": snippet,
    }


# ---------------------------------------------------------------- crawl runs


def start_run(session: Session, now: datetime) -> int:
    run = CrawlRun(
        started_at=now, status="running", pages_fetched=0, articles_new=0, articles_updated=0
    )
    session.add(run)
    session.flush()
    return run.id


def run_source(session: Session, run_id: int, source: str) -> RunSource:
    row = session.get(RunSource, (run_id, source))
    if row is None:
        row = RunSource(
            run_id=run_id,
            source=source,
            pages_fetched=0,
            articles_new=0,
            articles_updated=0,
            errors=0,
        )
        session.add(row)
    return row


def record_error(
    session: Session, run_id: int, source: str, url: str, reason: str, now: datetime
) -> None:
    session.add(CrawlError(run_id=run_id, source=source, url=url, reason=reason, at=now))
    run_source(session, run_id, source).errors += 1


def count_pages(session: Session, run_id: int, counts: dict[str, int]) -> None:
    """Add per-source fetched-page counts to a run (flushed in batches, not per page)."""
    run = session.get_one(CrawlRun, run_id)
    for source, pages in counts.items():
        run_source(session, run_id, source).pages_fetched += pages
        run.pages_fetched += pages


def count_article(session: Session, run_id: int, source: str, status: StoreStatus) -> None:
    run = session.get_one(CrawlRun, run_id)
    row = run_source(session, run_id, source)
    if status == "new":
        run.articles_new += 1
        row.articles_new += 1
    elif status == "updated":
        run.articles_updated += 1
        row.articles_updated += 1


def finish_run(session: Session, run_id: int, status: str, now: datetime) -> None:
    run = session.get_one(CrawlRun, run_id)
    run.status = status
    run.finished_at = now


def recent_runs(session: Session, limit: int | None = 20) -> list[CrawlRun]:
    statement = (
        select(CrawlRun)
        .options(selectinload(CrawlRun.sources), selectinload(CrawlRun.errors))
        .order_by(CrawlRun.id.desc())
    )
    if limit:
        statement = statement.limit(limit)
    return list(session.scalars(statement))


def run_json(run: CrawlRun) -> dict[str, Any]:
    """Give the public JSON object of a crawl run (``runs --format json``)."""
    return {
        "id": run.id,
        "started_at": run.started_at.isoformat(),
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
        "status": run.status,
        "pages_fetched": run.pages_fetched,
        "articles_new": run.articles_new,
        "articles_updated": run.articles_updated,
        "errors": [{"source": e.source, "url": e.url, "reason": e.reason} for e in run.errors],
    }
