"""A requests session for the sandbox's own tests: the right token, and paths instead of URLs."""

from __future__ import annotations

import requests


def sandbox_session(base_url: str, token: str) -> requests.Session:
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    original = session.request

    def request(method: str, path: str, **kwargs: object) -> requests.Response:
        kwargs.setdefault("timeout", 10)
        return original(method, base_url + path, **kwargs)

    session.request = request  # type: ignore[method-assign]
    return session
