"""Fixtures for tests that talk to the local stack over real protocols."""

from __future__ import annotations

import json
import os
import secrets
import time
from typing import Any

import pytest
import requests

from devstack.send_event import new_event_id

DESTINATION = "Uaa11bb22cc33dd44ee55ff6677889900"


def new_user_id() -> str:
    return "U" + secrets.token_hex(16)


def line_event(event_type: str, user_id: str | None = None, *, mode: str = "active", **extra: Any) -> dict:
    event: dict[str, Any] = {
        "type": event_type,
        "mode": mode,
        "timestamp": int(time.time() * 1000),
        "webhookEventId": new_event_id(),
        "deliveryContext": {"isRedelivery": False},
        "source": {"type": "user", "userId": user_id or new_user_id()},
    }
    if mode == "active" and event_type in ("follow", "message", "postback"):
        event["replyToken"] = secrets.token_hex(16)
    event.update(extra)
    return event


def webhook_body(*events: dict) -> bytes:
    return json.dumps({"destination": DESTINATION, "events": list(events)}, ensure_ascii=False).encode()


def submit_example(client, form_id: str, **changes) -> str:
    """POST a form's own example (without photos), with `changes`, as a resident would; the receipt."""
    import copy

    from chalicelib.domain.forms import get_form

    document = copy.deepcopy(get_form(form_id).example)
    document.pop("photos", None)  # photo uploads have tests of their own
    document.update(changes)
    response = client.http.post(
        f"/forms/{form_id}/submissions",
        body=json.dumps(document),
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 201, response.body
    return json.loads(response.body)["receipt"]


def backdated(form_id: str, created_at, *, status: str = "received", channel: str = "web"):
    """A submission stored as if it had arrived at `created_at` (for date, overdue and digest tests)."""
    from datetime import UTC

    from chalicelib.domain import submissions as rules
    from chalicelib.domain.forms import get_form
    from chalicelib.store import submissions as store
    from chalicelib.store.models import Submission

    form = get_form(form_id)
    created_at = created_at.astimezone(UTC)  # stored as the service stores it: UTC
    while True:
        receipt = rules.new_receipt(created_at)
        submission = Submission(
            receipt,
            form_id=form.id,
            kind=form.kind,
            section=form.section,
            status=status,
            channel=channel,
            language="ja",
            created_at=created_at,
            created_key=store.created_key(created_at, receipt),
            updated_at=created_at,
            data={key: value for key, value in form.example.items() if key != "photos"},
            attachments=[],
            secret_hash=rules.hash_secret(rules.new_access_secret(), rules.new_salt(), n=2),
            public_notes=[],
        )
        audit = store.Audit(rules.RESIDENT, None, "created", created_at, to_status=status)
        if store.insert(submission, audit):
            return store.get(receipt)


class Sandbox:
    """The LINE sandbox's control API, over HTTP."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url

    def requests(self, path: str | None = None) -> list[dict]:
        params = {"path": path} if path else None
        return requests.get(f"{self.base_url}/__sandbox/requests", params=params, timeout=5).json()[
            "requests"
        ]

    def fault(self, path: str, **fault: Any) -> None:
        response = requests.post(f"{self.base_url}/__sandbox/faults", json={"path": path, **fault}, timeout=5)
        response.raise_for_status()

    def set_profile(self, user_id: str, **profile: Any) -> None:
        requests.post(
            f"{self.base_url}/__sandbox/profiles", json={user_id: profile}, timeout=5
        ).raise_for_status()

    def reset(self) -> None:
        requests.post(f"{self.base_url}/__sandbox/reset", timeout=5).raise_for_status()


@pytest.fixture
def sandbox(local_stack) -> Sandbox:
    box = Sandbox(f"http://127.0.0.1:{local_stack.ports.line}")
    box.reset()
    return box


_source_ips = iter(range(1, 10**6))


@pytest.fixture
def from_client(monkeypatch):
    """Requests from a fresh source IP (API Gateway's sourceIp), so per-client limits start at zero.
    Call it again for yet another client."""
    from chalice.local import LambdaEventConverter

    def use() -> str:
        n = next(_source_ips)
        ip = f"198.51.{n // 250}.{n % 250 + 1}"
        monkeypatch.setattr(LambdaEventConverter, "LOCAL_SOURCE_IP", ip)
        return ip

    use()
    return use


@pytest.fixture
def client(local_stack, from_client):
    """The app in process; each test is its own client, so one test's wrong codes never lock out
    the next test (the per-client limits are keyed by source IP)."""
    from chalice.test import Client

    from app import app

    # The local stage, as `make run` serves it: chalice's default ("dev") would set its own
    # MADOGUCHI_STAGE while the client is open, and settings first read then had no local defaults.
    with Client(app, stage_name="local") as test_client:
        yield test_client


@pytest.fixture
def post_webhook(client):
    """POST a body to /line/webhook signed with the local channel secret (or a given signature)."""
    from chalicelib.domain.line_webhook import sign

    def post(
        body: bytes, signature: str | None = "sign", content_type: str = "application/json; charset=utf-8"
    ):
        headers = {"Content-Type": content_type}
        if signature == "sign":
            headers["X-Line-Signature"] = sign(os.environ["LINE_CHANNEL_SECRET"], body)
        elif signature is not None:
            headers["X-Line-Signature"] = signature
        return client.http.post("/line/webhook", body=body, headers=headers)

    return post


@pytest.fixture(scope="session")
def pump(local_stack):
    from devstack.pump import Pump

    pump = Pump(retry_delay=0, wait_seconds=0)
    pump.drain()  # start from empty queues
    return pump


@pytest.fixture
def sqs(local_stack):
    import boto3

    return boto3.client("sqs")


def forget_live_lines(office: str = "honcho") -> None:
    """Drop an office's live line figures, so a queue test starts from lines that heard nothing,
    whichever queue tests (with their own days: live figures never go back a day) ran before."""
    from chalicelib.store import queues

    for item in queues.office_items(office):
        if item.item_key.startswith(queues.live_key("")):
            item.delete()
