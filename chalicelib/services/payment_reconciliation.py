"""The nightly reconciliation: a Tokyo day's completed payments here against each provider's list.

Every difference (missing here, missing there, amount mismatch) is recorded for review with an
alarm metric; CSVs per section and fee type go to S3 for the accounting office. The result is a
function of the two lists only, and a re-run replaces the day's findings and files with the same.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from chalicelib.aws import client
from chalicelib.config import get_settings
from chalicelib.domain import payments as rules
from chalicelib.observability import logger, metrics
from chalicelib.resources import PAYMENT_REPORTS_BUCKET
from chalicelib.store import payments as store
from chalicelib.store.models import ReconciliationItem


def ours(day: str) -> list[rules.Settled]:
    return [
        rules.Settled(
            intent.payment_id,
            intent.method,
            int(intent.paid_amount if intent.paid_amount is not None else intent.amount),
            intent.provider_payment_id,
            intent.form_id,
            intent.section,
            intent.paid_at,
        )
        for intent in store.paid_on(day)
    ]


def theirs(day: str) -> list[rules.Settled]:
    from chalicelib.adapters import paypay, stripe_checkout

    found = [
        rules.Settled(row["merchantPaymentId"], rules.PAYPAY, int(row["amount"]), row.get("paymentId"))
        for row in paypay.client().daily_report(day)
    ]
    start, end = rules.day_bounds(day)
    for intent in stripe_checkout.client().payment_intents(start, end):
        payment_id = (intent.get("metadata") or {}).get("payment_id")
        if intent.get("status") == "succeeded" and payment_id:
            found.append(rules.Settled(payment_id, rules.CARD, int(intent["amount_received"]), intent["id"]))
    return found


def run(day: str) -> dict[str, Any]:
    mine = ours(day)
    result = rules.reconcile(day, mine, theirs(day))
    now = datetime.now(UTC)
    summary = {
        "day": day,
        "matched": result.matched,
        "differences": len(result.differences),
        "byKind": {
            kind: sum(1 for d in result.differences if d.kind == kind) for kind in rules.DIFFERENCE_KINDS
        },
        "totals": result.totals,
        "bySection": _section_totals(mine),
    }
    items = [ReconciliationItem(day, "summary", data=summary, updated_at=now)]
    items += [
        ReconciliationItem(
            day,
            f"diff#{d.key}",
            kind=d.kind,
            payment_id=d.payment_id,
            method=d.method,
            ours=d.ours,
            theirs=d.theirs,
            updated_at=now,
        )
        for d in result.differences
    ]
    store.save_reconciliation(day, items)
    _write_csvs(day, mine, result)
    if result.differences:
        logger.warning("reconciliation found differences", extra={"day": day, "by_kind": summary["byKind"]})
    metrics.add_metric(name="PaymentReconciliationDifferences", unit="Count", value=len(result.differences))
    return summary


def _section_totals(rows: list[rules.Settled]) -> dict[str, dict[str, int]]:
    totals: dict[str, dict[str, int]] = {}
    for row in rows:
        total = totals.setdefault(row.section or "-", {"count": 0, "amountYen": 0})
        total["count"] += 1
        total["amountYen"] += row.amount
    return dict(sorted(totals.items()))


def _write_csvs(day: str, mine: list[rules.Settled], result: rules.Reconciliation) -> None:
    s3 = client("s3")
    bucket = get_settings().name(PAYMENT_REPORTS_BUCKET)
    for (section, form_id), text in rules.accounting_csvs(mine).items():
        s3.put_object(
            Bucket=bucket,
            Key=f"reconciliation/{day}/{section}/{form_id}.csv",
            Body=("\ufeff" + text).encode("utf-8"),  # a BOM, so Excel in Japan opens it as UTF-8
            ContentType="text/csv; charset=utf-8",
        )
    differences = [
        {"kind": d.kind, "paymentId": d.payment_id, "method": d.method, "ours": d.ours, "theirs": d.theirs}
        for d in result.differences
    ]
    s3.put_object(
        Bucket=bucket,
        Key=f"reconciliation/{day}/differences.json",
        Body=json.dumps(differences, ensure_ascii=False, indent=1).encode(),
        ContentType="application/json",
    )


def view(day: str) -> dict[str, Any]:
    items = store.reconciliation(day)
    summary = next((item.data for item in items if item.item_key == "summary"), None)
    return {
        "day": day,
        "summary": summary,
        "differences": [
            {
                "kind": i.kind,
                "paymentId": i.payment_id,
                "method": i.method,
                "ours": i.ours,
                "theirs": i.theirs,
            }
            for i in items
            if i.item_key.startswith("diff#")
        ],
    }


def day_totals(day: str, section: str) -> dict[str, int] | None:
    """What the digest shows for a section: that day's paid fees (from the reconciliation summary)."""
    summary = view(day)["summary"]
    if not summary:
        return None
    return summary.get("bySection", {}).get(section)
