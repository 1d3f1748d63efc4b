"""Payments of window and certificate fees: what is owed, what a payment's status is, what differs.

Pure Python. A payment intent's status is never stored as "the last thing a webhook said": it
is recomputed from the intent's append-only log of states the provider itself confirmed (its
Get Payment Details / retrieve answers), by `derive()`. The log is a set, so the order in which
answers were recorded and how often one was recorded change nothing. A log that contradicts
itself (paid and expired, paid twice the wrong amount) is `needs_review`, never a guess.

Also here: the fee a form charges and when (before `received` or after approval), the ids we
give providers (never reused), refund ids (deterministic, so a retry never refunds twice), the
nightly reconciliation's comparison, and the receipt's shape.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from chalicelib.domain.digits import whole_number

TOKYO = timezone(timedelta(hours=9), "JST")
# Local taxes are paid through eL-QR on the slip (地方税お支払サイト), not here: the 支払い tile points there.
ELTAX_PAYMENT_URL = "https://www.payment.eltax.lta.go.jp/"

PAYPAY = "paypay"
CARD = "card"
METHODS = (PAYPAY, CARD)
_METHOD_CODES = {PAYPAY: "PP", CARD: "CD"}

# The intent's status (created -> awaiting_payment -> completed | failed | expired | canceled;
# completed -> refund_requested -> refunded), plus needs_review for a log that makes no sense.
CREATED = "created"
AWAITING_PAYMENT = "awaiting_payment"
COMPLETED = "completed"
FAILED = "failed"
EXPIRED = "expired"
CANCELED = "canceled"
REFUND_REQUESTED = "refund_requested"
REFUNDED = "refunded"
NEEDS_REVIEW = "needs_review"
STATUSES = (
    CREATED,
    AWAITING_PAYMENT,
    COMPLETED,
    FAILED,
    EXPIRED,
    CANCELED,
    REFUND_REQUESTED,
    REFUNDED,
    NEEDS_REVIEW,
)
# Still waiting for the resident: the sweep asks the provider about these.
LIVE_STATUSES = frozenset({CREATED, AWAITING_PAYMENT})
UNPAID_ENDS = frozenset({FAILED, EXPIRED, CANCELED})
PAID_STATUSES = frozenset({COMPLETED, REFUND_REQUESTED, REFUNDED})


def settles_fee(status: str, reasons: Iterable[str] | None) -> bool:
    """The payment counts as the fee's: paid (even if refunded since) with nothing odd about it. Money with a review reason (another amount, paid late or a second
    time, after the submission closed) never paid the fee, refunded or not."""
    return status in PAID_STATUSES and not list(reasons or ())


# States a log entry may hold: what the provider confirmed (or, for `created`/`expired`/`canceled`,
# what we did at the provider and it accepted: created the code, deleted it, cancelled it).
LOG_STATES = (CREATED, AWAITING_PAYMENT, COMPLETED, FAILED, EXPIRED, CANCELED, REFUND_REQUESTED, REFUNDED)

# Why a log needs a person: each reason is a stable code shown to staff.
REVIEW_PAID_AFTER_END = "paid_after_end"  # completed and also expired/canceled/failed
REVIEW_AMOUNT_MISMATCH = "amount_mismatch"  # paid another amount than the fee
REVIEW_REFUND_WITHOUT_PAYMENT = "refund_without_payment"
REVIEW_PAID_AFTER_REPLACED = "paid_after_replaced"  # flagged by the service: another intent was paid
# Flagged by the service: first confirmed while its submission was already withdrawn or rejected
# (e.g. withdrawn for want of payment, services/payment_withdrawals.py). It stays on the intent.
REVIEW_SUBMISSION_CLOSED = "submission_closed"
REVIEW_REASONS = (
    REVIEW_PAID_AFTER_END,
    REVIEW_AMOUNT_MISMATCH,
    REVIEW_REFUND_WITHOUT_PAYMENT,
    REVIEW_PAID_AFTER_REPLACED,
    REVIEW_SUBMISSION_CLOSED,
)
# Money that must go back (staff refund it): it reached the ward when nothing was owed any more,
# or it was another amount than the fee, which it therefore never paid (`settles_fee`).
REFUND_DUE_REASONS = frozenset(
    {REVIEW_PAID_AFTER_END, REVIEW_PAID_AFTER_REPLACED, REVIEW_SUBMISSION_CLOSED, REVIEW_AMOUNT_MISMATCH}
)
# What each reason tells section staff (the staff list and the digest show these).
REVIEW_LABELS: dict[str, dict[str, str]] = {
    REVIEW_PAID_AFTER_END: {
        "ja": "お支払いの期限切れ・取消の後に支払われました（返金してください）",
        "en": "Paid after the payment expired or was cancelled (refund it)",
    },
    REVIEW_AMOUNT_MISMATCH: {
        "ja": "手数料と異なる金額が支払われました（手数料になりません。返金してください）",
        "en": "Another amount than the fee was paid (it does not pay the fee: refund it)",
    },
    REVIEW_REFUND_WITHOUT_PAYMENT: {
        "ja": "支払いの記録がないのに返金の記録があります",
        "en": "A refund is recorded without a payment",
    },
    REVIEW_PAID_AFTER_REPLACED: {
        "ja": "同じ申請の別のお支払いが先に完了していました（二重払い、返金してください）",
        "en": "Another payment of the same submission was made first (paid twice: refund it)",
    },
    REVIEW_SUBMISSION_CLOSED: {
        # Paid after the close, or before it (what it paid for will not be done): refunded either way.
        "ja": "申請が取り下げ・不受理になりました（手数料は返金してください）",
        "en": "The submission was withdrawn or rejected (refund the fee)",
    },
}

# A PayPay code and a card checkout session live this long; after that the sweep expires the
# intent (the resident asks for a new one: a new merchantPaymentId, never the old one again).
INTENT_LIFETIME = {PAYPAY: timedelta(minutes=10), CARD: timedelta(minutes=30)}
# The sweep asks the provider about an intent still waiting after this long (webhooks get lost).
POLL_AFTER = timedelta(minutes=1)

# When a fee is paid (per form, `x-madoguchi.fee.payment.timing`).
BEFORE_RECEIVED = "before_received"  # the submission waits in awaiting_payment until paid
AFTER_APPROVAL = "after_approval"  # staff confirm the request first (in_review), then it is payable
TIMINGS = (BEFORE_RECEIVED, AFTER_APPROVAL)
# Submission statuses in which an after-approval fee may be paid.
PAYABLE_AFTER_APPROVAL = frozenset({"in_review", "needs_info", "completed"})


# The staff list's filters (GET /staff/payments?status=): every status; `flagged`, the
# needs_review payments whose money must go back (REFUND_DUE_REASONS) and has not gone back yet;
# and `refund_approval`, refunds waiting for a supervisor's approval (refund_state), listed there
# instead of under their status until approved.
FLAGGED = "flagged"
REFUND_APPROVAL = "refund_approval"
LIST_FILTERS = (*STATUSES, FLAGGED, REFUND_APPROVAL)


def listed_as(status: str, refund_state: str | None) -> str:
    """The staff list a payment is on: a refund waiting for approval, else its status."""
    return REFUND_APPROVAL if refund_state == "awaiting_approval" else status


def flagged_for_refund(status: str, reasons: Iterable[str]) -> bool:
    return status == NEEDS_REVIEW and not REFUND_DUE_REASONS.isdisjoint(reasons)


def listing_key(section: str, status: str) -> str:
    """The staff list's partition: one per section and status."""
    return f"{section}#{status}"


# A submission whose fee is paid before `received` is withdrawn after this many calendar days in
# `awaiting_payment` without a payment (per form: `fee.payment.withdrawAfterDays`; the default is
# the PAYMENT_WITHDRAW_AFTER_DAYS setting).
MAX_WITHDRAW_AFTER_DAYS = 90


class PaymentRuleError(ValueError):
    """Input that breaks a payment rule (a bad method, a bad amount)."""


# --------------------------------------------------------------------------- fees


@dataclass(frozen=True)
class FeePlan:
    amount_yen: int
    timing: str


def fee_plan(meta: Mapping[str, Any], document: Mapping[str, Any], amount_yen: int | None) -> FeePlan | None:
    """What a submission of a form owes, and when; None when nothing is paid online.

    `meta` is the form's `x-madoguchi`, `amount_yen` its fee for this document (domain.forms.fee_for).
    `fee.payment` says `timing` and, optionally, `onlyWhen` {field: [values]}: e.g. a certificate
    sent by post is paid online first, one collected at the counter is paid there.
    """
    fee = meta.get("fee")
    if not fee or amount_yen is None or amount_yen <= 0:
        return None
    payment = fee.get("payment")
    if not payment:
        return None
    timing = payment.get("timing")
    if timing not in TIMINGS:
        raise PaymentRuleError(f"fee.payment.timing must be one of {TIMINGS}")
    if "withdrawAfterDays" in payment:
        withdraw_after_days(meta, 1)  # a bad value is the form's error, found on every submission
    for name, values in (payment.get("onlyWhen") or {}).items():
        if document.get(name) not in values:
            return None
    return FeePlan(int(amount_yen), timing)


def refund_yen(paid_amount: Any, amount: Any) -> int:
    """What a refund gives back: all that was paid (an amount other than the fee included)."""
    return int(paid_amount if paid_amount is not None else amount)


def how_paid(meta: Mapping[str, Any], document: Mapping[str, Any], amount_yen: int | None) -> str | None:
    """How a resident pays this submission's fee, as the pages tell them: "pay_first" (online,
    now: it is received once paid), "after_approval" (online, once staff checked it) or
    "in_person" (at the counter, e.g. a certificate collected there); None without a fee."""
    if amount_yen is None or amount_yen <= 0:
        return None
    plan = fee_plan(meta, document, amount_yen)
    if plan is None:
        return "in_person"
    return "pay_first" if plan.timing == BEFORE_RECEIVED else "after_approval"


def withdraw_after_days(meta: Mapping[str, Any], default: int) -> int:
    """How many days a submission of this form may wait in awaiting_payment unpaid."""
    payment = (meta.get("fee") or {}).get("payment") or {}
    days = payment.get("withdrawAfterDays", default)
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_WITHDRAW_AFTER_DAYS:
        raise PaymentRuleError(
            f"fee.payment.withdrawAfterDays must be a whole number 1..{MAX_WITHDRAW_AFTER_DAYS}"
        )
    return days


def pays_first(meta: Mapping[str, Any]) -> bool:
    """The form's fee is paid before the submission is received (it waits in awaiting_payment)."""
    payment = (meta.get("fee") or {}).get("payment") or {}
    return payment.get("timing") == BEFORE_RECEIVED


def withdrawal_due(
    plan: FeePlan, submission_status: str, created_at: datetime, days: int, now: datetime
) -> bool:
    """A submission that waits for its fee first (it is created awaiting_payment) and has waited
    `days` full days unpaid is withdrawn. After-approval fees never withdraw anything: the
    submission is with the section, which decides."""
    return (
        plan.timing == BEFORE_RECEIVED
        and submission_status == "awaiting_payment"
        and now >= created_at + timedelta(days=days)
    )


def payable(plan: FeePlan, submission_status: str) -> bool:
    if plan.timing == BEFORE_RECEIVED:
        return submission_status == "awaiting_payment"
    return submission_status in PAYABLE_AFTER_APPROVAL


# --------------------------------------------------------------------------- ids


def payment_id(receipt: str, method: str, attempt: int) -> str:
    """The merchantPaymentId / our intent id: receipt, method, attempt number.

    The attempt number only ever grows (a conditional counter per receipt and method), so an id
    is never given to a provider twice, even after its code was cancelled or expired.
    """
    if method not in METHODS:
        raise PaymentRuleError(f"method must be one of {METHODS}")
    if not isinstance(attempt, int) or attempt < 1 or attempt > 99:
        raise PaymentRuleError("attempt must be 1..99")
    return f"{receipt}-{_METHOD_CODES[method]}{attempt:02d}"


def refund_id(payment: str) -> str:
    """One full refund per payment, so its id is fixed: a retried request is the same request."""
    return f"{payment}-RF1"


# --------------------------------------------------------------------------- the log


@dataclass(frozen=True)
class LogEntry:
    """One confirmed state. `at` is the provider's time for it where it gives one."""

    state: str
    at: datetime
    amount: int | None = None
    provider_payment_id: str | None = None

    def __post_init__(self) -> None:
        if self.state not in LOG_STATES:
            raise PaymentRuleError(f"unknown log state {self.state!r}")
        if self.at.tzinfo is None:
            raise PaymentRuleError("log times must be timezone-aware")

    @property
    def key(self) -> str:
        """The log's conditional-put key: one entry per state and provider payment."""
        return f"{self.state}#{self.provider_payment_id or '-'}"


@dataclass(frozen=True)
class Derived:
    status: str
    reasons: tuple[str, ...] = ()
    paid_at: datetime | None = None
    amount_paid: int | None = None
    provider_payment_id: str | None = None
    refunded_at: datetime | None = None

    @property
    def needs_review(self) -> bool:
        return self.status == NEEDS_REVIEW

    @property
    def paid(self) -> bool:
        """Money reached the ward (whatever else the log says): a receipt is owed, or a refund."""
        return self.amount_paid is not None


def derive(entries: Iterable[LogEntry], expected_amount: int) -> Derived:
    """The intent's status from its log: order- and duplicate-safe (the log is read as a set)."""
    by_state: dict[str, list[LogEntry]] = {}
    for entry in entries:
        by_state.setdefault(entry.state, []).append(entry)
    completed = sorted(by_state.get(COMPLETED, []), key=lambda e: (e.at, e.key))
    reasons: list[str] = []
    paid_at = amount = provider_id = None
    if completed:
        first = completed[0]
        paid_at, amount, provider_id = first.at, first.amount, first.provider_payment_id
        if any(entry.amount != expected_amount for entry in completed):
            reasons.append(REVIEW_AMOUNT_MISMATCH)
        if UNPAID_ENDS & by_state.keys():
            reasons.append(REVIEW_PAID_AFTER_END)
    refunded = by_state.get(REFUNDED)
    if (refunded or REFUND_REQUESTED in by_state) and not completed:
        reasons.append(REVIEW_REFUND_WITHOUT_PAYMENT)
    refunded_at = min(entry.at for entry in refunded) if refunded else None
    reasons_t = tuple(dict.fromkeys(reasons))  # unique, in the order found
    if refunded and completed:
        # The money went back: whatever was odd about the payment (late, wrong amount) is settled.
        return Derived(REFUNDED, reasons_t, paid_at, amount, provider_id, refunded_at)
    if reasons_t:
        return Derived(NEEDS_REVIEW, reasons_t, paid_at, amount, provider_id, refunded_at)
    if refunded:
        status = REFUNDED
    elif REFUND_REQUESTED in by_state:
        status = REFUND_REQUESTED
    elif completed:
        status = COMPLETED
    elif FAILED in by_state:
        status = FAILED
    elif CANCELED in by_state:
        status = CANCELED
    elif EXPIRED in by_state:
        status = EXPIRED
    elif AWAITING_PAYMENT in by_state:
        status = AWAITING_PAYMENT
    else:
        status = CREATED
    return Derived(status, (), paid_at, amount, provider_id, refunded_at)


# --------------------------------------------------------------------------- provider answers


def paypay_states(details: Mapping[str, Any] | None, *, now: datetime) -> list[LogEntry]:
    """What PayPay's Get Payment Details answer (`data`) confirms; None: the code was never paid.

    An expired code stays CREATED at PayPay: expiry is ours to decide (the sweep deletes the code
    first, then records `expired`), so CREATED is only ever "still waiting".
    """
    if details is None:
        return [LogEntry(AWAITING_PAYMENT, now)]
    status = details.get("status")
    provider_id = details.get("paymentId") or None
    amount = (details.get("amount") or {}).get("amount")
    accepted = _epoch(details.get("acceptedAt")) or now
    if status in ("CREATED", "AUTHORIZED", "REAUTHORIZING"):
        return [LogEntry(AWAITING_PAYMENT, now)]
    if status == "COMPLETED":
        return [LogEntry(COMPLETED, accepted, amount, provider_id)]
    if status == "REFUNDED":
        return [
            LogEntry(COMPLETED, accepted, amount, provider_id),
            LogEntry(REFUNDED, now, amount, provider_id),
        ]
    if status == "FAILED":
        return [LogEntry(FAILED, now, None, provider_id)]
    if status == "CANCELED":
        return [LogEntry(CANCELED, now, None, provider_id)]
    if status == "EXPIRED":
        return [LogEntry(EXPIRED, now, None, provider_id)]
    raise PaymentRuleError(f"unknown PayPay status {status!r}")


def paypay_refund_states(refund: Mapping[str, Any] | None, *, now: datetime) -> list[LogEntry]:
    """Get Refund Details: CREATED is asked for, COMPLETED is done; FAILED leaves it paid."""
    if not refund:
        return []
    status = refund.get("status")
    amount = (refund.get("amount") or {}).get("amount")
    provider_id = refund.get("paymentId") or None
    if status == "CREATED":
        return [LogEntry(REFUND_REQUESTED, now, amount, provider_id)]
    if status == "COMPLETED":
        at = _epoch(refund.get("acceptedAt")) or now
        return [
            LogEntry(REFUND_REQUESTED, at, amount, provider_id),
            LogEntry(REFUNDED, at, amount, provider_id),
        ]
    return []


def stripe_states(session: Mapping[str, Any], *, now: datetime) -> list[LogEntry]:
    """What a retrieved Checkout Session (payment_intent and its latest charge expanded) confirms.

    A declined card is not an end at Stripe (the resident may try another card in the same
    session), so it stays awaiting_payment; the session's own expiry is the end.
    """
    status = session.get("status")
    intent = session.get("payment_intent") if isinstance(session.get("payment_intent"), dict) else None
    found: list[LogEntry] = []
    if session.get("payment_status") == "paid" and intent and intent.get("status") == "succeeded":
        charge = intent.get("latest_charge") if isinstance(intent.get("latest_charge"), dict) else {}
        paid_at = _epoch(charge.get("created")) or _epoch(intent.get("created")) or now
        amount = intent.get("amount_received", intent.get("amount"))
        found.append(LogEntry(COMPLETED, paid_at, amount, intent.get("id")))
        refunds = (charge.get("refunds") or {}).get("data") or []
        for refund in refunds:
            if refund.get("status") == "succeeded":
                at = _epoch(refund.get("created")) or now
                found.append(LogEntry(REFUND_REQUESTED, at, refund.get("amount"), intent.get("id")))
                found.append(LogEntry(REFUNDED, at, refund.get("amount"), intent.get("id")))
            elif refund.get("status") in ("pending", "requires_action"):
                found.append(LogEntry(REFUND_REQUESTED, now, refund.get("amount"), intent.get("id")))
    elif status == "expired":
        found.append(LogEntry(EXPIRED, now))
    elif status in ("open", "complete"):
        found.append(LogEntry(AWAITING_PAYMENT, now))
    else:
        raise PaymentRuleError(f"unknown checkout session status {status!r}")
    return found


def _epoch(value: Any) -> datetime | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        return None
    return datetime.fromtimestamp(value, UTC)


# --------------------------------------------------------------------------- reconciliation

MISSING_HERE = "missing_here"  # the provider has a completed payment we do not
MISSING_THERE = "missing_there"  # we have a completed payment the provider's list lacks
AMOUNT_MISMATCH = "amount_mismatch"
DIFFERENCE_KINDS = (MISSING_HERE, MISSING_THERE, AMOUNT_MISMATCH)


@dataclass(frozen=True)
class Settled:
    """One completed payment as one side sees it."""

    payment_id: str
    method: str
    amount: int
    provider_payment_id: str | None = None
    form_id: str | None = None
    section: str | None = None
    paid_at: datetime | None = None


@dataclass(frozen=True)
class Difference:
    kind: str
    payment_id: str
    method: str
    ours: int | None
    theirs: int | None

    @property
    def key(self) -> str:
        return f"{self.kind}#{self.payment_id}"


@dataclass(frozen=True)
class Reconciliation:
    day: str
    differences: tuple[Difference, ...]
    matched: int
    totals: dict[str, dict[str, int]] = field(default_factory=dict)  # method -> {"count", "amountYen"}


def reconcile(day: str, ours: Sequence[Settled], theirs: Sequence[Settled]) -> Reconciliation:
    """Compare a day's completed payments on both sides, by payment id. Deterministic."""
    mine = {row.payment_id: row for row in ours}
    provider = {row.payment_id: row for row in theirs}
    differences = []
    matched = 0
    for pid in sorted(mine.keys() | provider.keys()):
        here, there = mine.get(pid), provider.get(pid)
        if here is None and there is not None:
            differences.append(Difference(MISSING_HERE, pid, there.method, None, there.amount))
        elif there is None and here is not None:
            differences.append(Difference(MISSING_THERE, pid, here.method, here.amount, None))
        elif here is not None and there is not None:
            if here.amount != there.amount:
                differences.append(Difference(AMOUNT_MISMATCH, pid, here.method, here.amount, there.amount))
            else:
                matched += 1
    return Reconciliation(day, tuple(differences), matched, method_totals(ours))


def method_totals(rows: Sequence[Settled]) -> dict[str, dict[str, int]]:
    """Count and yen per method (what the digest and the accounting office add up)."""
    totals: dict[str, dict[str, int]] = {}
    for row in rows:
        total = totals.setdefault(row.method, {"count": 0, "amountYen": 0})
        total["count"] += 1
        total["amountYen"] += row.amount
    return totals


# PayPay's side of a day, whatever the source, is a list of rows of one shape (the shape of the
# devstack sandbox's JSON report): {"merchantPaymentId", "paymentId", "amount", "status"}. OPA has
# no report API: in production the rows come from the transaction history file (取引履歴, CSV) of
# PayPay for Business, whose columns PayPay's integration FAQ maps to the API's parameters
# ("PayPay for Businessの取引履歴データファイルとAPIパラメータの紐付け"): 加盟店決済ID is our
# merchantPaymentId, 決済番号 PayPay's paymentId, 取引金額 the amount (negative for a refund).
PAYPAY_REPORT_COLUMNS: dict[str, tuple[str, ...]] = {
    "merchantPaymentId": ("加盟店決済ID", "Merchant payment ID"),
    "paymentId": ("決済番号", "取引番号", "Payment number"),
    "amount": ("取引金額", "Transaction amount"),
    "status": ("取引ステータス", "Transaction status"),
}
# Rows that took no money (取引失敗 and the like) are not payments; refunds are negative rows.
_NOT_SETTLED_WORDS = ("失敗", "取消", "キャンセル", "fail", "cancel")


def paypay_report_rows(text: str) -> list[dict[str, Any]]:
    """PayPay's completed payments of a day from its transaction history file (CSV text).

    Rows without a 加盟店決済ID were not paid through madoguchi (a QR code at a counter) and are
    left out, as are rows that took no money. A file without the columns is refused, never read
    as "nothing was paid".
    """
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff"), newline=""))
    header = [name.strip() for name in next(reader, [])]
    where: dict[str, int] = {}
    for key, names in PAYPAY_REPORT_COLUMNS.items():
        found = next((header.index(name) for name in names if name in header), None)
        if found is None:
            raise PaymentRuleError(f"the PayPay transaction file has no {names[0]} column")
        where[key] = found
    rows = []
    for line, record in enumerate(reader, start=2):
        if not any(cell.strip() for cell in record):
            continue
        if len(record) < len(header):
            raise PaymentRuleError(f"line {line} of the PayPay transaction file is cut short")
        value = {key: record[index].strip() for key, index in where.items()}
        if value["merchantPaymentId"] in ("", "-", "–"):
            continue
        text_amount = value["amount"].replace(",", "").replace("¥", "").replace("円", "")
        amount = whole_number(text_amount, signed=True)
        if amount is None:
            raise PaymentRuleError(f"line {line} of the PayPay transaction file has no whole-yen amount")
        if amount <= 0 or any(word in value["status"].lower() for word in _NOT_SETTLED_WORDS):
            continue
        rows.append({**value, "amount": amount, "paymentId": value["paymentId"] or None})
    return rows


CSV_COLUMNS = ("paid_at_jst", "payment_id", "receipt", "method", "provider_payment_id", "amount_yen")


def accounting_csvs(rows: Sequence[Settled]) -> dict[tuple[str, str], str]:
    """One CSV per (section, fee type = form id) for the accounting office, rows sorted by time."""
    groups: dict[tuple[str, str], list[Settled]] = {}
    for row in rows:
        groups.setdefault((row.section or "-", row.form_id or "-"), []).append(row)
    found = {}
    for key, group in sorted(groups.items()):
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(CSV_COLUMNS)
        for row in sorted(group, key=lambda r: (r.paid_at or datetime.min.replace(tzinfo=UTC), r.payment_id)):
            writer.writerow(
                [
                    row.paid_at.astimezone(TOKYO).isoformat(timespec="seconds") if row.paid_at else "",
                    row.payment_id,
                    receipt_of(row.payment_id),
                    row.method,
                    row.provider_payment_id or "",
                    row.amount,
                ]
            )
        writer.writerow(["total", "", "", "", len(group), sum(r.amount for r in group)])
        found[key] = out.getvalue()
    return found


def receipt_of(payment: str) -> str:
    """The submission's receipt number inside a payment id (`KTS-2612-AB3D-PP01` -> `KTS-2612-AB3D`)."""
    return payment.rsplit("-", 1)[0]


def tokyo_day(value: datetime) -> str:
    return value.astimezone(TOKYO).date().isoformat()


def day_bounds(day: str) -> tuple[datetime, datetime]:
    """A Tokyo calendar day as a UTC [start, end) pair."""
    start = datetime.fromisoformat(day).replace(tzinfo=TOKYO)
    return start.astimezone(UTC), (start + timedelta(days=1)).astimezone(UTC)


# --------------------------------------------------------------------------- refunds

REFUND_REASON_MAX = 500


def check_refund_reason(reason: Any) -> str:
    if not isinstance(reason, str) or not reason.strip():
        raise PaymentRuleError("a refund needs a reason")
    cleaned = reason.strip()
    if len(cleaned) > REFUND_REASON_MAX:
        raise PaymentRuleError(f"a refund reason has at most {REFUND_REASON_MAX} characters")
    return cleaned


def needs_approval(amount: int, threshold: int) -> bool:
    """Refunds above the configured amount wait for a supervisor's approval."""
    return amount > threshold
