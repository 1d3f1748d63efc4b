"""EventBridge schedule expressions as the local pump reads them (devstack/cron.py). Times are UTC."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from devstack.cron import Schedule

TOKYO = ZoneInfo("Asia/Tokyo")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def firings(expression: str, start: datetime, count: int) -> list[datetime]:
    schedule, found, at = Schedule(expression), [], start
    for _ in range(count):
        at = schedule.next_after(at)
        found.append(at)
    return found


# --- rate(...) -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "every"),
    [
        ("rate(5 minutes)", timedelta(minutes=5)),
        ("rate(1 minute)", timedelta(minutes=1)),
        ("rate(1 hour)", timedelta(hours=1)),
        ("rate(12 hours)", timedelta(hours=12)),
        ("rate(1 day)", timedelta(days=1)),
        ("rate(7 days)", timedelta(days=7)),
    ],
)
def test_a_rate_fires_every_interval_after_the_given_time(expression, every):
    start = utc(2026, 11, 27, 10, 2, 33)
    assert firings(expression, start, 3) == [start + every, start + 2 * every, start + 3 * every]


def test_a_rate_crosses_month_and_year_ends():
    assert Schedule("rate(1 day)").next_after(utc(2026, 12, 31, 23, 0)) == utc(2027, 1, 1, 23, 0)
    assert Schedule("rate(1 hour)").next_after(utc(2028, 2, 28, 23, 30)) == utc(2028, 2, 29, 0, 30)


def test_a_zero_rate_is_invalid():
    with pytest.raises(ValueError):
        Schedule("rate(0 minutes)")


@pytest.mark.parametrize("expression", ["rate(5 minute)", "rate(1 minutes)", "rate(2 day)", "rate(1 hours)"])
def test_the_rate_unit_must_agree_with_the_number(expression):
    with pytest.raises(ValueError):
        Schedule(expression)


@pytest.mark.parametrize(
    "expression",
    [
        "rate(5)",
        "rate(minutes 5)",
        "rate(-5 minutes)",
        "rate(5 weeks)",
        "rate(5 seconds)",
        "rate(1.5 hours)",
        "rate(5  minutes)",
        "rate (5 minutes)",
        "rate(5 minutes) ",
        "every 5 minutes",
        "",
        "at(2026-11-27T09:00:00)",
    ],
)
def test_a_malformed_rate_or_unknown_expression_raises_value_error(expression):
    with pytest.raises(ValueError):
        Schedule(expression)


# --- cron(...): times ----------------------------------------------------------------------------


def test_every_five_minutes():
    schedule = Schedule("cron(*/5 * * * ? *)")
    assert schedule.matches(utc(2026, 11, 27, 10, 0))
    assert schedule.matches(utc(2026, 11, 27, 10, 55))
    assert not schedule.matches(utc(2026, 11, 27, 10, 3))
    assert schedule.next_after(utc(2026, 11, 27, 10, 2)) == utc(2026, 11, 27, 10, 5)
    assert schedule.next_after(utc(2026, 11, 27, 10, 4, 59, 999_999)) == utc(2026, 11, 27, 10, 5)


def test_next_after_is_strictly_after_even_on_a_firing_minute():
    schedule = Schedule("cron(*/5 * * * ? *)")
    assert schedule.next_after(utc(2026, 11, 27, 10, 5)) == utc(2026, 11, 27, 10, 10)
    assert schedule.next_after(utc(2026, 11, 27, 10, 5, 0, 1)) == utc(2026, 11, 27, 10, 10)


def test_every_five_minutes_crosses_the_hour_day_and_year():
    assert Schedule("cron(*/5 * * * ? *)").next_after(utc(2026, 12, 31, 23, 57)) == utc(2027, 1, 1, 0, 0)


def test_next_after_gives_whole_minutes_and_keeps_the_time_zone():
    at = Schedule("cron(*/5 * * * ? *)").next_after(utc(2026, 11, 27, 10, 1, 42, 123_456))
    assert (at.second, at.microsecond) == (0, 0)
    assert at.tzinfo is UTC


def test_matches_ignores_seconds():
    assert Schedule("cron(30 23 ? * SUN-THU *)").matches(utc(2026, 11, 29, 23, 30, 59))


# cron(30 23 ? * SUN-THU *) is 08:30 in Tokyo (UTC+9, no DST) on Monday to Friday.
WEEKDAY_MORNINGS = "cron(30 23 ? * SUN-THU *)"


@pytest.mark.parametrize(
    ("start", "expected"),
    [
        (utc(2026, 11, 27, 0, 0), utc(2026, 11, 29, 23, 30)),  # Friday -> Sunday night (Monday in Tokyo)
        (utc(2026, 11, 27, 23, 29), utc(2026, 11, 29, 23, 30)),  # Friday 23:29 is not a firing day
        (utc(2026, 11, 28, 23, 30), utc(2026, 11, 29, 23, 30)),  # Saturday 23:30 neither
        (utc(2026, 11, 29, 23, 29, 59), utc(2026, 11, 29, 23, 30)),
        (utc(2026, 11, 29, 23, 30), utc(2026, 11, 30, 23, 30)),  # strictly after
        (utc(2026, 12, 2, 12, 0), utc(2026, 12, 2, 23, 30)),  # Wednesday midday -> same evening
        (utc(2026, 12, 3, 23, 30), utc(2026, 12, 6, 23, 30)),  # Thursday's run done -> Sunday
        (utc(2026, 12, 31, 23, 31), utc(2027, 1, 3, 23, 30)),  # across the year: Thu -> Sun
    ],
)
def test_weekday_mornings_in_tokyo(start, expected):
    assert Schedule(WEEKDAY_MORNINGS).next_after(start) == expected


def test_weekday_mornings_are_monday_to_friday_at_0830_tokyo():
    runs = firings(WEEKDAY_MORNINGS, utc(2026, 11, 27, 0, 0), 15)
    local = [run.astimezone(TOKYO) for run in runs]
    assert all((at.hour, at.minute) == (8, 30) for at in local)
    assert [at.strftime("%a") for at in local[:6]] == ["Mon", "Tue", "Wed", "Thu", "Fri", "Mon"]
    assert {at.isoweekday() for at in local} == {1, 2, 3, 4, 5}
    assert len({at.date() for at in local}) == 15  # once a day, never twice
    assert local[0] == datetime(2026, 11, 30, 8, 30, tzinfo=TOKYO)


def test_weekday_mornings_match_only_sunday_to_thursday_utc():
    schedule = Schedule(WEEKDAY_MORNINGS)
    week = [utc(2026, 11, 29, 23, 30) + timedelta(days=offset) for offset in range(7)]  # Sun .. Sat
    assert [schedule.matches(at) for at in week] == [True, True, True, True, True, False, False]
    assert not schedule.matches(utc(2026, 11, 29, 23, 31))
    assert not schedule.matches(utc(2026, 11, 29, 22, 30))


def test_the_first_of_every_month_at_nine():
    schedule = Schedule("cron(0 9 1 * ? *)")
    assert schedule.next_after(utc(2026, 11, 15, 12, 0)) == utc(2026, 12, 1, 9, 0)
    assert firings("cron(0 9 1 * ? *)", utc(2026, 12, 1, 9, 0), 3) == [
        utc(2027, 1, 1, 9, 0),
        utc(2027, 2, 1, 9, 0),
        utc(2027, 3, 1, 9, 0),
    ]
    assert schedule.next_after(utc(2026, 12, 1, 8, 59)) == utc(2026, 12, 1, 9, 0)
    assert not schedule.matches(utc(2026, 12, 2, 9, 0))


def test_day_31_skips_short_months():
    assert firings("cron(0 0 31 * ? *)", utc(2027, 1, 31, 0, 0), 3) == [
        utc(2027, 3, 31),
        utc(2027, 5, 31),
        utc(2027, 7, 31),
    ]


def test_february_29_fires_in_the_next_leap_year():
    schedule = Schedule("cron(0 0 29 2 ? *)")
    assert schedule.next_after(utc(2028, 1, 20)) == utc(2028, 2, 29)
    assert not schedule.matches(utc(2027, 3, 1))  # 2027 has no 29 February; 1 March is not it


def test_february_29_fires_even_when_the_next_leap_year_is_three_years_away():
    assert Schedule("cron(0 0 29 2 ? *)").next_after(utc(2029, 3, 1)) == utc(2032, 2, 29)


def test_a_schedule_that_can_never_fire_raises_value_error():
    # Every year field value is in the past, so no time after the start ever matches.
    schedule = Schedule("cron(0 0 1 1 ? 2020)")
    assert schedule.matches(utc(2020, 1, 1))
    with pytest.raises(ValueError):
        schedule.next_after(utc(2026, 1, 1))


# --- cron(...): lists, ranges, steps, names ------------------------------------------------------


def test_lists_and_ranges_of_numbers():
    schedule = Schedule("cron(0,30 8-10 * * ? *)")
    day = [utc(2026, 11, 27, hour, minute) for hour in range(24) for minute in range(60)]
    assert [at for at in day if schedule.matches(at)] == [
        utc(2026, 11, 27, h, m) for h in (8, 9, 10) for m in (0, 30)
    ]
    assert schedule.next_after(utc(2026, 11, 27, 10, 30)) == utc(2026, 11, 28, 8, 0)


def test_a_step_from_a_start_value_runs_to_the_end_of_the_field():
    schedule = Schedule("cron(5/15 * * * ? *)")
    assert [m for m in range(60) if schedule.matches(utc(2026, 11, 27, 0, m))] == [5, 20, 35, 50]


def test_a_step_over_a_range():
    schedule = Schedule("cron(0 10-20/5 * * ? *)")
    assert [h for h in range(24) if schedule.matches(utc(2026, 11, 27, h, 0))] == [10, 15, 20]


def test_a_list_mixing_ranges_and_single_values():
    schedule = Schedule("cron(0 0 1-3,15,28-31 * ? *)")
    days = [d for d in range(1, 32) if schedule.matches(utc(2026, 12, d))]
    assert days == [1, 2, 3, 15, 28, 29, 30, 31]


@pytest.mark.parametrize(
    ("months", "expected"),
    [
        ("JAN", [1]),
        ("jan", [1]),
        ("DEC", [12]),
        ("JAN-MAR", [1, 2, 3]),
        ("JAN,APR,OCT", [1, 4, 10]),
        ("MAR-MAY,NOV", [3, 4, 5, 11]),
        ("JUL", [7]),
        ("1-3", [1, 2, 3]),
    ],
)
def test_month_names_and_numbers(months, expected):
    schedule = Schedule(f"cron(0 0 1 {months} ? *)")
    assert [m for m in range(1, 13) if schedule.matches(utc(2027, m, 1))] == expected


def test_month_names_in_next_after():
    assert Schedule("cron(0 0 1 APR ? *)").next_after(utc(2026, 11, 27)) == utc(2027, 4, 1)


SUN_29_NOV = utc(2026, 11, 29, 12, 0)
WEEK = [SUN_29_NOV + timedelta(days=offset) for offset in range(7)]  # Sunday .. Saturday


def weekdays_matched(spec: str) -> list[str]:
    schedule = Schedule(f"cron(0 12 ? * {spec} *)")
    return [at.strftime("%a") for at in WEEK if schedule.matches(at)]


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("1", ["Sun"]),  # AWS: 1 = Sunday
        ("2", ["Mon"]),
        ("7", ["Sat"]),
        ("2-6", ["Mon", "Tue", "Wed", "Thu", "Fri"]),
        ("1,7", ["Sun", "Sat"]),
        ("SUN", ["Sun"]),
        ("SAT", ["Sat"]),
        ("WED", ["Wed"]),
        ("MON-FRI", ["Mon", "Tue", "Wed", "Thu", "Fri"]),
        ("mon-fri", ["Mon", "Tue", "Wed", "Thu", "Fri"]),
        ("SUN-THU", ["Sun", "Mon", "Tue", "Wed", "Thu"]),
        ("SUN,SAT", ["Sun", "Sat"]),
        ("THU-SAT", ["Thu", "Fri", "Sat"]),
        ("*", ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]),
    ],
)
def test_aws_day_of_week_numbering_and_names(spec, expected):
    assert weekdays_matched(spec) == expected


def test_numbers_and_names_for_days_agree():
    assert weekdays_matched("2-6") == weekdays_matched("MON-FRI")
    assert weekdays_matched("1") == weekdays_matched("SUN")


@pytest.mark.parametrize(
    "expression",
    [
        "cron(0 9 ? * MON-WED *)",
        "cron(0 9 ? * WED,FRI *)",
        "cron(0 9 1 JUN-JUL ? *)",
        "cron(0 9 1 JAN,JUL ? *)",
    ],
)
def test_ranges_and_lists_containing_wed_or_jul_are_accepted(expression):
    Schedule(expression)


def test_years():
    schedule = Schedule("cron(0 0 1 1 ? 2027-2028)")
    assert schedule.next_after(utc(2026, 12, 20)) == utc(2027, 1, 1)
    assert [year for year in range(2025, 2031) if schedule.matches(utc(year, 1, 1))] == [2027, 2028]


# --- cron(...): what is rejected -----------------------------------------------------------------


@pytest.mark.parametrize(
    "expression",
    [
        "cron(* * * * ?)",  # five fields
        "cron(0 0 * * ? * *)",  # seven fields
        "cron()",
        "cron(60 * * * ? *)",  # minute out of range
        "cron(0 24 * * ? *)",  # hour out of range
        "cron(0 0 0 * ? *)",  # day 0
        "cron(0 0 32 * ? *)",
        "cron(0 0 1 13 ? *)",
        "cron(0 0 1 0 ? *)",
        "cron(0 0 ? * 0 *)",  # AWS days of the week are 1-7
        "cron(0 0 ? * 8 *)",
        "cron(0 0 1 1 ? 1969)",
        "cron(0 0 1 1 ? 2200)",
        "cron(a * * * ? *)",
        "cron(JAN 0 1 * ? *)",  # names only where they mean something
        "cron(0 0 1 MON ? *)",
        "cron(0 0 ? * JAN *)",
        "cron(0 0 ? * FUNDAY *)",
        "cron(-1 * * * ? *)",
        "cron(*/0 * * * ? *)",
        "cron(5-1 * * * ? *)",  # an empty range
        "cron(1,,2 * * * ? *)",
        "cron(0 0 1 1-2-3 ? *)",
        "cron 0 0 * * ? *",
        "0 0 * * ? *",
    ],
)
def test_an_invalid_cron_expression_raises_value_error(expression):
    with pytest.raises(ValueError):
        Schedule(expression)


@pytest.mark.parametrize(
    "expression",
    [
        "cron(0 0 L * ? *)",  # last day of the month
        "cron(0 0 LW * ? *)",
        "cron(0 0 15W * ? *)",  # nearest weekday
        "cron(0 0 ? * 6L *)",  # last Friday
        "cron(0 0 ? * L *)",
        "cron(0 0 ? * 3#2 *)",  # second Tuesday
        "cron(0 0 ? * MON#1 *)",
    ],
)
def test_l_w_and_hash_raise_rather_than_fire_at_the_wrong_time(expression):
    with pytest.raises(ValueError):
        Schedule(expression)


@pytest.mark.parametrize("expression", ["cron(0 9 1 * MON *)", "cron(0 9 * * * *)"])
def test_day_of_month_and_day_of_week_cannot_both_be_given(expression):
    with pytest.raises(ValueError):
        Schedule(expression)
