"""Named leases and locks in ``service_lock``: the scheduler's lease and the digest lock."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, delete, select, update
from sqlalchemy.orm import Session, sessionmaker

from scraper.storage.engine import insert_for
from scraper.storage.models import ServiceLock


@dataclass(frozen=True)
class LeaseHolder:
    holder: str
    heartbeat_at: datetime


class Lease:
    """A named lease in ``service_lock``: held while its heartbeat is younger than ``ttl``."""

    def __init__(
        self, sessions: sessionmaker[Session], name: str, holder: str, ttl: timedelta
    ) -> None:
        self.sessions = sessions
        self.name = name
        self.holder = holder
        self.ttl = ttl

    def acquire(self, now: datetime) -> LeaseHolder | None:
        """Take or renew the lease when it is free, ours or stale; give None when we hold it,
        else who does."""
        with self.sessions.begin() as session:
            session.execute(
                insert_for(session, ServiceLock)
                .values(name=self.name, holder=self.holder, heartbeat_at=now)
                .on_conflict_do_update(
                    index_elements=[ServiceLock.name],
                    set_={"holder": self.holder, "heartbeat_at": now},
                    where=(ServiceLock.holder == self.holder)
                    | (ServiceLock.heartbeat_at < now - self.ttl),
                )
            )
            row = session.execute(
                select(ServiceLock.holder, ServiceLock.heartbeat_at).where(
                    ServiceLock.name == self.name
                )
            ).one()
        return None if row.holder == self.holder else LeaseHolder(row.holder, row.heartbeat_at)

    def renew(self, now: datetime) -> bool:
        """Give whether we still hold the lease (and push its heartbeat to ``now``)."""
        with self.sessions.begin() as session:
            result = cast(
                CursorResult[Any],
                session.execute(
                    update(ServiceLock)
                    .where(ServiceLock.name == self.name, ServiceLock.holder == self.holder)
                    .values(heartbeat_at=now)
                ),
            )
            return result.rowcount == 1

    def release(self) -> None:
        """Give the lease up, if we hold it, so a standby takes over at once."""
        with self.sessions.begin() as session:
            session.execute(
                delete(ServiceLock).where(
                    ServiceLock.name == self.name, ServiceLock.holder == self.holder
                )
            )


def current_holder(sessions: sessionmaker[Session], name: str) -> LeaseHolder | None:
    """Give who holds (or last held) a lease, or None when nobody does."""
    with sessions() as session:
        row = session.execute(
            select(ServiceLock.holder, ServiceLock.heartbeat_at).where(ServiceLock.name == name)
        ).one_or_none()
    return LeaseHolder(row.holder, row.heartbeat_at) if row else None


def take_lock(session: Session, name: str, holder: str, now: datetime) -> None:
    """Serialise writers across processes on the lock ``name`` until this transaction ends:
    the row (PostgreSQL) or the database write lock (SQLite) is held until it commits."""
    session.execute(
        insert_for(session, ServiceLock)
        .values(name=name, holder=holder, heartbeat_at=now)
        .on_conflict_do_update(
            index_elements=[ServiceLock.name], set_={"holder": holder, "heartbeat_at": now}
        )
    )
