"""The webhook's whole job: check, dedupe, queue. The work itself happens in the worker."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from chalicelib.adapters import queues
from chalicelib.config import get_settings
from chalicelib.domain.line_webhook import LineEvent, check_request, queue_body
from chalicelib.domain.webhooks import MAX_EVENT_AGE
from chalicelib.observability import logger
from chalicelib.resources import LINE_EVENTS
from chalicelib.services.ingress import QueueUnavailable, forget
from chalicelib.store import inbox


@dataclass(frozen=True)
class IngressResult:
    queued: list[str]
    duplicates: list[str]
    # Events SQS will never take (too large, refused as such): logged and dropped, not retried.
    dropped: list[str]
    # Events older than webhooks.MAX_EVENT_AGE: a replay the inbox no longer remembers, not run.
    stale: list[str]


def accept(body: bytes, signature: str | None) -> IngressResult:
    """Check the body, record each new event in the inbox and queue it.

    Everything that can be checked is checked before the first inbox row is written. After
    that, any failure before the send took an event forgets that event's row again, so LINE's
    redelivery (it redelivers on a 5xx) is accepted rather than dropped as a duplicate.
    """
    events = check_request(get_settings().line_channel_secret, body, signature)
    bodies = {event.event_id: queue_body(event.raw) for event in events}
    dropped = [
        event.event_id
        for event in events
        if len(bodies[event.event_id].encode("utf-8")) > LINE_EVENTS.max_message_bytes
    ]
    if dropped:
        # Not LINE's doing (its events are a few KB) and never queueable: drop it, keep the others.
        logger.error("line events too large for the queue were dropped", extra={"events": dropped})
    now = datetime.now(UTC)
    stale = [event.event_id for event in events if event.age(now) > MAX_EVENT_AGE]
    fresh: list[LineEvent] = []
    duplicates: list[str] = []
    try:
        for event in events:
            if event.event_id in dropped or event.event_id in stale:
                continue
            if inbox.record_first_sight(event.event_id, "line", now):
                fresh.append(event)
            else:
                duplicates.append(event.event_id)
        sent = (
            queues.send_each(LINE_EVENTS, [(event.event_id, bodies[event.event_id]) for event in fresh])
            if fresh
            else queues.Sent()
        )
    except Exception as error:
        forget([event.event_id for event in fresh])
        raise QueueUnavailable(f"recording or queueing failed: {type(error).__name__}") from error
    if sent.refused:
        logger.error("line events refused by the queue were dropped", extra={"events": sent.refused})
    forget(sent.unsent + sent.refused)
    if sent.unsent:
        raise QueueUnavailable(f"{len(sent.unsent)} of {len(fresh)} events could not be queued")
    not_queued = set(sent.refused)
    return IngressResult(
        queued=[event.event_id for event in fresh if event.event_id not in not_queued],
        duplicates=duplicates,
        dropped=dropped + sent.refused,
        stale=stale,
    )
