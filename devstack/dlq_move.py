"""`make dlq-move QUEUE=notifications`: move a dead-letter queue's messages back to its queue on
the local stack (moto has no message move task), as the runbook's AWS move does.

Each message is sent to the queue with its attributes, then deleted from the DLQ: never deleted
first, so a failure between the two leaves it where it was (moved twice at worst, which every
worker's inbox ledger absorbs).
"""

from __future__ import annotations

import argparse
import os
import sys

from chalicelib.resources import QUEUES
from devstack import preflight
from devstack.env import Ports, local_environ


def move(queue: str) -> int:
    from chalicelib.adapters.queues import queue_url
    from chalicelib.aws import client

    sqs = client("sqs")
    source, target = queue_url(f"{queue}-dlq"), queue_url(queue)
    moved = 0
    while True:
        found = sqs.receive_message(
            QueueUrl=source, MaxNumberOfMessages=10, MessageAttributeNames=["All"], WaitTimeSeconds=0
        ).get("Messages", [])
        if not found:
            return moved
        for message in found:
            attributes = message.get("MessageAttributes")
            sqs.send_message(
                QueueUrl=target,
                MessageBody=message["Body"],
                **({"MessageAttributes": attributes} if attributes else {}),
            )
            sqs.delete_message(QueueUrl=source, ReceiptHandle=message["ReceiptHandle"])
            moved += 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("queue", nargs="?", default="")
    args = parser.parse_args(argv)
    queue = preflight.require_choice(
        "queue", args.queue, (spec.name for spec in QUEUES), "make dlq-move QUEUE=<queue>"
    )
    ports = Ports.from_env()
    os.environ.update(local_environ(ports))
    preflight.require_stack("moto: SQS", ports.aws, "MADOGUCHI_AWS_PORT")
    moved = preflight.one_line(lambda: move(queue), f"moving {queue}-dlq")
    print(f"{moved} message(s) moved from {queue}-dlq back to {queue}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
