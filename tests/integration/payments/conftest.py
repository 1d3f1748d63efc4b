"""Fixtures of the payment tests: the provider sandbox's controls, webhooks delivered to the app,
a submission that owes a fee, the payment workers run through the pump."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests

from devstack.dev_issuer import mint_token


class PayBox:
    """The payment sandbox's control API, plus delivery of its webhooks to the app under test."""

    def __init__(self, base: str, client: Any) -> None:
        self.base = base
        self.client = client

    def post(self, path: str, document: dict | None = None) -> requests.Response:
        return requests.post(f"{self.base}{path}", json=document or {}, timeout=10)

    def pay(self, payment_id: str, **body: Any) -> dict:
        response = self.post(f"/__sandbox/paypay/payments/{payment_id}/complete", body)
        assert response.status_code == 200, response.text
        return response.json()

    def complete_session(self, session_id: str, **body: Any) -> dict:
        response = self.post(f"/__sandbox/stripe/sessions/{session_id}/complete", body)
        assert response.status_code == 200, response.text
        return response.json()

    def webhooks(self, mode: str, **options: Any) -> None:
        self.post("/__sandbox/webhooks", {"mode": mode, **options}).raise_for_status()

    def fault(self, path: str, **fault: Any) -> None:
        self.post("/__sandbox/faults", {"path": path, **fault}).raise_for_status()

    def requests(self, path: str | None = None, method: str | None = None) -> list[dict]:
        found = requests.get(f"{self.base}/__sandbox/requests", timeout=5).json()["requests"]
        return [
            r
            for r in found
            if (path is None or r["path"] == path) and (method is None or r["method"] == method)
        ]

    def take(self) -> list[dict]:
        return self.post("/__sandbox/webhooks/take").json()["webhooks"]

    def deliver(self) -> list[int]:
        """POST every waiting webhook to the app, as the provider would; their HTTP statuses."""
        statuses = []
        for hook in self.take():
            response = self.client.http.post(
                hook["path"], body=hook["body"].encode(), headers=hook["headers"]
            )
            statuses.append(response.status_code)
        return statuses


@pytest.fixture
def paybox(local_stack, client) -> PayBox:
    box = PayBox(f"http://127.0.0.1:{local_stack.ports.pay}", client)
    box.post("/__sandbox/reset").raise_for_status()
    return box


@pytest.fixture
def owing(client):
    """`owing(copies=2)`: a juminhyo-copy by post (paid before `received`): (receipt, access secret)."""
    import copy

    from chalicelib.domain.forms import get_form

    def submit(form_id: str = "juminhyo-copy", **changes: Any) -> tuple[str, str]:
        document = copy.deepcopy(get_form(form_id).example)
        document.pop("photos", None)
        document.update(changes)
        response = client.http.post(
            f"/forms/{form_id}/submissions",
            body=json.dumps(document),
            headers={"Content-Type": "application/json"},
        )
        assert response.status_code == 201, response.body
        answer = json.loads(response.body)
        return answer["receipt"], answer["accessSecret"]

    return submit


@pytest.fixture
def resident_api(client):
    """resident_api(method, path, secret, document=None) -> (status, JSON body)."""

    def call(method: str, path: str, secret: str | None, document: Any = None, headers: dict | None = None):
        sent = {"Content-Type": "application/json", **(headers or {})}
        if secret is not None:
            sent["X-Access-Secret"] = secret
        body = b"" if document is None else json.dumps(document).encode()
        response = client.http.request(method, path, body=body, headers=sent)
        try:
            answer = json.loads(response.body) if response.body else None
        except ValueError:
            answer = response.body
        return response.status_code, answer

    return call


def staff_headers(section: str, *roles: str, staff_id: str = "staff-1") -> dict[str, str]:
    token = mint_token(staff_id=staff_id, section=section, roles=list(roles) or ["staff"])
    return {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}


def ask_refund(client: Any, payment_id: str, reason: str, headers: dict[str, str] | None = None) -> Any:
    """Section staff ask for a payment's refund (POST /staff/payments/{id}/refunds); the response."""
    return client.http.post(
        f"/staff/payments/{payment_id}/refunds",
        body=json.dumps({"reason": reason}),
        headers=headers or staff_headers("koseki-jumin", "staff"),
    )


@pytest.fixture
def settle(pump):
    """Run the payment workers (and the rest) until the queues are empty."""

    def run() -> None:
        pump.drain()

    return run


def served(receipt: str, section: str = "koseki-jumin") -> None:
    """Staff take the request through to completed: its fee may then be refunded (a fee waived
    afterwards); while it is still being handled a refund is refused (`submission_open`)."""
    from chalicelib.domain import submissions as rules
    from chalicelib.services import submissions as service
    from chalicelib.store import submissions as submission_store

    staff = rules.Actor(kind=rules.STAFF, id="staff-1", section=section)
    for step in (rules.IN_REVIEW, rules.COMPLETED):
        service.move(submission_store.get(receipt), step, actor=staff)
