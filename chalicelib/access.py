"""What each Lambda function may touch in AWS: the one list infra/ turns into IAM policies.

Chalice builds one function per worker and schedule (named after the Python handler in app.py)
and one for the API (`api_handler`). Routes listed in `ROUTE_FUNCTIONS` get a function of their
own (the same code, its own role): the webhooks, so that a function the internet can call holds
only the secret it verifies with, never the LINE access token or a payment provider's API key,
and the API function holds no webhook secret.

A new feature that adds a worker or a job adds one entry here, naming its tables (the resource
part of the table name, e.g. "submissions"), the queues it sends to, the buckets and secrets it
reads. Queues a function is triggered by need no entry: their event source grants the consume.
A function with no entry gets `DEFAULT`: its own logs and traces, its event source, nothing else
(it fails closed with AccessDenied, never opens up). tests/infra checks that every function has
an entry, that every name here exists, and that each entry matches what the function's code
reaches (tests/infra/code_access.py), in both directions.

This module is read by infra/ and the tests only; nothing in a function imports it.
"""

from __future__ import annotations

from dataclasses import dataclass

from chalicelib.resources import (
    LINE_CHANNEL_ACCESS_TOKEN,
    LINE_CHANNEL_SECRET,
    PAYMENT_API_SECRETS,
    PAYMENT_SECRETS,
    QUEUE_TICKET_SECRET,
    STRIPE_WEBHOOK_SECRET,
)


def _queue_webhook_secrets() -> tuple[str, ...]:
    """The secrets the ticket systems sign with, as chalicelib/data/queue.json names them."""
    from chalicelib.domain import queue

    return tuple(dict.fromkeys(source.secret for source in queue.config().sources))


LINE_SECRETS: tuple[str, ...] = (LINE_CHANNEL_SECRET, LINE_CHANNEL_ACCESS_TOKEN)
QUEUE_WEBHOOK_SECRETS: tuple[str, ...] = _queue_webhook_secrets()
# Every secret infra/ creates, by the name config.py reads it under (`NAME` locally, `NAME_ARN`
# in AWS): Secrets Manager `<prefix>/<name in kebab case>` (e.g. `<prefix>/line-channel-secret`).
SECRETS: tuple[str, ...] = (*LINE_SECRETS, *PAYMENT_SECRETS, QUEUE_TICKET_SECRET, *QUEUE_WEBHOOK_SECRETS)
if len(set(SECRETS)) != len(SECRETS):
    # A queue source naming LINE's or a provider's secret would hand it to the queue webhook.
    raise ValueError(f"chalicelib/data/queue.json: a source's secret reuses another secret's name: {SECRETS}")


def secret_name(secret: str) -> str:
    """The secret's resource name (without the stage prefix): LINE_CHANNEL_SECRET -> line-channel-secret."""
    return secret.lower().replace("_", "-")


@dataclass(frozen=True)
class Access:
    # Tables read only (GetItem, Query, BatchGetItem...), and read and written (items only).
    reads: tuple[str, ...] = ()
    writes: tuple[str, ...] = ()
    # Queues it sends to; "*dlq" names (e.g. "line-events-dlq") for depth reads only.
    sends: tuple[str, ...] = ()
    peeks: tuple[str, ...] = ()
    # Buckets: objects read, written and deleted.
    buckets: tuple[str, ...] = ()
    secrets: tuple[str, ...] = ()
    # Creates, reads and deletes one-time schedules in the schedule group (and passes their role).
    schedules: bool = False
    # Sends email through SES from the configured sender identity.
    email: bool = False


DEFAULT = Access()

_ANNOUNCE_TABLES = ("announcements", "announcement-fanout", "audit")
_CONSULTATION_TABLES = ("consultation-slots", "consultation-bookings", "consultation-guards")
_QUEUE_TABLES = ("queue-tickets", "queue-lines", "queue-watches")
_PAYMENT_TABLES = ("payments", "payment-log")  # a payment's audit trail is in payment-log
# A resident's submissions and their limits: forms, the chat's reports, answers to "needs info";
# the inbox holds each photo upload's claim (used by one submission or answer only).
_SUBMISSION_TABLES = ("submissions", "audit", "attempts", "idempotency", "inbox")
# Preferences: the resident, the send lists an announcement reads, their counts.
_RESIDENT_TABLES = ("residents", "send-lists", "send-list-counts")

# What settles a payment: asks the provider, records its answer, moves the submission on.
_PAYMENT_SETTLER = Access(
    reads=("payment-slots",),
    writes=(*_PAYMENT_TABLES, "submissions", "audit"),
    sends=("payment-notices", "notifications"),
    secrets=PAYMENT_API_SECRETS,
)

FUNCTIONS: dict[str, Access] = {
    # --- webhooks: check, dedupe in the inbox, queue; each reads only the secret it verifies with.
    "line_webhook": Access(writes=("inbox",), sends=("line-events",), secrets=(LINE_CHANNEL_SECRET,)),
    # PayPay does not sign (its route is limited to PayPay's addresses at the edge); Stripe does.
    "payment_webhooks": Access(
        writes=("inbox",), sends=("payment-events",), secrets=(STRIPE_WEBHOOK_SECRET,)
    ),
    # The queue webhook also signs the link an issued ticket prints (QR code): no vendor holds that secret.
    "queue_webhook": Access(
        writes=("inbox",), sends=("queue-events",), secrets=(*QUEUE_WEBHOOK_SECRETS, QUEUE_TICKET_SECRET)
    ),
    # --- every other route: forms, submissions, staff, LIFF and web pages, announcements (the
    # preview reads LINE's quota), consultations, window queues, payments (starting one calls
    # the provider).
    "api_handler": Access(
        reads=("payment-reconciliation",),
        writes=(
            *_SUBMISSION_TABLES,
            *_RESIDENT_TABLES,
            *_ANNOUNCE_TABLES,
            *_CONSULTATION_TABLES,
            *_QUEUE_TABLES,
            *_PAYMENT_TABLES,
            "payment-slots",
        ),
        sends=("notifications", "announce-plan", "consultations", "payment-notices"),
        buckets=("attachments",),
        secrets=(LINE_CHANNEL_ACCESS_TOKEN, *PAYMENT_API_SECRETS, QUEUE_TICKET_SECRET),
        schedules=True,
    ),
    # --- workers and jobs
    # The chat: reports with photos, settings, FAQ, booking status and cancellation, the queue
    # status, a fee's state; it signs and reads postbacks and replies on LINE.
    "line_events_worker": Access(
        reads=("payments", "payment-slots", "queue-lines"),
        writes=(*_SUBMISSION_TABLES, *_RESIDENT_TABLES, *_CONSULTATION_TABLES, "inbox", "conversations"),
        sends=("notifications", "consultations"),
        buckets=("attachments",),
        secrets=LINE_SECRETS,
        schedules=True,
    ),
    # Status changes to the resident; a "needs info" push carries a signed answer postback; how
    # each notice fared is recorded on the submission.
    # A closed submission's photos are written again with their retention tag (lifecycle).
    "notifications_worker": Access(
        reads=("residents",),
        writes=("inbox", "submissions"),
        buckets=("attachments",),
        secrets=LINE_SECRETS,
        email=True,
    ),
    "daily_digest_job": Access(
        reads=("submissions", "consultation-bookings", "payment-reconciliation", "payments"),
        writes=("inbox", "digest-cutoffs"),
        email=True,
    ),
    "needs_info_reminders_job": Access(
        reads=("residents",), writes=("submissions", "inbox"), secrets=LINE_SECRETS, email=True
    ),
    "dlq_watch_job": Access(peeks=("*dlq",)),
    # Announcements: messages carry signed postbacks (channel secret); only sending needs the token.
    "announce_plan_worker": Access(
        # The recipients counted again at the start: an unapproved send that grew past the
        # approval threshold waits for a supervisor (services/fanout.py, _grown_past_approval).
        reads=("send-lists", "send-list-counts"),
        writes=_ANNOUNCE_TABLES,
        sends=("announce-collect", "announce-send"),
        secrets=(LINE_CHANNEL_SECRET,),
        schedules=True,
    ),
    "announce_collect_worker": Access(
        reads=("send-lists",),
        writes=(*_ANNOUNCE_TABLES, "announcement-caps"),
        sends=("announce-send",),
        secrets=(LINE_CHANNEL_SECRET,),
    ),
    "announce_send_worker": Access(
        reads=("send-lists",), writes=(*_ANNOUNCE_TABLES, "rate-limits"), secrets=LINE_SECRETS
    ),
    "announce_due_job": Access(writes=("announcements", "announcement-fanout"), sends=("announce-plan",)),
    # Consultations: a booking's follow-up arms its reminders (schedules), then LINE and email.
    "consultations_worker": Access(
        reads=("residents",),
        writes=("consultation-bookings", "inbox"),  # bookings: what the resident was last told
        secrets=(LINE_CHANNEL_ACCESS_TOKEN,),
        schedules=True,
        email=True,
    ),
    # Window queues: ticket events move tickets and lines and tell watchers on LINE; the nightly
    # close-out ends tickets left open (telling no watcher: no LINE token), then history,
    # profiles and open data.
    "queue_events_worker": Access(
        reads=("residents",), writes=_QUEUE_TABLES, secrets=(LINE_CHANNEL_ACCESS_TOKEN,)
    ),
    "queue_nightly_job": Access(
        writes=("queue-tickets", "queue-lines", "queue-history"), buckets=("open-data",)
    ),
    # Payments: a hint, the sweep or the unpaid-withdrawal job asks the provider, then settles the
    # intent and the submission (withdrawal ends the intent at the provider first).
    "payment_events_worker": _PAYMENT_SETTLER,
    "payments_sweep_job": _PAYMENT_SETTLER,
    "payments_unpaid_job": _PAYMENT_SETTLER,
    # The receipt, on LINE and by email.
    "payment_notices_worker": Access(
        reads=("payments", "submissions", "residents"),
        writes=("inbox",),
        secrets=(LINE_CHANNEL_ACCESS_TOKEN,),
        email=True,
    ),
    "payments_reconcile_job": Access(
        reads=("payments",),
        writes=("payment-reconciliation",),
        buckets=("payment-reports",),
        secrets=PAYMENT_API_SECRETS,
    ),
}

# Routes served by a function of their own: function name -> (path, method) pairs.
ROUTE_FUNCTIONS: dict[str, tuple[tuple[str, str], ...]] = {
    "line_webhook": (("/line/webhook", "post"),),
    "payment_webhooks": (("/payments/webhooks/paypay", "post"), ("/payments/webhooks/stripe", "post")),
    "queue_webhook": (("/queue/webhooks/{source}", "post"),),
}


def access_for(function: str) -> Access:
    return FUNCTIONS.get(function, DEFAULT)
