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


def test_an_answer_lost_after_paypay_took_the_code_moves_to_a_new_id(owing, paybox, resident_api):
    receipt, secret = owing(copies=1)
    paybox.fault("/v2/codes", method="POST", status=502, phase="after", count=1)
    status, intent = resident_api("POST", f"/submissions/{receipt}/payments", secret, {"method": "paypay"})
    assert status == 201 and intent["paymentId"] == f"{receipt}-PP02" and intent["payUrl"]
    sent = [(r["body"]["merchantPaymentId"], r["status"]) for r in paybox.requests("/v2/codes", "POST")]
    # PP01: taken, answer lost; the retry is refused as a duplicate; PP02 is a new id, never PP01 again.
    assert sent == [(f"{receipt}-PP01", 502), (f"{receipt}-PP01", 400), (f"{receipt}-PP02", 201)]
    assert store.get(f"{receipt}-PP01").replaced_by == f"{receipt}-PP02"


def test_a_provider_outage_is_a_503_and_the_retry_returns_the_same_intent(owing, paybox, resident_api):
    receipt, secret = owing(copies=1)
    paybox.fault("/v1/checkout/sessions", method="POST", status=503, count=3)
    status, error = resident_api("POST", f"/submissions/{receipt}/payments", secret, {"method": "card"})
    assert status == 503 and error["error"]["code"] == "unavailable"
    status, intent = resident_api("POST", f"/submissions/{receipt}/payments", secret, {"method": "card"})
    assert status == 201 and intent["paymentId"] == f"{receipt}-CD01" and intent["payUrl"]
    keys = {r["body"]["client_reference_id"] for r in paybox.requests("/v1/checkout/sessions", "POST")}
    assert keys == {f"{receipt}-CD01"}
