"""Fixtures of the consultation tests: the API as resident and staff, slots, LINE ID tokens."""

from __future__ import annotations

import itertools
import json

import pytest
import requests

from tests.integration.consultations.helpers import body_of, fresh_slot, staff_headers

_emails = itertools.count(1)


@pytest.fixture
def call(client):
    def request(method: str, path: str, document=None, *, headers=None, raw: bytes | None = None):
        if raw is None:
            raw = b"" if document is None else json.dumps(document, ensure_ascii=False).encode()
        return client.http.request(
            method, path, body=raw, headers={"Content-Type": "application/json", **(headers or {})}
        )

    return request


@pytest.fixture
def slot(call):
    """slot(service, capacity) -> a new slot id of that service (an extra session set by its staff)."""

    def make(service: str = "legal", capacity: int = 1, section: str = "kocho", offset: int = 2) -> str:
        slot_id = fresh_slot(service, offset)
        response = call(
            "POST",
            f"/staff/consultations/{service}/availability",
            {"extraSessions": [{"slot": slot_id, "capacity": capacity}]},
            headers=staff_headers(section),
        )
        assert response.status_code == 200, response.body
        return slot_id

    return make


@pytest.fixture
def book(call):
    """book(service, slot, email=..., key=..., token=...) -> the response."""

    def make(
        service: str,
        slot_id: str,
        *,
        email: str | None = None,
        key: str | None = None,
        token: str | None = None,
        **extra,
    ):
        document = {
            "slot": slot_id,
            "mode": extra.pop("mode", "in_person"),
            "eligibility": "resident",
            **extra,
        }
        headers = {}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        else:
            document.setdefault("name", "葛飾 花子")
            if email or "phone" not in extra:  # by phone alone when a phone is given and no email
                document["email"] = email or f"resident{next(_emails)}@example.com"
        if key:
            headers["Idempotency-Key"] = key
        return call("POST", f"/consultations/{service}/bookings", document, headers=headers)

    return make


@pytest.fixture
def mint(sandbox):
    from chalicelib.config import get_settings

    def mint(user_id: str) -> str:
        body = {"sub": user_id, "aud": get_settings().line_login_channel_id}
        response = requests.post(f"{sandbox.base_url}/__sandbox/id-tokens", json=body, timeout=5)
        response.raise_for_status()
        return response.json()["idToken"]

    return mint


@pytest.fixture
def slots_of(call):
    def read(service: str, slot_id: str) -> dict | None:
        day = slot_id[:10]
        response = call("GET", f"/consultations/{service}/slots?from={day}&to={day}")
        assert response.status_code == 200, response.body
        return next((s for s in body_of(response)["slots"] if s["slot"] == slot_id), None)

    return read
