"""Schedule strings mean what cron means, checked against fixed datetimes (no clock)."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from scraper.config.schedule import ScheduleError, cron_weekdays, interval_of, parse_schedule

UTC = ZoneInfo("UTC")
SEOUL = ZoneInfo("Asia/Seoul")
# Wednesday 1 May 2024, 09:00 UTC
WEDNESDAY = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)


def fires(schedule: str, after: datetime, count: int = 1, timezone: str = "UTC") -> list[datetime]:
    """Give the next ``count`` fire times of ``schedule`` after ``after``."""
    trigger = parse_schedule(schedule, timezone)
    times: list[datetime] = []
    previous = None
    now = after
    for _ in range(count):
        nxt = trigger.get_next_fire_time(previous, now)
        assert nxt is not None
        times.append(nxt)
        previous, now = nxt, nxt + timedelta(microseconds=1)
    return times


def test_weekday_zero_is_sunday() -> None:
    (first,) = fires("0 8 * * 0", WEDNESDAY)
    assert first == datetime(2024, 5, 5, 8, 0, tzinfo=UTC)
    assert first.strftime("%A") == "Sunday"


def test_weekday_seven_is_sunday_too() -> None:
    assert fires("0 8 * * 7", WEDNESDAY) == fires("0 8 * * 0", WEDNESDAY)


def test_weekday_one_is_monday_and_six_is_saturday() -> None:
    assert fires("30 6 * * 1", WEDNESDAY)[0].strftime("%A %d %H:%M") == "Monday 06 06:30"
    assert fires("0 0 * * 6", WEDNESDAY)[0].strftime("%A %d") == "Saturday 04"


def test_weekday_range_means_monday_to_friday() -> None:
    days = [t.strftime("%a") for t in fires("0 8 * * 1-5", WEDNESDAY, 6)]
    assert days == ["Thu", "Fri", "Mon", "Tue", "Wed", "Thu"]


def test_weekday_lists_steps_and_names() -> None:
    assert [t.strftime("%a") for t in fires("0 8 * * 0,6", WEDNESDAY, 3)] == ["Sat", "Sun", "Sat"]
    assert [t.strftime("%a") for t in fires("0 8 * * */2", WEDNESDAY, 4)] == [
        "Thu",
        "Sat",
        "Sun",
        "Tue",
    ]
    assert [t.strftime("%a") for t in fires("0 8 * * sun", WEDNESDAY, 1)] == ["Sun"]
    assert [t.strftime("%a") for t in fires("0 8 * * 5-7", WEDNESDAY, 3)] == ["Fri", "Sat", "Sun"]


@pytest.mark.parametrize(
    ("field", "names"),
    [("0", "sun"), ("7", "sun"), ("1-5", "mon,tue,wed,thu,fri"), ("0,6", "sun,sat"), ("*", "*")],
)
def test_cron_weekdays_rewrites_numbers_as_names(field: str, names: str) -> None:
    assert set(cron_weekdays(field).split(",")) == set(names.split(","))


def test_schedule_runs_in_the_digest_time_zone() -> None:
    # 08:00 in Seoul is 23:00 UTC the day before
    (first,) = fires("0 8 * * *", WEDNESDAY, timezone="Asia/Seoul")
    assert first == datetime(2024, 5, 2, 8, 0, tzinfo=SEOUL)
    assert first.astimezone(UTC) == datetime(2024, 5, 1, 23, 0, tzinfo=UTC)


def test_sunday_in_seoul_is_saturday_evening_utc() -> None:
    (first,) = fires("0 8 * * 0", WEDNESDAY, timezone="Asia/Seoul")
    assert first.astimezone(SEOUL).strftime("%A %H:%M") == "Sunday 08:00"
    assert first.astimezone(UTC).strftime("%A %H:%M") == "Saturday 23:00"


def test_macros() -> None:
    assert fires("@weekly", WEDNESDAY)[0].strftime("%A %H:%M") == "Sunday 00:00"
    assert fires("@daily", WEDNESDAY)[0] == datetime(2024, 5, 2, tzinfo=UTC)


def test_every_intervals() -> None:
    assert interval_of("every 30s") == timedelta(seconds=30)
    assert interval_of("every 10m") == timedelta(minutes=10)
    assert interval_of("every 2h") == timedelta(hours=2)
    assert interval_of("0 8 * * *") is None
    trigger = parse_schedule("every 1s", "UTC")
    first = trigger.get_next_fire_time(None, WEDNESDAY)
    assert first is not None
    assert trigger.get_next_fire_time(first, first) == first + timedelta(seconds=1)


@pytest.mark.parametrize(
    "bad", ["every 0s", "every 5 fortnights", "* * *", "0 8 * * 8", "61 * * * *", "0 8 * * 5-2", ""]
)
def test_bad_schedules_are_refused(bad: str) -> None:
    with pytest.raises(ScheduleError):
        parse_schedule(bad, "UTC")


def test_day_of_month_and_weekday_are_either_or_as_in_cron() -> None:
    # cron: on the 1st of the month and on every Monday; Monday 6 May comes first
    assert fires("0 8 1 * 1", WEDNESDAY)[0] == datetime(2024, 5, 6, 8, 0, tzinfo=UTC)
