"""Dates as publishers write them -> tz-aware datetimes: the one date parser, for pages and feeds.

Pure: no clock, no locale, no state. A date written without a zone is read in the zone the caller
names (UTC unless the page or feed is Korean: then KST, as Korean outlets print bylines).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from email.utils import parsedate_to_datetime

# Korea Standard Time: Korean outlets print bylines and feed dates without an offset
KST = timezone(timedelta(hours=9), "KST")
EARLIEST_YEAR = 1990
LATEST_YEAR = 2099
MAX_DATE_CHARS = 100

_CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f\ud800-\udfff\ufffe\uffff]")
_MERIDIEM = r"오전|오후|(?<![A-Za-z])[AaPp]\.?[Mm]\b\.?"
# "2024-04-29 15:05", "2024.04.29. 오후 3:05", "기사입력 2024.04.29. 15:05",
# "2024년 4월 29일 15시 5분"
_NUMERIC_DATE = re.compile(
    r"(?P<year>\d{4})\s*[.\-/년]\s*(?P<month>\d{1,2})\s*[.\-/월]\s*(?P<day>\d{1,2})(?:\s*일)?\.?"
    r"(?:\s*\(?[월화수목금토일]\)?)?"
    rf"(?:(?:\s*T\s*|\s+)(?:(?P<mer>{_MERIDIEM})\s*)?(?P<hour>\d{{1,2}})"
    r"(?::(?P<minute>\d{2})(?::(?P<second>\d{2})(?:\.\d+)?)?"
    r"|\s*시(?:\s*(?P<kminute>\d{1,2})\s*분)?(?:\s*(?P<ksecond>\d{1,2})\s*초)?)"
    rf"(?:\s*(?P<mer_after>{_MERIDIEM})(?![A-Za-z]))?)?"
    r"\s*(?P<zone>Z|UTC|GMT|KST|[+-]\d{2}:?\d{2})?"
)
_COMPACT_DATETIME = re.compile(r"^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})?$")
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_MONTH = r"(?P<month>jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?"
_CLOCK = (
    r"(?:,?\s+(?:at\s+)?(?P<hour>\d{1,2}):(?P<minute>\d{2})(?::(?P<second>\d{2}))?"
    rf"\s*(?P<mer>{_MERIDIEM})?)?"
)
# "April 29, 2024 5:30 PM" / "Apr. 29, 2024 at 5:30 p.m.", as English bylines print them
_MONTH_DAY_YEAR = re.compile(
    rf"\b{_MONTH}\s+(?P<day>\d{{1,2}})(?:st|nd|rd|th)?,?\s+(?P<year>\d{{4}}){_CLOCK}",
    re.IGNORECASE,
)
# "29 April 2024 17:30" / "29th Apr 2024, 5:30 pm"
_DAY_MONTH_YEAR = re.compile(
    rf"\b(?P<day>\d{{1,2}})(?:st|nd|rd|th)?\s+{_MONTH},?\s+(?P<year>\d{{4}}){_CLOCK}",
    re.IGNORECASE,
)
# RFC 2822 as feeds write it: an optional weekday, then day, month name, year
_RFC2822_SHAPE = re.compile(r"^(?:[A-Za-z]{3,9},?\s+)?\d{1,2}\s+[A-Za-z]{3}[a-z]*\.?\s+\d{2,4}\b")


def parse_datetime(value: str, naive_zone: tzinfo = UTC) -> datetime | None:
    """Return a tz-aware datetime from a date string as publishers write it, or None.

    Accepts ISO 8601 / W3C, RFC 2822 (feeds), English bylines with 12-hour clocks ("April 29,
    2024 5:30 PM"), dotted and Korean forms ("2024.04.29 오후 3:05", "입력 2024-04-29 15:05",
    "2024년 4월 29일 15시 5분") and compact "20240426103000". Values without a zone are taken
    to be in ``naive_zone``.
    """
    text = " ".join(_CONTROL_CHARS.sub(" ", value).split())[:MAX_DATE_CHARS]
    if not text:
        return None
    parsed = _parse_iso(text) or _parse_rfc2822(text) or _parse_loose(text)
    if parsed is None or not EARLIEST_YEAR <= parsed.year <= LATEST_YEAR:
        return None
    return aware(parsed, naive_zone)


def aware(value: datetime, naive_zone: tzinfo = UTC) -> datetime:
    """Return `value` with `naive_zone` attached when it has no zone of its own."""
    naive = value.tzinfo is None or value.utcoffset() is None
    return value.replace(tzinfo=naive_zone) if naive else value


def _parse_iso(text: str) -> datetime | None:
    candidate = text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text
    if len(candidate) < 8 or not candidate[:4].isdigit():
        return None
    try:
        return datetime.fromisoformat(candidate)
    except ValueError:
        return None


def _parse_rfc2822(text: str) -> datetime | None:
    # the email parser reads anything with a month name in it, "April 29, 2024 5:30 PM" as 05:30
    if not _RFC2822_SHAPE.match(text) or re.search(_MERIDIEM, text):
        return None
    try:
        return parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def _parse_loose(text: str) -> datetime | None:
    compact = _COMPACT_DATETIME.match(text)
    if compact:
        year, month, day, hour, minute, second = compact.groups()
        return _build(year, month, day, hour, minute, second, "")
    named = _MONTH_DAY_YEAR.search(text) or _DAY_MONTH_YEAR.search(text)
    if named:
        return _build(
            named["year"],
            str(_MONTHS.index(named["month"][:3].lower()) + 1),
            named["day"],
            named["hour"],
            named["minute"],
            named["second"],
            named["mer"] or "",
        )
    match = _NUMERIC_DATE.search(text)
    if match is None:
        return None
    parsed = _build(
        match["year"],
        match["month"],
        match["day"],
        match["hour"],
        match["minute"] or match["kminute"],
        match["second"] or match["ksecond"],
        match["mer"] or match["mer_after"] or "",
    )
    zone = match["zone"]
    return parsed.replace(tzinfo=_zone(zone)) if parsed and zone else parsed


def _build(
    year: str,
    month: str,
    day: str,
    hour: str | None,
    minute: str | None,
    second: str | None,
    meridiem: str,
) -> datetime | None:
    """A naive datetime from matched digits; None when they name no real moment."""
    hours = int(hour or 0)
    half = meridiem.replace(".", "").lower()
    if half in ("오후", "pm") and hours < 12:
        hours += 12
    elif half in ("오전", "am") and hours == 12:
        hours = 0
    try:
        return datetime(int(year), int(month), int(day), hours, int(minute or 0), int(second or 0))
    except ValueError:
        return None


def _zone(name: str) -> timezone | None:
    """The fixed offset a zone suffix names; None (naive, so the caller's zone) if impossible."""
    if name in ("Z", "UTC", "GMT"):
        return UTC
    if name == "KST":
        return KST
    sign = -1 if name.startswith("-") else 1
    digits = name[1:].replace(":", "")
    try:
        return timezone(sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))
    except ValueError:
        return None
