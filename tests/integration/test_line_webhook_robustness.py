"""A signed webhook never loses an event (issue 11, item 1).

What can be checked is checked before the inbox put (text that is not Unicode, absurd numbers);
a failure between the inbox put and the queue send forgets the rows it wrote; an event the
queue will never take is dropped without failing the others of its body.
"""

from __future__ import annotations

import json
import time

import pytest

from chalicelib.adapters import queues
from chalicelib.domain.webhooks import MAX_EVENT_AGE
from chalicelib.resources import LINE_EVENTS
from chalicelib.store.models import InboxEvent
from tests.integration.conftest import line_event, webhook_body


def in_inbox(event_id: str) -> bool:
    return InboxEvent.count(event_id, consistent_read=True) > 0


def error_of(response) -> dict:
    body = json.loads(response.body)
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}
    return body["error"]


@pytest.fixture
def queued(sqs, pump):
    """Event ids waiting on the LINE event queue, taken off it (the worker does not run)."""
    pump.drain()

    def take() -> list[str]:
        ids = []
        url = queues.queue_url(LINE_EVENTS.name)
        while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
            for message in messages:
                ids.append(json.loads(message["Body"])["webhookEventId"])
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        return ids

    return take


def test_a_lone_surrogate_is_a_400_before_anything_is_stored(post_webhook, queued):
    good = line_event("follow")
    bad = line_event("message", message={"id": "1", "type": "text", "text": "PLACEHOLDER"})
    body = webhook_body(good, bad).replace(b"PLACEHOLDER", b"a\\ud800b")
    json.loads(body)  # valid JSON, as LINE's signature check and any parser agree
    response = post_webhook(body)
    assert response.status_code == 400
    assert error_of(response)["code"] == "malformed_json"
    assert queued() == []
    assert not in_inbox(good["webhookEventId"]) and not in_inbox(bad["webhookEventId"])


def test_a_surrogate_pair_is_text_and_is_queued(post_webhook, queued):
    event = line_event("message", message={"id": "1", "type": "text", "text": "PLACEHOLDER"})
    body = webhook_body(event).replace(b"PLACEHOLDER", b"\\ud83d\\ude00")
    assert post_webhook(body).status_code == 200
    assert queued() == [event["webhookEventId"]]


def test_an_event_older_than_the_inbox_remembers_is_not_run_the_others_are(post_webhook, queued):
    # A signed body captured and posted again after its inbox row expired would run again (a
    # "stop all" postback, a report): such an event is answered 200, so LINE does not retry it,
    # and never queued; a fresh event of the same body is.
    now_ms = int(time.time() * 1000)
    age_ms = int(MAX_EVENT_AGE.total_seconds() * 1000)
    replayed = line_event("postback", postback={"data": "x"}, timestamp=now_ms - age_ms - 60_000)
    late = line_event("follow", timestamp=now_ms - age_ms + 3_600_000)  # days late, inside the limit
    fresh = line_event("follow")
    # The largest timestamp the schema takes: an age in milliseconds, never a datetime overflow.
    far = line_event("follow", timestamp=9007199254740991)
    assert post_webhook(webhook_body(replayed, late, fresh, far)).status_code == 200
    assert sorted(queued()) == sorted(
        [late["webhookEventId"], fresh["webhookEventId"], far["webhookEventId"]]
    )
    assert not in_inbox(replayed["webhookEventId"])


def test_a_300_digit_timestamp_is_a_422(post_webhook, queued):
    event = line_event("follow", timestamp=10**300)
    response = post_webhook(webhook_body(event))
    assert response.status_code == 422
    error = error_of(response)
    assert error["code"] == "invalid_webhook"
    assert [detail["pointer"] for detail in error["details"]] == ["/events/0/timestamp"]
    assert queued() == [] and not in_inbox(event["webhookEventId"])


@pytest.mark.parametrize("number", [b"1e999", b"-1e999", b"NaN", b"Infinity"])
def test_numbers_json_cannot_hold_are_a_400(post_webhook, queued, number):
    event = line_event("postback", postback={"data": "x", "params": {"n": "PLACEHOLDER"}})
    response = post_webhook(webhook_body(event).replace(b'"PLACEHOLDER"', number))
    assert response.status_code == 400
    assert error_of(response)["code"] == "malformed_json"
    assert queued() == [] and not in_inbox(event["webhookEventId"])


def test_characters_sqs_refuses_are_escaped_and_queued(post_webhook, queued, sqs):
    event = line_event("message", message={"id": "1", "type": "text", "text": "a\uffffb\ufffe"})
    assert post_webhook(webhook_body(event)).status_code == 200
    assert queued() == [event["webhookEventId"]]


def test_a_failure_after_the_inbox_put_forgets_its_rows(post_webhook, queued, monkeypatch):
    first, second = line_event("follow"), line_event("follow")

    def broken(name: str) -> str:
        raise RuntimeError("the queue's URL could not be looked up")

    monkeypatch.setattr(queues, "queue_url", broken)
    response = post_webhook(webhook_body(first, second))
    assert response.status_code == 503
    assert error_of(response)["code"] == "unavailable"
    assert not in_inbox(first["webhookEventId"]) and not in_inbox(second["webhookEventId"])
    monkeypatch.undo()
    # LINE redelivers after a 5xx: accepted, both queued.
    assert post_webhook(webhook_body(first, second)).status_code == 200
    assert sorted(queued()) == sorted([first["webhookEventId"], second["webhookEventId"]])


def test_the_queue_refusing_one_message_of_a_batch_fails_only_that_one(local_stack, queued):
    small = ("small", json.dumps({"webhookEventId": "small"}))
    huge = ("huge", json.dumps({"webhookEventId": "huge", "pad": "x" * (LINE_EVENTS.max_message_bytes + 10)}))
    # Sent as they are: the webhook would have dropped the huge one before its inbox put.
    assert sum(len(body) for _, body in (small, huge)) > LINE_EVENTS.max_message_bytes
    sent = queues.send_each(LINE_EVENTS, [small, huge])
    assert sent.refused == ["huge"] and sent.unsent == []
    assert queued() == ["small"]


def test_an_unqueueable_event_is_dropped_and_the_good_follower_greeted_exactly_once(
    post_webhook, pump, sandbox
):
    pump.drain()
    follow = line_event("follow")
    # Valid for the schema (unknown fields are allowed) but larger than a queue message may be.
    huge = line_event("membership", membership={"type": "joined", "note": "x" * (300 * 1024)})
    body = webhook_body(follow, huge)
    assert post_webhook(body).status_code == 200
    pump.drain()
    # LINE redelivers a body now and then: still one greeting.
    redelivered = json.loads(body)
    for event in redelivered["events"]:
        event["deliveryContext"]["isRedelivery"] = True
    assert post_webhook(json.dumps(redelivered).encode()).status_code == 200
    pump.drain()

    user_id = follow["source"]["userId"]
    greetings = [
        request
        for request in sandbox.requests("/v2/bot/message/reply") + sandbox.requests("/v2/bot/message/push")
        if request["body"].get("replyToken") == follow["replyToken"] or request["body"].get("to") == user_id
    ]
    assert len([g for g in greetings if g["status"] == 200]) == 1
    assert in_inbox(follow["webhookEventId"]) and not in_inbox(huge["webhookEventId"])
