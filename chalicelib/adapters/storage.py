"""S3: attachments. Residents upload straight to S3 through presigned POSTs; staff read through
short-lived presigned GETs. The API never streams a file through Lambda on the way in."""

from __future__ import annotations

from typing import Any

from chalicelib.aws import client
from chalicelib.config import get_settings
from chalicelib.resources import ATTACHMENTS_BUCKET


class ObjectMissing(Exception):
    pass


def _bucket() -> str:
    return get_settings().name(ATTACHMENTS_BUCKET)


def presigned_post(key: str, content_type: str, max_bytes: int, expires_seconds: int) -> dict[str, Any]:
    """URL and form fields for one upload of exactly this key and content type, at most max_bytes."""
    return client("s3").generate_presigned_post(
        Bucket=_bucket(),
        Key=key,
        Fields={"Content-Type": content_type},
        Conditions=[{"Content-Type": content_type}, ["content-length-range", 1, max_bytes]],
        ExpiresIn=expires_seconds,
    )


def presigned_get(key: str, expires_seconds: int) -> str:
    return client("s3").generate_presigned_url(
        "get_object", Params={"Bucket": _bucket(), "Key": key}, ExpiresIn=expires_seconds
    )


def read(key: str, max_bytes: int) -> tuple[bytes, str | None]:
    """The object's bytes and stored content type; ObjectMissing if absent or larger than max_bytes."""
    from botocore.exceptions import ClientError

    try:
        response = client("s3").get_object(Bucket=_bucket(), Key=key)
    except ClientError as error:
        if error.response["Error"]["Code"] in ("NoSuchKey", "404"):
            raise ObjectMissing(key) from None
        raise
    if response["ContentLength"] > max_bytes:
        raise ObjectMissing(key)
    return response["Body"].read(), response.get("ContentType")


def write(key: str, data: bytes, content_type: str) -> None:
    client("s3").put_object(
        Bucket=_bucket(), Key=key, Body=data, ContentType=content_type, ServerSideEncryption="AES256"
    )


def restamp(key: str, tags: dict[str, str]) -> bool:
    """Write the object again in place with these tags: S3 lifecycle counts an object's age from
    its last write, so a rule on a tag then counts from now. False if the object is not there."""
    from urllib.parse import urlencode

    from botocore.exceptions import ClientError

    s3 = client("s3")
    try:
        head = s3.head_object(Bucket=_bucket(), Key=key)
    except ClientError as error:
        if error.response["Error"]["Code"] in ("NoSuchKey", "404"):
            return False
        raise
    s3.copy_object(
        Bucket=_bucket(),
        Key=key,
        CopySource={"Bucket": _bucket(), "Key": key},
        MetadataDirective="REPLACE",  # a copy onto itself must change something besides its tags
        ContentType=head.get("ContentType") or "application/octet-stream",
        TaggingDirective="REPLACE",
        Tagging=urlencode(tags),
        ServerSideEncryption="AES256",
    )
    return True


def delete(key: str) -> None:
    client("s3").delete_object(Bucket=_bucket(), Key=key)
