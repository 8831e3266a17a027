"""The command line in a shell pipe (issue 12): ``dramawatch runs | head -1`` and
``dramawatch search … | head`` end quietly when the reader leaves early: no BrokenPipeError
line, and exit 0. The archive is big enough that the output overflows the pipe's buffer."""

from __future__ import annotations

import shlex
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from scraper.core import dedup
from scraper.storage import articles
from scraper.storage import runs as run_history
from scraper.storage.articles import ArticleRecord, MentionRecord
from scraper.storage.engine import make_engine, session_factory, upgrade
from tests.conftest import ROOT, cli_env, make_config
from tests.site import FAULTS_CONFIG

NOW = datetime(2026, 11, 20, 10, tzinfo=UTC)
RUNS = 1500
ARTICLES = 300


def record(n: int) -> ArticleRecord:
    url = f"http://faults.test/pipe/{n}"
    title = f"Queen of Tears, part {n}: the cast on the set of episode {n}"
    text = f"Kim Soo-hyun and Kim Ji-won on day {n} of the shoot. " * 8
    return ArticleRecord(
        canonical_url=url,
        urls=(url,),
        source="K-Wave Daily",
        title=title,
        text=text,
        author=None,
        language="en",
        published_at=NOW - timedelta(hours=n),
        mentions=(MentionRecord("Queen of Tears", ((0, 14),)),),
        signature=dedup.signature(text),
        content_hash=dedup.content_hash(title, text),
    )


@pytest.fixture(scope="module")
def big_archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("pipe")
    config = make_config(directory, base=FAULTS_CONFIG)
    engine = make_engine(f"sqlite:///{directory / 'archive.db'}")
    upgrade(engine)
    sessions = session_factory(engine)
    with sessions.begin() as session:
        for n in range(RUNS):
            run_id = run_history.start_run(session, NOW + timedelta(minutes=n))
            run_history.count_pages(session, run_id, {"K-Wave Daily": 3, "Slow Source": 1})
            run_history.finish_run(session, run_id, "finished", NOW + timedelta(minutes=n + 1))
        for n in range(ARTICLES):
            articles.store_article(session, record(n), NOW)
    engine.dispose()
    return config


@pytest.mark.parametrize(
    "command",
    [
        ["runs"],
        ["runs", "--limit", "0"],
        ["search", "Kim", "--limit", "0"],
        ["search", "--limit", "0", "--format", "json"],
        ["search", "--limit", "0", "--format", "csv"],
    ],
    ids=["runs", "all-runs", "search", "search-json", "search-csv"],
)
def test_a_reader_that_leaves_early_ends_the_command_quietly(
    big_archive: Path, command: list[str]
) -> None:
    cli = [sys.executable, "-m", "scraper.app.cli", "--config", str(big_archive), *command]
    script = f'{shlex.join(cli)} | head -1; echo "exit ${{PIPESTATUS[0]}}" >&2'
    result = subprocess.run(
        ["bash", "-c", script], capture_output=True, text=True, timeout=120, env=cli_env(), cwd=ROOT
    )
    assert len(result.stdout.splitlines()) == 1
    assert result.stderr == "exit 0\n", result.stderr[-2000:]


def test_the_whole_output_is_larger_than_a_pipe_buffer(big_archive: Path) -> None:
    # without this the tests above would pass without the reader ever leaving early
    for command in (["runs", "--limit", "0"], ["search", "--limit", "0", "--format", "csv"]):
        cli = [sys.executable, "-m", "scraper.app.cli", "--config", str(big_archive), *command]
        result = subprocess.run(cli, capture_output=True, timeout=120, env=cli_env(), cwd=ROOT)
        assert result.returncode == 0 and len(result.stdout) > 65536, command  # a pipe buffer
