"""Consultation rules without I/O: the catalogue, slots on business days, guards, reminders, .ics."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from chalicelib.domain import consultations as rules
from chalicelib.domain.errors import Conflict, Invalid
from chalicelib.domain.forms import sections

PLAN_SERVICES = {
    "法律相談（弁護士）",
    "遺言書・遺産分割協議書の書き方相談（行政書士）",
    "不動産取引相談（宅地建物取引士）",
    "税金相談（税理士）",
    "登記・測量相談（司法書士・土地家屋調査士）",
    "年金・社会保険・労働問題相談（社会保険労務士）",
    "交通事故相談（交通事故相談員）",
    "区政・一般相談（区政相談員）",
    "建築・リフォームなんでも相談（建築士）",
    "外国人生活相談",
    "行政書士による外国人の入国・帰化・就労等手続相談",
    "LGBTs相談",
    "消費生活相談",
}


def test_the_catalogue_holds_the_plans_thirteen_services_complete_in_seven_languages():
    catalogue = rules.catalogue()
    assert {service.name["ja"] for service in catalogue.values()} == PLAN_SERVICES
    for service in catalogue.values():
        assert all(service.name[lang] and service.prepare[lang] for lang in rules.LANGUAGES)
        assert service.section in sections()
        assert set(service.modes) <= set(rules.MODES) and service.duration_minutes > 0
        assert "{room}" in service.meeting_link_template
    assert [s.id for s in catalogue.values() if s.sensitive] == ["lgbts"]


def test_a_sensitive_service_is_never_named_in_what_others_may_see():
    lgbts = rules.get_service("lgbts")
    for language in rules.LANGUAGES:
        assert "LGBT" not in lgbts.public_title(language)
    assert rules.get_service("legal").public_title("en") == "Legal consultation (lawyer)"
    # Nor by its meeting link, which goes into the .ics, the email and a LINE push.
    room = rules.new_meeting_room()
    link = lgbts.meeting_link("BK-2612-ABC123", room)
    assert link.endswith(f"/{room}") and "lgbt" not in link.lower()


def test_a_meeting_link_is_keyed_by_the_bookings_random_room_not_its_number():
    # The booking number is in lists, digests and LINE messages: with a provider whose link is
    # the room's key, it must not be enough to join a legal or LGBTs consultation.
    legal = rules.get_service("legal")
    rooms = {rules.new_meeting_room() for _ in range(100)}
    assert len(rooms) == 100 and all(len(room) >= 22 for room in rooms)  # 128 random bits each
    link = legal.meeting_link("BK-2612-ABC123", "r00m")
    assert link.endswith("/legal/r00m") and "BK-2612-ABC123" not in link


def test_a_sensitive_service_whose_meeting_link_would_name_it_is_refused(monkeypatch, tmp_path):
    import json

    raw = json.loads((rules.DATA_DIR / "consultations.json").read_text(encoding="utf-8"))
    lgbts = next(entry for entry in raw["services"] if entry["id"] == "lgbts")
    monkeypatch.setattr(rules, "DATA_DIR", tmp_path)
    for template in (
        "https://meet.example.jp/{service}/{room}",
        "https://meet.example.jp/lgbts/{room}",
    ):
        lgbts["meetingLinkTemplate"] = template
        (tmp_path / "consultations.json").write_text(json.dumps(raw), encoding="utf-8")
        with pytest.raises(ValueError, match="must not name it"):
            rules.catalogue.__wrapped__()
    lgbts["meetingLinkTemplate"] = "https://meet.example.jp/{booking}"  # a guessable room
    (tmp_path / "consultations.json").write_text(json.dumps(raw), encoding="utf-8")
    with pytest.raises(ValueError, match="must hold the booking's"):
        rules.catalogue.__wrapped__()


def test_weekly_slots_skip_weekends_holidays_and_the_year_end_closure():
    weekly = rules.Weekly.from_dict({"weekdays": [0, 1, 2, 3, 4], "times": ["10:00"], "capacity": 2})
    found = rules.weekly_slots(weekly, date(2030, 12, 23), date(2031, 1, 17))
    days = {rules.tokyo_day(start) for start, _ in found}
    assert date(2030, 12, 27) in days  # Friday before the closure
    assert not any(date(2030, 12, 29) <= d <= date(2031, 1, 3) for d in days)
    assert date(2031, 1, 13) not in days  # 成人の日 2031
    assert all(d.weekday() < 5 for d in days)
    assert all(capacity == 2 for _, capacity in found)
    start = next(s for s, _ in found if rules.tokyo_day(s) == date(2031, 1, 6))
    assert rules.slot_id(start) == "2031-01-06T01:00Z"  # 10:00 in Tokyo


def test_an_extra_session_on_a_holiday_is_refused():
    with pytest.raises(Invalid):
        rules.check_extra_session(datetime(2030, 3, 20, 1, 0, tzinfo=UTC))  # 春分の日
    rules.check_extra_session(
        datetime(2030, 3, 23, 1, 0, tzinfo=UTC)
    )  # a Saturday session is the ward's choice


def test_booking_window_and_change_deadline():
    legal = rules.get_service("legal")
    now = datetime(2030, 6, 3, 0, 0, tzinfo=UTC)
    with pytest.raises(Conflict):
        rules.check_bookable(legal, now + timedelta(minutes=10), "in_person", now)
    with pytest.raises(Conflict):
        rules.check_bookable(legal, now + timedelta(days=61), "in_person", now)
    with pytest.raises(Invalid):
        rules.check_bookable(legal, now + timedelta(days=1), "telepathy", now)
    rules.check_bookable(legal, now + timedelta(days=1), "online", now)
    # What the slot list offers is what can be booked: neither too soon nor beyond the days ahead.
    rows = [
        (rules.slot_id(now + delta), 1, 0, True)
        for delta in (timedelta(minutes=10), timedelta(days=1), timedelta(days=61))
    ]
    assert [s["slot"] for s in rules.public_slots(rows, legal, now)] == [rows[1][0]]
    start = now + timedelta(hours=30)
    booked = now - timedelta(days=3)
    rules.check_change_allowed(legal, start, booked, now)  # 24 h before is the deadline
    with pytest.raises(Conflict):
        rules.check_change_allowed(legal, start, booked, now + timedelta(hours=7))


def test_staff_book_a_caller_or_a_walk_in_until_the_session_starts():
    # Residents' 30-minute lead is there so staff can prepare; the counter's walk-in 13 minutes
    # before a session with free seats was refused all the same.
    legal = rules.get_service("legal")
    now = datetime(2030, 6, 3, 3, 0, tzinfo=UTC)
    soon = now + timedelta(minutes=13)
    with pytest.raises(Conflict):
        rules.check_bookable(legal, soon, "in_person", now)
    rules.check_bookable(legal, soon, "in_person", now, by_staff=True)
    with pytest.raises(Conflict):
        rules.check_bookable(legal, now - timedelta(minutes=1), "in_person", now, by_staff=True)


def test_a_booking_made_inside_its_change_deadline_can_be_undone_for_a_short_while():
    # Booked at noon for 15:30 (the deadline, 24 h before, long past): a wrong tap could only be
    # undone by phone. For CHANGE_GRACE after booking the resident may still cancel or move it.
    legal = rules.get_service("legal")
    booked = datetime(2030, 6, 3, 3, 0, tzinfo=UTC)
    start = booked + timedelta(hours=3, minutes=30)
    assert rules.change_until(legal, start, booked) == booked + rules.CHANGE_GRACE
    rules.check_change_allowed(legal, start, booked, booked + rules.CHANGE_GRACE)
    with pytest.raises(Conflict):
        rules.check_change_allowed(legal, start, booked, booked + rules.CHANGE_GRACE + timedelta(seconds=1))
    # Never past the start: a session 10 minutes after the booking is changeable until it starts.
    soon = booked + timedelta(minutes=10)
    assert rules.change_until(legal, soon, booked) == soon


def test_the_guard_is_per_person_service_and_day_and_holds_no_personal_data():
    day = date(2030, 6, 3)
    key = rules.person_key("legal", day, "email:hanako@example.com")
    assert key.startswith("legal#2030-06-03#") and "hanako" not in key
    assert key == rules.person_key("legal", day, "email:hanako@example.com")
    assert key != rules.person_key("tax", day, "email:hanako@example.com")
    assert key != rules.person_key("legal", date(2030, 6, 4), "email:hanako@example.com")
    assert (
        rules.normalize_phone("０３-３６９５-１１１１")
        == rules.normalize_phone("+81 3 3695 1111")
        == rules.normalize_phone("0081-3-3695-1111")  # a re-test: these were other people
        == rules.normalize_phone("+81-(0)3-3695-1111")
        == "0336951111"
    )
    assert rules.normalize_phone("090-8123-4567") == "09081234567"
    # One Gmail mailbox however its dots are written or its domain named (a re-test).
    assert (
        rules.mailbox("Ha.Na.Ko+x@gmail.com") == rules.mailbox("hanako@googlemail.com") == "hanako@gmail.com"
    )
    assert rules.mailbox("ha.na.ko@example.com") == "ha.na.ko@example.com"  # elsewhere a dot is a letter


def test_reminders_day_before_hour_before_and_the_link_for_online_only():
    general = rules.get_service("general")
    start = datetime(2030, 6, 5, 1, 0, tzinfo=UTC)
    now = datetime(2030, 6, 1, tzinfo=UTC)
    assert [kind for kind, _ in rules.reminders(general, start, "in_person", now)] == [
        "reminder_day",
        "reminder_hour",
    ]
    online = dict(rules.reminders(general, start, "online", now))
    assert online["meeting_link"] == start - timedelta(minutes=15)
    late = rules.reminders(general, start, "online", start - timedelta(minutes=30))
    assert [kind for kind, _ in late] == ["meeting_link"]
    assert all(len(rules.schedule_name("BK-2606-ABCDEF", kind)) <= 64 for kind in rules.SCHEDULE_KINDS)


def test_ics_is_a_valid_event_with_escaped_text():
    text = rules.ics(
        uid="BK-2606-ABCDEF",
        start=datetime(2030, 6, 5, 1, 0, tzinfo=UTC),
        minutes=30,
        summary="法律相談; 弁護士, 30分",
        location="葛飾区役所",
        now=datetime(2030, 6, 1, tzinfo=UTC),
    )
    lines = text.split("\r\n")
    assert lines[0] == "BEGIN:VCALENDAR" and "END:VCALENDAR" in lines
    assert "DTSTART:20300605T010000Z" in lines and "DTEND:20300605T013000Z" in lines
    assert "SUMMARY:法律相談\\; 弁護士\\, 30分" in lines
    assert "SEQUENCE:0" in lines


def test_ics_changes_carry_their_sequence_a_cancel_its_organizer_and_long_lines_are_folded():
    link = "https://meet.example.city.katsushika.lg.jp/consultations/BK-2606-ABCDEF?room=" + "x" * 40
    moved = rules.ics(
        uid="BK-2606-ABCDEF",
        start=datetime(2030, 6, 5, 1, 0, tzinfo=UTC),
        minutes=30,
        summary="区の相談" * 10,
        location=link,
        now=datetime(2030, 6, 1, tzinfo=UTC),
        sequence=2,
        organizer="no-reply@madoguchi.example.jp",
    )
    lines = moved.split("\r\n")
    assert "SEQUENCE:2" in lines and "ORGANIZER:mailto:no-reply@madoguchi.example.jp" in lines
    assert all(len(line.encode()) <= 75 for line in lines)
    unfolded = moved.replace("\r\n ", "")
    assert f"LOCATION:{link}" in unfolded.split("\r\n") and "SUMMARY:" + "区の相談" * 10 in unfolded
    assert "STATUS:CANCELLED" in rules.ics(
        uid="x",
        start=datetime(2030, 6, 5, tzinfo=UTC),
        minutes=30,
        summary="s",
        location="l",
        now=datetime(2030, 6, 1, tzinfo=UTC),
        cancelled=True,
    )


def test_booking_ids_and_slots_are_checked():
    booking_id = rules.new_booking_id(datetime(2030, 6, 1, tzinfo=UTC))
    assert rules.normalize_booking_id(booking_id.lower()) == booking_id and booking_id.startswith("BK-3006-")
    assert rules.normalize_booking_id("BK-3006-ILOU00") is None
    with pytest.raises(Invalid):
        rules.parse_slot("2030-06-05 10:00")
    assert rules.parse_slot("2030-06-05T01:00Z") == datetime(2030, 6, 5, 1, 0, tzinfo=UTC)


def test_day_ranges_are_bounded():
    today = date(2030, 6, 1)
    assert rules.day_range(None, None, today) == (today, today + timedelta(days=27))
    with pytest.raises(Invalid):
        rules.day_range("2030-06-10", "2030-06-01", today)
    with pytest.raises(Invalid):
        rules.day_range("2030-06-01", "2030-09-01", today)
    with pytest.raises(Invalid):
        rules.day_range("June", None, today)


def test_session_hours_bound_a_session_to_one_day_within_them():
    from datetime import time as clock

    hours = rules.parse_session_hours("07:00-22:00")
    assert hours == (clock(7, 0), clock(22, 0))

    def at(hh: int, mm: int) -> datetime:
        return datetime(2026, 12, 9, hh, mm, tzinfo=rules.TOKYO)

    assert rules.within_session_hours(at(7, 0), 60, hours)
    assert rules.within_session_hours(at(21, 0), 60, hours)  # ends at 22:00
    assert not rules.within_session_hours(at(21, 30), 60, hours)
    assert not rules.within_session_hours(at(6, 59), 30, hours)
    assert not rules.within_session_hours(
        at(23, 45), 30, rules.parse_session_hours("00:00-23:59")
    )  # crosses midnight
    assert rules.parse_session_hours("off") is None and rules.within_session_hours(at(23, 45), 30, None)
    for bad in ("22:00-07:00", "7-22", "24:00-25:00", "08:00-24:30"):
        with pytest.raises(ValueError):
            rules.parse_session_hours(bad)
    # Written as people write it (a review: each of these answered 500 on every change).
    assert rules.parse_session_hours("7:00-22:00") == hours == rules.parse_session_hours("07:00 - 22:00")
    to_midnight = rules.parse_session_hours("08:00-24:00")
    assert rules.within_session_hours(at(23, 0), 60, to_midnight)  # ends at 24:00
    assert not rules.within_session_hours(at(23, 30), 60, to_midnight)
    assert rules.hours_text(to_midnight) == "08:00-24:00"


def test_a_malformed_session_hours_setting_fails_when_the_settings_are_read(monkeypatch):
    from chalicelib.config import get_settings

    monkeypatch.setenv("CONSULT_SESSION_HOURS", "9am-5pm")
    get_settings.cache_clear()
    try:
        with pytest.raises(ValueError, match="CONSULT_SESSION_HOURS"):
            get_settings()
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()


def _at(hhmm: str, day: date = date(2026, 12, 7)) -> datetime:
    return datetime.combine(day, rules.parse_hhmm(hhmm), rules.TOKYO)


def test_sessions_overlap_when_one_starts_before_another_ends_and_touching_is_fine():
    # lgbts lasts 50 minutes: 10:00 runs to 10:50.
    assert rules.overlapping([_at("10:15")], [_at("10:00")], 50) == [(_at("10:00"), _at("10:15"))]
    assert rules.overlapping([_at("09:30")], [_at("10:00")], 50) == [(_at("09:30"), _at("10:00"))]
    assert rules.overlapping([_at("10:50")], [_at("10:00")], 50) == []
    # The same start is the same session (its capacity set again), not an overlap.
    assert rules.overlapping([_at("10:00")], [_at("10:00")], 50) == []
    # Another day's session at the same time of day is no overlap either.
    assert rules.overlapping([_at("10:15")], [_at("10:00", date(2026, 12, 8))], 50) == []


def test_new_sessions_are_compared_with_each_other_and_old_overlaps_are_not_theirs():
    assert rules.overlapping([_at("13:00"), _at("13:30")], [], 50) == [(_at("13:00"), _at("13:30"))]
    # Two existing sessions that already overlap are not blamed on a new one that overlaps neither.
    assert rules.overlapping([_at("15:00")], [_at("10:00"), _at("10:10")], 50) == []
    # A new session between two others is named with each of them.
    assert rules.overlapping([_at("10:30")], [_at("10:00"), _at("11:00")], 50) == [
        (_at("10:00"), _at("10:30")),
        (_at("10:30"), _at("11:00")),
    ]


def test_an_overlap_is_refused_with_its_code_the_sessions_and_a_text_in_every_language():
    from chalicelib.domain import messages

    with pytest.raises(Invalid) as refused:
        rules.check_no_overlap([_at("10:15")], [_at("10:00")], 50)
    assert refused.value.code == "overlapping_session"
    assert refused.value.details == [{"slots": [rules.slot_id(_at("10:00")), rules.slot_id(_at("10:15"))]}]
    assert refused.value.text("en") == (
        "These sessions would overlap (each lasts 50 minutes): 2026-12-07 10:00 / 10:15"
    )
    texts = messages.catalogue()["consult.error.overlapping_session"]
    assert set(texts) == set(rules.LANGUAGES)
    assert all("50" in refused.value.text(language) for language in rules.LANGUAGES)
    rules.check_no_overlap([_at("10:50")], [_at("10:00")], 50)  # back to back: taken


def test_weekly_times_closer_than_a_session_lasts_are_refused():
    close = rules.Weekly.from_dict({"weekdays": [3], "times": ["18:00", "18:30", "20:00"], "capacity": 1})
    with pytest.raises(Invalid) as refused:
        rules.check_weekly_times(close, 50)
    assert refused.value.code == "overlapping_session"
    assert refused.value.details == [{"pointer": "/weekly/times", "times": ["18:00", "18:30"]}]
    rules.check_weekly_times(close, 30)  # half-hour sessions fit
    for service in rules.catalogue().values():  # the ward's own patterns fit their services
        rules.check_weekly_times(service.demo_weekly, service.duration_minutes)
