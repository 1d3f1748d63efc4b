"""Local stand-in for the LINE Messaging API, for the app's dev stack and for tests.

Answers the endpoints madoguchi uses with the status codes, headers and JSON bodies of the real
platform (401 on a bad token, one-shot reply tokens, X-Line-Retry-Key with 409 on a retry of an
accepted request, quota counting, rich menus with their one image and the default menu, a 400 for a
message over LINE's limits: text length, quick-reply items, action labels and data), and adds a
control API under /__sandbox/ so tests can read the request log, inject faults and delays, set
profiles, expire reply tokens and see the rich menus.

Faults (`POST /__sandbox/faults`): `{"path", "status"?, "count"?, "delay"?, "method"?, "body"?,
"headers"?, "skip"?, "phase"?}`; `DELETE /__sandbox/faults` ends them all. `skip` lets that many matching requests through first; `phase`
"after" handles the request (delivers it, accepts its retry key, counts the quota) and then
answers the fault anyway, as when LINE took a send and its answer was lost. Each logged request
carries `at` (epoch seconds) and `accepted` (the send was taken, whatever the answer said).
`POST /__sandbox/config {"accessToken": ...}` rotates the channel access token the API accepts
(401 for any other; a reset restores the stack's own).

It also answers LINE Login's ID token verification (`POST /oauth2/v2.1/verify`, what a LIFF
page's back end calls), for tokens minted by `POST /__sandbox/id-tokens`: HS256 JWTs signed
with a key only this sandbox instance knows, like the ones LINE issues for web login.

Run it with `python -m devstack.line_sandbox [--host HOST] [--port PORT]`.
Standard library only, so it starts anywhere the app's tests run.
"""

from __future__ import annotations

import argparse
import base64
import fnmatch
import hashlib
import hmac
import itertools
import json
import os
import re
import secrets
import struct
import threading
import time
import unicodedata
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

DEFAULT_PORT = 4580
DEFAULT_ACCESS_TOKEN = "local-access-token"
DEFAULT_QUOTA = 200_000
RETRY_KEY_TTL_SECONDS = 24 * 60 * 60  # the real platform remembers accepted retry keys for 24 h
CONTROL_PREFIX = "/__sandbox/"

# A hand-encoded 16x16 grayscale baseline JPEG (351 bytes), served as every message's content.
SAMPLE_JPEG = base64.b64decode(
    "/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDABALDA4MChAODQ4SERATGCgaGBYWGDEjJR0oOjM9PDkzODdASFxOQERXRTc4UG1R"
    "V19iZ2hnPk1xeXBkeFxlZ2P/wAALCAAQABABAREA/8QAHwAAAQUBAQEBAQEAAAAAAAAAAAECAwQFBgcICQoL/8QAtRAAAgED"
    "AwIEAwUFBAQAAAF9AQIDAAQRBRIhMUEGE1FhByJxFDKBkaEII0KxwRVS0fAkM2JyggkKFhcYGRolJicoKSo0NTY3ODk6Q0RF"
    "RkdISUpTVFVWV1hZWmNkZWZnaGlqc3R1dnd4eXqDhIWGh4iJipKTlJWWl5iZmqKjpKWmp6ipqrKztLW2t7i5usLDxMXGx8jJ"
    "ytLT1NXW19jZ2uHi4+Tl5ufo6erx8vP09fb3+Pn6/9oACAEBAAA/AOZsrTpxXQWVp04qOytOnFdBZWnTiv/Z"
)

# What a phone adds to a photo: EXIF naming the camera and, in a GPS IFD, where it was taken
# (35°44'36.96"N 139°50'50.4"E, in Katsushika). The content route serves the sample with it,
# so a test can prove that what staff see has lost it.
SAMPLE_EXIF_TIFF = base64.b64decode(
    "TU0AKgAAAAgAAgEPAAIAAAASAAAAJoglAAQAAAABAAAAOAAAAABLYXRzdXNoaWthIENhbWVyYQAABAABAAIAAAACTgAAAAACAAUA"
    "AAADAAAAbgADAAIAAAACRQAAAAAEAAUAAAADAAAAhgAAAAAAAAAjAAAAAQAAACwAAAABAAADnAAAABkAAACLAAAAAQAAADIAAAAB"
    "AAAA/AAAAAU="
)
_APP1 = b"Exif\x00\x00" + SAMPLE_EXIF_TIFF
PHONE_PHOTO = SAMPLE_JPEG[:2] + b"\xff\xe1" + (len(_APP1) + 2).to_bytes(2, "big") + _APP1 + SAMPLE_JPEG[2:]

# LINE's own wording, so clients that match on messages behave as in production.
MSG_AUTH_FAILED = "Authentication failed. Confirm that the access token in the authorization header is valid."
MSG_BAD_JSON = "The request body could not be parsed as JSON"
MSG_BAD_RETRY_KEY = "The value of the X-Line-Retry-Key header is invalid"
MSG_RETRY_KEY_ACCEPTED = "The retry key is already accepted"
MSG_INVALID_REPLY_TOKEN = "Invalid reply token"
MSG_NOT_FOUND = "Not found"
MSG_MONTHLY_LIMIT = "You have reached your monthly limit."
FAULT_MESSAGES = {
    400: "Bad Request",
    401: MSG_AUTH_FAILED,
    403: "Access to this API is not available for your account",
    404: MSG_NOT_FOUND,
    409: "Conflict",
    413: "Request Entity Too Large",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}

# LINE Login (ID tokens). Error bodies are OAuth-shaped: {"error", "error_description"}.
ID_TOKEN_ISSUER = "https://access.line.me"
DEFAULT_ID_TOKEN_TTL = 3600
MAX_ID_TOKEN_TTL = 30 * 24 * 60 * 60
MSG_ID_TOKEN_INVALID = "Invalid IdToken."
MSG_ID_TOKEN_EXPIRED = "IdToken expired."
MSG_ID_TOKEN_AUDIENCE = "Invalid IdToken Audience."
MSG_ID_TOKEN_NONCE = "Invalid IdToken Nonce."
MSG_ID_TOKEN_SUBJECT = "Invalid IdToken Subject Identifier."
ID_TOKEN_FIELDS = {"sub", "aud", "ttl", "name", "picture", "nonce"}

UUID_RE = re.compile(r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")
USER_ID_RE = re.compile(r"U[0-9a-f]{32}")
MAX_MESSAGES = 5
MAX_MULTICAST_RECIPIENTS = 500
RETRY_KEY_ENDPOINTS = {
    "/v2/bot/message/push",
    "/v2/bot/message/multicast",
    "/v2/bot/message/narrowcast",
    "/v2/bot/message/broadcast",
}

# Rich menus: the limits of LINE's rich menu object, postback action and image requirements.
RICH_MENU_FIELDS = ("size", "selected", "name", "chatBarText", "areas")
RICH_MENU_ACTION_TYPES = {
    "postback",
    "message",
    "uri",
    "datetimepicker",
    "camera",
    "cameraRoll",
    "location",
    "richmenuswitch",
    "clipboard",
}
MAX_RICH_MENU_AREAS = 20
MAX_RICH_MENU_NAME = 300
MAX_CHAT_BAR_TEXT = 14
MAX_RICH_MENU_LABEL = 20  # the label is what a screen reader speaks
MAX_POSTBACK_DATA = 300
MAX_DISPLAY_TEXT = 300
RICH_MENU_IMAGE_TYPES = {"image/png", "image/jpeg"}
# LINE says "1 MB"; read as 1,000,000 bytes, the stricter reading, so what the sandbox takes LINE takes.
MAX_RICH_MENU_IMAGE_BYTES = 1_000_000
MSG_RICH_MENU_IMAGE_INVALID = "The image size is not allowed for richmenu"
MSG_RICH_MENU_IMAGE_EXISTS = "An image has already been uploaded to the richmenu"
MSG_RICH_MENU_WITHOUT_IMAGE = "must upload richmenu image before applying it to user"
MSG_NO_DEFAULT_RICH_MENU = "no default richmenu"
MSG_UNSUPPORTED_MEDIA_TYPE = "Unsupported media type"

Json = Any


@dataclass
class Response:
    status: int
    body: Json | bytes = field(default_factory=dict)
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Call:
    """One incoming request, as the route handlers see it."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # names lower-cased
    raw_body: bytes
    request_id: str
    params: dict[str, str] = field(default_factory=dict)  # named groups of the matched route
    accepted: bool = False  # set when a send was taken: delivered and counted against the quota

    def json(self) -> Json:
        """The parsed body; raises ValueError on malformed JSON (or an empty body)."""
        return json.loads(self.raw_body.decode("utf-8"))


@dataclass
class Fault:
    path: str  # fnmatch glob
    method: str | None
    status: int | None  # None: only delay, then handle normally
    count: int
    delay: float
    body: Json | None
    headers: dict[str, str]
    # Matching requests to let through untouched before this fault fires (a fault at the n-th call).
    skip: int = 0
    # "before": fail instead of handling (nothing is delivered). "after": handle the request
    # (delivered, retry key accepted, quota counted), then answer the failure anyway, as when
    # LINE took a request and the answer was lost on the way back.
    phase: str = "before"

    def matches(self, method: str, path: str) -> bool:
        return (self.method is None or self.method == method) and fnmatch.fnmatchcase(path, self.path)

    def response(self) -> Response:
        message = FAULT_MESSAGES.get(self.status) or _status_phrase(self.status)
        body = self.body if self.body is not None else {"message": message}
        return Response(self.status, body, headers=dict(self.headers))


@dataclass
class AcceptedKey:
    request_id: str
    sent_messages: list[dict[str, str]] | None  # only push answers sentMessages
    accepted_at: float


@dataclass
class StoredRichMenu:
    body: dict[str, Json]  # the rich menu response object: richMenuId and the fields as created
    image: bytes | None = None  # LINE takes one image per menu, never a replacement


def _status_phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def _error(status: int, message: str, **extra: Json) -> Response:
    return Response(status, {"message": message, **extra})


def _validation_error(details: list[dict[str, str]]) -> Response:
    return _error(400, f"The request body has {len(details)} error(s)", details=details)


def _detail(message: str, prop: str) -> dict[str, str]:
    return {"message": message, "property": prop}


# LINE's limits on the message fields madoguchi fills (Messaging API reference). Text is counted
# in UTF-16 code units; action labels and display texts in grapheme clusters ("Counting
# characters in text"). The sandbox keeps its own copy: a stand-in must not take its limits from
# the app it checks.
MAX_TEXT = 5000
ALT_TEXT_LIMITS = {"template": 400, "flex": 1500, "imagemap": 1500}
MAX_QUICK_REPLY_ITEMS = 13
ACTION_LIMITS = {"label": 20, "displayText": 300}  # graphemes
ACTION_DATA_LIMITS = {"data": 300, "text": 300, "uri": 1000}  # UTF-16


def _utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _graphemes(text: str) -> int:
    """Grapheme clusters, closely enough: marks and variation selectors extend the character
    before, and a zero-width joiner joins the next one to it."""
    count, joined = 0, False
    for char in text:
        if joined or unicodedata.category(char) in ("Mn", "Mc", "Me") or "\ufe00" <= char <= "\ufe0f":
            joined = False
        elif char == "\u200d":
            joined = True
        else:
            count += 1
    return count


def _over(value: Json, limit: int, count: Callable[[str], int]) -> bool:
    return isinstance(value, str) and count(value) > limit


def _action_problems(action: Json, prop: str) -> list[dict[str, str]]:
    if not isinstance(action, dict):
        return [_detail("must be specified", prop)]
    found = [
        _detail(f"Length must be between 0 and {limit}", f"{prop}.{key}")
        for key, limit in ACTION_LIMITS.items()
        if _over(action.get(key), limit, _graphemes)
    ]
    found += [
        _detail(f"Length must be between 0 and {limit}", f"{prop}.{key}")
        for key, limit in ACTION_DATA_LIMITS.items()
        if _over(action.get(key), limit, _utf16)
    ]
    return found


def _message_problems(message: dict[str, Json], prop: str) -> list[dict[str, str]]:
    """What LINE refuses in one message object, for the fields madoguchi fills."""
    found = []
    kind = message["type"]
    if kind == "text" and _over(message.get("text"), MAX_TEXT, _utf16):
        found.append(_detail(f"Length must be between 0 and {MAX_TEXT}", f"{prop}.text"))
    if kind in ALT_TEXT_LIMITS and _over(message.get("altText"), ALT_TEXT_LIMITS[kind], _utf16):
        found.append(_detail(f"Length must be between 0 and {ALT_TEXT_LIMITS[kind]}", f"{prop}.altText"))
    quick_reply = message.get("quickReply")
    items = quick_reply.get("items") if isinstance(quick_reply, dict) else None
    if isinstance(items, list):
        if len(items) > MAX_QUICK_REPLY_ITEMS:
            found.append(
                _detail(f"Size must be between 1 and {MAX_QUICK_REPLY_ITEMS}", f"{prop}.quickReply.items")
            )
        for i, item in enumerate(items):
            action = item.get("action") if isinstance(item, dict) else None
            found += _action_problems(action, f"{prop}.quickReply.items[{i}].action")
    return found


def _validate_messages(body: dict[str, Json]) -> list[dict[str, str]]:
    messages = body.get("messages")
    if not isinstance(messages, list) or not 1 <= len(messages) <= MAX_MESSAGES:
        return [_detail(f"Size must be between 1 and {MAX_MESSAGES}", "messages")]
    found = []
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or not isinstance(message.get("type"), str) or not message["type"]:
            found.append(_detail("must be specified", f"messages[{i}].type"))
        else:
            found += _message_problems(message, f"messages[{i}]")
    return found


def _validate_notification_disabled(body: dict[str, Json]) -> list[dict[str, str]]:
    if "notificationDisabled" in body and not isinstance(body["notificationDisabled"], bool):
        return [_detail("must be a boolean", "notificationDisabled")]
    return []


def _json_object(call: Call) -> dict[str, Json] | Response:
    """The request body as a JSON object, or the 400 LINE answers when it is not one."""
    try:
        body = call.json()
    except ValueError:
        return _error(400, MSG_BAD_JSON)
    return body if isinstance(body, dict) else _error(400, MSG_BAD_JSON)


def _is_non_empty_str(value: Json) -> bool:
    return isinstance(value, str) and value != ""


def _is_int(value: Json) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _text_problems(
    obj: dict[str, Json], key: str, limit: int, prop: str, *, required: bool
) -> list[dict[str, str]]:
    value = obj.get(key)
    if value is None and not required:
        return []
    if not _is_non_empty_str(value):
        return [_detail("must be specified", prop)]
    if len(value) > limit:
        return [_detail(f"Length must be between 0 and {limit}", prop)]
    return []


def _validate_rich_menu(body: dict[str, Json]) -> list[dict[str, str]]:
    """What LINE's create and validate endpoints refuse in a rich menu object."""
    details = []
    size = body.get("size")
    width = size.get("width") if isinstance(size, dict) else None
    height = size.get("height") if isinstance(size, dict) else None
    if not _is_int(width) or not 800 <= width <= 2500:
        details.append(_detail("must be between 800 and 2500", "size.width"))
    if not _is_int(height) or height < 250:
        details.append(_detail("must be at least 250", "size.height"))
    if not details and width / height < 1.45:
        details.append(_detail("the aspect ratio (width / height) must be at least 1.45", "size"))
    bounds_of = None if details else (width, height)
    if not isinstance(body.get("selected"), bool):
        details.append(_detail("must be specified", "selected"))
    details += _text_problems(body, "name", MAX_RICH_MENU_NAME, "name", required=True)
    details += _text_problems(body, "chatBarText", MAX_CHAT_BAR_TEXT, "chatBarText", required=True)
    areas = body.get("areas")
    if not isinstance(areas, list) or len(areas) > MAX_RICH_MENU_AREAS:
        details.append(_detail(f"Size must be between 0 and {MAX_RICH_MENU_AREAS}", "areas"))
        return details
    for i, area in enumerate(areas):
        details += _validate_area(area, f"areas[{i}]", bounds_of)
    return details


def _validate_area(area: Json, prop: str, size: tuple[int, int] | None) -> list[dict[str, str]]:
    if not isinstance(area, dict):
        return [_detail("must be specified", prop)]
    details = []
    bounds = area.get("bounds")
    fields = ("x", "y", "width", "height")
    if not isinstance(bounds, dict) or not all(_is_int(bounds.get(name)) for name in fields):
        details.append(_detail("must be specified", f"{prop}.bounds"))
    else:
        x, y, width, height = (bounds[name] for name in fields)
        outside = size is not None and (x + width > size[0] or y + height > size[1])
        if x < 0 or y < 0 or width < 1 or height < 1 or outside:
            details.append(_detail("must lie within the rich menu", f"{prop}.bounds"))
    action = area.get("action")
    if not isinstance(action, dict):
        return [*details, _detail("must be specified", f"{prop}.action")]
    if action.get("type") not in RICH_MENU_ACTION_TYPES:
        types = ", ".join(sorted(RICH_MENU_ACTION_TYPES))
        return [*details, _detail(f"must be one of: {types}", f"{prop}.action.type")]
    details += _text_problems(action, "label", MAX_RICH_MENU_LABEL, f"{prop}.action.label", required=False)
    if action["type"] == "postback":
        details += _text_problems(action, "data", MAX_POSTBACK_DATA, f"{prop}.action.data", required=True)
        details += _text_problems(
            action, "displayText", MAX_DISPLAY_TEXT, f"{prop}.action.displayText", required=False
        )
    return details


def _image_size(data: bytes) -> tuple[str, int, int] | None:
    """(media type, width, height) from a PNG or JPEG header, or None when it is neither."""
    if data.startswith(b"\x89PNG\r\n\x1a\n") and data[12:16] == b"IHDR" and len(data) >= 24:
        width, height = struct.unpack(">II", data[16:24])
        return "image/png", width, height
    if not data.startswith(b"\xff\xd8"):
        return None
    # Walk the JPEG segments to the first start-of-frame (SOFn; C4, C8 and CC are not frames).
    i = 2
    while i + 4 <= len(data) and data[i] == 0xFF:
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            if i + 9 > len(data):
                return None
            height, width = struct.unpack(">HH", data[i + 5 : i + 9])
            return "image/jpeg", width, height
        length = int.from_bytes(data[i + 2 : i + 4], "big")
        if marker == 0xDA or length < 2:  # scan data before any frame header: not a usable JPEG
            return None
        i += 2 + length
    return None


def _oauth_error(description: str) -> Response:
    return Response(400, {"error": "invalid_request", "error_description": description})


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign_jwt(claims: dict[str, Json], key: bytes) -> str:
    header = _b64url(json.dumps({"typ": "JWT", "alg": "HS256"}, separators=(",", ":")).encode())
    payload = _b64url(json.dumps(claims, separators=(",", ":"), ensure_ascii=False).encode())
    signature = hmac.new(key, f"{header}.{payload}".encode("ascii"), hashlib.sha256).digest()
    return f"{header}.{payload}.{_b64url(signature)}"


def _verified_claims(token: str, key: bytes) -> dict[str, Json] | None:
    """The claims of a token this sandbox signed, or None (wrong shape, algorithm or signature)."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        header = json.loads(_b64url_decode(parts[0]))
        expected = hmac.new(key, f"{parts[0]}.{parts[1]}".encode("ascii"), hashlib.sha256).digest()
        if not isinstance(header, dict) or header.get("alg") != "HS256":
            return None
        if not hmac.compare_digest(expected, _b64url_decode(parts[2])):
            return None
        claims = json.loads(_b64url_decode(parts[1]))
    except (ValueError, UnicodeError):
        return None
    return claims if isinstance(claims, dict) else None


class _Platform:
    """All sandbox state plus the route handlers. Every method expects `lock` to be held."""

    def __init__(self, access_token: str, quota: int | None, follower_count: int) -> None:
        self.lock = threading.Lock()
        self.default_access_token = access_token
        self.default_quota = quota
        self.default_follower_count = follower_count
        self._message_ids = itertools.count(600_000_000_000_000_001)
        # Kept across resets: a token minted before a reset stays as valid as a real one would.
        self.id_token_key = secrets.token_bytes(32)
        self.reset()

    def reset(self) -> None:
        self.requests: list[dict[str, Json]] = []
        self.faults: list[Fault] = []
        self.used_reply_tokens: set[str] = set()
        self.invalid_reply_tokens: set[str] = set()
        self.accepted_keys: dict[str, AcceptedKey] = {}
        self.profiles: dict[str, dict[str, Json]] = {}
        self.total_usage = 0
        self.quota = self.default_quota
        self.follower_count = self.default_follower_count
        self.rich_menus: dict[str, StoredRichMenu] = {}
        self.default_rich_menu_id: str | None = None
        self.access_token = self.default_access_token

    # --- bookkeeping -------------------------------------------------------------------------

    def take_fault(self, method: str, path: str) -> Fault | None:
        """Consume one use of the first fault that matches, if any."""
        for fault in self.faults:
            if fault.matches(method, path):
                if fault.skip:
                    fault.skip -= 1
                    continue
                fault.count -= 1
                if fault.count == 0:
                    self.faults.remove(fault)
                return fault
        return None

    def authorized(self, headers: dict[str, str]) -> bool:
        scheme, _, token = headers.get("authorization", "").partition(" ")
        return scheme.lower() == "bearer" and token.strip() == self.access_token

    def _accepted(self, retry_key: str) -> AcceptedKey | None:
        accepted = self.accepted_keys.get(retry_key)
        if accepted and time.monotonic() - accepted.accepted_at > RETRY_KEY_TTL_SECONDS:
            del self.accepted_keys[retry_key]
            return None
        return accepted

    def _sent_messages(self, count: int) -> list[dict[str, str]]:
        return [
            {
                "id": str(next(self._message_ids)),
                "quoteToken": base64.urlsafe_b64encode(uuid.uuid4().bytes + uuid.uuid4().bytes)
                .decode()
                .rstrip("="),
            }
            for _ in range(count)
        ]

    def _send(
        self,
        call: Call,
        validate: Callable[[dict[str, Json]], list[dict[str, str]]],
        cost: Callable[[dict[str, Json]], int],
        status: int,
        with_sent_messages: bool,
    ) -> Response:
        """Shared flow of push, multicast, narrowcast and broadcast."""
        retry_key = call.headers.get("x-line-retry-key")
        if retry_key is not None and not UUID_RE.fullmatch(retry_key):
            return _error(400, MSG_BAD_RETRY_KEY)
        body = _json_object(call)
        if isinstance(body, Response):
            return body
        details = _validate_messages(body) + validate(body) + _validate_notification_disabled(body)
        if details:
            return _validation_error(details)

        accepted = self._accepted(retry_key) if retry_key else None
        if accepted:
            # A retry of an accepted request: answer 409 and deliver (and count) nothing.
            extra = {"sentMessages": accepted.sent_messages} if accepted.sent_messages is not None else {}
            response = _error(409, MSG_RETRY_KEY_ACCEPTED, **extra)
            response.headers["x-line-accepted-request-id"] = accepted.request_id
            return response

        usage = cost(body)
        if self.quota is not None and self.total_usage + usage > self.quota:
            return _error(429, MSG_MONTHLY_LIMIT)
        self.total_usage += usage
        call.accepted = True

        sent = self._sent_messages(len(body["messages"])) if with_sent_messages else None
        if retry_key:
            self.accepted_keys[retry_key] = AcceptedKey(call.request_id, sent, time.monotonic())
        return Response(status, {"sentMessages": sent} if sent is not None else {})

    # --- Messaging API routes ----------------------------------------------------------------

    def reply(self, call: Call) -> Response:
        if "x-line-retry-key" in call.headers:
            # The real API rejects the retry key on endpoints that do not support it.
            return _error(400, "The X-Line-Retry-Key header is not supported by this endpoint")
        body = _json_object(call)
        if isinstance(body, Response):
            return body
        details = _validate_messages(body) + _validate_notification_disabled(body)
        token = body.get("replyToken")
        if not _is_non_empty_str(token):
            details.insert(0, _detail("must be specified", "replyToken"))
        if details:
            return _validation_error(details)

        if (
            token in self.used_reply_tokens
            or token in self.invalid_reply_tokens
            or token.startswith("expired")
        ):
            return _error(400, MSG_INVALID_REPLY_TOKEN)
        self.used_reply_tokens.add(token)
        call.accepted = True  # delivered, whatever the answer says (a fault "after" loses it)
        return Response(200, {"sentMessages": self._sent_messages(len(body["messages"]))})  # replies are free

    def push(self, call: Call) -> Response:
        def validate(body: dict[str, Json]) -> list[dict[str, str]]:
            return [] if _is_non_empty_str(body.get("to")) else [_detail("must be specified", "to")]

        return self._send(call, validate, cost=lambda body: 1, status=200, with_sent_messages=True)

    def multicast(self, call: Call) -> Response:
        def validate(body: dict[str, Json]) -> list[dict[str, str]]:
            to = body.get("to")
            if not isinstance(to, list) or not 1 <= len(to) <= MAX_MULTICAST_RECIPIENTS:
                return [_detail(f"Size must be between 1 and {MAX_MULTICAST_RECIPIENTS}", "to")]
            return [
                _detail("must be a user ID", f"to[{i}]")
                for i, uid in enumerate(to)
                if not _is_non_empty_str(uid)
            ]

        return self._send(
            call, validate, cost=lambda body: len(body["to"]), status=200, with_sent_messages=False
        )

    def narrowcast(self, call: Call) -> Response:
        # 202: the real API accepts narrowcasts and sends them asynchronously.
        return self._send(
            call, lambda body: [], cost=lambda body: self.follower_count, status=202, with_sent_messages=False
        )

    def broadcast(self, call: Call) -> Response:
        return self._send(
            call, lambda body: [], cost=lambda body: self.follower_count, status=200, with_sent_messages=False
        )

    def profile(self, call: Call) -> Response:
        user_id = call.params["user_id"]
        if not USER_ID_RE.fullmatch(user_id):
            return _error(404, MSG_NOT_FOUND)
        profile = {
            "displayName": f"LINE User {user_id[-4:]}",
            "userId": user_id,
            "pictureUrl": f"https://profile.line-scdn.net/sandbox/{user_id}",
            "statusMessage": "",
            "language": "ja",
        }
        profile.update(self.profiles.get(user_id, {}))
        return Response(200, profile)

    def content(self, call: Call) -> Response:
        return Response(200, PHONE_PHOTO, content_type="image/jpeg")

    def quota_limit(self, call: Call) -> Response:
        if self.quota is None:
            return Response(200, {"type": "none"})
        return Response(200, {"type": "limited", "value": self.quota})

    def quota_consumption(self, call: Call) -> Response:
        return Response(200, {"totalUsage": self.total_usage})

    # --- rich menus ----------------------------------------------------------------------------

    def create_rich_menu(self, call: Call) -> Response:
        body = _json_object(call)
        if isinstance(body, Response):
            return body
        details = _validate_rich_menu(body)
        if details:
            return _validation_error(details)
        rich_menu_id = f"richmenu-{secrets.token_hex(16)}"
        menu = {"richMenuId": rich_menu_id, **{name: body[name] for name in RICH_MENU_FIELDS}}
        self.rich_menus[rich_menu_id] = StoredRichMenu(menu)
        return Response(200, {"richMenuId": rich_menu_id})

    def validate_rich_menu(self, call: Call) -> Response:
        body = _json_object(call)
        if isinstance(body, Response):
            return body
        details = _validate_rich_menu(body)
        return _validation_error(details) if details else Response(200, {})

    def rich_menu_list(self, call: Call) -> Response:
        return Response(200, {"richmenus": [menu.body for menu in self.rich_menus.values()]})

    def get_rich_menu(self, call: Call) -> Response:
        menu = self.rich_menus.get(call.params["rich_menu_id"])
        return Response(200, menu.body) if menu else _error(404, MSG_NOT_FOUND)

    def delete_rich_menu(self, call: Call) -> Response:
        rich_menu_id = call.params["rich_menu_id"]
        if self.rich_menus.pop(rich_menu_id, None) is None:
            return _error(404, MSG_NOT_FOUND)
        if self.default_rich_menu_id == rich_menu_id:
            self.default_rich_menu_id = None
        return Response(200, {})

    def upload_rich_menu_image(self, call: Call) -> Response:
        menu = self.rich_menus.get(call.params["rich_menu_id"])
        if menu is None:
            return _error(404, MSG_NOT_FOUND)
        content_type = call.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type not in RICH_MENU_IMAGE_TYPES:
            return _error(415, MSG_UNSUPPORTED_MEDIA_TYPE)
        if menu.image is not None:
            return _error(400, MSG_RICH_MENU_IMAGE_EXISTS)
        size = menu.body["size"]
        expected = (content_type, size["width"], size["height"])
        if len(call.raw_body) > MAX_RICH_MENU_IMAGE_BYTES or _image_size(call.raw_body) != expected:
            return _error(400, MSG_RICH_MENU_IMAGE_INVALID)
        menu.image = call.raw_body
        return Response(200, {})

    def set_default_rich_menu(self, call: Call) -> Response:
        rich_menu_id = call.params["rich_menu_id"]
        menu = self.rich_menus.get(rich_menu_id)
        if menu is None:
            return _error(404, MSG_NOT_FOUND)
        if menu.image is None:
            return _error(400, MSG_RICH_MENU_WITHOUT_IMAGE, details=[])
        self.default_rich_menu_id = rich_menu_id
        return Response(200, {})

    def default_rich_menu(self, call: Call) -> Response:
        if self.default_rich_menu_id is None:
            return _error(404, MSG_NO_DEFAULT_RICH_MENU, details=[])
        return Response(200, {"richMenuId": self.default_rich_menu_id})

    def cancel_default_rich_menu(self, call: Call) -> Response:
        self.default_rich_menu_id = None
        return Response(200, {})

    # --- LINE Login ----------------------------------------------------------------------------

    def verify_id_token(self, call: Call) -> Response:
        """POST /oauth2/v2.1/verify (form: id_token, client_id, nonce?, user_id?): the claims, or 400."""
        form = _form(call)
        id_token, client_id = form.get("id_token", ""), form.get("client_id", "")
        if not id_token:
            return _oauth_error("Required parameter 'id_token' is missing.")
        if not client_id:
            return _oauth_error("Required parameter 'client_id' is missing.")
        claims = _verified_claims(id_token, self.id_token_key)
        if claims is None or claims.get("iss") != ID_TOKEN_ISSUER:
            return _oauth_error(MSG_ID_TOKEN_INVALID)
        if claims.get("aud") != client_id:
            return _oauth_error(MSG_ID_TOKEN_AUDIENCE)
        if not isinstance(claims.get("exp"), int) or claims["exp"] <= time.time():
            return _oauth_error(MSG_ID_TOKEN_EXPIRED)
        if "nonce" in form and claims.get("nonce") != form["nonce"]:
            return _oauth_error(MSG_ID_TOKEN_NONCE)
        if "user_id" in form and claims.get("sub") != form["user_id"]:
            return _oauth_error(MSG_ID_TOKEN_SUBJECT)
        return Response(200, claims)

    # --- control API -------------------------------------------------------------------------

    def control_id_tokens(self, call: Call) -> Response:
        """Mint an ID token: {"sub", "aud", "ttl"?, "name"?, "picture"?, "nonce"?} -> {"idToken"}.

        A negative ttl mints a token that has already expired.
        """
        body = _json_object(call)
        if isinstance(body, Response):
            return body
        problems = []
        unknown = set(body) - ID_TOKEN_FIELDS
        if unknown:
            problems.append(_detail(f"unknown field(s): {', '.join(sorted(unknown))}", "body"))
        if not isinstance(body.get("sub"), str) or not USER_ID_RE.fullmatch(body["sub"]):
            problems.append(_detail("must be a user ID ('U' and 32 hex characters)", "sub"))
        if not _is_non_empty_str(body.get("aud")):
            problems.append(_detail("must be a channel ID", "aud"))
        ttl = body.get("ttl", DEFAULT_ID_TOKEN_TTL)
        if (
            not isinstance(ttl, int)
            or isinstance(ttl, bool)
            or not -MAX_ID_TOKEN_TTL <= ttl <= MAX_ID_TOKEN_TTL
        ):
            problems.append(
                _detail(f"must be whole seconds between -{MAX_ID_TOKEN_TTL} and {MAX_ID_TOKEN_TTL}", "ttl")
            )
        for name in ("name", "picture", "nonce"):
            if name in body and not _is_non_empty_str(body[name]):
                problems.append(_detail("must be a non-empty string", name))
        if problems:
            return _error(400, "Invalid ID token request", details=problems)
        issued = int(time.time())
        claims: dict[str, Json] = {
            "iss": ID_TOKEN_ISSUER,
            "sub": body["sub"],
            "aud": body["aud"],
            "exp": issued + ttl,
            "iat": issued,
            "amr": ["linesso"],
        }
        claims.update({name: body[name] for name in ("nonce", "name", "picture") if name in body})
        return Response(200, {"idToken": _sign_jwt(claims, self.id_token_key)})

    def control_requests(self, call: Call) -> Response:
        wanted = call.query.get("path", [None])[-1]
        entries = [entry for entry in self.requests if wanted is None or entry["path"] == wanted]
        return Response(200, {"requests": entries})

    def control_faults(self, call: Call) -> Response:
        body = _json_object(call)
        if isinstance(body, Response):
            return body
        fault = _parse_fault(body)
        if isinstance(fault, Response):
            return fault
        self.faults.append(fault)
        return Response(201, {"ok": True})

    def control_clear_faults(self, call: Call) -> Response:
        """End every fault now, the request log kept (the cause "fixed" before a DLQ's messages
        are moved back: a walkthrough's moved message failed again on a fault of count 50)."""
        cleared, self.faults = len(self.faults), []
        return Response(200, {"cleared": cleared})

    def control_profiles(self, call: Call) -> Response:
        body = _json_object(call)
        if isinstance(body, Response):
            return body
        for user_id, profile in body.items():
            if not USER_ID_RE.fullmatch(user_id):
                return _error(400, f"Invalid user ID {user_id!r}: expected 'U' and 32 hex characters")
            if not isinstance(profile, dict):
                return _error(400, f"The profile of {user_id} must be an object")
        for user_id, profile in body.items():
            self.profiles[user_id] = {**profile, "userId": user_id}
        return Response(200, {"ok": True})

    def control_invalid_reply_tokens(self, call: Call) -> Response:
        body = _json_object(call)
        if isinstance(body, Response):
            return body
        tokens = body.get("tokens")
        if not isinstance(tokens, list) or not all(_is_non_empty_str(token) for token in tokens):
            return _error(400, "'tokens' must be a list of non-empty strings")
        self.invalid_reply_tokens.update(tokens)
        return Response(200, {"ok": True})

    def control_config(self, call: Call) -> Response:
        body = _json_object(call)
        if isinstance(body, Response):
            return body
        quota = body.get("quota", self.quota)
        followers = body.get("followerCount", self.follower_count)
        # A rotated channel access token: from now on only this one is accepted (401 otherwise).
        token = body.get("accessToken", self.access_token)
        if not _is_non_empty_str(token):
            return _error(400, "'accessToken' must be a non-empty string")
        if quota is not None and (not isinstance(quota, int) or isinstance(quota, bool) or quota < 0):
            return _error(400, "'quota' must be a non-negative integer or null")
        if not isinstance(followers, int) or isinstance(followers, bool) or followers < 0:
            return _error(400, "'followerCount' must be a non-negative integer")
        self.quota, self.follower_count, self.access_token = quota, followers, token
        return Response(200, {"quota": self.quota, "followerCount": self.follower_count})

    def control_rich_menus(self, call: Call) -> Response:
        menus = [
            {
                "richMenu": menu.body,
                "hasImage": menu.image is not None,
                "imageSha256": hashlib.sha256(menu.image).hexdigest() if menu.image is not None else None,
            }
            for menu in self.rich_menus.values()
        ]
        return Response(200, {"richmenus": menus, "defaultRichMenuId": self.default_rich_menu_id})

    def control_reset(self, call: Call) -> Response:
        self.reset()
        return Response(200, {"ok": True})


def _parse_fault(body: dict[str, Json]) -> Fault | Response:
    """Check a POST /__sandbox/faults body; answer 400 rather than store a fault that never fires."""
    unknown = set(body) - {"path", "status", "count", "delay", "method", "body", "headers", "skip", "phase"}
    path, status, method = body.get("path"), body.get("status"), body.get("method")
    count, delay, headers = body.get("count", 1), body.get("delay", 0.0), body.get("headers", {})
    problems = []
    if unknown:
        problems.append(_detail(f"unknown field(s): {', '.join(sorted(unknown))}", "body"))
    if not isinstance(path, str) or not path.startswith("/"):
        problems.append(_detail("must be a path (or fnmatch glob) starting with '/'", "path"))
    if status is not None and (
        not isinstance(status, int) or isinstance(status, bool) or not 100 <= status <= 599
    ):
        problems.append(_detail("must be an HTTP status code between 100 and 599", "status"))
    if not isinstance(count, int) or isinstance(count, bool) or count < 1:
        problems.append(_detail("must be a positive integer", "count"))
    if not isinstance(delay, (int, float)) or isinstance(delay, bool) or not 0 <= delay <= 300:
        problems.append(_detail("must be a number of seconds between 0 and 300", "delay"))
    if method is not None and not (isinstance(method, str) and method.isalpha()):
        problems.append(_detail("must be an HTTP method such as 'POST'", "method"))
    if not isinstance(headers, dict) or not all(isinstance(v, str) for v in headers.values()):
        problems.append(_detail("must be an object of string header values", "headers"))
    if status is None and "body" in body:
        problems.append(_detail("needs a status", "body"))
    if status is None and not delay:
        problems.append(_detail("give a status, a delay, or both", "status"))
    skip, phase = body.get("skip", 0), body.get("phase", "before")
    if not isinstance(skip, int) or isinstance(skip, bool) or skip < 0:
        problems.append(_detail("must be a non-negative integer", "skip"))
    if phase not in ("before", "after"):
        problems.append(
            _detail("must be 'before' (fail instead of handling) or 'after' (handle, then fail)", "phase")
        )
    elif phase == "after" and status is None:
        problems.append(_detail("needs a status", "phase"))
    if problems:
        return _error(400, "Invalid fault", details=problems)
    return Fault(
        path=path,
        method=method.upper() if method else None,
        status=status,
        count=count,
        delay=float(delay),
        body=body.get("body"),
        headers=headers,
        skip=skip,
        phase=phase,
    )


Handler = Callable[[_Platform, Call], Response]

# (method, path regex, handler); a path that matches with another method gets 405.
API_ROUTES: list[tuple[str, re.Pattern[str], Handler]] = [
    ("POST", re.compile(r"/v2/bot/message/reply"), _Platform.reply),
    ("POST", re.compile(r"/v2/bot/message/push"), _Platform.push),
    ("POST", re.compile(r"/v2/bot/message/multicast"), _Platform.multicast),
    ("POST", re.compile(r"/v2/bot/message/narrowcast"), _Platform.narrowcast),
    ("POST", re.compile(r"/v2/bot/message/broadcast"), _Platform.broadcast),
    ("GET", re.compile(r"/v2/bot/message/quota"), _Platform.quota_limit),
    ("GET", re.compile(r"/v2/bot/message/quota/consumption"), _Platform.quota_consumption),
    ("GET", re.compile(r"/v2/bot/profile/(?P<user_id>[^/]+)"), _Platform.profile),
    # These two are served by api-data.line.me in production; the app points both hosts at the sandbox.
    ("GET", re.compile(r"/v2/bot/message/(?P<message_id>[^/]+)/content"), _Platform.content),
    (
        "POST",
        re.compile(r"/v2/bot/richmenu/(?P<rich_menu_id>[^/]+)/content"),
        _Platform.upload_rich_menu_image,
    ),
    ("POST", re.compile(r"/v2/bot/richmenu"), _Platform.create_rich_menu),
    ("POST", re.compile(r"/v2/bot/richmenu/validate"), _Platform.validate_rich_menu),
    ("GET", re.compile(r"/v2/bot/richmenu/list"), _Platform.rich_menu_list),
    ("GET", re.compile(r"/v2/bot/richmenu/(?P<rich_menu_id>[^/]+)"), _Platform.get_rich_menu),
    ("DELETE", re.compile(r"/v2/bot/richmenu/(?P<rich_menu_id>[^/]+)"), _Platform.delete_rich_menu),
    (
        "POST",
        re.compile(r"/v2/bot/user/all/richmenu/(?P<rich_menu_id>[^/]+)"),
        _Platform.set_default_rich_menu,
    ),
    ("GET", re.compile(r"/v2/bot/user/all/richmenu"), _Platform.default_rich_menu),
    ("DELETE", re.compile(r"/v2/bot/user/all/richmenu"), _Platform.cancel_default_rich_menu),
    # LINE Login: no channel access token (the id_token is the credential).
    ("POST", re.compile(r"/oauth2/v2\.1/verify"), _Platform.verify_id_token),
]
CONTROL_ROUTES: list[tuple[str, re.Pattern[str], Handler]] = [
    ("GET", re.compile(r"/__sandbox/requests"), _Platform.control_requests),
    ("POST", re.compile(r"/__sandbox/faults"), _Platform.control_faults),
    ("DELETE", re.compile(r"/__sandbox/faults"), _Platform.control_clear_faults),
    ("POST", re.compile(r"/__sandbox/profiles"), _Platform.control_profiles),
    ("POST", re.compile(r"/__sandbox/reply-tokens/invalid"), _Platform.control_invalid_reply_tokens),
    ("POST", re.compile(r"/__sandbox/config"), _Platform.control_config),
    ("POST", re.compile(r"/__sandbox/reset"), _Platform.control_reset),
    ("POST", re.compile(r"/__sandbox/id-tokens"), _Platform.control_id_tokens),
    ("GET", re.compile(r"/__sandbox/richmenus"), _Platform.control_rich_menus),
]


def _route(routes: list[tuple[str, re.Pattern[str], Handler]], call: Call) -> Handler | Response:
    """The handler for the call (with call.params filled in), or a 404/405 response."""
    allowed = []
    for method, pattern, handler in routes:
        match = pattern.fullmatch(call.path)
        if not match:
            continue
        if method == call.method:
            call.params = match.groupdict()
            return handler
        allowed.append(method)
    if allowed:
        return Response(405, {"message": "Method Not Allowed"}, headers={"Allow": ", ".join(allowed)})
    return _error(404, MSG_NOT_FOUND)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    platform: _Platform


class _RequestHandler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"  # keep-alive, as the SDK's urllib3 pool expects
    disable_nagle_algorithm = True  # headers and body go out in two writes; avoid the 40 ms delayed-ACK stall
    server_version = "line-sandbox"

    def version_string(self) -> str:
        return self.server_version  # no Python version in the Server header

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_PUT(self) -> None:
        self._handle()

    def do_DELETE(self) -> None:
        self._handle()

    def do_PATCH(self) -> None:
        self._handle()

    def log_message(self, format: str, *args: Any) -> None:
        pass  # tests read /__sandbox/requests instead of stderr

    def _handle(self) -> None:
        platform = self.server.platform
        url = urlsplit(self.path)
        call = Call(
            method=self.command,
            path=url.path,
            query=parse_qs(url.query),
            headers={name.lower(): value for name, value in self.headers.items()},
            raw_body=self._read_body(),
            request_id=uuid.uuid4().hex,
        )
        if call.path.startswith(CONTROL_PREFIX):
            # Control calls are not logged and ignore faults.
            with platform.lock:
                response = self._run(platform, CONTROL_ROUTES, call)
                payload = _encode(response)  # serialize while the lock guards the request log
            self._send(response, payload, request_id=None)
            return

        entry = {
            "method": call.method,
            "path": call.path,
            "query": call.query,
            "headers": call.headers,
            "body": _form(call) if _is_form(call) else _parse_or_none(call.raw_body),
            "status": None,  # filled in once answered; logged now to keep arrival order
            "requestId": call.request_id,
            "at": time.time(),
            "accepted": False,  # whether the platform took the send (delivered, counted), whatever it answered
        }
        with platform.lock:
            platform.requests.append(entry)
            fault = platform.take_fault(call.method, call.path)
        if fault and fault.delay:
            time.sleep(fault.delay)  # outside the lock, so other requests keep flowing
        with platform.lock:
            if fault and fault.status is not None and fault.phase == "before":
                # An injected failure touches no state: retry keys stay unaccepted, nothing is counted.
                response = fault.response()
            elif call.path.startswith("/v2/") and not platform.authorized(call.headers):
                response = _error(401, MSG_AUTH_FAILED)
            else:
                response = self._run(platform, API_ROUTES, call)
                if fault and fault.status is not None:  # phase "after": handled, then the answer is lost
                    response = fault.response()
            entry["status"] = response.status
            entry["accepted"] = call.accepted
        self._send(response, _encode(response), request_id=call.request_id)

    @staticmethod
    def _run(platform: _Platform, routes: list[tuple[str, re.Pattern[str], Handler]], call: Call) -> Response:
        handler = _route(routes, call)
        if isinstance(handler, Response):
            return handler
        try:
            return handler(platform, call)
        # A sandbox bug should look like a platform 500, not a dropped connection.
        except Exception:  # noqa: BLE001
            return _error(500, FAULT_MESSAGES[500])

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            while self.rfile.readline().strip():  # trailers
                pass
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _send(self, response: Response, payload: bytes, request_id: str | None) -> None:
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(payload)))
        if request_id:
            self.send_header("x-line-request-id", request_id)
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)


def _encode(response: Response) -> bytes:
    if isinstance(response.body, bytes):
        return response.body
    return json.dumps(response.body, ensure_ascii=False).encode("utf-8")


def _is_form(call: Call) -> bool:
    content_type = call.headers.get("content-type", "").split(";")[0].strip().lower()
    return content_type == "application/x-www-form-urlencoded"


def _form(call: Call) -> dict[str, str]:
    """A form-encoded body as {name: last value}; {} for any other body."""
    if not _is_form(call):
        return {}
    fields = parse_qs(call.raw_body.decode("utf-8", "replace"), keep_blank_values=True)
    return {name: values[-1] for name, values in fields.items()}


def _parse_or_none(raw: bytes) -> Json | None:
    try:
        return json.loads(raw.decode("utf-8"))
    except ValueError:
        return None


class LineSandbox:
    """A LINE Messaging API stand-in served on a background thread.

    >>> sandbox = LineSandbox(port=0, access_token="t")
    >>> base_url = sandbox.start()  # e.g. http://127.0.0.1:54321
    >>> sandbox.stop()
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = DEFAULT_PORT,
        access_token: str = DEFAULT_ACCESS_TOKEN,
        *,
        quota: int | None = DEFAULT_QUOTA,
        follower_count: int = 0,
    ) -> None:
        self.host = host
        self.port = port
        self.access_token = access_token
        self._platform = _Platform(access_token, quota, follower_count)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> str:
        """Bind and serve in a daemon thread; returns the base URL (with the real port if port was 0)."""
        if self._server is not None:
            raise RuntimeError("LineSandbox is already running")
        server = _Server((self.host, self.port), _RequestHandler)
        server.platform = self._platform
        self.port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.1}, name="line-sandbox", daemon=True
        )
        self._thread.start()
        return self.base_url

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None

    def reset(self) -> None:
        """Same as POST /__sandbox/reset, for in-process callers."""
        with self._platform.lock:
            self._platform.reset()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Local LINE Messaging API sandbox")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=int(os.environ.get("MADOGUCHI_LINE_PORT", DEFAULT_PORT)))
    parser.add_argument("--quota", type=int, default=DEFAULT_QUOTA, help="monthly message quota")
    parser.add_argument("--follower-count", type=int, default=0, help="what a broadcast/narrowcast counts")
    args = parser.parse_args(argv)

    token = os.environ.get("LINE_CHANNEL_ACCESS_TOKEN", DEFAULT_ACCESS_TOKEN)
    sandbox = LineSandbox(args.host, args.port, token, quota=args.quota, follower_count=args.follower_count)
    print(f"LINE sandbox listening on {sandbox.start()} (Ctrl-C to stop)", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        sandbox.stop()


if __name__ == "__main__":
    main()
