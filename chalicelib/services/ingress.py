"""What the webhooks share once a request has passed its checks: take each event once (the
inbox) and queue it, and if it cannot be queued, forget it again so the sender's retry is
accepted instead of being dropped as a duplicate of an event that was never queued."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from chalicelib.adapters import queues
from chalicelib.observability import logger
from chalicelib.resources import QueueSpec
from chalicelib.store import inbox


class QueueUnavailable(Exception):
    """Events could not be queued; their inbox rows were forgotten, so a retry is accepted."""


def queue_once(key: str, source: str, queue: QueueSpec, body: Any, now: datetime) -> bool:
    """Queue one event the first time its `key` is seen: False for a duplicate. Whatever stops
    the send (SQS down, a body it cannot take, a bug), the row is forgotten and QueueUnavailable raised."""
    if not inbox.record_first_sight(key, source, now):
        return False
    try:
        unsent = queues.send_all(queue, [(key, body)])
    except Exception as error:
        forget([key])
        raise QueueUnavailable(f"{key}: {type(error).__name__}") from error
    if unsent:
        forget(unsent)
        raise QueueUnavailable(key)
    return True


def forget(keys: Iterable[str]) -> None:
    """Undo the first sight of events that were not queued."""
    for key in keys:
        try:
            inbox.forget(key)
        except Exception:
            # The row stays; the sender's retry would be taken for a duplicate. Say so loudly.
            logger.exception("an inbox row of an unqueued event could not be forgotten", extra={"event": key})
