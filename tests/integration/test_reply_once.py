"""A reply that may have been delivered is never followed by the same push (issue 11, item 5).

LINE's faults come from the sandbox ("taken, answer lost": `phase: "after"`, and a delay past the
client's timeout); a killed worker is a BaseException raised right after a step, with the
batch coming back from SQS. Each resident gets the message at most once when LINE may have
taken it, exactly once otherwise.
"""

from __future__ import annotations

import pytest

from chalicelib.adapters import line_api
from chalicelib.adapters.line_api import LineClient
from chalicelib.store import inbox
from chalicelib.workers import line_events
from tests.integration.conftest import line_event, webhook_body
from tests.integration.test_line_chat import Resident

REPLY, PUSH = "/v2/bot/message/reply", "/v2/bot/message/push"


class Killed(BaseException):
    """The worker died: no `except Exception` in the code under test sees it."""


@pytest.fixture
def worker_can_die(monkeypatch):
    """Make the LINE worker behave like a Lambda killed mid-batch (the batch comes back), and let a
    redelivery claim the event at once (a dead worker's lease would otherwise have to run out)."""
    import app

    handler = app.line_events_worker

    def dying(event, context):
        try:
            return handler(event, context)
        except Killed:
            return {"batchItemFailures": [{"itemIdentifier": r["messageId"]} for r in event["Records"]]}

    monkeypatch.setattr(app, "line_events_worker", dying)
    monkeypatch.setattr(line_events, "LEASE", line_events.timedelta(0))


def kill_once_after(monkeypatch, owner, name: str) -> list[str]:
    """Kill the worker right after the first call of owner.name returns."""
    original, killed = getattr(owner, name), []

    def wrapper(*args, **kwargs):
        result = original(*args, **kwargs)
        if not killed:
            killed.append(name)
            raise Killed(name)
        return result

    monkeypatch.setattr(owner, name, wrapper)
    return killed


def delivered_to(sandbox, event: dict) -> int:
    """Sends LINE took for this event's user: replies with its token and pushes to the user."""
    user_id = event["source"]["userId"]
    replies = [r for r in sandbox.requests(REPLY) if r["body"].get("replyToken") == event["replyToken"]]
    pushes = [r for r in sandbox.requests(PUSH) if r["body"].get("to") == user_id]
    return sum(1 for r in replies + pushes if r["accepted"])


@pytest.fixture
def greet(post_webhook, pump, sandbox):
    pump.drain()

    def greet() -> dict:
        event = line_event("follow")
        assert post_webhook(webhook_body(event)).status_code == 200
        pump.drain()
        return event

    return greet


# --- LINE took the reply, the answer was lost: at most once ---------------------------------------


def test_a_reply_taken_whose_answer_was_a_500_is_not_pushed_again(greet, sandbox):
    sandbox.fault(REPLY, status=500, phase="after")
    event = greet()
    assert delivered_to(sandbox, event) == 1
    assert [r["status"] for r in sandbox.requests(PUSH)] == []


def test_every_reply_attempt_taken_and_lost_still_sends_once(greet, sandbox):
    sandbox.fault(REPLY, status=500, phase="after", count=10)  # the answer never gets through
    event = greet()
    assert delivered_to(sandbox, event) == 1
    assert sandbox.requests(PUSH) == []


def test_a_reply_taken_whose_answer_timed_out_is_not_pushed_again(greet, sandbox, monkeypatch):
    monkeypatch.setattr(line_api, "_TIMEOUT", (3.0, 0.3))
    monkeypatch.setattr(line_api.line_client(), "_backoff", lambda attempt: 0.6)  # the slow one lands first
    sandbox.fault(REPLY, delay=0.5)  # handled (taken) after the client gave up
    event = greet()
    assert delivered_to(sandbox, event) == 1
    assert sandbox.requests(PUSH) == []


def test_a_worker_killed_after_replying_does_not_push_the_reply_again(
    greet, sandbox, monkeypatch, worker_can_die
):
    killed = kill_once_after(monkeypatch, LineClient, "reply")
    event = greet()
    assert killed == ["reply"]
    assert delivered_to(sandbox, event) == 1
    assert sandbox.requests(PUSH) == []


def test_a_chat_reply_taken_and_lost_is_answered_once(post_webhook, pump, sandbox):
    resident = Resident(post_webhook, pump, sandbox)
    event = line_event(
        "message", resident.user_id, message={"id": "7001", "type": "text", "text": "粗大ごみ"}
    )
    sandbox.fault(REPLY, status=500, phase="after")
    assert post_webhook(webhook_body(event)).status_code == 200
    pump.drain()
    assert delivered_to(sandbox, event) == 1


# --- nothing was delivered before: exactly once ---------------------------------------------------


def test_no_fault_replies_once(greet, sandbox):
    event = greet()
    assert delivered_to(sandbox, event) == 1
    assert [r["status"] for r in sandbox.requests(REPLY)] == [200]


def test_a_refused_reply_token_is_pushed_once(greet, sandbox):
    sandbox.fault(REPLY, status=400, body={"message": "Invalid reply token"})
    event = greet()
    assert delivered_to(sandbox, event) == 1
    assert [r["status"] for r in sandbox.requests(PUSH)] == [200]


def test_a_reply_failing_before_line_took_it_is_retried_and_sent_once(greet, sandbox):
    sandbox.fault(REPLY, status=500, count=4)  # every attempt of the first delivery; SQS brings it again
    event = greet()
    assert delivered_to(sandbox, event) == 1
    assert [r["status"] for r in sandbox.requests(REPLY)] == [500, 500, 500, 500, 200]
    assert sandbox.requests(PUSH) == []


def test_a_worker_killed_after_recording_the_attempt_replies_on_the_rerun(
    greet, sandbox, monkeypatch, worker_can_die
):
    killed = kill_once_after(monkeypatch, inbox, "reply_attempt")
    event = greet()
    assert killed == ["reply_attempt"]
    assert delivered_to(sandbox, event) == 1
    assert [r["status"] for r in sandbox.requests(REPLY)] == [200]


def test_a_worker_killed_after_the_token_was_refused_pushes_once_on_the_rerun(
    greet, sandbox, monkeypatch, worker_can_die
):
    sandbox.fault(REPLY, status=400, body={"message": "Invalid reply token"})
    killed = kill_once_after(monkeypatch, LineClient, "push")  # pushed, then died before recording
    event = greet()
    assert killed == ["push"]
    assert delivered_to(sandbox, event) == 1
    assert [r["status"] for r in sandbox.requests(PUSH)] == [200, 409]  # the rerun's push: same retry key
