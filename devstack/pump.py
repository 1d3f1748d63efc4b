"""The event pump: what Lambda's event source mappings, EventBridge rules and EventBridge
Scheduler's one-time schedules do in AWS, done locally.

It reads the app's own event sources (the `@app.on_sqs_message` and `@app.schedule`
declarations), receives from each queue in moto and calls the very handler objects
Lambda would call, with Lambda's SQS event shape. Partial batch failures behave as in
AWS: succeeded records are deleted, failed ones go back to the queue, and moto moves a
message to the dead-letter queue once it has been received maxReceiveCount times.
The one local liberty: a failed record becomes visible again after `retry_delay`
seconds instead of the queue's full visibility timeout, so local retries take seconds.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import boto3
from chalice.app import ScheduledEventConfig, SQSEventConfig

from devstack.cron import Schedule
from devstack.env import MOTO_ACCOUNT as ACCOUNT
from devstack.env import Ports, local_environ, metrics_to_file


@dataclass
class LambdaContext:
    """What a handler may read off Lambda's context object."""

    function_name: str
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = ""
    timeout_seconds: float = 60.0
    _started: float = field(default_factory=time.monotonic)

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.timeout_seconds - (time.monotonic() - self._started)) * 1000))


def _resolve(handler_string: str) -> Any:
    module, _, name = handler_string.rpartition(".")
    return getattr(importlib.import_module(module), name)


class Pump:
    def __init__(self, app_module: str = "app", *, retry_delay: int = 1, wait_seconds: int = 1) -> None:
        self._app = importlib.import_module(app_module).app
        self._retry_delay = retry_delay
        self._wait_seconds = wait_seconds  # the pause of `run` when every queue was empty
        self._sqs = boto3.client("sqs")
        self._region = self._sqs.meta.region_name
        sources = self._app.event_sources
        self.queues = [source for source in sources if isinstance(source, SQSEventConfig)]
        self.schedules = {
            source.name: source for source in sources if isinstance(source, ScheduledEventConfig)
        }
        self._stop = threading.Event()
        self._fired: set[str] = set()

    # --- SQS ---------------------------------------------------------------------------------

    def drain_once(self) -> int:
        """One receive per queue, none waiting, each batch handed to its handler; returns records
        delivered. (Long-polling each queue in turn would leave a busy queue one batch per round
        of idle ones: `run` pauses only when every queue was empty.)"""
        return sum(self._deliver(source) for source in self.queues)

    def purge(self) -> None:
        """Empty every queue it delivers from, delivering nothing (for a test that must see its own
        messages only, however many earlier tests left behind)."""
        for source in self.queues:
            self._sqs.purge_queue(QueueUrl=self._sqs.get_queue_url(QueueName=source.queue)["QueueUrl"])

    def drain(self, idle_rounds: int = 2, timeout: float = 30.0) -> int:
        """Deliver until every queue has been empty `idle_rounds` times in a row (for tests)."""
        deadline = time.monotonic() + timeout
        total, idle = 0, 0
        while idle < idle_rounds and time.monotonic() < deadline:
            delivered = self.drain_once()
            total += delivered
            idle = 0 if delivered else idle + 1
        return total

    def _deliver(self, source: SQSEventConfig) -> int:
        url = self._sqs.get_queue_url(QueueName=source.queue)["QueueUrl"]
        received = self._sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=min(source.batch_size, 10),
            WaitTimeSeconds=0,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not received:
            return 0
        arn = f"arn:aws:sqs:{self._region}:{ACCOUNT}:{source.queue}"
        records = [self._record(message, arn) for message in received]
        try:
            result = _resolve(source.handler_string)({"Records": records}, LambdaContext(source.name))
            failed_ids = {item["itemIdentifier"] for item in (result or {}).get("batchItemFailures", [])}
        except Exception:
            # A handler that raises fails the whole batch, as in Lambda.
            failed_ids = {record["messageId"] for record in records}
        for message in received:
            if message["MessageId"] in failed_ids:
                self._sqs.change_message_visibility(
                    QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=self._retry_delay
                )
            else:
                self._sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        return len(received)

    def _record(self, message: dict[str, Any], arn: str) -> dict[str, Any]:
        return {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"],
            "attributes": message.get("Attributes", {}),
            "messageAttributes": message.get("MessageAttributes", {}),
            "md5OfBody": message.get("MD5OfBody"),
            "eventSource": "aws:sqs",
            "eventSourceARN": arn,
            "awsRegion": self._region,
        }

    # --- schedules ---------------------------------------------------------------------------

    def fire(self, name: str, at: datetime | None = None) -> Any:
        """Run the scheduled job `name` now, with the event EventBridge would send."""
        source = self.schedules[name]
        at = at or datetime.now(UTC)
        event = {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": "Scheduled Event",
            "source": "aws.events",
            "account": ACCOUNT,
            "time": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "region": self._region,
            "resources": [f"arn:aws:events:{self._region}:{ACCOUNT}:rule/{name}"],
            "detail": {},
        }
        return _resolve(source.handler_string)(event, LambdaContext(name))

    def _expression(self, name: str) -> str:
        expression = self.schedules[name].schedule_expression
        return expression if isinstance(expression, str) else expression.to_string()

    # --- EventBridge Scheduler: one-time schedules ---------------------------------------------

    def fire_due_schedules(self, now: datetime | None = None) -> int:
        """Deliver each one-time `at(...)` schedule whose time has come to its SQS target, with its
        Input as the body, as Scheduler does, then delete it if it asks for that (the app's do).
        Returns how many fired. Only SQS targets: the app schedules nothing else."""
        now = now or datetime.now(UTC)
        scheduler = boto3.client("scheduler")
        fired = 0
        for group in scheduler.list_schedule_groups().get("ScheduleGroups", []):
            for summary in scheduler.list_schedules(GroupName=group["Name"]).get("Schedules", []):
                if summary.get("State", "ENABLED") != "ENABLED" or summary["Name"] in self._fired:
                    continue
                try:
                    schedule = scheduler.get_schedule(Name=summary["Name"], GroupName=group["Name"])
                except scheduler.exceptions.ResourceNotFoundException:
                    continue  # deleted since listed (a move, a follow-up): the others still fire
                at = _one_time(schedule)
                if at is None or at > now:
                    continue
                target = schedule["Target"]
                queue = target["Arn"].rpartition(":")[2]
                url = self._sqs.get_queue_url(QueueName=queue)["QueueUrl"]
                self._sqs.send_message(QueueUrl=url, MessageBody=target.get("Input", "{}"))
                if schedule.get("ActionAfterCompletion") == "DELETE":
                    # The app may delete it as it fires, as it may in AWS.
                    with contextlib.suppress(scheduler.exceptions.ResourceNotFoundException):
                        scheduler.delete_schedule(Name=summary["Name"], GroupName=group["Name"])
                else:
                    self._fired.add(summary["Name"])  # a finished one-time schedule never fires again
                fired += 1
        return fired

    # --- the loop ----------------------------------------------------------------------------

    def run(self) -> None:
        now = datetime.now(UTC)
        plans = {name: Schedule(self._expression(name)) for name in self.schedules}
        due = {name: plan.next_after(now) for name, plan in plans.items()}
        while not self._stop.is_set():
            if not self.drain_once():  # a pause only when every queue was empty
                self._stop.wait(self._wait_seconds)
            now = datetime.now(UTC)
            try:
                self.fire_due_schedules(now)
            except Exception as error:  # noqa: BLE001 (the minute job still starts what is due)
                print(f"pump: one-time schedules not fired: {error!r}", flush=True)
            for name, at in due.items():
                if now >= at:
                    try:
                        self.fire(name, at)
                    except Exception as error:  # a failing job must not stop the pump
                        print(f"pump: scheduled job {name} failed: {error!r}", flush=True)
                    due[name] = plans[name].next_after(now)

    def stop(self) -> None:
        self._stop.set()


def _one_time(schedule: dict[str, Any]) -> datetime | None:
    """The moment of an `at(yyyy-mm-ddThh:mm:ss)` schedule in its time zone; None for any other."""
    match = re.fullmatch(r"at\((\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)\)", schedule["ScheduleExpression"])
    if not match:
        return None
    zone = ZoneInfo(schedule.get("ScheduleExpressionTimezone") or "UTC")
    return datetime.fromisoformat(match[1]).replace(tzinfo=zone)


def _fire_time(text: str | None) -> datetime | None:
    """`make fire AT=…`: the moment the schedule fires, as if it ran then (the nightly job
    closes the Tokyo day before it)."""
    from devstack import preflight

    if not text:
        return None
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        at = None
    if at is None or at.tzinfo is None:
        preflight.fail(f"AT={text!r}: give an ISO time with its offset, e.g. 2026-12-05T03:00+09:00", 2)
    return at.astimezone(UTC)


def main() -> None:
    parser = argparse.ArgumentParser(description="Deliver local SQS messages and schedules to the app.")
    parser.add_argument("--fire", metavar="JOB", help="run one scheduled job now and exit")
    parser.add_argument("--at", metavar="ISO", help="with --fire: the schedule's time (default: now)")
    parser.add_argument("--drain", action="store_true", help="deliver until the queues are empty, then exit")
    parser.add_argument(
        "--log-level",
        default="WARNING",
        help="with --fire or --drain: the app's log lines shown (default WARNING: the job's result and its warnings)",
    )
    args = parser.parse_args()
    ports = Ports.from_env()
    os.environ.update(local_environ(ports))
    if args.fire is not None or args.drain:
        from devstack import preflight

        metrics_to_file()
        from chalicelib.observability import logger

        logger.setLevel(args.log_level.upper())  # `make run`'s console keeps every line

        pump = Pump()
        at = None
        if args.fire is not None:
            preflight.require_choice("job", args.fire, pump.schedules, "make fire JOB=<job>")
            at = _fire_time(args.at)
        preflight.require_stack("moto: SQS, DynamoDB, SES", ports.aws, "MADOGUCHI_AWS_PORT")
        if args.fire is not None:
            print(preflight.one_line(lambda: pump.fire(args.fire, at), f"job {args.fire}"))
        else:
            print(f"delivered {preflight.one_line(pump.drain, 'drain')} records")
        return
    Pump().run()


if __name__ == "__main__":
    main()
