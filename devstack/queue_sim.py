"""`make queue-sim`: a ticket machine replaying a realistic day through the signed webhook.

    make queue-sim                       # today's day at 60x (08:30-17:00 in about 8.5 minutes)
    make queue-sim SPEED=0               # as fast as it can post: the day so far, ending now at the latest
    .venv/bin/python -m devstack.queue_sim --speed 120 --seed 3 --duplicates 0.05 --reorder 0.05

The day comes from devstack/queue_day.py (arrivals by hour, service times by line, counters
opening and closing, no-shows, recalls, cancellations, transfers). Each event is posted to
`POST /queue/webhooks/honcho` in madoguchi's own format, signed with QUEUE_WEBHOOK_SECRET
(X-Madoguchi-Signature), a few of them twice and a few out of order, as real machines do.
With a speed, the day is compressed onto the wall clock from now, so the status page
(`GET /queue/status`, and the page at /queue) moves while you watch. With speed 0 the events keep
their clock times, moved earlier where needed so that none is dated after now (the webhook
refuses events from the future).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from chalicelib.domain import queue as rules
from chalicelib.domain.queue_webhooks import sign_madoguchi
from devstack.env import LOCAL_QUEUE_SECRET
from devstack.queue_day import simulate, with_faults


def post(api: str, source: str, secret: str, document: dict) -> tuple[int, dict]:
    body = json.dumps(document, ensure_ascii=False).encode()
    request = urllib.request.Request(
        f"{api}/queue/webhooks/{source}",
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "X-Madoguchi-Signature": sign_madoguchi(secret, body, int(time.time())),
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def _before(now: datetime, times: list[datetime]) -> Callable[[datetime], datetime]:
    """Speed 0: each event's clock time, moved so that none is after `now` (the latest lands on it)
    and, early in the day, squeezed so that none falls on the day before (tickets are keyed by day)."""
    if not times or max(times) <= now:
        return lambda at: at
    first, last = min(times), max(times)
    midnight = now.astimezone(rules.TOKYO).replace(hour=0, minute=0, second=0, microsecond=0)
    scale = min(1.0, (now - midnight) / (last - first)) if last > first else 1.0
    return lambda at: now - (last - at) * scale


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    port = os.environ.get("MADOGUCHI_API_PORT", "8000")
    parser.add_argument("--api", default=f"http://127.0.0.1:{port}")
    parser.add_argument("--source", default="honcho")
    parser.add_argument("--speed", type=float, default=60.0, help="times real time; 0: no waiting")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--duplicates", type=float, default=0.02)
    parser.add_argument("--reorder", type=float, default=0.02)
    parser.add_argument("--limit", type=int, default=0, help="stop after this many events (0: the whole day)")
    args = parser.parse_args(argv)

    secret = os.environ.get("QUEUE_WEBHOOK_SECRET") or LOCAL_QUEUE_SECRET
    source = rules.config().source(args.source)
    if source is None or source.adapter != "madoguchi":
        print(f"source {args.source!r} is not configured with madoguchi's own format", file=sys.stderr)
        return 2
    office = rules.config().office(source.office)
    started = datetime.now(UTC)
    today = started.astimezone(rules.TOKYO).date()
    day = simulate(args.seed, today, office)
    opens = day.events[0].at if day.events else started
    events = with_faults(day.events, seed=args.seed, duplicate=args.duplicates, reorder=args.reorder)
    if args.limit:
        events = events[: args.limit]
    placed = _before(started, [event.at for event in events])
    print(
        f"{len(day.tickets)} tickets, {len(events)} events at {args.speed or 'full'} speed → {args.api}",
        flush=True,
    )
    counts = {"accepted": 0, "duplicate": 0, "refused": 0}
    wall_start = time.monotonic()
    for index, event in enumerate(events, start=1):
        if args.speed > 0:
            offset = (event.at - opens).total_seconds() / args.speed
            delay = offset - (time.monotonic() - wall_start)
            if delay > 0:
                time.sleep(delay)
            at = started + timedelta(seconds=offset)
        else:
            at = placed(event.at)
        document = {
            "id": event.event_id,
            "type": event.type,
            "office": office.id if office else source.office,
            "line": event.line,
            "ticket": event.number,
            "at": at.astimezone(rules.TOKYO).isoformat(timespec="seconds"),
        }
        if event.counter:
            document["counter"] = event.counter
        status, answer = post(args.api, args.source, secret, document)
        if status != 200:
            counts["refused"] += 1
            print(f"refused ({status}): {answer}", file=sys.stderr)
        elif answer.get("duplicate"):
            counts["duplicate"] += 1
        else:
            counts["accepted"] += 1
        if index % 100 == 0:
            clock = event.at.astimezone(rules.TOKYO).strftime("%H:%M")
            print(f"  {index}/{len(events)} sent (simulated {clock}): {counts}", flush=True)
    print(f"done: {counts}", flush=True)
    return 0 if counts["refused"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
