"""EventBridge schedule expressions (`cron(...)`, `rate(...)`), so the pump fires jobs when AWS would.

Supports what madoguchi's schedules use: numbers, names, `*`, `?`, ranges, lists and
steps. `L`, `W` and `#` raise rather than fire at the wrong time. Times are UTC.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

_MONTHS = {
    name: i + 1
    for i, name in enumerate(
        ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
    )
}
# AWS numbers days of the week 1-7 from Sunday.
_DAYS = {name: i + 1 for i, name in enumerate(["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"])}
_RATE = re.compile(r"^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$")
_CRON = re.compile(r"^cron\((.+)\)$")


def _field(spec: str, low: int, high: int, names: dict[str, int] | None = None) -> set[int] | None:
    """The values a cron field allows; None for `*`/`?` (anything)."""
    if spec in ("*", "?"):
        return None
    if any(mark in spec for mark in ("L", "W", "#")) and not (names and spec.upper() in names):
        raise ValueError(f"unsupported cron field {spec!r}")
    values: set[int] = set()
    for part in spec.split(","):
        body, _, step_text = part.partition("/")
        step = int(step_text) if step_text else 1
        if body == "*":
            start, end = low, high
        elif "-" in body:
            first, last = body.split("-")
            start, end = _value(first, names), _value(last, names)
        else:
            start = _value(body, names)
            end = high if step_text else start
        values.update(range(start, end + 1, step))
    if not values or min(values) < low or max(values) > high:
        raise ValueError(f"cron field {spec!r} is outside {low}-{high}")
    return values


def _value(text: str, names: dict[str, int] | None) -> int:
    return names[text.upper()] if names and text.upper() in names else int(text)


class Schedule:
    def __init__(self, expression: str) -> None:
        self.expression = expression
        rate = _RATE.match(expression)
        cron = _CRON.match(expression)
        if rate:
            amount, unit = int(rate.group(1)), rate.group(2).rstrip("s")
            self._every = timedelta(**{f"{unit}s": amount})
        elif cron:
            fields = cron.group(1).split()
            if len(fields) != 6:
                raise ValueError(f"cron needs 6 fields: {expression}")
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
        weekday = (at.isoweekday() % 7) + 1  # Monday=2 ... Sunday=1
        return all(
            allowed is None or value in allowed
            for allowed, value in (
                (self._minutes, at.minute),
                (self._hours, at.hour),
                (self._days, at.day),
                (self._months, at.month),
                (self._weekdays, weekday),
                (self._years, at.year),
            )
        )

    def next_after(self, after: datetime) -> datetime:
        """The first firing time strictly after `after` (minute resolution for cron)."""
        if self._every is not None:
            return after + self._every
        at = after.replace(second=0, microsecond=0) + timedelta(minutes=1)
        for _ in range(60 * 24 * 366 * 2):
            if self.matches(at):
                return at
            at += timedelta(minutes=1)
        raise ValueError(f"{self.expression} never fires")
