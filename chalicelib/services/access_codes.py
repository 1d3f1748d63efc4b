"""Access codes: the one check of a receipt's or a booking's number and code, for every route
that takes one (submissions, their payments and answers, consultation bookings).

The number + code is the credential (the code has 40 bits: 8 symbols of 32). Guessing is held
back twice (the arithmetic is in docs/architecture.md, "Access codes"):
- per number, a backoff: FREE_WRONG_CODES tries, then each further one waits twice as long as
  the one before (from FIRST_DELAY up to MAX_DELAY); a right code starts it over. Each try is
  taken (atomically) before the code is evaluated, so concurrent guesses cannot exceed it, and a
  resident is delayed, never locked out for long;
- per client (source IP), at most CLIENT_WRONG_CODES wrong codes per CLIENT_WINDOW, any number.
A resident on LINE reaches what is theirs with their ID token, whatever the backoff (the callers).
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime, timedelta

from chalicelib.domain import errors as rule
from chalicelib.domain import submissions as secrets
from chalicelib.domain.messages import Text
from chalicelib.store import attempts

FREE_WRONG_CODES = 5
FIRST_DELAY = timedelta(seconds=15)
MAX_DELAY = timedelta(minutes=15)
BACKOFF_KEPT = timedelta(days=1)
CLIENT_WRONG_CODES = 20
CLIENT_WINDOW = timedelta(hours=1)


def delay_after(tries: int) -> timedelta:
    """How long the number waits after its `tries`-th try in a row without the right code."""
    if tries < FREE_WRONG_CODES:
        return timedelta(0)
    return min(FIRST_DELAY * 2 ** (tries - FREE_WRONG_CODES), MAX_DELAY)


@functools.cache
def _decoy_hash() -> str:
    """A stored hash of the real cost for nothing: an unknown number pays the same scrypt."""
    return secrets.hash_secret(secrets.new_access_secret(), secrets.new_salt())


def check(number: str | None, stored: str | None, secret: str | None, client: str) -> bool:
    """Whether `secret` is the code of `number` (`stored`: its hash; None when there is no such
    number), within the limits above. The same work whether or not the number exists: a try
    taken on it (known or not), one scrypt (of a decoy when there is nothing to check against).
    Raises TooManyRequests when the client has used up its wrong codes for the hour."""
    now = datetime.now(UTC)
    if attempts.failures(f"client#{client}", now, CLIENT_WINDOW) >= CLIENT_WRONG_CODES:
        raise rule.TooManyRequests(
            Text("error.too_many_attempts"),
            code="too_many_attempts",
            retry_after=attempts.seconds_left(now, CLIENT_WINDOW),  # the hour is a fixed one
        )
    subject = _subject(number)
    evaluated = number is not None and attempts.reserve(subject, now, delay_after, BACKOFF_KEPT)
    matches = secrets.verify_secret(secret or "", stored if evaluated and stored else _decoy_hash())
    if evaluated and stored is not None and matches:
        attempts.clear(subject)
        return True
    if evaluated:
        # A wrong code for the client's hourly limit only where one was checked: a try the
        # number's backoff turned away guessed nothing (and may be the resident's own page
        # asking while a right code is still being checked).
        attempts.add_failure(f"client#{client}", now, CLIENT_WINDOW)
    return False


def forget_tries(number: str) -> None:
    """A new code was issued for `number`: the wrong tries at the old one no longer delay it."""
    attempts.clear(_subject(number))


def _subject(number: str | None) -> str:
    return f"access-code#{number}"
