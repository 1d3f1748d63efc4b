"""Secrets in AWS: every secret infra/ creates is read from `NAME_ARN` through Secrets Manager (moto
in process here), by the accessor the code uses, with the same re-read period as the LINE token."""

from __future__ import annotations

import uuid

import boto3
import pytest
from aws_lambda_powertools.utilities import parameters
from moto import mock_aws

from chalicelib import access, config
from chalicelib.adapters import paypay, stripe_checkout
from chalicelib.config import Settings, get_settings


def _secret_properties() -> dict[str, str]:
    """Secret name -> the Settings property the code reads it through (found by asking each)."""
    names = [n for n, v in vars(Settings).items() if isinstance(v, property) and n != "queue_page_url"]
    found = {}
    with pytest.MonkeyPatch.context() as env:
        for secret in access.SECRETS:
            env.setenv(secret, f"plain-{secret}")
        for name in names:
            found[getattr(get_settings(), name).removeprefix("plain-")] = name
    return found


@pytest.fixture
def secrets_manager(monkeypatch):
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)  # moto in this process, not the local stack's
    for secret in access.SECRETS:
        monkeypatch.delenv(secret, raising=False)
    with mock_aws():
        yield boto3.client("secretsmanager", region_name="ap-northeast-1")
    # Powertools keeps the providers it made, each with its client: one made here would go on
    # asking AWS itself (no endpoint) for the integration tests' secrets after moto is gone.
    parameters.clear_caches()


def test_the_payment_and_line_secrets_have_a_settings_property_each():
    assert set(_secret_properties()) == {*access.LINE_SECRETS, *access.PAYMENT_SECRETS}


@pytest.mark.parametrize("secret", access.SECRETS)
def test_every_secret_infra_creates_is_read_from_its_arn(secret, secrets_manager, monkeypatch):
    value = f"value-{uuid.uuid4().hex}"
    arn = secrets_manager.create_secret(
        Name=f"madoguchi-test/{access.secret_name(secret)}", SecretString=value
    )
    monkeypatch.setenv(f"{secret}_ARN", arn["ARN"])
    prop = _secret_properties().get(secret)
    # The queue sources' and the ticket-link secrets are asked for by name (data/queue.json, services/queues.py).
    read = getattr(get_settings(), prop) if prop else get_settings().secret(secret)
    assert read == value
    secrets_manager.put_secret_value(SecretId=arn["ARN"], SecretString="rotated")
    assert config._secret(secret) == value  # cached for SECRET_CACHE_SECONDS, as the LINE token is
    assert config._secret(secret, fresh=True) == "rotated"


def test_without_a_value_or_an_arn_a_secret_is_a_clear_error(secrets_manager):
    with pytest.raises(RuntimeError, match="STRIPE_SECRET_KEY is not configured"):
        _ = get_settings().stripe_secret_key


def test_provider_clients_take_the_key_configured_at_each_use(monkeypatch):
    """Not kept for the life of the process: a rotated key is used once config re-reads it."""
    monkeypatch.setenv("PAYPAY_API_KEY", "key-1")
    monkeypatch.setenv("STRIPE_SECRET_KEY", "sk-1")
    assert (paypay.client().api_key, stripe_checkout.client().secret_key) == ("key-1", "sk-1")
    monkeypatch.setenv("PAYPAY_API_KEY", "key-2")
    monkeypatch.setenv("STRIPE_SECRET_KEY", "sk-2")
    assert (paypay.client().api_key, stripe_checkout.client().secret_key) == ("key-2", "sk-2")


@pytest.mark.parametrize(
    ("stage", "value", "open_always"), [("local", "on", True), ("local", None, False), ("prod", "on", False)]
)
def test_the_queue_demo_after_hours_is_a_local_switch_only(monkeypatch, stage, value, open_always):
    monkeypatch.setenv("MADOGUCHI_STAGE", stage)
    if value is None:
        monkeypatch.delenv("QUEUE_ALWAYS_OPEN", raising=False)
    else:
        monkeypatch.setenv("QUEUE_ALWAYS_OPEN", value)
    get_settings.cache_clear()
    try:
        assert get_settings().queue_always_open is open_always
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
