"""The queues and buckets the application uses: one list read by the app, the local stack and infra/.

Tables are the PynamoDB models in chalicelib/store/models.py (their Meta is the definition).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class QueueSpec:
    name: str
    # Must exceed the consuming Lambda's timeout, or a slow record is handed out twice at once.
    visibility_timeout: int = 120
    # Receives before a message is parked in the dead-letter queue for an operator to look at.
    max_receive_count: int = 5
    batch_size: int = 10
    retention_seconds: int = 4 * 24 * 3600
    # The longest SQS allows, so an operator back from a long weekend still finds the failures.
    dlq_retention_seconds: int = 14 * 24 * 3600

    @property
    def dlq_name(self) -> str:
        return f"{self.name}-dlq"


LINE_EVENTS = QueueSpec("line-events")
# Submission created / status changed: tell the resident (LINE push or email).
NOTIFICATIONS = QueueSpec("notifications")

# Announcements (services/fanout.py): start a send; read one send list into chunks; send one chunk.
# One record per invocation: a crash then replays exactly one piece of work, and Lambda's
# concurrency, not the batch, is what sends chunks in parallel.
ANNOUNCE_PLAN = QueueSpec("announce-plan", batch_size=1)
ANNOUNCE_COLLECT = QueueSpec("announce-collect", visibility_timeout=900, batch_size=1)
ANNOUNCE_SEND = QueueSpec("announce-send", batch_size=1)

QUEUES: tuple[QueueSpec, ...] = (LINE_EVENTS, NOTIFICATIONS, ANNOUNCE_PLAN, ANNOUNCE_COLLECT, ANNOUNCE_SEND)

ATTACHMENTS_BUCKET = "attachments"
BUCKETS: tuple[str, ...] = (ATTACHMENTS_BUCKET,)
# Where uploads wait until a submission takes them (services/uploads.py); S3 expires what is left.
UPLOAD_STAGING_PREFIX = "incoming/"

# EventBridge Scheduler group holding one-time schedules (scheduled announcements and the like).
SCHEDULE_GROUP = "schedules"
# The queues those schedules may put messages on (the role EventBridge Scheduler assumes may send to these only).
SCHEDULE_TARGETS: tuple[QueueSpec, ...] = (ANNOUNCE_PLAN,)
