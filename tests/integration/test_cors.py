"""Resident routes answer the ward's LIFF and web-form origin, errors included; staff routes do not."""

from __future__ import annotations

import pytest

from chalicelib.config import get_settings

ORIGIN = get_settings().web_origin


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/line/me/preferences"),  # no token: 401
        ("GET", "/forms"),
        ("GET", "/forms/no-such-form"),  # 404
        ("POST", "/uploads"),  # no body: 400
    ],
)
def test_resident_routes_allow_the_web_origin_on_success_and_error(client, method, path):
    response = client.http.request(method, path, headers={"Origin": ORIGIN})

    assert response.headers.get("Access-Control-Allow-Origin") == ORIGIN


def test_the_preflight_names_the_headers_a_liff_page_sends():
    # chalice.test cannot answer a preflight (its OPTIONS response has no body), so read what
    # API Gateway and `chalice local` answer it with: the route's CORS configuration.
    from app import app

    cors = app.routes["/line/me/preferences"]["PUT"].cors
    headers = cors.get_access_control_headers()
    assert headers["Access-Control-Allow-Origin"] == ORIGIN
    allowed = {h.strip().lower() for h in headers["Access-Control-Allow-Headers"].split(",")}
    assert {"authorization", "content-type", "idempotency-key", "x-access-secret"} <= allowed


def test_staff_routes_are_not_open_to_browsers_elsewhere(client):
    response = client.http.get("/staff/me", headers={"Origin": ORIGIN})

    assert "Access-Control-Allow-Origin" not in response.headers
