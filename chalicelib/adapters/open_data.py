"""S3: the open-data bucket, where aggregate data without personal data is published."""

from __future__ import annotations

from chalicelib.aws import client
from chalicelib.config import get_settings
from chalicelib.resources import OPEN_DATA_BUCKET


def bucket() -> str:
    return get_settings().name(OPEN_DATA_BUCKET)


def put(key: str, body: bytes, content_type: str) -> None:
    client("s3").put_object(Bucket=bucket(), Key=key, Body=body, ContentType=content_type)


def get(key: str) -> bytes:
    return client("s3").get_object(Bucket=bucket(), Key=key)["Body"].read()
