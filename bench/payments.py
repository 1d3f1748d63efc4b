"""Payments over the local stack: intents, webhooks, confirmation, the sweep and reconciliation.

    .venv/bin/python bench/payments.py [--payments 100] [--json]

Starts the local stack in this process (moto, the LINE sandbox, the payment sandbox), then for
N juminhyo-copy submissions by post: creates a PayPay intent (POST /submissions/{r}/payments),
pays it at the sandbox, delivers its webhook to the app and runs the workers (confirm, move the
submission, receipt). Then N more are paid with every webhook lost and the sweep finds them.
Then the day is reconciled, twice.

Printed: per-request latency of the create and webhook routes (median, p95; in-process
chalice test client, so the figures are app time without API Gateway), worker time per
payment, provider requests per payment (from the sandbox's log), sweep time per intent,
reconciliation time, and the checks (every payment completed once, one receipt each).
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> int:
    import argparse

    parser = argparse.ArgumentParser()
    parser.add_argument("--payments", type=int, default=100)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    import logging

    from bench.stack import local_stack

    logging.disable(logging.WARNING)
    with local_stack() as stack:
        return run(stack, args.payments, args.json)


def run(stack, n: int, as_json: bool) -> int:
    import requests
    from chalice.test import Client

    from app import app
    from chalicelib.domain.forms import get_form
    from chalicelib.domain.payments import tokyo_day
    from chalicelib.services import payment_reconciliation, payments
    from chalicelib.store import payments as store
    from chalicelib.store.models import InboxEvent
    from devstack.pump import Pump

    pay = f"http://127.0.0.1:{stack.ports.pay}"
    pump = Pump(retry_delay=0, wait_seconds=0)
    document = {**get_form("juminhyo-copy").example, "copies": 2}
    create_ms, webhook_ms = [], []
    ids: list[str] = []
    with Client(app) as client:

        def new_intent() -> str:
            answer = json.loads(
                client.http.post(
                    "/forms/juminhyo-copy/submissions",
                    body=json.dumps(document),
                    headers={"Content-Type": "application/json"},
                ).body
            )
            started = time.perf_counter()
            response = client.http.post(
                f"/submissions/{answer['receipt']}/payments",
                body=b'{"method":"paypay"}',
                headers={"Content-Type": "application/json", "X-Access-Secret": answer["accessSecret"]},
            )
            create_ms.append((time.perf_counter() - started) * 1000)
            return json.loads(response.body)["paymentId"]

        ids = [new_intent() for _ in range(n)]
        pump.drain()  # the "created" notifications, not counted below
        requests.post(f"{pay}/__sandbox/requests", timeout=5)
        before = len(requests.get(f"{pay}/__sandbox/requests", timeout=5).json()["requests"])
        for payment_id in ids:
            requests.post(
                f"{pay}/__sandbox/paypay/payments/{payment_id}/complete", timeout=5
            ).raise_for_status()
        hooks = requests.post(f"{pay}/__sandbox/webhooks/take", timeout=5).json()["webhooks"]
        for hook in hooks:
            started = time.perf_counter()
            client.http.post(hook["path"], body=hook["body"].encode(), headers=hook["headers"])
            webhook_ms.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        cpu = time.thread_time()
        pump.drain(timeout=600)
        worker_s, worker_cpu = time.perf_counter() - started, time.thread_time() - cpu
        calls = requests.get(f"{pay}/__sandbox/requests", timeout=5).json()["requests"][before:]
        by_kind = Counter(
            f"{c['method']} {c['path'].rsplit('/', 1)[0]}" for c in calls if not c["path"].startswith("/__")
        )

        lost = [new_intent() for _ in range(n)]
        pump.drain()
        requests.post(f"{pay}/__sandbox/webhooks", json={"mode": "drop", "count": 10**6}, timeout=5)
        for payment_id in lost:
            requests.post(
                f"{pay}/__sandbox/paypay/payments/{payment_id}/complete", timeout=5
            ).raise_for_status()
        started = time.perf_counter()
        swept = payments.sweep(datetime.now(UTC) + timedelta(minutes=2))
        sweep_s = time.perf_counter() - started
        pump.drain(timeout=600)

        day = tokyo_day(datetime.now(UTC))
        started = time.perf_counter()
        first = payment_reconciliation.run(day)
        reconcile_s = time.perf_counter() - started
        second = payment_reconciliation.run(day)

    everything = ids + lost
    statuses = Counter(store.get(p).status for p in everything)
    receipts = sum(1 for p in everything if InboxEvent.get(f"payreceipt#{p}").processed_at)
    figures = {
        "payments": n,
        "create_ms_median": round(statistics.median(create_ms), 1),
        "create_ms_p95": round(pct(create_ms, 0.95), 1),
        "webhook_ms_median": round(statistics.median(webhook_ms), 1),
        "webhook_ms_p95": round(pct(webhook_ms, 0.95), 1),
        "worker_wall_ms_per_payment": round(worker_s * 1000 / n, 1),
        "worker_cpu_ms_per_payment": round(worker_cpu * 1000 / n, 1),
        "provider_requests_per_webhook_payment": round(
            len([c for c in calls if not c["path"].startswith("/__")]) / n, 2
        ),
        "provider_requests_by_kind": dict(by_kind),
        "sweep_checked": swept["checked"],
        "sweep_ms_per_intent": round(sweep_s * 1000 / max(1, swept["checked"]), 1),
        "reconcile_s": round(reconcile_s, 2),
        "reconcile_matched": first["matched"],
        "reconcile_differences": first["differences"],
        "rerun_identical": first == second,
        "statuses": dict(statuses),
        "receipts_sent": receipts,
    }
    ok = statuses == Counter({"completed": 2 * n}) and receipts == 2 * n and first == second
    if as_json:
        print(json.dumps(figures, indent=1))
    else:
        for key, value in figures.items():
            print(f"{key:42} {value}")
        print("checks:", "ok" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
