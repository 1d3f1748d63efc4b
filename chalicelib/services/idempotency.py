"""Run a create request once per Idempotency-Key, and answer its retries with the first result."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from chalicelib.domain import errors as rule
from chalicelib.domain.messages import Text
from chalicelib.store import idempotency

_KEY = re.compile(r"^[\x21-\x7e]{8,255}$")

# How long a first request may run before a retry takes its key over: longer than any function
# that creates (the API's 30 s, the LINE worker's 60 s Lambda timeout), so only a dead one loses it.
IN_PROGRESS_LEASE = timedelta(seconds=90)
ANONYMOUS = "anonymous"


def once(
    scope: str,
    key: str | None,
    request_body: bytes,
    create: Callable[[], tuple[int, Any]],
    *,
    caller: str | None = None,
) -> tuple[int, Any]:
    """(status, body) of `create()`, run at most once per (scope, caller, key); no key: just run it.

    `caller` is who asks ("line:<user id>", "staff:<id>", "web:<its network's pseudonym>"); None
    shares the key alone, for keys that are themselves a secret (a page's once-key) or a scope
    that is (a receipt read with its access code). A stored answer goes only to the caller that
    made it, so another LINE user or web client never gets someone else's receipt.
    A retry with the same key and the same body gets the stored answer; the same key with
    another body is refused (422); a retry while the first still runs gets 409 (InProgress),
    until the first one's lease ends: then it died, and the retry runs.
    """
    if key is None:
        return create()
    if not _KEY.match(key):
        raise rule.Malformed(
            "Idempotency-Key must be 8-255 printable ASCII characters.", code="invalid_idempotency_key"
        )
    who = caller or ANONYMOUS
    record_key = _record_key(scope, who, key)
    request_hash = hashlib.sha256(_canonical(request_body)).hexdigest()
    existing = idempotency.begin(record_key, request_hash, who, datetime.now(UTC), IN_PROGRESS_LEASE)
    if existing is not None:
        if existing.caller != who:  # a record of the old shape, or a hash clash of scopes: never hand it over
            raise rule.Conflict(Text("error.idempotency_key_taken"), code="idempotency_key_reused")
        if existing.request_hash != request_hash:
            raise rule.Invalid(Text("error.idempotency_key_reused"), code="idempotency_key_reused")
        if existing.status_code is None:
            # A resident who tapped twice: the first tap is still being handled.
            raise rule.InProgress(Text("error.in_progress"), code="request_in_progress")
        return int(existing.status_code), existing.response
    try:
        status, body = create()
    except Exception:
        idempotency.abandon(record_key)
        raise
    idempotency.finish(record_key, status, body)
    return status, body


def _canonical(body: bytes) -> bytes:
    """The body as compared between a request and its retry: JSON by its content (a client that
    re-serialises with other spacing or key order sends the same request), anything else as is."""
    try:
        return json.dumps(
            json.loads(body), sort_keys=True, separators=(",", ":"), ensure_ascii=False
        ).encode()
    except ValueError:
        return body


def answered(scope: str, key: str, caller: str) -> Any | None:
    """The body `once` stored for (scope, caller, key) when it finished, else None."""
    record = idempotency.get(_record_key(scope, caller, key))
    if record is None or record.caller != caller or record.status_code is None:
        return None
    return record.response


def _record_key(scope: str, caller: str, key: str) -> str:
    return f"{scope}#{caller}#{key}"
