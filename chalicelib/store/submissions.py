"""Submissions and their audit trail in DynamoDB.

Every state change is one transaction: the submission's conditional update (its version
must be the one the caller read) and the audit entry are written together or not at all.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from chalicelib.domain import cursors
from chalicelib.store.audit import Audit
from chalicelib.store.audit import entry as audit_entry
from chalicelib.store.conditions import condition_failed, conditional
from chalicelib.store.models import AuditEntry, Submission
from chalicelib.store.reads import item_or_none

if TYPE_CHECKING:
    from pynamodb.expressions.condition import Condition


class StaleVersion(Exception):
    """Someone changed the submission since it was read: the caller's change was not applied."""


def created_key(created_at: datetime, receipt: str) -> str:
    return f"{created_at.isoformat(timespec='milliseconds')}#{receipt}"


def insert(submission: Submission, audit: Audit) -> bool:
    """Store a new submission and its "created" entry; False if the receipt number is taken."""
    with (
        conditional() as write,
        TransactWrite(connection=Submission._get_connection().connection) as transaction,
    ):
        transaction.save(submission, condition=Submission.receipt.does_not_exist())
        transaction.save(audit_entry(submission.receipt, audit))
    return write.applied


def get_many(receipts: list[str]) -> dict[str, Submission]:
    """The submissions of these receipts that exist, by receipt: one batch read (up to 100)."""
    return {item.receipt: item for item in Submission.batch_get(list(dict.fromkeys(receipts)))}


def sections_of(receipts: list[str]) -> dict[str, str]:
    """Each receipt's section now (a hand-over changes it): its key and section only, in batch
    reads of up to 100, so nothing else of the submission is read."""
    found = Submission.batch_get(list(dict.fromkeys(receipts)), attributes_to_get=["receipt", "section"])
    return {item.receipt: item.section for item in found}


def get(receipt: str) -> Submission | None:
    return item_or_none(Submission, receipt)


def update(submission: Submission, actions: list, audit: Audit) -> None:
    """Apply `actions` if the stored version is still the one in `submission`, with its audit entry.

    Raises StaleVersion when another change got there first.
    """
    try:
        with TransactWrite(connection=Submission._get_connection().connection) as transaction:
            transaction.update(submission, actions=actions)
            transaction.save(audit_entry(submission.receipt, audit))
    except TransactWriteError as error:
        if condition_failed(error):
            raise StaleVersion(submission.receipt) from None
        raise


def record(receipt: str, audit: Audit) -> None:
    """An audit entry on its own (a staff member viewed personal data)."""
    audit_entry(receipt, audit).save()


def trail(receipt: str) -> list[AuditEntry]:
    return list(AuditEntry.query(receipt, consistent_read=True))


def query_index(
    index: Any,
    partition: str,
    *,
    since: datetime | None,
    until: datetime | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[Submission], str | None]:
    """Newest first, one page of `limit` from a created-time index; the cursor continues it.

    domain.errors.InvalidCursor for a cursor this did not give out for `partition`."""
    condition: Condition | None = None
    if since and until:
        condition = Submission.created_key.between(since.isoformat(), until.isoformat() + "~")
    elif since:
        condition = Submission.created_key >= since.isoformat()
    elif until:
        condition = Submission.created_key <= until.isoformat() + "~"
    results = index.query(
        partition,
        range_key_condition=condition,
        scan_index_forward=False,
        limit=limit,
        last_evaluated_key=_start_key(cursor, index, partition),
    )
    page = list(results)
    return page, cursors.encode_key(results.last_evaluated_key)


def cursor_after(index: Any, partition: str, created_key: str, receipt: str) -> str:
    """A `query_index` cursor that resumes right after the item with these keys.

    For callers that filter a page and stop part-way through it: DynamoDB's own cursor
    would skip the rest of that page.
    """
    key = {
        index._hash_key_attribute().attr_name: {"S": partition},
        Submission.created_key.attr_name: {"S": created_key},
        Submission.receipt.attr_name: {"S": receipt},
    }
    return cursors.encode(key)


def _start_key(cursor: str | None, index: Any, partition: str) -> dict | None:
    """The start key a cursor names; InvalidCursor for anything not issued for this partition."""
    if not cursor:
        return None
    partition_name = index._hash_key_attribute().attr_name
    attributes = (partition_name, Submission.created_key.attr_name, Submission.receipt.attr_name)
    return cursors.decode_key(cursor, attributes, (partition_name, partition))


# --- added for the Open311 view and the daily digest (issue 3) ---------------------------------


def iterate_index(
    index: Any,
    partition: str,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    filter_condition: Any = None,
    page_size: int = 200,
) -> Iterator[Submission]:
    """Every item of a created-time index partition, newest first, read lazily page by page.

    `since`/`until` bound the sort key coarsely (to the second, inclusive); callers that need
    an exact bound compare `created_at` themselves. `filter_condition` is applied by DynamoDB.
    """
    # Keys are UTC `...T09:15:00.123+00:00#receipt`; a whole-second bound compares below every
    # key of that second, so the lower bound is that second and the upper one the next.
    lower = _second(since).isoformat() if since else None
    upper = (_second(until) + timedelta(seconds=1)).isoformat() if until else None
    condition: Condition | None = None
    if lower and upper:
        if lower > upper:
            return  # an empty range (DynamoDB refuses a BETWEEN whose bounds are reversed)
        condition = Submission.created_key.between(lower, upper)
    elif lower:
        condition = Submission.created_key >= lower
    elif upper:
        condition = Submission.created_key <= upper
    yield from index.query(
        partition,
        range_key_condition=condition,
        filter_condition=filter_condition,
        scan_index_forward=False,
        page_size=page_size,
    )


def _second(value: datetime) -> datetime:
    return value.astimezone(UTC).replace(microsecond=0)
