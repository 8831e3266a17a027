"""Mailing a digest over SMTP, exactly once per window.

The ``digests`` row of a window is the delivery record. :func:`deliver` claims it with
``UPDATE … SET attempts = attempts + 1 WHERE id = ? AND delivered_at IS NULL`` and keeps that
transaction open while the message goes out, then sets ``delivered_at`` in the same
transaction. A second sender (another process, a rerun of ``digest --send``) blocks on the
row (PostgreSQL row lock, SQLite write lock) and then finds it delivered, so it sends nothing.
A refused or failed send records ``last_error`` and leaves ``delivered_at`` empty, so the next
run delivers it. A crash while sending rolls the claim back: the next run sends again, with
the same ``Message-ID``, so a message the server had already accepted can be recognised as
a duplicate (the only gap left is between the server's "250 OK" and our commit).

Passwords never leave this module: errors and logs carry only forms redacted by
:func:`scraper.core.text.redact`.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime
from urllib.parse import parse_qs, unquote, urlsplit

from scraper.core.text import redact
from scraper.storage import digests as digest_records
from scraper.storage.engine import Sessions

logger = logging.getLogger(__name__)

SMTP_TIMEOUT_S = 20.0  # below SQLite's 30 s busy timeout: a hung server cannot stall writers
_DEFAULT_PORTS = {"smtp": 25, "smtps": 465}
_TRUE = ("1", "true", "yes", "on")


class DeliveryError(Exception):
    """The digest could not be mailed; str() is one line, free of secrets."""


@dataclass(frozen=True)
class SmtpSettings:
    """Where and how to submit mail, from ``$DRAMAWATCH_SMTP_URL``."""

    host: str
    port: int
    implicit_tls: bool
    starttls: bool
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    timeout: float = SMTP_TIMEOUT_S

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}"


def parse_smtp_url(url: str) -> SmtpSettings:
    """Give the settings of ``smtp://[user:pass@]host[:port][?starttls=1]`` or ``smtps://…``."""
    parts = urlsplit(url)
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
        raise DeliveryError(f"not an smtp:// or smtps:// URL: {redact(url)}")
    try:
        port = parts.port or _DEFAULT_PORTS[parts.scheme]
    except ValueError:
        raise DeliveryError(f"bad port in SMTP URL {redact(url)}") from None
    query = parse_qs(parts.query)
    starttls = query.get("starttls", ["0"])[-1].lower() in _TRUE
    timeout = SMTP_TIMEOUT_S
    if "timeout" in query:
        try:
            timeout = float(query["timeout"][-1])
        except ValueError:
            raise DeliveryError(f"bad timeout in SMTP URL {redact(url)}") from None
    return SmtpSettings(
        host=parts.hostname,
        port=port,
        implicit_tls=parts.scheme == "smtps",
        starttls=starttls and parts.scheme == "smtp",
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password is not None else None,
        timeout=timeout,
    )


def message_id(digest_id: int, window_end: datetime, sender: str, resend: int = 0) -> str:
    """Give the Message-ID of a window's mail: the same for every attempt at one delivery, so
    a resend after a crash can be recognised; a forced resend gets its own."""
    domain = sender.rsplit("@", 1)[-1] or "localhost"
    suffix = f".r{resend}" if resend else ""
    return f"<dramawatch.digest.{digest_id}.{window_end:%Y%m%dT%H%M%SZ}{suffix}@{domain}>"


def compose(
    *,
    subject: str,
    sender: str,
    recipients: Sequence[str],
    text: str,
    html: str,
    message_id: str,
    date: datetime,
) -> EmailMessage:
    """Give one multipart/alternative message: the plain text first, the HTML preferred."""
    message = EmailMessage()
    message["Subject"] = " ".join(subject.split())
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    message["Date"] = format_datetime(date)
    message["Message-ID"] = message_id
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(text, subtype="plain", charset="utf-8")
    message.add_alternative(html, subtype="html", charset="utf-8")
    return message


def transmit(
    message: EmailMessage, settings: SmtpSettings, *, ssl_context: ssl.SSLContext | None = None
) -> None:
    """Submit ``message`` to the server; raise :class:`DeliveryError` with the server's reason."""
    context = ssl_context or ssl.create_default_context()
    try:
        client: smtplib.SMTP
        if settings.implicit_tls:
            client = smtplib.SMTP_SSL(
                settings.host, settings.port, timeout=settings.timeout, context=context
            )
        else:
            client = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout)
        with client:
            client.ehlo()
            if settings.starttls:
                client.starttls(context=context)
                client.ehlo()
            if settings.username:
                client.login(settings.username, settings.password or "")
            refused = client.send_message(message)
    except smtplib.SMTPRecipientsRefused as exc:
        reasons = "; ".join(f"{rcpt}: {_reply(*reply)}" for rcpt, reply in exc.recipients.items())
        raise DeliveryError(
            _clean(f"SMTP {settings.where} refused every recipient: {reasons}", settings)
        ) from None
    except smtplib.SMTPResponseException as exc:
        raise DeliveryError(
            _clean(f"SMTP {settings.where} said {_reply(exc.smtp_code, exc.smtp_error)}", settings)
        ) from None
    except (smtplib.SMTPException, OSError) as exc:
        raise DeliveryError(
            _clean(f"SMTP {settings.where}: {type(exc).__name__}: {exc}", settings)
        ) from None
    for rcpt, reply in refused.items():
        logger.warning(
            "SMTP %s refused %s: %s", settings.where, rcpt, _clean(_reply(*reply), settings)
        )


def _reply(code: int, text: bytes | str) -> str:
    message = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
    return f"{code} {' '.join(message.split())}"


def _clean(reason: str, settings: SmtpSettings) -> str:
    """Give a one-line reason with the password removed, should a server echo it back."""
    reason = " ".join(reason.split())
    if settings.password:
        reason = reason.replace(settings.password, "***")
    return reason[:500]


@dataclass(frozen=True)
class Outgoing:
    """A rendered digest ready to mail."""

    subject: str
    text: str
    html: str


def deliver(
    sessions: Sessions,
    digest_id: int,
    outgoing: Outgoing,
    *,
    smtp: SmtpSettings,
    sender: str,
    recipients: Sequence[str],
    now: datetime,
    force: bool = False,
    ssl_context: ssl.SSLContext | None = None,
) -> bool:
    """Mail the digest row ``digest_id`` unless it was delivered already (or ``force``);
    give whether a message went out. A failed send is recorded on the row and raised as
    :class:`DeliveryError`."""
    failure: DeliveryError | None = None
    with sessions() as session, session.begin():
        row = digest_records.claim_delivery(session, digest_id, force)
        if row is None:
            logger.info("digest %d was mailed already: not sending it again", digest_id)
            return False
        resend = row.attempts if row.delivered_at is not None else 0
        message = compose(
            subject=outgoing.subject,
            sender=sender,
            recipients=recipients,
            text=outgoing.text,
            html=outgoing.html,
            message_id=message_id(digest_id, row.window_end, sender, resend),
            date=now,
        )
        try:
            transmit(message, smtp, ssl_context=ssl_context)
        except DeliveryError as exc:
            # committed with the claim: the attempt and its reason stay on the record
            failure = exc
            digest_records.record_failure(session, digest_id, str(exc))
        else:
            digest_records.record_delivery(session, digest_id, now, recipients)
    if failure is not None:
        logger.error("digest %d not mailed (attempt %d): %s", digest_id, row.attempts, failure)
        raise failure
    logger.info(
        "digest %d mailed to %d recipient(s) via %s as %s",
        digest_id,
        len(recipients),
        smtp.where,
        message["Message-ID"],
    )
    return True
