"""crawler/recall.py and fetch_memory.recall_many: the fetch memory asked a batch at a time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from scrapy import Request
from scrapy.exceptions import IgnoreRequest
from sqlalchemy.orm import Session, sessionmaker

from scraper.core import dedup
from scraper.crawler.middlewares import FetchMemoryMiddleware
from scraper.crawler.recall import FetchMemoryRecallMiddleware, recalled
from scraper.storage import articles, fetch_memory
from scraper.storage.fetch_memory import Fetched

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
OFF_TOPIC = "https://kwave.example/news/off-topic"
ARCHIVED = "https://kwave.example/news/finale"
UNKNOWN = "https://kwave.example/news/new"
TEXT = "Kim Soo-hyun and Kim Ji-won wrapped the finale of Queen of Tears in Seoul. " * 5


def remember_two(sessions: sessionmaker[Session]) -> None:
    """An off-topic page in the memory, an article archived before the memory existed."""
    with sessions.begin() as session:
        fetch_memory.remember(
            session,
            [Fetched(OFF_TOPIC, OFF_TOPIC, "off-topic", '"v1"', None, None, 0, NOW)],
        )
        articles.store_article(
            session,
            articles.ArticleRecord(
                canonical_url=ARCHIVED,
                urls=(ARCHIVED,),
                source="K-Wave",
                title="Finale",
                text=TEXT,
                author=None,
                language="en",
                published_at=NOW - timedelta(hours=1),
                mentions=(),
                signature=dedup.signature(TEXT),
                content_hash=dedup.content_hash("Finale", TEXT),
            ),
            NOW,
        )


def test_recall_many_gives_what_recall_gives(sessions: sessionmaker[Session]) -> None:
    remember_two(sessions)
    with sessions() as session:
        one_by_one = {key: fetch_memory.recall(session, key) for key in (OFF_TOPIC, ARCHIVED)}
        batch = fetch_memory.recall_many(session, [OFF_TOPIC, ARCHIVED, UNKNOWN])
    assert batch == {**one_by_one, UNKNOWN: None}
    assert batch[OFF_TOPIC] is not None and batch[OFF_TOPIC].verdict == "off-topic"
    assert batch[ARCHIVED] is not None and batch[ARCHIVED].verdict == "stored"


class NoSessions:
    """Stands in for the archive where a step must not ask it anything."""

    def __call__(self) -> Any:
        raise AssertionError("the fetch memory was asked one request at a time")


def article(url: str) -> Request:
    return Request(url, meta={"article": True, "source": "K-Wave"})


def test_a_callback_s_article_requests_are_recalled_in_one_batch(
    sessions: sessionmaker[Session],
) -> None:
    remember_two(sessions)
    feed = Request("https://kwave.example/feed/")
    output = [article(OFF_TOPIC), feed, {"an": "item"}, article(ARCHIVED), article(UNKNOWN)]
    passed = list(FetchMemoryRecallMiddleware(sessions).process_spider_output(None, output))  # type: ignore[arg-type]
    assert sorted(map(id, passed)) == sorted(map(id, output))  # nothing lost, nothing added
    assert recalled(feed) == (False, None)  # not an article: not the memory's business
    assert recalled(output[4]) == (True, None)  # asked, and never fetched
    # the download step decides from the batch's answers without asking the archive again
    middleware = FetchMemoryMiddleware(NoSessions(), (TimeoutError,), frozenset({503}))  # type: ignore[arg-type]
    with pytest.raises(IgnoreRequest, match="off-topic"):
        middleware.process_request(output[0])
    with pytest.raises(IgnoreRequest, match="stored"):
        middleware.process_request(output[3])
    assert middleware.process_request(output[4]) is None


def test_a_redirected_copy_asks_the_memory_for_its_own_url(
    sessions: sessionmaker[Session],
) -> None:
    remember_two(sessions)
    [request] = FetchMemoryRecallMiddleware(sessions).process_spider_output(  # type: ignore[arg-type]
        None, [article(UNKNOWN)]
    )
    redirected = request.replace(url=OFF_TOPIC)  # the redirect middleware keeps the meta
    assert recalled(redirected) == (False, None)
    with pytest.raises(IgnoreRequest, match="off-topic"):
        FetchMemoryMiddleware(sessions, (TimeoutError,), frozenset({503})).process_request(
            redirected
        )
