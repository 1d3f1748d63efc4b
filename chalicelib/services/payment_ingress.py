"""The payment webhooks' whole job: check, dedupe in the inbox, queue. The worker asks the provider."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from chalicelib.config import get_settings
from chalicelib.domain.payment_webhooks import Hint, check_paypay, check_stripe
from chalicelib.resources import PAYMENT_EVENTS
from chalicelib.services.ingress import queue_once


def accept_paypay(body: bytes) -> tuple[Hint, bool]:
    return _queue(check_paypay(body))


def accept_stripe(body: bytes, signature: str | None) -> tuple[Hint, bool]:
    return _queue(check_stripe(get_settings().stripe_webhook_secret, body, signature, time.time()))


def _queue(hint: Hint) -> tuple[Hint, bool]:
    """(hint, queued): False for a duplicate or an event about no payment of ours."""
    if hint.payment_id is None:
        return hint, False
    message = {"provider": hint.provider, "paymentId": hint.payment_id, "eventKey": hint.event_key}
    return hint, queue_once(hint.event_key, hint.provider, PAYMENT_EVENTS, message, datetime.now(UTC))
