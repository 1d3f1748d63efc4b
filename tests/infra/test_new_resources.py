"""A table or queue added to the code reaches the template with no change in infra/."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.infra.conftest import resources, synthesize


def test_a_model_and_a_queue_added_in_code_appear_in_the_template(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pynamodb.attributes import TTLAttribute, UnicodeAttribute
    from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
    from pynamodb.models import Model

    from chalicelib import resources as app_resources
    from chalicelib.config import get_settings
    from chalicelib.store import models

    class ByOwner(GlobalSecondaryIndex):
        class Meta:
            index_name = "by-owner"
            projection = AllProjection()

        owner = UnicodeAttribute(hash_key=True)

    class Widget(Model):
        class Meta(models._Meta):
            table_name = get_settings().name("widgets")

        widget_id = UnicodeAttribute(hash_key=True)
        version_key = UnicodeAttribute(range_key=True)
        owner = UnicodeAttribute()
        expires_at = TTLAttribute(null=True)
        by_owner = ByOwner()

    monkeypatch.setattr(models, "MODELS", (*models.MODELS, Widget))
    monkeypatch.setattr(
        app_resources,
        "QUEUES",
        (*app_resources.QUEUES, app_resources.QueueSpec("widget-jobs", max_receive_count=3)),
    )
    monkeypatch.setattr(app_resources, "BUCKETS", (*app_resources.BUCKETS, "widget-files"))

    template = synthesize(tmp_path, stages=("dev",), nag=False).templates["dev"]

    tables = {
        r["Properties"]["TableName"]: r["Properties"]
        for r in resources(template, "AWS::DynamoDB::Table").values()
    }
    widget = tables["madoguchi-dev-widgets"]
    assert widget["KeySchema"] == [
        {"AttributeName": "widget_id", "KeyType": "HASH"},
        {"AttributeName": "version_key", "KeyType": "RANGE"},
    ]
    assert widget["GlobalSecondaryIndexes"][0]["IndexName"] == "by-owner"
    assert widget["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    assert widget["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}

    queues = {
        r["Properties"]["QueueName"]: (k, r["Properties"])
        for k, r in resources(template, "AWS::SQS::Queue").items()
    }
    dlq_id, _ = queues["madoguchi-dev-widget-jobs-dlq"]
    assert queues["madoguchi-dev-widget-jobs"][1]["RedrivePolicy"]["maxReceiveCount"] == 3
    alarmed = {
        d["Value"]["Fn::GetAtt"][0]
        for a in resources(template, "AWS::CloudWatch::Alarm").values()
        for d in a["Properties"].get("Dimensions", [])
        if isinstance(d["Value"], dict) and "Fn::GetAtt" in d["Value"]
    }
    assert dlq_id in alarmed
    buckets = {r["Properties"].get("BucketName") for r in resources(template, "AWS::S3::Bucket").values()}
    assert "madoguchi-dev-widget-files" in buckets
