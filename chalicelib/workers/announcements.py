"""Workers of the announcement fan-out: the announce-plan, announce-collect and announce-send
queues, and the `announce-due` minute job. One module for the four because they are one
mechanism (services/fanout.py); each entry point only reads its records and reports failures.

Each record is one piece of work; a failure (including LINE staying unavailable) is reported
for that record alone, SQS delivers it again, and the piece is idempotent. Logs carry the
announcement id (the correlation id), partition and chunk keys, never a user id.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from chalicelib.domain.announcements import ID_PATTERN
from chalicelib.observability import invocation, logger, metrics
from chalicelib.resources import ANNOUNCE_SEND
from chalicelib.services import fanout


def _batch(
    records: list[dict[str, Any]], kind: str, work: Callable[[dict[str, Any], dict[str, Any]], str]
) -> dict[str, list[dict[str, str]]]:
    failures = []
    for record in records:
        try:
            body = json.loads(record["body"])
            announcement_id = body["announcementId"]
            if not isinstance(announcement_id, str) or not ID_PATTERN.match(announcement_id):
                raise ValueError("announcementId")
        except (KeyError, TypeError, ValueError):
            # Only our own code queues here: this is a bug, park it in the DLQ for a person.
            logger.error(
                "unreadable announcement record", extra={"queue": kind, "message_id": record.get("messageId")}
            )
            failures.append({"itemIdentifier": record["messageId"]})
            continue
        with invocation(announcement_id, queue=kind):
            try:
                outcome = work(body, record)
                logger.info("announcement work done", extra={"outcome": outcome})
            except fanout.Busy as busy:
                logger.info("announcement work busy; it will be retried", extra={"reason": str(busy)})
                failures.append({"itemIdentifier": record["messageId"]})
            except Exception as error:
                # By class name only: an SDK error's message can quote a request, user ids included.
                logger.error(
                    "announcement work failed; it will be retried", extra={"error": type(error).__name__}
                )
                metrics.add_metric(name="AnnouncementWorkFailed", unit="Count", value=1)
                failures.append({"itemIdentifier": record["messageId"]})
    return {"batchItemFailures": failures}


def handle_plan_batch(records: list[dict[str, Any]]) -> dict[str, list[dict[str, str]]]:
    def work(body: dict[str, Any], record: dict[str, Any]) -> str:
        trigger = body.get("trigger", fanout.START)
        if trigger not in (fanout.START, fanout.WATCHDOG_TRIGGER):
            raise ValueError("trigger")
        return fanout.plan(body["announcementId"], trigger)

    return _batch(records, "plan", work)


def handle_collect_batch(records: list[dict[str, Any]]) -> dict[str, list[dict[str, str]]]:
    def work(body: dict[str, Any], record: dict[str, Any]) -> str:
        partition = body["partition"]
        if not isinstance(partition, str):
            raise TypeError("partition")
        return fanout.collect(body["announcementId"], partition, follow_up=bool(body.get("followUp")))

    return _batch(records, "collect", work)


def handle_send_batch(records: list[dict[str, Any]]) -> dict[str, list[dict[str, str]]]:
    def work(body: dict[str, Any], record: dict[str, Any]) -> str:
        chunk = body["chunk"]
        if not isinstance(chunk, str):
            raise TypeError("chunk")
        receives = int((record.get("attributes") or {}).get("ApproximateReceiveCount") or 1)
        # On the delivery before the dead-letter queue, a LINE outage is recorded as a failed chunk,
        # so the announcement can finish and staff see it, rather than the chunk vanishing.
        payload = body if "to" in body else None  # a follow-up names the chunk only: it is read
        return fanout.send(
            body["announcementId"],
            chunk,
            payload=payload,
            last_attempt=receives >= ANNOUNCE_SEND.max_receive_count,
        )

    return _batch(records, "send", work)


def run_due(now: datetime | None = None) -> dict[str, int]:
    """The minute job: start due sends, look at running ones (the safety net of the schedules)."""
    return fanout.run_due(now or datetime.now(UTC))
