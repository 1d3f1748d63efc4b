"""Resident-facing submission routes (web and LIFF): upload a photo, submit, check, withdraw."""

from __future__ import annotations

from chalice import Blueprint, Response

from chalicelib.api.forms import form_or_404, language_of
from chalicelib.api.requests import json_body

bp = Blueprint(__name__)

# Handlers import their services when they run, to keep them off the webhook's cold start.

# The resident's access code travels in a header, never in the URL (URLs end up in logs).
SECRET_HEADER = "x-access-secret"  # noqa: S105 (a header name)


@bp.route("/uploads", methods=["POST"])
def start_upload() -> Response:
    request = bp.current_request
    from chalicelib.services import uploads

    body = json_body(request, "upload_request")
    return Response(
        uploads.start(body["contentType"]), status_code=201, headers={"Cache-Control": "no-store"}
    )


@bp.route("/forms/{formId}/submissions", methods=["POST"])
def submit(formId: str) -> Response:  # the same parameter name as GET /forms/{formId}: API Gateway needs it
    from chalicelib.services import idempotency
    from chalicelib.services import submissions as service

    request = bp.current_request
    form = form_or_404(formId)
    document = json_body(request)
    submitter = service.Submitter(channel="web", language=language_of(request))
    status, body = idempotency.once(
        f"submit:{form.id}",
        request.headers.get("idempotency-key"),
        request.raw_body,
        lambda: (201, service.create(form, document, submitter)),
    )
    return Response(body, status_code=status, headers={"Cache-Control": "no-store"})


@bp.route("/submissions/{receipt}", methods=["GET"])
def check(receipt: str) -> Response:
    from chalicelib.services import submissions as service

    request = bp.current_request
    view = service.for_resident(receipt, request.headers.get(SECRET_HEADER))
    return Response(view, headers={"Cache-Control": "no-store"})


@bp.route("/submissions/{receipt}/withdraw", methods=["POST"])
def withdraw(receipt: str) -> Response:
    from chalicelib.services import submissions as service

    request = bp.current_request
    view = service.withdraw(receipt, request.headers.get(SECRET_HEADER))
    return Response(view, headers={"Cache-Control": "no-store"})
