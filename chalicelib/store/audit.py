"""What happened to a record and who did it: one shape for every audit trail (submissions and
bookings in the audit table, payments in payment-log)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime
from typing import Any


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
        return f"{self.at.isoformat(timespec='milliseconds')}#{os.urandom(4).hex()}"

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
