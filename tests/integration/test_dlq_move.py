"""`make dlq-move` (devstack/dlq_move.py) against moto's SQS."""

from __future__ import annotations

import uuid


def test_make_dlq_move_puts_a_dead_letter_back_on_its_queue_once(client):
    """The runbook's local move, without the AWS CLI (which the project does not install)."""
    from chalicelib.adapters.queues import queue_url
    from chalicelib.aws import client as aws_client
    from devstack import dlq_move

    sqs, queue = aws_client("sqs"), queue_url("notifications")
    body = f'{{"receipt": "KTS-2612-ABCD", "note": "a \\"quoted\\" body", "id": "{uuid.uuid4()}"}}'
    sqs.send_message(QueueUrl=queue_url("notifications-dlq"), MessageBody=body)
    assert dlq_move.move("notifications") >= 1  # with any an earlier test left there
    ours, theirs = [], []
    while not ours:  # other tests' messages may wait there too: find ours, then put theirs back
        found = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])
        if not found:
            break
        ours += [message for message in found if message["Body"] == body]
        theirs += [message for message in found if message["Body"] != body]
    for message in theirs:
        sqs.change_message_visibility(
            QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
        )
    assert len(ours) == 1
    sqs.delete_message(QueueUrl=queue, ReceiptHandle=ours[0]["ReceiptHandle"])
    assert dlq_move.move("notifications") == 0  # nothing left behind to move twice
