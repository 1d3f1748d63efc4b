"""What every webhook (LINE, the payment providers, the ticket systems) refuses alike: the error
it answers with, and a body that is not strict JSON or breaks its schema. Pure: no I/O."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from chalicelib.domain import json_text
from chalicelib.schemas import problems

# Where the signature carries no time (LINE, Qminder-style and shared-secret ticket systems), an
# event older than this is not taken: the inbox remembers an event id for a week
# (store/inbox.KEEP_FOR), so a request captured and replayed later than that would run again (a
# "stop all" postback, a ticket's call). LINE redelivers for a day; a ticket system catching up
# after a long weekend's outage still lands. A signed time (Stripe, madoguchi's own format) stops
# replays by itself.
MAX_EVENT_AGE = timedelta(days=5)


class InvalidWebhook(Exception):
    """A webhook request refused: the status and code to answer with, said to the sender's developer."""

    def __init__(self, status: int, code: str, message: str, details: list[Any] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details or []


def strict_json(body: bytes, schema: str) -> Any:
    """The body as JSON that keeps `schema`: 400 unless it is strict UTF-8 JSON (`json_text.parse`),
    422 with every schema problem."""
    try:
        document = json_text.parse(body)
    except (ValueError, RecursionError) as error:
        why = [{"message": json_text.why_not(error)}]
        raise InvalidWebhook(400, "malformed_json", "The body is not valid UTF-8 JSON.", why) from None
    found = problems(schema, document)
    if found:
        details = [{"pointer": p["pointer"], "message": p["message"]} for p in found]
        raise InvalidWebhook(422, "invalid_webhook", "The body does not match the webhook schema.", details)
    return document
