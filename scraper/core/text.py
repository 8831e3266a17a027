"""Text from strangers made safe to show, and secrets kept out of what is shown.

:func:`display_text` is the one sanitiser for every place that shows archived text (terminal,
CSV, digest, web): article fields come from hostile pages and may carry control characters,
bidi overrides that reorder the rest of a line, or 10,000-character titles.
:func:`redact` is the one redactor for every message that may hold a URL with a password.
"""

from __future__ import annotations

import re
import unicodedata

# the bidi embedding, override and isolate controls, and the bidi marks: an unclosed U+202E
# would reverse the rest of a terminal or page line
BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)
# a URL with a scheme, up to the next whitespace: its userinfo may hold a password
_URL = re.compile(r"(?i)\b[a-z][a-z0-9+.\-]*://\S*")


def display_text(text: str | None, limit: int | None = None) -> str:
    """Give ``text`` as one line of at most ``limit`` characters: control characters (NUL
    included) and bidi controls removed, lone surrogates and unassigned characters dropped,
    whitespace collapsed, long text cut at a word boundary with '…'."""
    if not text:
        return ""
    if text.isprintable():
        # the common case, checked in C: no control, format (bidi), surrogate, private or
        # unassigned character, so only whitespace needs collapsing
        return _cut(" ".join(text.split()), limit)
    kept = []
    for char in text:
        if char in BIDI_CONTROLS:
            continue
        category = unicodedata.category(char)
        if category == "Cc":
            kept.append(" ")
        elif category not in ("Cs", "Co", "Cn"):
            kept.append(char)
    return _cut(" ".join("".join(kept).split()), limit)


def _cut(text: str, limit: int | None) -> str:
    if limit is None or len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space > limit // 2:
        cut = cut[:space]
    return cut.rstrip() + "…"


def redact(text: str) -> str:
    """Give ``text`` with the password of every URL in it replaced by ``***``.

    Any scheme in any case (``REDIS://``, ``postgresql+psycopg://``, ``smtps://``); the
    password runs from the first ``:`` of the userinfo to the *last* ``@`` of the URL, so an
    unencoded ``@ : / #`` in it does not let its tail through.
    """
    return _URL.sub(_redact_url, text)


def _redact_url(found: re.Match[str]) -> str:
    url = found.group(0)
    scheme, _, rest = url.partition("://")
    userinfo, at, host = rest.rpartition("@")
    if not at:
        return url
    user, colon, password = userinfo.partition(":")
    if not colon or not password or any(mark in user for mark in "/?#"):
        return url  # no password, or the @ is in the path or query
    return f"{scheme}://{user}:***@{host}"
