"""The payment webhooks' whole job: check, dedupe in the inbox, queue. The worker asks the provider."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from chalicelib.adapters import queues
from chalicelib.config import get_settings
from chalicelib.domain.payment_webhooks import Hint, check_paypay, check_stripe
from chalicelib.resources import PAYMENT_EVENTS
from chalicelib.store import inbox


class QueueUnavailable(Exception):
    """The hint could not be queued; it was forgotten so the provider's retry is accepted."""


def accept_paypay(body: bytes) -> tuple[Hint, bool]:
    return _queue(check_paypay(body))


def accept_stripe(body: bytes, signature: str | None) -> tuple[Hint, bool]:
    return _queue(check_stripe(get_settings().stripe_webhook_secret, body, signature, time.time()))


def _queue(hint: Hint) -> tuple[Hint, bool]:
    """(hint, queued): False for a duplicate or an event about no payment of ours."""
    if hint.payment_id is None:
        return hint, False
    if not inbox.record_first_sight(hint.event_key, hint.provider, datetime.now(UTC)):
        return hint, False
    message = {"provider": hint.provider, "paymentId": hint.payment_id, "eventKey": hint.event_key}
    if queues.send_all(PAYMENT_EVENTS, [(hint.event_key, message)]):
        inbox.forget(hint.event_key)
        raise QueueUnavailable(hint.event_key)
    return hint, True
