"""Worker for the LINE event queue: one record is one webhook event.

SQS delivers at least once, so each event is skipped when the inbox says it was
processed, and every effect is safe to repeat: resident writes are conditional on
LINE's event time, and a reply token works only once. Failures are reported per
record so one bad event does not replay the batch.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta

from chalicelib.adapters.line_api import line_client
from chalicelib.config import get_settings
from chalicelib.domain import chat as chat_rules
from chalicelib.domain import postbacks
from chalicelib.domain import residents as resident_rules
from chalicelib.domain.line_webhook import LineEvent
from chalicelib.observability import hashed, logger, metrics
from chalicelib.resources import LINE_EVENTS
from chalicelib.services import chat, replies
from chalicelib.store import inbox, preferences, residents
from chalicelib.workers.batches import BatchResponse, Message, Record, partial_batch

# A worker holds an event no longer than the queue hides a message from other workers.
LEASE = timedelta(seconds=LINE_EVENTS.visibility_timeout)


def handle_batch(records: Iterable[Record]) -> BatchResponse:
    """Process an SQS batch; answers Lambda's partial-batch-failure shape."""
    return partial_batch(records, _read, process, kind="line event", failed_metric="LineEventsFailed")


def _read(record: Record) -> Message[LineEvent]:
    # The webhook only queues schema-checked events: one that does not read is a bug (the DLQ).
    event = LineEvent.from_raw(json.loads(record["body"]))
    return Message(event, event.event_id, {"event_type": event.type, "user": hashed(event.user_id)})


def process(event: LineEvent) -> None:
    # Busy (another delivery holds the event) fails this record: SQS hands it out again after
    # the lease, when it will be done.
    with inbox.once(event.event_id, datetime.now(UTC), LEASE) as claim:
        if claim is inbox.Claim.DONE:
            logger.info("line event already processed")
            return
        handler = HANDLERS.get(event.type)
        if handler is None:
            # New LINE event types must never become errors; later features add handlers here.
            logger.info("line event type not handled")
        else:
            handler(event)
    metrics.add_metric(name="LineEventsProcessed", unit="Count", value=1)


def on_follow(event: LineEvent) -> None:
    assert event.user_id  # the webhook schema requires it for follow events
    profile_language = resident_rules.language_from_profile(line_client().profile_language(event.user_id))
    if not residents.record_follow(event.user_id, profile_language, event.timestamp_ms):
        logger.info("follow is older than the resident's last change; ignored")
        return
    # A resident who comes back is put back on the lists their kept preferences name.
    stored = preferences.sync(event.user_id)
    language = stored.preferences.language if stored else profile_language
    if event.mode != "active":
        # Standby: another channel module owns the conversation; we record, we do not speak.
        logger.info("follow recorded in standby mode; no reply")
        return
    replies.answer(
        event,
        chat_rules.greeting(language, postbacks.sign(get_settings().line_channel_secret, "menu.settings")),
        "greeting",
    )
    logger.info("follower greeted", extra={"language": language})


def on_unfollow(event: LineEvent) -> None:
    assert event.user_id
    if not residents.record_unfollow(event.user_id, event.timestamp_ms):
        logger.info("unfollow is older than the resident's last change; ignored")
        return
    preferences.sync(event.user_id)  # inactive now: on no send list at all
    logger.info("resident unfollowed")


HANDLERS: dict[str, Callable[[LineEvent], None]] = {
    "follow": on_follow,
    "unfollow": on_unfollow,
    "message": chat.on_message,
    "postback": chat.on_postback,
}
