"""article hidden

`dramawatch rematch --apply` re-evaluates archived articles under today's watch rules and
never deletes: an article no watch entry counts for any more is marked hidden, and every
reader of the archive (search, digests, the web app, feeds) leaves it out. Existing articles
are visible.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


# Plain ALTER TABLE, not a batch table copy: on SQLite the copy drops the old table, and with
# foreign keys on that cascades to every article's mentions and URLs.


def upgrade() -> None:
    op.add_column(
        "articles", sa.Column("hidden", sa.Boolean(), server_default=sa.false(), nullable=False)
    )


def downgrade() -> None:
    op.execute("ALTER TABLE articles DROP COLUMN hidden")  # SQLite 3.35+ and PostgreSQL
