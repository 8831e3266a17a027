"""scraper/storage/aggregator_links.py on SQLite and PostgreSQL: a resolution kept by id."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.orm import Session, sessionmaker

from scraper.storage import aggregator_links

NOW = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)


def test_a_resolution_is_kept_and_refreshed(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        assert aggregator_links.publisher_url(session, "CBMiAAA") is None
        aggregator_links.remember(session, "CBMiAAA", "https://outlet.example/a", NOW)
    with sessions.begin() as session:
        # the same id again (another search feed, another run) updates, never duplicates
        aggregator_links.remember(session, "CBMiAAA", "https://outlet.example/b", NOW)
    with sessions() as session:
        assert aggregator_links.publisher_url(session, "CBMiAAA") == "https://outlet.example/b"
        assert aggregator_links.publisher_url(session, "CBMiBBB") is None
