"""Window queues: the normalised ticket event, the per-ticket state machine, a line's live state,
ticket links, "nearly your turn" notices and hourly history (the wait estimate is in
`domain.queue_estimate`). Pure: no I/O besides reading the ward's data file.

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
import unicodedata
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta, timezone
from functools import cache
from ipaddress import IPv4Network, IPv6Network, ip_address, ip_network
from typing import Any

from chalicelib.domain import json_text
from chalicelib.domain import queue_opendata as opendata
from chalicelib.domain.errors import Invalid
from chalicelib.domain.ward import DATA_DIR

TOKYO = timezone(timedelta(hours=9), "JST")
IPNetwork = IPv4Network | IPv6Network

TYPES = ("issued", "called", "recalled", "served", "no_show", "cancelled", "transferred", "closed")
# `closed` is madoguchi's own: the nightly close-out (or a staff reset) ends a ticket left open.
VENDOR_TYPES = TYPES[:-1]
WAITING, CALLED = "waiting", "called"
FINISHED = frozenset({"served", "no_show", "cancelled", "closed"})
TICKET_NUMBER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,15}$")
MAX_COUNTER = 16
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
    # The addresses it may send from (none listed: any). Required of a vendor that cannot sign,
    # whose token header anyone who sees one request could replay.
    allowed_networks: tuple[IPNetwork, ...] = ()

    def allows(self, address: str | None) -> bool:
        if not self.allowed_networks:
            return True
        try:
            ip = ip_address(address or "")
        except ValueError:
            return False
        return any(ip in network for network in self.allowed_networks)


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
            allowed_networks=tuple(ip_network(cidr) for cidr in src.get("allowedNetworks", [])),
        )
        for src in raw["sources"]
    )
    unfenced = [src.id for src in sources if src.adapter == "shared_secret" and not src.allowed_networks]
    if unfenced:  # fail closed: a replayable token alone must never be enough
        raise ValueError(f"queue sources without a signature need allowedNetworks: {unfenced}")
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
    try:
        return moment.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00+09:00 has no UTC time
        raise Invalid("time is out of range", code="invalid_time") from None


def event_id(
    vendor_id: str | None, office: str, line: str, number: str, kind: str, at: datetime, counter: str | None
) -> str:
    """What madoguchi knows an event by (the inbox's dedupe, a ticket's events).

    With the vendor's id: that id, scoped to the ticket's day, number and the kind of event, so
    a redelivery is one event (even restamped) but an id the vendor uses again (a per-day
    counter, another ticket, the next step of the same ticket) is not dropped as one. Without:
    a hash of everything the event says, after normalising, so a body serialised again (spaces,
    key order) is the same event, and a second call of a ticket at another time is not.
    """
    day = at.astimezone(TOKYO).date().isoformat()
    said = [office, day, number, kind] if vendor_id else [office, line, number, kind, iso(at), counter or ""]
    digest = hashlib.sha256("\x1f".join(said).encode()).hexdigest()
    return f"{vendor_id}~{digest[:12]}" if vendor_id else f"h-{digest[:32]}"


def normalised(
    source: Source,
    vendor_id: str | None,
    line: str,
    number: str,
    kind: str,
    at: datetime,
    counter: str | None,
) -> QueueEvent:
    """The event checked against the source's office and lines (Invalid when it names others),
    known by `event_id`."""
    office = config().office(source.office)
    if office is None or office.line(line) is None:
        raise Invalid(f"unknown service line {line!r} for this source", code="unknown_line")
    if kind not in VENDOR_TYPES:
        raise Invalid(f"unknown event type {kind!r}", code="unknown_type")
    if not TICKET_NUMBER.fullmatch(number):
        raise Invalid(
            "ticket number must be 1-16 letters, digits or '-', starting with a letter or digit",
            code="invalid_ticket",
        )
    # Counter names as people read them: "１番" from a machine set to full-width is counter "1番".
    counter = unicodedata.normalize("NFKC", counter or "").strip() or None
    if counter is not None and not json_text.visible(counter):
        counter = None  # nothing a reader would see ("\u200b"): no counter named
    if json_text.UNTYPEABLE.search((vendor_id or "") + (counter or "")):
        raise Invalid("event ids and counter names hold no control or bidi characters", code="invalid_text")
    if counter is not None and len(counter) > MAX_COUNTER:
        raise Invalid(f"a counter is named in at most {MAX_COUNTER} characters", code="invalid_counter")
    if kind == "called" and not counter:
        raise Invalid("a call names its counter", code="counter_required")
    known_by = event_id(vendor_id, office.id, line, number, kind, at, counter)
    return QueueEvent(source.id, known_by, office.id, line, number, kind, at, counter)


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
    # When it joined its current line's queue: its issue, or its transfer to this line.
    queued_at: datetime | None = None


# Events of one ticket at the same instant (one-second stamps): the natural order of its life. A
# transfer comes before a call, as the new line's free counter calls a transferred ticket at once
# (a call then a transfer in one second would be a service of no length).
SAME_INSTANT = ("issued", "transferred", "called", "recalled", "served", "no_show", "cancelled", "closed")


def _order(event: dict[str, Any]) -> tuple[str, int, str]:
    # Then the id, so every process folds alike.
    return (event["at"], SAME_INSTANT.index(event["type"]), event["id"])


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


CLOSE_OUT_SOURCE = "madoguchi"


def close_out(office: str, line: str, number: str, day: date, at: datetime, reset: bool) -> QueueEvent:
    """madoguchi's own end of a ticket whose events were lost: the nightly close-out (one id a
    day) or a line's staff reset (one id a reset), so that applying it twice closes once."""
    event_id = f"closeout#{day.isoformat()}#{iso(at)}" if reset else f"closeout#{day.isoformat()}"
    return QueueEvent(CLOSE_OUT_SOURCE, event_id, office, line, number, "closed", at, ticket_day=day)


def open_at_reset(ticket: Ticket, events: list[dict[str, Any]], reset_at: datetime) -> bool:
    """The ticket was in its line's queue when staff reset the line, and is still open: the reset
    closed the tickets it knew, and one it did not (its events were late, a ticket machine's
    backlog) is closed as of the reset too, or it would be counted as waiting again."""
    if ticket.status in FINISHED:
        return False
    joined = ticket.queued_at or min(parse_time(e["at"]) for e in events)
    return joined <= reset_at


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
            ticket = replace(ticket, issued_at=ticket.issued_at or at, queued_at=ticket.queued_at or at)
        elif kind in ("called", "recalled"):
            if line != ticket.line:
                # Called at another line's counter: its transfer was lost. Counters are named per
                # line, so leaving it here would put it at this line's counter of the same name.
                ticket = replace(ticket, line=line, called_at=None, counter=None, queued_at=None)
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
            ticket = replace(ticket, line=line, status=WAITING, called_at=None, counter=None, queued_at=at)
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
    # number -> when it joined this line's queue (Unix seconds, None if unknown): tickets waiting.
    queue: dict[str, int | None] = field(default_factory=dict)
    # number -> {"counter", "at"}: tickets called and not yet finished.
    calling: dict[str, dict[str, Any]] = field(default_factory=dict)
    # counter -> ISO time of its latest call: a counter that called recently is open.
    counters: dict[str, str] = field(default_factory=dict)
    # [[ISO end, seconds], ...]: the latest completed services, oldest first.
    services: list[list[Any]] = field(default_factory=list)
    last_event_at: str | None = None
    # The Tokyo day these figures are for: numbers and counts start afresh every day.
    day: str | None = None
    # [[first call, number, joined the queue or None], ...] (Unix seconds): the latest first calls
    # of this line's tickets, oldest first; the line's pace comes from them (see `busy_gaps`).
    calls: list[list[Any]] = field(default_factory=list)

    @property
    def waiting(self) -> int:
        """Tickets waiting as their events tell it (see `waiting_now` for what residents see)."""
        return len(self.queue)

    def to_dict(self) -> dict[str, Any]:
        return {
            "day": self.day,
            "waiting": self.waiting,
            "queue": self.queue,
            "calling": self.calling,
            "counters": self.counters,
            "services": self.services,
            "calls": self.calls,
            "lastEventAt": self.last_event_at,
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any] | None) -> Live:
        raw = raw or {}
        return cls(
            queue={
                number: None if at is None else int(at) for number, at in (raw.get("queue") or {}).items()
            },
            calling=dict(raw.get("calling") or {}),
            counters=dict(raw.get("counters") or {}),
            services=[list(item) for item in raw.get("services") or []],
            last_event_at=raw.get("lastEventAt"),
            day=raw.get("day"),
            calls=[list(item) for item in raw.get("calls") or []],
        )

    def for_day(self, day: str) -> Live | None:
        """These figures if they are `day`'s, fresh ones for a later day, None for an earlier day."""
        if self.day == day:
            return self
        if self.day is None or self.day < day:
            return Live(day=day)
        return None


# How many first calls a line keeps: bounded (about 2.5 KB), enough for a busy line's last hours.
RECENT_CALLS = 80


def _call_entry(ticket: Ticket) -> list[Any] | None:
    if ticket.called_at is None:
        return None
    queued = round(ticket.queued_at.timestamp()) if ticket.queued_at else None
    return [round(ticket.called_at.timestamp()), ticket.number, queued]


def apply(
    live: Live,
    line: str,
    before: Ticket | None,
    after: Ticket,
    at: datetime,
    keep_services: int,
    keep_calls: int | None = None,
) -> Live:
    """Line `line`'s state after one ticket went from `before` to `after` (an event at `at`)."""

    def calls(ticket: Ticket | None) -> bool:
        return ticket is not None and ticket.line == line and ticket.status == CALLED

    queue = dict(live.queue)
    queue.pop(after.number, None)
    if after.line == line and after.status == WAITING:
        queue[after.number] = round(after.queued_at.timestamp()) if after.queued_at else None
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
    recent_calls = live.calls
    if after.line == line:
        # The ticket's first call here as its events now tell it (a late issue or call corrects
        # it), whatever the order they came in. A ticket transferred away keeps its call here.
        entry = _call_entry(after)
        mine = [item for item in recent_calls if item[1] == after.number]
        if mine != ([entry] if entry else []):
            others = [item for item in recent_calls if item[1] != after.number]
            recent_calls = sorted([*others, *([entry] if entry else [])])[-(keep_calls or RECENT_CALLS) :]
    stamp = iso(at)
    touched = before is not None and before.line == line or after.line == line
    last = max(live.last_event_at or "", stamp) if touched else live.last_event_at
    return Live(queue, calling, counters, services, last or None, live.day, recent_calls)


# A waiting ticket is presumed gone (its call or its end was lost: vendors lose events) once a
# ticket that joined the queue after it was first called this many minutes ago: one queue is
# served in order, and the margin lets events arriving out of order catch up.
PRESUMED_GONE_MINUTES = 10


def waiting_now(live: Live, now: datetime) -> int:
    """The people waiting as residents are told: the tickets waiting, less those presumed gone.
    The close-out at night (or a staff reset) ends them for good."""
    return len(waiting_joined(live, now))


def waiting_joined(live: Live, now: datetime) -> list[int | None]:
    """When each of those people joined the queue (Unix seconds, None if unknown)."""
    settled = (now - timedelta(minutes=PRESUMED_GONE_MINUTES)).timestamp()
    joined = [call[2] for call in live.calls if call[0] <= settled and call[2] is not None]
    passed = max(joined) if joined else None
    return [at for at in live.queue.values() if passed is None or at is None or at >= passed]


def now_calling(live: Live) -> dict[str, dict[str, Any]]:
    """The tickets at a counter now: of the tickets called and not finished, each counter's
    latest (by time, then number). A counter serves one resident at a time, so a vendor that
    loses or never sends "served" must not pile numbers up on the page nor keep counters busy.
    Chosen when read, not when written, so that events arriving in any order agree."""
    latest: dict[str, tuple[str, str]] = {}
    for number, call in live.calling.items():
        counter = call.get("counter")
        mine = (call.get("at") or "", number)
        if counter is None:
            latest[f"#{number}"] = mine  # no counter named: stands alone
        elif mine > latest.get(counter, ("", "")):
            latest[counter] = mine
    return {number: live.calling[number] for _, number in latest.values()}


def open_counters(live: Live, now: datetime, window_minutes: int) -> int:
    since = iso(now - timedelta(minutes=window_minutes))
    return sum(1 for stamp in live.counters.values() if stamp >= since)


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


def people_ahead(ticket: Ticket, tickets: list[Ticket], now: datetime) -> int:
    """Waiting tickets of the same line that joined its queue before this one, less those presumed
    gone as in `waiting_now` (one that joined after them was called a while ago)."""

    def joined(t: Ticket) -> str:
        moment = t.queued_at or t.issued_at
        return iso(moment) if moment else ""

    settled = now - timedelta(minutes=PRESUMED_GONE_MINUTES)
    passed = max(
        (joined(t) for t in tickets if t.line == ticket.line and t.called_at and t.called_at <= settled),
        default="",
    )
    mine = (joined(ticket), ticket.number.zfill(16))
    return sum(
        1
        for other in tickets
        if other.number != ticket.number
        and other.line == ticket.line
        and other.status == WAITING
        and (joined(other), other.number.zfill(16)) < mine
        and joined(other) >= passed
    )


def call_episode(ticket: Ticket) -> str:
    """Which call a "called" notice is about: the ticket's stay in its current line at one
    counter. A transfer, or a call to another counter, is another call, told again with its
    counter; a recall at the same counter is the same call."""
    queued = ticket.queued_at.isoformat() if ticket.queued_at else ""
    return f"{ticket.line}#{queued}#{ticket.counter or ''}"


def due_notices(
    ticket: Ticket, ahead: int, threshold: int, near_sent: bool, called_for: str | None, joined_ahead: int
) -> list[str]:
    """The pushes now due for one watch: `near` (threshold or fewer ahead) and `called` (unless
    told of this call episode already: `called_for`)."""
    due = []
    if ticket.status == CALLED and called_for != call_episode(ticket):
        due.append("called")
    elif ticket.status == WAITING and not near_sent and ahead <= threshold and joined_ahead > threshold:
        due.append("near")
    return due


# --- history -----------------------------------------------------------------------------------


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        raise ValueError("no values")
    position = (len(ordered) - 1) * q
    below = math.floor(position)
    above = min(below + 1, len(ordered) - 1)
    return ordered[below] + (ordered[above] - ordered[below]) * (position - below)


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
    pace = _pace_by_hour(tickets)
    figures: dict[str, dict[str, dict[str, Any]]] = {}
    for line, hours in raw.items():
        for hour, cell in hours.items():
            waits = cell.pop("waits")
            cell["waits"] = len(waits)  # the open data shows no wait statistic resting on fewer than k
            cell["medianWait"] = round(statistics.median(waits), 1) if waits else None
            cell["p90Wait"] = round(quantile(waits, 0.9), 1) if waits else None
            # Only hours with tickets issued: the open data's rows are these hours.
            cell.update(pace.get(line, {}).get(hour, {"counters": 0, "busyCalls": 0, "busyMinutes": 0.0}))
            figures.setdefault(line, {})[hour] = cell
    return figures


def _pace_by_hour(tickets: list[Ticket]) -> dict[str, dict[str, dict[str, Any]]]:
    """line -> Tokyo hour -> the counters that called in it, and the busy gaps (`busy_gaps`)
    that began in it: how many, and their minutes."""
    by_line: dict[str, list[tuple[datetime, Ticket]]] = {}
    for ticket in tickets:
        if ticket.called_at is not None:
            by_line.setdefault(ticket.line, []).append((ticket.called_at, ticket))
    found: dict[str, dict[str, dict[str, Any]]] = {}
    for line, called in by_line.items():
        called.sort(key=lambda pair: (pair[0], pair[1].number))
        cells: dict[str, dict[str, Any]] = {}
        counters: dict[str, set[str]] = {}
        for at, ticket in called:
            hour = f"{at.astimezone(TOKYO).hour:02d}"
            counters.setdefault(hour, set()).add(ticket.counter or "")
            cell = cells.setdefault(hour, {"counters": 0, "busyCalls": 0, "busyMinutes": 0.0})
            cell["counters"] = len(counters[hour])
        for (start, _), (end, after) in zip(called, called[1:], strict=False):
            if after.queued_at is not None and after.queued_at <= start:
                hour = f"{start.astimezone(TOKYO).hour:02d}"
                cell = cells.setdefault(hour, {"counters": 0, "busyCalls": 0, "busyMinutes": 0.0})
                cell["busyCalls"] += 1
                cell["busyMinutes"] = round(cell["busyMinutes"] + (end - start).total_seconds() / 60, 2)
        found[line] = cells
    return found


def profile(days: list[dict[str, dict[str, Any]]], k: int) -> dict[str, dict[str, Any]]:
    """One weekday's hours over several weeks (each day: hour -> figures): typical load and waits,
    which the status page and LINE publish, from what each day's open data published alone
    (k-anonymity: a mean over days would otherwise give a suppressed day away, by difference);
    the pace, which stays inside, from every hour."""
    merged: dict[str, dict[str, list[float]]] = {}
    for hours in days:
        shown = opendata.published(hours, k)
        for hour, cell in hours.items():
            slot = merged.setdefault(
                hour,
                {"issued": [], "median": [], "p90": [], "counters": [], "busyCalls": [], "busyMinutes": []},
            )
            public = shown.get(hour)
            if public is not None:
                slot["issued"].append(public["issued"])
                for name, values in (("medianWait", slot["median"]), ("p90Wait", slot["p90"])):
                    if isinstance(public[name], int | float):
                        values.append(public[name])
            if cell.get("counters"):
                slot["counters"].append(cell["counters"])
            slot["busyCalls"].append(cell.get("busyCalls") or 0)
            slot["busyMinutes"].append(cell.get("busyMinutes") or 0)
    return {
        hour: {
            "days": len(slot["issued"]),
            "issued": round(statistics.mean(slot["issued"]), 1) if slot["issued"] else None,
            "medianWait": round(statistics.median(slot["median"]), 1) if slot["median"] else None,
            "p90Wait": round(statistics.median(slot["p90"]), 1) if slot["p90"] else None,
            # The counters usually open, and the busy gaps of all these days together (a pace).
            "counters": statistics.median(slot["counters"]) if slot["counters"] else None,
            "busyCalls": sum(slot["busyCalls"]),
            "busyMinutes": round(sum(slot["busyMinutes"]), 1),
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
