"""Access codes: the one check of a receipt's or a booking's number and code, for every route
that takes one (submissions, their payments and answers, consultation bookings).

The number + code is the credential (the code has 40 bits: 8 symbols of 32). Each try takes a
place (atomically, before the code is evaluated, so concurrent guesses cannot pass a limit) in:
- its client's hour (source IP; an IPv6 /64): at most CLIENT_WRONG_CODES, any number;
- its number's minute: at most NUMBER_TRIES, from every client together: what bounds guessing
  one number from many addresses, yet can hold its resident back a minute at most, with 429 and
  Retry-After, never "wrong code" (an outside run kept a receipt's former backoff waiting, and
  its resident out, with a guess at each of its ends; to keep a minute full takes NUMBER_TRIES
  wrong codes a minute, which the per-client hour makes dozens of addresses).
A right code gives both places back. Many wrong codes for one number are logged with it and
counted for the operators, who can issue a new code. The arithmetic is in
docs/architecture.md, "Access codes".
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime, timedelta

from chalicelib.domain import errors as rule
from chalicelib.domain import submissions as secrets
from chalicelib.domain.messages import Text
from chalicelib.observability import logger, metrics
from chalicelib.store import attempts

CLIENT_WRONG_CODES = 20
CLIENT_WINDOW = timedelta(hours=1)
NUMBER_TRIES = 30
NUMBER_WINDOW = timedelta(minutes=1)
# Wrong codes for one number in a day from which the operators are told (a distributed guess).
GUESSED_AT = 50
GUESS_WINDOW = timedelta(days=1)


@functools.cache
def _decoy_hash() -> str:
    """A stored hash of the real cost for nothing: an unknown number pays the same scrypt."""
    return secrets.hash_secret(secrets.new_access_secret(), secrets.new_salt())


def check(number: str | None, stored: str | None, secret: str | None, client: str) -> bool:
    """Whether `secret` is the code of `number` (`stored`: its hash; None when there is no such
    number). The same work whether or not the number exists: a place taken in the client's
    hour and the number's minute, one scrypt (of a decoy when there is nothing to check
    against). Raises TooManyRequests when either window is full."""
    now = datetime.now(UTC)
    places = [(f"client#{client}", CLIENT_WINDOW, CLIENT_WRONG_CODES)]
    if number is not None:
        places.append((f"number#{number}", NUMBER_WINDOW, NUMBER_TRIES))
    taken: list[tuple[str, timedelta]] = []
    for subject, window, limit in places:
        if not attempts.take(subject, now, window, limit):
            for held, held_window in taken:  # this try is not evaluated: it counts nowhere
                attempts.give_back(held, now, held_window)
            raise rule.TooManyRequests(
                Text("error.too_many_attempts"),
                code="too_many_attempts",
                retry_after=attempts.seconds_left(now, window),  # the window is a fixed one
            )
        taken.append((subject, window))
    matches = secrets.verify_secret(secret or "", stored or _decoy_hash())
    if number is not None and stored is not None and matches:
        for held, held_window in taken:
            attempts.give_back(held, now, held_window)
        return True
    if number is not None and attempts.add_failure(f"access-code#{number}", now, GUESS_WINDOW) == GUESSED_AT:
        # The number, not personal data (receipts are public on Open311): what an operator acts on.
        logger.warning(
            "many wrong access codes for one number today: a new code may be due", extra={"number": number}
        )
        metrics.add_metric(name="AccessCodeGuessed", unit="Count", value=1)
    return False
