"""SQS: putting work on a queue and reading its depth."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from chalicelib.aws import client
from chalicelib.config import get_settings
from chalicelib.resources import QueueSpec

SQS_BATCH_LIMIT = 10


@cache
def queue_url(name: str) -> str:
    """The URL of the queue called `name` in resources.py (the stage prefix is added here).

    Built from the configured template when there is one (no round trip on a cold start),
    else looked up once per process.
    """
    settings = get_settings()
    if settings.sqs_queue_url_template:
        return settings.sqs_queue_url_template.format(name=settings.name(name))
    return client("sqs").get_queue_url(QueueName=settings.name(name))["QueueUrl"]


def depth(name: str) -> int:
    """Messages waiting (not in flight) in the queue called `name` (unprefixed)."""
    attributes = client("sqs").get_queue_attributes(
        QueueUrl=queue_url(name), AttributeNames=["ApproximateNumberOfMessages"]
    )
    return int(attributes["Attributes"]["ApproximateNumberOfMessages"])


def send_all(queue: QueueSpec, messages: list[tuple[str, dict[str, Any]]]) -> list[str]:
    """Send (id, body) pairs in batches; returns the ids SQS did not take.

    A batch whose call fails outright counts as not taken, whole: the caller would
    rather see an event twice (the worker is idempotent) than lose one.
    """
    from botocore.exceptions import BotoCoreError, ClientError

    failed: list[str] = []
    for start in range(0, len(messages), SQS_BATCH_LIMIT):
        chunk = messages[start : start + SQS_BATCH_LIMIT]
        entries = [
            {"Id": str(index), "MessageBody": json.dumps(body, ensure_ascii=False, separators=(",", ":"))}
            for index, (_, body) in enumerate(chunk)
        ]
        try:
            response = client("sqs").send_message_batch(QueueUrl=queue_url(queue.name), Entries=entries)
        except (BotoCoreError, ClientError):
            failed += [message_id for message_id, _ in chunk]
            continue
        failed += [chunk[int(entry["Id"])][0] for entry in response.get("Failed", [])]
    return failed
