"""What each Lambda function may touch in AWS: the one list infra/ turns into IAM policies.

Chalice builds one function per worker and schedule (named after the Python handler in app.py)
and one for the API (`api_handler`). Routes listed in `ROUTE_FUNCTIONS` get a function of their
own (the same code, its own role): the LINE webhook, so that the function LINE calls can read
the channel secret it verifies with but never the access token.

A new feature that adds a worker or a job adds one entry here, naming its tables (the resource
part of the table name, e.g. "submissions"), the queues it sends to, the buckets and secrets it
reads. Queues a function is triggered by need no entry: their event source grants the consume.
A function with no entry gets `DEFAULT`: its own logs and traces, its event source, nothing else
(it fails closed with AccessDenied, never opens up). tests/infra checks every name here exists.

This module is read by infra/ only; nothing in a function imports it.
"""

from __future__ import annotations

from dataclasses import dataclass

# Secrets Manager secrets, by their resource name (the stage prefix is added).
LINE_CHANNEL_SECRET = "line-channel-secret"  # noqa: S105 (a name, not a value)
LINE_CHANNEL_ACCESS_TOKEN = "line-channel-access-token"  # noqa: S105
SECRETS: tuple[str, ...] = (LINE_CHANNEL_SECRET, LINE_CHANNEL_ACCESS_TOKEN)


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

_ANNOUNCE_TABLES = ("announcements", "announcement-fanout", "announcement-caps", "send-lists", "rate-limits")
_SUBMISSION_TABLES = ("submissions", "audit", "inbox", "attempts", "idempotency")

FUNCTIONS: dict[str, Access] = {
    # The LINE webhook: verify, dedupe in the inbox, queue. Never the access token.
    "line_webhook": Access(writes=("inbox",), sends=("line-events",), secrets=(LINE_CHANNEL_SECRET,)),
    # Every other route: forms, submissions, staff, LIFF, announcements (the preview reads LINE's quota).
    "api_handler": Access(
        writes=(*_SUBMISSION_TABLES, "residents", *_ANNOUNCE_TABLES),
        sends=("notifications", "announce-plan"),
        buckets=("attachments",),
        secrets=SECRETS,
        schedules=True,
    ),
    "line_events_worker": Access(
        writes=(*_SUBMISSION_TABLES, "residents", "send-lists", "conversations"),
        sends=("notifications",),
        buckets=("attachments",),
        secrets=SECRETS,
    ),
    "notifications_worker": Access(
        writes=("submissions", "audit", "inbox"), secrets=(LINE_CHANNEL_ACCESS_TOKEN,), email=True
    ),
    "daily_digest_job": Access(reads=("submissions",), writes=("inbox", "digest-cutoffs"), email=True),
    "dlq_watch_job": Access(peeks=("*dlq",)),
    "announce_plan_worker": Access(
        writes=_ANNOUNCE_TABLES,
        sends=("announce-plan", "announce-collect", "announce-send"),
        secrets=SECRETS,
        schedules=True,
    ),
    "announce_collect_worker": Access(
        writes=_ANNOUNCE_TABLES, sends=("announce-collect", "announce-send"), secrets=SECRETS
    ),
    "announce_send_worker": Access(writes=_ANNOUNCE_TABLES, sends=("announce-send",), secrets=SECRETS),
    "announce_due_job": Access(
        writes=_ANNOUNCE_TABLES,
        sends=("announce-plan", "announce-collect", "announce-send"),
        secrets=SECRETS,
        schedules=True,
    ),
}

# Routes served by a function of their own: function name -> (path, method) pairs.
ROUTE_FUNCTIONS: dict[str, tuple[tuple[str, str], ...]] = {
    "line_webhook": (("/line/webhook", "post"),),
}


def access_for(function: str) -> Access:
    return FUNCTIONS.get(function, DEFAULT)
