"""aggregator links

Google News article links resolve to the publisher's URL only through a request to Google;
each resolution is kept by its article id, so a link seen again (the next run, another search
feed) costs no request.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "aggregator_links",
        sa.Column("article_id", sa.String(length=1024), nullable=False),
        sa.Column("publisher_url", sa.Text(), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("article_id", name=op.f("pk_aggregator_links")),
    )


def downgrade() -> None:
    op.drop_table("aggregator_links")
