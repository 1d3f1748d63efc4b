"""Residents table: follow and unfollow as conditional writes ordered by LINE's event time."""

from __future__ import annotations

from datetime import UTC, datetime

from chalicelib.domain.residents import ACTIVE, INACTIVE, RETENTION_AFTER_UNFOLLOW
from chalicelib.store.conditions import conditional
from chalicelib.store.models import Resident
from chalicelib.store.reads import item_or_none


def record_follow(user_id: str, language: str, event_ms: int) -> bool:
    """Create or reactivate the resident; False if a later follow/unfollow was already applied.

    `language` (from the LINE profile) is kept only when the resident has none yet.
    """
    at = _from_ms(event_ms)
    return _apply(
        user_id,
        event_ms,
        [
            Resident.status.set(ACTIVE),
            # The profile's language only for a newcomer: a language the resident chose stays.
            Resident.language.set(Resident.language | language),
            Resident.followed_at.set(at),
            Resident.unfollowed_at.remove(),
            Resident.expires_at.remove(),
        ],
    )


def record_first_message(user_id: str, language: str, event_ms: int) -> None:
    """Register a resident first heard of by a message or tap, not a follow (one who followed
    before madoguchi kept residents, or whose follow event is still on its way: LINE sends them
    apart and SQS keeps no order). Active, but with no place in the follow/unfollow order, so a
    follow stamped before this message still applies, and greets; nothing once one has."""
    with conditional():
        Resident(user_id).update(
            actions=[
                Resident.status.set(ACTIVE),
                Resident.language.set(Resident.language | language),
                Resident.followed_at.set(_from_ms(event_ms)),
            ],
            condition=Resident.last_event_ms.does_not_exist(),
        )


def record_unfollow(user_id: str, event_ms: int) -> bool:
    """Mark the resident inactive; the record is deleted by TTL after the retention period."""
    at = _from_ms(event_ms)
    return _apply(
        user_id,
        event_ms,
        [
            Resident.status.set(INACTIVE),
            Resident.unfollowed_at.set(at),
            Resident.expires_at.set(at + RETENTION_AFTER_UNFOLLOW),
        ],
    )


def get(user_id: str) -> Resident | None:
    return item_or_none(Resident, user_id)


def _apply(user_id: str, event_ms: int, actions: list) -> bool:
    with conditional() as write:
        Resident(user_id).update(
            actions=[*actions, Resident.last_event_ms.set(event_ms)],
            # An event LINE stamped earlier than the one already applied is stale: it loses.
            # The same event again (a redelivery after a crash) applies again, so its reply is not lost.
            condition=Resident.last_event_ms.does_not_exist() | (Resident.last_event_ms <= event_ms),
        )
    return write.applied


def _from_ms(event_ms: int) -> datetime:
    return datetime.fromtimestamp(event_ms / 1000, tz=UTC)


def unfollowed(user_id: str) -> bool:
    """The resident's last known state is "unfollowed" (or blocked). No record is not "no": a
    friend from before madoguchi kept residents has none until their first event."""
    found = get(user_id)
    return found is not None and found.status == INACTIVE
