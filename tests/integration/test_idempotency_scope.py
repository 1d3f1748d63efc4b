"""An Idempotency-Key answers only the caller that made the first request (issue 11, item 2).

A LINE user's result is never replayed to another LINE user or to an anonymous web caller;
an anonymous web caller's key answers its own address alone; a key reused with another body is 422; a first
request that died leaves a lease that runs out in minutes, not a day.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import requests

from chalicelib.config import get_settings
from chalicelib.domain.forms import get_form
from chalicelib.services import idempotency as service
from chalicelib.store import idempotency as store
from chalicelib.store import submissions
from chalicelib.store.models import IdempotencyRecord
from tests.integration.conftest import new_user_id

FORM = "juminhyo-copy"


def id_token(sandbox, user_id: str) -> str:
    return requests.post(
        f"{sandbox.base_url}/__sandbox/id-tokens",
        json={"sub": user_id, "aud": get_settings().line_login_channel_id},
        timeout=5,
    ).json()["idToken"]


def submit(client, key: str, *, token: str | None = None, document: dict | None = None):
    headers = {"Content-Type": "application/json", "Idempotency-Key": key}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    body = json.dumps(document or get_form(FORM).example)
    return client.http.post(f"/forms/{FORM}/submissions", body=body, headers=headers)


def receipt_of(response) -> str:
    assert response.status_code == 201, response.body
    return json.loads(response.body)["receipt"]


def test_another_line_user_with_the_same_key_and_body_gets_their_own_submission(client, sandbox):
    key = f"k-{uuid.uuid4()}"
    alice, bob = new_user_id(), new_user_id()
    first = submit(client, key, token=id_token(sandbox, alice))
    second = submit(client, key, token=id_token(sandbox, bob))
    assert receipt_of(first) != receipt_of(second)
    assert json.loads(first.body)["accessSecret"] != json.loads(second.body)["accessSecret"]
    assert submissions.get(receipt_of(second)).line_user_id == bob
    # Alice's own retry still gets her first answer.
    assert json.loads(submit(client, key, token=id_token(sandbox, alice)).body) == json.loads(first.body)


def test_the_web_never_gets_a_result_made_by_a_line_user(client, sandbox):
    key = f"k-{uuid.uuid4()}"
    liff = submit(client, key, token=id_token(sandbox, new_user_id()))
    web = submit(client, key)
    assert receipt_of(liff) != receipt_of(web)
    assert submissions.get(receipt_of(web)).line_user_id is None


def test_an_anonymous_callers_key_answers_its_own_network_alone(client, from_client):
    """A black-box run: anyone sending the same key and body got the first caller's receipt and
    its access secret; a key is scoped to the caller's address (or IPv6 /64)."""
    key = f"k-{uuid.uuid4()}"
    first = submit(client, key)
    assert json.loads(submit(client, key).body) == json.loads(first.body)  # its own retry
    from_client()  # another address
    other = submit(client, key)
    assert receipt_of(other) != receipt_of(first)
    assert json.loads(other.body)["accessSecret"] != json.loads(first.body)["accessSecret"]


def test_the_same_key_with_another_body_is_422(client, sandbox):
    key = f"k-{uuid.uuid4()}"
    token = id_token(sandbox, new_user_id())
    receipt_of(submit(client, key, token=token))
    changed = dict(get_form(FORM).example, copies=3)
    reused = submit(client, key, token=token, document=changed)
    assert reused.status_code == 422
    assert json.loads(reused.body)["error"]["code"] == "idempotency_key_reused"


def test_a_request_that_died_in_progress_is_taken_over_after_its_lease(client, from_client):
    from chalicelib.observability import hashed

    key = f"k-{uuid.uuid4()}"
    body = json.dumps(get_form(FORM).example).encode()
    caller = f"web:{hashed(from_client())}"
    record_key = f"submit:{FORM}#{caller}#{key}"
    now = datetime.now(UTC)
    # What a request that died after reserving the key leaves behind.
    request_hash = hashlib.sha256(service._canonical(body)).hexdigest()
    assert store.begin(record_key, request_hash, caller, now, timedelta(minutes=5)) is None
    waiting = client.http.post(
        f"/forms/{FORM}/submissions",
        body=body,
        headers={"Content-Type": "application/json", "Idempotency-Key": key},
    )
    assert waiting.status_code == 409
    assert json.loads(waiting.body)["error"]["code"] == "request_in_progress"

    IdempotencyRecord(record_key).update(
        actions=[IdempotencyRecord.lease_until.set(now - timedelta(seconds=1))]
    )
    retried = client.http.post(
        f"/forms/{FORM}/submissions",
        body=body,
        headers={"Content-Type": "application/json", "Idempotency-Key": key},
    )
    assert retried.status_code == 201, retried.body
    assert IdempotencyRecord.get(record_key, consistent_read=True).status_code == 201


def test_the_in_progress_lease_is_minutes_not_a_day():
    assert timedelta(seconds=60) < service.IN_PROGRESS_LEASE <= timedelta(minutes=5)


def test_a_request_that_fails_frees_its_key_and_the_retry_runs(local_stack):
    key = f"k-{uuid.uuid4()}"

    def fails() -> tuple[int, dict]:
        raise RuntimeError("the provider timed out")

    with pytest.raises(RuntimeError):  # the caller sees the failure...
        service.once("test-scope", key, b"{}", fails)
    # ...and the client's retry runs, not a 409 for a day
    assert service.once("test-scope", key, b"{}", lambda: (201, {"made": 1})) == (201, {"made": 1})


def test_a_slow_first_request_failing_after_its_retry_finished_leaves_the_answer(local_stack):
    key = f"k-{uuid.uuid4()}"
    record_key = f"test-scope#{service.ANONYMOUS}#{key}"
    request_hash = hashlib.sha256(b"{}").hexdigest()
    # The first request reserved the key and then stalled past its lease...
    started = datetime.now(UTC) - timedelta(minutes=10)
    assert store.begin(record_key, request_hash, service.ANONYMOUS, started, timedelta(minutes=5)) is None
    # ...so the client's retry took the key over and finished.
    assert service.once("test-scope", key, b"{}", lambda: (201, {"made": 1})) == (201, {"made": 1})

    store.abandon(record_key)  # the first one fails at last: its key is not its to free now

    again = service.once("test-scope", key, b"{}", lambda: (201, {"made": 2}))
    assert again == (201, {"made": 1})  # nothing made twice


def test_the_same_json_with_other_spacing_or_key_order_is_the_same_request(client, local_stack):
    key = f"k-{uuid.uuid4()}"
    first = service.once("test-scope", key, b'{"a": 1, "b": [1, 2]}', lambda: (201, {"made": 1}))
    again = service.once("test-scope", key, b'{"b":[1,2],"a":1}', lambda: (201, {"made": 2}))
    assert first == again == (201, {"made": 1})
    from chalicelib.domain.errors import Invalid

    with pytest.raises(Invalid) as other:  # another body is another request
        service.once("test-scope", key, b'{"a": 2}', lambda: (201, {"made": 3}))
    assert other.value.code == "idempotency_key_reused"


def test_a_retry_racing_a_failing_first_request_runs_instead_of_failing(local_stack, monkeypatch):
    """The first request holds the key; the retry's reservation is refused; the first fails and
    frees the key before the retry reads it. The retry used to meet a missing item (a 500, seen by
    an outside run as a double tap on a form with a mistake); it now reserves the key again and runs."""
    key = f"k-{uuid.uuid4()}"
    record_key = f"test-scope#{service.ANONYMOUS}#{key}"
    request_hash = hashlib.sha256(b"{}").hexdigest()
    assert (
        store.begin(record_key, request_hash, service.ANONYMOUS, datetime.now(UTC), timedelta(minutes=5))
        is None
    )
    real_read = store.item_or_none
    reads = []

    def first_fails_just_then(model, hash_key):
        if not reads:
            store.abandon(record_key)  # the first request's failure, between the retry's two calls
        reads.append(hash_key)
        return real_read(model, hash_key)

    monkeypatch.setattr(store, "item_or_none", first_fails_just_then)
    assert service.once("test-scope", key, b"{}", lambda: (201, {"made": 1})) == (201, {"made": 1})
    assert reads == [record_key]
