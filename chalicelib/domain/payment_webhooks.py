"""What a payment provider's webhook request is, and what makes one acceptable. Pure: no I/O.

Both are hints: an accepted webhook only names a payment for the worker to ask the provider about.
PayPay does not sign its webhooks (its route is for an IP allow-list at the edge); Stripe signs
`t.raw_body` with HMAC-SHA256 (`Stripe-Signature: t=<unix>,v1=<hex>[,v1=...]`), checked here in
constant time with a 300-second tolerance, before the body is parsed.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass

from chalicelib.domain.digits import whole_number
from chalicelib.domain.webhooks import InvalidWebhook, strict_json

MAX_BODY_BYTES = 64 * 1024  # provider events are a few KB
STRIPE_TOLERANCE_SECONDS = 300
_PAYMENT_ID = re.compile(r"^[A-Z]{1,6}-[0-9]{4}-[0-9A-Z]{4}-(PP|CD)[0-9]{2}$")


@dataclass(frozen=True)
class Hint:
    """A webhook reduced to what the worker needs: its dedupe key and the payment to ask about."""

    event_key: str
    provider: str
    payment_id: str | None


def stripe_signature_valid(secret: str, body: bytes, header: str | None, now: float) -> bool:
    if not header:
        return False
    timestamp, signatures = "", []
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        if name == "t":
            timestamp = value
        elif name == "v1":
            signatures.append(value)
    stamp = whole_number(timestamp)
    if stamp is None or not signatures:
        return False
    if abs(now - stamp) > STRIPE_TOLERANCE_SECONDS:
        return False
    expected = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    # Compare with every v1 (Stripe sends two while a secret is being rolled); no early exit on a match.
    results = [
        hmac.compare_digest(expected, candidate.encode("ascii", "replace").decode())
        for candidate in signatures
    ]
    return any(results)


def check_paypay(body: bytes) -> Hint:
    if len(body) > MAX_BODY_BYTES:
        raise InvalidWebhook(413, "payload_too_large", f"The body exceeds {MAX_BODY_BYTES} bytes.")
    document = strict_json(body, "payment_webhook_paypay")
    payment_id = document["merchant_order_id"]
    # PayPay sends no event id: a notification is one (payment, state, PayPay payment id).
    key = f"paypay#{payment_id}#{document['state']}#{document.get('order_id') or '-'}"
    return Hint(key, "paypay", payment_id)


def check_stripe(secret: str, body: bytes, signature: str | None, now: float) -> Hint:
    if len(body) > MAX_BODY_BYTES:
        raise InvalidWebhook(413, "payload_too_large", f"The body exceeds {MAX_BODY_BYTES} bytes.")
    if not stripe_signature_valid(secret, body, signature, now):
        raise InvalidWebhook(
            400, "invalid_signature", "The Stripe-Signature header is missing, wrong or stale."
        )
    document = strict_json(body, "payment_webhook_stripe")
    obj = document["data"]["object"]
    metadata = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    candidate = metadata.get("payment_id") or obj.get("client_reference_id")
    payment_id = candidate if isinstance(candidate, str) and _PAYMENT_ID.match(candidate) else None
    return Hint(f"stripe#{document['id']}", "stripe", payment_id)
