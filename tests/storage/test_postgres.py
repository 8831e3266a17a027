"""The archive's engines: Alembic on SQLite and PostgreSQL, PostgreSQL full-text search on its
GIN index, and concurrent writers in separate processes (as crawl workers on several machines)."""

from __future__ import annotations

import multiprocessing
import random
from datetime import UTC, datetime, timedelta
from typing import Any

from alembic import command
from sqlalchemy import create_engine, event, inspect, text

from scraper.core import dedup
from scraper.storage import articles
from scraper.storage import search as archive_search
from scraper.storage.articles import ArticleRecord, MentionRecord
from scraper.storage.engine import alembic_config, make_engine, session_factory, upgrade
from scraper.storage.search import SearchQuery

NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


# ---------------------------------------------------------------- migrations


def full_text_objects(engine: Any) -> set[str]:
    with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            rows = connection.execute(text(
                "SELECT name FROM sqlite_master WHERE name LIKE 'articles_fts%'"))
        else:
            rows = connection.execute(text(
                "SELECT indexname FROM pg_indexes WHERE indexname = 'ix_articles_search_vector'"))
        return {row[0] for row in rows}


def test_migrations_upgrade_check_downgrade_and_up_again(database_url: str) -> None:
    engine = make_engine(database_url)
    config = alembic_config(engine)
    command.upgrade(config, "head")
    command.check(config)  # `alembic check`: the models and the revisions do not drift apart
    tables = set(inspect(engine).get_table_names())
    assert {"articles", "article_urls", "stories", "crawl_runs", "service_lock"} <= tables
    assert full_text_objects(engine)

    command.downgrade(config, "base")
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    assert not full_text_objects(engine)

    command.upgrade(config, "head")
    command.check(config)
    assert full_text_objects(engine)
    engine.dispose()


# ---------------------------------------------------------------- full-text search


WORDS = (
    "drama episode ratings actor actress finale teaser poster variety contract agency "
    "premiere script reading filming location soundtrack album chart viewers broadcast "
    "romance comedy thriller season interview photo award ceremony fans trailer"
).split()


def test_postgres_search_uses_the_gin_index(postgres_url: str) -> None:
    engine = make_engine(postgres_url)
    upgrade(engine)
    rng = random.Random(5)
    with engine.begin() as connection:
        story_id = connection.execute(
            text("INSERT INTO stories (title, first_seen_at) VALUES ('s', :now) RETURNING id"),
            {"now": NOW},
        ).scalar_one()
        rows = [
            {
                "url": f"https://outlet.example/{i}", "key": f"https://outlet.example/{i}",
                "title": " ".join(rng.choices(WORDS, k=6)),
                "text": " ".join(rng.choices(WORDS, k=120))
                + (" Yongdu-ri village set" if i % 500 == 0 else ""),
                "now": NOW, "story": story_id,
            }
            for i in range(5000)
        ]
        connection.execute(
            text(
                "INSERT INTO articles (canonical_url, canonical_key, source, title, text, "
                "first_seen_at, updated_at, content_hash, signature, story_id) VALUES (:url, "
                ":key, 'Outlet', :title, :text, :now, :now, 'h', '\\x00', :story)"
            ),
            rows,
        )
        connection.execute(text("ANALYZE articles"))

    statements: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, parameters: Any, *args: Any) -> None:
        if "websearch_to_tsquery" in statement:
            statements.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", capture)
    with session_factory(engine)() as session:
        hits = archive_search.search(session, SearchQuery(text="Yongdu-ri", limit=20))
    event.remove(engine, "before_cursor_execute", capture)
    assert len(hits) == 10
    assert statements, "search did not use websearch_to_tsquery on PostgreSQL"

    # the very statement search() ran, explained with the very same parameters
    statement, parameters = statements[0]
    with engine.connect() as connection:
        cursor = connection.connection.cursor()
        cursor.execute("EXPLAIN " + statement, parameters)
        plan = "\n".join(row[0] for row in cursor.fetchall())
        # the newest matches can also come from walking the primary key backwards (cheaper
        # when the words are common): take that path away too, to see the GIN index is usable
        cursor.execute("SET enable_seqscan = off")
        cursor.execute("SET enable_indexscan = off")
        cursor.execute("EXPLAIN " + statement, parameters)
        forced = "\n".join(row[0] for row in cursor.fetchall())
    engine.dispose()
    assert "ix_articles_search_vector" in forced, forced  # the query can use the index at all
    assert "to_tsvector" not in plan, plan  # matches are checked on the stored vector


# ---------------------------------------------------------------- concurrent writers


SYNDICATED = (
    "The soundtrack album of Queen of Tears goes on pre-sale this week with a double-disc "
    "package. Kim Soo-hyun sings one of the twelve vocal tracks himself, his first recorded "
    "song in a decade, and the album design imitates a wedding photo book with the two leads "
    "in formal dress. Fans in Seoul lined up outside record shops before the announcement."
)


def article_text(n: int) -> str:
    """Give article ``n`` a text that shares no LSH band with the others."""
    rng = random.Random(n)
    return f"Article {n} about Queen of Tears. " + " ".join(
        f"w{rng.randrange(10**6)}" for _ in range(80)
    )


def records(process: int) -> list[ArticleRecord]:
    """What one writer stores: every article under its own URL variants, plus copies of one
    syndicated story on three outlets; all writers store the same documents."""
    out = []
    for n in range(8):
        canonical = f"https://kwave.example/news/article-{n}/"
        seen = (
            f"https://kwave.example/news/article-{n}/?utm_source=w{process}",
            f"https://m.kwave.example/news/article-{n}/",
            f"https://kwave.example/news/article-{n}/amp/",
        )[process % 3]
        out.append(make_record(canonical, article_text(n), (seen,)))
    for outlet in ("kwave.example", "dramabeat.example", "seoulscreen.example"):
        out.append(make_record(f"https://{outlet}/ost-presale", SYNDICATED, ()))
    random.Random(process).shuffle(out)
    return out


def make_record(url: str, body: str, urls: tuple[str, ...]) -> ArticleRecord:
    title = body[:60]
    return ArticleRecord(
        canonical_url=url, urls=(url, *urls), source=url.split("/")[2], title=title, text=body,
        author=None, language="en", published_at=NOW - timedelta(hours=1),
        mentions=(MentionRecord("Queen of Tears", ((0, 14),)),),
        signature=dedup.signature(body), content_hash=dedup.content_hash(title, body),
    )


def store_all(database_url: str, process: int, barrier: Any) -> None:
    """One writer process: wait for the others, then store every record, one commit each."""
    sessions = session_factory(make_engine(database_url))
    batch = records(process)
    barrier.wait(timeout=60)
    for record in batch:
        with sessions.begin() as session:
            articles.store_article(session, record, datetime.now(UTC))


def test_concurrent_writer_processes_never_duplicate(database_url: str) -> None:
    upgrade(make_engine(database_url))
    # fork: the children start at once with everything imported; each opens its own engine
    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(3)
    writers = [
        context.Process(target=store_all, args=(database_url, i, barrier)) for i in range(3)
    ]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(timeout=120)
    assert [w.exitcode for w in writers] == [0, 0, 0]

    engine = create_engine(database_url)
    with engine.connect() as connection:
        def one(sql: str) -> int:
            return int(connection.execute(text(sql)).scalar_one())

        assert one("SELECT count(*) FROM articles") == 8 + 3
        assert one("SELECT count(DISTINCT canonical_key) FROM articles") == 8 + 3
        every_url = {u for p in range(3) for r in records(p) for u in (r.canonical_url, *r.urls)}
        assert one("SELECT count(*) FROM article_urls") == len(every_url)
        assert one(
            "SELECT count(*) FROM (SELECT url_key FROM article_urls GROUP BY url_key "
            "HAVING count(DISTINCT article_id) > 1) shared"
        ) == 0
        assert one("SELECT count(*) FROM mentions") == 8 + 3
        # no orphan stories; the three outlets' copies are one story, the rest one each
        assert one("SELECT count(*) FROM stories") == 8 + 1
        assert one("SELECT count(DISTINCT story_id) FROM articles") == 8 + 1
    engine.dispose()
