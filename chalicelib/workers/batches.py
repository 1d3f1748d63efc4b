"""One loop for every SQS worker: each record on its own, failures reported per record.

The event sources report batch item failures, so SQS hands out again only the records named
in `batchItemFailures`: one bad record never replays the others, and one that keeps failing
ends in its dead-letter queue. A worker gives two functions: `read` turns a record into its
message (and the correlation id and safe keys its log lines carry), `handle` does the work.

Logs never carry a message body or an exception's text (an SDK error can quote an address or a
user id): a failure is logged by the exception's class and where it was raised. Powertools'
BatchProcessor would run the same loop; this one keeps each record's log context around its
failure line and needs no record wrapper.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from chalicelib.observability import invocation, logger, metrics

T = TypeVar("T")
Record = Mapping[str, Any]
BatchResponse = dict[str, list[dict[str, str]]]


@dataclass(frozen=True)
class Message(Generic[T]):
    """A record read: what to do, and what every log line about it carries (never personal data)."""

    body: T
    correlation_id: str
    log_keys: Mapping[str, Any] = field(default_factory=dict)


def partial_batch(
    records: Iterable[Record],
    read: Callable[[Record], Message[T]],
    handle: Callable[[T], object],
    *,
    kind: str,
    failed_metric: str,
    expected: tuple[type[Exception], ...] = (),
) -> BatchResponse:
    """Read and handle every record; answers Lambda's partial batch response.

    A record `read` cannot read is a bug (only our own code queues): logged, failed, and after
    the queue's receive count parked in the DLQ for a person. An exception of `expected` (the
    work is busy elsewhere) fails the record quietly; any other counts in `failed_metric`.
    """
    failures: list[dict[str, str]] = []
    for record in records:
        if not _one(record, read, handle, kind, failed_metric, expected):
            failures.append({"itemIdentifier": record["messageId"]})
    return {"batchItemFailures": failures}


def _one(
    record: Record,
    read: Callable[[Record], Message[T]],
    handle: Callable[[T], object],
    kind: str,
    failed_metric: str,
    expected: tuple[type[Exception], ...],
) -> bool:
    then = _what_follows(record)
    try:
        message = read(record)
    except Exception as error:
        logger.error(
            f"unreadable {kind} record; {then}",
            extra={"message_id": record.get("messageId"), **_described(error)},
        )
        return False
    with invocation(message.correlation_id, **message.log_keys):
        try:
            handle(message.body)
        except expected as error:
            # Its own reason only: the expected exceptions are ours and name keys, not people.
            log = logger.info if then == _RETRIED else logger.error
            log(f"{kind} busy; {then}", extra={"reason": str(error)})
            return False
        except Exception as error:
            logger.error(f"{kind} failed; {then}", extra=_described(error))
            metrics.add_metric(name=failed_metric, unit="Count", value=1)
            return False
    return True


_RETRIED = "it will be retried"
_PARKED = "given up: it goes to the dead-letter queue"


def _what_follows(record: Record) -> str:
    """What SQS does with the record if this try fails: hands it out again, or, at its queue's
    receive count, parks it in the dead-letter queue (an operator then looks for "given up",
    not for a retry that never comes)."""
    return _PARKED if last_try(record) else _RETRIED


def last_try(record: Record) -> bool:
    """True when this is the record's last receive: if it fails, SQS parks it in the dead-letter queue."""
    from chalicelib.config import get_settings
    from chalicelib.resources import QUEUES

    receives = int((record.get("attributes") or {}).get("ApproximateReceiveCount") or 1)
    queue = str(record.get("eventSourceARN") or "").rsplit(":", 1)[-1]
    spec = next((q for q in QUEUES if queue == get_settings().name(q.name)), None)
    return spec is not None and receives >= spec.max_receive_count


def _described(error: BaseException) -> dict[str, str]:
    """The exception's class and the innermost line of ours it passed: enough to find it, nothing personal."""
    described = {"error": type(error).__name__}
    ours = [frame for frame in traceback.extract_tb(error.__traceback__) if "chalicelib" in frame.filename]
    if ours:
        frame = ours[-1]
        where = frame.filename[frame.filename.rindex("chalicelib") :]
        described["raised_at"] = f"{where}:{frame.lineno} {frame.name}"
    return described
