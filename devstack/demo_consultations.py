"""A demo schedule for every consultation service over the coming weeks, so `make run`'s
booking flow works out of the box: each service's `demoWeekly` (chalicelib/data/consultations.json)
laid on the business days of the next four weeks. Re-running keeps what is booked."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

WEEKS = 4


def seed(now: datetime | None = None, weeks: int = WEEKS) -> int:
    from chalicelib.domain import consultations as rules
    from chalicelib.store import consultations as store

    now = now or datetime.now(UTC)
    first = rules.tokyo_day(now)
    last = first + timedelta(weeks=weeks)
    made = 0
    for service in rules.catalogue().values():
        for start, capacity in rules.weekly_slots(service.demo_weekly, first, last):
            if start > now:
                store.set_slot(
                    service.id, rules.slot_id(start), capacity, "weekly", "demo", start + timedelta(days=400)
                )
                made += 1
    return made


if __name__ == "__main__":
    print(f"{seed()} consultation slots seeded")
