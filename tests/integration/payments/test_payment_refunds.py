"""Refunds: the owning section asks with a reason; above the threshold a supervisor approves; once."""

from __future__ import annotations

import dataclasses
import json

import pytest

from chalicelib.config import get_settings
from chalicelib.services import payments
from chalicelib.store import payments as store
from tests.integration.payments.conftest import ask_refund, served, staff_headers


@pytest.fixture
def paid(owing, resident_api, paybox, settle):
    def make(method="paypay", copies=1):
        receipt, secret = owing(copies=copies)
        _, intent = resident_api("POST", f"/submissions/{receipt}/payments", secret, {"method": method})
        if method == "paypay":
            paybox.pay(intent["paymentId"])
        else:
            paybox.complete_session(store.get(intent["paymentId"]).provider_ref)
        paybox.deliver()
        settle()
        assert store.get(intent["paymentId"]).status == "completed"
        served(receipt)  # refunded only once the request is no longer being handled
        return intent["paymentId"]

    return make


def _refund(client, payment_id, headers, reason="申請の取り下げのため"):
    response = ask_refund(client, payment_id, reason, headers)
    return response.status_code, json.loads(response.body)


def _listed(client, status: str, more: str = "") -> list[str]:
    response = client.http.get(
        f"/staff/payments?status={status}&limit=100{more}",
        headers=staff_headers("koseki-jumin", "supervisor"),
    )
    assert response.status_code == 200, response.body
    answer = json.loads(response.body)
    return [item["paymentId"] for item in answer.get("items", answer.get("payments", []))]


@pytest.mark.parametrize("method", ["paypay", "card"])
def test_section_staff_refund_a_payment_once(paid, client, paybox, settle, method):
    payment_id = paid(method)
    status, view = _refund(client, payment_id, staff_headers("koseki-jumin", "staff"))
    assert status == 202, view
    assert view["status"] == "refunded" and view["refund"]["id"] == f"{payment_id}-RF1"
    # Asked again (a retry): the same refund id, and the provider refunds nothing more.
    status, again = _refund(client, payment_id, staff_headers("koseki-jumin", "staff"))
    assert status == 202 and again["status"] == "refunded"
    refunds = paybox.requests("/v2/refunds" if method == "paypay" else "/v1/refunds", "POST")
    accepted = [r for r in refunds if r["status"] in (200, 201)]
    assert len(accepted) == 1
    paybox.deliver()
    settle()
    assert store.get(payment_id).status == "refunded"
    trail = [item.action for item in store.trail(payment_id) if item.action]
    assert "refund_requested" in trail and "refund_sent" in trail


def test_refund_requests_at_once_make_one_refund_and_one_trail_entry(paid, paybox):
    """An outside run: five requests at once refunded once, but the trail read five refunds."""
    from concurrent.futures import ThreadPoolExecutor

    from chalicelib.domain.staff import StaffPrincipal

    payment_id = paid("paypay")
    clerk = StaffPrincipal("clerk-9", "koseki-jumin", frozenset({"staff"}))
    with ThreadPoolExecutor(max_workers=5) as pool:
        views = list(pool.map(lambda _: payments.request_refund(payment_id, clerk, "二重の支払い"), range(5)))
    assert {view["refund"]["id"] for view in views} == {f"{payment_id}-RF1"}
    trail = [item.action for item in store.trail(payment_id) if item.action]
    assert trail.count("refund_requested") == 1, trail
    accepted = [r for r in paybox.requests("/v2/refunds", "POST") if r["status"] in (200, 201)]
    assert len([r for r in accepted if payment_id in json.dumps(r)]) == 1  # one refund, not none
    assert {view["refund"]["state"] for view in views} <= {"requested", "done"}
    assert store.get(payment_id).refund_state == "done"


def test_a_fee_is_not_refunded_while_its_request_is_still_being_handled(
    owing, resident_api, paybox, settle, client
):
    """Refunded then, the request would go on to be served as paid: refused, and the way out is
    said (withdraw or reject it: the fee is then listed as a refund due)."""
    receipt, secret = owing(copies=1)
    _, intent = resident_api("POST", f"/submissions/{receipt}/payments", secret, {"method": "paypay"})
    paybox.pay(intent["paymentId"])
    paybox.deliver()
    settle()
    status, error = _refund(client, intent["paymentId"], staff_headers("koseki-jumin", "staff"))
    assert status == 409 and error["error"]["code"] == "submission_open"
    assert (
        store.get(intent["paymentId"]).refund_state is None and paybox.requests("/v2/refunds", "POST") == []
    )


def test_other_sections_and_bad_requests_cannot_refund(paid, client):
    payment_id = paid()
    assert _refund(client, payment_id, staff_headers("seiso", "staff"))[0] == 404
    assert _refund(client, payment_id, staff_headers("koseki-jumin", "announcer"))[0] == 403
    assert _refund(client, payment_id, {"Content-Type": "application/json"})[0] == 401
    assert _refund(client, payment_id, staff_headers("koseki-jumin", "staff"), reason="")[0] == 422
    assert store.get(payment_id).status == "completed"


def test_refunds_above_the_threshold_wait_for_another_supervisor(paid, client, monkeypatch):
    monkeypatch.setattr(
        payments, "get_settings", lambda: dataclasses.replace(get_settings(), refund_approval_yen=500)
    )
    payment_id = paid(copies=2)  # 600 yen
    status, view = _refund(client, payment_id, staff_headers("koseki-jumin", "staff", staff_id="clerk"))
    assert status == 202 and view["refund"]["state"] == "awaiting_approval" and view["status"] == "completed"
    # The supervisors find it on its own list (not among the section's completed payments).
    # (The stack is shared: the lists hold other tests' payments too.)
    assert payment_id in _listed(client, "refund_approval")
    assert payment_id not in _listed(client, "completed")
    assert _listed(client, "refund_approval", f"&receipt={view['receipt']}") == [payment_id]

    def approve(headers):
        response = client.http.post(
            f"/staff/payments/{payment_id}/refunds/approve", body=b"", headers=headers
        )
        return response.status_code, json.loads(response.body)

    assert approve(staff_headers("koseki-jumin", "staff", staff_id="clerk2"))[0] == 403
    assert approve(staff_headers("seiso", "supervisor", staff_id="boss"))[0] == 404
    status, view = approve(staff_headers("koseki-jumin", "supervisor", staff_id="boss"))
    assert status == 202 and view["status"] == "refunded" and view["refund"]["approvedBy"] == "boss"
    assert payment_id not in _listed(client, "refund_approval") and payment_id in _listed(client, "refunded")
    # A retried approval (the connection dropped) is told it is done; nothing is refunded again.
    status, again = approve(staff_headers("koseki-jumin", "supervisor", staff_id="boss"))
    assert status == 202 and again["status"] == "refunded" and again["refund"]["approvedBy"] == "boss"
    # The requester could not have approved their own request.
    payment_two = paid(copies=2)
    _refund(client, payment_two, staff_headers("koseki-jumin", "staff", "supervisor", staff_id="boss2"))
    assert store.get(payment_two).refund_state == "awaiting_approval"  # a supervisor asking needs another too
    own = client.http.post(
        f"/staff/payments/{payment_two}/refunds/approve",
        body=b"",
        headers=staff_headers("koseki-jumin", "supervisor", staff_id="boss2"),
    )
    assert own.status_code == 403 and store.get(payment_two).status == "completed"


def test_refunding_money_that_never_paid_the_fee_leaves_the_fee_to_pay(
    owing, resident_api, paybox, settle, client
):
    """Another amount paid, then refunded by staff: the fee is still owed, the resident's new
    payment stands, and it is the one their page shows as paid (not "refunded")."""
    from chalicelib.store import submissions as submission_store

    receipt, secret = owing(copies=1)
    _, wrong = resident_api("POST", f"/submissions/{receipt}/payments", secret, {"method": "paypay"})
    paybox.pay(wrong["paymentId"], amount=1)
    paybox.deliver()
    settle()
    assert store.get(wrong["paymentId"]).status == "needs_review"
    status, right = resident_api("POST", f"/submissions/{receipt}/payments", secret, {"method": "paypay"})
    assert status == 201 and right["paymentId"] != wrong["paymentId"]
    status, view = _refund(
        client, wrong["paymentId"], staff_headers("koseki-jumin", "staff"), reason="金額違い"
    )
    assert status == 202 and view["status"] == "refunded"
    assert (view["amountYen"], view["paidAmountYen"]) == (300, 1)  # the fee, and what was taken
    assert view["refund"]["amountYen"] == 1  # what went back (a walkthrough: no field said so)
    assert "receiptUrl" not in view  # it never paid the fee: no receipt to link to
    paybox.deliver()
    settle()
    # The resident is told both, once each (a walkthrough: only a return to the page said so).
    from tests.integration.test_notifications import emails_about

    held, refunded = (
        [m for m in emails_about(receipt) if subject in m.subject]
        for subject in ("お支払いについてのお知らせ", "返金しました")
    )
    assert len(held) == 1 and "1円" in held[0].body and "この手数料のお支払いにはなりません" in held[0].body
    assert "手数料（300円）のお支払いは、まだ必要です" in held[0].body  # the fee still owed, and where
    assert f"/payments/{receipt}" in held[0].body
    assert len(refunded) == 1 and "1円は、返金しました" in refunded[0].body
    assert "PayPayの返金は、お支払いに使った方法" in refunded[0].body  # and when it is back
    assert submission_store.get(receipt).status == "awaiting_payment"
    assert store.get(right["paymentId"]).status == "awaiting_payment"  # still the resident's to pay
    assert resident_api("GET", f"/submissions/{receipt}/payment", secret)[1]["state"] == "payable"
    receipt_of_wrong = resident_api("GET", f"/payments/{wrong['paymentId']}/receipt", secret)
    assert receipt_of_wrong[0] == 409  # never a receipt for money that did not pay the fee
    paybox.pay(right["paymentId"])
    paybox.deliver()
    settle()
    state = resident_api("GET", f"/submissions/{receipt}/payment", secret)[1]
    assert state["state"] == "paid" and state["paid"]["paymentId"] == right["paymentId"]
    assert submission_store.get(receipt).status == "received"


def test_staff_see_a_payment_with_its_log_and_audit(paid, client):
    payment_id = paid()
    response = client.http.get(
        f"/staff/payments/{payment_id}", headers=staff_headers("koseki-jumin", "staff")
    )
    view = json.loads(response.body)
    assert response.status_code == 200 and view["status"] == "completed"
    assert {entry["state"] for entry in view["log"] if entry["state"]} == {"awaiting_payment", "completed"}
    assert any(entry["action"] == "status" and entry["to"] == "completed" for entry in view["log"])
    listed = client.http.get(
        f"/staff/payments?receipt={view['receipt']}", headers=staff_headers("koseki-jumin", "staff")
    )
    assert [p["paymentId"] for p in json.loads(listed.body)["payments"]] == [payment_id]
    assert (
        client.http.get(f"/staff/payments/{payment_id}", headers=staff_headers("seiso", "staff")).status_code
        == 404
    )


def test_a_refund_the_provider_completes_later_is_followed_to_refunded_by_the_sweep(paid, client, paybox):
    from datetime import UTC, datetime, timedelta

    payment_id = paid()
    paybox.post("/__sandbox/settings", {"refundsPending": True})
    status, view = _refund(client, payment_id, staff_headers("koseki-jumin", "staff"))
    assert status == 202 and view["status"] == "refund_requested"
    assert payment_id in set(store.pending(datetime.now(UTC) + timedelta(minutes=2)))

    paybox.webhooks("drop")  # and PayPay's notification of it is lost
    done = paybox.post(f"/__sandbox/paypay/refunds/{payment_id}-RF1/complete")
    assert done.status_code == 200, done.text
    payments.sweep(datetime.now(UTC) + timedelta(minutes=2))
    refunded = store.get(payment_id)
    assert refunded.status == "refunded" and refunded.refund_state == "done"
    assert payment_id not in set(store.pending(datetime.now(UTC) + timedelta(minutes=3)))


def test_a_receipt_printed_after_a_refund_says_it_was_refunded(owing, resident_api, paybox, settle, client):
    receipt, secret = owing(copies=1)
    _, intent = resident_api("POST", f"/submissions/{receipt}/payments", secret, {"method": "paypay"})
    paybox.pay(intent["paymentId"])
    paybox.deliver()
    settle()
    path = f"/payments/{intent['paymentId']}/receipt"
    status, before = resident_api("GET", path, secret)
    assert status == 200 and "返金済み" not in before.decode()  # in the submission's language
    served(receipt)
    assert _refund(client, intent["paymentId"], staff_headers("koseki-jumin", "staff"))[0] == 202
    status, after = resident_api("GET", path, secret)
    assert (
        status == 200
        and "返金済み: " in after.decode()
        and "(JST)（この金額は返金されました）" in after.decode()
    )
