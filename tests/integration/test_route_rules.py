"""Rules every route must keep, checked over the whole route table so a new route cannot forget them."""

from __future__ import annotations

import json
import re
from collections import defaultdict

import pytest


def _routes():
    from app import app

    return app.routes


def test_sibling_path_variables_share_one_name():
    """API Gateway refuses /a/{x} next to /a/{y}/b: one variable name per position under a parent."""
    names = defaultdict(set)
    for path in _routes():
        parts = path.strip("/").split("/")
        for depth, part in enumerate(parts):
            if part.startswith("{"):
                names["/".join(parts[:depth])].add(part)
    clashes = {parent: found for parent, found in names.items() if len(found) > 1}
    assert clashes == {}


STAFF_ROUTES = [
    (path, method)
    for path, methods in sorted(_routes().items())
    if path.startswith("/staff/")
    for method in methods
]


@pytest.mark.parametrize(("path", "method"), STAFF_ROUTES, ids=[f"{m} {p}" for p, m in STAFF_ROUTES])
def test_every_staff_route_refuses_a_caller_without_a_token(client, path, method):
    concrete = re.sub(r"\{[^}]+\}", "KTS-2611-7Q4M", path)
    response = getattr(client.http, method.lower())(
        concrete, body=b"{}", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 401
    if method == "HEAD":  # the GET's answer without its body
        assert response.body == b""
    else:
        assert json.loads(response.body)["error"]["code"] == "unauthorized"
