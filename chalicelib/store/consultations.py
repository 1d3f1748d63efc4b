"""Consultation slots, bookings and the per-person guard (tables in store/models.py).

Every change of who holds a seat is one DynamoDB transaction over the slot counter, the
booking and the guard (and its audit entry), each on condition, so two residents racing for
the last seat, or one resident booking twice, cannot both win. Which condition failed is
read from the cancellation reasons, in the order the items were added.
"""

from __future__ import annotations

import os
import random
import time as clock
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from pynamodb.connection import Connection
from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from chalicelib.store.conditions import conditional
from chalicelib.store.models import AuditEntry, BookingGuard, ConsultationBooking, ConsultationSlot

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
    """Transactions kept conflicting; nothing was changed."""


@dataclass(frozen=True)
class Audit:
    actor_kind: str  # resident | staff | system
    actor_id: str | None
    action: str
    at: datetime
    from_status: str | None = None
    to_status: str | None = None
    note: str | None = None


def _connection() -> Connection:
    return ConsultationSlot._get_connection().connection


def _audit(booking_id: str, audit: Audit) -> AuditEntry:
    return AuditEntry(
        booking_id,
        f"{audit.at.isoformat(timespec='milliseconds')}#{os.urandom(4).hex()}",
        actor_kind=audit.actor_kind,
        actor_id=audit.actor_id,
        action=audit.action,
        from_status=audit.from_status,
        to_status=audit.to_status,
        note=audit.note,
        expires_at=audit.at + RETENTION * 2,
    )


def _reasons(error: TransactWriteError) -> list[str | None]:
    return [reason.code if reason is not None else None for reason in (getattr(error, "cancellation_reasons", None) or [])]


def _run(build, on_conditions) -> None:  # type: ignore[no-untyped-def]
    """Run the transaction `build(t)` adds to; retry TransactionConflict a bounded number of times
    with jitter; a failed condition goes to `on_conditions(codes)`, which raises."""
    for attempt in range(CONFLICT_ATTEMPTS):
        try:
            with TransactWrite(connection=_connection()) as transaction:
                build(transaction)
            return
        except TransactWriteError as error:
            codes = _reasons(error)
            if "ConditionalCheckFailed" in codes:
                on_conditions(codes)
                raise
            if "TransactionConflict" in codes or getattr(error, "cause_response_code", None) == "TransactionConflictException":
                clock.sleep(random.uniform(0, 0.05 * 2**attempt))  # noqa: S311 (jitter)
                continue
            raise
    raise Busy()


def _seat_taken(slot_id: str) -> object:
    return (ConsultationSlot.slot == slot_id) & (ConsultationSlot.open == True) & (  # noqa: E712
        ConsultationSlot.booked < ConsultationSlot.capacity
    )


# --- slots -----------------------------------------------------------------------------------


def query_slots(service: str, low: str, high: str) -> Iterator[ConsultationSlot]:
    """The slots of one service from `low` to `high` (slot ids): one key query, read strongly."""
    return ConsultationSlot.query(service, ConsultationSlot.slot.between(low, high), consistent_read=True)


def get_slot(service: str, slot_id: str) -> ConsultationSlot | None:
    try:
        return ConsultationSlot.get(service, slot_id, consistent_read=True)
    except ConsultationSlot.DoesNotExist:
        return None


def set_slot(service: str, slot_id: str, capacity: int, kind: str, by: str | None, expires_at: datetime) -> str:
    """Create the slot, or set the capacity of an existing one (never below what is booked).

    Answers "created", "updated" or "kept" (it holds more bookings than the new capacity)."""
    item = ConsultationSlot(
        service, slot_id, capacity=capacity, booked=0, open=True, kind=kind, updated_by=by, expires_at=expires_at
    )
    with conditional() as write:
        item.save(condition=ConsultationSlot.slot.does_not_exist())
    if write.applied:
        return "created"
    with conditional() as write:
        ConsultationSlot(service, slot_id).update(
            actions=[
                ConsultationSlot.capacity.set(capacity),
                ConsultationSlot.open.set(True),
                ConsultationSlot.updated_by.set(by),
            ],
            condition=ConsultationSlot.booked <= capacity,
        )
    return "updated" if write.applied else "kept"


def close_slot(service: str, slot_id: str, by: str | None) -> bool:
    with conditional() as write:
        ConsultationSlot(service, slot_id).update(
            actions=[ConsultationSlot.open.set(False), ConsultationSlot.updated_by.set(by)],
            condition=ConsultationSlot.slot.exists(),
        )
    return write.applied


# --- bookings --------------------------------------------------------------------------------


def get(booking_id: str) -> ConsultationBooking | None:
    try:
        return ConsultationBooking.get(booking_id, consistent_read=True)
    except ConsultationBooking.DoesNotExist:
        return None


def insert(booking: ConsultationBooking, audit: Audit) -> None:
    """Take a seat: slot counter +1 (open, below capacity), the booking (new id), the guard (new)."""

    def build(t: TransactWrite) -> None:
        t.update(
            ConsultationSlot(booking.service, booking.slot),
            actions=[ConsultationSlot.booked.add(1)],
            condition=_seat_taken(booking.slot),
        )
        t.save(booking, condition=ConsultationBooking.booking_id.does_not_exist())
        t.save(
            BookingGuard(booking.guard, booking_id=booking.booking_id, expires_at=booking.expires_at),
            condition=BookingGuard.guard.does_not_exist(),
        )
        t.save(_audit(booking.booking_id, audit))

    def failed(codes: list[str | None]) -> None:
        if codes[0] == "ConditionalCheckFailed":
            raise SlotUnavailable()
        if codes[1] == "ConditionalCheckFailed":
            raise IdTaken()
        raise AlreadyBooked()

    try:
        _run(build, failed)
    except TransactWriteError:  # pragma: no cover - `failed` always raises first
        raise


def release(booking: ConsultationBooking, status: str, audit: Audit, *, reason: str | None = None) -> None:
    """booked → cancelled (or another final state that frees the seat): counter −1, guard gone."""

    def build(t: TransactWrite) -> None:
        t.update(
            booking,
            actions=[
                ConsultationBooking.status.set(status),
                ConsultationBooking.updated_at.set(audit.at),
                ConsultationBooking.revision.add(1),
                ConsultationBooking.cancel_reason.set(reason),
                ConsultationBooking.cancelled_by.set(audit.actor_kind),
            ],
            condition=(ConsultationBooking.status == "booked") & (ConsultationBooking.revision == booking.revision),
        )
        t.update(
            ConsultationSlot(booking.service, booking.slot),
            actions=[ConsultationSlot.booked.add(-1)],
            condition=ConsultationSlot.booked > 0,
        )
        t.delete(BookingGuard(booking.guard), condition=BookingGuard.booking_id == booking.booking_id)
        t.save(_audit(booking.booking_id, audit))

    def failed(codes: list[str | None]) -> None:
        raise Stale()

    _run(build, failed)


def move(booking: ConsultationBooking, new_slot: str, new_section_day: str, new_guard: str, audit: Audit) -> None:
    """Reschedule: the new seat is taken and the old one released in one transaction."""

    def build(t: TransactWrite) -> None:
        t.update(
            ConsultationSlot(booking.service, new_slot),
            actions=[ConsultationSlot.booked.add(1)],
            condition=_seat_taken(new_slot),
        )
        t.update(
            booking,
            actions=[
                ConsultationBooking.slot.set(new_slot),
                ConsultationBooking.section_day.set(new_section_day),
                ConsultationBooking.guard.set(new_guard),
                ConsultationBooking.updated_at.set(audit.at),
                ConsultationBooking.revision.add(1),
            ],
            condition=(ConsultationBooking.status == "booked") & (ConsultationBooking.revision == booking.revision),
        )
        t.update(
            ConsultationSlot(booking.service, booking.slot),
            actions=[ConsultationSlot.booked.add(-1)],
            condition=ConsultationSlot.booked > 0,
        )
        if new_guard != booking.guard:  # another day: the guard moves with it
            t.delete(BookingGuard(booking.guard), condition=BookingGuard.booking_id == booking.booking_id)
            t.save(
                BookingGuard(new_guard, booking_id=booking.booking_id, expires_at=booking.expires_at),
                condition=BookingGuard.guard.does_not_exist(),
            )
        t.save(_audit(booking.booking_id, audit))

    def failed(codes: list[str | None]) -> None:
        if codes[0] == "ConditionalCheckFailed":
            raise SlotUnavailable()
        if len(codes) > 4 and codes[4] == "ConditionalCheckFailed":
            raise AlreadyBooked()
        raise Stale()

    _run(build, failed)


def set_status(booking: ConsultationBooking, status: str, audit: Audit) -> None:
    """booked → attended / no_show: the seat stays counted (the session took place)."""

    def build(t: TransactWrite) -> None:
        t.update(
            booking,
            actions=[
                ConsultationBooking.status.set(status),
                ConsultationBooking.updated_at.set(audit.at),
                ConsultationBooking.revision.add(1),
            ],
            condition=(ConsultationBooking.status == "booked") & (ConsultationBooking.revision == booking.revision),
        )
        t.save(_audit(booking.booking_id, audit))

    def failed(codes: list[str | None]) -> None:
        raise Stale()

    _run(build, failed)


def mark_followed_up(booking_id: str) -> None:
    ConsultationBooking(booking_id).update(actions=[ConsultationBooking.followed_up.set(True)])


def for_line_user(user_id: str, since_slot: str) -> list[ConsultationBooking]:
    return list(
        ConsultationBooking.by_line_user.query(user_id, ConsultationBooking.slot >= since_slot, limit=50)
    )


def for_section_day(section: str, day: str) -> list[ConsultationBooking]:
    return list(ConsultationBooking.by_section_day.query(f"{section}#{day}"))


def trail(booking_id: str) -> list[AuditEntry]:
    return list(AuditEntry.query(booking_id, consistent_read=True))
