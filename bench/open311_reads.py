"""What one public Open311 listing request reads: 90 days of a ward's reports.

    .venv/bin/python bench/open311_reads.py [--reports 6000] [--seed 1] [--json]   # ~2 minutes

Starts the local stack in this process (moto), stores `--reports` reports spread over the last 90
days (road 60 %, street lights 25 %, dumping 15 %; a report is closed with a chance that grows with
its age, so the newest are mostly open), then asks `services.open311.requests` (what the route
runs) for pages a client asks for: no filter, one service, a status, both, and deep pages.

Printed per request: the reports it listed, the index items it read (the ScannedCount of its
Queries, observed at the botocore client) and, for comparison, what the filter-after-reading
listing it replaces read for the same page: the `by-kind` partition in pages of 200 until the
page was full or the range ended (computed from the stored reports, newest first).
"""

from __future__ import annotations

import json
import random
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SHARES = {"road-park-damage": 0.60, "streetlight-outage": 0.25, "illegal-dumping": 0.15}
ASKED = [
    {},
    {"service_code": "dumping"},
    {"service_code": "streetlight,dumping"},
    {"status": "open"},
    {"status": "closed"},
    {"status": "closed", "service_code": "dumping"},
    {"page": "20"},
    {"service_code": "dumping", "page": "10", "page_size": "100"},
    {"status": "open", "page": "20"},
]


def load(count: int, seed: int, now: datetime) -> list[Any]:
    """`count` reports over the 90 days before `now`, written in batches; newest first."""
    from chalicelib.domain import submissions as rules
    from chalicelib.domain.forms import get_form
    from chalicelib.store import submissions as store
    from chalicelib.store.models import Submission

    rng = random.Random(seed)
    items = []
    with Submission.batch_write() as batch:
        for _ in range(count):
            form = get_form(rng.choices(list(SHARES), weights=list(SHARES.values()))[0])
            created_at = now - timedelta(seconds=rng.uniform(60, 89 * 86400))
            age_days = (now - created_at).days
            closed = rng.random() < min(0.95, age_days / 20)
            receipt = rules.new_receipt(created_at)
            item = Submission(
                receipt,
                form_id=form.id,
                kind=form.kind,
                section=form.section,
                status=rules.COMPLETED if closed else rules.IN_REVIEW,
                channel="web",
                created_at=created_at,
                created_key=store.created_key(created_at, receipt),
                updated_at=created_at,
                data={},
                secret_hash=rules.hash_secret(rules.new_access_secret(), rules.new_salt(), n=2),
            )
            batch.save(item)
            items.append(item)
    return sorted(items, key=lambda item: item.created_key, reverse=True)


def filtered_after_reading(items: list[Any], params: dict[str, str]) -> int:
    """Index items the replaced listing read for this page: pages of 200 of every report in the
    range, the filters checked on each, until the page was full."""
    from chalicelib.services import open311

    codes = params.get("service_code")
    forms = {open311._report_forms_by_code()[code].id for code in codes.split(",")} if codes else None
    wanted = {"open": "in_review", "closed": "completed"}.get(params.get("status", ""))
    size = int(params.get("page_size", open311.DEFAULT_PAGE_SIZE))
    reach = int(params.get("page", "1")) * size
    found = 0
    for position, item in enumerate(items, start=1):
        if (forms is None or item.form_id in forms) and (wanted is None or item.status == wanted):
            found += 1
            if found == reach:
                return min(-(-position // 200) * 200, len(items))
    return len(items)


def run(args: Any) -> list[dict[str, Any]]:
    import botocore.client

    from chalicelib.services import open311

    now = datetime.now(UTC)
    items = load(args.reports, args.seed, now)
    read = {"items": 0}
    original = botocore.client.BaseClient._make_api_call

    def observed(self: Any, operation: str, params: dict[str, Any]) -> Any:
        response = original(self, operation, params)
        if operation == "Query":
            read["items"] += response["ScannedCount"]
        return response

    botocore.client.BaseClient._make_api_call = observed
    rows = []
    for params in ASKED:
        read["items"] = 0
        listing = open311.requests(params, now=now)
        rows.append(
            {
                "request": "&".join(f"{key}={value}" for key, value in params.items()) or "(no filter)",
                "listed": len(listing.requests),
                "read": read["items"],
                "read_before": filtered_after_reading(items, params),
                "link": listing.next_cursor is not None,
            }
        )
    return rows


def main() -> int:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=int, default=6000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()

    from bench.stack import local_stack

    with local_stack():
        rows = run(args)
    if args.json:
        print(json.dumps(rows, indent=1))
        return 0
    print(f"{args.reports:,} reports over 90 days; items read per request (now / filtered after reading)")
    for row in rows:
        more = "  Link: next" if row["link"] else ""
        print(
            f"  {row['request']:<45} listed {row['listed']:>4}  read {row['read']:>5} / {row['read_before']:>5}{more}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
