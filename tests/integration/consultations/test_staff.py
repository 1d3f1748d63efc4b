"""Staff of the owning section: day view, attendance, cancel with a reason, phone bookings."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.domain import consultations as rules
from chalicelib.store import consultations as store
from tests.integration.conftest import new_user_id
from tests.integration.consultations.helpers import body_of, fresh_slot, staff_headers
from tests.integration.consultations.test_notices import pushes_to


def test_day_view_shows_the_sections_slots_and_bookings_and_hides_sensitive_details(call, slot, book):
    legal = slot("legal")
    answer = body_of(book("legal", legal, note="借地の更新について"))
    lgbts = slot("lgbts", section="jinken-suishin")
    sensitive = body_of(book("lgbts", lgbts, note="private"))
    day = legal[:10]
    view = body_of(call("GET", f"/staff/consultations?date={day}", headers=staff_headers()))
    assert view["section"] == "kocho"
    assert {s["service"] for s in view["services"]} >= {"legal", "tax", "general"}
    assert "lgbts" not in {s["service"] for s in view["services"]}  # another section's
    [row] = [r for s in view["services"] for sl in s["slots"] if sl["slot"] == legal for r in sl["bookings"]]
    assert row["booking"] == answer["booking"] and row["note"] == "借地の更新について"
    theirs = body_of(
        call("GET", f"/staff/consultations?date={lgbts[:10]}", headers=staff_headers("jinken-suishin"))
    )
    [hidden] = [
        r for s in theirs["services"] for sl in s["slots"] if sl["slot"] == lgbts for r in sl["bookings"]
    ]
    assert hidden["booking"] == sensitive["booking"]
    assert "name" not in hidden and "note" not in hidden
    # A filter the view does not have is said, as on the other staff lists (it was ignored).
    refused = call("GET", f"/staff/consultations?date={day}&service=legal", headers=staff_headers())
    assert refused.status_code == 400 and body_of(refused)["error"]["code"] == "invalid_query"
    assert [d["parameter"] for d in body_of(refused)["error"]["details"]] == ["service"]
    # An unknown name is repeated without what would turn the message around (a bidi override).
    odd = call("GET", f"/staff/consultations?date={day}&%E2%80%AEx=1", headers=staff_headers())
    assert [d["parameter"] for d in body_of(odd)["error"]["details"]] == ["\ufffdx"]
    # An empty, doubled or impossible day is said too (an empty one used to show today).
    for query in ("date=", f"date={day}&date=", "date=2026-02-30", "date=9999-12-31"):
        refused = call("GET", f"/staff/consultations?{query}", headers=staff_headers())
        assert refused.status_code == 400, query
        assert [d["parameter"] for d in body_of(refused)["error"]["details"]] == ["date"], query


def test_another_section_can_neither_see_nor_change_a_booking(call, slot, book):
    slot_id = slot("legal")
    booking_id = body_of(book("legal", slot_id))["booking"]
    other = staff_headers("zeimu")
    assert call("GET", f"/staff/consultations/bookings/{booking_id}", headers=other).status_code == 404
    assert (
        call(
            "POST", f"/staff/consultations/bookings/{booking_id}/cancel", {"reason": "x"}, headers=other
        ).status_code
        == 404
    )
    assert (
        call(
            "POST", "/staff/consultations/legal/availability", {"closedDays": [slot_id[:10]]}, headers=other
        ).status_code
        == 403
    )
    assert call("GET", "/staff/consultations", headers={}).status_code == 401
    assert store.get(booking_id).status == "booked"


def test_viewing_a_booking_is_audited_and_attendance_can_be_corrected_but_not_ahead(call, slot, book):
    slot_id = slot("tax")
    booking_id = body_of(book("tax", slot_id))["booking"]
    detail = call(
        "GET", f"/staff/consultations/bookings/{booking_id}", headers=staff_headers(staff_id="staff-7")
    )
    assert detail.status_code == 200 and body_of(detail)["email"].endswith("@example.com")
    assert ("staff", "staff-7", "viewed") in {
        (e.actor_kind, e.actor_id, e.action) for e in store.trail(booking_id)
    }
    attendance = f"/staff/consultations/bookings/{booking_id}/attendance"
    # Not before its time: a no-show marked ahead would leave the resident unable to cancel or move it.
    early = call("POST", attendance, {"status": "no_show"}, headers=staff_headers())
    assert early.status_code == 409 and body_of(early)["error"]["code"] == "not_started"
    assert store.get(booking_id).status == "booked"
    started = store.get(booking_id)  # the session's time comes: its start moved to an hour ago
    started.update(actions=[type(started).slot.set(rules.slot_id(datetime.now(UTC) - timedelta(hours=1)))])
    # Begun, it is attendance that is recorded; a move would rewrite a past session.
    moved = call(
        "POST",
        f"/staff/consultations/bookings/{booking_id}/move",
        {"slot": slot("tax")},
        headers=staff_headers(),
    )
    assert moved.status_code == 409 and body_of(moved)["error"]["code"] == "session_begun"
    marked = call("POST", attendance, {"status": "no_show"}, headers=staff_headers())
    assert marked.status_code == 200 and body_of(marked)["status"] == "no_show"

    def marks():
        return [
            (e.action, e.from_status, e.to_status)
            for e in store.trail(booking_id)
            if e.action in ("marked", "corrected")
        ]

    # A mis-tap is corrected, audited with what it replaced; the same status again changes nothing.
    corrected = call("POST", attendance, {"status": "attended"}, headers=staff_headers(staff_id="staff-8"))
    assert corrected.status_code == 200 and body_of(corrected)["status"] == "attended"
    same = call("POST", attendance, {"status": "attended"}, headers=staff_headers())
    assert same.status_code == 200 and body_of(same)["status"] == "attended"
    assert sorted(marks()) == [("corrected", "no_show", "attended"), ("marked", "booked", "no_show")]
    assert store.get(booking_id).status == "attended"


def test_a_cancelled_booking_takes_no_attendance(call, slot, book):
    booking_id = body_of(book("tax", slot("tax", offset=2)))["booking"]
    cancelled = call(
        "POST",
        f"/staff/consultations/bookings/{booking_id}/cancel",
        {"reason": "相談員の急病"},
        headers=staff_headers(),
    )
    assert cancelled.status_code == 200
    again = call(  # a retry: told it is cancelled, the resident not told twice
        "POST",
        f"/staff/consultations/bookings/{booking_id}/cancel",
        {"reason": "相談員の急病"},
        headers=staff_headers(),
    )
    assert again.status_code == 200 and body_of(again)["status"] == "cancelled"
    assert [e.action for e in store.trail(booking_id)].count("cancelled") == 1
    for status in ("attended", "no_show"):
        refused = call(
            "POST",
            f"/staff/consultations/bookings/{booking_id}/attendance",
            {"status": status},
            headers=staff_headers(),
        )
        assert refused.status_code == 409 and body_of(refused)["error"]["code"] == "not_booked"
    assert store.get(booking_id).status == "cancelled"


def test_a_cancel_by_the_ward_needs_a_reason_and_the_resident_is_told(call, slot, book, mint, sandbox, pump):
    user = new_user_id()
    slot_id = slot("general", offset=3)
    booking_id = body_of(book("general", slot_id, token=mint(user)))["booking"]
    for blank in ({}, {"reason": "   "}, {"reason": "\u3000\n"}):
        no_reason = call(
            "POST", f"/staff/consultations/bookings/{booking_id}/cancel", blank, headers=staff_headers()
        )
        assert no_reason.status_code == 422 and body_of(no_reason)["error"]["code"] == "reason_required"
    # The whole reason the schema allows reaches the resident: its end is often a number to call.
    reason = "相談員の急病のため" + "本日の相談は中止します。" * 23 + "03-3695-1111"
    assert len(reason) <= 300
    done = call(
        "POST",
        f"/staff/consultations/bookings/{booking_id}/cancel",
        {"reason": reason},
        headers=staff_headers(),
    )
    assert done.status_code == 200 and body_of(done)["status"] == "cancelled"
    assert body_of(done)["residentNotified"] is True and "notice" not in body_of(done)
    pump.drain()
    last = pushes_to(sandbox, user)[-1]
    assert "区の都合" in last and reason in last
    assert int(store.get_slot("general", slot_id).booked) == 0


def test_a_phone_booking_records_its_channel_and_follows_the_same_rules(call, slot):
    first, second = slot("general"), slot("general")
    document = {
        "slot": first,
        "mode": "in_person",
        "eligibility": "resident",
        "name": "電話 太郎",
        "phone": "03-3695-1111",
        "channel": "phone",
    }
    made = call(
        "POST", "/staff/consultations/general/bookings", document, headers=staff_headers(staff_id="staff-3")
    )
    assert made.status_code == 201, made.body
    booking = store.get(body_of(made)["booking"])
    assert booking.channel == "phone" and booking.entered_by == "staff-3"
    # The same caller (the same number, written differently) cannot take a second seat that day.
    twice = call(
        "POST",
        "/staff/consultations/general/bookings",
        {**document, "slot": second, "phone": "0336951111"},
        headers=staff_headers(),
    )
    assert twice.status_code == 409 and body_of(twice)["error"]["code"] == "already_booked"
    blank_name = {**document, "slot": second, "name": "  ", "phone": "03-3695-2222"}
    refused = call("POST", "/staff/consultations/general/bookings", blank_name, headers=staff_headers())
    assert refused.status_code == 422 and body_of(refused)["error"]["code"] == "name_required"
    no_channel = {k: v for k, v in document.items() if k != "channel"}
    assert (
        call("POST", "/staff/consultations/general/bookings", no_channel, headers=staff_headers()).status_code
        == 422
    )


def test_a_ward_change_to_a_booking_with_a_phone_only_tells_the_clerk_to_phone(call, slot):
    first, second = slot("general"), slot("general")
    document = {"slot": first, "mode": "in_person", "eligibility": "resident", "channel": "phone"}
    made = call(
        "POST",
        "/staff/consultations/general/bookings",
        {**document, "name": "電話 次郎", "phone": "03-3695-3333"},
        headers=staff_headers(),
    )
    booking_id = body_of(made)["booking"]
    moved = call(
        "POST", f"/staff/consultations/bookings/{booking_id}/move", {"slot": second}, headers=staff_headers()
    )
    assert moved.status_code == 200, moved.body
    assert body_of(moved)["residentNotified"] is False and "phone them" in body_of(moved)["notice"]
    cancelled = call(
        "POST",
        f"/staff/consultations/bookings/{booking_id}/cancel",
        {"reason": "中止"},
        headers=staff_headers(),
    )
    assert body_of(cancelled)["residentNotified"] is False and "phone them" in body_of(cancelled)["notice"]


def test_of_two_cancels_at_the_same_moment_only_the_one_that_cancelled_tells(call, slot, book, mint):
    from chalicelib.services import consultations as service

    booking_id = body_of(book("general", slot("general", offset=5), token=mint(new_user_id())))["booking"]
    first, second = store.get(booking_id), store.get(booking_id)  # both read while booked
    assert service.cancelled(first, by_staff="staff-1", reason="中止")[1] is True
    view, changed = service.cancelled(second, by_staff="staff-2", reason="中止")
    assert view["status"] == "cancelled" and changed is False


def test_a_ward_call_that_changes_nothing_tells_nobody(call, slot, book, mint):
    slot_id = slot("general", offset=4)
    booking_id = body_of(book("general", slot_id, token=mint(new_user_id())))["booking"]
    path = f"/staff/consultations/bookings/{booking_id}"
    same = call("POST", f"{path}/move", {"slot": slot_id}, headers=staff_headers())
    assert same.status_code == 200 and body_of(same)["residentNotified"] is False
    first = call("POST", f"{path}/cancel", {"reason": "中止"}, headers=staff_headers())
    again = call("POST", f"{path}/cancel", {"reason": "中止"}, headers=staff_headers())
    assert body_of(first)["residentNotified"] is True
    assert body_of(again)["residentNotified"] is False and "notice" not in body_of(again)


def test_a_closed_day_offers_no_slots(call, slot, slots_of):
    slot_id = slot("registry-survey", offset=15)
    assert slots_of("registry-survey", slot_id) is not None
    closed = call(
        "POST",
        "/staff/consultations/registry-survey/availability",
        {"closedDays": [slot_id[:10]]},
        headers=staff_headers(),
    )
    assert closed.status_code == 200 and body_of(closed)["closed"] >= 1
    assert slots_of("registry-survey", slot_id) is None
    trail = store.trail("availability#registry-survey")
    assert (
        trail[-1].action == "availability" and trail[-1].actor_id == "staff-1" and "closed" in trail[-1].note
    )


def test_the_daily_digest_lists_the_next_business_days_bookings_without_personal_data(slot, book):
    from datetime import timedelta

    from moto.ses.models import ses_backends

    from chalicelib.domain.business_days import is_business_day
    from chalicelib.workers import digest
    from devstack.env import MOTO_ACCOUNT, REGION
    from tests.integration.consultations.helpers import open_day

    slot_id = slot("legal", offset=5)
    booking_id = body_of(book("legal", slot_id, note="秘密の相談内容", name="区民 一郎"))["booking"]
    sensitive = slot("lgbts", section="jinken-suishin", offset=5)
    hidden_id = body_of(book("lgbts", sensitive))["booking"]
    day_before = open_day(5) - timedelta(days=1)
    while not is_business_day(day_before.date()):
        day_before -= timedelta(days=1)
    digest.run(now=day_before + timedelta(hours=8, minutes=30))
    sent = [
        m
        for m in ses_backends[MOTO_ACCOUNT][REGION].sent_messages
        if booking_id in (getattr(m, "body", "") or "")
    ]
    assert sent, "the kocho digest names the booking"
    assert "秘密の相談内容" not in sent[0].body and "区民 一郎" not in sent[0].body
    theirs = [
        m
        for m in ses_backends[MOTO_ACCOUNT][REGION].sent_messages
        if hidden_id in (getattr(m, "body", "") or "")
    ]
    assert theirs and "LGBT" not in theirs[0].body


@pytest.mark.parametrize("day", ["9999-12-31", "0001-01-01", "2026-02-30", "２０２６-12-14", "20261214"])
def test_a_day_outside_the_calendar_is_refused_not_a_500(call, day):
    view = call("GET", f"/staff/consultations?date={day}", headers=staff_headers())
    assert view.status_code == 400 and body_of(view)["error"]["code"] == "invalid_query"  # as other lists
    closed = call(
        "POST", "/staff/consultations/legal/availability", {"closedDays": [day]}, headers=staff_headers()
    )
    assert closed.status_code == 422  # the schema's pattern, else the calendar
    slots = call("GET", f"/consultations/legal/slots?from={day}&to={day}")
    assert slots.status_code == 422 and body_of(slots)["error"]["code"] == "invalid_date"


@pytest.mark.parametrize("slot_id", ["9999-12-31T23:59Z", "0001-01-01T00:00Z", "２０２６-12-14T01:00Z"])
def test_an_extra_session_outside_the_calendar_is_refused_not_a_500(call, slot_id):
    extra = {"extraSessions": [{"slot": slot_id, "capacity": 1}]}
    response = call("POST", "/staff/consultations/legal/availability", extra, headers=staff_headers())
    assert response.status_code == 422


def test_sessions_run_in_the_day_each_once_and_a_backwards_range_says_so(call, slot):
    """An outside run: a session at 23:45 (past midnight) and one at 00:00 were opened and
    booked, the same extra session twice was taken, and from > to was "at most six months"."""
    day = rules.parse_slot(slot("legal", offset=16)).astimezone(rules.TOKYO).date()
    path = "/staff/consultations/legal/availability"

    def at(hhmm: str) -> str:
        local = datetime.combine(day, datetime.strptime(hhmm, "%H:%M").time(), rules.TOKYO)
        return rules.slot_id(local)

    for hhmm in ("23:45", "00:00", "06:30"):
        refused = call(
            "POST", path, {"extraSessions": [{"slot": at(hhmm), "capacity": 1}]}, headers=staff_headers()
        )
        assert refused.status_code == 422 and body_of(refused)["error"]["code"] == "outside_session_hours", (
            hhmm
        )
    weekly = {
        "weekdays": [day.weekday()],
        "times": ["23:45"],
        "capacity": 1,
        "from": day.isoformat(),
        "to": day.isoformat(),
    }
    late = call("POST", path, {"weekly": weekly}, headers=staff_headers())
    assert late.status_code == 422 and body_of(late)["error"]["code"] == "outside_session_hours"
    twice = [{"slot": at("19:00"), "capacity": 1}, {"slot": at("19:00"), "capacity": 3}]
    doubled = call("POST", path, {"extraSessions": twice}, headers=staff_headers())
    assert doubled.status_code == 422 and body_of(doubled)["error"]["code"] == "duplicate_session"
    backwards = dict(weekly, times=["10:00"], to=(day - timedelta(days=1)).isoformat())
    reversed_range = call("POST", path, {"weekly": backwards}, headers=staff_headers())
    assert reversed_range.status_code == 422 and "before" in body_of(reversed_range)["error"]["message"]
    evening = call(
        "POST", path, {"extraSessions": [{"slot": at("19:00"), "capacity": 1}]}, headers=staff_headers()
    )
    assert evening.status_code == 200  # an evening session is the ward's to open


def test_availability_sells_no_seat_below_its_bookings_keeps_closed_days_and_is_all_or_nothing(
    call, slot, book
):
    """Asked for fewer seats than are booked, a session keeps its bookings and sells no more, nor
    the seats they free later (the capacity asked for stays); a weekly pattern posted again does
    not reopen a closed day; a request with one bad item changes nothing at all (it used to write
    the items before it, with no audit entry)."""
    slot_id = slot("general", capacity=2)
    booking_id = body_of(book("general", slot_id))["booking"]
    lowered = call(
        "POST",
        "/staff/consultations/general/availability",
        {"extraSessions": [{"slot": slot_id, "capacity": 0}]},
        headers=staff_headers(),
    )
    assert lowered.status_code == 200 and body_of(lowered)["kept"] == 1
    held = store.get_slot("general", slot_id)
    assert (int(held.capacity), int(held.booked), bool(held.open)) == (0, 1, True)
    cancel = f"/staff/consultations/bookings/{booking_id}/cancel"
    assert call("POST", cancel, {"reason": "x"}, headers=staff_headers()).status_code == 200
    day = slot_id[:10]
    listed = body_of(call("GET", f"/consultations/general/slots?from={day}&to={day}"))["slots"]
    assert slot_id not in [s["slot"] for s in listed]  # the freed seat is not sold: staff asked for 0
    assert body_of(book("general", slot_id)).get("error", {}).get("code") == "slot_full"

    start = rules.parse_slot(slot("general", offset=15))  # a day no other test books
    day, hhmm = (
        start.astimezone(rules.TOKYO).date().isoformat(),
        start.astimezone(rules.TOKYO).strftime("%H:%M"),
    )
    weekly = {
        "from": day,
        "to": day,
        "weekdays": [start.astimezone(rules.TOKYO).weekday()],
        "times": [hhmm],
        "capacity": 3,
    }
    closed = call(
        "POST", "/staff/consultations/general/availability", {"closedDays": [day]}, headers=staff_headers()
    )
    assert closed.status_code == 200 and body_of(closed)["closed"] >= 1
    again = call(
        "POST", "/staff/consultations/general/availability", {"weekly": weekly}, headers=staff_headers()
    )
    assert again.status_code == 200
    assert not store.get_slot("general", rules.slot_id(start)).open  # still closed

    fresh = rules.parse_slot(slot("general"))  # a time nobody has a session at yet
    new_slot = rules.slot_id(fresh + timedelta(minutes=1))
    refused = call(
        "POST",
        "/staff/consultations/general/availability",
        {"extraSessions": [{"slot": new_slot, "capacity": 1}], "closedDays": ["2027-02-30"]},
        headers=staff_headers(),
    )
    assert refused.status_code == 422
    assert store.get_slot("general", new_slot) is None


def test_a_phone_booking_in_a_language_madoguchi_does_not_speak_is_refused(call, slot):
    document = {
        "slot": slot("general"),
        "mode": "in_person",
        "eligibility": "resident",
        "name": f"電話 {new_user_id()[-6:]}",  # one booking a day per caller: a caller of its own
        "phone": f"03-{int(new_user_id()[-8:], 16) % 9000 + 1000}-2222",
        "channel": "phone",
    }
    for language in ("xx", 7, ["ja"]):
        refused = call(
            "POST",
            "/staff/consultations/general/bookings",
            {**document, "language": language},
            headers=staff_headers(),
        )
        assert refused.status_code == 422 and body_of(refused)["error"]["code"] == "invalid_language", (
            refused.body
        )
    assert (
        call(
            "POST",
            "/staff/consultations/general/bookings",
            {**document, "language": "vi"},
            headers=staff_headers(),
        ).status_code
        == 201
    )


def test_an_admin_reads_the_sections_day_and_a_booking_and_changes_nothing(call, slot, book):
    slot_id = slot("legal")
    booking_id = body_of(book("legal", slot_id))["booking"]
    admin = staff_headers(roles=("admin",))
    assert call("GET", f"/staff/consultations?date={slot_id[:10]}", headers=admin).status_code == 200
    assert call("GET", f"/staff/consultations/bookings/{booking_id}", headers=admin).status_code == 200
    refused = call(
        "POST", f"/staff/consultations/bookings/{booking_id}/cancel", {"reason": "x"}, headers=admin
    )
    assert refused.status_code == 403 and store.get(booking_id).status == "booked"


def test_the_ward_moves_a_booking_past_the_residents_deadline_and_the_resident_is_told(
    call, slot, book, mint, sandbox, pump, monkeypatch
):
    """Asked by phone, or when a session changes, the ward moves a booking itself: the seats and
    rules of a move, not the resident's change deadline; audited, and the resident is told."""
    import dataclasses

    user = new_user_id()
    first, later, full = slot("legal", offset=3), slot("legal", offset=4), slot("legal", offset=4)
    booking_id = body_of(book("legal", first, token=mint(user)))["booking"]
    book("legal", full)  # its one seat taken
    pump.drain()
    # A deadline the resident has passed (a service's setting), so only the ward can move it.
    strict = dataclasses.replace(rules.get_service("legal"), cancel_deadline=timedelta(days=400))
    monkeypatch.setitem(rules.catalogue(), "legal", strict)
    monkeypatch.setattr(rules, "CHANGE_GRACE", timedelta(0))  # booked just now: no grace either
    resident = call(
        "POST",
        f"/bookings/{booking_id}/reschedule",
        {"slot": later},
        headers={"Authorization": f"Bearer {mint(user)}"},
    )
    assert resident.status_code == 409 and body_of(resident)["error"]["code"] == "change_deadline_passed"

    path = f"/staff/consultations/bookings/{booking_id}/move"
    for document, code in (({}, 422), ({"slot": "tomorrow"}, 422), ({"slot": full}, 409)):
        refused = call("POST", path, document, headers=staff_headers())
        assert refused.status_code == code, refused.body
    assert call("POST", path, {"slot": later}, headers=staff_headers("zeimu")).status_code == 404
    assert call("POST", path, {"slot": later}, headers=staff_headers(roles=("admin",))).status_code == 403
    assert store.get(booking_id).slot == first

    moved = call("POST", path, {"slot": later}, headers=staff_headers(staff_id="staff-7"))
    assert moved.status_code == 200 and body_of(moved)["slot"] == later, moved.body
    assert int(store.get_slot("legal", first).booked) == 0 and int(store.get_slot("legal", later).booked) == 1
    # Kept as long after the new time as after the old (docs/privacy.md): not deleted before it.
    assert store.get(booking_id).expires_at == rules.parse_slot(later) + store.RETENTION
    from chalicelib.store.models import BookingGuard

    assert BookingGuard.get(store.get(booking_id).guard).expires_at == store.get(booking_id).expires_at
    trail = store.trail(booking_id)
    entry = trail[-1]
    assert (entry.actor_kind, entry.actor_id, entry.action) == ("staff", "staff-7", "rescheduled")
    moved = f"{rules.tokyo_text(rules.parse_slot(first))} -> {rules.tokyo_text(rules.parse_slot(later))}"
    assert entry.note == moved and "+09:00" in moved  # in Tokyo time, as staff read every time
    pump.drain()
    told = pushes_to(sandbox, user)[-1]
    assert rules.tokyo_text(rules.parse_slot(later))[11:16] in told
    # The same slot again changes nothing; a cancelled booking cannot be moved.
    assert call("POST", path, {"slot": later}, headers=staff_headers()).status_code == 200
    assert len(store.trail(booking_id)) == len(trail)
    detail = body_of(call("GET", f"/staff/consultations/bookings/{booking_id}", headers=staff_headers()))
    moves = [e for e in detail["trail"] if e["action"] == "rescheduled"]
    assert [(e["by"], e["note"]) for e in moves] == [("staff-7", moved)]  # from where, to where
    assert all(re.fullmatch(r"[0-9-]{10}T[0-9:]{8}\+09:00", e["at"]) for e in detail["trail"])
    call(
        "POST",
        f"/staff/consultations/bookings/{booking_id}/cancel",
        {"reason": "重複"},
        headers=staff_headers(),
    )
    gone = call("POST", path, {"slot": first}, headers=staff_headers())
    assert gone.status_code == 409 and body_of(gone)["error"]["code"] == "not_booked"


def test_a_day_with_bookings_closes_only_once_they_are_moved_or_cancelled(call, slot, book):
    """Closing a day under its residents' feet would leave them coming to nothing: refused with
    the bookings to move or cancel first (which tells each resident), and nothing changed."""
    held = slot("tax", offset=16)
    booking_id = body_of(book("tax", held))["booking"]
    day = rules.parse_slot(held).astimezone(rules.TOKYO).date().isoformat()
    path = "/staff/consultations/tax/availability"
    refused = call("POST", path, {"closedDays": [day]}, headers=staff_headers())
    assert refused.status_code == 409 and body_of(refused)["error"]["code"] == "day_has_bookings"
    assert body_of(refused)["error"]["details"] == [{"booking": booking_id, "slot": held}]
    assert bool(store.get_slot("tax", held).open) and store.get(booking_id).status == "booked"
    cancel = f"/staff/consultations/bookings/{booking_id}/cancel"
    assert call("POST", cancel, {"reason": "休館日"}, headers=staff_headers()).status_code == 200
    closed = call("POST", path, {"closedDays": [day]}, headers=staff_headers())
    assert closed.status_code == 200 and body_of(closed)["closed"] >= 1
    assert not store.get_slot("tax", held).open


def test_availability_in_the_past_is_a_typo_refused_with_what_it_was(call):
    path = "/staff/consultations/registry-survey/availability"
    for document, shown in (
        ({"extraSessions": [{"slot": "2020-01-06T01:00Z", "capacity": 1}]}, "2020-01-06 10:00"),  # Tokyo
        ({"closedDays": ["2020-01-06"]}, "2020-01-06"),
    ):
        refused = call("POST", path, document, headers=staff_headers())
        assert refused.status_code == 422 and body_of(refused)["error"]["code"] == "in_the_past"
        assert shown in body_of(refused)["error"]["message"]
    assert store.get_slot("registry-survey", "2020-01-06T01:00Z") is None


def test_a_move_then_a_cancel_before_either_went_out_tells_both(call, slot, book, mint, sandbox, pump):
    """An outside walkthrough: the move's notice was dropped as out of date, and the cancel named
    the new time, one the resident had never been told."""
    user = new_user_id()
    first, later = slot("legal", offset=3), slot("legal", offset=4)
    booking_id = body_of(book("legal", first, token=mint(user)))["booking"]
    pump.drain()
    path = f"/staff/consultations/bookings/{booking_id}"
    assert call("POST", f"{path}/move", {"slot": later}, headers=staff_headers()).status_code == 200
    assert (
        call("POST", f"{path}/cancel", {"reason": "担当者の都合"}, headers=staff_headers()).status_code == 200
    )
    pump.drain()
    *_, moved, cancelled = pushes_to(sandbox, user)
    new_time = rules.tokyo_text(rules.parse_slot(later))[11:16]
    assert new_time in moved and "担当者の都合" not in moved  # first the move, then the cancel
    assert new_time in cancelled and "担当者の都合" in cancelled
    assert len(pushes_to(sandbox, user)) == 3


def test_a_cancel_weeks_after_the_confirmation_sends_the_cancel_alone(call, slot, book, pump):
    """A review: the cancel re-sent the confirmation (with a calendar REQUEST) whenever the
    notices' once-ledger had expired (a week), which is the usual case for a booking weeks ahead."""
    from chalicelib.store.models import InboxEvent
    from tests.integration.consultations.test_notices import emails_to

    address = f"weeks-{new_user_id()[-8:]}@example.com"
    booking_id = body_of(book("legal", slot("legal", offset=3), email=address))["booking"]
    pump.drain()
    assert len(emails_to(address)) == 1 and store.get(booking_id).told_revision == 1
    for row in InboxEvent.scan(InboxEvent.event_id.startswith(f"consult#{booking_id}#")):
        row.delete()  # what DynamoDB's TTL does a week after
    path = f"/staff/consultations/bookings/{booking_id}/cancel"
    assert call("POST", path, {"reason": "担当者の都合"}, headers=staff_headers()).status_code == 200
    pump.drain()
    confirmation, cancel = emails_to(address)
    calendar = next(p for p in cancel.walk() if p.get_content_type() == "text/calendar")
    assert "METHOD:CANCEL" in calendar.get_payload(decode=True).decode()
    # An inbox tells them apart by the subject (a walkthrough: every notice had the same one).
    import email.header

    subjects = [
        str(email.header.make_header(email.header.decode_header(m["Subject"])))
        for m in (confirmation, cancel)
    ]
    assert "予約を受け付けました：" in subjects[0] and "予約を取り消しました：" in subjects[1], subjects
    # Asked to book again, it is told where (a walkthrough: no link, no number).
    text = (
        next(p for p in cancel.walk() if p.get_content_type() == "text/plain")
        .get_payload(decode=True)
        .decode()
    )
    assert "/web/consultations/legal?lang=" in text


def test_a_late_confirmation_and_its_cancel_carry_their_own_calendar_versions(call, slot, book, pump):
    """A move then a cancel before either went out: the move's version, then the cancel's."""
    from tests.integration.consultations.test_notices import emails_to

    address = f"versions-{new_user_id()[-8:]}@example.com"
    booking_id = body_of(book("legal", slot("legal", offset=3), email=address))["booking"]
    pump.drain()
    path = f"/staff/consultations/bookings/{booking_id}"
    assert (
        call("POST", f"{path}/move", {"slot": slot("legal", offset=4)}, headers=staff_headers()).status_code
        == 200
    )
    assert (
        call("POST", f"{path}/cancel", {"reason": "担当者の都合"}, headers=staff_headers()).status_code == 200
    )
    pump.drain()

    def version(message) -> str:
        calendar = next(p for p in message.walk() if p.get_content_type() == "text/calendar")
        return re.search(r"SEQUENCE:(\d+)", calendar.get_payload(decode=True).decode()).group(1)

    assert [version(message) for message in emails_to(address)] == ["0", "1", "2"]


def test_a_booking_made_while_its_day_closes_keeps_the_day_open(call, slot, book, monkeypatch):
    """An outside run: a booking that landed between the close's check and its writes stayed
    booked in a closed session, and nobody was told. The close is conditional on an empty
    session, and the request's other closes are undone: all or nothing."""
    from chalicelib.services import staff_consultations

    booked, empty = slot("tax", offset=18), slot("tax", offset=18)
    day = rules.parse_slot(booked).astimezone(rules.TOKYO).date().isoformat()
    assert rules.parse_slot(empty).astimezone(rules.TOKYO).date().isoformat() == day
    booking_id = body_of(book("tax", booked))["booking"]
    # The check saw no booking: the resident booked just after it.
    monkeypatch.setattr(staff_consultations.store, "for_section_day", lambda section, day: [])
    path = "/staff/consultations/tax/availability"
    refused = call("POST", path, {"closedDays": [day]}, headers=staff_headers())
    assert refused.status_code == 409 and body_of(refused)["error"]["code"] == "day_has_bookings"
    assert store.get_slot("tax", booked).open and store.get_slot("tax", empty).open
    assert store.get(booking_id).status == "booked"


def test_a_day_closed_in_the_request_that_sets_its_weekly_sessions_stays_closed(call):
    """A review: closes ran before the weekly sessions were made, so a day with no session yet
    closed nothing and the pattern then opened it."""
    start = rules.parse_slot(fresh_slot("general", offset=19))
    day = start.astimezone(rules.TOKYO).date().isoformat()
    weekly = {
        "from": day,
        "to": day,
        "weekdays": [start.astimezone(rules.TOKYO).weekday()],
        "times": [start.astimezone(rules.TOKYO).strftime("%H:%M")],
        "capacity": 3,
    }
    path = "/staff/consultations/general/availability"
    both = call("POST", path, {"weekly": weekly, "closedDays": [day]}, headers=staff_headers())
    assert both.status_code == 200 and body_of(both)["closed"] == 1, both.body
    assert not store.get_slot("general", rules.slot_id(start)).open
    listed = body_of(call("GET", f"/consultations/general/slots?from={day}&to={day}"))["slots"]
    assert rules.slot_id(start) not in [s["slot"] for s in listed]
    again = call("POST", path, {"weekly": weekly}, headers=staff_headers())  # the pattern again
    assert again.status_code == 200 and not store.get_slot("general", rules.slot_id(start)).open


JINKEN = "jinken-suishin"  # lgbts: 50-minute sessions, one counsellor


def test_a_session_overlapping_another_of_the_day_is_refused_and_nothing_is_written(call, slot, book):
    """A review: next to a 10:00 session of a 50-minute service, an extra one at 10:15 was opened
    and both were sold: one counsellor, two residents from 10:15 to 10:50."""
    from chalicelib.domain import messages

    path = "/staff/consultations/lgbts/availability"
    first = rules.parse_slot(slot("lgbts", section=JINKEN, offset=17))  # a day no other test uses

    def extra(*starts: datetime, capacity: int = 1):
        sessions = [{"slot": rules.slot_id(start), "capacity": capacity} for start in starts]
        headers = {**staff_headers(JINKEN), "Accept-Language": "en"}
        return call("POST", path, {"extraSessions": sessions}, headers=headers)

    later, earlier = first + timedelta(minutes=15), first - timedelta(minutes=30)
    refused = extra(later)
    assert refused.status_code == 422 and body_of(refused)["error"]["code"] == "overlapping_session"
    assert body_of(refused)["error"]["details"] == [{"slots": [rules.slot_id(first), rules.slot_id(later)]}]
    shown = f"{first.astimezone(rules.TOKYO):%Y-%m-%d %H:%M} / {later.astimezone(rules.TOKYO):%H:%M}"
    # Staff read Japanese and English (api/errors.py), as every staff answer.
    said = {
        language: messages.text("consult.error.overlapping_session", language, minutes=50, sessions=shown)
        for language in ("ja", "en")
    }
    assert body_of(refused)["error"]["message"] == f"{said['ja']} / {said['en']}"
    assert extra(earlier).status_code == 422
    # Two of one request that overlap each other, on a free part of the day: neither is made.
    apart, close = first + timedelta(hours=3), first + timedelta(hours=3, minutes=30)
    assert body_of(extra(apart, close))["error"]["code"] == "overlapping_session"
    assert [store.get_slot("lgbts", rules.slot_id(s)) for s in (later, earlier, apart, close)] == [None] * 4

    # Back to back is fine, and the same start again is the same session (its seats changed).
    assert extra(first + timedelta(minutes=50)).status_code == 200
    assert extra(first, capacity=2).status_code == 200
    assert int(store.get_slot("lgbts", rules.slot_id(first)).capacity) == 2
    # A session with no seat left to sell and no booking takes no time: staff retire a time so.
    assert extra(first, capacity=0).status_code == 200
    assert extra(later).status_code == 422  # ... the 10:50 session is still there
    moved = first + timedelta(minutes=-20)
    assert extra(moved).status_code == 200
    # A booked session keeps its time even when its seats are set to none.
    booked = body_of(book("lgbts", rules.slot_id(moved)))
    assert "booking" in booked, booked
    assert extra(moved, capacity=0).status_code == 200
    assert extra(moved - timedelta(minutes=40)).status_code == 422


def test_a_session_retired_and_its_replacement_opened_in_one_request_are_no_overlap(call, slot):
    """A review: moving a session 20 minutes (the old one's seats to none, a new one) was refused."""
    path = "/staff/consultations/lgbts/availability"
    first = rules.parse_slot(slot("lgbts", section=JINKEN, offset=21))
    moved = first + timedelta(minutes=20)
    sessions = [{"slot": rules.slot_id(first), "capacity": 0}, {"slot": rules.slot_id(moved), "capacity": 1}]
    answer = call("POST", path, {"extraSessions": sessions}, headers=staff_headers(JINKEN))
    assert answer.status_code == 200, body_of(answer)
    assert int(store.get_slot("lgbts", rules.slot_id(first)).capacity) == 0
    assert int(store.get_slot("lgbts", rules.slot_id(moved)).capacity) == 1


def test_a_session_booked_between_the_check_and_its_retirement_keeps_its_time(call, slot, book, monkeypatch):
    """A re-review: a resident booked the session being retired after the overlap check, and its
    replacement 20 minutes later opened too: one counsellor, two sessions."""
    from chalicelib.services import staff_consultations

    path = "/staff/consultations/lgbts/availability"
    first = rules.parse_slot(slot("lgbts", section=JINKEN, offset=23))
    moved = first + timedelta(minutes=20)
    checked = staff_consultations._check_overlaps
    booked = []

    def check_then_a_resident_books(*args):
        found = checked(*args)
        if not booked:  # once: the check is run again on the refusal, to say what overlaps
            booked.append(body_of(book("lgbts", rules.slot_id(first)))["booking"])
        return found

    monkeypatch.setattr(staff_consultations, "_check_overlaps", check_then_a_resident_books)
    sessions = [{"slot": rules.slot_id(first), "capacity": 0}, {"slot": rules.slot_id(moved), "capacity": 1}]
    refused = call("POST", path, {"extraSessions": sessions}, headers=staff_headers(JINKEN))
    assert refused.status_code == 422 and body_of(refused)["error"]["code"] == "overlapping_session"
    old = store.get_slot("lgbts", rules.slot_id(first))
    assert (int(old.capacity), int(old.booked)) == (1, 1)  # as it was, with its booking
    assert store.get_slot("lgbts", rules.slot_id(moved)) is None


def test_weekly_times_closer_than_a_session_or_over_an_extra_one_are_refused(call, slot):
    path = "/staff/consultations/lgbts/availability"
    extra = rules.parse_slot(slot("lgbts", section=JINKEN, offset=18))
    local = extra.astimezone(rules.TOKYO)
    weekly = {
        "from": local.date().isoformat(),
        "to": local.date().isoformat(),
        "weekdays": [local.weekday()],
        "capacity": 1,
    }
    close = call(
        "POST", path, {"weekly": {**weekly, "times": ["18:00", "18:30"]}}, headers=staff_headers(JINKEN)
    )
    assert close.status_code == 422 and body_of(close)["error"]["code"] == "overlapping_session"
    assert body_of(close)["error"]["details"] == [{"pointer": "/weekly/times", "times": ["18:00", "18:30"]}]
    over = f"{(local + timedelta(minutes=30)):%H:%M}"  # into the extra session's 50 minutes
    clash = call(
        "POST", path, {"weekly": {**weekly, "times": [over, "18:00"]}}, headers=staff_headers(JINKEN)
    )
    assert clash.status_code == 422 and body_of(clash)["error"]["code"] == "overlapping_session"
    low, high = rules.bounds_utc(local.date(), local.date())
    assert [s.slot for s in store.query_slots("lgbts", low, high)] == [rules.slot_id(extra)]
    # The same day closed by the request: its sessions are made closed, so nothing clashes.
    closed = call(
        "POST",
        path,
        {"weekly": {**weekly, "times": [over, "18:00"]}, "closedDays": [local.date().isoformat()]},
        headers=staff_headers(JINKEN),
    )
    assert closed.status_code == 200, closed.body
