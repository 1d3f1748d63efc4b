"""SQS: putting work on a queue and reading its depth."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from chalicelib.aws import client
from chalicelib.config import get_settings
from chalicelib.resources import QueueSpec

SQS_BATCH_LIMIT = 10
# SQS takes at most 256 KiB per message and per batch; leave room for the request's own framing.
SQS_BATCH_BYTES = 250_000


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
    for chunk, bodies in _batches(messages):
        entries = [{"Id": str(index), "MessageBody": body} for index, body in enumerate(bodies)]
        try:
            response = client("sqs").send_message_batch(QueueUrl=queue_url(queue.name), Entries=entries)
        except (BotoCoreError, ClientError):
            failed += [message_id for message_id, _ in chunk]
            continue
        failed += [chunk[int(entry["Id"])][0] for entry in response.get("Failed", [])]
    return failed


def _batches(
    messages: list[tuple[str, dict[str, Any]]],
) -> list[tuple[list[tuple[str, dict[str, Any]]], list[str]]]:
    """Groups of at most 10 messages and SQS_BATCH_BYTES, each with its bodies as JSON text."""
    found: list[tuple[list[tuple[str, dict[str, Any]]], list[str]]] = []
    group: list[tuple[str, dict[str, Any]]] = []
    bodies: list[str] = []
    size = 0
    for message in messages:
        body = json.dumps(message[1], ensure_ascii=False, separators=(",", ":"))
        length = len(body.encode("utf-8"))
        if group and (len(group) == SQS_BATCH_LIMIT or size + length > SQS_BATCH_BYTES):
            found.append((group, bodies))
            group, bodies, size = [], [], 0
        group.append(message)
        bodies.append(body)
        size += length
    if group:
        found.append((group, bodies))
    return found
