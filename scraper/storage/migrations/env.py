"""Alembic environment: the engine comes from dramawatch (``config.attributes['engine']``) or,
for the ``alembic`` command line, from $DRAMAWATCH_DATABASE_URL / the dramawatch config."""

from __future__ import annotations

from typing import Any, Literal

from alembic import context
from sqlalchemy import text

from scraper.storage.models import Base

# full-text and expression-index objects are dialect-specific, managed by hand in the
# revisions;
# apscheduler_jobs belongs to APScheduler's SQLAlchemyJobStore, which creates it itself
UNMANAGED = {
    "articles_fts",
    "ix_articles_fts",
    "search_vector",
    "ix_articles_search_vector",
    "ix_articles_sort_at",
    "ix_articles_source_sort_at",
    "apscheduler_jobs",
}
# any number: PostgreSQL sessions upgrading at once serialise on this advisory lock
MIGRATION_LOCK = 4_216_970_313


def include_name(name: str | None, type_: str, parent_names: Any) -> bool:
    return not (name and (name in UNMANAGED or name.startswith("articles_fts_")))


def render_item(type_: str, obj: Any, autogen_context: Any) -> str | Literal[False]:
    """Render our UTCDateTime as the plain DateTime it stores, so revisions never import models."""
    from scraper.storage.models import UTCDateTime

    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def _engine() -> Any:
    engine = context.config.attributes.get("engine")
    if engine is not None:
        return engine
    from scraper.config import load_config
    from scraper.storage.engine import make_engine

    return make_engine(load_config().database_url)


def run_migrations() -> None:
    engine = _engine()
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
        context.configure(
            connection=connection,
            target_metadata=Base.metadata,
            render_as_batch=True,  # SQLite can only ALTER through table copies
            include_name=include_name,
            compare_type=True,
            render_item=render_item,
        )
        context.run_migrations()


run_migrations()
