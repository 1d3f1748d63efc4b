"""Fixtures of the announcement tests: the staff API as a caller and the announcement policy."""

from __future__ import annotations

import json

import pytest

from tests.integration.announcements.helpers import headers, use_policy


@pytest.fixture
def policy(monkeypatch):
    """`policy(rules.Policy(...))` sets the announcement policy for the test (quiet hours off by default)."""
    yield from use_policy(monkeypatch)


@pytest.fixture
def api(client):
    """Call the app as staff: api(method, path, document, as_=headers(...)); `raw` sends bytes as they are."""

    def call(method: str, path: str, document=None, *, as_=None, raw: bytes | None = None):
        if raw is None:
            raw = b"" if document is None else json.dumps(document, ensure_ascii=False).encode()
        return client.http.request(method, path, body=raw, headers=as_ or headers())

    return call
