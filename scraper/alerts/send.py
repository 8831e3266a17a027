"""Sending one message through apprise, and keeping the apprise URL out of every log line.

An apprise URL is a secret as a whole: besides passwords, services put tokens in the host
(``ntfy://topic``), the path (``tgram://bot-token/chat``) or the query. So the URL and each of
its parts are masked in the failure reasons dramawatch records, and in every record that
reaches dramawatch's log handlers (urllib3 logs the paths it posts to at DEBUG). apprise's
own logger is cut off from those handlers altogether.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from urllib.parse import parse_qsl, unquote, urlsplit

from scraper.alerts.build import AlertMessage
from scraper.config.apprise_urls import silence_apprise_logging

logger = logging.getLogger(__name__)

# the longest a whole notify() call may take, every retry included
SEND_TIMEOUT_S = 30.0
MASK = "***"
# shorter parts of a URL ("api", a port) are no secret and would mask ordinary words
_MIN_SECRET_CHARS = 4
_HTTP_LOGGERS = frozenset({"urllib3", "requests", "apprise"})


@dataclass(frozen=True)
class SendOutcome:
    delivered: bool
    reason: str | None = None


def secret_parts(url: str) -> list[str]:
    """Give the pieces of ``url`` that must never be shown, longest first."""
    parts = {url, unquote(url)}
    try:
        split = urlsplit(url)
        pieces = [
            split.netloc,
            split.username,
            split.password,
            split.hostname,
            split.path.strip("/"),
            split.query,
            # a bot token as host:port (tgram://id:token/) is no user:password pair
            *re.split(r"[:@]", split.netloc),
            *split.path.split("/"),
            *(value for _, value in parse_qsl(split.query)),
        ]
    except ValueError:  # an unparsable URL: only the whole of it is known
        pieces = []
    for piece in pieces:
        if piece and len(piece) >= _MIN_SECRET_CHARS:
            parts.update({piece, unquote(piece)})
    return sorted(parts, key=len, reverse=True)


def _whole(url: str) -> list[str]:
    """Give the URL as written and unquoted, and its password."""
    try:
        password = urlsplit(url).password
    except ValueError:
        password = None
    parts = [url, unquote(url), password or ""]
    return [part for part in parts if len(part) >= _MIN_SECRET_CHARS]


def mask_secrets(text: str, urls: list[str] | tuple[str, ...] | set[str]) -> str:
    """Give ``text`` with each of these URLs, and every part of them, replaced by ***."""
    for url in urls:
        for part in secret_parts(url):
            text = text.replace(part, MASK)
    return text


class SecretFilter(logging.Filter):
    """Masks the apprise URLs dramawatch sends through in every record a handler emits.

    The HTTP libraries apprise posts through log request paths, so their records lose every
    part of a URL; anyone else's lose the whole URL and its password only (a path segment such
    as "news" must not vanish from a crawl's log lines).
    """

    def __init__(self) -> None:
        super().__init__()
        self._urls: set[str] = set()
        # every part of each URL, and its whole form, worked out once in add(), not for every
        # record; tuples replaced whole, so a record in another thread sees one or the other
        self._parts: tuple[list[str], ...] = ()
        self._whole: tuple[list[str], ...] = ()

    def add(self, url: str) -> None:
        """Mask ``url`` from now on."""
        if url not in self._urls:
            self._urls.add(url)
            self._parts = (*self._parts, secret_parts(url))
            self._whole = (*self._whole, _whole(url))

    def filter(self, record: logging.LogRecord) -> bool:
        masks = self._parts if record.name.split(".")[0] in _HTTP_LOGGERS else self._whole
        if not masks:
            return True
        message = record.getMessage()
        cleaned = message
        for parts in masks:
            for part in parts:
                cleaned = cleaned.replace(part, MASK)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


# one filter for the process: logging's handlers are process-wide too
_SECRETS = SecretFilter()


def protect(url: str) -> None:
    """Mask ``url`` in every record of the root logger's handlers, from now on."""
    silence_apprise_logging()
    _SECRETS.add(url)
    for handler in logging.getLogger().handlers:
        if _SECRETS not in handler.filters:
            handler.addFilter(_SECRETS)


def send(url: str, message: AlertMessage) -> SendOutcome:
    """Send ``message`` through the apprise URL; give whether the service took it, and why
    not (secrets masked) when it did not. apprise turns a service's failure into its result;
    anything it raises is the caller's to record as a failure."""
    protect(url)
    import apprise

    asset = apprise.AppriseAsset(
        app_id="dramawatch",
        app_desc="dramawatch alerts",
        storage_mode="memory",  # apprise's persistent store would write under $HOME
        secure_logging=True,
    )
    notifier = apprise.Apprise(asset=asset)
    if not notifier.add(url):
        return SendOutcome(False, "apprise cannot use the URL")
    result = notifier.notify(
        body=message.body,
        title=message.title,
        body_format=message.body_format,
        timeout=SEND_TIMEOUT_S,
        log_level=logging.DEBUG,  # kept in the result only: apprise's logger is cut off
    )
    if result:
        return SendOutcome(True)
    # the warnings say what failed; the socket's own error (refused, timed out) is at DEBUG
    reasons = [
        entry.message
        for entry in result.logs()
        if entry.level in ("WARNING", "ERROR", "CRITICAL")
        or entry.message.startswith("Socket Exception")
    ]
    reason = "; ".join(dict.fromkeys(reasons)) or f"apprise: {result.status.name.lower()}"
    return SendOutcome(False, mask_secrets(" ".join(reason.split()), [url])[:500])
