"""`make event E=events/...`: send a sample event into the running local stack.

- events/forms/<form id>.json are posted to that form's submission route, as its web page would.
- events/line/*.json go to the API as LINE would send them, signed with the local channel
  secret, from `--line-user` (or LINE_USER=U...) when given, else the sample's user; each event
  gets a fresh webhookEventId, timestamp and replyToken (so repeating the command is a new
  event, not a dropped duplicate, answered by a reply as LINE's would be: the sandbox takes each
  reply token once) unless --as-is is given. A postback whose data reads
  `sign:<action>[:<value>]` is sent with that action signed, as our buttons carry it.
- events/queue/<source>_*.json go to POST /queue/webhooks/<source> in madoguchi's own format,
  signed with QUEUE_WEBHOOK_SECRET; each gets a fresh id and the time now unless --as-is is given.
- events/payments/paypay_*.json go to the PayPay webhook (unsigned, as PayPay sends them);
  events/payments/stripe_*.json to the Stripe webhook with a fresh event id, signed
  (`Stripe-Signature: t=,v1=`) with the local webhook secret. `--payment ID` (or PAYMENT=ID)
  names the payment they are about, e.g. one made with `POST /submissions/{receipt}/payments`.
- events/sqs/*.json put each record's body on its queue in moto; the pump delivers it.
- events/schedule/NAME.json run the scheduled job NAME once, as EventBridge would.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from devstack.env import Ports, local_environ, metrics_to_file


def new_event_id() -> str:
    """A ULID-like id (26 chars of Crockford base32), as LINE's webhookEventId is."""
    alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
    value = (int(time.time() * 1000) << 80) | int.from_bytes(os.urandom(10), "big")
    return "".join(alphabet[(value >> (5 * i)) & 31] for i in reversed(range(26)))


KINDS = ("line", "forms", "payments", "queue", "sqs", "schedule")


def kind_of(path: Path) -> str:
    """Where a sample goes: the nearest folder named as one of KINDS (events/line/, or a copy of
    your own under a folder named line/)."""
    return next((parent.name for parent in path.parents if parent.name in KINDS), path.parent.name)


def prepare(
    path: Path, *, as_is: bool = False, payment: str | None = None, line_user: str | None = None
) -> tuple[str, bytes, dict[str, str]]:
    """The route, the exact body bytes and the headers to send for a sample file."""
    document = json.loads(path.read_text(encoding="utf-8"))
    kind = kind_of(path)
    if kind == "payments":
        return _payment_webhook(path, document, as_is=as_is, payment=payment)
    if kind == "forms":
        # events/forms/<form id>.json is the answers of one form, as its web page would post them.
        body = json.dumps(document, ensure_ascii=False).encode()
        return f"/forms/{path.stem}/submissions", body, {"Content-Type": "application/json; charset=utf-8"}
    if kind == "queue":
        from datetime import UTC, datetime

        from chalicelib.domain.queue_webhooks import sign_madoguchi

        if not as_is:
            document["id"] = f"{document['id']}-{new_event_id()}"
            document["at"] = datetime.now(UTC).isoformat(timespec="seconds")
        body = json.dumps(document, ensure_ascii=False).encode()
        signature = sign_madoguchi(os.environ["QUEUE_WEBHOOK_SECRET"], body, int(time.time()))
        source = path.stem.split("_", 1)[0]
        return (
            f"/queue/webhooks/{source}",
            body,
            {"Content-Type": "application/json", "X-Madoguchi-Signature": signature},
        )
    if kind != "line":
        raise SystemExit(
            f"don't know where to send {path}: put it in a folder named one of {', '.join(KINDS)}"
        )
    from chalicelib.domain.line_webhook import sign

    for event in document.get("events", []):
        if line_user and isinstance(event.get("source"), dict):
            event["source"]["userId"] = line_user  # another resident than the samples' one
    if not as_is:
        for event in document.get("events", []):
            event["webhookEventId"] = new_event_id()
            event["timestamp"] = int(time.time() * 1000)
            if "replyToken" in event:
                event["replyToken"] = secrets.token_hex(16)
            _sign_postback(event)
    body = json.dumps(document, ensure_ascii=False).encode()
    secret = os.environ["LINE_CHANNEL_SECRET"]
    headers = {"Content-Type": "application/json; charset=utf-8", "X-Line-Signature": sign(secret, body)}
    return "/line/webhook", body, headers


def _payment_webhook(path: Path, document: dict, *, as_is: bool, payment: str | None):
    headers = {"Content-Type": "application/json"}
    if path.stem.startswith("paypay"):
        if payment:
            document["merchant_order_id"] = payment
        return "/payments/webhooks/paypay", json.dumps(document).encode(), headers
    if payment:
        document["data"]["object"]["client_reference_id"] = payment
        document["data"]["object"]["metadata"] = {"payment_id": payment}
    if not as_is:
        document["id"] = "evt_" + new_event_id()
        document["created"] = int(time.time())
    from devstack.pay_sandbox import stripe_signature

    body = json.dumps(document).encode()
    headers["Stripe-Signature"] = stripe_signature(
        os.environ["STRIPE_WEBHOOK_SECRET"], body, int(time.time())
    )
    return "/payments/webhooks/stripe", body, headers


def _sign_postback(event: dict) -> None:
    from chalicelib.domain import postbacks

    postback = event.get("postback") or {}
    data = postback.get("data")
    if isinstance(data, str) and data.startswith("sign:"):
        action, _, value = data.removeprefix("sign:").partition(":")
        postback["data"] = postbacks.sign(os.environ["LINE_CHANNEL_SECRET"], action, value)


def enqueue(path: Path) -> int:
    """Put the bodies of a sample SQS event on the queue its eventSourceARN names."""
    import boto3

    from chalicelib.adapters.queues import queue_url
    from chalicelib.resources import QUEUES

    sqs = boto3.client("sqs")
    for record in json.loads(path.read_text(encoding="utf-8"))["Records"]:
        arn_queue = record["eventSourceARN"].rsplit(":", 1)[-1]
        queue = next((q for q in QUEUES if arn_queue.endswith(f"-{q.name}")), None)
        if queue is None:
            raise SystemExit(f"no queue in chalicelib/resources.py matches {arn_queue}")
        sqs.send_message(QueueUrl=queue_url(queue.name), MessageBody=record["body"])
        print(f"queued on {queue.name}: {record['messageId']}")
    return 0


def fire(path: Path) -> int:
    from devstack.pump import Pump

    print(Pump().fire(path.stem))
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", type=Path)
    parser.add_argument("--as-is", action="store_true", help="send ids and timestamps unchanged")
    parser.add_argument(
        "--payment", default=os.environ.get("PAYMENT"), help="the payment a provider sample is about"
    )
    parser.add_argument(
        "--line-user", default=os.environ.get("LINE_USER"), help="the LINE user a LINE sample comes from"
    )
    args = parser.parse_args()
    if not args.file.is_file():
        print(f"no such file: {args.file}")
        return 2
    ports = Ports.from_env()
    os.environ.update(local_environ(ports))
    metrics_to_file()
    kind = kind_of(args.file)
    if kind == "sqs":
        return enqueue(args.file)
    if kind == "schedule":
        return fire(args.file)
    route, body, headers = prepare(
        args.file, as_is=args.as_is, payment=args.payment, line_user=args.line_user
    )
    request = urllib.request.Request(f"http://127.0.0.1:{ports.api}{route}", data=body, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            status, answer = response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        status, answer = error.code, error.read().decode()
    except urllib.error.URLError as error:
        print(f"cannot reach the API on port {ports.api} ({error.reason}); is `make run` running?")
        return 1
    print(f"POST {route} -> {status} {answer}")
    return 0 if status < 400 else 1


if __name__ == "__main__":
    sys.exit(main())
