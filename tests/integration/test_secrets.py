"""In AWS the LINE secrets come from Secrets Manager or SSM (here: moto over HTTP), cached."""

from __future__ import annotations

import uuid

import boto3
import pytest

from chalicelib.config import get_settings


@pytest.fixture
def no_plain_secrets(monkeypatch, local_stack):
    monkeypatch.delenv("LINE_CHANNEL_SECRET", raising=False)
    monkeypatch.delenv("LINE_CHANNEL_ACCESS_TOKEN", raising=False)
    return monkeypatch


def test_the_channel_secret_comes_from_secrets_manager(no_plain_secrets):
    value = f"sm-{uuid.uuid4().hex}"
    arn = boto3.client("secretsmanager").create_secret(
        Name=f"line-secret-{uuid.uuid4().hex}", SecretString=value
    )["ARN"]
    no_plain_secrets.setenv("LINE_CHANNEL_SECRET_ARN", arn)
    assert get_settings().line_channel_secret == value


def test_the_access_token_comes_from_ssm_and_is_cached(no_plain_secrets):
    name = f"/madoguchi/test/line-token-{uuid.uuid4().hex}"
    ssm = boto3.client("ssm")
    ssm.put_parameter(Name=name, Value="token-1", Type="SecureString")
    no_plain_secrets.setenv("LINE_CHANNEL_ACCESS_TOKEN_ARN", name)
    assert get_settings().line_channel_access_token == "token-1"
    ssm.put_parameter(Name=name, Value="token-2", Type="SecureString", Overwrite=True)
    # Cached for SECRET_CACHE_SECONDS: a rotation is seen within minutes, not on every request.
    assert get_settings().line_channel_access_token == "token-1"


def test_a_missing_secret_is_a_clear_error(no_plain_secrets):
    no_plain_secrets.delenv("LINE_CHANNEL_SECRET_ARN", raising=False)
    with pytest.raises(RuntimeError, match="LINE_CHANNEL_SECRET is not configured"):
        _ = get_settings().line_channel_secret
