"""Helpers for the consultation tests: slots on open days, callers, reading back deliveries."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from chalicelib.config import get_settings
from chalicelib.domain import consultations as rules
from chalicelib.domain.business_days import is_business_day
from chalicelib.domain.submissions import TOKYO
from devstack.dev_issuer import mint_token

# The slot ids handed out so far, of every service.
_given: set[str] = set()


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


def fresh_slot(service: str, offset: int = 2) -> str:
    """A slot id of `service` no other test uses, from the `offset`-th open day on. Each service
    has a grid of its own (from 09:00 plus a minute of its own, a session's length rounded up to
    half an hour apart), so none of its sessions overlap (staff may not open such) and a day
    holds many."""
    duration = rules.get_service(service).duration_minutes
    step = timedelta(minutes=30 * -(-duration // 30))
    first = timedelta(hours=9, minutes=list(rules.catalogue()).index(service))
    hours = get_settings().consult_session_hours
    day = offset
    start = open_day(day) + first
    while rules.slot_id(start) in _given or not rules.within_session_hours(start, duration, hours):
        if rules.within_session_hours(start, duration, hours):
            start += step
        else:
            day += 1
            start = open_day(day) + first
    _given.add(rules.slot_id(start))
    return rules.slot_id(start)


def staff_headers(section: str = "kocho", staff_id: str = "staff-1", roles=("staff",)) -> dict[str, str]:
    token = mint_token(staff_id=staff_id, section=section, roles=list(roles))
    return {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}


def body_of(response: Any) -> Any:
    return json.loads(response.body)
