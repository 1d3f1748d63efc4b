"""Resident-facing submission routes (web and LIFF): upload a photo, submit, check, withdraw."""

from __future__ import annotations

from typing import Any

from chalice import Response

from chalicelib.api.errors import ApiBlueprint, request_language
from chalicelib.api.forms import form_or_404
from chalicelib.api.requests import (
    RESIDENT_CORS,
    access_secret,
    anonymous_caller,
    client_pseudonym,
    json_body,
    raw_body,
)

bp = ApiBlueprint(__name__)

# Handlers import their services when they run, to keep them off the webhook's cold start.


@bp.route("/uploads", methods=["POST"], cors=RESIDENT_CORS)
def start_upload() -> Response:
    request = bp.current_request
    from chalicelib.services import anonymous_limits, uploads

    body = json_body(request, "upload_request")
    anonymous_limits.take_upload(client_pseudonym(request))
    return Response(
        uploads.start(body["contentType"]), status_code=201, headers={"Cache-Control": "no-store"}
    )


@bp.route("/forms/{formId}/submissions", methods=["POST"], cors=RESIDENT_CORS)
def submit(formId: str) -> Response:  # the same parameter name as GET /forms/{formId}: API Gateway needs it
    from chalicelib.services import idempotency
    from chalicelib.services import submissions as service

    request = bp.current_request
    form = form_or_404(formId)
    document = json_body(request)
    submitter = _submitter(request, service)
    status, body = idempotency.once(
        f"submit:{form.id}",
        request.headers.get("idempotency-key"),
        raw_body(request),
        lambda: (201, service.create(form, document, submitter)),
        caller=f"line:{submitter.line_user_id}" if submitter.line_user_id else anonymous_caller(request),
    )
    return Response(body, status_code=status, headers={"Cache-Control": "no-store"})


def _submitter(request: Any, service: Any) -> Any:
    """A LIFF page sends the resident's LINE ID token: the submission is then theirs on LINE,
    and every status change reaches them there, in the language they chose on LINE.
    Without a token it is a plain web submission, kept in the request's language (`?lang=`,
    else Accept-Language: one of the seven), which its notifications and emails then use."""
    if not (request.headers or {}).get("authorization"):
        return service.Submitter(
            channel="web", language=request_language(request), client=client_pseudonym(request)
        )
    from chalicelib.api.liff import current_resident, resident_language

    user_id = current_resident(request)  # a bad or expired token is a 401, never a web fallback
    return service.Submitter(
        channel="line", language=resident_language(request, user_id), line_user_id=user_id
    )


@bp.route("/submissions/{receipt}", methods=["GET"], cors=RESIDENT_CORS)
def check(receipt: str) -> Response:
    from chalicelib.services import submissions as service

    request = bp.current_request
    view = service.for_resident(receipt, access_secret(request), **resident_identity(request))
    return _status_answer(view, request)


@bp.route("/submissions/{receipt}/withdraw", methods=["POST"], cors=RESIDENT_CORS)
def withdraw(receipt: str) -> Response:
    from chalicelib.services import submissions as service

    request = bp.current_request
    view = service.withdraw(receipt, access_secret(request), **resident_identity(request))
    return _status_answer(view, request)


def _status_answer(view: dict[str, Any], request: Any) -> Response:
    """The resident's view, with the status also in the request's language (`statusLabel` is
    Japanese and English, as staff read it)."""
    from chalicelib.domain import languages, messages

    language = request_language(request)
    shown = {**view, "statusText": messages.text(f"status.{view['status']}", language)}
    return Response(
        shown,
        headers={"Cache-Control": "no-store", "Content-Language": languages.language_tag(language)},
    )


def resident_identity(request: Any) -> dict[str, Any]:
    """The client (for its own limit on wrong codes) and, from a LIFF page, the signed-in LINE user:
    a resident linked on LINE reaches their submission with their ID token, without the code."""
    who: dict[str, Any] = {"client": client_pseudonym(request)}
    if (request.headers or {}).get("authorization"):
        from chalicelib.api.liff import current_resident

        who["line_user_id"] = current_resident(request)  # a bad token is a 401, never a code check
    return who
