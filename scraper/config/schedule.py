"""Schedule strings from the config -> APScheduler 3.x triggers.

A crontab string means what it means to cron: day-of-week 0 (and 7) is Sunday. APScheduler 3.x
numbers weekdays from Monday = 0, so numeric weekdays are rewritten as names before they reach
``CronTrigger``; ``every 30s`` / ``every 10m`` / ``every 2h`` / ``every 1d`` are intervals.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import TypeAlias

from apscheduler.triggers.combining import OrTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

Trigger: TypeAlias = CronTrigger | IntervalTrigger | OrTrigger

_EVERY = re.compile(r"^every\s+(\d+)\s*(s|sec|secs|seconds?|m|min|mins|minutes?|h|hours?|d|days?)$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}
_MACROS = {
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
}
_DAY_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")


class ScheduleError(ValueError):
    """A schedule string that is neither a crontab line nor ``every N<unit>``."""


def interval_of(text: str) -> timedelta | None:
    """Give the interval of an ``every N<unit>`` schedule, or None for a crontab string."""
    match = _EVERY.match(text.strip().lower())
    if not match:
        return None
    amount = int(match.group(1))
    if amount <= 0:
        raise ScheduleError(f"interval must be positive: {text!r}")
    return timedelta(**{_UNITS[match.group(2)[0]]: amount})


def cron_weekdays(field: str) -> str:
    """Rewrite a cron day-of-week field (0 or 7 = Sunday) into APScheduler weekday names."""
    if field == "*" or not re.search(r"\d", field):
        return field
    days: set[int] = set()
    for part in field.split(","):
        step = 1
        if "/" in part:
            part, step_text = part.split("/", 1)
            if not step_text.isdigit() or int(step_text) == 0:
                raise ScheduleError(f"bad day-of-week step in {field!r}")
            step = int(step_text)
        if part == "*":
            low, high = 0, 6
        elif "-" in part:
            low_text, high_text = part.split("-", 1)
            low, high = _day_number(low_text, field), _day_number(high_text, field)
        else:
            low = _day_number(part, field)
            high = 6 if step > 1 else low
        if low > high:
            raise ScheduleError(f"bad day-of-week range in {field!r}")
        days.update(day % 7 for day in range(low, high + 1, step))
    return ",".join(_DAY_NAMES[day] for day in sorted(days))


def _day_number(text: str, field: str) -> int:
    text = text.strip().lower()
    if text.isdigit() and 0 <= int(text) <= 7:
        return int(text)
    if text[:3] in _DAY_NAMES:
        return _DAY_NAMES.index(text[:3])
    raise ScheduleError(f"bad day of week {text!r} in {field!r}")


def parse_schedule(text: str, timezone: str) -> Trigger:
    """Give the APScheduler trigger for a config schedule string, in ``timezone``."""
    interval = interval_of(text)
    if interval is not None:
        return IntervalTrigger(seconds=int(interval.total_seconds()), timezone=timezone)
    line = _MACROS.get(text.strip().lower(), text.strip())
    fields = line.split()
    if len(fields) != 5:
        raise ScheduleError(
            f"{text!r} is neither a 5-field crontab line nor 'every N' with s, m, h or d"
        )
    minute, hour, day, month, weekday = fields
    try:
        if day != "*" and weekday != "*":
            # cron fires when either the day of month or the weekday matches; CronTrigger
            # would need both
            return OrTrigger(
                [
                    CronTrigger(minute=minute, hour=hour, day=day, month=month, timezone=timezone),
                    CronTrigger(
                        minute=minute,
                        hour=hour,
                        month=month,
                        day_of_week=cron_weekdays(weekday),
                        timezone=timezone,
                    ),
                ]
            )
        return CronTrigger(
            minute=minute,
            hour=hour,
            day=day,
            month=month,
            day_of_week=cron_weekdays(weekday),
            timezone=timezone,
        )
    except ValueError as exc:
        raise ScheduleError(f"invalid crontab {text!r}: {exc}") from None
