"""The dramawatch service: config -> APScheduler jobs -> crawls and digests, in one process.

``python scheduler.py [--config PATH]`` and ``dramawatch serve`` run :func:`serve`.

- Jobs live in APScheduler's ``SQLAlchemyJobStore`` in the archive database, so a restart
  keeps each job's next run time: a run missed while the service was down runs once when it
  comes back (coalesced; within :data:`CRAWL_GRACE_S` / :data:`DIGEST_GRACE_S`).
- Each crawl is a child process (``python -m scraper.app.cli crawl``): Twisted's reactor cannot be
  restarted inside one process, and a child also gives every crawl a fresh memory footprint
  and lets SIGTERM stop it without touching the scheduler. One worker thread runs the jobs,
  so a crawl never overlaps itself or a digest (which then sees every article the crawl
  before it committed).
- Only one scheduler acts per database: it holds the ``scheduler`` row of ``service_lock``
  and renews it every :data:`HEARTBEAT_S`; a second one says so in one line and waits on
  standby, taking over once the lease is released (within :data:`STANDBY_POLL_S`) or older
  than :data:`LEASE_S`.
- SIGTERM / Ctrl-C: no new job starts, a running crawl is asked to stop (Scrapy's graceful
  shutdown, then a forced one, then SIGKILL), the lease is released, exit 0.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import STATE_STOPPED

from scraper.config import Config, ConfigError, load_config, resolve_config_path
from scraper.config.schedule import parse_schedule
from scraper.core.identity import process_identity
from scraper.core.text import display_text, redact
from scraper.storage import digests as digest_records
from scraper.storage import leases
from scraper.storage import runs as run_history
from scraper.storage.engine import Engine, Session, Sessions, SQLAlchemyError, has_table
from scraper.storage.leases import Lease, LeaseHolder

logger = logging.getLogger(__name__)

LOCK_NAME = "scheduler"
HEARTBEAT_S = 5.0
LEASE_S = 30.0
# How often a standby scheduler checks whether the lease came free.
STANDBY_POLL_S = 2.0
JOBS_TABLE = "apscheduler_jobs"
# How late a missed run may still start (it is coalesced into one run either way).
CRAWL_GRACE_S = 3600
DIGEST_GRACE_S = 7 * 24 * 3600
# Stopping a crawl: Scrapy's graceful shutdown, then its forced one, then SIGKILL.
CRAWL_STOP_S = (4.0, 2.0)
ROOT = Path(__file__).resolve().parents[2]  # the checkout, for the crawl child's PYTHONPATH
_EXIT_OK, _EXIT_FATAL, _EXIT_USAGE = 0, 1, 2


# ---------------------------------------------------------------- the database lease


def current_holder(sessions: Sessions, name: str = LOCK_NAME) -> LeaseHolder | None:
    """Give who holds (or last held) a lease, or None when nobody does."""
    return leases.current_holder(sessions, name)


# ---------------------------------------------------------------- jobs


@dataclass(frozen=True)
class JobSpec:
    id: str
    func: str
    schedule: str
    grace_s: int

    def name(self, timezone: str) -> str:
        """The job's name, which also tells whether a stored job still matches the config."""
        return f"{self.id} [{self.schedule}] {timezone}"


def job_specs(config: Config) -> tuple[JobSpec, JobSpec]:
    return (
        JobSpec("crawl", f"{__name__}:scheduled_crawl", config.crawl.schedule, CRAWL_GRACE_S),
        JobSpec("digest", f"{__name__}:scheduled_digest", config.digest.schedule, DIGEST_GRACE_S),
    )


@dataclass
class Service:
    """What the jobs act on while this process holds the lease."""

    config: Config
    sessions: Sessions
    active: threading.Event = field(default_factory=threading.Event)
    _children: set[subprocess.Popen[str]] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def crawl(self) -> None:
        """Crawl every source once in a child process, logging what it found."""
        if not self.active.is_set():
            return
        started, spawned_at = time.monotonic(), datetime.now(UTC)
        config_path = str(self.config.path.resolve())
        command = [sys.executable, "-m", "scraper.app.cli", "--config", config_path]
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
        logger.info("crawl started")
        # its own session: a Ctrl-C in the terminal reaches the scheduler, which stops the
        # crawl once, instead of the crawl seeing two signals (Scrapy's "force" shutdown)
        child = subprocess.Popen(
            [*command, "crawl"], stdout=subprocess.PIPE, text=True, env=env, start_new_session=True
        )
        with self._lock:
            self._children.add(child)
        try:
            for line in child.stdout or ():
                logger.info("crawl: %s", line.rstrip())
            code = child.wait()
        finally:
            with self._lock:
                self._children.discard(child)
        if code < 0:
            self._close_runs_since(spawned_at)
        stopping = not self.active.is_set()
        outcome = "finished" if code == 0 else "stopped" if stopping else f"failed (exit {code})"
        logger.info("crawl %s in %.1fs", outcome, time.monotonic() - started)
        if not stopping:
            self.alerts("run")

    def alerts(
        self, mode: str, since: datetime | None = None, until: datetime | None = None
    ) -> None:
        """Send the alerts of ``mode``; a failure is logged (and recorded), never fatal."""
        from scraper.alerts.deliver import deliver_alerts

        try:
            deliver_alerts(self.config, self.sessions, mode, since=since, until=until)
        except Exception as exc:  # a failed alert must not stop the service
            logger.error("%s alerts failed: %s", mode, _one_line(exc), exc_info=True)

    def _close_runs_since(self, spawned_at: datetime) -> None:
        """Mark the run a crawl killed by a signal left 'running' as interrupted."""
        now = datetime.now(UTC)
        with self.sessions.begin() as session:
            for run_id in run_history.running_since(session, spawned_at):
                run_history.finish_run(session, run_id, "interrupted", now)

    def digest(self) -> None:
        """Write the digest since the last delivered one, and mail it when mail is set up."""
        if not self.active.is_set():
            return
        started = time.monotonic()
        logger.info("digest started")
        from digests.publish import run_digest
        from digests.send import DeliveryError

        digest = self.config.digest
        send = bool(digest.recipients and self.config.smtp_url)
        if digest.recipients and not self.config.smtp_url:
            logger.warning(
                "digest: recipients are set but DRAMAWATCH_SMTP_URL is not: written only"
            )
        try:
            result = run_digest(self.config, self.sessions, send=send)
        except DeliveryError as exc:
            logger.error("digest not mailed, will retry at the next run: %s", exc)
            return
        except Exception as exc:  # a failed digest must not stop the service
            logger.error("digest failed: %s", _one_line(exc), exc_info=True)
            return
        logger.info(
            "digest finished in %.1fs: %d new stories, %s: %s",
            time.monotonic() - started,
            result.story_count,
            "mailed" if result.sent else "not mailed" if send else "written",
            result.html_path,
        )
        self.alerts("digest", since=result.window_start, until=result.window_end)

    def stop_crawls(self) -> None:
        """Stop running crawls: graceful shutdown, then forced, then SIGKILL."""
        with self._lock:
            children = list(self._children)
        for child in children:
            for wait in CRAWL_STOP_S:
                if child.poll() is not None:
                    break
                logger.info("asking the crawl (pid %d) to stop", child.pid)
                child.send_signal(signal.SIGTERM)
                try:
                    child.wait(wait)
                except subprocess.TimeoutExpired:
                    continue
            if child.poll() is None:
                logger.warning("crawl (pid %d) did not stop: killing it", child.pid)
                child.kill()
                child.wait()


# The service this process runs. The persistent job store keeps only a textual reference to
# a module-level function and its pickled arguments, and the config must not be pickled into
# the database (it carries the SMTP password), so the jobs find the service here.
_ACTIVE: list[Service] = []


def scheduled_crawl() -> None:
    """The crawl job (referenced by the job store as ``scraper.app.service:scheduled_crawl``)."""
    for service in _ACTIVE:
        service.crawl()


def scheduled_digest() -> None:
    """The digest job (referenced by the job store as ``scraper.app.service:scheduled_digest``)."""
    for service in _ACTIVE:
        service.digest()


class _Scheduler(BackgroundScheduler):  # type: ignore[misc]
    """A BackgroundScheduler that processes no jobs once shut down.

    APScheduler 3 wakes its thread once more after ``shutdown()`` and submits the jobs due then
    to the executor it has just closed (agronholm/apscheduler#285): the submission fails and
    the job's next run time moves past a run that never happened, so a run due at shutdown
    would be lost instead of running (coalesced) after the restart.
    """

    def _process_jobs(self) -> float | None:
        if self.state == STATE_STOPPED:
            return None
        wait: float | None = super()._process_jobs()
        return wait


def make_scheduler(config: Config, engine: Engine) -> BackgroundScheduler:
    """Give a scheduler with the persistent job store, one worker and our job defaults."""
    return _Scheduler(
        jobstores={"default": SQLAlchemyJobStore(engine=engine, tablename=JOBS_TABLE)},
        executors={"default": ThreadPoolExecutor(max_workers=1)},
        job_defaults={"coalesce": True, "max_instances": 1},
        timezone=ZoneInfo(config.digest.timezone),
    )


def ensure_jobs(scheduler: BackgroundScheduler, config: Config) -> None:
    """Add the config's jobs, keeping a stored job (and so its missed run) when its schedule
    is unchanged; replacing it when the schedule or time zone changed."""
    timezone = config.digest.timezone
    for spec in job_specs(config):
        try:
            stored = scheduler.get_job(spec.id)
        except Exception as exc:  # a job pickled by an incompatible version: start it afresh
            logger.warning("dropping stored %s job: %s", spec.id, _one_line(exc))
            scheduler.remove_job(spec.id)
            stored = None
        if (
            stored is not None
            and stored.name == spec.name(timezone)
            and stored.func_ref == spec.func
        ):
            logger.info(
                "%s job resumed from the job store: next run %s",
                spec.id,
                _when(stored.next_run_time),
            )
            continue
        job = scheduler.add_job(
            spec.func,
            trigger=parse_schedule(spec.schedule, timezone),
            id=spec.id,
            name=spec.name(timezone),
            replace_existing=True,
            misfire_grace_time=spec.grace_s,
            coalesce=True,
            max_instances=1,
        )
        logger.info(
            "%s job scheduled (%s): next run %s", spec.id, spec.schedule, _when(job.next_run_time)
        )


# ---------------------------------------------------------------- serving


def serve(config: Config) -> int:
    """Run the scheduler in the foreground until SIGTERM or Ctrl-C; give the exit code."""
    from scraper.storage.engine import make_engine, session_factory, upgrade

    _log_at_info(__name__, "digests")
    engine = make_engine(config.database_url)
    upgrade(engine)
    sessions = session_factory(engine)
    stop = threading.Event()
    holder = f"{process_identity()} {uuid.uuid4().hex[:6]}"
    lease = Lease(sessions, LOCK_NAME, holder, timedelta(seconds=LEASE_S))
    service = Service(config, sessions)
    try:
        with _stop_on_signals(stop):
            standby = False
            while not stop.is_set():
                try:
                    other = lease.acquire(datetime.now(UTC))
                except SQLAlchemyError as exc:  # the database is away: keep trying
                    logger.error("cannot reach the database for the lock: %s", _one_line(exc))
                    stop.wait(HEARTBEAT_S)
                    continue
                if other is not None:
                    if not standby:
                        logger.warning(
                            "another scheduler is active on this database (%s, heartbeat %s); "
                            "waiting to take over",
                            other.holder,
                            _when(other.heartbeat_at),
                        )
                        standby = True
                    stop.wait(STANDBY_POLL_S)
                    continue
                standby = False
                _act(service, lease, engine, stop)
    finally:
        try:
            lease.release()
        except SQLAlchemyError as exc:
            logger.warning("could not release the scheduler lock: %s", _one_line(exc))
        engine.dispose()
    logger.info("scheduler stopped")
    return _EXIT_OK


def _act(service: Service, lease: Lease, engine: Engine, stop: threading.Event) -> None:
    """Run the jobs while we hold the lease; return on stop or when the lease is lost."""
    started = time.monotonic()
    logger.info("scheduler lock taken by %s", lease.holder)
    scheduler = make_scheduler(service.config, engine)
    scheduler.start(paused=True)
    try:
        ensure_jobs(scheduler, service.config)
        service.active.set()
        _ACTIVE.append(service)
        scheduler.resume()
        logger.info("scheduler running (ready in %.2fs)", time.monotonic() - started)
        renewed = time.monotonic()
        while not stop.wait(HEARTBEAT_S):
            try:
                if lease.renew(datetime.now(UTC)):
                    renewed = time.monotonic()
                    continue
                logger.error("another scheduler took the lock: standing by")
                return
            except SQLAlchemyError as exc:
                logger.warning("cannot renew the scheduler lock: %s", _one_line(exc))
            if time.monotonic() - renewed > LEASE_S:
                logger.error("could not renew the scheduler lock for %.0fs: standing by", LEASE_S)
                return
    finally:
        service.active.clear()
        scheduler.pause()
        service.stop_crawls()
        scheduler.shutdown(wait=True)
        if service in _ACTIVE:
            _ACTIVE.remove(service)


@contextmanager
def _stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """Turn SIGTERM and SIGINT into ``stop`` while serving (main thread only)."""

    def handler(signum: int, _frame: FrameType | None) -> None:
        if not stop.is_set():
            logger.info("received %s: stopping", signal.Signals(signum).name)
        stop.set()

    previous: dict[int, Any] = {}
    if threading.current_thread() is threading.main_thread():
        for stop_signal in (signal.SIGTERM, signal.SIGINT):
            previous[stop_signal] = signal.signal(stop_signal, handler)
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)


def _log_at_info(*names: str) -> None:
    """Let the service's own loggers through at INFO even when the CLI's root level is
    WARNING: what ran and what it found is the service's output."""
    for name in names:
        log = logging.getLogger(name)
        if log.getEffectiveLevel() > logging.INFO:
            log.setLevel(logging.INFO)


def _when(moment: datetime | None) -> str:
    return moment.isoformat(timespec="seconds") if moment else "never (paused)"


def _one_line(exc: BaseException) -> str:

    text = str(exc).strip().splitlines()
    return redact(f"{type(exc).__name__}: {text[0] if text else ''}")


# ---------------------------------------------------------------- status


def status_lines(config: Config, sessions: Sessions) -> list[str]:
    """Give what ``dramawatch status`` prints: the scheduler, next runs, the last crawl per
    source and the last digest."""
    from digests.build import format_local

    zone = ZoneInfo(config.digest.timezone)
    now = datetime.now(UTC)
    lines = [_scheduler_line(sessions, now, zone)]
    stored = _stored_jobs(sessions)
    for spec in job_specs(config):
        job = stored.get(spec.id)
        if job is not None and job[0] == spec.name(config.digest.timezone):
            next_run = job[1]
            late = next_run is not None and next_run <= now
            note = " (overdue: runs when the scheduler is up)" if late else ""
        else:
            trigger = parse_schedule(spec.schedule, config.digest.timezone)
            next_run = trigger.get_next_fire_time(None, now)
            note = " (once the scheduler starts)"
        when = format_local(next_run, zone) if next_run else "never"
        lines.append(f"{spec.id}: schedule {spec.schedule!r}, next run {when}{note}")
    with sessions() as session:
        lines += _crawl_lines(config, session, zone)
        lines.append(_digest_line(session, zone))
        lines += _alert_lines(config, session, zone)
    return lines


def _alert_lines(config: Config, session: Session, zone: ZoneInfo) -> list[str]:
    """One line per configured alert: its last delivery, its last failure, what waits."""
    from digests.build import format_local
    from scraper.core.text import display_text
    from scraper.storage.alerts import alert_health

    lines = []
    for health in alert_health(session, [alert.name for alert in config.alerts]):
        name = display_text(health.name, 40)
        if health.last_sent_at:
            when = format_local(health.last_sent_at, zone)
            sent = f"last delivery {when} ({_stories(health.last_sent_stories)})"
        else:
            sent = "no delivery yet"
        failed = "no failure"
        if health.last_failure_at:
            reason = display_text(health.last_error or "", 120)
            failed = f"last failure {format_local(health.last_failure_at, zone)}: {reason}"
        line = f"alert {name}: {sent}; {failed}"
        if health.pending:
            line += f"; {_stories(health.pending)} waiting for the next run"
        if health.in_doubt:
            line += f"; {_stories(health.in_doubt)} in doubt (a send was interrupted: not resent)"
        lines.append(line)
    return lines


def _crawl_lines(config: Config, session: Session, zone: ZoneInfo) -> list[str]:
    """The last crawl run, then one line per configured source."""
    from digests.build import format_local
    from scraper.storage import runs as run_history
    from scraper.storage.models import CrawlError

    runs = run_history.recent_runs(session, 1)
    if not runs:
        return ["last crawl: none yet"]
    run = runs[0]
    took = ""
    if run.finished_at:
        took = f", took {(run.finished_at - run.started_at).total_seconds():.0f}s"
    lines = [
        f"last crawl: run {run.id} {run.status}, started {format_local(run.started_at, zone)}"
        f"{took}: {run.pages_fetched} pages, {run.articles_new} new, "
        f"{run.articles_updated} updated articles"
    ]
    per_source = {s.source: s for s in run.sources}
    first_error: dict[str, CrawlError] = {}
    for error in run.errors:
        first_error.setdefault(error.source, error)
    for source in config.sources:
        row = per_source.get(source.name)
        name = display_text(source.name, 40)
        if row is None:
            lines.append(f"  {name}: nothing fetched")
            continue
        line = (
            f"  {name}: {row.pages_fetched} pages, {row.articles_new} new, "
            f"{row.articles_updated} updated, {row.errors} errors"
        )
        failure = first_error.get(source.name)
        if failure is not None:
            url = display_text(redact(failure.url), 80)
            line += f" (first: {url}: {display_text(redact(failure.reason), 100)})"
        lines.append(line)
    return lines


def _stories(count: int) -> str:
    return f"{count} {'story' if count == 1 else 'stories'}"


def _digest_line(session: Session, zone: ZoneInfo) -> str:
    from digests.build import format_local

    digest = digest_records.latest(session)
    if digest is None:
        return "last digest: none yet"
    if digest.delivered_at and digest.recipients:
        when = format_local(digest.delivered_at, zone)
        state = f"mailed to {len(digest.recipients)} recipient(s) at {when}"
    elif digest.delivered_at:
        state = "written (no recipients)"
    elif digest.last_error:
        reason = display_text(digest.last_error, 120)
        state = f"not mailed yet after {digest.attempts} attempt(s): {reason}"
    else:
        state = "not mailed yet"
    return (
        f"last digest: up to {format_local(digest.window_end, zone)}, "
        f"{digest.story_count} stories, {state}: {digest.html_path}"
    )


def _scheduler_line(sessions: Sessions, now: datetime, zone: ZoneInfo) -> str:
    from digests.build import format_local

    holder = current_holder(sessions)
    if holder is None:
        return "scheduler: not running"
    age = (now - holder.heartbeat_at).total_seconds()
    if age <= LEASE_S:
        return f"scheduler: running ({holder.holder}, heartbeat {age:.0f}s ago)"
    last = format_local(holder.heartbeat_at, zone)
    return f"scheduler: not running (last seen {last}, {holder.holder})"


def _stored_jobs(sessions: Sessions) -> dict[str, tuple[str, datetime | None]]:
    """Give each stored job's name and next run time, read without starting a scheduler."""
    with sessions() as session:
        engine = session.get_bind()
    if not isinstance(engine, Engine) or not has_table(engine, JOBS_TABLE):
        return {}
    store = SQLAlchemyJobStore(engine=engine, tablename=JOBS_TABLE)
    jobs: dict[str, tuple[str, datetime | None]] = {}
    for job_id in ("crawl", "digest"):
        try:
            job = store.lookup_job(job_id)
        except Exception:  # an unreadable stored job is as good as none for status
            job = None
        if job is not None:
            jobs[job_id] = (job.name, job.next_run_time)
    return jobs


# ---------------------------------------------------------------- python scheduler.py


def main(argv: list[str] | None = None) -> int:
    """``python scheduler.py [--config PATH] [-v]``: the same as ``dramawatch serve``."""
    parser = argparse.ArgumentParser(
        prog="scheduler.py", description=__doc__.splitlines()[0] if __doc__ else None
    )
    parser.add_argument(
        "--config", help="dramawatch.toml (default: $DRAMAWATCH_CONFIG, else ./dramawatch.toml)"
    )
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="-vv: debug output on stderr"
    )
    args = parser.parse_args(argv)
    from scraper.app.cli import setup_logging

    # a service in the foreground: what ran and what it found goes to stderr (the journal)
    verbosity = max(args.verbose, 1)
    setup_logging(verbosity)
    try:
        config = load_config(resolve_config_path(args.config, os.environ))
    except ConfigError as exc:
        print(f"scheduler.py: config error: {exc}", file=sys.stderr)
        return _EXIT_USAGE
    setup_logging(verbosity, config.log)
    try:
        return serve(config)
    except Exception as exc:  # the last line of defence: one line out, the traceback to the log
        logger.debug("serve failed", exc_info=True)
        print(f"scheduler.py: {_one_line(exc)}", file=sys.stderr)
        return _EXIT_FATAL
