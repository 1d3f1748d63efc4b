"""The webhook's whole job: check, dedupe, queue. The work itself happens in the worker."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from chalicelib.adapters import queues
from chalicelib.config import get_settings
from chalicelib.domain.line_webhook import check_request
from chalicelib.resources import LINE_EVENTS
from chalicelib.store import inbox


class QueueUnavailable(Exception):
    """Some events could not be queued; they were forgotten so that LINE's redelivery is accepted."""


@dataclass(frozen=True)
class IngressResult:
    queued: list[str]
    duplicates: list[str]


def accept(body: bytes, signature: str | None) -> IngressResult:
    events = check_request(get_settings().line_channel_secret, body, signature)
    now = datetime.now(UTC)
    fresh, duplicates = [], []
    for event in events:
        if inbox.record_first_sight(event.event_id, "line", now):
            fresh.append(event)
        else:
            duplicates.append(event.event_id)
    failed = queues.send_all(LINE_EVENTS, [(event.event_id, event.raw) for event in fresh]) if fresh else []
    for event_id in failed:
        inbox.forget(event_id)
    if failed:
        raise QueueUnavailable(f"{len(failed)} of {len(fresh)} events could not be queued")
    return IngressResult(queued=[event.event_id for event in fresh], duplicates=duplicates)
