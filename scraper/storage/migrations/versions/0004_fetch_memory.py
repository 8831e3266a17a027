"""fetch memory

``fetch_memory`` remembers every page a crawl fetched (articles stored or dropped, failures,
discovery pages with their validators) and replaces ``fetch_cache``, whose discovery
validators it takes over. ``robots_txt`` keeps each origin's last robots.txt so that a
revalidation answered 304 keeps its rules. ``articles.claimed_canonical_key`` keeps a
cross-host rel=canonical until the article it names is stored and its text compared.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "fetch_memory",
        sa.Column("url_key", sa.String(length=2048), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("verdict", sa.String(length=20), nullable=False),
        sa.Column("etag", sa.Text(), nullable=True),
        sa.Column("last_modified", sa.Text(), nullable=True),
        sa.Column("entry_modified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("url_key", name=op.f("pk_fetch_memory")),
    )
    op.create_table(
        "robots_txt",
        sa.Column("origin", sa.String(length=300), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("etag", sa.Text(), nullable=True),
        sa.Column("last_modified", sa.Text(), nullable=True),
        sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("origin", name=op.f("pk_robots_txt")),
    )
    # discovery pages are remembered under their exact URL, as fetch_cache kept them
    op.execute(
        "INSERT INTO fetch_memory (url_key, url, verdict, etag, last_modified, failures, "
        "fetched_at) SELECT url, url, 'discovery', etag, last_modified, 0, checked_at "
        "FROM fetch_cache"
    )
    op.drop_table("fetch_cache")
    # plain ALTER TABLE ADD COLUMN (SQLite has it): a batch copy of articles would drop the
    # full-text triggers that hang on it
    op.add_column("articles", sa.Column("claimed_canonical_key", sa.String(length=2048)))
    op.create_index(
        op.f("ix_articles_claimed_canonical_key"), "articles", ["claimed_canonical_key"]
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_articles_claimed_canonical_key"), table_name="articles")
    op.drop_column("articles", "claimed_canonical_key")
    op.create_table(
        "fetch_cache",
        sa.Column("url", sa.String(length=2048), nullable=False),
        sa.Column("etag", sa.Text(), nullable=True),
        sa.Column("last_modified", sa.Text(), nullable=True),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("url", name=op.f("pk_fetch_cache")),
    )
    op.execute(
        "INSERT INTO fetch_cache (url, etag, last_modified, checked_at) SELECT url, etag, "
        "last_modified, fetched_at FROM fetch_memory WHERE verdict = 'discovery'"
    )
    op.drop_table("robots_txt")
    op.drop_table("fetch_memory")
