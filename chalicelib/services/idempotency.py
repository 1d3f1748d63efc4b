"""Run a create request once per Idempotency-Key, and answer its retries with the first result."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from chalicelib.api.errors import ApiError
from chalicelib.store import idempotency

_KEY = re.compile(r"^[\x21-\x7e]{8,255}$")


def once(
    scope: str, key: str | None, request_body: bytes, create: Callable[[], tuple[int, Any]]
) -> tuple[int, Any]:
    """(status, body) of `create()`, run at most once per (scope, key); no key: just run it.

    A retry with the same key and the same body gets the stored answer; the same key with
    another body is refused (422), and a retry while the first is still running gets 409.
    """
    if key is None:
        return create()
    if not _KEY.match(key):
        raise ApiError(
            400, "invalid_idempotency_key", "Idempotency-Key must be 8-255 printable ASCII characters."
        )
    record_key = f"{scope}#{key}"
    request_hash = hashlib.sha256(request_body).hexdigest()
    existing = idempotency.begin(record_key, request_hash, datetime.now(UTC))
    if existing is not None:
        if existing.request_hash != request_hash:
            raise ApiError(
                422, "idempotency_key_reused", "This Idempotency-Key was used for a different request."
            )
        if existing.status_code is None:
            raise ApiError(
                409, "request_in_progress", "The first request with this key is still running; retry shortly."
            )
        return int(existing.status_code), existing.response
    try:
        status, body = create()
    except Exception:
        idempotency.abandon(record_key)
        raise
    idempotency.finish(record_key, status, body)
    return status, body
