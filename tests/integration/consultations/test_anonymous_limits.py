"""Sends without signing in are limited per address and day (security review: one script could
take every seat, and have the ward mail any address): web bookings and web forms alike, the API
and the pages; a LINE resident is not counted, nor is a retry of the same send."""

from __future__ import annotations

import dataclasses
import json
import uuid

import pytest

from chalicelib.config import get_settings
from chalicelib.domain import messages
from chalicelib.services import anonymous_limits
from tests.integration.conftest import submit_example
from tests.integration.consultations.helpers import body_of
from tests.integration.consultations.test_booking_web_pages import Browser


@pytest.fixture
def two_a_day(monkeypatch):
    """Two sends a day, as a deployed stage's setting would say (locally the limit is far higher)."""
    settings = dataclasses.replace(get_settings(), anonymous_sends_per_day=2)
    monkeypatch.setattr(anonymous_limits, "get_settings", lambda: settings)


def test_a_third_anonymous_send_of_the_day_is_refused_what_is_signed_in_or_retried_is_not(
    client, from_client, two_a_day, slot, book, mint
):
    submit_example(client, "inquiry")
    key, email, first_slot = str(uuid.uuid4()), f"{uuid.uuid4().hex}@example.com", slot("legal")
    first = book("legal", first_slot, key=key, email=email)
    assert first.status_code == 201
    refused = book("legal", slot("legal"))  # a form and a booking: two sends, the day's all
    assert refused.status_code == 429
    error = body_of(refused)["error"]
    assert error["code"] == "too_many_sends"
    assert error["message"] == messages.text("error.too_many_sends", "ja")
    assert int(refused.headers["Retry-After"]) > 0
    form = client.http.post(
        "/forms/inquiry/submissions", body=json.dumps({"x": 1}), headers={"Content-Type": "application/json"}
    )
    assert form.status_code == 422  # a body that breaks the form sends nothing: said as such
    # The first booking's retry (its Idempotency-Key) is the same send, answered again.
    again = book("legal", first_slot, key=key, email=email)
    assert again.status_code == 201 and body_of(again)["booking"] == body_of(first)["booking"]
    # A resident signed in on LINE is not counted; another address has its own day.
    assert book("legal", slot("legal"), token=mint(f"U{uuid.uuid4().hex}")).status_code == 201
    from_client()
    assert book("legal", slot("legal")).status_code == 201


def test_the_booking_page_says_the_days_sends_are_used_up(client, two_a_day, slot):
    page = Browser(client, "en")
    fields = {"mode": "in_person", "name": "A", "eligibility": "resident"}
    for n in range(2):
        page.get("/web/consultations/legal/book")
        status, _ = page.post(
            "/web/consultations/legal/book", slot=slot("legal"), email=f"a{n}@example.com", **fields
        )
        assert status == 200
    status, html = page.post(
        "/web/consultations/legal/book", slot=slot("legal"), email="a2@example.com", **fields
    )
    assert status == 429 and messages.text("error.too_many_sends", "en") in html
