"""One alert run: claim the alert's undelivered stories, send one message, record it.

Claim, then send, then mark (see :mod:`scraper.storage.alerts`): the claim commits before the
message goes out, so a second scheduler or a rerun finds the stories taken, and the outcome is
recorded after, so a failed message leaves its stories for the next run.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.orm import Session, sessionmaker

from scraper.alerts.build import AlertMessage, alert_label, build_message, probe_message
from scraper.alerts.send import SendOutcome, mask_secrets, send
from scraper.config import AlertConfig, Config
from scraper.storage import alerts as deliveries

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class AlertOutcome:
    alert: str
    stories: int
    delivered: bool
    reason: str | None = None

    def line(self) -> str:
        """The one line the command line prints."""
        noun = "story" if self.stories == 1 else "stories"
        if self.delivered:
            return f"alert {self.alert}: {self.stories} {noun} delivered"
        waits = "waits" if self.stories == 1 else "wait"
        return (
            f"alert {self.alert}: not delivered ({self.reason}); "
            f"{self.stories} {noun} {waits} for the next run"
        )


def deliver_alerts(
    config: Config,
    sessions: sessionmaker[Session],
    mode: str,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    now: datetime | None = None,
) -> list[AlertOutcome]:
    """Run every alert of ``mode`` ("run" after a crawl, "digest" with a digest of the window
    ``[since, until)``); give the outcome of each alert that had something to send."""
    outcomes = []
    for alert in config.alerts:
        if alert.mode != mode:
            continue
        outcome = deliver_alert(config, sessions, alert, since=since, until=until, now=now)
        if outcome is not None:
            outcomes.append(outcome)
    return outcomes


def deliver_alert(
    config: Config,
    sessions: sessionmaker[Session],
    alert: AlertConfig,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    now: datetime | None = None,
) -> AlertOutcome | None:
    """Send one message with the alert's undelivered stories; None when there are none."""
    now = now or datetime.now(UTC)
    claim = uuid.uuid4().hex
    with sessions.begin() as session:
        start = since or deliveries.latest_run_start(session) or now
        deliveries.ensure_alert(session, alert.name, start)
        story_ids = deliveries.claim_stories(
            session, alert=alert.name, watch=alert.watch, until=until or now, claim=claim, now=now
        )
        stories = deliveries.alert_stories(session, story_ids) if story_ids else []
    if not story_ids:
        logger.debug("alert %s: nothing new", alert.name)
        return None
    kinds = {w.name: w.kind for w in config.watch}
    message = build_message(
        stories,
        label=alert_label([(name, kinds.get(name, "other")) for name in alert.watch]),
        watch_order=[w.name for w in config.watch],
        max_items=alert.max_items,
        body_format=alert.format,
    )
    sent = _send(alert, message)
    with sessions.begin() as session:
        deliveries.mark_claim(
            session,
            alert=alert.name,
            claim=claim,
            delivered=sent.delivered,
            stories=len(story_ids),
            error=sent.reason,
            now=datetime.now(UTC),
        )
    outcome = AlertOutcome(alert.name, len(story_ids), sent.delivered, sent.reason)
    if sent.delivered:
        logger.info("%s", outcome.line())
    else:
        logger.warning("%s", outcome.line())
    return outcome


def send_test(alert: AlertConfig) -> SendOutcome:
    """Send ``dramawatch alerts test NAME``'s message; nothing is recorded."""
    return _send(alert, probe_message(alert.name, alert.format))


def _send(alert: AlertConfig, message: AlertMessage) -> SendOutcome:
    try:
        return send(alert.url, message)
    except Exception as exc:  # apprise raised: nothing went out, the stories stay owed
        return SendOutcome(False, mask_secrets(f"{type(exc).__name__}: {exc}", [alert.url]))
