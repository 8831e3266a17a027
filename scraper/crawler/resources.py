"""The crawl's composition root: one validated config and one archive engine per crawl.

The entry points (``dramawatch crawl``, ``run-once``, ``worker``) load the config once, open
the archive once and hand both to the crawler with :func:`attach`. Run as ``scrapy crawl news``,
nobody did: the first component that asks builds them, once, from the DRAMAWATCH_CONFIG and
DRAMAWATCH_DATABASE_URL settings. Every component (spider, middlewares, extensions, pipelines)
takes its config and sessions from :func:`resources`, never from the TOML file itself.
"""

from __future__ import annotations

from dataclasses import dataclass

from scrapy.crawler import Crawler
from scrapy.settings import BaseSettings

from scraper.config import Config, load_config
from scraper.crawler import settings as dramawatch_settings
from scraper.storage.engine import Sessions, open_archive

# the attribute of the Crawler that holds this crawl's Resources
ATTRIBUTE = "dramawatch"


@dataclass(frozen=True)
class Resources:
    """What every component of one crawl shares: the validated config and the archive."""

    config: Config
    sessions: Sessions


def attach(crawler: Crawler, config: Config, sessions: Sessions) -> Resources:
    """Give ``crawler`` the entry point's config and archive; give them back."""
    shared = Resources(config, sessions)
    setattr(crawler, ATTRIBUTE, shared)
    return shared


def resources(crawler: Crawler) -> Resources:
    """Give the crawl's config and archive: the entry point's, else built once from settings."""
    shared = getattr(crawler, ATTRIBUTE, None)
    if isinstance(shared, Resources):
        return shared
    config = load_config(crawler.settings.get("DRAMAWATCH_CONFIG"))
    url: str | None = crawler.settings.get("DRAMAWATCH_DATABASE_URL")
    return attach(crawler, config, open_archive(url or config.database_url))


class ResourcesAddon:
    """Applies the config's crawl settings (robots, timeout, retries) to the crawler's settings,
    from the one config of the crawl (``ADDONS`` in scraper.crawler.settings)."""

    def __init__(self, config: Config) -> None:
        self.config = config

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ResourcesAddon:
        return cls(resources(crawler).config)

    def update_settings(self, settings: BaseSettings) -> None:
        # at spider priority, as a spider's own settings: above the project's defaults
        settings.setdict(dramawatch_settings.from_config(self.config), priority="spider")
