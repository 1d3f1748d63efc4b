"""How good the published wait ranges are, and how fast one worker applies ticket events.

    .venv/bin/python bench/queue_estimate.py [--days 16] [--seed 7] [--held-out-days 1] [--lose 0.05] [--never served] [--tune] [--no-stack] [--json]

Simulates `--days` business days of the main office (devstack/queue_day.py: arrivals by hour,
service times drifting from the configured ones, counters closing over lunch, no-shows, recalls,
cancellations, transfers), seeded. Days are replayed in order through the same pure rules the
worker uses (domain.queue.add/fold/apply); at every ticket's issue the range a resident would
have been shown is computed by the status page's own function (services.queues.line_estimate,
with the weekday × hour history the nightly job would have built from the earlier days) and
compared with the wait that ticket really had (issue to first call):

- coverage: the share of real waits inside the published bucket (target >= 0.80);
- MAE of the bucket's midpoint next to a naive "people ahead × configured minutes per person"
  (the line's default service time ÷ its counters) (target: <= 0.6 × the naive error);
- mean width: how wide the published ranges are (bounded ones), what coverage costs residents;
- floor: the MAE ratio of a bucket chosen knowing the real wait (the bucket it fell in): what the
  bucket edges alone cost, which no estimate can beat;
- the same figures by the estimate's basis (recent, history, default), and by the people ahead
  at the issue ("no wait" where 0-0 was shown).

The last day is held out: the estimator's constants (domain.queue_estimate.COVERAGE, FIRST_CALL,
TAIL, the bucket edges, the pace window and prior weight) were chosen on the earlier days only
(`--tune` reruns the grid over COVERAGE × FIRST_CALL on this run's earlier days and prints the
best pair).
Figures are printed for the tuning days and the held-out day separately. One day is a small sample,
and whether it is quiet or busy decides its ratio: `--held-out-days K` holds out the last K days
(each still estimated from all the days before it) and prints them pooled and one by one.

Vendors lose events (no retries, or a few): `--lose P` drops each event with probability P
(seeded) before it reaches the rules, on every day (so history is built from lossy days too);
`--never TYPE` drops every event of that type (a vendor that never sends "served", say).
A resident still takes the ticket whose issue was lost and is still scored on the range shown
then; the naive baseline counts the same people ahead, so it loses them too.

Throughput: one day's events (with 2% duplicates and 2% reordered) are handed to the real queue
worker (workers.queue.handle_batch, batches of 10) against the local stack (moto) in this
process: events per second of wall time, and per second of the worker thread's CPU. The pure
rules figure is the replay above without storage: every event folded and applied, and one range
computed at each ticket's issue (the worker computes none; the status page one per line).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


@dataclass
class Score:
    inside: int = 0
    total: int = 0
    error: float = 0.0
    naive_error: float = 0.0
    floor_error: float = 0.0
    width: float = 0.0  # of the bounded ranges
    bounded: int = 0

    def add(self, low: float, high: float | None, actual: float, naive: float) -> None:
        from chalicelib.domain import queue_estimate as estimator

        self.total += 1
        self.inside += int(low <= actual and (high is None or actual <= high))
        middle = (low + high) / 2 if high is not None else low * 1.25
        self.error += abs(middle - actual)
        self.naive_error += abs(naive - actual)
        self.floor_error += abs(estimator.bucket_middle(*estimator.bucket(actual, actual)) - actual)
        if high is not None:
            self.width += high - low
            self.bounded += 1

    def merge(self, other: Score) -> None:
        self.inside += other.inside
        self.total += other.total
        self.error += other.error
        self.naive_error += other.naive_error
        self.floor_error += other.floor_error
        self.width += other.width
        self.bounded += other.bounded

    def figures(self) -> dict[str, Any]:
        n = max(1, self.total)
        return {
            "tickets": self.total,
            "coverage": round(self.inside / n, 3),
            "mae_minutes": round(self.error / n, 2),
            "naive_mae_minutes": round(self.naive_error / n, 2),
            "mae_ratio": round(self.error / max(self.naive_error, 1e-9), 3),
            "floor_ratio": round(self.floor_error / max(self.naive_error, 1e-9), 3),
            "mean_width_minutes": round(self.width / max(1, self.bounded), 2),
        }


# Bands of people ahead at the issue; "no wait" where 0-0 was shown (nobody ahead, a counter free).
AHEAD_BANDS = ((0, "0"), (1, "1-2"), (3, "3-5"), (6, "6-10"), (11, "11+"))


def ahead_band(ahead: int, low: float, high: float | None) -> str:
    from chalicelib.domain.queue_estimate import NO_WAIT

    if (low, high) == NO_WAIT:
        return "no wait"
    return [name for least, name in AHEAD_BANDS if ahead >= least][-1]


@dataclass
class Scores:
    """One split's score, overall, by the estimate's basis and by the people ahead."""

    all: Score = field(default_factory=Score)
    by_basis: dict[str, Score] = field(default_factory=dict)
    by_ahead: dict[str, Score] = field(default_factory=dict)

    def add(self, basis: str, band: str, low: float, high: float | None, actual: float, naive: float) -> None:
        self.all.add(low, high, actual, naive)
        self.by_basis.setdefault(basis, Score()).add(low, high, actual, naive)
        self.by_ahead.setdefault(band, Score()).add(low, high, actual, naive)

    def merge(self, other: Scores) -> None:
        self.all.merge(other.all)
        for mine, theirs in ((self.by_basis, other.by_basis), (self.by_ahead, other.by_ahead)):
            for key, score in theirs.items():
                mine.setdefault(key, Score()).merge(score)

    def figures(self) -> dict[str, Any]:
        bands = ["no wait", *(name for _, name in AHEAD_BANDS)]
        return {
            **self.all.figures(),
            "by_basis": {k: v.figures() for k, v in sorted(self.by_basis.items())},
            "by_ahead": {k: self.by_ahead[k].figures() for k in bands if k in self.by_ahead},
        }


def business_days(start: date, count: int) -> list[date]:
    from chalicelib.domain.submissions import is_business_day

    found, day = [], start
    while len(found) < count:
        if is_business_day(day):
            found.append(day)
        day += timedelta(days=1)
    return found


def replay_day(
    sim: Any, history: dict[str, list[tuple[int, dict]]], score: Scores, lost: frozenset[str] = frozenset()
) -> dict[str, dict]:
    """Apply one day's events in true order, less the `lost` ones (event ids); score the range
    shown at each ticket's issue."""
    from chalicelib.domain import queue as rules
    from chalicelib.services.queues import line_estimate

    office = rules.config().office("honcho")
    assert office is not None
    keep = rules.config().settings.recent_services
    k = rules.config().settings.k_anonymity
    lives = {line.id: rules.Live(day=sim.day.isoformat()) for line in office.lines}
    stored: dict[str, list] = {}
    profiles = {
        line.id: {
            str(wd): rules.profile([h for d, h in history.get(line.id, []) if d == wd], k) for wd in range(5)
        }
        for line in office.lines
    }
    for sim_event in sim.events:
        event = rules.QueueEvent(
            "honcho", sim_event.event_id, "honcho", sim_event.line, sim_event.number, sim_event.type,
            sim_event.at, sim_event.counter,
        )  # fmt: skip
        if event.type == "issued":
            line = office.line(event.line)
            assert line is not None
            live = lives[event.line]
            ahead = rules.waiting_now(live, event.occurred_at)
            estimate = line_estimate(line, live, profiles[event.line], ahead, event.occurred_at)
            low, high = estimate.bucket
            ticket = sim.tickets[event.number]
            if ticket.called_at is not None:
                actual = (ticket.called_at - ticket.issued_at).total_seconds() / 60
                naive = ahead * line.default_service_minutes / line.counters
                score.add(estimate.basis, ahead_band(ahead, low, high), low, high, actual, naive)
        if sim_event.event_id in lost:
            continue
        events = stored.get(event.number, [])
        added = rules.add(events, event)
        if added is None:
            continue
        before = rules.fold(event.number, events) if events else None
        after = rules.fold(event.number, added)
        assert after is not None
        for name in {after.line} | ({before.line} if before else set()):
            lives[name] = rules.apply(lives[name], name, before, after, event.occurred_at, keep)
        stored[event.number] = added
    tickets = [t for n, evs in stored.items() if (t := rules.fold(n, evs)) is not None]
    return rules.hourly_figures(tickets)


def lost_events(days: list[Any], share: float, never: set[str], seed: int) -> list[frozenset[str]]:
    """Per day, the ids of the events a vendor lost: each with probability `share`, and every
    one of the types it `never` sends."""
    import random

    rng = random.Random(f"lose-{seed}")
    return [
        frozenset(e.event_id for e in sim.events if rng.random() < share or e.type in never) for sim in days
    ]


def evaluate(
    days: list[Any], held_out_days: int = 1, lost: list[frozenset[str]] | None = None
) -> tuple[Scores, Scores, dict[str, Scores]]:
    """Scores of the tuning days, of the last `held_out_days` (pooled) and of each of those;
    every day is estimated from the days before it."""
    history: dict[str, list[tuple[int, dict]]] = {}
    tuning, held_out, by_day = Scores(), Scores(), {}
    first_held_out = len(days) - held_out_days
    for index, sim in enumerate(days):
        dropped = lost[index] if lost else frozenset()
        if index < first_held_out:
            figures = replay_day(sim, history, tuning, dropped)
        else:
            day = by_day[sim.day.isoformat()] = Scores()
            figures = replay_day(sim, history, day, dropped)
            held_out.merge(day)
        for line, hours in figures.items():
            history.setdefault(line, []).append((sim.day.weekday(), hours))
    return tuning, held_out, by_day


def tune(days: list[Any], held_out_days: int, lost: list[frozenset[str]] | None = None) -> dict[str, Any]:
    """Grid search on the tuning days only: the least MAE that still covers >= 80% there in every
    band of people ahead (overall coverage alone leans on the "no wait" tickets, nearly always
    right, and would let the ranges of residents with a few people ahead miss one wait in four)."""
    from chalicelib.domain import queue_estimate as estimator

    best: dict[str, Any] | None = None
    original = estimator.COVERAGE, estimator.FIRST_CALL
    for coverage in (0.6, 0.65, 0.7, 0.75, 0.8, 0.85):
        for first_call in (0.5, 0.7, 0.85, 1.0):
            estimator.COVERAGE, estimator.FIRST_CALL = coverage, first_call
            # The held-out days are never seen.
            tuning, _, _ = evaluate(days[:-held_out_days], 0, lost[:-held_out_days] if lost else None)
            figures = tuning.all.figures()
            covered = all(band.figures()["coverage"] >= 0.8 for band in tuning.by_ahead.values())
            if covered and (best is None or figures["mae_minutes"] < best["mae_minutes"]):
                best = {"coverage_target": coverage, "first_call": first_call, **figures}
    estimator.COVERAGE, estimator.FIRST_CALL = original
    return best or {}


def throughput(sim_day: Any) -> dict[str, Any]:
    """The real worker, against the local stack in this process."""
    import os

    from bench.stack import local_stack
    from devstack.queue_day import with_faults

    # The figures are printed, not the EMF lines.
    with local_stack(POWERTOOLS_METRICS_NAMESPACE="bench", MADOGUCHI_METRICS_FILE=os.devnull):
        from chalicelib.domain import queue as rules
        from chalicelib.observability import flush_metrics
        from chalicelib.workers import queue as worker

        events = with_faults(sim_day.events, seed=1)
        records = []
        for index, e in enumerate(events):
            event = rules.QueueEvent(
                "honcho", e.event_id, "honcho", e.line, e.number, e.type, e.at, e.counter
            )
            records.append({"messageId": str(index), "body": json.dumps(event.to_dict())})
        import logging

        logging.getLogger("madoguchi").setLevel(logging.WARNING)
        started, cpu = time.perf_counter(), time.thread_time()
        failed = 0
        for start in range(0, len(records), 10):
            failed += len(worker.handle_batch(records[start : start + 10])["batchItemFailures"])
            flush_metrics()  # as the Lambda handler does after each invocation
        wall, cpu_used = time.perf_counter() - started, time.thread_time() - cpu
    return {
        "events": len(records),
        "failed": failed,
        "wall_seconds": round(wall, 2),
        "events_per_second": round(len(records) / wall, 1),
        "events_per_cpu_second": round(len(records) / max(cpu_used, 1e-9), 1),
    }


def main() -> int:
    from chalicelib.domain import queue as rules
    from chalicelib.domain import queue_estimate as estimator

    parser = argparse.ArgumentParser()
    parser.add_argument("--days", type=int, default=16)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--held-out-days", type=int, default=1, help="hold out the last K days (rolling origin)"
    )
    parser.add_argument("--lose", type=float, default=0.0, help="drop each event with this probability")
    parser.add_argument(
        "--never", action="append", default=[], choices=rules.VENDOR_TYPES, help="drop all of a type"
    )
    parser.add_argument("--tune", action="store_true")
    parser.add_argument("--no-stack", action="store_true", help="skip the worker throughput (no local stack)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    import logging

    logging.disable(logging.INFO)
    from devstack.queue_day import simulate

    held_out_days = args.held_out_days
    if not 1 <= held_out_days < args.days:
        parser.error("--held-out-days must be at least 1 and fewer than --days")
    if not 0 <= args.lose < 1:
        parser.error("--lose must be at least 0 and below 1")
    dates = business_days(date(2027, 1, 12), args.days)
    days = [simulate(args.seed, day) for day in dates]
    result: dict[str, Any] = {
        "seed": args.seed,
        "tuning_days": [d.isoformat() for d in dates[:-held_out_days]],
        "held_out_days": [d.isoformat() for d in dates[-held_out_days:]],
    }
    lost = lost_events(days, args.lose, set(args.never), args.seed) if args.lose or args.never else None
    if lost:
        result["lost_events"] = sum(map(len, lost))
    if args.tune:
        result["grid_best_on_tuning_days"] = tune(days, held_out_days, lost)
    tuning, held_out, by_day = evaluate(days, held_out_days, lost)
    result["constants"] = {
        "coverage_target": estimator.COVERAGE,
        "first_call": estimator.FIRST_CALL,
        "pace_window_minutes": estimator.PACE_WINDOW_MINUTES,
        "prior_calls": estimator.PRIOR_CALLS,
        "bucket_edges": estimator.BUCKET_EDGES,
    }
    result["tuning"] = tuning.figures()
    result["held_out"] = held_out.figures()
    if held_out_days > 1:
        result["held_out_by_day"] = {day: scores.all.figures() for day, scores in by_day.items()}
    started = time.perf_counter()
    events = sum(len(d.events) for d in days)
    evaluate(days)
    result["pure_rules_events_per_second"] = round(events / (time.perf_counter() - started))
    if not args.no_stack:
        result["worker"] = throughput(days[-1])
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        for key, value in result.items():
            print(f"{key}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
