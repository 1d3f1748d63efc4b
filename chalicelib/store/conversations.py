"""Guided conversations, one per resident, written conditionally on their version."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from pynamodb.exceptions import DeleteError, PutError

from chalicelib.store.conditions import condition_failed
from chalicelib.store.models import Conversation
from chalicelib.store.reads import item_or_none

# The item outlives the conversation (domain.chat.QUIET) only so a late event finds it and is told it ended.
KEEP_FOR = timedelta(days=1)


class Conflict(Exception):
    """Another event of the same resident changed the conversation first."""


def get(user_id: str) -> Conversation | None:
    return item_or_none(Conversation, user_id)


def save(conversation: Conversation, now: datetime) -> None:
    """Write it if nobody else has since we read it (a new one: if there is none)."""
    conversation.updated_at = now
    conversation.expires_at = now + KEEP_FOR
    _unless_changed(conversation, conversation.save)


def end(conversation: Conversation) -> None:
    """Delete it, unless another event changed it since we read it."""
    _unless_changed(conversation, conversation.delete)


def _unless_changed(conversation: Conversation, write: Callable[[], object]) -> None:
    # PynamoDB makes the write conditional on the version we read.
    try:
        write()
    except (PutError, DeleteError) as error:
        if condition_failed(error):
            raise Conflict(conversation.line_user_id) from None
        raise
