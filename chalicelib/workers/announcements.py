"""Workers of the announcement fan-out: the announce-plan, announce-collect and announce-send
queues, and the `announce-due` minute job. One module for the four because they are one
mechanism (services/fanout.py); each entry point only reads its records and reports failures.

Each record is one piece of work; a failure (including LINE staying unavailable) is reported
for that record alone, SQS delivers it again, and the piece is idempotent. Logs carry the
announcement id (the correlation id), partition and chunk keys, never a user id.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from chalicelib.domain.announcements import ID_PATTERN
from chalicelib.observability import logger
from chalicelib.resources import ANNOUNCE_SEND
from chalicelib.services import fanout
from chalicelib.workers import scheduled_time
from chalicelib.workers.batches import BatchResponse, Message, Record, partial_batch


@dataclass(frozen=True)
class Job:
    body: dict[str, Any]
    receives: int  # how often SQS has handed the record out, this time included


def _batch(records: Iterable[Record], kind: str, work: Callable[[Job], str]) -> BatchResponse:
    def read(record: Record) -> Message[Job]:
        # Only our own code queues here: one that does not read is a bug, for a person in the DLQ.
        body = json.loads(record["body"])
        announcement_id = body["announcementId"]
        if not isinstance(announcement_id, str) or not ID_PATTERN.match(announcement_id):
            raise ValueError("announcementId")
        receives = int((record.get("attributes") or {}).get("ApproximateReceiveCount") or 1)
        return Message(Job(body, receives), announcement_id, {"queue": kind})

    def handle(job: Job) -> None:
        logger.info("announcement work done", extra={"outcome": work(job)})

    return partial_batch(
        records,
        read,
        handle,
        kind=f"announce-{kind}",
        failed_metric="AnnouncementWorkFailed",
        expected=(fanout.Busy,),
    )


def handle_plan_batch(records: Iterable[Record]) -> BatchResponse:
    def work(job: Job) -> str:
        body = job.body
        trigger = body.get("trigger", fanout.START)
        if trigger not in (fanout.START, fanout.WATCHDOG_TRIGGER):
            raise ValueError("trigger")
        return fanout.plan(body["announcementId"], trigger)

    return _batch(records, "plan", work)


def handle_collect_batch(records: Iterable[Record]) -> BatchResponse:
    def work(job: Job) -> str:
        body = job.body
        partition = body["partition"]
        if not isinstance(partition, str):
            raise TypeError("partition")
        return fanout.collect(body["announcementId"], partition, follow_up=bool(body.get("followUp")))

    return _batch(records, "collect", work)


def handle_send_batch(records: Iterable[Record]) -> BatchResponse:
    def work(job: Job) -> str:
        body = job.body
        chunk = body["chunk"]
        if not isinstance(chunk, str):
            raise TypeError("chunk")
        # On the delivery before the dead-letter queue, a LINE outage is recorded as a failed chunk,
        # so the announcement can finish and staff see it, rather than the chunk vanishing.
        payload = body if "to" in body else None  # a follow-up names the chunk only: it is read
        return fanout.send(
            body["announcementId"],
            chunk,
            payload=payload,
            last_attempt=job.receives >= ANNOUNCE_SEND.max_receive_count,
        )

    return _batch(records, "send", work)


def run_due(now: datetime | str | None = None) -> dict[str, int]:
    """The minute job: start due sends, look at running ones (the safety net of the schedules)."""
    return fanout.run_due(scheduled_time(now))
