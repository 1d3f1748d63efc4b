"""Staff API for segmented announcements: every route starts with `current_staff(...)`.

Thin handlers: the use cases are chalicelib/services/announcements.py, the rules
chalicelib/domain/announcements.py. Services are imported when a handler runs, so none of it
lands on the LINE webhook's cold start (all routes share one Lambda).
"""

from __future__ import annotations

from typing import Any

from chalice import Response

from chalicelib.api.errors import ApiBlueprint
from chalicelib.api.staff import current_staff
from chalicelib.domain.staff import ROLE_ADMIN, ROLE_ANNOUNCER, ROLE_SUPERVISOR

bp = ApiBlueprint(__name__)

# Who may call which route; there is no implicit role hierarchy, so each allowed role is listed.
# The rules about one announcement (its section, nobody approves their own) are the domain's.
COMPOSE_ROLES = frozenset({ROLE_ANNOUNCER, ROLE_SUPERVISOR})
APPROVE_ROLES = frozenset({ROLE_SUPERVISOR})
READ_ROLES = frozenset({ROLE_ANNOUNCER, ROLE_SUPERVISOR, ROLE_ADMIN})
_NO_STORE = {"Cache-Control": "no-store"}
BASE = "/staff/announcements"
ONE = BASE + "/{announcementId}"


def _answer(body: Any, status: int = 200) -> Response:
    from chalicelib.api.errors import json_response

    return json_response(body, status, _NO_STORE)


def _owned_body(principal: Any, announcement_id: str, schema: str, *, optional: bool = False) -> Any:
    """The body of a request about one announcement, read once the announcement is known to be
    the caller's section's: another section's gets 404/403 whatever it sent, never a 422 first."""
    from chalicelib.services import announcements

    announcements.check_access(principal, announcement_id)
    return _body(schema, optional=optional)


def _body(schema: str, *, optional: bool = False) -> Any:
    from chalicelib.api.requests import json_body

    request = bp.current_request
    if optional and not (request.raw_body or b"").strip():
        return {}
    return json_body(request, schema)


@bp.route(BASE, methods=["POST"])
def create_announcement() -> Response:
    from chalicelib.api.requests import raw_body
    from chalicelib.services import announcements, idempotency

    request = bp.current_request
    principal = current_staff(request, roles=COMPOSE_ROLES)
    body = _body("announcement")
    # A double click or a retry is one draft: submitted twice, residents would get it twice.
    status, answer = idempotency.once(
        "staff-announcement",
        request.headers.get("idempotency-key"),
        raw_body(request),
        lambda: (201, announcements.create(principal, body)),
        caller=f"staff:{principal.staff_id}",
    )
    return _answer(answer, status)


@bp.route(BASE, methods=["GET"])
def list_announcements() -> Response:
    from chalicelib.api.requests import query_lists
    from chalicelib.services import announcements

    request = bp.current_request
    principal = current_staff(request, roles=READ_ROLES)
    return _answer(announcements.list_for_section(principal, query_lists(request)))


@bp.route(ONE, methods=["GET"])
def show_announcement(
    announcementId: str,
) -> Response:  # camelCase: Chalice passes the URL parameter by its name
    from chalicelib.services import announcements

    principal = current_staff(bp.current_request, roles=READ_ROLES)
    return _answer(announcements.show(principal, announcementId))


@bp.route(ONE, methods=["PUT"])
def replace_announcement(announcementId: str) -> Response:
    from chalicelib.services import announcements

    principal = current_staff(bp.current_request, roles=COMPOSE_ROLES)
    return _answer(
        announcements.replace(
            principal, announcementId, _owned_body(principal, announcementId, "announcement")
        )
    )


@bp.route(ONE + "/preview", methods=["POST"])
def preview_announcement(announcementId: str) -> Response:
    from chalicelib.services import announcements

    principal = current_staff(bp.current_request, roles=COMPOSE_ROLES | APPROVE_ROLES)
    return _answer(announcements.preview(principal, announcementId))


@bp.route(ONE + "/submit", methods=["POST"])
def submit_announcement(announcementId: str) -> Response:
    from chalicelib.services import announcements

    principal = current_staff(bp.current_request, roles=COMPOSE_ROLES)
    return _answer(
        announcements.submit(
            principal,
            announcementId,
            _owned_body(principal, announcementId, "announcement_submit", optional=True),
        )
    )


@bp.route(ONE + "/approve", methods=["POST"])
def approve_announcement(announcementId: str) -> Response:
    from chalicelib.services import announcements

    principal = current_staff(bp.current_request, roles=APPROVE_ROLES)
    return _answer(
        announcements.approve(
            principal,
            announcementId,
            _owned_body(principal, announcementId, "announcement_review", optional=True),
        )
    )


@bp.route(ONE + "/reject", methods=["POST"])
def reject_announcement(announcementId: str) -> Response:
    from chalicelib.services import announcements

    principal = current_staff(bp.current_request, roles=APPROVE_ROLES)
    return _answer(
        announcements.reject(
            principal,
            announcementId,
            _owned_body(principal, announcementId, "announcement_review", optional=True),
        )
    )


@bp.route(ONE + "/cancel", methods=["POST"])
def cancel_announcement(announcementId: str) -> Response:
    from chalicelib.services import announcements

    principal = current_staff(bp.current_request, roles=COMPOSE_ROLES | APPROVE_ROLES)
    return _answer(
        announcements.cancel(
            principal,
            announcementId,
            _owned_body(principal, announcementId, "announcement_review", optional=True),
        )
    )


@bp.route(ONE + "/review", methods=["POST"])
def review_announcement(announcementId: str) -> Response:
    """A second supervisor reviews an emergency that went out without approval."""
    from chalicelib.services import announcements

    principal = current_staff(bp.current_request, roles=APPROVE_ROLES)
    return _answer(
        announcements.review(
            principal,
            announcementId,
            _owned_body(principal, announcementId, "announcement_review", optional=True),
        )
    )
