"""Access codes: the one check of a receipt's or a booking's number and code, for every route
that takes one (submissions, their payments and answers, consultation bookings).

The number + code is the credential (the code has 40 bits: 8 symbols of 32). Guessing is held
back per client (source IP): at most CLIENT_WRONG_CODES wrong codes per CLIENT_WINDOW, any
number, each try's place taken (atomically) before the code is evaluated, so concurrent guesses
cannot pass it; a right code gives its place back. Nothing is held back per number: whatever a
stranger sends, the right code always opens it (an outside run kept a receipt's former backoff
waiting, and its resident out, with a guess at each of its ends). Many wrong codes for one
number are logged and counted for the operators, who can issue a new code. The arithmetic is
in docs/architecture.md, "Access codes".
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
    hour, one scrypt (of a decoy when there is nothing to check against). Raises
    TooManyRequests when the client has used up its wrong codes for the hour."""
    now = datetime.now(UTC)
    budget = f"client#{client}"
    if not attempts.take(budget, now, CLIENT_WINDOW, CLIENT_WRONG_CODES):
        raise rule.TooManyRequests(
            Text("error.too_many_attempts"),
            code="too_many_attempts",
            retry_after=attempts.seconds_left(now, CLIENT_WINDOW),  # the hour is a fixed one
        )
    matches = secrets.verify_secret(secret or "", stored or _decoy_hash())
    if number is not None and stored is not None and matches:
        attempts.give_back(budget, now, CLIENT_WINDOW)
        return True
    if number is not None and attempts.add_failure(f"access-code#{number}", now, GUESS_WINDOW) == GUESSED_AT:
        logger.warning("many wrong access codes for one number today: a new code may be due")
        metrics.add_metric(name="AccessCodeGuessed", unit="Count", value=1)
    return False
