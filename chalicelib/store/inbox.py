"""The inbox: every webhook event id ever accepted, so each is processed once.

The same table is the once-only ledger of work that is not a webhook event (a notification,
a reminder, a receipt, a day's digest): `once()` runs such work at most once to completion
per key, whatever the number of deliveries or reruns.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import Enum

from pynamodb.exceptions import DeleteError, UpdateError

from chalicelib.store.conditions import condition_failed, conditional
from chalicelib.store.models import InboxEvent

# LINE redelivers for up to a day; a week covers that and any DLQ replay an operator does.
KEEP_FOR = timedelta(days=7)


def record_first_sight(event_id: str, source: str, now: datetime) -> bool:
    """Store the id unless it is already there; True only for the one caller that stored it."""
    item = InboxEvent(event_id, source=source, received_at=now, expires_at=now + KEEP_FOR)
    with conditional() as write:
        item.save(condition=InboxEvent.event_id.does_not_exist())
    return write.applied


def forget(event_id: str) -> None:
    """Undo a first sight whose work could not be queued, so LINE's redelivery is accepted."""
    try:
        InboxEvent(event_id).delete(condition=InboxEvent.processed_at.does_not_exist())
    except DeleteError as error:
        if not condition_failed(error):
            raise


class Claim(Enum):
    CLAIMED = "claimed"  # this worker may process the event now
    DONE = "done"  # processed before: skip it
    BUSY = "busy"  # another worker holds a live lease: try again later


def claim(event_id: str, now: datetime, lease: timedelta) -> Claim:
    """Take the event for processing until `now + lease`, unless it is done or leased to another."""
    try:
        InboxEvent(event_id).update(
            actions=[InboxEvent.claimed_until.set(now + lease), InboxEvent.expires_at.set(now + KEEP_FOR)],
            condition=InboxEvent.processed_at.does_not_exist()
            & (InboxEvent.claimed_until.does_not_exist() | (InboxEvent.claimed_until < now)),
        )
    except UpdateError as error:
        if not condition_failed(error):
            raise
        item = InboxEvent.get(event_id, consistent_read=True, attributes_to_get=["event_id", "processed_at"])
        return Claim.DONE if item.processed_at else Claim.BUSY
    return Claim.CLAIMED


def release(event_id: str) -> None:
    """Give the event back after a failure, so its redelivery need not wait for the lease to run out."""
    InboxEvent(event_id).update(actions=[InboxEvent.claimed_until.remove()])


def mark_processed(event_id: str, now: datetime) -> None:
    """Record that the event's work is done; later deliveries of it are skipped."""
    InboxEvent(event_id).update(actions=[InboxEvent.processed_at.set(now), InboxEvent.claimed_until.remove()])


class Busy(Exception):
    """Another delivery of this work holds a live lease: fail the record, SQS redelivers it later."""


@contextmanager
def once(key: str, now: datetime, lease: timedelta, *, raise_if_busy: bool = True) -> Iterator[Claim]:
    """Do the work of the `with` body at most once to completion for `key`.

    Yields how the claim went. CLAIMED: the body does the work; an exception out of it gives
    the key back (a redelivery need not wait for the lease), a normal exit marks it processed.
    DONE: the work was completed before; the body skips it. BUSY, only with
    `raise_if_busy=False` (a job that simply leaves the key to the other run): another
    caller holds a live lease. Otherwise BUSY raises `Busy` before the body runs.
    """
    claimed = claim(key, now, lease)
    if claimed is Claim.BUSY and raise_if_busy:
        raise Busy(key)
    if claimed is not Claim.CLAIMED:
        yield claimed
        return
    try:
        yield claimed
    except Exception:
        release(key)
        raise
    # Outside the try: should this write fail (past the SDK's own retries), the work is done, so
    # the key is left to its lease rather than given back for an immediate rerun. A redelivery
    # after the lease repeats it: harmless behind a retry key (LINE), a second copy of an email
    # (SES has none) in that rare corner.
    mark_processed(key, datetime.now(UTC))


@dataclass(frozen=True)
class ReplyAttempt:
    # An earlier try of this event's reply exists: LINE may have delivered it (its answer lost,
    # or the worker died before recording the outcome).
    tried_before: bool
    # An earlier try was refused outright (400: token expired or used up before we ever sent).
    refused_before: bool


def reply_attempt(event_id: str, now: datetime) -> ReplyAttempt:
    """Record, before replying, that this event's reply is being tried; what earlier tries left."""
    item = InboxEvent(event_id)
    item.update(actions=[InboxEvent.reply_attempts.add(1), InboxEvent.expires_at.set(now + KEEP_FOR)])
    return ReplyAttempt(
        tried_before=int(item.reply_attempts or 0) > 1, refused_before=item.reply_refused_at is not None
    )


def reply_refused(event_id: str, now: datetime) -> None:
    """LINE refused the reply token before any try could have delivered: a push may follow."""
    InboxEvent(event_id).update(actions=[InboxEvent.reply_refused_at.set(now)])
