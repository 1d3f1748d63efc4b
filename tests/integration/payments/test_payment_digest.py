"""A fee paid first: the submission is staff's work from its payment, not its making."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from chalicelib.services.staff_submissions import summary
from chalicelib.store import submissions as submission_store
from chalicelib.workers import digest


def test_the_digest_counts_it_new_when_paid_and_its_target_runs_from_then(
    owing, paybox, resident_api, settle
):
    """An outside walkthrough: the digest listed an unpaid juminhyo as new (staff could not act
    on it), never listed it once paid, and its due date ran while it waited for the fee."""
    receipt, secret = owing(copies=1)
    section = submission_store.get(receipt).section
    assert summary(submission_store.get(receipt))["dueDate"] is None  # unpaid: no clock yet
    made = datetime.now(UTC)
    assert receipt not in {item.receipt for item in digest._new(section, made - timedelta(hours=1), made)}
    time.sleep(0.01)

    status, intent = resident_api("POST", f"/submissions/{receipt}/payments", secret, {"method": "paypay"})
    assert status == 201, intent
    paybox.pay(intent["paymentId"])
    assert paybox.deliver() == [200]
    settle()
    paid = submission_store.get(receipt)
    assert paid.status == "received" and paid.received_at > paid.created_at
    # The next digest's window starts after it was made: it is new there, as it became work then.
    assert receipt in {item.receipt for item in digest._new(section, made, datetime.now(UTC))}
    assert summary(paid)["dueDate"] is not None
    # The detail's days waiting count from then too (a review: they counted from its making).
    from chalicelib.domain.staff import StaffPrincipal
    from chalicelib.services.staff_submissions import show
    from chalicelib.store.models import Submission

    paid.update(
        actions=[Submission.created_at.set(paid.created_at - timedelta(days=9))]
    )  # made 9 days before
    clerk = StaffPrincipal("staff-1", section, frozenset({"staff"}))
    assert show(clerk, receipt)["businessDaysWaiting"] == 0
