"""`partial_batch`: the one SQS loop of every worker (issue 11, item 10)."""

from __future__ import annotations

import json
import logging

import pytest

from chalicelib.observability import logger, metrics
from chalicelib.workers.batches import Message, partial_batch

SECRET = "hanako@example.com"


class Busy(Exception):
    pass


def record(message_id: str, body: object) -> dict:
    return {"messageId": message_id, "body": body if isinstance(body, str) else json.dumps(body)}


def read(rec) -> Message[dict]:
    body = json.loads(rec["body"])
    return Message(body, body["id"], {"step": body.get("step", "one")})


@pytest.fixture(autouse=True)
def no_metrics_left():
    metrics.clear_metrics()
    yield
    metrics.clear_metrics()


def test_only_the_failing_records_are_reported_in_order():
    seen = []

    def handle(body: dict) -> None:
        seen.append(body["id"])
        if body.get("fail"):
            raise RuntimeError("boom")

    records = [
        record("m1", {"id": "a"}),
        record("m2", {"id": "b", "fail": True}),
        record("m3", "{not json"),
        record("m4", {"id": "d"}),
        record("m5", {"no": "id"}),
        record("m6", {"id": "f", "fail": True}),
    ]
    result = partial_batch(records, read, handle, kind="test", failed_metric="TestFailed")
    assert result == {"batchItemFailures": [{"itemIdentifier": m} for m in ("m2", "m3", "m5", "m6")]}
    assert seen == ["a", "b", "d", "f"]  # an unreadable record is never handled; the rest all are


def test_an_empty_or_clean_batch_reports_nothing():
    assert partial_batch([], read, lambda body: None, kind="test", failed_metric="TestFailed") == {
        "batchItemFailures": []
    }
    clean = [record("m1", {"id": "a"}), record("m2", {"id": "b"})]
    assert partial_batch(clean, read, lambda body: None, kind="test", failed_metric="TestFailed") == {
        "batchItemFailures": []
    }


def test_each_record_is_handled_under_its_own_correlation_id_then_cleared():
    ids = []

    def correlation_id() -> str | None:
        return logger.thread_safe_get_current_keys().get("correlation_id")  # observability.invocation

    def handle(body: dict) -> None:
        ids.append(correlation_id())

    partial_batch(
        [record("m1", {"id": "a"}), record("m2", {"id": "b"})],
        read,
        handle,
        kind="test",
        failed_metric="TestFailed",
    )
    assert ids == ["a", "b"]
    assert correlation_id() is None


def test_expected_exceptions_fail_quietly_and_others_count(caplog):
    def handle(body: dict) -> None:
        raise Busy("key#1 is held") if body["id"] == "busy" else KeyError("x")

    caplog.set_level(logging.INFO)
    result = partial_batch(
        [record("m1", {"id": "busy"}), record("m2", {"id": "bad"})],
        read,
        handle,
        kind="test",
        failed_metric="TestFailed",
        expected=(Busy,),
    )
    assert result == {"batchItemFailures": [{"itemIdentifier": "m1"}, {"itemIdentifier": "m2"}]}
    assert metrics.metric_set["TestFailed"]["Value"] == [1.0]
    levels = {r.getMessage(): r.levelname for r in caplog.records}
    assert levels == {"test busy; it will be retried": "INFO", "test failed; it will be retried": "ERROR"}


def test_logs_carry_the_error_class_and_place_never_the_body_or_the_errors_text(caplog):
    def handle(body: dict) -> None:
        raise ValueError(f"refused {body['email']}")

    caplog.set_level(logging.INFO)
    result = partial_batch(
        [record("m1", {"id": "a", "email": SECRET}), record("m2", f'{{"email": "{SECRET}"')],
        read,
        handle,
        kind="test",
        failed_metric="TestFailed",
    )
    assert len(result["batchItemFailures"]) == 2
    failed, unreadable = caplog.records
    assert failed.getMessage() == "test failed; it will be retried"
    assert failed.error == "ValueError"
    assert failed.raised_at.startswith("chalicelib/workers/batches.py:")  # the innermost line of ours
    assert unreadable.getMessage() == "unreadable test record; it will be retried"
    assert unreadable.message_id == "m2"
    everything = "\n".join(f"{r.getMessage()} {vars(r)!r}" for r in caplog.records)
    assert SECRET not in everything


def test_the_last_try_before_the_dead_letter_queue_says_it_is_given_up(caplog):
    """A walkthrough: the fifth failure was logged "it will be retried" and then sat in the DLQ."""
    from chalicelib.config import get_settings
    from chalicelib.resources import NOTIFICATIONS

    def handle(body: dict) -> None:
        raise Busy("key#1 is held") if body["id"] == "busy" else KeyError("x")

    def on_try(message_id: str, body: dict, receives: int) -> dict:
        arn = f"arn:aws:sqs:ap-northeast-1:000000000000:{get_settings().name(NOTIFICATIONS.name)}"
        attributes = {"ApproximateReceiveCount": str(receives)}
        return {**record(message_id, body), "attributes": attributes, "eventSourceARN": arn}

    caplog.set_level(logging.INFO)
    last = NOTIFICATIONS.max_receive_count
    partial_batch(
        [
            on_try("m1", {"id": "bad"}, last - 1),
            on_try("m2", {"id": "bad"}, last),
            on_try("m3", {"id": "busy"}, last),
        ],
        read,
        handle,
        kind="test",
        failed_metric="TestFailed",
        expected=(Busy,),
    )
    assert [(r.getMessage(), r.levelname) for r in caplog.records] == [
        ("test failed; it will be retried", "ERROR"),
        ("test failed; given up: it goes to the dead-letter queue", "ERROR"),
        ("test busy; given up: it goes to the dead-letter queue", "ERROR"),
    ]
