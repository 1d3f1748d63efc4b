"""A resident answers the ward's request for more information, from the web or LIFF.

`POST /submissions/{receipt}/responses` `{"text": ..., "attachments": [upload ids]}` with
`X-Access-Secret` (the access code), or `Authorization: Bearer <LINE ID token>` of the
resident the submission belongs to. `GET` the same path for the thread.
"""

from __future__ import annotations

from typing import Any

from chalice import Response

from chalicelib.api.errors import ApiBlueprint
from chalicelib.api.requests import RESIDENT_CORS, access_secret, json_body

bp = ApiBlueprint(__name__)


def _submission(request: Any, receipt: str) -> tuple[Any, str, str | None]:
    """The submission the caller may answer, how they proved it (web: code, line: ID token), and
    who they are for the Idempotency-Key (the LINE user; None for an anonymous web caller)."""
    from chalicelib.api.submissions import resident_identity
    from chalicelib.services import responses as service

    who = resident_identity(request)
    submission = service.with_access_code(receipt, access_secret(request), **who)
    line_user_id = who.get("line_user_id")
    if line_user_id:
        return submission, "line", f"line:{line_user_id}"
    return submission, "web", None


@bp.route("/submissions/{receipt}/responses", methods=["POST"], cors=RESIDENT_CORS)
def respond(receipt: str) -> Response:
    from chalicelib.services import idempotency
    from chalicelib.services import responses as service

    request = bp.current_request
    body = json_body(request, "submission_response")
    submission, channel, caller = _submission(request, receipt)
    raw = request.raw_body or b""
    status, answer = idempotency.once(
        f"respond:{submission.receipt}",
        request.headers.get("idempotency-key"),
        raw if isinstance(raw, bytes) else raw.encode(),
        lambda: (
            201,
            service.respond(submission, body.get("text"), body.get("attachments") or [], channel=channel),
        ),
        caller=caller,
    )
    return Response(answer, status_code=status, headers={"Cache-Control": "no-store"})


@bp.route("/submissions/{receipt}/responses", methods=["GET"], cors=RESIDENT_CORS)
def thread(receipt: str) -> Response:
    from chalicelib.services import responses as service

    submission, _, _ = _submission(bp.current_request, receipt)
    return Response(service.view(submission), headers={"Cache-Control": "no-store"})
