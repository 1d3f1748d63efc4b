"""PynamoDB models: the single definition of every table, its keys, indexes and TTL.

The local stack creates tables from these classes, and infra/ reads the same schema.
"""

from __future__ import annotations

from pynamodb.attributes import (
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
    UTCDateTimeAttribute,
)
from pynamodb.indexes import GlobalSecondaryIndex, KeysOnlyProjection
from pynamodb.models import Model

from chalicelib.aws import share_session_with_pynamodb
from chalicelib.config import get_settings

share_session_with_pynamodb()
_settings = get_settings()


class _Meta:
    region = _settings.region
    billing_mode = "PAY_PER_REQUEST"
    # Short timeouts and few retries: a webhook must answer LINE within seconds.
    connect_timeout_seconds = 2
    read_timeout_seconds = 5
    max_retry_attempts = 2


class InboxEvent(Model):
    """One row per webhook event ever accepted; the conditional put here is the dedupe."""

    class Meta(_Meta):
        table_name = _settings.name("inbox")

    event_id = UnicodeAttribute(hash_key=True)
    # Null only when a worker meets an event the inbox no longer holds (a late DLQ replay).
    source = UnicodeAttribute(null=True)
    received_at = UTCDateTimeAttribute(null=True)
    # A worker's lease on the event, so two deliveries of it never run side by side.
    claimed_until = UTCDateTimeAttribute(null=True)
    processed_at = UTCDateTimeAttribute(null=True)
    expires_at = TTLAttribute()


class Resident(Model):
    """A LINE follower. Personal data lives here only while they follow, plus the retention period."""

    class Meta(_Meta):
        table_name = _settings.name("residents")

    line_user_id = UnicodeAttribute(hash_key=True)
    status = UnicodeAttribute()
    language = UnicodeAttribute(default="ja")
    # Null only on the tombstone an unfollow leaves when it overtakes the follow it answers.
    followed_at = UTCDateTimeAttribute(null=True)
    unfollowed_at = UTCDateTimeAttribute(null=True)
    # LINE time of the last follow/unfollow applied, so an older event arriving late loses.
    last_event_ms = NumberAttribute(default=0)
    expires_at = TTLAttribute(null=True)


class ByUserIndex(GlobalSecondaryIndex):
    class Meta:
        index_name = "by-user"
        projection = KeysOnlyProjection()

    line_user_id = UnicodeAttribute(hash_key=True)
    segment = UnicodeAttribute(range_key=True)


class SendListEntry(Model):
    """Membership of a resident in one send list (a topic x area partition).

    Announcements read a partition by key; `by-user` finds every list of one resident
    so an unfollow or an opt-out can remove them from all of them.
    """

    class Meta(_Meta):
        table_name = _settings.name("send-lists")

    segment = UnicodeAttribute(hash_key=True)
    line_user_id = UnicodeAttribute(range_key=True)
    language = UnicodeAttribute()
    by_user = ByUserIndex()


MODELS: tuple[type[Model], ...] = (InboxEvent, Resident, SendListEntry)
