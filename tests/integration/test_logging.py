"""What the app writes to its logs along the LINE follow flow: JSON, correlated, no personal data.

Powertools' Logger binds its StreamHandler to the `sys.stdout` of the moment the logger
is created (module import, while pytest's global capture is active), so `capsys` alone
would see only the EMF metric lines, which are `print()`ed at call time. The `stdout`
fixture below points the handler at a forwarder to the current `sys.stdout` (capsys's
during the test) and puts the original stream back afterwards: product code is untouched,
and capsys sees exactly what Lambda would ship to CloudWatch.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import uuid
from collections import Counter
from typing import Any

import pytest

from chalicelib import observability
from chalicelib.domain.line_webhook import sign
from tests.integration.conftest import DESTINATION, line_event, new_user_id, webhook_body


class CurrentStdout:
    """A stream that writes to whatever `sys.stdout` is at the time of the write."""

    def write(self, text: str) -> int:
        return sys.stdout.write(text)

    def flush(self) -> None:
        sys.stdout.flush()


@pytest.fixture
def stdout(capsys):
    """capsys, with the Powertools handler writing to the stdout capsys captures.

    pytest gives capsys a fresh stream for the test call (the one seen during fixture set-up
    is closed once set-up ends), so the handler is pointed at a forwarder, not at a stream.
    """
    handlers = [
        handler for handler in observability.logger.handlers if isinstance(handler, logging.StreamHandler)
    ]
    assert handlers, "the Powertools logger has no stream handler to capture"
    previous = [handler.setStream(CurrentStdout()) for handler in handlers]
    try:
        yield capsys
    finally:
        for handler, stream in zip(handlers, previous, strict=True):
            handler.setStream(stream)


@pytest.fixture
def quiet(pump, stdout):
    """Nothing left over from earlier tests: queues drained, output discarded."""
    pump.drain()
    stdout.readouterr()
    return stdout


def parse(output: str) -> list[dict[str, Any]]:
    """Every non-empty line of `output` as a JSON object (fails on any line that is not one)."""
    lines = []
    for line in output.splitlines():
        if not line.strip():
            continue
        try:
            document = json.loads(line)
        except ValueError:
            pytest.fail(f"a stdout line is not JSON: {line!r}")
        assert isinstance(document, dict), line
        lines.append(document)
    return lines


def log_lines(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The Powertools log lines (the others are EMF metric documents)."""
    for line in lines:
        assert ("level" in line and "message" in line) or "_aws" in line, line
    return [line for line in lines if "_aws" not in line]


def assert_absent(secret: str, *outputs: str) -> None:
    for output in outputs:
        assert secret not in output


def test_a_follow_is_logged_as_correlated_json_without_personal_data(
    quiet, post_webhook, pump, sandbox, caplog
):
    caplog.set_level(logging.INFO)
    user_id = new_user_id()
    display_name = "Hanako Zzyzx"
    sandbox.set_profile(user_id, displayName=display_name, language="en")
    event = line_event("follow", user_id)
    event_id, reply_token = event["webhookEventId"], event["replyToken"]

    response = post_webhook(webhook_body(event))
    assert response.status_code == 200
    request = quiet.readouterr()
    pump.drain()
    worker = quiet.readouterr()

    # The flow really ran: the worker greeted the resident through the sandbox.
    [reply] = [r for r in sandbox.requests("/v2/bot/message/reply") if r["body"]["replyToken"] == reply_token]
    assert reply["status"] == 200

    request_logs = log_lines(parse(request.out))
    worker_logs = log_lines(parse(worker.out))

    # Metrics: one EMF document per invocation, written by the middleware at its end.
    [request_metrics] = [line for line in parse(request.out) if "_aws" in line]
    assert request_metrics["LineEventsQueued"] == [1.0]
    worker_metrics = [line for line in parse(worker.out) if "_aws" in line]
    assert [m.get("LineEventsProcessed") for m in worker_metrics] == [[1.0]]
    assert worker_metrics[0]["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "Madoguchi"

    # The request: one "webhook accepted" line, carrying the request's correlation id and the event id.
    [accepted] = [line for line in request_logs if line["message"] == "webhook accepted"]
    assert accepted["level"] == "INFO"
    assert accepted["service"] == "madoguchi"
    assert accepted["queued"] == [event_id]
    assert accepted["duplicates"] == []
    for line in request_logs:
        assert isinstance(line.get("correlation_id"), str) and line["correlation_id"], line
    assert len({line["correlation_id"] for line in request_logs}) == 1

    # The worker: every line is correlated by LINE's webhookEventId and names the user by hash only.
    assert worker_logs
    for line in worker_logs:
        assert line.get("correlation_id") == event_id, line
        assert line.get("user") == observability.hashed(user_id), line
        assert line.get("event_type") == "follow", line
    [greeted] = [line for line in worker_logs if line["message"] == "follower greeted"]
    assert greeted["language"] == "en"
    assert observability.hashed(user_id) in worker.out

    # No line twice (e.g. once from the Powertools handler and once via another handler).
    counts = Counter(line["message"] for line in request_logs + worker_logs)
    assert all(count == 1 for count in counts.values()), counts
    assert len(set(map(json.dumps, request_logs + worker_logs))) == len(request_logs + worker_logs)

    # Personal data and tokens appear nowhere: stdout, stderr, or any log record at INFO or above.
    records = "\n".join(f"{record.getMessage()} {vars(record)!r}" for record in caplog.records)
    for secret in (user_id, reply_token, display_name):
        assert_absent(secret, request.out, request.err, worker.out, worker.err, records)


def test_the_request_correlation_id_is_api_gateways_request_id(quiet, local_stack):
    """Called as Lambda calls it, with API Gateway's event shape, the request id is the correlation id."""
    from app import app
    from devstack.pump import LambdaContext

    request_id = str(uuid.uuid4())
    event = line_event("follow")
    body = webhook_body(event)
    api_gateway_event = {
        "resource": "/line/webhook",
        "path": "/line/webhook",
        "httpMethod": "POST",
        "headers": {
            "content-type": "application/json; charset=utf-8",
            "x-line-signature": sign(os.environ["LINE_CHANNEL_SECRET"], body),
        },
        "multiValueHeaders": None,
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": {
            "requestId": request_id,
            "resourcePath": "/line/webhook",
            "httpMethod": "POST",
            "path": "/api/line/webhook",
            "stage": "api",
            "identity": {"sourceIp": "147.92.150.192"},
        },
        "body": body.decode(),
        "isBase64Encoded": False,
    }
    response = app(api_gateway_event, LambdaContext("madoguchi-dev"))
    assert response["statusCode"] == 200

    logs = log_lines(parse(quiet.readouterr().out))
    [accepted] = [line for line in logs if line["message"] == "webhook accepted"]
    assert accepted["correlation_id"] == request_id
    assert accepted["queued"] == [event["webhookEventId"]]
    assert all(line.get("correlation_id") == request_id for line in logs)


def test_two_requests_get_different_correlation_ids_and_the_context_is_cleared(quiet, post_webhook):
    first, second = line_event("unfollow"), line_event("unfollow")
    assert post_webhook(webhook_body(first)).status_code == 200
    assert post_webhook(webhook_body(second)).status_code == 200
    logs = log_lines(parse(quiet.readouterr().out))
    accepted = [line for line in logs if line["message"] == "webhook accepted"]
    assert [line["queued"] for line in accepted] == [[first["webhookEventId"]], [second["webhookEventId"]]]
    assert accepted[0]["correlation_id"] != accepted[1]["correlation_id"]

    # Outside a request no correlation id or request key lingers on the logger.
    observability.logger.info("between requests")
    [between] = log_lines(parse(quiet.readouterr().out))
    assert between["message"] == "between requests"
    assert "correlation_id" not in between
    assert "path" not in between


def test_requests_served_at_once_on_threads_keep_their_own_context(quiet):
    # `chalice local` serves requests on threads: each line carries its own request's keys.
    import threading

    both_inside = threading.Barrier(2)

    def request(name: str) -> None:
        with observability.invocation(f"id-{name}", path=f"/{name}"):
            both_inside.wait(timeout=5)
            observability.logger.info("inside", extra={"who": name})
            both_inside.wait(timeout=5)

    threads = [threading.Thread(target=request, args=(name,)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    lines = [line for line in log_lines(parse(quiet.readouterr().out)) if line["message"] == "inside"]
    assert sorted((line["who"], line["correlation_id"], line["path"]) for line in lines) == [
        ("a", "id-a", "/a"),
        ("b", "id-b", "/b"),
    ]


PRIVATE_TEXT = "住所は青戸7-1-1、電話は090-1234-5678です"


def rejected(kind: str) -> tuple[bytes, str | None, int, str, dict[str, Any]]:
    """(body, signature or "sign", status, reason, the event inside) for each kind of rejection."""
    user_id = new_user_id()
    message = line_event("message", user_id, message={"id": "1", "type": "text", "text": PRIVATE_TEXT})
    good = webhook_body(message)
    if kind == "bad signature":
        return good, "c2lnbmF0dXJlLW9mLXNvbWVvbmUtZWxzZQ==", 401, "invalid_signature", message
    if kind == "no signature":
        return good, None, 401, "invalid_signature", message
    if kind == "malformed json":
        return good[:-3], "sign", 400, "malformed_json", message
    # A user id LINE would never send (upper-case hex): the 422 details quote it, the log must not.
    message["source"]["userId"] = "U" + user_id[1:].upper()
    return webhook_body(message), "sign", 422, "invalid_webhook", message


@pytest.mark.parametrize("kind", ["bad signature", "no signature", "malformed json", "schema problem"])
def test_a_rejected_webhook_logs_one_warning_with_the_reason_and_nothing_of_the_body(
    quiet, post_webhook, kind
):
    body, signature, status, reason, event = rejected(kind)
    response = post_webhook(body, signature=signature)
    assert response.status_code == status
    assert json.loads(response.body)["error"]["code"] == reason
    captured = quiet.readouterr()

    logs = log_lines(parse(captured.out))
    assert [line["message"] for line in logs] == ["webhook rejected"]
    [warning] = logs
    assert warning["level"] == "WARNING"
    assert warning["reason"] == reason
    assert warning.get("correlation_id")

    fragments = [
        PRIVATE_TEXT,
        "青戸",
        "090-1234-5678",
        DESTINATION,
        event["source"]["userId"],
        event["source"]["userId"][1:].lower(),
        event["replyToken"],
        event["webhookEventId"],
    ]
    if signature not in (None, "sign"):
        fragments.append(signature)
    for fragment in fragments:
        assert_absent(fragment, captured.out, captured.err)
