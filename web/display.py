"""Pure helpers that turn archived text (written by strangers) into safe display text.

Article fields come from hostile pages: they may carry markup, control characters, bidi
overrides that reorder the rest of a line, or 10,000-character titles. Templates autoescape;
these helpers do the rest: strip what must never be shown, cut what is too long, keep only
http(s) links, and highlight matches without ever emitting unescaped text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, time, timedelta, tzinfo

from markupsafe import Markup, escape

from scraper.core.match import Matcher
from scraper.core.text import display_text

# Characters XML 1.0 forbids outright: an Atom feed carrying one is not well-formed.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_QUERY_TOKEN = re.compile(r'"([^"]*)"|(\S+)')
_QUERY_WORD = re.compile(r"\w+\*?")
# two highlighted words separated only by these are shown as one highlight ("Kim Soo-hyun")
_JOINABLE_GAP = re.compile(r"[\s\-‐‑–·.']*")


class DateInputError(ValueError):
    """A date parameter that is not a date; str() is the one-line reason."""


def xml_text(text: str | None, limit: int | None = None) -> str:
    """Give ``text`` as display text that is also legal in XML 1.0 (for the Atom feeds)."""
    return _NOT_XML.sub("", display_text(text, limit))


def query_terms(query: str | None) -> list[tuple[str, bool]]:
    """Give the words a full-text query looks for, each with whether it is a prefix (word*).

    Operators (OR) and excluded words (-word) are left out: they are never highlighted.
    """
    terms: list[tuple[str, bool]] = []
    for phrase, word in _QUERY_TOKEN.findall(query or ""):
        if not phrase and (word.upper() == "OR" or (word.startswith("-") and len(word) > 1)):
            continue
        for found in _QUERY_WORD.findall(phrase or word):
            terms.append((found.rstrip("*"), found.endswith("*")))
    return terms


def match_spans(
    text: str,
    terms: Sequence[tuple[str, bool]] = (),
    matcher: Matcher | None = None,
    entities: Iterable[str] = (),
) -> list[tuple[int, int]]:
    """Give the merged (start, end) spans of ``text`` to highlight: the query's words at word
    starts (whole words unless a prefix), and every spelling of the given watched names."""
    spans: list[tuple[int, int]] = []
    for word, prefix in terms:
        tail = r"\w*" if prefix else r"(?!\w)"
        pattern = re.compile(rf"(?<!\w){re.escape(word)}{tail}", re.IGNORECASE)
        spans.extend(found.span() for found in pattern.finditer(text))
    wanted = set(entities)
    if matcher is not None and wanted:
        for mention in matcher.find(text):
            if mention.entity in wanted:
                spans.extend(mention.spans)
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and (
            start <= merged[-1][1] or _JOINABLE_GAP.fullmatch(text, merged[-1][1], start)
        ):
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        elif end > start:
            merged.append((start, end))
    return merged


def highlight(text: str, spans: Sequence[tuple[int, int]]) -> Markup:
    """Give ``text`` escaped, with each span wrapped in <mark>.

    Spans are found on the plain text and every piece is escaped on its own, so a match can
    never fall inside an entity like ``&amp;`` and no character of ``text`` reaches the page
    unescaped; the only markup added is <mark>.
    """
    pieces: list[str] = []
    at = 0
    for start, end in spans:
        pieces.append(str(escape(text[at:start])))
        pieces.append(f"<mark>{escape(text[start:end])}</mark>")
        at = end
    pieces.append(str(escape(text[at:])))
    return Markup("".join(pieces))


def parse_day(value: str | None, name: str) -> date | None:
    """Give the calendar date of a ``YYYY-MM-DD`` parameter (empty: None)."""
    if value is None or not value.strip():
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise DateInputError(f"{name}: not a date (YYYY-MM-DD): {value.strip()[:40]!r}") from None


def parse_instant(value: str | None, name: str) -> datetime | None:
    """Give the instant of a date or ISO 8601 parameter as the CLI reads it (naive: UTC)."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise DateInputError(f"{name}: not an ISO 8601 date or time: {text[:40]!r}") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def day_start(day: date, zone: tzinfo) -> datetime:
    """Give the first instant of ``day`` in ``zone``."""
    return datetime.combine(day, time(), tzinfo=zone)


def day_range(first: date, last: date, zone: tzinfo) -> tuple[datetime, datetime]:
    """Give the [since, until) instants covering the days ``first`` .. ``last`` inclusive."""
    return day_start(first, zone), day_start(last + timedelta(days=1), zone)
