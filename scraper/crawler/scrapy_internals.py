"""Every private part of Scrapy that dramawatch reads, behind one small adapter.

The distributed crawl (scraper.crawler.cluster) needs three things Scrapy keeps private: the
requests the engine has taken from the scheduler and not finished (``engine._slot.inprogress``,
the claim limit), the engine's "look at the scheduler now" call (``engine._slot.nextcall``), and
the robots.txt middleware's per-host parsers (``RobotsTxtMiddleware._parsers``). They are read
here only; pyproject pins the Scrapy versions they were checked on, and
tests/crawler/test_scrapy_internals.py checks them on a real engine of the installed Scrapy. If a
Scrapy release renames one, these functions raise :class:`ScrapyInternalsChanged` instead of the
claim limit or the robots.txt refresh silently turning into no-ops.
"""

from __future__ import annotations

from typing import Any

from scrapy import Request
from scrapy.core.engine import ExecutionEngine
from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware


class ScrapyInternalsChanged(RuntimeError):
    """The installed Scrapy no longer has a private attribute dramawatch relies on."""


def _slot(engine: ExecutionEngine) -> Any:
    """Give the engine's slot (None before the spider opened and after it closed)."""
    if not hasattr(engine, "_slot"):
        raise ScrapyInternalsChanged("scrapy's ExecutionEngine has no _slot any more")
    return engine._slot


def requests_in_progress(engine: ExecutionEngine) -> set[Request] | None:
    """Give the requests the engine took from the scheduler and has not fully handled yet
    (downloaded, parsed, follow-ups queued, items through the pipelines); None while no
    spider is open."""
    slot = _slot(engine)
    if slot is None:
        return None
    inprogress = getattr(slot, "inprogress", None)
    if not isinstance(inprogress, set):
        raise ScrapyInternalsChanged("scrapy's engine slot has no inprogress set any more")
    return inprogress


def wake(engine: ExecutionEngine) -> bool:
    """Make the engine look at its scheduler now instead of at its next heartbeat; give
    whether it was asked (not while no spider is open)."""
    slot = _slot(engine)
    if slot is None:
        return False
    nextcall = getattr(slot, "nextcall", None)
    if nextcall is None or not callable(getattr(nextcall, "schedule", None)):
        raise ScrapyInternalsChanged("scrapy's engine slot has no nextcall.schedule any more")
    nextcall.schedule()
    return True


def robot_parsers(middleware: RobotsTxtMiddleware) -> dict[str, Any]:
    """Give the robots.txt middleware's parsers by host: a parser, a Deferred while the host's
    robots.txt is being fetched, or None when it could not be."""
    parsers = getattr(middleware, "_parsers", None)
    if not isinstance(parsers, dict):
        raise ScrapyInternalsChanged("scrapy's RobotsTxtMiddleware has no _parsers dict any more")
    return parsers
