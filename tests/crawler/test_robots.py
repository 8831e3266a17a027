"""RobotsTxtMiddleware against a stand-in engine: RFC 9309 on every run (section 2.3.1)."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from scrapy import Request
from scrapy.http import Response
from scrapy.utils.test import get_crawler
from sqlalchemy.orm import Session, sessionmaker

from scraper.crawler import signals
from scraper.crawler.middlewares import DisallowAll, RobotsTxtMiddleware

ROBOTS = "https://outlet.example/robots.txt"
DRAFT = "https://outlet.example/drafts/embargoed"
RULES = b"User-agent: *\nDisallow: /drafts/\n"


class Engine:
    """Answers robots.txt requests in turn (a Response, or an exception to raise)."""

    def __init__(self, *answers: Response | Exception) -> None:
        self.answers = list(answers)
        self.requests: list[Request] = []

    async def download_async(self, request: Request) -> Response:
        self.requests.append(request)
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer.replace(request=request, url=request.url)


def answer(status: int, body: bytes = b"", etag: str | None = None) -> Response:
    return Response(ROBOTS, status=status, body=body, headers={"ETag": etag} if etag else {})


def middleware(sessions: sessionmaker[Session], engine: Engine) -> tuple[Any, list[str]]:
    crawler = get_crawler(settings_dict={"ROBOTSTXT_OBEY": True})
    crawler.engine = engine  # type: ignore[assignment]
    reported: list[str] = []
    crawler.signals.connect(
        lambda **kw: reported.append(kw["reason"]), signal=signals.page_failed, weak=False
    )
    return RobotsTxtMiddleware(crawler, sessions), reported


def allowed(robots: Any, url: str = DRAFT) -> bool:
    parser = asyncio.run(robots.robot_parser(Request(url, meta={"source": "Outlet"})))
    return parser is None or bool(parser.allowed(url, "dramawatch"))


def test_a_304_keeps_the_rules_of_the_kept_copy(sessions: sessionmaker[Session]) -> None:
    first, _ = middleware(sessions, Engine(answer(200, RULES, '"r1"')))
    assert not allowed(first)
    engine = Engine(answer(304, etag='"r1"'))
    second, _ = middleware(sessions, engine)  # the next run, another process
    assert not allowed(second)
    assert engine.requests[0].headers[b"If-None-Match"] == b'"r1"'


def test_rules_are_used_for_at_most_24_hours(sessions: sessionmaker[Session]) -> None:
    engine = Engine(answer(200, RULES, '"r1"'), answer(200, b"User-agent: *\nAllow: /\n"))
    robots, _ = middleware(sessions, engine)
    assert not allowed(robots) and not allowed(robots)
    assert len(engine.requests) == 1  # read once while fresh
    robots._read_at["outlet.example"] -= timedelta(hours=24, seconds=1)
    assert allowed(robots)  # read again: the rules changed meanwhile
    assert len(engine.requests) == 2


@pytest.mark.parametrize("status", [401, 403, 404, 410])
def test_4xx_allows_everything(sessions: sessionmaker[Session], status: int) -> None:
    robots, reported = middleware(sessions, Engine(answer(status, b"<html>Not here</html>")))
    assert allowed(robots) and reported == []


@pytest.mark.parametrize(
    ("failure", "reason"),
    [
        (answer(500), "HTTP 500"),
        (answer(503), "HTTP 503"),
        (TimeoutError("took too long"), "TimeoutError"),
        (ConnectionRefusedError("refused"), "ConnectionRefusedError"),
    ],
)
def test_5xx_or_unreachable_disallows_the_host_and_is_reported(
    sessions: sessionmaker[Session], failure: Response | Exception, reason: str
) -> None:
    kept, _ = middleware(sessions, Engine(answer(200, b"User-agent: *\nAllow: /\n", '"ok"')))
    assert allowed(kept, "https://outlet.example/")
    robots, reported = middleware(sessions, Engine(failure))
    parser = asyncio.run(robots.robot_parser(Request(DRAFT, meta={"source": "Outlet"})))
    assert isinstance(parser, DisallowAll)
    assert not allowed(robots, "https://outlet.example/")  # the whole host, even the home page
    assert len(reported) == 1 and reason in reported[0] and "robots.txt unreadable" in reported[0]
