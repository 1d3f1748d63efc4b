"""A resident answers "needs info" from the web or LIFF: POST /submissions/{receipt}/responses."""

from __future__ import annotations

import copy
import json
import re
import time
import uuid
from pathlib import Path

import pytest

from chalicelib.domain import messages
from chalicelib.domain.forms import get_form
from chalicelib.store import residents
from chalicelib.store import submissions as store
from devstack.dev_issuer import mint_token
from tests.integration.test_submissions_api import upload_photo

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "images"
ROAD = "doro-hoshu"


def staff(section: str = ROAD) -> dict[str, str]:
    token = mint_token(staff_id=f"staff-{section}-1", section=section, roles=["staff"])
    return {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}


def body_of(response) -> dict:
    return json.loads(response.body)


def new_submission(client, language: str = "ja") -> tuple[str, str]:
    document = copy.deepcopy(get_form("road-park-damage").example)
    document.pop("photos", None)
    response = client.http.post(
        "/forms/road-park-damage/submissions",
        body=json.dumps(document),
        headers={"Content-Type": "application/json", "Accept-Language": language},
    )
    assert response.status_code == 201, response.body
    created = body_of(response)
    return created["receipt"], created["accessSecret"]


def move(client, receipt: str, to: str, **extra) -> None:
    response = client.http.post(
        f"/staff/submissions/{receipt}/transitions", body=json.dumps({"to": to, **extra}), headers=staff()
    )
    assert response.status_code == 200, response.body


def ask_for_info(client, receipt: str) -> None:
    move(client, receipt, "in_review")
    move(client, receipt, "needs_info", note="電柱の番号を教えてください。", visibility="public")


def respond(client, receipt: str, secret: str | None, body: dict, **headers):
    all_headers = {"Content-Type": "application/json", **headers}
    if secret is not None:
        all_headers["X-Access-Secret"] = secret
    return client.http.post(f"/submissions/{receipt}/responses", body=json.dumps(body), headers=all_headers)


def staff_list(client, **params) -> list[dict]:
    query = "&".join(f"{k}={v}" for k, v in params.items())
    response = client.http.get(f"/staff/submissions?{query}", headers=staff())
    assert response.status_code == 200, response.body
    return body_of(response)["items"]


def test_an_answer_moves_needs_info_back_to_review_with_its_thread_and_audit(client):
    receipt, secret = new_submission(client)
    ask_for_info(client, receipt)

    photo = upload_photo(client, FIXTURES / "gps.jpg")
    # The same photo named twice (a double tap in a client) is one photo, not two for staff.
    response = respond(
        client, receipt, secret, {"text": "電柱番号は 12-34 です。", "attachments": [photo, photo]}
    )

    assert response.status_code == 201, response.body
    answered = body_of(response)
    assert answered["status"] == "in_review"
    assert [(entry["who"], entry["text"]) for entry in answered["thread"]] == [
        ("ward", "電柱の番号を教えてください。"),
        ("resident", "電柱番号は 12-34 です。"),
    ]
    assert answered["thread"][1]["photos"] == 1
    stored = store.get(receipt)
    assert stored.status == "in_review" and stored.responded_at is not None
    [key] = stored.responses[0]["attachments"]
    from chalicelib.adapters import storage
    from chalicelib.domain import images

    data, _ = storage.read(key, 20 * 1024 * 1024)
    assert not images.has_location_metadata(data)  # EXIF stripped like a form's photos
    trail = [(e.action, e.from_status, e.to_status) for e in store.trail(receipt)]
    assert ("responded", "needs_info", "in_review") in trail

    # Staff find it with the `responded` filter, and in the full view's thread with photo links.
    assert receipt in [item["receipt"] for item in staff_list(client, responded="true")]
    shown = body_of(client.http.get(f"/staff/submissions/{receipt}", headers=staff()))
    assert shown["thread"][1]["who"] == "resident"
    assert shown["thread"][1]["attachments"][0]["url"].startswith("http")
    # Once staff move it on, it is no longer "responded" (seen).
    move(client, receipt, "completed")
    assert receipt not in [item["receipt"] for item in staff_list(client, responded="true")]


@pytest.mark.parametrize("language", ["en", "vi"])
def test_an_answer_when_nothing_is_asked_is_409_in_the_residents_language(client, language):
    receipt, secret = new_submission(client, language="en")

    response = respond(client, receipt, secret, {"text": "hello"}, **{"Accept-Language": language})

    assert response.status_code == 409
    error = body_of(response)["error"]
    assert error["code"] == "not_waiting_for_answer"
    status = messages.text("status.received", language)  # the status named in the same language
    assert error["message"] == messages.text("answer.not_waiting", language, receipt=receipt, status=status)
    assert store.get(receipt).responses == []


def test_an_empty_or_oversized_answer_is_a_localized_422_and_nothing_changes(client):
    receipt, secret = new_submission(client)
    ask_for_info(client, receipt)

    empty = respond(client, receipt, secret, {"text": "   "})
    too_long = respond(client, receipt, secret, {"text": "あ" * 2001})
    bad_shape = respond(client, receipt, secret, {"text": "x", "extra": 1})

    assert empty.status_code == 422
    assert body_of(empty)["error"]["message"] == messages.text("respond.invalid", "ja")  # no Accept-Language
    assert body_of(empty)["error"]["details"][0]["message"] == messages.text("respond.empty", "ja")
    assert too_long.status_code == 422 and body_of(too_long)["error"]["details"][0]["pointer"] == "/text"
    assert bad_shape.status_code == 422
    assert store.get(receipt).status == "needs_info"


def test_a_wrong_code_is_404_and_counts_toward_the_lockout(client):
    receipt, _ = new_submission(client)
    ask_for_info(client, receipt)

    response = respond(client, receipt, "wrong-code", {"text": "x"})

    assert response.status_code == 404
    assert store.get(receipt).status == "needs_info"


def test_a_retry_with_the_same_idempotency_key_gets_the_first_answer_once(client):
    receipt, secret = new_submission(client)
    ask_for_info(client, receipt)
    key = f"answer-{uuid.uuid4()}"

    first = respond(client, receipt, secret, {"text": "12-34"}, **{"Idempotency-Key": key})
    again = respond(client, receipt, secret, {"text": "12-34"}, **{"Idempotency-Key": key})

    assert first.status_code == again.status_code == 201
    assert body_of(first) == body_of(again)
    assert len(store.get(receipt).responses) == 1


def test_a_liff_resident_answers_with_their_id_token_and_nobody_else_can(client, sandbox, local_stack):
    import requests

    from chalicelib.config import get_settings
    from tests.integration.conftest import new_user_id

    def id_token(user_id: str) -> str:
        minted = requests.post(
            f"{sandbox.base_url}/__sandbox/id-tokens",
            json={"sub": user_id, "aud": get_settings().line_login_channel_id},
            timeout=5,
        )
        minted.raise_for_status()
        return minted.json()["idToken"]

    owner, stranger = new_user_id(), new_user_id()
    document = copy.deepcopy(get_form("road-park-damage").example)
    document.pop("photos", None)
    created = client.http.post(
        "/forms/road-park-damage/submissions",
        body=json.dumps(document),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {id_token(owner)}"},
    )
    assert created.status_code == 201, created.body
    receipt = body_of(created)["receipt"]
    ask_for_info(client, receipt)

    refused = client.http.post(
        f"/submissions/{receipt}/responses",
        body=json.dumps({"text": "x"}),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {id_token(stranger)}"},
    )
    answered = client.http.post(
        f"/submissions/{receipt}/responses",
        body=json.dumps({"text": "12-34"}),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {id_token(owner)}"},
    )

    assert refused.status_code == 404
    assert answered.status_code == 201, answered.body
    assert store.get(receipt).responses[0]["channel"] == "line"


@pytest.mark.parametrize("body", [b"not json", b"[]"])
def test_malformed_bodies_are_4xx(client, body):
    response = client.http.post(
        "/submissions/KTS-2611-7Q4M/responses",
        body=body,
        headers={"Content-Type": "application/json", "X-Access-Secret": "x"},
    )
    assert 400 <= response.status_code < 500


def test_one_reminder_after_the_target_days_in_the_residents_language(client):
    from datetime import UTC, datetime, timedelta

    from moto.ses.models import ses_backends

    from chalicelib.workers import responses as reminders
    from devstack.env import MOTO_ACCOUNT, REGION

    document = copy.deepcopy(get_form("juminhyo-copy").example)  # target: 7 business days
    document["delivery"] = "counter"  # paid at the counter: received at once, no online payment first
    created = client.http.post(
        "/forms/juminhyo-copy/submissions",
        body=json.dumps(document),
        headers={"Content-Type": "application/json", "Accept-Language": "en"},
    )
    receipt = body_of(created)["receipt"]
    section = store.get(receipt).section
    for to, extra in (("in_review", {}), ("needs_info", {"note": "Which year?", "visibility": "public"})):
        response = client.http.post(
            f"/staff/submissions/{receipt}/transitions",
            body=json.dumps({"to": to, **extra}),
            headers=staff(section),
        )
        assert response.status_code == 200, response.body

    def reminders_sent() -> list:
        return [
            m
            for m in ses_backends[MOTO_ACCOUNT][REGION].sent_messages
            # Raw messages (with attachments) from other tests carry no parsed subject.
            if receipt in (getattr(m, "subject", None) or "") and "answer is needed" in (m.subject or "")
        ]

    now = datetime.now(UTC)
    reminders.run(now + timedelta(days=3))
    assert reminders_sent() == []  # within the target: nothing yet

    reminders.run(now + timedelta(days=15))
    reminders.run(now + timedelta(days=16))  # the next day's run: still one
    [sent] = reminders_sent()
    assert "has not had your answer yet" in sent.body
    # As every status email: the ward's question, the status page to answer on, the footer
    # (an outside walkthrough: it said "open the status page" and gave no address).
    from chalicelib.config import get_settings

    assert "Which year?" in sent.body
    assert get_settings().web_page("/status", "en") in sent.body
    assert "This message was sent automatically" in sent.body
    assert "phone 03-3695-1111" in sent.body  # and whom to call (a walkthrough: no way to a person)
    assert store.get(receipt).reminded_for is not None


def test_the_digest_lists_answered_ones_and_those_waiting_for_the_resident_past_target(client):
    from datetime import UTC, datetime, timedelta

    from moto.ses.models import ses_backends

    from chalicelib.domain.forms import sections
    from chalicelib.workers import digest
    from devstack.env import MOTO_ACCOUNT, REGION

    answered, secret = new_submission(client)
    ask_for_info(client, answered)
    assert respond(client, answered, secret, {"text": "12-34"}).status_code == 201
    silent, _ = new_submission(client)
    ask_for_info(client, silent)
    outbox = ses_backends[MOTO_ACCOUNT][REGION].sent_messages
    mark = len(outbox)

    digest.run(now=datetime.now(UTC) + timedelta(days=30))  # a day of its own: past the 14-day target

    recipients = sections()[ROAD]["digestRecipients"]
    [sent] = [m for m in outbox[mark:] if m.destinations["ToAddresses"] == recipients]
    answered_part = sent.body.split("区民から回答があったもの")[1].split("<h2")[0]
    waiting_part = sent.body.split("区民の回答待ちで目標期間を過ぎたもの")[1].split("<h2")[0]
    assert answered in answered_part and silent not in answered_part
    assert silent in waiting_part and answered not in waiting_part


def test_a_line_outage_for_one_resident_holds_back_no_one_elses_reminder(client, monkeypatch):
    """A re-test: the first resident whose push failed ended the run; those after them waited."""
    from datetime import UTC, datetime, timedelta

    from moto.ses.models import ses_backends

    from chalicelib.adapters.line_api import LineUnavailable
    from chalicelib.services import line_push
    from chalicelib.store.models import Submission
    from chalicelib.workers import responses as reminders
    from devstack.env import MOTO_ACCOUNT, REGION
    from tests.integration.conftest import new_user_id

    def asked(on_line: bool) -> str:
        document = copy.deepcopy(get_form("juminhyo-copy").example)
        document["delivery"] = "counter"
        created = client.http.post(
            "/forms/juminhyo-copy/submissions",
            body=json.dumps(document),
            headers={"Content-Type": "application/json"},
        )
        receipt = body_of(created)["receipt"]
        if on_line:
            store.get(receipt).update(actions=[Submission.line_user_id.set(new_user_id())])
        for to, extra in (
            ("in_review", {}),
            ("needs_info", {"note": "何年分ですか", "visibility": "public"}),
        ):
            moved = client.http.post(
                f"/staff/submissions/{receipt}/transitions",
                body=json.dumps({"to": to, **extra}),
                headers=staff(store.get(receipt).section),
            )
            assert moved.status_code == 200, moved.body
        return receipt

    on_line, by_email, also_on_line, gone = asked(True), asked(False), asked(True), asked(True)
    assert residents.record_unfollow(store.get(gone).line_user_id, int(time.time() * 1000))

    def reminded(receipt: str) -> int:
        sent = ses_backends[MOTO_ACCOUNT][REGION].sent_messages
        return sum(receipt in (getattr(m, "subject", None) or "") and "回答" in m.subject for m in sent)

    tried: list[str] = []

    def outage(user_id, *args, **kwargs):
        if residents.unfollowed(user_id):
            return False  # as line_push: nothing to send
        tried.append(user_id)
        raise LineUnavailable(503)

    day = datetime.now(UTC) + timedelta(days=61)  # a day no other test reminds on
    monkeypatch.setattr(line_push, "to_resident", outage)
    with pytest.raises(reminders.RemindersFailed) as failed:
        reminders.run(day)
    # Others' leftovers may be due that day too: this run's outage failed one push, deferred the rest.
    assert re.search(r"^1 reminders failed, [1-9]\d* pushes deferred", str(failed.value)), failed.value
    assert [reminded(r) for r in (on_line, by_email, also_on_line, gone)] == [1, 1, 1, 1]  # every email, once
    assert len(tried) == 1  # once LINE failed, the run's other pushes wait (a review: each spent its retries)
    assert store.get(on_line).reminded_for is None and store.get(also_on_line).reminded_for is None
    # One who unfollowed is pushed nothing, LINE down or not: reminded, and no failure (a review).
    assert store.get(gone).reminded_for is not None
    monkeypatch.undo()
    reminders.run(day)  # the next run: LINE back, the emails not sent again
    assert [reminded(r) for r in (on_line, by_email, also_on_line)] == [1, 1, 1]
    assert store.get(on_line).reminded_for is not None and store.get(also_on_line).reminded_for is not None
