"""The one way madoguchi talks to the LINE Messaging API (line-bot-sdk v3).

Imported by workers only: the SDK costs most of a second to import, which the
webhook must not pay. Every send is retried a bounded number of times on 429, 5xx
and network errors with exponential backoff; sends that LINE can deduplicate carry
an X-Line-Retry-Key that stays the same on every retry, so a retry never delivers
twice (a 409 naming the accepted request counts as sent).
"""

from __future__ import annotations

import json
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from linebot.v3.messaging import (
    ApiClient,
    Configuration,
    MessagingApi,
    MessagingApiBlob,
    MulticastRequest,
    PushMessageRequest,
    ReplyMessageRequest,
)
from linebot.v3.messaging.exceptions import ApiException
from urllib3.exceptions import HTTPError as NetworkError

from chalicelib.config import SECRET_CACHE_SECONDS, Settings, get_settings, line_channel_access_token

# A fixed namespace so a key derived from the same work is the same in every process.
_RETRY_KEY_NAMESPACE = uuid.UUID("6f1d3c1e-6a53-4f0b-9a51-3d1b0c8e2a10")
_TIMEOUT = (3.0, 10.0)
# The channel access token is read again this often (the configuration's secret cache period),
# and at once when LINE answers 401 (one retry), so a rotated token is picked up by a warm Lambda.
TOKEN_REREAD_SECONDS = SECRET_CACHE_SECONDS


def retry_key_for(*parts: str) -> str:
    """A retry key derived from what the send is for (event id, purpose, chunk...).

    Derived rather than random, so a redelivered SQS message or a crashed worker's
    successor sends with the key the first attempt used, without having to read it back.
    """
    return str(uuid.uuid5(_RETRY_KEY_NAMESPACE, "|".join(parts)))


# LINE's limit of user ids in one multicast request.
MAX_MULTICAST_RECIPIENTS = 500


@dataclass(frozen=True)
class Quota:
    """This month's message quota: `limit` None means unlimited; `used` counts every recipient."""

    limit: int | None
    used: int

    @property
    def remaining(self) -> int | None:
        return None if self.limit is None else max(0, self.limit - self.used)


@dataclass(frozen=True)
class SendResult:
    request_id: str | None
    # Set when LINE had already accepted this retry key: the earlier request delivered it.
    accepted_request_id: str | None = None


class LineRejected(Exception):
    """LINE refused the request (4xx other than 409/429): sending it again would not help."""

    def __init__(self, status: int, message: str, *, after_uncertain: bool = False) -> None:
        super().__init__(f"LINE answered {status}: {message}")
        self.status = status
        self.message = message
        # An earlier attempt of this same call failed in a way LINE may have taken it first
        # (a 5xx or a timeout): for a reply, a 400 now likely means "token used up, by us".
        self.after_uncertain = after_uncertain


class LineUnavailable(Exception):
    """LINE kept failing (429/5xx/network) after every retry; the caller's retry mechanism takes over."""


class LineClient:
    def __init__(
        self,
        settings: Settings | None = None,
        *,
        max_attempts: int = 4,
        backoff_seconds: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        settings = settings or get_settings()
        token = line_channel_access_token()
        self._configurations = (
            Configuration(host=settings.line_api_base, access_token=token),
            # Content (photos residents send) is served by another host, api-data.line.me.
            Configuration(host=settings.line_data_api_base, access_token=token),
        )
        self._api = MessagingApi(ApiClient(self._configurations[0]))
        self._blob = MessagingApiBlob(ApiClient(self._configurations[1]))
        self._max_attempts = max_attempts
        self._backoff_seconds = backoff_seconds
        self._sleep = sleep
        self._clock = clock
        self._token_read_at = clock()

    def _reread_token(self, *, fresh: bool = False) -> None:
        """Take the configured token again: when it is due (TOKEN_REREAD_SECONDS), or `fresh` after a 401."""
        if not fresh and self._clock() - self._token_read_at < TOKEN_REREAD_SECONDS:
            return
        token = line_channel_access_token(fresh=fresh)
        for configuration in self._configurations:
            configuration.access_token = token  # the SDK reads it for every request
        self._token_read_at = self._clock()

    def reply(self, reply_token: str, messages: list[dict[str, Any]]) -> SendResult:
        request = ReplyMessageRequest.from_dict({"replyToken": reply_token, "messages": messages})
        return self._send(lambda: self._api.reply_message_with_http_info(request, _request_timeout=_TIMEOUT))

    def push(self, to: str, messages: list[dict[str, Any]], retry_key: str) -> SendResult:
        request = PushMessageRequest.from_dict({"to": to, "messages": messages})
        return self._send(
            lambda: self._api.push_message_with_http_info(
                request, x_line_retry_key=retry_key, _request_timeout=_TIMEOUT
            )
        )

    def multicast(self, to: list[str], messages: list[dict[str, Any]], retry_key: str) -> SendResult:
        """The same messages to up to 500 users in one request (each recipient counts against the quota)."""
        if not 1 <= len(to) <= MAX_MULTICAST_RECIPIENTS:
            raise ValueError(f"a multicast takes 1 to {MAX_MULTICAST_RECIPIENTS} user ids, not {len(to)}")
        request = MulticastRequest.from_dict({"to": to, "messages": messages})
        return self._send(
            lambda: self._api.multicast_with_http_info(
                request, x_line_retry_key=retry_key, _request_timeout=_TIMEOUT
            )
        )

    def quota(self) -> Quota:
        """The monthly limit and what this month has used so far (two GETs)."""
        limit = self._call(lambda: self._api.get_message_quota_with_http_info(_request_timeout=_TIMEOUT)).data
        used = self._call(
            lambda: self._api.get_message_quota_consumption_with_http_info(_request_timeout=_TIMEOUT)
        ).data
        return Quota(limit=limit.value if limit.type == "limited" else None, used=used.total_usage)

    def reply_or_push(
        self,
        reply_token: str | None,
        to: str,
        messages: list[dict[str, Any]],
        retry_key: str,
        *,
        tried_before: bool = False,
    ) -> SendResult | None:
        """Reply while the token is good (free of quota); push when LINE refuses it (expired, used).

        Except when the reply may already have been delivered: an attempt of it failed with a 5xx
        or a timeout, or `tried_before` (an earlier run tried it). A reply token works once, so
        replying again is safe, but a 400 then means "used", most likely by that attempt, and a
        push would say the same thing twice. None then: delivered at most once, not pushed.
        """
        if reply_token:
            try:
                return self.reply(reply_token, messages)
            except LineRejected as error:
                if error.status != 400:
                    raise
                if tried_before or error.after_uncertain:
                    return None
        return self.push(to, messages, retry_key)

    def profile_language(self, user_id: str) -> str | None:
        """The language the user's LINE app is set to, or None when LINE won't say (blocked, unknown)."""
        try:
            response = self._call(
                lambda: self._api.get_profile_with_http_info(user_id, _request_timeout=_TIMEOUT)
            )
        except LineRejected:
            return None
        return response.data.language

    def content(self, message_id: str) -> tuple[bytes, str | None]:
        """The bytes of a photo (or other file) a user sent, and its declared content type.

        LINE keeps it only for a while, so fetch it when the message arrives.
        """
        response = self._call(
            lambda: self._blob.get_message_content_with_http_info(message_id, _request_timeout=_TIMEOUT)
        )
        return bytes(response.data), _header(response.headers, "content-type")

    def _send(self, call: Callable[[], Any]) -> SendResult:
        try:
            response = self._call(call)
        except _AlreadyAccepted as accepted:
            return SendResult(
                request_id=accepted.request_id, accepted_request_id=accepted.accepted_request_id
            )
        return SendResult(request_id=_header(response.headers, "x-line-request-id"))

    def _call(self, call: Callable[[], Any]) -> Any:
        self._reread_token()
        token_renewed = False
        uncertain = False
        attempt = 0
        while attempt < self._max_attempts:
            attempt += 1
            try:
                return call()
            except ApiException as error:
                status = error.status or 0
                if status == 401 and not token_renewed:
                    # The token was rotated (or revoked) since we read it: read it again, once.
                    self._reread_token(fresh=True)
                    token_renewed = True
                    attempt -= 1
                    continue
                if status == 409 and _header(error.headers, "x-line-accepted-request-id"):
                    raise _AlreadyAccepted(error) from None
                if status != 429 and status < 500:
                    raise LineRejected(status, _message(error.body), after_uncertain=uncertain) from None
                uncertain = uncertain or status >= 500
                if attempt == self._max_attempts:
                    raise LineUnavailable(f"LINE answered {status} {attempt} times") from error
                self._sleep(_retry_after(error.headers) or self._backoff(attempt))
            except NetworkError as error:
                uncertain = True  # sent, perhaps taken, and the answer never came
                if attempt == self._max_attempts:
                    raise LineUnavailable(f"LINE unreachable after {attempt} attempts") from error
                self._sleep(self._backoff(attempt))
        raise AssertionError("unreachable")

    def _backoff(self, attempt: int) -> float:
        # Exponential with jitter, so workers that failed together do not retry together.
        return self._backoff_seconds * 2 ** (attempt - 1) * (0.5 + random.random() / 2)


class _AlreadyAccepted(Exception):
    def __init__(self, error: ApiException) -> None:
        self.request_id = _header(error.headers, "x-line-request-id")
        self.accepted_request_id = _header(error.headers, "x-line-accepted-request-id")


@lru_cache(maxsize=1)
def line_client() -> LineClient:
    """The process's client: one connection pool, reused across Lambda invocations."""
    return LineClient()


def _header(headers: Any, name: str) -> str | None:
    if not headers:
        return None
    for key, value in dict(headers).items():
        if key.lower() == name:
            return value
    return None


def _retry_after(headers: Any) -> float | None:
    value = _header(headers, "retry-after")
    try:
        return min(float(value), 30.0) if value else None
    except ValueError:
        return None


def _message(body: Any) -> str:
    try:
        return str(json.loads(body).get("message", ""))
    except (TypeError, ValueError, AttributeError):
        return ""
