"""The one HTTP call both payment adapters make: short timeouts, bounded retries, clean errors.

Standard library only (urllib): the providers' SDKs are not used, see docs/architecture.md.
Nothing here logs a request or response body: they can hold payment details.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

TIMEOUT_SECONDS = 5
ATTEMPTS = 3


class ProviderUnavailable(Exception):
    """The provider did not answer, or answered 5xx/429, after the retries: nothing is known."""


@dataclass
class ProviderRejected(Exception):
    """A 4xx: the provider understood the request and refused it (`code` is its own error code)."""

    status: int
    code: str
    body: dict[str, Any]

    def __str__(self) -> str:
        return f"{self.status} {self.code}"


def call(
    method: str,
    url: str,
    headers: dict[str, str],
    body: bytes | None = None,
    *,
    error_code: Any = None,
) -> dict[str, Any]:
    """JSON answer of one request; 5xx, 429 and timeouts are retried (the requests are idempotent)."""
    last: Exception | None = None
    for attempt in range(ATTEMPTS):
        if attempt:
            time.sleep(0.2 * 2**attempt)
        request = urllib.request.Request(url, data=body, headers=headers, method=method)  # noqa: S310 (configured https base)
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310 (configured https base)
                raw = response.read()
                return json.loads(raw) if raw else {}
        except urllib.error.HTTPError as error:
            raw = error.read()
            try:
                document = json.loads(raw) if raw else {}
            except ValueError:
                document = {}
            if error.code >= 500 or error.code == 429:
                last = ProviderUnavailable(f"HTTP {error.code}")
                continue
            code = error_code(document) if error_code else None
            raise ProviderRejected(error.code, str(code or error.code), document) from None
        except (OSError, ValueError) as error:  # timeouts, refused connections, a garbled answer
            last = ProviderUnavailable(type(error).__name__)
    raise last or ProviderUnavailable("no answer")
