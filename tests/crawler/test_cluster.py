"""Distributed crawling on Redis (scrapy-redis) with the archive on PostgreSQL.

The end-to-end test runs the fixture site, two ``dramawatch worker`` processes and
``dramawatch crawl --distributed``, and checks the outcome against a single-process crawl of the
same site: each page fetched once in total, each article stored once, the same stories.
"""

from __future__ import annotations

import json
import os
import pickle
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from scrapy import Request
from scrapy.http import HtmlResponse
from scrapy.utils.request import request_from_dict
from sqlalchemy import create_engine, text

from scraper.config import Config, load_config
from scraper.core.text import redact
from scraper.core.urls import url_key
from scraper.crawler.cluster import (
    ACTIVITY_KEY,
    ALIVE_KEY,
    BUSY_KEY,
    DUPEFILTER_KEY,
    REQUESTS_KEY,
    RUN_KEY,
    CanonicalRedisDupeFilter,
    ClaimingPriorityQueue,
    ClusterError,
    DrainDetector,
    FrontierState,
    RedisScheduler,
    RequestCodec,
    config_fingerprint,
    coordinate,
    frontier_state,
)
from scraper.crawler.spiders.news import NewsSpider
from scraper.crawler.spiders.worker import SharedBudget, WorkerSpider
from tests.conftest import cli_env, dramawatch
from tests.crawler.test_recrawl import PHOTO_DIARY, SEOULSCREEN_ROBOTS, article_hits, republish
from tests.site import CONFIG as SITE_CONFIG
from tests.site import EXPECTED, FixtureSite

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
KST = timezone(timedelta(hours=9))


@pytest.fixture(scope="module")
def config() -> Config:
    return load_config(SITE_CONFIG, env={})


# ---------------------------------------------------------------- requests through Redis


def article_request(spider: NewsSpider, url: str, **meta: Any) -> Request:
    """Give the request the spider makes for ``url`` linked from a listing page (through its
    public callback), with ``meta`` added."""
    listing = "http://kwave.test/listing/"
    html = f'<html><body><main><article><h2><a href="{url}">Kim Soo-hyun news</a></h2>'
    response = HtmlResponse(
        url=listing,
        body=f"{html}</article></main></body></html>".encode(),
        encoding="utf-8",
        request=Request(listing, meta={"source": spider.config.sources[0].name}),
    )
    [request] = list(spider.parse_listing(response))
    assert request.meta["article"] and request.url == url
    request.meta.update(meta)
    return request


def test_codec_round_trips_our_requests(config: Config) -> None:
    seeder = NewsSpider(config, NOW)
    worker = WorkerSpider(config, NOW)
    request = article_request(
        seeder,
        "http://kwave.test/news/a/?utm_source=rss",
        via="http://kwave.test/feed/",
        published_at=datetime(2026, 4, 30, 9, 30, tzinfo=KST),
        title="“Queen of Tears” 눈물의 여왕",
    )
    request.meta.update(
        redirect_urls=["http://kwave.test/a"], day=date(2026, 4, 30), pair=(1, "x"),
        odd={b"k": [b"\x00\xff"], "$b": "not a tag"},
    )
    request.headers[b"If-None-Match"] = b'"abc"'
    data = RequestCodec.dumps(request.to_dict(spider=seeder))
    assert b"__reduce__" not in data and data.startswith(b"{")  # JSON, never pickle
    back = request_from_dict(RequestCodec.loads(data), spider=worker)
    assert back.url == request.url
    assert back.callback == worker.parse_article and back.errback == worker.on_error
    assert back.meta == request.meta
    assert back.meta["published_at"].utcoffset() == timedelta(hours=9)
    assert back.headers.getlist(b"If-None-Match") == [b'"abc"']
    with pytest.raises(TypeError, match="cannot queue"):
        RequestCodec.dumps({"meta": {"x": object()}})


def test_scrapy_redis_scheduler_queue_and_dupefilter(config: Config, redis_url: str) -> None:
    """scrapy-redis 0.9.1 on Scrapy 2.19: our scheduler, claiming queue and canonical dupefilter,
    and the stock scrapy-redis queue with its default pickle serializer as well."""
    import redis
    from scrapy_redis import picklecompat
    from scrapy_redis.queue import PriorityQueue

    server = redis.Redis.from_url(redis_url)
    seeder = NewsSpider(config, NOW)
    worker = WorkerSpider(config, NOW)
    scheduler = RedisScheduler(
        server,
        queue_key=REQUESTS_KEY,
        queue_cls=ClaimingPriorityQueue,
        dupefilter=CanonicalRedisDupeFilter(server, DUPEFILTER_KEY),
    )
    scheduler.open(worker)
    variants = [
        "http://kwave.test/news/kim-soo-hyun-sings/?utm_source=rss&utm_medium=rss",
        "http://kwave.test/news/kim-soo-hyun-sings/amp/",
        "http://m.kwave.test/news/kim-soo-hyun-sings/",
        "https://www.kwave.test/news/kim-soo-hyun-sings",
    ]
    when = datetime(2026, 4, 30, 1, 2, 3, tzinfo=UTC)
    queued = [
        scheduler.enqueue_request(article_request(seeder, url, published_at=when))
        for url in variants
    ]
    assert queued == [True, False, False, False]  # one article, whatever URL variant
    assert scheduler.enqueue_request(article_request(seeder, "http://kwave.test/news/other/"))
    feed = Request("http://kwave.test/feed/", callback=seeder.parse_feed, errback=seeder.on_error,
                   meta={"source": "K-Wave Daily"}, priority=5)
    assert scheduler.enqueue_request(feed)
    assert scheduler.has_pending_requests() and len(scheduler) == 3

    assert scheduler.next_request() is None  # no coordinator, no crawl: nothing is taken
    server.set(RUN_KEY, json.dumps({"token": "t", "run_id": 1}))
    first = scheduler.next_request()  # highest priority first
    assert first is not None and first.url == feed.url
    assert first.callback == worker.parse_feed and first.errback == worker.on_error
    second = scheduler.next_request()
    assert second is not None and second.callback == worker.parse_article
    assert second.meta["published_at"] == when and second.meta["article"] is True
    # taking a request claims it for this worker and counts as activity, atomically
    assert int(server.get(ACTIVITY_KEY)) == 2
    assert int(server.hget(BUSY_KEY, scheduler.queue.worker_id)) == 2
    scheduler.close("shutdown")  # persistent: a stopping worker leaves the frontier alone
    assert len(scheduler) == 1 and server.scard(DUPEFILTER_KEY) == 3

    stock = PriorityQueue(server, seeder, "stock:requests", serializer=picklecompat)
    stock.push(article_request(seeder, variants[0], published_at=when))
    popped = stock.pop()
    assert popped.callback.__name__ == "parse_article" and popped.meta["published_at"] == when
    assert pickle.loads(pickle.dumps(popped.meta)) == popped.meta


def test_shared_budget_counts_atomically(redis_url: str) -> None:
    import redis

    server = redis.Redis.from_url(redis_url)
    one, two = SharedBudget(server, "budget"), SharedBudget(server, "budget")
    assert one["Src"] == 0 and two["Src"] == 0  # both read 0 ...
    one["Src"] += 1
    two["Src"] += 1  # ... and neither increment is lost
    assert one["Src"] == 2 and int(server.hget("budget", "Src")) == 2


# ---------------------------------------------------------------- drain detection


def state(queued: int = 0, in_flight: int = 0, activity: int = 0) -> FrontierState:
    return FrontierState(
        queued=queued, in_flight=in_flight, live=("w",), activity=activity, dead=()
    )


def test_drain_needs_a_quiet_period() -> None:
    detector = DrainDetector(quiet_s=1.0)
    assert not detector.observe(state(queued=3), 0.0)
    assert not detector.observe(state(in_flight=2, activity=3), 0.5)
    assert not detector.observe(state(activity=3), 1.0)  # looks empty: the quiet period starts
    assert not detector.observe(state(activity=3), 1.9)
    assert not detector.observe(state(activity=4), 2.0)  # a request was taken meanwhile
    assert not detector.observe(state(activity=4), 2.9)
    assert not detector.observe(state(in_flight=1, activity=4), 3.0)
    assert not detector.observe(state(activity=4), 3.1)
    assert not detector.observe(state(activity=4), 3.5)
    assert detector.observe(state(activity=4), 4.25)


def test_frontier_state_ignores_dead_workers(redis_url: str) -> None:
    import redis

    server = redis.Redis.from_url(redis_url)
    server.zadd(REQUESTS_KEY, {b"r1": 0})
    server.hset(BUSY_KEY, mapping={"alive-busy": 2, "alive-idle": 0, "gone": 5})
    server.set(ALIVE_KEY + "alive-busy", 1, ex=30)
    server.set(ALIVE_KEY + "alive-idle", 1, ex=30)
    server.set(ACTIVITY_KEY, 7)
    found = frontier_state(server)
    assert found == FrontierState(
        queued=1, in_flight=2, live=("alive-busy", "alive-idle"), activity=7, dead=("gone",)
    )


def test_config_fingerprint_tells_configs_apart(config: Config) -> None:
    import dataclasses

    same = load_config(SITE_CONFIG, env={"DRAMAWATCH_DATABASE_URL": "sqlite:////tmp/other.db"})
    assert config_fingerprint(same) == config_fingerprint(config)  # the database is not decisive
    fewer = dataclasses.replace(config, sources=config.sources[1:])
    assert config_fingerprint(fewer) != config_fingerprint(config)


class FakeEngine:
    paused = False

    def pause(self) -> None:
        self.paused = True

    def unpause(self) -> None:
        self.paused = False


def test_worker_follows_each_new_run(config: Config) -> None:
    from scrapy.utils.test import get_crawler
    from twisted.internet.defer import Deferred

    from scraper.crawler import scrapy_internals
    from scraper.crawler.cluster import WorkerExtension
    from scraper.crawler.middlewares import RobotsTxtMiddleware

    spider = WorkerSpider(config, NOW)
    robots = RobotsTxtMiddleware.from_crawler(get_crawler(settings_dict={"ROBOTSTXT_OBEY": True}))
    parsers = scrapy_internals.robot_parsers(robots)
    parsers.update({"kwave.test": object(), "dramabeat.test": Deferred()})
    crawler = SimpleNamespace(
        engine=FakeEngine(), spider=spider, get_downloader_middleware=lambda cls: robots
    )
    ext = WorkerExtension(crawler, server=None, worker_id="w", fingerprint="abc")  # type: ignore[arg-type]

    def run(token: str, run_id: int, fingerprint: str) -> bytes:
        started = (NOW + timedelta(days=run_id)).isoformat()
        return json.dumps({"token": token, "run_id": run_id, "started_at": started,
                           "config": fingerprint}).encode()

    ext.follow_run(run("t1", 1, "abc"))
    assert spider.now == NOW + timedelta(days=1)  # dated like the coordinator
    assert list(parsers) == ["dramabeat.test"]  # robots.txt read afresh each crawl
    ext.follow_run(run("t2", 2, "other"))
    assert crawler.engine.paused and spider.now == NOW + timedelta(days=1)  # sits this one out
    ext.follow_run(run("t3", 3, "abc"))
    assert not crawler.engine.paused and spider.now == NOW + timedelta(days=3)


def coordinator_config(redis_url: str, database_url: str) -> Config:
    env = {"DRAMAWATCH_DATABASE_URL": database_url, "DRAMAWATCH_REDIS_URL": redis_url}
    return load_config(SITE_CONFIG, env=env)


def test_one_coordinator_at_a_time(redis_url: str, sqlite_url: str) -> None:
    import redis

    server = redis.Redis.from_url(redis_url)
    server.set(RUN_KEY, json.dumps({"token": "t", "run_id": 7, "started_at": "2026-05-01"}))
    with pytest.raises(ClusterError, match="another distributed crawl is running .run 7"):
        coordinate(coordinator_config(redis_url, sqlite_url))


def test_sigterm_interrupts_the_coordinator_cleanly(redis_url: str, sqlite_url: str) -> None:
    """No worker is running: the frontier waits; SIGTERM closes the run and clears the frontier."""
    import redis

    server = redis.Redis.from_url(redis_url)

    def terminate_once_seeded() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            raw = server.get(RUN_KEY)
            if raw and json.loads(raw).get("run_id") and server.zcard(REQUESTS_KEY):
                os.kill(os.getpid(), signal.SIGTERM)
                return
            time.sleep(0.05)

    killer = threading.Thread(target=terminate_once_seeded)
    killer.start()
    with pytest.raises(KeyboardInterrupt):
        coordinate(coordinator_config(redis_url, sqlite_url), timeout_s=60)
    killer.join()
    engine = create_engine(sqlite_url)
    with engine.connect() as connection:
        runs = connection.execute(text("SELECT status, finished_at IS NOT NULL FROM crawl_runs"))
        assert runs.all() == [("interrupted", 1)]
    engine.dispose()
    assert not server.exists(RUN_KEY) and server.zcard(REQUESTS_KEY) == 0


def test_safe_url_hides_the_password() -> None:
    assert redact("redis://:s3cret@10.0.0.5:6379/0") == "redis://:***@10.0.0.5:6379/0"
    assert redact("redis://10.0.0.5:6379/0") == "redis://10.0.0.5:6379/0"


# ---------------------------------------------------------------- end to end


def start_worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """Start ``dramawatch worker`` the way an operator does."""
    return subprocess.Popen(
        [sys.executable, "-m", "scraper.app.cli", "--config", str(SITE_CONFIG), "-v", "worker"],
        env=env, cwd=ROOT, stdout=log.open("wb"), stderr=subprocess.STDOUT,
    )


def wait_for_workers(server: Any, count: int, workers: list[subprocess.Popen[bytes]],
                     logs: list[Path], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ids = [k.decode() for k in server.hkeys(BUSY_KEY)]
        if sum(1 for i in ids if server.exists(ALIVE_KEY + i)) >= count:
            return
        for worker, log in zip(workers, logs, strict=True):
            assert worker.poll() is None, f"worker died:\n{log.read_text()[-3000:]}"
        time.sleep(0.1)
    tails = "\n".join(log.read_text()[-2000:] for log in logs)
    raise AssertionError(f"workers did not come up:\n{tails}")


def stop_workers(workers: list[subprocess.Popen[bytes]], logs: list[Path]) -> list[float]:
    """SIGTERM each worker; give how long each took to exit (all must exit 0)."""
    began = time.monotonic()
    for worker in workers:
        worker.send_signal(signal.SIGTERM)
    took = []
    for worker, log in zip(workers, logs, strict=True):
        assert worker.wait(timeout=30) == 0, log.read_text()[-3000:]
        took.append(time.monotonic() - began)
        assert re.search(r"worker \S+ stopped: \d+ pages", log.read_text())
    return took


def stories(database_url: str) -> list[list[str]]:
    """Give the archive's stories as sorted lists of canonical URLs (ids differ between runs)."""
    engine = create_engine(database_url)
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT story_id, canonical_url FROM articles")).all()
    engine.dispose()
    grouped: dict[int, list[str]] = {}
    for story_id, url in rows:
        grouped.setdefault(story_id, []).append(url)
    return sorted(sorted(urls) for urls in grouped.values())


def archive_counts(database_url: str) -> dict[str, int]:
    engine = create_engine(database_url)
    queries = {
        "articles": "SELECT count(*) FROM articles",
        "canonical_keys": "SELECT count(DISTINCT canonical_key) FROM articles",
        "urls": "SELECT count(*) FROM article_urls",
        "url_keys_in_two_articles": "SELECT count(*) FROM (SELECT url_key FROM article_urls "
        "GROUP BY url_key HAVING count(DISTINCT article_id) > 1) shared",
        "stories": "SELECT count(*) FROM stories",
        "stories_used": "SELECT count(DISTINCT story_id) FROM articles",
    }
    with engine.connect() as connection:
        counts = {
            name: int(connection.execute(text(sql)).scalar_one()) for name, sql in queries.items()
        }
    engine.dispose()
    return counts


def run_totals(database_url: str) -> tuple[int, int]:
    """Give (pages_fetched, articles_new) of the archive's only crawl run."""
    engine = create_engine(database_url)
    with engine.connect() as connection:
        row = connection.execute(text("SELECT pages_fetched, articles_new FROM crawl_runs")).one()
    engine.dispose()
    return int(row[0]), int(row[1])


def fetches(site: FixtureSite) -> tuple[Counter[str], Counter[str]]:
    """Give (pages, robots.txt) fetch counts from the fixture site's access log; pages are
    counted per URL identity (a sitemap may list ``/a`` and ``/a/``: one page, either URL)."""
    log = Counter(record.url for record in site.access_log)
    robots = Counter({u: n for u, n in log.items() if u.endswith("/robots.txt")})
    pages: Counter[str] = Counter()
    for url, count in (log - robots).items():
        pages[url_key(url)] += count
    return pages, robots


def test_two_workers_crawl_like_one_process(
    site: FixtureSite, crawled_archive: Path, redis_url: str, postgres_url: str, tmp_path: Path
) -> None:
    """``crawled_archive`` is the single-process crawl of the same site (shared fixture)."""
    import redis

    server = redis.Redis.from_url(redis_url)
    golden = json.loads(EXPECTED.read_text("utf-8"))
    forbidden = {url_key(n["url"]) for n in golden["not_stored"] if not n.get("requested", True)}
    single_db = f"sqlite:///{crawled_archive}"
    env = cli_env(site, DRAMAWATCH_DATABASE_URL=postgres_url, DRAMAWATCH_REDIS_URL=redis_url)
    logs = [tmp_path / f"worker{i}.log" for i in range(2)]
    workers = [start_worker(env, log) for log in logs]
    try:
        wait_for_workers(server, 2, workers, logs)
        site.clear_log()
        distributed = dramawatch(
            SITE_CONFIG, "crawl", "--distributed", site=site,
            DRAMAWATCH_DATABASE_URL=postgres_url, DRAMAWATCH_REDIS_URL=redis_url,
        )
        assert distributed.returncode == 0, distributed.stderr[-3000:]
        summary = distributed.stdout.splitlines()[0]
        assert re.match(r"crawl run 1 finished: \d+ pages, \d+ new, 0 updated articles "
                        r"\(distributed: \d+ seeded, 2 workers, [\d.]+ s\)$", summary), summary
        two_workers_s = float(re.findall(r"([\d.]+) s\)$", summary)[0])
        pages, robots = fetches(site)

        # every page fetched once in total (robots.txt: once per worker and host, obeyed)
        assert max(pages.values()) == 1, {u: n for u, n in pages.items() if n > 1}
        assert max(robots.values()) <= 2
        assert not forbidden & set(pages)
        # every article stored once, the same stories as one process
        counts = archive_counts(postgres_url)
        assert counts["articles"] == counts["canonical_keys"] == golden["counts"]["articles_stored"]
        assert counts["url_keys_in_two_articles"] == 0
        assert counts["stories"] == counts["stories_used"] == golden["counts"]["stories"]
        assert stories(postgres_url) == stories(single_db)
        # one run row for the distributed crawl, with both workers' totals, as one process
        single_run = run_totals(single_db)
        assert run_totals(postgres_url) == single_run
        assert summary.startswith(f"crawl run 1 finished: {single_run[0]} pages, "
                                  f"{single_run[1]} new")

        # a second distributed run of the republished site: robots.txt is revalidated (304)
        # and keeps its rules, and no page fetched by the first run is requested again
        republish(site)
        site.clear_log()
        again = dramawatch(
            SITE_CONFIG, "crawl", "--distributed", site=site,
            DRAMAWATCH_DATABASE_URL=postgres_url, DRAMAWATCH_REDIS_URL=redis_url,
        )
        assert again.returncode == 0, again.stderr[-3000:]
        revalidated = [r.status for r in site.access_log if r.url == SEOULSCREEN_ROBOTS]
        assert revalidated and set(revalidated) == {304}
        assert site.hits(PHOTO_DIARY) == 0 and article_hits(site) == []

        print(f"\nfixture site, 2 workers: {pages.total()} page fetches "
              f"(+{robots.total()} robots.txt), seeded to drained in {two_workers_s:.1f} s")
        stop_workers(workers, logs)  # SIGTERM stops each worker cleanly, exit 0
        assert server.hlen(BUSY_KEY) == 0  # and they sign off
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
                worker.wait()
