"""Consultation booking: races for the last seats, the slot list's reads, one booking's cost.

    .venv/bin/python bench/consultations.py [--racers 20,50,100] [--json]

Starts the local stack in this process (moto, the LINE sandbox), seeds the demo schedule
(every service, a year of its weekly pattern by default; `make run` seeds four weeks), then:

- **races**: N threads book the same slot of capacity C at once through
  `services.consultations.book` (the path the API runs); printed: how many won (must be C),
  the slot's counter afterwards (must be C), how many were told "full", wall time, and the
  p50/p95 of one attempt;
- **slot list**: `GET /consultations/{service}/slots` for four weeks of every service, counting
  DynamoDB calls and read units (priced by DynamoDB's rules, as bench/fanout.py does), next to
  one full Scan of the slots table;
- **one booking**: DynamoDB calls of one booking (the transaction, the reads) and its wall time.

Local moto serialises DynamoDB calls, so the race exercises the conditions, not DynamoDB's
transaction conflicts (those are retried, a bounded number of times, in store/consultations.py).
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def race(racers: int, capacity: int, slot_offset: int) -> dict[str, Any]:
    from chalicelib.domain import consultations as rules
    from chalicelib.services import consultations as service
    from chalicelib.store import consultations as store

    start = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(days=3, minutes=slot_offset)
    slot_id = rules.slot_id(start)
    store.set_slot("general", slot_id, capacity, "extra", "bench", start + timedelta(days=30))
    outcomes: list[str] = []
    times: list[float] = []
    lock = threading.Lock()
    gate = threading.Barrier(racers)

    def attempt(n: int) -> None:
        document = {
            "slot": slot_id,
            "mode": "in_person",
            "eligibility": "resident",
            "name": "bench",
            "email": f"racer{n}-{slot_offset}@example.com",
        }
        gate.wait()
        began = time.perf_counter()
        try:
            service.book("general", document, service.Booker("web", "ja"))
            outcome = "booked"
        except Exception as error:  # noqa: BLE001
            outcome = getattr(error, "code", type(error).__name__)
            if os.environ.get("BENCH_TRACE") and not hasattr(error, "code"):
                import traceback

                traceback.print_exc()
        with lock:
            outcomes.append(outcome)
            times.append(time.perf_counter() - began)

    threads = [threading.Thread(target=attempt, args=(n,)) for n in range(racers)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - began
    stored = store.get_slot("general", slot_id)
    times.sort()
    return {
        "racers": racers,
        "capacity": capacity,
        "booked": outcomes.count("booked"),
        "full": outcomes.count("slot_full"),
        "other": sorted(o for o in outcomes if o not in ("booked", "slot_full")),
        "counter": int(stored.booked) if stored else None,
        "wall_s": round(wall, 3),
        "attempt_p50_ms": round(statistics.median(times) * 1000, 1),
        "attempt_p95_ms": round(times[int(0.95 * (len(times) - 1))] * 1000, 1),
    }


def slot_list(meter: Any) -> dict[str, Any]:
    import boto3

    from chalicelib.config import get_settings
    from chalicelib.domain import consultations as rules
    from chalicelib.services import consultations as service

    now = datetime.now(UTC)
    meter.reads.clear()
    meter.calls.clear()
    meter.active = True
    shown = 0
    for service_id in rules.catalogue():
        shown += len(service.free_slots(service_id, None, None, now)["slots"])
    meter.active = False
    listed = {"calls": dict(meter.calls), "read_units": round(meter.total, 1), "slots_shown": shown}
    meter.reads.clear()
    meter.calls.clear()
    meter.active = True
    table = get_settings().name("consultation-slots")
    pages = boto3.client("dynamodb").get_paginator("scan").paginate(TableName=table, ConsistentRead=True)
    scanned = sum(len(page["Items"]) for page in pages)
    meter.active = False
    listed["scan_read_units"] = round(meter.total, 1)
    listed["slots_in_table"] = scanned
    return listed


def one_booking(meter: Any) -> dict[str, Any]:
    from chalicelib.domain import consultations as rules
    from chalicelib.services import consultations as service
    from chalicelib.store import consultations as store

    start = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(days=4, minutes=7)
    slot_id = rules.slot_id(start)
    store.set_slot("tax", slot_id, 1, "extra", "bench", start + timedelta(days=30))
    document = {
        "slot": slot_id,
        "mode": "online",
        "eligibility": "resident",
        "name": "b",
        "email": "one@example.com",
    }
    meter.reads.clear()
    meter.calls.clear()
    meter.active = True
    began = time.perf_counter()
    service.book("tax", document, service.Booker("web", "ja"))
    wall = time.perf_counter() - began
    meter.active = False
    return {"calls": dict(meter.calls), "read_units": round(meter.total, 1), "wall_ms": round(wall * 1000, 1)}


def main() -> int:
    import argparse

    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--racers", default="20,50,100")
    parser.add_argument("--weeks", type=int, default=52, help="weeks of the demo schedule in the table")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    from bench.stack import local_stack

    with local_stack():
        from bench.fanout import Meter, install
        from devstack.demo_consultations import seed

        meter = Meter(prefix=os.environ["MADOGUCHI_PREFIX"] + "-")
        install(meter)
        seeded = seed(weeks=args.weeks)
        figures: dict[str, Any] = {"demo_slots_seeded": seeded, "races": []}
        offset = 0
        for racers in (int(n) for n in args.racers.split(",")):
            for capacity in (1, 5):
                offset += 1
                figures["races"].append(race(racers, capacity, offset))
        figures["slot_list_4_weeks_all_services"] = slot_list(meter)
        figures["one_booking"] = one_booking(meter)
    if args.json:
        print(json.dumps(figures, indent=2))
        return 0
    print(f"demo slots seeded: {figures['demo_slots_seeded']}")
    print("racers capacity booked full other counter wall_s p50_ms p95_ms")
    for r in figures["races"]:
        print(
            f"{r['racers']:>6} {r['capacity']:>8} {r['booked']:>6} {r['full']:>4} {len(r['other']):>5}"
            f" {r['counter']:>7} {r['wall_s']:>6} {r['attempt_p50_ms']:>6} {r['attempt_p95_ms']:>6}"
        )
    s = figures["slot_list_4_weeks_all_services"]
    print(
        f"slot list, 13 services x 4 weeks: calls {s['calls']}, read units {s['read_units']}"
        f" ({s['slots_shown']} slots shown); one Scan of the table: {s['scan_read_units']} units"
        f" ({s['slots_in_table']} slots)"
    )
    o = figures["one_booking"]
    print(f"one booking: calls {o['calls']}, read units {o['read_units']}, {o['wall_ms']} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
