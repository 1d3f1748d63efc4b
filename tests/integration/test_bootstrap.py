"""The local stack holds exactly what the application's definitions describe."""

from __future__ import annotations

import json

import boto3
import pytest
from pynamodb.attributes import TTLAttribute

from chalicelib.config import get_settings
from chalicelib.resources import BUCKETS, QUEUES, SCHEDULE_GROUP
from chalicelib.store.models import MODELS
from devstack.bootstrap import bootstrap


@pytest.fixture(scope="module")
def settings(local_stack):
    bootstrap()  # a second run on a ready stack changes nothing and does not fail
    return get_settings()


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_tables_have_their_keys_indexes_and_ttl(settings, model):
    dynamodb = boto3.client("dynamodb")
    table = dynamodb.describe_table(TableName=model.Meta.table_name)["Table"]
    schema = model._get_schema()
    assert {(k["AttributeName"], k["KeyType"]) for k in table["KeySchema"]} == {
        (k["AttributeName"], k["KeyType"]) for k in schema["key_schema"]
    }
    assert {index["IndexName"] for index in table.get("GlobalSecondaryIndexes", [])} == {
        index["index_name"] for index in schema["global_secondary_indexes"]
    }
    ttl_attributes = [a.attr_name for a in model.get_attributes().values() if isinstance(a, TTLAttribute)]
    ttl = dynamodb.describe_time_to_live(TableName=model.Meta.table_name)["TimeToLiveDescription"]
    if ttl_attributes:
        assert ttl["TimeToLiveStatus"] == "ENABLED"
        assert ttl["AttributeName"] == ttl_attributes[0]


@pytest.mark.parametrize("queue", QUEUES, ids=lambda q: q.name)
def test_queues_have_their_dead_letter_queue(settings, queue):
    sqs = boto3.client("sqs")
    url = sqs.get_queue_url(QueueName=settings.name(queue.name))["QueueUrl"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    redrive = json.loads(attributes["RedrivePolicy"])
    assert redrive["deadLetterTargetArn"].endswith(":" + settings.name(queue.dlq_name))
    assert int(redrive["maxReceiveCount"]) == queue.max_receive_count
    assert int(attributes["VisibilityTimeout"]) == queue.visibility_timeout


def test_buckets_ses_sender_and_schedule_group_exist(settings):
    names = {bucket["Name"] for bucket in boto3.client("s3").list_buckets()["Buckets"]}
    assert {settings.name(bucket) for bucket in BUCKETS} <= names
    identities = boto3.client("ses").list_identities()["Identities"]
    assert settings.ses_sender in identities
    groups = boto3.client("scheduler").list_schedule_groups()["ScheduleGroups"]
    assert settings.name(SCHEDULE_GROUP) in {group["Name"] for group in groups}
