"""A database from the previous schema version upgrades with its data intact."""

from __future__ import annotations

from datetime import UTC, datetime

from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import insert, select, text

from scraper.core import dedup
from scraper.storage import articles
from scraper.storage import search as archive_search
from scraper.storage.engine import alembic_config, make_engine, session_factory, upgrade
from scraper.storage.models import Article, ArticleUrl, CrawlRun, LshBand, Mention, Story

STARTED = datetime(2026, 10, 1, 6, 0, tzinfo=UTC)
TEXT = (
    "Park Ji-eun's script for Queen of Tears was finished months before filming, a rarity in "
    "Korean television, and the production team credits that head start for the show's "
    "steady pacing across sixteen episodes and its record-setting finale ratings."
)


def test_previous_schema_upgrades_with_data_intact(database_url: str) -> None:
    engine = make_engine(database_url)
    command.upgrade(alembic_config(engine), "0001")
    signature = dedup.signature(TEXT)
    with engine.begin() as connection:  # rows written by the 0001 code, columns as they were
        story_id = connection.execute(
            insert(Story.__table__)
            .values(title="Script done early", first_seen_at=STARTED)
            .returning(Story.id)
        ).scalar_one()
        article_id = connection.execute(
            insert(Article.__table__)
            .values(
                canonical_url="https://kwave.example/news/script",
                canonical_key="kwave.example/news/script",
                source="K-Wave Daily",
                title="Script done early",
                text=TEXT,
                author=None,
                language="en",
                published_at=STARTED,
                first_seen_at=STARTED,
                updated_at=STARTED,
                content_hash=dedup.content_hash("Script done early", TEXT),
                signature=signature,
                story_id=story_id,
            )
            .returning(Article.id)
        ).scalar_one()
        connection.execute(
            insert(ArticleUrl.__table__).values(
                article_id=article_id,
                url="https://kwave.example/news/script?utm_source=rss",
                url_key="kwave.example/news/script",
                first_seen_at=STARTED,
            )
        )
        connection.execute(
            insert(Mention.__table__).values(
                article_id=article_id, entity="Park Ji-eun", spans=[[0, 11]]
            )
        )
        connection.execute(
            insert(LshBand.__table__),
            [
                {"band": b, "hash": h, "article_id": article_id}
                for b, h in enumerate(dedup.band_hashes(signature))
            ],
        )
        connection.execute(
            text(
                "INSERT INTO crawl_runs (started_at, finished_at, status, pages_fetched, "
                "articles_new, "
                "articles_updated) VALUES (:at, :at, 'finished', 12, 1, 0)"
            ),
            {"at": STARTED},
        )

    upgrade(engine)

    sessions = session_factory(engine)
    with sessions() as session:
        article = session.get_one(Article, article_id)
        assert article.title == "Script done early"
        assert [m.entity for m in article.mentions] == ["Park Ji-eun"]
        assert [u.url for u in article.urls] == ["https://kwave.example/news/script?utm_source=rss"]
        run = session.scalars(select(CrawlRun)).one()
        assert (run.pages_fetched, run.status, run.heartbeat_at) == (12, "finished", STARTED)
        hits = archive_search.search(session, archive_search.SearchQuery(text="sixteen episodes"))
        assert [h.article.id for h in hits] == [article_id]
        revision = session.scalar(text("SELECT version_num FROM alembic_version"))
    assert revision == ScriptDirectory.from_config(alembic_config()).get_current_head()
    # the upgraded archive keeps working: a syndicated copy joins the old article's story
    with sessions.begin() as session:
        copy = articles.ArticleRecord(
            canonical_url="https://dramabeat.example/script",
            urls=(),
            source="Drama Beat",
            title="Script done early",
            text=TEXT + " Reprinted with permission.",
            author=None,
            language="en",
            published_at=None,
            mentions=(),
            signature=dedup.signature(TEXT + " Reprinted."),
            content_hash="x",
        )
        result = articles.store_article(session, copy, datetime.now(UTC))
    assert result.story_id == story_id
    with sessions() as session:
        assert session.scalar(select(CrawlRun.worker)) is None
    engine.dispose()
