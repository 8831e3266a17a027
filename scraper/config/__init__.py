"""The one place that reads dramawatch.toml and the DRAMAWATCH_* environment.

Everything else receives a frozen :class:`Config`. Every mistake raises :class:`ConfigError`
whose message is one line naming the file, the key and the problem.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from scraper.config.schedule import ScheduleError, parse_schedule
from scraper.core.languages import is_language_code
from scraper.core.match import is_matchable
from scraper.core.urls import domain_name

DEFAULT_CONFIG = "dramawatch.toml"
WATCH_KINDS = ("drama", "person", "other")
SEARCH_ENGINES = ("bing", "google")
DEFAULT_SEARCH_LOCALES = ("en-US",)
# language-REGION, as news-search feeds take it: "en-US", "ko-KR"
_LOCALE = re.compile(r"^[a-z]{2,3}-[A-Z]{2}$")
ALERT_MODES = ("run", "digest")
ALERT_FORMATS = ("markdown", "text")


class ConfigError(Exception):
    """A configuration mistake; str() is the one line shown to the user."""


@dataclass(frozen=True)
class WatchEntry:
    name: str
    kind: str = "other"
    aliases: tuple[str, ...] = ()
    # watch rules (issue 14), all optional: empty means no such rule
    context: tuple[str, ...] = ()  # the article must also name one of these, or another entry
    exclude: tuple[str, ...] = ()  # an article naming one of these does not count
    sources: tuple[str, ...] = ()  # only articles from these configured sources
    languages: tuple[str, ...] = ()  # only articles in these languages (ISO 639-1)


@dataclass(frozen=True)
class Filters:
    mute_sources: tuple[str, ...] = ()  # configured sources that are not fetched at all
    mute_domains: tuple[str, ...] = ()  # normalised domains whose articles are never stored


@dataclass(frozen=True)
class Source:
    name: str
    feeds: tuple[str, ...] = ()
    sitemaps: tuple[str, ...] = ()
    pages: tuple[str, ...] = ()
    follow: str | None = None
    search: str | None = None  # "bing" | "google": one news-search feed per watch name and locale
    search_locales: tuple[str, ...] = ()


@dataclass(frozen=True)
class CrawlConfig:
    schedule: str = "*/30 * * * *"
    obey_robots: bool = True
    timeout_s: float = 20.0
    retries: int = 2
    max_pages_per_source: int = 200
    max_age_days: int = 7
    # links from the web may reach loopback, LAN and metadata addresses (the SSRF guard is off)
    allow_private_networks: bool = False
    resolve_google_news: bool = False


@dataclass(frozen=True)
class DigestConfig:
    schedule: str = "0 8 * * *"
    timezone: str = "Asia/Seoul"
    output_dir: Path = Path("data/digests")
    recipients: tuple[str, ...] = ()
    sender: str = "dramawatch@localhost"
    send_empty: bool = False


@dataclass(frozen=True)
class ClusterConfig:
    redis_url: str = "redis://127.0.0.1:6379/0"
    # scheduled and run-once crawls go through the Redis frontier and `dramawatch worker`s
    distributed: bool = False


@dataclass(frozen=True)
class LogConfig:
    file: Path | None = Path("data/dramawatch.log")
    level: str = "info"


@dataclass(frozen=True)
class AlertConfig:
    """One [[alerts]] entry; ``url`` is the apprise URL read from ``url_env`` (a secret)."""

    name: str
    url_env: str
    watch: tuple[str, ...]
    mode: str = "run"
    max_items: int = 10
    format: str = "markdown"
    url: str = field(default="", repr=False)


@dataclass(frozen=True)
class Config:
    path: Path
    database_url: str
    crawl: CrawlConfig
    digest: DigestConfig
    cluster: ClusterConfig
    watch: tuple[WatchEntry, ...]
    sources: tuple[Source, ...]
    log: LogConfig = LogConfig()
    smtp_url: str | None = field(default=None, repr=False)
    web_password: str | None = field(default=None, repr=False)
    filters: Filters = Filters()
    alerts: tuple[AlertConfig, ...] = ()

    @property
    def crawled_sources(self) -> tuple[Source, ...]:
        """The sources a crawl fetches: every configured one but the muted ones."""
        muted = set(self.filters.mute_sources)
        return tuple(source for source in self.sources if source.name not in muted)


# key -> (type or types, required)
_TABLES: dict[str, dict[str, tuple[type | tuple[type, ...], bool]]] = {
    "database": {"url": (str, False)},
    "crawl": {
        "schedule": (str, False),
        "obey_robots": (bool, False),
        "timeout_s": ((int, float), False),
        "retries": (int, False),
        "max_pages_per_source": (int, False),
        "max_age_days": (int, False),
        "allow_private_networks": (bool, False),
        "resolve_google_news": (bool, False),
    },
    "digest": {
        "schedule": (str, False),
        "timezone": (str, False),
        "output_dir": (str, False),
        "recipients": (list, False),
        "sender": (str, False),
        "send_empty": (bool, False),
    },
    "cluster": {"redis_url": (str, False), "distributed": (bool, False)},
    "log": {"file": (str, False), "level": (str, False)},
    "filters": {"mute_sources": (list, False), "mute_domains": (list, False)},
}
LOG_LEVELS = ("debug", "info", "warning", "error")
_WATCH_KEYS: dict[str, tuple[type | tuple[type, ...], bool]] = {
    "name": (str, True),
    "kind": (str, False),
    "aliases": (list, False),
    "context": (list, False),
    "exclude": (list, False),
    "sources": (list, False),
    "languages": (list, False),
}
_SOURCE_KEYS: dict[str, tuple[type | tuple[type, ...], bool]] = {
    "name": (str, True),
    "feeds": (list, False),
    "sitemaps": (list, False),
    "pages": (list, False),
    "follow": (str, False),
    "search": (str, False),
    "search_locales": (list, False),
}
_ALERT_KEYS: dict[str, tuple[type | tuple[type, ...], bool]] = {
    "name": (str, True),
    "url_env": (str, True),
    "watch": (list, False),
    "mode": (str, False),
    "max_items": (int, False),
    "format": (str, False),
}
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_TYPE_NAMES = {str: "a string", bool: "true or false", int: "an integer", list: "a list"}
_EMAIL = re.compile(r"^[^@\s<>]+@[^@\s<>]+$")


def resolve_config_path(arg: str | None, env: Mapping[str, str]) -> Path:
    """Give the config path: --config, else $DRAMAWATCH_CONFIG, else ./dramawatch.toml."""
    return Path(arg or env.get("DRAMAWATCH_CONFIG") or DEFAULT_CONFIG)


def load_config(path: str | Path | None = None, env: Mapping[str, str] | None = None) -> Config:
    """Read, validate and freeze the configuration; raise ConfigError on any mistake."""
    env = os.environ if env is None else env
    file = Path(path) if path is not None else resolve_config_path(None, env)
    try:
        raw = tomllib.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{file}: file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{file}: cannot read: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{file}: invalid TOML: {exc}") from None
    return _Validator(file, env).config(raw)


class _Validator:
    def __init__(self, file: Path, env: Mapping[str, str]) -> None:
        self.file = file
        self.env = env
        self.base = file.resolve().parent

    def fail(self, key: str, problem: str) -> ConfigError:
        return ConfigError(f"{self.file}: {key}: {problem}")

    def table(
        self, raw: Any, where: str, spec: Mapping[str, tuple[type | tuple[type, ...], bool]]
    ) -> dict[str, Any]:
        if not isinstance(raw, dict):
            raise self.fail(where, "must be a table")
        for key, value in raw.items():
            if key not in spec:
                raise self.fail(f"{where}.{key}", "unknown key")
            kind, _ = spec[key]
            # bool is an int subclass in Python, but `retries = true` is a mistake
            if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
                wanted = "a number" if isinstance(kind, tuple) else _TYPE_NAMES[kind]
                raise self.fail(f"{where}.{key}", f"must be {wanted}, not {value!r}")
        for key, (_, required) in spec.items():
            if required and key not in raw:
                raise self.fail(f"{where}.{key}", "is required")
        return raw

    def strings(self, value: list[Any], key: str) -> tuple[str, ...]:
        for item in value:
            if not isinstance(item, str) or not item.strip():
                raise self.fail(key, f"must be a list of non-empty strings, found {item!r}")
        return tuple(item.strip() for item in value)

    def urls(self, value: list[Any], key: str) -> tuple[str, ...]:
        urls = self.strings(value, key)
        for url in urls:
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise self.fail(key, f"not an http(s) URL: {url!r}")
        return urls

    def non_negative(self, value: int | float, key: str) -> None:
        if value < 0:
            raise self.fail(key, f"must not be negative, got {value}")

    def config(self, raw: dict[str, Any]) -> Config:
        known = set(_TABLES) | {"watch", "sources", "alerts"}
        for key in raw:
            if key not in known:
                raise self.fail(key, f"unknown table (expected one of: {', '.join(sorted(known))})")
        database = self.table(raw.get("database", {}), "database", _TABLES["database"])
        crawl = self.crawl(self.table(raw.get("crawl", {}), "crawl", _TABLES["crawl"]))
        digest = self.digest(self.table(raw.get("digest", {}), "digest", _TABLES["digest"]))
        cluster_raw = self.table(raw.get("cluster", {}), "cluster", _TABLES["cluster"])
        redis_url = self.env.get("DRAMAWATCH_REDIS_URL") or cluster_raw.get(
            "redis_url", ClusterConfig.redis_url
        )
        if urlsplit(redis_url).scheme not in ("redis", "rediss", "unix"):
            raise self.fail("cluster.redis_url", "must be a redis:// URL")
        sources = self.sources(raw.get("sources"))
        source_names = tuple(source.name for source in sources)
        filters = self.filters(
            self.table(raw.get("filters", {}), "filters", _TABLES["filters"]), source_names
        )
        config = Config(
            path=self.file,
            database_url=self.database_url(database.get("url")),
            crawl=crawl,
            digest=digest,
            cluster=ClusterConfig(
                redis_url=redis_url, distributed=cluster_raw.get("distributed", False)
            ),
            watch=self.watch(raw.get("watch"), source_names),
            sources=sources,
            log=self.log(self.table(raw.get("log", {}), "log", _TABLES["log"])),
            smtp_url=self.smtp_url(),
            web_password=self.env.get("DRAMAWATCH_WEB_PASSWORD") or None,
            filters=filters,
        )
        return replace(config, alerts=self.alerts(raw.get("alerts", []), config.watch))

    def filters(self, raw: dict[str, Any], source_names: tuple[str, ...]) -> Filters:
        mute_sources = self.source_names(
            raw.get("mute_sources", []), "filters.mute_sources", source_names
        )
        domains: list[str] = []
        for text in self.strings(raw.get("mute_domains", []), "filters.mute_domains"):
            domain = domain_name(text)
            if domain is None:
                raise self.fail(
                    "filters.mute_domains", f"not a domain name (like spam.example): {text!r}"
                )
            domains.append(domain)
        return Filters(mute_sources=mute_sources, mute_domains=tuple(dict.fromkeys(domains)))

    def source_names(self, value: list[Any], key: str, known: tuple[str, ...]) -> tuple[str, ...]:
        """Give the configured spelling of each source named in ``value`` (case-insensitive)."""
        by_key = {name.casefold(): name for name in known}
        names: list[str] = []
        for name in self.strings(value, key):
            if name.casefold() not in by_key:
                raise self.fail(key, f"unknown source {name!r} (known: {', '.join(known)})")
            names.append(by_key[name.casefold()])
        return tuple(dict.fromkeys(names))

    def phrases(self, value: list[Any], key: str) -> tuple[str, ...]:
        phrases = self.strings(value, key)
        for phrase in phrases:
            if not is_matchable(phrase):
                raise self.fail(key, f"phrase {phrase!r} has no letters or digits to match")
        return phrases

    def languages(self, value: list[Any], key: str) -> tuple[str, ...]:
        codes: list[str] = []
        for code in self.strings(value, key):
            if not is_language_code(code.lower()):
                raise self.fail(key, f"not an ISO 639-1 language code (like en, ko): {code!r}")
            codes.append(code.lower())
        return tuple(dict.fromkeys(codes))

    def log(self, raw: dict[str, Any]) -> LogConfig:
        level = raw.get("level", LogConfig.level).lower()
        if level not in LOG_LEVELS:
            raise self.fail("log.level", f"must be one of {', '.join(LOG_LEVELS)}")
        file = raw.get("file", str(LogConfig.file))
        if not file:
            return LogConfig(file=None, level=level)
        path = Path(file)
        return LogConfig(file=path if path.is_absolute() else self.base / path, level=level)

    def crawl(self, raw: dict[str, Any]) -> CrawlConfig:
        for key in ("timeout_s", "retries", "max_pages_per_source", "max_age_days"):
            if key in raw:
                self.non_negative(raw[key], f"crawl.{key}")
        if raw.get("timeout_s") == 0:
            raise self.fail("crawl.timeout_s", "must be greater than 0")
        if raw.get("max_pages_per_source") == 0:
            raise self.fail("crawl.max_pages_per_source", "must be greater than 0")
        schedule = raw.get("schedule", CrawlConfig.schedule)
        self.schedule(schedule, "crawl.schedule")
        return CrawlConfig(
            schedule=schedule,
            obey_robots=raw.get("obey_robots", True),
            timeout_s=float(raw.get("timeout_s", CrawlConfig.timeout_s)),
            retries=raw.get("retries", CrawlConfig.retries),
            max_pages_per_source=raw.get("max_pages_per_source", CrawlConfig.max_pages_per_source),
            max_age_days=raw.get("max_age_days", CrawlConfig.max_age_days),
            allow_private_networks=raw.get("allow_private_networks", False),
            resolve_google_news=raw.get("resolve_google_news", False),
        )

    def digest(self, raw: dict[str, Any]) -> DigestConfig:
        timezone = raw.get("timezone", DigestConfig.timezone)
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise self.fail("digest.timezone", f"unknown time zone {timezone!r}") from None
        schedule = raw.get("schedule", DigestConfig.schedule)
        self.schedule(schedule, "digest.schedule")
        recipients = self.strings(raw.get("recipients", []), "digest.recipients")
        sender = raw.get("sender", DigestConfig.sender)
        for address in (*recipients, sender):
            if not _EMAIL.match(address):
                key = "digest.sender" if address == sender else "digest.recipients"
                raise self.fail(key, f"not an e-mail address: {address!r}")
        output_dir = Path(raw.get("output_dir", str(DigestConfig.output_dir)))
        return DigestConfig(
            schedule=schedule,
            timezone=timezone,
            output_dir=output_dir if output_dir.is_absolute() else self.base / output_dir,
            recipients=recipients,
            sender=sender,
            send_empty=raw.get("send_empty", False),
        )

    def schedule(self, text: str, key: str) -> None:
        try:
            parse_schedule(text, "UTC")
        except ScheduleError as exc:
            raise self.fail(key, str(exc)) from None

    def database_url(self, configured: str | None) -> str:
        from_env = self.env.get("DRAMAWATCH_DATABASE_URL")
        url = from_env or configured or "sqlite:///data/archive.db"
        key = "DRAMAWATCH_DATABASE_URL" if from_env else "database.url"
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError, NoSuchModuleError

        try:
            parsed = make_url(url)
            parsed.get_dialect()
        except NoSuchModuleError:
            raise self.fail(key, "unknown database driver") from None
        except (ArgumentError, ValueError):
            # never echo the URL: it may carry a password
            raise self.fail(key, "not a valid database URL") from None
        if parsed.get_backend_name() not in ("sqlite", "postgresql"):
            raise self.fail(key, "only sqlite and postgresql databases are supported")
        database = parsed.database
        if parsed.get_backend_name() == "sqlite" and database and database != ":memory:":
            # a relative SQLite path is relative to the config file, so cron needs no `cd`
            if not Path(database).is_absolute():
                parsed = parsed.set(database=str(self.base / database))
            return parsed.render_as_string(hide_password=False)
        return url

    def smtp_url(self) -> str | None:
        url = self.env.get("DRAMAWATCH_SMTP_URL") or None
        if url and (urlsplit(url).scheme not in ("smtp", "smtps") or not urlsplit(url).hostname):
            raise self.fail("DRAMAWATCH_SMTP_URL", "must be smtp://host:port or smtps://host:port")
        return url

    def watch(self, raw: Any, source_names: tuple[str, ...]) -> tuple[WatchEntry, ...]:
        if raw is None:
            raise self.fail("watch", "at least one [[watch]] entry is required")
        if not isinstance(raw, list):
            raise self.fail("watch", "must be an array of tables ([[watch]])")
        entries: list[WatchEntry] = []
        seen: set[str] = set()
        for index, item in enumerate(raw):
            where = f"watch[{index}]"
            item = self.table(item, where, _WATCH_KEYS)
            name = item["name"].strip()
            if not name:
                raise self.fail(f"{where}.name", "must not be empty")
            if not is_matchable(name):
                raise self.fail(f"{where}.name", f"{name!r} has no letters or digits to match")
            if name.casefold() in seen:
                raise self.fail(f"{where}.name", f"duplicated watch name {name!r}")
            seen.add(name.casefold())
            kind = item.get("kind", "other")
            if kind not in WATCH_KINDS:
                raise self.fail(f"{where}.kind", f"must be one of {', '.join(WATCH_KINDS)}")
            aliases = self.strings(item.get("aliases", []), f"{where}.aliases")
            for alias in aliases:
                if not is_matchable(alias):
                    raise self.fail(
                        f"{where}.aliases", f"alias {alias!r} has no letters or digits to match"
                    )
            entries.append(
                WatchEntry(
                    name=name,
                    kind=kind,
                    aliases=aliases,
                    context=self.phrases(item.get("context", []), f"{where}.context"),
                    exclude=self.phrases(item.get("exclude", []), f"{where}.exclude"),
                    sources=self.source_names(
                        item.get("sources", []), f"{where}.sources", source_names
                    ),
                    languages=self.languages(item.get("languages", []), f"{where}.languages"),
                )
            )
        if not entries:
            raise self.fail("watch", "at least one [[watch]] entry is required")
        return tuple(entries)

    def sources(self, raw: Any) -> tuple[Source, ...]:
        if raw is None:
            raise self.fail("sources", "no sources: add at least one [[sources]] entry")
        if not isinstance(raw, list):
            raise self.fail("sources", "must be an array of tables ([[sources]])")
        sources: list[Source] = []
        seen: set[str] = set()
        for index, item in enumerate(raw):
            where = f"sources[{index}]"
            item = self.table(item, where, _SOURCE_KEYS)
            name = item["name"].strip()
            if not name:
                raise self.fail(f"{where}.name", "must not be empty")
            if not is_matchable(name):
                raise self.fail(f"{where}.name", f"{name!r} has no letters or digits to match")
            if name.casefold() in seen:
                raise self.fail(f"{where}.name", f"duplicated source name {name!r}")
            seen.add(name.casefold())
            follow = item.get("follow")
            if follow is not None:
                try:
                    re.compile(follow)
                except re.error as exc:
                    raise self.fail(f"{where}.follow", f"invalid regex: {exc}") from None
            source = Source(
                name=name,
                feeds=self.urls(item.get("feeds", []), f"{where}.feeds"),
                sitemaps=self.urls(item.get("sitemaps", []), f"{where}.sitemaps"),
                pages=self.urls(item.get("pages", []), f"{where}.pages"),
                follow=follow,
                **self.search(item, where),
            )
            if not (source.feeds or source.sitemaps or source.pages or source.search):
                raise self.fail(where, "needs at least one of feeds, sitemaps, pages or search")
            sources.append(source)
        if not sources:
            raise self.fail("sources", "no sources: add at least one [[sources]] entry")
        return tuple(sources)

    def search(self, item: dict[str, Any], where: str) -> dict[str, Any]:
        """Give a source's news-search engine and locales (Source keyword arguments)."""
        engine = item.get("search")
        if engine is None:
            if "search_locales" in item:
                raise self.fail(f"{where}.search_locales", 'needs search = "bing" or "google"')
            return {}
        if engine not in SEARCH_ENGINES:
            raise self.fail(f"{where}.search", f"must be one of {', '.join(SEARCH_ENGINES)}")
        locales = self.strings(item.get("search_locales", []), f"{where}.search_locales")
        for locale in locales:
            if not _LOCALE.match(locale):
                raise self.fail(f"{where}.search_locales", f'not a locale like "en-US": {locale!r}')
        if "search_locales" in item and not locales:
            raise self.fail(f"{where}.search_locales", "must not be empty")
        locales = tuple(dict.fromkeys(locales or DEFAULT_SEARCH_LOCALES))
        return {"search": engine, "search_locales": locales}

    def alerts(self, raw: Any, watch: tuple[WatchEntry, ...]) -> tuple[AlertConfig, ...]:
        """Validate [[alerts]]; the apprise URL is checked but never put in a message."""
        if not isinstance(raw, list):
            raise self.fail("alerts", "must be an array of tables ([[alerts]])")
        names = {w.name.casefold(): w.name for w in watch}
        alerts: list[AlertConfig] = []
        seen: set[str] = set()
        for index, item in enumerate(raw):
            where = f"alerts[{index}]"
            item = self.table(item, where, _ALERT_KEYS)
            name = item["name"].strip()
            if not name:
                raise self.fail(f"{where}.name", "must not be empty")
            if name.casefold() in seen:
                raise self.fail(f"{where}.name", f"duplicated alert name {name!r}")
            seen.add(name.casefold())
            watched = []
            for entry in self.strings(item.get("watch", []), f"{where}.watch"):
                if entry.casefold() not in names:
                    raise self.fail(f"{where}.watch", f"unknown watch entry {entry!r}")
                watched.append(names[entry.casefold()])
            mode = item.get("mode", AlertConfig.mode)
            if mode not in ALERT_MODES:
                raise self.fail(f"{where}.mode", f"must be one of {', '.join(ALERT_MODES)}")
            body_format = item.get("format", AlertConfig.format)
            if body_format not in ALERT_FORMATS:
                raise self.fail(f"{where}.format", f"must be one of {', '.join(ALERT_FORMATS)}")
            max_items = item.get("max_items", AlertConfig.max_items)
            if max_items < 1:
                raise self.fail(f"{where}.max_items", "must be at least 1")
            alerts.append(
                AlertConfig(
                    name=name,
                    url_env=item["url_env"],
                    watch=tuple(watched) or tuple(w.name for w in watch),
                    mode=mode,
                    max_items=max_items,
                    format=body_format,
                    url=self.alert_url(item["url_env"], f"{where}.url_env"),
                )
            )
        return tuple(alerts)

    def alert_url(self, variable: str, key: str) -> str:
        """Give the apprise URL held by ``variable``; the messages name it, never its value."""
        from scraper.config.apprise_urls import apprise_can_use

        if not _ENV_NAME.match(variable):
            raise self.fail(key, f"not an environment variable name: {variable!r}")
        url = self.env.get(variable, "").strip()
        if not url:
            raise self.fail(key, f"${variable} is not set (it must hold the apprise URL)")
        if not apprise_can_use(url):
            raise self.fail(key, f"${variable} does not hold an apprise URL apprise can use")
        return url
