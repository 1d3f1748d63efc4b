"""Consultation booking over the API: catalogue, slots, book, no double booking, cancel, move."""

from __future__ import annotations

import dataclasses
import threading
from datetime import UTC, date, datetime, timedelta

import jpholiday

from chalicelib.domain import consultations as rules
from chalicelib.domain import messages
from chalicelib.store import consultations as store
from tests.integration.consultations.helpers import body_of, fresh_slot, staff_headers


def test_catalogue_lists_the_thirteen_services_in_the_residents_language(call):
    response = call("GET", "/consultations", headers={"Accept-Language": "vi"})
    assert response.status_code == 200
    body = body_of(response)
    assert body["language"] == "vi"
    services = {s["id"]: s for s in body["consultations"]}
    assert len(services) == 13
    assert services["legal"]["name"] == "Tư vấn pháp luật (luật sư)"
    assert services["lgbts"]["sensitive"] is True
    assert set(services["legal"]["modes"]) == {"in_person", "online"}
    one = call("GET", "/consultations/lgbts", headers={"Accept-Language": "en"})
    assert body_of(one)["name"] == "LGBTs consultation" and body_of(one)["whoMayBook"] == ["anyone"]
    assert call("GET", "/consultations/nope").status_code == 404


def test_free_slots_show_remaining_capacity_and_hide_full_ones(call, slot, book, slots_of):
    slot_id = slot("legal", capacity=2)
    assert slots_of("legal", slot_id)["remaining"] == 2
    assert book("legal", slot_id).status_code == 201
    assert slots_of("legal", slot_id)["remaining"] == 1
    assert book("legal", slot_id).status_code == 201
    assert slots_of("legal", slot_id) is None  # full: not offered


def test_a_booking_answers_a_number_and_an_access_code_that_open_it(call, slot, book):
    slot_id = slot("tax")
    response = book("tax", slot_id, note="相続税について")
    assert response.status_code == 201, response.body
    answer = body_of(response)
    assert rules.normalize_booking_id(answer["booking"]) == answer["booking"]
    assert answer["status"] == "booked" and answer["slot"] == slot_id and answer["accessCode"]
    seen = call("GET", f"/bookings/{answer['booking']}", headers={"X-Access-Secret": answer["accessCode"]})
    assert seen.status_code == 200 and body_of(seen)["slot"] == slot_id
    # In the reader's language when the request names one, else the booking's (Japanese here).
    service = rules.get_service("tax")
    assert body_of(seen)["prepare"] == service.prepare["ja"]
    for asked in ({"Accept-Language": "ko"}, {}):
        path = f"/bookings/{answer['booking']}" + ("" if asked else "?lang=ko")
        read = call("GET", path, headers={"X-Access-Secret": answer["accessCode"], **asked})
        assert body_of(read)["prepare"] == service.prepare["ko"] and read.headers["Content-Language"] == "ko"
    # A request naming none of ours reads the booking's own, not a fallback's (fr -> en).
    for asked, query in (({"Accept-Language": "fr-FR"}, ""), ({"Accept-Language": "*"}, "?lang=xx")):
        read = call(
            "GET",
            f"/bookings/{answer['booking']}{query}",
            headers={"X-Access-Secret": answer["accessCode"], **asked},
        )
        assert read.headers["Content-Language"] == "ja", asked
    wrong = call("GET", f"/bookings/{answer['booking']}", headers={"X-Access-Secret": "AAAA-AAAA-AAAA"})
    unknown = call("GET", "/bookings/BK-2612-ZZZZZZ", headers={"X-Access-Secret": answer["accessCode"]})
    assert wrong.status_code == unknown.status_code == 404


def test_twenty_concurrent_bookings_for_the_last_seat_exactly_one_wins(slot, book):
    slot_id = slot("general", capacity=1)
    results: list[int] = []
    lock = threading.Lock()
    from chalicelib.services import consultations as service

    def attempt(n: int) -> None:
        booker = service.Booker(channel="web", language="ja")
        document = {
            "slot": slot_id,
            "mode": "in_person",
            "eligibility": "resident",
            "name": "x",
            "email": f"race{n}-{slot_id.replace(':', '')}@example.com",
        }
        try:
            service.book("general", document, booker)
            outcome = 201
        except Exception as error:  # noqa: BLE001
            outcome = getattr(error, "code", type(error).__name__)
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=attempt, args=(n,)) for n in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results.count(201) == 1, results
    assert results.count("slot_full") == 19, results
    stored = store.get_slot("general", slot_id)
    assert stored is not None and int(stored.booked) == 1


def test_a_line_user_cannot_hold_two_bookings_of_one_service_on_one_day(slot, book, mint):
    from tests.integration.conftest import new_user_id

    first, second = slot("legal"), slot("legal")
    assert first[:10] == second[:10]
    user = new_user_id()
    assert book("legal", first, token=mint(user)).status_code == 201
    again = book("legal", second, token=mint(user))
    assert again.status_code == 409
    assert body_of(again)["error"]["code"] == "already_booked"
    # No Accept-Language: the ward's Japanese, in one language.
    assert body_of(again)["error"]["message"] == messages.text("consult.error.already_booked", "ja")
    assert int(store.get_slot("legal", second).booked) == 0  # nothing half-written
    # Another service the same day is fine.
    assert book("tax", slot("tax"), token=mint(user)).status_code == 201


def test_a_typed_address_never_answers_whether_its_owner_booked_that_day(slot, book):
    """A review: anyone who typed a person's email or phone number into a booking learnt from
    `already_booked` that this person had booked that consultation that day. A typed contact
    proves nobody, so web bookings are not counted per person (the page's once-key stops a
    double send, the per-address day limit a flood) and both are taken."""
    first, second = slot("legal"), slot("legal")
    assert book("legal", first, email="Same.Person@example.com").status_code == 201
    assert book("legal", second, email="same.person+2@example.com").status_code == 201
    assert book("legal", slot("legal"), phone="090-1234-5678").status_code == 201
    assert book("legal", slot("legal"), phone="09012345678").status_code == 201


def test_an_address_written_oddly_is_refused(slot, book):
    second = slot("legal")
    # One mailbox written another way is no address we take (outside runs booked twice so, and
    # mail to an address SES cannot deliver to costs the ward's sending reputation).
    for written in (
        "same.person@example.com.",
        '"same.person"@example.com',
        "(x)same.person@example.com",
        "same.person@example.com(y)",
        "same.person@[192.0.2.1]",
        "same..person@example.com",
        "same.person@-example-.com",
        "same.person@example.c",
    ):
        refused = book("legal", second, email=written)
        assert refused.status_code == 422, (written, refused.body)


def test_cancel_frees_the_seat_and_the_day_for_the_same_resident(call, slot, book, slots_of):
    slot_id = slot("building")
    answer = body_of(book("building", slot_id, email="cancel.rebook@example.com"))
    assert slots_of("building", slot_id) is None
    cancelled = call(
        "POST", f"/bookings/{answer['booking']}/cancel", headers={"X-Access-Secret": answer["accessCode"]}
    )
    assert cancelled.status_code == 200 and body_of(cancelled)["status"] == "cancelled"
    assert slots_of("building", slot_id)["remaining"] == 1
    again = call(
        "POST", f"/bookings/{answer['booking']}/cancel", headers={"X-Access-Secret": answer["accessCode"]}
    )
    assert again.status_code == 200 and body_of(again)["status"] == "cancelled"  # a retry: done
    assert book("building", slot_id, email="cancel.rebook@example.com").status_code == 201
    assert int(store.get_slot("building", slot_id).booked) == 1


def test_cancels_at_the_same_moment_all_answer_cancelled_and_free_one_seat(call, slot, book):
    # A double tap: one cancel won and the others answered 409 "changed meanwhile".
    slot_id = slot("building", capacity=2)
    answer = body_of(book("building", slot_id))
    headers = {"X-Access-Secret": answer["accessCode"]}
    results: list = [None] * 5

    def cancel(index: int) -> None:
        response = call("POST", f"/bookings/{answer['booking']}/cancel", headers=headers)
        results[index] = (response.status_code, body_of(response).get("status"))

    threads = [threading.Thread(target=cancel, args=(index,)) for index in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [(200, "cancelled")] * 5
    assert int(store.get_slot("building", slot_id).booked) == 0


def test_a_booking_made_inside_its_change_deadline_can_be_cancelled_just_after(call, slot, book, monkeypatch):
    # Booked for later today (the 24-hour deadline long past): it could be neither cancelled nor
    # moved a minute later, only by phone. For a short while after booking, the resident may.
    strict = dataclasses.replace(rules.get_service("building"), cancel_deadline=timedelta(days=400))
    monkeypatch.setitem(rules.catalogue(), "building", strict)
    answer = body_of(book("building", slot("building")))
    assert answer["changeable"] is True
    cancelled = call(
        "POST", f"/bookings/{answer['booking']}/cancel", headers={"X-Access-Secret": answer["accessCode"]}
    )
    assert cancelled.status_code == 200 and body_of(cancelled)["status"] == "cancelled"


def test_reschedule_into_a_full_slot_is_refused_and_keeps_the_booking(call, slot, book):
    mine, full, free = slot("wills"), slot("wills"), slot("wills")
    answer = body_of(book("wills", mine))
    assert book("wills", full).status_code == 201
    headers = {"X-Access-Secret": answer["accessCode"]}
    refused = call("POST", f"/bookings/{answer['booking']}/reschedule", {"slot": full}, headers=headers)
    assert refused.status_code == 409 and body_of(refused)["error"]["code"] == "slot_full"
    assert store.get(answer["booking"]).slot == mine
    assert [int(store.get_slot("wills", s).booked) for s in (mine, full, free)] == [1, 1, 0]
    moved = call("POST", f"/bookings/{answer['booking']}/reschedule", {"slot": free}, headers=headers)
    assert moved.status_code == 200 and body_of(moved)["slot"] == free
    assert [int(store.get_slot("wills", s).booked) for s in (mine, full, free)] == [0, 1, 1]


def test_capacity_zero_offers_nothing_and_books_nothing(slot, book, slots_of):
    slot_id = slot("consumer", capacity=0, section="shohi-seikatsu")
    assert slots_of("consumer", slot_id) is None
    refused = book("consumer", slot_id)
    assert refused.status_code == 409 and body_of(refused)["error"]["code"] == "slot_full"


def test_a_session_never_offered_is_no_slot_and_a_closed_one_says_closed(call, slot, book):
    never = fresh_slot("legal")  # a session no staff member opened
    refused = book("legal", never)
    assert refused.status_code == 422 and body_of(refused)["error"]["code"] == "invalid_slot"
    closed = slot("legal", offset=15)  # a day no other test books: a day with bookings stays open
    day = {"closedDays": [closed[:10]]}
    assert (
        call("POST", "/staff/consultations/legal/availability", day, headers=staff_headers()).status_code
        == 200
    )
    refused = book("legal", closed)
    assert refused.status_code == 409 and body_of(refused)["error"]["code"] == "slot_closed"


def test_off_line_a_booking_needs_a_name_not_blanks(call, slot):
    slot_id = slot("legal")
    for name in (None, "", "  \u3000", "\u200b", "\ufeff\u200b "):  # invisible marks alone: a black-box run
        document = {"slot": slot_id, "mode": "in_person", "eligibility": "resident", "email": "a@example.com"}
        if name is not None:
            document["name"] = name
        refused = call("POST", "/consultations/legal/bookings", document)
        assert refused.status_code == 422
        assert [d["pointer"] for d in body_of(refused)["error"]["details"]] == ["/name"]
    assert int(store.get_slot("legal", slot_id).booked) == 0


def test_a_booking_refused_says_what_to_fix_in_the_residents_language_by_the_fields_name(call, slot):
    document = {
        "slot": slot("legal"),
        "mode": "phone",
        "eligibility": "resident",
        "name": "A",
        "phone": "12345",
    }
    for language, phone, mode in (
        ("ja", "「電話番号」", "「相談の方法」"),
        ("en", "“Phone number”", "“How do you want to talk?”"),
    ):
        refused = call(
            "POST", "/consultations/legal/bookings", document, headers={"Accept-Language": language}
        )
        said = {d["pointer"]: d["message"] for d in body_of(refused)["error"]["details"]}
        assert refused.status_code == 422 and set(said) == {"/phone", "/mode"}, said
        assert phone in said["/phone"] and "12345" not in said["/phone"] and "[0-9" not in said["/phone"]
        assert mode.strip("「」“”") in said["/mode"] and "in_person" not in said["/mode"], said


def _next_weekday_holiday() -> date:
    day = datetime.now(UTC).date() + timedelta(days=2)
    while not (day.weekday() < 5 and jpholiday.is_holiday(day)):
        day += timedelta(days=1)
    return day


def test_a_holiday_has_no_slots(call):
    holiday = _next_weekday_holiday()
    first, last = holiday - timedelta(days=7), holiday + timedelta(days=7)
    response = call(
        "POST",
        "/staff/consultations/pension-labour/availability",
        {
            "weekly": {
                "from": first.isoformat(),
                "to": last.isoformat(),
                "weekdays": [0, 1, 2, 3, 4],
                "times": ["10:00"],
                "capacity": 1,
            }
        },
        headers=staff_headers(),
    )
    assert response.status_code == 200, response.body
    listed = call("GET", f"/consultations/pension-labour/slots?from={first}&to={last}")
    days = {s["start"][:10] for s in body_of(listed)["slots"]}
    assert holiday.isoformat() not in days
    assert days and all(date.fromisoformat(d).weekday() < 5 for d in days)
    extra = rules.slot_id(datetime.combine(holiday, datetime.min.time(), rules.TOKYO) + timedelta(hours=10))
    refused = call(
        "POST",
        "/staff/consultations/pension-labour/availability",
        {"extraSessions": [{"slot": extra, "capacity": 1}]},
        headers=staff_headers(),
    )
    assert refused.status_code == 422 and body_of(refused)["error"]["code"] == "ward_closed"


def test_a_replayed_idempotency_key_gets_the_first_answer_and_books_once(slot, book, from_client):
    slot_id = slot("real-estate", capacity=3)
    first = book("real-estate", slot_id, email="idem@example.com", key="key-0001-booking")
    replay = book("real-estate", slot_id, email="idem@example.com", key="key-0001-booking")
    assert first.status_code == replay.status_code == 201
    assert body_of(first) == body_of(replay)
    assert int(store.get_slot("real-estate", slot_id).booked) == 1
    # Another client with the same key and body: its own booking, never the first's access code.
    from_client()
    other = book("real-estate", slot_id, email="idem@example.com", key="key-0001-booking")
    assert other.status_code == 201 and body_of(other)["accessCode"] != body_of(first)["accessCode"]
    assert int(store.get_slot("real-estate", slot_id).booked) == 2


def test_bad_input_is_a_4xx_and_writes_nothing(call, slot, book):
    slot_id = slot("legal")
    assert book("legal", slot_id, mode="video").status_code == 422
    assert book("nope", slot_id).status_code == 404
    no_contact = call(
        "POST",
        "/consultations/legal/bookings",
        {"slot": slot_id, "mode": "in_person", "eligibility": "resident"},
    )
    assert no_contact.status_code == 422
    assert call("POST", "/consultations/legal/bookings", raw=b"{").status_code == 400
    assert int(store.get_slot("legal", slot_id).booked) == 0


def test_a_full_slot_is_explained_in_the_residents_language(call, slot, book):
    slot_id = slot("general")
    assert book("general", slot_id).status_code == 201
    document = {
        "slot": slot_id,
        "mode": "in_person",
        "eligibility": "resident",
        "name": "A",
        "email": "ko@example.com",
    }
    refused = call("POST", "/consultations/general/bookings", document, headers={"Accept-Language": "ko"})
    assert refused.status_code == 409
    message = body_of(refused)["error"]["message"]
    assert message == messages.text("consult.error.slot_full", "ko")  # Korean only, no English after it
    assert refused.headers["Content-Language"] == "ko"


def test_wrong_codes_never_keep_a_bookings_right_code_out(call, slot, book, mint, from_client):
    """Anyone who has seen a booking number could lock its resident out for an hour with ten
    wrong codes, and later keep it waiting as long as they went on guessing (outside runs): wrong
    codes now only use up the guesser's own hour, and its LINE user is never held back."""
    from tests.integration.conftest import new_user_id

    user = new_user_id()
    slot_id = slot("general")
    answer = body_of(book("general", slot_id, token=mint(user)))
    path = f"/bookings/{answer['booking']}"
    for _ in range(10):
        assert call("GET", path, headers={"X-Access-Secret": "AAAA-AAAA-AAAA"}).status_code == 404
    assert call("GET", path, headers={"X-Access-Secret": answer["accessCode"]}).status_code == 200
    assert call("GET", path, headers={"Authorization": f"Bearer {mint(user)}"}).status_code == 200


def _conflicting_connection(monkeypatch, times: int) -> list[int]:
    """DynamoDB answers TransactionConflict `times` times (another transaction on the slot at that
    moment), then the real local stack answers. Injected at our store's connection."""
    from pynamodb.exceptions import CancellationReason, TransactWriteError, VerboseClientError

    real = store._connection()
    seen = [0]

    class Conflicting:
        def __getattr__(self, name):
            return getattr(real, name)

        def transact_write_items(self, *args, **kwargs):
            seen[0] += 1
            if seen[0] <= times:
                items = sum(len(kwargs.get(k) or ()) for k in ("delete_items", "put_items", "update_items"))
                cause = VerboseClientError(
                    {"Error": {"Code": "TransactionCanceledException", "Message": "conflict"}},
                    "TransactWriteItems",
                    cancellation_reasons=[CancellationReason(code="TransactionConflict")] * items,
                )
                raise TransactWriteError("Failed to write transaction items", cause=cause)
            return real.transact_write_items(*args, **kwargs)

    monkeypatch.setattr(store, "_connection", lambda: Conflicting())
    return seen


def test_a_conflicting_transaction_is_retried_a_bounded_number_of_times(slot, book, monkeypatch):
    slot_id = slot("general", capacity=2)
    seen = _conflicting_connection(monkeypatch, times=2)
    assert book("general", slot_id).status_code == 201
    assert seen[0] == 3 and int(store.get_slot("general", slot_id).booked) == 1
    seen = _conflicting_connection(monkeypatch, times=100)
    busy = book("general", slot_id)
    assert busy.status_code == 503 and body_of(busy)["error"]["code"] == "busy"
    assert seen[0] == store.CONFLICT_ATTEMPTS
    assert int(store.get_slot("general", slot_id).booked) == 1
