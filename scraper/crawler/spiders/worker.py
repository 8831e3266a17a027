"""The ``news_worker`` spider: the ``news`` spider as a crawl worker of a distributed crawl.

It discovers and parses exactly like :class:`NewsSpider` (same callbacks, so a request
serialized by one process runs the same code in another), but starts nothing itself: every
request comes from the shared Redis frontier, seeded by ``dramawatch crawl --distributed``.
The per-source page budget is shared by all workers through Redis.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

from scrapy import Request

from scraper.crawler.spiders.news import NewsSpider


class SharedBudget(Counter[str]):
    """Pages spent per source, kept in a Redis hash so every worker spends the same budget.

    NewsSpider reads ``budget[source]`` to compare it with the limit and then writes
    ``budget[source] += 1``; the write is turned into an atomic HINCRBY of the difference from
    the value last read, so concurrent workers never lose a count. Between the read and the
    increment another worker may spend too: the limit can be passed by at most one page per
    worker, never by a lost update.
    """

    def __init__(self, server: Any, key: str) -> None:
        super().__init__()
        self.server = server
        self.key = key
        self.last_read: dict[str, int] = {}

    def __getitem__(self, source: str) -> int:
        value = int(self.server.hget(self.key, source) or 0)
        self.last_read[source] = value
        return value

    def __setitem__(self, source: str, value: int) -> None:
        delta = value - self.last_read.get(source, 0)
        self.last_read[source] = int(self.server.hincrby(self.key, source, delta))


class WorkerSpider(NewsSpider):
    name = "news_worker"

    def share_budget(self, server: Any, key: str) -> None:
        """Spend the per-source page budget in Redis (called by the cluster extension)."""
        self.budget = SharedBudget(server, key)

    async def start(self) -> AsyncIterator[Request]:
        # the frontier is seeded by the coordinator; a worker only takes from it
        return
        yield
