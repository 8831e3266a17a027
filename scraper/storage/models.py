"""The archive's schema, SQLAlchemy 2.0 declarative style.

Schema changes go through Alembic revisions in ``scraper/storage/migrations`` only; a test runs
``alembic check`` so these models and the revisions never drift apart.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware datetimes on every backend: stored as UTC, read back as aware UTC
    (SQLite keeps no offset, so a naive value read from it is UTC by construction)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


TZDateTime = UTCDateTime()


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Story(Base):
    """Copies of one piece of news across outlets (syndicated or lightly edited)."""

    __tablename__ = "stories"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(Text)
    first_seen_at: Mapped[datetime] = mapped_column(TZDateTime, index=True)

    articles: Mapped[list[Article]] = relationship(back_populates="story")


class Article(Base):
    """One document, whatever URLs it was seen under."""

    __tablename__ = "articles"

    id: Mapped[int] = mapped_column(primary_key=True)
    canonical_url: Mapped[str] = mapped_column(Text)
    canonical_key: Mapped[str] = mapped_column(String(2048), unique=True)
    source: Mapped[str] = mapped_column(String(200), index=True)
    title: Mapped[str] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text)
    author: Mapped[str | None] = mapped_column(Text)
    language: Mapped[str | None] = mapped_column(String(16))
    published_at: Mapped[datetime | None] = mapped_column(TZDateTime, index=True)
    first_seen_at: Mapped[datetime] = mapped_column(TZDateTime, index=True)
    # when the text last changed in place; equal to first_seen_at until then
    updated_at: Mapped[datetime] = mapped_column(TZDateTime)
    content_hash: Mapped[str] = mapped_column(String(64))
    signature: Mapped[bytes] = mapped_column(LargeBinary)
    story_id: Mapped[int] = mapped_column(ForeignKey("stories.id"), index=True)
    # set by `dramawatch rematch --apply` when no watch entry counts under today's rules: the
    # article stays in the archive but search, digests, the web app and feeds leave it out
    hidden: Mapped[bool] = mapped_column(Boolean, server_default=false())
    # the url_key of a rel=canonical on another host, not (yet) verified: when that article
    # is stored with the same text, this one joins it (revision 0004)
    claimed_canonical_key: Mapped[str | None] = mapped_column(String(2048), index=True)

    story: Mapped[Story] = relationship(back_populates="articles")
    urls: Mapped[list[ArticleUrl]] = relationship(
        back_populates="article", order_by="ArticleUrl.id", cascade="all, delete-orphan"
    )
    mentions: Mapped[list[Mention]] = relationship(
        back_populates="article", order_by="Mention.id", cascade="all, delete-orphan"
    )


class ArticleUrl(Base):
    """Every URL an article was seen under, as seen; ``url_key`` is the identity that makes
    variants (tracking parameters, AMP, mobile host...) one article."""

    __tablename__ = "article_urls"

    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[int] = mapped_column(
        ForeignKey("articles.id", ondelete="CASCADE"), index=True
    )
    url: Mapped[str] = mapped_column(String(2048), unique=True)
    url_key: Mapped[str] = mapped_column(String(2048), index=True)
    first_seen_at: Mapped[datetime] = mapped_column(TZDateTime)

    article: Mapped[Article] = relationship(back_populates="urls")


class Mention(Base):
    """A watch entry an article mentions, with the matched spans of title + text."""

    __tablename__ = "mentions"
    __table_args__ = (UniqueConstraint("article_id", "entity"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"))
    entity: Mapped[str] = mapped_column(String(200), index=True)
    spans: Mapped[list[list[int]]] = mapped_column(JSON)

    article: Mapped[Article] = relationship(back_populates="mentions")


class LshBand(Base):
    """One MinHash LSH band hash of an article: near-duplicate candidates come from an index
    lookup, so the cost of a lookup does not grow with the archive."""

    __tablename__ = "lsh_bands"

    band: Mapped[int] = mapped_column(Integer, primary_key=True)
    hash: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    article_id: Mapped[int] = mapped_column(
        ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class CrawlRun(Base):
    __tablename__ = "crawl_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    started_at: Mapped[datetime] = mapped_column(TZDateTime, index=True)
    finished_at: Mapped[datetime | None] = mapped_column(TZDateTime)
    status: Mapped[str] = mapped_column(String(20))  # running | finished | failed | interrupted
    pages_fetched: Mapped[int] = mapped_column(Integer, default=0)
    articles_new: Mapped[int] = mapped_column(Integer, default=0)
    articles_updated: Mapped[int] = mapped_column(Integer, default=0)
    # who runs it (host:pid) and when it last showed life: a run whose heartbeat stopped was
    # killed, and is shown as interrupted rather than running forever (revision 0002)
    worker: Mapped[str | None] = mapped_column(String(200))
    heartbeat_at: Mapped[datetime | None] = mapped_column(TZDateTime)

    sources: Mapped[list[RunSource]] = relationship(
        order_by="RunSource.source", cascade="all, delete-orphan"
    )
    errors: Mapped[list[CrawlError]] = relationship(
        order_by="CrawlError.id", cascade="all, delete-orphan"
    )


class RunSource(Base):
    """One source's outcome in one run: what /sources and `status` show."""

    __tablename__ = "run_sources"

    run_id: Mapped[int] = mapped_column(
        ForeignKey("crawl_runs.id", ondelete="CASCADE"), primary_key=True
    )
    source: Mapped[str] = mapped_column(String(200), primary_key=True)
    pages_fetched: Mapped[int] = mapped_column(Integer, default=0)
    articles_new: Mapped[int] = mapped_column(Integer, default=0)
    articles_updated: Mapped[int] = mapped_column(Integer, default=0)
    errors: Mapped[int] = mapped_column(Integer, default=0)


class CrawlError(Base):
    __tablename__ = "crawl_errors"

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("crawl_runs.id", ondelete="CASCADE"), index=True)
    source: Mapped[str] = mapped_column(String(200))
    url: Mapped[str] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(TZDateTime)


class FetchMemory(Base):
    """Every page a crawl fetched, by URL key: what it was found to be and its validators.

    Articles (stored or dropped) are not requested again unless their feed or sitemap entry
    moves past ``entry_modified_at`` or a transient failure is retried; discovery pages
    (feeds, sitemaps, listings; verdict "discovery") are revalidated with their validators.
    """

    __tablename__ = "fetch_memory"

    # an article's url_key (its variants are one page); a discovery page's exact URL
    url_key: Mapped[str] = mapped_column(String(2048), primary_key=True)
    url: Mapped[str] = mapped_column(Text)
    # discovery | stored | off-topic | too old | not an article | failed transient/permanent
    verdict: Mapped[str] = mapped_column(String(20))
    etag: Mapped[str | None] = mapped_column(Text)
    last_modified: Mapped[str | None] = mapped_column(Text)
    # the feed/sitemap entry's modification (else publication) date when it was last fetched
    entry_modified_at: Mapped[datetime | None] = mapped_column(TZDateTime)
    # transient failures in a row: retried on the next runs, up to a bound
    failures: Mapped[int] = mapped_column(Integer, default=0)
    fetched_at: Mapped[datetime] = mapped_column(TZDateTime)


class RobotsTxt(Base):
    """The last robots.txt an origin answered with 2xx or 4xx, for revalidation (RFC 9309)."""

    __tablename__ = "robots_txt"

    origin: Mapped[str] = mapped_column(String(300), primary_key=True)  # scheme://host:port
    status: Mapped[int] = mapped_column(Integer)
    body: Mapped[bytes] = mapped_column(LargeBinary)
    etag: Mapped[str | None] = mapped_column(Text)
    last_modified: Mapped[str | None] = mapped_column(Text)
    fetched_at: Mapped[datetime] = mapped_column(TZDateTime)


class Digest(Base):
    """A rendered digest window; ``delivered_at`` makes delivery happen exactly once."""

    __tablename__ = "digests"
    __table_args__ = (UniqueConstraint("window_start", "window_end"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    window_start: Mapped[datetime] = mapped_column(TZDateTime)
    window_end: Mapped[datetime] = mapped_column(TZDateTime, index=True)
    created_at: Mapped[datetime] = mapped_column(TZDateTime)
    story_count: Mapped[int] = mapped_column(Integer)
    html_path: Mapped[str] = mapped_column(Text)
    text_path: Mapped[str] = mapped_column(Text)
    recipients: Mapped[list[str]] = mapped_column(JSON, default=list)
    delivered_at: Mapped[datetime | None] = mapped_column(TZDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)


class ServiceLock(Base):
    """A lease row: only the holder with a fresh heartbeat may act as the scheduler."""

    __tablename__ = "service_lock"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    holder: Mapped[str] = mapped_column(String(200))
    heartbeat_at: Mapped[datetime] = mapped_column(TZDateTime)


class ResolvedAggregatorLink(Base):
    """A news aggregator's article id resolved to the publisher's URL, so it is asked once."""

    __tablename__ = "aggregator_links"

    article_id: Mapped[str] = mapped_column(String(1024), primary_key=True)
    publisher_url: Mapped[str] = mapped_column(Text)
    resolved_at: Mapped[datetime] = mapped_column(TZDateTime)


class Alert(Base):
    """One configured push alert's state: from when its stories count, and how its last
    deliveries went (what `status` and /sources show). The apprise URL is never stored."""

    __tablename__ = "alerts"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    # stories first seen from this instant on are the alert's: a new alert does not replay
    # the whole archive
    since: Mapped[datetime] = mapped_column(TZDateTime)
    last_sent_at: Mapped[datetime | None] = mapped_column(TZDateTime)
    last_sent_stories: Mapped[int] = mapped_column(Integer, default=0)
    last_failure_at: Mapped[datetime | None] = mapped_column(TZDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)


class AlertDelivery(Base):
    """One story for one alert: claimed before the message goes out, then delivered or
    failed. The unique (alert, story) row is what makes a story go out once per alert."""

    __tablename__ = "alert_deliveries"
    __table_args__ = (UniqueConstraint("alert", "story_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    alert: Mapped[str] = mapped_column(String(200))
    story_id: Mapped[int] = mapped_column(ForeignKey("stories.id", ondelete="CASCADE"), index=True)
    state: Mapped[str] = mapped_column(String(20))  # claimed | delivered | failed
    claim: Mapped[str] = mapped_column(String(64))
    claimed_at: Mapped[datetime] = mapped_column(TZDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(TZDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
