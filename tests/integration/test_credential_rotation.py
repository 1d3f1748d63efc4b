"""Credentials that rotate are picked up by a warm process (issue 11, item 8).

The LINE channel access token is read again on its documented interval and at once on a 401
from LINE (one retry); a key removed from the staff JWKS stops being accepted within
JWKS_LIFESPAN_SECONDS. Both against the local stack: the LINE sandbox is told which token to
expect, the dev issuer is told which keys to publish.
"""

from __future__ import annotations

import time

import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import rsa

from chalicelib.adapters import line_api, staff_tokens
from chalicelib.adapters.line_api import LineClient
from chalicelib.config import SECRET_CACHE_SECONDS, get_settings
from devstack.dev_issuer import DevIssuer, mint_token
from tests.integration.conftest import new_user_id

PUSH = "/v2/bot/message/push"


@pytest.fixture
def rotate_line_token(sandbox, monkeypatch):
    """Rotate the channel's token: LINE accepts only the new one, the configuration holds it."""

    def rotate(new_token: str, *, configure: bool = True) -> None:
        requests.post(f"{sandbox.base_url}/__sandbox/config", json={"accessToken": new_token}, timeout=5)
        if configure:
            monkeypatch.setenv("LINE_CHANNEL_ACCESS_TOKEN", new_token)

    yield rotate
    sandbox.reset()  # the sandbox expects the stack's own token again


def statuses(sandbox, user_id: str) -> list[int]:
    return [r["status"] for r in sandbox.requests(PUSH) if r["body"].get("to") == user_id]


def test_a_401_after_a_rotation_rereads_the_token_and_retries_once(sandbox, rotate_line_token):
    client = LineClient(sleep=lambda seconds: None)  # read the token now, before the rotation
    rotate_line_token("rotated-token-1")
    user_id = new_user_id()
    result = client.push(user_id, [{"type": "text", "text": "hello"}], line_api.retry_key_for(user_id, "t"))
    assert result.request_id
    assert statuses(sandbox, user_id) == [401, 200]


def test_a_token_that_stays_refused_is_not_retried_again(sandbox, rotate_line_token):
    client = LineClient(sleep=lambda seconds: None)
    rotate_line_token("rotated-token-2", configure=False)  # LINE moved on, the configuration did not
    user_id = new_user_id()
    with pytest.raises(line_api.LineRejected) as refused:
        client.push(user_id, [{"type": "text", "text": "hello"}], line_api.retry_key_for(user_id, "t"))
    assert refused.value.status == 401
    assert statuses(sandbox, user_id) == [401, 401]


def test_the_token_is_reread_on_its_interval_without_waiting_for_a_401(sandbox, rotate_line_token):
    now = [1000.0]
    client = LineClient(sleep=lambda seconds: None, clock=lambda: now[0])
    rotate_line_token("rotated-token-3")
    first, second = new_user_id(), new_user_id()
    now[0] += line_api.TOKEN_REREAD_SECONDS - 1  # not yet due: the old token, refused, then renewed
    client.push(first, [{"type": "text", "text": "a"}], line_api.retry_key_for(first, "t"))
    rotate_line_token("rotated-token-4")
    now[0] += line_api.TOKEN_REREAD_SECONDS + 1  # due: read before the request, no 401 at all
    client.push(second, [{"type": "text", "text": "b"}], line_api.retry_key_for(second, "t"))
    assert statuses(sandbox, first) == [401, 200]
    assert statuses(sandbox, second) == [200]
    assert line_api.TOKEN_REREAD_SECONDS == SECRET_CACHE_SECONDS == 300


@pytest.fixture
def rotating_issuer(local_stack, monkeypatch):
    old, new = (rsa.generate_private_key(public_exponent=65537, key_size=2048) for _ in range(2))
    issuer = DevIssuer(old, port=0)
    issuer.start()
    monkeypatch.setenv("STAFF_JWT_ISSUER", issuer.issuer)
    monkeypatch.setenv("STAFF_JWKS_URL", issuer.jwks_url)
    # Shortened for the test; the documented bound is the constant's real value (asserted below).
    monkeypatch.setattr(staff_tokens, "JWKS_LIFESPAN_SECONDS", 1)
    get_settings.cache_clear()
    staff_tokens.reset_cache()
    yield issuer, old, new
    issuer.stop()
    monkeypatch.undo()
    get_settings.cache_clear()
    staff_tokens.reset_cache()


def test_a_key_removed_from_the_jwks_stops_being_accepted_within_the_lifespan(rotating_issuer):
    issuer, old, new = rotating_issuer
    issuer.publish(old, new)  # rotation, step 1: the next key is published beside the old one
    by_new = mint_token(staff_id="s-1", section="kocho", roles=["staff"], key=new)
    by_old = mint_token(staff_id="s-2", section="kocho", roles=["staff"], key=old)
    assert staff_tokens.verify_staff_token(by_new)["sub"] == "s-1"
    assert staff_tokens.verify_staff_token(by_old)["sub"] == "s-2"

    issuer.publish(old)  # the new key is withdrawn (say it leaked)
    time.sleep(staff_tokens.JWKS_LIFESPAN_SECONDS + 0.2)
    with pytest.raises(staff_tokens.InvalidStaffToken):
        staff_tokens.verify_staff_token(by_new)
    assert staff_tokens.verify_staff_token(by_old)["sub"] == "s-2"


def test_the_documented_bound_is_five_minutes():
    assert staff_tokens.JWKS_LIFESPAN_SECONDS == 300
