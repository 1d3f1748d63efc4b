"""Consultation booking: the ward's consultation services and the rules of booking one.

Pure rules, no I/O. A slot is identified by its service and its start, in UTC ISO-8601 to
the minute (`2026-12-07T04:00Z`); it is shown in Tokyo time. Availability is a weekly pattern
in Tokyo times, laid on business days only (`domain.business_days`), plus exceptions.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from itertools import pairwise
from typing import Any

from chalicelib.domain import messages
from chalicelib.domain.business_days import (
    FIRST_DAY,
    LAST_DAY,
    calendar_day,
    closure_reason,
    is_business_day,
)
from chalicelib.domain.errors import Conflict, Invalid, NotFound
from chalicelib.domain.messages import Text
from chalicelib.domain.submissions import TOKYO
from chalicelib.domain.ward import DATA_DIR, one_line, without_controls

LANGUAGES = ("ja", "ja-easy", "en", "zh-Hans", "ko", "vi", "ne")
MODES = ("in_person", "online")
WHO = ("resident", "worker", "student", "anyone")

BOOKED = "booked"
CANCELLED = "cancelled"
ATTENDED = "attended"
NO_SHOW = "no_show"
STATUSES = (BOOKED, CANCELLED, ATTENDED, NO_SHOW)

RESIDENT_CHANNELS = ("line", "web")
STAFF_CHANNELS = ("phone", "counter")

NOTE_MAX = 200
# A ward cancel's reason goes to the resident whole (the schema's 300: room for a number to call).
REASON_MAX = 300
# Reminders: the day before (24 h) and an hour before; the meeting link per service.
REMINDERS = (("reminder_day", timedelta(hours=24)), ("reminder_hour", timedelta(hours=1)))
# The earliest a slot can be booked: a resident needs time to get there, staff to prepare.
MIN_LEAD = timedelta(minutes=30)

_SLOT = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}Z$")
_BOOKING_ID = re.compile(r"^BK-\d{4}-[0-9A-HJKMNP-TV-Z]{6}$")
_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32: no I, L, O, U


@dataclass(frozen=True)
class Weekly:
    """Sessions every week: on `weekdays` (0 = Monday) at `times` (Tokyo), `capacity` seats each."""

    weekdays: tuple[int, ...]
    times: tuple[str, ...]
    capacity: int

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Weekly:
        weekdays = tuple(sorted(set(raw["weekdays"])))
        times = tuple(sorted(set(raw["times"])))
        if any(not isinstance(d, int) or isinstance(d, bool) or not 0 <= d <= 6 for d in weekdays):
            raise ValueError("weekdays are 0 (Monday) to 6")
        for text in times:
            parse_hhmm(text)
        capacity = raw["capacity"]
        if isinstance(capacity, bool) or not isinstance(capacity, int) or not 0 <= capacity <= 50:
            raise ValueError("capacity is 0 to 50")
        return cls(weekdays, times, capacity)


@dataclass(frozen=True)
class Service:
    id: str
    section: str
    name: dict[str, str]
    duration_minutes: int
    modes: tuple[str, ...]
    who_may_book: tuple[str, ...]
    prepare: dict[str, str]
    sensitive: bool
    cancel_deadline: timedelta
    book_ahead_days: int
    meeting_link_template: str
    meeting_link_before: timedelta
    demo_weekly: Weekly
    faq_entries: tuple[str, ...] = ()

    def title(self, language: str) -> str:
        return self.name.get(language) or self.name["ja"]

    def public_title(self, language: str) -> str:
        """What a notification, a calendar entry or a list may show: a sensitive topic is not named."""
        if self.sensitive:
            return messages.text("consult.generic_title", language)
        return self.title(language)

    def link_later(self, language: str) -> str:
        """When an online consultation's link is sent, said to the resident."""
        minutes = int(self.meeting_link_before.total_seconds() // 60)
        return messages.text("consult.link_later", language, minutes=minutes)

    def meeting_link(self, booking_id: str, room: str) -> str:
        """The online meeting's link; `room` is the booking's own random token (new_meeting_room):
        a booking number, seen in lists, digests and LINE, must not be enough to join."""
        return self.meeting_link_template.format(service=self.id, booking=booking_id, room=room)

    def to_public(self, language: str) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.title(language),
            "names": self.name,
            "section": self.section,
            "durationMinutes": self.duration_minutes,
            "modes": list(self.modes),
            "whoMayBook": list(self.who_may_book),
            "prepare": self.prepare.get(language) or self.prepare["ja"],
            "sensitive": self.sensitive,
            "cancelDeadlineHours": int(self.cancel_deadline.total_seconds() // 3600),
            "bookAheadDays": self.book_ahead_days,
        }


@cache
def catalogue() -> dict[str, Service]:
    raw = json.loads((DATA_DIR / "consultations.json").read_text(encoding="utf-8"))
    services: dict[str, Service] = {}
    for entry in raw["services"]:
        service = Service(
            id=entry["id"],
            section=entry["section"],
            name=dict(entry["name"]),
            duration_minutes=int(entry["durationMinutes"]),
            modes=tuple(entry["modes"]),
            who_may_book=tuple(entry["whoMayBook"]),
            prepare=dict(entry["prepare"]),
            sensitive=bool(entry["sensitive"]),
            cancel_deadline=timedelta(hours=entry["cancelDeadlineHours"]),
            book_ahead_days=int(entry["bookAheadDays"]),
            meeting_link_template=entry["meetingLinkTemplate"],
            meeting_link_before=timedelta(minutes=entry["meetingLinkMinutesBefore"]),
            demo_weekly=Weekly.from_dict(entry["demoWeekly"]),
            faq_entries=tuple(entry.get("faqEntries", ())),
        )
        missing = [lang for lang in LANGUAGES if not service.name.get(lang) or not service.prepare.get(lang)]
        if missing or not set(service.modes) <= set(MODES) or not set(service.who_may_book) <= set(WHO):
            raise ValueError(f"consultation {service.id!r} is incomplete: {missing or 'modes/whoMayBook'}")
        if service.sensitive and (
            "{service}" in service.meeting_link_template or service.id in service.meeting_link_template
        ):
            # The link goes into the .ics LOCATION, the email and a LINE push on the lock screen.
            raise ValueError(f"consultation {service.id!r} is sensitive: its meeting link must not name it")
        if "{room}" not in service.meeting_link_template:
            raise ValueError(
                f"consultation {service.id!r}: its meeting link must hold the booking's {{room}}"
            )
        services[service.id] = service
    return services


def new_meeting_room() -> str:
    """A booking's online meeting room: 128 random bits, the key a meeting link carries."""
    return secrets.token_urlsafe(16)


def get_service(service_id: str) -> Service:
    service = catalogue().get(service_id)
    if service is None:
        raise NotFound(Text("consult.error.not_found"), code="consultation_not_found")
    return service


def for_faq_entry(entry_id: str) -> Service | None:
    """The service a FAQ answer is about (its "book this" button), if any."""
    return next((s for s in catalogue().values() if entry_id in s.faq_entries), None)


# --------------------------------------------------------------------------- slots and time


def parse_hhmm(text: str) -> time:
    if not isinstance(text, str) or not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", text):
        raise ValueError(f"not a time HH:MM: {text!r}")
    return time(int(text[:2]), int(text[3:]))


def slot_id(start: datetime) -> str:
    return start.astimezone(UTC).strftime("%Y-%m-%dT%H:%MZ")


def parse_day(text: Any) -> date:
    """A day of the calendar (`business_days.calendar_day`), else invalid_date."""
    day = calendar_day(text)
    if day is None:
        raise Invalid(Text("consult.error.invalid_date"), code="invalid_date")
    return day


def parse_slot(text: Any) -> datetime:
    invalid = Invalid(
        Text("consult.error.invalid_slot"),
        code="invalid_slot",
        details=[{"pointer": "/slot", "message": Text("consult.error.invalid_slot")}],
    )
    if not isinstance(text, str) or not _SLOT.fullmatch(text):
        raise invalid
    try:
        start = datetime.strptime(text, "%Y-%m-%dT%H:%MZ").replace(tzinfo=UTC)
    except ValueError:
        raise invalid from None
    if not FIRST_DAY <= start.date() < LAST_DAY:  # a Tokyo day of the calendar, the last one aside
        raise invalid
    return start


def tokyo_day(start: datetime) -> date:
    return start.astimezone(TOKYO).date()


def tokyo_text(start: datetime) -> str:
    return start.astimezone(TOKYO).isoformat(timespec="minutes")


def weekly_slots(weekly: Weekly, first: date, last: date) -> list[tuple[datetime, int]]:
    """The sessions of a weekly pattern from `first` to `last` (Tokyo days), business days only."""
    found = []
    day = first
    while day <= last:
        if day.weekday() in weekly.weekdays and is_business_day(day):
            for text in weekly.times:
                start = datetime.combine(day, parse_hhmm(text), TOKYO).astimezone(UTC)
                found.append((start, weekly.capacity))
        day += timedelta(days=1)
    return found


# When sessions may run (CONSULT_SESSION_HOURS, Tokyo time; config.Settings has the default):
# the ward office's long day, so a typo (23:45) is caught; a ward with a night line sets "off".
_HOURS = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)\s*-\s*([01]?\d|2[0-3]|24):([0-5]\d)$")


def parse_session_hours(text: str) -> tuple[time, time] | None:
    """ "07:00-22:00" -> (07:00, 22:00); "off" -> None (any hour); "8:30 - 24:00" ends at
    midnight (time.max). ValueError otherwise: read with the settings, at a cold start."""
    if text.strip().lower() == "off":
        return None
    found = _HOURS.match(text.strip())
    if not found or (found[3] == "24" and found[4] != "00"):
        raise ValueError(f"CONSULT_SESSION_HOURS is HH:MM-HH:MM or off, not {text!r}")
    start = time(int(found[1]), int(found[2]))
    end = time.max if found[3] == "24" else time(int(found[3]), int(found[4]))
    if end <= start:
        raise ValueError(f"CONSULT_SESSION_HOURS must end after it starts: {text!r}")
    return start, end


def within_session_hours(start: datetime, duration_minutes: int, hours: tuple[time, time] | None) -> bool:
    """A session starting at `start` runs inside `hours`, on one Tokyo day (23:45 for an hour
    would cross midnight)."""
    if hours is None:
        return True
    local = start.astimezone(TOKYO)
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    ends = (local - midnight) + timedelta(minutes=duration_minutes)  # past 24 h: the next day
    return hours[0] <= local.time() and ends <= _since_midnight(hours[1])


def _since_midnight(at: time) -> timedelta:
    """A time of day as a span from midnight; time.max (an end written 24:00) is the whole day."""
    if at == time.max:
        return timedelta(days=1)
    return timedelta(hours=at.hour, minutes=at.minute)


def hours_text(hours: tuple[time, time]) -> str:
    """ "07:00-22:00", as staff wrote it (an end at midnight is 24:00)."""
    end = "24:00" if hours[1] == time.max else f"{hours[1]:%H:%M}"
    return f"{hours[0]:%H:%M}-{end}"


def check_extra_session(start: datetime) -> None:
    """An extra session may be on any day but a public holiday or a ward closure."""
    day = tokyo_day(start)
    reason = closure_reason(day)
    if reason:
        raise Invalid(
            f"{day.isoformat()} は休庁日です（{reason}）。 / The ward office is closed that day.",
            code="ward_closed",
        )


def overlapping(
    new: Iterable[datetime], others: Iterable[datetime], duration_minutes: int
) -> list[tuple[datetime, datetime]]:
    """Pairs of sessions (earlier, later), at least one of them new, whose times overlap: one
    counsellor holds one session at a time. A start in both is one session (its capacity set again)."""
    fresh = set(new)
    starts = sorted(fresh | set(others))
    length = timedelta(minutes=duration_minutes)
    # All sessions of a service last as long: one that overlaps another overlaps its neighbour.
    return [(a, b) for a, b in pairwise(starts) if b - a < length and (a in fresh or b in fresh)]


def check_no_overlap(new: Iterable[datetime], others: Iterable[datetime], duration_minutes: int) -> None:
    """422 overlapping_session for new sessions that overlap each other or `others`, in Tokyo time."""
    if pairs := overlapping(new, others, duration_minutes):
        raise _overlap(
            [(f"{a.astimezone(TOKYO):%Y-%m-%d %H:%M}", f"{b.astimezone(TOKYO):%H:%M}") for a, b in pairs],
            [{"slots": [slot_id(a), slot_id(b)]} for a, b in pairs],
            duration_minutes,
        )


def check_weekly_times(weekly: Weekly, duration_minutes: int) -> None:
    """422 overlapping_session for weekly times closer together than a session lasts."""
    day = date(2001, 1, 1)  # any day: only the times of day are compared
    starts = [datetime.combine(day, parse_hhmm(text)) for text in weekly.times]
    if pairs := overlapping(starts, (), duration_minutes):
        times = [(f"{a:%H:%M}", f"{b:%H:%M}") for a, b in pairs]
        raise _overlap(
            times, [{"pointer": "/weekly/times", "times": list(pair)} for pair in times], duration_minutes
        )


def _overlap(pairs: list[tuple[str, str]], details: list[dict[str, Any]], duration_minutes: int) -> Invalid:
    sessions = ", ".join(f"{a} / {b}" for a, b in pairs[:5])
    message = Text("consult.error.overlapping_session", minutes=duration_minutes, sessions=sessions)
    return Invalid(message, code="overlapping_session", details=details)


def day_range(
    from_text: str | None, to_text: str | None, today: date, *, max_days: int = 62
) -> tuple[date, date]:
    """`from`/`to` query parameters (Tokyo dates, inclusive); default: the next four weeks."""
    first = parse_day(from_text) if from_text else today
    last = parse_day(to_text) if to_text else first + timedelta(days=27)
    if last < first or (last - first).days >= max_days:
        raise Invalid(Text("consult.error.invalid_range", days=max_days), code="invalid_range")
    return first, last


def bounds_utc(first: date, last: date) -> tuple[str, str]:
    """Slot ids from the start of `first` to the end of `last`, Tokyo days: a key range."""
    start = datetime.combine(first, time(0), TOKYO)
    end = datetime.combine(last + timedelta(days=1), time(0), TOKYO) - timedelta(minutes=1)
    return slot_id(start), slot_id(end)


# --------------------------------------------------------------------------- booking rules


def check_bookable(
    service: Service, start: datetime, mode: str, now: datetime, *, by_staff: bool = False
) -> None:
    """Whether a session can be booked now. Staff book (a caller, a walk-in at the counter) until
    it starts: MIN_LEAD gives staff time to prepare, and here they are the ones booking."""
    if mode not in service.modes:
        raise Invalid(Text("consult.error.mode_not_offered"), code="mode_not_offered")
    if start < now + (timedelta(0) if by_staff else MIN_LEAD):
        raise Conflict(Text("consult.error.slot_closed"), code="slot_closed")
    if start > now + timedelta(days=service.book_ahead_days):
        raise Conflict(Text("consult.error.slot_not_open_yet"), code="slot_not_open_yet")


# A booking made inside its change deadline (a session later today) may still be cancelled or
# moved for this long after it was made: else a slip of the finger could only be undone by phone.
CHANGE_GRACE = timedelta(minutes=30)


def change_until(service: Service, start: datetime, booked_at: datetime) -> datetime:
    """Until when the resident may cancel or move the booking themselves: the service's deadline,
    or CHANGE_GRACE after booking when that is later (never past the start)."""
    return max(start - service.cancel_deadline, min(booked_at + CHANGE_GRACE, start))


def check_change_allowed(service: Service, start: datetime, booked_at: datetime, now: datetime) -> None:
    """Residents cancel or move a booking up to change_until; later, they call."""
    if now > change_until(service, start, booked_at):
        hours = int(service.cancel_deadline.total_seconds() // 3600)
        raise Conflict(
            Text("consult.error.change_deadline", hours=hours),
            code="change_deadline_passed",
        )


def check_eligibility(service: Service, eligibility: str | None) -> str:
    """Who the booker says they are (resident / worker / student of the ward); 'anyone' needs nothing."""
    if "anyone" in service.who_may_book:
        return eligibility or "anyone"
    if eligibility not in service.who_may_book:
        raise Invalid(
            Text("consult.error.not_eligible"),
            code="not_eligible",
            details=[{"pointer": "/eligibility", "allowed": list(service.who_may_book)}],
        )
    return eligibility


def clean_note(note: Any, limit: int = NOTE_MAX) -> str | None:
    if note is None:
        return None
    text = without_controls(unicodedata.normalize("NFC", str(note))).strip()
    return text[:limit] or None


def normalize_email(value: str) -> str:
    """Lower case, and without the root's dot a domain may end in (x@example.com. is x@example.com)."""
    return one_line(value).strip().lower().rstrip(".")


def mailbox(email: str) -> str:
    """The mailbox an address reaches, for the per-person guard: without a "+tag" (sub-addressing:
    x+2@example.com is x@example.com's inbox at most providers, so it is the same person). The
    schemas take plain addresses only (forms.EMAIL_PATTERN): no quotes, comments or IP literals
    that would write one mailbox another way."""
    local, at, domain = normalize_email(email).rpartition("@")
    if not at:
        return normalize_email(email)
    local = local.split("+", 1)[0] or local
    if domain in _GMAIL:  # dots are nothing there, and both names are one mailbox (a re-test)
        local, domain = local.replace(".", "") or local, "gmail.com"
    return f"{local}{at}{domain}"


_GMAIL = frozenset({"gmail.com", "googlemail.com"})


def normalize_phone(value: str) -> str:
    """One way to write a Japanese number: +81 3…, 0081-3…, +81 (0)3… are all 03… (a re-test)."""
    digits = re.sub(r"\D", "", unicodedata.normalize("NFKC", value))
    return re.sub(r"^(?:00)?810?", "0", digits)


def person_key(service_id: str, day: date, identity: str) -> str:
    """The per-person guard's key: one booking per person per service per day.

    `identity` is `line:<user id>`, `email:<address>` or `tel:<digits>`; only its hash is stored.
    """
    digest = hashlib.sha256(identity.encode()).hexdigest()[:32]
    return f"{service_id}#{day.isoformat()}#{digest}"


def new_booking_id(now: datetime) -> str:
    tokyo = now.astimezone(TOKYO)
    tail = "".join(secrets.choice(_ALPHABET) for _ in range(6))
    return f"BK-{tokyo:%y%m}-{tail}"


def normalize_booking_id(text: str) -> str | None:
    value = unicodedata.normalize("NFKC", text or "").strip().upper()
    return value if _BOOKING_ID.fullmatch(value) else None


def reminders(service: Service, start: datetime, mode: str, now: datetime) -> list[tuple[str, datetime]]:
    """(kind, when) of the messages to schedule before a consultation, those still ahead only."""
    due = [(kind, start - before) for kind, before in REMINDERS]
    if mode == "online":
        due.append(("meeting_link", start - service.meeting_link_before))
    return [(kind, at) for kind, at in due if at > now]


SCHEDULE_KINDS = ("followup", "reminder_day", "reminder_hour", "meeting_link")


def booked_revision(status: str, revision: int) -> int:
    """The revision a booking's last booking or move made: a cancel adds one, and nothing
    changes a cancelled booking after."""
    return revision - 1 if status == CANCELLED else revision


def schedule_name(booking_id: str, kind: str) -> str:
    """Deterministic, so a retry replaces and a cancel finds it (Scheduler: ≤ 64 characters)."""
    return f"booking-{booking_id}-{kind.replace('_', '-')}"


def ics(
    *,
    uid: str,
    start: datetime,
    minutes: int,
    summary: str,
    location: str,
    now: datetime,
    cancelled: bool = False,
    sequence: int = 0,
    organizer: str = "",
) -> str:
    """An iCalendar (RFC 5545) event: the consultation in the resident's calendar, or its
    cancellation. `sequence` counts its changes (a calendar applies a moved booking, with the
    same UID, only if it is higher than what it holds); a cancellation names its `organizer`
    (RFC 5546). Lines are folded at 75 octets, as calendars expect (a meeting link is longer)."""

    def esc(text: str) -> str:
        return one_line(text).replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")

    stamp = "%Y%m%dT%H%M%SZ"
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//madoguchi//consultations//EN",
        f"METHOD:{'CANCEL' if cancelled else 'PUBLISH'}",
        "BEGIN:VEVENT",
        f"UID:{uid}@madoguchi",
        f"SEQUENCE:{sequence}",
        f"DTSTAMP:{now.astimezone(UTC):{stamp}}",
        f"DTSTART:{start.astimezone(UTC):{stamp}}",
        f"DTEND:{(start + timedelta(minutes=minutes)).astimezone(UTC):{stamp}}",
        *([f"ORGANIZER:mailto:{one_line(organizer)}"] if organizer else []),
        f"SUMMARY:{esc(summary)}",
        f"LOCATION:{esc(location)}",
        f"STATUS:{'CANCELLED' if cancelled else 'CONFIRMED'}",
        "END:VEVENT",
        "END:VCALENDAR",
    ]
    return "".join(_folded(line) + "\r\n" for line in lines)


def _folded(line: str, octets: int = 75) -> str:
    """A content line split into lines of at most `octets` UTF-8 octets, each continuation
    starting with a space (RFC 5545 3.1), never inside a character."""
    parts: list[str] = []
    current = ""
    for char in line:
        limit = octets if not parts else octets - 1
        if len((current + char).encode()) > limit:
            parts.append(current)
            current = ""
        current += char
    parts.append(current)
    return "\r\n ".join(parts)


def remaining(capacity: int, booked: int, is_open: bool) -> int:
    return max(0, capacity - booked) if is_open else 0


def public_slots(
    rows: Iterable[tuple[str, int, int, bool]], service: Service, now: datetime
) -> list[dict[str, Any]]:
    """Free slots as the API shows them: seats left, and bookable now (`check_bookable`'s window:
    not too soon, not beyond the service's days ahead, whose booking would say "not open yet")."""
    shown = []
    for sid, capacity, booked, is_open in rows:
        start = parse_slot(sid)
        left = remaining(capacity, booked, is_open)
        if left <= 0 or start < now + MIN_LEAD or start > now + timedelta(days=service.book_ahead_days):
            continue
        shown.append(
            {
                "slot": sid,
                "start": tokyo_text(start),
                "end": tokyo_text(start + timedelta(minutes=service.duration_minutes)),
                "remaining": left,
                "capacity": capacity,
            }
        )
    return shown
