"""The harness itself: Chromium runs offline with JavaScript on, and axe-core does find violations."""

from __future__ import annotations

import pytest

from tests.browser.conftest import axe_check

pytestmark = pytest.mark.slow


def test_axe_reports_a_violation_it_is_shown(page, web):
    page.get(f"{web}/web?lang=en")
    assert page.execute_script("return document.documentElement.classList.contains('js')")  # web.js ran
    assert axe_check(page) == []
    page.execute_script(
        "var i = document.createElement('img'); i.src = '/web/static/none.png'; document.querySelector('main').appendChild(i);"
        "var b = document.createElement('button'); document.querySelector('main').appendChild(b);"
    )
    found = {violation["id"] for violation in axe_check(page)}
    assert {"image-alt", "button-name"} <= found


def test_pages_work_with_javascript_off(web, local_stack):
    """The same journey a browser without JavaScript makes: only links, forms and posts."""
    import re

    import requests

    session = requests.Session()
    page = session.get(f"{web}/web/forms/inquiry?lang=en", timeout=10)
    token = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    review = session.post(
        f"{web}/web/forms/inquiry",
        data={"csrf": token, "lang": "en", "step": "review", "screen": "0", "question": "Is parking free?"},
        headers={"Origin": web},
        timeout=10,
    )
    assert review.status_code == 200 and "Check your answers" in review.text
    document = re.search(r'name="document" value="([^"]*)"', review.text).group(1)
    import html

    done = session.post(
        f"{web}/web/forms/inquiry",
        data={"csrf": token, "lang": "en", "step": "send", "document": html.unescape(document)},
        headers={"Origin": web},
        timeout=10,
    )
    assert done.status_code == 200 and 'id="receipt"' in done.text
    assert done.headers["Cache-Control"] == "no-store"
    assert "unsafe-inline" not in done.headers["Content-Security-Policy"]
