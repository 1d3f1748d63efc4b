"""Submissions left unpaid are withdrawn once their days to pay have passed: live codes are ended at
the provider first, the resident is told once in their language, and a payment that still comes
is flagged for refund, never lost.

The job runs with a `now` days ahead. It withdraws every due submission of the shared local
stack (other tests' unpaid ones too), so these tests follow their own receipts only.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from chalicelib.domain.forms import get_form
from chalicelib.services import payment_withdrawals
from chalicelib.store import payments as store
from chalicelib.store import submissions as submission_store
from chalicelib.store.models import Submission
from tests.integration.conftest import new_user_id
from tests.integration.payments.conftest import staff_headers

PUSH = "/v2/bot/message/push"


def _created(receipt: str):
    return submission_store.get(receipt).created_at


def _pushes(sandbox, user_id: str, text: str) -> list[dict]:
    return [
        r
        for r in sandbox.requests(PUSH)
        if r["body"].get("to") == user_id
        and r["status"] == 200
        and text in json.dumps(r["body"], ensure_ascii=False)
    ]


def _emails(receipt: str, subject_part: str) -> list:
    from moto.ses.models import ses_backends

    from devstack.env import MOTO_ACCOUNT, REGION

    sent = ses_backends[MOTO_ACCOUNT][REGION].sent_messages
    return [m for m in sent if receipt in (getattr(m, "subject", None) or "") and subject_part in m.subject]


def _trail(receipt: str) -> list:
    return [e for e in submission_store.trail(receipt) if e.action == "transition"]


@pytest.fixture
def unpaid(owing, resident_api):
    """A juminhyo copy by post, waiting for its fee, from a resident on LINE who reads Vietnamese
    (and gave an email address), with a live PayPay code: (receipt, payment id, LINE user id)."""

    def make(*, open_code: bool = True) -> tuple[str, str | None, str]:
        receipt, secret = owing(copies=1)
        user = new_user_id()
        submission_store.get(receipt).update(
            actions=[Submission.line_user_id.set(user), Submission.language.set("vi")]
        )
        payment_id = None
        if open_code:
            status, intent = resident_api(
                "POST", f"/submissions/{receipt}/payments", secret, {"method": "paypay"}
            )
            assert status == 201, intent
            payment_id = intent["paymentId"]
        return receipt, payment_id, user

    return make


def test_an_unpaid_submission_is_withdrawn_when_due_its_code_ended_first_and_the_resident_told_once(
    unpaid, paybox, sandbox, settle, client
):
    receipt, payment_id, user = unpaid()
    code = store.get(payment_id).provider_ref
    created = _created(receipt)
    settle()  # the "received" notifications of the submission itself

    # Not due a moment before its 14 days: nothing happens to it or its code.
    payment_withdrawals.run(created + timedelta(days=14) - timedelta(minutes=1))
    assert submission_store.get(receipt).status == "awaiting_payment"
    assert not paybox.requests(f"/v2/codes/{code}", "DELETE")

    # Due, but PayPay does not answer the delete: nothing is withdrawn or cancelled yet.
    paybox.fault(f"/v2/codes/{code}", method="DELETE", status=500, count=3)
    due = created + timedelta(days=14, hours=1)
    payment_withdrawals.run(due)
    assert submission_store.get(receipt).status == "awaiting_payment"
    assert store.get(payment_id).status == "awaiting_payment"

    # The next run: the code is deleted and PayPay asked once more, then the intent is cancelled,
    # then the submission withdrawn by the system with an audit entry.
    counts = payment_withdrawals.run(due + timedelta(days=1))
    assert counts["withdrawn"] >= 1
    calls = [(r["method"], r["path"], r["status"]) for r in paybox.requests()]
    deleted = calls.index(("DELETE", f"/v2/codes/{code}", 200))
    assert ("GET", f"/v2/codes/payments/{payment_id}") in [call[:2] for call in calls[deleted:]]
    intent = store.get(payment_id)
    assert intent.status == "canceled" and intent.pending_shard is None
    assert submission_store.get(receipt).status == "withdrawn"
    [withdrawal] = [e for e in _trail(receipt) if e.to_status == "withdrawn"]
    assert (withdrawal.actor_kind, withdrawal.actor_id, withdrawal.from_status) == (
        "system",
        "payments",
        "awaiting_payment",
    )
    assert withdrawal.note_visibility == "internal" and "14" in withdrawal.note
    assert any(e.action == "status" and e.to_status == "canceled" for e in store.trail(payment_id))

    # Told once, in Vietnamese, on LINE and by email; no pay button (nothing is payable now).
    settle()
    [push] = _pushes(sandbox, user, receipt)[-1:]
    text = push["body"]["messages"][0]["text"]
    assert "đã bị rút lại" in text and "14 ngày" in text and "quickReply" not in push["body"]["messages"][0]
    assert len(_pushes(sandbox, user, "đã bị rút lại")) == 1
    [mail] = _emails(receipt, "rút lại")
    assert "14 ngày" in mail.body

    # A rerun (EventBridge retries, an operator) finds nothing to do and sends nothing twice.
    payment_withdrawals.run(due + timedelta(days=1))
    payment_withdrawals.run(due + timedelta(days=2))
    settle()
    assert len(_pushes(sandbox, user, "đã bị rút lại")) == 1
    assert len(_emails(receipt, "rút lại")) == 1
    assert len([e for e in _trail(receipt) if e.to_status == "withdrawn"]) == 1
    deletes = [r["status"] for r in paybox.requests(f"/v2/codes/{code}", "DELETE")]
    assert deletes == [500, 500, 500, 200]  # the first run's tries, then the one that was done

    # The resident's app paid the deleted code anyway: the money is flagged for refund, not lost.
    paybox.pay(payment_id, force=True)
    paybox.deliver()
    settle()
    late = store.get(payment_id)
    assert late.status == "needs_review" and late.paid_at is not None and not late.receipt_queued
    assert set(late.review_reasons) == {"paid_after_end", "submission_closed"}
    assert submission_store.get(receipt).status == "withdrawn"
    response = client.http.get(
        "/staff/payments?status=flagged&limit=100", headers=staff_headers("koseki-jumin")
    )
    [listed] = [i for i in json.loads(response.body)["items"] if i["paymentId"] == payment_id]
    assert "submission_closed" in [r["code"] for r in listed["reviewReasons"]]


def test_the_days_are_the_forms_and_a_submission_without_a_code_is_withdrawn_too(
    unpaid, sandbox, settle, monkeypatch
):
    payment = get_form("juminhyo-copy").meta["fee"]["payment"]
    monkeypatch.setitem(payment, "withdrawAfterDays", 3)
    receipt, _, user = unpaid(open_code=False)
    created = _created(receipt)
    payment_withdrawals.run(created + timedelta(days=2, hours=23))
    assert submission_store.get(receipt).status == "awaiting_payment"
    payment_withdrawals.run(created + timedelta(days=3, minutes=1))
    assert submission_store.get(receipt).status == "withdrawn"
    settle()
    [push] = _pushes(sandbox, user, "đã bị rút lại")
    assert "3 ngày" in push["body"]["messages"][0]["text"]


def test_a_payment_found_when_withdrawing_wins_and_money_under_review_holds_it(
    unpaid, paybox, settle, resident_api, owing
):
    # Paid, but the webhook was lost and the sweep has not asked yet: the job's own last look finds it.
    receipt, payment_id, _ = unpaid()
    paybox.webhooks("drop")
    paybox.pay(payment_id)
    payment_withdrawals.run(_created(receipt) + timedelta(days=15))
    settle()
    assert store.get(payment_id).status == "completed"
    assert submission_store.get(receipt).status == "received"

    # Paid after its code expired (flagged for staff): the withdrawal waits until staff settle it.
    from chalicelib.services import payments

    held, late_id, _ = unpaid()
    payments.expire(store.get(late_id))
    paybox.pay(late_id, force=True)
    payments.confirm(late_id, "webhook")
    assert store.get(late_id).status == "needs_review"
    payment_withdrawals.run(_created(held) + timedelta(days=15))
    assert submission_store.get(held).status == "awaiting_payment"
