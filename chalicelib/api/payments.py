"""Payment routes: residents pay a fee, providers send hints, staff refund and reconcile.

The webhooks are thin (size -> signature where the provider signs -> JSON -> schema -> inbox ->
queue -> 2xx) and import nothing heavy. No route answers with card data or provider secrets.
"""

from __future__ import annotations

from typing import Any

from chalice import Response

from chalicelib.api.errors import ApiBlueprint, ApiError, reader_language
from chalicelib.api.requests import RESIDENT_CORS, access_secret, json_body, query_lists, raw_body
from chalicelib.domain.languages import language_tag

bp = ApiBlueprint(__name__)

_NO_STORE: dict[str, str | list[str]] = {"Cache-Control": "no-store"}


def _resident(request: Any) -> dict[str, Any]:
    """A LINE ID token (LIFF) or the submission's access code (web), and the client for its own
    limit on wrong codes: exactly as the submission routes take them."""
    from chalicelib.api.submissions import resident_identity

    return {"secret": access_secret(request), **resident_identity(request)}


@bp.route("/submissions/{receipt}/payments", methods=["POST"], cors=RESIDENT_CORS)
def start_payment(receipt: str) -> Response:
    from chalicelib.services import payments

    request = bp.current_request
    body = json_body(request, "payment_start")
    view = payments.start(receipt, body["method"], **_resident(request))
    return Response(view, status_code=201, headers=_NO_STORE)


@bp.route("/submissions/{receipt}/payment", methods=["GET"], cors=RESIDENT_CORS)
def payment_state(receipt: str) -> Response:
    from chalicelib.services import payments

    return Response(payments.resident_view(receipt, **_resident(bp.current_request)), headers=_NO_STORE)


@bp.route("/payments/{paymentId}/receipt", methods=["GET"], cors=RESIDENT_CORS)
def printable_receipt(paymentId: str) -> Response:
    from chalicelib.services import payment_receipts, payments

    who = _resident(bp.current_request)
    intent, submission = payments.receipt_for(paymentId, **who)
    language = reader_language(bp.current_request, submission.language)
    page = payment_receipts.as_html(payment_receipts.build(intent, submission, language))
    headers: dict[str, str | list[str]] = {
        "Content-Type": "text/html; charset=utf-8",
        "Content-Language": language_tag(language),
        **_NO_STORE,
    }
    return Response(page, headers=headers)


# --- provider webhooks: hints only --------------------------------------------------------------


def _webhook(accept: Any) -> Response:
    from chalicelib.domain.webhooks import InvalidWebhook
    from chalicelib.observability import logger, metrics
    from chalicelib.services import ingress

    try:
        hint, queued = accept()
    except InvalidWebhook as error:
        logger.warning("payment webhook rejected", extra={"reason": error.code})
        raise ApiError(error.status, error.code, error.message, error.details) from None
    except ingress.QueueUnavailable:
        logger.exception("payment webhook could not be queued")
        raise ApiError(503, "unavailable", "Please retry later.") from None
    logger.info(
        "payment webhook", extra={"provider": hint.provider, "payment_id": hint.payment_id, "queued": queued}
    )
    metrics.add_metric(
        name="PaymentWebhooksQueued" if queued else "PaymentWebhooksSkipped", unit="Count", value=1
    )
    return Response({"received": True}, status_code=200)


# PayPay does not sign its notifications: restrict this route to PayPay's published source
# addresses at the edge (API Gateway resource policy / WAF IP set). It changes nothing by itself.
@bp.route("/payments/webhooks/paypay", methods=["POST"], content_types=["application/json"])
def paypay_webhook() -> Response:
    from chalicelib.services import payment_ingress

    request = bp.current_request
    return _webhook(lambda: payment_ingress.accept_paypay(raw_body(request)))


@bp.route("/payments/webhooks/stripe", methods=["POST"], content_types=["application/json"])
def stripe_webhook() -> Response:
    from chalicelib.services import payment_ingress

    request = bp.current_request
    return _webhook(
        lambda: payment_ingress.accept_stripe(raw_body(request), request.headers.get("stripe-signature"))
    )


# --- staff --------------------------------------------------------------------------------------

_PAYMENT_ROLES = frozenset({"staff", "supervisor", "admin"})


@bp.route("/staff/payments/{paymentId}", methods=["GET"])
def staff_payment(paymentId: str) -> Response:
    from chalicelib.api.staff import current_staff
    from chalicelib.services import payments

    staff = current_staff(bp.current_request, roles=_PAYMENT_ROLES)
    return Response(payments.staff_payment(paymentId, staff), headers=_NO_STORE)


@bp.route("/staff/payments", methods=["GET"])
def staff_payments() -> Response:
    """`?status=` (or `flagged`): the section's list, paged; `?receipt=`: one submission's payments."""
    from chalicelib.api.staff import current_staff
    from chalicelib.services import staff_payments

    request = bp.current_request
    staff = current_staff(request, roles=_PAYMENT_ROLES)
    query = staff_payments.parse_query(query_lists(request), staff)
    return Response(staff_payments.answer(staff, query), headers=_NO_STORE)


@bp.route("/staff/payments/{paymentId}/refunds", methods=["POST"])
def request_refund(paymentId: str) -> Response:
    from chalicelib.api.staff import current_staff
    from chalicelib.services import payments

    request = bp.current_request
    staff = current_staff(request, roles=frozenset({"staff", "supervisor"}))
    body = json_body(request, "payment_refund")
    return Response(
        payments.request_refund(paymentId, staff, body["reason"]), status_code=202, headers=_NO_STORE
    )


@bp.route("/staff/payments/{paymentId}/refunds/approve", methods=["POST"])
def approve_refund(paymentId: str) -> Response:
    from chalicelib.api.staff import current_staff
    from chalicelib.services import payments

    staff = current_staff(bp.current_request, roles=frozenset({"supervisor"}))
    return Response(payments.approve_refund(paymentId, staff), status_code=202, headers=_NO_STORE)


@bp.route("/staff/payments/reconciliations/{day}", methods=["GET"])
def reconciliation(day: str) -> Response:
    from chalicelib.api.staff import current_staff
    from chalicelib.services import payment_reconciliation

    # The accounting view: ward-wide for admins (the accounts office); a section's supervisor
    # sees only what concerns the section (its totals, the differences of its own payments).
    staff = current_staff(bp.current_request, roles=frozenset({"supervisor", "admin"}))
    from chalicelib.domain.business_days import calendar_day

    if calendar_day(day) is None:
        raise ApiError(
            422, "invalid_request", "日付は YYYY-MM-DD で指定してください。 / The day is a date, YYYY-MM-DD."
        )
    section = None if "admin" in staff.roles else staff.section
    return Response(payment_reconciliation.view(day, section), headers=_NO_STORE)
