"""The inbox: every webhook event id ever accepted, so each is processed once."""

from __future__ import annotations

from datetime import datetime, timedelta

from pynamodb.exceptions import DeleteError, PutError, UpdateError

from chalicelib.store.models import InboxEvent

# LINE redelivers for up to a day; a week covers that and any DLQ replay an operator does.
KEEP_FOR = timedelta(days=7)


def record_first_sight(event_id: str, source: str, now: datetime) -> bool:
    """Store the id unless it is already there; True only for the one caller that stored it."""
    item = InboxEvent(event_id, source=source, received_at=now, expires_at=now + KEEP_FOR)
    try:
        item.save(condition=InboxEvent.event_id.does_not_exist())
    except PutError as error:
        if _condition_failed(error):
            return False
        raise
    return True


def forget(event_id: str) -> None:
    """Undo a first sight whose work could not be queued, so LINE's redelivery is accepted."""
    try:
        InboxEvent(event_id).delete(condition=InboxEvent.processed_at.does_not_exist())
    except DeleteError as error:
        if not _condition_failed(error):
            raise


def is_processed(event_id: str) -> bool:
    try:
        item = InboxEvent.get(event_id, consistent_read=True, attributes_to_get=["processed_at"])
    except InboxEvent.DoesNotExist:
        return False
    return item.processed_at is not None


def mark_processed(event_id: str, now: datetime) -> bool:
    """Record that the worker finished the event; False if another delivery already had."""
    try:
        InboxEvent(event_id).update(
            actions=[InboxEvent.processed_at.set(now)],
            condition=InboxEvent.event_id.exists() & InboxEvent.processed_at.does_not_exist(),
        )
    except UpdateError as error:
        if _condition_failed(error):
            return False
        raise
    return True


def _condition_failed(error: Exception) -> bool:
    return getattr(error, "cause_response_code", None) == "ConditionalCheckFailedException"
