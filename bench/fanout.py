"""Announcement fan-out at ward scale: 100,000 residents, a ward-wide announcement to ~30%.

    .venv/bin/python bench/fanout.py [--residents 100000] [--seed 1] [--json]

Starts the local stack in this process (moto, the LINE sandbox), loads residents with
realistic preferences (the same rules, `domain.preferences.segments`, decide their send
lists; written in bulk rather than one transaction each), then sends a ward-wide announcement
on "waste" through the real path: a supervisor composes it, a second supervisor approves it,
and the pump runs the plan, collect and send workers until it is sent.

Printed: recipients (checked against the population: each reached exactly once), LINE
multicast requests against the minimum (sum over languages of ceil(n/500)), DynamoDB read
capacity consumed by the send next to a full scan of the residents, our own CPU time per 1,000
recipients and the wall time.

Read capacity is computed, not read from moto (its ConsumedCapacity is not meaningful): every
DynamoDB call the app makes is observed at the botocore client, and each response is priced by
DynamoDB's rules from the bytes of the items it returned: a Query or Scan page costs
ceil(sum of item sizes / 4 KB) units, a GetItem or each item of a BatchGetItem ceil(size / 4 KB),
at least one unit each, halved for eventually consistent reads. Item size is the sum of
attribute name and value sizes (strings in UTF-8 bytes, numbers ~1 byte per 2 digits + 1,
lists and maps 3 bytes + 1 per element). The scan is a real paginated Scan of the residents
table, priced the same way.

CPU is `time.thread_time()` of the thread that runs the workers (the pump runs them in this
thread; moto and the sandbox serve from their own threads, so their CPU is not counted).
"""

from __future__ import annotations

import json
import math
import os
import random
import sys
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TOPIC = "waste"
# Share of residents choosing each topic (independently), following, consenting, stopped.
TOPIC_SHARE = {
    "disaster": 0.45,
    "childcare": 0.15,
    "health": 0.30,
    "elderly-care": 0.18,
    "waste": 0.375,
    "events-culture": 0.25,
    "tax-insurance": 0.12,
    "roads-traffic": 0.12,
    "crime-prevention": 0.22,
    "foreign-residents": 0.05,
}
FOLLOWING, CONSENT, PAUSED, NO_AREA, NO_AGE = 0.95, 0.85, 0.03, 0.12, 0.20
LANGUAGE_SHARE = {
    "ja": 0.86,
    "ja-easy": 0.02,
    "en": 0.04,
    "zh-Hans": 0.035,
    "ko": 0.02,
    "vi": 0.015,
    "ne": 0.01,
}
AGE_SHARE = {
    "0-19": 0.04,
    "20-29": 0.12,
    "30-39": 0.18,
    "40-49": 0.2,
    "50-59": 0.18,
    "60-69": 0.14,
    "70+": 0.14,
}
UNIT = 4096
TARGET_REQUESTS_RATIO = 1.0
TARGET_READ_RATIO = 0.2
# The preview's read units, counted from the lists' counts, against reading every member.
TARGET_PREVIEW_REDUCTION = 20


# --- DynamoDB read capacity, by DynamoDB's rules ---------------------------------------------------


def value_size(value: dict[str, Any]) -> int:
    ((kind, data),) = value.items()
    if kind == "S":
        return len(data.encode("utf-8"))
    if kind == "N":
        digits = data.lstrip("-").replace(".", "").lstrip("0") or "0"
        return (len(digits) + 1) // 2 + 1
    if kind == "B":
        return len(data)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(item.encode("utf-8")) for item in data)
    if kind == "NS":
        return sum(value_size({"N": item}) for item in data)
    if kind == "L":
        return 3 + sum(value_size(item) + 1 for item in data)
    if kind == "M":
        return 3 + sum(len(name.encode("utf-8")) + value_size(item) + 1 for name, item in data.items())
    raise ValueError(kind)


def item_size(item: dict[str, Any]) -> int:
    return sum(len(name.encode("utf-8")) + value_size(value) for name, value in item.items())


def units(size: int, consistent: bool) -> float:
    whole = max(1, math.ceil(size / UNIT))
    return whole if consistent else whole / 2


@dataclass
class Meter:
    """Read capacity and call counts of every DynamoDB call made through botocore in this process."""

    reads: defaultdict[str, float] = field(default_factory=lambda: defaultdict(float))
    calls: Counter[str] = field(default_factory=Counter)
    items_read: Counter[str] = field(default_factory=Counter)
    active: bool = False
    cpu: float = 0.0

    prefix: str = ""

    def table(self, name: str) -> str:
        return name.removeprefix(self.prefix)

    def observe(self, operation: str, params: dict[str, Any], response: dict[str, Any]) -> None:
        if not self.active:
            return
        started = time.thread_time()
        try:
            self._observe(operation, params, response)
        finally:
            self.cpu += time.thread_time() - started  # the bench's own work: not counted as ours

    def _observe(self, operation: str, params: dict[str, Any], response: dict[str, Any]) -> None:
        self.calls[operation] += 1
        consistent = bool(params.get("ConsistentRead"))
        table = params.get("TableName", "")
        if operation in ("Query", "Scan"):
            items = response.get("Items", [])
            key = f"{operation} {self.table(table)}"
            self.reads[key] += units(sum(item_size(i) for i in items), consistent)
            self.items_read[key] += len(items)
        elif operation == "GetItem":
            self.reads[f"GetItem {self.table(table)}"] += units(
                item_size(response.get("Item", {})), consistent
            )
        elif operation == "BatchGetItem":
            for name, found in response.get("Responses", {}).items():
                read_consistently = bool(params["RequestItems"][name].get("ConsistentRead"))
                for item in found:
                    self.reads[f"BatchGetItem {self.table(name)}"] += units(
                        item_size(item), read_consistently
                    )
        elif operation == "TransactGetItems":
            for entry in response.get("Responses", []):
                self.reads["TransactGetItems"] += 2 * units(item_size(entry.get("Item", {})), True)

    @property
    def total(self) -> float:
        return sum(self.reads.values())


def install(meter: Meter) -> None:
    import botocore.client

    original = botocore.client.BaseClient._make_api_call

    def observed(self: Any, operation: str, params: dict[str, Any]) -> Any:
        response = original(self, operation, params)
        if self.meta.service_model.service_name == "dynamodb":
            meter.observe(operation, params, response)
        return response

    botocore.client.BaseClient._make_api_call = observed


# --- the population --------------------------------------------------------------------------------


def pick(rng: random.Random, shares: dict[str, float]) -> str:
    return rng.choices(list(shares), weights=list(shares.values()))[0]


def load(count: int, seed: int) -> tuple[set[str], dict[str, str]]:
    """Write `count` residents and their send lists; returns who the announcement must reach."""
    from chalicelib.domain import preferences as rules
    from chalicelib.domain.residents import ACTIVE, INACTIVE
    from chalicelib.store.models import Resident, SendListCount, SendListEntry
    from chalicelib.store.preferences import count_item

    rng = random.Random(seed)
    list_counts: Counter[tuple[str, str]] = Counter()
    areas = sorted(rules.area_ids())
    now = datetime.now(UTC)
    expected: set[str] = set()
    languages: dict[str, str] = {}
    with Resident.batch_write() as residents, SendListEntry.batch_write() as entries:
        for _ in range(count):
            user_id = "U" + uuid.UUID(int=rng.getrandbits(128)).hex
            following = rng.random() < FOLLOWING
            consent = (
                rules.Consent(rules.TERMS_VERSION, now - timedelta(days=rng.randrange(400)))
                if rng.random() < CONSENT
                else None
            )
            prefs = rules.Preferences(
                topics=frozenset(topic for topic, share in TOPIC_SHARE.items() if rng.random() < share),
                area=None if rng.random() < NO_AREA else rng.choice(areas),
                age_band=None if rng.random() < NO_AGE else pick(rng, AGE_SHARE),
                language=pick(rng, LANGUAGE_SHARE),
                consent=consent,
                paused=rng.random() < PAUSED,
            )
            segments = rules.segments(prefs, following=following)
            followed = now - timedelta(days=rng.randrange(1, 1500))
            resident = Resident(
                user_id,
                status=ACTIVE if following else INACTIVE,
                language=prefs.language,
                followed_at=followed,
                last_event_ms=int(followed.timestamp() * 1000),
                topics=sorted(prefs.topics),
                area=prefs.area,
                age_band=prefs.age_band,
                consent_terms_version=consent.terms_version if consent else None,
                consent_at=consent.accepted_at if consent else None,
                paused=prefs.paused,
                send_segments=sorted(segments),
                send_slot=rules.count_slot(prefs.language, prefs.age_band),
                preferences_version=1,
                preferences_updated_at=followed,
            )
            if not following:
                resident.unfollowed_at = now - timedelta(days=rng.randrange(1, 29))
                resident.expires_at = resident.unfollowed_at + timedelta(days=30)
            residents.save(resident)
            for segment in segments:
                entries.save(
                    SendListEntry(segment, user_id, language=prefs.language, age_band=prefs.age_band)
                )
                list_counts[(segment, rules.count_slot(prefs.language, prefs.age_band))] += 1
            if rules.segment(TOPIC, prefs.area) in segments:
                expected.add(user_id)
                languages[user_id] = prefs.language
    # The counts the preferences write path keeps with the lists (store/preferences.py).
    with SendListCount.batch_write() as counts:
        for (segment, slot), members in list_counts.items():
            counts.save(count_item(segment, slot, members))
    return expected, languages


def count_by_reading(content: Any) -> dict[str, int]:
    """How the preview counted before the lists kept counts: every matching entry read by key."""
    from chalicelib.services import announcements as service

    found: Counter[str] = Counter()
    for _, entry in service.matching(content):
        found[entry.language] += 1
    return dict(found)


def scan_residents(meter: Meter) -> dict[str, float]:
    """A full Scan of the residents table (1 MB pages), priced eventually and strongly consistent."""
    from botocore.config import Config

    from chalicelib.aws import session
    from chalicelib.config import get_settings
    from chalicelib.store.models import Resident

    # moto sorts the whole table for every Scan page: give it time (DynamoDB would not need it).
    dynamodb = session().create_client(
        "dynamodb",
        region_name=get_settings().region,
        config=Config(read_timeout=600, retries={"max_attempts": 1}),
    )
    eventual = strong = 0.0
    items = pages = 0
    start: dict[str, Any] | None = None
    meter.active = False
    while True:
        request: dict[str, Any] = {"TableName": Resident.Meta.table_name}
        if start:
            request["ExclusiveStartKey"] = start
        page = dynamodb.scan(**request)
        size = sum(item_size(item) for item in page.get("Items", []))
        eventual += units(size, False)
        strong += units(size, True)
        items += len(page.get("Items", []))
        pages += 1
        start = page.get("LastEvaluatedKey")
        if not start:
            break
    return {"eventual": eventual, "strong": strong, "items": items, "pages": pages}


# --- the run ---------------------------------------------------------------------------------------


def main() -> int:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--residents", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()

    from bench.stack import local_stack

    # A fan-out figure, whatever the hour it is run at: no quiet hours.
    with local_stack(ANNOUNCE_QUIET_HOURS="off") as stack:
        return run(args, stack.ports)


def run(args: Any, ports: Any) -> int:
    import requests

    from chalicelib.domain import announcements as rules
    from chalicelib.domain.staff import ROLE_SUPERVISOR, StaffPrincipal
    from chalicelib.services import announcements as service
    from devstack.pump import Pump

    started = time.monotonic()
    expected, languages = load(args.residents, args.seed)
    loaded = time.monotonic() - started
    print(
        f"loaded {args.residents:,} residents in {loaded:.0f} s; {len(expected):,} chose {TOPIC!r}",
        file=sys.stderr,
    )

    writer = StaffPrincipal("bench-supervisor-1", "seiso", frozenset({ROLE_SUPERVISOR}))
    approver = StaffPrincipal("bench-supervisor-2", "seiso", frozenset({ROLE_SUPERVISOR}))
    document = {
        "category": "general",
        "topic": TOPIC,
        "texts": {
            "ja": "年末年始のごみ収集日程をお知らせします。12月31日から1月3日までは収集がありません。",
            "en": "Year-end waste collection: no collection from 31 December to 3 January.",
            "zh-Hans": "年末年初垃圾收集安排：12月31日至1月3日停止收集。",
        },
        "link": "https://www.city.katsushika.lg.jp/kurashi/gomi/",
        "target": {},
    }
    announcement_id = service.create(writer, document)["id"]
    meter = Meter(prefix=os.environ["MADOGUCHI_PREFIX"] + "-")
    install(meter)

    meter.active = True
    preview_started = time.monotonic()
    preview = service.preview(writer, announcement_id)
    preview_seconds = time.monotonic() - preview_started
    meter.active = False
    preview_units = meter.total
    meter.reads.clear()
    meter.active = True
    reading_started = time.monotonic()
    by_reading = count_by_reading(service.fanout.content_of(service.store.get(announcement_id)))
    reading_seconds = time.monotonic() - reading_started
    meter.active = False
    reading_units = meter.reads.get("Query send-lists", 0.0)
    meter.reads.clear()
    meter.calls.clear()
    meter.items_read.clear()

    pending = service.submit(writer, announcement_id, {})
    assert pending["status"] == rules.PENDING_APPROVAL, pending["status"]

    pump = Pump(retry_delay=1, wait_seconds=0)
    sandbox = f"http://127.0.0.1:{ports.line}"
    requests.post(f"{sandbox}/__sandbox/reset", timeout=5).raise_for_status()

    cpu0, wall0 = time.thread_time(), time.monotonic()
    meter.active = True
    service.approve(approver, announcement_id, {})  # scheduled for now: the plan message is queued
    pump.drain(idle_rounds=2, timeout=3600)
    meter.active = False
    cpu, wall = time.thread_time() - cpu0 - meter.cpu, time.monotonic() - wall0

    report = service.show(approver, announcement_id)
    log = requests.get(
        f"{sandbox}/__sandbox/requests", params={"path": "/v2/bot/message/multicast"}, timeout=60
    ).json()["requests"]
    received = Counter(user for entry in log if entry["accepted"] for user in entry["body"]["to"])
    by_language = Counter(languages[user] for user in expected)
    minimum = rules.minimum_requests(by_language)
    scan = scan_residents(meter)

    resolution = meter.reads.get("Query send-lists", 0.0)
    figures = {
        "residents": args.residents,
        "seed": args.seed,
        "status": report["status"],
        "recipients": report["counts"]["sent"],
        "expected_recipients": len(expected),
        "share": round(len(expected) / args.residents, 3),
        "exactly_once": set(received) == expected and max(received.values(), default=0) == 1,
        "preview_recipients": preview["recipients"],
        "preview_matches_reading": {k: v for k, v in preview["byLanguage"].items() if v} == by_reading,
        "preview_read_units": round(preview_units, 1),
        "preview_read_units_by_reading": round(reading_units, 1),
        "preview_read_reduction": round(reading_units / max(preview_units, 0.5), 1),
        "preview_seconds_by_reading": round(reading_seconds, 2),
        "by_language": dict(sorted(by_language.items())),
        "line_requests": len(log),
        "line_requests_minimum": minimum,
        "read_units": round(meter.total, 1),
        "read_units_segment_resolution": round(resolution, 1),
        "read_units_by_call": {key: round(value, 1) for key, value in sorted(meter.reads.items())},
        "items_read": dict(meter.items_read),
        "dynamodb_calls": dict(sorted(meter.calls.items())),
        "scan_read_units_eventual": scan["eventual"],
        "scan_read_units_strong": scan["strong"],
        "scan_pages": scan["pages"],
        "read_ratio_vs_scan": round(meter.total / scan["eventual"], 3),
        "read_ratio_vs_scan_strong": round(meter.total / scan["strong"], 3),
        "cpu_seconds": round(cpu, 2),
        "cpu_ms_per_1000_recipients": round(1_000_000 * cpu / max(1, report["counts"]["sent"]), 1),
        "wall_seconds": round(wall, 2),
        "preview_seconds": round(preview_seconds, 2),
        "load_seconds": round(loaded, 1),
        "python": sys.version.split()[0],
        "cpus": os.cpu_count(),
    }
    print(json.dumps(figures, indent=2, ensure_ascii=False) if args.json else text(figures))
    ok = (
        figures["exactly_once"]
        and figures["preview_matches_reading"]
        and figures["preview_read_reduction"] >= TARGET_PREVIEW_REDUCTION
        and figures["line_requests"] <= figures["line_requests_minimum"] * TARGET_REQUESTS_RATIO
        and figures["read_ratio_vs_scan"] <= TARGET_READ_RATIO
    )
    return 0 if ok else 1


def text(f: dict[str, Any]) -> str:
    lines = [
        f"residents                      {f['residents']:>12,}",
        f"recipients (sent)              {f['recipients']:>12,}  ({f['share']:.1%}; exactly once: {'yes' if f['exactly_once'] else 'NO'}; preview said {f['preview_recipients']:,})",
        f"LINE multicast requests        {f['line_requests']:>12,}  (minimum {f['line_requests_minimum']:,}: sum over languages of ceil(n/500))",
        f"DynamoDB read units, the send  {f['read_units']:>12,.1f}  (segment resolution {f['read_units_segment_resolution']:,.1f})",
        f"  a full scan of residents     {f['scan_read_units_eventual']:>12,.1f}  eventually consistent ({f['scan_read_units_strong']:,.0f} strongly), {f['scan_pages']} pages",
        f"  ratio                        {f['read_ratio_vs_scan']:>12.3f}  (target <= {TARGET_READ_RATIO}; {f['read_ratio_vs_scan_strong']:.3f} against the strong scan)",
        f"our CPU per 1,000 recipients   {f['cpu_ms_per_1000_recipients']:>10.1f} ms  ({f['cpu_seconds']:.2f} s in all)",
        f"wall time of the send          {f['wall_seconds']:>11.2f} s  (approve -> sent)",
        f"preview read units             {f['preview_read_units']:>12,.1f}  (reading every member: {f['preview_read_units_by_reading']:,.1f}; {f['preview_read_reduction']:.0f}x fewer; target >= {TARGET_PREVIEW_REDUCTION}x; same figures: {'yes' if f['preview_matches_reading'] else 'NO'})",
        f"preview time                   {f['preview_seconds']:>11.2f} s  (reading every member: {f['preview_seconds_by_reading']:.2f} s)",
        "read units by call: " + ", ".join(f"{k} {v:,.1f}" for k, v in f["read_units_by_call"].items()),
        "DynamoDB calls: " + ", ".join(f"{k} {v:,}" for k, v in f["dynamodb_calls"].items()),
        "by language: " + ", ".join(f"{k} {v:,}" for k, v in f["by_language"].items()),
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
