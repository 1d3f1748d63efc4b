"""Staff API: every route here is under /staff/ and starts with `current_staff(...)`.

Authentication is a bearer ID token (RS256 JWT) verified against the issuer's JWKS
(Amazon Cognito in AWS, devstack/dev_issuer.py locally). No or bad token: 401;
authenticated but lacking the role or section: 403; issuer keys unreachable: 503.

The submission workflow routes are thin: the use cases (section isolation, audit of every
view of personal data, optimistic concurrency) live in chalicelib/services/staff_submissions.py.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from chalice import Response

from chalicelib.adapters.staff_tokens import InvalidStaffToken, StaffAuthUnavailable, verify_staff_token
from chalicelib.api.errors import ApiBlueprint, ApiError, forbidden, unauthorized
from chalicelib.domain.staff import (
    ROLE_ADMIN,
    ROLE_STAFF,
    ROLE_SUPERVISOR,
    Forbidden,
    StaffPrincipal,
    authorize,
    principal_from_claims,
)
from chalicelib.observability import logger

if TYPE_CHECKING:
    from chalice.app import Request

bp = ApiBlueprint(__name__)

# Who may work submissions (move, enter, reset a queue line) and who may read them: there is no
# implicit hierarchy, so every allowed role is listed; an admin reads.
WORKFLOW_ROLES = frozenset({ROLE_STAFF, ROLE_SUPERVISOR})
READ_ROLES = WORKFLOW_ROLES | {ROLE_ADMIN}
# Submissions carry personal data: no cache anywhere may keep an answer.
_NO_STORE: Mapping[str, str] = {"Cache-Control": "no-store"}

_INVALID_TOKEN_MESSAGE = "職員のアクセストークンがないか、正しくないか、期限切れです。 / The access token is missing, malformed, expired or not valid for this service."  # noqa: S105 (a message, not a secret)


def bearer_token(request: Request) -> str:
    """The token of an `Authorization: Bearer <token>` header; 401 when absent or malformed."""
    value = request.headers.get("authorization")
    if not value:
        raise unauthorized("職員のサインインが必要です。 / Authentication required.")
    scheme, _, token = value.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or any(ch.isspace() for ch in token):
        raise unauthorized(_INVALID_TOKEN_MESSAGE)
    return token


def current_staff(
    request: Request,
    *,
    roles: set[str] | frozenset[str] | None = None,
    section: str | None = None,
) -> StaffPrincipal:
    """The authenticated staff member, checked against `roles` (any of) and `section`."""
    token = bearer_token(request)
    try:
        claims = verify_staff_token(token)
    except InvalidStaffToken as error:
        logger.info("staff token rejected", extra={"reason": error.reason})
        raise unauthorized(_INVALID_TOKEN_MESSAGE) from None
    except StaffAuthUnavailable as error:
        logger.warning("staff auth unavailable", extra={"reason": str(error)})
        raise ApiError(
            503,
            "auth_unavailable",
            "いま職員の認証を確認できません。少ししてからもう一度どうぞ。 / Staff sign-in cannot be checked right now. Please try again shortly.",
            headers={"Retry-After": "30"},
        ) from None
    try:
        principal = principal_from_claims(claims)
    except ValueError as error:
        # The token is genuine but does not describe a staff member with a section.
        logger.info("staff token lacks staff claims", extra={"reason": str(error)})
        raise forbidden(
            "このアカウントは課の職員として設定されていません。 / This account is not set up as a staff member of a section."
        ) from None
    from chalicelib.domain.forms import sections

    if principal.section not in sections():
        # A typo in the user pool's custom:section (or a retired section) must not open a
        # section of its own: an announcer could compose to every follower from it.
        logger.info("staff token names an unknown section")
        raise forbidden(
            "このアカウントの課は区の課にありません。 / This account's section is not one of the ward's sections."
        )
    try:
        authorize(principal, roles=roles, section=section)
    except Forbidden as error:
        raise forbidden(error.reason) from None
    return principal


@bp.route("/staff/me", methods=["GET"])
def staff_me() -> Response:
    principal = current_staff(bp.current_request)
    return Response(body=principal.to_dict(), status_code=200, headers={"Cache-Control": "no-store"})


# Handlers import the service when they run, to keep it off the LINE webhook's cold start.


@bp.route("/staff/submissions", methods=["GET"])
def list_submissions() -> Response:
    from chalicelib.api.requests import query_lists
    from chalicelib.services import staff_submissions

    request = bp.current_request
    principal = current_staff(request, roles=READ_ROLES)
    query = staff_submissions.parse_list_query(query_lists(request))
    return Response(staff_submissions.list_for_section(principal, query), headers=dict(_NO_STORE))


@bp.route("/staff/submissions/{receipt}", methods=["GET"])
def show_submission(receipt: str) -> Response:
    from chalicelib.services import staff_submissions

    principal = current_staff(bp.current_request, roles=READ_ROLES)
    return Response(staff_submissions.show(principal, receipt), headers=dict(_NO_STORE))


@bp.route("/staff/submissions/{receipt}/transitions", methods=["POST"])
def transition_submission(receipt: str) -> Response:
    from chalicelib.services import staff_submissions

    return _keyed_write("staff_transition", staff_submissions.transition, receipt)


@bp.route("/staff/submissions/{receipt}/notes", methods=["POST"])
def note_submission(receipt: str) -> Response:
    from chalicelib.services import staff_submissions

    return _keyed_write("staff_note", staff_submissions.add_note, receipt)


@bp.route("/staff/submissions/{receipt}/section", methods=["POST"])
def hand_over_submission(receipt: str) -> Response:
    from chalicelib.services import staff_submissions

    return _keyed_write("staff_handover", staff_submissions.hand_over, receipt)


@bp.route("/staff/submissions/{receipt}/access-code", methods=["POST"])
def reissue_access_code(receipt: str) -> Response:
    from chalicelib.services import staff_submissions

    return _keyed_write("staff_access_code", staff_submissions.reissue_access_code, receipt)


@bp.route("/staff/submissions", methods=["POST"])
def enter_submission() -> Response:
    from chalicelib.services import staff_submissions

    return _keyed_write("staff_entry", staff_submissions.enter)


def _keyed_write(schema: str, write: Callable[..., tuple[int, dict[str, Any]]], *path: str) -> Response:
    """A staff member's write with a body of `schema`, honouring the request's Idempotency-Key:
    `write(principal, *path, body, key, raw body)` -> (status, answer)."""
    from chalicelib.api.requests import json_body, raw_body

    request = bp.current_request
    principal = current_staff(request, roles=WORKFLOW_ROLES)
    body = json_body(request, schema)
    status, answer = write(principal, *path, body, request.headers.get("idempotency-key"), raw_body(request))
    return Response(answer, status_code=status, headers=dict(_NO_STORE))
