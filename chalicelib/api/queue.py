"""Window queues: ticket-system webhooks, the public status, ticket watches, the staff reset.

Handlers import their services when they run: this module shares the LINE webhook's Lambda,
whose cold start must not pay for them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import quote

from chalice import Response

from chalicelib.api.errors import ApiBlueprint, ApiError, json_response, request_language
from chalicelib.api.requests import RESIDENT_CORS, raw_body, schema_checked, source_ip
from chalicelib.domain.languages import language_tag

bp = ApiBlueprint(__name__)

# A crowd of phones refreshing the page: shared caches may keep the answer briefly.
STATUS_CACHE = "public, max-age=15, stale-while-revalidate=15"
_NO_STORE = {"Cache-Control": "no-store"}


@bp.route("/queue/webhooks/{source}", methods=["POST"], content_types=["application/json"])
def queue_webhook(source: str) -> Response:
    from chalicelib.domain.queue import TOKYO
    from chalicelib.domain.webhooks import InvalidWebhook
    from chalicelib.observability import logger, metrics
    from chalicelib.services import ingress, queue_ingress

    request = bp.current_request
    headers = {name.lower(): value for name, value in (request.headers or {}).items()}
    try:
        event, fresh = queue_ingress.accept(source, raw_body(request), headers, source_ip(request))
    except InvalidWebhook as error:
        logger.warning("queue webhook rejected", extra={"source": source[:40], "reason": error.code})
        if error.code != "unknown_source":  # a configured ticket system that needs fixing (alarmed)
            metrics.add_metric(name="QueueEventsRefused", unit="Count", value=1)
        raise ApiError(error.status, error.code, error.message, error.details) from None
    except ingress.QueueUnavailable:
        logger.exception("queue event could not be queued")
        raise ApiError(503, "unavailable", "Please retry later.", headers={"Retry-After": "5"}) from None
    logger.info(
        "queue webhook accepted",
        extra={"source": source, "event": event.event_id, "type": event.type, "duplicate": not fresh},
    )
    metrics.add_metric(name="QueueEventsQueued" if fresh else "QueueEventsDuplicate", unit="Count", value=1)
    answer: dict[str, object] = {"accepted": True, "duplicate": not fresh}
    # What the machine prints as the ticket's QR code (a retry gets it too); a link is for its day only.
    if event.type == "issued" and event.day == datetime.now(UTC).astimezone(TOKYO).date():
        answer["ticketUrl"] = queue_ingress.ticket_link(event.office, event.day, event.number)
    return json_response(answer, 200)


def _language() -> str:
    return request_language(bp.current_request)


@bp.route("/queue/status", methods=["GET"], cors=RESIDENT_CORS)
def queue_status() -> Response:
    """Every office and line now (services.queues.status_view), cacheable, 304 when unchanged."""
    from chalicelib.services import queues

    language = _language()
    view = queues.status_view(datetime.now(UTC), language)
    etag = queues.view_etag(view)
    headers: dict[str, str | list[str]] = {
        "Cache-Control": STATUS_CACHE,
        "ETag": etag,
        "Vary": "Accept-Language",
        "Content-Language": language_tag(language),
    }
    request_headers = bp.current_request.headers
    given = (request_headers.get("if-none-match") if request_headers else None) or ""
    if etag in [tag.strip().removeprefix("W/") for tag in given.split(",")] or given.strip() == "*":
        return Response(body="", status_code=304, headers=headers)
    return json_response(view, 200, {name: str(value) for name, value in headers.items()})


# --- ticket watches (the QR code on the ticket opens the LIFF page) ------------------------------


def _ahead(document: object) -> int | None:
    ahead = schema_checked("queue_watch", document).get("ahead")
    return None if ahead is None else int(ahead)  # JSON Schema takes 3.0 as an integer


@bp.route("/queue/tickets/{ticket_ref}/watch", methods=["POST"], cors=RESIDENT_CORS)
def watch_ticket(ticket_ref: str) -> Response:
    from chalicelib.api.liff import answered_in, current_resident, resident_language
    from chalicelib.api.requests import json_body
    from chalicelib.services import queues

    request = bp.current_request
    user_id = current_resident(request)
    language = resident_language(request, user_id)  # as its pushes: the one chosen on LINE
    with answered_in(language):
        document = json_body(request) if raw_body(request).strip() else {}
        result = queues.watch(ticket_ref, user_id, _ahead(document), language, datetime.now(UTC))
    return json_response(result, 200, _NO_STORE)


@bp.route("/queue/tickets/{ticket_ref}/watch", methods=["GET"], cors=RESIDENT_CORS)
def watch_state(ticket_ref: str) -> Response:
    from chalicelib.api.liff import answered_in, current_resident, resident_language
    from chalicelib.services import queues

    request = bp.current_request
    user_id = current_resident(request)
    # The page asks in its own language (?lang=); a LINE client without one gets the resident's.
    asked = "lang" in (request.query_params or {})
    language = request_language(request) if asked else resident_language(request, user_id)
    with answered_in(language):
        state = queues.watch_state(ticket_ref, user_id, language, datetime.now(UTC))
    return json_response(state, 200, _NO_STORE)


@bp.route("/queue/tickets/{ticket_ref}/watch", methods=["DELETE"], cors=RESIDENT_CORS)
def stop_watching(ticket_ref: str) -> Response:
    from chalicelib.api.liff import answered_in, current_resident, resident_language
    from chalicelib.services import queues

    request = bp.current_request
    user_id = current_resident(request)
    language = resident_language(request, user_id)
    with answered_in(language):
        stopped = queues.stop_watch(ticket_ref, user_id, language, datetime.now(UTC))
    return json_response(stopped, 200, _NO_STORE)


@bp.route("/queue/tickets/{ticket_ref}", methods=["GET"])
def ticket_page(ticket_ref: str) -> Response:
    """The watch page is a resident page under /web (where the LIFF endpoint points): go there."""
    query = bp.current_request.query_params
    lang = query.get("lang") if query else None
    location = f"/web/queue/tickets/{quote(ticket_ref, safe='')}" + (
        f"?lang={quote(lang, safe='')}" if lang else ""
    )
    return Response(body="", status_code=308, headers={"Location": location, "Cache-Control": "no-store"})


# --- staff ---------------------------------------------------------------------------------------


@bp.route("/staff/queue/{office}/{line}/reset", methods=["POST"])
def reset_line(office: str, line: str) -> Response:
    """Zero a line's live counts; only staff of the section that runs the line; audited."""
    from chalicelib.api.requests import json_body
    from chalicelib.api.staff import WORKFLOW_ROLES, current_staff
    from chalicelib.services import queues

    request = bp.current_request
    principal = current_staff(request, roles=WORKFLOW_ROLES)
    document = json_body(request, "queue_reset")
    result = queues.reset_line(
        principal.section, principal.staff_id, office, line, document["reason"], datetime.now(UTC)
    )
    return json_response(result, 200, _NO_STORE)
