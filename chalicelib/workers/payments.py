"""Payment workers and jobs: webhook hints -> ask the provider; receipts; the sweep; reconciliation.

Each SQS record is handled on its own and reported as a partial batch failure when it fails, so
one bad record never replays the others. Confirmation is idempotent by construction (the log is
put once per state, the status is derived), so a redelivered hint simply asks the provider again.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any

from chalicelib.domain import payments as rules
from chalicelib.observability import logger
from chalicelib.workers import scheduled_time
from chalicelib.workers.batches import BatchResponse, Message, Record, partial_batch


def handle_events_batch(records: Iterable[Record]) -> BatchResponse:
    from chalicelib.services import payments

    def one(message: dict[str, Any]) -> None:
        payments.confirm(str(message["paymentId"]), "webhook")

    return _batch(records, one, "PaymentEventsFailed")


def handle_notices_batch(records: Iterable[Record]) -> BatchResponse:
    from chalicelib.services import payment_receipts

    def one(message: dict[str, Any]) -> None:
        if "notice" in message:  # money that did not pay the fee, or its refund
            payment_receipts.send_notice(str(message["paymentId"]), str(message["notice"]))
        else:
            payment_receipts.send(str(message["paymentId"]))

    return _batch(records, one, "PaymentReceiptsFailed")


def _batch(
    records: Iterable[Record], work: Callable[[dict[str, Any]], object], failure_metric: str
) -> BatchResponse:
    # Failures are logged by class only (partial_batch): provider errors may quote payment details.
    return partial_batch(records, _read, work, kind="payment", failed_metric=failure_metric)


def _read(record: Record) -> Message[dict[str, Any]]:
    message = json.loads(record["body"])
    return Message(message, str(message["paymentId"]))


def run_sweep(now: str | datetime | None = None) -> dict[str, int]:
    from chalicelib.services import payments

    return payments.sweep(scheduled_time(now))


def run_withdrawals(now: str | datetime | None = None) -> dict[str, int]:
    """Withdraw the submissions left unpaid past their form's days to pay."""
    from chalicelib.services import payment_withdrawals

    return payment_withdrawals.run(scheduled_time(now))


def run_reconcile(now: str | datetime | None = None, day: str | None = None) -> dict[str, Any]:
    """Reconcile the Tokyo day before the run (the job runs after PayPay's 00:15 cancel cut-off)."""
    from chalicelib.services import payment_reconciliation

    when = scheduled_time(now)
    day = day or rules.tokyo_day(when - timedelta(days=1))
    summary = payment_reconciliation.run(day)
    redone = payment_reconciliation.catch_up(day)
    if redone:
        logger.info("reconciled again with PayPay's late report", extra={"days": redone})
    return summary
