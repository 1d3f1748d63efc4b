"""Verify a LINE ID token (from a LIFF page: `liff.getIDToken()`) with LINE Login's verify endpoint.

`POST {line_api_base}/oauth2/v2.1/verify` with the token and our LINE Login channel id
answers the decoded claims, or 400 when the token is bad, expired or for another channel.
LINE checks the signature, so we need no key material; we still check issuer, audience,
subject and expiry of what comes back, so a misrouted or misconfigured endpoint cannot hand
us someone else's identity. Locally the LINE sandbox answers (devstack/line_sandbox.py).

A verified token is remembered in this process until it expires, so a settings page that
reads and then saves costs one round trip to LINE, not two.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from chalicelib.config import get_settings

if TYPE_CHECKING:
    import urllib3

VERIFY_PATH = "/oauth2/v2.1/verify"
ISSUER = "https://access.line.me"
MAX_TOKEN_LENGTH = 8 * 1024
CACHE_SIZE = 2048
_TIMEOUT = (2.0, 5.0)  # connect, read: a settings page should not hang on LINE
_USER_ID = re.compile(r"^U[0-9a-f]{32}$")
_JWT_SHAPE = re.compile(r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$")


@dataclass(frozen=True)
class LineIdentity:
    user_id: str
    expires_at: float  # epoch seconds


class InvalidIdToken(Exception):
    """The token is not acceptable. `reason` is for logs only and never contains the token."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class LineLoginUnavailable(Exception):
    """LINE could not be asked (network, 5xx, 429) or we are not configured; the caller may retry."""


_cache: OrderedDict[str, LineIdentity] = OrderedDict()
_cache_lock = threading.Lock()
_pool: urllib3.PoolManager | None = None


def reset_cache() -> None:
    with _cache_lock:
        _cache.clear()


def verify_id_token(token: str, *, now: float | None = None) -> LineIdentity:
    """The LINE user the token belongs to; raises InvalidIdToken or LineLoginUnavailable."""
    now = time.time() if now is None else now
    if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_LENGTH:
        raise InvalidIdToken("token missing or too long")
    if not _JWT_SHAPE.match(token):
        raise InvalidIdToken("not a JWT")  # no need to ask LINE about it
    settings = get_settings()
    channel_id = settings.line_login_channel_id
    if not channel_id:
        raise LineLoginUnavailable("LINE_LOGIN_CHANNEL_ID is not configured")

    key = hashlib.sha256(f"{channel_id}\0{token}".encode()).hexdigest()
    with _cache_lock:
        cached = _cache.get(key)
        if cached is not None:
            if cached.expires_at > now:
                _cache.move_to_end(key)
                return cached
            del _cache[key]

    status, body = _post(settings.line_api_base + VERIFY_PATH, {"id_token": token, "client_id": channel_id})
    if status == 200:
        identity = _identity(body, channel_id, now)
        with _cache_lock:
            _cache[key] = identity
            while len(_cache) > CACHE_SIZE:
                _cache.popitem(last=False)
        return identity
    if 400 <= status < 500 and status != 429:
        description = body.get("error_description") if isinstance(body, dict) else None
        raise InvalidIdToken(f"LINE answered {status}: {str(description)[:80]}")
    raise LineLoginUnavailable(f"LINE answered {status}")


def _identity(claims: Any, channel_id: str, now: float) -> LineIdentity:
    if not isinstance(claims, dict):
        raise LineLoginUnavailable("verify answered something other than a JSON object")
    if claims.get("iss") != ISSUER:
        raise InvalidIdToken("unexpected issuer")
    if str(claims.get("aud")) != channel_id:
        raise InvalidIdToken("issued for another channel")
    sub = claims.get("sub")
    if not isinstance(sub, str) or not _USER_ID.match(sub):
        raise InvalidIdToken("subject is not a LINE user id")
    exp = claims.get("exp")
    if not isinstance(exp, (int, float)) or isinstance(exp, bool) or exp <= now:
        raise InvalidIdToken("expired")
    return LineIdentity(sub, float(exp))


def _post(url: str, fields: dict[str, str]) -> tuple[int, Any]:
    import urllib3

    try:
        response = _http().request(
            "POST",
            url,
            body=urlencode(fields),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            timeout=urllib3.Timeout(connect=_TIMEOUT[0], read=_TIMEOUT[1]),
            retries=urllib3.Retry(total=1, connect=1, read=0, status=0, redirect=0),
        )
    except urllib3.exceptions.HTTPError as error:
        raise LineLoginUnavailable(f"verify request failed: {type(error).__name__}") from None
    try:
        body = json.loads(response.data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        body = None
    if response.status == 200 and body is None:
        raise LineLoginUnavailable("verify answered 200 without JSON")
    return response.status, body


def _http() -> urllib3.PoolManager:
    global _pool
    if _pool is None:
        import urllib3

        _pool = urllib3.PoolManager(num_pools=2, maxsize=4)
    return _pool
