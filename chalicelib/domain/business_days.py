"""The ward office's business-day calendar: weekdays that are neither a public holiday nor a
closure of the ward's own.

Public holidays come from `jpholiday`, which derives them from the law (substitute and
citizens' holidays included) for any year, so the calendar never runs out; only what is the
ward's own decision (the year-end closure, one-off closures) is data, in `data/holidays.json`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent.parent / "data"

# The days the ward's calendar names: wide enough for any booking, payment or history, and clear
# of datetime's own edges (9999-12-31 23:59Z is past the last Tokyo day Python can hold).
FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2099, 12, 31)
_ISO_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")  # not \d: it matches "２０２６" too


def calendar_day(text: object) -> date | None:
    """`text` as a day if it is YYYY-MM-DD in ASCII digits, a real date, from FIRST_DAY to
    LAST_DAY; else None (a query parameter, a path part, a staff entry)."""
    if not isinstance(text, str) or not _ISO_DAY.fullmatch(text):
        return None
    try:
        day = date.fromisoformat(text)
    except ValueError:
        return None
    return day if FIRST_DAY <= day <= LAST_DAY else None


@dataclass(frozen=True)
class Closure:
    start: tuple[int, int]
    end: tuple[int, int]
    ja: str
    en: str

    def covers(self, day: date) -> bool:
        month_day = (day.month, day.day)
        if self.start <= self.end:
            return self.start <= month_day <= self.end
        return month_day >= self.start or month_day <= self.end  # wraps over the new year


def _month_day(text: str) -> tuple[int, int]:
    month, day = text.split("-")
    return int(month), int(day)


@lru_cache(maxsize=1)
def _ward_closures() -> tuple[tuple[Closure, ...], frozenset[date]]:
    raw = json.loads((DATA_DIR / "holidays.json").read_text(encoding="utf-8"))
    closures = tuple(
        Closure(_month_day(entry["from"]), _month_day(entry["to"]), entry["ja"], entry["en"])
        for entry in raw["closures"]
    )
    return closures, frozenset(date.fromisoformat(entry["date"]) for entry in raw["closedDates"])


@lru_cache(maxsize=64)
def public_holidays(year: int) -> dict[date, str]:
    """Japan's public holidays of one year, with their Japanese names."""
    import jpholiday  # noqa: PLC0415 - ~70 ms; only paths that count business days pay it

    return {day: name for day, name in jpholiday.year_holidays(year)}


def closure_reason(day: date) -> str | None:
    """Why the office is closed on a weekday (a holiday's or closure's Japanese name), else None."""
    closures, closed_dates = _ward_closures()
    for closure in closures:
        if closure.covers(day):
            return closure.ja
    if day in closed_dates:
        return "休庁日"
    return public_holidays(day.year).get(day)


def is_business_day(day: date) -> bool:
    """Is the ward office open on this day (Mon-Fri, not a public holiday, not a ward closure)?"""
    return day.weekday() < 5 and closure_reason(day) is None
