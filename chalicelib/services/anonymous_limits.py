"""How many submissions and bookings one address may send a day without signing in.

A web form or a web booking needs no account, and each sends the ward's mail to whatever
address was typed and may take a consultation seat nobody verified: one script could book
every seat or turn the ward's SES sender on strangers. A LINE resident (an ID token) is not
counted. The count is per client pseudonym (api.requests.client_pseudonym), in the attempts
table, for a fixed day; only a send that runs counts (an Idempotency-Key's replay does not).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from chalicelib.config import get_settings
from chalicelib.domain import errors as rule
from chalicelib.domain.messages import Text
from chalicelib.store import attempts

WINDOW = timedelta(days=1)


def take(client: str) -> None:
    """Count one send of `client`; TooManyRequests once its day's sends are used up."""
    now = datetime.now(UTC)
    subject = f"anonymous-sends#{client}"
    if attempts.failures(subject, now, WINDOW) >= get_settings().anonymous_sends_per_day:
        raise rule.TooManyRequests(
            Text("error.too_many_sends"),
            code="too_many_sends",
            retry_after=attempts.seconds_left(now, WINDOW),
        )
    attempts.add_failure(subject, now, WINDOW)
