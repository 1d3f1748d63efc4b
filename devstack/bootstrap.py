"""Create every table, queue, bucket and the SES sender in the local AWS (moto).

Everything comes from the application's own definitions (PynamoDB models and
chalicelib/resources.py), so the local stack cannot drift from what the code expects.
Safe to run again: what exists is left alone.
"""

from __future__ import annotations

import json

import boto3

from chalicelib.config import get_settings
from chalicelib.resources import BUCKETS, QUEUES, SCHEDULE_GROUP
from chalicelib.store.models import MODELS


def bootstrap() -> None:
    settings = get_settings()
    for model in MODELS:
        model.create_table(wait=True, billing_mode="PAY_PER_REQUEST")

    sqs = boto3.client("sqs", region_name=settings.region)
    for queue in QUEUES:
        dlq_url = sqs.create_queue(
            QueueName=settings.name(queue.dlq_name),
            Attributes={"MessageRetentionPeriod": str(queue.dlq_retention_seconds)},
        )["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        sqs.create_queue(
            QueueName=settings.name(queue.name),
            Attributes={
                "VisibilityTimeout": str(queue.visibility_timeout),
                "MessageRetentionPeriod": str(queue.retention_seconds),
                "MaximumMessageSize": str(queue.max_message_bytes),
                "RedrivePolicy": json.dumps(
                    {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(queue.max_receive_count)}
                ),
            },
        )

    s3 = boto3.client("s3", region_name=settings.region)
    existing = {bucket["Name"] for bucket in s3.list_buckets().get("Buckets", [])}
    for bucket in BUCKETS:
        if settings.name(bucket) not in existing:
            s3.create_bucket(
                Bucket=settings.name(bucket),
                CreateBucketConfiguration={"LocationConstraint": settings.region},
            )

    boto3.client("ses", region_name=settings.region).verify_email_identity(EmailAddress=settings.ses_sender)

    scheduler = boto3.client("scheduler", region_name=settings.region)
    groups = {group["Name"] for group in scheduler.list_schedule_groups().get("ScheduleGroups", [])}
    if settings.name(SCHEDULE_GROUP) not in groups:
        scheduler.create_schedule_group(Name=settings.name(SCHEDULE_GROUP))


if __name__ == "__main__":
    bootstrap()
    print("local AWS resources are ready")
