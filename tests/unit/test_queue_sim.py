"""`make queue-sim SPEED=0` posts a day at once: never an event dated after now (the webhook
refuses those), never one on the day before (tickets are keyed by their Tokyo day)."""

from __future__ import annotations

from datetime import datetime, timedelta

from chalicelib.domain.queue import TOKYO
from devstack.queue_sim import _before

DAY = [datetime(2026, 12, 4, 8, 30, tzinfo=TOKYO) + timedelta(minutes=m) for m in (0, 10, 40)]


def test_a_day_already_over_keeps_its_clock_times():
    place = _before(datetime(2026, 12, 4, 18, 0, tzinfo=TOKYO), DAY)
    assert [place(at) for at in DAY] == DAY


def test_a_day_still_to_come_is_moved_back_to_end_now():
    now = datetime(2026, 12, 4, 8, 50, tzinfo=TOKYO)
    place = _before(now, DAY)
    assert [place(at) for at in DAY] == [at - timedelta(minutes=20) for at in DAY]


def test_just_after_midnight_the_day_is_squeezed_into_today():
    now = datetime(2026, 12, 4, 0, 10, tzinfo=TOKYO)
    placed = [_before(now, DAY)(at) for at in DAY]
    assert placed[-1] == now and placed[0] == datetime(2026, 12, 4, 0, 0, tzinfo=TOKYO)
    assert placed == sorted(placed)
