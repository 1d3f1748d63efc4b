"""Section staff's payment lists: what needs them, and any status, one section at a time.

`GET /staff/payments?status=needs_review|flagged|refund_approval|…` lists the caller's section's
payments with that status, newest change first, read by key from the `by-section-status` index
(`<section>#<status>`, kept with every change of status). `flagged` is the part of needs_review
whose money must go back (paid after expiry or cancellation, after another payment of the same
submission, after the submission was withdrawn or rejected) until it has gone back.
`refund_approval` holds refunds waiting for a supervisor (their own partition until approved).
`?receipt=` lists one submission's payments instead.

An item carries what staff act on: receipt, fee, amounts, method, the provider's payment id,
why it was flagged and when; never a pay URL, a token or anything of a card (none is ever held).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from chalicelib.domain import cursors
from chalicelib.domain import errors as rule
from chalicelib.domain import payments as rules
from chalicelib.domain import submissions as submission_rules
from chalicelib.domain.errors import InvalidCursor
from chalicelib.domain.forms import get_form
from chalicelib.domain.staff import StaffPrincipal
from chalicelib.schemas import load, problems
from chalicelib.store import payments as store
from chalicelib.store.models import PaymentIntent

SCHEMA = "staff_payment_list"
DEFAULT_LIMIT = 50
MAX_LIMIT = 100
# A filtered list (flagged) reads its partition in batches; after this many items a page is
# answered short (even empty) with a cursor, so one request never reads a whole partition.
MAX_EXAMINED = 1000
_BATCH = 100

# Staff read Japanese or English: every message has both (as the resident-facing ones do).
_MESSAGES = {
    "invalid": ("検索条件が正しくありません。", "Some query parameters are not valid."),
    "unknown": (
        "使えない検索条件です（使えるもの: {known}）。",
        "Unknown parameter; known ones are {known}.",
    ),
    "twice": ("この検索条件は1回だけ指定してください。", "Give this parameter once."),
    "which": ("status（状態）か receipt（受付番号）を指定してください。", "Give status or receipt."),
    "status": ("状態は次のいずれかです: {values}。", "status is one of: {values}."),
    "receipt": ("受付番号の形式が正しくありません。", "This is not a receipt number."),
    "section": ("課の ID の形式が正しくありません。", "This is not a section id."),
    "limit": ("件数は1から{max}までの整数です。", "limit is a whole number from 1 to {max}."),
    "cursor": (
        "前のページの nextCursor を、同じ条件でお使いください。",
        "Use nextCursor from the previous page, with the same filters.",
    ),
    "bad_cursor": (
        "このカーソルはこの一覧のものではありません。カーソルなしでやり直してください。",
        "The cursor is not one this list gave out for these filters; start again without it.",
    ),
    "other_section": (
        "ほかの課のお支払いは見られません。",
        "You can list only your own section's payments.",
    ),
}


def _say(key: str, **values: Any) -> str:
    ja, en = _MESSAGES[key]
    return f"{ja.format(**values)} / {en.format(**values)}"


@dataclass(frozen=True)
class PaymentQuery:
    status: str | None = None
    receipt: str | None = None
    limit: int = DEFAULT_LIMIT
    cursor: str | None = None


def parse_query(params: Mapping[str, Sequence[str]], principal: StaffPrincipal) -> PaymentQuery:
    """The query, checked against its schema (400 naming every bad parameter); another section: 403."""
    details: list[dict[str, str]] = []
    document: dict[str, str] = {}
    for name, given in params.items():
        if len(given) != 1:
            details.append({"parameter": name, "message": _say("twice")})
        else:
            document[name] = given[0]
    known = load(SCHEMA)["properties"]
    for found in problems(SCHEMA, document):
        name = found["pointer"].lstrip("/")
        if found["keyword"] == "additionalProperties":
            details += [
                {"parameter": extra, "message": _say("unknown", known=", ".join(known))}
                for extra in document
                if extra not in known
            ]
        elif found["keyword"] == "anyOf":
            details.append({"parameter": "status", "message": _say("which")})
        elif name == "status":
            details.append(
                {"parameter": name, "message": _say("status", values=", ".join(rules.LIST_FILTERS))}
            )
        elif name == "limit":
            details.append({"parameter": name, "message": _say("limit", max=MAX_LIMIT)})
        elif name in ("receipt", "section", "cursor"):
            details.append({"parameter": name, "message": _say(name)})
    receipt = None
    if "receipt" in document and not any(d["parameter"] == "receipt" for d in details):
        receipt = submission_rules.normalize_receipt(document["receipt"])
        if receipt is None:
            details.append({"parameter": "receipt", "message": _say("receipt")})
    if details:
        raise rule.Malformed(_say("invalid"), code="invalid_query", details=details)
    if document.get("section", principal.section) != principal.section:
        raise rule.Forbidden(_say("other_section"))
    return PaymentQuery(
        status=document.get("status"),
        receipt=receipt,
        limit=int(document.get("limit", DEFAULT_LIMIT)),
        cursor=document.get("cursor"),
    )


def answer(principal: StaffPrincipal, query: PaymentQuery) -> dict[str, Any]:
    """`?receipt=`: that submission's payments (`payments`); otherwise one page of the list."""
    if query.receipt is not None:
        from chalicelib.services import payments

        found = payments.staff_payments_of(query.receipt, principal)
        if query.status is not None:
            found = [view for view in found if _view_matches(view, query.status)]
        return {"payments": found}
    return list_for_section(principal, query)


def _view_matches(view: Mapping[str, Any], wanted: str) -> bool:
    if wanted == rules.FLAGGED:
        return rules.flagged_for_refund(view["status"], view["reviewReasons"])
    return rules.listed_as(view["status"], view["refund"]["state"]) == wanted


# --------------------------------------------------------------------------- the list


def list_for_section(principal: StaffPrincipal, query: PaymentQuery) -> dict[str, Any]:
    """One page of the section's payments with the status asked for, newest change first.

    The cursor resumes right after the last item returned, so a page that ends part-way through
    a read skips nothing.
    """
    assert query.status is not None  # noqa: S101 (parse_query requires status or receipt)
    section = principal.section
    wanted = query.status
    status = rules.NEEDS_REVIEW if wanted == rules.FLAGGED else wanted
    fingerprint = _fingerprint(section, wanted)
    after = _position(query.cursor, fingerprint) if query.cursor else None
    batch = _BATCH if wanted == rules.FLAGGED else query.limit + 1
    items, last = cursors.filtered_page(
        lambda start: store.by_status(section, status, after=start, limit=batch),
        after,
        lambda intent: _matches(intent, section, wanted),
        query.limit,
        MAX_EXAMINED,
    )
    return _page(items, _cursor(fingerprint, last) if last else None)


def _matches(intent: PaymentIntent, section: str, wanted: str) -> bool:
    # The index follows the table by a moment: an item is listed by what the table row says.
    if intent.section != section:
        return False
    if wanted == rules.FLAGGED:
        return rules.flagged_for_refund(intent.status, _reasons(intent))
    return rules.listed_as(intent.status, intent.refund_state) == wanted


def _page(items: list[PaymentIntent], next_cursor: str | None) -> dict[str, Any]:
    return {"items": [list_item(intent) for intent in items], "nextCursor": next_cursor}


def list_item(intent: PaymentIntent) -> dict[str, Any]:
    """What a list shows of a payment (no pay URL, no token, no card data: none is held)."""
    form = get_form(intent.form_id)
    fee = (
        {"ja": form.title["ja"], "en": form.title["en"]}
        if form
        else {"ja": intent.form_id, "en": intent.form_id}
    )
    reasons = _reasons(intent)
    refund = None
    if intent.refund_state:
        refund = {
            "state": intent.refund_state,
            "id": rules.refund_id(intent.payment_id),
            "amountYen": rules.refund_yen(intent.paid_amount, intent.amount),  # all that was paid
            "refundedAt": _tokyo(intent.refunded_at),
        }
    return {
        "paymentId": intent.payment_id,
        "receipt": intent.receipt,
        "formId": intent.form_id,
        "fee": fee,
        "amountYen": int(intent.amount),
        "paidAmountYen": int(intent.paid_amount) if intent.paid_amount is not None else None,
        "method": intent.method,
        "status": intent.status,
        "flaggedForRefund": rules.flagged_for_refund(intent.status, reasons),
        "reviewReasons": [
            {"code": code, **rules.REVIEW_LABELS.get(code, {"ja": code, "en": code})} for code in reasons
        ],
        "providerPaymentId": intent.provider_payment_id,
        "refund": refund,
        "statusSince": _tokyo(datetime.fromisoformat(intent.status_since)) if intent.status_since else None,
        "createdAt": _tokyo(intent.created_at),
        "expiresAt": _tokyo(intent.expires_at),
        "paidAt": _tokyo(intent.paid_at),
        "href": f"/staff/payments/{intent.payment_id}",
    }


def _reasons(intent: PaymentIntent) -> list[str]:
    return [str(code) for code in intent.review_reasons or []]


def _tokyo(value: datetime | None) -> str | None:
    return submission_rules.tokyo_iso(value) if value else None


# --------------------------------------------------------------------------- cursors

# The cursor names the last item returned and the list it belongs to (section and filter); it is
# opaque to clients and checked in full before it reaches DynamoDB.
_SINCE = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}\+00:00")
_PAYMENT_ID = re.compile(r"[A-Z]{1,6}-[0-9]{4}-[0-9A-Z]{4}-(?:PP|CD)[0-9]{2}")


def _fingerprint(section: str, wanted: str) -> str:
    return hashlib.sha256(json.dumps([section, wanted]).encode()).hexdigest()[:16]


def _cursor(fingerprint: str, last: PaymentIntent) -> str:
    return cursors.encode({"q": fingerprint, "s": last.status_since, "p": last.payment_id})


def _position(text: str, fingerprint: str) -> store.Position:
    raw = cursors.decode(text, {"q", "s", "p"})
    since, payment_id = raw["s"], raw["p"]
    if (
        raw["q"] != fingerprint
        or not (isinstance(since, str) and _SINCE.fullmatch(since))
        or not (isinstance(payment_id, str) and _PAYMENT_ID.fullmatch(payment_id))
    ):
        raise InvalidCursor(_say("bad_cursor"))
    return store.Position(since, payment_id)
