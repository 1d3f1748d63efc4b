"""Window queues over the local stack: signed webhooks → inbox → SQS → worker → live state and
status; the watch pushes on LINE; the staff reset; the nightly close-out, history and open data."""

from __future__ import annotations

import csv
import io
import itertools
import json
import os
import re
import time
from datetime import UTC, date, datetime, timedelta

import pytest
import requests

from chalicelib.domain import messages
from chalicelib.domain import queue as rules
from chalicelib.domain.queue_webhooks import sign_madoguchi
from chalicelib.domain.staff import ROLE_STAFF
from devstack.dev_issuer import mint_token
from tests.integration.conftest import forget_live_lines

# Each test gets its own (long past) Tuesday, so tests sharing the tables never see each other's
# tickets; past, as the webhook refuses events dated ahead of the real clock. Their year is not the
# browser tests' (tests/browser/conftest.py QUEUE_CLOCK), and each test starts from lines with no
# live figures (forget_live_lines). No holiday falls on these 16 Tuesdays.
_DAYS = itertools.count()


def a_tuesday() -> date:
    return date(2025, 6, 3) + timedelta(weeks=next(_DAYS))


def at(day: date, hh: int, mm: int = 0, ss: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hh, mm, ss, tzinfo=rules.TOKYO).astimezone(UTC)


class Ticketer:
    """A ticket machine speaking madoguchi's own signed format to the webhook."""

    def __init__(self, client, source: str = "honcho") -> None:
        self.client = client
        self.source = source
        self.sent = 0

    def post(self, document: dict, *, secret: str | None = None, stamp: int | None = None):
        body = json.dumps(document).encode()
        signature = sign_madoguchi(
            secret or os.environ["QUEUE_WEBHOOK_SECRET"], body, stamp or int(time.time())
        )
        return self.client.http.post(
            f"/queue/webhooks/{self.source}",
            body=body,
            headers={"Content-Type": "application/json", "X-Madoguchi-Signature": signature},
        )

    def event(
        self, kind: str, number: str, when: datetime, line: str = "jumin", counter: str | None = None, **extra
    ):
        self.sent += 1
        document = {
            "id": extra.pop("id", f"{number}-{kind}-{rules.iso(when)}"),
            "type": kind,
            "office": "honcho",
            "line": line,
            "ticket": number,
            "at": when.isoformat(),
            **({"counter": counter} if counter else {}),
            **extra,
        }
        response = self.post(document)
        assert response.status_code == 200, response.body
        return json.loads(response.body)


@pytest.fixture
def ticketer(client, pump):
    pump.drain()
    forget_live_lines()
    return Ticketer(client)


def line_view(now: datetime, office: str = "honcho", line: str = "jumin", language: str = "ja") -> dict:
    from chalicelib.services import queues

    view = queues.status_view(now, language)
    found = next(o for o in view["offices"] if o["id"] == office)
    return next(item for item in found["lines"] if item["id"] == line)


def test_signed_events_are_deduplicated_applied_in_any_order_and_shown(ticketer, pump):
    day = a_tuesday()
    for n in range(1, 6):
        ticketer.event("issued", f"{n:03d}", at(day, 10, n))
    ticketer.event("called", "001", at(day, 10, 10), counter="2")
    # Served arrives before its call, and the call is sent twice: the order of arrival does not matter.
    ticketer.event("served", "002", at(day, 10, 20))
    assert ticketer.event("called", "002", at(day, 10, 12), counter="3") == {
        "accepted": True,
        "duplicate": False,
    }
    assert ticketer.event("called", "002", at(day, 10, 12), counter="3") == {
        "accepted": True,
        "duplicate": True,
    }
    ticketer.event("recalled", "001", at(day, 10, 14), counter="2")
    pump.drain()

    view = line_view(at(day, 10, 21))
    assert view["status"] == "open"
    assert view["waiting"] == 3
    assert view["nowCalling"] == [{"number": "001", "counter": "2"}]
    assert view["openCounters"] == 2
    assert view["estimate"]["basis"] == "default"  # one service is not enough to go on
    assert view["estimate"]["label"].endswith("分")
    assert view["lastUpdateText"] == "最終更新 10:20"

    from chalicelib.store import queues as store

    ticket = store.get_ticket(f"honcho#{day.isoformat()}", "001")
    assert rules.fold("001", ticket.events).calls == 1  # the recall counted, once

    # Quiet for longer than the quiet period in opening hours: no figures, never old ones.
    quiet = line_view(at(day, 11, 0))
    assert (quiet["status"], quiet["waiting"], quiet["estimate"]) == ("quiet", None, None)
    assert line_view(at(day, 18, 0))["status"] == "closed"
    assert line_view(at(day, 10, 21), language="en")["statusText"] == "Open"


def test_the_same_event_redelivered_to_the_worker_changes_nothing(ticketer, pump):
    from chalicelib.services import queues

    day = a_tuesday()
    ticketer.event("issued", "001", at(day, 9, 0))
    pump.drain()
    event = rules.QueueEvent("honcho", "again", "honcho", "jumin", "001", "called", at(day, 9, 5), "1")
    assert queues.apply_event(event) is True
    assert queues.apply_event(event) is False
    view = line_view(at(day, 9, 6))
    assert (view["waiting"], len(view["nowCalling"])) == (0, 1)


def test_a_counter_whose_served_was_lost_is_free_again_once_no_service_lasts_that_long(ticketer, pump):
    # koseki: two counters, 12 minutes a service configured. Both calls' "served" never came.
    day = a_tuesday()
    ticketer.event("issued", "001", at(day, 10, 0), line="koseki")
    ticketer.event("issued", "002", at(day, 10, 1), line="koseki")
    ticketer.event("called", "001", at(day, 10, 0, 30), line="koseki", counter="1")
    ticketer.event("called", "002", at(day, 10, 2), line="koseki", counter="2")
    ticketer.event("issued", "003", at(day, 10, 30), line="koseki")
    ticketer.event("cancelled", "003", at(day, 10, 35), line="koseki")  # the line is still heard from
    pump.drain()

    def shown(hh: int, mm: int) -> tuple[int, int | None, list[str]]:
        view = line_view(at(day, hh, mm), line="koseki")
        assert (view["status"], view["waiting"]) == ("open", 0)
        calling = [call["number"] for call in view["nowCalling"]]
        return view["estimate"]["minMinutes"], view["estimate"]["maxMinutes"], calling

    # 20 minutes into both calls: still taken as serving, so the next one waits a while.
    low, high, calling = shown(10, 22)
    assert high not in (0, 1) and calling == ["002", "001"]
    # Past three configured services (36 min) with no word: presumed served, the next is called at
    # once, and the page no longer shows them as being called.
    assert shown(10, 40) == (0, 1, [])


def test_open_counters_never_exceed_the_lines_configured_counters(ticketer, pump):
    # koseki has two counters; a machine names them three ways.
    day = a_tuesday()
    for n, counter in enumerate(("1", "01", "Counter 1"), start=1):
        ticketer.event("issued", f"00{n}", at(day, 10, n), line="koseki")
        ticketer.event("called", f"00{n}", at(day, 10, n, 30), line="koseki", counter=counter)
    pump.drain()
    view = line_view(at(day, 10, 5), line="koseki")
    assert view["openCounters"] == 2 and len(view["nowCalling"]) == 3


def test_fewer_waiting_than_counters_free_means_called_at_once(ticketer, pump):
    # koseki, two counters, both done by 10:15. 003's call was lost: it still looks waiting.
    day = a_tuesday()
    for number, minute, counter in (("001", 0, "1"), ("002", 1, "2")):
        ticketer.event("issued", number, at(day, 10, minute), line="koseki")
        ticketer.event("called", number, at(day, 10, minute, 30), line="koseki", counter=counter)
        ticketer.event("served", number, at(day, 10, minute + 12), line="koseki")
    ticketer.event("issued", "003", at(day, 10, 20), line="koseki")
    pump.drain()

    view = line_view(at(day, 10, 25), line="koseki")
    assert (view["status"], view["waiting"], view["nowCalling"]) == ("open", 1, [])
    # In one queue nobody waits while a counter is free: two free, one ahead, called at once.
    assert (view["estimate"]["minMinutes"], view["estimate"]["maxMinutes"]) == (0, 1)
    # 004 comes and is called at once: one counter busy, one free, and 003 still ahead: a wait.
    ticketer.event("issued", "004", at(day, 10, 26), line="koseki")
    ticketer.event("called", "004", at(day, 10, 26), line="koseki", counter="1")
    pump.drain()
    busy = line_view(at(day, 10, 27), line="koseki")
    assert (busy["waiting"], busy["nowCalling"]) == (1, [{"number": "004", "counter": "1"}])
    assert busy["estimate"]["maxMinutes"] not in (0, 1)


def test_a_call_at_another_lines_counter_moves_the_ticket_there(ticketer, pump):
    # A001's transfer to kokuho was lost; kokuho's counter 1 calls it while jumin's counter 1 serves A002.
    day = a_tuesday()
    ticketer.event("issued", "A001", at(day, 10, 0))
    ticketer.event("issued", "A002", at(day, 10, 1))
    ticketer.event("called", "A002", at(day, 10, 2), counter="1")
    ticketer.event("called", "A001", at(day, 10, 5), line="kokuho", counter="1")
    pump.drain()

    jumin, kokuho = line_view(at(day, 10, 6)), line_view(at(day, 10, 6), line="kokuho")
    assert (jumin["waiting"], jumin["nowCalling"]) == (0, [{"number": "A002", "counter": "1"}])
    assert (kokuho["waiting"], kokuho["nowCalling"]) == (0, [{"number": "A001", "counter": "1"}])


def test_the_signature_is_hex_in_either_case(client):
    document = {"id": "hex-case", "type": "issued", "office": "honcho", "line": "jumin", "ticket": "1",
                "at": "2025-03-04T10:00:00+09:00"}  # fmt: skip
    body = json.dumps(document).encode()
    stamp, mac = sign_madoguchi(os.environ["QUEUE_WEBHOOK_SECRET"], body, int(time.time())).split(",v1=")
    response = client.http.post(
        "/queue/webhooks/honcho",
        body=body,
        headers={"Content-Type": "application/json", "X-Madoguchi-Signature": f"{stamp},v1={mac.upper()}"},
    )
    assert response.status_code == 200, response.body


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        ({"secret": "wrong"}, 401, "invalid_signature"),
        ({"stamp": 1_000_000}, 401, "invalid_signature"),
    ],
)
def test_unsigned_or_replayed_requests_are_refused(client, change, status, code):
    document = {"id": "x1", "type": "issued", "office": "honcho", "line": "jumin", "ticket": "1",
                "at": "2025-03-04T10:00:00+09:00"}  # fmt: skip
    response = Ticketer(client).post(document, **change)
    assert response.status_code == status
    assert json.loads(response.body)["error"]["code"] == code


def test_bad_bodies_and_unknown_sources_are_4xx(client, tmp_path, monkeypatch):
    sink = tmp_path / "metrics.jsonl"
    monkeypatch.setenv("MADOGUCHI_METRICS_FILE", str(sink))
    ticketer = Ticketer(client)
    bad_line = {"id": "x2", "type": "issued", "office": "honcho", "line": "passports", "ticket": "1",
                "at": "2025-03-04T10:00:00+09:00"}  # fmt: skip
    assert ticketer.post(bad_line).status_code == 422
    # A ticket machine whose clock runs a day ahead: refused, so today's figures stay today's.
    tomorrow = datetime.now(UTC).astimezone(rules.TOKYO) + timedelta(days=1)
    ahead = ticketer.post({**bad_line, "line": "jumin", "at": tomorrow.isoformat()})
    assert (ahead.status_code, json.loads(ahead.body)["error"]["code"]) == (422, "time_in_future")
    assert Ticketer(client, "nowhere").post(bad_line).status_code == 404
    # The configured source's refusals are counted for the operators' alarm; a name nobody
    # configured (a scanner's guess) is not.
    refused = [line for line in sink.read_text().splitlines() if '"QueueEventsRefused"' in line]
    assert len(refused) == 2


@pytest.mark.parametrize("counter", ["\u202e1", "1\u0000", "\x1b[31m1"])
def test_a_counter_name_with_control_or_bidi_characters_is_refused(client, counter):
    document = {"id": f"ctl-{len(counter)}", "type": "called", "office": "honcho", "line": "jumin",
                "ticket": "1", "at": "2025-03-04T10:00:00+09:00", "counter": counter}  # fmt: skip
    response = Ticketer(client).post(document)
    assert (response.status_code, json.loads(response.body)["error"]["code"]) == (422, "invalid_text")


def test_a_body_no_store_can_encode_is_refused_and_its_id_stays_free(ticketer, pump):
    day = a_tuesday()
    # A lone surrogate ("\\udc00") is valid JSON text but no UTF-8 queue, table or log takes it.
    broken = b'{"id": "sur-1", "type": "issued", "office": "honcho", "line": "jumin", "ticket": "\\udc00", "at": "%s"}'
    body = broken % at(day, 9, 0).isoformat().encode()
    signature = sign_madoguchi(os.environ["QUEUE_WEBHOOK_SECRET"], body, int(time.time()))
    headers = {"Content-Type": "application/json", "X-Madoguchi-Signature": signature}
    response = ticketer.client.http.post("/queue/webhooks/honcho", body=body, headers=headers)
    assert (response.status_code, json.loads(response.body)["error"]["code"]) == (400, "malformed_json")
    # The machine's corrected event under the same id is taken, not dropped as a duplicate.
    assert ticketer.event("issued", "001", at(day, 9, 0), id="sur-1")["duplicate"] is False
    pump.drain()
    assert line_view(at(day, 9, 1))["waiting"] == 1


def test_whatever_stops_the_send_the_event_is_forgotten_so_the_retry_is_taken(ticketer, pump, monkeypatch):
    from chalicelib.adapters import queues

    def broken(name: str) -> str:
        raise RuntimeError("not SQS's refusal: a bug, or a client that failed to build")

    day = a_tuesday()
    monkeypatch.setattr(queues, "queue_url", broken)
    failed = ticketer.post({"id": "retry-1", "type": "issued", "office": "honcho", "line": "jumin",
                            "ticket": "001", "at": at(day, 9, 0).isoformat()})  # fmt: skip
    assert (failed.status_code, json.loads(failed.body)["error"]["code"]) == (503, "unavailable")
    monkeypatch.undo()
    assert ticketer.event("issued", "001", at(day, 9, 0), id="retry-1")["duplicate"] is False
    pump.drain()
    assert line_view(at(day, 9, 1))["waiting"] == 1


def test_a_vendor_that_cannot_sign_may_send_only_from_its_listed_addresses(client, monkeypatch):
    from chalice.local import LambdaEventConverter

    two_days_ago = (datetime.now(UTC) - timedelta(days=2)).isoformat()

    def post_from(address: str):
        monkeypatch.setattr(LambdaEventConverter, "LOCAL_SOURCE_IP", address)
        return client.http.post(
            "/queue/webhooks/kameari-kiosk",
            body=json.dumps(
                # Two days ago: an earlier day's figures, inside what a kiosk may send late.
                {"event": "ISSUE", "ticket": "A2", "service": "S1", "time": two_days_ago}
            ),
            headers={"Content-Type": "application/json", "X-Queue-Token": os.environ["QUEUE_KIOSK_SECRET"]},
        )

    # The right token from elsewhere (anyone who saw one request could replay it): refused.
    refused = post_from("203.0.113.9")
    assert (refused.status_code, json.loads(refused.body)["error"]["code"]) == (403, "address_not_allowed")
    assert post_from("127.0.0.1").status_code == 200  # locally the kiosk's listed address


def test_status_is_cacheable_with_an_etag(client):
    first = client.http.get("/queue/status", headers={"Accept-Language": "en"})
    assert first.status_code == 200
    headers = {name.lower(): value for name, value in first.headers.items()}
    assert "max-age" in headers["cache-control"]
    body = json.loads(first.body)
    assert body["language"] == "en"
    assert {office["id"] for office in body["offices"]} == {"honcho", "kanamachi", "kameari"}
    etag = headers["etag"]
    again = client.http.get("/queue/status", headers={"Accept-Language": "en", "If-None-Match": etag})
    assert again.status_code == 304
    assert again.body in (b"", "")
    assert client.http.get("/queue/status?lang=ko", headers={"If-None-Match": etag}).status_code == 200
    # HEAD (uptime monitors, link checkers): the GET's status and headers, no body.
    head = client.http.head("/queue/status", headers={"Accept-Language": "en"})
    assert (head.status_code, head.headers["ETag"], head.body) == (200, etag, b"")
    # やさしい日本語 is Japanese to a browser or a cache: "ja-easy" is no BCP 47 tag.
    easy = client.http.get("/queue/status?lang=ja-easy")
    assert json.loads(easy.body)["language"] == "ja-easy" and easy.headers["Content-Language"] == "ja"


def test_the_queue_page_answers_head_with_its_headers_and_no_body(client):
    got, head = client.http.get("/queue"), client.http.head("/queue")
    assert (got.status_code, head.status_code) == (200, 200)
    assert head.headers["Content-Type"] == got.headers["Content-Type"] == "text/html; charset=utf-8"
    assert got.body and head.body == b""


def test_nobody_waiting_and_a_counter_free_is_no_wait_on_the_json_and_line(ticketer, pump):
    from chalicelib.services import queues
    from chalicelib.store import queues as store

    day = a_tuesday()
    ticketer.event("issued", "001", at(day, 10, 0))
    ticketer.event("called", "001", at(day, 10, 1), counter="1")
    ticketer.event("served", "001", at(day, 10, 4))
    ticketer.event("issued", "002", at(day, 10, 2))
    ticketer.event("called", "002", at(day, 10, 3), counter="2")  # still at the counter
    pump.drain()
    now = at(day, 10, 10)

    # Counter 1 is free, but with no history of this hour it could be on a break: "under 1 min".
    kept = {i.item_key: i for i in store.office_items("honcho")}.get(store.profile_key("jumin"))
    if kept is not None:
        kept.delete()
    try:
        assert line_view(now)["estimate"]["label"] == "1分未満"
        # History: two counters usually call at 10 on Tuesdays. One is free: no wait.
        usual = {"10": {"days": 4, "issued": 20, "counters": 2, "busyCalls": 0, "busyMinutes": 0}}
        store.save_profile("honcho", "jumin", {str(day.weekday()): usual}, now)
        view = line_view(now)
        assert (view["waiting"], view["estimate"]["minMinutes"], view["estimate"]["maxMinutes"]) == (0, 0, 0)
        assert view["estimate"]["label"] == "すぐご案内"
        assert line_view(now, language="en")["estimate"]["label"] == "No wait"
        texts = [item["text"] for item in queues.flex_message(now, "ja")["contents"]["body"]["contents"]]
        assert "住民票・印鑑証明: 0人待ち・すぐご案内" in texts
        # Someone waiting again: a wait, not "no wait".
        ticketer.event("issued", "003", at(day, 10, 11))
        pump.drain()
        assert line_view(at(day, 10, 12))["estimate"]["maxMinutes"] != 0
    finally:  # the profile written here goes, the one before comes back
        for item in store.office_items("honcho"):
            if item.item_key == store.profile_key("jumin"):
                item.delete()
        if kept is not None:
            kept.save()


# --- the watch --------------------------------------------------------------------------------------


@pytest.fixture
def mint(sandbox):
    from chalicelib.config import get_settings

    def mint(user_id: str) -> str:
        body = {"sub": user_id, "aud": get_settings().line_login_channel_id}
        response = requests.post(f"{sandbox.base_url}/__sandbox/id-tokens", json=body, timeout=5)
        response.raise_for_status()
        return response.json()["idToken"]

    return mint


def pushes_to(sandbox, user_id: str) -> list[dict]:
    return [r for r in sandbox.requests("/v2/bot/message/push") if (r.get("body") or {}).get("to") == user_id]


def earlier(now: datetime, minutes: float) -> datetime:
    """`minutes` before `now`, squeezed after Tokyo midnight while the day is younger than the
    half hour these tests look back: tickets are keyed by their Tokyo day, so a test run at
    00:10 JST must not issue its tickets on the day before."""
    midnight = now.astimezone(rules.TOKYO).replace(hour=0, minute=0, second=0, microsecond=0)
    scale = min(1.0, (now - midnight).total_seconds() / (31 * 60))
    return now - timedelta(minutes=minutes * scale)


def tickets_today(ticketer, pump, line: str, count: int, letter: str) -> tuple[list[str], str, datetime]:
    """`count` tickets issued a minute apart (less just after midnight JST) on `line` today
    (numbers of this test's own), the signed link of the last one, and now."""
    now = datetime.now(UTC)
    prefix = f"{letter}{int(time.time() * 1000) % 100000:05d}"
    numbers = [f"{prefix}-{n}" for n in range(1, count + 1)]
    for offset, number in enumerate(numbers):
        ticketer.event("issued", number, earlier(now, 30 - offset), line=line)
    pump.drain()
    today = now.astimezone(rules.TOKYO).date()
    return numbers, rules.sign_ticket(os.environ["QUEUE_TICKET_SECRET"], "honcho", today, numbers[-1]), now


def a_resident(mint) -> tuple[str, dict[str, str]]:
    """A new LINE user and the headers of their LIFF calls."""
    from tests.integration.conftest import new_user_id

    user = new_user_id()
    return user, {"Authorization": f"Bearer {mint(user)}", "Content-Type": "application/json"}


def test_an_issue_is_answered_with_the_link_the_ticket_prints(client, ticketer):
    from chalicelib.config import get_settings

    now = datetime.now(UTC)
    number = f"P{int(time.time() * 1000) % 100000:05d}"
    first = ticketer.event("issued", number, earlier(now, 1), line="koseki")
    again = ticketer.event("issued", number, earlier(now, 1), line="koseki")  # the machine's retry
    assert again["duplicate"] and again["ticketUrl"] == first["ticketUrl"]
    prefix = f"{get_settings().liff_url}/queue/tickets/"
    assert first["ticketUrl"].startswith(prefix)
    ref = first["ticketUrl"][len(prefix) :]
    today = now.astimezone(rules.TOKYO).date()
    assert rules.read_ticket(os.environ["QUEUE_TICKET_SECRET"], ref) == rules.TicketRef(
        "honcho", today, number
    )
    # The printed link opens <LIFF endpoint>/queue/tickets/<ref>, the endpoint being <origin>/web.
    assert client.http.get(f"/web/queue/tickets/{ref}").status_code == 200
    moved = client.http.get(f"/queue/tickets/{ref}?lang=en")
    assert (moved.status_code, moved.headers["Location"]) == (308, f"/web/queue/tickets/{ref}?lang=en")
    # The path parameter is encoded again in the Location (API Gateway decodes it: a CR LF or a
    # "../" in it must not reach the header raw; the local client passes it on as sent).
    odd = client.http.get("/queue/tickets/a%0D%0AX:%201")
    assert odd.headers["Location"] == "/web/queue/tickets/a%250D%250AX%3A%25201"
    # A ticket of another day gets no link (it would be dead); only an issue prints a ticket.
    old = ticketer.event("issued", number, at(a_tuesday(), 10), line="koseki", id=f"{number}-old")
    assert "ticketUrl" not in old
    assert "ticketUrl" not in ticketer.event("called", number, earlier(now, 0.5), line="koseki", counter="1")


def test_a_watching_resident_is_told_once_when_near_and_once_when_called(
    client, ticketer, pump, sandbox, mint
):
    from chalicelib.services import queues

    numbers, ref, now = tickets_today(ticketer, pump, "zeimu", 6, "W")
    today = now.astimezone(rules.TOKYO).date()
    user, headers = a_resident(mint)

    assert (
        client.http.post(f"/queue/tickets/{ref}/watch", body='{"ahead": 9}', headers=headers).status_code
        == 422
    )
    assert client.http.post(f"/queue/tickets/{ref}x/watch", body="{}", headers=headers).status_code == 404
    answer = client.http.post(f"/queue/tickets/{ref}/watch", body='{"ahead": 3.0}', headers=headers)
    assert answer.status_code == 200, answer.body
    assert json.loads(answer.body)["peopleAhead"] == 5
    assert json.loads(answer.body)["ahead"] == 3 and "3.0" not in json.loads(answer.body)["message"]
    page = client.http.get(f"/web/queue/tickets/{ref}")
    assert page.status_code == 200 and numbers[-1] in page.body.decode()
    assert "5" in page.body.decode().split('id="ahead-now"')[1].split("</p>")[0]

    ticketer.event("called", numbers[0], earlier(now, 5), line="zeimu", counter="1")
    pump.drain()
    assert pushes_to(sandbox, user) == []  # 4 ahead
    ticketer.event("called", numbers[1], earlier(now, 4), line="zeimu", counter="2")
    ticketer.event("served", numbers[0], earlier(now, 3), line="zeimu")
    pump.drain()
    [near] = pushes_to(sandbox, user)
    assert "3" in near["body"]["messages"][0]["text"]
    assert {name.lower() for name in near["headers"]} >= {"x-line-retry-key"}
    # More events, a re-asked watch: still only the one near notice.
    client.http.post(f"/queue/tickets/{ref}/watch", body="{}", headers=headers)
    ticketer.event("called", numbers[2], earlier(now, 2), line="zeimu", counter="1")
    pump.drain()
    assert len(pushes_to(sandbox, user)) == 1

    ticketer.event("called", numbers[-1], earlier(now, 1), line="zeimu", counter="2")
    pump.drain()
    queues.notify_watchers("honcho", today.isoformat(), {"zeimu"}, datetime.now(UTC))  # a rerun sends nothing
    texts = [push["body"]["messages"][0]["text"] for push in pushes_to(sandbox, user)]
    assert len(texts) == 2 and "2" in texts[1] and numbers[-1] in texts[1]


def test_a_call_notice_whose_push_failed_goes_out_when_sqs_delivers_the_event_again(
    client, ticketer, pump, sandbox, mint
):
    """A review: the redelivered "called" was a duplicate for the ticket, and nobody was told."""
    numbers, ref, now = tickets_today(ticketer, pump, "kokuho", 1, "F")
    user, headers = a_resident(mint)
    assert client.http.post(f"/queue/tickets/{ref}/watch", body="{}", headers=headers).status_code == 200
    sandbox.fault("/v2/bot/message/push", status=500, count=4)  # every attempt of the first delivery
    ticketer.event("called", numbers[-1], earlier(now, 1), line="kokuho", counter="4")
    pump.drain()  # the push fails, the record fails, SQS delivers it again
    *failed, sent = pushes_to(sandbox, user)
    assert [f["status"] for f in failed] == [500] * 4 and sent["status"] == 200
    called = sent["body"]["messages"][0]["text"]
    assert "4" in called and numbers[-1] in called
    ticketer.event("served", numbers[-1], earlier(now, 0.5), line="kokuho")  # the line left as found
    pump.drain()


def test_a_ticket_transferred_after_its_call_is_told_its_next_call_too(client, ticketer, pump, sandbox, mint):
    """An outside run: called at counter 3, then sent to another line and called at counter 7,
    the resident heard only of counter 3 (the call notice counted as given for the day)."""
    numbers, ref, now = tickets_today(ticketer, pump, "koseki", 2, "T")
    user, headers = a_resident(mint)
    assert client.http.post(f"/queue/tickets/{ref}/watch", body="{}", headers=headers).status_code == 200
    mine = numbers[-1]
    ticketer.event("called", mine, earlier(now, 6), line="koseki", counter="3")
    ticketer.event("recalled", mine, earlier(now, 5), line="koseki", counter="3")  # the same call
    ticketer.event("transferred", mine, earlier(now, 4), line="kokuho")
    ticketer.event("called", mine, earlier(now, 2), line="kokuho", counter="7")
    ticketer.event("served", mine, earlier(now, 1), line="kokuho")  # none of its line's open tickets
    pump.drain()
    texts = [push["body"]["messages"][0]["text"] for push in pushes_to(sandbox, user)]
    assert len(texts) == 2 and "3" in texts[0] and "7" in texts[1], texts
    keys = {
        {k.lower(): v for k, v in push["headers"].items()}["x-line-retry-key"]
        for push in pushes_to(sandbox, user)
    }
    assert len(keys) == 2  # LINE would drop a second push under the first one's key


def test_the_ticket_page_is_a_resident_page_that_starts_and_stops_the_watch(client, ticketer, pump, mint):
    from chalicelib.web.render import Texts as render_texts
    from tests.integration.test_web_pages import _csrf, headers, post

    # Not kokuho: the close-out test counts that line's tickets.
    numbers, ref, _ = tickets_today(ticketer, pump, "koseki", 4, "L")
    shown = client.http.get(f"/web/queue/tickets/{ref}?lang=en")
    assert shown.status_code == 200 and numbers[-1] in shown.body.decode()
    # The resident pages' headers: a CSP without inline script, no caching of a form.
    assert "unsafe-inline" not in headers(shown)["content-security-policy"]
    assert headers(shown)["cache-control"] == "no-store" and "<script>" not in shown.body.decode()
    cookie, token = _csrf(shown)
    fields = {"csrf": token, "lang": "en", "ahead": "2", "action": "watch"}
    outside = post(client, f"/web/queue/tickets/{ref}", cookie, fields)  # no LINE login
    # Said on the ticket, which stays in view (a walkthrough: a page of its own lost it).
    line_only = render_texts("en").plain("queue.watch.line_only")
    assert outside.status_code == 401 and numbers[-1] in outside.body.decode()
    assert line_only in outside.body.decode()
    user, _ = a_resident(mint)
    refused = post(
        client, f"/web/queue/tickets/{ref}", cookie, {**fields, "id_token": mint(user), "ahead": "9"}
    )
    assert refused.status_code == 422 and 'id="notice"' in refused.body.decode()
    watching = post(client, f"/web/queue/tickets/{ref}", cookie, {**fields, "id_token": mint(user)})
    assert watching.status_code == 200 and "when 2 or fewer people are ahead" in watching.body.decode()
    # Outside LINE the notices' form waits hidden for a LINE sign-in (web.js shows it), the wait is
    # followed on the page, refreshing itself when asked to; signed in, no "open it in LINE" note.
    assert line_only in shown.body.decode() and line_only not in watching.body.decode()
    assert 'id="watch" class="js-liff-only hidden"' in shown.body.decode()
    assert 'id="watch" class="js-liff-only"' in watching.body.decode()
    assert "refresh" not in headers(shown)
    auto = client.http.get(f"/web/queue/tickets/{ref}?lang=en&auto=1")
    assert headers(auto)["refresh"] == "30" and 'id="auto-note"' in auto.body.decode()
    stopped = post(
        client, f"/web/queue/tickets/{ref}", cookie, {**fields, "id_token": mint(user), "action": "stop"}
    )
    assert "Notifications stopped." in stopped.body.decode()
    assert client.http.get(f"/web/queue/tickets/{ref}x").status_code == 404

    # Left open past its two-hour cookie, posted from our own page: no watch started, the page
    # again with a note and the number chosen; another site's post still gets "expired".
    from urllib.parse import urlencode

    from chalicelib.store import queues as store
    from tests.integration.test_web_pages import FORM

    other, _ = a_resident(mint)
    own_page = {**FORM, "Sec-Fetch-Site": "same-origin", "Origin": "http://localhost", "Host": "localhost"}
    stale = urlencode({**fields, "csrf": "stale" * 8, "ahead": "4", "id_token": mint(other)})
    again = client.http.post(f"/web/queue/tickets/{ref}", body=stale, headers=own_page)
    assert again.status_code == 200 and 'id="notice"' in again.body.decode()
    assert '<option value="4" selected>' in again.body.decode()
    ticket = rules.read_ticket(os.environ["QUEUE_TICKET_SECRET"], ref)
    assert store.get_watch(ticket.key, ticket.number, other) is None
    cross = {**own_page, "Sec-Fetch-Site": "cross-site"}
    assert client.http.post(f"/web/queue/tickets/{ref}", body=stale, headers=cross).status_code == 403


def test_the_ticket_page_and_the_watch_say_where_the_ticket_stands(client, ticketer, pump, mint):
    from tests.integration.test_web_pages import _csrf, post

    numbers, ref, now = tickets_today(ticketer, pump, "koseki", 3, "T")
    today = now.astimezone(rules.TOKYO).date()
    ref_of = {n: rules.sign_ticket(os.environ["QUEUE_TICKET_SECRET"], "honcho", today, n) for n in numbers}
    ticketer.event("called", numbers[0], earlier(now, 2), line="koseki", counter="2")
    ticketer.event("called", numbers[1], earlier(now, 1), line="koseki", counter="1")
    ticketer.event("served", numbers[1], earlier(now, 0.5), line="koseki")
    pump.drain()
    user, headers = a_resident(mint)

    def page(ticket_ref: str):
        response = client.http.get(f"/web/queue/tickets/{ticket_ref}?lang=en")
        return response.status_code, response.body.decode()

    def watch(ticket_ref: str):
        response = client.http.post(f"/queue/tickets/{ticket_ref}/watch?lang=en", body="{}", headers=headers)
        return response.status_code, json.loads(response.body).get("error", {}).get("code")

    status, body = page(ref_of[numbers[0]])  # called: where to go, nothing to watch
    assert status == 200 and "Please go to counter 2." in body and 'id="watch"' not in body
    assert watch(ref_of[numbers[0]]) == (409, "ticket_called")
    status, body = page(ref_of[numbers[1]])  # served
    assert status == 200 and "no longer in the queue" in body and 'id="watch"' not in body
    assert watch(ref_of[numbers[1]]) == (409, "ticket_finished")
    # A link printed before its issue reached us: not "finished", but "not yet".
    early = rules.sign_ticket(os.environ["QUEUE_TICKET_SECRET"], "honcho", today, f"{numbers[0]}-next")
    status, body = page(early)
    assert status == 200 and "has not reached us yet" in body and 'id="watch"' not in body
    assert watch(early) == (409, "ticket_not_yet_known")
    status, body = page(ref + "x")  # a link we never signed
    assert status == 404 and "This ticket was not found." in body

    # Waiting: the form; an "ahead" the page does not offer is refused in the resident's words.
    status, body = page(ref)
    assert status == 200 and 'id="watch"' in body and "People ahead of you now:" in body
    cookie, token = _csrf(client.http.get(f"/web/queue/tickets/{ref}?lang=en"))
    for odd in ("²", "٣", "3.5", "-1"):
        fields = {"csrf": token, "lang": "en", "ahead": odd, "action": "watch", "id_token": mint(user)}
        refused = post(client, f"/web/queue/tickets/{ref}", cookie, fields)
        assert (
            refused.status_code == 422 and "Please choose from 1 to 5 people ahead." in refused.body.decode()
        )


def test_a_machine_clock_a_little_ahead_does_not_date_the_last_update_in_the_future(ticketer, pump):
    from chalicelib.store import queues as store

    ticketer.event("issued", "F001", datetime.now(UTC) + timedelta(seconds=200), line="zeimu")
    pump.drain()
    last = store.get_live("honcho", "zeimu").live["lastEventAt"]
    assert rules.parse_time(last) <= datetime.now(UTC)


def test_a_local_demo_after_hours_shows_the_figures_only_when_asked(ticketer, pump, monkeypatch):
    from dataclasses import replace

    from chalicelib.config import get_settings
    from chalicelib.services import queues

    sunday_night = a_tuesday() + timedelta(days=5)
    ticketer.event("issued", "N001", at(sunday_night, 21, 0), line="zeimu")
    pump.drain()
    now = at(sunday_night, 21, 5)
    assert line_view(now, line="zeimu")["status"] == "closed"
    monkeypatch.setattr(queues, "get_settings", lambda: replace(get_settings(), queue_always_open=True))
    shown = line_view(now, line="zeimu")
    assert shown["status"] == "open" and shown["waiting"] == 1


def test_the_watch_answers_in_the_language_the_resident_chose_on_line(client, ticketer, pump, mint):
    """As its pushes, and as a LIFF booking or submission: not the phone's Accept-Language."""
    from chalicelib.store import residents

    _, ref, _ = tickets_today(ticketer, pump, "koseki", 3, "L")
    user, headers = a_resident(mint)
    assert residents.record_follow(user, "en", 1)
    japanese_phone = {**headers, "Accept-Language": "ja"}
    started = client.http.post(f"/queue/tickets/{ref}/watch", body="{}", headers=japanese_phone)
    stopped = client.http.delete(f"/queue/tickets/{ref}/watch", headers=japanese_phone)
    assert started.status_code == stopped.status_code == 200 and json.loads(stopped.body)["stopped"]
    for answer in (started, stopped):
        message = json.loads(answer.body)["message"]
        assert message.isascii() and re.search(r"[A-Za-z]{3}", message), message
    # Its refusals too: a forged ticket link, a threshold out of range.
    forged = client.http.post(f"/queue/tickets/{ref}x/watch", body="{}", headers=japanese_phone)
    too_far = client.http.post(f"/queue/tickets/{ref}/watch", body='{"ahead": 9}', headers=japanese_phone)
    for answer, status in ((forged, 404), (too_far, 422)):
        error = json.loads(answer.body)["error"]
        assert answer.status_code == status and error["message"].isascii(), error


def test_stop_ends_the_watch(client, ticketer, pump, sandbox, mint):
    numbers, ref, now = tickets_today(ticketer, pump, "koseki", 5, "S")
    user, headers = a_resident(mint)

    def stop() -> bool:
        response = client.http.delete(f"/queue/tickets/{ref}/watch", headers=headers)
        assert response.status_code == 200
        return json.loads(response.body)["stopped"]

    def state(query: str = "") -> dict:
        response = client.http.get(f"/queue/tickets/{ref}/watch{query}", headers=headers)
        assert response.status_code == 200, response.body
        return json.loads(response.body)

    assert stop() is False  # nothing was asked for: nothing said stopped
    assert state()["watching"] is False
    assert (
        client.http.post(f"/queue/tickets/{ref}/watch", body='{"ahead": 1}', headers=headers).status_code
        == 200
    )
    # The page opened again says the notices are on (in its own language), and from how far.
    on = state("?lang=en")
    assert (on["watching"], on["ahead"]) == (True, 1)
    assert on["message"].startswith("Notifications are on") and " 1 " in on["message"]
    # The page says what the watch said when asked (a re-test: after "told only when called", it
    # promised a near notice): at 5, near or not as the people ahead now are (other tests' too).
    asked = client.http.post(f"/queue/tickets/{ref}/watch", body='{"ahead": 5}', headers=headers)
    near = json.loads(asked.body)["nearNotice"]
    close = state("?lang=en")
    assert (close["watching"], close["ahead"]) == (True, 5)
    too_close = messages.text("queue.watch.too_close", "en")
    assert close["message"] == (messages.text("queue.watch.on", "en", ahead=5) if near else too_close)
    if not near:
        assert json.loads(asked.body)["message"] == too_close  # one sentence, asked or reopened
    assert stop() is True
    assert stop() is False  # stopped already: nothing stopped now
    off = state("?lang=en")
    assert (off["watching"], off["ahead"], off["message"]) == (
        False,
        None,
        "Notifications are off for this ticket.",
    )
    assert client.http.get(f"/queue/tickets/{ref}/watch").status_code == 401
    for n, number in enumerate(numbers, start=1):
        ticketer.event("called", number, earlier(now, 10 - n), line="koseki", counter="1")
    pump.drain()
    assert pushes_to(sandbox, user) == []
    assert client.http.post(f"/queue/tickets/{ref}/watch", body="{}").status_code == 401


def test_a_close_out_tells_no_watcher_that_their_turn_is_near(client, ticketer, pump, sandbox, mint):
    from chalicelib.services import queue_history

    numbers, ref, now = tickets_today(ticketer, pump, "kokuho", 5, "C")
    user, headers = a_resident(mint)
    watch = client.http.post(f"/queue/tickets/{ref}/watch", body='{"ahead": 3}', headers=headers)
    assert watch.status_code == 200, watch.body

    # The tickets ahead are closed out one by one (lost events): nobody is nearer their turn.
    today = now.astimezone(rules.TOKYO).date().isoformat()
    assert queue_history.close_out("honcho", today, now, line="kokuho") == len(numbers)
    assert pushes_to(sandbox, user) == []


# --- staff reset ---------------------------------------------------------------------------------


def auth(section: str, role: str = ROLE_STAFF) -> dict[str, str]:
    token = mint_token(staff_id=f"staff-{section}-9", section=section, roles=[role])
    return {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}


def test_only_the_section_running_the_line_may_reset_it_and_it_is_audited(client, ticketer, pump):
    from chalicelib.store.models import AuditEntry

    now = datetime.now(UTC)
    prefix = f"R{int(time.time() * 1000) % 100000:05d}"
    for n in range(3):
        ticketer.event("issued", f"{prefix}-{n}", earlier(now, 5), line="kokuho")
    pump.drain()
    body = json.dumps({"reason": "発券機の停止でイベントが欠落"})
    for headers in (auth("zeimu"), auth("kokuho-nenkin", "admin"), auth("kokuho-nenkin", "announcer")):
        assert (
            client.http.post("/staff/queue/honcho/kokuho/reset", body=body, headers=headers).status_code
            == 403
        )
    for blank in ("{}", '{"reason": "   "}'):  # the audit entry says why
        assert (
            client.http.post(
                "/staff/queue/honcho/kokuho/reset", body=blank, headers=auth("kokuho-nenkin")
            ).status_code
            == 422
        )
    assert (
        client.http.post(
            "/staff/queue/honcho/nope/reset", body=body, headers=auth("kokuho-nenkin")
        ).status_code
        == 404
    )
    response = client.http.post("/staff/queue/honcho/kokuho/reset", body=body, headers=auth("kokuho-nenkin"))
    assert response.status_code == 200, response.body
    assert json.loads(response.body)["ticketsClosed"] >= 3
    assert json.loads(response.body)["resetAt"].endswith("+09:00")  # Tokyo, as every staff answer
    from chalicelib.store import queues as store

    assert store.get_live("honcho", "kokuho").live["waiting"] == 0
    [entry] = [e for e in AuditEntry.query("queue#honcho#kokuho") if e.actor_id == "staff-kokuho-nenkin-9"][
        -1:
    ]
    assert entry.action == "queue_reset" and "欠落" in entry.note

    # A reason nobody can read is no reason.
    for unreadable in ('{"reason": "\\u0000\\n"}', '{"reason": "ok \\u202e"}'):
        refused = client.http.post(
            "/staff/queue/honcho/kokuho/reset", body=unreadable, headers=auth("kokuho-nenkin")
        )
        assert refused.status_code == 422, unreadable
    # Two staff resetting in the same instant: two entries, neither overwrites the other.
    from chalicelib.services import queues

    trail = "queue#honcho#zeimu"
    before = len(list(AuditEntry.query(trail, consistent_read=True)))
    for reason in ("first", "second"):
        queues.reset_line("zeimu", "staff-zeimu-1", "honcho", "zeimu", reason, now)
    notes = [e.note for e in AuditEntry.query(trail, consistent_read=True)][before:]
    assert sorted(notes) == ["first", "second"]


def test_a_reset_line_does_not_count_again_the_tickets_its_machine_sends_late(client, ticketer, pump):
    """Staff reset a line after its ticket machine lost events; the machine's backlog arrives
    afterwards. Tickets that were in the queue before the reset are closed as of it, whatever
    arrives for them; tickets issued after the reset count as usual."""
    from chalicelib.services.queues import _day_key
    from chalicelib.store import queues as store

    prefix = f"Z{int(time.time() * 1000) % 100000:05d}"
    reset = client.http.post(
        "/staff/queue/honcho/zeimu/reset", body=json.dumps({"reason": "発券機の停止"}), headers=auth("zeimu")
    )
    assert reset.status_code == 200, reset.body
    reset_at = store.get_live("honcho", "zeimu").reset_at
    late, called, fresh = f"{prefix}-late", f"{prefix}-called", f"{prefix}-new"
    ticketer.event("issued", late, earlier(reset_at, 1.5), line="zeimu")
    ticketer.event("called", called, earlier(reset_at, 0.5), line="zeimu", counter="1")  # its issue lost
    time.sleep(1.1)  # stamps are whole seconds: after the reset's
    ticketer.event("issued", fresh, datetime.now(UTC), line="zeimu")
    pump.drain()
    live = store.get_live("honcho", "zeimu").live
    assert live["waiting"] == 1 and not live["calling"]
    day_key = _day_key("honcho", reset_at.astimezone(rules.TOKYO).date().isoformat())

    def status(number: str) -> str:
        return rules.fold(number, list(store.get_ticket(day_key, number).events)).status

    assert (status(late), status(called), status(fresh)) == ("closed", "closed", "waiting")
    # The backlog goes on: the pre-reset ticket's call and service change no count.
    ticketer.event("called", late, datetime.now(UTC), line="zeimu", counter="2")
    pump.drain()
    assert store.get_live("honcho", "zeimu").live["waiting"] == 1 and status(late) == "closed"


# --- the night -----------------------------------------------------------------------------------


def test_nightly_closes_out_keeps_history_and_publishes_suppressed_open_data(ticketer, pump):
    from chalicelib.adapters import open_data
    from chalicelib.services import queue_history, queues
    from chalicelib.store import queues as store

    day = a_tuesday()
    # 9 and 10 o'clock: 12 tickets each, all served (waits of 15 and 16 min); 11 o'clock:
    # 3 tickets, one left waiting, one left called.
    for n in range(12):
        for hour, wait in ((9, 16), (10, 15)):
            number = f"{n + (hour - 9) * 100:03d}"
            ticketer.event("issued", number, at(day, hour, n))
            ticketer.event("called", number, at(day, hour, n + wait), counter=str(n % 3 + 1))
            ticketer.event("served", number, at(day, hour, n + wait + 5))
    for n in range(12, 15):
        ticketer.event("issued", f"{n:03d}", at(day, 11, n))
    ticketer.event("called", "012", at(day, 11, 40), counter="1")
    ticketer.event("served", "012", at(day, 11, 45))
    ticketer.event("called", "013", at(day, 11, 50), counter="1")
    pump.drain()

    night = at(day, 23, 30)
    result = queue_history.nightly(now=night)
    assert result["closed"] == 2
    assert queue_history.nightly(now=night)["closed"] == 0  # a rerun closes nothing twice
    assert store.get_live("honcho", "jumin").live["waiting"] == 0

    [stored] = store.days("honcho", "jumin", day.isoformat(), day.isoformat())
    assert stored.hours["10"]["issued"] == 12 and stored.hours["10"]["medianWait"] == 15.0

    text = open_data.get(result["openData"]).decode("utf-8")
    rows = list(csv.DictReader(io.StringIO(text)))
    jumin = {row["hour"]: row for row in rows if row["office"] == "honcho" and row["service_line"] == "jumin"}
    assert {row["municipality_code"] for row in rows} == {"131229"}
    assert jumin["11"]["tickets_issued"] == "X"  # 3 < k
    assert jumin["09"]["tickets_issued"] == "X"  # else 27 - 12 - 12 would give hour 11 away
    assert (jumin["10"]["tickets_issued"], jumin["10"]["median_wait_minutes"]) == ("12", "15.0")
    assert jumin["all"]["tickets_issued"] == "27"

    # The page's "best time" shows what the CSV shows, and nothing it hides.
    profile = {i.item_key: i for i in store.office_items("honcho")}["profile#jumin"].profile
    assert profile[str(day.weekday())]["10"]["medianWait"] == 15.0
    best = line_view(at(day, 10, 0) + timedelta(weeks=1))["bestTime"]
    assert best["bestHours"] == ["10"]
    assert [(h["hour"], h["issued"], h["medianWaitMinutes"]) for h in best["hours"]] == [("10", 12, 15.0)]
    assert "131229" in open_data.get("queue/data-dictionary.csv").decode("utf-8")
    assert queues  # imported for the status view above


# --- LINE: the 窓口の混雑 tile ----------------------------------------------------------------------


def test_the_congestion_tile_answers_with_a_flex_message_linking_the_page(post_webhook, pump, sandbox):
    from chalicelib.config import get_settings
    from tests.integration.test_line_chat import Resident

    resident = Resident(post_webhook, pump, sandbox, language="en")
    [flex] = [message for message in resident.tap("menu.queue") if message["type"] == "flex"]
    assert 0 < len(flex["altText"]) <= 400
    footer = flex["contents"]["footer"]["contents"][0]["action"]
    assert footer["uri"] == f"{get_settings().queue_page_url}?lang=en"
    assert len(footer["label"]) <= 20
    texts = [item["text"] for item in flex["contents"]["body"]["contents"]]
    assert "Katsushika City Office (main building)" in texts
    assert any(text.startswith("Residence records and seal certificates: ") for text in texts)


def test_a_resident_who_unfollowed_is_pushed_nothing_and_may_not_watch(
    client, ticketer, pump, sandbox, mint, post_webhook
):
    """An outside run: after the resident's unfollow the queue notices were still pushed, and a
    watch was promised to a user who had unfollowed (docs/privacy.md: nothing more is sent)."""
    from tests.integration.conftest import line_event, webhook_body

    numbers, ref, now = tickets_today(ticketer, pump, "kokuho", 4, "U")
    user, headers = a_resident(mint)
    assert post_webhook(webhook_body(line_event("follow", user))).status_code == 200
    pump.drain()
    assert (
        client.http.post(f"/queue/tickets/{ref}/watch", body='{"ahead": 1}', headers=headers).status_code
        == 200
    )
    assert post_webhook(webhook_body(line_event("unfollow", user))).status_code == 200
    pump.drain()
    for offset, number in enumerate(numbers):  # near, then called: both due, neither sent
        ticketer.event("called", number, earlier(now, 4 - offset), line="kokuho", counter="1")
    pump.drain()
    assert pushes_to(sandbox, user) == []
    refused = client.http.post(f"/queue/tickets/{ref}/watch", body="{}", headers=headers)
    assert refused.status_code == 409 and json.loads(refused.body)["error"]["code"] == "not_following"
