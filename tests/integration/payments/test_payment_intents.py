"""Intents: one live intent per submission and method under concurrency; ids never reused after a lost answer."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from chalicelib.services import payments
from chalicelib.store import payments as store


def test_concurrent_starts_get_one_live_intent(owing, paybox):
    receipt, secret = owing(copies=1)
    with ThreadPoolExecutor(4) as pool:
        views = list(pool.map(lambda _: payments.start(receipt, "paypay", secret=secret), range(4)))
    assert {view["paymentId"] for view in views} == {f"{receipt}-PP01"}
    assert len(paybox.requests("/v2/codes", "POST")) == 1


def test_paypay_and_card_started_at_once_leave_one_way_to_pay_open(owing, paybox, resident_api):
    # An outside run: each request ended the other's intent it saw, then opened its own, and
    # both stayed payable; paying both charged the resident twice.
    receipt, secret = owing(copies=1)
    methods = ["paypay", "card"] * 3
    with ThreadPoolExecutor(len(methods)) as pool:
        views = list(pool.map(lambda method: payments.start(receipt, method, secret=secret), methods))
    assert all(view["payUrl"] for view in views)
    status, view = resident_api("GET", f"/submissions/{receipt}/payment", secret)
    live = [intent["paymentId"] for intent in view["live"]]
    assert len(live) == 1, live
    # Every other intent was ended at the provider: its code or session takes no money.
    for intent in store.for_receipt(receipt):
        if intent.payment_id not in live:
            assert intent.status in ("canceled", "expired"), (intent.payment_id, intent.status)


def test_an_answer_lost_after_paypay_took_the_code_moves_to_a_new_id(owing, paybox, resident_api):
    receipt, secret = owing(copies=1)
    paybox.fault("/v2/codes", method="POST", status=502, phase="after", count=1)
    status, intent = resident_api("POST", f"/submissions/{receipt}/payments", secret, {"method": "paypay"})
    assert status == 201 and intent["paymentId"] == f"{receipt}-PP02" and intent["payUrl"]
    sent = [(r["body"]["merchantPaymentId"], r["status"]) for r in paybox.requests("/v2/codes", "POST")]
    # PP01: taken, answer lost; the retry is refused as a duplicate; PP02 is a new id, never PP01 again.
    assert sent == [(f"{receipt}-PP01", 502), (f"{receipt}-PP01", 400), (f"{receipt}-PP02", 201)]
    assert store.get(f"{receipt}-PP01").replaced_by == f"{receipt}-PP02"
    # PP01's code, whose codeId never arrived, is cancelled at PayPay by our id and ended here:
    # the resident and staff see one way to pay, not PP01 live without a link until its expiry.
    assert [r["status"] for r in paybox.requests(f"/v2/payments/{receipt}-PP01", "DELETE")] == [202]
    assert store.get(f"{receipt}-PP01").status == "canceled"
    status, view = resident_api("GET", f"/submissions/{receipt}/payment", secret)
    assert [live["paymentId"] for live in view["live"]] == [f"{receipt}-PP02"]
    assert paybox.pay(f"{receipt}-PP01")["status"] == "FAILED"  # paid anyway: PayPay reverses it


def test_a_provider_outage_is_a_503_and_the_retry_returns_the_same_intent(owing, paybox, resident_api):
    receipt, secret = owing(copies=1)
    paybox.fault("/v1/checkout/sessions", method="POST", status=503, count=3)
    status, error = resident_api("POST", f"/submissions/{receipt}/payments", secret, {"method": "card"})
    assert status == 503 and error["error"]["code"] == "unavailable"
    status, intent = resident_api("POST", f"/submissions/{receipt}/payments", secret, {"method": "card"})
    assert status == 201 and intent["paymentId"] == f"{receipt}-CD01" and intent["payUrl"]
    keys = {r["body"]["client_reference_id"] for r in paybox.requests("/v1/checkout/sessions", "POST")}
    assert keys == {f"{receipt}-CD01"}


def test_the_sandbox_ends_its_faults_on_delete(owing, paybox, resident_api):
    """The outage "fixed" without a reset, which would forget the payments made."""
    import requests

    receipt, secret = owing(copies=1)
    paybox.fault("/v1/checkout/sessions", method="POST", status=503, count=50)
    assert requests.delete(f"{paybox.base}/__sandbox/faults", timeout=5).json() == {"cleared": 1}
    status, intent = resident_api("POST", f"/submissions/{receipt}/payments", secret, {"method": "card"})
    assert status == 201, intent


def test_choosing_another_way_to_pay_ends_the_first_so_nobody_pays_twice(owing, paybox, resident_api):
    """PayPay's code open, the resident picks card: the code is deleted at PayPay first (the
    resident's app can no longer pay it), then the session opens; and back again."""
    import pytest

    receipt, secret = owing(copies=1)
    pay = f"/submissions/{receipt}/payments"
    assert resident_api("POST", pay, secret, {"method": "paypay"})[0] == 201
    status, card = resident_api("POST", pay, secret, {"method": "card"})
    assert status == 201 and card["paymentId"] == f"{receipt}-CD01"
    assert store.get(f"{receipt}-PP01").status in ("canceled", "expired")  # ended unpaid
    assert [r["path"] for r in paybox.requests(method="DELETE")] == [
        f"/v2/codes/{store.get(f'{receipt}-PP01').provider_ref}"
    ]
    with pytest.raises(AssertionError):  # the deleted code takes no money
        paybox.pay(f"{receipt}-PP01")
    status, view = resident_api("GET", f"/submissions/{receipt}/payment", secret)
    assert [live["paymentId"] for live in view["live"]] == [f"{receipt}-CD01"]
    # Back to PayPay: the session is expired first, and a new code opens (never PP01 again).
    status, again = resident_api("POST", pay, secret, {"method": "paypay"})
    assert status == 201 and again["paymentId"] == f"{receipt}-PP02"
    assert store.get(f"{receipt}-CD01").status in ("canceled", "expired")
    session = store.get(f"{receipt}-CD01").provider_ref
    assert paybox.requests(f"/v1/checkout/sessions/{session}/expire", "POST")


def test_paid_meanwhile_the_other_way_is_not_opened(owing, paybox, resident_api):
    receipt, secret = owing(copies=1)
    pay = f"/submissions/{receipt}/payments"
    resident_api("POST", pay, secret, {"method": "paypay"})
    paybox.pay(f"{receipt}-PP01")  # paid in the app, its news not here yet
    status, error = resident_api("POST", pay, secret, {"method": "card"})
    assert status == 409 and error["error"]["code"] == "already_paid"
    assert store.get(f"{receipt}-PP01").status == "completed" and store.get(f"{receipt}-CD01") is None
    assert paybox.requests("/v1/checkout/sessions", "POST") == []
