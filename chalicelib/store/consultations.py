"""Consultation slots, bookings and the per-person guard (tables in store/models.py).

Every change of who holds a seat is one DynamoDB transaction over the slot counter, the
booking and the guard (and its audit entry), each on condition, so two residents racing for
the last seat, or one resident booking twice, cannot both win. Which condition failed is
read from the cancellation reasons, in the order the items were added.
"""

from __future__ import annotations

import random
import time as clock
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

from pynamodb.connection import Connection
from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from chalicelib.store.audit import Audit
from chalicelib.store.audit import entry as audit_entry
from chalicelib.store.conditions import conditional
from chalicelib.store.models import AuditEntry, BookingGuard, ConsultationBooking, ConsultationSlot
from chalicelib.store.reads import item_or_none

# Contact details are kept this long after the consultation, then TTL removes the booking.
RETENTION = timedelta(days=90)
# A conflicting transaction (another one touching the same slot at that moment) is retried.
CONFLICT_ATTEMPTS = 5


class SlotUnavailable(Exception):
    """The slot is full, closed or does not exist."""


class AlreadyBooked(Exception):
    """The person already holds a booking of this service on that day."""


class IdTaken(Exception):
    """The drawn booking id exists: draw another."""


class Stale(Exception):
    """The booking changed since it was read (or is not in the expected state)."""


class Busy(Exception):
    """Transactions kept conflicting, or DynamoDB did not answer: the write may or may not have
    happened (read the item to know)."""


def _connection() -> Connection:
    return ConsultationSlot._get_connection().connection


class _Labelled:
    """A TransactWrite that remembers a label per item, in the order DynamoDB gets them
    (PynamoDB sends condition checks, deletes, puts, then updates), so a cancellation
    reason can be matched to the item it is about."""

    def __init__(self, transaction: TransactWrite) -> None:
        self.t = transaction
        self.labels: dict[str, list[str]] = {"delete": [], "put": [], "update": []}

    def update(self, label: str, model: Any, **kwargs: Any) -> None:
        self.labels["update"].append(label)
        self.t.update(model, **kwargs)

    def save(self, label: str, model: Any, **kwargs: Any) -> None:
        self.labels["put"].append(label)
        self.t.save(model, **kwargs)

    def delete(self, label: str, model: Any, **kwargs: Any) -> None:
        self.labels["delete"].append(label)
        self.t.delete(model, **kwargs)

    def order(self) -> list[str]:
        return [*self.labels["delete"], *self.labels["put"], *self.labels["update"]]


def _run(build: Callable[[_Labelled], None]) -> None:
    """Run the transaction `build` adds to. A failed condition raises `ConditionsFailed` naming
    the items whose condition failed; a TransactionConflict (another transaction on the same
    item at that moment) is retried a bounded number of times with jittered backoff."""
    for attempt in range(CONFLICT_ATTEMPTS):
        labelled: _Labelled | None = None
        try:
            # The token makes botocore's own retries of this call idempotent in DynamoDB (10 minutes).
            token = uuid.uuid4().hex
            with TransactWrite(connection=_connection(), client_request_token=token) as transaction:
                labelled = _Labelled(transaction)
                build(labelled)
            return
        except TransactWriteError as error:
            reasons = getattr(error, "cancellation_reasons", None) or []
            codes = [reason.code if reason is not None else None for reason in reasons]
            if "ConditionalCheckFailed" in codes and labelled is not None:
                order = labelled.order()
                raise ConditionsFailed(
                    {
                        order[i]
                        for i, code in enumerate(codes)
                        if code == "ConditionalCheckFailed" and i < len(order)
                    }
                ) from None
            if "TransactionConflict" in codes or _response_code(error) == "TransactionConflictException":
                clock.sleep(random.uniform(0, 0.05 * 2**attempt))  # noqa: S311 (jitter, not a secret)
                continue
            # A timeout or a throttle: the write may have happened or not; the caller reads to know.
            raise Busy() from None
    raise Busy()


def _response_code(error: TransactWriteError) -> str | None:
    response = getattr(error.cause, "response", None)  # None for a timeout, which has no response
    return response.get("Error", {}).get("Code") if isinstance(response, dict) else None


class ConditionsFailed(Exception):
    def __init__(self, labels: set[str]) -> None:
        super().__init__(", ".join(sorted(labels)))
        self.labels = labels


def _seat_taken(slot_id: str) -> Any:
    """The slot exists, is open and has a free seat (the counter is compared with its capacity)."""
    is_open = ConsultationSlot.open == True  # noqa: E712 (a DynamoDB condition, not a truth test)
    return (
        (ConsultationSlot.slot == slot_id) & is_open & (ConsultationSlot.booked < ConsultationSlot.capacity)
    )


# --- slots -----------------------------------------------------------------------------------


def query_slots(service: str, low: str, high: str) -> Iterator[ConsultationSlot]:
    """The slots of one service from `low` to `high` (slot ids): one key query, read strongly."""
    return ConsultationSlot.query(service, ConsultationSlot.slot.between(low, high), consistent_read=True)


def get_slot(service: str, slot_id: str) -> ConsultationSlot | None:
    return item_or_none(ConsultationSlot, service, slot_id)


def set_slot(
    service: str,
    slot_id: str,
    capacity: int,
    kind: str,
    by: str,
    expires_at: datetime,
    *,
    reopen: bool = True,
    opened: bool = True,
) -> str:
    """Create the slot, or set the capacity of an existing one. Asked for fewer seats than are
    booked, it keeps those bookings and sells none until fewer than `capacity` remain: the
    capacity asked for stays the target (it used to become the number booked, and seats freed by
    a cancel were sold again beyond what staff had asked for).
    `reopen`: open it again if it was closed (an extra session does; a weekly pattern does not).
    `opened`: whether a slot made now is open (a weekly session on a day closed in the same
    request is made closed, so the day stays closed when the pattern is posted again).

    Answers "created", "updated", or "kept" (it holds more bookings than the capacity asked for)."""
    item = ConsultationSlot(
        service,
        slot_id,
        capacity=capacity,
        booked=0,
        open=opened,
        kind=kind,
        updated_by=by,
        expires_at=expires_at,
    )
    with conditional() as write:
        item.save(condition=ConsultationSlot.slot.does_not_exist())
    if write.applied:
        return "created"
    reopened = [ConsultationSlot.open.set(True)] if reopen else []
    with conditional() as write:
        ConsultationSlot(service, slot_id).update(
            actions=[ConsultationSlot.capacity.set(capacity), *reopened, ConsultationSlot.updated_by.set(by)],
            condition=ConsultationSlot.booked <= capacity,
        )
    if write.applied:
        return "updated"
    ConsultationSlot(service, slot_id).update(
        actions=[ConsultationSlot.capacity.set(capacity), *reopened, ConsultationSlot.updated_by.set(by)]
    )
    return "kept"


def close_slot(service: str, slot_id: str, by: str) -> str:
    """Close an open session nobody has booked: "closed", else why not ("booked": a booking took
    a seat since the caller looked, "was_closed", "missing"). The condition on the counter makes
    a booking and the close exclusive: one of them fails."""
    is_open = ConsultationSlot.open == True  # noqa: E712 (a DynamoDB condition, not a truth test)
    with conditional() as write:
        ConsultationSlot(service, slot_id).update(
            actions=[ConsultationSlot.open.set(False), ConsultationSlot.updated_by.set(by)],
            condition=ConsultationSlot.slot.exists() & is_open & (ConsultationSlot.booked == 0),
        )
    if write.applied:
        return "closed"
    found = get_slot(service, slot_id)
    if found is None:
        return "missing"
    return "was_closed" if not found.open else "booked"


def retire_slot(service: str, slot_id: str, by: str) -> bool:
    """Set a session's seats to none while nobody has booked it; False if a booking came first
    (the condition on the counter makes the two exclusive, as in close_slot)."""
    with conditional() as write:
        ConsultationSlot(service, slot_id).update(
            actions=[ConsultationSlot.capacity.set(0), ConsultationSlot.updated_by.set(by)],
            condition=ConsultationSlot.slot.exists() & (ConsultationSlot.booked == 0),
        )
    return write.applied


def set_capacity(service: str, slot_id: str, capacity: int, by: str) -> None:
    """Give a session back the seats this caller took from it (the rest of its request was refused)."""
    with conditional():
        ConsultationSlot(service, slot_id).update(
            actions=[ConsultationSlot.capacity.set(capacity), ConsultationSlot.updated_by.set(by)],
            condition=ConsultationSlot.slot.exists(),
        )


def reopen_slot(service: str, slot_id: str, by: str) -> None:
    """Undo this caller's own close (the rest of its request was refused)."""
    with conditional():  # gone meanwhile (its retention): nothing to open, and no item made
        ConsultationSlot(service, slot_id).update(
            actions=[ConsultationSlot.open.set(True), ConsultationSlot.updated_by.set(by)],
            condition=ConsultationSlot.slot.exists(),
        )


# --- bookings --------------------------------------------------------------------------------


def get(booking_id: str) -> ConsultationBooking | None:
    return item_or_none(ConsultationBooking, booking_id)


def insert(booking: ConsultationBooking, audit: Audit) -> None:
    """Take a seat: slot counter +1 (open, below capacity), the booking (new id), the guard (new)."""

    def build(t: _Labelled) -> None:
        t.update(
            "slot",
            ConsultationSlot(booking.service, booking.slot),
            actions=[ConsultationSlot.booked.add(1)],
            condition=_seat_taken(booking.slot),
        )
        t.save("booking", booking, condition=ConsultationBooking.booking_id.does_not_exist())
        t.save(
            "guard",
            BookingGuard(booking.guard, booking_id=booking.booking_id, expires_at=booking.expires_at),
            condition=BookingGuard.guard.does_not_exist(),
        )
        t.save("audit", audit_entry(booking.booking_id, audit, expires_at=audit.at + RETENTION * 2))

    try:
        _run(build)
    except ConditionsFailed as failed:
        if "slot" in failed.labels:
            raise SlotUnavailable() from None
        if "booking" in failed.labels:
            raise IdTaken() from None
        raise AlreadyBooked() from None


def _booked_at(booking: ConsultationBooking) -> object:
    return (ConsultationBooking.status == "booked") & (ConsultationBooking.revision == booking.revision)


def release(booking: ConsultationBooking, status: str, audit: Audit, *, reason: str | None = None) -> None:
    """booked → cancelled: counter −1, guard gone, in one transaction with the booking's change."""

    def build(t: _Labelled) -> None:
        t.update(
            "booking",
            booking,
            actions=[
                ConsultationBooking.status.set(status),
                ConsultationBooking.updated_at.set(audit.at),
                ConsultationBooking.revision.add(1),
                ConsultationBooking.cancel_reason.set(reason or "-"),
                ConsultationBooking.cancelled_by.set(audit.actor_kind),
            ],
            condition=_booked_at(booking),
        )
        t.update(
            "slot",
            ConsultationSlot(booking.service, booking.slot),
            actions=[ConsultationSlot.booked.add(-1)],
            condition=ConsultationSlot.booked > 0,
        )
        t.delete(
            "guard", BookingGuard(booking.guard), condition=BookingGuard.booking_id == booking.booking_id
        )
        t.save("audit", audit_entry(booking.booking_id, audit, expires_at=audit.at + RETENTION * 2))

    try:
        _run(build)
    except ConditionsFailed:
        raise Stale() from None


def move(
    booking: ConsultationBooking,
    new_slot: str,
    new_section_day: str,
    new_guard: str,
    expires_at: datetime,
    audit: Audit,
) -> None:
    """Reschedule: the new seat is taken and the old one released in one transaction; the
    booking and its guard are kept as long after the new time as after the old (`expires_at`)."""

    def build(t: _Labelled) -> None:
        t.update(
            "new_slot",
            ConsultationSlot(booking.service, new_slot),
            actions=[ConsultationSlot.booked.add(1)],
            condition=_seat_taken(new_slot),
        )
        t.update(
            "booking",
            booking,
            actions=[
                ConsultationBooking.slot.set(new_slot),
                ConsultationBooking.section_day.set(new_section_day),
                ConsultationBooking.guard.set(new_guard),
                ConsultationBooking.expires_at.set(expires_at),
                ConsultationBooking.updated_at.set(audit.at),
                ConsultationBooking.revision.add(1),
            ],
            condition=_booked_at(booking),
        )
        t.update(
            "old_slot",
            ConsultationSlot(booking.service, booking.slot),
            actions=[ConsultationSlot.booked.add(-1)],
            condition=ConsultationSlot.booked > 0,
        )
        if new_guard != booking.guard:  # another day: the guard moves with it (the same day: hours apart)
            t.delete(
                "old_guard",
                BookingGuard(booking.guard),
                condition=BookingGuard.booking_id == booking.booking_id,
            )
            t.save(
                "new_guard",
                BookingGuard(new_guard, booking_id=booking.booking_id, expires_at=expires_at),
                condition=BookingGuard.guard.does_not_exist(),
            )
        t.save("audit", audit_entry(booking.booking_id, audit, expires_at=audit.at + RETENTION * 2))

    try:
        _run(build)
    except ConditionsFailed as failed:
        if "booking" in failed.labels or "old_guard" in failed.labels:
            raise Stale() from None
        if "new_slot" in failed.labels:
            raise SlotUnavailable() from None
        raise AlreadyBooked() from None


def set_status(booking: ConsultationBooking, status: str, audit: Audit) -> None:
    """booked → attended / no_show, or one of those corrected to the other: the seat stays
    counted (the session took place)."""

    def build(t: _Labelled) -> None:
        t.update(
            "booking",
            booking,
            actions=[
                ConsultationBooking.status.set(status),
                ConsultationBooking.updated_at.set(audit.at),
                ConsultationBooking.revision.add(1),
            ],
            condition=(ConsultationBooking.status == booking.status)
            & (ConsultationBooking.revision == booking.revision),
        )
        t.save("audit", audit_entry(booking.booking_id, audit, expires_at=audit.at + RETENTION * 2))

    try:
        _run(build)
    except ConditionsFailed:
        raise Stale() from None


def mark_told(booking_id: str, revision: int) -> None:
    """The resident was sent the notice of `revision`; never moves back (notices may cross)."""
    told = ConsultationBooking.told_revision
    with conditional():  # told of a later one already, or the booking's retention ended
        ConsultationBooking(booking_id).update(
            actions=[told.set(revision)],
            condition=ConsultationBooking.booking_id.exists() & (told.does_not_exist() | (told < revision)),
        )


def record(booking_id: str, audit: Audit) -> None:
    """An audit entry on its own (a staff member viewed a booking's personal data)."""
    audit_entry(booking_id, audit, expires_at=audit.at + RETENTION * 2).save()


def for_line_user(user_id: str, since_slot: str) -> list[ConsultationBooking]:
    return list(
        ConsultationBooking.by_line_user.query(user_id, ConsultationBooking.slot >= since_slot, limit=50)
    )


def for_section_day(section: str, day: str) -> list[ConsultationBooking]:
    return list(ConsultationBooking.by_section_day.query(f"{section}#{day}"))


def trail(booking_id: str) -> list[AuditEntry]:
    return list(AuditEntry.query(booking_id, consistent_read=True))
