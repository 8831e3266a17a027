"""Full-text search over the archive (FTS5 on SQLite, a stored tsvector on PostgreSQL)."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    column,
    exists,
    func,
    literal_column,
    select,
    table,
    text,
)
from sqlalchemy.orm import Session, selectinload

from scraper.storage.models import (
    Article,
    Mention,
)

SNIPPET_CHARS = 240
# the articles readers see: `rematch --apply` hides, never deletes, those no rule counts any more
VISIBLE: ColumnElement[bool] = Article.hidden.is_(False)
# a text query ranks only this many of its newest matches (see search())
RANK_WINDOW = 1000


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
    """Give matching articles: best match first for text queries, else newest first.

    Text that is exactly a watched name is the ``entity`` filter instead (``watched_name``).
    Any other text query with a limit ranks only the ``RANK_WINDOW`` most recently archived
    matches (those that pass the filters too): frequent words match a large share of the
    archive, and ranking every match cost seconds at a million articles. Narrowing the query
    (dates, source, entity) reaches older matches; ``limit=None`` ranks every match.
    """
    if query.text and "\x00" in query.text:
        # PostgreSQL refuses NUL in a text parameter, and it is never part of a word
        query = replace(query, text=query.text.replace("\x00", " "))
    if query.text and not query.entity:
        name = watched_name(session, query.text)
        if name is not None:
            query = replace(query, text=None, entity=name)
    when = func.coalesce(Article.published_at, Article.first_seen_at)
    statement: Select[Any] = select(Article).options(
        selectinload(Article.urls), selectinload(Article.mentions)
    )
    # hidden articles (rematch) are never found
    filters: list[ColumnElement[bool]] = [VISIBLE]
    if query.entity:
        filters.append(
            exists().where(Mention.article_id == Article.id, Mention.entity == query.entity)
        )
    if query.source:
        filters.append(Article.source == query.source)
    if query.since:
        filters.append(when >= query.since)
    if query.until:
        filters.append(when < query.until)
    window = RANK_WINDOW if query.limit else None
    dialect = session.get_bind().dialect.name
    if query.text and dialect == "sqlite":
        match = literal_column("articles_fts").op("MATCH")(fts5_query(query.text))
        # bm25() exists only beside its MATCH, so the window carries each match's score
        matches = (
            select(Article.id, literal_column("bm25(articles_fts, 5.0, 1.0)").label("score"))
            .select_from(ARTICLES_FTS)
            .join(Article, Article.id == ARTICLES_FTS.c.rowid)
            .where(match, *filters)
            .order_by(ARTICLES_FTS.c.rowid.desc())  # FTS5 walks its doclists newest first
            .limit(window)
            .subquery("matches")
        )
        statement = statement.join(matches, matches.c.id == Article.id).order_by(
            matches.c.score, when.desc()
        )
    elif query.text:
        fts5_query(query.text)  # same syntax rules on every backend
        # psycopg prepares a statement run 5 times; PostgreSQL then tries a generic plan, which
        # cannot see how common the words are and takes every match from the GIN index (2 s for
        # a watched name at 100k articles) instead of walking the newest articles. This
        # transaction plans each search for its own words.
        session.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))
        tsquery = func.websearch_to_tsquery("simple", query.text)
        document: ColumnElement[Any] = literal_column("articles.search_vector")  # GIN-indexed
        # the window's ids first, ranked after: ts_rank reads each match's whole tsvector
        matches = (
            select(Article.id)
            .where(document.op("@@")(tsquery), *filters)
            .order_by(Article.id.desc())
            .limit(window)
            .subquery("matches")
        )
        statement = statement.join(matches, matches.c.id == Article.id).order_by(
            func.ts_rank(document, tsquery).desc(), when.desc()
        )
    else:
        statement = statement.where(*filters).order_by(when.desc(), Article.id.desc())
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


def watched_name(session: Session, text: str) -> str | None:
    """Give ``text`` as a watched name when it is exactly one (quotes and spaces around it
    aside) that some archived article mentions, else None.

    Such a search is answered from the mention index, newest first, like ``entity=``: the
    words of a watched name are in a large share of the archive, and ranking them by text
    took seconds (FTS5's bm25 counts every match of each phrase before scoring any).
    """
    name = text.strip()
    if len(name) > 1 and name[0] == name[-1] == '"':
        name = name[1:-1].strip()
    if not name or '"' in name:
        return None
    return session.scalar(select(Mention.entity).where(Mention.entity == name).limit(1))


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


def last_update(article: Article) -> datetime | None:
    """Give when the article's text last changed in place; None if it never did (an
    article is stored with ``updated_at`` equal to ``first_seen_at``)."""
    if article.updated_at > article.first_seen_at:
        return article.updated_at
    return None


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
        "updated_at": updated_at.isoformat() if (updated_at := last_update(article)) else None,
    }
