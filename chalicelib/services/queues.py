"""Window queues: apply a ticket event, tell watching residents, show the live state.

`status_view(now, language)` is the one read both `GET /queue/status` and the HTML page use
(its shape is documented in docs/architecture.md, "Window queues").
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from datetime import UTC, datetime, time, timedelta
from typing import Any

from chalicelib.config import get_settings
from chalicelib.domain import messages
from chalicelib.domain import queue as rules
from chalicelib.domain import queue_estimate as estimator
from chalicelib.domain.errors import Conflict, Forbidden, Invalid, NotFound, Unavailable
from chalicelib.domain.queue import Live, QueueEvent
from chalicelib.domain.submissions import is_business_day
from chalicelib.observability import hashed, logger, metrics
from chalicelib.services.queue_ingress import ticket_secret
from chalicelib.store import queues as store
from chalicelib.store.audit import Audit
from chalicelib.store.audit import entry as audit_entry
from chalicelib.store.models import QueueTicket, QueueWatch

# Two workers on one line collide now and then; each retry reads afresh.
APPLY_ATTEMPTS = 8
# Services that ended longer ago than this say nothing about the wait now.
RECENT_SERVICES = timedelta(minutes=90)


def _day_key(office: str, day: str) -> str:
    return f"{office}#{day}"


# --- events in ---------------------------------------------------------------------------------


def apply_event(event: QueueEvent, now: datetime | None = None) -> bool:
    """Apply one normalised event to its ticket and the lines it moves, then tell the watchers
    on those lines whose turn is near; False for a duplicate.

    Safe to run twice (the ticket knows the event ids it holds) and in any order (the ticket's
    state is the fold of its events by occurred_at).
    """
    now = now or datetime.now(UTC)
    lines, applied = _apply(event, now)
    # A duplicate too: SQS delivers again the event whose notice failed to push (its claim was
    # given back for this), or whose worker died after the write (a review: "called" was lost).
    notify_watchers(event.office, event.day.isoformat(), lines, now)
    return applied


def close_ticket(event: QueueEvent, now: datetime) -> bool:
    """Apply a close-out (the nightly job, a staff reset), which ends a ticket whose events were
    lost: it moves nobody forward, so it tells no watcher (and needs no LINE token)."""
    return _apply(event, now)[1]


def _apply(event: QueueEvent, now: datetime) -> tuple[set[str], bool]:
    """The ticket and its lines written: the lines it is on, and False for a duplicate (nothing
    written)."""
    keep = rules.config().settings.recent_services
    day_key = _day_key(event.office, event.day.isoformat())
    for _ in range(APPLY_ATTEMPTS):
        item = store.get_ticket(day_key, event.number)
        events = list(item.events) if item else []
        added = rules.add(events, event)
        if added is None:
            return {item.line if item else event.line, event.line}, False
        before = rules.fold(event.number, events) if events else None
        after = rules.fold(event.number, added)
        assert after is not None
        lines = sorted({after.line} | ({before.line} if before else set()))
        states = {line: store.get_live(event.office, line) for line in lines}
        # A line reset closes the tickets it found; one it did not find (late) is closed as of it.
        line_state = states[after.line]
        reset_at = line_state.reset_at if line_state else None
        if (
            reset_at
            and reset_at.astimezone(rules.TOKYO).date() == event.day
            and rules.open_at_reset(after, added, reset_at)
        ):
            closing = rules.close_out(event.office, after.line, event.number, event.day, reset_at, reset=True)
            added = rules.add(added, closing) or added
            after = rules.fold(event.number, added) or after
        if event.type == "issued" and before is not None and before.issued_at and before.line != event.line:
            # Numbers must be unique per office and day: two lines' "001" are one ticket (architecture.md).
            logger.warning("queue ticket number issued on two lines", extra={"office": event.office})
            metrics.add_metric(name="QueueNumberClashes", unit="Count", value=1)
        writes = []
        for line in lines:
            state = states[line]
            live = Live.from_dict(state.live if state else None).for_day(event.day.isoformat())
            if live is None:
                continue  # a late event of an earlier day: its ticket changes, today's figures do not
            # A ticket machine's clock a little ahead (within the tolerance) must not date the
            # line's last update later than now, nor keep a silent line looking current longer.
            changed = rules.apply(live, line, before, after, min(event.occurred_at, now), keep)
            writes.append(
                store.LiveWrite(event.office, line, changed.to_dict(), int(state.revision) if state else 0)
            )
        ticket = QueueTicket(
            day_key,
            event.number,
            line=after.line,
            status=after.status,
            events=added,
            expires_at=now + store.TICKET_RETENTION,
        )
        if store.save_ticket_and_lines(ticket, int(item.revision) if item else 0, writes, now):
            break
        metrics.add_metric(name="QueueWriteConflicts", unit="Count", value=1)
    else:
        raise Unavailable("the line is busy; the event will be retried", code="queue_busy")
    return {after.line, *(w.line for w in writes)}, True


# --- "tell me when it is nearly my turn" -------------------------------------------------------


def read_ticket_ref(ref: str, now: datetime) -> rules.TicketRef:
    """A ticket link the ward signed, for today (Tokyo); NotFound for anything else."""
    try:
        ticket = rules.read_ticket(ticket_secret(), ref)
    except Invalid:
        raise NotFound(messages.Text("error.queue.ticket_not_found"), code="ticket_not_found") from None
    if ticket.day != now.astimezone(rules.TOKYO).date():
        raise Conflict(messages.Text("error.queue.ticket_expired"), code="ticket_expired")
    return ticket


def _folded(day_key: str) -> dict[str, rules.Ticket]:
    found = {}
    for item in store.tickets_of_day(day_key):
        ticket = rules.fold(item.number, list(item.events))
        if ticket is not None:
            found[item.number] = ticket
    return found


# Where a ticket stands, as its watch page and the watch API tell the resident.
STAGE_UNKNOWN, STAGE_FINISHED = "unknown", "finished"  # unknown: its issue has not arrived (yet)


def _stage(ticket: rules.Ticket | None) -> str:
    if ticket is None:
        return STAGE_UNKNOWN
    return STAGE_FINISHED if ticket.status in rules.FINISHED else ticket.status


def ticket_view(ref: str, language: str, now: datetime) -> dict[str, Any]:
    """What the LIFF watch page shows about a ticket: its line and where it stands (`status`:
    waiting with the people ahead, called with the counter, finished, or unknown)."""
    ticket_ref = read_ticket_ref(ref, now)
    tickets = _folded(ticket_ref.key)
    ticket = tickets.get(ticket_ref.number)
    office = rules.config().office(ticket_ref.office)
    if office is None:
        raise NotFound(messages.Text("error.queue.ticket_not_found"), code="ticket_not_found")
    line = ticket.line if ticket else None
    stage = _stage(ticket)
    return {
        "office": ticket_ref.office,
        "officeName": messages.text(f"queue.office.{office.id}", language),
        "number": ticket_ref.number,
        "line": line,
        "lineName": messages.text(f"queue.line.{line}", language) if line else None,
        "status": stage,
        "counter": ticket.counter if ticket and stage == rules.CALLED else None,
        "ahead": rules.people_ahead(ticket, list(tickets.values()), now)
        if ticket and stage == rules.WAITING
        else None,
    }


def watch(ref: str, user_id: str, ahead: int | None, language: str, now: datetime) -> dict[str, Any]:
    """Start (or change) a watch on a ticket for this resident; the near notice only if they are
    further back than the threshold when they ask."""
    from chalicelib.services import line_push

    line_push.require_following(user_id)  # the notices go by LINE push only
    settings = rules.config().settings
    threshold = settings.watch_default_ahead if ahead is None else ahead
    if not rules.MIN_AHEAD <= threshold <= rules.MAX_AHEAD:
        raise Invalid(
            messages.Text("error.queue.invalid_ahead", low=rules.MIN_AHEAD, high=rules.MAX_AHEAD),
            code="invalid_ahead",
        )
    ticket_ref = read_ticket_ref(ref, now)
    tickets = _folded(ticket_ref.key)
    ticket = tickets.get(ticket_ref.number)
    if ticket is None:  # the machine printed the link before its event reached us, or lost it
        raise Conflict(messages.Text("queue.watch.not_yet"), code="ticket_not_yet_known")
    if ticket.status == rules.CALLED:
        called = messages.Text("queue.notice.called", number=ticket.number, counter=ticket.counter or "-")
        raise Conflict(called, code="ticket_called")
    if ticket.status in rules.FINISHED:
        raise Conflict(messages.Text("queue.watch.ended"), code="ticket_finished")
    people = rules.people_ahead(ticket, list(tickets.values()), now)
    existing = store.get_watch(ticket_ref.key, ticket_ref.number, user_id)
    end_of_day = datetime.combine(ticket_ref.day + timedelta(days=1), datetime.min.time(), rules.TOKYO)
    item = QueueWatch(
        ticket_ref.key,
        store.watch_key(ticket_ref.number, user_id),
        number=ticket_ref.number,
        line_user_id=user_id,
        language=language,
        ahead=threshold,
        joined_ahead=people,
        created_at=now,
        # A notice already sent stays sent: asking again does not send it twice.
        near_sent_at=existing.near_sent_at if existing else None,
        called_sent_at=existing.called_sent_at if existing else None,
        called_for=existing.called_for if existing else None,
        expires_at=end_of_day + store.WATCH_RETENTION,
    )
    store.save_watch(item)
    logger.info("queue watch saved", extra={"user": hashed(user_id), "ahead": threshold, "people": people})
    near = people > threshold
    key = "queue.watch.saved" if near else "queue.watch.too_close"
    return {
        "number": ticket_ref.number,
        "ahead": threshold,
        "peopleAhead": people,
        "nearNotice": near,
        "message": messages.text(key, language, ahead=threshold) if near else messages.text(key, language),
    }


def stop_watch(ref: str, user_id: str, language: str, now: datetime) -> dict[str, Any]:
    """Stop this resident's notices for the ticket; `stopped` says whether they had asked for any."""
    ticket_ref = read_ticket_ref(ref, now)
    stopped = store.stop_watch(ticket_ref.key, ticket_ref.number, user_id, now)
    return {
        "number": ticket_ref.number,
        "stopped": stopped,
        "message": messages.text("queue.watch.stopped", language),
    }


def watch_state(ref: str, user_id: str, language: str, now: datetime) -> dict[str, Any]:
    """Whether this resident's notices for the ticket are on, and from how many people ahead: a
    page opened again says so (a walkthrough: it did not, and "Notify me" looked undone)."""
    ticket_ref = read_ticket_ref(ref, now)
    item = store.get_watch(ticket_ref.key, ticket_ref.number, user_id)
    watching = item is not None and item.stopped_at is None
    ahead = int(item.ahead) if watching and item is not None else None
    if ahead is None:
        message = messages.text("queue.watch.off", language)
    elif item is not None and int(item.joined_ahead or 0) <= ahead:
        message = messages.text("queue.watch.too_close", language)  # told only when called (a re-test)
    else:
        message = messages.text("queue.watch.on", language, ahead=ahead)
    return {"number": ticket_ref.number, "watching": watching, "ahead": ahead, "message": message}


def notify_watchers(office: str, day: str, lines: set[str], now: datetime) -> int:
    """Send the notices now due on `lines`, each at most once; returns how many were sent."""
    day_key = _day_key(office, day)
    watches = [w for w in store.watches_of_day(day_key) if w.stopped_at is None]
    if not watches:  # a transferred ticket's next call is due though its first was told
        return 0
    tickets = _folded(day_key)
    everyone = list(tickets.values())
    sent = 0
    for item in watches:
        ticket = tickets.get(item.number)
        if ticket is None or ticket.line not in lines:
            continue
        ahead = rules.people_ahead(ticket, everyone, now) if ticket.status == rules.WAITING else 0
        due = rules.due_notices(
            ticket,
            ahead,
            int(item.ahead),
            bool(item.near_sent_at),
            item.called_for,
            int(item.joined_ahead),
        )
        episode = rules.call_episode(ticket)
        for notice in due:
            if not store.claim_notice(item, notice, now, episode):
                continue
            try:
                _push(item, ticket, notice, ahead, office, episode)
            except Exception:
                store.release_notice(item, notice)
                raise
            sent += 1
    return sent


def _push(item: QueueWatch, ticket: rules.Ticket, notice: str, ahead: int, office: str, episode: str) -> None:
    from chalicelib.adapters.line_api import LineRejected, retry_key_for
    from chalicelib.services import line_push

    language = item.language
    line_name = messages.text(f"queue.line.{ticket.line}", language)
    if notice == "near":
        text = messages.text("queue.notice.near", language, number=ticket.number, line=line_name, ahead=ahead)
    else:
        text = messages.text(
            "queue.notice.called", language, number=ticket.number, counter=ticket.counter or "-"
        )
    # Derived from the ticket and threshold: a retry after a crash is the same send to LINE.
    key = retry_key_for(
        "queue-watch", item.day_key, item.number, item.line_user_id, notice, str(item.ahead), episode
    )
    try:
        if not line_push.to_resident(item.line_user_id, [{"type": "text", "text": text}], key):
            return
    except LineRejected as error:
        # Blocked the account, or the like: sending again would not help; the notice counts as given.
        logger.warning("queue notice refused by LINE", extra={"status": error.status})
        return
    metrics.add_metric(name="QueueNoticesSent", unit="Count", value=1)
    logger.info(
        "queue notice sent", extra={"notice": notice, "user": hashed(item.line_user_id), "office": office}
    )


# --- staff -------------------------------------------------------------------------------------


def reset_line(
    section: str, actor: str, office_id: str, line_id: str, reason: str, now: datetime
) -> dict[str, Any]:
    """Zero a line's live counts (lost events left it wrong); only the section running the line."""
    office = rules.config().office(office_id)
    line = office.line(line_id) if office else None
    if office is None or line is None:
        raise NotFound("その庁舎・窓口はありません。 / No such office or service line.", code="unknown_line")
    if line.section != section:
        raise Forbidden(
            "この窓口は他の課の担当です。 / This line is run by another section.", code="other_section"
        )
    from chalicelib.services import queue_history

    for _ in range(APPLY_ATTEMPTS):
        state = store.get_live(office_id, line_id)
        today = now.astimezone(rules.TOKYO).date().isoformat()
        live = Live.from_dict(state.live if state else None).for_day(today) or Live(day=today)
        # The counts start again; what the day taught about the line's pace stays.
        fresh = Live(
            counters=live.counters,
            services=live.services,
            last_event_at=rules.iso(now),
            day=today,
            calls=live.calls,
        )
        reset = Audit("staff", actor, "queue_reset", now, note=reason, note_visibility="internal")
        audit = audit_entry(f"queue#{office_id}#{line_id}", reset)
        if store.reset_line(
            office_id, line_id, fresh.to_dict(), int(state.revision) if state else 0, now, audit
        ):
            break
    else:
        raise Unavailable(
            "窓口の記録が混み合っています。もう一度どうぞ。 / The line is busy; try again.",
            code="queue_busy",
            retry_after=2,
        )
    # The tickets the reset forgets are closed, so late events for them cannot count them again.
    closed = queue_history.close_out(
        office_id, now.astimezone(rules.TOKYO).date().isoformat(), now, line=line_id
    )
    logger.info("queue line reset", extra={"office": office_id, "line": line_id, "was_waiting": live.waiting})
    return {
        "office": office_id,
        "line": line_id,
        "wasWaiting": live.waiting,
        "ticketsClosed": closed,
        "resetAt": now.astimezone(rules.TOKYO).isoformat(timespec="seconds"),  # as every staff answer
    }


# --- what residents see ------------------------------------------------------------------------


def _clock(moment: datetime) -> str:
    return moment.astimezone(rules.TOKYO).strftime("%H:%M")


def estimate_label(low: int, high: int | None, language: str) -> str:
    if (low, high) == estimator.NO_WAIT:
        return messages.text("queue.estimate.none", language)
    if high is None:
        return messages.text("queue.estimate.over", language, low=low)
    if low == 0:
        return messages.text("queue.estimate.under", language, high=high)
    return messages.text("queue.estimate.range", language, low=low, high=high)


def line_estimate(
    line: rules.Line, live: Live, profile: dict[str, Any] | None, ahead: int, now: datetime
) -> estimator.Estimate:
    """The range shown to someone with `ahead` people before them on `line` now (domain.queue_estimate.estimate)."""
    settings = rules.config().settings
    enough = settings.min_services_for_estimate
    local = now.astimezone(rules.TOKYO)
    staffing, history = estimator.history_pace(profile, local.weekday(), local.hour, enough)
    prior = (history, "history") if history else (line.counters / line.default_service_minutes, "default")
    gaps = estimator.busy_gaps(live.calls, now, estimator.PACE_WINDOW_MINUTES, ahead)
    # Counters free now: one that called lately, serves no one, no more than usually open now.
    longest = estimator.longest_service(live, line.default_service_minutes, enough)
    free = estimator.free_counters(live, now, estimator.FREE_WINDOW_MINUTES, line.counters, staffing, longest)
    since = rules.iso(now - RECENT_SERVICES)
    services = [float(seconds) for end, seconds in live.services if end >= since]
    spread = estimator.variation(services) if len(services) >= enough else None
    counters = estimator.counters_open(live, now, estimator.FREE_WINDOW_MINUTES, line.counters)
    return estimator.estimate(ahead, now, gaps, prior, staffing, free, enough, spread, counters)


def _best_time(
    office: rules.Office, profile: dict[str, Any] | None, now: datetime, language: str
) -> dict[str, Any]:
    weekday = now.astimezone(rules.TOKYO).weekday()
    hours = (profile or {}).get(str(weekday), {})
    best = rules.best_hours(hours, office.opens, office.closes)
    weekday_name = messages.text(f"queue.weekday.{weekday}", language)
    text = (
        messages.text(
            "queue.label.best_hours", language, weekday=weekday_name, hours=", ".join(f"{h}:00" for h in best)
        )
        if best
        else messages.text("queue.label.no_history", language)
    )
    return {
        "weekday": weekday,
        "weekdayName": weekday_name,
        "hours": [
            {
                "hour": hour,
                "issued": cell.get("issued"),
                "medianWaitMinutes": cell.get("medianWait"),
                "p90WaitMinutes": cell.get("p90Wait"),
            }
            for hour, cell in sorted(hours.items())
            if cell.get("days")  # hours the open data has published on some day
        ],
        "bestHours": best,
        "text": text,
    }


LABEL_KEYS = (
    "queue.flex.title",
    "queue.label.waiting",
    "queue.label.calling",
    "queue.label.counters",
    "queue.label.estimate",
    "queue.label.best",
    "queue.status.open",
    "queue.status.quiet",
    "queue.status.closed",
)


def status_view(now: datetime, language: str) -> dict[str, Any]:
    """Every office and line as a resident sees it now, in `language`. No personal data.

    A line that has been quiet for a while in opening hours shows no figures ("no current
    information"), never old ones; outside opening hours it shows "closed".
    """
    cfg = rules.config()
    today_date = now.astimezone(rules.TOKYO).date()
    today = today_date.isoformat()
    always_open = get_settings().queue_always_open  # a local demo after hours
    business_day = is_business_day(today_date) or always_open
    offices = []
    for office in cfg.offices:
        opening = replace(office, opens=time(0), closes=time.max) if always_open else office
        items = {item.item_key: item for item in store.office_items(office.id)}
        lines = []
        for line in office.lines:
            live_item = items.get(store.live_key(line.id))
            profile_item = items.get(store.profile_key(line.id))
            stored = Live.from_dict(live_item.live if live_item else None)
            live = stored if stored.day == today else Live(day=today)
            profile = profile_item.profile if profile_item else None
            state = rules.line_state(opening, live, now, cfg.settings.quiet_minutes, business_day)
            entry: dict[str, Any] = {
                "id": line.id,
                "name": messages.text(f"queue.line.{line.id}", language),
                "status": state,
                "statusText": messages.text(f"queue.status.{state}", language),
                "waiting": None,
                "nowCalling": [],
                "openCounters": None,
                "estimate": None,
                "lastUpdate": live.last_event_at,
                "lastUpdateText": (
                    messages.text(
                        "queue.label.updated", language, time=_clock(rules.parse_time(live.last_event_at))
                    )
                    if live.last_event_at
                    else None
                ),
                "bestTime": _best_time(office, profile, now, language),
            }
            if state == "open":
                waiting = rules.waiting_now(live, now)
                estimate = line_estimate(line, live, profile, waiting, now)
                low, high = estimate.bucket
                longest = estimator.longest_service(
                    live, line.default_service_minutes, cfg.settings.min_services_for_estimate
                )
                calling = estimator.serving(live, now, longest)
                opened = rules.open_counters(live, now, cfg.settings.counter_window_minutes)
                entry.update(
                    waiting=waiting,
                    nowCalling=[
                        {"number": number, "counter": call.get("counter")}
                        for number, call in sorted(
                            calling.items(), key=lambda kv: kv[1].get("at") or "", reverse=True
                        )
                    ],
                    # A line has the counters the ward configured: a machine that names one
                    # counter several ways ("1", "01") must not show more.
                    openCounters=min(opened, line.counters),
                    estimate={
                        "minMinutes": low,
                        "maxMinutes": high,
                        "label": estimate_label(low, high, language),
                        "basis": estimate.basis,
                    },
                )
            lines.append(entry)
        offices.append(
            {
                "id": office.id,
                "name": messages.text(f"queue.office.{office.id}", language),
                "isOpen": any(line["status"] != "closed" for line in lines),
                "openingHours": {
                    "opens": office.opens.strftime("%H:%M"),
                    "closes": office.closes.strftime("%H:%M"),
                    "text": messages.text(
                        "queue.label.hours",
                        language,
                        opens=office.opens.strftime("%H:%M"),
                        closes=office.closes.strftime("%H:%M"),
                    ),
                },
                "lines": lines,
            }
        )
    return {
        "generatedAt": rules.iso(now),
        "language": language,
        "labels": {key.split(".", 1)[1]: messages.text(key, language) for key in LABEL_KEYS},
        "offices": offices,
    }


def view_etag(view: dict[str, Any]) -> str:
    """A strong validator of what the view says (its generation time left out)."""
    content = {key: value for key, value in view.items() if key != "generatedAt"}
    digest = hashlib.sha256(json.dumps(content, sort_keys=True, ensure_ascii=False).encode()).hexdigest()
    return f'"{digest[:32]}"'


# --- the LINE answer to the 窓口の混雑 tile ------------------------------------------------------


def flex_message(now: datetime, language: str) -> dict[str, Any]:
    """The current state as a LINE Flex message, with a link to the page."""
    view = status_view(now, language)
    body: list[dict[str, Any]] = [
        {
            "type": "text",
            "text": messages.text("queue.flex.title", language),
            "weight": "bold",
            "size": "lg",
            "wrap": True,
        }
    ]
    summary = []
    for office in view["offices"]:
        body.append(
            {
                "type": "text",
                "text": office["name"],
                "weight": "bold",
                "size": "sm",
                "margin": "lg",
                "wrap": True,
            }
        )
        for line in office["lines"]:
            if line["status"] == "open":
                state = messages.text(
                    "queue.flex.waiting_estimate",
                    language,
                    waiting=line["waiting"],
                    estimate=line["estimate"]["label"],
                )
            else:
                state = line["statusText"]
            text = messages.text("queue.flex.line", language, line=line["name"], state=state)
            body.append({"type": "text", "text": text, "size": "sm", "wrap": True})
            if office["id"] == view["offices"][0]["id"]:
                summary.append(text)
        first_best = next(
            (line["bestTime"]["text"] for line in office["lines"] if line["bestTime"]["bestHours"]), None
        )
        if first_best:
            body.append({"type": "text", "text": first_best, "size": "xs", "color": "#555555", "wrap": True})
    alt = messages.text("queue.flex.alt", language, summary=" / ".join(summary))[:400]
    return {
        "type": "flex",
        "altText": alt,
        "contents": {
            "type": "bubble",
            "body": {"type": "box", "layout": "vertical", "spacing": "sm", "contents": body},
            "footer": {
                "type": "box",
                "layout": "vertical",
                "contents": [
                    {
                        "type": "button",
                        "style": "primary",
                        "action": {
                            "type": "uri",
                            "label": messages.label("queue.flex.open_page", language),
                            "uri": f"{get_settings().queue_page_url}?lang={language}",
                        },
                    }
                ],
            },
        },
    }
