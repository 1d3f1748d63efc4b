"""Confirmation, reminders, meeting link and cancellation notices; crashes at each step.

The pump delivers the `consultations` queue and fires the one-time Scheduler schedules
(`fire_due_schedules(now=...)` with a time in the future stands in for waiting)."""

from __future__ import annotations

import email
import json
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.adapters import scheduler
from chalicelib.domain import consultations as rules
from chalicelib.domain.submissions import TOKYO
from chalicelib.services import consultations as service
from chalicelib.store import consultations as store
from chalicelib.workers import consultations as worker
from devstack.env import MOTO_ACCOUNT, REGION
from tests.integration.conftest import new_user_id
from tests.integration.consultations.helpers import body_of

PUSH = "/v2/bot/message/push"


def pushes_to(sandbox, user_id: str) -> list[str]:
    return [
        r["body"]["messages"][0]["text"]
        for r in sandbox.requests(PUSH)
        if r["body"].get("to") == user_id and r["status"] == 200
    ]


def emails_to(address: str) -> list[email.message.Message]:
    from moto.ses.models import ses_backends

    found = []
    for sent in ses_backends[MOTO_ACCOUNT][REGION].sent_messages:
        if address in (getattr(sent, "destinations", None) or []):
            found.append(email.message_from_string(sent.raw_data))
    return found


def schedules_of(booking_id: str) -> dict[str, str]:
    found = {}
    for kind in rules.SCHEDULE_KINDS:
        described = scheduler.describe(rules.schedule_name(booking_id, kind))
        if described:
            found[kind] = described["ScheduleExpression"]
    return found


@pytest.fixture
def drained(pump):
    pump.drain()
    return pump


def fire_at(pump, when: datetime) -> None:
    pump.fire_due_schedules(when)
    pump.drain()


def test_line_booking_confirmation_reminders_and_cancel(call, slot, book, mint, sandbox, drained):
    user = new_user_id()
    slot_id = slot("traffic-accident", offset=3)
    response = book("traffic-accident", slot_id, token=mint(user), mode="online")
    assert response.status_code == 201, response.body
    booking_id = body_of(response)["booking"]
    drained.drain()
    [confirmation] = pushes_to(sandbox, user)
    assert booking_id in confirmation and "交通事故相談" in confirmation
    start = rules.parse_slot(slot_id)
    # Deterministic names, at the right times; the follow-up schedule is gone once it ran.
    assert schedules_of(booking_id) == {
        "reminder_day": scheduler.at_expression(start - timedelta(hours=24)),
        "reminder_hour": scheduler.at_expression(start - timedelta(hours=1)),
        "meeting_link": scheduler.at_expression(start - timedelta(minutes=15)),
    }
    fire_at(drained, start - timedelta(hours=24) + timedelta(seconds=1))
    assert len(pushes_to(sandbox, user)) == 2 and "明日" in pushes_to(sandbox, user)[1]
    # The meeting link is the booking's own random room: its number alone does not open it.
    room = store.get(booking_id).meeting_room
    assert worker.process(booking_id, "meeting_link", slot_id) == ["meeting_link"]
    [link] = [line for line in pushes_to(sandbox, user)[-1].splitlines() if line.startswith("https://")]
    assert link.endswith(f"/consultations/traffic-accident/{room}") and booking_id not in link
    # My bookings (LIFF) lists it; cancel with the ID token.
    mine = call("GET", "/line/me/bookings", headers={"Authorization": f"Bearer {mint(user)}"})
    assert [b["booking"] for b in body_of(mine)["bookings"]] == [booking_id]
    cancelled = call(
        "POST", f"/bookings/{booking_id}/cancel", headers={"Authorization": f"Bearer {mint(user)}"}
    )
    assert cancelled.status_code == 200, cancelled.body
    drained.drain()
    assert schedules_of(booking_id) == {}
    assert "取り消しました" in pushes_to(sandbox, user)[-1]
    assert len(pushes_to(sandbox, user)) == 4
    # Another resident's token does not open it.
    other = call(
        "POST", f"/bookings/{booking_id}/cancel", headers={"Authorization": f"Bearer {mint(new_user_id())}"}
    )
    assert other.status_code == 404


def test_a_reminder_that_fires_after_a_cancel_sends_nothing(slot, book, mint, sandbox, drained, monkeypatch):
    user = new_user_id()
    slot_id = slot("general", offset=3)
    booking_id = body_of(book("general", slot_id, token=mint(user)))["booking"]
    drained.drain()
    booking = store.get(booking_id)
    # The cancel's follow-up has not run (its message lost): the reminder schedules are still there.
    monkeypatch.setattr(service, "_queue_followup", lambda booking_id: None)
    service.cancel(booking)
    monkeypatch.undo()
    assert "reminder_hour" in schedules_of(booking_id)
    before = len(pushes_to(sandbox, user))
    assert worker.process(booking_id, "reminder_hour", slot_id) == []
    assert worker.process(booking_id, "reminder_day", slot_id) == []
    assert len(pushes_to(sandbox, user)) == before


def move_as(call, mint, user: str, booking_id: str, to: str) -> None:
    """The resident moves their booking from LIFF (their LINE ID token)."""
    moved = call(
        "POST",
        f"/bookings/{booking_id}/reschedule",
        {"slot": to},
        headers={"Authorization": f"Bearer {mint(user)}"},
    )
    assert moved.status_code == 200, moved.body


def test_a_reminder_for_the_old_time_of_a_moved_booking_sends_nothing(
    call, slot, book, mint, sandbox, drained
):
    user = new_user_id()
    old, new = slot("general", offset=4), slot("general", offset=4)
    booking_id = body_of(book("general", old, token=mint(user)))["booking"]
    move_as(call, mint, user, booking_id, new)
    drained.drain()
    assert worker.process(booking_id, "reminder_hour", old) == []
    assert worker.process(booking_id, "reminder_hour", new) == ["reminder_hour"]
    assert worker.process(booking_id, "reminder_hour", new) == []  # once
    texts = pushes_to(sandbox, user)
    assert any("変更しました" in t for t in texts)
    expected = scheduler.at_expression(rules.parse_slot(new) - timedelta(hours=1))
    assert schedules_of(booking_id)["reminder_hour"] == expected


def test_a_booking_moved_away_and_back_is_told_each_time(call, slot, book, mint, sandbox, drained):
    """Told "moved to 15:30" and then nothing, the resident would come at 15:30 to a booking
    that is back at 10:30: each move is a notice of its own, even back to a time told before."""
    user = new_user_id()
    first, other = slot("general", offset=5), slot("general", offset=5)
    booking_id = body_of(book("general", first, token=mint(user)))["booking"]
    drained.drain()
    for to in (other, first):
        move_as(call, mint, user, booking_id, to)
        drained.drain()
    told = pushes_to(sandbox, user)
    assert len(told) == 3 and "変更しました" in told[-1]
    when = rules.tokyo_text(rules.parse_slot(first)).replace("T", " ")[:16]
    assert when in told[-1] and when in told[0]
    drained.drain()
    assert len(pushes_to(sandbox, user)) == 3  # and each once


def test_email_confirmation_carries_an_ics_in_the_residents_language(call, slot, book, drained):
    slot_id = slot("legal")
    address = f"ics-{slot_id[:10]}-{slot_id[11:13]}{slot_id[14:16]}@example.com"
    response = call(
        "POST",
        "/consultations/legal/bookings",
        {"slot": slot_id, "mode": "in_person", "eligibility": "worker", "name": "Ann", "email": address},
        headers={"Accept-Language": "en"},
    )
    assert response.status_code == 201, response.body
    drained.drain()
    [message] = emails_to(address)
    parts = {part.get_content_type(): part for part in message.walk()}
    text = parts["text/plain"].get_payload(decode=True).decode()
    assert "Your booking is confirmed" in text and "Legal consultation" in text
    calendar = parts["text/calendar"].get_payload(decode=True).decode()
    start = rules.parse_slot(slot_id)
    assert f"DTSTART:{start:%Y%m%dT%H%M%SZ}" in calendar and "STATUS:CONFIRMED" in calendar
    # In person: where, and what to do on arrival (the calendar once sent the resident to a
    # confirmation that named no place).
    assert "Where: Katsushika City Office (Tateishi 5-13-1" in text and "information desk" in text
    assert "LOCATION:Katsushika City Office (Tateishi 5-13-1" in calendar.replace("\r\n ", "")
    # Until when it can be changed, as its page says (a walkthrough: only the page said it).
    booked = json.loads(response.body)
    until = rules.change_until(rules.get_service("legal"), start, datetime.now(UTC))
    assert f"Change or cancel until: {until.astimezone(TOKYO):%Y-%m-%d %H:%M}" in text
    # A resident's own cancel says where to book again, as the ward's does.
    cancelled = call(
        "POST", f"/bookings/{booked['booking']}/cancel", headers={"X-Access-Secret": booked["accessCode"]}
    )
    assert cancelled.status_code == 200, cancelled.body
    drained.drain()
    [_, cancel] = emails_to(address)
    said = {p.get_content_type(): p for p in cancel.walk()}["text/plain"].get_payload(decode=True).decode()
    assert "To book another time:" in said and "/web/consultations/legal?lang=en" in said


def test_an_online_bookings_calendar_gives_out_its_room_only_with_the_link(call, slot, drained):
    slot_id = slot("legal")
    address = f"room-{slot_id[:10]}-{slot_id[11:13]}{slot_id[14:16]}@example.com"
    document = {"slot": slot_id, "mode": "online", "eligibility": "worker", "name": "Ann", "email": address}
    response = call("POST", "/consultations/legal/bookings", document, headers={"Accept-Language": "en"})
    assert response.status_code == 201, response.body
    drained.drain()
    [message] = emails_to(address)
    parts = {part.get_content_type(): part for part in message.walk()}
    calendar = parts["text/calendar"].get_payload(decode=True).decode().replace("\r\n ", "")
    room = store.get(json.loads(response.body)["booking"]).meeting_room
    assert room not in calendar and "sent 15 minutes before it starts" in calendar
    # Off LINE, the email links the page where the booking is seen, moved or cancelled.
    text = parts["text/plain"].get_payload(decode=True).decode()
    assert "/web/bookings?lang=en" in text


def test_a_sensitive_consultation_is_not_named_in_notices(call, slot, book, drained):
    slot_id = slot("lgbts", section="jinken-suishin")
    address = f"s-{slot_id[:10]}-{slot_id[11:13]}{slot_id[14:16]}@example.com"
    booked = book("lgbts", slot_id, email=address)
    assert booked.status_code == 201
    drained.drain()
    # Nor in the cancel's "book again" address (a re-test: it linked /consultations/lgbts).
    answer = body_of(booked)
    cancelled = call(
        "POST", f"/bookings/{answer['booking']}/cancel", headers={"X-Access-Secret": answer["accessCode"]}
    )
    assert cancelled.status_code == 200, cancelled.body
    drained.drain()
    for message in emails_to(address):
        body = "".join(
            part.get_payload(decode=True).decode() for part in message.walk() if not part.is_multipart()
        )
        subject = str(email.header.make_header(email.header.decode_header(message["Subject"])))
        assert "LGBT" not in body and "lgbt" not in body and "LGBT" not in subject
        assert "区の相談" in body


# --------------------------------------------------------------------------- crashes


class Crash(Exception):
    pass


def test_crash_before_the_transaction_leaves_nothing_but_a_harmless_schedule(
    slot, monkeypatch, drained, sandbox
):
    slot_id = slot("general")

    def crash(*args, **kwargs):
        raise Crash()

    monkeypatch.setattr(store, "insert", crash)
    with pytest.raises(Crash):
        service.book(
            "general",
            {
                "slot": slot_id,
                "mode": "in_person",
                "eligibility": "resident",
                "name": "x",
                "email": "crash1@example.com",
            },
            service.Booker("web", "ja"),
        )
    monkeypatch.undo()
    assert int(store.get_slot("general", slot_id).booked) == 0
    fire_at(drained, datetime.now(UTC) + timedelta(minutes=3))  # the follow-up fires: nothing to do
    assert emails_to("crash1@example.com") == []


def test_crash_after_the_transaction_is_completed_by_the_followup_schedule(slot, monkeypatch, drained):
    slot_id = slot("general")
    monkeypatch.setattr(service, "_queue_followup", lambda booking_id: (_ for _ in ()).throw(Crash()))
    with pytest.raises(Crash):
        service.book(
            "general",
            {
                "slot": slot_id,
                "mode": "in_person",
                "eligibility": "resident",
                "name": "x",
                "email": "crash2@example.com",
            },
            service.Booker("web", "ja"),
        )
    monkeypatch.undo()
    assert int(store.get_slot("general", slot_id).booked) == 1
    drained.drain()
    assert emails_to("crash2@example.com") == []  # not yet: nothing was queued
    fire_at(drained, datetime.now(UTC) + timedelta(minutes=3))
    assert len(emails_to("crash2@example.com")) == 1
    fire_at(drained, datetime.now(UTC) + timedelta(minutes=3))
    assert len(emails_to("crash2@example.com")) == 1


def test_crash_in_the_worker_after_line_took_the_push_sends_it_once(
    slot, book, mint, sandbox, monkeypatch, drained
):
    from chalicelib.store import inbox

    user = new_user_id()
    slot_id = slot("general")
    booking_id = body_of(book("general", slot_id, token=mint(user)))["booking"]
    real_mark = inbox.mark_processed
    monkeypatch.setattr(inbox, "mark_processed", lambda *a: (_ for _ in ()).throw(Crash()))
    with pytest.raises(Crash):
        worker.process(booking_id, "followup", None)
    monkeypatch.setattr(inbox, "mark_processed", real_mark)
    key = f"consult#{booking_id}#booked#{slot_id}#r1"
    inbox.release(key)  # the lease would run out; the redelivery comes
    assert worker.process(booking_id, "followup", None) == ["booked"]
    drained.drain()
    # The retry key made the second push a 409 at LINE: delivered once.
    assert len(pushes_to(sandbox, user)) == 1


def test_crash_after_a_cancel_transaction_still_tells_the_resident_and_stops_reminders(
    slot, book, mint, sandbox, monkeypatch, drained
):
    user = new_user_id()
    slot_id = slot("general", offset=3)
    booking_id = body_of(book("general", slot_id, token=mint(user)))["booking"]
    drained.drain()
    monkeypatch.setattr(service, "_queue_followup", lambda booking_id: (_ for _ in ()).throw(Crash()))
    with pytest.raises(Crash):
        service.cancel(store.get(booking_id))
    monkeypatch.undo()
    assert store.get(booking_id).status == "cancelled"
    fire_at(drained, datetime.now(UTC) + timedelta(minutes=3))
    assert schedules_of(booking_id) == {}
    assert "取り消しました" in pushes_to(sandbox, user)[-1]


def test_unreadable_records_fail_alone():
    result = worker.handle_batch(
        [
            {"messageId": "a", "body": "{"},
            {"messageId": "b", "body": json.dumps({"booking": "BK-2612-AAAAAA", "kind": "followup"})},
        ]
    )
    assert result == {"batchItemFailures": [{"itemIdentifier": "a"}]}


def test_a_resident_who_unfollowed_books_on_line_only_with_an_email(
    call, book, slot, mint, sandbox, drained, post_webhook
):
    """An outside run: LIFF took a booking whose notices could go by LINE push alone from a user
    who had unfollowed; they were told nothing. Now they are asked for an email address."""
    from tests.integration.conftest import line_event, webhook_body

    user = new_user_id()
    for change in ("follow", "unfollow"):
        assert post_webhook(webhook_body(line_event(change, user))).status_code == 200
        drained.drain()
    refused = book("traffic-accident", slot("traffic-accident", offset=3), token=mint(user))
    assert refused.status_code == 409 and body_of(refused)["error"]["code"] == "not_following"
    document = {
        "slot": slot("traffic-accident", offset=3),
        "mode": "in_person",
        "eligibility": "resident",
        "email": "unfollowed@example.com",
    }
    headers = {"Authorization": f"Bearer {mint(user)}"}
    taken = call("POST", "/consultations/traffic-accident/bookings", document, headers=headers)
    assert taken.status_code == 201, taken.body
    drained.drain()
    assert pushes_to(sandbox, user) == []  # the confirmation went by email only
