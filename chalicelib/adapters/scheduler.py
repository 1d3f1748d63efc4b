"""EventBridge Scheduler: one-time schedules that put a message on one of our queues at a time.

A scheduled announcement gets `at(<UTC time>)` in the stage's schedule group, targeting the
announce-plan queue; the schedule deletes itself once it has fired. Creating the same name
again updates it, so a retried or rescheduled start leaves one schedule, not two. The
schedule is the precise trigger (locally the event pump fires it: devstack/pump.py); the
`announce-due` job (every minute) is the safety net.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from functools import cache
from typing import Any

from chalicelib.aws import client
from chalicelib.config import get_settings
from chalicelib.domain.errors import Unavailable
from chalicelib.domain.messages import Text
from chalicelib.resources import SCHEDULE_GROUP, QueueSpec

# Scheduler names: letters, digits, '.', '-', '_', at most 64 characters.
MAX_NAME = 64
# Scheduler's own default and most: it backs off between them, within the event's 24 hours.
RETRIES = 185


def at_expression(at: datetime) -> str:
    """Scheduler's one-time expression for an aware time, in UTC to the second."""
    return f"at({at.astimezone(UTC):%Y-%m-%dT%H:%M:%S})"


def schedule_message(name: str, at: datetime, queue: QueueSpec, body: dict[str, Any]) -> None:
    """Put `body` on `queue` at `at` (once); replaces a schedule of the same name."""
    if len(name) > MAX_NAME:
        raise ValueError(f"schedule name longer than {MAX_NAME} characters: {name!r}")
    settings = get_settings()
    request = {
        "Name": name,
        "GroupName": settings.name(SCHEDULE_GROUP),
        "ScheduleExpression": at_expression(at),
        "ScheduleExpressionTimezone": "UTC",
        "FlexibleTimeWindow": {"Mode": "OFF"},
        "Target": {
            "Arn": _queue_arn(queue.name),
            "RoleArn": settings.scheduler_role_arn,
            "Input": json.dumps(body, separators=(",", ":")),
            # A delivery Scheduler gives up on (a day of retries: a role or queue broken) lands
            # in the target queue's own DLQ, which is alarmed and redrives to the worker.
            "DeadLetterConfig": {"Arn": _queue_arn(queue.dlq_name)},
            "RetryPolicy": {"MaximumRetryAttempts": RETRIES, "MaximumEventAgeInSeconds": 24 * 3600},
        },
        "ActionAfterCompletion": "DELETE",
    }
    scheduler = client("scheduler")
    # Another request may delete the schedule between "it exists" and the update (two moves of
    # one booking at once: each arms its follow-up, and a follow-up deletes it): create again.
    for _ in range(3):
        try:
            scheduler.create_schedule(**request)
            return
        except scheduler.exceptions.ConflictException:
            try:
                scheduler.update_schedule(**request)
                return
            except scheduler.exceptions.ResourceNotFoundException:
                continue
    # Busy, not broken: the caller answers "try again" (503), and a worker's message is retried.
    raise Unavailable(Text("error.busy"), code="busy")


def delete(name: str) -> bool:
    """Delete the schedule `name`; False if there was none (already fired, or never made)."""
    scheduler = client("scheduler")
    try:
        scheduler.delete_schedule(Name=name, GroupName=get_settings().name(SCHEDULE_GROUP))
    except scheduler.exceptions.ResourceNotFoundException:
        return False
    return True


def describe(name: str) -> dict[str, Any] | None:
    """The schedule as Scheduler stores it, or None."""
    scheduler = client("scheduler")
    try:
        return scheduler.get_schedule(Name=name, GroupName=get_settings().name(SCHEDULE_GROUP))
    except scheduler.exceptions.ResourceNotFoundException:
        return None


@cache
def _queue_arn(name: str) -> str:
    from chalicelib.adapters.queues import queue_url

    attributes = client("sqs").get_queue_attributes(QueueUrl=queue_url(name), AttributeNames=["QueueArn"])
    return attributes["Attributes"]["QueueArn"]
