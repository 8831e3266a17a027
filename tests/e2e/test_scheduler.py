"""The service: the database lease, the persistent job store, status, and the real scheduler
in a subprocess crawling the fixture site and mailing a digest over loopback SMTP."""

from __future__ import annotations

import json
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session, sessionmaker

from digests.publish import run_digest
from scraper.app import service as scheduler
from scraper.config import load_config
from scraper.storage import runs as run_history
from scraper.storage.engine import make_engine, session_factory, upgrade
from scraper.storage.models import CrawlRun, Digest
from tests.conftest import ROOT, cli_env
from tests.digest_fixtures import NOW, Mailbox, free_port, make_config, pieces, store
from tests.site import CONFIG as SITE_CONFIG
from tests.site import EXPECTED, FixtureSite

GOLDEN = json.loads(EXPECTED.read_text(encoding="utf-8"))
ARTIFACTS = ROOT / "tests" / "artifacts"


# ---------------------------------------------------------------- the lease


def test_one_lease_holder_at_a_time(sessions: sessionmaker[Session]) -> None:
    ttl = timedelta(seconds=30)
    first = scheduler.Lease(sessions, "scheduler", "host-a pid 1", ttl)
    second = scheduler.Lease(sessions, "scheduler", "host-b pid 2", ttl)
    assert first.acquire(NOW) is None
    other = second.acquire(NOW + timedelta(seconds=1))
    assert other is not None and other.holder == "host-a pid 1" and other.heartbeat_at == NOW
    assert first.renew(NOW + timedelta(seconds=20))
    # a heartbeat younger than the lease keeps it
    assert second.acquire(NOW + timedelta(seconds=45)) is not None
    # a stale one is taken over, and the old holder learns it on its next renewal
    assert second.acquire(NOW + timedelta(seconds=51)) is None
    assert not first.renew(NOW + timedelta(seconds=52))
    first.release()  # not ours any more: nothing happens
    holder = scheduler.current_holder(sessions)
    assert holder is not None and holder.holder == "host-b pid 2"
    second.release()
    assert scheduler.current_holder(sessions) is None
    assert first.acquire(NOW + timedelta(seconds=53)) is None


# ---------------------------------------------------------------- the job store


@dataclass
class Recorder:
    """Stands in for the service: counts the jobs the scheduler runs."""

    runs: list[str] = field(default_factory=list)
    done: threading.Event = field(default_factory=threading.Event)

    def crawl(self) -> None:
        self.runs.append("crawl")

    def digest(self) -> None:
        self.runs.append("digest")
        self.done.set()


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    stand_in = Recorder()
    scheduler._ACTIVE.append(stand_in)  # type: ignore[arg-type]
    yield stand_in
    scheduler._ACTIVE.remove(stand_in)  # type: ignore[arg-type]


def stored_jobs(engine: Engine) -> dict[str, tuple[float, bytes]]:
    with engine.connect() as connection:
        rows = connection.execute(
            text(f"SELECT id, next_run_time, job_state FROM {scheduler.JOBS_TABLE}")
        )
        return {row[0]: (row[1], row[2]) for row in rows}


def test_missed_runs_run_once_after_downtime(
    database_url: str, engine: Engine, tmp_path: Path, recorder: Recorder
) -> None:
    config = make_config(
        tmp_path, database_url, smtp_url="smtp://bot:hunter2-secret@mail.example.org"
    )
    first = scheduler.make_scheduler(config, engine)
    first.start(paused=True)
    scheduler.ensure_jobs(first, config)
    # the service was down for three days: every stored run time is long past
    three_days_ago = datetime.now(UTC) - timedelta(days=3)
    for job_id in ("crawl", "digest"):
        first.modify_job(job_id, next_run_time=three_days_ago)
    first.shutdown()
    assert set(stored_jobs(engine)) == {"crawl", "digest"}
    # the config (and its SMTP password) is never pickled into the job store
    assert all(b"hunter2" not in state for _, state in stored_jobs(engine).values())

    again = scheduler.make_scheduler(config, engine)
    again.start(paused=True)
    scheduler.ensure_jobs(again, config)  # same schedule: the stored jobs and run times stay
    again.resume()
    try:
        assert recorder.done.wait(20), "the missed digest did not run"
        time.sleep(1.0)
        digest = again.get_job("digest")
    finally:
        again.shutdown()
    # 72 hourly crawls and three daily digests were missed: each runs once
    assert sorted(recorder.runs) == ["crawl", "digest"]
    assert digest.next_run_time > datetime.now(UTC)
    assert (digest.next_run_time.hour, digest.next_run_time.minute) == (8, 0)
    assert str(digest.next_run_time.tzinfo) == "Asia/Seoul"


def test_changed_schedule_replaces_the_stored_job(
    database_url: str, engine: Engine, tmp_path: Path
) -> None:
    config = make_config(tmp_path, database_url)
    first = scheduler.make_scheduler(config, engine)
    first.start(paused=True)
    scheduler.ensure_jobs(first, config)
    first.shutdown()
    weekly = tmp_path / "weekly"
    weekly.mkdir()
    path = make_config(weekly, database_url).path
    path.write_text(path.read_text().replace('schedule = "0 8 * * *"', 'schedule = "0 8 * * 0"'))
    changed = load_config(path, {})
    second = scheduler.make_scheduler(changed, engine)
    second.start(paused=True)
    try:
        scheduler.ensure_jobs(second, changed)
        job = second.get_job("digest")
    finally:
        second.shutdown()
    assert job.name == "digest [0 8 * * 0] Asia/Seoul"
    assert job.next_run_time.strftime("%A %H:%M") == "Sunday 08:00"


# ---------------------------------------------------------------- status


def test_status_lines(sessions: sessionmaker[Session], database_url: str, tmp_path: Path) -> None:
    config = make_config(
        tmp_path, database_url, smtp_url="smtp://bot:hunter2-secret@mail.example.org"
    )
    assert scheduler.status_lines(config, sessions)[0] == "scheduler: not running"
    now = datetime.now(UTC)
    with sessions.begin() as session:
        run_id = run_history.start_run(session, now - timedelta(minutes=2))
        run_history.count_pages(session, run_id, {"Nowhere": 3})
        run_history.record_error(
            session,
            run_id,
            "Nowhere",
            "http://user:pw-in-url@127.0.0.1:9/feed",
            "Connection refused",
            now,
        )
        run_history.finish_run(session, run_id, "finished", now - timedelta(minutes=1))
    store(sessions, pieces(now)[:2])
    run_digest(config, sessions, now=now)
    scheduler.Lease(sessions, scheduler.LOCK_NAME, "host-a pid 7", timedelta(seconds=30)).acquire(
        now
    )

    lines = scheduler.status_lines(config, sessions)
    joined = "\n".join(lines)
    assert lines[0].startswith("scheduler: running (host-a pid 7, heartbeat ")
    assert re.search(
        r"^crawl: schedule '0 \* \* \* \*', next run \d{4}-\d\d-\d\d \d\d:00 KST", joined, re.M
    )
    assert re.search(
        r"^digest: schedule '0 8 \* \* \*', next run \d{4}-\d\d-\d\d 08:00 KST", joined, re.M
    )
    assert f"last crawl: run {run_id} finished" in joined and "took 60s: 3 pages" in joined
    nowhere = "  Nowhere: 3 pages, 0 new, 0 updated, 1 errors"
    assert f"{nowhere} (first: http://user:***@127.0.0.1:9/feed: Connection refused)" in lines
    assert re.search(
        r"^last digest: up to .* KST, 1 stories, written \(no recipients\): /", joined, re.M
    )
    assert "hunter2" not in joined and "pw-in-url" not in joined


# ---------------------------------------------------------------- the real service


class Service:
    """``python scheduler.py`` in a subprocess, its log lines collected as they come."""

    def __init__(self, config: Path, env: dict[str, str]) -> None:
        self.started = time.monotonic()
        self.lines: list[tuple[float, str]] = []
        self.process = subprocess.Popen(
            [sys.executable, str(ROOT / "scheduler.py"), "--config", str(config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd=ROOT,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.lines.append((time.monotonic() - self.started, line.rstrip()))

    def wait_for(self, pattern: str, timeout: float = 90, count: int = 1) -> float:
        """Give when the ``count``-th log line matching ``pattern`` appeared (s after start)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            hits = [at for at, line in list(self.lines) if re.search(pattern, line)]
            if len(hits) >= count:
                return hits[count - 1]
            if self.process.poll() is not None:
                break
            time.sleep(0.1)
        raise AssertionError(f"no log line {pattern!r} (x{count}); log tail:\n{self.tail()}")

    def stop(self) -> tuple[int, float]:
        """SIGTERM; give the exit code and how long the exit took."""
        sent = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(30)
        self._reader.join(5)
        return code, time.monotonic() - sent

    def tail(self, n: int = 40) -> str:
        return "\n".join(line for _, line in self.lines[-n:])


def service_config(directory: Path, *, crawl: str, digest: str, recipients: list[str]) -> Path:
    """The fixture site's config with our schedules, recipients, database and output dir."""
    text = SITE_CONFIG.read_text(encoding="utf-8")
    replacements = {
        r'(?m)^url = "sqlite:///[^"]*"': f'url = "sqlite:///{directory / "archive.db"}"',
        r'(?m)^output_dir = "[^"]*"': f'output_dir = "{directory / "digests"}"',
        r"(?m)^recipients = .*$": f"recipients = {json.dumps(recipients)}",
        r"(?m)^(\[crawl\]\n)schedule = .*$": rf'\1schedule = "{crawl}"',
        r"(?m)^(\[digest\]\n)schedule = .*$": rf'\1schedule = "{digest}"',
    }
    for pattern, value in replacements.items():
        text, count = re.subn(pattern, value, text)
        assert count == 1, pattern
    path = directory / "dramawatch.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def smtp() -> Iterator[Mailbox]:
    box = Mailbox(port=free_port())
    controller = Controller(box, hostname="127.0.0.1", port=box.port)
    controller.start()
    yield box
    controller.stop()


def test_service_crawls_mails_once_stops_on_sigterm_and_resumes(
    crawled_archive: Path, site: FixtureSite, smtp: Mailbox, tmp_path: Path
) -> None:
    shutil.copy(crawled_archive, tmp_path / "archive.db")
    config = service_config(
        tmp_path, crawl="every 2s", digest="every 1s", recipients=["fan@example.org"]
    )
    env = cli_env(site, DRAMAWATCH_SMTP_URL=smtp.url)

    service = Service(config, env)
    try:
        service.wait_for(r"scheduler running")
        service.wait_for(r"digest \d+ mailed to 1 recipient")
        service.wait_for(r"crawl finished in")
        service.wait_for(r"digest finished in .*: 0 new stories, not mailed")
    finally:
        code, took = service.stop()
    assert code == 0, service.tail()
    assert "scheduler stopped" in service.tail()
    assert re.search(
        r"crawl: crawl run \d+ finished: \d+ pages, 0 new, 0 updated articles", service.tail(400)
    )

    assert len(smtp.received) == 1
    (message,) = smtp.messages()
    stories = GOLDEN["counts"]["stories"]
    assert message["Subject"].endswith(f": {stories} new stories")
    body = message.get_body(("plain",))
    assert body is not None
    assert GOLDEN["articles"][0]["title"] in body.get_content()

    sessions = session_factory(make_engine(f"sqlite:///{tmp_path / 'archive.db'}"))
    with sessions() as session:
        runs = session.scalars(select(CrawlRun).order_by(CrawlRun.id)).all()
        assert [r.status for r in runs][:2] == ["finished", "finished"]  # the fixture's, then ours
        assert runs[-1].status in ("finished", "interrupted")
        assert session.scalars(select(Digest).where(Digest.delivered_at.is_not(None))).first()
    assert scheduler.current_holder(sessions) is None  # the lease was released

    # a restart resumes from the job store at once, and mails nothing twice
    restart = Service(config, env)
    try:
        restart.wait_for(r"scheduler running")
        first_job = restart.wait_for(r"(crawl|digest) started")
        restart.wait_for(r"digest finished in")
        resumed = restart.wait_for(r"job resumed from the job store", count=2)
    finally:
        code, took = restart.stop()
    assert code == 0, restart.tail()
    assert resumed < first_job + 1
    assert len(smtp.received) == 1
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "scheduler-restart.txt").write_text(
        f"scheduler restart: first job started {first_job:.2f}s after process start\n",
        encoding="utf-8",
    )
    print(f"\nscheduler restart: first job {first_job:.2f}s after start; SIGTERM exit {took:.2f}s")


def test_second_scheduler_waits_and_takes_over(tmp_path: Path) -> None:
    config = service_config(tmp_path, crawl="0 0 1 1 *", digest="0 0 1 1 *", recipients=[])
    env = cli_env()
    upgrade(make_engine(f"sqlite:///{tmp_path / 'archive.db'}"))
    first = Service(config, env)
    second: Service | None = None
    try:
        first.wait_for(r"scheduler running")
        second = Service(config, env)
        second.wait_for(r"another scheduler is active on this database \(.*:\d+ ")
        time.sleep(1)
        assert not any("scheduler running" in line for _, line in second.lines)
        code, _ = first.stop()
        assert code == 0
        second.wait_for(r"scheduler running", timeout=scheduler.STANDBY_POLL_S + 20)
        waiting = [line for _, line in second.lines if "another scheduler is active" in line]
        assert len(waiting) == 1  # said once, not every heartbeat
    finally:
        if first.process.poll() is None:
            first.stop()
        if second is not None:
            code, _ = second.stop()
            assert code == 0


def test_bad_config_exits_2_with_one_line(tmp_path: Path) -> None:
    broken = tmp_path / "broken.toml"
    broken.write_text("[crawl]\nschedule = 'every fortnight'\n", encoding="utf-8")
    env = {**cli_env(), "DRAMAWATCH_CONFIG": str(broken)}
    result = subprocess.run(
        [sys.executable, str(ROOT / "scheduler.py")],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and str(broken) in lines[0] and "crawl.schedule" in lines[0], (
        result.stderr
    )
    assert "Traceback" not in result.stderr


def test_systemd_unit_runs_serve_and_stops_with_sigterm() -> None:
    unit = (ROOT / "deploy" / "dramawatch.service").read_text(encoding="utf-8")
    settings = dict(
        line.split("=", 1) for line in unit.splitlines() if "=" in line and not line.startswith("#")
    )
    assert settings["ExecStart"].endswith(" serve")
    assert settings["KillSignal"] == "SIGTERM" and settings["KillMode"] == "mixed"
    assert settings["RestartPreventExitStatus"] == "2"  # a bad config is not retried in a loop
    assert "SMTP" not in settings.get("Environment", "")  # secrets come from EnvironmentFile
