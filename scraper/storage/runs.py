"""The crawl-run history: runs, per-source counters and the errors each run met."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    select,
    update,
)
from sqlalchemy.orm import Session, selectinload

from scraper.storage.articles import StoreStatus
from scraper.storage.models import (
    CrawlError,
    CrawlRun,
    RunSource,
)


def start_run(session: Session, now: datetime) -> int:
    run = CrawlRun(
        started_at=now, status="running", pages_fetched=0, articles_new=0, articles_updated=0
    )
    session.add(run)
    session.flush()
    return run.id


def run_source(session: Session, run_id: int, source: str) -> RunSource:
    row = session.get(RunSource, (run_id, source))
    if row is None:
        row = RunSource(
            run_id=run_id,
            source=source,
            pages_fetched=0,
            articles_new=0,
            articles_updated=0,
            errors=0,
        )
        session.add(row)
    return row


def record_error(
    session: Session, run_id: int, source: str, url: str, reason: str, now: datetime
) -> None:
    session.add(CrawlError(run_id=run_id, source=source, url=url, reason=reason, at=now))
    run_source(session, run_id, source).errors += 1


def count_pages(session: Session, run_id: int, counts: dict[str, int]) -> None:
    """Add per-source fetched-page counts to a run (flushed in batches, not per page)."""
    run = session.get_one(CrawlRun, run_id)
    for source, pages in counts.items():
        run_source(session, run_id, source).pages_fetched += pages
        run.pages_fetched += pages


def count_article(session: Session, run_id: int, source: str, status: StoreStatus) -> None:
    run = session.get_one(CrawlRun, run_id)
    row = run_source(session, run_id, source)
    if status == "new":
        run.articles_new += 1
        row.articles_new += 1
    elif status == "updated":
        run.articles_updated += 1
        row.articles_updated += 1


def finish_run(session: Session, run_id: int, status: str, now: datetime) -> None:
    run = session.get_one(CrawlRun, run_id)
    run.status = status
    run.finished_at = now


def recent_runs(session: Session, limit: int | None = 20) -> list[CrawlRun]:
    statement = (
        select(CrawlRun)
        .options(selectinload(CrawlRun.sources), selectinload(CrawlRun.errors))
        .order_by(CrawlRun.id.desc())
    )
    if limit:
        statement = statement.limit(limit)
    return list(session.scalars(statement))


def run_json(run: CrawlRun) -> dict[str, Any]:
    """Give the public JSON object of a crawl run (``runs --format json``)."""
    return {
        "id": run.id,
        "started_at": run.started_at.isoformat(),
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
        "status": run.status,
        "pages_fetched": run.pages_fetched,
        "articles_new": run.articles_new,
        "articles_updated": run.articles_updated,
        "errors": [{"source": e.source, "url": e.url, "reason": e.reason} for e in run.errors],
    }


def running_runs(session: Session) -> list[CrawlRun]:
    """Give the runs still marked running (live ones, or ones whose process died)."""
    return list(session.scalars(select(CrawlRun).where(CrawlRun.status == "running")))


def running_since(session: Session, since: datetime) -> list[int]:
    """Give the ids of the runs started at or after ``since`` and still marked running."""
    return list(
        session.scalars(
            select(CrawlRun.id).where(CrawlRun.status == "running", CrawlRun.started_at >= since)
        )
    )


def claim_run(session: Session, run_id: int, worker: str, now: datetime) -> None:
    """Name the process (host:pid) that runs the crawl, with its first heartbeat."""
    run = session.get_one(CrawlRun, run_id)
    run.worker, run.heartbeat_at = worker, now


def beat(session: Session, run_id: int, now: datetime) -> None:
    """Renew a run's heartbeat: its crawl process is alive."""
    session.execute(update(CrawlRun).where(CrawlRun.id == run_id).values(heartbeat_at=now))
