"""Booking a consultation from the resident pages (issue 16 on issue 15's consultations).

`/web/consultations` (the list), `/web/consultations/{service}` (free slots of a week, a plain GET
form), `/web/consultations/{service}/book` (the booking form, then the booking number and access
code), `/web/bookings` (a booking by number and code posted, or by the LIFF ID token: cancel or
move it). The handlers call `services.consultations` as the JSON API does: same schema, same
per-person guard, same wrong-code lockout. A sensitive consultation is named only where the
resident chose it (list, form); the confirmation and status pages and the page titles use the
generic name, so a shared screen or a browser history says no more than needed.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

from chalice import Response

from chalicelib.api.errors import localized_error
from chalicelib.web.pages import (
    FORM_POST,
    _checked_post,
    _client,
    _language,
    _message,
    _never_anew,
    _request,
    _resident,
    _sent_once,
    _unsent,
    bp,
    sign_in_again,
)

WEEK = 7
# Where a field's problem is shown (the schema's pointers and the service's codes).
ANCHORS = {
    "/slot": "f-slot",
    "/mode": "f-mode-in_person",
    "/name": "f-name",
    "/email": "f-email",
    "/phone": "f-phone",
    "/note": "f-note",
    "/eligibility": "f-eligibility-resident",
}


def _service(service_id: str) -> Any:
    from chalicelib.domain import consultations as rules
    from chalicelib.domain.errors import MadoguchiError

    try:
        return rules.get_service(service_id)
    except MadoguchiError:
        return None


def _week(
    service: Any, start: str | None
) -> tuple[list[tuple[date, list[dict[str, Any]]]], date, date | None]:
    """Free slots of seven days from `start` (Tokyo), grouped by day; the next week's first day."""
    from chalicelib.domain import consultations as rules
    from chalicelib.domain.business_days import calendar_day
    from chalicelib.services import consultations as svc

    now = datetime.now(UTC)
    today = rules.tokyo_day(now)
    asked = calendar_day(start)  # a day outside the calendar (?from=9999-12-25) is today
    first = max(asked, today) if asked else today
    last = first + timedelta(days=WEEK - 1)
    found = svc.free_slots(service.id, first.isoformat(), last.isoformat(), now)["slots"]
    days: dict[date, list[dict[str, Any]]] = {}
    for slot in found:
        days.setdefault(date.fromisoformat(slot["start"][:10]), []).append(slot)
    later = last + timedelta(days=1)
    return (
        list(days.items()),
        first,
        later if later <= today + timedelta(days=service.book_ahead_days) else None,
    )


@bp.route("/web/consultations", methods=["GET"])
def consultations_page() -> Response:
    from chalicelib.domain import consultations as rules
    from chalicelib.web import render

    request = _request()
    language = _language(request)
    services = list(rules.catalogue().values())
    return render.page(request, "consult_list.html", language, cacheable=True, services=services)


@bp.route("/web/consultations/{service}", methods=["GET"])
def slots_page(service: str) -> Response:
    from chalicelib.web import render

    request = _request()
    language = _language(request)
    found = _service(service)
    if found is None:
        return _message(request, language, "web.not_found_title", 404)
    days, first, later = _week(found, (request.query_params or {}).get("from"))
    return render.page(
        request, "consult_slots.html", language, service=found, days=days, first=first, later=later
    )


@bp.route("/web/consultations/{service}/book", methods=["GET"])
def booking_form(service: str) -> Response:
    from chalicelib.domain import consultations as rules
    from chalicelib.domain.errors import MadoguchiError

    request = _request()
    language = _language(request)
    found = _service(service)
    if found is None:
        return _message(request, language, "web.not_found_title", 404)
    slot = (request.query_params or {}).get("slot") or ""
    try:
        rules.parse_slot(slot)
    except MadoguchiError:
        # No time chosen (JavaScript off, the picker sent nothing): back to the picker, said why.
        return _slots_with_error(request, language, found)
    return _form(request, language, found, {"slot": slot}, [])


def _slots_with_error(request: Any, language: str, service: Any, key: str = "web.book_need_slot") -> Response:
    from chalicelib.web import render

    days, first, later = _week(service, None)
    return render.page(
        request,
        "consult_slots.html",
        language,
        status=422,
        service=service,
        days=days,
        first=first,
        later=later,
        errors=[{"anchor": "f-slot-first", "key": key}],
    )


def _form(
    request: Any,
    language: str,
    service: Any,
    values: dict[str, str],
    errors: list[dict[str, Any]],
    once: str | None = None,
    notice: str | None = None,
) -> Response:
    import secrets

    from chalicelib.domain import consultations as rules
    from chalicelib.web import render

    start = rules.parse_slot(values["slot"])
    return render.page(
        request,
        "consult_form.html",
        language,
        status=422 if errors else 200,
        service=service,
        values=values,
        when=rules.tokyo_text(start),
        errors=errors,
        error_at={e["anchor"]: e for e in errors},
        asks_eligibility="anyone" not in service.who_may_book,
        # Sending this form twice (a double tap, a reload) books once and shows that booking.
        once=once or secrets.token_urlsafe(16),
        switch_form="booking",
        notice=notice,
    )


def _booking_again(request: Any, posted: dict[str, list[str]], language: str, service: str) -> Response:
    """The booking form, its cookie expired while it stayed open: shown again with what was
    typed (and the same send key), nothing booked."""
    return _book(request, posted, language, service, notice="web.send_again")


@bp.route("/web/consultations/{service}/book", methods=["POST"], content_types=FORM_POST)
@_checked_post(reshow=_booking_again)
def booking_post(request: Any, posted: dict[str, list[str]], language: str, service: str) -> Response:
    return _book(request, posted, language, service)


def _book(
    request: Any, posted: dict[str, list[str]], language: str, service: str, notice: str | None = None
) -> Response:
    """Book what the form says; with `notice`, only show the form again with it (and what was typed)."""
    from chalicelib.domain.digits import typed_email, typed_phone
    from chalicelib.services import consultations as svc
    from chalicelib.web import render

    found = _service(service)
    if found is None:
        return _message(request, language, "web.not_found_title", 404)
    names = ("slot", "mode", "name", "email", "phone", "note", "eligibility")
    values = {name: render.first(posted, name) for name in names}
    # What a Japanese keyboard types: "ａ＠ｂ．ｊｐ", "０３－１２３４－５６７８".
    values["email"], values["phone"] = typed_email(values["email"]), typed_phone(values["phone"])
    token = render.first(posted, "id_token")
    user_id = None
    if token:
        user_id = _resident(token)
        if user_id is None:
            return _message(request, language, "web.signin_again", 401)
    # The language switch: the same form again, what was typed kept, nothing checked or sent (on
    # the booking's own page, `sent`: the send again, whose key answers with that booking).
    sent = bool(render.first(posted, "sent"))
    switched = (bool(render.first(posted, "switch")) and not sent) or notice is not None
    # In the order the page asks them, so the summary reads down the page.
    errors: list[dict[str, Any]] = []
    if not values["mode"]:
        errors.append({"anchor": "f-mode-in_person", "key": "web.book_need_mode"})
    if "anyone" not in found.who_may_book and not values["eligibility"]:
        errors.append({"anchor": "f-eligibility-resident", "key": "web.book_need_eligibility"})
    if user_id is None:  # on the web the ward needs a name and a way to reach the resident
        if not values["name"]:
            errors.append({"anchor": "f-name", "key": "web.book_need_name"})
        if not values["email"] and not values["phone"]:
            errors.append({"anchor": "f-email", "key": "web.book_need_contact"})
    try:
        if errors or switched:
            kept = [] if switched else errors
            return _form(request, language, found, values, kept, render.first(posted, "once"), notice)
    except Exception as error:  # a tampered slot
        if localized_error(error) is None:
            raise
        return _slots_with_error(request, language, found)
    document = {k: v for k, v in values.items() if v and k in ("slot", "mode", "note", "eligibility")}
    if user_id is None:
        document.update({k: values[k] for k in ("name", "email", "phone") if values[k]})
    booker = (
        svc.Booker(channel="line", language=language, line_user_id=user_id)
        if user_id
        else svc.Booker(channel="web", language=language, client=_client(request))
    )
    booked_in = render.first(posted, "bookedIn") if sent else language
    try:
        booked = _sent_once(
            f"web-booking:{found.id}",
            posted,
            json.dumps({**document, "language": booked_in}, sort_keys=True, ensure_ascii=False).encode(),
            _never_anew(posted, lambda: svc.book(found.id, document, booker)),
        )
    except Exception as error:
        api_error = localized_error(error, language)
        if api_error is None:
            raise
        if api_error.code in ("slot_full", "slot_closed", "slot_not_open_yet", "invalid_slot"):
            return _slots_with_error(request, language, found, "web.book_slot_gone")
        if api_error.code == "idempotency_key_reused":  # the page was sent before with other answers
            return _unsent(request, language, api_error)
        details = [d for d in api_error.details if isinstance(d, dict) and "pointer" in d]
        if api_error.status in (409, 422):
            errors = [
                {
                    "anchor": ANCHORS.get(d["pointer"], "f-note"),
                    "message": d.get("message", api_error.message),
                }
                for d in details
            ] or [{"anchor": "f-note", "message": api_error.message}]
            if api_error.code == "not_eligible":
                errors = [{"anchor": "f-eligibility-resident", "key": "web.book_need_eligibility"}]
            try:
                return _form(request, language, found, values, errors, render.first(posted, "once"))
            except Exception as again:
                if localized_error(again) is None:
                    raise
                return _slots_with_error(request, language, found)
        return _unsent(request, language, api_error)
    return render.page(
        request,
        "consult_done.html",
        language,
        service=found,
        booked=booked,
        on_line=user_id is not None,
        values=values,
        once=render.first(posted, "once"),
        booked_in=booked_in,
        switch_form="again",
    )


# --- a booking: see, cancel, move --------------------------------------------------------------


@bp.route("/web/bookings", methods=["GET"])
def bookings_page() -> Response:
    from chalicelib.web import render

    request = _request()
    return render.page(request, "booking_signin.html", _language(request), errors=[], booking="")


def _access(request: Any, posted: dict[str, list[str]], language: str) -> tuple[Any, Response | None]:
    """The booking for the posted number and code (or ID token), or the page to answer instead."""
    from chalicelib.services import consultations as svc
    from chalicelib.web import render

    booking = render.first(posted, "booking").upper()
    code = render.first(posted, "code")
    token = render.first(posted, "id_token")
    user_id = None
    if token:
        user_id = _resident(token)
        if user_id is None:
            return None, _message(request, language, "web.signin_again", 401)
        if not booking:
            mine = svc.line_user_bookings(user_id, language)
            return None, render.page(request, "booking_mine.html", language, bookings=mine, id_token=token)
    elif not booking or not code:
        errors = [{"anchor": "f-booking" if not booking else "f-code", "key": "web.book_need_both"}]
        page = render.page(
            request, "booking_signin.html", language, status=422, errors=errors, booking=booking
        )
        return None, page
    try:
        # Inside LINE too, a typed number and code open a booking made by phone or at the counter.
        return svc.resident_booking(booking, code or None, user_id, _client(request)), None
    except Exception as error:
        api_error = localized_error(error)
        if api_error is None:
            raise
        status = 429 if api_error.status == 429 else 404
        page = sign_in_again(
            request,
            language,
            status,
            "booking_signin.html",
            "f-booking",
            "web.book_wrong_code",
            booking=booking,
        )
        return None, page


def _show(
    request: Any,
    language: str,
    found: Any,
    posted: dict[str, list[str]],
    *,
    notice: str | None = None,
    errors: list[dict[str, Any]] | None = None,
    status: int = 409,
    confirm_cancel: bool = False,
) -> Response:
    """The booking; with `errors`, why what was asked was not done (`status`: 409, or 422 for a
    request that makes no sense, such as a tampered time)."""
    from chalicelib.services import consultations as svc
    from chalicelib.web import render

    service = _service(found.service)
    return render.page(
        request,
        "booking_view.html",
        language,
        status=status if errors else 200,
        view=svc.booking_view(found, language),
        service=service,
        code=render.first(posted, "code"),
        id_token=render.first(posted, "id_token"),
        notice=notice,
        errors=errors or [],
        confirm_cancel=confirm_cancel,
        switch_form="reshow",  # the language switch shows the booking again, still signed in
    )


def _fresh(found: Any) -> Any:
    from chalicelib.store import consultations as store

    return store.get(found.booking_id) or found


def _bookings_again(request: Any, posted: dict[str, list[str]], language: str) -> Response:
    """A booking's page, its cookie expired while it stayed open: the booking as it is now, a
    cancel or move asked for not done."""
    from chalicelib.web import render

    found, answer = _access(request, posted, language)
    if answer is not None:
        return answer
    return _show(
        request, language, found, posted, notice="web.send_again" if render.first(posted, "action") else None
    )


@bp.route("/web/bookings", methods=["POST"], content_types=FORM_POST)
@_checked_post(reshow=_bookings_again)
def bookings_post(request: Any, posted: dict[str, list[str]], language: str) -> Response:
    from chalicelib.domain import consultations as rules
    from chalicelib.domain.errors import Conflict
    from chalicelib.domain.messages import Text
    from chalicelib.services import consultations as svc
    from chalicelib.web import render

    found, answer = _access(request, posted, language)
    if answer is not None:
        return answer
    action = render.first(posted, "action")
    try:
        if action == "cancel" and found.status == rules.BOOKED and not render.first(posted, "confirm"):
            return _show(request, language, found, posted, confirm_cancel=True)  # asked once more
        if action == "cancel":  # cancelled already (a second tap, Back and send): cancel says done
            svc.cancel(found)
            return _show(request, language, _fresh(found), posted, notice="web.book_cancelled")
        if action == "move":
            if found.status != rules.BOOKED:  # nothing to move: said, not a week of times offered
                raise Conflict(Text("consult.error.cannot_change"), code="not_booked")
            service = _service(found.service)
            # "Next 7 days" posts the week's first day; only "move to this time" moves.
            slot = "" if render.first(posted, "from") else render.first(posted, "slot")
            if slot == found.slot:
                return _show(request, language, found, posted, notice="web.book_same_time")
            if not slot:
                days, first, later = _week(service, render.first(posted, "from") or None)
                return render.page(
                    request,
                    "booking_move.html",
                    language,
                    view=svc.booking_view(found, language),
                    service=service,
                    days=days,
                    later=later,
                    code=render.first(posted, "code"),
                    id_token=render.first(posted, "id_token"),
                    week=render.first(posted, "from"),
                    errors=[],
                    switch_form="again",  # the language switch shows this week again, still signed in
                )
            svc.reschedule(found, {"slot": slot})
            return _show(request, language, _fresh(found), posted, notice="web.book_moved")
    except Exception as error:
        api_error = localized_error(error, language)
        if api_error is None:
            raise
        errors = [{"anchor": "actions", "message": api_error.message}]
        return _show(request, language, found, posted, errors=errors, status=api_error.status)
    return _show(request, language, found, posted)
