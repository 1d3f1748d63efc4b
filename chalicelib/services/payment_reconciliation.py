"""The nightly reconciliation: a Tokyo day's completed payments here against each provider's list.

Every difference (missing here, missing there, amount mismatch) is recorded for review with an
alarm metric; CSVs per section and fee type go to S3 for the accounting office. The result is a
function of the two lists only, and a re-run replaces the day's findings and files with the same.

Card: Stripe's PaymentIntents of the day (its API). PayPay: OPA has no report API, so in AWS its
list is the transaction history file (取引履歴 CSV) of PayPay for Business for that Tokyo day,
put at `s3://<prefix>-payment-reports/paypay/transactions/<YYYY-MM-DD>.csv` by the ward
(domain.payments.paypay_report_rows reads it); locally the devstack sandbox serves the same rows
as JSON (PAYPAY_REPORT_SOURCE=sandbox). A day whose file is not there yet is reconciled for card
only and marked `paypay: missing` (with the PaymentReportMissing metric, and no made-up
differences); each night's run reconciles again the days of the past week still so marked, so
a file put there late is taken up by itself.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
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


PAYPAY_REPORT_PREFIX = "paypay/transactions"
# The nightly run looks this far back for days whose PayPay file came late.
CATCH_UP_DAYS = 7


class ReportMissing(Exception):
    """The provider's list for the day is not available (yet)."""


def paypay_report_key(day: str) -> str:
    return f"{PAYPAY_REPORT_PREFIX}/{day}.csv"


def paypay_rows(day: str) -> list[dict[str, Any]]:
    """PayPay's completed payments of the day, one shape whatever the source."""
    if get_settings().paypay_report_source == "sandbox":
        from chalicelib.adapters import paypay

        return paypay.client().daily_report(day)
    s3 = client("s3")
    bucket, key = get_settings().name(PAYMENT_REPORTS_BUCKET), paypay_report_key(day)
    try:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except s3.exceptions.NoSuchKey:
        raise ReportMissing(rules.PAYPAY) from None
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = body.decode("cp932")  # a file saved by Excel in Japan
    return rules.paypay_report_rows(text)


def theirs_paypay(day: str) -> list[rules.Settled]:
    """PayPay's list of the day; ReportMissing when its file is not there (yet)."""
    return [
        rules.Settled(row["merchantPaymentId"], rules.PAYPAY, int(row["amount"]), row.get("paymentId"))
        for row in paypay_rows(day)
    ]


def theirs_card(day: str) -> list[rules.Settled]:
    from chalicelib.adapters import stripe_checkout

    start, end = rules.day_bounds(day)
    found = []
    for intent in stripe_checkout.client().payment_intents(start, end):
        payment_id = (intent.get("metadata") or {}).get("payment_id")
        if intent.get("status") == "succeeded" and payment_id:
            found.append(rules.Settled(payment_id, rules.CARD, int(intent["amount_received"]), intent["id"]))
    return found


def run(day: str) -> dict[str, Any]:
    mine = ours(day)
    compared, reports = mine, {rules.PAYPAY: "ok", rules.CARD: "ok"}
    try:
        listed = theirs_paypay(day)
    except ReportMissing:
        # Compare what can be compared: nothing of PayPay's side is guessed, no difference made up.
        listed, reports[rules.PAYPAY] = [], "missing"
        compared = [row for row in mine if row.method != rules.PAYPAY]
        logger.warning("PayPay's report for the day is missing; reconciled without it", extra={"day": day})
        metrics.add_metric(name="PaymentReportMissing", unit="Count", value=1)
    result = rules.reconcile(day, compared, listed + theirs_card(day))
    now = datetime.now(UTC)
    summary = {
        "day": day,
        "reports": reports,
        "matched": result.matched,
        "differences": len(result.differences),
        "byKind": {
            kind: sum(1 for d in result.differences if d.kind == kind) for kind in rules.DIFFERENCE_KINDS
        },
        "totals": rules.method_totals(mine),
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


def view(day: str, section: str | None = None) -> dict[str, Any]:
    """The day's reconciliation: ward-wide, or (`section`) only what concerns that section: its
    totals and the differences of its own payments (one a section does not know is not shown)."""
    items = store.reconciliation(day)
    summary = next((item.data for item in items if item.item_key == "summary"), None)
    differences: list[dict[str, Any]] = [
        {
            "kind": i.kind,
            "paymentId": i.payment_id,
            "method": i.method,
            "ours": i.ours,
            "theirs": i.theirs,
        }
        for i in items
        if i.item_key.startswith("diff#")
    ]
    if section is not None:
        differences = [d for d in differences if _section_of(d["paymentId"]) == section]
        if summary is not None:
            summary = {
                "day": day,
                "reports": summary.get("reports"),
                "differences": len(differences),
                "bySection": {k: v for k, v in summary.get("bySection", {}).items() if k == section},
            }
    # `reconciled`: whether the nightly job has run for the day (a day it has not is no "all fine").
    return {"day": day, "reconciled": summary is not None, "summary": summary, "differences": differences}


def _section_of(payment_id: str | None) -> str | None:
    intent = store.get(payment_id) if payment_id else None
    return intent.section if intent else None


def day_totals(day: str, section: str) -> dict[str, int] | None:
    """What the digest shows for a section: that day's paid fees (from the reconciliation summary)."""
    summary = view(day)["summary"]
    if not summary:
        return None
    return summary.get("bySection", {}).get(section)


def catch_up(day: str) -> list[str]:
    """Reconcile again the days of the week before `day` whose PayPay file was missing and is
    there now (a ward that puts the file there by hand the next morning); the days redone."""
    redone = []
    last = date.fromisoformat(day)
    for back in range(1, CATCH_UP_DAYS + 1):
        earlier = (last - timedelta(days=back)).isoformat()
        summary = view(earlier)["summary"] or {}
        if (summary.get("reports") or {}).get(rules.PAYPAY) != "missing":
            continue
        if run(earlier)["reports"][rules.PAYPAY] == "ok":
            redone.append(earlier)
    return redone
