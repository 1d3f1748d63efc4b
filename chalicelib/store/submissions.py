"""Submissions and their audit trail in DynamoDB.

Every state change is one transaction: the submission's conditional update (its version
must be the one the caller read) and the audit entry are written together or not at all.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from chalicelib.domain import cursors
from chalicelib.domain.notice_delivery import DELIVERED
from chalicelib.store.audit import Audit
from chalicelib.store.audit import entry as audit_entry
from chalicelib.store.conditions import condition_failed, conditional
from chalicelib.store.models import AuditEntry, Submission
from chalicelib.store.reads import item_or_none

if TYPE_CHECKING:
    from pynamodb.expressions.condition import Condition


class StaleVersion(Exception):
    """Someone changed the submission since it was read: the caller's change was not applied."""


# `created_key`'s shape, the receipt its group: what a cursor naming a position must hold.
CREATED_KEY = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}\+00:00#(.+)")


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


def record_notice(receipt: str, key: str, outcome: dict[str, str], *, first: bool) -> bool:
    """Store how one notice fared on one channel (domain.notice_delivery), unless it was already
    delivered there: a duplicate or a retry never moves a delivery. `first`: the submission has
    no such record yet (the map is made first). Not versioned: no staff change is made stale by
    it. False when it was delivered already or the submission is gone."""
    connection = Submission._get_connection()
    if first:
        with conditional():  # another notice's outcome may have made it meanwhile
            connection.update_item(
                receipt,
                actions=[Submission.resident_notices.set({})],
                condition=Submission.receipt.exists() & Submission.resident_notices.does_not_exist(),
            )
    path = Submission.resident_notices[key]
    with conditional() as write:
        connection.update_item(
            receipt,
            actions=[path.set(outcome)],
            condition=Submission.resident_notices.exists()
            & (path.does_not_exist() | (path["state"] != DELIVERED)),
        )
    return write.applied


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
    lower, upper = _created_range(since, until)
    if lower and upper and lower > upper:
        return  # an empty range (DynamoDB refuses a BETWEEN whose bounds are reversed)
    yield from index.query(
        partition,
        range_key_condition=_created_condition(lower, upper),
        filter_condition=filter_condition,
        scan_index_forward=False,
        page_size=page_size,
    )


class NewestFirst:
    """Partitions of a created-time index read as one list, newest first, with a bound on reads.

    Each partition is read `chunk` items at a time, only when the merge needs its next item,
    and no more than `max_read` items are read in all: iterating stops at the end of the list or
    where its next item could only be known by reading past the bound. `after` (a created key)
    starts the list right after that position. `since`/`until` are whole seconds, as in
    `iterate_index`. `read` counts the items read; `exhausted`: nothing follows what was yielded.
    """

    def __init__(
        self,
        index: Any,
        partitions: Sequence[str],
        *,
        since: datetime | None,
        until: datetime | None,
        after: str | None,
        chunk: int,
        max_read: int,
    ) -> None:
        lower, upper = _created_range(since, until)
        if after is not None:
            # The range includes its bounds: the item at `after` is read again and passed over.
            upper = min(upper, after) if upper else after
        empty = lower is not None and upper is not None and lower > upper
        self._condition = _created_condition(lower, upper)
        self._after = after
        self._index = index
        self._chunk = chunk
        self._max_read = max_read
        self._parts = [] if empty else [_Partition(value) for value in partitions]
        self.read = 0

    @property
    def exhausted(self) -> bool:
        return not any(part.buffer or part.more for part in self._parts)

    def __iter__(self) -> Iterator[Submission]:
        while True:
            for part in self._parts:
                while not part.buffer and part.more:
                    if self.read >= self._max_read:
                        return
                    self._fill(part)
            live = [part for part in self._parts if part.buffer]
            if not live:
                return
            item = max(live, key=lambda part: part.buffer[0].created_key).buffer.popleft()
            if item.created_key != self._after:
                yield item

    def _fill(self, part: _Partition) -> None:
        # A partition's first read from `after` may begin with that item: one more for it.
        chunk = self._chunk + 1 if self._after and part.start_key is None else self._chunk
        results = self._index.query(
            part.value,
            range_key_condition=self._condition,
            scan_index_forward=False,
            limit=min(chunk, self._max_read - self.read),
            last_evaluated_key=part.start_key,
        )
        page = list(results)
        self.read += len(page)
        part.buffer.extend(page)
        part.start_key = results.last_evaluated_key
        part.more = part.start_key is not None


@dataclass
class _Partition:
    value: str
    buffer: deque[Submission] = field(default_factory=deque)
    start_key: dict[str, Any] | None = None
    more: bool = True  # unread items may remain


def _created_range(since: datetime | None, until: datetime | None) -> tuple[str | None, str | None]:
    """Sort key bounds for a time range, coarse to the second and inclusive."""
    # Keys are UTC `...T09:15:00.123+00:00#receipt`; a whole-second bound compares below every
    # key of that second, so the lower bound is that second and the upper one the next.
    lower = _second(since).isoformat() if since else None
    upper = (_second(until) + timedelta(seconds=1)).isoformat() if until else None
    return lower, upper


def _created_condition(lower: str | None, upper: str | None) -> Condition | None:
    if lower and upper:
        return Submission.created_key.between(lower, upper)
    if lower:
        return Submission.created_key >= lower
    if upper:
        return Submission.created_key <= upper
    return None


def _second(value: datetime) -> datetime:
    return value.astimezone(UTC).replace(microsecond=0)
