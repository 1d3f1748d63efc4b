"""Helpers for the consultation tests: slots on open days, callers, reading back deliveries."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from chalicelib.domain import consultations as rules
from chalicelib.domain.business_days import is_business_day
from chalicelib.domain.submissions import TOKYO
from devstack.dev_issuer import mint_token

_minutes = itertools.count(0)


def open_day(offset: int = 2) -> datetime:
    """Midnight (Tokyo) of the `offset`-th business day from today."""
    day = datetime.now(UTC).astimezone(TOKYO).date()
    found = 0
    while True:
        day += timedelta(days=1)
        if is_business_day(day):
            found += 1
            if found >= offset:
                return datetime.combine(day, datetime.min.time(), TOKYO)


def fresh_slot(offset: int = 2) -> str:
    """A slot id no other test uses: a distinct minute of an open day (09:00 + n minutes)."""
    n = next(_minutes)
    start = open_day(offset + n // 600) + timedelta(hours=9, minutes=n % 600)
    return rules.slot_id(start)


def staff_headers(section: str = "kocho", staff_id: str = "staff-1", roles=("staff",)) -> dict[str, str]:
    token = mint_token(staff_id=staff_id, section=section, roles=list(roles))
    return {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}


def body_of(response: Any) -> Any:
    return json.loads(response.body)
