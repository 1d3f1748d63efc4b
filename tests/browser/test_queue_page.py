"""The /queue page after simulated ticket-machine events: figures, now calling, the best-time
chart, the resident-controlled self refresh; axe in ja and en; a phone screenshot for docs/."""

from __future__ import annotations

import importlib.util
import json
import os
import time
from datetime import UTC, datetime, timedelta

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

from tests.browser.conftest import QUEUE_CLOCK, assert_accessible, screenshot

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        importlib.util.find_spec("chalicelib.services.queues") is None,
        reason="the queue service (issue 14) is not merged yet",
    ),
]


def post_event(
    client,
    kind: str,
    number: str,
    minute: int,
    counter: str | None = None,
    line: str = "jumin",
    when: datetime | None = None,
) -> dict:
    """A signed event at `minute` past the page's clock hour (or at `when`); the webhook's answer."""
    from chalicelib.domain.queue_webhooks import sign_madoguchi

    when = when or QUEUE_CLOCK.replace(minute=minute)
    document = {
        "id": f"web-{line}-{number}-{kind}-{minute}",
        "type": kind,
        "office": "honcho",
        "line": line,
        "ticket": number,
        "at": when.isoformat(),
        **({"counter": counter} if counter else {}),
    }
    body = json.dumps(document).encode()
    signature = sign_madoguchi(os.environ["QUEUE_WEBHOOK_SECRET"], body, int(time.time()))
    response = client.http.post(
        "/queue/webhooks/honcho",
        body=body,
        headers={"Content-Type": "application/json", "X-Madoguchi-Signature": signature},
    )
    assert response.status_code == 200, response.body
    return json.loads(response.body)


@pytest.fixture
def client(local_stack):
    from chalice.test import Client

    from app import app
    from tests.integration.conftest import forget_live_lines

    forget_live_lines()  # live figures never go back a day: start from lines that heard nothing
    with Client(app, stage_name="local") as test_client:
        yield test_client


def test_the_queue_page_shows_the_figures_after_ticket_events(page, web, client):
    from devstack.pump import Pump

    pump = Pump(retry_delay=0, wait_seconds=0)
    for n in range(1, 6):
        post_event(client, "issued", f"{n:03d}", n)
    post_event(client, "called", "001", 10, counter="2")
    post_event(client, "called", "002", 12, counter="3")
    post_event(client, "served", "002", 20)
    # Certificates: one served, nobody waiting, and history says two counters call at 10: no wait.
    post_event(client, "issued", "K01", 5, line="koseki")
    post_event(client, "called", "K01", 6, counter="1", line="koseki")
    post_event(client, "served", "K01", 15, line="koseki")
    pump.drain()
    from chalicelib.store import queues as store

    usual = {"10": {"days": 4, "issued": 5, "counters": 2, "busyCalls": 0, "busyMinutes": 0}}
    kept = {i.item_key: i for i in store.office_items("honcho")}.get(store.profile_key("koseki"))
    store.save_profile("honcho", "koseki", {str(QUEUE_CLOCK.weekday()): usual}, QUEUE_CLOCK)
    try:
        page.get(f"{web}/queue?lang=ja")
        koseki = page.find_element(By.ID, "line-honcho-koseki")
        assert koseki.find_element(By.CSS_SELECTOR, "[data-figure=estimate]").text == "すぐご案内"
    finally:
        if kept is not None:
            kept.save()
        else:
            store.QueueLineState("honcho", store.profile_key("koseki")).delete()

    page.get(f"{web}/queue?lang=ja")
    line = page.find_element(By.ID, "line-honcho-jumin")
    assert line.find_element(By.CSS_SELECTOR, "[data-figure=waiting]").text == "3人"
    assert line.find_element(By.CSS_SELECTOR, "[data-figure=calling]").text.split() == ["001"]
    assert line.find_element(By.CSS_SELECTOR, "[data-figure=estimate]").text.endswith("分")
    assert "10:20" in line.find_element(By.CSS_SELECTOR, "[data-figure=updated]").text
    # When the page read its figures (the clock), apart from when the line last moved.
    assert page.find_element(By.ID, "as-of").text == "10:21 時点の情報です。"
    assert_accessible(page, "queue ja")
    line.find_element(By.CSS_SELECTOR, "details.best summary").click()
    assert_accessible(page, "queue ja chart open")
    screenshot(page, "queue-ja")

    page.get(f"{web}/queue?lang=en&auto=1")
    assert page.find_element(By.ID, "auto-note").text.startswith("This page updates itself")
    assert page.find_element(By.CSS_SELECTOR, "#line-honcho-jumin [data-figure=waiting]").text == "3"
    assert_accessible(page, "queue en auto")
    assert QUEUE_CLOCK.astimezone(UTC).hour == 1  # 10:21 in Tokyo


def test_self_refresh_is_the_residents_choice(client):
    plain = client.http.get("/queue?lang=en")
    assert plain.status_code == 200
    assert "Refresh" not in plain.headers and "refresh" not in plain.headers
    auto = client.http.get("/queue?lang=en&auto=1")
    assert {k.lower(): v for k, v in auto.headers.items()}["refresh"] == "30"


def test_the_ticket_page_the_qr_code_opens_is_accessible(page, web, client):
    from devstack.pump import Pump

    number = f"Q{int(time.time() * 1000) % 100000:05d}"
    answer = post_event(client, "issued", number, 0, when=datetime.now(UTC))  # a link is for today only
    ref = answer["ticketUrl"].rsplit("/", 1)[-1]
    # Scanned before the worker applied the issue: "not yet", and a way to open the page again.
    page.get(f"{web}/web/queue/tickets/{ref}?lang=ja")
    assert page.find_elements(By.ID, "watch") == [] and page.find_element(By.ID, "stage").text
    assert_accessible(page, "queue ticket ja not yet")
    Pump(retry_delay=0, wait_seconds=0).drain()
    for language in ("ja", "en"):
        page.get(f"{web}/web/queue/tickets/{ref}?lang={language}")
        assert number in page.find_element(By.ID, "ticket").text
        # Outside LINE: the wait, a way to follow it, and LINE's notices explained, not offered.
        assert not page.find_element(By.ID, "watch").is_displayed()
        assert page.find_element(By.ID, "line-only").is_displayed()
        assert_accessible(page, f"queue ticket {language}")


def test_the_ticket_page_opened_again_inside_line_says_the_notices_are_on(page, web, client, local_stack):
    """A walkthrough: reopened from LINE, the page did not say whether "Notify me" had worked."""
    from chalicelib.store import residents
    from devstack.pump import Pump
    from tests.browser.conftest import mint_id_token
    from tests.integration.conftest import new_user_id

    number = f"W{int(time.time() * 1000) % 100000:05d}"
    for before in range(3):  # three people ahead: more than the 2 the watch asks for
        post_event(
            client, "issued", f"{number}{before}", 0, when=datetime.now(UTC) - timedelta(seconds=3 - before)
        )
    answer = post_event(client, "issued", number, 0, when=datetime.now(UTC))
    ref = answer["ticketUrl"].rsplit("/", 1)[-1]
    Pump(retry_delay=0, wait_seconds=0).drain()
    user_id = new_user_id()
    assert residents.record_follow(user_id, "en", int(time.time() * 1000))
    token = mint_id_token(local_stack, user_id)
    watched = client.http.post(
        f"/queue/tickets/{ref}/watch",
        body='{"ahead": 2}',
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    assert watched.status_code == 200, watched.body
    # Inside LINE: the page names its LIFF app (none on the local stage) and the SDK, whose
    # script cannot load here, gives the ID token.
    stub = (
        "Object.defineProperty(window, 'liff', {writable: false, value: {"
        "init: function () { return Promise.resolve(); }, isLoggedIn: function () { return true; },"
        f"getIDToken: function () {{ return {json.dumps(token)}; }}}}}});"
        "new MutationObserver(function (_, seen) {"
        " if (document.body) { document.body.setAttribute('data-liff-id', 'local'); seen.disconnect(); }"
        "}).observe(document, {childList: true, subtree: true});"
    )
    script = page.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": stub})
    try:
        page.get(f"{web}/web/queue/tickets/{ref}?lang=ja")
        state = page.find_element(By.ID, "watch-state")
        WebDriverWait(page, 15).until(lambda _: state.is_displayed())
        assert state.text.startswith("お知らせを受け取る設定です。前に 2 人以下")
        assert Select(page.find_element(By.ID, "f-ahead")).first_selected_option.text == "2"
        assert page.find_element(By.ID, "watch").is_displayed()  # signed in on LINE: its form
        assert not page.find_element(By.ID, "line-only").is_displayed()
        assert_accessible(page, "queue ticket ja watching")
    finally:
        page.execute_cdp_cmd("Page.removeScriptToEvaluateOnNewDocument", {"identifier": script["identifier"]})
