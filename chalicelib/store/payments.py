"""Payment intents, their append-only logs and audit entries, attempt slots, reconciliation results.

Every change of an intent is one transaction: the intent's update, conditional on the `revision`
the caller read, and its audit entry. Log entries are put once each (conditional on absence).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pynamodb.transactions import TransactWrite

from chalicelib.domain import payments as rules
from chalicelib.store.audit import Audit
from chalicelib.store.conditions import conditional
from chalicelib.store.models import PaymentIntent, PaymentLogEntry, PaymentSlot, ReconciliationItem
from chalicelib.store.reads import item_or_none

PENDING_SHARD = "pending"


class StaleIntent(Exception):
    """Someone changed the intent since it was read: the change was not applied."""


def _audit_item(payment_id: str, audit: Audit) -> PaymentLogEntry:
    return PaymentLogEntry(payment_id, f"audit#{audit.sort_key()}", at=audit.at, **audit.fields())


# --------------------------------------------------------------------------- slots


def slot(receipt: str, method: str) -> PaymentSlot:
    return item_or_none(PaymentSlot, f"{receipt}#{method}") or PaymentSlot(f"{receipt}#{method}", attempt=0)


def take_start_lease(receipt: str, now: datetime, until: datetime) -> bool:
    """Hold the submission's one "starting a payment" lease until `until`, unless another request
    holds it (a lease past its time belongs to a request that died)."""
    holder = PaymentSlot(f"{receipt}#starting")
    with conditional() as write:
        holder.update(
            actions=[PaymentSlot.lease_until.set(until)],
            condition=PaymentSlot.slot.does_not_exist() | (PaymentSlot.lease_until < now),
        )
    return write.applied


def release_start_lease(receipt: str, until: datetime) -> None:
    """Give the lease back, if it is still the one taken until `until` (not a successor's)."""
    with conditional():
        PaymentSlot(f"{receipt}#starting").delete(condition=PaymentSlot.lease_until == until)


def take_attempt(current: PaymentSlot, payment_id: str, attempt: int) -> bool:
    """Make `payment_id` (attempt `attempt`) the live intent, if nobody took the slot since it was read."""
    condition = (
        PaymentSlot.slot.does_not_exist() if not current.attempt else (PaymentSlot.attempt == current.attempt)
    )
    with conditional() as write:
        PaymentSlot(current.slot).update(
            actions=[PaymentSlot.attempt.set(attempt), PaymentSlot.live_payment_id.set(payment_id)],
            condition=condition,
        )
    return write.applied


# --------------------------------------------------------------------------- intents


def insert(intent: PaymentIntent, audit: Audit) -> bool:
    with (
        conditional() as write,
        TransactWrite(connection=PaymentIntent._get_connection().connection) as transaction,
    ):
        transaction.save(intent, condition=PaymentIntent.payment_id.does_not_exist())
        transaction.save(_audit_item(intent.payment_id, audit))
    return write.applied


def get(payment_id: str) -> PaymentIntent | None:
    return item_or_none(PaymentIntent, payment_id)


def for_receipt(receipt: str) -> list[PaymentIntent]:
    """Every intent of a submission, oldest first (the index may lag a write by a moment)."""
    return list(PaymentIntent.by_receipt.query(receipt))


def update(intent: PaymentIntent, actions: list[Any], audit: Audit | None) -> PaymentIntent:
    """Apply `actions` if the intent is still at the revision read; StaleIntent otherwise."""
    revision = intent.revision or 0
    actions = [*actions, PaymentIntent.revision.set(revision + 1)]
    condition = (
        PaymentIntent.revision == revision
        if revision
        else PaymentIntent.revision.does_not_exist() | (PaymentIntent.revision == 0)
    )
    with (
        conditional() as write,
        TransactWrite(connection=PaymentIntent._get_connection().connection) as transaction,
    ):
        transaction.update(intent, actions=actions, condition=condition)
        if audit is not None:
            transaction.save(_audit_item(intent.payment_id, audit))
    if not write.applied:
        raise StaleIntent(intent.payment_id)
    fresh = get(intent.payment_id)
    assert fresh is not None  # noqa: S101 (just written)
    return fresh


def pending(until: datetime, limit: int = 200) -> Iterator[str]:
    """Ids of intents waiting since before `until`, oldest first."""
    for item in PaymentIntent.by_pending.query(
        PENDING_SHARD, range_key_condition=PaymentIntent.pending_since <= until.isoformat(), limit=limit
    ):
        yield item.payment_id


def paid_on(day: str) -> list[PaymentIntent]:
    return list(PaymentIntent.by_paid_day.query(day))


# --------------------------------------------------------------------------- the staff list


def listing_actions(section: str, status: str, at: datetime) -> list[Any]:
    """What puts an intent on its section's list for `status` (with every change of status)."""
    return [
        PaymentIntent.section_status.set(rules.listing_key(section, status)),
        PaymentIntent.status_since.set(at.isoformat(timespec="milliseconds")),
    ]


@dataclass(frozen=True)
class Position:
    """Where a page of a list ended: the last item's index key and table key."""

    status_since: str
    payment_id: str


def by_status(
    section: str, status: str, *, after: Position | None, limit: int
) -> tuple[list[PaymentIntent], Position | None]:
    """One read of a section's intents with `status`, newest change first, resuming after `after`.

    The second value is where DynamoDB stopped (more may follow), None at the end of the list.
    """
    partition = rules.listing_key(section, status)
    start = (
        {
            PaymentIntent.section_status.attr_name: {"S": partition},
            PaymentIntent.status_since.attr_name: {"S": after.status_since},
            PaymentIntent.payment_id.attr_name: {"S": after.payment_id},
        }
        if after
        else None
    )
    results = PaymentIntent.by_section_status.query(
        partition, scan_index_forward=False, limit=limit, last_evaluated_key=start
    )
    items = list(results)
    last = results.last_evaluated_key
    stopped = (
        Position(
            last[PaymentIntent.status_since.attr_name]["S"], last[PaymentIntent.payment_id.attr_name]["S"]
        )
        if last
        else None
    )
    return items, stopped


# --------------------------------------------------------------------------- the log


def append(payment_id: str, entry: rules.LogEntry, source: str) -> bool:
    """Put one confirmed state; False when the log already holds it (a duplicate, a replay)."""
    item = PaymentLogEntry(
        payment_id,
        f"log#{entry.key}",
        state=entry.state,
        at=entry.at,
        amount=entry.amount,
        provider_payment_id=entry.provider_payment_id,
        source=source,
    )
    with conditional() as write:
        item.save(condition=PaymentLogEntry.entry_key.does_not_exist())
    return write.applied


def log(payment_id: str) -> list[rules.LogEntry]:
    return [
        rules.LogEntry(
            item.state,
            item.at,
            int(item.amount) if item.amount is not None else None,
            item.provider_payment_id,
        )
        for item in PaymentLogEntry.query(
            payment_id, range_key_condition=PaymentLogEntry.entry_key.startswith("log#"), consistent_read=True
        )
    ]


def trail(payment_id: str) -> list[PaymentLogEntry]:
    """The log and the audit entries, in key order."""
    return list(PaymentLogEntry.query(payment_id, consistent_read=True))


def record(payment_id: str, audit: Audit) -> None:
    _audit_item(payment_id, audit).save()


# --------------------------------------------------------------------------- reconciliation


def reconciliation(day: str) -> list[ReconciliationItem]:
    return list(ReconciliationItem.query(day, consistent_read=True))


def save_reconciliation(day: str, items: list[ReconciliationItem]) -> None:
    """Replace the day's findings with `items` (a re-run leaves exactly what it found)."""
    keep = {item.item_key for item in items}
    for old in reconciliation(day):
        if old.item_key not in keep:
            old.delete()
    for item in items:
        item.save()
