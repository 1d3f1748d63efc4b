"""EventBridge schedule expressions (`cron(...)`, `rate(...)`), so the pump fires jobs when AWS would.

Supports what madoguchi's schedules use: numbers, names, `*`, `?`, ranges, lists and
steps, with AWS's rules (1 = Sunday; `?` in exactly one of the two day fields; a singular
rate unit for 1 and only for 1). `L`, `W` and `#` raise rather than fire at the wrong
time. Times are UTC.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta

_MONTHS = {
    name: i + 1
    for i, name in enumerate(
        ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
    )
}
# AWS numbers days of the week 1-7 from Sunday.
_DAYS = {name: i + 1 for i, name in enumerate(["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"])}
_RATE = re.compile(r"^rate\((\d+) (minute|hour|day)(s?)\)$")
_CRON = re.compile(r"^cron\((.+)\)$")
# Long enough for any calendar pattern to come round (29 February in a year divisible by 4 and 7...).
_SEARCH_DAYS = 366 * 30


def _field(spec: str, low: int, high: int, names: dict[str, int] | None = None) -> set[int] | None:
    """The values a cron field allows; None for `*`/`?` (anything)."""
    if spec in ("*", "?"):
        return None
    values: set[int] = set()
    for part in spec.split(","):
        body, _, step_text = part.partition("/")
        step = _number(step_text) if step_text else 1
        if body == "*":
            start, end = low, high
        elif "-" in body:
            first, last = body.split("-", 1)
            start, end = _value(first, names), _value(last, names)
        else:
            start = _value(body, names)
            end = high if step_text else start
        if step < 1 or start > end:
            raise ValueError(f"cron field {spec!r} is not a valid range")
        values.update(range(start, end + 1, step))
    if min(values) < low or max(values) > high:
        raise ValueError(f"cron field {spec!r} is outside {low}-{high}")
    return values


def _value(text: str, names: dict[str, int] | None) -> int:
    if names and text.upper() in names:
        return names[text.upper()]
    return _number(text)


def _number(text: str) -> int:
    if not text.isdigit():  # L, W, # and anything else we do not evaluate
        raise ValueError(f"unsupported cron value {text!r}")
    return int(text)


class Schedule:
    def __init__(self, expression: str) -> None:
        self.expression = expression
        rate = _RATE.match(expression)
        cron = _CRON.match(expression)
        if rate:
            amount, unit, plural = int(rate.group(1)), rate.group(2), rate.group(3)
            if amount < 1 or (amount == 1) == bool(plural):
                raise ValueError(
                    f"not a valid rate: {expression} (AWS wants 'rate(1 hour)', 'rate(5 hours)')"
                )
            self._every: timedelta | None = timedelta(**{f"{unit}s": amount})
        elif cron:
            fields = cron.group(1).split()
            if len(fields) != 6:
                raise ValueError(f"cron needs 6 fields: {expression}")
            if (fields[2] == "?") == (fields[4] == "?"):
                raise ValueError(
                    f"cron needs '?' in exactly one of day-of-month and day-of-week: {expression}"
                )
            self._every = None
            self._minutes = _field(fields[0], 0, 59)
            self._hours = _field(fields[1], 0, 23)
            self._days = _field(fields[2], 1, 31)
            self._months = _field(fields[3], 1, 12, _MONTHS)
            self._weekdays = _field(fields[4], 1, 7, _DAYS)
            self._years = _field(fields[5], 1970, 2199)
        else:
            raise ValueError(f"not a schedule expression: {expression}")

    def matches(self, at: datetime) -> bool:
        """Whether a cron schedule fires in the minute `at` falls in."""
        if self._every is not None:
            raise ValueError(f"{self.expression} is a rate: it has no calendar to match")
        return (
            self._day_matches(at.date())
            and _allows(self._hours, at.hour)
            and _allows(self._minutes, at.minute)
        )

    def next_after(self, after: datetime) -> datetime:
        """The first firing time strictly after `after` (minute resolution for cron)."""
        if self._every is not None:
            return after + self._every
        start = after.replace(second=0, microsecond=0) + timedelta(minutes=1)
        day = start.date()
        for _ in range(_SEARCH_DAYS):
            if self._day_matches(day):
                earliest = start.time() if day == start.date() else time(0, 0)
                for hour in sorted(self._hours or range(24)):
                    for minute in sorted(self._minutes or range(60)):
                        if (hour, minute) >= (earliest.hour, earliest.minute):
                            return datetime.combine(day, time(hour, minute), tzinfo=after.tzinfo)
            day += timedelta(days=1)
        raise ValueError(f"{self.expression} never fires")

    def _day_matches(self, day: date) -> bool:
        weekday = day.isoweekday() % 7 + 1  # AWS: Sunday=1 ... Saturday=7
        return (
            _allows(self._days, day.day)
            and _allows(self._months, day.month)
            and _allows(self._weekdays, weekday)
            and _allows(self._years, day.year)
        )


def _allows(allowed: set[int] | None, value: int) -> bool:
    return allowed is None or value in allowed
