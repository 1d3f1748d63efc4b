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
import unicodedata
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta, timezone
from functools import cache
from ipaddress import IPv4Network, IPv6Network, ip_address, ip_network
from typing import Any

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
        raise Invalid(
            "ticket number must be 1-16 letters, digits or '-', starting with a letter or digit",
            code="invalid_ticket",
        )
    # Counter names as people read them: "１番" from a machine set to full-width is counter "1番".
    counter = unicodedata.normalize("NFKC", counter or "").strip() or None
    if counter is not None and len(counter) > MAX_COUNTER:
        raise Invalid(f"a counter is named in at most {MAX_COUNTER} characters", code="invalid_counter")
    if kind == "called" and not counter:
        raise Invalid("a call names its counter", code="counter_required")
    return QueueEvent(source.id, event_id, office.id, line, number, kind, at, counter)


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
    settled = (now - timedelta(minutes=PRESUMED_GONE_MINUTES)).timestamp()
    joined = [call[2] for call in live.calls if call[0] <= settled and call[2] is not None]
    if not joined:
        return live.waiting
    passed = max(joined)
    return sum(1 for at in live.queue.values() if at is None or at >= passed)


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


# --- the estimate ------------------------------------------------------------------------------
#
# The wait of a resident with k people ahead is the time until the (k + 1)-th call from now. The
# line's pace (calls per minute with every open counter busy) is measured from its latest first
# calls: a gap between two consecutive calls during which the next one called was already
# waiting is a stretch with every open counter busy (in one queue nobody waits while a counter is
# free), so such gaps fold open counters, service times, no-shows and recalls into one figure.
# Each is rescaled by the counters usually open in its hour (history) against now, and the pace
# to come follows that staffing hour by hour (the lunch break, the first half hour). This hour's
# history, else the configured service time and counters, is the prior. The wait is taken as
# gamma-distributed around the estimate, and the published bucket is the one that holds it with
# probability >= COVERAGE and whose middle is the closest to it on average (`choose_bucket`).

# The ranges a resident sees, in minutes (Sakai-style buckets: 約10〜15分, 30分以上; finer below
# a quarter of an hour, where two minutes are a lot of the wait). Above the last edge the range
# is open ("180分以上"). Nobody ahead and a counter free now: 0-0, "no wait" (すぐご案内), where
# history confirms that many counters are usually open this hour, else "1分未満".
BUCKET_EDGES = (0, 1, 2, 3, 4, 5, 6, 8, 10, 12, 15, 20, 25, 30, 40, 50, 60, 75, 90, 120, 150, 180)
NO_WAIT = (0, 0)
# A counter that called in this many minutes and is serving no one counts as free (if history
# says that many are usually open this hour); quiet lines' counters can idle for a long while.
FREE_WINDOW_MINUTES = 60
# The pace is measured over this many minutes of the day's latest first calls.
PACE_WINDOW_MINUTES = 240
# How many calls' worth of weight the prior pace (history, else the configured one) carries.
PRIOR_CALLS = 10.0
# The first call comes this share of a typical gap after the issue, on average: a random moment
# falls part-way through a gap (about 0.7 for a counter or two with regular services, 1 for many
# counters calling at random); measured on the earlier simulated days.
FIRST_CALL = 0.7
# The wait's spread: the first call is about as variable as an exponential stretch, each later
# one varies as a service does (the squared coefficient of variation of recent services, else
# SERVICE_CV2), the pace is known from `evidence` calls (its error shrinks likewise), and the
# pace drifts by DRIFT during a wait.
SERVICE_CV2 = 0.5
DRIFT = 0.1
# The published bucket holds the wait with at least this probability under that model (chosen
# with bench/queue_estimate.py --tune on the earlier simulated days only: >= 85 % of real waits
# inside there, a margin for days not seen; the model's spread and the edges add to it; the MAE
# varies by 1-2 % over 0.6-0.8).
COVERAGE = 0.7
# A range reaches no further into either tail of that model (this share of waits) than the edge
# next to it.
TAIL = 0.05


@dataclass(frozen=True)
class Estimate:
    low: float  # minutes: the published range
    high: float | None  # None: "low or more"
    basis: str  # recent | history | default: what the pace rests on
    median: float = 0.0  # the model's middle figure, minutes

    @property
    def bucket(self) -> tuple[int, int | None]:
        return bucket(self.low, self.high)


def bucket(low: float, high: float | None) -> tuple[int, int | None]:
    """The published range: the bucket edges around [low, high]; None above the last edge;
    (0, 0) for no wait at all."""
    if high is not None and high <= 0:
        return NO_WAIT
    lo = max(edge for edge in BUCKET_EDGES if edge <= max(low, 0))
    if high is None:
        return lo, None
    above = [edge for edge in BUCKET_EDGES if edge >= high and edge > lo]
    return lo, (above[0] if above else None)


def free_counters(
    live: Live,
    now: datetime,
    window_minutes: int,
    configured: int,
    staffing: dict[int, float],
    serving_minutes: float = math.inf,
) -> int:
    """Counters free now: those that called in the last `window_minutes` (the configured ones
    before the line's first call), no more than history says are usually open this hour (a
    counter closes for lunch without a word: one that called at 11:50 may be shut at 12:05),
    less those serving someone: called less than `serving_minutes` ago (`longest_service`)."""
    counters = open_counters(live, now, window_minutes) or configured
    usual = staffing.get(now.astimezone(TOKYO).hour)
    if usual:  # a median between days (2.5: one day in two a counter short) caps at the larger
        counters = min(counters, math.ceil(usual))
    since = iso(now - timedelta(minutes=serving_minutes)) if serving_minutes < math.inf else ""
    serving = [call for call in now_calling(live).values() if (call.get("at") or "") >= since]
    return max(0, counters - len(serving))


# A call is presumed served (its "served" lost) once it has gone on half again as long as the
# longest of the line's kept services (1.5: no cost on the simulated days with no loss, where a
# service can outlast the longest of the last 30), or with too few kept, three times the
# configured service (a log-normal service rarely runs past three times its typical length).
LONGEST_SERVICE_FACTOR_OF_KEPT = 1.5
LONGEST_SERVICE_FACTOR_OF_CONFIGURED = 3.0


def longest_service(live: Live, configured_minutes: float, enough: int) -> float:
    """How long a call may go on before it is presumed served (minutes). Vendors lose events: a
    lost "served" must not leave its counter looking busy until it calls again, which on a quiet
    line hides the free counter from everyone who arrives meanwhile."""
    if len(live.services) >= enough:
        longest = max(float(seconds) for _, seconds in live.services) / 60
        return LONGEST_SERVICE_FACTOR_OF_KEPT * longest
    return LONGEST_SERVICE_FACTOR_OF_CONFIGURED * configured_minutes


def bucket_middle(low: int, high: int | None) -> float:
    """The single figure a bucket stands for (the open top one: a quarter above its edge)."""
    return (low + high) / 2 if high is not None else low * 1.25


def gamma_cdf(shape: float, x: float) -> float:
    """The regularised lower incomplete gamma function P(shape, x) (series, or continued fraction)."""
    if x <= 0:
        return 0.0
    log_front = shape * math.log(x) - x - math.lgamma(shape)
    if x < shape + 1:
        term = total = 1 / shape
        n = shape
        for _ in range(1000):
            n += 1
            term *= x / n
            total += term
            if abs(term) < abs(total) * 1e-12:
                break
        return min(1.0, total * math.exp(log_front))
    tiny = 1e-300  # Lentz's method for the upper part
    b = x + 1 - shape
    c, d = 1 / tiny, 1 / b
    h = d
    for i in range(1, 1000):
        an = -i * (i - shape)
        b += 2
        d = an * d + b
        d = tiny if abs(d) < tiny else d
        c = b + an / c
        c = tiny if abs(c) < tiny else c
        d = 1 / d
        h *= d * c
        if abs(d * c - 1) < 1e-12:
            break
    return max(0.0, 1 - math.exp(log_front) * h)


def choose_bucket(mean: float, cv2: float, coverage: float) -> tuple[int, int | None]:
    """For a gamma-distributed wait (`mean` minutes, squared coefficient of variation `cv2`): of
    the ranges between bucket edges that hold it with probability >= `coverage` and reach no
    further into either TAIL than the edge next to it, the one whose middle is the closest to the
    wait on average (least expected absolute difference), then the narrowest. A wait is skewed,
    so the tightest such range sits above its median; starting it an edge lower brings the middle
    closer, and the tails keep it from buying a better middle with a far wider range ("4〜75分"
    for 40). Open-ended ("180分以上") only where no bounded range from its edge holds enough."""
    shape, scale = 1 / cv2, max(mean, 1e-6) * cv2

    def expected_error(a: float) -> float:  # E|W - a| = a(2F(a) - 1) + E[W] - 2 E[W; W < a]
        below = gamma_cdf(shape, a / scale)
        return a * (2 * below - 1) + mean - 2 * mean * gamma_cdf(shape + 1, a / scale)

    held = [gamma_cdf(shape, edge / scale) for edge in BUCKET_EDGES]
    best: tuple[int, int | None] = (BUCKET_EDGES[-1], None)
    least = (math.inf, math.inf)
    for i, low in enumerate(BUCKET_EDGES):
        if i + 1 < len(BUCKET_EDGES) and held[i + 1] <= TAIL:
            continue  # the next edge up is still below nearly every wait
        tops: list[int | None] = [
            high
            for j, high in enumerate(BUCKET_EDGES)
            if j > i and held[j] - held[i] >= coverage and held[j - 1] < 1 - TAIL
        ]
        if not tops and 1 - held[i] >= coverage:
            tops = [None]
        for high in tops:
            key = (expected_error(bucket_middle(low, high)), math.inf if high is None else high - low)
            if key < least:
                best, least = (low, high), key
    return best


def variation(values: list[float]) -> float:
    """The squared coefficient of variation (variance / mean²) of some durations."""
    mean = statistics.fmean(values)
    return statistics.pvariance(values) / mean**2 if mean > 0 else 0.0


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        raise ValueError("no values")
    position = (len(ordered) - 1) * q
    below = math.floor(position)
    above = min(below + 1, len(ordered) - 1)
    return ordered[below] + (ordered[above] - ordered[below]) * (position - below)


@dataclass(frozen=True)
class Gap:
    """A stretch of a line's day with every open counter busy, and the calls that ended it."""

    start: datetime
    minutes: float
    calls: int  # 1 between two calls; 0 for the stretch since the last call, still running


def busy_gaps(calls: list[list[Any]], now: datetime, window_minutes: int, waiting: int) -> list[Gap]:
    """The gaps between consecutive first calls (`Live.calls`) of the last `window_minutes`
    during which the next one called was already waiting; with people waiting now, also the
    stretch since the last call (a line that stopped calling slows down)."""
    since, until = (now - timedelta(minutes=window_minutes)).timestamp(), now.timestamp()
    found = []
    for before, after in zip(calls, calls[1:], strict=False):
        if since <= after[0] <= until and after[2] is not None and after[2] <= before[0]:
            found.append(Gap(datetime.fromtimestamp(before[0], UTC), (after[0] - before[0]) / 60, 1))
    if waiting > 0 and calls and calls[-1][0] <= until:
        last = max(calls[-1][0], since)
        found.append(Gap(datetime.fromtimestamp(last, UTC), (until - last) / 60, 0))
    return found


def _staffing(staffing: dict[int, float], hour: int, reference: int) -> float:
    """The counters usually open in `hour` relative to `reference` (1 where history is silent)."""
    now, then = staffing.get(reference), staffing.get(hour)
    return then / now if now and then else 1.0


def pace(
    gaps: list[Gap], prior: tuple[float, str], staffing: dict[int, float], now: datetime, min_calls: int
) -> tuple[float, float, str]:
    """Calls per minute with every counter busy now, the calls it rests on, and its basis.

    A gamma-Poisson update: the prior pace counts as PRIOR_CALLS calls; each busy gap adds its
    calls and its minutes, rescaled to the counters usually open now, so the calls made before
    the lunch break do not speak for the break.
    """
    hour = now.astimezone(TOKYO).hour
    calls = sum(gap.calls for gap in gaps)
    minutes = sum(gap.minutes * _staffing(staffing, gap.start.astimezone(TOKYO).hour, hour) for gap in gaps)
    per_minute = (calls + PRIOR_CALLS) / (minutes + PRIOR_CALLS / max(prior[0], 1e-6))
    return per_minute, calls + PRIOR_CALLS, "recent" if calls >= min_calls else prior[1]


def minutes_for(calls: float, per_minute: float, staffing: dict[int, float], now: datetime) -> float:
    """How long `calls` calls take from now at `per_minute`, following the usual staffing by hour."""
    local = now.astimezone(TOKYO)
    minute = local.minute + local.second / 60
    spent, left = 0.0, calls
    for step in range(24):
        rate = per_minute * max(_staffing(staffing, local.hour + step, local.hour), 0.25)
        room = 60 - minute if step == 0 else 60.0
        if rate * room >= left or step == 23:
            return spent + left / rate
        spent, left = spent + room, left - rate * room
    return spent  # pragma: no cover - the loop returns at step 23


def estimate(
    ahead: int,
    now: datetime,
    gaps: list[Gap],
    prior: tuple[float, str],
    staffing: dict[int, float] | None = None,
    free: int = 0,
    min_calls: int = 5,
    service_cv2: float | None = None,
) -> Estimate:
    """The wait of someone with `ahead` people before them, as a published range in minutes.

    `gaps`: the line's recent busy gaps (`busy_gaps`); `prior`: (calls per minute, basis) from
    this hour's history or the configuration; `staffing`: counters usually open by Tokyo hour;
    `free`: counters free now (`free_counters`); fewer people ahead than that: called at once
    (in one queue nobody waits while a counter is free, so those ahead are being called now or
    are phantoms whose call was lost), published as no wait (0-0) where history knows the
    counters usually open this hour (so a break cannot hide behind a recent call), else "1分未満";
    `service_cv2`: the variation of recent services, when known.
    """
    staffing = staffing or {}
    per_minute, evidence, basis = pace(gaps, prior, staffing, now, min_calls)
    if ahead < free:
        if staffing.get(now.astimezone(TOKYO).hour):
            return Estimate(*NO_WAIT, basis, 0.0)
        return Estimate(0, BUCKET_EDGES[1], basis, 0.0)
    mean = minutes_for(ahead + FIRST_CALL, per_minute, staffing, now)
    spread = SERVICE_CV2 if service_cv2 is None else service_cv2
    cv2 = (FIRST_CALL**2 + ahead * spread) / (ahead + FIRST_CALL) ** 2 + spread / evidence + DRIFT**2
    low, high = choose_bucket(mean, cv2, COVERAGE)
    # A gamma's median sits about a third of its variance-to-mean below its mean.
    return Estimate(low, high, basis, mean * max(0.0, 1 - cv2 / 3))


def history_pace(
    profile: dict[str, dict[str, dict[str, Any]]] | None, weekday: int, hour: int, min_calls: int
) -> tuple[dict[int, float], float | None]:
    """From a line's profile (weekday -> hour -> figures): the counters usually open by hour
    (this weekday's, else the median over all weekdays), and this hour's pace with every counter
    busy, in calls per minute (all weekdays' busy gaps of this hour; None below `min_calls`)."""
    by_weekday: dict[int, list[float]] = {}
    own: dict[int, float] = {}
    calls = minutes = 0.0
    for day, hours in (profile or {}).items():
        for name, cell in hours.items():
            if cell.get("counters"):
                by_weekday.setdefault(int(name), []).append(float(cell["counters"]))
                if day == str(weekday):
                    own[int(name)] = float(cell["counters"])
            if int(name) == hour:
                calls += float(cell.get("busyCalls") or 0)
                minutes += float(cell.get("busyMinutes") or 0)
    staffing = {h: own.get(h, statistics.median(values)) for h, values in by_weekday.items()}
    return staffing, (calls / minutes if calls >= min_calls and minutes > 0 else None)


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
    pace = _pace_by_hour(tickets)
    figures: dict[str, dict[str, dict[str, Any]]] = {}
    for line, hours in raw.items():
        for hour, cell in hours.items():
            waits = cell.pop("waits")
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


def profile(days: list[dict[str, dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    """One weekday's hours over several weeks (each day: hour -> figures): typical load and waits."""
    merged: dict[str, dict[str, list[float]]] = {}
    for hours in days:
        for hour, cell in hours.items():
            slot = merged.setdefault(
                hour,
                {"issued": [], "median": [], "p90": [], "counters": [], "busyCalls": [], "busyMinutes": []},
            )
            slot["issued"].append(cell.get("issued", 0))
            if cell.get("medianWait") is not None:
                slot["median"].append(cell["medianWait"])
            if cell.get("p90Wait") is not None:
                slot["p90"].append(cell["p90Wait"])
            if cell.get("counters"):
                slot["counters"].append(cell["counters"])
            slot["busyCalls"].append(cell.get("busyCalls") or 0)
            slot["busyMinutes"].append(cell.get("busyMinutes") or 0)
    return {
        hour: {
            "days": len(slot["issued"]),
            "issued": round(statistics.mean(slot["issued"]), 1),
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
