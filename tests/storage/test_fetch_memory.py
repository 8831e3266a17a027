"""scraper/storage/fetch_memory.py and the decisions FetchMemoryMiddleware takes from it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from scrapy import Request
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response
from sqlalchemy.orm import Session, sessionmaker

from scraper.crawler.cluster import RequestCodec
from scraper.crawler.middlewares import MAX_TRANSIENT_FAILURES, FetchMemoryMiddleware
from scraper.storage import fetch_memory
from scraper.storage.fetch_memory import Fetched, Robots

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
URL = "https://kwave.example/news/finale/"
KEY = "https://kwave.example/news/finale"


def fetched(verdict: fetch_memory.Verdict, **changes: object) -> Fetched:
    values: dict[str, object] = {
        "key": KEY,
        "url": URL,
        "verdict": verdict,
        "etag": '"v1"',
        "last_modified": "Tue, 01 Dec 2026 08:00:00 GMT",
        "entry_modified_at": NOW - timedelta(hours=2),
        "failures": 0,
        "fetched_at": NOW,
    }
    values.update(changes)
    return Fetched(**values)  # type: ignore[arg-type]


def test_remember_writes_over_the_last_fetch(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        fetch_memory.remember(session, [fetched("failed transient", failures=1)])
    with sessions.begin() as session:
        fetch_memory.remember(session, [fetched("off-topic", etag='"v2"')])
    with sessions() as session:
        assert fetch_memory.recall(session, KEY) == fetched("off-topic", etag='"v2"')
        assert fetch_memory.recall(session, "https://kwave.example/other") is None


def test_discovery_validators_and_robots(sessions: sessionmaker[Session]) -> None:
    feed = "https://kwave.example/feed/"
    robots = Robots(200, b"User-agent: *\nDisallow: /drafts/\n", '"r1"', None, NOW)
    with sessions.begin() as session:
        fetch_memory.remember_discovery(session, feed, '"f1"', None, NOW)
        fetch_memory.remember_robots(session, "https://kwave.example", robots)
        fetch_memory.remember(session, [fetched("stored")])
    with sessions() as session:
        assert fetch_memory.discovery_validators(session, feed) == ('"f1"', None)
        assert fetch_memory.discovery_validators(session, KEY) is None  # an article
        assert fetch_memory.recall_robots(session, "https://kwave.example") == robots
        assert fetch_memory.recall_robots(session, "https://other.example") is None


def middleware(sessions: sessionmaker[Session]) -> FetchMemoryMiddleware:
    return FetchMemoryMiddleware(sessions, (TimeoutError,), frozenset({503}))


def article(**meta: object) -> Request:
    return Request(URL, meta={"article": True, "source": "K-Wave", **meta})


@pytest.mark.parametrize(
    ("remembered", "meta", "requested"),
    [
        (None, {}, True),  # never fetched
        (fetched("off-topic"), {}, False),  # an entry without dates costs nothing
        (fetched("stored"), {"modified_at": NOW - timedelta(hours=2)}, False),  # did not move
        (fetched("stored"), {"modified_at": NOW + timedelta(hours=1)}, True),  # moved
        (fetched("too old"), {"modified_at": NOW - timedelta(hours=1)}, False),  # before fetch
        (fetched("stored"), {"published_at": NOW - timedelta(days=1)}, False),
        (fetched("stored"), {"published_at": NOW + timedelta(minutes=5)}, True),
        (fetched("failed permanent"), {}, False),
        (fetched("failed transient", failures=1), {}, True),  # retried next run
        (fetched("failed transient", failures=MAX_TRANSIENT_FAILURES), {}, False),  # bounded
    ],
)
def test_a_remembered_page_is_requested_only_when_it_may_have_changed(
    sessions: sessionmaker[Session],
    remembered: Fetched | None,
    meta: dict[str, object],
    requested: bool,
) -> None:
    if remembered is not None:
        with sessions.begin() as session:
            fetch_memory.remember(session, [remembered])
    request = article(**meta)
    if requested:
        assert middleware(sessions).process_request(request) is None
    else:
        with pytest.raises(IgnoreRequest, match="already fetched"):
            middleware(sessions).process_request(request)


def test_a_changed_entry_is_requested_conditionally(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        fetch_memory.remember(session, [fetched("stored")])
    request = article(modified_at=NOW + timedelta(hours=1))
    middleware(sessions).process_request(request)
    assert request.headers[b"If-None-Match"] == b'"v1"'
    assert request.headers[b"If-Modified-Since"] == b"Tue, 01 Dec 2026 08:00:00 GMT"


def test_discovery_pages_are_not_the_memory_s_business(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        fetch_memory.remember(session, [fetched("stored")])
    assert middleware(sessions).process_request(Request(URL, meta={"source": "K"})) is None


def test_transient_failures_count_up_and_a_verdict_resets_them(
    sessions: sessionmaker[Session],
) -> None:
    memory = middleware(sessions)
    with sessions.begin() as session:
        fetch_memory.remember(session, [fetched("failed transient", failures=1)])
    request = article()
    memory.process_request(request)
    memory.process_exception(request, TimeoutError())
    memory.flush()
    with sessions() as session:
        again = fetch_memory.recall(session, KEY)
    assert again is not None and again.verdict == "failed transient" and again.failures == 2
    request = article()
    memory.process_request(request)
    memory.process_exception(request, ValueError("not retried by Scrapy"))
    memory.flush()
    with sessions() as session:
        final = fetch_memory.recall(session, KEY)
    assert final is not None and final.verdict == "failed permanent" and final.failures == 0


def test_a_page_that_is_not_text_is_remembered_as_not_an_article(
    sessions: sessionmaker[Session],
) -> None:
    memory = middleware(sessions)
    request = article()
    memory.process_request(request)
    pdf = Response(URL, status=200, body=b"%PDF-1.7", request=request)
    assert memory.process_response(request, pdf) is pdf
    memory.flush()
    with sessions() as session:
        found = fetch_memory.recall(session, KEY)
    assert found is not None and found.verdict == "not an article"


def test_a_let_through_request_can_still_be_queued_in_redis(
    sessions: sessionmaker[Session],
) -> None:
    with sessions.begin() as session:
        fetch_memory.remember(session, [fetched("stored")])
    request = article(modified_at=NOW + timedelta(hours=1))
    middleware(sessions).process_request(request)
    queued = RequestCodec.loads(RequestCodec.dumps(request.to_dict()))  # a redirect is re-queued
    assert queued["meta"]["remembered"]["etag"] == '"v1"'
