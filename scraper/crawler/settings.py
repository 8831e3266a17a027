"""Scrapy settings for dramawatch (``scrapy.cfg`` points here, so ``scrapy crawl news`` works).

User-facing values live in dramawatch.toml; :func:`from_config` maps them onto Scrapy's names.
Our own settings are prefixed DRAMAWATCH_ and defaulted here, once.
"""

from __future__ import annotations

from typing import Any

from scraper.config import Config

BOT_NAME = "dramawatch"
SPIDER_MODULES = ["scraper.crawler.spiders"]
NEWSPIDER_MODULE = "scraper.crawler.spiders"

# Path of dramawatch.toml; None means $DRAMAWATCH_CONFIG, else ./dramawatch.toml.
DRAMAWATCH_CONFIG: str | None = None
# Overrides the config's database URL (tests, benchmarks) when nobody attached the crawl's
# resources (`scrapy crawl news`, see scraper.crawler.resources); None means the config's.
DRAMAWATCH_DATABASE_URL: str | None = None
# Seconds between flushes of a run's page counters to the run history.
DRAMAWATCH_RUN_FLUSH_S = 5.0
# `dramawatch worker` (scraper.crawler.cluster): this worker's id in Redis (None: host:pid), the
# digest of the crawl-relevant config (a worker that differs sits a crawl out), and how many
# unfinished requests a worker holds at most (the rest wait for idle workers; 0: no limit)
DRAMAWATCH_CLUSTER_WORKER_ID: str | None = None
DRAMAWATCH_CLUSTER_CONFIG_FINGERPRINT: str | None = None
DRAMAWATCH_CLUSTER_CLAIM_LIMIT = 8
# News-search origins by engine ({"bing": "https://www.bing.com", ...}); empty: the real ones.
# Tests point them at the loopback fixture site.
DRAMAWATCH_SEARCH_ORIGINS: dict[str, str] = {}
# The download slot of Google News link resolutions (resolve_google_news = true), rate-limited
# in DOWNLOAD_SLOTS below
DRAMAWATCH_GOOGLE_NEWS_SLOT = "google-news-resolution"

USER_AGENT = "Mozilla/5.0 (compatible; dramawatch/0.1; news monitor)"
ROBOTSTXT_OBEY = True

# Polite to each outlet, busy across outlets: a slow source must not hold up the others.
CONCURRENT_REQUESTS = 32
CONCURRENT_REQUESTS_PER_DOMAIN = 8
DOWNLOAD_DELAY = 0
DOWNLOAD_TIMEOUT = 20
RETRY_TIMES = 2
# A news page is rarely over 2 MB; a 15 MB page is a fault, cut off and logged.
DOWNLOAD_MAXSIZE = 8 * 1024 * 1024
DOWNLOAD_WARNSIZE = 2 * 1024 * 1024
REDIRECT_MAX_TIMES = 10
# Google News link resolutions: one at a time, two seconds apart, whatever the concurrency
DOWNLOAD_SLOTS = {DRAMAWATCH_GOOGLE_NEWS_SLOT: {"concurrency": 1, "delay": 2.0}}
COOKIES_ENABLED = False
TELNETCONSOLE_ENABLED = False
LOG_LEVEL = "INFO"
# dropped items (off-topic, too old) are logged at INFO, not WARNING
LOG_FORMATTER = "scraper.crawler.logformat.DramawatchLogFormatter"

# Scrapy's caching resolver, which also refuses, when connecting, a name that resolves to a
# private address the SSRF guard (scraper.crawler.netguard) did not let through
TWISTED_DNS_RESOLVER = "scraper.crawler.netguard.GuardedResolver"

# Variants of one article URL (tracking parameters, AMP, mobile host...) are one request.
REQUEST_FINGERPRINTER_CLASS = "scraper.crawler.middlewares.CanonicalFingerprinter"

DOWNLOADER_MIDDLEWARES = {
    # first: a link or redirect to a loopback, LAN or metadata address is refused before
    # anything else (robots.txt included) sends a byte there
    "scraper.crawler.netguard.NetGuardMiddleware": 40,
    # before the robots.txt and download steps: an article page fetched before (stored or
    # dropped) is not fetched again unless its feed or sitemap entry says it changed
    "scraper.crawler.middlewares.FetchMemoryMiddleware": 50,
    # Scrapy 2.19's own ignores robots.txt for the third and later requests that wait on a
    # host's robots.txt; ours hands every waiting request the parser
    "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware": None,
    "scraper.crawler.middlewares.RobotsTxtMiddleware": 100,
    # feeds, sitemaps and listings are revalidated: an unchanged one costs a 304
    "scraper.crawler.middlewares.ConditionalGetMiddleware": 560,
}

SPIDER_MIDDLEWARES = {
    # last on the way out (after the offsite and depth filters): the fetch memory of a feed's
    # or sitemap's article requests in one query a batch, for FetchMemoryMiddleware
    "scraper.crawler.recall.FetchMemoryRecallMiddleware": 100,
}

# the crawl's one config and archive (scraper.crawler.resources), and the crawl settings the
# config decides (from_config below)
ADDONS = {
    "scraper.crawler.resources.ResourcesAddon": 0,
}

EXTENSIONS = {
    "scraper.crawler.extensions.RunRecorder": 500,
}

ITEM_PIPELINES = {
    "scraper.crawler.pipelines.ExtractPipeline": 100,
    "scraper.crawler.pipelines.MatchPipeline": 200,
    "scraper.crawler.pipelines.ArchivePipeline": 300,
}

TWISTED_REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"


def from_config(config: Config) -> dict[str, Any]:
    """Give the Scrapy settings that dramawatch.toml decides."""
    return {
        "ROBOTSTXT_OBEY": config.crawl.obey_robots,
        "DOWNLOAD_TIMEOUT": config.crawl.timeout_s,
        "RETRY_TIMES": config.crawl.retries,
        "RETRY_ENABLED": config.crawl.retries > 0,
    }
