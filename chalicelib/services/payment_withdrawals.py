"""Submissions left unpaid: withdrawn once their form's days to pay have passed (issue 13).

A form whose fee is paid first creates its submissions in `awaiting_payment`. One left there for
`fee.payment.withdrawAfterDays` calendar days (default PAYMENT_WITHDRAW_AFTER_DAYS, 14) is
withdrawn by the daily job, in this order:

1. every intent that could still be paid is ended at the provider and asked about once more
   (services.payments.end_live_intents, as expiry does); a provider that does not answer stops
   here, and tomorrow's run tries again;
2. a payment found there wins: its follow-up moves the submission to `received`, nothing is
   withdrawn; money already received but under review (paid late, another amount) holds the
   withdrawal too, for staff to settle first;
3. the submission moves `awaiting_payment -> withdrawn` by the system actor, conditional on the
   version read, with an audit entry; the resident is told once, in their language (the
   notifications worker, event `withdrawn_unpaid`, ledger per receipt and version).

A payment that still arrives afterwards (a code paid at the last second, a provider that would
not cancel) is flagged for refund (`submission_closed`, services.payments), never lost. A rerun
finds nothing left in `awaiting_payment` and does nothing twice.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from chalicelib.config import get_settings
from chalicelib.domain import errors as rule
from chalicelib.domain import payments as rules
from chalicelib.domain import submissions as submission_rules
from chalicelib.domain.forms import FormDefinition, catalogue
from chalicelib.domain.notifications import WITHDRAWN_UNPAID
from chalicelib.observability import invocation, logger, metrics
from chalicelib.services import payments
from chalicelib.store import submissions as submission_store
from chalicelib.store.models import Submission

SOURCE = "unpaid"
OUTCOMES = ("withdrawn", "paid", "held", "not_due", "moved", "failed")


def run(now: datetime | None = None) -> dict[str, int]:
    """Withdraw every submission that is due; counts per outcome."""
    now = now or datetime.now(UTC)
    counts = dict.fromkeys(OUTCOMES, 0)
    for section, days in days_to_pay_by_section().items():
        # Only what was created the fewest days ago any form allows, or earlier, can be due.
        waiting = submission_store.iterate_index(
            Submission.by_section,
            section,
            until=now - timedelta(days=min(days)),
            filter_condition=Submission.status == submission_rules.AWAITING_PAYMENT,
        )
        for submission in waiting:
            with invocation(submission.receipt, job="payments-unpaid"):
                try:
                    counts[withdraw_if_due(submission, now)] += 1
                except Exception as error:  # one submission must never stop the others
                    counts["failed"] += 1
                    logger.warning(
                        "unpaid submission not withdrawn; the next run tries again",
                        extra={"error": type(error).__name__},
                    )
    metrics.add_metric(name="PaymentsUnpaidWithdrawn", unit="Count", value=counts["withdrawn"])
    if counts["failed"]:
        metrics.add_metric(name="PaymentsUnpaidFailed", unit="Count", value=counts["failed"])
    return counts


def days_to_pay(form: FormDefinition | None) -> int:
    """The days a submission of `form` may wait unpaid before this job withdraws it."""
    default = get_settings().payment_withdraw_after_days
    return rules.withdraw_after_days(form.meta, default) if form is not None else default


def days_to_pay_by_section() -> dict[str, list[int]]:
    """The sections with a form paid first, each with the days each of those forms allows."""
    found: dict[str, list[int]] = {}
    for form in catalogue():
        if rules.pays_first(form.meta):
            found.setdefault(form.section, []).append(days_to_pay(form))
    return found


def withdraw_if_due(submission: Submission, now: datetime) -> str:
    """One submission: one of OUTCOMES (but failed, which is an exception)."""
    found = payments.plan_for(submission)
    if found is None:
        return "not_due"  # nothing to pay online (any more): not this job's to withdraw
    form, plan = found
    days = days_to_pay(form)
    if not rules.withdrawal_due(plan, submission.status, submission.created_at, days, now):
        return "not_due"
    intents = payments.end_live_intents(submission.receipt, SOURCE)
    if payments.paid_of(submission.receipt) is not None:
        logger.info("a payment was found before withdrawing; the submission goes on")
        return "paid"
    if any(intent.status == rules.NEEDS_REVIEW and intent.paid_at is not None for intent in intents):
        logger.info("money under review for this submission; not withdrawn until staff settle it")
        return "held"
    fresh = submission_store.get(submission.receipt)
    if fresh is None or fresh.status != submission_rules.AWAITING_PAYMENT:
        return "moved"
    try:
        _withdraw(fresh, days)
    except rule.Conflict:
        return "moved"  # changed at the same moment (paid, or withdrawn by the resident)
    logger.info("unpaid submission withdrawn", extra={"days": days})
    return "withdrawn"


def _withdraw(submission: Submission, days: int) -> None:
    from chalicelib.services import submissions as submission_service

    submission_service.move(
        submission,
        submission_rules.WITHDRAWN,
        actor=submission_rules.Actor(submission_rules.SYSTEM, "payments"),
        note=f"手数料のお支払いが{days}日間なかったため取り下げ / No payment in {days} days: withdrawn",
        visibility="internal",
        event=WITHDRAWN_UNPAID,
    )
