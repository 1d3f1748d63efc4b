"""Pushes to one resident, never to one who unfollowed (docs/privacy.md: nothing more is sent).

Every notice (status changes, reminders, receipts, bookings, queue turns) goes through here, so
the check is in one place. A push withheld this way is no error: the caller sends the email (if
any) and counts no LINE channel; a refusal by LINE itself is still `LineRejected`.
"""

from __future__ import annotations

from typing import Any

from chalicelib.adapters.line_api import line_client
from chalicelib.domain.errors import Conflict
from chalicelib.domain.messages import Text
from chalicelib.observability import logger, metrics
from chalicelib.store import residents


def to_resident(user_id: str, messages: list[dict[str, Any]], retry_key: str) -> bool:
    """Push to a resident who has not unfollowed; True when sent."""
    if residents.unfollowed(user_id):
        logger.info("LINE push withheld: the resident unfollowed the account")
        metrics.add_metric(name="PushesWithheldUnfollowed", unit="Count", value=1)
        return False
    line_client().push(user_id, messages, retry_key)
    return True


def require_following(user_id: str, *, email: str | None = None) -> None:
    """Refuse to promise LINE notices to a resident who unfollowed (or blocked) the account,
    unless an email address carries them."""
    if not email and residents.unfollowed(user_id):
        raise Conflict(Text("error.line.not_following"), code="not_following")
