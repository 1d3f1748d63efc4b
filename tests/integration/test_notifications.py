"""Residents are told about their submissions: email through moto's SES, LINE push to the sandbox.

Submissions are made through the real route, moved with the real service, and the
notifications queue is drained by the pump into the very worker Lambda runs.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections import Counter
from datetime import UTC, datetime

import pytest

from chalicelib import observability
from chalicelib.adapters.queues import queue_url
from chalicelib.domain import submissions as rules
from chalicelib.domain.forms import get_form
from chalicelib.resources import NOTIFICATIONS
from chalicelib.services import submissions as service
from chalicelib.store import submissions as store
from chalicelib.store.models import InboxEvent, Submission
from chalicelib.workers import notifications
from devstack.env import MOTO_ACCOUNT, REGION
from tests.integration.conftest import new_user_id

PUSH = "/v2/bot/message/push"


def submit(client, form_id: str, document: dict | None = None, *, language: str = "ja") -> str:
    document = document if document is not None else get_form(form_id).example
    response = client.http.post(
        f"/forms/{form_id}/submissions",
        body=json.dumps(document),
        headers={"Content-Type": "application/json", "Accept-Language": language},
    )
    assert response.status_code == 201, response.body
    return json.loads(response.body)["receipt"]


def staff_of(receipt: str) -> rules.Actor:
    return rules.Actor(rules.STAFF, "staff-0001", section=store.get(receipt).section)


def move(receipt: str, target: str, note: str | None = None) -> None:
    service.move(
        store.get(receipt),
        target,
        actor=staff_of(receipt),
        note=note,
        visibility="public" if note else None,
    )


def emails_about(receipt: str) -> list:
    """Every message moto's SES accepted whose subject names this receipt, oldest first."""
    from moto.ses.models import ses_backends

    sent = ses_backends[MOTO_ACCOUNT][REGION].sent_messages
    # Raw messages (a consultation's mail with its .ics) have no subject field: not ours here.
    return [m for m in sent if receipt in (getattr(m, "subject", None) or "")]


def pushes_to(sandbox, user_id: str, status: int | None = 200) -> list[dict]:
    return [
        r
        for r in sandbox.requests(PUSH)
        if r["body"].get("to") == user_id and (status is None or r["status"] == status)
    ]


def link_line_user(receipt: str, user_id: str) -> None:
    """What LIFF linking (a later issue) will do: remember the LINE user of the submission."""
    store.get(receipt).update(actions=[Submission.line_user_id.set(user_id)])


def record(message: dict, message_id: str = "m-1") -> dict:
    return {"messageId": message_id, "body": json.dumps(message)}


@pytest.fixture
def drained(pump):
    """Start from an empty notifications queue (earlier tests leave their messages behind)."""
    pump.drain()
    return pump


@pytest.fixture
def stdout(capsys):
    """capsys, seeing what the Powertools logger writes (see tests/integration/test_logging.py)."""

    class CurrentStdout:
        def write(self, text: str) -> int:
            return sys.stdout.write(text)

        def flush(self) -> None:
            sys.stdout.flush()

    handlers = [h for h in observability.logger.handlers if isinstance(h, logging.StreamHandler)]
    previous = [handler.setStream(CurrentStdout()) for handler in handlers]
    try:
        yield capsys
    finally:
        for handler, stream in zip(handlers, previous, strict=True):
            handler.setStream(stream)


# --- email ---------------------------------------------------------------------------------------


def test_a_resident_is_emailed_on_creation_and_on_each_status_change_in_japanese(client, drained):
    form = get_form("bulky-waste-collection")
    receipt = submit(client, form.id)
    drained.drain()

    [created] = emails_about(receipt)
    assert created.destinations["ToAddresses"] == [form.example["email"]]
    assert created.source == "no-reply@madoguchi.example.jp"
    assert "受付しました" in created.subject
    assert "「粗大ごみ収集の申込」を受け付けました。" in created.body
    assert "受付済み" in created.body

    move(receipt, rules.IN_REVIEW)
    move(receipt, rules.NEEDS_INFO, note="出す品目の大きさ（縦・横・高さ）を教えてください。")
    move(receipt, rules.IN_REVIEW)
    move(receipt, rules.COMPLETED)
    drained.drain()

    sent = emails_about(receipt)
    assert len(sent) == 5
    # Each message names its own change (the queue may hand them to the worker in any order).
    changes = Counter(
        status
        for m in sent[1:]
        for status in rules.STATUSES
        if rules.status_labels(status)["ja"] in m.subject
    )
    assert changes == {"in_review": 2, "needs_info": 1, "completed": 1}
    [needs_info] = [m for m in sent if rules.status_labels("needs_info")["ja"] in m.subject]
    assert "出す品目の大きさ（縦・横・高さ）を教えてください。" in needs_info.body
    # Only the receipt, the form and the status: none of the resident's answers.
    for message in sent:
        for value in (form.example["name"], form.example["phone"], form.example["address"], "玄関前"):
            assert value not in message.body and value not in message.subject


def test_an_email_says_when_a_fee_is_due_how_much_where_to_pay_and_where_the_status_is(client, drained):
    """Only LINE got the payment button: a resident who applied on the web was never told by email
    that the fee could now be paid, how much, where, nor by when before it is withdrawn."""
    from chalicelib.config import get_settings
    from chalicelib.domain.forms import fee_for

    origin = get_settings().web_origin
    after = get_form("bulky-waste-collection")  # paid once staff accept it
    receipt = submit(client, after.id)
    drained.drain()
    [created] = emails_about(receipt)
    pay_page = f"{origin}/web/payments/{receipt}?lang=ja"
    assert pay_page not in created.body and f"{origin}/web/status?lang=ja" in created.body
    move(receipt, rules.IN_REVIEW)
    drained.drain()
    [accepted] = emails_about(receipt)[1:]
    amount = f"{fee_for(after, after.example):,}円"
    assert amount in accepted.body and pay_page in accepted.body and "取り下げ" not in accepted.body

    first = get_form("juminhyo-copy")  # paid before it is received, withdrawn unpaid after its days
    receipt = submit(client, first.id)
    drained.drain()
    [awaiting] = emails_about(receipt)
    days = get_settings().payment_withdraw_after_days
    assert f"{origin}/web/payments/{receipt}?lang=ja" in awaiting.body
    assert f"{fee_for(first, first.example):,}円" in awaiting.body and f"{days}日以内" in awaiting.body


def test_a_resident_who_wrote_in_english_is_emailed_in_english(client, drained):
    form = get_form("opinion")
    receipt = submit(client, form.id, language="en")
    move(receipt, rules.IN_REVIEW)
    drained.drain()

    sent = emails_about(receipt)
    assert len(sent) == 2
    subjects = sorted(m.subject for m in sent)
    assert subjects == sorted(
        [
            f"[Katsushika City] Received (receipt number {receipt})",
            f"[Katsushika City] Status update: In review (receipt number {receipt})",
        ]
    )
    assert all(f"“{form.title['en']}”" in m.body for m in sent)
    assert all("受付" not in m.body for m in sent)


def test_a_resident_who_chose_vietnamese_is_emailed_in_vietnamese(client, drained):
    """The language kept with the submission (a LINE resident's own choice) writes the email: the
    catalogue has every text, and the form's name, in Vietnamese."""
    from chalicelib.domain import messages
    from chalicelib.domain.ward import ward_name

    form = get_form("opinion")
    receipt = submit(client, form.id)
    store.get(receipt).update(actions=[Submission.language.set("vi")])
    move(receipt, rules.IN_REVIEW)
    drained.drain()

    sent = emails_about(receipt)
    assert len(sent) == 2
    label = messages.text("status.in_review", "vi")
    assert any(
        m.subject == f"[{ward_name('vi')}] Cập nhật trạng thái: {label} (số biên nhận {receipt})"
        for m in sent
    )
    assert all(messages.text("email.check", "vi") in m.body for m in sent)
    assert all(messages.text(f"form.{form.id}", "vi") in m.body for m in sent)
    assert all("受付" not in m.body and "Receipt number" not in m.body for m in sent)


# --- LINE ----------------------------------------------------------------------------------------


def test_a_linked_line_user_gets_a_push_in_their_language(client, drained, sandbox):
    form = get_form("streetlight-outage")  # the example gives a phone number, no email
    receipt = submit(client, form.id)
    user_id = new_user_id()
    link_line_user(receipt, user_id)
    drained.drain()

    [created] = pushes_to(sandbox, user_id)
    [message] = created["body"]["messages"]
    assert message["type"] == "text"
    assert message["text"].startswith(f"「{form.title['ja']}」を受け付けました。")
    assert f"受付番号: {receipt}" in message["text"]
    assert created["headers"]["x-line-retry-key"]
    assert emails_about(receipt) == []

    move(receipt, rules.IN_REVIEW)
    move(receipt, rules.REJECTED, note="管理者が東京電力の街路灯のため、そちらへご連絡ください。")
    drained.drain()
    pushes = pushes_to(sandbox, user_id)
    assert len(pushes) == 3
    texts = [p["body"]["messages"][0]["text"] for p in pushes]
    assert any("「確認中」" in text for text in texts)
    [rejected] = [text for text in texts if "お受けできませんでした" in text]
    assert "管理者が東京電力の街路灯のため" in rejected
    assert form.example["phone"] not in "".join(texts)


def test_line_and_email_both_when_both_are_known(client, drained, sandbox):
    receipt = submit(client, "bulky-waste-collection", language="en")
    user_id = new_user_id()
    link_line_user(receipt, user_id)
    drained.drain()
    [push] = pushes_to(sandbox, user_id)
    assert push["body"]["messages"][0]["text"].startswith("We have received your")
    [mail] = emails_about(receipt)
    assert mail.subject.startswith("[Katsushika City] Received")


def test_a_public_note_after_completed_is_sent_and_an_internal_one_is_not(client, drained, sandbox):
    receipt = submit(client, "bulky-waste-collection", language="en")
    user_id = new_user_id()
    link_line_user(receipt, user_id)
    move(receipt, rules.IN_REVIEW)
    move(receipt, rules.COMPLETED)
    drained.drain()
    assert len(emails_about(receipt)) == 3 and len(pushes_to(sandbox, user_id)) == 3

    service.add_note(
        store.get(receipt), actor=staff_of(receipt), note="Phoned: nobody home", visibility="internal"
    )
    service.add_note(
        store.get(receipt), actor=staff_of(receipt), note="We collect on 10 December.", visibility="public"
    )
    drained.drain()
    *_, mail = emails_about(receipt)
    assert len(emails_about(receipt)) == 4
    assert mail.subject == f"[Katsushika City] A message about your request (receipt number {receipt})"
    assert "The city has a message for you about your" in mail.body
    assert "We collect on 10 December." in mail.body
    *_, push = pushes_to(sandbox, user_id)
    assert len(pushes_to(sandbox, user_id)) == 4
    text = push["body"]["messages"][0]["text"]
    assert text.startswith("A message about your") and "We collect on 10 December." in text
    everything = "".join(m.body for m in emails_about(receipt)) + "".join(
        p["body"]["messages"][0]["text"] for p in pushes_to(sandbox, user_id)
    )
    assert "nobody home" not in everything


# --- once only -----------------------------------------------------------------------------------


def test_the_same_message_delivered_twice_notifies_once(client, drained, sandbox, sqs):
    receipt = submit(client, "bulky-waste-collection")
    user_id = new_user_id()
    link_line_user(receipt, user_id)
    # SQS delivers at least once: the same message arrives a second time, before and after the first.
    duplicate = json.dumps({"receipt": receipt, "event": "created", "status": "received", "version": 1})
    sqs.send_message(QueueUrl=queue_url(NOTIFICATIONS.name), MessageBody=duplicate)
    drained.drain()
    sqs.send_message(QueueUrl=queue_url(NOTIFICATIONS.name), MessageBody=duplicate)
    drained.drain()

    assert len(emails_about(receipt)) == 1
    assert len(pushes_to(sandbox, user_id, status=None)) == 1
    assert InboxEvent.get(f"notify#{receipt}#1").processed_at is not None


def test_a_submission_without_contact_is_marked_processed_and_nothing_is_sent(client, drained, sandbox):
    form = get_form("streetlight-outage")
    receipt = submit(client, form.id)
    drained.drain()
    assert emails_about(receipt) == []
    assert sandbox.requests(PUSH) == []
    assert InboxEvent.get(f"notify#{receipt}#1").processed_at is not None


def test_an_ses_error_fails_the_record_and_its_retry_sends_once(client, drained):
    receipt = submit(client, "bulky-waste-collection")
    drained.drain()
    assert len(emails_about(receipt)) == 1
    move(receipt, rules.IN_REVIEW)
    drained.drain()
    # An address SES refuses: the record fails, the ledger is given back for the retry.
    store.get(receipt).update(actions=[Submission.email.set("not an address")])
    message = {"receipt": receipt, "event": "status_changed", "status": "completed", "version": 99}
    result = notifications.handle_batch([record(message, "m-ses")])
    assert result == {"batchItemFailures": [{"itemIdentifier": "m-ses"}]}
    ledger = InboxEvent.get(f"notify#{receipt}#99")
    assert ledger.processed_at is None and ledger.claimed_until is None

    store.get(receipt).update(actions=[Submission.email.set("retry@example.jp")])
    assert notifications.handle_batch([record(message, "m-ses")]) == {"batchItemFailures": []}
    assert notifications.handle_batch([record(message, "m-ses")]) == {"batchItemFailures": []}
    retried = [m for m in emails_about(receipt) if m.destinations["ToAddresses"] == ["retry@example.jp"]]
    assert len(retried) == 1


def test_a_line_outage_holds_back_neither_the_email_nor_sends_it_twice(client, drained, sandbox):
    """A walkthrough: while LINE was down, the email of a resident who gave one waited with the
    push, in the dead-letter queue, for an operator."""
    receipt = submit(client, "bulky-waste-collection")
    drained.drain()
    user_id = new_user_id()
    link_line_user(receipt, user_id)
    message = {"receipt": receipt, "event": "status_changed", "status": "in_review", "version": 50}

    def emailed() -> list:
        return [m for m in emails_about(receipt) if "確認中" in m.subject]

    # LINE keeps answering 500 through every in-process retry: the record fails, the email went.
    sandbox.fault(PUSH, status=500, count=4)
    assert notifications.handle_batch([record(message, "m-line")])["batchItemFailures"] == [
        {"itemIdentifier": "m-line"}
    ]
    assert pushes_to(sandbox, user_id) == [] and len(emailed()) == 1

    # LINE is back: the retry pushes, and does not email again; nor does a redelivery after it.
    assert notifications.handle_batch([record(message, "m-line")]) == {"batchItemFailures": []}
    assert notifications.handle_batch([record(message, "m-line")]) == {"batchItemFailures": []}
    assert len(pushes_to(sandbox, user_id)) == 1 and len(emailed()) == 1
    assert InboxEvent.get(f"notify#{receipt}#50").processed_at is not None


def test_a_push_retried_after_a_crash_carries_the_same_retry_key(client, drained, sandbox):
    """The push went out but the worker died before it marked the notification done: the retry
    pushes with the same retry key, LINE answers 409 and delivers nothing more."""
    receipt = submit(client, "bulky-waste-collection")
    drained.drain()
    user_id = new_user_id()
    link_line_user(receipt, user_id)
    message = {"receipt": receipt, "event": "status_changed", "status": "in_review", "version": 60}
    assert notifications.handle_batch([record(message, "m-crash")]) == {"batchItemFailures": []}
    InboxEvent.get(f"notify#{receipt}#60").delete()  # as if never marked done
    assert notifications.handle_batch([record(message, "m-crash")]) == {"batchItemFailures": []}
    assert len(pushes_to(sandbox, user_id)) == 1
    assert [r["status"] for r in pushes_to(sandbox, user_id, status=None)][-1] == 409
    keys = {r["headers"].get("x-line-retry-key") for r in pushes_to(sandbox, user_id, status=None)}
    assert len(keys) == 1


def test_a_line_user_who_blocked_the_account_still_gets_the_email(client, drained, sandbox):
    receipt = submit(client, "bulky-waste-collection")
    drained.drain()
    user_id = new_user_id()
    link_line_user(receipt, user_id)
    sandbox.fault(PUSH, status=400, count=1)
    message = {"receipt": receipt, "event": "status_changed", "status": "in_review", "version": 70}
    assert notifications.handle_batch([record(message, "m-blocked")]) == {"batchItemFailures": []}
    assert [m for m in emails_about(receipt) if "確認中" in m.subject]
    assert InboxEvent.get(f"notify#{receipt}#70").processed_at is not None


def test_malformed_messages_fail_without_sending(drained):
    records = [
        {"messageId": "bad-json", "body": "{"},
        record(
            {"receipt": "葛飾 太郎", "event": "created", "status": "received", "version": 1}, "bad-receipt"
        ),
        record(
            {"receipt": "KTS-2611-7Q4M", "event": "created", "status": "lost", "version": 1}, "bad-status"
        ),
        record(
            {"receipt": "KTS-2611-7Q4M", "event": "created", "status": "received", "version": 0}, "bad-ver"
        ),
    ]
    failed = {item["itemIdentifier"] for item in notifications.handle_batch(records)["batchItemFailures"]}
    assert failed == {"bad-json", "bad-receipt", "bad-status", "bad-ver"}


def test_a_submission_that_is_gone_is_skipped(drained):
    message = {"receipt": "KTS-2001-ZZZZ", "event": "created", "status": "received", "version": 1}
    assert notifications.handle_batch([record(message)]) == {"batchItemFailures": []}
    assert InboxEvent.get("notify#KTS-2001-ZZZZ#1").processed_at is not None


def test_the_logs_hold_the_receipt_but_no_contact_details(client, drained, sandbox, stdout):
    form = get_form("bulky-waste-collection")
    receipt = submit(client, form.id)
    user_id = new_user_id()
    link_line_user(receipt, user_id)
    stdout.readouterr()
    drained.drain()
    out = stdout.readouterr().out
    assert receipt in out and "resident notified" in out
    for value in (form.example["email"], form.example["name"], form.example["phone"], user_id):
        assert value not in out


# --- photos: kept as long as the submission ------------------------------------------------------


def test_a_closed_submissions_photos_start_their_retention_with_it(client, drained):
    """While open, a photo carries no retention tag (no lifecycle rule touches it); once the
    submission closes, the form's photo and the resident's answer's are written again tagged with
    the form's retention, which infra's lifecycle rule for that value counts from then, as the
    submission's own TTL does."""

    from chalicelib.adapters import storage
    from chalicelib.aws import client as aws_client
    from chalicelib.resources import PHOTO_RETENTION_TAG
    from chalicelib.services import responses
    from tests.integration.test_staff_submissions import FIXTURES, example, upload_photo

    document = dict(example("road-park-damage"), photos=[upload_photo(client, FIXTURES / "gps.jpg")])
    receipt = submit(client, "road-park-damage", document)
    move(receipt, rules.IN_REVIEW)
    move(receipt, rules.NEEDS_INFO, note="もう1枚お願いします。")
    responses.respond(store.get(receipt), "", [upload_photo(client, FIXTURES / "gps.jpg")], channel="web")
    drained.drain()
    stored = store.get(receipt)
    keys = [*stored.attachments, *(k for entry in stored.responses for k in entry["attachments"])]
    assert len(keys) == 2
    s3 = aws_client("s3")
    bucket = storage._bucket()

    def tags(key: str) -> dict[str, str]:
        found = s3.get_object_tagging(Bucket=bucket, Key=key)["TagSet"]
        return {tag["Key"]: tag["Value"] for tag in found}

    assert [tags(key) for key in keys] == [{}, {}]  # open: kept
    before = {key: s3.head_object(Bucket=bucket, Key=key) for key in keys}
    closed_at = datetime.now(UTC).replace(microsecond=0)
    move(receipt, rules.COMPLETED)  # the answer put it back in review
    drained.drain()
    retention = str(get_form("road-park-damage").retention_days)
    for key in keys:
        assert tags(key) == {PHOTO_RETENTION_TAG: retention}
        after = s3.head_object(Bucket=bucket, Key=key)
        assert after["LastModified"] >= closed_at  # the lifecycle's count starts at the close
        assert after["ContentType"] == before[key]["ContentType"]
        assert after["ContentLength"] == before[key]["ContentLength"]
    # A public note after the close is no close: the photos are not written again, so their
    # retention still counts from the close (restarted, they would outlive the submission).
    closed = {key: s3.head_object(Bucket=bucket, Key=key)["LastModified"] for key in keys}
    time.sleep(1.1)  # S3's LastModified has whole seconds
    service.add_note(store.get(receipt), actor=staff_of(receipt), note="補修しました。", visibility="public")
    # Nor is a new access code (a review: the code's notice carries the closed status).
    service.reissue_access_code(
        store.get(receipt), actor=staff_of(receipt), identified_by="窓口で確認", now=datetime.now(UTC)
    )
    drained.drain()
    assert {key: s3.head_object(Bucket=bucket, Key=key)["LastModified"] for key in keys} == closed


@pytest.mark.parametrize("dangerous", [True, False])
def test_a_report_marked_dangerous_alerts_its_section_at_once(client, drained, dangerous):
    """A walkthrough: a dangerous report arriving at 17:30 on a Friday waited for Monday's digest."""
    from chalicelib.domain.forms import sections

    document = {k: v for k, v in get_form("road-park-damage").example.items() if k != "photos"}
    receipt = submit(client, "road-park-damage", {**document, "dangerous": dangerous})
    drained.drain()
    # Its notice delivered again (its ledger mark lost): the alert's own claim sends no second one.
    again = {"receipt": receipt, "event": "created", "status": "received", "version": 1}
    notifications.deliver(notifications.NotificationMessage.from_raw(again))
    alerts = [m for m in emails_about(receipt) if "至急" in m.subject]
    assert len(alerts) == (1 if dangerous else 0)
    if dangerous:
        [alert] = alerts
        assert alert.destinations["ToAddresses"] == sections()["doro-hoshu"]["digestRecipients"]
        assert "立石" in alert.body and "Tateishi" in alert.body
        assert "reporter@example.jp" not in alert.body and "30cm" not in alert.body  # no personal data


def test_an_alert_its_section_cannot_receive_holds_back_nothing_of_the_residents(
    client, drained, monkeypatch
):
    """A review: the alert went first, so an address SES refused failed the resident's notice."""
    from chalicelib.adapters import email
    from chalicelib.domain.forms import sections
    from chalicelib.workers import notifications

    section = set(sections()["doro-hoshu"]["digestRecipients"])
    real_send = email.send

    def refusing_the_section(recipients, *args, **kwargs):
        if section & set(recipients):
            raise RuntimeError("MessageRejected")
        return real_send(recipients, *args, **kwargs)

    document = {k: v for k, v in get_form("road-park-damage").example.items() if k != "photos"}
    receipt = submit(client, "road-park-damage", {**document, "dangerous": True})
    message = notifications.NotificationMessage.from_raw(
        {"receipt": receipt, "event": "created", "status": "received", "version": 1}
    )
    monkeypatch.setattr(email, "send", refusing_the_section)
    with pytest.raises(RuntimeError):  # the record fails, so SQS hands it out again
        notifications.process(message)
    assert [m.destinations["ToAddresses"] for m in emails_about(receipt)] == [[document["email"]]]
    monkeypatch.setattr(email, "send", real_send)
    notifications.process(message)  # the retry: the alert goes, the resident is not told twice
    told = [m.destinations["ToAddresses"] for m in emails_about(receipt)]
    assert told == [[document["email"]], sorted(section)] or told == [[document["email"]], list(section)]


def test_after_a_new_access_code_the_next_status_change_is_still_told(client, drained):
    """A review: the code's notice took the version the next move stores, so that move was never
    told (its ledger entry and LINE retry key were the code's)."""
    receipt = submit(client, "bulky-waste-collection")
    drained.drain()
    service.reissue_access_code(
        store.get(receipt),
        actor=staff_of(receipt),
        identified_by="電話で生年月日を確認",
        now=datetime.now(UTC),
    )
    drained.drain()
    move(receipt, rules.IN_REVIEW)
    drained.drain()
    subjects = [m.subject for m in emails_about(receipt)]
    assert len(subjects) == 3 and "確認コード" in subjects[1] and "確認中" in subjects[2], subjects


def test_a_dangerous_report_handed_over_alerts_the_section_it_goes_to(client, drained):
    """An outside run: the receiving section learnt of it only from the next morning's digest."""
    from chalicelib.domain.forms import sections

    document = {k: v for k, v in get_form("road-park-damage").example.items() if k != "photos"}
    receipt = submit(client, "road-park-damage", {**document, "dangerous": True})
    drained.drain()
    service.hand_over(
        store.get(receipt),
        actor=staff_of(receipt),
        to_section="seiso",
        note="ごみの通報",
        now=datetime.now(UTC),
    )
    drained.drain()
    handed = {"receipt": receipt, "event": "handed_over", "status": "received", "version": 2}
    notifications.deliver(notifications.NotificationMessage.from_raw(handed))  # delivered again
    sent = emails_about(receipt)
    alerts = [m.destinations["ToAddresses"] for m in sent if "至急" in m.subject]
    assert alerts == [sections()["doro-hoshu"]["digestRecipients"], sections()["seiso"]["digestRecipients"]]
    # The resident hears nothing of it: only the first "received".
    assert [m.destinations["ToAddresses"] for m in sent if "至急" not in m.subject] == [[document["email"]]]
    # Closed, so no other test's digest of that section finds a dangerous report open.
    move(receipt, rules.IN_REVIEW)
    move(receipt, rules.COMPLETED)
    # A hand-over's notice that reaches the worker after the report closed alerts no one.
    store.get(receipt).update(actions=[Submission.section.set("kocho")])
    late = {"receipt": receipt, "event": "handed_over", "status": "completed", "version": 99}
    notifications.deliver(notifications.NotificationMessage.from_raw(late))
    assert len([m for m in emails_about(receipt) if "至急" in m.subject]) == 2
