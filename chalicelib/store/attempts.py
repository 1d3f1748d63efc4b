"""Counting attempts in fixed windows, atomically, across every Lambda at once: "at most N an
hour for this client". `failures`/`add_failure` count what happened; `take`/`give_back` hold a
place before the work is done, so concurrent requests cannot pass the limit between them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime, timedelta

from chalicelib.observability import logger
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


def add_failure(subject: str, now: datetime, window: timedelta) -> int:
    """Count one more for `subject` in the window holding `now`; the window's count now."""
    counter = AttemptCounter(_key(subject, now, window))
    counter.update(actions=[AttemptCounter.count.add(1), AttemptCounter.expires_at.set(now + 2 * window)])
    return int(counter.count)


def take(subject: str, now: datetime, window: timedelta, limit: int) -> bool:
    """Count one more for `subject` in the window holding `now`, unless it holds `limit` already
    (False). One conditional write: of concurrent callers, at most `limit` are counted."""
    with conditional() as write:
        AttemptCounter(_key(subject, now, window)).update(
            actions=[AttemptCounter.count.add(1), AttemptCounter.expires_at.set(now + 2 * window)],
            condition=AttemptCounter.count.does_not_exist() | (AttemptCounter.count < limit),
        )
    return write.applied


def give_back(subject: str, now: datetime, window: timedelta) -> None:
    """Undo a `take` made at `now` (the same window): what it held a place for did not count."""
    AttemptCounter(_key(subject, now, window)).update(actions=[AttemptCounter.count.add(-1)])


def network_places(kind: str, client: str, limits: Sequence[int]) -> list[tuple[str, int]]:
    """(subject, limit) for each network of a client (api.requests.client_pseudonym: its
    pseudonyms, narrowest first, space-separated), with the limit of its width: an IPv4 address
    or an IPv6 /64 the first, its /56 and /48 the next."""
    return [(f"{kind}#{network}", limit) for network, limit in zip(client.split(" "), limits, strict=False)]


def take_each(places: list[tuple[str, int]], now: datetime, window: timedelta) -> list[str] | None:
    """A place in each (subject, limit) of one window (a client's networks), or in none: the
    subjects taken, or None when one is full. What was taken before a full one, or before an
    error, is given back once."""
    taken: list[str] = []
    try:
        for subject, limit in places:
            if not take(subject, now, window, limit):
                break
            taken.append(subject)
        else:
            return taken
    except Exception:
        give_back_each(taken, now, window)
        raise
    give_back_each(taken, now, window)
    return None


def give_back_each(subjects: list[str], now: datetime, window: timedelta) -> None:
    """Give back each place; one that cannot be (a failed write) stays counted until its window
    ends, which only ever errs towards the limit: never an error for the caller."""
    for subject in subjects:
        try:
            give_back(subject, now, window)
        except Exception as error:  # noqa: BLE001 (a place left taken is the safe side)
            logger.warning("a place not given back", extra={"error": type(error).__name__})
