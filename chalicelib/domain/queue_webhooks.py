"""What a ticket system's webhook request is, per adapter, and what makes one acceptable. Pure.

Each source (one ticket system at one office) names an adapter in chalicelib/data/queue.json:
- `madoguchi`: our documented format, `X-Madoguchi-Signature: t=<unix>,v1=<hex HMAC-SHA256 of
  "t.body">`, refused outside a 300-second tolerance (a captured request cannot be replayed later);
- `qminder`: Qminder-style, `X-Qminder-Signature: <hex HMAC-SHA256 of registered URL + body>`;
  the vendor sends no event id, so the event is known by a hash of what it says (`queue.event_id`);
- `shared_secret`: a vendor that cannot sign sends a fixed token header, and may send only from
  the addresses its source lists (`allowedNetworks`, required for it; any source may have one).
Order: the caller's address, then size, then signature (before parsing: an unsigned body is never looked into), then strict
JSON, then schema, then the event in madoguchi's words (QueueEvent), then its time: an event dated
later than now (beyond the clock tolerance) is refused, as a wrong clock would otherwise move a
line to a later day and freeze today's figures, or keep a silent line looking current; so is one
dated before EARLIEST_EVENT (a clock reset to its epoch). Late events of real days are accepted,
from the `madoguchi` adapter (its signature's time stops a replay); the others sign no time, so
an event older than webhooks.MAX_EVENT_AGE from them is refused: the inbox no longer remembers
it, and a captured request posted again would count again.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from chalicelib.domain.errors import Invalid
from chalicelib.domain.queue import QueueEvent, Source, config, normalised, parse_time
from chalicelib.domain.webhooks import MAX_EVENT_AGE, InvalidWebhook, strict_json

MAX_BODY_BYTES = 64 * 1024
# Before any ticket system could send to madoguchi: a machine whose clock lost power restarts at
# its epoch (1970, 1980, 2000) and would file its events under a day nobody looks at, with a 200.
EARLIEST_EVENT = datetime(2020, 1, 1, tzinfo=UTC)
# ASCII digits only (str.isdigit takes "²"), and few enough to be a time.
UNIX_TIME = re.compile(r"[0-9]{1,12}")
SIGNATURE_HEADER = "x-madoguchi-signature"
QMINDER_HEADER = "x-qminder-signature"


def _hex(secret: str, message: bytes) -> str:
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def sign_madoguchi(secret: str, body: bytes, timestamp: int) -> str:
    """The X-Madoguchi-Signature value for `body` sent at `timestamp` (vendors, tools and tests)."""
    return f"t={timestamp},v1={_hex(secret, str(timestamp).encode() + b'.' + body)}"


def sign_qminder(secret: str, url: str, body: bytes) -> str:
    return _hex(secret, url.encode() + body)


def _unsigned() -> InvalidWebhook:
    return InvalidWebhook(401, "invalid_signature", "The signature is missing, wrong or too old.")


def _check_madoguchi(
    secret: str, body: bytes, headers: Mapping[str, str], now: datetime, tolerance: int
) -> None:
    value = headers.get(SIGNATURE_HEADER) or ""
    timestamp, signatures = None, []
    for part in value.split(","):
        name, _, item = part.strip().partition("=")
        if name == "t" and UNIX_TIME.fullmatch(item):
            timestamp = int(item)
        elif name == "v1":
            signatures.append(item.lower())  # hex either way, as the Qminder adapter reads it
    if timestamp is None or not signatures or abs(now.timestamp() - timestamp) > tolerance:
        raise _unsigned()
    expected = _hex(secret, str(timestamp).encode() + b"." + body).encode()
    # Every v1 is compared (a vendor rotating its secret sends two); any match is enough.
    if not any(hmac.compare_digest(expected, sig.encode("ascii", "replace")) for sig in signatures):
        raise _unsigned()


def _check_qminder(secret: str, url: str, body: bytes, headers: Mapping[str, str]) -> None:
    given = (headers.get(QMINDER_HEADER) or "").strip().lower()
    if not given or not hmac.compare_digest(
        sign_qminder(secret, url, body).encode(), given.encode("ascii", "replace")
    ):
        raise _unsigned()


def _check_token(secret: str, header: str, headers: Mapping[str, str]) -> None:
    given = headers.get(header.lower()) or ""
    if not given or not hmac.compare_digest(secret.encode(), given.encode("utf-8", "replace")):
        raise _unsigned()


def _text(value: Any) -> str:
    return str(value).strip()


_QMINDER_TYPES = {
    "ticket_created": "issued",
    "ticket_called": "called",
    "ticket_recalled": "recalled",
    "ticket_served": "served",
    "ticket_no_show": "no_show",
    "ticket_cancelled": "cancelled",
    "ticket_transferred": "transferred",
}
_KIOSK_TYPES = {
    "ISSUE": "issued",
    "CALL": "called",
    "RECALL": "recalled",
    "DONE": "served",
    "NOSHOW": "no_show",
    "CANCEL": "cancelled",
    "TRANSFER": "transferred",
}


def _mapped_line(source: Source, vendor_line: Any) -> str:
    line = source.line_map.get(_text(vendor_line))
    if line is None:
        raise Invalid(f"service line {vendor_line!r} is not mapped for this source", code="unknown_line")
    return line


def _from_madoguchi(source: Source, document: dict[str, Any]) -> QueueEvent:
    if document["office"] != source.office:
        raise Invalid("this source sends for another office", code="wrong_office")
    return normalised(
        source,
        document["id"],
        document["line"],
        document["ticket"],
        document["type"],
        parse_time(document["at"]),
        document.get("counter"),
    )


def _from_qminder(source: Source, document: dict[str, Any]) -> QueueEvent:
    data = document["data"]
    desk = data.get("desk")
    return normalised(
        source,
        None,  # no event id: known by what it says
        _mapped_line(source, data["line"]),
        _text(data["number"]),
        _QMINDER_TYPES[document["type"]],
        parse_time(data["time"]),
        _text(desk) if desk is not None else None,
    )


def _from_kiosk(source: Source, document: dict[str, Any]) -> QueueEvent:
    return normalised(
        source,
        None,
        _mapped_line(source, document["service"]),
        document["ticket"],
        _KIOSK_TYPES[document["event"]],
        parse_time(document["time"]),
        document.get("counter") or None,
    )


_ADAPTERS: dict[str, tuple[str, Callable[[Source, dict[str, Any]], QueueEvent]]] = {
    "madoguchi": ("queue_event", _from_madoguchi),
    "qminder": ("queue_qminder", _from_qminder),
    "shared_secret": ("queue_kiosk", _from_kiosk),
}


def check_request(
    source_id: str,
    body: bytes,
    headers: Mapping[str, str],
    now: datetime,
    secret_of: Callable[[str], str],
    source_ip: str | None = None,
) -> QueueEvent:
    """The event of an authentic, well-formed request from `source_id`, or InvalidWebhook.

    `headers` are lower-cased names; `secret_of(name)` reads a source's secret from the settings;
    `source_ip` is the caller's address, checked against the source's `allowedNetworks`.
    """
    source = config().source(source_id)
    if source is None:
        raise InvalidWebhook(404, "unknown_source", "No ticket system is configured under this name.")
    if not source.allows(source_ip):
        raise InvalidWebhook(403, "address_not_allowed", "This address may not send for this ticket system.")
    if len(body) > MAX_BODY_BYTES:
        raise InvalidWebhook(413, "payload_too_large", f"The body exceeds {MAX_BODY_BYTES} bytes.")
    secret = secret_of(source.secret)
    if source.adapter == "madoguchi":
        _check_madoguchi(secret, body, headers, now, config().settings.signature_tolerance_seconds)
    elif source.adapter == "qminder":
        _check_qminder(secret, source.registered_url, body, headers)
    else:
        _check_token(secret, source.header, headers)
    schema, convert = _ADAPTERS[source.adapter]
    document = strict_json(body, schema)
    try:
        event = convert(source, document)
    except Invalid as error:
        raise InvalidWebhook(422, error.code, str(error.message)) from None
    tolerance = config().settings.signature_tolerance_seconds
    if (event.occurred_at - now).total_seconds() > tolerance:
        raise InvalidWebhook(
            422,
            "time_in_future",
            f"The event's time is more than {tolerance} seconds ahead of ours: check the ticket system's clock.",
        )
    if event.occurred_at < EARLIEST_EVENT:
        raise InvalidWebhook(
            422,
            "time_too_old",
            f"The event's time is before {EARLIEST_EVENT.year}: check the ticket system's clock (was it reset?).",
        )
    if source.adapter != "madoguchi" and now - event.occurred_at > MAX_EVENT_AGE:
        raise InvalidWebhook(
            422,
            "time_too_old",
            f"The event is more than {MAX_EVENT_AGE.days} days old: this ticket system signs no time, so a"
            " replay of it could not be told from a new event.",
        )
    return event
