"""Batched fetch-memory lookups: what the archive remembers of a feed's or sitemap's articles.

``FetchMemoryMiddleware`` decides, for each article request, whether to fetch it again, from
what the fetch memory holds for its URL. Asked one request at a time, that is two queries and a
session on the reactor thread per article page. This spider middleware asks once per batch of the
article requests a callback yields (a feed's or sitemap's entries) and leaves each answer in the
request's meta, keyed by the URL it was asked for, so a redirected copy asks again.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Iterable, Iterator
from typing import Any

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.http import Response

from scraper.core.urls import url_key
from scraper.crawler.resources import resources
from scraper.storage import fetch_memory
from scraper.storage.engine import Sessions

# Article requests recalled in one query; a callback's output waits for at most this many.
RECALL_BATCH = 200
# request.meta key: {"key": url_key asked for, "fetched": Fetched as a dict, or None}
RECALLED_META = "recalled"


def recalled(request: Request) -> tuple[bool, dict[str, Any] | None]:
    """Give (True, what the memory held) when a batch recalled this request's URL, else
    (False, None): the request must ask the memory itself."""
    found = request.meta.get(RECALLED_META)
    if not isinstance(found, dict) or found.get("key") != url_key(request.url):
        return False, None
    fetched: dict[str, Any] | None = found.get("fetched")
    return True, fetched


class FetchMemoryRecallMiddleware:
    """Recalls the fetch memory of the article requests a callback yields, a batch at a time."""

    def __init__(self, sessions: Sessions) -> None:
        self.sessions = sessions

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> FetchMemoryRecallMiddleware:
        return cls(resources(crawler).sessions)

    def process_spider_output(self, response: Response, result: Iterable[Any]) -> Iterator[Any]:
        batch: list[Request] = []
        for output in result:
            if not self._wanted(output):
                yield output
                continue
            batch.append(output)
            if len(batch) >= RECALL_BATCH:
                yield from self._recall(batch)
                batch = []
        yield from self._recall(batch)

    async def process_spider_output_async(
        self, response: Response, result: AsyncIterator[Any]
    ) -> AsyncIterator[Any]:
        batch: list[Request] = []
        async for output in result:
            if not self._wanted(output):
                yield output
                continue
            batch.append(output)
            if len(batch) >= RECALL_BATCH:
                for request in self._recall(batch):
                    yield request
                batch = []
        for request in self._recall(batch):
            yield request

    @staticmethod
    def _wanted(output: Any) -> bool:
        # the same requests FetchMemoryMiddleware asks the memory about (remembered_page)
        return isinstance(output, Request) and bool(output.meta.get("article"))

    def _recall(self, batch: list[Request]) -> list[Request]:
        if not batch:
            return batch
        keys = [(request, url_key(request.url)) for request in batch]
        with self.sessions() as session:
            found = fetch_memory.recall_many(session, [key for _, key in keys])
        for request, key in keys:
            fetched = found.get(key)
            request.meta[RECALLED_META] = {
                "key": key,
                "fetched": dataclasses.asdict(fetched) if fetched is not None else None,
            }
        return batch
