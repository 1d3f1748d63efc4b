"""SQS consumers and scheduled jobs: thin, each one call into services."""

from __future__ import annotations

from datetime import UTC, datetime


def scheduled_time(value: datetime | str | None) -> datetime:
    """The time a scheduled job runs for, in UTC: the schedule event's ISO time ("…T23:30:00Z"),
    so a late or retried run counts for its own day, and `make fire AT=` runs as if then; now
    when nothing is given."""
    if isinstance(value, str) and value:
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if not isinstance(value, datetime):
        return datetime.now(UTC)
    # A time without its offset is UTC, as the schedule's events are: never the machine's zone.
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC)
