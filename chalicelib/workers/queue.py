"""Worker for the queue-events queue, and the nightly queue job.

A record is a normalised ticket event (domain.queue.QueueEvent.to_dict). Applying one twice is
applying it once (the ticket keeps the event ids it holds), so the worker needs no ledger of
its own; a line busy with another worker's write is retried by SQS, per record.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from chalicelib.domain.queue import QueueEvent
from chalicelib.observability import metrics
from chalicelib.services import queue_history, queues
from chalicelib.workers import scheduled_time
from chalicelib.workers.batches import BatchResponse, Message, Record, partial_batch


def handle_batch(records: Iterable[Record]) -> BatchResponse:
    return partial_batch(records, _read, _apply, kind="queue event", failed_metric="QueueEventsFailed")


def _read(record: Record) -> Message[QueueEvent]:
    # Only the webhook queues here: one that does not read is a bug (the DLQ).
    event = QueueEvent.from_dict(json.loads(record["body"]))
    keys = {"source": event.source, "office": event.office, "line": event.line, "type": event.type}
    return Message(event, event.event_id, keys)


def _apply(event: QueueEvent) -> None:
    applied = queues.apply_event(event)
    metrics.add_metric(name="QueueEventsApplied" if applied else "QueueEventsRepeated", unit="Count", value=1)


def run_nightly(now: datetime | str | None = None) -> dict[str, Any]:
    """`now` may be the schedule event's ISO time: a late or retried run counts for its own day."""
    return queue_history.nightly(scheduled_time(now))
