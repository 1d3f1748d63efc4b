"""Payment workers and jobs: webhook hints -> ask the provider; receipts; the sweep; reconciliation.

Each SQS record is handled on its own and reported as a partial batch failure when it fails, so
one bad record never replays the others. Confirmation is idempotent by construction (the log is
put once per state, the status is derived), so a redelivered hint simply asks the provider again.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from chalicelib.domain import payments as rules
from chalicelib.observability import invocation, logger, metrics


def handle_events_batch(records: list[dict[str, Any]]) -> dict[str, list[dict[str, str]]]:
    from chalicelib.services import payments

    def one(message: dict[str, Any]) -> None:
        payments.confirm(str(message["paymentId"]), "webhook")

    return _batch(records, one, "PaymentEventsFailed")


def handle_notices_batch(records: list[dict[str, Any]]) -> dict[str, list[dict[str, str]]]:
    from chalicelib.services import payment_receipts

    def one(message: dict[str, Any]) -> None:
        payment_receipts.send(str(message["paymentId"]))

    return _batch(records, one, "PaymentReceiptsFailed")


def _batch(records: list[dict[str, Any]], work: Any, failure_metric: str) -> dict[str, list[dict[str, str]]]:
    failures = []
    for record in records:
        try:
            message = json.loads(record["body"])
            payment_id = message["paymentId"]
        except (KeyError, TypeError, ValueError):
            logger.error("unreadable payment record", extra={"message_id": record.get("messageId")})
            failures.append({"itemIdentifier": record["messageId"]})
            continue
        with invocation(str(payment_id)):
            try:
                work(message)
            except Exception as error:
                # The class only: provider errors may quote payment details.
                logger.error(
                    "payment record failed; it will be retried", extra={"error": type(error).__name__}
                )
                metrics.add_metric(name=failure_metric, unit="Count", value=1)
                failures.append({"itemIdentifier": record["messageId"]})
    return {"batchItemFailures": failures}


def run_sweep(now: str | datetime | None = None) -> dict[str, int]:
    from chalicelib.services import payments

    return payments.sweep(_when(now))


def run_withdrawals(now: str | datetime | None = None) -> dict[str, int]:
    """Withdraw the submissions left unpaid past their form's days to pay."""
    from chalicelib.services import payment_withdrawals

    return payment_withdrawals.run(_when(now))


def run_reconcile(now: str | datetime | None = None, day: str | None = None) -> dict[str, Any]:
    """Reconcile the Tokyo day before the run (the job runs after PayPay's 00:15 cancel cut-off)."""
    from chalicelib.services import payment_reconciliation

    when = _when(now)
    day = day or rules.tokyo_day(when - timedelta(days=1))
    summary = payment_reconciliation.run(day)
    redone = payment_reconciliation.catch_up(day)
    if redone:
        logger.info("reconciled again with PayPay's late report", extra={"days": redone})
    return summary


def _when(value: str | datetime | None) -> datetime:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str) and value:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    return datetime.now(UTC)
