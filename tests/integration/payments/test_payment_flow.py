"""From a submission that owes a fee to the resident's receipt, over the local stack."""

from __future__ import annotations

import html
import json

import pytest
import requests

from chalicelib.store import payments as store
from chalicelib.store import submissions as submission_store
from tests.integration.conftest import new_user_id
from tests.integration.payments.conftest import ask_refund, staff_headers


def test_paypay_payment_from_submission_to_receipt(owing, resident_api, paybox, settle):
    receipt, secret = owing(copies=2)
    assert submission_store.get(receipt).status == "awaiting_payment"
    status, state = resident_api("GET", f"/submissions/{receipt}/payment", secret)
    assert status == 200 and state["state"] == "payable" and state["amountYen"] == 600
    assert state["timing"] == "before_received"

    status, intent = resident_api("POST", f"/submissions/{receipt}/payments", secret, {"method": "paypay"})
    assert status == 201, intent
    assert intent["paymentId"] == f"{receipt}-PP01" and intent["amountYen"] == 600
    assert intent["status"] == "awaiting_payment" and intent["payUrl"] and intent["deeplink"]
    # The same call again returns the same live intent: one per submission and method.
    assert resident_api("POST", f"/submissions/{receipt}/payments", secret, {"method": "paypay"})[1] == intent
    assert len(paybox.requests("/v2/codes", "POST")) == 1
    # The amount comes from the form (2 copies x 300 yen), never from the client.
    assert paybox.requests("/v2/codes", "POST")[0]["body"]["amount"] == {"amount": 600, "currency": "JPY"}

    paybox.pay(intent["paymentId"])
    assert paybox.deliver() == [200]
    settle()

    stored = store.get(intent["paymentId"])
    assert stored.status == "completed" and stored.paid_amount == 600 and stored.receipt_queued
    assert submission_store.get(receipt).status == "received"
    status, state = resident_api("GET", f"/submissions/{receipt}/payment", secret)
    assert state["state"] == "paid" and state["paid"]["providerPaymentId"] == stored.provider_payment_id
    status, page = resident_api("GET", f"/payments/{intent['paymentId']}/receipt", secret)
    assert status == 200
    page = page.decode() if isinstance(page, bytes) else page
    assert intent["paymentId"] in page and "600" in page and stored.provider_payment_id in page
    # In the language the request names, else the submission's.
    from chalicelib.domain.ward import ward_name
    from chalicelib.services import payment_receipts

    path = f"/payments/{intent['paymentId']}/receipt"
    english = resident_api("GET", path, secret, headers={"Accept-Language": "en"})[1].decode()
    korean = resident_api("GET", f"{path}?lang=ko", secret)[1].decode()
    for language, shown in (("ja", page), ("en", english), ("ko", korean)):
        subject = payment_receipts.build(stored, submission_store.get(receipt), language).subject
        assert html.escape(subject) in shown and ward_name(language) in subject, language
    # Paid: no new intent, and no second payment.
    status, error = resident_api("POST", f"/submissions/{receipt}/payments", secret, {"method": "card"})
    assert status == 409 and error["error"]["code"] == "already_paid"


@pytest.mark.parametrize("method", ["paypay", "card"])
def test_the_sandbox_payment_page_pays_and_sends_the_payer_back_to_our_page(
    method, owing, resident_api, paybox, settle
):
    from chalicelib.config import get_settings

    receipt, secret = owing()
    status, intent = resident_api("POST", f"/submissions/{receipt}/payments", secret, {"method": method})
    assert status == 201, intent
    page = requests.get(intent["payUrl"], timeout=5)  # what the payer's browser opens
    assert page.status_code == 200 and "Pay" in page.text and "¥600" in page.text  # the example: 2 copies
    paid = requests.post(f"{intent['payUrl']}/pay", allow_redirects=False, timeout=5)
    assert paid.status_code == 303
    assert paid.headers["Location"] == f"{get_settings().web_origin}/web/payments/{receipt}/done"
    assert paybox.deliver() == [200]
    settle()
    assert store.get(intent["paymentId"]).status == "completed"
    assert requests.post(f"{intent['payUrl']}/pay", allow_redirects=False, timeout=5).status_code == 409


def test_card_payment_through_hosted_checkout_cancels_the_other_method(owing, resident_api, paybox, settle):
    receipt, secret = owing(copies=1)
    _, paypay_intent = resident_api("POST", f"/submissions/{receipt}/payments", secret, {"method": "paypay"})
    status, card = resident_api("POST", f"/submissions/{receipt}/payments", secret, {"method": "card"})
    assert status == 201 and card["paymentId"] == f"{receipt}-CD01" and card["payUrl"]
    session_id = store.get(card["paymentId"]).provider_ref
    created = paybox.requests("/v1/checkout/sessions", "POST")[-1]["body"]
    assert created["line_items[0][price_data][unit_amount]"] == "300" and "card" not in json.dumps(
        {k: v for k, v in created.items() if "number" in k}
    )

    paybox.complete_session(session_id)
    assert paybox.deliver() == [200]
    settle()

    assert store.get(card["paymentId"]).status == "completed"
    assert submission_store.get(receipt).status == "received"
    # The PayPay code can no longer be paid: deleted at PayPay, the intent cancelled.
    assert store.get(paypay_intent["paymentId"]).status == "canceled"
    assert paybox.requests(f"/v2/codes/{store.get(paypay_intent['paymentId']).provider_ref}", "DELETE")


def test_a_fee_after_approval_is_payable_only_once_staff_accept(owing, resident_api, client, paybox, settle):
    receipt, secret = owing("bulky-waste-collection")
    assert submission_store.get(receipt).status == "received"
    status, error = resident_api("POST", f"/submissions/{receipt}/payments", secret, {"method": "paypay"})
    assert status == 409 and error["error"]["code"] == "not_payable"

    def staff_sees() -> dict:  # staff see the fee and its state on the submission itself
        shown = client.http.get(f"/staff/submissions/{receipt}", headers=staff_headers("seiso", "staff"))
        return json.loads(shown.body)["payment"]

    assert staff_sees()["state"] == "not_yet_payable" and staff_sees()["amountYen"] > 0

    moved = client.http.post(
        f"/staff/submissions/{receipt}/transitions",
        body=json.dumps({"to": "in_review"}),
        headers=staff_headers("seiso", "staff"),
    )
    assert moved.status_code == 200, moved.body
    status, intent = resident_api("POST", f"/submissions/{receipt}/payments", secret, {"method": "paypay"})
    from chalicelib.domain.forms import fee_for, get_form

    form = get_form("bulky-waste-collection")
    assert status == 201 and intent["amountYen"] == fee_for(form, form.example)
    paybox.pay(intent["paymentId"])
    paybox.deliver()
    settle()
    assert store.get(intent["paymentId"]).status == "completed"
    assert submission_store.get(receipt).status == "in_review"  # paid, still the section's to finish
    assert staff_sees()["state"] == "paid"
    notes = [entry.note or "" for entry in submission_store.trail(receipt)]
    assert any(intent["paymentId"] in note for note in notes)


def test_requests_that_cannot_start_a_payment(owing, resident_api):
    receipt, secret = owing(copies=1)
    assert resident_api("POST", f"/submissions/{receipt}/payments", "wrong", {"method": "paypay"})[0] == 404
    assert resident_api("POST", f"/submissions/{receipt}/payments", secret, {"method": "cash"})[0] == 422
    assert (
        resident_api("POST", f"/submissions/{receipt}/payments", secret, {"method": "paypay", "amount": 1})[0]
        == 422
    )
    counter, counter_secret = owing(copies=1, delivery="counter")  # paid at the counter: nothing online
    status, error = resident_api(
        "POST", f"/submissions/{counter}/payments", counter_secret, {"method": "paypay"}
    )
    assert status == 409 and error["error"]["code"] == "no_fee"
    assert (
        resident_api("GET", f"/submissions/{counter}/payment", counter_secret)[1]["state"] == "not_required"
    )


def test_a_resident_on_line_pays_with_their_id_token_and_gets_the_receipt_on_line(
    client, local_stack, sandbox, resident_api, paybox, settle
):
    from chalicelib.domain.forms import get_form

    user = new_user_id()
    token = requests.post(
        f"{sandbox.base_url}/__sandbox/id-tokens", json={"sub": user, "aud": "1000000001"}, timeout=5
    ).json()["idToken"]
    auth = {"Authorization": f"Bearer {token}"}
    document = {k: v for k, v in get_form("juminhyo-copy").example.items() if k != "email"}
    response = client.http.post(
        "/forms/juminhyo-copy/submissions",
        body=json.dumps(document),
        headers={"Content-Type": "application/json", **auth},
    )
    receipt = json.loads(response.body)["receipt"]
    status, intent = resident_api(
        "POST", f"/submissions/{receipt}/payments", None, {"method": "paypay"}, auth
    )
    assert status == 201, intent
    other = requests.post(
        f"{sandbox.base_url}/__sandbox/id-tokens", json={"sub": new_user_id(), "aud": "1000000001"}, timeout=5
    ).json()["idToken"]
    assert (
        resident_api(
            "GET", f"/submissions/{receipt}/payment", None, None, {"Authorization": f"Bearer {other}"}
        )[0]
        == 404
    )

    paybox.pay(intent["paymentId"])
    paybox.deliver()
    settle()
    pushes = [
        r
        for r in sandbox.requests("/v2/bot/message/push")
        if intent["paymentId"] in json.dumps(r, ensure_ascii=False)
    ]
    assert len(pushes) == 1
    text = json.dumps(pushes[0], ensure_ascii=False)
    assert "領収番号" in text and "600" in text and "PayPay" in text


def test_a_line_outage_holds_back_neither_the_receipt_email_nor_sends_it_twice(
    client, sandbox, resident_api, paybox, settle
):
    """A review: the payment messages pushed to LINE before emailing, under one claim, so while
    LINE was down the email waited with the push, in the dead-letter queue."""
    from chalicelib.adapters.line_api import LineUnavailable
    from chalicelib.domain.forms import get_form
    from chalicelib.services import payment_receipts, payments
    from chalicelib.store.models import Submission
    from tests.integration.test_notifications import emails_about

    address = f"both-{new_user_id()[-8:]}@example.jp"
    document = {**get_form("juminhyo-copy").example, "email": address}
    made = client.http.post(
        "/forms/juminhyo-copy/submissions",
        body=json.dumps(document),
        headers={"Content-Type": "application/json"},
    )
    receipt, secret = json.loads(made.body)["receipt"], json.loads(made.body)["accessSecret"]
    settle()
    submission_store.get(receipt).update(actions=[Submission.line_user_id.set(new_user_id())])
    _, intent = resident_api("POST", f"/submissions/{receipt}/payments", secret, {"method": "paypay"})
    paybox.pay(intent["paymentId"])
    payments.confirm(intent["paymentId"], "test")  # paid: its receipt is due

    def receipts() -> list:
        return [m for m in emails_about(receipt) if "お支払いを確認しました" in m.subject]

    sandbox.fault("/v2/bot/message/push", status=500, count=4)  # every in-process retry
    with pytest.raises(LineUnavailable):
        payment_receipts.send(intent["paymentId"])
    assert len(receipts()) == 1  # the email went out though LINE was down
    # It ends as every email of the ward's does (a walkthrough: the payment emails did not).
    assert "このメールに返信されても回答できません" in receipts()[0].body
    assert payment_receipts.send(intent["paymentId"]) == ["email", "line"]  # the retry: LINE back
    assert len(receipts()) == 1
    paybox.deliver()
    settle()
    assert len(receipts()) == 1


def test_withdrawing_ends_every_live_payment_so_no_provider_takes_money(owing, resident_api, paybox):
    receipt, secret = owing(copies=1)
    _, paypay = resident_api("POST", f"/submissions/{receipt}/payments", secret, {"method": "paypay"})
    _, card = resident_api("POST", f"/submissions/{receipt}/payments", secret, {"method": "card"})

    status, _ = resident_api("POST", f"/submissions/{receipt}/withdraw", secret, {})
    assert status == 200

    # Ended at the providers (the code deleted, the session expired), then recorded.
    code, session = store.get(paypay["paymentId"]).provider_ref, store.get(card["paymentId"]).provider_ref
    assert paybox.requests(f"/v2/codes/{code}", "DELETE")
    assert paybox.requests(f"/v1/checkout/sessions/{session}/expire", "POST")
    assert [store.get(i["paymentId"]).status for i in (paypay, card)] == ["canceled", "expired"]
    status, state = resident_api("GET", f"/submissions/{receipt}/payment", secret)
    assert state["state"] == "closed" and state["live"] == [] and state["submissionStatus"] == "withdrawn"
    status, error = resident_api("POST", f"/submissions/{receipt}/payments", secret, {"method": "paypay"})
    assert status == 409 and error["error"]["code"] == "not_payable"


def test_staff_rejecting_a_request_ends_its_payment_after_approval(owing, resident_api, client, paybox):
    receipt, secret = owing("bulky-waste-collection")
    headers = staff_headers("seiso", "staff")
    move = {"to": "in_review"}
    assert client.http.post(
        f"/staff/submissions/{receipt}/transitions", body=json.dumps(move), headers=headers
    )
    _, intent = resident_api("POST", f"/submissions/{receipt}/payments", secret, {"method": "paypay"})
    assert intent["status"] == "awaiting_payment"

    reject = {"to": "rejected", "note": "The item is not bulky waste.", "visibility": "public"}
    moved = client.http.post(
        f"/staff/submissions/{receipt}/transitions", body=json.dumps(reject), headers=headers
    )
    assert moved.status_code == 200, moved.body
    assert store.get(intent["paymentId"]).status == "canceled"
    assert resident_api("GET", f"/submissions/{receipt}/payment", secret)[1]["state"] == "closed"


@pytest.mark.parametrize(
    ("move", "status"),
    [
        (
            {"to": "rejected", "note": "Katsushika holds no record of this person.", "visibility": "public"},
            "rejected",
        ),
        (
            {"to": "withdrawn", "note": "12/7 the resident phoned to withdraw", "visibility": "internal"},
            "withdrawn",
        ),
    ],
)
def test_staff_may_close_a_request_still_waiting_for_its_fee_and_its_payment_ends(
    owing, resident_api, client, paybox, move, status
):
    receipt, secret = owing(copies=1)
    _, intent = resident_api("POST", f"/submissions/{receipt}/payments", secret, {"method": "paypay"})
    headers = staff_headers("koseki-jumin", "staff")
    moved = client.http.post(
        f"/staff/submissions/{receipt}/transitions", body=json.dumps(move), headers=headers
    )
    assert moved.status_code == 200, moved.body
    assert submission_store.get(receipt).status == status
    assert store.get(intent["paymentId"]).status == "canceled"
    assert paybox.requests(f"/v2/codes/{store.get(intent['paymentId']).provider_ref}", "DELETE")
    state = resident_api("GET", f"/submissions/{receipt}/payment", secret)[1]
    assert state["state"] == "closed" and state["live"] == []


def test_a_receipt_needs_the_code_first_and_money_under_review_has_none(owing, resident_api, paybox, settle):
    receipt, secret = owing(copies=1)
    _, intent = resident_api("POST", f"/submissions/{receipt}/payments", secret, {"method": "paypay"})
    # Without the code, a payment that exists and one that does not get the same answer.
    unknown = resident_api("GET", f"/payments/{receipt}-PP09/receipt", "WRONGCODE")
    known = resident_api("GET", f"/payments/{intent['paymentId']}/receipt", "WRONGCODE")
    assert unknown[0] == known[0] == 404
    assert unknown[1]["error"]["code"] == known[1]["error"]["code"] == "submission_not_found"
    assert resident_api("GET", f"/payments/{receipt}-PP09/receipt", secret)[0] == 404

    paybox.pay(intent["paymentId"], amount=1)  # one yen for a 300-yen fee: flagged for staff
    paybox.deliver()
    settle()
    assert store.get(intent["paymentId"]).status == "needs_review"
    status, error = resident_api("GET", f"/payments/{intent['paymentId']}/receipt", secret)
    # Not "not confirmed yet": the resident paid, and is told it is being checked.
    assert status == 409 and error["error"]["code"] == "payment_under_review"


@pytest.mark.parametrize("end", ["withdrawn", "rejected"])
def test_a_fee_paid_before_its_request_ends_unserved_is_flagged_for_refund_and_shown_as_held(
    owing, resident_api, paybox, settle, client, end
):
    """Paid, then withdrawn by the resident or rejected by the ward: what the fee paid for will not
    be done. The section finds it among the refunds due, the resident sees it will come back."""
    from chalicelib.domain import submissions as submission_rules
    from chalicelib.services import submissions as submission_service

    receipt, secret = owing(copies=1)
    _, intent = resident_api("POST", f"/submissions/{receipt}/payments", secret, {"method": "paypay"})
    paybox.pay(intent["paymentId"])
    paybox.deliver()
    settle()
    assert submission_store.get(receipt).status == "received"
    if end == "withdrawn":
        assert resident_api("POST", f"/submissions/{receipt}/withdraw", secret, {})[0] == 200
    else:
        staff = submission_rules.Actor(kind=submission_rules.STAFF, id="staff-1", section="koseki-jumin")
        submission_service.move(
            submission_store.get(receipt), "rejected", actor=staff, note="対象外", visibility="public"
        )
    paid = store.get(intent["paymentId"])
    assert paid.status == "needs_review" and list(paid.review_reasons) == ["submission_closed"]
    listed = client.http.get("/staff/payments?status=flagged", headers=staff_headers("koseki-jumin", "staff"))
    assert intent["paymentId"] in {item["paymentId"] for item in json.loads(listed.body)["items"]}
    _, view = resident_api("GET", f"/submissions/{receipt}/payment", secret)
    assert view["state"] == "closed" and [(h["paymentId"], h["refund"]) for h in view["held"]] == [
        (intent["paymentId"], "checking")
    ]
    refunded = ask_refund(client, intent["paymentId"], "取り下げのため返金")
    assert refunded.status_code == 202, refunded.body
    paybox.deliver()
    settle()
    assert store.get(intent["paymentId"]).status == "refunded"
    assert (
        resident_api("GET", f"/submissions/{receipt}/payment", secret)[1]["held"][0]["refund"] == "refunded"
    )
