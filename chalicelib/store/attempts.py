"""Counting failed attempts in fixed windows, atomically, across every Lambda at once."""

from __future__ import annotations

from datetime import datetime, timedelta

from chalicelib.store.models import AttemptCounter


def _key(subject: str, now: datetime, window: timedelta) -> str:
    bucket = int(now.timestamp() // window.total_seconds())
    return f"{subject}#{bucket}"


def failures(subject: str, now: datetime, window: timedelta) -> int:
    try:
        return int(AttemptCounter.get(_key(subject, now, window), consistent_read=True).count)
    except AttemptCounter.DoesNotExist:
        return 0


def add_failure(subject: str, now: datetime, window: timedelta) -> None:
    AttemptCounter(_key(subject, now, window)).update(
        actions=[AttemptCounter.count.add(1), AttemptCounter.expires_at.set(now + 2 * window)]
    )
