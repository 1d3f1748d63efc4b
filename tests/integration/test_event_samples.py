"""Every sample in events/ is one the app accepts, through the same entry point AWS would use."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from devstack.pump import LambdaContext
from devstack.send_event import new_event_id, prepare

EVENTS = Path(__file__).resolve().parents[2] / "events"


@pytest.mark.parametrize("path", sorted((EVENTS / "line").glob("*.json")), ids=lambda p: p.name)
def test_line_samples_are_accepted_by_the_webhook(path, client):
    route, body, headers = prepare(path)
    response = client.http.post(route, body=body, headers=headers)
    assert response.status_code == 200, response.body


def test_each_send_of_a_sample_is_a_new_event_with_its_own_reply_token():
    sample = EVENTS / "line" / "follow.json"
    first, second = (json.loads(prepare(sample)[1])["events"][0] for _ in range(2))
    assert first["webhookEventId"] != second["webhookEventId"]
    # LINE takes a reply token once: the same one again was answered by a push instead.
    assert (
        first["replyToken"]
        != second["replyToken"]
        != json.loads(sample.read_text())["events"][0]["replyToken"]
    )


def test_a_copy_of_a_sample_elsewhere_is_sent_from_another_line_user(tmp_path):
    """A newcomer's own copy, or a second resident: `make event E=... LINE_USER=U...`."""
    copy = tmp_path / "line" / "follow.json"
    copy.parent.mkdir()
    copy.write_text((EVENTS / "line" / "follow.json").read_text())
    route, body, _ = prepare(copy, line_user="U" + "1" * 32)
    assert route == "/line/webhook" and json.loads(body)["events"][0]["source"]["userId"] == "U" + "1" * 32


def test_postback_samples_are_sent_with_signed_data(local_stack):
    from chalicelib.config import get_settings
    from chalicelib.domain import postbacks

    samples = sorted((EVENTS / "line").glob("postback_*.json"))
    assert samples
    for path in samples:
        _, body, _ = prepare(path)
        for event in json.loads(body)["events"]:
            assert postbacks.read(get_settings().line_channel_secret, event["postback"]["data"]).action


@pytest.mark.parametrize("path", sorted((EVENTS / "forms").glob("*.json")), ids=lambda p: p.name)
def test_form_samples_are_accepted_by_their_form(path, client):
    route, body, headers = prepare(path)
    response = client.http.post(route, body=body, headers=headers)
    assert response.status_code == 201, response.body


@pytest.mark.parametrize("path", sorted((EVENTS / "queue").glob("*.json")), ids=lambda p: p.name)
def test_queue_samples_are_accepted_by_the_ticket_webhook(path, client):
    route, body, headers = prepare(path)
    response = client.http.post(route, body=body, headers=headers)
    assert response.status_code == 200, response.body


@pytest.mark.parametrize("path", sorted((EVENTS / "payments").glob("*.json")), ids=lambda p: p.name)
def test_payment_webhook_samples_are_accepted(path, client):
    route, body, headers = prepare(path)
    response = client.http.post(route, body=body, headers=headers)
    assert response.status_code == 200, response.body


@pytest.mark.parametrize("path", sorted((EVENTS / "sqs").glob("*.json")), ids=lambda p: p.name)
def test_sqs_samples_are_handled_by_their_worker(path, local_stack, sandbox, pump):
    import app

    event = json.loads(path.read_text(encoding="utf-8"))
    queue = event["Records"][0]["eventSourceARN"].rsplit(":", 1)[-1]
    [source] = [
        source for source in pump.queues if source.queue.endswith(queue.removeprefix("madoguchi-local"))
    ]
    handler = getattr(app, source.handler_string.rpartition(".")[2])
    if source.handler_string.endswith("line_events_worker"):
        for record in event["Records"]:  # a fresh event id: the sample must not meet its own earlier runs
            body = json.loads(record["body"])
            fresh = {"webhookEventId": new_event_id(), "timestamp": int(time.time() * 1000)}
            record["body"] = json.dumps({**body, **fresh})
    result = handler(event, LambdaContext(source.name))
    assert result == {"batchItemFailures": []}
    if source.handler_string.endswith("line_events_worker"):
        assert len(sandbox.requests("/v2/bot/message/reply")) == 1


@pytest.mark.parametrize("path", sorted((EVENTS / "schedule").glob("*.json")), ids=lambda p: p.name)
def test_schedule_samples_name_a_registered_job_that_runs(path, pump):
    import app

    source = pump.schedules[path.stem]
    handler = getattr(app, source.handler_string.rpartition(".")[2])
    result = handler(json.loads(path.read_text(encoding="utf-8")), LambdaContext(path.stem))
    assert isinstance(result, dict) and result  # each job reports what it did, per queue or per section
