"""What happened to a record and who did it: one shape for every audit trail (submissions,
bookings, announcements and queue resets in the audit table, payments in payment-log)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from chalicelib.store.models import AuditEntry


@dataclass(frozen=True)
class Audit:
    actor_kind: str  # resident | staff | system
    actor_id: str | None
    action: str
    at: datetime
    from_status: str | None = None
    to_status: str | None = None
    note: str | None = None
    note_visibility: str | None = None  # submissions: an "internal" note is for staff only

    def sort_key(self) -> str:
        """Entries sort by time; the random tail keeps two of the same millisecond apart."""
        return f"{self.at.astimezone(UTC).isoformat(timespec='milliseconds')}#{os.urandom(4).hex()}"

    def fields(self) -> dict[str, Any]:
        """What every trail's entry records."""
        return {
            "actor_kind": self.actor_kind,
            "actor_id": self.actor_id,
            "action": self.action,
            "from_status": self.from_status,
            "to_status": self.to_status,
            "note": self.note,
        }


def entry(trail: str, audit: Audit, **extra: Any) -> AuditEntry:
    """The audit table's item of `audit` in `trail` (a receipt, a booking id, `announcement#<id>`,
    `queue#<office>#<line>`): two entries of the same millisecond never overwrite each other."""
    return AuditEntry(
        trail, audit.sort_key(), **audit.fields(), note_visibility=audit.note_visibility, **extra
    )
