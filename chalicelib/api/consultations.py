"""Consultation booking routes: residents (web and LIFF) and the staff of the owning section.

Residents: the catalogue, free slots, book (Idempotency-Key honoured, scoped to the caller),
see, cancel and move a booking with its access code (header X-Access-Secret) or, from LIFF,
with the LINE ID token of the resident who made it. Staff: their section's day view,
availability, attendance, cancel with a reason, and phone/counter bookings.

Handlers import their services when they run: these routes share the webhook's Lambda.
"""

from __future__ import annotations

from typing import Any

from chalice import Response

from chalicelib.api.errors import ApiBlueprint, json_response, reader_language, request_language
from chalicelib.api.requests import (
    RESIDENT_CORS,
    access_secret,
    anonymous_caller,
    client_pseudonym,
    json_body,
)
from chalicelib.domain import errors as rule
from chalicelib.domain.languages import language_tag

bp = ApiBlueprint(__name__)

_NO_STORE = {"Cache-Control": "no-store"}


def language(request: Any) -> str:
    """The language residents read here: the one its errors are written in too (api/errors.py)."""
    return request_language(request)


@bp.route("/consultations", methods=["GET"], cors=RESIDENT_CORS)
def list_consultations() -> Response:
    from chalicelib.services import consultations as service

    lang = language(bp.current_request)
    return json_response(
        {"language": lang, "consultations": service.list_services(lang)},
        headers={
            "Content-Language": language_tag(lang),
            "Vary": "Accept-Language",
            "Cache-Control": "public, max-age=300",
        },
    )


@bp.route("/consultations/{service}", methods=["GET"], cors=RESIDENT_CORS)
def one_consultation(service: str) -> Response:
    from chalicelib.domain import consultations as rules

    lang = language(bp.current_request)
    return json_response(
        rules.get_service(service).to_public(lang),
        headers={
            "Content-Language": language_tag(lang),
            "Vary": "Accept-Language",
            "Cache-Control": "public, max-age=300",
        },
    )


@bp.route("/consultations/{service}/slots", methods=["GET"], cors=RESIDENT_CORS)
def slots(service: str) -> Response:
    from datetime import UTC, datetime

    from chalicelib.services import consultations as svc

    query: Any = bp.current_request.query_params or {}
    body = svc.free_slots(service, query.get("from"), query.get("to"), datetime.now(UTC))
    return json_response(body, headers=_NO_STORE)


@bp.route("/consultations/{service}/bookings", methods=["POST"], cors=RESIDENT_CORS)
def book(service: str) -> Response:
    from chalicelib.services import consultations as svc
    from chalicelib.services import idempotency

    request: Any = bp.current_request
    document = json_body(request)
    booker = _booker(request, svc)
    status, body = idempotency.once(
        f"consult:{service}",
        request.headers.get("idempotency-key"),
        request.raw_body,
        lambda: (201, svc.book(service, document, booker)),
        caller=f"line:{booker.line_user_id}" if booker.line_user_id else anonymous_caller(request),
    )
    return json_response(body, status, headers=_NO_STORE)


def _booker(request: Any, svc: Any) -> Any:
    if not (request.headers or {}).get("authorization"):
        return svc.Booker(channel="web", language=language(request), client=client_pseudonym(request))
    from chalicelib.api.liff import current_resident, resident_language

    user_id = current_resident(request)  # a bad token is a 401, never a web booking
    return svc.Booker(channel="line", language=resident_language(request, user_id), line_user_id=user_id)


def _resident_booking(booking: str) -> Any:
    from chalicelib.services import consultations as svc

    request: Any = bp.current_request
    user_id = None
    if (request.headers or {}).get("authorization"):
        from chalicelib.api.liff import current_resident

        user_id = current_resident(request)
    from chalicelib.api.requests import client_pseudonym

    return svc.resident_booking(booking, access_secret(request), user_id, client_pseudonym(request))


@bp.route("/bookings/{booking}", methods=["GET"], cors=RESIDENT_CORS)
def show(booking: str) -> Response:
    from chalicelib.services import consultations as svc

    found = _resident_booking(booking)
    lang = reader_language(bp.current_request, found.language)
    return json_response(
        svc.booking_view(found, lang), headers={**_NO_STORE, "Content-Language": language_tag(lang)}
    )


@bp.route("/bookings/{booking}/cancel", methods=["POST"], cors=RESIDENT_CORS)
def cancel(booking: str) -> Response:
    from chalicelib.services import consultations as svc

    return json_response(svc.cancel(_resident_booking(booking)), headers=_NO_STORE)


@bp.route("/bookings/{booking}/reschedule", methods=["POST"], cors=RESIDENT_CORS)
def reschedule(booking: str) -> Response:
    from chalicelib.services import consultations as svc

    document = json_body(bp.current_request)
    return json_response(svc.reschedule(_resident_booking(booking), document), headers=_NO_STORE)


@bp.route("/line/me/bookings", methods=["GET"], cors=RESIDENT_CORS)
def my_bookings() -> Response:
    from chalicelib.api.liff import current_resident
    from chalicelib.services import consultations as svc

    request: Any = bp.current_request
    user_id = current_resident(request)
    return json_response({"bookings": svc.line_user_bookings(user_id, language(request))}, headers=_NO_STORE)


# --------------------------------------------------------------------------- staff


def _staff(*, reading: bool = False) -> Any:
    """The section's staff or supervisor; an admin too where it only reads (as on every staff route)."""
    from chalicelib.api.staff import READ_ROLES, WORKFLOW_ROLES, current_staff

    return current_staff(bp.current_request, roles=READ_ROLES if reading else WORKFLOW_ROLES)


@bp.route("/staff/consultations", methods=["GET"])
def staff_day() -> Response:
    from chalicelib.api.requests import query_lists
    from chalicelib.domain.business_days import calendar_day
    from chalicelib.services import staff_consultations as staff

    principal = _staff(reading=True)
    params = query_lists(bp.current_request)
    # As the other staff lists: a filter that does nothing, or a day given twice or not a day,
    # is said (400), not taken as today or as the last one.
    not_a_filter = "使えない検索条件です（使えるもの: date）。 / Unknown parameter; the only one is date."
    problems = [{"parameter": name, "message": not_a_filter} for name in sorted(set(params) - {"date"})]
    dates = params.get("date")
    if dates is not None and (len(dates) != 1 or calendar_day(dates[0]) is None):
        problems.append(
            {
                "parameter": "date",
                "message": "date は日付を1つ（2026-12-08）。 / date is one day (2026-12-08).",
            }
        )
    if problems:
        raise rule.Malformed(
            "検索条件が正しくありません。 / Some query parameters are not valid.",
            code="invalid_query",
            details=problems,
        )
    return json_response(staff.day_view(principal, dates[0] if dates else None), headers=_NO_STORE)


@bp.route("/staff/consultations/{service}/availability", methods=["POST"])
def staff_availability(service: str) -> Response:
    from chalicelib.services import staff_consultations as staff

    principal = _staff()
    return json_response(
        staff.set_availability(principal, service, json_body(bp.current_request)), headers=_NO_STORE
    )


@bp.route("/staff/consultations/{service}/bookings", methods=["POST"])
def staff_book(service: str) -> Response:
    from chalicelib.services import idempotency
    from chalicelib.services import staff_consultations as staff

    request: Any = bp.current_request
    principal = _staff()
    document = json_body(request)
    status, body = idempotency.once(
        f"consult-staff:{service}:{principal.staff_id}",
        request.headers.get("idempotency-key"),
        request.raw_body,
        lambda: (201, staff.staff_book(principal, service, document)),
    )
    return json_response(body, status, headers=_NO_STORE)


@bp.route("/staff/consultations/bookings/{booking}", methods=["GET"])
def staff_booking(booking: str) -> Response:
    from chalicelib.services import staff_consultations as staff

    return json_response(staff.booking_detail(_staff(reading=True), booking), headers=_NO_STORE)


@bp.route("/staff/consultations/bookings/{booking}/attendance", methods=["POST"])
def staff_attendance(booking: str) -> Response:
    from chalicelib.services import staff_consultations as staff

    principal = _staff()
    return json_response(staff.mark(principal, booking, json_body(bp.current_request)), headers=_NO_STORE)


@bp.route("/staff/consultations/bookings/{booking}/move", methods=["POST"])
def staff_move(booking: str) -> Response:
    from chalicelib.services import staff_consultations as staff

    principal = _staff()
    return json_response(staff.move(principal, booking, json_body(bp.current_request)), headers=_NO_STORE)


@bp.route("/staff/consultations/bookings/{booking}/cancel", methods=["POST"])
def staff_cancel(booking: str) -> Response:
    from chalicelib.services import staff_consultations as staff

    principal = _staff()
    return json_response(staff.cancel(principal, booking, json_body(bp.current_request)), headers=_NO_STORE)
