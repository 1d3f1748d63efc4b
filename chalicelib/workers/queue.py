"""Worker for the queue-events queue, and the nightly queue job.

A record is a normalised ticket event (domain.queue.QueueEvent.to_dict). Applying one twice is
applying it once (the ticket keeps the event ids it holds), so the worker needs no ledger of
its own; a line busy with another worker's write is retried by SQS, per record.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from chalicelib.domain.queue import QueueEvent
from chalicelib.observability import invocation, logger, metrics
from chalicelib.services import queue_history, queues


def handle_batch(records: list[dict[str, Any]]) -> dict[str, list[dict[str, str]]]:
    failures = []
    for record in records:
        try:
            event = QueueEvent.from_dict(json.loads(record["body"]))
        except (KeyError, TypeError, ValueError):
            # Only the webhook queues here, so this is a bug: park it in the DLQ.
            logger.error("unreadable queue event record", extra={"message_id": record.get("messageId")})
            failures.append({"itemIdentifier": record["messageId"]})
            continue
        with invocation(
            event.event_id, source=event.source, office=event.office, line=event.line, type=event.type
        ):
            try:
                applied = queues.apply_event(event)
            except Exception as error:
                logger.error("queue event failed; it will be retried", extra={"error": type(error).__name__})
                metrics.add_metric(name="QueueEventsFailed", unit="Count", value=1)
                failures.append({"itemIdentifier": record["messageId"]})
                continue
            metrics.add_metric(
                name="QueueEventsApplied" if applied else "QueueEventsRepeated", unit="Count", value=1
            )
    return {"batchItemFailures": failures}


def run_nightly(now: datetime | str | None = None) -> dict[str, Any]:
    """`now` may be the schedule event's ISO time: a late or retried run counts for its own day."""
    if isinstance(now, str):
        now = datetime.fromisoformat(now.replace("Z", "+00:00"))
    return queue_history.nightly((now or datetime.now(UTC)).astimezone(UTC))
