"""Crashes lose nothing and duplicate nothing (issue 7): a crawl killed with SIGKILL halfway,
then ``run-once`` again; and two ``run-once`` started at once against one SQLite database.

(A crash between rendering and mailing a digest is tested with the mail code, in
test_mail.py.)
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from scraper.core.identity import process_identity
from scraper.core.urls import url_key
from scraper.crawler.extensions import RUN_HEARTBEAT_TTL, close_dead_runs
from scraper.storage import runs as run_history
from scraper.storage.models import CrawlRun
from tests.conftest import ROOT, cli_env, make_config
from tests.e2e.test_cli import call_cli
from tests.site import EXPECTED, FAULTS_CONFIG, FixtureSite

GOLDEN: dict[str, Any] = json.loads(EXPECTED.read_text(encoding="utf-8"))

STORIES = 24  # distinct articles
COPIES = 4  # lightly edited copies of the first few, each at its own URL: same story
DELAY_S = 1.5  # each article answers this late, so the crawl is killed with work in flight
_WORDS = (
    "agency album archive audience balcony bench breakfast broadcast camera canteen chapter "
    "cinema coffee costume crew dawn debut director episode evening festival finale garden "
    "greeting guest harbour hospital interview island journal kitchen lantern letter lobby "
    "market melody morning museum notebook orchard palace parade photo piano podium poster "
    "premiere producer queue rain rehearsal river rooftop scene schedule season stage station "
    "studio subway tailor teaser ticket train umbrella village wardrobe weather window winter"
).split()
_VERBS = "praised described recalled joined visited filmed reviewed signed shared planned".split()


def article_page(n: int, url: str, title: str) -> str:
    """An on-topic article whose text is its own (seeded by ``n``), so only copies cluster."""
    rng = random.Random(n)
    paragraphs = []
    for i in range(5):
        words = " ".join(
            f"The {rng.choice(_WORDS)} {rng.choice(_VERBS)} the {rng.choice(_WORDS)} near the "
            f"{rng.choice(_WORDS)} and the {rng.choice(_WORDS)}."
            for _ in range(5)
        )
        paragraphs.append(
            f"<p>{'Kim Soo-hyun spoke about Queen of Tears. ' if i == 0 else ''}{words}</p>"
        )
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
        f'<link rel="canonical" href="{url}">'
        '<meta property="article:published_time" content="{{date:-2h:iso}}"></head>'
        f"<body><main><article><h1>{title}</h1>{''.join(paragraphs)}</article></main></body></html>"
    )


def crash_urls() -> list[str]:
    return [f"http://faults.test/crash/{n}" for n in range(STORIES)] + [
        f"http://faults.test/copy/{n}" for n in range(COPIES)
    ]


def serve_crash_site(site: FixtureSite) -> None:
    items = []
    for n, url in enumerate(crash_urls()):
        story = n if n < STORIES else n - STORIES
        title = f"Kim Soo-hyun and the {_WORDS[story]} {_WORDS[-story - 1]}: report {story}"
        if n >= STORIES:
            title = f"{title} (syndicated)"
        site.set_page(url, article_page(story, url, title))
        link = f"{url}?utm_source=rss&amp;delay={DELAY_S}"
        items.append(
            f"<item><title>{title}</title><link>{link}</link><pubDate>{{{{date:-2h}}}}</pubDate></item>"
        )
    feed = (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>Crash</title>'
        f"<link>http://faults.test/</link>{''.join(items)}</channel></rss>"
    )
    site.set_page(
        "http://faults.test/crash-feed.xml", feed, content_type="application/rss+xml; charset=utf-8"
    )


def crash_config(directory: Path) -> Path:
    """The faults config's database, digest and watch list, with one source: the crash feed."""
    config = make_config(directory, base=FAULTS_CONFIG, max_pages_per_source=100)
    head = config.read_text(encoding="utf-8").split("[[sources]]")[0]
    config.write_text(
        head + '[[sources]]\nname = "Crash Test"\nfeeds = ["http://faults.test/crash-feed.xml"]\n',
        encoding="utf-8",
    )
    return config


def query(db: Path, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    with sqlite3.connect(db, timeout=30) as connection:
        return connection.execute(sql, params).fetchall()


def count_articles(db: Path) -> int:
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1) as connection:
            return int(connection.execute("SELECT count(*) FROM articles").fetchone()[0])
    except sqlite3.Error:  # not created or not migrated yet
        return 0


def assert_no_duplicates(db: Path) -> None:
    """No article, URL or mention stored twice, no URL identity on two articles, no story
    without an article."""
    checks = {
        "articles by canonical key": "SELECT canonical_key FROM articles GROUP BY 1 "
        "HAVING count(*) > 1",
        "URL identities split over articles": "SELECT url_key FROM article_urls GROUP BY 1 "
        "HAVING count(DISTINCT article_id) > 1",
        "article URLs by URL": "SELECT url FROM article_urls GROUP BY 1 HAVING count(*) > 1",
        "mentions": "SELECT article_id, entity FROM mentions GROUP BY 1, 2 HAVING count(*) > 1",
        "empty stories": "SELECT s.id FROM stories s LEFT JOIN articles a ON a.story_id = s.id "
        "WHERE a.id IS NULL",
        "articles without URLs": "SELECT a.id FROM articles a LEFT JOIN article_urls u "
        "ON u.article_id = a.id WHERE u.id IS NULL",
    }
    for what, sql in checks.items():
        assert query(db, sql) == [], what
    assert query(db, "PRAGMA integrity_check") == [("ok",)]


# ---------------------------------------------------------------- kill -9 halfway


@dataclass(frozen=True)
class Crash:
    directory: Path
    database: Path
    before: dict[str, tuple[int, str, int]]  # canonical key -> (id, first_seen_at, story_id)
    runs_at_kill: list[tuple[int, str]]
    requested_after_kill: list[str]
    resumed: subprocess.CompletedProcess[str]


@pytest.fixture(scope="module")
def crash(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Crash]:
    directory = tmp_path_factory.mktemp("crash")
    config = crash_config(directory)
    database = directory / "archive.db"
    with FixtureSite() as site:
        serve_crash_site(site)
        env = cli_env(site)
        crawl = subprocess.Popen(
            [sys.executable, "-m", "scraper.app.cli", "--config", str(config), "crawl"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env,
            cwd=ROOT,
        )
        deadline = time.monotonic() + 120
        while crawl.poll() is None and count_articles(database) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        os.kill(crawl.pid, signal.SIGKILL)
        crawl.wait(30)
        before = {
            key: (article_id, seen, story)
            for article_id, key, seen, story in query(
                database, "SELECT id, canonical_key, first_seen_at, story_id FROM articles"
            )
        }
        runs_at_kill = query(database, "SELECT id, status FROM crawl_runs")
        site.clear_log()
        resumed = subprocess.run(
            [sys.executable, "-m", "scraper.app.cli", "--config", str(config), "run-once"],
            capture_output=True,
            text=True,
            env=env,
            cwd=ROOT,
            timeout=240,
        )
        yield Crash(
            directory=directory,
            database=database,
            before=before,
            runs_at_kill=runs_at_kill,
            requested_after_kill=[r.url for r in site.access_log],
            resumed=resumed,
        )


def test_the_crawl_was_killed_halfway(crash: Crash) -> None:
    assert crash.runs_at_kill == [(1, "running")]
    assert 0 < len(crash.before) < len(crash_urls()), "kill the crawl mid-run, not before or after"


def test_run_once_after_the_kill_succeeds(crash: Crash) -> None:
    assert crash.resumed.returncode == 0, crash.resumed.stderr[-3000:]
    assert crash.resumed.stdout.startswith("crawl run 2 finished: ")
    assert Path(crash.resumed.stdout.strip().splitlines()[-1]).is_file()  # the digest


def test_articles_committed_before_the_kill_are_there_exactly_once(crash: Crash) -> None:
    after = {
        key: (article_id, seen, story)
        for article_id, key, seen, story in query(
            crash.database, "SELECT id, canonical_key, first_seen_at, story_id FROM articles"
        )
    }
    for key, row in crash.before.items():
        assert after.get(key) == row, key  # same id, same first_seen_at, same story
    # and they were not downloaded again
    fetched_again = [
        u for u in crash.requested_after_kill if url_key(u.split("?")[0]) in crash.before
    ]
    assert fetched_again == []


def test_the_rest_is_picked_up_without_duplicates(crash: Crash) -> None:
    keys = {key for (key,) in query(crash.database, "SELECT canonical_key FROM articles")}
    assert keys == {url_key(url) for url in crash_urls()}
    assert_no_duplicates(crash.database)
    # each article is known by its canonical URL and the feed's tracking variant, once each
    assert query(crash.database, "SELECT count(*) FROM article_urls") == [(2 * len(crash_urls()),)]


def test_copies_share_one_story_across_the_crash(crash: Crash) -> None:
    assert query(crash.database, "SELECT count(*) FROM stories") == [(STORIES,)]
    story = dict(query(crash.database, "SELECT canonical_key, story_id FROM articles"))
    for n in range(COPIES):
        assert (
            story[url_key(f"http://faults.test/copy/{n}")]
            == story[url_key(f"http://faults.test/crash/{n}")]
        )


def test_the_killed_run_is_shown_as_interrupted(crash: Crash) -> None:
    runs = json.loads(
        call_cli(crash.directory / "dramawatch.toml", "runs", "--format", "json").stdout
    )
    assert [(run["id"], run["status"]) for run in runs] == [(2, "finished"), (1, "interrupted")]
    assert runs[1]["finished_at"] is not None
    assert runs[0]["articles_new"] == len(crash_urls()) - len(crash.before)
    # a killed run leaves no lease behind, and the finished one released its own
    assert (
        query(crash.database, "SELECT name FROM service_lock WHERE name LIKE 'crawl-run:%'") == []
    )


def test_only_runs_whose_process_died_are_closed(sessions: sessionmaker[Session]) -> None:
    """A run is dead when its heartbeat is older than the TTL, or, on this host, when its
    process is gone; live runs (here or elsewhere) and runs without a heartbeat are kept."""
    now = datetime(2026, 11, 29, 12, tzinfo=UTC)
    fresh, stale = now - timedelta(seconds=10), now - RUN_HEARTBEAT_TTL - timedelta(seconds=1)
    dead_pid = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    here = process_identity().rpartition(":")[0]
    cases = {
        "this process": (process_identity(), fresh, "running"),
        "dead process here": (f"{here}:{dead_pid}", fresh, "interrupted"),
        "live elsewhere": ("other-host:42", fresh, "running"),
        "silent elsewhere": ("other-host:42", stale, "interrupted"),
        "no heartbeat (a distributed run)": (None, None, "running"),
    }
    ids = {}
    with sessions.begin() as session:
        for name, (worker, heartbeat, _) in cases.items():
            ids[name] = run_history.start_run(session, now - timedelta(minutes=30))
            run = session.get_one(CrawlRun, ids[name])
            run.worker, run.heartbeat_at = worker, heartbeat
    with sessions.begin() as session:
        closed = close_dead_runs(session, now)
    assert sorted(closed) == sorted(ids[n] for n, case in cases.items() if case[2] == "interrupted")
    with sessions() as session:
        for name, (_, heartbeat, status) in cases.items():
            run = session.get_one(CrawlRun, ids[name])
            assert run.status == status, name
            if status == "interrupted":
                assert run.finished_at == heartbeat, name  # when it was last seen alive


# ---------------------------------------------------------------- two at once


def test_two_run_once_at_the_same_time_store_everything_once(
    site: FixtureSite, tmp_path: Path
) -> None:
    config = make_config(tmp_path)
    command = [sys.executable, "-m", "scraper.app.cli", "--config", str(config), "run-once"]
    both = [
        subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=cli_env(site),
            cwd=ROOT,
        )
        for _ in range(2)
    ]
    outputs = [process.communicate(timeout=240) for process in both]
    for process, (stdout, stderr) in zip(both, outputs, strict=True):
        assert process.returncode == 0, stderr[-3000:]
        assert "Traceback" not in stderr
        assert " finished: " in stdout.splitlines()[0]
    db = tmp_path / "archive.db"
    counts = GOLDEN["counts"]
    assert query(db, "SELECT count(*) FROM articles") == [(counts["articles_stored"],)]
    assert query(db, "SELECT count(*) FROM stories") == [(counts["stories"],)]
    assert_no_duplicates(db)
    assert sorted(query(db, "SELECT status FROM crawl_runs")) == [("finished",), ("finished",)]
    assert (
        sum(n for (n,) in query(db, "SELECT articles_new FROM crawl_runs"))
        == counts["articles_stored"]
    )
    # the two digests cover consecutive windows: no story is in both
    windows = query(db, "SELECT window_start, window_end FROM digests ORDER BY window_start")
    assert len(windows) == 2
    assert windows[0][1] <= windows[1][0]
