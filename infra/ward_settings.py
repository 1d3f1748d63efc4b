"""The shape of each ward setting a stage's context gives (cdk.json, `-c`): synth refuses a
malformed one, naming it, before anything reaches a template. A setting left unset is a warning
(stack.WARD_SETTINGS), not an error: a dev stage runs without a LIFF app.

Only the shape is checked here; whether the address answers is the first deploy's business.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any
from urllib.parse import urlsplit

_EMAIL = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")
_HOST = re.compile(r"^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$")
# Names every resource, S3 buckets included ("<prefix>-attachments"): lower case, digits and
# hyphens, and short enough for the longest bucket suffix within S3's 63 characters.
_PREFIX = re.compile(r"^[a-z0-9][a-z0-9-]{1,38}[a-z0-9]$")
_LIFF = re.compile(r"^https://liff\.line\.me/\d+-[A-Za-z0-9]+$")
_DIGITS = re.compile(r"^\d{1,32}$")
MIN_SALT_CHARS = 16
CHECKED = (
    "prefix",
    "api_url",
    "staff_console_url",
    "web_origin",
    "liff_url",
    "line_login_channel_id",
    "paypay_merchant_id",
    "ses_domain",
    "ses_sender",
    "alarm_emails",
    "paypay_webhook_cidrs",
    "log_hash_salt",
)


def problems(settings: dict[str, Any]) -> list[str]:
    """What is wrong with the given settings (name -> value; empty values are not given)."""
    found: list[str] = []

    def check(name: str, ok: bool, shape: str) -> None:
        if name in settings and settings[name] and not ok:
            found.append(f"{name}={settings[name]!r}: {shape}")

    value = settings.get
    check(
        "prefix",
        _bucket_safe(str(value("prefix", ""))),
        "3-40 lower-case letters, digits and single hyphens, not starting xn--",
    )
    for name in ("api_url", "staff_console_url"):
        check(name, _https_url(str(value(name, ""))), "an https:// address with a host")
    check("web_origin", _origin(str(value("web_origin", ""))), "an origin: https://host, with no path")
    check("liff_url", bool(_LIFF.match(str(value("liff_url", "")))), "https://liff.line.me/<LIFF id>")
    for name in ("line_login_channel_id", "paypay_merchant_id"):
        check(name, bool(_DIGITS.match(str(value(name, "")))), "digits only")
    check("ses_domain", bool(_HOST.match(str(value("ses_domain", "")))), "a domain name")
    check("ses_sender", bool(_EMAIL.match(str(value("ses_sender", "")))), "an email address")
    for address in value("alarm_emails") or ():
        if not _EMAIL.match(address):
            found.append(f"alarm_emails: {address!r} is not an email address")
    for cidr in value("paypay_webhook_cidrs") or ():
        try:
            ipaddress.ip_network(cidr)
        except ValueError:
            found.append(f"paypay_webhook_cidrs: {cidr!r} is not an address range (CIDR)")
    check(
        "log_hash_salt",
        len(str(value("log_hash_salt", ""))) >= MIN_SALT_CHARS,
        f"at least {MIN_SALT_CHARS} characters (openssl rand -hex 16)",
    )
    return found


def _https_url(text: str) -> bool:
    if text != text.strip() or "\\" in text:
        return False
    parts = urlsplit(text)
    try:
        parts.port  # noqa: B018 (a port out of range raises)
    except ValueError:
        return False
    return parts.scheme == "https" and bool(parts.hostname) and not parts.username


def _origin(text: str) -> bool:
    parts = urlsplit(text)
    return _https_url(text) and not parts.path and not parts.query and not parts.fragment


def _bucket_safe(prefix: str) -> bool:
    """What S3 takes at the head of a bucket name (S3 refuses xn-- there)."""
    return bool(_PREFIX.match(prefix)) and not prefix.startswith("xn--") and "--" not in prefix
