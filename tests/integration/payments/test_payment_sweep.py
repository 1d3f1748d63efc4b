"""The sweep: lost webhooks, expiry (code deleted first), late payments, wrong amounts, provider faults."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from chalicelib.domain import payments as rules
from chalicelib.services import payments
from chalicelib.store import payments as store
from chalicelib.store import submissions as submission_store


def _start(resident_api, owing, method="paypay", **changes):
    receipt, secret = owing(**changes)
    status, intent = resident_api("POST", f"/submissions/{receipt}/payments", secret, {"method": method})
    assert status == 201, intent
    return receipt, secret, intent


def later(**delta) -> datetime:
    return datetime.now(UTC) + timedelta(**delta)


def test_a_webhook_that_never_arrives_is_made_up_for_by_the_sweep(owing, resident_api, paybox, settle):
    receipt, _, intent = _start(resident_api, owing, copies=1)
    paybox.webhooks("drop")
    paybox.pay(intent["paymentId"])
    assert paybox.take() == []
    payments.sweep(datetime.now(UTC))  # waiting for less than a minute: not asked yet
    assert store.get(intent["paymentId"]).status == "awaiting_payment"
    counts = payments.sweep(later(minutes=2))
    assert counts["checked"] >= 1
    settle()
    assert store.get(intent["paymentId"]).status == "completed"
    assert submission_store.get(receipt).status == "received"
    # Not pending any more: the next sweep does not ask about it again.
    assert intent["paymentId"] not in set(store.pending(later(minutes=3)))


def test_expiry_deletes_the_code_first_and_a_new_intent_never_reuses_the_id(owing, resident_api, paybox):
    receipt, secret, intent = _start(resident_api, owing, copies=1)
    code = store.get(intent["paymentId"]).provider_ref
    payments.sweep(later(minutes=11))
    assert store.get(intent["paymentId"]).status == "expired"
    calls = [(r["method"], r["path"]) for r in paybox.requests()]
    delete = calls.index(("DELETE", f"/v2/codes/{code}"))
    # Asked once more after deleting, so a payment made at the last second is not lost.
    assert ("GET", f"/v2/codes/payments/{intent['paymentId']}") in calls[delete:]

    status, second = resident_api("POST", f"/submissions/{receipt}/payments", secret, {"method": "paypay"})
    assert status == 201 and second["paymentId"] == f"{receipt}-PP02"
    assert store.get(intent["paymentId"]).replaced_by == second["paymentId"]
    payments.sweep(later(minutes=22))
    _, third = resident_api("POST", f"/submissions/{receipt}/payments", secret, {"method": "paypay"})
    sent_ids = [r["body"]["merchantPaymentId"] for r in paybox.requests("/v2/codes", "POST")]
    assert sent_ids == [f"{receipt}-PP01", f"{receipt}-PP02", f"{receipt}-PP03"]
    assert len(set(sent_ids)) == len(sent_ids)


def test_a_payment_completed_after_expiry_is_flagged_for_review_not_taken(
    owing, resident_api, paybox, settle
):
    receipt, _, intent = _start(resident_api, owing, copies=1)
    payments.sweep(later(minutes=11))
    assert store.get(intent["paymentId"]).status == "expired"
    paybox.pay(intent["paymentId"], force=True)  # the resident's app had paid just as the code went
    paybox.deliver()
    settle()
    stored = store.get(intent["paymentId"])
    assert stored.status == "needs_review" and stored.review_reasons == ["paid_after_end"]
    assert stored.paid_at is not None and not stored.receipt_queued  # money to give back, no receipt
    assert submission_store.get(receipt).status == "awaiting_payment"
    # Section staff give the money back; the flag is settled by the refund.
    from tests.integration.payments.conftest import ask_refund

    response = ask_refund(paybox.client, intent["paymentId"], "期限切れ後のお支払いのため返金")
    assert response.status_code == 202, response.body
    assert store.get(intent["paymentId"]).status == "refunded"


def test_a_payment_of_another_amount_is_flagged(owing, resident_api, paybox, settle):
    _, _, intent = _start(resident_api, owing, copies=2)
    paybox.pay(intent["paymentId"], amount=300)
    paybox.deliver()
    settle()
    stored = store.get(intent["paymentId"])
    assert stored.status == "needs_review" and "amount_mismatch" in stored.review_reasons


def test_paying_twice_by_two_methods_flags_the_second_for_refund(owing, resident_api, paybox, settle):
    receipt, secret, paypay = _start(resident_api, owing, copies=1)
    _, card = resident_api("POST", f"/submissions/{receipt}/payments", secret, {"method": "card"})
    paybox.webhooks("drop", count=2)
    # Choosing card deleted PayPay's code, but the app paid it just as it went; both paid before
    # either was confirmed.
    paybox.pay(paypay["paymentId"], force=True)
    paybox.complete_session(store.get(card["paymentId"]).provider_ref)
    payments.confirm(card["paymentId"], "sweep")
    payments.confirm(paypay["paymentId"], "sweep")
    settle()
    assert store.get(card["paymentId"]).status == "completed"
    late = store.get(paypay["paymentId"])
    assert late.status == "needs_review" and late.paid_at is not None and not late.receipt_queued
    assert submission_store.get(receipt).status == "received"


def test_the_method_paid_first_is_the_fee_though_the_other_is_confirmed_first(
    owing, resident_api, paybox, settle
):
    """The card's news was lost, PayPay's came: the card, paid first, must not be recorded as
    cancelled (Stripe refused to expire a paid session) nor flagged once the sweep finds it;
    PayPay, paid second (its code deleted when card was chosen), is flagged for a refund."""
    import time

    receipt, secret, paypay = _start(resident_api, owing, copies=1)
    _, card = resident_api("POST", f"/submissions/{receipt}/payments", secret, {"method": "card"})
    paybox.webhooks("drop", count=2)
    paybox.complete_session(store.get(card["paymentId"]).provider_ref)
    time.sleep(1.1)  # the providers date a payment to the second
    paybox.pay(paypay["paymentId"], force=True)  # its code deleted when card was chosen, paid as it went
    payments.confirm(paypay["paymentId"], "webhook")
    settle()
    payments.sweep(datetime.now(UTC) + timedelta(minutes=2))  # asks about the card it heard nothing of
    settle()
    first, second = store.get(card["paymentId"]), store.get(paypay["paymentId"])
    assert first.status == "completed" and not first.review_reasons
    assert "canceled" not in {entry.state for entry in store.log(card["paymentId"])}
    assert second.status == "needs_review" and rules.flagged_for_refund(second.status, second.review_reasons)
    assert first.receipt_queued and not second.receipt_queued
    assert submission_store.get(receipt).status == "received"
    state = resident_api("GET", f"/submissions/{receipt}/payment", secret)[1]
    assert state["state"] == "paid" and state["paid"]["paymentId"] == card["paymentId"]
    # The resident is told of the second payment too, and that it goes back.
    assert [(h["paymentId"], h["refund"]) for h in state["held"]] == [(paypay["paymentId"], "checking")]


def test_provider_errors_leave_the_intent_waiting_until_the_next_sweep(owing, resident_api, paybox, settle):
    _, _, intent = _start(resident_api, owing, copies=1)
    paybox.webhooks("drop")
    paybox.pay(intent["paymentId"])
    paybox.fault(f"/v2/codes/payments/{intent['paymentId']}", status=503, count=3)
    counts = payments.sweep(later(minutes=2))
    assert counts["failed"] >= 1
    assert store.get(intent["paymentId"]).status == "awaiting_payment"
    payments.sweep(later(minutes=3))
    settle()
    assert store.get(intent["paymentId"]).status == "completed"
