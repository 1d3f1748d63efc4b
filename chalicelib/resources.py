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

QUEUES: tuple[QueueSpec, ...] = (LINE_EVENTS, NOTIFICATIONS)

ATTACHMENTS_BUCKET = "attachments"
BUCKETS: tuple[str, ...] = (ATTACHMENTS_BUCKET,)

# EventBridge Scheduler group holding one-time schedules (scheduled announcements and the like).
SCHEDULE_GROUP = "schedules"
