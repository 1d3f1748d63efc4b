"""Access codes: the one check of a receipt's or a booking's number and code, for every route
that takes one (submissions, their payments and answers, consultation bookings).

The number + code is the credential (the code has 40 bits: 8 symbols of 32). Each try takes a
place (atomically, before the code is evaluated, so concurrent guesses cannot pass a limit) in
the hour of each network of its client (api.requests.client_pseudonym): an IPv4 address, or an
IPv6 /64, /56 and /48, at most CLIENT_WRONG_CODES each. A right code gives them back. Nothing
is counted per number: a number's window shared by every client was a lock a stranger could
hold (a review: thirty /64s of one home line kept a published receipt's right code out, minute
after minute). Many wrong codes for one existing number are logged with it and counted for the
operators, who can issue a new code. The arithmetic is in docs/architecture.md, "Access codes".
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime, timedelta

from chalicelib.domain import errors as rule
from chalicelib.domain import submissions as secrets
from chalicelib.domain.messages import Text
from chalicelib.observability import logger, metrics
from chalicelib.store import attempts

# Wrong codes an hour: an address or an IPv6 /64, its /56 (a home line), its /48 (a site).
CLIENT_WRONG_CODES = (20, 60, 500)
CLIENT_WINDOW = timedelta(hours=1)
# Wrong codes for one number in a day from which the operators are told (a distributed guess).
GUESSED_AT = 50
GUESS_WINDOW = timedelta(days=1)


@functools.cache
def _decoy_hash() -> str:
    """A stored hash of the real cost for nothing: an unknown number pays the same scrypt."""
    return secrets.hash_secret(secrets.new_access_secret(), secrets.new_salt())


def check(number: str | None, stored: str | None, secret: str | None, client: str) -> bool:
    """Whether `secret` is the code of `number` (`stored`: its hash; None when there is no such
    number). The same work whether or not the number exists: a place taken in each of the
    client's networks' hours, one scrypt (of a decoy when there is nothing to check against).
    Raises TooManyRequests when a network's hour is full."""
    now = datetime.now(UTC)
    taken = attempts.take_each(
        attempts.network_places("client", client, CLIENT_WRONG_CODES), now, CLIENT_WINDOW
    )
    if taken is None:
        raise rule.TooManyRequests(
            Text("error.too_many_attempts"),
            code="too_many_attempts",
            retry_after=attempts.seconds_left(now, CLIENT_WINDOW),  # the window is a fixed one
        )
    try:
        matches = secrets.verify_secret(secret or "", stored or _decoy_hash())
    except Exception:
        attempts.give_back_each(taken, now, CLIENT_WINDOW)  # not evaluated: counts nowhere
        raise
    if number is not None and stored is not None and matches:
        attempts.give_back_each(taken, now, CLIENT_WINDOW)
        return True
    # Counted for every number, existing or not (the same work); a made-up one raises no alarm.
    wrong_today = attempts.add_failure(f"access-code#{number}", now, GUESS_WINDOW) if number else 0
    if wrong_today == GUESSED_AT and stored is not None:
        # The number, not personal data: what an operator acts on (a new code).
        logger.warning(
            "many wrong access codes for one number today: a new code may be due", extra={"number": number}
        )
        metrics.add_metric(name="AccessCodeGuessed", unit="Count", value=1)
    return False
