"""How much one address may send and upload without signing in.

A web form or a web booking needs no account, and each sends the ward's mail to whatever
address was typed and may take a consultation seat nobody verified: one script could book
every seat or turn the ward's SES sender on strangers. Each photo upload is a presigned POST
of up to 10 MB into the ward's bucket: one script could fill it. The counts are per network
of the client (api.requests.client_pseudonym: an address, or an IPv6 /64 with its /56 and
/48), in the attempts table, for fixed windows; each place is one conditional write, so
callers at once cannot pass a limit between them.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from chalicelib.config import get_settings
from chalicelib.domain import errors as rule
from chalicelib.domain.messages import Text
from chalicelib.store import attempts

SENDS_WINDOW = timedelta(days=1)
UPLOADS_WINDOW = timedelta(hours=1)


def take(client: str) -> None:
    """Count one send (a form or a booking) of `client`; TooManyRequests once its day's sends are
    used up. Only a send that runs counts (an Idempotency-Key's replay does not); a LINE
    resident (an ID token) is not counted."""
    _take("anonymous-sends", client, SENDS_WINDOW, get_settings().anonymous_sends_per_day, "too_many_sends")


def take_upload(client: str) -> None:
    """Count one photo upload of `client`; TooManyRequests once its hour's uploads are used up."""
    _take(
        "anonymous-uploads",
        client,
        UPLOADS_WINDOW,
        get_settings().anonymous_uploads_per_hour,
        "too_many_uploads",
    )


# A client's networks (api.requests.client_pseudonym: an address or IPv6 /64, its /56, its /48)
# each count, the wider ones for more people: a re-test took every /64 of one /56 for a new client.
NETWORK_SHARES = (1, 3, 25)


def _take(kind: str, client: str, window: timedelta, limit: int, code: str) -> None:
    now = datetime.now(UTC)
    places = attempts.network_places(kind, client, [limit * share for share in NETWORK_SHARES])
    if attempts.take_each(places, now, window) is None:
        raise rule.TooManyRequests(
            Text(f"error.{code}"), code=code, retry_after=attempts.seconds_left(now, window)
        )
