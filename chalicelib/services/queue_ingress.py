"""The queue webhook's whole job: check, dedupe, queue. Applying the event happens in the worker.

An issue is answered with the link the ticket's QR code carries, so a ticket machine that waits
for the answer before printing can print it (the link needs the ward's secret, which no vendor holds).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime

from chalicelib.config import get_settings
from chalicelib.domain.queue import QueueEvent, sign_ticket
from chalicelib.domain.queue_webhooks import check_request
from chalicelib.resources import QUEUE_EVENTS, QUEUE_TICKET_SECRET
from chalicelib.services.ingress import queue_once


def accept(
    source: str, body: bytes, headers: Mapping[str, str], source_ip: str | None = None
) -> tuple[QueueEvent, bool]:
    """The event and whether it was new (False: a duplicate, dropped at the inbox); QueueUnavailable
    if it could not be queued."""
    now = datetime.now(UTC)
    event = check_request(source, body, headers, now, get_settings().secret, source_ip)
    key = f"queue:{event.source}:{event.event_id}"
    return event, queue_once(key, "queue", QUEUE_EVENTS, event.to_dict(), now)


def ticket_secret() -> str:
    return get_settings().secret(QUEUE_TICKET_SECRET)


def ticket_link(office: str, day: date, number: str) -> str:
    """The link printed as a QR code on a ticket: the LIFF watch page of this ticket, today only."""
    return f"{get_settings().liff_url}/queue/tickets/{sign_ticket(ticket_secret(), office, day, number)}"
