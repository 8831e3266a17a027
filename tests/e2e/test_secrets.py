"""Passwords in DRAMAWATCH_DATABASE_URL and DRAMAWATCH_SMTP_URL never show (issue 7): not on
stdout or stderr of any command, not in the log file, the digests, the run history or any other
row of the database, also when the database or the mail server cannot be reached.

PostgreSQL on this machine trusts local connections, so a URL may carry any password: the
crawl works with it, and every place it could leak to is searched for it.
"""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine, MetaData, create_engine, select, text

from tests.conftest import PG_ADMIN_URL, dramawatch, make_config
from tests.e2e.test_cli import CliResult, call_cli
from tests.site import FAULTS_CONFIG, FixtureSite

PASSWORD = "S3cretPw"


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def with_password(url: str, port: int | None = None) -> str:
    """``url`` (postgresql+psycopg://postgres@host:port/db) with our password, and a port."""
    scheme, rest = url.split("://", 1)
    user, where = rest.split("@", 1)
    host_port, database = where.split("/", 1)
    if port is not None:
        host_port = f"{host_port.rsplit(':', 1)[0]}:{port}"
    return f"{scheme}://{user.split(':')[0]}:{PASSWORD}@{host_port}/{database}"


@dataclass
class Leaks:
    """Everything the commands printed, to be searched for the password at the end."""

    outputs: list[tuple[str, str]]

    def add(self, what: str, *texts: str) -> None:
        self.outputs.extend((what, t) for t in texts)

    def assert_clean(self) -> None:
        leaked = [what for what, output in self.outputs if PASSWORD in output]
        assert leaked == [], f"the password shows in: {leaked}"


@dataclass(frozen=True)
class SecretArchive:
    directory: Path
    config: Path
    env: dict[str, str]
    database_url: str
    crawl_stdout: str
    crawl_stderr: str
    crawl_code: int


@pytest.fixture(scope="module")
def secret_archive(
    pg_admin: Engine, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SecretArchive]:
    """A PostgreSQL archive crawled by ``run-once -vv`` with both passwords in the
    environment, recipients configured and the mail server refusing connections."""
    name = f"dw_secrets_{uuid.uuid4().hex[:12]}"
    with pg_admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    database_url = with_password(PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}")
    directory = tmp_path_factory.mktemp("secrets")
    config = make_config(directory, base=FAULTS_CONFIG)
    head = config.read_text(encoding="utf-8").split("[[sources]]")[0]
    config.write_text(
        head.replace("recipients = []", 'recipients = ["fan@example.org"]')
        + '[[sources]]\nname = "K-Wave Daily"\nfeeds = ["http://kwave.test/feed/"]\n'
        + '[[sources]]\nname = "Gone"\nfeeds = ["http://faults.test/missing"]\n',
        encoding="utf-8",
    )
    env = {
        "DRAMAWATCH_DATABASE_URL": database_url,
        "DRAMAWATCH_SMTP_URL": f"smtp://digest:{PASSWORD}@127.0.0.1:{closed_port()}",
    }
    try:
        with FixtureSite() as site:
            result = dramawatch(config, "-vv", "run-once", site=site, **env)
        yield SecretArchive(
            directory, config, env, database_url, result.stdout, result.stderr, result.returncode
        )
    finally:
        with pg_admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def every_file_under(directory: Path) -> list[tuple[str, str]]:
    return [
        (str(path), path.read_bytes().decode("utf-8", "replace"))
        for path in sorted(directory.rglob("*"))
        if path.is_file()
    ]


def every_row(database_url: str) -> list[tuple[str, str]]:
    """Each row of each table as text (the run history, errors, digests, locks, jobs...)."""
    engine = create_engine(database_url)
    try:
        metadata = MetaData()
        metadata.reflect(engine)
        with engine.connect() as connection:
            return [
                (table.name, repr(tuple(row)))
                for table in metadata.sorted_tables
                for row in connection.execute(select(table))
            ]
    finally:
        engine.dispose()


def test_crawl_with_passwords_in_the_environment_works_and_shows_neither(
    secret_archive: SecretArchive,
) -> None:
    assert "crawl run 1 finished" in secret_archive.crawl_stdout, secret_archive.crawl_stderr[
        -3000:
    ]
    assert "failed: Gone: http://faults.test/missing: HTTP 404" in secret_archive.crawl_stdout
    # the refused mail server is a fatal error of run-once: one line, naming no password
    assert secret_archive.crawl_code == 1
    last = secret_archive.crawl_stderr.strip().splitlines()[-1]
    assert last.startswith("dramawatch: ") and "127.0.0.1" in last, last
    leaks = Leaks([])
    leaks.add("run-once", secret_archive.crawl_stdout, secret_archive.crawl_stderr)
    leaks.assert_clean()


def test_every_command_keeps_the_passwords_out_of_its_output(secret_archive: SecretArchive) -> None:
    leaks = Leaks([])
    commands = [
        ["runs"],
        ["runs", "--format", "json"],
        ["status"],
        ["search", "Kim"],
        ["search", "--format", "json"],
        ["digest"],
        ["digest", "--send"],
        ["db", "upgrade"],
    ]
    results: dict[str, CliResult] = {}
    for args in commands:
        result = call_cli(secret_archive.config, "-vv", *args, env=secret_archive.env)
        results[" ".join(args)] = result
        leaks.add(" ".join(args), result.stdout, result.stderr)
    assert results["runs"].code == 0 and "Gone" in results["runs"].stdout
    assert results["search Kim"].code == 0 and "article(s)" in results["search Kim"].stdout
    assert results["status"].code == 0
    # the refused mail server: one line naming the server, not the password
    failed = results["digest --send"]
    assert failed.code == 1
    assert failed.stderr.strip().splitlines()[-1].startswith("dramawatch: ")
    leaks.assert_clean()


def test_files_and_database_rows_keep_the_passwords_out(secret_archive: SecretArchive) -> None:
    # what the commands above wrote: the log file, the digests and their index
    files = every_file_under(secret_archive.directory)
    assert any(path.endswith(".html") for path, _ in files)
    rows = every_row(secret_archive.database_url)
    assert any(table == "crawl_errors" for table, _ in rows)
    assert any(table == "digests" and "127.0.0.1" in row for table, row in rows)  # last_error
    leaks = Leaks([])
    leaks.add("files", *(f"{path}: {content}" for path, content in files))
    leaks.add("database", *(f"{table}: {row}" for table, row in rows))
    leaks.assert_clean()


@pytest.mark.parametrize(
    "command", [["crawl"], ["runs"], ["status"], ["search", "Kim"], ["digest"]]
)
def test_unreachable_database_fails_in_one_line_without_the_password(
    tmp_path: Path, command: list[str]
) -> None:
    config = make_config(tmp_path, base=FAULTS_CONFIG)
    url = with_password(PG_ADMIN_URL, port=closed_port())
    result = call_cli(config, "-vv", *command, env={"DRAMAWATCH_DATABASE_URL": url})
    assert result.code == 1, result
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(f"dramawatch: {command[0]} failed: "), last
    leaks = Leaks([])
    leaks.add(" ".join(command), result.stdout, result.stderr)
    leaks.add("files", *(content for _, content in every_file_under(tmp_path)))
    leaks.assert_clean()


def test_unreachable_database_in_a_real_process(tmp_path: Path) -> None:
    """The whole path once as cron runs it: debug logging, traceback into the log file."""
    config = make_config(tmp_path, base=FAULTS_CONFIG)
    url = with_password(PG_ADMIN_URL, port=closed_port())
    result = dramawatch(config, "-vv", "crawl", DRAMAWATCH_DATABASE_URL=url)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].startswith("dramawatch: crawl failed: ")
    leaks = Leaks([])
    leaks.add("crawl", result.stdout, result.stderr)
    leaks.add("files", *(content for _, content in every_file_under(tmp_path)))
    leaks.assert_clean()


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("DRAMAWATCH_DATABASE_URL", f"postgresql+psycopg://postgres:{PASSWORD}@127.0.0.1:port/x"),
        ("DRAMAWATCH_DATABASE_URL", f"nosuchdb://postgres:{PASSWORD}@127.0.0.1/x"),
        ("DRAMAWATCH_SMTP_URL", f"http://digest:{PASSWORD}@127.0.0.1:25"),
        ("DRAMAWATCH_SMTP_URL", f"smtp://digest:{PASSWORD}@"),
    ],
)
def test_malformed_urls_are_config_errors_without_the_password(
    tmp_path: Path, variable: str, value: str
) -> None:
    config = make_config(tmp_path, base=FAULTS_CONFIG)
    result = call_cli(config, "status", env={variable: value})
    assert result.code == 2, result
    assert result.stderr.count("\n") == 1 and variable in result.stderr
    assert PASSWORD not in result.stdout + result.stderr
