"""Window queues at night: close out tickets left open, keep the day's hourly figures, rebuild
each line's "best time to visit" profile, and publish the day as open data."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from chalicelib.domain import queue as rules
from chalicelib.domain import queue_opendata as opendata
from chalicelib.observability import logger
from chalicelib.store import queues as store


def close_out(office: str, day: str, now: datetime, line: str | None = None) -> int:
    """End every ticket of `office` on `day` still waiting or called (events were lost); returns how many.

    The close-out is an event like any other, with an id per day, so running it twice closes once.
    """
    closed = 0
    for item in store.tickets_of_day(f"{office}#{day}"):
        ticket = rules.fold(item.number, list(item.events))
        if ticket is None or ticket.status in rules.FINISHED or (line and ticket.line != line):
            continue
        from chalicelib.services import queues

        event = rules.close_out(
            office, ticket.line, item.number, date.fromisoformat(day), now, reset=bool(line)
        )
        closed += int(queues.close_ticket(event, now))
    return closed


def record_day(office: rules.Office, day: date) -> dict[str, dict[str, Any]]:
    """Store the day's hourly figures per line; returns them (line -> hour -> figures)."""
    tickets = [
        ticket
        for item in store.tickets_of_day(f"{office.id}#{day.isoformat()}")
        if (ticket := rules.fold(item.number, list(item.events))) is not None
    ]
    figures = rules.hourly_figures(tickets)
    for line in office.lines:
        store.save_day(office.id, line.id, day.isoformat(), day.weekday(), figures.get(line.id, {}))
    return figures


def rebuild_profiles(office: rules.Office, day: date, now: datetime) -> None:
    """Each line's typical hours by weekday over the last weeks (one key query per line)."""
    weeks = rules.config().settings.history_weeks
    since = (day - timedelta(weeks=weeks)).isoformat()
    for line in office.lines:
        by_weekday: dict[int, list[dict[str, Any]]] = {}
        for item in store.days(office.id, line.id, since, day.isoformat()):
            if item.hours:
                by_weekday.setdefault(int(item.weekday), []).append(item.hours)
        k = rules.config().settings.k_anonymity
        profile = {str(weekday): rules.profile(days, k) for weekday, days in sorted(by_weekday.items())}
        store.save_profile(office.id, line.id, profile, now)


def open_data_rows(
    day: date, figures_by_office: dict[str, dict[str, dict[str, Any]]], k: int
) -> list[list[str]]:
    table: list[list[str]] = []
    for office in rules.config().offices:
        figures = figures_by_office.get(office.id, {})
        for line in office.lines:
            hours = figures.get(line.id)
            if hours:
                table += opendata.rows(day.isoformat(), office.id, line.id, hours, k)
    return table


def publish(day: date, figures_by_office: dict[str, dict[str, dict[str, Any]]]) -> str:
    """The day's CSV and the data dictionary, to the open-data bucket; returns the CSV's key."""
    from chalicelib.adapters import open_data

    k = rules.config().settings.k_anonymity
    key = f"queue/daily/{day.isoformat()}.csv"
    open_data.put(key, opendata.to_csv(open_data_rows(day, figures_by_office, k)), "text/csv; charset=utf-8")
    open_data.put("queue/data-dictionary.csv", opendata.dictionary_csv(k), "text/csv; charset=utf-8")
    return key


# Residents holding a ticket are still served after the windows close: a day is over this
# long after the last office's closing time (17:00 + 4 h: 21:00; the nightly runs at 23:30).
WIND_DOWN = timedelta(hours=4)


def ended_day(now: datetime) -> date:
    """The last Tokyo day that is over: today from the last office's closing time plus
    WIND_DOWN (the 23:30 run), else yesterday (a late retry, or an operator's run in the
    morning or the day: it had closed out the day in progress, tickets being called included)."""
    local = now.astimezone(rules.TOKYO)
    last_closing = max(office.closes for office in rules.config().offices)
    over_at = datetime.combine(local.date(), last_closing, tzinfo=rules.TOKYO) + WIND_DOWN
    return local.date() if local >= over_at else local.date() - timedelta(days=1)


def nightly(now: datetime | None = None, day: date | None = None) -> dict[str, Any]:
    """The nightly job: for the Tokyo day that last ended (or `day`), every office."""
    now = now or datetime.now(UTC)
    day = day or ended_day(now)
    closed, figures = 0, {}
    for office in rules.config().offices:
        closed += close_out(office.id, day.isoformat(), now)
        figures[office.id] = record_day(office, day)
        rebuild_profiles(office, day, now)
    key = publish(day, figures)
    logger.info("queue nightly done", extra={"day": day.isoformat(), "closed": closed, "open_data": key})
    return {"day": day.isoformat(), "closed": closed, "openData": key}
