"""The queue webhook's whole job: check, dedupe, queue. Applying the event happens in the worker.

An issue is answered with the link the ticket's QR code carries, so a ticket machine that waits
for the answer before printing can print it (the link needs the ward's secret, which no vendor holds).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime

from chalicelib.adapters import queues
from chalicelib.config import get_settings
from chalicelib.domain.queue import QueueEvent, sign_ticket
from chalicelib.domain.queue_webhooks import check_request
from chalicelib.resources import QUEUE_EVENTS, QUEUE_TICKET_SECRET
from chalicelib.store import inbox


class QueueUnavailable(Exception):
    """The event could not be queued; it was forgotten so that the vendor's retry is accepted."""


def accept(
    source: str, body: bytes, headers: Mapping[str, str], source_ip: str | None = None
) -> tuple[QueueEvent, bool]:
    """The event and whether it was new (False: a duplicate, dropped at the inbox)."""
    now = datetime.now(UTC)
    event = check_request(source, body, headers, now, get_settings().secret, source_ip)
    key = f"queue:{event.source}:{event.event_id}"
    if not inbox.record_first_sight(key, "queue", now):
        return event, False
    if queues.send_all(QUEUE_EVENTS, [(key, event.to_dict())]):
        inbox.forget(key)
        raise QueueUnavailable(key)
    return event, True


def ticket_secret() -> str:
    return get_settings().secret(QUEUE_TICKET_SECRET)


def ticket_link(office: str, day: date, number: str) -> str:
    """The link printed as a QR code on a ticket: the LIFF watch page of this ticket, today only."""
    return f"{get_settings().liff_url}/queue/tickets/{sign_ticket(ticket_secret(), office, day, number)}"
