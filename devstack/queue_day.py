"""A realistic day at the ward office's windows, simulated (seeded), for `make queue-sim` and the bench.

Per service line: residents arrive by hour (a morning peak, a smaller one after lunch, Mondays
and the day after a holiday busier), take a ticket and wait in one FIFO queue served by a number
of counters that changes through the day (fewer over lunch); a service takes a log-normally
distributed time whose typical length drifts from day to day (staff, season, the mix of cases),
so the configured default is only roughly right. Some residents are not there when called
(a recall, then a no-show), a few give up and cancel, and a few are transferred to another line.
The output is the events a ticket machine would send, each with its true time, and each ticket's
true wait (issue to first call).
"""

from __future__ import annotations

import heapq
import math
import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from chalicelib.domain import queue as rules

# Arrivals per hour at a counter line with 1.0 weight, by Tokyo hour (8 = 08:30-09:00).
HOURLY_ARRIVALS = {8: 20, 9: 36, 10: 40, 11: 32, 12: 22, 13: 32, 14: 28, 15: 22, 16: 12}
LINE_WEIGHT = {"jumin": 1.0, "koseki": 0.2, "kokuho": 0.35, "zeimu": 0.4}
WEEKDAY_WEIGHT = {0: 1.2, 1: 1.0, 2: 0.95, 3: 0.95, 4: 1.1}
STAFF_SHORT = 0.2
NO_SHOW = 0.04
CANCEL = 0.015
TRANSFER = 0.02
RECALL_AFTER = 90  # seconds
NO_SHOW_AFTER = 180
# A service's length: log-normal with this shape around the day's typical length, which is the
# configured one times a factor drawn from TYPICAL_DRIFT each day (the mix of cases, the staff).
SERVICE_SIGMA = 0.55
TYPICAL_DRIFT = (0.85, 1.25)


@dataclass(order=True)
class SimEvent:
    at: datetime
    seq: int
    type: str = field(compare=False)
    line: str = field(compare=False)
    number: str = field(compare=False)
    counter: str | None = field(compare=False, default=None)

    @property
    def event_id(self) -> str:
        return f"sim-{self.number}-{self.type}-{self.seq}"


@dataclass
class SimTicket:
    number: str
    line: str
    issued_at: datetime
    called_at: datetime | None = None
    ahead_at_issue: int = 0


@dataclass
class SimDay:
    day: date
    events: list[SimEvent]
    tickets: dict[str, SimTicket]


def _counters(full: int, minute: float) -> int:
    """Counters open at `minute` after 08:30: fewer over lunch, one fewer in the first half hour."""
    if 210 <= minute < 270:  # 12:00-13:00
        return max(1, full - 1 if full <= 2 else full - 2)
    if minute < 30:
        return max(1, full - 1)
    return full


def simulate(seed: int, day: date, office: rules.Office | None = None) -> SimDay:
    """One day of one office (default: the main office)."""
    rng = random.Random(f"{seed}-{day.isoformat()}")
    office = office or rules.config().office("honcho")
    assert office is not None
    opens = datetime.combine(day, office.opens, rules.TOKYO).astimezone(UTC)
    close_minute = (office.closes.hour * 60 + office.closes.minute) - (
        office.opens.hour * 60 + office.opens.minute
    )
    busy = WEEKDAY_WEIGHT.get(day.weekday(), 1.0) * rng.uniform(0.9, 1.1)
    events: list[SimEvent] = []
    tickets: dict[str, SimTicket] = {}
    seq = 0

    def emit(at: datetime, kind: str, line: str, number: str, counter: str | None = None) -> None:
        nonlocal seq
        seq += 1
        events.append(SimEvent(at, seq, kind, line, number, counter))

    lines = list(office.lines)
    # Today's typical service time per line: the configured one, off by -15% to +25% (the mix of
    # cases, the staff on duty); and on about one day in five a line with 3+ counters has one fewer staffed.
    typical = {line.id: line.default_service_minutes * rng.uniform(*TYPICAL_DRIFT) for line in lines}
    staffed = {
        line.id: line.counters - int(line.counters > 2 and rng.random() < STAFF_SHORT) for line in lines
    }
    prefixes = {line.id: "ABCDEFGH"[index] for index, line in enumerate(lines)}
    transfers_in: dict[str, list[tuple[float, str]]] = {line.id: [] for line in lines}
    for line in lines:
        # Arrivals: a Poisson process whose rate follows the hour.
        arrivals: list[float] = []
        minute = 0.0
        while True:
            hour = 8 + int((minute + 30) // 60)
            rate = HOURLY_ARRIVALS.get(hour, 0) * LINE_WEIGHT.get(line.id, 0.5) * busy / 60
            if rate <= 0:
                break
            minute += rng.expovariate(rate)
            if minute >= close_minute - 10:
                break
            arrivals.append(minute)
        for index, minute in enumerate(arrivals, start=1):
            number = f"{prefixes[line.id]}{index:03d}"
            at = opens + timedelta(minutes=minute)
            tickets[number] = SimTicket(number, line.id, at)
            emit(at, "issued", line.id, number)

    # Serve each line: FIFO, counters free at given times, changing with the hour.
    by_line: dict[str, list[SimTicket]] = {}
    for ticket in tickets.values():
        by_line.setdefault(ticket.line, []).append(ticket)
    for line in lines:
        queue = sorted(by_line.get(line.id, []), key=lambda t: t.issued_at)
        free: list[tuple[float, int]] = [(0.0, c) for c in range(1, staffed[line.id] + 1)]
        heapq.heapify(free)
        mu = math.log(typical[line.id]) - SERVICE_SIGMA**2 / 2
        # Tickets transferred in from other lines join this queue when they were transferred.
        arrivals = [((t.issued_at - opens).total_seconds() / 60, t) for t in queue]
        arrivals += [(minute, tickets[number]) for minute, number in transfers_in.get(line.id, [])]
        arrivals.sort(key=lambda pair: pair[0])
        for issued, ticket in arrivals:
            # A few give up after a while; whoever is called before that did not.
            gives_up = issued + rng.uniform(5, 25) if rng.random() < CANCEL else None
            while True:
                at, counter = heapq.heappop(free)
                start = max(at, issued)
                if counter <= _counters(staffed[line.id], start):
                    break
                # This counter is closed now: it opens again at the next change (09:00, or after lunch).
                heapq.heappush(free, (30.0 if start < 30 else 270.0, counter))
            if gives_up is not None and gives_up < start:
                heapq.heappush(free, (at, counter))
                emit(opens + timedelta(minutes=gives_up), "cancelled", line.id, ticket.number)
                ticket.called_at = None
                continue
            called = opens + timedelta(minutes=start)
            if ticket.line == line.id:  # a transferred ticket's wait ended with its first call
                ticket.called_at = called
            emit(called, "called", line.id, ticket.number, str(counter))
            if rng.random() < NO_SHOW:
                emit(
                    called + timedelta(seconds=RECALL_AFTER), "recalled", line.id, ticket.number, str(counter)
                )
                emit(called + timedelta(seconds=NO_SHOW_AFTER), "no_show", line.id, ticket.number)
                heapq.heappush(free, (start + NO_SHOW_AFTER / 60, counter))
                continue
            service = min(rng.lognormvariate(mu, SERVICE_SIGMA), 60.0)
            if rng.random() < TRANSFER and line.id in ("jumin", "koseki") and office.line("kokuho"):
                emit(called + timedelta(minutes=service * 0.3), "transferred", "kokuho", ticket.number)
                transfers_in["kokuho"].append((start + service * 0.3, ticket.number))
                heapq.heappush(free, (start + service * 0.3, counter))
                continue
            emit(called + timedelta(minutes=service), "served", line.id, ticket.number)
            heapq.heappush(free, (start + service, counter))
    events.sort()
    return SimDay(day, events, tickets)


def with_faults(
    events: list[SimEvent], seed: int, duplicate: float = 0.02, reorder: float = 0.02
) -> list[SimEvent]:
    """The events as a ticket machine delivers them: a few sent twice, a few late (out of order)."""
    rng = random.Random(seed)
    out: list[SimEvent] = []
    for event in events:
        out.append(event)
        if rng.random() < duplicate:
            out.append(event)
    for index in range(len(out) - 3):
        if rng.random() < reorder:
            out[index], out[index + 2] = out[index + 2], out[index]
    return out
