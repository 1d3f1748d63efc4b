"""The queues and buckets the application uses: one list read by the app, the local stack and infra/.

Tables are the PynamoDB models in chalicelib/store/models.py (their Meta is the definition).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class QueueSpec:
    name: str
    # At least six times the consuming Lambda's timeout (AWS's advice for SQS event sources): a
    # slow record is never handed out twice at once, and one the poller took while the function
    # was throttled is not counted towards the dead-letter queue before it could be tried.
    visibility_timeout: int = 360
    # Receives before a message is parked in the dead-letter queue for an operator to look at.
    max_receive_count: int = 5
    batch_size: int = 10
    retention_seconds: int = 4 * 24 * 3600
    # The longest SQS allows, so an operator back from a long weekend still finds the failures.
    dlq_retention_seconds: int = 14 * 24 * 3600
    # SQS's classic per-message limit (the default is now 1 MiB): what the webhook checks against.
    max_message_bytes: int = 256 * 1024

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
ANNOUNCE_COLLECT = QueueSpec("announce-collect", visibility_timeout=1800, batch_size=1)
ANNOUNCE_SEND = QueueSpec("announce-send", batch_size=1)

# Consultation bookings (issue 15): confirmation, reminders, meeting link, cancellation notices.
CONSULTATIONS = QueueSpec("consultations")
# Window queues (issue 14): ticket events from the ticket systems, applied one line at a time.
QUEUE_EVENTS = QueueSpec("queue-events")
# Payments (issue 13): a provider webhook (only a hint) -> ask the provider; a paid fee -> the receipt.
PAYMENT_EVENTS = QueueSpec("payment-events")
PAYMENT_NOTICES = QueueSpec("payment-notices")

QUEUES: tuple[QueueSpec, ...] = (
    LINE_EVENTS,
    NOTIFICATIONS,
    ANNOUNCE_PLAN,
    ANNOUNCE_COLLECT,
    ANNOUNCE_SEND,
    CONSULTATIONS,
    QUEUE_EVENTS,
    PAYMENT_EVENTS,
    PAYMENT_NOTICES,
)

ATTACHMENTS_BUCKET = "attachments"
# A closed submission's photos carry this tag, valued its retention in days; the bucket has a
# lifecycle rule for each value a form may give (domain.forms.retentions), expiring it then.
PHOTO_RETENTION_TAG = "retention-days"
# Published aggregate data (CSV + data dictionary), no personal data: window congestion for now.
OPEN_DATA_BUCKET = "open-data"
# The nightly reconciliation's CSVs for the accounting office (per day, section and fee type).
PAYMENT_REPORTS_BUCKET = "payment-reports"
BUCKETS: tuple[str, ...] = (ATTACHMENTS_BUCKET, OPEN_DATA_BUCKET, PAYMENT_REPORTS_BUCKET)
# Buckets whose overwritten or deleted objects are kept NONCURRENT_VERSION_DAYS: the accounting
# office's records (PayPay's files, the reconciliations). Not the photos: a deleted photo of a
# resident must be gone, and the open data is rebuilt every night.
VERSIONED_BUCKETS: tuple[str, ...] = (PAYMENT_REPORTS_BUCKET,)
NONCURRENT_VERSION_DAYS = 90

# EventBridge Scheduler group holding one-time schedules (scheduled announcements and the like).
SCHEDULE_GROUP = "schedules"
# The queues those schedules may put messages on (the role EventBridge Scheduler assumes may send
# to these only): announcement starts and consultation reminders.
SCHEDULE_TARGETS: tuple[QueueSpec, ...] = (ANNOUNCE_PLAN, CONSULTATIONS)

# Where uploads wait until a submission takes them (services/uploads.py); S3 expires what is left.
UPLOAD_STAGING_PREFIX = "incoming/"

# The app's own metrics (chalicelib/observability.py: CloudWatch embedded metric format).
METRICS_NAMESPACE = "Madoguchi"
METRICS_SERVICE = "madoguchi"  # the one dimension every metric carries ("service")


@dataclass(frozen=True)
class MetricAlarm:
    """An alarm to the operators when the app counts `metric` at least `threshold` times within
    `minutes`: work refused or set aside that no Lambda error or dead-letter queue shows."""

    metric: str
    description: str
    threshold: int = 1
    minutes: int = 60


METRIC_ALARMS: tuple[MetricAlarm, ...] = (
    MetricAlarm(
        "QueueEventsRefused",
        "A ticket system's webhook requests are refused (its clock, secret, office or line mapping): "
        "its lines show no current information until it is fixed; the log says which source and why",
        threshold=10,
        minutes=15,
    ),
    MetricAlarm(
        "QueueNumberClashes", "A ticket system issues one number on two lines: those lines' figures are off"
    ),
    MetricAlarm(
        "PaymentReportMissing",
        "A day's PayPay transactions file is not in the payment-reports bucket: that day is not reconciled",
        minutes=24 * 60,
    ),
    MetricAlarm(
        "PaymentReconciliationDifferences",
        "The night's reconciliation found payments that differ from the providers' records",
        minutes=24 * 60,
    ),
    MetricAlarm(
        "PaymentsNeedingReview", "A payment needs a person (a late payment to refund, an amount to check)"
    ),
    MetricAlarm(
        "PaymentsUnpaidFailed", "An unpaid submission could not be withdrawn; the next run tries again"
    ),
    MetricAlarm("NotificationsNotQueued", "A resident's notification could not be queued and was not sent"),
    MetricAlarm("DigestsFailed", "A section's daily digest could not be sent; a rerun retries it"),
    MetricAlarm(
        "AnnouncementChunksFailed", "Part of an announcement was not delivered (LINE refused it or was down)"
    ),
)

# Secrets, by the name chalicelib/config.py reads them under: a plain `NAME` in the environment
# locally, in AWS the Secrets Manager secret whose ARN `NAME_ARN` holds (re-read every
# config.SECRET_CACHE_SECONDS). infra/ creates one secret per name (chalicelib/access.py SECRETS)
# and gives a function `NAME_ARN` only if access.py lets it read that secret.
LINE_CHANNEL_SECRET = "LINE_CHANNEL_SECRET"  # noqa: S105 (names, not values)
LINE_CHANNEL_ACCESS_TOKEN = "LINE_CHANNEL_ACCESS_TOKEN"  # noqa: S105
# Payment providers (issue 13): the API credentials the workers call PayPay and Stripe with, and
# the key Stripe signs its webhooks with (PayPay does not sign them).
PAYPAY_API_KEY = "PAYPAY_API_KEY"  # noqa: S105
PAYPAY_API_SECRET = "PAYPAY_API_SECRET"  # noqa: S105
STRIPE_SECRET_KEY = "STRIPE_SECRET_KEY"  # noqa: S105
PAYMENT_API_SECRETS: tuple[str, ...] = (PAYPAY_API_KEY, PAYPAY_API_SECRET, STRIPE_SECRET_KEY)
STRIPE_WEBHOOK_SECRET = "STRIPE_WEBHOOK_SECRET"  # noqa: S105
PAYMENT_SECRETS: tuple[str, ...] = (*PAYMENT_API_SECRETS, STRIPE_WEBHOOK_SECRET)
# Window queues (issue 14): the key of the signed ticket links. The ticket systems' webhook secrets
# are named per source in chalicelib/data/queue.json ("secret").
QUEUE_TICKET_SECRET = "QUEUE_TICKET_SECRET"  # noqa: S105
