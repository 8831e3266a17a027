"""search indexes

PostgreSQL: full-text search on a stored, generated tsvector column with its own GIN index.
The expression index of 0001 found rows fast, but every match then had its tsvector
recomputed from title and text to re-check and rank it (about 2 s for a watched name at 5,000
articles). Both backends: an index on the "newest first" sort key, so browsing the archive
without search text does not sort the whole table.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

SORT_INDEX = (
    "CREATE INDEX ix_articles_sort_at ON articles (coalesce(published_at, first_seen_at), id)"
)


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "ALTER TABLE articles ADD COLUMN search_vector tsvector GENERATED ALWAYS AS "
            "(to_tsvector('simple', title || ' ' || text)) STORED"
        )
        op.execute("CREATE INDEX ix_articles_search_vector ON articles USING gin (search_vector)")
        op.execute("DROP INDEX IF EXISTS ix_articles_fts")
    op.execute(SORT_INDEX)


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS ix_articles_sort_at")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_articles_search_vector")
        op.execute("ALTER TABLE articles DROP COLUMN IF EXISTS search_vector")
        op.execute(
            "CREATE INDEX ix_articles_fts ON articles USING gin "
            "(to_tsvector('simple', title || ' ' || text))"
        )
