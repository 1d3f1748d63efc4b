"""Window queues in DynamoDB: tickets, a line's live state, watches and daily history.

Every change of a ticket and of the live state it moves is one transaction conditional on both
revisions: two workers applying events of one line at once cannot both win, and a crash leaves
either both changed or neither.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pynamodb.exceptions import UpdateError
from pynamodb.expressions.update import Action
from pynamodb.transactions import TransactWrite

from chalicelib.store.conditions import condition_failed, conditional
from chalicelib.store.models import AuditEntry, QueueDay, QueueLineState, QueueTicket, QueueWatch
from chalicelib.store.reads import item_or_none

# Tickets hold no personal data; a week covers the nightly jobs and any replay.
TICKET_RETENTION = timedelta(days=8)
# A watch holds a LINE user id: it ends with the day, and the item goes soon after.
WATCH_RETENTION = timedelta(days=1)


def _connection() -> Any:
    return QueueTicket._get_connection().connection


def live_key(line: str) -> str:
    return f"live#{line}"


def profile_key(line: str) -> str:
    return f"profile#{line}"


# --- tickets and live state --------------------------------------------------------------------


def get_ticket(day_key: str, number: str) -> QueueTicket | None:
    return item_or_none(QueueTicket, day_key, number)


def tickets_of_day(day_key: str) -> list[QueueTicket]:
    return list(QueueTicket.query(day_key, consistent_read=True))


def get_live(office: str, line: str) -> QueueLineState | None:
    return item_or_none(QueueLineState, office, live_key(line))


def office_items(office: str) -> list[QueueLineState]:
    """Every live and profile item of an office: one key query."""
    return list(QueueLineState.query(office))


@dataclass(frozen=True)
class LiveWrite:
    office: str
    line: str
    live: dict[str, Any]
    revision: int  # the revision read (0: no item yet)


def save_ticket_and_lines(
    ticket: QueueTicket, read_revision: int, lines: list[LiveWrite], now: datetime
) -> bool:
    """Store the ticket and the lines it moved, if nobody changed any of them since they were read."""
    ticket_condition = (
        QueueTicket.number.does_not_exist() if read_revision == 0 else QueueTicket.revision == read_revision
    )
    ticket.revision = read_revision + 1
    with conditional() as write, TransactWrite(connection=_connection()) as transaction:
        transaction.save(ticket, condition=ticket_condition)
        for item in lines:
            state = QueueLineState(
                item.office, live_key(item.line), live=item.live, revision=item.revision + 1, updated_at=now
            )
            condition = (
                QueueLineState.item_key.does_not_exist()
                if item.revision == 0
                else QueueLineState.revision == item.revision
            )
            transaction.update(
                state,
                actions=[
                    QueueLineState.live.set(item.live),
                    QueueLineState.revision.set(item.revision + 1),
                    QueueLineState.updated_at.set(now),
                ],
                condition=condition,
            )
    return write.applied


def reset_line(
    office: str, line: str, live: dict[str, Any], revision: int, now: datetime, audit: AuditEntry
) -> bool:
    """Replace a line's live state (a staff reset) with its audit entry, if unchanged since read."""
    state = QueueLineState(office, live_key(line))
    condition = (
        QueueLineState.item_key.does_not_exist() if revision == 0 else QueueLineState.revision == revision
    )
    with conditional() as write, TransactWrite(connection=_connection()) as transaction:
        transaction.update(
            state,
            actions=[
                QueueLineState.live.set(live),
                QueueLineState.revision.set(revision + 1),
                QueueLineState.updated_at.set(now),
                QueueLineState.reset_at.set(now),
            ],
            condition=condition,
        )
        transaction.save(audit)
    return write.applied


def save_profile(office: str, line: str, profile: dict[str, Any], now: datetime) -> None:
    QueueLineState(office, profile_key(line), profile=profile, updated_at=now).save()


# --- watches -----------------------------------------------------------------------------------


def watch_key(number: str, user_id: str) -> str:
    return f"{number}#{user_id}"


def save_watch(watch: QueueWatch) -> None:
    """A new watch, or the same resident's renewed one (threshold changed, stop undone)."""
    watch.save()


def get_watch(day_key: str, number: str, user_id: str) -> QueueWatch | None:
    return item_or_none(QueueWatch, day_key, watch_key(number, user_id))


def watches_of_day(day_key: str) -> list[QueueWatch]:
    return list(QueueWatch.query(day_key, consistent_read=True))


def stop_watch(day_key: str, number: str, user_id: str, now: datetime) -> bool:
    with conditional() as write:
        QueueWatch(day_key, watch_key(number, user_id)).update(
            # Stopped already (a second tap): nothing was stopped now, and the first time stays.
            actions=[QueueWatch.stopped_at.set(now)],
            condition=QueueWatch.watch_key.exists() & QueueWatch.stopped_at.does_not_exist(),
        )
    return write.applied


def claim_notice(watch: QueueWatch, notice: str, now: datetime, episode: str) -> bool:
    """Mark a notice as sent, once: `near` once a watch, `called` once a call `episode` (a
    transferred ticket's next call is told too). True only for the one caller that marked it."""
    actions: list[Action]
    if notice == "near":
        actions = [QueueWatch.near_sent_at.set(now)]
        unsent = QueueWatch.near_sent_at.does_not_exist()
    else:
        actions = [QueueWatch.called_sent_at.set(now), QueueWatch.called_for.set(episode)]
        unsent = QueueWatch.called_for.does_not_exist() | (QueueWatch.called_for != episode)
    with conditional() as write:
        watch.update(actions=actions, condition=unsent & QueueWatch.stopped_at.does_not_exist())
    return write.applied


def release_notice(watch: QueueWatch, notice: str) -> None:
    """Undo a claim whose push failed, so the retried event sends it (with the same retry key)."""
    removed: list[Action] = (
        [QueueWatch.near_sent_at.remove()]
        if notice == "near"
        else [QueueWatch.called_sent_at.remove(), QueueWatch.called_for.remove()]
    )
    try:
        watch.update(actions=removed)
    except UpdateError as error:
        if not condition_failed(error):
            raise


# --- history -----------------------------------------------------------------------------------


def save_day(office: str, line: str, day: str, weekday: int, hours: dict[str, Any]) -> None:
    QueueDay(f"{office}#{line}", day, weekday=weekday, hours=hours).save()


def days(office: str, line: str, since: str, until: str) -> list[QueueDay]:
    return list(QueueDay.query(f"{office}#{line}", QueueDay.day.between(since, until)))
