"""One notice to one resident on each channel they gave: the email first, once under a claim of
its own (SES has no retry key), then the LINE push, whose retry key absorbs a repeat. So a LINE
outage that fails the message is retried without holding the email back or sending it twice.
Status notices, payment messages, booking notices and reminders all send this way."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from chalicelib.adapters.line_api import LineRejected
from chalicelib.observability import logger, metrics
from chalicelib.services import line_push
from chalicelib.store import inbox

# Every email claim (a resident's notice, a section's urgent alert): longer than any one send with its
# SDK retries, and as long as the notice queues' visibility
# timeout (360 s: a redelivery meanwhile waits rather than send a second copy).
EMAIL_LEASE = timedelta(minutes=6)


def email_once(claim_key: str, send: Callable[[], object]) -> None:
    """`send()` unless an earlier try of the same notice already sent it."""
    with inbox.once(claim_key, datetime.now(UTC), EMAIL_LEASE) as claim:
        if claim is not inbox.Claim.DONE:
            send()


def push(
    user_id: str,
    messages: list[dict[str, Any]],
    retry_key: str,
    *,
    what: str,
    refused_metric: str | None = None,
) -> bool:
    """The push, unless the resident unfollowed; True when sent. A refusal by LINE (blocked,
    unknown user) is logged and answered False: sending again will not help."""
    try:
        return line_push.to_resident(user_id, messages, retry_key)
    except LineRejected as error:
        logger.warning(f"LINE refused the {what}", extra={"line_status": error.status})
        if refused_metric:
            metrics.add_metric(name=refused_metric, unit="Count", value=1)
        return False
