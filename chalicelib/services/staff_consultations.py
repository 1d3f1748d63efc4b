"""Staff use cases for consultations: availability, the day view, attendance, cancel with a
reason, moving a booking, and bookings received by phone or at the counter. Section-isolated
and audited: a staff member acts only on the services their section owns, and every view of a
booking's personal data and every change leaves an audit entry.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from chalicelib.config import get_settings
from chalicelib.domain import consultations as rules
from chalicelib.domain.errors import Conflict, Forbidden, Invalid, NotFound
from chalicelib.domain.form_problems import body_problems
from chalicelib.domain.messages import Text
from chalicelib.domain.staff import StaffPrincipal
from chalicelib.domain.submissions import TOKYO
from chalicelib.services import consultations as service
from chalicelib.store import consultations as store
from chalicelib.store.models import ConsultationBooking

SLOT_RETENTION = timedelta(days=400)


def _own(principal: StaffPrincipal, service_id: str) -> rules.Service:
    svc = rules.get_service(service_id)
    if svc.section != principal.section:
        raise Forbidden("この相談は他の課の担当です。 / This consultation belongs to another section.")
    return svc


def _booking(principal: StaffPrincipal, booking_id: str) -> ConsultationBooking:
    normalized = rules.normalize_booking_id(booking_id)
    booking = store.get(normalized) if normalized else None
    # Another section's booking answers like a missing one: its existence is not theirs to know.
    if booking is None or booking.section != principal.section:
        raise NotFound("予約が見つかりません。 / No such booking.", code="booking_not_found")
    return booking


def _check(schema: str, document: Any) -> None:
    details = body_problems(schema, document)
    if details:
        raise Invalid(Text("error.check_entries"), details=details)


def _booked_on(svc: rules.Service, days: list[date]) -> list[dict[str, str]]:
    return [
        {"booking": booking.booking_id, "slot": booking.slot}
        for day in days
        for booking in store.for_section_day(svc.section, day.isoformat())
        if booking.service == svc.id and booking.status == rules.BOOKED
    ]


def _day_has_bookings(held: list[dict[str, str]]) -> Conflict:
    """A day closed under its residents' feet would leave them coming to nothing: its bookings
    are moved or cancelled first (each resident is told), then the day closes."""
    return Conflict(
        "この日には予約があります。先に予約を移すか取り消してください（ご本人に伝わります）。"
        " / This day has bookings: move or cancel them first (the residents are told).",
        code="day_has_bookings",
        details=held,
    )


def _check_overlaps(
    svc: rules.Service,
    weekly_sessions: list[tuple[datetime, int]],
    extra_sessions: list[tuple[datetime, int]],
    closed_days: list[date],
) -> dict[datetime, int]:
    """Refuse sessions that would run at the same time as another one open after the request.
    Returns the sessions there are that it counts as retired (no booking), with their seats now."""
    starts = [start for start, _ in [*weekly_sessions, *extra_sessions]]
    if not starts:
        return {}
    # A day on each side too: a session late in the evening runs on past midnight (a black-box run).
    low, high = rules.bounds_utc(
        rules.tokyo_day(min(starts)) - timedelta(days=1), rules.tokyo_day(max(starts)) + timedelta(days=1)
    )
    existing = {rules.parse_slot(slot.slot): slot for slot in store.query_slots(svc.id, low, high)}

    def left_closed(start: datetime) -> bool:
        # The request closes its closed days; a weekly pattern reopens nothing (an extra session does).
        slot = existing.get(start)
        return rules.tokyo_day(start) in closed_days or (slot is not None and not slot.open)

    # A session with no seat and no booking takes no counsellor's time: staff retire a time so,
    # and may open another in its place in the same request (a review: a move was refused).
    retired = {
        start
        for start, capacity in extra_sessions
        if capacity == 0 and not ((slot := existing.get(start)) is not None and slot.booked)
    }
    opened = [start for start, _ in extra_sessions if start not in retired]
    opened += [start for start, _ in weekly_sessions if not left_closed(start)]
    others = [
        start
        for start, slot in existing.items()
        if start not in retired and not left_closed(start) and (slot.capacity or slot.booked)
    ]
    rules.check_no_overlap(opened, others, svc.duration_minutes)
    return {start: int(existing[start].capacity) for start in retired if start in existing}


def set_availability(principal: StaffPrincipal, service_id: str, document: Any) -> dict[str, Any]:
    svc = _own(principal, service_id)
    _check("consultation_availability", document)
    now = datetime.now(UTC)
    by = principal.staff_id
    # Everything is read and checked before anything is written: a 422 leaves the calendar as it was.
    weekly_sessions: list[tuple[datetime, int]] = []
    if weekly := document.get("weekly"):
        try:
            pattern = rules.Weekly.from_dict(weekly)
        except ValueError as error:
            raise Invalid(f"入力内容を確認してください。 / {error}") from None
        rules.check_weekly_times(pattern, svc.duration_minutes)
        first, last = rules.parse_day(weekly["from"]), rules.parse_day(weekly["to"])
        if last < first:
            raise Invalid("終了日が開始日より前です。 / 'to' is before 'from'.", code="invalid_range")
        if (last - first).days > 184:
            raise Invalid("期間は半年以内で指定してください。 / The range must be at most six months.")
        weekly_sessions = [
            (start, cap) for start, cap in rules.weekly_slots(pattern, first, last) if start > now
        ]
    closed_days = [rules.parse_day(text) for text in document.get("closedDays", [])]
    extra_sessions = [
        (rules.parse_slot(extra["slot"]), extra["capacity"]) for extra in document.get("extraSessions", [])
    ]
    for start, _ in extra_sessions:
        rules.check_extra_session(start)
    hours = get_settings().consult_session_hours
    outside = [
        f"{start.astimezone(TOKYO):%Y-%m-%d %H:%M}"
        for start, _ in [*weekly_sessions, *extra_sessions]
        if not rules.within_session_hours(start, svc.duration_minutes, hours)
    ]
    if outside and hours:
        span = rules.hours_text(hours)
        raise Invalid(
            f"{span} の外の枠は開けられません: {', '.join(outside[:5])}"
            f" / A session must run within {span} Tokyo time: {', '.join(outside[:5])}",
            code="outside_session_hours",
        )
    named = [rules.slot_id(start) for start, _ in extra_sessions]
    if twice := sorted({slot for slot in named if named.count(slot) > 1}):
        raise Invalid(
            f"同じ枠が2回あります: {', '.join(twice)} / The same session is given twice: {', '.join(twice)}",
            code="duplicate_session",
        )
    # A past date is a typo (a year): nobody can book it, and closing it closes nothing.
    today = now.astimezone(TOKYO).date()
    past = [
        f"{start.astimezone(TOKYO):%Y-%m-%d %H:%M}" for start, _ in extra_sessions if start <= now
    ]  # Tokyo time, as staff read it
    past += [day.isoformat() for day in closed_days if day < today]
    if past:
        raise Invalid(
            f"過去の日時は指定できません: {', '.join(past)} / These are in the past: {', '.join(past)}",
            code="in_the_past",
        )
    if held := _booked_on(svc, closed_days):
        raise _day_has_bookings(held)
    retired = _check_overlaps(svc, weekly_sessions, extra_sessions, closed_days)
    counts = {"created": 0, "updated": 0, "kept": 0, "closed": 0, "extra": 0}
    # Days first, so a booking that came in since the check stops the request before it wrote
    # anything else: the close of a booked session fails, and this request's closes are undone.
    closed_now: list[str] = []
    for day in closed_days:
        low, high = rules.bounds_utc(day, day)
        for slot in store.query_slots(svc.id, low, high):
            outcome = store.close_slot(svc.id, slot.slot, by)
            if outcome == "booked":
                for undone in closed_now:
                    store.reopen_slot(svc.id, undone, by)
                raise _day_has_bookings(_booked_on(svc, closed_days))
            if outcome == "closed":
                closed_now.append(slot.slot)
    counts["closed"] = len(closed_now)
    # Then the sessions retired, each only while nobody has booked it: one booked since the check
    # still takes its counsellor's time, so the session opened in its place would overlap it (a
    # re-review). Refused then as the check would have, this request's writes undone.
    retired_now: list[tuple[str, int]] = []
    for start, seats in retired.items():
        if store.retire_slot(svc.id, rules.slot_id(start), by):
            retired_now.append((rules.slot_id(start), seats))
            continue
        for undone, seats_before in retired_now:
            store.set_capacity(svc.id, undone, seats_before, by)
        for undone in closed_now:
            store.reopen_slot(svc.id, undone, by)
        _check_overlaps(svc, weekly_sessions, extra_sessions, closed_days)  # says which overlap
        raise Conflict(  # the booking was cancelled again meanwhile: nothing overlaps, try again
            "予約が入ったため変更できませんでした。もう一度お試しください。"
            " / A session was booked meanwhile; please try again.",
            code="conflict",
        )
    for start, capacity in weekly_sessions:
        # A day closed before stays closed: the weekly pattern sets capacities, it reopens nothing;
        # and a session it makes on a day this request closes is made closed.
        on_a_closed_day = rules.tokyo_day(start) in closed_days
        outcome = store.set_slot(
            svc.id,
            rules.slot_id(start),
            capacity,
            "weekly",
            by,
            start + SLOT_RETENTION,
            reopen=False,
            opened=not on_a_closed_day,
        )
        counts[outcome] += 1
        counts["closed"] += outcome == "created" and on_a_closed_day
    for start, capacity in extra_sessions:
        if start in retired:  # written above
            counts["extra"] += 1
            continue
        outcome = store.set_slot(svc.id, rules.slot_id(start), capacity, "extra", by, start + SLOT_RETENTION)
        counts["extra"] += outcome != "kept"
        counts["kept"] += outcome == "kept"
    # Who changed a service's availability, and how much, is part of the audit trail too.
    summary = ", ".join(f"{k} {v}" for k, v in counts.items() if v)
    store.record(
        f"availability#{svc.id}", store.Audit("staff", by, "availability", now, note=summary or "none")
    )
    return {"service": svc.id, **counts}


def day_view(principal: StaffPrincipal, day_text: str | None) -> dict[str, Any]:
    """The section's day: each of its services' slots, and the bookings in them.

    A sensitive service's list shows the booking number, time, mode and status only; the
    name, contact and note are behind GET /staff/consultations/bookings/{id} (audited)."""
    day = rules.parse_day(day_text) if day_text else datetime.now(UTC).astimezone(TOKYO).date()
    services = [s for s in rules.catalogue().values() if s.section == principal.section]
    bookings = store.for_section_day(principal.section, day.isoformat())
    low, high = rules.bounds_utc(day, day)
    view = []
    for svc in services:
        slots = []
        for slot in store.query_slots(svc.id, low, high):
            mine = [b for b in bookings if b.service == svc.id and b.slot == slot.slot]
            slots.append(
                {
                    "slot": slot.slot,
                    "start": rules.tokyo_text(rules.parse_slot(slot.slot)),
                    "capacity": int(slot.capacity),
                    "booked": int(slot.booked),
                    "open": bool(slot.open),
                    "bookings": [_row(b, svc) for b in mine],
                }
            )
        view.append({"service": svc.id, "name": svc.name["ja"], "sensitive": svc.sensitive, "slots": slots})
    return {"section": principal.section, "date": day.isoformat(), "services": view}


def _row(booking: ConsultationBooking, svc: rules.Service) -> dict[str, Any]:
    row = {
        "booking": booking.booking_id,
        "status": booking.status,
        "mode": booking.mode,
        "channel": booking.channel,
    }
    if not svc.sensitive:
        row["name"] = booking.name
        row["note"] = booking.note
    return row


def booking_detail(principal: StaffPrincipal, booking_id: str) -> dict[str, Any]:
    booking = _booking(principal, booking_id)
    store.record(booking.booking_id, store.Audit("staff", principal.staff_id, "viewed", datetime.now(UTC)))
    svc = rules.get_service(booking.service)
    return {
        **service.booking_view(booking, "ja"),
        "name": booking.name,
        "email": booking.email,
        "phone": booking.phone,
        "note": booking.note,
        "eligibility": booking.eligibility,
        "language": booking.language,
        "onLine": booking.line_user_id is not None,
        "enteredBy": booking.entered_by,
        "cancelReason": booking.cancel_reason,
        "meetingLink": svc.meeting_link(booking.booking_id, booking.meeting_room)
        if booking.mode == "online"
        else None,
        # What each change was: the times of a move, the statuses of a correction, a cancel's reason.
        "trail": [
            {
                "at": datetime.fromisoformat(e.entry_key.split("#")[0])
                .astimezone(TOKYO)
                .isoformat("T", "seconds"),
                "actor": e.actor_kind,
                "by": e.actor_id,
                "action": e.action,
                "from": e.from_status,
                "to": e.to_status,
                "note": e.note,
            }
            for e in store.trail(booking.booking_id)
        ],
    }


def staff_book(principal: StaffPrincipal, service_id: str, document: Any) -> dict[str, Any]:
    """A booking received by phone or at the counter: the same rules, the channel recorded."""
    svc = _own(principal, service_id)
    if not isinstance(document, dict) or document.get("channel") not in rules.STAFF_CHANNELS:
        raise Invalid(
            "channel は phone か counter です。 / channel must be phone or counter.", code="channel_required"
        )
    if not rules.clean_note(document.get("name")):  # blank is no name
        raise Invalid("お名前を入力してください。 / The caller's name is required.", code="name_required")
    if document.get("language") not in (None, *rules.LANGUAGES):  # the notices' language
        raise Invalid(
            f"language は {', '.join(rules.LANGUAGES)} のどれかです。 / language must be one of them.",
            code="invalid_language",
        )
    booker = service.Booker(
        channel=document["channel"], language=document.get("language") or "ja", staff_id=principal.staff_id
    )
    body = {k: v for k, v in document.items() if k not in ("channel", "language")}
    return service.book(svc.id, body, booker)


def mark(principal: StaffPrincipal, booking_id: str, document: Any) -> dict[str, Any]:
    """Attendance once the session's time has begun; a mis-tap (attended for no_show, or back)
    is corrected the same way and audited with what it replaced. The same status again changes
    nothing."""
    _check("consultation_staff_action", document)
    status = document.get("status")
    if status not in (rules.ATTENDED, rules.NO_SHOW):
        raise Invalid("status は attended か no_show です。 / status must be attended or no_show.")
    booking = _booking(principal, booking_id)
    if booking.status == status:
        return service.booking_view(booking, "ja")
    if booking.status == rules.CANCELLED:
        raise Conflict("この予約は取消済みです。 / This booking was cancelled.", code="not_booked")
    now = datetime.now(UTC)
    if rules.parse_slot(booking.slot) > now:  # marked ahead, it could no longer be cancelled or moved
        raise Conflict(
            "この予約の時間はまだ始まっていません。 / This booking's time has not begun yet.",
            code="not_started",
        )
    action = "marked" if booking.status == rules.BOOKED else "corrected"
    audit = store.Audit("staff", principal.staff_id, action, now, booking.status, status)
    try:
        store.set_status(booking, status, audit)
    except store.Stale:
        raise Conflict(
            "予約が同時に変更されました。 / The booking changed meanwhile.", code="conflict"
        ) from None
    return service.booking_view(store.get(booking.booking_id) or booking, "ja")


def cancel(principal: StaffPrincipal, booking_id: str, document: Any) -> dict[str, Any]:
    _check("consultation_staff_action", document)
    reason = rules.clean_note((document or {}).get("reason"), rules.REASON_MAX)  # blank is no reason
    if not reason:
        raise Invalid(
            "取消の理由を入力してください（ご本人に伝わります）。 / A reason is required (the resident is told).",
            code="reason_required",
        )
    booking = _booking(principal, booking_id)
    answer, changed = service.cancelled(booking, by_staff=principal.staff_id, reason=reason)
    return _who_is_told(booking, answer, changed)


def move(principal: StaffPrincipal, booking_id: str, document: Any) -> dict[str, Any]:
    """A booking moved by the ward (the resident asked by phone or at the counter, or the session
    changed) to another slot of its service: the seats and the one-booking-a-day rule as for the
    resident's own move, but not the resident's change deadline. Audited with the staff member and
    both times; the resident is told the new time, as after their own move."""
    booking = _booking(principal, booking_id)
    if booking.status == rules.BOOKED and rules.parse_slot(booking.slot) <= datetime.now(UTC):
        # Its time has come: what happened is attendance; a move would rewrite a past session.
        raise Conflict(
            "この予約の時間は始まっています。出欠を記録してください。 / This booking's time has begun: mark attendance.",
            code="session_begun",
        )
    answer = service.reschedule(booking, document, by_staff=principal.staff_id)
    return _who_is_told(booking, answer, answer["slot"] != booking.slot)


def _who_is_told(booking: ConsultationBooking, answer: dict[str, Any], changed: bool) -> dict[str, Any]:
    """A ward change reaches the resident on LINE or by email; a booking with neither (taken by
    phone with a number only) reaches nobody, and the clerk is told to phone them. A call that
    changed nothing (a cancel again or after another's, a move to the same slot) tells nobody."""
    reachable = booking.line_user_id is not None or bool(booking.email)
    answer = {**answer, "residentNotified": changed and reachable}
    if changed and not reachable:
        answer["notice"] = (
            "ご本人にはLINEもメールも届きません。予約の詳細の電話番号にお電話ください。"
            " / The resident has no LINE or email: phone them (the number is in the booking's detail)."
        )
    return answer


def bookings_on(section: str, day: date) -> list[dict[str, str]]:
    """A section's bookings of one day, for the daily digest: no personal data, and a sensitive
    service only as "ward consultation"."""
    rows = []
    for booking in store.for_section_day(section, day.isoformat()):
        if booking.status != rules.BOOKED:
            continue
        svc = rules.get_service(booking.service)
        rows.append(
            {
                "time": rules.tokyo_text(rules.parse_slot(booking.slot))[11:16],
                "service": svc.public_title("ja"),
                "mode": booking.mode,
                "booking": booking.booking_id,
            }
        )
    return sorted(rows, key=lambda r: r["time"])
