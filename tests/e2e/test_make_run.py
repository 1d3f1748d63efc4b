"""End to end: the local stack as `make run` starts it, driven only over HTTP and the CLI tools.

A signed follow event goes to `chalice local`, the pump runs the worker, and the
greeting is found in the LINE sandbox's request log. Then Ctrl-C stops everything.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from devstack.env import Ports

ROOT = Path(__file__).resolve().parents[2]


def _wait_until(check, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.25)
    pytest.fail(f"timed out waiting for {what}")


@pytest.fixture(scope="module")
def running_stack():
    ports = {name.upper(): port for name, port in vars(Ports.free()).items()}
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("MADOGUCHI_", "LINE_", "STAFF_"))
    }
    env.update({f"MADOGUCHI_{name}_PORT": str(port) for name, port in ports.items()})
    # The consultation test opens a session an hour from whenever the suite runs (CI at night).
    env["CONSULT_SESSION_HOURS"] = "off"
    process = subprocess.Popen(
        [sys.executable, "-m", "devstack.run"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []

    def banner_seen() -> bool:
        line = process.stdout.readline()
        lines.append(line)
        if process.poll() is not None:
            pytest.fail("make run exited early:\n" + "".join(lines))
        return "madoguchi is running" in line

    try:
        _wait_until(banner_seen, 90, "the local stack to start")
        yield {"process": process, "env": env, "ports": ports}
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()


def test_a_signed_follow_event_is_greeted_through_the_whole_stack(running_stack):
    ports, env = running_stack["ports"], running_stack["env"]
    sent = subprocess.run(
        [sys.executable, "-m", "devstack.send_event", "events/line/follow.json"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert sent.returncode == 0, sent.stdout + sent.stderr
    assert "-> 200" in sent.stdout

    sandbox = f"http://127.0.0.1:{ports['LINE']}/__sandbox/requests"

    def greeting():
        replies = requests.get(sandbox, params={"path": "/v2/bot/message/reply"}, timeout=5).json()[
            "requests"
        ]
        return replies[0] if replies else None

    reply = _wait_until(greeting, 60, "the greeting in the LINE sandbox")
    assert reply["status"] == 200
    # `make event` gives each send a fresh reply token, as LINE does: the sample's is never reused.
    assert reply["body"]["replyToken"] != "nHuyWiB7yP5Zw52FIkcQobQuGDXCTA"
    assert len(reply["body"]["replyToken"]) == 32
    assert "友だち追加ありがとうございます" in reply["body"]["messages"][0]["text"]


def test_make_token_gives_a_token_that_staff_me_accepts(running_stack):
    ports, env = running_stack["ports"], running_stack["env"]
    token = subprocess.run(
        ["make", "-s", "token", "SECTION=koseki-jumin", "ROLE=staff"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout.strip()
    api = f"http://127.0.0.1:{ports['API']}/staff/me"
    me = requests.get(api, headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert me.status_code == 200
    assert me.json() == {"staffId": "dev-koseki-jumin-staff", "section": "koseki-jumin", "roles": ["staff"]}
    assert requests.get(api, timeout=10).status_code == 401


def test_make_richmenu_signs_with_the_stacks_secret_or_says_it_differs(running_stack):
    """An outside walkthrough: run from a shell without the stack's LINE_CHANNEL_SECRET, the
    menu was registered signed with the default one, and every tile tap was refused."""
    env = running_stack["env"]

    def richmenu(**extra: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["make", "-s", "richmenu"],
            cwd=ROOT,
            env={**env, **extra},
            capture_output=True,
            text=True,
            timeout=120,
        )

    assert richmenu().returncode == 0
    other = richmenu(LINE_CHANNEL_SECRET="not-the-stacks-secret")
    assert other.returncode != 0 and "another LINE_CHANNEL_SECRET" in other.stderr


def test_consultation_from_slot_list_to_the_reminder(running_stack):
    """The demo schedule is there; a staff extra session an hour ahead is booked from LIFF; the
    confirmation arrives, and the pump fires the hour-before reminder's one-time schedule."""
    from datetime import UTC, datetime, timedelta

    from chalicelib.domain import consultations as rules
    from chalicelib.domain.business_days import closure_reason

    ports, env = running_stack["ports"], running_stack["env"]
    api = f"http://127.0.0.1:{ports['API']}"
    sandbox = f"http://127.0.0.1:{ports['LINE']}"
    seeded = requests.get(f"{api}/consultations/general/slots", timeout=10).json()["slots"]
    assert seeded and all(slot["remaining"] == 2 for slot in seeded)  # make run's demo schedule

    start = (datetime.now(UTC) + timedelta(minutes=62)).replace(second=0, microsecond=0)
    if closure_reason(rules.tokyo_day(start)):
        pytest.skip("the ward office is closed today: no extra session can be set")
    slot_id = rules.slot_id(start)
    token = subprocess.run(
        ["make", "-s", "token", "SECTION=kocho", "ROLE=staff"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout.strip()
    # The demo schedule's sessions it would overlap are retired in the same request (an hour
    # from now often falls inside one; sessions of one service may not overlap).
    length = timedelta(minutes=rules.get_service("general").duration_minutes)
    retired = [
        {"slot": seeded_slot["slot"], "capacity": 0}
        for seeded_slot in seeded
        if seeded_slot["slot"] != slot_id and abs(rules.parse_slot(seeded_slot["slot"]) - start) < length
    ]
    made = requests.post(
        f"{api}/staff/consultations/general/availability",
        json={"extraSessions": [*retired, {"slot": slot_id, "capacity": 1}]},
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert made.status_code == 200, made.text
    listed = requests.get(
        f"{api}/consultations/general/slots",
        params={"from": str(rules.tokyo_day(start)), "to": str(rules.tokyo_day(start))},
        timeout=10,
    )
    assert slot_id in {slot["slot"] for slot in listed.json()["slots"]}

    user = "U" + "e2e0" * 8
    id_token = requests.post(
        f"{sandbox}/__sandbox/id-tokens", json={"sub": user, "aud": "1000000001"}, timeout=10
    ).json()["idToken"]
    booked = requests.post(
        f"{api}/consultations/general/bookings",
        json={"slot": slot_id, "mode": "in_person", "eligibility": "resident"},
        headers={"Authorization": f"Bearer {id_token}", "Idempotency-Key": "e2e-booking-0001"},
        timeout=10,
    )
    assert booked.status_code == 201, booked.text
    booking = booked.json()["booking"]

    def pushed() -> list[str]:
        found = requests.get(
            f"{sandbox}/__sandbox/requests", params={"path": "/v2/bot/message/push"}, timeout=10
        )
        return [
            r["body"]["messages"][0]["text"]
            for r in found.json()["requests"]
            if r["body"].get("to") == user and booking in r["body"]["messages"][0]["text"]
        ]

    _wait_until(lambda: len(pushed()) >= 1, 30, "the confirmation")
    assert "ご予約を受け付けました" in pushed()[0]
    _wait_until(lambda: len(pushed()) >= 2, 150, "the hour-before reminder fired by the pump")
    assert "まもなく" in pushed()[1]


def test_queue_sim_replays_through_the_signed_webhook_and_the_status_moves(running_stack):
    ports, env = running_stack["ports"], running_stack["env"]
    sim = subprocess.run(
        [sys.executable, "-m", "devstack.queue_sim", "--speed", "0", "--limit", "60", "--duplicates", "0.1"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert sim.returncode == 0, sim.stdout + sim.stderr
    assert "'refused': 0" in sim.stdout and "'duplicate': 0" not in sim.stdout

    def updated():
        status = requests.get(f"http://127.0.0.1:{ports['API']}/queue/status", timeout=10).json()
        honcho = next(office for office in status["offices"] if office["id"] == "honcho")
        return all(line["lastUpdate"] for line in honcho["lines"] if line["id"] == "jumin")

    _wait_until(updated, 60, "the pump to apply the simulated events")
    # HEAD over a kept-alive connection: no body follows its headers, so the next answer parses.
    with requests.Session() as session:
        for path in ("/queue/status", "/queue"):
            head = session.head(f"http://127.0.0.1:{ports['API']}{path}", timeout=10)
            assert (head.status_code, head.content) == (200, b"")
            assert session.get(f"http://127.0.0.1:{ports['API']}{path}", timeout=10).status_code == 200


def test_a_fee_is_paid_from_submission_to_receipt_through_the_provider_sandbox(running_stack):
    """Submission -> PayPay code -> the resident pays -> the sandbox's webhook -> worker -> receipt."""
    ports, env = running_stack["ports"], running_stack["env"]
    api = f"http://127.0.0.1:{ports['API']}"
    document = {
        "name": "葛飾 花子",
        "nameKana": "カツシカ ハナコ",
        "birthDate": "1988-04-12",
        "postalCode": "124-0012",
        "address": "東京都葛飾区立石5丁目13番1号",
        "phone": "03-1234-4321",
        "email": "hanako@example.jp",
        "scope": "self",
        "copies": 2,
        "purpose": "employment",
        "delivery": "mail",
    }
    created = requests.post(f"{api}/forms/juminhyo-copy/submissions", json=document, timeout=10).json()
    assert created["status"] == "awaiting_payment" and created["payment"]["amountYen"] == 600
    secret = {"X-Access-Secret": created["accessSecret"]}
    receipt = created["receipt"]
    intent = requests.post(
        f"{api}/submissions/{receipt}/payments", json={"method": "paypay"}, headers=secret, timeout=20
    ).json()
    assert intent["status"] == "awaiting_payment" and intent["payUrl"].startswith(
        f"http://127.0.0.1:{ports['PAY']}"
    )

    paid = requests.post(
        f"http://127.0.0.1:{ports['PAY']}/__sandbox/paypay/payments/{intent['paymentId']}/complete",
        timeout=10,
    )
    assert paid.status_code == 200

    def state():
        answer = requests.get(f"{api}/submissions/{receipt}/payment", headers=secret, timeout=10).json()
        # Paid, and the submission moved on (the worker's next step after recording the payment).
        return answer if answer["state"] == "paid" and answer["submissionStatus"] == "received" else None

    answer = _wait_until(state, 60, "the payment to be confirmed")
    assert answer["submissionStatus"] == "received" and answer["paid"]["amountYen"] == 600
    page = requests.get(f"{api}/payments/{intent['paymentId']}/receipt", headers=secret, timeout=10)
    assert page.status_code == 200 and intent["paymentId"] in page.text

    # The make event sample for the same payment is a duplicate hint: accepted, nothing changes.
    sent = subprocess.run(
        [
            sys.executable,
            "-m",
            "devstack.send_event",
            "events/payments/paypay_completed.json",
            "--payment",
            intent["paymentId"],
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert sent.returncode == 0 and "-> 200" in sent.stdout, sent.stdout + sent.stderr


def test_ctrl_c_stops_every_process(running_stack):
    process, ports = running_stack["process"], running_stack["ports"]
    process.send_signal(signal.SIGINT)
    process.wait(timeout=30)
    for name, port in ports.items():
        with socket.socket() as probe:
            assert probe.connect_ex(("127.0.0.1", port)) != 0, f"{name} port {port} still answers"


def test_make_run_output_is_line_buffered_and_metrics_go_to_their_file(running_stack):
    # The banner arrived through a pipe before the stack stopped: output is not block-buffered.
    # EMF lines go to .devstack/metrics.jsonl unless MADOGUCHI_METRICS=console.
    metrics = ROOT / ".devstack" / "metrics.jsonl"
    assert metrics.exists()
    assert '"_aws"' in metrics.read_text(encoding="utf-8").splitlines()[-1]
