"""What a LINE webhook request is, and what makes one acceptable. Pure: no I/O."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any

from chalicelib.schemas import problems

# API Gateway accepts more, but LINE's bodies are a few KB; anything near this is not LINE.
MAX_BODY_BYTES = 1024 * 1024


class InvalidWebhook(Exception):
    def __init__(self, status: int, code: str, message: str, details: list[Any] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details or []


@dataclass(frozen=True)
class LineEvent:
    event_id: str
    type: str
    mode: str
    timestamp_ms: int
    is_redelivery: bool
    user_id: str | None
    reply_token: str | None
    raw: dict[str, Any]

    @classmethod
    def from_raw(cls, raw: dict[str, Any]) -> LineEvent:
        source = raw.get("source") or {}
        return cls(
            event_id=raw["webhookEventId"],
            type=raw["type"],
            mode=raw["mode"],
            timestamp_ms=raw["timestamp"],
            is_redelivery=raw["deliveryContext"]["isRedelivery"],
            user_id=source.get("userId"),
            reply_token=raw.get("replyToken"),
            raw=raw,
        )


def signature_is_valid(channel_secret: str, body: bytes, signature: str | None) -> bool:
    """LINE signs the raw body: base64(HMAC-SHA256(channel secret, body)); compare in constant time."""
    if not signature:
        return False
    expected = base64.b64encode(hmac.new(channel_secret.encode(), body, hashlib.sha256).digest())
    return hmac.compare_digest(expected, signature.encode("ascii", "replace"))


def sign(channel_secret: str, body: bytes) -> str:
    """The signature LINE would send for `body` (used by the local tools and tests)."""
    return base64.b64encode(hmac.new(channel_secret.encode(), body, hashlib.sha256).digest()).decode()


def check_request(channel_secret: str, body: bytes, signature: str | None) -> list[LineEvent]:
    """The events of an authentic, well-formed webhook body, or InvalidWebhook saying why not.

    Order matters: the size is checked before hashing, the signature before parsing,
    so an unsigned body is never looked into.
    """
    if len(body) > MAX_BODY_BYTES:
        raise InvalidWebhook(413, "payload_too_large", f"The body exceeds {MAX_BODY_BYTES} bytes.")
    if not signature_is_valid(channel_secret, body, signature):
        raise InvalidWebhook(401, "invalid_signature", "The X-Line-Signature header is missing or wrong.")
    try:
        # Decode strictly first: json.loads(bytes) would also take UTF-16/32 and lone surrogates.
        document = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise InvalidWebhook(400, "malformed_json", "The body is not valid UTF-8 JSON.") from None
    found = problems("line_webhook", document)
    if found:
        details = [{"pointer": problem["pointer"], "message": problem["message"]} for problem in found]
        raise InvalidWebhook(422, "invalid_webhook", "The body does not match the webhook schema.", details)
    return [LineEvent.from_raw(raw) for raw in document["events"]]
