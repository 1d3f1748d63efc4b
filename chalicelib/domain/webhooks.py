"""What every webhook (LINE, the payment providers, the ticket systems) refuses alike: the error
it answers with, and a body that is not strict JSON or breaks its schema. Pure: no I/O."""

from __future__ import annotations

import json
import math
from typing import Any

from chalicelib.schemas import problems


class InvalidWebhook(Exception):
    """A webhook request refused: the status and code to answer with, said to the sender's developer."""

    def __init__(self, status: int, code: str, message: str, details: list[Any] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details or []


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e999: Python reads it as inf, which is not JSON and not storable
        raise ValueError("number out of range")
    return value


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def strict_json(body: bytes, schema: str) -> Any:
    """The body as JSON that keeps `schema`: 400 unless it is UTF-8 JSON (no NaN or Infinity, no
    number beyond a float, which Python would otherwise read), 422 with every schema problem."""
    try:
        # Decode strictly first: json.loads(bytes) would also take UTF-16/32 and lone surrogates.
        document = json.loads(body.decode("utf-8"), parse_float=_finite, parse_constant=_no_constants)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise InvalidWebhook(400, "malformed_json", "The body is not valid UTF-8 JSON.") from None
    found = problems(schema, document)
    if found:
        details = [{"pointer": p["pointer"], "message": p["message"]} for p in found]
        raise InvalidWebhook(422, "invalid_webhook", "The body does not match the webhook schema.", details)
    return document
