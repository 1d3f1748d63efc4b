"""Worker for the `consultations` queue: the follow-up of a booking change, reminders, meeting links.

A record is `{"booking", "kind"}` (kind `followup`) or `{"booking", "kind", "slot"}` (a
reminder or the meeting link, put there by its one-time Scheduler schedule). Each notice is
sent once: it is claimed in the inbox ledger under `consult#<id>#<notice>#<slot>` (for the
booked/moved notice, also the booking's revision: moved away and back, it is told again); the
email goes first, once under a claim of its own, and the LINE push carries a retry key derived
from the same parts (services/resident_notice.py). A reminder re-reads
the booking and sends nothing unless it is still booked for the slot it was made for.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from chalicelib.adapters import email
from chalicelib.adapters.line_api import retry_key_for
from chalicelib.config import get_settings
from chalicelib.domain import consultations as rules
from chalicelib.domain import messages
from chalicelib.domain.ward import ward_name
from chalicelib.observability import logger, metrics
from chalicelib.resources import CONSULTATIONS
from chalicelib.services import consultations as service
from chalicelib.services import resident_notice
from chalicelib.store import consultations as store
from chalicelib.store import inbox
from chalicelib.store.models import ConsultationBooking
from chalicelib.workers.batches import BatchResponse, Message, Record, partial_batch

LEASE = timedelta(seconds=CONSULTATIONS.visibility_timeout)
REMINDER_KINDS = ("reminder_day", "reminder_hour", "meeting_link")


@dataclass(frozen=True)
class Notice:
    booking_id: str
    kind: str
    slot: str | None


def handle_batch(records: Iterable[Record]) -> BatchResponse:
    return partial_batch(
        records,
        _read,
        lambda notice: process(notice.booking_id, notice.kind, notice.slot),
        kind="consultation notice",
        failed_metric="ConsultationNoticesFailed",
    )


def _read(record: Record) -> Message[Notice]:
    body = json.loads(record["body"])
    booking_id = rules.normalize_booking_id(body["booking"])
    kind = body["kind"]
    if booking_id is None or kind not in ("followup", *REMINDER_KINDS):
        raise ValueError("kind")
    return Message(Notice(booking_id, kind, body.get("slot")), booking_id, {"consultation_kind": kind})


def process(booking_id: str, kind: str, slot: str | None, now: datetime | None = None) -> list[str]:
    """Returns the notices sent now (for tests and logs)."""
    now = now or datetime.now(UTC)
    if kind == "followup":
        notices = service.followup(booking_id, now)
    else:
        booking = store.get(booking_id)
        if booking is None or booking.status != rules.BOOKED or booking.slot != slot:
            logger.info("reminder for a cancelled or moved booking: nothing sent")
            return []
        notices = [kind]
    sent: list[str] = []
    for notice in notices:
        booking = store.get(booking_id)
        if booking is None:
            return sent
        with inbox.once(f"consult#{booking_id}#{_notice_key(booking, notice)}", now, LEASE) as claim:
            if claim is not inbox.Claim.DONE:
                deliver(booking, notice, now)
        if notice == "booked":  # also when sent before: a crash may have come between
            store.mark_told(booking_id, _booked_revision(booking))
        if claim is not inbox.Claim.DONE:
            sent.append(notice)
    return sent


def _notice_key(booking: ConsultationBooking, notice: str) -> str:
    """What makes a notice one notice: its kind and slot, and for booked/moved the revision (a
    booking moved to 15:30 and back to 10:30 must say 10:30 again, though it said so once)."""
    if notice == "booked":
        return f"{notice}#{booking.slot}#r{_booked_revision(booking)}"
    return f"{notice}#{booking.slot}"


def _booked_revision(booking: ConsultationBooking) -> int:
    return rules.booked_revision(booking.status, int(booking.revision or 1))


def _message_key(booking: ConsultationBooking, notice: str) -> str:
    if notice == "booked":
        return "consult.confirmed" if _booked_revision(booking) == 1 else "consult.moved"
    if notice == "cancelled":
        return "consult.cancelled_by_ward" if booking.cancelled_by == "staff" else "consult.cancelled"
    return f"consult.{notice}"


def render(booking: ConsultationBooking, notice: str, now: datetime) -> tuple[str, str]:
    """(subject, text) of a notice in the booking's language. A sensitive service is not named."""
    language = booking.language or "ja"
    svc = rules.get_service(booking.service)
    start = rules.parse_slot(booking.slot)
    values = {
        "title": svc.public_title(language),
        "when": _when(start),
        "mode": messages.text(f"consult.mode.{booking.mode}", language),
        "booking": booking.booking_id,
        "prepare": svc.prepare.get(language) or svc.prepare["ja"],
        "link": svc.meeting_link(booking.booking_id, booking.meeting_room),
        "reason": booking.cancel_reason if booking.cancel_reason and booking.cancel_reason != "-" else "-",
    }
    key = _message_key(booking, notice)
    template = messages.catalogue()[key].get(language) or messages.catalogue()[key]["ja"]
    used = {name: value for name, value in values.items() if name in messages.placeholders(template)}
    text = messages.text(key, language, **used)
    if booking.mode == "in_person" and not key.startswith("consult.cancelled"):
        text += "\n" + where(language)
    elif booking.mode == "online" and key in ("consult.confirmed", "consult.moved"):
        text += "\n" + svc.link_later(language)
    if key in ("consult.confirmed", "consult.moved"):  # as the booking's page says it
        until = rules.change_until(svc, start, booking.created_at)
        if until > now:
            text += f"\n{messages.plain(messages.text('web.book_change_until', language))}: {_when(until)}"
        else:  # moved to a time too near to change again (a review: the notice named a past time)
            hours = int(svc.cancel_deadline.total_seconds() // 3600)
            text += "\n" + messages.text("consult.error.change_deadline", language, hours=hours)
    if booking.line_user_id is None and key in ("consult.confirmed", "consult.moved"):
        # Off LINE, the booking's page is where it is seen, moved or cancelled.
        url = get_settings().web_page("/bookings", language)
        text += "\n\n" + messages.text("consult.manage", language, url=url)
    if key.startswith("consult.cancelled"):  # by the ward or by themselves: where to book again
        # A sensitive service is not named, in its address either: the list of consultations.
        page = "/consultations" if svc.sensitive else f"/consultations/{booking.service}"
        settings = get_settings()
        url = (
            settings.liff_link(page, language) if booking.line_user_id else settings.web_page(page, language)
        )
        text += "\n\n" + messages.text("consult.book_again", language, url=url)
    what = "cancelled" if key.startswith("consult.cancelled") else key.removeprefix("consult.")
    subject = messages.text(
        "consult.subject",
        language,
        ward=ward_name(language),
        what=messages.text(f"consult.subject_what.{what}", language),  # an inbox tells them apart
        title=values["title"],
        booking=booking.booking_id,
    )
    return subject, text


def where(language: str) -> str:
    """Where an in-person consultation is held, and what to do on arrival."""
    return messages.text(
        "consult.where", language, place=messages.text("consult.location.in_person", language)
    )


def deliver(booking: ConsultationBooking, notice: str, now: datetime) -> list[str]:
    """The email (with its calendar entry) first, then the LINE push (services.resident_notice)."""
    subject, text = render(booking, notice, now)
    key = _notice_key(booking, notice)
    channels = []
    if booking.email:
        calendar = _calendar(booking, notice, now)
        resident_notice.email_once(
            f"consult#{booking.booking_id}#{key}#email",
            lambda: email.send_with_calendar([booking.email], subject, text, calendar),
        )
        channels.append("email")
    if booking.line_user_id and resident_notice.push(
        booking.line_user_id,
        [{"type": "text", "text": text[:5000]}],
        retry_key_for(booking.booking_id, key, "consult"),
        what="consultation notice",
    ):
        channels.append("line")
    logger.info("consultation notice", extra={"notice": notice, "channels": channels})
    metrics.add_metric(name="ConsultationNoticesSent", unit="Count", value=1)
    return channels


def _calendar(booking: ConsultationBooking, notice: str, now: datetime) -> str:
    """The notice's calendar entry (.ics): its place or link, and its version (SEQUENCE)."""
    svc = rules.get_service(booking.service)
    language = booking.language or "ja"
    if booking.mode == "in_person":
        location = messages.text("consult.location.in_person", language)
    elif notice == "meeting_link":  # the room is given out when the link is, not before
        location = svc.meeting_link(booking.booking_id, booking.meeting_room)
    else:
        location = svc.link_later(language)
    return rules.ics(
        uid=booking.booking_id,
        start=rules.parse_slot(booking.slot),
        minutes=svc.duration_minutes,
        summary=svc.public_title(language),
        location=location,
        now=now,
        cancelled=notice == "cancelled",
        # Each move or cancel is a new version; a late confirmation is its own move's.
        sequence=(_booked_revision(booking) if notice == "booked" else int(booking.revision or 1)) - 1,
        organizer=get_settings().ses_sender,
    )


def _when(start: datetime) -> str:
    from chalicelib.domain.submissions import TOKYO

    local = start.astimezone(TOKYO)
    return f"{local:%Y-%m-%d %H:%M}"
