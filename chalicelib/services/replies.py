"""Answering a LINE event: reply with its token, else push, and never say the same thing twice.

A reply has no retry key; its token works once. So the attempt is recorded in the event's
inbox row *before* replying: a run that finds an earlier attempt knows the reply may have been
delivered (the worker died after replying, or LINE took it and the answer was lost), replies
again with the same token (delivered now if it was not before) and, when LINE says the token is
used, stops there instead of pushing the same messages. A push happens only when LINE refused
the token outright before anything could have been delivered (it had expired): that is
recorded too, so a rerun pushes again with the same retry key, which LINE deduplicates.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from chalicelib.adapters.line_api import LineRejected, line_client, retry_key_for
from chalicelib.domain.line_webhook import LineEvent
from chalicelib.observability import logger, metrics
from chalicelib.store import inbox


def answer(event: LineEvent, messages: list[dict[str, Any]], purpose: str) -> None:
    """Send `messages` in answer to `event`: exactly once when LINE answers, at most once when not."""
    assert event.user_id
    client = line_client()
    retry_key = retry_key_for(event.event_id, purpose)
    if not event.reply_token:
        client.push(event.user_id, messages, retry_key)
        return
    attempt = inbox.reply_attempt(event.event_id, datetime.now(UTC))
    if attempt.refused_before:
        client.push(event.user_id, messages, retry_key)
        return
    try:
        client.reply(event.reply_token, messages)
        return
    except LineRejected as error:
        if error.status != 400:
            raise
        if attempt.tried_before or error.after_uncertain:
            # The token is used up, most likely by our own earlier attempt: do not say it twice.
            logger.info("reply may already have been delivered; not pushed again")
            metrics.add_metric(name="RepliesMaybeDelivered", unit="Count", value=1)
            return
    inbox.reply_refused(event.event_id, datetime.now(UTC))
    client.push(event.user_id, messages, retry_key)
