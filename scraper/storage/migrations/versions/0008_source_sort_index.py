"""source + date index

Searching one outlet over a date range (the CLI's ``--source`` with ``--since``/``--until``,
the web's source filter) ordered newest first: SQLite, which has no statistics, took the
source index and sorted all of that outlet's articles (6.9 s at 1M articles). One index on
(source, sort key, id) answers the filter, the range and the order together.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03
"""

from __future__ import annotations

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        "CREATE INDEX ix_articles_source_sort_at "
        "ON articles (source, coalesce(published_at, first_seen_at), id)"
    )


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS ix_articles_source_sort_at")
