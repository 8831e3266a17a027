"""Apprise URLs are secrets: checking one must not let apprise log it.

Apprise logs the URLs it is given (an unparsable one in full, at ERROR) and, at DEBUG, the
endpoints it posts to, tokens in their paths included. dramawatch reports delivery outcomes
itself, from apprise's per-call result, so apprise's own logger is cut off from ours.
"""

from __future__ import annotations

import logging

APPRISE_LOGGER = "apprise"


def silence_apprise_logging() -> None:
    """Keep apprise's records out of dramawatch's handlers (stderr, the log file)."""
    log = logging.getLogger(APPRISE_LOGGER)
    log.propagate = False
    # every level reaches the per-call result dramawatch reads its failure reasons from
    log.setLevel(logging.DEBUG)
    if not any(isinstance(handler, logging.NullHandler) for handler in log.handlers):
        log.addHandler(logging.NullHandler())


def apprise_can_use(url: str) -> bool:
    """Give whether apprise parses ``url`` into a service it can notify."""
    silence_apprise_logging()
    import apprise

    return bool(apprise.Apprise().add(url))
