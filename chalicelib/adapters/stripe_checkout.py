"""Stripe, for card payments: hosted Checkout Sessions, retrieve, expire, refunds, the day's list.

Card details are typed on Stripe's page and never reach madoguchi. A thin adapter instead of the
`stripe` SDK: the SDK can be pointed at the sandbox (`api_base`), but it is a large package for
the six calls used here, and this keeps one timeout/retry policy for both providers. Every
create carries an Idempotency-Key derived from our own id, so a retried create is the same create.
"""

from __future__ import annotations

import urllib.parse
from datetime import datetime
from typing import Any

from chalicelib.adapters.provider_http import call
from chalicelib.config import get_settings

API_VERSION = "2024-06-20"


# Checkout's page language for each of ours; Nepali has none, so the payer's browser decides.
_LOCALES = {"ja": "ja", "ja-easy": "ja", "en": "en", "zh-Hans": "zh", "ko": "ko", "vi": "vi"}


def locale_for(language: str | None) -> str:
    return _LOCALES.get(language or "", "auto")


class StripeClient:
    def __init__(self, base: str, secret_key: str) -> None:
        self.base = base
        self.secret_key = secret_key

    def create_session(
        self,
        payment_id: str,
        amount: int,
        description: str,
        expires_at: datetime,
        success_url: str,
        cancel_url: str,
        locale: str = "auto",
    ) -> dict[str, Any]:
        form = {
            "locale": locale,
            "mode": "payment",
            "client_reference_id": payment_id,
            "line_items[0][price_data][currency]": "jpy",
            "line_items[0][price_data][unit_amount]": str(amount),
            "line_items[0][price_data][product_data][name]": description,
            "line_items[0][quantity]": "1",
            "payment_method_types[0]": "card",
            "expires_at": str(int(expires_at.timestamp())),
            "success_url": success_url,
            "cancel_url": cancel_url,
            "metadata[payment_id]": payment_id,
            "payment_intent_data[metadata][payment_id]": payment_id,
        }
        return self._request("POST", "/v1/checkout/sessions", form, idempotency_key=f"create-{payment_id}")

    def retrieve_session(self, session_id: str) -> dict[str, Any]:
        query = "?expand[]=payment_intent&expand[]=payment_intent.latest_charge"
        return self._request("GET", f"/v1/checkout/sessions/{urllib.parse.quote(session_id, safe='')}{query}")

    def expire_session(self, session_id: str) -> dict[str, Any]:
        return self._request(
            "POST", f"/v1/checkout/sessions/{urllib.parse.quote(session_id, safe='')}/expire", {}
        )

    def refund(self, payment_intent: str, amount: int, refund_id: str, reason: str) -> dict[str, Any]:
        form = {
            "payment_intent": payment_intent,
            "amount": str(amount),
            "reason": "requested_by_customer",
            "metadata[refund_id]": refund_id,
            "metadata[note]": reason[:200],
        }
        return self._request("POST", "/v1/refunds", form, idempotency_key=refund_id)

    def payment_intents(self, start: datetime, end: datetime) -> list[dict[str, Any]]:
        """Every PaymentIntent created in [start, end), following `has_more` pages."""
        found: list[dict[str, Any]] = []
        after = None
        while True:
            query = f"?limit=100&created[gte]={int(start.timestamp())}&created[lt]={int(end.timestamp())}"
            if after:
                query += f"&starting_after={urllib.parse.quote(after)}"
            page = self._request("GET", f"/v1/payment_intents{query}")
            found.extend(page.get("data", []))
            if not page.get("has_more") or not page.get("data"):
                return found
            after = page["data"][-1]["id"]

    def _request(
        self,
        method: str,
        path: str,
        form: dict[str, str] | None = None,
        *,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {self.secret_key}", "Stripe-Version": API_VERSION}
        body = None
        if form is not None:
            body = urllib.parse.urlencode(form).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        return call(method, self.base + path, headers, body, error_code=_error_code)


def _error_code(document: dict[str, Any]) -> str | None:
    error = document.get("error") if isinstance(document, dict) else None
    return error.get("code") if isinstance(error, dict) else None


def client() -> StripeClient:
    """A client with the credentials configured now: made per use, not kept, so a rotated key
    is used within config.SECRET_CACHE_SECONDS (the secret itself is cached that long)."""
    settings = get_settings()
    return StripeClient(settings.stripe_api_base, settings.stripe_secret_key)
