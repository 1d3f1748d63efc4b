"""What a booking's notice says about changing it: until when, or to call once that time is past."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from chalicelib.domain import consultations as rules
from chalicelib.store.models import ConsultationBooking
from chalicelib.workers import consultations as worker

NOW = datetime(2026, 12, 7, 1, 0, tzinfo=UTC)  # 10:00 in Tokyo


def moved_booking(start: datetime) -> ConsultationBooking:
    """A legal consultation (changes close 24 h before) booked three days ago, moved once."""
    return ConsultationBooking(
        "BK-2612-7K3M9Q",
        service="legal",
        section="kocho",
        slot=rules.slot_id(start),
        section_day="kocho#x",
        status=rules.BOOKED,
        mode="in_person",
        channel="web",
        language="en",
        email="someone@example.com",
        guard="g",
        meeting_room="r",
        created_at=NOW - timedelta(days=3),
        updated_at=NOW,
        revision=2,
    )


def test_a_booking_moved_days_ahead_says_until_when_it_can_be_changed():
    start = NOW + timedelta(days=5)
    _, text = worker.render(moved_booking(start), "booked", NOW)
    until = rules.change_until(rules.get_service("legal"), start, NOW - timedelta(days=3))
    assert f"Change or cancel until: {until.astimezone(rules.TOKYO):%Y-%m-%d %H:%M}" in text


def test_a_booking_moved_inside_its_change_deadline_says_to_call_not_a_past_time():
    """A review: moved to later today, the notice offered changes "until" a time already past."""
    start = NOW + timedelta(hours=6)
    _, text = worker.render(moved_booking(start), "booked", NOW)
    assert "Change or cancel until" not in text
    assert "Changes close 24 hours before the start. Please call the city." in text
