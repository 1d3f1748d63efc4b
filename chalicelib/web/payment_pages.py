"""Paying a fee from the resident pages (issue 16 on issue 13's payments): `/web/payments/{receipt}`.

The LINE pay button and the status page open it; PayPay's redirect and Stripe's success URL come
back to `/web/payments/{receipt}/done`. The resident proves access as on the status page: the
access code posted (never in a URL) or, inside LINE, the LIFF ID token. The handlers call the
payments service the JSON API calls (`start`, `resident_view`, `receipt_for`): same access rule,
same limits, same idempotent intents. With JavaScript off, "check again" is a plain post; web.js
only polls `GET /submissions/{receipt}/payment` and then presses that button itself.
"""

from __future__ import annotations

from typing import Any

from chalice import Response

from chalicelib.api.errors import localized_error
from chalicelib.web.pages import (
    FORM_POST,
    _checked_post,
    _client,
    _language,
    _message,
    _reopen,
    _request,
    _resident,
    bp,
    sign_in_again,
)


def _signin(receipt: str, returned: bool) -> Response:
    from chalicelib.web import render

    request = _request()
    language = _language(request)
    return render.page(
        request, "pay_signin.html", language, errors=[], receipt=receipt.upper(), returned=returned
    )


@bp.route("/web/payments/{receipt}", methods=["GET"])
def payment_page(receipt: str) -> Response:
    return _signin(receipt, returned=False)


@bp.route("/web/payments/{receipt}/done", methods=["GET"])
def payment_return(receipt: str) -> Response:
    """Back from PayPay or the card checkout: sign in again (no code ever rode in a URL)."""
    return _signin(receipt, returned=True)


def _who(posted: dict[str, list[str]], request: Any) -> dict[str, Any] | None:
    """The service's access arguments, or None for a bad ID token."""
    from chalicelib.web import render

    token = render.first(posted, "id_token")
    if token:
        user_id = _resident(token)
        return None if user_id is None else {"secret": None, "line_user_id": user_id}
    return {"secret": render.first(posted, "code"), "line_user_id": None, "client": _client(request)}


def _payment_again(request: Any, posted: dict[str, list[str]], language: str, receipt: str) -> Response:
    """The payment page, its cookie expired while it stayed open: the payment as it is now (a
    "check" asks the provider, which changes nothing), a payment asked to start not started."""
    return _payment(request, posted, language, receipt, again=True)


@bp.route("/web/payments/{receipt}", methods=["POST"], content_types=FORM_POST)
@_checked_post(reshow=_payment_again)
def payment_post(request: Any, posted: dict[str, list[str]], language: str, receipt: str) -> Response:
    return _payment(request, posted, language, receipt)


def _payment(
    request: Any, posted: dict[str, list[str]], language: str, receipt: str, again: bool = False
) -> Response:
    from chalicelib.services import payments
    from chalicelib.web import render

    receipt = receipt.upper()
    code = render.first(posted, "code")
    token = render.first(posted, "id_token")
    if not token and not code:
        return render.page(
            request,
            "pay_signin.html",
            language,
            status=422,
            errors=[{"anchor": "f-code", "key": "web.need_both"}],
            receipt=receipt,
            returned=False,
        )
    who = _who(posted, request)
    if who is None:
        return _message(request, language, "web.signin_again", 401)
    action = render.first(posted, "action")
    notice = None
    if again and action == "start":
        action, notice = "", "web.send_again"
    errors: list[dict[str, str]] = []
    started = None
    try:
        view = payments.resident_view(receipt, **who)
        if action == "start":
            method = render.first(posted, "method")
            if method not in ("paypay", "card"):
                errors = [{"anchor": "f-method-paypay", "key": "web.pay_need_method"}]
            elif view["state"] == "payable":
                started = payments.start(receipt, method, **who, language=language)
        elif action in ("check", "returned") and view["state"] == "payable":
            # The resident asks: ask the provider now rather than wait for its webhook or the sweep.
            for live in view.get("live", []):
                if live["status"] == "awaiting_payment":
                    payments.confirm(live["paymentId"], "resident")
            view = payments.resident_view(receipt, **who)
    except Exception as error:
        api_error = localized_error(error, language)
        if api_error is None:
            raise
        if api_error.status in (404, 429):
            return sign_in_again(
                request,
                language,
                api_error.status,
                "pay_signin.html",
                "f-code",
                receipt=receipt,
                returned=False,
            )
        if api_error.status == 401:
            return _message(request, language, "web.signin_again", 401)
        if api_error.status == 409:  # paid or not payable meanwhile: show the state as it is now
            view = payments.resident_view(receipt, **who)
        else:
            return _message(request, language, "web.busy", 503)
    shown = started
    if shown is None and action != "other":
        # The live intent to show: the one just asked about (check), else none (choose a method).
        chosen = render.first(posted, "paymentId")
        shown = next((i for i in view.get("live", []) if i["paymentId"] == chosen), None)
    return render.page(
        request,
        "pay.html",
        language,
        status=422 if errors else 200,
        view=view,
        intent=shown,
        code=code,
        id_token=token,
        errors=errors,
        checked=action in ("check", "returned"),
        notice=notice,
        switch_form="reshow",  # the language switch shows the payment again, still signed in
    )


@bp.route("/web/payments/{receipt}/receipt", methods=["GET"])
def payment_receipt_page(receipt: str) -> Response:
    return _reopen(f"/web/payments/{receipt}")


@bp.route("/web/payments/{receipt}/receipt", methods=["POST"], content_types=FORM_POST)
@_checked_post(lookup=True)
def payment_receipt(request: Any, posted: dict[str, list[str]], language: str, receipt: str) -> Response:
    """The printable receipt (the same text as `GET /payments/{id}/receipt`), on a page whose
    code came in the body."""
    from chalicelib.services import payment_receipts, payments
    from chalicelib.web import render

    who = _who(posted, request)
    if who is None:
        return _message(request, language, "web.signin_again", 401)
    payment_id = render.first(posted, "paymentId")
    try:
        intent, submission = payments.receipt_for(payment_id, **who)
    except Exception as error:
        api_error = localized_error(error, language)
        if api_error is None:
            raise
        return _message(request, language, "web.not_found_title", 404)
    if intent.receipt != receipt.upper():
        return _message(request, language, "web.not_found_title", 404)
    shown = payment_receipts.build(intent, submission, language)
    return render.page(
        request,
        "pay_receipt.html",
        language,
        shown=shown,
        lines=shown.text.splitlines(),
        receipt=intent.receipt,
        payment_id=payment_id,
        code=render.first(posted, "code"),
        id_token=render.first(posted, "id_token"),
        switch_form="again",  # the language switch shows this receipt again, still signed in
    )
