"""Whether the resident got each notice about their submission: what a clerk sees, no personal data.

The notifications worker records one outcome per notice (the submission version that queued it)
and channel: `delivered`, `sending` (a try failed and SQS hands it out again) or `failed` (given
up: the last try before the dead-letter queue failed, or LINE refused it, or there is no contact
on file). `delivered` is final, so a duplicate or a later retry keeps the first delivery's time,
and a notice moved back from the dead-letter queue and delivered then reads `delivered`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from chalicelib.domain.submissions import tokyo_iso, utc_iso

DELIVERED, SENDING, FAILED = "delivered", "sending", "failed"
EMAIL, LINE = "email", "line"
# The channel of a notice with neither LINE nor email on file (a counter or phone entry).
NO_CONTACT = "none"
# Why a notice failed: its retries ran out (dead-letter queue), LINE would not take it (blocked,
# unfollowed), or there was nobody to send it to.
DEAD_LETTER, REFUSED, UNREACHABLE = "dead_letter", "refused", "no_contact"


def key(version: int, channel: str) -> str:
    """One notice on one channel: the map key its outcome is stored under."""
    return f"{version}#{channel}"


def outcome(event: str, status: str, state: str, at: datetime, reason: str | None = None) -> dict[str, str]:
    recorded = {"event": event, "status": status, "state": state, "at": utc_iso(at)}
    return {**recorded, "reason": reason} if reason else recorded


def notices(recorded: Mapping[str, Mapping[str, str]] | None) -> list[dict[str, Any]]:
    """Each notice, oldest first: what it said (event, status), where it stands and per channel
    since when. A notice is delivered once any channel delivered it, sending while one is still
    tried and nothing arrived, failed when every channel gave up."""
    by_version: dict[int, list[tuple[str, Mapping[str, str]]]] = {}
    for name, entry in (recorded or {}).items():
        number, channel = name.split("#", 1)
        by_version.setdefault(int(number), []).append((channel, entry))
    shown = []
    for version, channels in sorted(by_version.items()):
        states = {entry["state"] for _, entry in channels}
        first = channels[0][1]
        shown.append(
            {
                "version": version,
                "event": first["event"],
                "status": first["status"],
                "state": DELIVERED if DELIVERED in states else SENDING if SENDING in states else FAILED,
                "channels": [
                    {
                        "channel": channel,
                        "state": entry["state"],
                        "at": tokyo_iso(datetime.fromisoformat(entry["at"])),
                        **({"reason": entry["reason"]} if entry.get("reason") else {}),
                    }
                    for channel, entry in sorted(channels)
                ],
            }
        )
    return shown


def resident_notified(shown: list[dict[str, Any]]) -> bool | None:
    """False once a notice failed (the clerk should phone the resident), True when every notice
    was delivered, None while one is still being tried or none was recorded yet."""
    states = {notice["state"] for notice in shown}
    if FAILED in states:
        return False
    return None if SENDING in states or not states else True
