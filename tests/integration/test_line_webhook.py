"""POST /line/webhook through chalice.test.Client against moto over HTTP: check, dedupe, queue."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import pytest

from chalicelib.domain.line_webhook import MAX_BODY_BYTES, sign
from chalicelib.resources import LINE_EVENTS
from chalicelib.services import line_ingress
from chalicelib.store.models import InboxEvent
from tests.integration.conftest import line_event, webhook_body


@pytest.fixture
def take_queued(sqs, pump):
    """Every event id waiting on the LINE event queue, removed from it (the worker does not run)."""
    from chalicelib.adapters.queues import queue_url

    pump.drain()  # whatever earlier tests left is not this test's

    def take() -> list[str]:
        ids = []
        while True:
            messages = sqs.receive_message(QueueUrl=queue_url(LINE_EVENTS.name), MaxNumberOfMessages=10).get(
                "Messages", []
            )
            if not messages:
                return ids
            for message in messages:
                ids.append(json.loads(message["Body"])["webhookEventId"])
                sqs.delete_message(
                    QueueUrl=queue_url(LINE_EVENTS.name), ReceiptHandle=message["ReceiptHandle"]
                )

    return take


def in_inbox(event_id: str) -> bool:
    return InboxEvent.count(event_id, consistent_read=True) > 0


def error_of(response) -> dict:
    body = json.loads(response.body)
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details"}
    return body["error"]


def test_signed_events_are_recorded_and_queued(post_webhook, take_queued):
    first, second = (
        line_event("follow"),
        line_event("message", message={"id": "1", "type": "text", "text": "a"}),
    )
    response = post_webhook(webhook_body(first, second))
    assert response.status_code == 200
    assert json.loads(response.body) == {}
    assert sorted(take_queued()) == sorted([first["webhookEventId"], second["webhookEventId"]])
    assert in_inbox(first["webhookEventId"]) and in_inbox(second["webhookEventId"])


@pytest.mark.parametrize("signature", [None, "", "not-base64!", sign("another-secret", b"{}")])
def test_missing_or_wrong_signature_is_401_and_nothing_is_kept(post_webhook, take_queued, signature):
    event = line_event("follow")
    response = post_webhook(webhook_body(event), signature=signature)
    assert response.status_code == 401
    assert error_of(response)["code"] == "invalid_signature"
    assert take_queued() == []
    assert not in_inbox(event["webhookEventId"])


def test_signature_of_another_body_is_rejected(post_webhook, take_queued):
    event = line_event("follow")
    signed_for_other = sign("local-channel-secret", webhook_body(line_event("follow")))
    response = post_webhook(webhook_body(event), signature=signed_for_other)
    assert response.status_code == 401
    assert take_queued() == []


def test_console_verify_with_no_events_is_200(post_webhook, take_queued):
    response = post_webhook(webhook_body())
    assert response.status_code == 200
    assert take_queued() == []


def test_the_same_event_twice_is_queued_once(post_webhook, take_queued):
    event = line_event("follow")
    assert post_webhook(webhook_body(event)).status_code == 200
    assert post_webhook(webhook_body(event)).status_code == 200
    assert take_queued() == [event["webhookEventId"]]


def test_the_same_event_sent_concurrently_is_queued_once(local_stack, take_queued):
    event = line_event("follow")
    body = webhook_body(event)
    signature = sign("local-channel-secret", body)
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda _: line_ingress.accept(body, signature), range(8)))
    assert sum(len(result.queued) for result in results) == 1
    assert sum(len(result.duplicates) for result in results) == 7
    assert take_queued() == [event["webhookEventId"]]


def test_redelivery_of_a_seen_event_is_dropped_and_of_an_unseen_one_is_queued(post_webhook, take_queued):
    seen = line_event("follow")
    post_webhook(webhook_body(seen))
    assert take_queued() == [seen["webhookEventId"]]

    redelivered_seen = {**seen, "deliveryContext": {"isRedelivery": True}}
    redelivered_unseen = {**line_event("follow"), "deliveryContext": {"isRedelivery": True}}
    response = post_webhook(webhook_body(redelivered_seen, redelivered_unseen))
    assert response.status_code == 200
    assert take_queued() == [redelivered_unseen["webhookEventId"]]


def test_malformed_json_is_400(post_webhook, take_queued):
    response = post_webhook(b'{"destination": "U1", "events": [')
    assert response.status_code == 400
    assert error_of(response)["code"] == "malformed_json"
    assert take_queued() == []


def test_a_body_over_1_mb_is_413_even_when_signed(post_webhook, take_queued):
    event = line_event("message", message={"id": "1", "type": "text", "text": "x" * MAX_BODY_BYTES})
    response = post_webhook(webhook_body(event))
    assert response.status_code == 413
    assert error_of(response)["code"] == "payload_too_large"
    assert take_queued() == []
    assert not in_inbox(event["webhookEventId"])


def test_events_missing_required_fields_are_422_with_every_problem(post_webhook, take_queued):
    good = line_event("follow")
    no_id = line_event("follow")
    del no_id["webhookEventId"]
    bad_mode = line_event("unfollow", mode="sleeping")
    no_user = line_event("follow")
    del no_user["source"]["userId"]
    response = post_webhook(webhook_body(good, no_id, bad_mode, no_user))
    assert response.status_code == 422
    error = error_of(response)
    assert error["code"] == "invalid_webhook"
    pointers = {detail["pointer"] for detail in error["details"]}
    assert {"/events/1", "/events/2/mode", "/events/3/source"} <= pointers
    # Nothing of the request is kept, not even its valid event: LINE will send it again.
    assert take_queued() == []
    assert not in_inbox(good["webhookEventId"])


def test_unknown_event_type_is_accepted(post_webhook, take_queued):
    event = line_event("membership", membership={"type": "joined", "membershipId": 3189})
    assert post_webhook(webhook_body(event)).status_code == 200
    assert take_queued() == [event["webhookEventId"]]


def test_charset_in_content_type_is_accepted(post_webhook, take_queued):
    event = line_event("follow")
    assert post_webhook(webhook_body(event), content_type="application/json").status_code == 200
    assert take_queued() == [event["webhookEventId"]]


def test_queue_failure_forgets_the_events_so_a_redelivery_is_accepted(post_webhook, take_queued, monkeypatch):
    from chalicelib.adapters import queues

    event = line_event("follow")
    monkeypatch.setattr(queues, "queue_url", lambda name: "http://127.0.0.1:1/000000000000/nowhere")
    response = post_webhook(webhook_body(event))
    assert response.status_code == 503
    assert not in_inbox(event["webhookEventId"])
    monkeypatch.undo()
    assert post_webhook(webhook_body(event)).status_code == 200
    assert take_queued() == [event["webhookEventId"]]
