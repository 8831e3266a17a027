"""Alert deliveries: which stories each push alert has claimed, sent or still owes.

A story reaches an alert once. Delivery is claim, then send, then mark:

- :func:`claim_stories` upserts one ``alert_deliveries`` row per story, guarded by the unique
  (alert, story) constraint: a new row, or a *failed* one, becomes this claim's; a row that is
  delivered or claimed by someone else is left alone. Two schedulers, or a rerun, never hold
  the same story.
- the caller commits the claim, sends one message, then :func:`mark_claim` records it as
  delivered or failed. A failed claim is the backlog: the next claim takes it again.
- a process that dies between sending and marking leaves its rows claimed. They are never
  sent again (the message may have gone out); ``status`` counts them as in doubt.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import exists, func, select, update
from sqlalchemy.orm import Session, selectinload

from scraper.storage.engine import insert_for
from scraper.storage.models import Alert, AlertDelivery, Article, CrawlRun, Mention, Story

CLAIMED, DELIVERED, FAILED = "claimed", "delivered", "failed"
# rows per INSERT statement (SQLite's bound-parameter limit)
_CHUNK = 500


@dataclass(frozen=True)
class AlertStory:
    """A story as an alert lists it: its copies' outlets, the first copy's link."""

    story_id: int
    title: str
    when: datetime
    outlets: tuple[str, ...]
    url: str
    entities: tuple[str, ...]


@dataclass(frozen=True)
class AlertHealth:
    """What `status` and /sources show of one alert."""

    name: str
    since: datetime | None
    last_sent_at: datetime | None
    last_sent_stories: int
    last_failure_at: datetime | None
    last_error: str | None
    delivered: int
    pending: int
    in_doubt: int


def latest_run_start(session: Session) -> datetime | None:
    """Give when the latest crawl run started (where a new "run" alert begins)."""
    return session.scalar(select(func.max(CrawlRun.started_at)))


def ensure_alert(session: Session, name: str, since: datetime) -> None:
    """Record an alert the first time it runs; its stories are those first seen from ``since``."""
    session.execute(
        insert_for(session, Alert)
        .values(name=name, since=since, last_sent_stories=0)
        .on_conflict_do_nothing(index_elements=[Alert.name])
    )


def claim_stories(
    session: Session,
    *,
    alert: str,
    watch: Sequence[str],
    until: datetime,
    claim: str,
    now: datetime,
) -> list[int]:
    """Claim the alert's stories first seen before ``until`` that mention one of ``watch`` and
    were not delivered (nor claimed by another run); give the claimed story ids."""
    since = session.scalar(select(Alert.since).where(Alert.name == alert))
    if since is None:
        return []
    mentions_watch = exists(
        select(Mention.id)
        .join(Article, Article.id == Mention.article_id)
        .where(Article.story_id == Story.id, Mention.entity.in_(list(watch)))
    )
    taken = exists(
        select(AlertDelivery.id).where(
            AlertDelivery.alert == alert,
            AlertDelivery.story_id == Story.id,
            AlertDelivery.state != FAILED,
        )
    )
    candidates = list(
        session.scalars(
            select(Story.id).where(
                Story.first_seen_at >= since, Story.first_seen_at < until, mentions_watch, ~taken
            )
        )
    )
    for start in range(0, len(candidates), _CHUNK):
        rows = [
            {
                "alert": alert,
                "story_id": story_id,
                "state": CLAIMED,
                "claim": claim,
                "claimed_at": now,
                "attempts": 0,
            }
            for story_id in candidates[start : start + _CHUNK]
        ]
        statement = insert_for(session, AlertDelivery).values(rows)
        session.execute(
            statement.on_conflict_do_update(
                index_elements=[AlertDelivery.alert, AlertDelivery.story_id],
                set_={"state": CLAIMED, "claim": claim, "claimed_at": now},
                where=AlertDelivery.state == FAILED,
            )
        )
    return list(
        session.scalars(
            select(AlertDelivery.story_id).where(
                AlertDelivery.alert == alert,
                AlertDelivery.claim == claim,
                AlertDelivery.state == CLAIMED,
            )
        )
    )


def alert_stories(session: Session, story_ids: Sequence[int]) -> list[AlertStory]:
    """Give the stories with these ids, each with its copies' outlets and watch names."""
    stories = session.scalars(
        select(Story)
        .where(Story.id.in_(list(story_ids)))
        .options(selectinload(Story.articles).selectinload(Article.mentions))
    ).all()
    found = []
    for story in stories:
        copies = sorted(story.articles, key=lambda a: (a.published_at or a.first_seen_at, a.id))
        if not copies:
            continue
        found.append(
            AlertStory(
                story_id=story.id,
                title=story.title or copies[0].title,
                when=copies[0].published_at or copies[0].first_seen_at,
                outlets=tuple(dict.fromkeys(a.source for a in copies)),
                url=copies[0].canonical_url,
                entities=tuple(dict.fromkeys(m.entity for a in copies for m in a.mentions)),
            )
        )
    return found


def mark_claim(
    session: Session,
    *,
    alert: str,
    claim: str,
    delivered: bool,
    stories: int,
    error: str | None,
    now: datetime,
) -> None:
    """Record how the message of a claim went: its stories delivered, or failed (the backlog
    the next claim takes again) with the reason."""
    values: dict[str, Any] = {"attempts": AlertDelivery.attempts + 1}
    if delivered:
        values.update(state=DELIVERED, delivered_at=now, last_error=None)
    else:
        values.update(state=FAILED, last_error=error)
    session.execute(
        update(AlertDelivery)
        .where(
            AlertDelivery.alert == alert,
            AlertDelivery.claim == claim,
            AlertDelivery.state == CLAIMED,
        )
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    record_outcome(session, alert=alert, delivered=delivered, stories=stories, error=error, now=now)


def record_outcome(
    session: Session, *, alert: str, delivered: bool, stories: int, error: str | None, now: datetime
) -> None:
    """Keep an alert's last delivery or last failure for `status` and /sources."""
    values: dict[str, Any] = (
        {"last_sent_at": now, "last_sent_stories": stories}
        if delivered
        else {"last_failure_at": now, "last_error": error}
    )
    session.execute(
        update(Alert)
        .where(Alert.name == alert)
        .values(**values)
        .execution_options(synchronize_session=False)
    )


def alert_health(session: Session, names: Sequence[str]) -> list[AlertHealth]:
    """Give each configured alert's last delivery, last failure and delivery counts."""
    rows = {row.name: row for row in session.scalars(select(Alert).where(Alert.name.in_(names)))}
    counts: dict[tuple[str, str], int] = {
        (alert, state): count
        for alert, state, count in session.execute(
            select(AlertDelivery.alert, AlertDelivery.state, func.count())
            .where(AlertDelivery.alert.in_(names))
            .group_by(AlertDelivery.alert, AlertDelivery.state)
        )
    }
    health = []
    for name in names:
        row = rows.get(name)
        health.append(
            AlertHealth(
                name=name,
                since=row.since if row else None,
                last_sent_at=row.last_sent_at if row else None,
                last_sent_stories=row.last_sent_stories if row else 0,
                last_failure_at=row.last_failure_at if row else None,
                last_error=row.last_error if row else None,
                delivered=counts.get((name, DELIVERED), 0),
                pending=counts.get((name, FAILED), 0),
                in_doubt=counts.get((name, CLAIMED), 0),
            )
        )
    return health
