"""Shared fixtures: databases (SQLite and the real PostgreSQL), Redis, the loopback site.

A test that needs PostgreSQL, Redis or Chromium skips only when the server (or browser) is
absent *and* CI is unset; under CI (CI=true) a missing service is a failure.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.orm import Session, sessionmaker

from scraper.storage.engine import make_engine, session_factory, upgrade
from tests.site import CONFIG as SITE_CONFIG
from tests.site import FixtureSite

ROOT = Path(__file__).resolve().parent.parent
PG_ADMIN_URL = os.environ.get(
    "DRAMAWATCH_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("DRAMAWATCH_TEST_REDIS", "redis://127.0.0.1:6379/15")
IN_CI = bool(os.environ.get("CI"))


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def need(available: bool, what: str) -> None:
    """Skip when ``what`` is missing outside CI; fail under CI, where it must run."""
    if available:
        return
    if IN_CI:
        pytest.fail(f"{what} is required under CI but is not available")
    pytest.skip(f"{what} not available (and CI is unset)")


ARTIFACTS = ROOT / "tests" / "artifacts"  # screenshots kept by the browser tests (gitignored)
# headless Chromium as root on a machine whose only network is loopback
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]


def chromium_path() -> str:
    """Give the headless Chromium executable (Debian's package), or skip/fail per the CI rule."""
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    need(path is not None, "chromium (apt-get install -y chromium)")
    assert path is not None
    return path


@pytest.fixture(scope="session")
def pg_admin() -> Iterator[Engine]:
    need(_reachable("127.0.0.1", 5432), "PostgreSQL on 127.0.0.1:5432")
    engine = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    yield engine
    engine.dispose()


@pytest.fixture
def postgres_url(pg_admin: Engine) -> Iterator[str]:
    """Give the URL of a fresh, empty PostgreSQL database, dropped afterwards."""
    name = f"dw_test_{uuid.uuid4().hex[:12]}"
    with pg_admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    yield url
    with pg_admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'archive.db'}"


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Every archive test runs on both SQLite and the real PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'archive.db'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    return session_factory(engine)


@pytest.fixture
def redis_url() -> Iterator[str]:
    """Give a Redis URL on a database emptied before and after the test."""
    need(_reachable("127.0.0.1", 6379), "Redis on 127.0.0.1:6379")
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    client.flushdb()
    yield REDIS_URL
    client.flushdb()
    client.close()


# ---------------------------------------------------------------- the fixture site and the CLI


@pytest.fixture(scope="session")
def fixture_site() -> Iterator[FixtureSite]:
    with FixtureSite() as site:
        yield site


@pytest.fixture
def site(fixture_site: FixtureSite) -> Iterator[FixtureSite]:
    """The loopback fixture site, with its overrides, fault counters and access log reset
    before the test and again after it, so a test's changes never reach the next one."""
    fixture_site.reset()
    fixture_site.clear_log()
    yield fixture_site
    fixture_site.reset()
    fixture_site.clear_log()


def make_config(directory: Path, base: Path = SITE_CONFIG, **crawl: object) -> Path:
    """Write a copy of a fixture config whose database and digests live in ``directory``;
    keyword arguments replace ``[crawl]`` values."""
    text = base.read_text(encoding="utf-8")
    text = re.sub(
        r'(?m)^url = "sqlite:///[^"]*"', f'url = "sqlite:///{directory / "archive.db"}"', text
    )
    text = re.sub(r'(?m)^output_dir = "[^"]*"', f'output_dir = "{directory / "digests"}"', text)
    for key, value in crawl.items():
        rendered = json.dumps(value) if not isinstance(value, bool) else str(value).lower()
        text, count = re.subn(rf"(?m)^{key} = .*$", f"{key} = {rendered}", text)
        if not count:
            text = text.replace("[crawl]\n", f"[crawl]\n{key} = {rendered}\n", 1)
    path = directory / "dramawatch.toml"
    path.write_text(text, encoding="utf-8")
    return path


def cli_env(site: FixtureSite | None = None, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DRAMAWATCH_")}
    if site is not None:
        env.update(site.proxy_env())
    env.update(extra)
    return env


def dramawatch(
    config: Path, *args: str, site: FixtureSite | None = None, timeout: float = 240, **env: str
) -> subprocess.CompletedProcess[str]:
    """Run the dramawatch command line in a subprocess, as cron would."""
    return subprocess.run(
        [sys.executable, "-m", "scraper.app.cli", "--config", str(config), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=cli_env(site, **env),
        cwd=ROOT,
    )


@pytest.fixture(scope="session")
def crawled_archive(fixture_site: FixtureSite, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite archive built by running the real crawl on the fixture site (read-only use:
    copy it before writing)."""
    directory = tmp_path_factory.mktemp("crawled")
    config = make_config(directory)
    result = dramawatch(config, "crawl", site=fixture_site)
    assert result.returncode == 0, result.stderr[-3000:]
    return directory / "archive.db"
