"""Distributed crawling: a shared Redis frontier (scrapy-redis) and crawl workers on many machines.

``dramawatch worker`` runs the ``news_worker`` spider with scrapy-redis' scheduler, queue and
dupefilter: requests come from and go to one Redis sorted set, fingerprints (our canonical URL
keys) live in one Redis set, so a page is fetched once whichever worker finds it. The worker stays
up waiting for work until SIGTERM / Ctrl-C, which finishes the requests in flight and exits.

``dramawatch crawl --distributed`` is the coordinator of one crawl: it takes a lease in Redis
(one distributed crawl at a time; workers take requests only while it is held), clears the
previous frontier, opens one ``crawl_runs`` row, seeds the frontier with the sources' feeds,
sitemaps and listing pages (through the same scheduler and dupefilter code), and returns when the
frontier is drained. Drained means: the queue is empty, every live worker reports zero
requests in flight, and no request was taken from the queue, all for a quiet period. A worker
takes a request and marks itself busy in one atomic Redis script, and reports busy until its
engine has finished the request (downloaded, parsed, follow-up requests queued, items stored), so
there is no instant at which work is neither queued nor visibly in flight.

Run history: workers write no ``crawl_runs`` rows. They count pages, new and updated articles
and errors per source into Redis; the coordinator, the only writer of the run row, folds those
counts into its row every second and at the end, so ``dramawatch runs`` shows one run per
distributed crawl with the totals of all workers, exactly like a single-process crawl.

Workers and the coordinator must crawl with the same dramawatch.toml: the lease carries a
fingerprint of its sources, watch list and crawl limits, and a worker whose own differs sits the
crawl out with an error in its log. Requests are stored in Redis as tagged JSON
(:class:`RequestCodec`), not pickle: a worker never unpickles bytes read from the network.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import hashlib
import json
import logging
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from types import FrameType
from typing import Any

import redis
from scrapy import Request, signals
from scrapy.crawler import Crawler, CrawlerProcess
from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware
from scrapy.exceptions import DontCloseSpider
from scrapy.http import Response
from scrapy.settings import Settings
from scrapy_redis.connection import get_redis_from_settings
from scrapy_redis.dupefilter import RFPDupeFilter
from scrapy_redis.queue import PriorityQueue
from scrapy_redis.scheduler import Scheduler
from twisted.internet import task

from scraper.config import Config
from scraper.core.identity import process_identity
from scraper.core.text import redact
from scraper.crawler import scrapy_internals
from scraper.crawler import signals as dramawatch_signals
from scraper.crawler.crawl import CrawlOutcome, crawl_settings, outcome
from scraper.crawler.items import PageItem
from scraper.crawler.middlewares import CanonicalFingerprinter
from scraper.crawler.resources import attach
from scraper.crawler.spiders.news import NewsSpider
from scraper.crawler.spiders.worker import WorkerSpider
from scraper.storage import fetch_memory
from scraper.storage import runs as run_history
from scraper.storage.articles import StoreStatus
from scraper.storage.engine import Sessions, make_engine, session_factory, upgrade

logger = logging.getLogger(__name__)

# Redis keys (one deployment per Redis database: pick the database number in the URL)
REQUESTS_KEY = "dramawatch:requests"  # scrapy-redis priority queue (sorted set)
DUPEFILTER_KEY = "dramawatch:dupefilter"  # canonical request fingerprints of the crawl
RUN_KEY = "dramawatch:run"  # the coordinator's lease: JSON {run_id, token, started_at}
BUSY_KEY = "dramawatch:busy"  # hash: worker id -> requests in flight
ALIVE_KEY = "dramawatch:alive:"  # + worker id; expires when the worker stops heartbeating
ACTIVITY_KEY = "dramawatch:activity"  # bumped by every request taken from the queue
BUDGET_KEY = "dramawatch:budget"  # hash: source -> pages spent (max_pages_per_source)
STATS_KEY = "dramawatch:stats"  # hash: "pages:<source>", "new:<source>", "updated:<source>"
ERRORS_KEY = "dramawatch:errors"  # list of JSON {source, url, reason, at}
VALIDATORS_KEY = "dramawatch:validators"  # hash: url -> JSON [etag, last_modified]
SPOILED_KEY = "dramawatch:spoiled"  # set: feeds/listings whose articles failed this crawl
MIGRATE_LOCK = "dramawatch:migrate"
FRONTIER_KEYS = (
    REQUESTS_KEY,
    DUPEFILTER_KEY,
    BUDGET_KEY,
    STATS_KEY,
    ERRORS_KEY,
    VALIDATORS_KEY,
    SPOILED_KEY,
)

HEARTBEAT_S = 0.1  # how often a worker reports its in-flight count and looks for work
# requests a worker holds unfinished at most (DRAMAWATCH_CLUSTER_CLAIM_LIMIT): the rest stay in
# the queue for idle workers, and a worker that dies loses no more than this
CLAIM_LIMIT = 8
ALIVE_S = 30.0  # a worker silent this long is dead (its in-flight requests are lost)
QUIET_S = 1.0  # the frontier must look drained this long before the crawl ends
POLL_S = 0.2  # how often the coordinator looks at the frontier
FOLD_S = 1.0  # how often the coordinator moves the workers' counts into the run row
LEASE_S = 30  # the coordinator's lock expires this long after it stops refreshing it


class ClusterError(Exception):
    """A distributed crawl cannot run (Redis unreachable, another crawl holds the lease);
    str() is the one line shown to the user."""


# ---------------------------------------------------------------- requests in Redis


class RequestCodec:
    """Serializer of request dicts for the Redis queue: JSON with tags for the few non-JSON
    types Scrapy and our spider put in a request (bytes, datetimes, tuples, bytes-keyed dicts).

    Anything else raises TypeError when the request is queued, loudly, instead of being
    pickled: whoever can write to Redis must not be able to run code in the workers.
    """

    @staticmethod
    def dumps(obj: Any) -> bytes:
        return json.dumps(_tag(obj), separators=(",", ":"), ensure_ascii=False).encode()

    @staticmethod
    def loads(data: bytes | str) -> Any:
        return json.loads(data, object_hook=_untag)


def _tag(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, bytes):
        return {"$b": base64.b64encode(value).decode("ascii")}
    if isinstance(value, datetime):
        return {"$dt": value.isoformat()}
    if isinstance(value, date):
        return {"$d": value.isoformat()}
    if isinstance(value, tuple):
        return {"$t": [_tag(item) for item in value]}
    if isinstance(value, list):
        return [_tag(item) for item in value]
    if isinstance(value, dict):
        if all(isinstance(key, str) and not key.startswith("$") for key in value):
            return {key: _tag(item) for key, item in value.items()}
        return {"$m": [[_tag(key), _tag(item)] for key, item in value.items()]}
    raise TypeError(f"cannot queue a request holding a {type(value).__name__}: {value!r:.80}")


def _untag(obj: dict[str, Any]) -> Any:
    if len(obj) == 1:
        ((tag, value),) = obj.items()
        if tag == "$b":
            return base64.b64decode(value)
        if tag == "$dt":
            return datetime.fromisoformat(value)
        if tag == "$d":
            return date.fromisoformat(value)
        if tag == "$t":
            return tuple(value)
        if tag == "$m":
            return {_hashable(key): item for key, item in value}
    return obj


def _hashable(key: Any) -> Any:
    return tuple(key) if isinstance(key, list) else key


# Take the best request and mark this worker busy in one step, so a request is always either
# queued or counted in flight: the coordinator can never see the frontier empty by mistake.
# Only while a coordinator holds its lease: follow-ups of an interrupted crawl are left alone.
_CLAIM = """
if redis.call('EXISTS', KEYS[4]) == 0 then return false end
local item = redis.call('ZRANGE', KEYS[1], 0, 0)
if #item == 0 then return false end
redis.call('ZREMRANGEBYRANK', KEYS[1], 0, 0)
redis.call('HINCRBY', KEYS[2], ARGV[1], 1)
redis.call('INCR', KEYS[3])
return item[1]
"""


class ClaimingPriorityQueue(PriorityQueue):  # type: ignore[misc]
    """scrapy-redis' priority queue whose pop also claims the request for this worker."""

    def __init__(self, server: Any, spider: Any, key: str, serializer: Any = None) -> None:
        super().__init__(server, spider, key, serializer=serializer)
        self.worker_id: str = worker_id_of(spider)
        self.claim = server.register_script(_CLAIM)

    def pop(self, timeout: int = 0) -> Request | None:
        keys = [self.key, BUSY_KEY, ACTIVITY_KEY, RUN_KEY]
        data = self.claim(keys=keys, args=[self.worker_id])
        return self._decode_request(data) if data else None


class CanonicalRedisDupeFilter(RFPDupeFilter):  # type: ignore[misc]
    """scrapy-redis' shared dupefilter on our canonical fingerprints: URL variants (tracking
    parameters, AMP, mobile host...) found by different workers are one request."""

    fingerprinter = CanonicalFingerprinter()

    def request_fingerprint(self, request: Request) -> str:
        return self.fingerprinter.fingerprint(request).hex()

    def close(self, reason: str = "") -> None:
        """Keep the fingerprints: they belong to the crawl, not to this worker."""


class RedisScheduler(Scheduler):  # type: ignore[misc]
    """scrapy-redis' scheduler, persistent (a stopping worker leaves the shared frontier alone),
    storing requests with :class:`RequestCodec`, and riding out a short Redis outage."""

    df: Any
    spider: Any

    def __init__(self, server: Any, claim_limit: int = 0, **kwargs: Any) -> None:
        kwargs["persist"] = True
        kwargs["flush_on_start"] = False
        kwargs.setdefault("serializer", None)
        kwargs["serializer"] = kwargs["serializer"] or RequestCodec
        super().__init__(server, **kwargs)
        self.claim_limit = claim_limit
        self.crawler: Crawler | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RedisScheduler:
        scheduler: RedisScheduler = super().from_crawler(crawler)
        scheduler.crawler = crawler
        scheduler.claim_limit = crawler.settings.getint(
            "DRAMAWATCH_CLUSTER_CLAIM_LIMIT", CLAIM_LIMIT
        )
        return scheduler

    def open(self, spider: Any) -> None:
        self.spider = spider
        self.queue = _load(self.queue_cls)(
            server=self.server,
            spider=spider,
            key=self.queue_key % {"spider": spider.name},
            serializer=self.serializer,
        )
        if not self.df:
            self.df = _load(self.dupefilter_cls).from_spider(spider)
        queued = len(self.queue)
        if queued:
            logger.info("joining a crawl in progress: %d requests queued", queued)

    def enqueue_request(self, request: Request) -> bool:
        if not request.dont_filter and self.df.request_seen(request):
            self.df.log(request, self.spider)
            return False
        self.queue.push(request)
        if self.stats:
            self.stats.inc_value("scheduler/enqueued/redis")
        return True

    def next_request(self) -> Request | None:
        if self.crawler is not None and not has_room(self.crawler, self.claim_limit):
            return None  # leave the rest to idle workers; the engine asks again as one finishes
        try:
            request: Request | None = self.queue.pop()
        except redis.RedisError as exc:
            logger.warning("cannot take a request from Redis: %s", exc)
            return None
        if request is not None and self.stats:
            self.stats.inc_value("scheduler/dequeued/redis")
        return request

    def has_pending_requests(self) -> bool:
        try:
            return bool(super().has_pending_requests())
        except redis.RedisError:
            return False


def _load(path: str | type) -> Any:
    from scrapy.utils.misc import load_object

    return load_object(path) if isinstance(path, str) else path


def worker_id_of(spider: Any) -> str:
    """Give the worker id a spider runs under (DRAMAWATCH_CLUSTER_WORKER_ID, else host:pid)."""
    settings = getattr(spider, "settings", None)
    configured = settings.get("DRAMAWATCH_CLUSTER_WORKER_ID") if settings is not None else None
    return str(configured or process_identity())


# ---------------------------------------------------------------- the worker


def worker_settings(config: Config, base: Settings, worker_id: str) -> dict[str, Any]:
    """Give the Scrapy settings that turn a crawl into a worker on the shared frontier."""
    extensions = dict(base.getdict("EXTENSIONS"))
    extensions["scraper.crawler.extensions.RunRecorder"] = None  # the coordinator owns the run row
    extensions["scraper.crawler.cluster.WorkerExtension"] = 500
    return {
        "SCHEDULER": "scraper.crawler.cluster.RedisScheduler",
        "SCHEDULER_QUEUE_CLASS": "scraper.crawler.cluster.ClaimingPriorityQueue",
        "SCHEDULER_QUEUE_KEY": REQUESTS_KEY,
        "DUPEFILTER_CLASS": "scraper.crawler.cluster.CanonicalRedisDupeFilter",
        "SCHEDULER_DUPEFILTER_KEY": DUPEFILTER_KEY,
        "SCHEDULER_PERSIST": True,
        "REDIS_URL": config.cluster.redis_url,
        "EXTENSIONS": extensions,
        "DRAMAWATCH_CLUSTER_WORKER_ID": worker_id,
        "DRAMAWATCH_CLUSTER_CONFIG_FINGERPRINT": config_fingerprint(config),
    }


class WorkerExtension:
    """Keeps a worker alive and visible: it reports the requests in flight to Redis several
    times a second, wakes the engine when work is queued, refuses to close the idle spider,
    and counts pages, articles and errors into Redis for the coordinator's run row."""

    def __init__(
        self, crawler: Crawler, server: Any, worker_id: str, fingerprint: str | None = None
    ) -> None:
        self.crawler = crawler
        self.server = server
        self.worker_id = worker_id
        self.fingerprint = fingerprint
        self.alive_key = ALIVE_KEY + worker_id
        self.loop: task.LoopingCall | None = None
        self.run_token: str | None = None
        self.redis_down = False
        self.totals: dict[str, int] = {"pages": 0, "new": 0, "updated": 0, "errors": 0}

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> WorkerExtension:
        worker_id = crawler.settings.get("DRAMAWATCH_CLUSTER_WORKER_ID") or process_identity()
        fingerprint = crawler.settings.get("DRAMAWATCH_CLUSTER_CONFIG_FINGERPRINT")
        ext = cls(crawler, get_redis_from_settings(crawler.settings), str(worker_id), fingerprint)
        crawler.signals.connect(ext.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(ext.spider_idle, signal=signals.spider_idle)
        crawler.signals.connect(ext.spider_closed, signal=signals.spider_closed)
        crawler.signals.connect(ext.response_received, signal=signals.response_received)
        crawler.signals.connect(ext.item_scraped, signal=signals.item_scraped)
        crawler.signals.connect(ext.page_failed, signal=dramawatch_signals.page_failed)
        return ext

    def spider_opened(self, spider: Any) -> None:
        if isinstance(spider, WorkerSpider):
            spider.share_budget(self.server, BUDGET_KEY)
        logger.info("worker %s waiting for requests", self.worker_id)
        self.loop = task.LoopingCall(self.heartbeat)
        self.loop.start(HEARTBEAT_S, now=True)

    def heartbeat(self) -> None:
        """Report this worker's state; never raises (that would stop the looping call)."""
        try:
            self._publish_validators()
            pipe = self.server.pipeline(transaction=False)
            pipe.hset(BUSY_KEY, self.worker_id, in_flight(self.crawler))
            pipe.set(self.alive_key, "1", px=int(ALIVE_S * 1000))
            pipe.get(RUN_KEY)
            pipe.zcard(REQUESTS_KEY)
            _, _, run, queued = pipe.execute()
            if self.redis_down:
                logger.warning("worker %s reaches Redis again", self.worker_id)
                self.redis_down = False
            self.follow_run(run)
            if queued:
                wake(self.crawler)
        except redis.RedisError as exc:
            if not self.redis_down:
                logger.warning("worker %s cannot reach Redis (retrying): %s", self.worker_id, exc)
                self.redis_down = True
        except Exception:
            logger.exception("worker heartbeat failed")

    def follow_run(self, raw: bytes | None) -> None:
        """On a new distributed crawl: date it like the coordinator, and re-read robots.txt."""
        if raw is None:
            return
        run = json.loads(raw)
        if run.get("token") == self.run_token or not run.get("run_id"):
            return
        self.run_token = run["token"]
        engine = self.crawler.engine
        if self.fingerprint and run.get("config") not in (None, self.fingerprint):
            logger.error(
                "worker %s sits out crawl run %s: its dramawatch.toml (sources, watch list or "
                "crawl limits) differs from the coordinator's; give every machine the same file "
                "and restart this worker",
                self.worker_id,
                run["run_id"],
            )
            if engine is not None:
                engine.pause()
            return
        if engine is not None and engine.paused:
            engine.unpause()
        spider = self.crawler.spider
        if isinstance(spider, NewsSpider) and run.get("started_at"):
            spider.now = datetime.fromisoformat(run["started_at"])
        robots = self.crawler.get_downloader_middleware(RobotsTxtMiddleware)
        if robots is not None:
            parsers = scrapy_internals.robot_parsers(robots)
            for netloc in [k for k, v in parsers.items() if not hasattr(v, "addCallback")]:
                del parsers[netloc]
        logger.info("worker %s joined crawl run %s", self.worker_id, run["run_id"])

    def _publish_validators(self) -> None:
        """Hand the conditional-GET validators this worker collected to the coordinator,
        which stores them when the whole crawl finishes (a worker never sees the end)."""
        middleware = _conditional_get(self.crawler)
        if middleware is None:
            return
        pending: dict[str, tuple[str | None, str | None]] = middleware.pending
        spoiled: set[str] = middleware.spoiled
        if not pending and not spoiled:
            return
        pipe = self.server.pipeline(transaction=True)
        if pending:
            pipe.hset(VALIDATORS_KEY, mapping={u: json.dumps(v) for u, v in pending.items()})
        if spoiled:
            pipe.sadd(SPOILED_KEY, *spoiled)
        pipe.execute()
        pending.clear()
        spoiled.clear()

    def spider_idle(self) -> None:
        raise DontCloseSpider("a worker waits for work")

    def spider_closed(self, reason: str) -> None:
        if self.loop is not None and self.loop.running:
            self.loop.stop()
        try:
            self._publish_validators()
            pipe = self.server.pipeline(transaction=False)
            pipe.hdel(BUSY_KEY, self.worker_id)
            pipe.delete(self.alive_key)
            pipe.execute()
        except redis.RedisError as exc:
            logger.warning("worker %s could not sign off: %s", self.worker_id, exc)
        logger.info("worker %s stopped (%s)", self.worker_id, reason)

    def response_received(self, response: Response, request: Request) -> None:
        source = request.meta.get("source")
        if source and response.status != 304:
            self._count("pages", source)

    def item_scraped(self, item: Any) -> None:
        if isinstance(item, PageItem) and item.status in ("new", "updated"):
            self._count(item.status, item.source)

    def page_failed(self, source: str, url: str, reason: str) -> None:
        self.totals["errors"] += 1
        error = {"source": source, "url": url, "reason": reason, "at": _now().isoformat()}
        self.server.rpush(ERRORS_KEY, json.dumps(error, ensure_ascii=False))

    def _count(self, kind: str, source: str) -> None:
        self.totals[kind] += 1
        self.server.hincrby(STATS_KEY, f"{kind}:{source}", 1)


def in_flight(crawler: Crawler) -> int:
    """Give how many requests this worker is busy with: taken from the scheduler and not yet
    fully processed (downloaded, parsed, follow-ups queued, items through the pipelines)."""
    engine = crawler.engine
    if engine is None:
        return 0
    # a request taken from scheduler.next_request() stays in progress until its output is
    # fully handled
    inprogress = scrapy_internals.requests_in_progress(engine) or ()
    scraper_slot = engine.scraper.slot
    scraping = 0 if scraper_slot is None or scraper_slot.is_idle() else 1
    return len(inprogress) + len(engine.downloader.active) + scraping


def has_room(crawler: Crawler, claim_limit: int) -> bool:
    """Give whether this worker may take another request (fewer than ``claim_limit`` held)."""
    engine = crawler.engine
    inprogress = scrapy_internals.requests_in_progress(engine) if engine is not None else None
    return not (claim_limit and inprogress is not None and len(inprogress) >= claim_limit)


def wake(crawler: Crawler) -> None:
    """Make an idle engine look at the scheduler now, not at its next 5-second heartbeat."""
    engine = crawler.engine
    if engine is None or engine.scraper.slot is None:
        return
    if not engine.needs_backout():
        scrapy_internals.wake(engine)


def _conditional_get(crawler: Crawler) -> Any:
    try:
        from scraper.crawler.middlewares import ConditionalGetMiddleware
    except ImportError:
        return None
    middleware = crawler.get_downloader_middleware(ConditionalGetMiddleware)
    if (
        middleware is None
        or not hasattr(middleware, "pending")
        or not hasattr(middleware, "spoiled")
    ):
        return None
    return middleware


def run_worker(config: Config, overrides: dict[str, Any] | None = None) -> int:
    """Run a crawl worker until SIGTERM / Ctrl-C (a second one forces it); give the exit code."""
    worker_id = process_identity()
    server = connect(config.cluster.redis_url)
    sessions = session_factory(migrate(server, config.database_url))
    settings = crawl_settings(config)
    settings.setdict(worker_settings(config, settings, worker_id), priority="cmdline")
    settings.setdict(overrides or {}, priority="cmdline")
    process = CrawlerProcess(settings, install_root_handler=False)
    crawler = process.create_crawler(WorkerSpider)
    attach(crawler, config, sessions)
    process.crawl(crawler)
    print(
        f"worker {worker_id} taking requests from {redact(config.cluster.redis_url)} "
        "(SIGTERM or Ctrl-C stops it)",
        flush=True,
    )
    process.start()
    ext = crawler.get_extension(WorkerExtension)
    totals = ext.totals if ext is not None else {}
    print(
        f"worker {worker_id} stopped: {totals.get('pages', 0)} pages, "
        f"{totals.get('new', 0)} new, {totals.get('updated', 0)} updated articles, "
        f"{totals.get('errors', 0)} errors",
        flush=True,
    )
    return 0


# ---------------------------------------------------------------- the coordinator


@dataclass(frozen=True)
class FrontierState:
    queued: int  # requests waiting in the queue
    in_flight: int  # requests taken by live workers and not yet finished
    live: tuple[str, ...]  # workers heartbeating
    activity: int  # requests ever taken (changes whenever a worker takes one)
    dead: tuple[str, ...]  # workers that stopped heartbeating while busy


def frontier_state(server: Any) -> FrontierState:
    """Read the frontier: queue length, per-worker in-flight counts, liveness, activity."""
    pipe = server.pipeline(transaction=True)
    pipe.zcard(REQUESTS_KEY)
    pipe.hgetall(BUSY_KEY)
    pipe.get(ACTIVITY_KEY)
    queued, busy, activity = pipe.execute()
    counts = {_text(worker): int(value) for worker, value in busy.items()}
    alive: dict[str, bool] = {}
    if counts:
        pipe = server.pipeline(transaction=False)
        for worker in counts:
            pipe.exists(ALIVE_KEY + worker)
        alive = {worker: bool(found) for worker, found in zip(counts, pipe.execute(), strict=True)}
    live = tuple(worker for worker in counts if alive[worker])
    return FrontierState(
        queued=int(queued),
        in_flight=sum(counts[worker] for worker in live),
        live=live,
        activity=int(activity or 0),
        dead=tuple(w for w in counts if not alive[w] and counts[w] > 0),
    )


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class DrainDetector:
    """Decides when the frontier is drained: empty queue, nothing in flight on any live worker,
    and no request taken, continuously for ``quiet_s`` seconds."""

    def __init__(self, quiet_s: float = QUIET_S) -> None:
        self.quiet_s = quiet_s
        self.since: float | None = None
        self.activity: int | None = None

    def observe(self, state: FrontierState, now: float) -> bool:
        idle = state.queued == 0 and state.in_flight == 0
        if not idle or state.activity != self.activity:
            self.activity = state.activity
            self.since = now if idle else None
            return False
        if self.since is None:
            self.since = now
        return now - self.since >= self.quiet_s


@dataclass(frozen=True)
class DistributedOutcome:
    run: CrawlOutcome
    seeded: int
    workers_seen: int
    seconds: float


def crawl_distributed(
    config: Config,
    *,
    quiet_s: float = QUIET_S,
    timeout_s: float | None = None,
) -> int:
    """Seed the Redis frontier, wait until the workers have drained it, print the summary."""
    result = coordinate(config, quiet_s=quiet_s, timeout_s=timeout_s)
    run = result.run
    print(
        f"crawl run {run.run_id} {run.status}: {run.pages_fetched} pages, "
        f"{run.articles_new} new, {run.articles_updated} updated articles "
        f"(distributed: {result.seeded} seeded, {result.workers_seen} workers, "
        f"{result.seconds:.1f} s)"
    )
    for failure in run.failures:
        more = f" (+{failure.errors - 1} more)" if failure.errors > 1 else ""
        print(f"failed: {failure.source}: {failure.url}: {failure.reason}{more}")
    return 0 if run.status == "finished" else 1


def coordinate(
    config: Config, *, quiet_s: float = QUIET_S, timeout_s: float | None = None
) -> DistributedOutcome:
    """Run one distributed crawl as its coordinator (blocking); see the module docstring."""
    server = connect(config.cluster.redis_url)
    sessions = session_factory(migrate(server, config.database_url))
    started = time.monotonic()
    token = f"{process_identity()}:{time.time_ns()}"
    if not server.set(RUN_KEY, json.dumps({"token": token}), nx=True, ex=LEASE_S):
        raise ClusterError(f"another distributed crawl is running ({describe_run(server)})")
    status = "interrupted"
    run_id: int | None = None
    seeded = 0
    workers_seen: set[str] = set()
    with _stop_on_sigterm():
        try:
            server.delete(*FRONTIER_KEYS)
            now = _now()
            with sessions.begin() as session:
                run_id = run_history.start_run(session, now)
                run_history.claim_run(session, run_id, process_identity(), now)
            lease = {
                "token": token,
                "run_id": run_id,
                "started_at": now.isoformat(),
                "config": config_fingerprint(config),
            }
            server.set(RUN_KEY, json.dumps(lease), xx=True, ex=LEASE_S)
            seeded = seed(server, config, now)
            logger.info("crawl run %d: seeded %d requests; waiting for workers", run_id, seeded)
            status = wait_drained(server, sessions, run_id, token, quiet_s, timeout_s, workers_seen)
        finally:
            if run_id is not None:
                finish(server, sessions, run_id, status)
            release(server, token)
    with sessions() as session:
        run = outcome(session, run_id)
    return DistributedOutcome(run, seeded, len(workers_seen), time.monotonic() - started)


def wait_drained(
    server: Any,
    sessions: Sessions,
    run_id: int,
    token: str,
    quiet_s: float,
    timeout_s: float | None,
    workers_seen: set[str],
) -> str:
    """Poll the frontier until it is drained; give the run's final status."""
    detector = DrainDetector(quiet_s)
    begun = last_fold = last_report = time.monotonic()
    reported_dead: set[str] = set()
    while True:
        now = time.monotonic()
        state = frontier_state(server)
        workers_seen.update(state.live)
        for worker in set(state.dead) - reported_dead:
            logger.warning("worker %s vanished with requests in flight; they are lost", worker)
            server.hdel(BUSY_KEY, worker)
            reported_dead.add(worker)
        if detector.observe(state, now):
            return "finished"
        if now - last_fold >= FOLD_S:
            if not renew(server, token):
                logger.error("lost the coordinator's lease in Redis; stopping")
                return "failed"
            fold(server, sessions, run_id)
            last_fold = now
        if now - last_report >= 10:
            last_report = now
            if not state.live:
                logger.warning(
                    "no crawl worker is running: %d requests wait (start `dramawatch worker`)",
                    state.queued,
                )
            else:
                logger.info(
                    "%d queued, %d in flight on %d workers",
                    state.queued,
                    state.in_flight,
                    len(state.live),
                )
        if timeout_s is not None and now - begun > timeout_s:
            logger.error("the frontier did not drain within %.0f s", timeout_s)
            return "failed"
        time.sleep(POLL_S)


def seed(server: Any, config: Config, now: datetime) -> int:
    """Queue the sources' entry requests through scrapy-redis' scheduler and our dupefilter."""
    spider = NewsSpider(config, now)

    async def entries() -> list[Request]:
        return [r async for r in spider.start() if isinstance(r, Request)]

    scheduler = RedisScheduler(
        server,
        queue_key=REQUESTS_KEY,
        queue_cls="scrapy_redis.queue.PriorityQueue",
        dupefilter=CanonicalRedisDupeFilter(server, DUPEFILTER_KEY),
    )
    scheduler.open(spider)
    return sum(1 for request in asyncio.run(entries()) if scheduler.enqueue_request(request))


def fold(server: Any, sessions: Sessions, run_id: int) -> None:
    """Move the counts and errors workers left in Redis into the run row (one writer), and
    renew the row's heartbeat: a coordinator killed outright leaves a run that ages out."""
    pipe = server.pipeline(transaction=True)
    pipe.hgetall(STATS_KEY)
    pipe.lrange(ERRORS_KEY, 0, -1)
    pipe.delete(STATS_KEY, ERRORS_KEY)
    stats, errors, _ = pipe.execute()
    pages: dict[str, int] = {}
    articles: list[tuple[str, StoreStatus, int]] = []
    for field, value in stats.items():
        kind, _, source = (field.decode() if isinstance(field, bytes) else field).partition(":")
        if kind == "pages":
            pages[source] = int(value)
        elif kind in ("new", "updated"):
            articles.append((source, "new" if kind == "new" else "updated", int(value)))
    with sessions.begin() as session:
        run_history.beat(session, run_id, _now())
        if pages:
            run_history.count_pages(session, run_id, pages)
        for source, status, count in articles:
            for _ in range(count):
                run_history.count_article(session, run_id, source, status)
        for raw in errors:
            error = json.loads(raw)
            run_history.record_error(
                session,
                run_id,
                error["source"],
                error["url"],
                error["reason"],
                datetime.fromisoformat(error["at"]),
            )


def store_validators(server: Any, sessions: Sessions) -> int:
    """Keep the conditional-GET validators of a finished crawl (not of spoiled pages)."""
    validators = server.hgetall(VALIDATORS_KEY)
    spoiled = {s.decode() if isinstance(s, bytes) else s for s in server.smembers(SPOILED_KEY)}
    now = _now()
    stored = 0
    with sessions.begin() as session:
        for raw_url, raw in validators.items():
            url = raw_url.decode() if isinstance(raw_url, bytes) else raw_url
            if url in spoiled:
                continue
            etag, modified = json.loads(raw)
            fetch_memory.remember_discovery(session, url, etag, modified, now)
            stored += 1
    return stored


def finish(server: Any, sessions: Sessions, run_id: int, status: str) -> None:
    """Close the run: last counts in, validators kept if it finished, frontier cleared."""
    try:
        fold(server, sessions, run_id)
        if status == "finished":
            store_validators(server, sessions)
        server.delete(REQUESTS_KEY, BUDGET_KEY, VALIDATORS_KEY, SPOILED_KEY)
    except redis.RedisError as exc:
        logger.error("could not collect the workers' last counts: %s", exc)
    with sessions.begin() as session:
        run_history.finish_run(session, run_id, status, _now())


def renew(server: Any, token: str) -> bool:
    raw = server.get(RUN_KEY)
    if raw is None or json.loads(raw).get("token") != token:
        return False
    return bool(server.expire(RUN_KEY, LEASE_S))


def release(server: Any, token: str) -> None:
    try:
        raw = server.get(RUN_KEY)
        if raw is not None and json.loads(raw).get("token") == token:
            server.delete(RUN_KEY)
    except redis.RedisError as exc:
        logger.warning("could not release the coordinator's lease: %s", exc)


def describe_run(server: Any) -> str:
    raw = server.get(RUN_KEY)
    run = json.loads(raw) if raw else {}
    if run.get("run_id"):
        return f"run {run['run_id']}, started {run.get('started_at', '?')}"
    return "starting"


@contextmanager
def _stop_on_sigterm() -> Iterator[None]:
    """Turn the first SIGTERM into KeyboardInterrupt while coordinating, and ignore the next
    ones until the run is closed (a service manager may repeat the signal)."""
    if not _main_thread():
        yield
        return

    def interrupt(signum: int, frame: FrameType | None) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        raise KeyboardInterrupt

    previous: Callable[[int, FrameType | None], Any] | int | None = signal.signal(
        signal.SIGTERM, interrupt
    )
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


# ---------------------------------------------------------------- shared


def config_fingerprint(config: Config) -> str:
    """Give a digest of what decides a crawl (sources, watch list, crawl limits): workers and
    the coordinator must agree on it, or a worker could not even resolve a request's source."""
    crawl = config.crawl
    decisive = {
        "sources": [dataclasses.asdict(source) for source in config.sources],
        "watch": [dataclasses.asdict(entry) for entry in config.watch],
        "filters": dataclasses.asdict(config.filters),
        "crawl": [
            crawl.obey_robots,
            crawl.timeout_s,
            crawl.retries,
            crawl.max_pages_per_source,
            crawl.max_age_days,
            crawl.allow_private_networks,
        ],
    }
    return hashlib.sha256(json.dumps(decisive, sort_keys=True).encode()).hexdigest()[:16]


def connect(url: str) -> Any:
    """Give a Redis client for ``url`` and check it answers (one clear error if it does not)."""
    client = redis.Redis.from_url(url, socket_timeout=30, socket_connect_timeout=10)
    try:
        client.ping()
    except redis.RedisError as exc:
        raise ClusterError(f"cannot reach Redis at {redact(url)}: {exc}") from None
    return client


def migrate(server: Any, database_url: str) -> Any:
    """Upgrade the archive schema once, however many workers start at the same time."""
    engine = make_engine(database_url)
    with server.lock(MIGRATE_LOCK, timeout=600, blocking_timeout=600):
        upgrade(engine)
    return engine


def _now() -> datetime:
    return datetime.now(UTC)
