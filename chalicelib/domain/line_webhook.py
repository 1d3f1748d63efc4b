"""What a LINE webhook request is, and what makes one acceptable. Pure: no I/O."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from chalicelib.domain.webhooks import InvalidWebhook, strict_json

# API Gateway accepts more, but LINE's bodies are a few KB; anything near this is not LINE.
MAX_BODY_BYTES = 1024 * 1024
# Characters SQS refuses in a message body (it allows #x9 #xA #xD #x20-#xD7FF #xE000-#xFFFD and
# the astral planes). json.dumps already escapes the control characters; U+FFFE and U+FFFF are
# valid JSON and UTF-8, so they are escaped here rather than failing the send.
_SQS_REFUSED = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


@dataclass(frozen=True)
class LineEvent:
    event_id: str
    type: str
    mode: str
    timestamp_ms: int
    is_redelivery: bool
    user_id: str | None
    reply_token: str | None
    source_type: str | None  # user, group or room
    raw: dict[str, Any]

    def age(self, now: datetime) -> timedelta:
        # In milliseconds, not as a datetime: the schema allows timestamps past the year 9999.
        return timedelta(milliseconds=now.timestamp() * 1000 - self.timestamp_ms)

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
            source_type=source.get("type"),
            raw=raw,
        )


def queue_body(raw: dict[str, Any]) -> str:
    """The event as the SQS message body the worker reads (compact JSON, only characters SQS takes).

    Raises UnicodeEncodeError for text that is not Unicode (a lone surrogate such as "\\ud800",
    which JSON allows): nothing downstream could store or send it.
    """
    text = json.dumps(raw, ensure_ascii=False, separators=(",", ":"))
    text.encode("utf-8")
    return _SQS_REFUSED.sub(lambda match: f"\\u{ord(match.group()):04x}", text)


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
    document = strict_json(body, "line_webhook")
    # Checked here, before anything is stored: an event that cannot be written as text would
    # otherwise fail the queue send after its inbox row exists.
    for index, raw in enumerate(document["events"]):
        try:
            queue_body(raw)
        except (UnicodeEncodeError, RecursionError):
            raise InvalidWebhook(
                400,
                "malformed_json",
                "The body holds text that is not valid Unicode (a lone surrogate escape).",
                [{"pointer": f"/events/{index}", "message": "lone UTF-16 surrogate"}],
            ) from None
    return [LineEvent.from_raw(raw) for raw in document["events"]]
