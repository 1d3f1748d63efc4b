"""Pushes to one resident, never to one who unfollowed (docs/privacy.md: nothing more is sent).

Every notice (status changes, reminders, receipts, bookings, queue turns) goes through here, so
the check is in one place; a push refused this way is handled like one LINE refused.
"""

from __future__ import annotations

from typing import Any

from chalicelib.adapters.line_api import LineRejected, SendResult, line_client
from chalicelib.domain.errors import Conflict
from chalicelib.domain.messages import Text
from chalicelib.store import residents


class Unfollowed(LineRejected):
    def __init__(self) -> None:
        super().__init__(403, "the resident unfollowed the account: not sent")


def to_resident(user_id: str, messages: list[dict[str, Any]], retry_key: str) -> SendResult:
    if residents.unfollowed(user_id):
        raise Unfollowed
    return line_client().push(user_id, messages, retry_key)


def require_following(user_id: str, *, email: str | None = None) -> None:
    """Refuse to promise LINE notices to a resident who unfollowed (or blocked) the account,
    unless an email address carries them."""
    if not email and residents.unfollowed(user_id):
        raise Conflict(Text("error.line.not_following"), code="not_following")
