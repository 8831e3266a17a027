"""scraper.core.dates: the date forms publishers write, and dateparser as an oracle on them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import dateparser
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scraper.core.dates import KST, parse_datetime

NINE_HOURS = timezone(timedelta(hours=9))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-04-26T10:30:00+09:00", datetime(2024, 4, 26, 10, 30, tzinfo=NINE_HOURS)),
        ("2024-04-26T10:30:00+0900", datetime(2024, 4, 26, 10, 30, tzinfo=NINE_HOURS)),
        ("2024-04-26T01:30:00Z", datetime(2024, 4, 26, 1, 30, tzinfo=UTC)),
        ("2024-04-26T10:30:00", datetime(2024, 4, 26, 10, 30, tzinfo=UTC)),
        ("2024-04-26", datetime(2024, 4, 26, tzinfo=UTC)),
        ("2024.04.26 10:30", datetime(2024, 4, 26, 10, 30, tzinfo=UTC)),
        ("입력 2024.04.26 10:30", datetime(2024, 4, 26, 10, 30, tzinfo=UTC)),
        ("2024.04.26(금) 10:30", datetime(2024, 4, 26, 10, 30, tzinfo=UTC)),
        ("2024/04/26 10:30 KST", datetime(2024, 4, 26, 10, 30, tzinfo=NINE_HOURS)),
        ("2024년 4월 26일 오후 3:05", datetime(2024, 4, 26, 15, 5, tzinfo=UTC)),
        ("2024. 4. 26. 오전 12:05", datetime(2024, 4, 26, 0, 5, tzinfo=UTC)),
        ("20240426103000", datetime(2024, 4, 26, 10, 30, tzinfo=UTC)),
        ("Fri, 26 Apr 2024 10:30:00 +0900", datetime(2024, 4, 26, 10, 30, tzinfo=NINE_HOURS)),
        ("Fri, 26 Apr 2024 01:30:00 GMT", datetime(2024, 4, 26, 1, 30, tzinfo=UTC)),
        ("April 26, 2024", datetime(2024, 4, 26, tzinfo=UTC)),
        ("Apr. 26, 2024 at 3:05 p.m.", datetime(2024, 4, 26, 15, 5, tzinfo=UTC)),
        ("sometime last week", None),
        ("2024.13.45", None),
        ("2024-04-26T25:00:00", None),
        ("1970-01-01", None),
        ("", None),
        ("\x00\x01", None),
    ],
)
def test_parse_datetime(value: str, expected: datetime | None) -> None:
    parsed = parse_datetime(value)
    assert parsed == expected
    if parsed is not None:
        assert parsed.tzinfo is not None
        assert parsed.utcoffset() == expected.utcoffset()  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        # 12-hour clocks: the email-date parser used to read these as 05:30
        ("April 29, 2024 5:30 PM", datetime(2024, 4, 29, 17, 30)),
        ("Apr 29, 2024 12:05 AM", datetime(2024, 4, 29, 0, 5)),
        ("April 29, 2024 12:30 PM", datetime(2024, 4, 29, 12, 30)),
        ("29 April 2024 5:30 pm", datetime(2024, 4, 29, 17, 30)),
        ("Updated: April 29, 2024, 5:30 PM", datetime(2024, 4, 29, 17, 30)),
        # Korean bylines
        ("2024.04.29 오후 3:05", datetime(2024, 4, 29, 15, 5)),
        ("입력 2024-04-29 15:05", datetime(2024, 4, 29, 15, 5)),
        ("기사입력 2024.04.29. 15:05", datetime(2024, 4, 29, 15, 5)),
        ("2024년 4월 29일 15시 5분", datetime(2024, 4, 29, 15, 5)),
        ("2024년 4월 29일 오후 3시 5분", datetime(2024, 4, 29, 15, 5)),
        ("승인 2024.04.29 15:05:09", datetime(2024, 4, 29, 15, 5, 9)),
    ],
)
def test_bylines_as_written(value: str, expected: datetime) -> None:
    assert parse_datetime(value) == expected.replace(tzinfo=UTC)
    assert parse_datetime(value, KST) == expected.replace(tzinfo=KST)


def test_a_written_zone_beats_the_naive_zone() -> None:
    assert parse_datetime("2026-12-01T15:05:00Z", KST) == datetime(2026, 12, 1, 15, 5, tzinfo=UTC)
    assert parse_datetime("2026-12-01 15:05:00", KST) == datetime(2026, 12, 1, 6, 5, tzinfo=UTC)


# -- dateparser as an oracle ---------------------------------------------------------------------

# Forms dateparser reads right (checked by hand); "%-d"-style fields are built below instead.
ORACLE_FORMS = [
    "{B} {d}, {Y} {I}:{M:02d} {p}",
    "{b} {d}, {Y} {I}:{M:02d} {p}",
    "{d} {B} {Y} {H}:{M:02d}",
    "{Y}-{m:02d}-{d:02d} {H:02d}:{M:02d}:{S:02d}",
    "{Y}.{m:02d}.{d:02d} {H:02d}:{M:02d}",
    "{a}, {d:02d} {b} {Y} {H:02d}:{M:02d}:{S:02d} +0000",
]
KOREAN_FORMS = [
    "{Y}년 {m}월 {d}일 {H}시 {M}분",
    "{Y}년 {m}월 {d}일 {k} {I}시 {M}분",
    "{Y}.{m:02d}.{d:02d} {k} {I}:{M:02d}",
]
ORACLE_SETTINGS = {"TIMEZONE": "UTC", "RETURN_AS_TIMEZONE_AWARE": True}
MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]
DAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]

moments = st.datetimes(min_value=datetime(1995, 1, 1), max_value=datetime(2090, 12, 31)).map(
    lambda moment: moment.replace(microsecond=0)
)


def _fields(moment: datetime) -> dict[str, object]:
    hour12 = moment.hour % 12 or 12
    return {
        "Y": moment.year,
        "m": moment.month,
        "d": moment.day,
        "H": moment.hour,
        "I": hour12,
        "M": moment.minute,
        "S": moment.second,
        "p": "PM" if moment.hour >= 12 else "AM",
        "k": "오후" if moment.hour >= 12 else "오전",
        "B": MONTHS[moment.month - 1],
        "b": MONTHS[moment.month - 1][:3],
        "a": DAYS[moment.weekday()],
    }


FORMS_AND_LANGUAGES = [(form, "en") for form in ORACLE_FORMS] + [
    (form, "ko") for form in KOREAN_FORMS
]


@settings(max_examples=120, deadline=None)
@given(moment=moments, written_as=st.sampled_from(FORMS_AND_LANGUAGES))
def test_agrees_with_dateparser(moment: datetime, written_as: tuple[str, str]) -> None:
    form, language = written_as
    written = form.format(**_fields(moment))
    oracle = dateparser.parse(written, languages=[language], settings=ORACLE_SETTINGS)
    assert oracle is not None
    assert parse_datetime(written) == oracle, written
