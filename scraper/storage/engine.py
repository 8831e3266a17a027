"""Engines, sessions and schema upgrades for the archive database."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql.dml import Insert

logger = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).with_name("migrations")

# What the layers above storage name in their signatures: the caller owns the session
# (``with sessions.begin() as session``), and only storage imports SQLAlchemy.
Sessions = sessionmaker[Session]
__all__ = [
    "Engine",
    "SQLAlchemyError",
    "Session",
    "Sessions",
    "alembic_config",
    "has_table",
    "insert_for",
    "make_engine",
    "open_archive",
    "read_only_engine",
    "session_factory",
    "upgrade",
]


def make_engine(url: str, *, read_only: bool = False, **kwargs: Any) -> Engine:
    """Give an engine for ``url``.

    SQLite gets WAL, foreign keys and a lock wait so that crawls, the scheduler and the web
    app can share one file; its write transactions start with BEGIN IMMEDIATE, because a
    deferred transaction that later upgrades to a write fails at once with "database is
    locked" instead of waiting. ``read_only`` engines (the web app) keep plain BEGIN.
    """
    parsed = make_url(url)
    sqlite_file = parsed.get_backend_name() == "sqlite"
    if sqlite_file:
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        kwargs.setdefault("connect_args", {"timeout": 30})
    else:
        kwargs.setdefault("pool_pre_ping", True)
    engine = create_engine(url, **kwargs)
    if sqlite_file:
        event.listen(engine, "connect", _sqlite_pragmas)
        begin = "BEGIN" if read_only else "BEGIN IMMEDIATE"
        event.listen(engine, "begin", lambda connection: connection.exec_driver_sql(begin))
    return engine


def read_only_engine(url: str) -> Engine:
    """Give an engine whose connections refuse writes (defence in depth for the web app)."""
    if make_url(url).get_backend_name() == "sqlite":
        engine = make_engine(url, read_only=True)
        event.listen(engine, "connect", _sqlite_query_only)
        return engine
    return make_engine(
        url, read_only=True, connect_args={"options": "-c default_transaction_read_only=on"}
    )


def _sqlite_query_only(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA query_only=ON")
    cursor.close()


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # we emit BEGIN ourselves (see make_engine)
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Give the session factory entry points use as ``with factory.begin() as session``."""
    return sessionmaker(engine, expire_on_commit=False)


def alembic_config(engine: Engine | None = None) -> AlembicConfig:
    """Give an Alembic config pointing at the packaged migrations (no alembic.ini needed)."""
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    if engine is not None:
        config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine) -> None:
    """Bring the schema to the newest revision; a no-op when it is already there."""
    config = alembic_config(engine)
    head = ScriptDirectory.from_config(config).get_current_head()
    with engine.connect() as connection:
        current = MigrationContext.configure(connection).get_current_revision()
    if current == head:
        return
    logger.info("upgrading database schema from %s to %s", current or "empty", head)
    command.upgrade(config, "head")


def open_archive(url: str) -> sessionmaker[Session]:
    """Give a session factory on the archive at ``url``, upgraded to the current schema."""
    engine = make_engine(url)
    upgrade(engine)
    return session_factory(engine)


def insert_for(session: Session, table: Any) -> Any:
    """Give an INSERT of ``table`` in the session's dialect (PostgreSQL or SQLite), so that
    ``on_conflict_do_update`` / ``on_conflict_do_nothing`` can follow: the one dialect switch."""
    dialects = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}
    statement: Insert = dialects[session.get_bind().dialect.name](table)
    return statement


def has_table(engine: Engine, name: str) -> bool:
    """Give whether the database has the table ``name`` (created by another library)."""
    return inspect(engine).has_table(name)
