"""A token bucket in DynamoDB, shared by every worker that calls one rate-limited API.

The item holds the tokens left at `updated_ms`. Taking a token reads it, adds what the
elapsed time refilled (at most one second's worth: the burst), and writes the result back on
condition that nobody wrote in between (`revision`); a worker that loses the race reads again.
Without a token it sleeps until one will have refilled. Clocks of different workers may
disagree slightly: the stored time never moves backwards, so a lagging clock only waits longer.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from chalicelib.store.conditions import conditional
from chalicelib.store.models import RateBucket

# Give up (and let the caller's retry take over) after this long without a token.
MAX_WAIT_SECONDS = 30.0


class NoToken(Exception):
    """No token within MAX_WAIT_SECONDS: the bucket is contended far beyond its rate."""


@dataclass(frozen=True)
class Bucket:
    name: str
    rate: float  # tokens per second
    burst: float  # the most tokens the bucket holds (taken at once by an idle start)

    def refilled(self, tokens: float, updated_ms: int, now_ms: int) -> float:
        return min(self.burst, tokens + max(0, now_ms - updated_ms) * self.rate / 1000)


def acquire(
    bucket: Bucket,
    *,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
    max_wait: float = MAX_WAIT_SECONDS,
) -> float:
    """Take one token, waiting as long as needed; returns the seconds waited. NoToken after max_wait."""
    started = clock()
    while True:
        now_ms = int(clock() * 1000)
        try:
            item = RateBucket.get(bucket.name, consistent_read=True)
        except RateBucket.DoesNotExist:
            item = None
        if item is None:
            tokens, updated_ms, revision = bucket.burst, now_ms, 0
        else:
            updated_ms, revision = int(item.updated_ms), int(item.revision)
            tokens = bucket.refilled(float(item.tokens), updated_ms, now_ms)
            updated_ms = max(updated_ms, now_ms)
        if tokens >= 1:
            if _write(bucket.name, tokens - 1, updated_ms, revision):
                return clock() - started
            continue  # another worker took a token in between: read again
        wait = (1 - tokens) / bucket.rate
        if clock() - started + wait > max_wait:
            raise NoToken(bucket.name)
        sleep(wait)


def _write(name: str, tokens: float, updated_ms: int, revision: int) -> bool:
    item = RateBucket(name, tokens=round(tokens, 6), updated_ms=updated_ms, revision=revision + 1)
    condition = RateBucket.revision == revision if revision else RateBucket.name.does_not_exist()
    with conditional() as write:
        item.save(condition=condition)
    return write.applied
