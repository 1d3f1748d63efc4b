"""Announcements and the work of their sends, in DynamoDB. Every change of state is conditional.

The announcement item (models.Announcement) carries the status and the counters; the fan-out
table (models.FanoutItem) the partition markers, chunks and rests of a send; the caps table
which non-emergency announcements each resident got today. Transactions tie a chunk's state
to the announcement's counters, so a counter moves exactly when the chunk does.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pynamodb.connection import Connection
from pynamodb.exceptions import TransactWriteError
from pynamodb.expressions.condition import Condition, size
from pynamodb.expressions.update import Action
from pynamodb.transactions import TransactWrite

from chalicelib.domain import announcements as rules
from chalicelib.domain import cursors
from chalicelib.store.audit import Audit
from chalicelib.store.audit import entry as audit_entry
from chalicelib.store.conditions import condition_failed, conditional
from chalicelib.store.models import (
    Announcement,
    AuditEntry,
    DailyAnnouncementCount,
    FanoutItem,
    SendListEntry,
)
from chalicelib.store.reads import item_or_none

DUE = "due"
# User ids of a send are kept this long, to answer "did resident X get it?", then TTL removes them.
FANOUT_RETENTION = timedelta(days=30)
CAP_RETENTION = timedelta(days=2)
# DynamoDB: 100 actions per transaction.
MAX_TRANSACTION_ITEMS = 100
_CAP_ATTEMPTS = 8

# Chunk states.
PLANNED = "planned"
DEFERRED = "deferred"
SENDING = "sending"
SENT = "sent"
FAILED = "failed"
CANCELLED = "cancelled"
EMPTIED = "withdrawn"  # a deferred chunk whose every recipient left the lists while it waited
CHUNK_FINAL = frozenset({SENT, FAILED, CANCELLED, EMPTIED})

MERGED = "~"  # the "partition" of chunks merged from rests; sorts after every send-list key
PROGRESS = "progress"
REQUESTS = "requests"


def _connection() -> Connection:
    return Announcement._get_connection().connection


# --- announcements ---------------------------------------------------------------------------


def created_key(created_at: datetime, announcement_id: str) -> str:
    return f"{created_at.astimezone(UTC).isoformat(timespec='milliseconds')}#{announcement_id}"


def due_key(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="seconds")


def insert(item: Announcement) -> bool:
    with conditional() as write:
        item.save(condition=Announcement.announcement_id.does_not_exist())
    return write.applied


def get(announcement_id: str) -> Announcement | None:
    return item_or_none(Announcement, announcement_id)


def update(announcement_id: str, actions: list[Any], condition: Condition | None = None) -> bool:
    """Apply `actions` if `condition` holds (and the item exists); False when it does not."""
    exists = Announcement.announcement_id.exists()
    with conditional() as write:
        Announcement(announcement_id).update(
            actions=actions, condition=exists if condition is None else exists & condition
        )
    return write.applied


_LIST_KEY = (
    Announcement.section.attr_name,
    Announcement.created_key.attr_name,
    Announcement.announcement_id.attr_name,
)


def list_for_section(
    section: str, limit: int, cursor: str | None, *, status: str | None = None
) -> tuple[list[Announcement], str | None]:
    """A section's announcements, newest first, in one status if given (a filter: a section
    writes a few a week, so reading past the others costs little); InvalidCursor for a cursor
    this did not give out."""
    start = (
        cursors.decode_key(cursor, _LIST_KEY, (Announcement.section.attr_name, section)) if cursor else None
    )
    results = Announcement.by_section.query(
        section,
        scan_index_forward=False,
        limit=limit,
        last_evaluated_key=start,
        filter_condition=(Announcement.status == status) if status else None,
    )
    items = list(results)
    last = results.last_evaluated_key
    return items, cursors.encode_key(last) if len(items) == limit else None


def pending_review_ids(section: str) -> list[str]:
    """The section's emergencies sent without approval and not reviewed yet, newest first."""
    return [item.announcement_id for item in Announcement.by_review.query(section, scan_index_forward=False)]


def audit(
    announcement_id: str,
    *,
    actor_id: str | None,
    action: str,
    from_status: str | None,
    to_status: str | None,
    at: datetime,
    note: str | None = None,
) -> None:
    """Append to the announcement's audit trail (the audit table, under `announcement#<id>`)."""
    kind = "staff" if actor_id else "system"
    change = Audit(kind, actor_id, action, at, from_status=from_status, to_status=to_status, note=note)
    audit_entry(f"announcement#{announcement_id}", change).save()


def audit_trail(announcement_id: str) -> list[AuditEntry]:
    return list(AuditEntry.query(f"announcement#{announcement_id}", consistent_read=True))


def due_ids(now: datetime, limit: int = 200) -> list[str]:
    """Announcements whose start or watchdog time has come (eventually consistent: callers re-read)."""
    return [
        item.announcement_id
        for item in Announcement.by_due.query(DUE, Announcement.due_at <= due_key(now), limit=limit)
    ]


def set_due(at: datetime) -> list[Any]:
    return [Announcement.due_shard.set(DUE), Announcement.due_at.set(due_key(at))]


def clear_due() -> list[Any]:
    return [Announcement.due_shard.remove(), Announcement.due_at.remove()]


def start_send(
    announcement_id: str, partitions: list[str], chunk_size: int, now: datetime, watchdog: datetime
) -> bool:
    """scheduled -> sending, fixing what every redelivery must agree on (partitions, chunk size),
    and the progress item the workers keep their counters in."""
    progress = FanoutItem(
        announcement_id,
        PROGRESS,
        state=rules.SENDING,
        partitions_total=len(partitions),
        partitions_collected=0,
        chunks_total=0,
        chunks_done=0,
        assembled=False,
        counts=rules.empty_counts(),
    )
    with conditional() as write, TransactWrite(connection=_connection()) as transaction:
        transaction.update(
            Announcement(announcement_id),
            actions=[
                Announcement.status.set(rules.SENDING),
                Announcement.started_at.set(now),
                Announcement.updated_at.set(now),
                Announcement.partitions.set(list(partitions)),
                Announcement.chunk_size.set(chunk_size),
                *set_due(watchdog),
            ],
            condition=Announcement.status == rules.SCHEDULED,
        )
        transaction.save(progress, condition=FanoutItem.item_key.does_not_exist())
    return write.applied


def finish_send(announcement_id: str, status: str, now: datetime) -> bool:
    """sending -> sent/failed, on the announcement and its progress item together."""
    return _set_state(
        announcement_id,
        status,
        [Announcement.finished_at.set(now), Announcement.updated_at.set(now), *clear_due()],
        rules.SENDING,
    )


def cancel(announcement_id: str, was: str, staff_id: str, now: datetime, release_at: datetime) -> bool:
    """Any cancellable status -> cancelled; a running send's workers see it on the progress item."""
    actions = [
        Announcement.cancelled_by.set(staff_id),
        Announcement.cancelled_at.set(now),
        Announcement.revision.add(1),
        Announcement.updated_at.set(now),
    ]
    if was != rules.SENDING:
        return update(
            announcement_id,
            [Announcement.status.set(rules.CANCELLED), *actions, *clear_due()],
            Announcement.status == was,
        )
    # The minute job looks once more when every worker of the send has surely stopped.
    return _set_state(announcement_id, rules.CANCELLED, [*actions, *set_due(release_at)], rules.SENDING)


def _set_state(announcement_id: str, status: str, actions: list[Any], was: str) -> bool:
    with conditional() as write, TransactWrite(connection=_connection()) as transaction:
        transaction.update(
            Announcement(announcement_id),
            actions=[Announcement.status.set(status), *actions],
            condition=Announcement.status == was,
        )
        transaction.update(
            FanoutItem(announcement_id, PROGRESS),
            actions=[FanoutItem.state.set(status)],
            condition=FanoutItem.state == was,
        )
    return write.applied


def progress(announcement_id: str) -> FanoutItem | None:
    """The send's state and counters (a small item: one read unit)."""
    return item(announcement_id, PROGRESS)


def request_ids(announcement_id: str) -> set[str]:
    found = item(announcement_id, REQUESTS)
    return set(found.request_ids or ()) if found else set()


def _count(kind: str, language: str, n: int) -> Any:
    return FanoutItem.counts[kind][language].add(n)


# --- fan-out items ---------------------------------------------------------------------------


def part_key(partition: str) -> str:
    return f"part#{partition}"


def chunk_key(partition: str, language: str, index: int) -> str:
    return f"chunk#{partition}#{language}#{index:05d}"


def rest_key(partition: str, language: str) -> str:
    return f"rest#{partition}#{language}"


def expiry(now: datetime) -> datetime:
    return now + FANOUT_RETENTION


def item(announcement_id: str, key: str) -> FanoutItem | None:
    return item_or_none(FanoutItem, announcement_id, key)


def items(announcement_id: str, prefix: str) -> Iterator[FanoutItem]:
    return FanoutItem.query(announcement_id, FanoutItem.item_key.startswith(prefix), consistent_read=True)


def begin_collection(announcement_id: str, partition: str, now: datetime) -> FanoutItem:
    """Mark the partition's collection begun; returns its marker as it was before (a blank one
    the first time). One write that answers with the old item: no read unit spent."""
    from pynamodb.constants import ALL_OLD

    response = FanoutItem._get_connection().update_item(
        announcement_id,
        part_key(partition),
        actions=[FanoutItem.collecting.set(True), FanoutItem.expires_at.set(expiry(now))],
        return_values=ALL_OLD,
    )
    old = response.get("Attributes")
    return FanoutItem.from_raw_data(old) if old else FanoutItem(announcement_id, part_key(partition))


def put_chunk(chunk: FanoutItem, partition: str) -> bool:
    """Store a new chunk while its partition is still being collected; False if either check fails.

    After the partition is committed (its rests fixed) no chunk may join it, or the same
    resident could be in a chunk and in a rest.
    """
    with conditional() as write, TransactWrite(connection=_connection()) as transaction:
        transaction.save(chunk, condition=FanoutItem.item_key.does_not_exist())
        transaction.condition_check(
            FanoutItem,
            chunk.announcement_id,
            part_key(partition),
            condition=FanoutItem.collected.does_not_exist() | (FanoutItem.collected == False),  # noqa: E712
        )
    return write.applied


def put_merged_chunk(chunk: FanoutItem) -> bool:
    """Store a chunk made from rests; False if it is there already (rests are fixed: same content)."""
    with conditional() as write:
        chunk.save(condition=FanoutItem.item_key.does_not_exist())
    return write.applied


def commit_collection(
    announcement_id: str,
    partition: str,
    *,
    rests: list[FanoutItem],
    chunk_counts: Mapping[str, int],
    planned: Mapping[str, int],
    held_back: Mapping[str, int],
    languages: Iterable[str],
) -> bool:
    """Fix a partition's rests and add its figures to the send's progress, once.

    Conditions: the partition is not committed yet, and no chunk exists beyond those this
    collector knows (another attempt may have added one since it looked).
    """
    marker = FanoutItem(announcement_id, part_key(partition))
    actions = [
        FanoutItem.partitions_collected.add(1),
        FanoutItem.chunks_total.add(sum(chunk_counts.values())),
        *(_count(rules.PLANNED, language, n) for language, n in planned.items() if n),
        *(_count(rules.HELD_BACK, language, n) for language, n in held_back.items() if n),
    ]
    with conditional() as write, TransactWrite(connection=_connection()) as transaction:
        for rest in rests:
            transaction.save(rest)
        for language in languages:
            transaction.condition_check(
                FanoutItem,
                announcement_id,
                chunk_key(partition, language, chunk_counts.get(language, 0)),
                condition=FanoutItem.item_key.does_not_exist(),
            )
        transaction.update(
            marker,
            actions=[FanoutItem.collected.set(True), FanoutItem.chunk_counts.set(dict(chunk_counts))],
            condition=FanoutItem.collected.does_not_exist() | (FanoutItem.collected == False),  # noqa: E712
        )
        transaction.update(FanoutItem(announcement_id, PROGRESS), actions=actions)
    return write.applied


def mark_assembled(announcement_id: str, merged: Mapping[str, int]) -> bool:
    """Count the merged chunks in, once, while the send is on. After a cancel the rests stay
    rests (counted as cancelled by `cancel_rest`), so nobody is counted in a rest and a chunk."""
    with conditional() as write:
        FanoutItem(announcement_id, PROGRESS).update(
            actions=[
                FanoutItem.assembled.set(True),
                FanoutItem.merged_chunks.set(dict(merged)),
                FanoutItem.chunks_total.add(sum(merged.values())),
            ],
            condition=(FanoutItem.assembled == False) & (FanoutItem.state == rules.SENDING),  # noqa: E712
        )
    return write.applied


@dataclass(frozen=True)
class ChunkRef:
    """What a state change of a chunk needs to know: its key, the state it is expected in, its size."""

    announcement_id: str
    key: str
    status: str
    language: str
    size: int

    @classmethod
    def of(cls, chunk: FanoutItem) -> ChunkRef:
        return cls(chunk.announcement_id, chunk.item_key, chunk.status, chunk.language, int(chunk.size or 0))

    def _item(self) -> FanoutItem:
        return FanoutItem(self.announcement_id, self.key)

    def _progress(self) -> FanoutItem:
        return FanoutItem(self.announcement_id, PROGRESS)


class AnnouncementNotSending(Exception):
    """The send was cancelled (or is over): a chunk that has not started must not start."""


def start_chunk(chunk: ChunkRef, now: datetime) -> bool:
    """planned/deferred -> sending while the send is on. False: the chunk was not in that state.

    Raises AnnouncementNotSending when the send is no longer on (a cancel won).
    """
    sending = FanoutItem.state == rules.SENDING
    try:
        with TransactWrite(connection=_connection()) as transaction:
            # One action per item in a transaction: the progress is checked, or updated on condition.
            if chunk.status == DEFERRED:
                transaction.update(
                    chunk._progress(),
                    actions=[_count(rules.DEFERRED, chunk.language, -chunk.size)],
                    condition=sending,
                )
            else:
                transaction.condition_check(FanoutItem, chunk.announcement_id, PROGRESS, condition=sending)
            transaction.update(
                chunk._item(),
                actions=[
                    FanoutItem.status.set(SENDING),
                    FanoutItem.attempts.add(1),
                    FanoutItem.started_at.set(now),
                ],
                condition=FanoutItem.status == chunk.status,
            )
    except TransactWriteError as error:
        reasons = getattr(error, "cancellation_reasons", None) or []
        if reasons and reasons[0] is not None and reasons[0].code == "ConditionalCheckFailed":
            raise AnnouncementNotSending(chunk.announcement_id) from None
        if condition_failed(error):
            return False
        raise
    return True


def retry_chunk(chunk: ChunkRef) -> None:
    """Count another attempt of a chunk that had started (its retry key makes the call safe).

    `started_at` keeps the first start: that is the moment that counts against a cancel.
    """
    chunk._item().update(actions=[FanoutItem.attempts.add(1)])


def finish_chunk(
    chunk: ChunkRef,
    status: str,
    count_kind: str,
    now: datetime,
    *,
    request_id: str | None = None,
    accepted_request_id: str | None = None,
    error: str | None = None,
    counted: bool = True,
) -> bool:
    """A chunk's last state and its figures on the progress item, together, once. False: done already.

    `counted=False` records the state alone: a merged chunk of a send cancelled before it was
    assembled, whose residents are counted in their rests.
    """
    actions: list[Action] = [FanoutItem.status.set(status), FanoutItem.finished_at.set(now)]
    if request_id:
        actions.append(FanoutItem.request_id.set(request_id))
    if accepted_request_id:
        actions.append(FanoutItem.accepted_request_id.set(accepted_request_id))
    if error:
        actions.append(FanoutItem.error.set(error))
    counters: list[Action] = [FanoutItem.chunks_done.add(1)]
    if chunk.size:
        counters.append(_count(count_kind, chunk.language, chunk.size))
    if chunk.status == DEFERRED and chunk.size:
        counters.append(_count(rules.DEFERRED, chunk.language, -chunk.size))
    line_request = accepted_request_id or request_id
    with conditional() as write, TransactWrite(connection=_connection()) as transaction:
        transaction.update(chunk._item(), actions=actions, condition=FanoutItem.status == chunk.status)
        if counted:
            transaction.update(chunk._progress(), actions=counters)
        if line_request:
            transaction.update(
                FanoutItem(chunk.announcement_id, REQUESTS),
                actions=[FanoutItem.request_ids.add({line_request})],
            )
    return write.applied


def cancel_rest(rest: FanoutItem, now: datetime) -> bool:
    """A rest of a send cancelled before its rests were merged: its residents counted as cancelled, once."""
    size = len(rest.user_ids or ())
    with conditional() as write, TransactWrite(connection=_connection()) as transaction:
        transaction.update(
            FanoutItem(rest.announcement_id, rest.item_key),
            actions=[FanoutItem.status.set(CANCELLED), FanoutItem.finished_at.set(now)],
            condition=FanoutItem.status.does_not_exist(),
        )
        transaction.update(
            FanoutItem(rest.announcement_id, PROGRESS),
            actions=[_count(rules.SKIPPED, str(rest.language), size)],
            condition=(FanoutItem.state == rules.CANCELLED) & (FanoutItem.assembled == False),  # noqa: E712
        )
    return write.applied


def defer_chunk(chunk: ChunkRef, resume_at: datetime) -> bool:
    """planned -> deferred (quiet hours), counted as deferred; the watchdog looks again at `resume_at`."""
    with conditional() as write, TransactWrite(connection=_connection()) as transaction:
        transaction.update(
            chunk._item(),
            actions=[FanoutItem.status.set(DEFERRED)],
            condition=FanoutItem.status == PLANNED,
        )
        transaction.update(
            chunk._progress(),
            actions=[_count(rules.DEFERRED, chunk.language, chunk.size)],
            condition=FanoutItem.state == rules.SENDING,
        )
        transaction.update(Announcement(chunk.announcement_id), actions=set_due(resume_at))
    return write.applied


def narrow_deferred_chunk(chunk: ChunkRef, keep: list[str], sources: list[list[Any]]) -> bool:
    """Drop from a deferred chunk the residents who left its send lists while it waited."""
    removed = chunk.size - len(keep)
    with conditional() as write, TransactWrite(connection=_connection()) as transaction:
        transaction.update(
            chunk._item(),
            actions=[
                FanoutItem.user_ids.set(keep),
                FanoutItem.sources.set(sources),
                FanoutItem.size.set(len(keep)),
            ],
            condition=(FanoutItem.status == DEFERRED) & (FanoutItem.size == chunk.size),
        )
        transaction.update(
            chunk._progress(),
            actions=[
                _count(rules.DEFERRED, chunk.language, -removed),
                _count(rules.WITHDRAWN, chunk.language, removed),
            ],
        )
    return write.applied


def still_listed(pairs: list[tuple[str, str]]) -> set[tuple[str, str]]:
    """Which (send list, user id) pairs are still on their list (one batch read per 100)."""
    found: set[tuple[str, str]] = set()
    for entry in SendListEntry.batch_get(pairs, consistent_read=True):
        found.add((entry.segment, entry.line_user_id))
    return found


# --- the frequency cap -----------------------------------------------------------------------


def take_daily_slots(
    user_ids: list[str], announcement_id: str, day: str, cap: int, now: datetime
) -> tuple[set[str], set[str]]:
    """Count this announcement for each resident's day, where fewer than `cap` are counted.

    Returns (allowed, held back). Idempotent: an announcement already counted for a resident
    is allowed again without counting twice. Transactions of up to 100 residents, so a crowd
    costs few round trips; a resident at the cap makes the transaction fail, names itself in
    the cancellation reasons and is left out of the retry.
    """
    allowed: set[str] = set()
    held: set[str] = set()
    expires = now + CAP_RETENTION
    condition = (
        DailyAnnouncementCount.announcements.does_not_exist()
        | (size(DailyAnnouncementCount.announcements) < cap)
        | DailyAnnouncementCount.announcements.contains(announcement_id)
    )
    for start in range(0, len(user_ids), MAX_TRANSACTION_ITEMS):
        todo = user_ids[start : start + MAX_TRANSACTION_ITEMS]
        for attempt in range(_CAP_ATTEMPTS):
            if not todo:
                break
            try:
                with TransactWrite(connection=_connection()) as transaction:
                    for user_id in todo:
                        transaction.update(
                            DailyAnnouncementCount(f"{user_id}#{day}"),
                            actions=[
                                DailyAnnouncementCount.announcements.add({announcement_id}),
                                DailyAnnouncementCount.expires_at.set(expires),
                            ],
                            condition=condition,
                        )
            except TransactWriteError as error:
                reasons = list(getattr(error, "cancellation_reasons", None) or [])
                if len(reasons) != len(todo):
                    raise
                capped = {
                    u
                    for u, r in zip(todo, reasons, strict=True)
                    if r is not None and r.code == "ConditionalCheckFailed"
                }
                held |= capped
                conflicted = any(r is not None and r.code != "ConditionalCheckFailed" for r in reasons)
                todo = [u for u in todo if u not in capped]
                if conflicted:  # another transaction on the same resident: wait a moment, try again
                    time.sleep(0.05 * 2**attempt * random.random())
                continue
            allowed.update(todo)
            break
        else:
            raise RuntimeError("the frequency cap kept conflicting with other sends")
    return allowed, held


def daily_count(user_id: str, day: str) -> set[str]:
    found = item_or_none(DailyAnnouncementCount, f"{user_id}#{day}")
    return set(found.announcements or ()) if found else set()
