"""A resident answers the ward's request for more information, from the web or LIFF.

`POST /submissions/{receipt}/responses` `{"text": ..., "attachments": [upload ids]}` with
`X-Access-Secret` (the access code), or `Authorization: Bearer <LINE ID token>` of the
resident the submission belongs to. `GET` the same path for the thread.
"""

from __future__ import annotations

from typing import Any

from chalice import Response

from chalicelib.api.errors import ApiBlueprint
from chalicelib.api.requests import RESIDENT_CORS, json_body

bp = ApiBlueprint(__name__)

SECRET_HEADER = "x-access-secret"  # noqa: S105 (a header name)


def _submission(request: Any, receipt: str) -> tuple[Any, str]:
    """The submission the caller may answer, and how they proved it (web: code, line: ID token)."""
    from chalicelib.services import responses as service

    headers = request.headers or {}
    if headers.get(SECRET_HEADER) is None and headers.get("authorization"):
        from chalicelib.api.liff import current_resident

        return service.of_line_user(receipt, current_resident(request)), "line"
    return service.with_access_code(receipt, headers.get(SECRET_HEADER)), "web"


@bp.route("/submissions/{receipt}/responses", methods=["POST"], cors=RESIDENT_CORS)
def respond(receipt: str) -> Response:
    from chalicelib.services import idempotency
    from chalicelib.services import responses as service

    request = bp.current_request
    body = json_body(request, "submission_response")
    submission, channel = _submission(request, receipt)
    raw = request.raw_body or b""
    status, answer = idempotency.once(
        f"respond:{submission.receipt}",
        request.headers.get("idempotency-key"),
        raw if isinstance(raw, bytes) else raw.encode(),
        lambda: (
            201,
            service.respond(submission, body.get("text"), body.get("attachments") or [], channel=channel),
        ),
    )
    return Response(answer, status_code=status, headers={"Cache-Control": "no-store"})


@bp.route("/submissions/{receipt}/responses", methods=["GET"], cors=RESIDENT_CORS)
def thread(receipt: str) -> Response:
    from chalicelib.services import responses as service

    submission, _ = _submission(bp.current_request, receipt)
    return Response(service.view(submission), headers={"Cache-Control": "no-store"})
