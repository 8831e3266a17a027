"""Micro-benchmarks of the pure core, moved out of the tests (issue 12): timings are measured
and printed here, never asserted in the suite.

    python -m bench.micro
"""

from __future__ import annotations

import gzip
import random
import time
from collections.abc import Callable

from scraper.config import WatchEntry
from scraper.core.dedup import signature
from scraper.core.discovery import parse_sitemap
from scraper.core.match import compile_watchlist

WORDS = (
    "Kim Soo-hyun and Kim Ji-won led Queen of Tears which closed with a record rating "
    "the finale drew viewers across the country and fans filled the comment sections"
).split()


def timed(label: str, repeat: int, work: Callable[[], object]) -> None:
    started = time.perf_counter()
    for _ in range(repeat):
        work()
    per_call = (time.perf_counter() - started) / repeat
    print(f"{label:<40} {per_call * 1000:9.2f} ms per call ({repeat} calls)")


def main() -> None:
    rng = random.Random(4)
    text = " ".join(rng.choice(WORDS) for _ in range(1000))
    timed("dedup.signature, 1000 words", 10, lambda: signature(text))

    matcher = compile_watchlist(
        [
            WatchEntry("Kim Soo-hyun", "person", ("김수현",)),
            WatchEntry("Kim Ji-won", "person", ("김지원",)),
            WatchEntry("Queen of Tears", "drama", ("눈물의 여왕",)),
        ]
    )
    paragraph = (
        "Kim Soo-hyun and Kim Ji-won led Queen of Tears, which closed with a record rating. "
        "김수현과 김지원이 주연한 '눈물의 여왕'은 tvN 역대 최고 시청률로 막을 내렸다. "
    )
    page = (paragraph * (10_240 // len(paragraph) + 1))[:10_240]
    timed("Matcher.find, 10 kB, three entries", 20, lambda: matcher.find(page))

    entries = "".join(
        f"<url><loc>https://news.example/2024/story-{i}</loc><lastmod>2024-04-29</lastmod></url>"
        for i in range(50_000)
    )
    body = gzip.compress(
        (
            '<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
            + entries
            + "</urlset>"
        ).encode(),
        compresslevel=1,
    )
    timed(
        "parse_sitemap, 50,000 URLs gzipped", 1, lambda: parse_sitemap(body, "https://n.example/")
    )


if __name__ == "__main__":
    main()
