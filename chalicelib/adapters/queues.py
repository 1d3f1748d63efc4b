"""SQS: putting work on a queue and reading its depth."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
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


# Errors of the request's content, not of SQS's state: sending the same message again fails again.
_REFUSALS = frozenset(
    {
        "InvalidParameterValue",
        "InvalidMessageContents",
        "MessageTooLong",
        "BatchRequestTooLong",
        "AWS.SimpleQueueService.BatchRequestTooLong",
    }
)

Body = dict[str, Any] | str


@dataclass(frozen=True)
class Sent:
    """What a send did not do: `unsent` may go on a retry (SQS busy, down, unreachable);
    `refused` never will (SQS refused the message itself, e.g. too large)."""

    unsent: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)


def send_all(queue: QueueSpec, messages: Sequence[tuple[str, Body]]) -> list[str]:
    """Send (id, body) pairs in batches; returns the ids SQS did not take, for whatever reason.

    A batch whose call fails outright counts as not taken, whole: the caller would
    rather see an event twice (the worker is idempotent) than lose one.
    """
    sent = send_each(queue, messages)
    return sent.unsent + sent.refused


def send_each(queue: QueueSpec, messages: Sequence[tuple[str, Body]]) -> Sent:
    """Send (id, body) pairs in batches (a str body is sent as it is); says which were not taken, and why."""
    from botocore.exceptions import BotoCoreError, ClientError

    unsent: list[str] = []
    refused: list[str] = []
    url = queue_url(queue.name)
    pending = _batches(messages)
    while pending:
        chunk, bodies = pending.pop(0)
        entries = [{"Id": str(index), "MessageBody": body} for index, body in enumerate(bodies)]
        try:
            response = client("sqs").send_message_batch(QueueUrl=url, Entries=entries)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") not in _REFUSALS:
                unsent += [message_id for message_id, _ in chunk]
            elif len(chunk) == 1:
                refused.append(chunk[0][0])
            else:
                # SQS refuses a whole batch for one bad message: send each alone to find it.
                pending[:0] = [([message], [body]) for message, body in zip(chunk, bodies, strict=True)]
            continue
        except BotoCoreError:
            unsent += [message_id for message_id, _ in chunk]
            continue
        for entry in response.get("Failed", []):
            (refused if entry.get("SenderFault") else unsent).append(chunk[int(entry["Id"])][0])
    return Sent(unsent=unsent, refused=refused)


def _batches(
    messages: Sequence[tuple[str, Body]],
) -> list[tuple[list[tuple[str, Body]], list[str]]]:
    """Groups of at most 10 messages and SQS_BATCH_BYTES, each with its bodies as JSON text."""
    found: list[tuple[list[tuple[str, Body]], list[str]]] = []
    group: list[tuple[str, Body]] = []
    bodies: list[str] = []
    size = 0
    for message in messages:
        body = (
            message[1]
            if isinstance(message[1], str)
            else json.dumps(message[1], ensure_ascii=False, separators=(",", ":"))
        )
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
