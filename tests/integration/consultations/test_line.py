"""Consultations on LINE: book from the rich menu's apply list or a consultation's FAQ answer,
my bookings, cancel with signed buttons."""

from __future__ import annotations

from chalicelib.config import get_settings
from chalicelib.store import consultations as store
from tests.integration.consultations.helpers import body_of
from tests.integration.test_line_chat import Resident, button, buttons, texts


def test_the_apply_menu_and_a_consultation_faq_answer_offer_booking(post_webhook, pump, sandbox):
    resident = Resident(post_webhook, pump, sandbox)
    menu = resident.tap("menu.apply")
    link = button(menu, "相談を予約")
    assert link["uri"] == f"{get_settings().liff_url}/consultations?lang=ja"
    answer = resident.say("弁護士の無料法律相談を受けたい")
    assert button(answer, "この相談を予約")["uri"] == f"{get_settings().liff_url}/consultations/legal?lang=ja"
    # Its text says the button books it (a walkthrough: it sent people to the website to book).
    assert texts(answer).endswith("下の「この相談を予約」を押してください。")


def test_my_bookings_lists_them_and_cancel_asks_first(post_webhook, pump, sandbox, slot, book, mint):
    resident = Resident(post_webhook, pump, sandbox)
    empty = resident.tap("consult.mine")
    assert "ありません" in texts(empty)
    slot_id = slot("general", offset=3)
    booking_id = body_of(book("general", slot_id, token=mint(resident.user_id)))["booking"]
    listed = resident.tap("consult.mine")
    assert booking_id in texts(listed)
    # Whole words and the booking number's end (labels hold 20 characters).
    assert f"取消 {booking_id[-6:]}" in [b["label"] for b in buttons(listed)]
    # A change of time: the bookings page, signed in on LINE (a walkthrough: cancel was all).
    assert button(listed, "日時を変更する")["uri"] == f"{get_settings().liff_url}/bookings?lang=ja"
    ask = resident.tap_button(listed, "取消 ")
    assert "取り消しますか" in texts(ask) and store.get(booking_id).status == "booked"
    # The way back reads as keeping it, never as "cancel" beside "yes, cancel" (a walkthrough).
    assert [b["label"] for b in buttons(ask)] == ["はい、取り消す", "いいえ、予約を残す"]
    kept = resident.tap_button(ask, "いいえ")
    assert texts(kept) == "予約はそのままです。" and store.get(booking_id).status == "booked"
    done = resident.tap_button(ask, "はい")
    assert "取消を受け付けました" in texts(done)
    assert store.get(booking_id).status == "cancelled"
    assert int(store.get_slot("general", slot_id).booked) == 0
    # The same button again (or a forged id of another resident's booking) changes nothing.
    again = resident.tap("consult.cancel_yes", booking_id)
    assert texts(again) == "このご予約はすでに取り消されています。"  # not "call the ward" about nothing
    old_button = resident.tap("consult.cancel", booking_id)  # the list's button, tapped later
    assert texts(old_button) == "このご予約はすでに取り消されています。"
    assert not [b for b in buttons(resident.tap("consult.mine")) if booking_id[-6:] in b["label"]]


def test_a_sensitive_consultation_is_not_named_in_the_chat(post_webhook, pump, sandbox, slot, book, mint):
    """The chat's list and its cancel question show on a phone's screen and in LINE's previews:
    "区の相談", as the notices and the web pages say it, never the topic."""
    resident = Resident(post_webhook, pump, sandbox)
    slot_id = slot("lgbts", section="jinken-suishin", offset=4)
    booking_id = body_of(book("lgbts", slot_id, token=mint(resident.user_id)))["booking"]
    listed = resident.tap("consult.mine")
    ask = resident.tap_button(listed, "取消 ")
    for reply in (listed, ask):
        assert booking_id in texts(reply) and "区の相談" in texts(reply), texts(reply)
        assert "LGBT" not in texts(reply)


def test_a_booking_inside_its_change_deadline_offers_no_cancel_button_but_says_to_call(
    post_webhook, pump, sandbox, slot, book, mint, monkeypatch
):
    """A same-day booking (or one whose deadline has passed since): a Cancel button could only
    end in "cannot be cancelled"; the list says to call instead."""
    import dataclasses
    from datetime import timedelta

    from chalicelib.domain import consultations as rules

    resident = Resident(post_webhook, pump, sandbox)
    booking_id = body_of(book("general", slot("general", offset=3), token=mint(resident.user_id)))["booking"]
    original = rules.get_service
    monkeypatch.setattr(
        rules,
        "get_service",
        lambda service_id: dataclasses.replace(original(service_id), cancel_deadline=timedelta(days=30)),
    )
    monkeypatch.setattr(rules, "CHANGE_GRACE", timedelta(0))  # booked a while ago
    listed = resident.tap("consult.mine")
    assert booking_id in texts(listed) and "お電話でご連絡ください" in texts(listed)
    assert not [b for b in buttons(listed) if booking_id[-6:] in b["label"]]
    # A Cancel button from an earlier list: refused at once, not after "Yes".
    old_button = resident.tap("consult.cancel", booking_id)
    assert "取り消しますか" not in texts(old_button) and "LINEからは取り消せません" in texts(old_button)
