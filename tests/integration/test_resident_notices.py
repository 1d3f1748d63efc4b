"""A clerk sees whether the resident was told: each notice's outcome on the submission.

The real routes (a web submission, a clerk's public note), the notifications queue drained by
the pump into the worker Lambda runs (moto counts receives and moves a message to the DLQ), and
LINE pushes made to fail with the sandbox's faults.
"""

from __future__ import annotations

import json
import time

import pytest

from chalicelib.adapters.queues import queue_url
from chalicelib.domain.forms import get_form
from chalicelib.resources import NOTIFICATIONS
from chalicelib.store import submissions as store
from chalicelib.store.models import Submission
from chalicelib.workers import notifications
from devstack import dlq_move
from devstack.dev_issuer import mint_token
from tests.integration.conftest import new_user_id
from tests.integration.test_notifications import PUSH, link_line_user, pushes_to, record, submit


@pytest.fixture
def drained(pump):
    pump.drain()
    return pump


def staff(receipt: str) -> dict[str, str]:
    section = store.get(receipt).section
    token = mint_token(staff_id=f"staff-{section}-1", section=section, roles=["staff"])
    return {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}


def public_note(client, receipt: str, note: str) -> None:
    response = client.http.post(
        f"/staff/submissions/{receipt}/notes",
        body=json.dumps({"note": note, "visibility": "public"}),
        headers=staff(receipt),
    )
    assert response.status_code == 201, response.body


def detail(client, receipt: str) -> dict:
    response = client.http.get(f"/staff/submissions/{receipt}", headers=staff(receipt))
    assert response.status_code == 200, response.body
    return json.loads(response.body)


def listed(client, receipt: str, query: str = "") -> list[dict]:
    response = client.http.get(f"/staff/submissions?limit=100{query}", headers=staff(receipt))
    assert response.status_code == 200, response.body
    return [item for item in json.loads(response.body)["items"] if item["receipt"] == receipt]


def note_notices(shown: dict) -> list[dict]:
    return [notice for notice in shown["residentNotices"] if notice["event"] == "note_added"]


def line_only(client, drained) -> tuple[str, str]:
    """A report with no email, its resident on LINE, its creation notice already delivered."""
    receipt = submit(client, "streetlight-outage")
    user_id = new_user_id()
    link_line_user(receipt, user_id)
    drained.drain()
    return receipt, user_id


def test_a_delivered_note_shows_delivered_per_channel_with_no_personal_data(client, drained, sandbox):
    receipt = submit(client, "bulky-waste-collection")
    user_id = new_user_id()
    link_line_user(receipt, user_id)
    drained.drain()
    public_note(client, receipt, "Collected on Monday.")
    drained.drain()

    shown = detail(client, receipt)
    [created] = [notice for notice in shown["residentNotices"] if notice["event"] == "created"]
    assert created["state"] == "delivered"
    [note] = note_notices(shown)
    assert note["state"] == "delivered" and note["status"] == "received"
    assert [(c["channel"], c["state"]) for c in note["channels"]] == [
        ("email", "delivered"),
        ("line", "delivered"),
    ]
    assert all(c["at"].endswith("+09:00") for c in note["channels"])
    assert shown["residentNotified"] is True
    assert listed(client, receipt)[0]["residentNotified"] is True
    # Neither the LINE user id nor the address appears in what the clerk reads of the notices.
    seen = json.dumps(shown["residentNotices"])
    assert user_id not in seen and get_form("bulky-waste-collection").example["email"] not in seen
    assert len(pushes_to(sandbox, user_id)) == 2  # the receipt's and the note's


def test_a_note_line_never_took_shows_failed_until_it_is_moved_back_and_delivered(client, drained, sandbox):
    """The walkthrough: LINE failing, a clerk's public note answered 201, the notice in the DLQ."""
    receipt, user_id = line_only(client, drained)
    sandbox.fault(PUSH, status=500, count=50)
    public_note(client, receipt, "Repaired today.")
    drained.drain(timeout=120)  # every receive fails; moto moves the message to the DLQ

    shown = detail(client, receipt)
    [note] = note_notices(shown)
    assert note["state"] == "failed"
    assert [(c["channel"], c["state"], c.get("reason")) for c in note["channels"]] == [
        ("line", "failed", "dead_letter")
    ]
    assert shown["residentNotified"] is False
    assert [item["residentNotified"] for item in listed(client, receipt, "&notified=false")] == [False]
    assert listed(client, receipt, "&notified=true") == []
    assert len(pushes_to(sandbox, user_id)) == 1  # the receipt's, before LINE failed

    # LINE is back; an operator moves the DLQ back (make dlq-move): the notice now reads delivered.
    sandbox.reset()
    assert dlq_move.move("notifications") >= 1
    drained.drain()
    [note] = note_notices(detail(client, receipt))
    assert note["state"] == "delivered"
    assert [(c["channel"], c["state"]) for c in note["channels"]] == [("line", "delivered")]
    assert detail(client, receipt)["residentNotified"] is True
    assert len(pushes_to(sandbox, user_id)) == 1  # the note's (the reset forgot the receipt's)


def test_a_retry_after_a_transient_failure_shows_delivered_once(client, drained, sandbox, sqs):
    receipt, user_id = line_only(client, drained)
    version = store.get(receipt).version + 1
    message = {"receipt": receipt, "event": "note_added", "status": "received", "version": version}
    public_note(client, receipt, "We will call you.")

    # The first try fails on every in-process retry of the push: the clerk sees it being tried.
    sandbox.fault(PUSH, status=500, count=4)
    assert notifications.handle_batch([record(message, "m-1")])["batchItemFailures"]
    [note] = note_notices(detail(client, receipt))
    assert (note["version"], note["state"]) == (version, "sending")
    assert detail(client, receipt)["residentNotified"] is None

    # SQS's next receive delivers; a duplicate of the message afterwards changes nothing.
    drained.drain()
    [note] = note_notices(detail(client, receipt))
    assert note["state"] == "delivered" and len(note["channels"]) == 1
    delivered_at = note["channels"][0]["at"]
    time.sleep(1)  # a second delivery, if recorded, would show a later time
    sqs.send_message(QueueUrl=queue_url(NOTIFICATIONS.name), MessageBody=json.dumps(message))
    drained.drain()
    shown = detail(client, receipt)
    assert note_notices(shown) == [note] and note["channels"][0]["at"] == delivered_at
    assert shown["residentNotified"] is True
    assert len(pushes_to(sandbox, user_id)) == 2  # the receipt's and the note's, once


def test_a_push_line_refuses_fails_at_once_and_a_submission_without_contact_reads_failed(
    client, drained, sandbox
):
    """Neither waits for retries: a blocked account and a counter entry with no contact reach
    nobody, so the clerk is to phone them (as a booking's residentNotified says)."""
    receipt, user_id = line_only(client, drained)
    sandbox.fault(PUSH, status=400, count=1)
    public_note(client, receipt, "Please call us.")
    drained.drain()
    [note] = note_notices(detail(client, receipt))
    assert [(c["channel"], c["state"], c.get("reason")) for c in note["channels"]] == [
        ("line", "failed", "refused")
    ]

    nobody = submit(client, "streetlight-outage")
    drained.drain()
    [created] = detail(client, nobody)["residentNotices"]
    assert [(c["channel"], c["state"], c.get("reason")) for c in created["channels"]] == [
        ("none", "failed", "no_contact")
    ]


def test_a_submission_stored_before_notices_were_recorded_gets_its_record(client, drained):
    receipt = submit(client, "bulky-waste-collection")
    drained.drain()
    store.get(receipt).update(actions=[Submission.resident_notices.remove()])
    public_note(client, receipt, "Collected.")
    drained.drain()
    assert [n["event"] for n in detail(client, receipt)["residentNotices"]] == ["note_added"]


@pytest.mark.parametrize("form_id", ["bulky-waste-collection", "streetlight-outage"])  # an email; nobody
def test_a_notice_given_up_before_any_channel_was_tried_reads_failed(client, monkeypatch, form_id):
    """A review: a closing notice whose photos' retention (S3) failed on SQS's last try went to
    the DLQ with nothing recorded, and the clerk read "still being tried" for ever; and a re-review:
    so did one of a submission with no contact at all."""
    import contextlib

    from chalicelib.domain.submissions import COMPLETED

    receipt = submit(client, form_id)
    version = (store.get(receipt).version or 1) + 1

    def s3_down(submission):
        raise RuntimeError("S3 unavailable")

    monkeypatch.setattr(notifications, "_start_photo_retention", s3_down)
    message = notifications.NotificationMessage(receipt, "status_changed", COMPLETED, version, last_try=True)
    with contextlib.suppress(RuntimeError):  # the record fails: SQS moves it to the DLQ
        notifications.process(message)
    notices = store.get(receipt).resident_notices.as_dict()
    assert [outcome["state"] for key, outcome in notices.items() if key.startswith(f"{version}#")] == [
        "failed"
    ]
