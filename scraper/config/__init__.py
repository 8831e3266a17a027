"""The one place that reads dramawatch.toml and the DRAMAWATCH_* environment.

Everything else receives a frozen :class:`Config`. Every mistake raises :class:`ConfigError`
whose message is one line naming the file, the key and the problem.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from scraper.config.schedule import ScheduleError, parse_schedule
from scraper.core.match import matchable

DEFAULT_CONFIG = "dramawatch.toml"
WATCH_KINDS = ("drama", "person", "other")


class ConfigError(Exception):
    """A configuration mistake; str() is the one line shown to the user."""


@dataclass(frozen=True)
class WatchEntry:
    name: str
    kind: str = "other"
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class Source:
    name: str
    feeds: tuple[str, ...] = ()
    sitemaps: tuple[str, ...] = ()
    pages: tuple[str, ...] = ()
    follow: str | None = None


@dataclass(frozen=True)
class CrawlConfig:
    schedule: str = "*/30 * * * *"
    obey_robots: bool = True
    timeout_s: float = 20.0
    retries: int = 2
    max_pages_per_source: int = 200
    max_age_days: int = 7


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
}
LOG_LEVELS = ("debug", "info", "warning", "error")
_WATCH_KEYS: dict[str, tuple[type | tuple[type, ...], bool]] = {
    "name": (str, True),
    "kind": (str, False),
    "aliases": (list, False),
}
_SOURCE_KEYS: dict[str, tuple[type | tuple[type, ...], bool]] = {
    "name": (str, True),
    "feeds": (list, False),
    "sitemaps": (list, False),
    "pages": (list, False),
    "follow": (str, False),
}
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
        known = set(_TABLES) | {"watch", "sources"}
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
        return Config(
            path=self.file,
            database_url=self.database_url(database.get("url")),
            crawl=crawl,
            digest=digest,
            cluster=ClusterConfig(
                redis_url=redis_url, distributed=cluster_raw.get("distributed", False)
            ),
            watch=self.watch(raw.get("watch")),
            sources=self.sources(raw.get("sources")),
            log=self.log(self.table(raw.get("log", {}), "log", _TABLES["log"])),
            smtp_url=self.smtp_url(),
            web_password=self.env.get("DRAMAWATCH_WEB_PASSWORD") or None,
        )

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

    def watch(self, raw: Any) -> tuple[WatchEntry, ...]:
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
            if not matchable(name):
                raise self.fail(f"{where}.name", f"{name!r} has no letters or digits to match")
            if name.casefold() in seen:
                raise self.fail(f"{where}.name", f"duplicated watch name {name!r}")
            seen.add(name.casefold())
            kind = item.get("kind", "other")
            if kind not in WATCH_KINDS:
                raise self.fail(f"{where}.kind", f"must be one of {', '.join(WATCH_KINDS)}")
            aliases = self.strings(item.get("aliases", []), f"{where}.aliases")
            for alias in aliases:
                if not matchable(alias):
                    raise self.fail(
                        f"{where}.aliases", f"alias {alias!r} has no letters or digits to match"
                    )
            entries.append(WatchEntry(name=name, kind=kind, aliases=aliases))
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
            if not matchable(name):
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
            )
            if not (source.feeds or source.sitemaps or source.pages):
                raise self.fail(where, "needs at least one of feeds, sitemaps or pages")
            sources.append(source)
        if not sources:
            raise self.fail("sources", "no sources: add at least one [[sources]] entry")
        return tuple(sources)
