"""`make dlq-move` (devstack/dlq_move.py) against moto's SQS."""

from __future__ import annotations


def test_make_dlq_move_puts_a_dead_letter_back_on_its_queue_once(client):
    """The runbook's local move, without the AWS CLI (which the project does not install)."""
    from chalicelib.adapters.queues import queue_url
    from chalicelib.aws import client
    from devstack import dlq_move

    sqs = client("sqs")
    body = '{"receipt": "KTS-2612-ABCD", "note": "a \\"quoted\\" body"}'
    sqs.send_message(QueueUrl=queue_url("notifications-dlq"), MessageBody=body)
    assert dlq_move.move("notifications") == 1
    found = sqs.receive_message(QueueUrl=queue_url("notifications"), MaxNumberOfMessages=10)["Messages"]
    assert [message["Body"] for message in found] == [body]
    for message in found:
        sqs.delete_message(QueueUrl=queue_url("notifications"), ReceiptHandle=message["ReceiptHandle"])
    assert dlq_move.move("notifications") == 0  # nothing left behind to move twice
