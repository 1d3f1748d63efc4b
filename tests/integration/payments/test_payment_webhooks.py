"""Provider webhooks are hints: duplicates, forgeries, bad signatures and odd orders change nothing wrong."""

from __future__ import annotations

import json
import time

from chalicelib.domain.payment_webhooks import MAX_BODY_BYTES
from chalicelib.store import payments as store
from chalicelib.store import submissions as submission_store
from devstack.env import LOCAL_STRIPE_WEBHOOK_SECRET
from devstack.pay_sandbox import stripe_signature


def _start(resident_api, owing, method="paypay", **changes):
    receipt, secret = owing(**changes)
    status, intent = resident_api("POST", f"/submissions/{receipt}/payments", secret, {"method": method})
    assert status == 201, intent
    return receipt, secret, intent


def _log_states(payment_id):
    return sorted(entry.state for entry in store.log(payment_id))


def test_duplicate_webhooks_are_recorded_once_and_the_receipt_goes_once(
    owing, resident_api, paybox, settle, client
):
    receipt, _, intent = _start(resident_api, owing, copies=1)
    paybox.webhooks("duplicate")
    paybox.pay(intent["paymentId"])
    hooks = paybox.take()
    assert len(hooks) == 2 and hooks[0]["body"] == hooks[1]["body"]
    for hook in hooks:  # both answered 2xx; the second is dropped at the inbox
        response = client.http.post(hook["path"], body=hook["body"].encode(), headers=hook["headers"])
        assert response.status_code == 200
    settle()
    assert _log_states(intent["paymentId"]) == ["awaiting_payment", "completed"]
    from chalicelib.store.models import InboxEvent

    assert InboxEvent.get(f"payreceipt#{intent['paymentId']}").processed_at is not None
    assert submission_store.get(receipt).status == "received"


def test_a_forged_paypay_webhook_claiming_success_changes_nothing(
    owing, resident_api, paybox, settle, client
):
    receipt, _, intent = _start(resident_api, owing, copies=1)
    forged = {
        "notification_type": "Transaction",
        "merchant_order_id": intent["paymentId"],
        "order_id": "04230000000000000001",
        "state": "COMPLETED",
        "order_amount": 300,
    }
    response = client.http.post(
        "/payments/webhooks/paypay",
        body=json.dumps(forged).encode(),
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 200  # taken as a hint...
    settle()
    stored = store.get(intent["paymentId"])  # ...and PayPay, asked, says nobody paid
    assert stored.status == "awaiting_payment" and stored.paid_at is None and not stored.receipt_queued
    assert submission_store.get(receipt).status == "awaiting_payment"
    assert paybox.requests(f"/v2/codes/payments/{intent['paymentId']}", "GET")  # it did ask


def test_paypay_webhooks_that_are_not_about_our_payments_are_refused_or_ignored(client, paybox):
    def post(body: bytes):
        return client.http.post(
            "/payments/webhooks/paypay", body=body, headers={"Content-Type": "application/json"}
        )

    assert post(b"{not json").status_code == 400
    assert post(json.dumps({"state": "COMPLETED"}).encode()).status_code == 422
    bad_id = {"notification_type": "Transaction", "merchant_order_id": "../../etc", "state": "COMPLETED"}
    assert post(json.dumps(bad_id).encode()).status_code == 422
    assert post(b"{" + b" " * MAX_BODY_BYTES + b"}").status_code == 413


def _stripe_post(client, body: bytes, signature: str | None):
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers["Stripe-Signature"] = signature
    return client.http.post("/payments/webhooks/stripe", body=body, headers=headers)


def test_stripe_signatures_are_checked_tampered_stale_and_missing_are_4xx(client, paybox):
    event = {"id": "evt_test_sig", "type": "checkout.session.completed", "data": {"object": {"metadata": {}}}}
    body = json.dumps(event).encode()
    now = int(time.time())
    good = stripe_signature(LOCAL_STRIPE_WEBHOOK_SECRET, body, now)
    assert _stripe_post(client, body, good).status_code == 200
    tampered = body.replace(b"completed", b"expired!!")
    assert _stripe_post(client, tampered, good).status_code == 400
    stale = stripe_signature(LOCAL_STRIPE_WEBHOOK_SECRET, body, now - 301)
    assert _stripe_post(client, body, stale).status_code == 400
    future = stripe_signature(LOCAL_STRIPE_WEBHOOK_SECRET, body, now + 301)
    assert _stripe_post(client, body, future).status_code == 400
    wrong_secret = stripe_signature("whsec_someone_else", body, now)
    assert _stripe_post(client, body, wrong_secret).status_code == 400
    assert _stripe_post(client, body, None).status_code == 400
    assert _stripe_post(client, body, f"t={now}").status_code == 400
    # A second v1 (during a secret roll) is accepted when one of them is right.
    rolled = f"t={now},v1={'0' * 64},v1={good.split('v1=')[1]}"
    assert _stripe_post(client, body, rolled).status_code == 200


def test_a_refund_event_before_the_success_event_ends_refunded(owing, resident_api, paybox, settle, client):

    receipt, _, intent = _start(resident_api, owing, copies=1)
    paybox.webhooks("reorder", count=1)  # the success webhook is held back...
    paybox.pay(intent["paymentId"])
    # ...staff refund it at once (the sweep confirmed the payment), and the refund's webhook goes first.
    from chalicelib.services import payments

    payments.confirm(intent["paymentId"], "sweep")
    paybox.take()  # (nothing yet: held)
    from tests.integration.payments.conftest import ask_refund, served

    served(receipt)
    response = ask_refund(client, intent["paymentId"], "二重申請のため")
    assert response.status_code == 202, response.body
    hooks = paybox.take()
    states = [json.loads(h["body"])["state"] for h in hooks]
    assert states == ["REFUNDED", "COMPLETED"]
    for hook in hooks:
        client.http.post(hook["path"], body=hook["body"].encode(), headers=hook["headers"])
    settle()
    stored = store.get(intent["paymentId"])
    assert stored.status == "refunded" and stored.review_reasons == []
    assert set(_log_states(intent["paymentId"])) >= {"completed", "refund_requested", "refunded"}


def test_stripe_duplicate_and_delayed_events_settle_the_same(owing, resident_api, paybox, settle):
    _, _, intent = _start(resident_api, owing, method="card", copies=3)
    session = store.get(intent["paymentId"]).provider_ref
    paybox.webhooks("duplicate")
    paybox.complete_session(session)
    assert paybox.deliver() == [200, 200]
    settle()
    stored = store.get(intent["paymentId"])
    assert stored.status == "completed" and stored.paid_amount == 900
    assert _log_states(intent["paymentId"]) == ["awaiting_payment", "completed"]
