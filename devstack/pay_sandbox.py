"""Local stand-in for the payment providers: PayPay OPA and Stripe, on one port (4600).

PayPay paths: `POST /v2/codes`, `DELETE /v2/codes/{codeId}`, `GET /v2/codes/payments/{merchantPaymentId}`,
`DELETE /v2/payments/{merchantPaymentId}` (Cancel a payment: a later payment of the code is FAILED),
`POST /v2/refunds`, `GET /v2/refunds/{merchantRefundId}`, and `GET /v2/reports/transactions?date=`
(a sandbox-only path: OPA has no report API; it serves the day's payments as the rows that
domain.payments.paypay_report_rows makes of PayPay for Business's transaction history CSV, which
is what a ward's reconciliation reads in AWS). Every PayPay request must carry a valid
`hmac OPA-Auth` header (checked here independently of the app's adapter, epoch within 2 minutes).
Stripe paths: `POST /v1/checkout/sessions`, `GET /v1/checkout/sessions/{id}` (expand payment_intent),
`POST /v1/checkout/sessions/{id}/expire`, `POST /v1/refunds`, `GET /v1/payment_intents` (created
range, paged), with a Bearer secret key and Idempotency-Key replay.

Payments live in memory. Webhooks go to the API (`webhook_base`), or, with none set (tests), wait
in an outbox that `POST /__sandbox/webhooks/take` empties. Controls under /__sandbox/:
- `POST /__sandbox/paypay/payments/{merchantPaymentId}/complete|fail|expire` (`{"amount"?, "force"?}`:
  another amount; `force` pays a deleted code, the race the sweep must catch);
- `POST /__sandbox/stripe/sessions/{id}/complete|fail|expire`;
- `POST /__sandbox/webhooks` `{"mode": "normal"|"drop"|"duplicate"|"delay"|"reorder", "count"?, "delay"?}`;
- `POST /__sandbox/faults` `{"path" (glob), "method"?, "status"? (500), "count"? (1), "delay"? (s),
  "phase"? ("after": do the work, then answer the fault, as when an answer is lost)}`, and
  `DELETE /__sandbox/faults` ends them all;
- `POST /__sandbox/settings` `{"refundsPending": true}`: PayPay refunds stay CREATED until
  `POST /__sandbox/paypay/refunds/{merchantRefundId}/complete`;
- `POST /__sandbox/reports/{payment id}` `{"hidden"?: true, "amount"?: n}`: what the provider's
  list for the day says (for reconciliation tests);
- `GET /__sandbox/requests`, `GET /__sandbox/webhooks/sent`, `POST /__sandbox/reset`.

The payer's side, for a browser: the `url` of a PayPay code or a Checkout session
(`/__pay/paypay/{codeId}`, `/__pay/stripe/{sessionId}`) is a page with "pay" and "cancel"; paying
completes it as the control does and goes back to the code's `redirectUrl` or the session's
`success_url`, cancelling to the session's `cancel_url` (PayPay: the redirect).

Run it alone with `python -m devstack.pay_sandbox [--port 4600] [--webhook-base URL]`.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import fnmatch
import hashlib
import hmac
import html
import itertools
import json
import re
import secrets
import threading
import time
import urllib.request
from datetime import UTC, datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

DEFAULT_PORT = 4600
CLOCK_SKEW_SECONDS = 120  # PayPay refuses requests whose epoch is further off
TOKYO = timezone(timedelta(hours=9))


class PaySandbox:
    def __init__(
        self,
        port: int = DEFAULT_PORT,
        *,
        paypay_key: str,
        paypay_secret: str,
        merchant_id: str,
        stripe_key: str,
        webhook_secret: str,
        webhook_base: str | None = None,
        host: str = "127.0.0.1",
    ) -> None:
        self.port = port
        self.host = host
        self.paypay_key = paypay_key
        self.paypay_secret = paypay_secret
        self.merchant_id = merchant_id
        self.stripe_key = stripe_key
        self.webhook_secret = webhook_secret
        self.webhook_base = webhook_base
        self.lock = threading.RLock()
        self._ids = itertools.count(1)
        self.reset()
        self._server: ThreadingHTTPServer | None = None

    # ----------------------------------------------------------------------------- lifecycle

    def reset(self) -> None:
        with self.lock:
            self.paypay: dict[str, dict[str, Any]] = {}
            self.codes: dict[str, str] = {}
            self.cancelled: set[str] = set()  # merchantPaymentIds given to Cancel a payment
            self.paypay_refunds: dict[str, dict[str, Any]] = {}
            self.sessions: dict[str, dict[str, Any]] = {}
            self.intents: dict[str, dict[str, Any]] = {}
            self.stripe_refunds: dict[str, dict[str, Any]] = {}
            self.idempotent: dict[str, tuple[int, dict[str, Any]]] = {}
            self.requests: list[dict[str, Any]] = []
            self.faults: list[dict[str, Any]] = []
            self.report_overrides: dict[str, dict[str, Any]] = {}
            self.webhook_mode: dict[str, Any] = {"mode": "normal"}
            self.refunds_pending = False  # refunds wait for a control call before they complete
            self.outbox: list[dict[str, Any]] = []
            self.held: list[dict[str, Any]] = []
            self.sent: list[dict[str, Any]] = []

    def start(self) -> None:
        sandbox = self

        class Handler(_Handler):
            box = sandbox

        self._server = ThreadingHTTPServer((self.host, self.port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, name="pay-sandbox", daemon=True).start()

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def base(self) -> str:
        return f"http://{self.host}:{self.port}"

    def new_id(self, prefix: str) -> str:
        return f"{prefix}{next(self._ids):06d}{secrets.token_hex(6)}"

    # ----------------------------------------------------------------------------- webhooks

    def emit(self, path: str, document: dict[str, Any], *, stripe: bool = False) -> None:
        body = json.dumps(document, separators=(",", ":")).encode()
        headers = {"Content-Type": "application/json"}
        if stripe:
            headers["Stripe-Signature"] = stripe_signature(self.webhook_secret, body, int(time.time()))
        hook = {"path": path, "body": body.decode(), "headers": headers}
        with self.lock:
            mode = self.webhook_mode
            kind = mode.get("mode", "normal")
            if kind != "normal":
                mode["count"] = mode.get("count", 1) - 1
                if mode["count"] <= 0:
                    self.webhook_mode = {"mode": "normal"}
            if kind == "drop":
                self.sent.append({**hook, "dropped": True})
                return
            if kind == "reorder":
                self.held.append(hook)
                return
            batch = [hook, hook] if kind == "duplicate" else [hook]
            if self.held:  # a held webhook goes after the one that follows it
                batch = batch + list(reversed(self.held))
                self.held.clear()
        if kind == "delay":
            threading.Timer(float(mode.get("delay", 1)), self._deliver, args=(batch,)).start()
        else:
            self._deliver(batch)

    def _deliver(self, batch: list[dict[str, Any]]) -> None:
        for hook in batch:
            with self.lock:
                self.sent.append(hook)
                if not self.webhook_base:
                    self.outbox.append(hook)
                    continue
            request = urllib.request.Request(
                self.webhook_base + hook["path"],
                data=hook["body"].encode(),
                headers=hook["headers"],
                method="POST",
            )
            threading.Thread(target=_post_quietly, args=(request,), daemon=True).start()

    def take_webhooks(self) -> list[dict[str, Any]]:
        with self.lock:
            found, self.outbox = self.outbox, []
            return found

    # ----------------------------------------------------------------------------- PayPay

    def paypay_webhook(self, payment: dict[str, Any]) -> None:
        self.emit(
            "/payments/webhooks/paypay",
            {
                "notification_type": "Transaction",
                "merchant_id": self.merchant_id,
                "merchant_order_id": payment["merchantPaymentId"],
                "order_id": payment.get("paymentId"),
                "state": payment["status"],
                "order_amount": payment["amount"]["amount"],
                "paid_at": _iso(payment.get("acceptedAt")),
                "expires_at": _iso(payment.get("expiryDate")),
            },
        )

    def paypay_control(self, merchant_payment_id: str, action: str, body: dict[str, Any]) -> tuple[int, Any]:
        with self.lock:
            payment = self.paypay.get(merchant_payment_id)
            if payment is None:
                return 404, {"error": "unknown merchantPaymentId"}
            if action == "complete":
                if payment["status"] != "CREATED" or (payment["deleted"] and not body.get("force")):
                    return 409, {
                        "error": f"cannot pay a {payment['status']} code (deleted: {payment['deleted']})"
                    }
                payment["status"] = "FAILED" if merchant_payment_id in self.cancelled else "COMPLETED"
                payment["paymentId"] = self.new_id("0423")
                payment["acceptedAt"] = int(time.time())
                if "amount" in body:
                    payment["amount"] = {"amount": int(body["amount"]), "currency": "JPY"}
            elif action in ("fail", "expire"):
                if payment["status"] != "CREATED":
                    return 409, {"error": f"the payment is {payment['status']}"}
                payment["status"] = "FAILED" if action == "fail" else "EXPIRED"
            else:
                return 404, {"error": "unknown action"}
            snapshot = json.loads(json.dumps(payment))
        self.paypay_webhook(snapshot)
        return 200, snapshot

    # ----------------------------------------------------------------------------- Stripe

    def stripe_event(self, event_type: str, obj: dict[str, Any]) -> None:
        self.emit(
            "/payments/webhooks/stripe",
            {
                "id": self.new_id("evt_"),
                "object": "event",
                "type": event_type,
                "created": int(time.time()),
                "livemode": False,
                "data": {"object": obj},
            },
            stripe=True,
        )

    def session_view(self, session: dict[str, Any], expand: bool) -> dict[str, Any]:
        view = json.loads(json.dumps(session))
        if expand and session.get("payment_intent"):
            intent = json.loads(json.dumps(self.intents[session["payment_intent"]]))
            charge = intent.get("latest_charge")
            if isinstance(charge, dict):
                charge["refunds"] = {
                    "object": "list",
                    "data": [self.stripe_refunds[r] for r in charge.get("refund_ids", [])],
                }
            view["payment_intent"] = intent
        return view

    def stripe_control(self, session_id: str, action: str, body: dict[str, Any]) -> tuple[int, Any]:
        with self.lock:
            session = self.sessions.get(session_id)
            if session is None:
                return 404, {"error": "unknown session"}
            if session["status"] != "open":
                return 409, {"error": f"the session is {session['status']}"}
            now = int(time.time())
            if action == "complete":
                amount = int(body.get("amount", session["amount_total"]))
                intent_id = self.new_id("pi_")
                self.intents[intent_id] = {
                    "id": intent_id,
                    "object": "payment_intent",
                    "amount": amount,
                    "amount_received": amount,
                    "currency": "jpy",
                    "status": "succeeded",
                    "created": now,
                    "metadata": dict(session["metadata"]),
                    "latest_charge": {"id": self.new_id("ch_"), "created": now, "refund_ids": []},
                }
                session.update(status="complete", payment_status="paid", payment_intent=intent_id)
                event, obj = "checkout.session.completed", self.session_view(session, False)
            elif action == "fail":
                event, obj = (
                    "payment_intent.payment_failed",
                    {"object": "payment_intent", "metadata": session["metadata"]},
                )
            elif action == "expire":
                session["status"] = "expired"
                event, obj = "checkout.session.expired", self.session_view(session, False)
            else:
                return 404, {"error": "unknown action"}
        self.stripe_event(event, obj)
        return 200, obj

    # ----------------------------------------------------------------------------- reports

    def report(self, day: str) -> list[dict[str, Any]]:
        """PayPay's list for a Tokyo day (completed and later refunded payments), overrides applied."""
        found = []
        with self.lock:
            for payment in self.paypay.values():
                if payment["status"] not in ("COMPLETED", "REFUNDED") or not payment.get("acceptedAt"):
                    continue
                if datetime.fromtimestamp(payment["acceptedAt"], TOKYO).date().isoformat() != day:
                    continue
                override = self.report_overrides.get(payment["merchantPaymentId"], {})
                if override.get("hidden"):
                    continue
                found.append(
                    {
                        "merchantPaymentId": payment["merchantPaymentId"],
                        "paymentId": payment["paymentId"],
                        "amount": override.get("amount", payment["amount"]["amount"]),
                        "acceptedAt": payment["acceptedAt"],
                        "status": payment["status"],
                    }
                )
        return sorted(found, key=lambda row: row["merchantPaymentId"])

    def stripe_list(self, gte: int, lt: int) -> list[dict[str, Any]]:
        found = []
        with self.lock:
            for intent in self.intents.values():
                if not gte <= intent["created"] < lt:
                    continue
                override = self.report_overrides.get(intent["metadata"].get("payment_id", ""), {})
                if override.get("hidden"):
                    continue
                view = json.loads(json.dumps(intent))
                if "amount" in override:
                    view["amount_received"] = view["amount"] = override["amount"]
                found.append(view)
        return sorted(found, key=lambda intent: intent["id"])


def _post_quietly(request: urllib.request.Request) -> None:
    # Like PayPay: a webhook that fails is not guaranteed to come again.
    with contextlib.suppress(OSError):
        urllib.request.urlopen(request, timeout=10).read()  # noqa: S310 (the local API)


def _iso(epoch: Any) -> str | None:
    return datetime.fromtimestamp(epoch, UTC).isoformat() if isinstance(epoch, int) else None


def stripe_signature(secret: str, body: bytes, timestamp: int) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def _check_opa(box: PaySandbox, method: str, path: str, header: str | None, body: bytes) -> str | None:
    """Why the OPA HMAC authentication fails, or None when it is good. Written from PayPay's spec."""
    if not header or not header.startswith("hmac OPA-Auth:"):
        return "missing hmac OPA-Auth"
    parts = header.removeprefix("hmac OPA-Auth:").split(":")
    if len(parts) != 5:
        return "malformed header"
    key, mac, nonce, epoch, body_hash = parts
    if key != box.paypay_key:
        return "unknown api key"
    if not (epoch.isascii() and epoch.isdigit()) or abs(int(epoch) - time.time()) > CLOCK_SKEW_SECONDS:
        return "epoch outside 2 minutes"
    if body:
        content_type = "application/json;charset=UTF-8;"
        expected_hash = base64.b64encode(hashlib.md5(content_type.encode() + body).digest()).decode()  # noqa: S324
    else:
        content_type = expected_hash = "empty"
    if not hmac.compare_digest(body_hash, expected_hash):
        return "body hash mismatch"
    message = "\n".join([path, method, nonce, epoch, content_type, body_hash]).encode()
    expected = base64.b64encode(
        hmac.new(box.paypay_secret.encode(), message, hashlib.sha256).digest()
    ).decode()
    if not hmac.compare_digest(mac, expected):
        return "signature mismatch"
    return None


def _paypay_ok(data: Any, status: int = 200, code: str = "SUCCESS") -> tuple[int, Any]:
    return status, {
        "resultInfo": {"code": code, "message": "Success", "codeId": "08100001"},
        "data": data,
    }


def _paypay_error(status: int, code: str, message: str) -> tuple[int, Any]:
    return status, {"resultInfo": {"code": code, "message": message, "codeId": "08100999"}, "data": None}


def _stripe_error(status: int, code: str, message: str) -> tuple[int, Any]:
    return status, {"error": {"type": "invalid_request_error", "code": code, "message": message}}


def _form(body: bytes) -> dict[str, str]:
    return {key: values[-1] for key, values in parse_qs(body.decode(), keep_blank_values=True).items()}


class _Handler(BaseHTTPRequestHandler):
    box: PaySandbox
    protocol_version = "HTTP/1.1"

    def log_message(self, *_: Any) -> None:  # quiet: the request log is the record
        pass

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    def _handle(self, method: str) -> None:
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        box = self.box
        if url.path.startswith("/__pay/"):
            return self._payer(method, url.path)
        fault = None if url.path.startswith("/__sandbox/") else self._fault(method, url.path)
        if fault is not None:
            if fault.get("delay"):
                time.sleep(float(fault["delay"]))
            if fault.get("phase") != "after":  # "after": the provider did the work, the answer is lost
                status, answer = int(fault.get("status", 500)), {"error": "injected fault"}
                self._log(method, url, body, status, "fault")
                return self._send(status, answer)
        try:
            status, answer = self._route(method, url.path, parse_qs(url.query), body)
        except (ValueError, KeyError, TypeError) as error:
            status, answer = 400, {"error": f"bad request: {type(error).__name__}: {error}"}
        if fault is not None:
            status, answer = int(fault.get("status", 500)), {"error": "injected fault"}
            self._log(method, url, body, status, "done, then fault")
        elif not url.path.startswith("/__sandbox/"):
            self._log(method, url, body, status, None)
        self._send(status, answer)
        del box

    def _payer(self, method: str, path: str) -> None:
        """The payer's page of a code or session: GET shows it, POST …/pay or …/cancel acts."""
        match = re.fullmatch(r"/__pay/(paypay|stripe)/([^/]+?)(?:/(pay|cancel))?", path)
        if match is None:
            return self._page(404, "<p>No such payment.</p>")
        provider, key, action = match.groups()
        box = self.box
        with box.lock:
            if provider == "paypay":
                ref = box.codes.get(key)  # the control knows a code by its merchantPaymentId
                found, control = box.paypay.get(ref or ""), box.paypay_control
                amount = found["amount"]["amount"] if found else 0
                back = {"pay": found.get("redirectUrl"), "cancel": found.get("redirectUrl")} if found else {}
            else:
                ref, found, control = key, box.sessions.get(key), box.stripe_control
                amount = found["amount_total"] if found else 0
                back = {"pay": found.get("success_url"), "cancel": found.get("cancel_url")} if found else {}
        if found is None or ref is None:
            return self._page(404, "<p>No such payment.</p>")
        if method == "POST" and action:
            if action == "pay":
                result, answer = control(ref, "complete", {})
                if result != 200:
                    return self._page(result, f"<p>{html.escape(str(answer.get('error')))}</p>")
            location = back.get(action)
            if not location:
                return self._page(200, "<p>Done. You may close this page.</p>")
            self.send_response(303)
            self.send_header("Location", location)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return None
        if method != "GET" or action:
            return self._page(405, "<p>Method not allowed.</p>")
        body = (
            f"<h1>Sandbox {provider}</h1><p>¥{amount:,} ({html.escape(str(found.get('status')))})</p>"
            f'<form method="post" action="{html.escape(path)}/pay"><button>Pay</button></form>'
            f'<form method="post" action="{html.escape(path)}/cancel"><button>Cancel</button></form>'
        )
        return self._page(200, body)

    def _page(self, status: int, body: str) -> None:
        data = f'<!doctype html><html lang="en"><meta charset="utf-8"><title>Payment sandbox</title>{body}</html>'
        encoded = data.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(encoded)))
        self.end_headers()
        self.wfile.write(encoded)

    def _fault(self, method: str, path: str) -> dict[str, Any] | None:
        with self.box.lock:
            for fault in self.box.faults:
                if fnmatch.fnmatch(path, fault["path"]) and fault.get("method", method) == method:
                    fault["count"] = fault.get("count", 1) - 1
                    if fault["count"] <= 0:
                        self.box.faults.remove(fault)
                    return dict(fault)
        return None

    def _log(self, method: str, url: Any, body: bytes, status: int, note: str | None) -> None:
        try:
            parsed: Any = json.loads(body) if body and body[:1] in b"{[" else (_form(body) if body else None)
        except ValueError:
            parsed = None
        with self.box.lock:
            self.box.requests.append(
                {
                    "at": time.time(),
                    "method": method,
                    "path": url.path,
                    "query": url.query,
                    "status": status,
                    "body": parsed,
                    "note": note,
                }
            )

    def _send(self, status: int, answer: Any) -> None:
        data = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    # ----------------------------------------------------------------------------- routing

    def _route(self, method: str, path: str, query: dict[str, list[str]], body: bytes) -> tuple[int, Any]:
        if path.startswith("/__sandbox/"):
            return self._control(method, path, json.loads(body) if body else {})
        if path.startswith("/v2/"):
            problem = _check_opa(self.box, method, path, self.headers.get("Authorization"), body)
            if problem:
                return _paypay_error(401, "UNAUTHORIZED", problem)
            if self.headers.get("X-ASSUME-MERCHANT") != self.box.merchant_id:
                return _paypay_error(401, "UNAUTHORIZED", "X-ASSUME-MERCHANT")
            return self._paypay(method, path, query, json.loads(body) if body else {})
        if path.startswith("/v1/"):
            if self.headers.get("Authorization") != f"Bearer {self.box.stripe_key}":
                return _stripe_error(401, "api_key_invalid", "Invalid API Key provided")
            key = self.headers.get("Idempotency-Key")
            if method == "POST" and key:
                with self.box.lock:
                    if key in self.box.idempotent:
                        return self.box.idempotent[key]
                found = self._stripe(method, path, query, _form(body))
                if found[0] < 500:
                    with self.box.lock:
                        self.box.idempotent[key] = found
                return found
            return self._stripe(method, path, query, _form(body))
        return 404, {"error": "not found"}

    def _paypay(
        self, method: str, path: str, query: dict[str, list[str]], doc: dict[str, Any]
    ) -> tuple[int, Any]:
        box = self.box
        with box.lock:
            if method == "POST" and path == "/v2/codes":
                mpid = doc["merchantPaymentId"]
                if mpid in box.paypay:
                    return _paypay_error(
                        400, "DUPLICATE_DYNAMIC_QR_REQUEST", "Duplicate Dynamic QR request error"
                    )
                amount = doc["amount"]
                if (
                    amount.get("currency") != "JPY"
                    or not isinstance(amount.get("amount"), int)
                    or amount["amount"] < 1
                ):
                    return _paypay_error(400, "INVALID_PARAMS", "amount")
                code_id = box.new_id("04-")
                expiry = int(time.time()) + int(doc.get("codeValidPeriodInSeconds", 300))
                box.paypay[mpid] = {
                    "merchantPaymentId": mpid,
                    "codeId": code_id,
                    "amount": dict(amount),
                    "status": "CREATED",
                    "paymentId": None,
                    "acceptedAt": None,
                    "expiryDate": expiry,
                    "deleted": False,
                    "requestedAt": doc.get("requestedAt"),
                    "redirectUrl": doc.get("redirectUrl"),
                }
                box.codes[code_id] = mpid
                data = {
                    "codeId": code_id,
                    "url": f"{box.base}/__pay/paypay/{code_id}",
                    "deeplink": f"paypay://payment?link={box.base}/__pay/paypay/{code_id}",
                    "expiryDate": expiry,
                    "merchantPaymentId": mpid,
                    "amount": dict(amount),
                    "codeType": "ORDER_QR",
                }
                return _paypay_ok(data, 201)
            match = re.fullmatch(r"/v2/codes/([^/]+)", path)
            if method == "DELETE" and match:
                mpid = box.codes.get(match.group(1))
                if mpid is None:
                    return _paypay_error(404, "DYNAMIC_QR_NOT_FOUND", "code not found")
                box.paypay[mpid]["deleted"] = True
                return _paypay_ok(None)
            match = re.fullmatch(r"/v2/payments/([^/]+)", path)
            if method == "DELETE" and match:
                # Cancel a payment: accepted whether or not the id is known; a payment made with
                # the code afterwards is reversed at once (FAILED), one already made is reversed.
                mpid = match.group(1)
                box.cancelled.add(mpid)
                payment = box.paypay.get(mpid)
                if payment is not None and payment["status"] == "COMPLETED":
                    payment["status"] = "CANCELED"
                return _paypay_ok(None, 202, "REQUEST_ACCEPTED")
            match = re.fullmatch(r"/v2/codes/payments/([^/]+)", path)
            if method == "GET" and match:
                payment = box.paypay.get(match.group(1))
                if payment is None:
                    return _paypay_error(400, "DYNAMIC_QR_PAYMENT_NOT_FOUND", "Dynamic QR payment not found")
                data = {k: v for k, v in payment.items() if k not in ("deleted",)}
                return _paypay_ok(data)
            if method == "POST" and path == "/v2/refunds":
                mrid = doc["merchantRefundId"]
                if mrid in box.paypay_refunds:
                    return _paypay_error(400, "DUPLICATE_REFUND_REQUEST", "Duplicate refund request")
                payment = next(
                    (p for p in box.paypay.values() if p.get("paymentId") == doc["paymentId"]), None
                )
                if payment is None or payment["status"] != "COMPLETED":
                    return _paypay_error(400, "INVALID_PAYMENT_STATUS", "the payment cannot be refunded")
                if doc["amount"]["amount"] > payment["amount"]["amount"]:
                    return _paypay_error(400, "REFUND_AMOUNT_EXCEEDED", "too much")
                refund = {
                    "merchantRefundId": mrid,
                    "paymentId": payment["paymentId"],
                    "amount": dict(doc["amount"]),
                    "status": "CREATED" if box.refunds_pending else "COMPLETED",
                    "acceptedAt": int(time.time()),
                    "reason": doc.get("reason"),
                }
                box.paypay_refunds[mrid] = refund
                if not box.refunds_pending:
                    payment["status"] = "REFUNDED"
                snapshot = json.loads(json.dumps(payment)) if not box.refunds_pending else None
                answer = _paypay_ok(dict(refund), 201)
            else:
                snapshot = None
                match = re.fullmatch(r"/v2/refunds/([^/]+)", path)
                if method == "GET" and match:
                    refund = box.paypay_refunds.get(match.group(1))
                    if refund is None:
                        return _paypay_error(404, "NO_SUCH_REFUND_ORDER", "refund not found")
                    return _paypay_ok(dict(refund))
                if method == "GET" and path == "/v2/reports/transactions":
                    return _paypay_ok(
                        {"date": query["date"][0], "transactions": box.report(query["date"][0])}
                    )
                return _paypay_error(404, "NOT_FOUND", "no such path")
        if snapshot is not None:
            box.paypay_webhook(snapshot)
        return answer

    def _stripe(
        self, method: str, path: str, query: dict[str, list[str]], form: dict[str, str]
    ) -> tuple[int, Any]:
        box = self.box
        with box.lock:
            if method == "POST" and path == "/v1/checkout/sessions":
                session_id = box.new_id("cs_test_")
                amount = int(form["line_items[0][price_data][unit_amount]"])
                box.sessions[session_id] = {
                    "id": session_id,
                    "object": "checkout.session",
                    "status": "open",
                    "payment_status": "unpaid",
                    "amount_total": amount,
                    "currency": "jpy",
                    "client_reference_id": form.get("client_reference_id"),
                    "metadata": {"payment_id": form.get("metadata[payment_id]")},
                    "expires_at": int(form["expires_at"]),
                    "url": f"{box.base}/__pay/stripe/{session_id}",
                    "payment_intent": None,
                    "success_url": form.get("success_url"),
                    "cancel_url": form.get("cancel_url"),
                }
                return 200, box.session_view(box.sessions[session_id], False)
            match = re.fullmatch(r"/v1/checkout/sessions/([^/]+)(/expire)?", path)
            if match:
                session = box.sessions.get(match.group(1))
                if session is None:
                    return _stripe_error(404, "resource_missing", "No such checkout.session")
                if method == "POST" and match.group(2):
                    if session["status"] != "open":
                        return _stripe_error(
                            400, "checkout_session_not_open", "Only open sessions can be expired"
                        )
                    session["status"] = "expired"
                    view = box.session_view(session, False)
                    answer: tuple[int, Any] = (200, view)
                    event: tuple[str, dict[str, Any]] | None = ("checkout.session.expired", view)
                elif method == "GET":
                    return 200, box.session_view(
                        session, "payment_intent" in "".join(query.get("expand[]", []))
                    )
                else:
                    return 404, {"error": "not found"}
            elif method == "POST" and path == "/v1/refunds":
                intent = box.intents.get(form["payment_intent"])
                if intent is None or intent["status"] != "succeeded":
                    return _stripe_error(400, "charge_not_refundable", "not refundable")
                amount = int(form.get("amount", intent["amount_received"]))
                refunded = sum(box.stripe_refunds[r]["amount"] for r in intent["latest_charge"]["refund_ids"])
                if refunded + amount > intent["amount_received"]:
                    return _stripe_error(400, "charge_already_refunded", "already refunded")
                refund_id = box.new_id("re_")
                refund = {
                    "id": refund_id,
                    "object": "refund",
                    "amount": amount,
                    "status": "succeeded",
                    "created": int(time.time()),
                    "payment_intent": intent["id"],
                    "metadata": {"payment_id": intent["metadata"].get("payment_id")},
                }
                box.stripe_refunds[refund_id] = refund
                intent["latest_charge"]["refund_ids"].append(refund_id)
                answer = (200, dict(refund))
                event = (
                    "charge.refunded",
                    {
                        "object": "charge",
                        "metadata": dict(intent["metadata"]),
                        "payment_intent": intent["id"],
                    },
                )
            elif method == "GET" and path == "/v1/payment_intents":
                gte = int(query.get("created[gte]", ["0"])[0])
                lt = int(query.get("created[lt]", [str(2**40)])[0])
                limit = int(query.get("limit", ["10"])[0])
                rows = box.stripe_list(gte, lt)
                after = query.get("starting_after", [None])[0]
                if after:
                    ids = [row["id"] for row in rows]
                    rows = rows[ids.index(after) + 1 :] if after in ids else []
                return 200, {"object": "list", "data": rows[:limit], "has_more": len(rows) > limit}
            else:
                return 404, {"error": "not found"}
        if event:
            box.stripe_event(*event)
        return answer

    def _control(self, method: str, path: str, doc: dict[str, Any]) -> tuple[int, Any]:
        box = self.box
        match = re.fullmatch(r"/__sandbox/paypay/payments/([^/]+)/(complete|fail|expire)", path)
        if method == "POST" and match:
            return box.paypay_control(match.group(1), match.group(2), doc)
        match = re.fullmatch(r"/__sandbox/stripe/sessions/([^/]+)/(complete|fail|expire)", path)
        if method == "POST" and match:
            return box.stripe_control(match.group(1), match.group(2), doc)
        match = re.fullmatch(r"/__sandbox/paypay/refunds/([^/]+)/complete", path)
        if method == "POST" and match:
            with box.lock:
                refund = box.paypay_refunds.get(match.group(1))
                if refund is None or refund["status"] != "CREATED":
                    return 409, {"error": "no pending refund"}
                refund["status"] = "COMPLETED"
                payment = next(p for p in box.paypay.values() if p.get("paymentId") == refund["paymentId"])
                payment["status"] = "REFUNDED"
                snapshot = json.loads(json.dumps(payment))
            box.paypay_webhook(snapshot)
            return 200, dict(refund)
        if method == "POST" and path == "/__sandbox/settings":
            with box.lock:
                box.refunds_pending = bool(doc.get("refundsPending", box.refunds_pending))
            return 200, {"refundsPending": box.refunds_pending}
        match = re.fullmatch(r"/__sandbox/reports/([^/]+)", path)
        if method == "POST" and match:
            with box.lock:
                box.report_overrides[match.group(1)] = doc
            return 200, {}
        if method == "POST" and path == "/__sandbox/webhooks":
            if doc.get("mode") not in ("normal", "drop", "duplicate", "delay", "reorder"):
                return 400, {"error": "mode"}
            with box.lock:
                box.webhook_mode = dict(doc)
            return 200, {}
        if method == "POST" and path == "/__sandbox/webhooks/take":
            return 200, {"webhooks": box.take_webhooks()}
        if method == "GET" and path == "/__sandbox/webhooks/sent":
            with box.lock:
                return 200, {"webhooks": list(box.sent)}
        if method == "POST" and path == "/__sandbox/faults":
            with box.lock:
                box.faults.append(dict(doc))
            return 200, {}
        if method == "DELETE" and path == "/__sandbox/faults":
            with box.lock:
                cleared, box.faults = len(box.faults), []
            return 200, {"cleared": cleared}
        if method == "GET" and path == "/__sandbox/requests":
            with box.lock:
                return 200, {"requests": list(box.requests)}
        if method == "GET" and path == "/__sandbox/payments":
            with box.lock:
                return 200, {"paypay": list(box.paypay.values()), "stripe": list(box.sessions.values())}
        if method == "POST" and path == "/__sandbox/reset":
            box.reset()
            return 200, {}
        return 404, {"error": "unknown control path"}


def main() -> None:
    from devstack.env import (
        LOCAL_PAYPAY_API_KEY,
        LOCAL_PAYPAY_API_SECRET,
        LOCAL_PAYPAY_MERCHANT_ID,
        LOCAL_STRIPE_SECRET_KEY,
        LOCAL_STRIPE_WEBHOOK_SECRET,
    )

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--webhook-base", default="http://127.0.0.1:8000")
    args = parser.parse_args()
    box = PaySandbox(
        args.port,
        host=args.host,
        paypay_key=LOCAL_PAYPAY_API_KEY,
        paypay_secret=LOCAL_PAYPAY_API_SECRET,
        merchant_id=LOCAL_PAYPAY_MERCHANT_ID,
        stripe_key=LOCAL_STRIPE_SECRET_KEY,
        webhook_secret=LOCAL_STRIPE_WEBHOOK_SECRET,
        webhook_base=args.webhook_base,
    )
    box.start()
    print(f"payment sandbox on {box.base}; webhooks to {args.webhook_base}")
    threading.Event().wait()


if __name__ == "__main__":
    main()
