"""Postback data: what a tapped button tells the worker, signed so it cannot be made up.

A button's data is `<action>` or `<action>:<value>`, then `~` and a truncated HMAC of it
under a key derived from the channel secret. LINE only delivers postbacks from buttons we
sent, but a client can be modified and data can be replayed into another context: the
worker acts on nothing it did not sign, and checks every value again before using it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass

# LINE allows 300 characters of postback data.
MAX_DATA_CHARS = 300
_SIGNATURE_CHARS = 16  # 96 bits of HMAC-SHA256
_KEY_CONTEXT = b"madoguchi postback v1"
_ACTION = re.compile(r"^[a-z][a-z_]*(\.[a-z][a-z_]*)*$")
_VALUE = re.compile(r"^[0-9A-Za-z_+.-]{0,64}$")


class TamperedPostback(ValueError):
    """The data is not something we signed (edited, forged, or from an older key)."""


@dataclass(frozen=True)
class Postback:
    action: str
    value: str = ""


def _key(channel_secret: str) -> bytes:
    # A key of its own: the channel secret itself signs LINE's webhooks, not our buttons.
    return hmac.new(channel_secret.encode(), _KEY_CONTEXT, hashlib.sha256).digest()


def _signature(channel_secret: str, payload: str) -> str:
    digest = hmac.new(_key(channel_secret), payload.encode("utf-8", "replace"), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode()[:_SIGNATURE_CHARS]


def sign(channel_secret: str, action: str, value: str = "") -> str:
    """The data for a button that runs `action` with `value`."""
    if not _ACTION.match(action) or not _VALUE.match(value):
        raise ValueError(f"not a postback we can sign: {action!r} {value!r}")
    payload = f"{action}:{value}" if value else action
    return f"{payload}~{_signature(channel_secret, payload)}"


def read(channel_secret: str, data: object) -> Postback:
    """The signed action and value in `data`, or TamperedPostback."""
    if not isinstance(data, str) or len(data) > MAX_DATA_CHARS:
        raise TamperedPostback("not postback data")
    payload, separator, signature = data.rpartition("~")
    expected = _signature(channel_secret, payload).encode()
    if not separator or not hmac.compare_digest(signature.encode("utf-8", "replace"), expected):
        raise TamperedPostback("bad signature")
    action, _, value = payload.partition(":")
    if not _ACTION.match(action) or not _VALUE.match(value):
        raise TamperedPostback("bad shape")
    return Postback(action, value)
