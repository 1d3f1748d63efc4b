"""Window queues: the normalised ticket event, the per-ticket state machine, a line's live state,
the wait estimate and what a resident is shown. Pure: no I/O besides reading the ward's data file.

A ticket is the set of events seen for it (office + Tokyo date + number). Its state is always
the fold of those events in `occurred_at` order, so a duplicate changes nothing and an event
that arrives late lands where it belongs; a finished ticket never moves backwards. A line's
live figures change only by the difference between a ticket's state before and after an event.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
import re
import statistics
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta, timezone
from functools import cache
from typing import Any

from chalicelib.domain.errors import Invalid
from chalicelib.domain.ward import DATA_DIR

TOKYO = timezone(timedelta(hours=9), "JST")

TYPES = ("issued", "called", "recalled", "served", "no_show", "cancelled", "transferred", "closed")
# `closed` is madoguchi's own: the nightly close-out (or a staff reset) ends a ticket left open.
VENDOR_TYPES = TYPES[:-1]
WAITING, CALLED = "waiting", "called"
FINISHED = frozenset({"served", "no_show", "cancelled", "closed"})
TICKET_NUMBER = re.compile(r"^[A-Za-z0-9-]{1,16}$")
IDENT = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")


# --- configuration (chalicelib/data/queue.json) ------------------------------------------------


@dataclass(frozen=True)
class Line:
    id: str
    section: str
    default_service_minutes: float
    counters: int


@dataclass(frozen=True)
class Office:
    id: str
    opens: time
    closes: time
    lines: tuple[Line, ...]

    def line(self, line_id: str) -> Line | None:
        return next((line for line in self.lines if line.id == line_id), None)


@dataclass(frozen=True)
class Source:
    id: str
    adapter: str
    office: str
    secret: str  # the name of the setting holding the secret, not the secret
    registered_url: str = ""
    header: str = ""
    line_map: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Settings:
    quiet_minutes: int
    counter_window_minutes: int
    recent_services: int
    min_services_for_estimate: int
    history_weeks: int
    k_anonymity: int
    signature_tolerance_seconds: int
    watch_default_ahead: int


@dataclass(frozen=True)
class QueueConfig:
    settings: Settings
    offices: tuple[Office, ...]
    sources: tuple[Source, ...]

    def office(self, office_id: str) -> Office | None:
        return next((office for office in self.offices if office.id == office_id), None)

    def source(self, source_id: str) -> Source | None:
        return next((source for source in self.sources if source.id == source_id), None)


def _clock(text: str) -> time:
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


def parse_config(raw: dict[str, Any]) -> QueueConfig:
    s = raw["settings"]
    settings = Settings(
        quiet_minutes=s["quietMinutes"],
        counter_window_minutes=s["counterWindowMinutes"],
        recent_services=s["recentServices"],
        min_services_for_estimate=s["minServicesForEstimate"],
        history_weeks=s["historyWeeks"],
        k_anonymity=s["kAnonymity"],
        signature_tolerance_seconds=s["signatureToleranceSeconds"],
        watch_default_ahead=s["watchDefaultAhead"],
    )
    offices = tuple(
        Office(
            id=o["id"],
            opens=_clock(o["hours"]["weekdays"][0]),
            closes=_clock(o["hours"]["weekdays"][1]),
            lines=tuple(
                Line(
                    id=line["id"],
                    section=line["section"],
                    default_service_minutes=float(line["defaultServiceMinutes"]),
                    counters=int(line["counters"]),
                )
                for line in o["lines"]
            ),
        )
        for o in raw["offices"]
    )
    sources = tuple(
        Source(
            id=src["id"],
            adapter=src["adapter"],
            office=src["office"],
            secret=src["secret"],
            registered_url=src.get("registeredUrl", ""),
            header=src.get("header", ""),
            line_map=dict(src.get("lineMap", {})),
        )
        for src in raw["sources"]
    )
    return QueueConfig(settings, offices, sources)


@cache
def config() -> QueueConfig:
    return parse_config(json.loads((DATA_DIR / "queue.json").read_text(encoding="utf-8")))


# --- the normalised event ----------------------------------------------------------------------


@dataclass(frozen=True)
class QueueEvent:
    """One thing a ticket system said, in madoguchi's words, whichever vendor said it."""

    source: str
    event_id: str
    office: str
    line: str  # for `transferred`: the line the ticket moves to
    number: str
    type: str
    occurred_at: datetime  # aware, UTC
    counter: str | None = None
    # Set by the close-out, which runs after midnight for the day before.
    ticket_day: date | None = None

    @property
    def day(self) -> date:
        """Numbers restart daily: a ticket is known by its office, its Tokyo date and its number."""
        return self.ticket_day or self.occurred_at.astimezone(TOKYO).date()

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "id": self.event_id,
            "office": self.office,
            "line": self.line,
            "number": self.number,
            "type": self.type,
            "at": iso(self.occurred_at),
            "counter": self.counter,
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> QueueEvent:
        return cls(
            source=raw["source"],
            event_id=raw["id"],
            office=raw["office"],
            line=raw["line"],
            number=raw["number"],
            type=raw["type"],
            occurred_at=parse_time(raw["at"]),
            counter=raw.get("counter"),
        )


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def parse_time(text: str) -> datetime:
    """An ISO 8601 time that names its offset, as UTC; Invalid for anything else."""
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (TypeError, ValueError):
        raise Invalid("time is not ISO 8601", code="invalid_time") from None
    if moment.tzinfo is None:
        raise Invalid("time has no UTC offset", code="invalid_time")
    return moment.astimezone(UTC)


def normalised(
    source: Source, event_id: str, line: str, number: str, kind: str, at: datetime, counter: str | None
) -> QueueEvent:
    """The event checked against the source's office and lines: Invalid when it names others."""
    office = config().office(source.office)
    if office is None or office.line(line) is None:
        raise Invalid(f"unknown service line {line!r} for this source", code="unknown_line")
    if kind not in VENDOR_TYPES:
        raise Invalid(f"unknown event type {kind!r}", code="unknown_type")
    if not TICKET_NUMBER.fullmatch(number):
        raise Invalid("ticket number must be 1-16 letters, digits or '-'", code="invalid_ticket")
    if kind == "called" and not counter:
        raise Invalid("a call names its counter", code="counter_required")
    return QueueEvent(source.id, event_id, office.id, line, number, kind, at, counter or None)


# --- the per-ticket state machine --------------------------------------------------------------


@dataclass(frozen=True)
class Ticket:
    number: str
    line: str
    status: str  # waiting | called | served | no_show | cancelled | closed
    issued_at: datetime | None = None
    called_at: datetime | None = None  # the first call
    last_call_at: datetime | None = None
    finished_at: datetime | None = None
    counter: str | None = None
    calls: int = 0


def _order(event: dict[str, Any]) -> tuple[str, int, str]:
    # Same instant: the natural order of a ticket's life, then the id, so every process folds alike.
    return (event["at"], TYPES.index(event["type"]), event["id"])


def add(events: list[dict[str, Any]], event: QueueEvent) -> list[dict[str, Any]] | None:
    """The ticket's events with this one added, in order; None when it was there already."""
    if any(seen["id"] == event.event_id for seen in events):
        return None
    record = {
        "id": event.event_id,
        "type": event.type,
        "at": iso(event.occurred_at),
        "line": event.line,
        "counter": event.counter,
    }
    return sorted([*events, record], key=_order)


def fold(number: str, events: list[dict[str, Any]]) -> Ticket | None:
    """The ticket's state from its events. A finished ticket stays finished; a recall only counts."""
    ticket: Ticket | None = None
    for event in sorted(events, key=_order):
        kind, at, line = event["type"], parse_time(event["at"]), event["line"]
        if ticket is None:
            # The issue may be lost: a ticket first heard of when called still exists from then.
            ticket = Ticket(number, line, WAITING, issued_at=at if kind == "issued" else None)
        if ticket.status in FINISHED:
            continue
        if kind == "issued":
            ticket = replace(ticket, issued_at=ticket.issued_at or at)
        elif kind in ("called", "recalled"):
            first = ticket.called_at is None
            ticket = replace(
                ticket,
                status=CALLED,
                called_at=ticket.called_at or at,
                last_call_at=at,
                counter=event.get("counter") or ticket.counter,
                # A call repeated by the vendor is a recall in all but name; the first call is not one.
                calls=ticket.calls + (0 if first else 1),
            )
        elif kind == "transferred":
            # Back in the queue, of another line; its wait still counts from when it was issued.
            ticket = replace(ticket, line=line, status=WAITING, called_at=None, counter=None)
        else:
            ticket = replace(ticket, status=kind, finished_at=at)
    return ticket


def wait_minutes(ticket: Ticket) -> float | None:
    """How long the resident waited to be called, when both ends are known."""
    if ticket.issued_at is None or ticket.called_at is None or ticket.called_at < ticket.issued_at:
        return None
    return (ticket.called_at - ticket.issued_at).total_seconds() / 60


# --- a line's live state -----------------------------------------------------------------------


@dataclass(frozen=True)
class Live:
    waiting: int = 0
    # number -> {"counter", "at"}: tickets called and not yet finished.
    calling: dict[str, dict[str, Any]] = field(default_factory=dict)
    # counter -> ISO time of its latest call: a counter that called recently is open.
    counters: dict[str, str] = field(default_factory=dict)
    # [[ISO end, seconds], ...]: the latest completed services, oldest first.
    services: list[list[Any]] = field(default_factory=list)
    last_event_at: str | None = None
    # The Tokyo day these figures are for: numbers and counts start afresh every day.
    day: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "day": self.day,
            "waiting": self.waiting,
            "calling": self.calling,
            "counters": self.counters,
            "services": self.services,
            "lastEventAt": self.last_event_at,
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any] | None) -> Live:
        raw = raw or {}
        return cls(
            waiting=int(raw.get("waiting", 0)),
            calling=dict(raw.get("calling") or {}),
            counters=dict(raw.get("counters") or {}),
            services=[list(item) for item in raw.get("services") or []],
            last_event_at=raw.get("lastEventAt"),
            day=raw.get("day"),
        )

    def for_day(self, day: str) -> Live | None:
        """These figures if they are `day`'s, fresh ones for a later day, None for an earlier day."""
        if self.day == day:
            return self
        if self.day is None or self.day < day:
            return Live(day=day)
        return None


def apply(
    live: Live, line: str, before: Ticket | None, after: Ticket, at: datetime, keep_services: int
) -> Live:
    """Line `line`'s state after one ticket went from `before` to `after` (an event at `at`)."""

    def waits(ticket: Ticket | None) -> int:
        return int(ticket is not None and ticket.line == line and ticket.status == WAITING)

    def calls(ticket: Ticket | None) -> bool:
        return ticket is not None and ticket.line == line and ticket.status == CALLED

    # Never below zero: a reset or a lost issue must not leave a line owing people.
    waiting = max(0, live.waiting + waits(after) - waits(before))
    calling = dict(live.calling)
    calling.pop(after.number, None)
    if calls(after):
        calling[after.number] = {"counter": after.counter, "at": iso(after.last_call_at or at)}
    counters = dict(live.counters)
    if after.line == line and after.counter and after.last_call_at:
        stamp = iso(after.last_call_at)
        if stamp > counters.get(after.counter, ""):
            counters[after.counter] = stamp
    services = live.services
    if (
        after.line == line
        and after.status == "served"
        # The service's length is known now: served now, or its call arrived after the service.
        and (before is None or before.status != "served" or before.called_at is None)
        and after.called_at
        and after.finished_at
    ):
        seconds = (after.finished_at - after.called_at).total_seconds()
        if 0 < seconds < 4 * 3600:
            services = sorted([*services, [iso(after.finished_at), round(seconds)]])[-keep_services:]
    stamp = iso(at)
    touched = before is not None and before.line == line or after.line == line
    last = max(live.last_event_at or "", stamp) if touched else live.last_event_at
    return Live(waiting, calling, counters, services, last or None, live.day)


def open_counters(live: Live, now: datetime, window_minutes: int) -> int:
    since = iso(now - timedelta(minutes=window_minutes))
    return sum(1 for stamp in live.counters.values() if stamp >= since)


# --- the estimate ------------------------------------------------------------------------------

# The ranges a resident sees, in minutes: the estimate is widened to these edges.
BUCKET_EDGES = (0, 5, 10, 15, 20, 30, 40, 50, 60, 75, 90, 120)
# How the service-time quantiles turn into a range (tuned by bench/queue_estimate.py on earlier days).
LOW_QUANTILE, HIGH_QUANTILE = 0.5, 0.8
LOW_FACTOR, HIGH_FACTOR = 0.9, 0.9


@dataclass(frozen=True)
class Estimate:
    low: float  # minutes
    high: float
    basis: str  # recent | history | default

    @property
    def bucket(self) -> tuple[int, int | None]:
        return bucket(self.low, self.high)


def bucket(low: float, high: float) -> tuple[int, int | None]:
    """The published range: the bucket edges around [low, high]; None above the last edge."""
    lo = max(edge for edge in BUCKET_EDGES if edge <= max(low, 0))
    above = [edge for edge in BUCKET_EDGES if edge >= high and edge > lo]
    return lo, (above[0] if above else None)


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        raise ValueError("no values")
    position = (len(ordered) - 1) * q
    below = math.floor(position)
    above = min(below + 1, len(ordered) - 1)
    return ordered[below] + (ordered[above] - ordered[below]) * (position - below)


def estimate(
    ahead: int,
    counters: int,
    service_seconds: list[float],
    history: tuple[float, float] | None,
    default_service_minutes: float,
    min_services: int,
) -> Estimate:
    """The wait of someone with `ahead` people before them, as a range in minutes.

    Recent services (median and 80th percentile) × people ahead ÷ open counters, when enough
    services are recent; else this weekday and hour's history (median and 90th percentile of
    the waits); else the line's configured service time.
    """
    counters = max(1, counters)
    if len(service_seconds) >= min_services:
        low_s = quantile(service_seconds, LOW_QUANTILE) / 60
        high_s = quantile(service_seconds, HIGH_QUANTILE) / 60
        # Whoever is at the counters now still has about half a service to go.
        rest = low_s / counters / 2
        return Estimate(
            LOW_FACTOR * ahead * low_s / counters + rest,
            HIGH_FACTOR * ahead * high_s / counters + rest,
            "recent",
        )
    if history is not None:
        return Estimate(history[0], history[1], "history")
    per = default_service_minutes / counters
    return Estimate(ahead * per * 0.8, ahead * per * 1.3 + per, "default")


def line_state(office: Office, live: Live, now: datetime, quiet_minutes: int, business_day: bool) -> str:
    """open (current figures), quiet ("no current information": nothing heard for a while), closed."""
    local = now.astimezone(TOKYO)
    if not business_day or not office.opens <= local.time() < office.closes:
        return "closed"
    if live.last_event_at is None or parse_time(live.last_event_at) < now - timedelta(minutes=quiet_minutes):
        return "quiet"
    return "open"


# --- ticket links (the QR code on the paper ticket) --------------------------------------------


@dataclass(frozen=True)
class TicketRef:
    office: str
    day: date
    number: str

    @property
    def key(self) -> str:
        return f"{self.office}#{self.day.isoformat()}"


def _mac(secret: str, office: str, day: str, number: str) -> str:
    digest = hmac.new(secret.encode(), f"{office}|{day}|{number}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:12]).decode().rstrip("=")


def sign_ticket(secret: str, office: str, day: date, number: str) -> str:
    """`office.YYYYMMDD.number.mac`: printed as a QR code on the ticket; only the ward can make one."""
    stamp = day.strftime("%Y%m%d")
    return f"{office}.{stamp}.{number}.{_mac(secret, office, stamp, number)}"


def read_ticket(secret: str, ref: str) -> TicketRef:
    """The ticket a link names; Invalid for a link the ward did not sign (or one cut short)."""
    parts = ref.split(".")
    if len(parts) != 4 or len(ref) > 120:
        raise Invalid("not a ticket link", code="invalid_ticket_ref")
    office, stamp, number, mac = parts
    if not hmac.compare_digest(_mac(secret, office, stamp, number).encode(), mac.encode("ascii", "replace")):
        raise Invalid("not a ticket link", code="invalid_ticket_ref")
    try:
        day = datetime.strptime(stamp, "%Y%m%d").date()
    except ValueError:
        raise Invalid("not a ticket link", code="invalid_ticket_ref") from None
    return TicketRef(office, day, number)


# --- "tell me when it is nearly my turn" -------------------------------------------------------

MIN_AHEAD, MAX_AHEAD = 1, 5


def people_ahead(ticket: Ticket, tickets: list[Ticket]) -> int:
    """Waiting tickets of the same line issued before this one."""

    def key(t: Ticket) -> tuple[str, str]:
        return (iso(t.issued_at) if t.issued_at else "", t.number.zfill(16))

    mine = key(ticket)
    return sum(
        1
        for other in tickets
        if other.number != ticket.number
        and other.line == ticket.line
        and other.status == WAITING
        and key(other) < mine
    )


def due_notices(
    ticket: Ticket, ahead: int, threshold: int, near_sent: bool, called_sent: bool, joined_ahead: int
) -> list[str]:
    """The pushes now due for one watch: `near` (threshold or fewer ahead) and `called`."""
    due = []
    if ticket.status == CALLED and not called_sent:
        due.append("called")
    elif ticket.status == WAITING and not near_sent and ahead <= threshold and joined_ahead > threshold:
        due.append("near")
    return due


# --- history -----------------------------------------------------------------------------------


def hourly_figures(tickets: list[Ticket]) -> dict[str, dict[str, dict[str, Any]]]:
    """line -> Tokyo hour ("09") -> issued, served, median and 90th percentile wait (minutes)."""
    raw: dict[str, dict[str, dict[str, Any]]] = {}
    for ticket in tickets:
        if ticket.issued_at is None:
            continue
        hour = f"{ticket.issued_at.astimezone(TOKYO).hour:02d}"
        cell = raw.setdefault(ticket.line, {}).setdefault(hour, {"issued": 0, "served": 0, "waits": []})
        cell["issued"] += 1
        cell["served"] += int(ticket.status == "served")
        wait = wait_minutes(ticket)
        if wait is not None:
            cell["waits"].append(wait)
    figures: dict[str, dict[str, dict[str, Any]]] = {}
    for line, hours in raw.items():
        for hour, cell in hours.items():
            waits = cell.pop("waits")
            cell["medianWait"] = round(statistics.median(waits), 1) if waits else None
            cell["p90Wait"] = round(quantile(waits, 0.9), 1) if waits else None
            figures.setdefault(line, {})[hour] = cell
    return figures


def profile(days: list[dict[str, dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    """One weekday's hours over several weeks (each day: hour -> figures): typical load and waits."""
    merged: dict[str, dict[str, list[float]]] = {}
    for hours in days:
        for hour, cell in hours.items():
            slot = merged.setdefault(hour, {"issued": [], "median": [], "p90": []})
            slot["issued"].append(cell.get("issued", 0))
            if cell.get("medianWait") is not None:
                slot["median"].append(cell["medianWait"])
            if cell.get("p90Wait") is not None:
                slot["p90"].append(cell["p90Wait"])
    return {
        hour: {
            "days": len(slot["issued"]),
            "issued": round(statistics.mean(slot["issued"]), 1),
            "medianWait": round(statistics.median(slot["median"]), 1) if slot["median"] else None,
            "p90Wait": round(statistics.median(slot["p90"]), 1) if slot["p90"] else None,
        }
        for hour, slot in sorted(merged.items())
    }


def best_hours(hours: dict[str, dict[str, Any]], opens: time, closes: time, count: int = 2) -> list[str]:
    """The opening hours with the shortest typical wait (ties: fewer tickets), earliest first."""
    candidates = [
        (cell["medianWait"], cell.get("issued", 0), hour)
        for hour, cell in hours.items()
        if cell.get("medianWait") is not None and opens.hour <= int(hour) < closes.hour + (closes.minute > 0)
    ]
    return sorted(hour for _, _, hour in sorted(candidates)[:count])


def negotiate_language(chosen: str | None, accept_language: str | None) -> str:
    """`?lang=` when it is one of ours, else the best Accept-Language range we write in, else
    Japanese: the one negotiation of every resident route (domain/languages.py)."""
    from chalicelib.domain.languages import negotiate

    return negotiate(accept_language, chosen)
