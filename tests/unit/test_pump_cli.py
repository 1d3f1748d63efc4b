"""`make fire JOB=… AT=…`: the schedule's time as the job receives it."""

from __future__ import annotations

from datetime import UTC, datetime

from devstack.pump import _fire_time


def test_the_time_given_is_the_schedules_time_in_utc():
    assert _fire_time("2026-12-05T03:00+09:00") == datetime(2026, 12, 4, 18, 0, tzinfo=UTC)
    assert _fire_time("2026-12-04T18:00:00Z") == datetime(2026, 12, 4, 18, 0, tzinfo=UTC)


def test_no_time_given_is_now():
    assert _fire_time(None) is None and _fire_time("") is None


def test_a_job_runs_for_the_time_of_its_schedule_event():
    """`make fire AT=` and a late run alike: every job reads the event's time (announce-due did not)."""
    from datetime import UTC, datetime

    from chalicelib.workers import scheduled_time

    assert scheduled_time("2026-12-07T23:01:00Z") == datetime(2026, 12, 7, 23, 1, tzinfo=UTC)
    assert scheduled_time(datetime.fromisoformat("2026-12-08T08:01:00+09:00")).tzinfo == UTC
    assert abs((scheduled_time(None) - datetime.now(UTC)).total_seconds()) < 5
    assert scheduled_time("2026-12-07T23:01:00") == datetime(2026, 12, 7, 23, 1, tzinfo=UTC)  # no offset: UTC
