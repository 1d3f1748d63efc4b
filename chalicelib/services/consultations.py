"""Consultation booking: catalogue, free slots, book, cancel, reschedule, and the follow-up.

Order of the writes, so that a crash at any step leaves nothing wrong (tested step by step):

1. a one-time Scheduler schedule `booking-<id>-followup`, a minute or two ahead;
2. the one transaction that takes (or frees, or moves) the seat (store/consultations.py);
3. the follow-up message on the `consultations` queue, at once (the fast path).

The follow-up (`followup()`, run by the worker from 3, or from the schedule of 1 if the
process died before 3) brings everything around the booking in line with what is stored:
reminder schedules for the booking's slot (or none, when cancelled), and the resident told
of the change once. A schedule left by a booking whose transaction failed finds no booking,
or a booking in another state, and changes nothing. Reminders re-read the booking when they
fire and send nothing unless it is still booked for the slot they were made for.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

from chalicelib.adapters import queues, scheduler
from chalicelib.domain import consultations as rules
from chalicelib.domain import messages
from chalicelib.domain import submissions as receipts
from chalicelib.domain.errors import Conflict, Invalid, NotFound, Unavailable
from chalicelib.domain.form_problems import problems_of, problems_with_untypeable
from chalicelib.domain.json_text import trimmed
from chalicelib.domain.messages import Text
from chalicelib.domain.ward import one_line
from chalicelib.observability import logger, metrics
from chalicelib.resources import CONSULTATIONS
from chalicelib.schemas import load
from chalicelib.services import access_codes, anonymous_limits, line_push
from chalicelib.store import consultations as store
from chalicelib.store.models import ConsultationBooking

# The follow-up schedule fires this long after a change, if the fast path did not run.
FOLLOWUP_DELAY = timedelta(minutes=2)
_ID_ATTEMPTS = 5

# Catalogue texts: the API writes them in the language of the request (api/errors.py).
_FULL = Text("consult.error.slot_full")
_ALREADY = Text("consult.error.already_booked")
_NOT_FOUND = Text("consult.error.wrong_code")
_CHANGED = Text("consult.error.changed")
_BUSY = Text("error.busy")


@dataclass(frozen=True)
class Booker:
    """Who books: a resident on LINE (verified ID token), on the web, or staff for a caller."""

    channel: str  # line | web | phone | counter
    language: str
    line_user_id: str | None = None
    staff_id: str | None = None
    # A web booker's client pseudonym: its sends a day are limited (anonymous_limits).
    client: str | None = None


# --------------------------------------------------------------------------- catalogue, slots


def list_services(language: str) -> list[dict[str, Any]]:
    return [service.to_public(language) for service in rules.catalogue().values()]


def free_slots(service_id: str, from_text: str | None, to_text: str | None, now: datetime) -> dict[str, Any]:
    service = rules.get_service(service_id)
    first, last = rules.day_range(from_text, to_text, rules.tokyo_day(now))
    low, high = rules.bounds_utc(first, last)
    rows = [
        (s.slot, int(s.capacity), int(s.booked), bool(s.open))
        for s in store.query_slots(service.id, low, high)
    ]
    return {
        "service": service.id,
        "from": first.isoformat(),
        "to": last.isoformat(),
        "slots": rules.public_slots(rows, service, now),
    }


# --------------------------------------------------------------------------- booking


def book(service_id: str, document: Any, booker: Booker, now: datetime | None = None) -> dict[str, Any]:
    """Take a seat; answers the booking number and (for web and staff bookings) an access code."""
    now = now or datetime.now(UTC)
    service = rules.get_service(service_id)
    document = trimmed(document)  # a name of U+200B alone is no name (a black-box run), as on forms
    _check("consultation_booking", document)
    start = rules.parse_slot(document["slot"])
    mode = document["mode"]
    rules.check_bookable(service, start, mode, now, by_staff=booker.staff_id is not None)
    eligibility = rules.check_eligibility(service, document.get("eligibility"))
    guarded = _guarded_identity(document, booker)
    if booker.line_user_id:  # its notices would go by LINE push alone
        line_push.require_following(booker.line_user_id, email=document.get("email"))
    if booker.channel == "web" and booker.client:
        anonymous_limits.take(booker.client)
    day = rules.tokyo_day(start)
    secret = receipts.new_access_secret()
    for _ in range(_ID_ATTEMPTS):
        booking_id = rules.new_booking_id(now)
        booking = ConsultationBooking(
            booking_id,
            service=service.id,
            section=service.section,
            slot=rules.slot_id(start),
            section_day=f"{service.section}#{day.isoformat()}",
            status=rules.BOOKED,
            mode=mode,
            channel=booker.channel,
            language=booker.language,
            eligibility=eligibility,
            line_user_id=booker.line_user_id,
            name=_text(document.get("name")),
            email=rules.normalize_email(document["email"]) if document.get("email") else None,
            phone=_text(document.get("phone")),
            note=rules.clean_note(document.get("note")),
            guard=rules.person_key(service.id, day, guarded or f"booking:{booking_id}"),
            secret_hash=receipts.hash_secret(secret, receipts.new_salt()),
            meeting_room=rules.new_meeting_room(),
            created_at=now,
            updated_at=now,
            entered_by=booker.staff_id,
            revision=1,
            expires_at=start + store.RETENTION,
        )
        _arm_followup(booking_id, now)
        audit = store.Audit(
            "staff" if booker.staff_id else "resident",
            booker.staff_id,
            "booked",
            now,
            None,
            rules.BOOKED,
            booker.channel,
        )
        try:
            store.insert(booking, audit)
        except (store.IdTaken, store.AlreadyBooked, store.Busy) as error:
            # An earlier try of this very write may have gone through with its answer lost (a
            # timeout, botocore's retry): then the booking is there, with our guard and time.
            if _committed(booking):
                break
            _disarm_followup(booking_id)
            if isinstance(error, store.IdTaken):
                continue
            if isinstance(error, store.AlreadyBooked):
                raise Conflict(_ALREADY, code="already_booked") from None
            raise Unavailable(_BUSY, code="busy", retry_after=1) from None
        except store.SlotUnavailable:
            if _committed(booking):
                break
            _disarm_followup(booking_id)
            raise _unavailable(service.id, booking.slot) from None
        break
    else:
        raise Unavailable(_BUSY, code="busy", retry_after=1)
    metrics.add_metric(name="ConsultationsBooked", unit="Count", value=1)
    logger.info(
        "consultation booked",
        extra={"booking": booking_id, "consultation": service.id, "channel": booker.channel},
    )
    _queue_followup(booking_id)
    answer = booking_view(booking, booker.language)
    answer["accessCode"] = secret
    return answer


def _unavailable(service_id: str, slot: str) -> Exception:
    """Why a seat could not be taken: a session that was never offered, one closed, or one full."""
    found = store.get_slot(service_id, slot)
    if found is None:
        return Invalid(Text("consult.error.invalid_slot"), code="invalid_slot")
    if not found.open:
        return Conflict(Text("consult.error.slot_closed"), code="slot_closed")
    return Conflict(_FULL, code="slot_full")


def _committed(booking: ConsultationBooking) -> bool:
    try:
        stored = store.get(booking.booking_id)
    except Exception:  # noqa: BLE001 (still unreachable: the caller answers "busy")
        return False
    return stored is not None and stored.guard == booking.guard and stored.created_at == booking.created_at


def _guarded_identity(document: dict[str, Any], booker: Booker) -> str | None:
    """Who the one-booking-a-day guard counts: the LINE user (its ID token proves it), or the
    email, else the phone number staff entered; None for a web booker, whose contact nobody has
    proved: "already booked" would tell anyone who typed a person's address that this person
    booked, maybe a sensitive consultation, that day (a review). Off LINE, a name and a contact
    are needed all the same."""
    if booker.line_user_id:
        return f"line:{booker.line_user_id}"
    if not _text(document.get("name")):  # off LINE, the ward has only the name to greet them by
        raise Invalid(
            Text("consult.error.name_required"),
            code="name_required",
            details=[{"pointer": "/name", "message": Text("consult.error.name_required")}],
        )
    phone = rules.normalize_phone(str(document.get("phone") or ""))
    if not document.get("email") and len(phone) < 9:
        raise Invalid(
            Text("consult.error.contact_required"),
            code="contact_required",
            details=[{"pointer": "/phone", "message": Text("consult.error.phone_digits", digits=9)}],
        )
    if not booker.staff_id:
        return None
    return f"email:{rules.mailbox(document['email'])}" if document.get("email") else f"tel:{phone}"


# --------------------------------------------------------------------------- resident access


def resident_booking(
    booking_id_text: str, secret: str | None, line_user_id: str | None, client: str = "unknown"
) -> ConsultationBooking:
    """The booking for the LINE user who made it (no code, no try), or for whoever holds its
    number and access code (`access_codes.check`, as a receipt's), LINE user or not."""
    booking_id = rules.normalize_booking_id(booking_id_text)
    booking = store.get(booking_id) if booking_id else None
    if line_user_id is not None:
        if booking is not None and booking.line_user_id == line_user_id:
            return booking
        if not secret:
            raise NotFound(_NOT_FOUND, code="booking_not_found")
    stored = booking.secret_hash if booking is not None and booking.secret_hash else None
    if access_codes.check(booking_id, stored, secret, client) and booking is not None:
        return booking
    raise NotFound(_NOT_FOUND, code="booking_not_found")


def cancel(
    booking: ConsultationBooking, *, by_staff: str | None = None, reason: str | None = None
) -> dict[str, Any]:
    return cancelled(booking, by_staff=by_staff, reason=reason)[0]


def cancelled(
    booking: ConsultationBooking, *, by_staff: str | None = None, reason: str | None = None
) -> tuple[dict[str, Any], bool]:
    """The booking cancelled, and whether this call cancelled it (not a retry, and not a cancel
    that got there first: only the one that did tells the resident)."""
    now = datetime.now(UTC)
    service = rules.get_service(booking.service)
    if booking.status == rules.CANCELLED:  # a retry, or cancelled meanwhile by the other side: done
        return booking_view(booking, booking.language), False
    if booking.status != rules.BOOKED:
        raise Conflict(Text("consult.error.cannot_cancel"), code="not_booked")
    if by_staff is None:
        rules.check_change_allowed(service, rules.parse_slot(booking.slot), booking.created_at, now)
    _arm_followup(booking.booking_id, now)
    audit = store.Audit(
        "staff" if by_staff else "resident", by_staff, "cancelled", now, rules.BOOKED, rules.CANCELLED, reason
    )
    try:
        store.release(booking, rules.CANCELLED, audit, reason=reason)
    except store.Stale:
        current = _must(booking.booking_id)
        if current.status == rules.CANCELLED:  # a cancel at the same moment (a double tap) won: done
            return booking_view(current, booking.language), False
        raise Conflict(_CHANGED, code="conflict") from None
    except store.Busy:
        raise Unavailable(_BUSY, code="busy", retry_after=1) from None
    metrics.add_metric(name="ConsultationsCancelled", unit="Count", value=1)
    _queue_followup(booking.booking_id)
    return booking_view(_must(booking.booking_id), booking.language), True


def reschedule(booking: ConsultationBooking, document: Any, *, by_staff: str | None = None) -> dict[str, Any]:
    now = datetime.now(UTC)
    _check("consultation_reschedule", document)
    service = rules.get_service(booking.service)
    if booking.status != rules.BOOKED:
        raise Conflict(Text("consult.error.cannot_change"), code="not_booked")
    new_start = rules.parse_slot(document["slot"])
    if by_staff is None:
        rules.check_change_allowed(service, rules.parse_slot(booking.slot), booking.created_at, now)
    rules.check_bookable(service, new_start, booking.mode, now, by_staff=by_staff is not None)
    new_slot = rules.slot_id(new_start)
    if new_slot == booking.slot:
        return booking_view(booking, booking.language)
    day = rules.tokyo_day(new_start)
    old_day = rules.tokyo_day(rules.parse_slot(booking.slot))
    # The guard's hash does not say who; the new day's key is the old one with the day replaced.
    new_guard = booking.guard.replace(f"#{old_day.isoformat()}#", f"#{day.isoformat()}#", 1)
    _arm_followup(booking.booking_id, now)
    audit = store.Audit(
        "staff" if by_staff else "resident",
        by_staff,
        "rescheduled",
        now,
        rules.BOOKED,
        rules.BOOKED,
        # Tokyo times, as staff read every other time (the slot ids are UTC).
        f"{rules.tokyo_text(rules.parse_slot(booking.slot))} -> {rules.tokyo_text(new_start)}",
    )
    try:
        section_day = f"{service.section}#{day.isoformat()}"
        store.move(booking, new_slot, section_day, new_guard, new_start + store.RETENTION, audit)
    except store.SlotUnavailable:
        raise _unavailable(service.id, new_slot) from None
    except store.AlreadyBooked:
        raise Conflict(_ALREADY, code="already_booked") from None
    except store.Stale:
        raise Conflict(_CHANGED, code="conflict") from None
    except store.Busy:
        raise Unavailable(_BUSY, code="busy", retry_after=1) from None
    _queue_followup(booking.booking_id)
    return booking_view(_must(booking.booking_id), booking.language)


def line_user_bookings(user_id: str, language: str) -> list[dict[str, Any]]:
    since = rules.slot_id(datetime.now(UTC) - timedelta(hours=2))
    found = [b for b in store.for_line_user(user_id, since) if b.status == rules.BOOKED]
    return [booking_view(b, language) for b in found]


def booking_view(booking: ConsultationBooking, language: str) -> dict[str, Any]:
    service = rules.get_service(booking.service)
    start = rules.parse_slot(booking.slot)
    until = rules.change_until(service, start, booking.created_at)
    return {
        "booking": booking.booking_id,
        "service": service.id,
        "serviceName": service.public_title(language),  # a sensitive topic is not named (a shared screen)
        "status": booking.status,
        "slot": booking.slot,
        "start": rules.tokyo_text(start),
        "end": rules.tokyo_text(start + timedelta(minutes=service.duration_minutes)),
        "mode": booking.mode,
        "channel": booking.channel,
        "prepare": service.prepare.get(language) or service.prepare["ja"],
        "changeUntil": rules.tokyo_text(until),
        # Whether the resident may still move or cancel it themselves (else they call the City Office).
        "changeable": booking.status == rules.BOOKED and datetime.now(UTC) < until,
        "bookingUrl": f"/bookings/{booking.booking_id}",
    }


# --------------------------------------------------------------------------- follow-up


def _arm_followup(booking_id: str, now: datetime) -> None:
    try:
        scheduler.schedule_message(
            rules.schedule_name(booking_id, "followup"),
            now + FOLLOWUP_DELAY,
            CONSULTATIONS,
            {"booking": booking_id, "kind": "followup"},
        )
    except Exception as error:
        # Without the safety net the change must not happen: nothing was written yet.
        logger.error("follow-up schedule not created", extra={"error": type(error).__name__})
        raise Unavailable(_BUSY, code="busy", retry_after=5) from None


def _disarm_followup(booking_id: str) -> None:
    try:
        scheduler.delete(rules.schedule_name(booking_id, "followup"))
    except Exception as error:  # it would find nothing to do; only tidiness is lost
        logger.warning("follow-up schedule not deleted", extra={"error": type(error).__name__})


def _queue_followup(booking_id: str) -> None:
    if queues.send_all(CONSULTATIONS, [(booking_id, {"booking": booking_id, "kind": "followup"})]):
        # The schedule armed before the write delivers it in a minute or two.
        logger.warning("follow-up not queued; the schedule will deliver it", extra={"booking": booking_id})


def followup(booking_id: str, now: datetime | None = None) -> list[str]:
    """Bring reminders and notices in line with the stored booking. Answers the notices due
    (`(kind, slot)` keys for the worker to send once each)."""
    now = now or datetime.now(UTC)
    booking = store.get(booking_id)
    if booking is None:
        return []  # the booking transaction never happened
    service = rules.get_service(booking.service)
    start = rules.parse_slot(booking.slot)
    due: list[str] = []
    if booking.status == rules.BOOKED:
        wanted = dict(rules.reminders(service, start, booking.mode, now))
        for kind in ("reminder_day", "reminder_hour", "meeting_link"):
            name = rules.schedule_name(booking_id, kind)
            if kind in wanted:
                body = {"booking": booking_id, "kind": kind, "slot": booking.slot}
                scheduler.schedule_message(name, wanted[kind], CONSULTATIONS, body)
            else:
                scheduler.delete(name)
        due.append("booked")
    else:
        for kind in ("reminder_day", "reminder_hour", "meeting_link"):
            scheduler.delete(rules.schedule_name(booking_id, kind))
        if booking.status == rules.CANCELLED:
            # The confirmation or move the resident was not sent yet goes first: a move then a
            # cancel made before either went out must not cancel a time they never heard of.
            booked = rules.booked_revision(booking.status, int(booking.revision or 1))
            if int(booking.told_revision or 0) < booked:
                due.append("booked")
            due.append("cancelled")
    scheduler.delete(rules.schedule_name(booking_id, "followup"))
    return due


# --------------------------------------------------------------------------- helpers


def _check(schema: str, document: Any) -> None:
    """The schema's problems, said to the resident in their language by the booking page's own
    labels ("「電話番号」の書き方が正しくありません"), never jsonschema's English and regex."""
    found = problems_with_untypeable(schema, document)
    if found:
        raise Invalid(Text("error.check_entries"), details=problems_of(found, _questions(schema)))


# The booking's questions, by the labels of the booking page (the web form asks them so).
_LABELS = {
    "slot": "web.book_when",
    "mode": "web.book_mode",
    "eligibility": "web.book_eligibility",
    "name": "web.book_name",
    "email": "web.book_email",
    "phone": "web.book_phone",
    "note": "web.book_note",
}


@functools.cache
def _questions(schema: str) -> SimpleNamespace:
    labels = {
        name: {lang: messages.text(key, lang) for lang in rules.LANGUAGES} for name, key in _LABELS.items()
    }
    return SimpleNamespace(schema=load(schema), meta={"labels": labels})


def _text(value: Any) -> str | None:
    """A one-line answer (a name, a phone number): controls and line breaks become spaces."""
    cleaned = rules.clean_note(value) if value else None
    return one_line(cleaned) or None if cleaned else None


def _must(booking_id: str) -> ConsultationBooking:
    booking = store.get(booking_id)
    if booking is None:  # pragma: no cover - it was just written
        raise NotFound(_NOT_FOUND, code="booking_not_found")
    return booking
