"""Counting failed attempts, atomically, across every Lambda at once.

Two shapes: fixed windows (`failures`/`add_failure`: "at most N per hour for this client") and
a backoff (`reserve`/`clear`: "this many free tries, then ever longer waits", where the try is
taken before it is evaluated, so concurrent requests cannot evaluate more than the rule allows).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime, timedelta

from pynamodb.expressions.condition import Condition

from chalicelib.store.conditions import conditional
from chalicelib.store.models import AttemptCounter
from chalicelib.store.reads import item_or_none


def _key(subject: str, now: datetime, window: timedelta) -> str:
    bucket = int(now.timestamp() // window.total_seconds())
    return f"{subject}#{bucket}"


def seconds_left(now: datetime, window: timedelta) -> int:
    """Whole seconds until the fixed window holding `now` ends and its counts start from zero."""
    length = window.total_seconds()
    return max(1, math.ceil(length - now.timestamp() % length))


def failures(subject: str, now: datetime, window: timedelta) -> int:
    found = item_or_none(AttemptCounter, _key(subject, now, window))
    return int(found.count) if found else 0


def add_failure(subject: str, now: datetime, window: timedelta) -> None:
    AttemptCounter(_key(subject, now, window)).update(
        actions=[AttemptCounter.count.add(1), AttemptCounter.expires_at.set(now + 2 * window)]
    )


def reserve(subject: str, now: datetime, delay_after: Callable[[int], timedelta], keep: timedelta) -> bool:
    """Take the next try of `subject` if its backoff allows one now; False if it must wait.

    The n-th try (counted from 1) makes the next one wait `delay_after(n)`. The write is
    conditional on the count read, so of concurrent callers exactly one takes each try; a caller
    that lost the race reads again and takes the next one, unless the backoff now says wait
    (a resident's own page asking twice at once must not be refused).
    """
    for _ in range(_RACE_ROUNDS):
        condition: Condition
        try:
            item = AttemptCounter.get(subject, consistent_read=True)
        except AttemptCounter.DoesNotExist:
            count, condition = 0, AttemptCounter.key.does_not_exist()
        else:
            if item.next_at is not None and item.next_at > now:
                return False
            count, condition = int(item.count), AttemptCounter.count == int(item.count)
        delay = delay_after(count + 1)
        # No wait at all is no time to compare: concurrent callers' clocks differ by milliseconds.
        taken = AttemptCounter(
            subject, count=count + 1, next_at=now + delay if delay else None, expires_at=now + keep
        )
        with conditional() as write:
            taken.save(condition=condition)
        if write.applied:
            return True
    return False


# Concurrent tries of one receipt that each read again after losing the conditional put.
_RACE_ROUNDS = 8


def clear(subject: str) -> None:
    """The subject succeeded: its backoff starts over."""
    AttemptCounter(subject).delete()
