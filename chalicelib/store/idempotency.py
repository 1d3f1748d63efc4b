"""Idempotency records: a retried POST with the same Idempotency-Key gets the first answer."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from pynamodb.exceptions import DeleteError, PutError

from chalicelib.store.conditions import condition_failed
from chalicelib.store.models import IdempotencyRecord
from chalicelib.store.reads import item_or_none

# Clients retry within minutes; a day covers a phone that comes back online the next morning.
KEEP_FOR = timedelta(hours=24)


def begin(
    key: str, request_hash: str, caller: str, now: datetime, lease: timedelta
) -> IdempotencyRecord | None:
    """Reserve the key for this request until `now + lease`; None if reserved, else the record there.

    A record still in progress whose lease ran out belongs to a request that died (its Lambda
    timed out or was killed): it is taken over, so its client's retry runs instead of waiting a day.
    A record gone between the refused write and its read was abandoned by a request that failed
    (abandon): the reservation is tried again, so a racing retry runs, never meets a missing item.
    """
    record = IdempotencyRecord(
        key, request_hash=request_hash, caller=caller, lease_until=now + lease, expires_at=now + KEEP_FOR
    )
    abandoned = IdempotencyRecord.status_code.does_not_exist() & (
        IdempotencyRecord.lease_until.does_not_exist() | (IdempotencyRecord.lease_until < now)
    )
    while True:
        try:
            record.save(condition=IdempotencyRecord.key.does_not_exist() | abandoned)
        except PutError as error:
            if not condition_failed(error):
                raise
            existing = item_or_none(IdempotencyRecord, key)
            if existing is not None:
                return existing
            continue
        return None


def get(key: str) -> IdempotencyRecord | None:
    return item_or_none(IdempotencyRecord, key)


def finish(key: str, status_code: int, response: Any) -> None:
    IdempotencyRecord(key).update(
        actions=[
            IdempotencyRecord.status_code.set(status_code),
            IdempotencyRecord.response.set(response),
            IdempotencyRecord.lease_until.remove(),
        ]
    )


def abandon(key: str) -> None:
    """The request failed: free the key so the client's retry runs again."""
    try:
        IdempotencyRecord(key).delete(condition=IdempotencyRecord.status_code.does_not_exist())
    except DeleteError as error:
        if not condition_failed(error):
            raise
