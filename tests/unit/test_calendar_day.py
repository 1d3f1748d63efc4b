"""A day named in a query, a path or a staff entry (domain/business_days.calendar_day)."""

from __future__ import annotations

from datetime import date

import pytest

from chalicelib.domain.business_days import FIRST_DAY, LAST_DAY, calendar_day


@pytest.mark.parametrize(
    "text",
    ["9999-12-31", "0001-01-01", "1999-12-31", "2100-01-01", "2026-02-30", "２０２６-12-14", "20261214",
     "2026-W50-1", " 2026-12-14", "", None, 20261214],
)  # fmt: skip
def test_anything_but_a_day_of_the_calendar_is_none(text):
    assert calendar_day(text) is None


def test_a_day_of_the_calendar_is_that_day():
    assert calendar_day("2026-12-14") == date(2026, 12, 14)
    assert calendar_day(FIRST_DAY.isoformat()) == FIRST_DAY
    assert calendar_day(LAST_DAY.isoformat()) == LAST_DAY
