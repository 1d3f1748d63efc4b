"""PayPay Open Payment API (OPA): dynamic QR codes, Get Payment Details, refunds.

A thin adapter over the paths madoguchi uses, not the `paypayopa` SDK: the SDK chooses its host
from a production/sandbox flag (it cannot be pointed at the local sandbox without patching its
internals), brings `requests` into the Lambda bundle, and hides the timeouts and retries that
must stay short here. Every request carries OPA's HMAC authentication:

    Authorization: hmac OPA-Auth:<api key>:<mac>:<nonce>:<epoch>:<body hash>
    body hash = base64(MD5(content type + body)), or "empty" without a body
    mac = base64(HMAC-SHA256(api secret, path \\n method \\n nonce \\n epoch \\n content type \\n body hash))

PayPay refuses a request whose epoch is more than 2 minutes off its clock.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
import urllib.parse
from datetime import datetime
from typing import Any

from chalicelib.adapters.provider_http import ProviderRejected, call
from chalicelib.config import get_settings

CONTENT_TYPE = "application/json;charset=UTF-8;"
# Get Payment Details before the code was scanned: nothing was paid.
NOT_FOUND_CODES = frozenset({"DYNAMIC_QR_PAYMENT_NOT_FOUND", "OPA_CLIENT_NOT_FOUND", "NO_SUMMARY_FOUND"})


def opa_authorization(
    api_key: str, api_secret: str, method: str, path: str, body: bytes | None, *, nonce: str, epoch: int
) -> str:
    """The Authorization header value for one request (`path` without the query string)."""
    if body:
        content_type = CONTENT_TYPE
        body_hash = base64.b64encode(hashlib.md5(content_type.encode() + body).digest()).decode()  # noqa: S324 (OPA's scheme)
    else:
        content_type = body_hash = "empty"
    message = "\n".join([path, method, nonce, str(epoch), content_type, body_hash])
    mac = base64.b64encode(hmac.new(api_secret.encode(), message.encode(), hashlib.sha256).digest()).decode()
    return f"hmac OPA-Auth:{api_key}:{mac}:{nonce}:{epoch}:{body_hash}"


class PayPayClient:
    def __init__(self, base: str, api_key: str, api_secret: str, merchant_id: str) -> None:
        self.base = base
        self.api_key = api_key
        self.api_secret = api_secret
        self.merchant_id = merchant_id

    def create_code(
        self, merchant_payment_id: str, amount: int, description: str, expires_at: datetime, redirect_url: str
    ) -> dict[str, Any]:
        """Create a dynamic QR code / web payment: `data` with codeId, url, deeplink, expiryDate."""
        body = {
            "merchantPaymentId": merchant_payment_id,
            "amount": {"amount": amount, "currency": "JPY"},
            "codeType": "ORDER_QR",
            "orderDescription": description,
            "isAuthorization": False,
            "redirectUrl": redirect_url,
            "redirectType": "WEB_LINK",
            "requestedAt": int(time.time()),
            "codeValidPeriodInSeconds": max(60, int(expires_at.timestamp() - time.time())),
        }
        return self._request("POST", "/v2/codes", body)["data"]

    def delete_code(self, code_id: str) -> None:
        """Delete a code so it can no longer be paid; an already deleted code counts as deleted."""
        try:
            self._request("DELETE", f"/v2/codes/{urllib.parse.quote(code_id, safe='')}")
        except ProviderRejected as error:
            if error.status != 404:
                raise

    def cancel_payment(self, merchant_payment_id: str) -> None:
        """Cancel a payment by our own id, for a code whose codeId we never learnt (its answer was
        lost): PayPay accepts it before anyone pays, and reverses a payment made with the code
        afterwards (FAILED). An id PayPay does not know counts as cancelled."""
        from chalicelib.observability import logger

        # What PayPay answers here is read from its FAQ, not yet seen: logged, so the first real
        # cancel tells (docs/runbook.md, "PayPay").
        try:
            answer = self._request(
                "DELETE", f"/v2/payments/{urllib.parse.quote(merchant_payment_id, safe='')}"
            )
        except ProviderRejected as error:
            logger.info("PayPay cancel answered", extra={"status": error.status, "result_code": error.code})
            if error.code not in NOT_FOUND_CODES and error.status != 404:
                raise
            return
        logger.info("PayPay cancel answered", extra={"result_code": _result_code(answer)})

    def payment_details(self, merchant_payment_id: str) -> dict[str, Any] | None:
        """Get Payment Details (`data`); None while nobody has paid with the code."""
        try:
            return self._request(
                "GET", f"/v2/codes/payments/{urllib.parse.quote(merchant_payment_id, safe='')}"
            )["data"]
        except ProviderRejected as error:
            if error.code in NOT_FOUND_CODES or error.status == 404:
                return None
            raise

    def refund(self, merchant_refund_id: str, payment_id: str, amount: int, reason: str) -> dict[str, Any]:
        body = {
            "merchantRefundId": merchant_refund_id,
            "paymentId": payment_id,
            "amount": {"amount": amount, "currency": "JPY"},
            "requestedAt": int(time.time()),
            "reason": reason[:255],
        }
        try:
            return self._request("POST", "/v2/refunds", body)["data"]
        except ProviderRejected as error:
            # The same merchantRefundId again: the first request went through; read it back.
            if error.code == "DUPLICATE_REFUND_REQUEST" or error.status == 409:
                found = self.refund_details(merchant_refund_id)
                if found:
                    return found
            raise

    def refund_details(self, merchant_refund_id: str) -> dict[str, Any] | None:
        try:
            return self._request("GET", f"/v2/refunds/{urllib.parse.quote(merchant_refund_id, safe='')}")[
                "data"
            ]
        except ProviderRejected as error:
            if error.status == 404:
                return None
            raise

    def daily_report(self, day: str) -> list[dict[str, Any]]:
        """The day's completed payments from the devstack sandbox, which alone answers this path.

        OPA has no report API: in AWS the reconciliation reads the PayPay for Business transaction
        history file instead (services/payment_reconciliation.paypay_rows, PAYPAY_REPORT_SOURCE=s3);
        the sandbox serves the rows in the shape that file is mapped to
        (domain.payments.paypay_report_rows): merchantPaymentId, paymentId, amount, status.
        """
        return self._request("GET", f"/v2/reports/transactions?date={urllib.parse.quote(day)}")["data"][
            "transactions"
        ]

    def _request(self, method: str, path: str, document: dict[str, Any] | None = None) -> dict[str, Any]:
        body = json.dumps(document, separators=(",", ":")).encode() if document is not None else None

        def headers() -> dict[str, str]:
            value = opa_authorization(
                self.api_key,
                self.api_secret,
                method,
                path.split("?", 1)[0],
                body,
                nonce=secrets.token_hex(4),
                epoch=int(time.time()),
            )
            found = {"Authorization": value, "X-ASSUME-MERCHANT": self.merchant_id}
            if body:
                found["Content-Type"] = CONTENT_TYPE
            return found

        return call(method, self.base + path, headers(), body, error_code=_result_code)


def _result_code(document: dict[str, Any]) -> str | None:
    info = document.get("resultInfo") if isinstance(document, dict) else None
    return info.get("code") if isinstance(info, dict) else None


def client() -> PayPayClient:
    """A client with the credentials configured now: made per use, not kept, so a rotated key
    is used within config.SECRET_CACHE_SECONDS (the secret itself is cached that long)."""
    settings = get_settings()
    return PayPayClient(
        settings.paypay_api_base,
        settings.paypay_api_key,
        settings.paypay_api_secret,
        settings.paypay_merchant_id,
    )
