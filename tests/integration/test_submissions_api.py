"""Residents submit forms, check and withdraw them: chalice.test.Client against moto over HTTP."""

from __future__ import annotations

import copy
import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.domain import messages as catalogue
from chalicelib.domain.forms import get_form
from chalicelib.domain.submissions import RECEIPT_PATTERN
from chalicelib.resources import NOTIFICATIONS
from chalicelib.store import submissions as store


def submit(client, form_id: str, document: dict, *, language: str = "ja", key: str | None = None):
    headers = {"Content-Type": "application/json", "Accept-Language": language}
    if key:
        headers["Idempotency-Key"] = key
    return client.http.post(f"/forms/{form_id}/submissions", body=json.dumps(document), headers=headers)


def check(client, receipt: str, secret: str | None):
    headers = {"X-Access-Secret": secret} if secret is not None else {}
    return client.http.get(f"/submissions/{receipt}", headers=headers)


def answer(response) -> dict:
    return json.loads(response.body)


@pytest.fixture
def queued_notifications(sqs, pump):
    from chalicelib.adapters.queues import queue_url

    pump.drain()

    def take() -> list[dict]:
        bodies = []
        while messages := sqs.receive_message(
            QueueUrl=queue_url(NOTIFICATIONS.name), MaxNumberOfMessages=10
        ).get("Messages", []):
            for message in messages:
                bodies.append(json.loads(message["Body"]))
                sqs.delete_message(
                    QueueUrl=queue_url(NOTIFICATIONS.name), ReceiptHandle=message["ReceiptHandle"]
                )
        return bodies

    return take


def test_a_certificate_request_is_received_and_can_be_checked_with_its_secret(client, queued_notifications):
    form = get_form("juminhyo-copy")
    # Collected at the counter (and paid there): received at once. By post it is paid online first.
    document = {**form.example, "delivery": "counter"}
    response = submit(client, form.id, document)
    assert response.status_code == 201
    created = answer(response)
    assert RECEIPT_PATTERN.fullmatch(created["receipt"])
    assert created["status"] == "received" and "payment" not in created
    assert created["fee"] == 300 * form.example.get("copies", 1)
    assert created["statusUrl"] == f"/submissions/{created['receipt']}"

    stored = store.get(created["receipt"])
    assert stored.section == form.section and stored.channel == "web" and stored.data == document
    assert created["accessSecret"] not in stored.secret_hash  # only a hash is kept

    view = check(client, created["receipt"], created["accessSecret"])
    assert view.status_code == 200
    body = answer(view)
    assert body["receipt"] == created["receipt"] and body["status"] == "received"
    assert "data" not in body  # status and public notes only
    assert body["statusText"] == catalogue.text("status.received", "ja")  # no Accept-Language
    in_vietnamese = client.http.get(
        f"/submissions/{created['receipt']}?lang=vi", headers={"X-Access-Secret": created["accessSecret"]}
    )
    assert answer(in_vietnamese)["statusText"] == catalogue.text("status.received", "vi")
    assert in_vietnamese.headers["Content-Language"] == "vi"

    assert queued_notifications() == [
        {"receipt": created["receipt"], "event": "created", "status": "received", "version": 1}
    ]


@pytest.mark.parametrize(
    ("path", "header", "language"),
    [("", "vi-VN,vi;q=0.9,en;q=0.8", "vi"), ("?lang=ja-easy", "en", "ja-easy"), ("", "de", "en")],
)
def test_a_web_submission_keeps_the_residents_language(client, path, header, language):
    # The language its notifications and emails are written in: one of the seven, negotiated as
    # on every resident route (`?lang=`, else Accept-Language), never narrowed to ja/en.
    form = get_form("opinion")
    response = client.http.post(
        f"/forms/{form.id}/submissions{path}",
        body=json.dumps(form.example),
        headers={"Content-Type": "application/json", "Accept-Language": header},
    )
    assert response.status_code == 201
    assert store.get(answer(response)["receipt"]).language == language


def test_the_secret_is_the_credential(client):
    form = get_form("opinion")
    created = answer(submit(client, form.id, form.example))
    for secret in (None, "", "AAAA-AAAA", created["accessSecret"] + "X"):
        response = check(client, created["receipt"], secret)
        assert response.status_code == 404
        assert answer(response)["error"]["code"] == "submission_not_found"
    assert check(client, "KTS-0000-0000", created["accessSecret"]).status_code == 404
    # Typed the way a resident would type it: lower case, no dashes.
    typed_receipt = created["receipt"].lower().replace("-", "")
    typed_secret = created["accessSecret"].lower().replace("-", " ")
    assert check(client, typed_receipt, typed_secret).status_code == 200


def test_invalid_answers_are_all_listed_in_the_residents_language_and_nothing_is_stored(
    client, queued_notifications
):
    form = get_form("juminhyo-copy")
    document = copy.deepcopy(form.example)
    required = form.schema["required"]
    del document[required[0]]
    document["email"] = "not-an-email"
    before = len(list(store.Submission.scan()))

    for language, needle in (("ja", "入力してください"), ("en", "Please fill in"), ("vi", "Vui lòng điền")):
        response = submit(client, form.id, document, language=language)
        assert response.status_code == 422
        error = answer(response)["error"]
        assert error["code"] == "invalid_submission"
        assert error["message"] == catalogue.text("error.check_entries", language)
        pointers = {detail["pointer"]: detail["message"] for detail in error["details"]}
        assert f"/{required[0]}" in pointers and needle in pointers[f"/{required[0]}"]
        assert "/email" in pointers
        assert "not-an-email" not in json.dumps(error, ensure_ascii=False)  # no echo of what was typed

    assert len(list(store.Submission.scan())) == before
    assert queued_notifications() == []


@pytest.mark.parametrize("blank", ["   ", "\u200b\u200b", "\n\u3000\ufeff"], ids=repr)
def test_an_answer_of_spaces_or_invisible_marks_alone_is_no_answer(client, blank):
    refused = submit(client, "inquiry", {"question": blank}, language="en")
    assert refused.status_code == 422
    [detail] = answer(refused)["error"]["details"]
    assert detail["pointer"] == "/question" and "Please fill in" in detail["message"]
    # Around a real answer they are dropped: what staff read is what was meant.
    kept = submit(client, "inquiry", {"question": "\u200b Is the pool open? \n", "name": " "}, language="en")
    assert kept.status_code == 201, kept.body
    assert store.get(answer(kept)["receipt"]).data == {"question": "Is the pool open?"}
    assert answer(kept)["statusText"] == "Received"  # the status in the submission's language


@pytest.mark.parametrize(
    "body", [b"{", b"[]", b'"text"', b"\xff\xfe", json.dumps({"x": 1}).encode()], ids=repr
)
def test_malformed_bodies_are_4xx(client, body):
    response = client.http.post(
        "/forms/opinion/submissions", body=body, headers={"Content-Type": "application/json"}
    )
    assert 400 <= response.status_code < 500
    assert set(answer(response)["error"]) == {"code", "message", "details"}


def test_an_unknown_form_is_404(client):
    response = submit(client, "no-such-form", {})
    assert response.status_code == 404
    assert answer(response)["error"]["code"] == "form_not_found"


def test_a_retried_post_with_the_same_idempotency_key_returns_the_first_result(client, queued_notifications):
    form = get_form("event-registration")
    key = f"retry-{uuid.uuid4()}"
    first = submit(client, form.id, form.example, key=key)
    again = submit(client, form.id, form.example, key=key)
    assert first.status_code == again.status_code == 201
    assert answer(first) == answer(again)
    assert len(queued_notifications()) == 1

    changed = dict(form.example, email="other@example.jp")
    reused = submit(client, form.id, changed, key=key)
    assert reused.status_code == 422
    assert answer(reused)["error"]["code"] == "idempotency_key_reused"


def test_a_resident_can_withdraw_once(client):
    form = get_form("childcare-consultation")
    created = answer(submit(client, form.id, form.example))
    headers = {"X-Access-Secret": created["accessSecret"]}
    withdrawn = client.http.post(f"/submissions/{created['receipt']}/withdraw", headers=headers)
    assert withdrawn.status_code == 200
    assert answer(withdrawn)["status"] == "withdrawn"
    again = client.http.post(f"/submissions/{created['receipt']}/withdraw", headers=headers)
    assert again.status_code == 409
    trail = [(entry.action, entry.to_status) for entry in store.trail(created["receipt"])]
    assert trail == [("created", "received"), ("transition", "withdrawn")]


def test_a_report_outside_the_ward_is_refused_with_a_clear_message(client):
    form = get_form("road-park-damage")
    document = copy.deepcopy(form.example)
    document["location"] = {"latitude": 35.6812, "longitude": 139.7671}  # Tokyo Station
    response = submit(client, form.id, document, language="en")
    assert response.status_code == 422
    messages = [detail["message"] for detail in answer(response)["error"]["details"]]
    assert any("inside Katsushika City" in message for message in messages), messages
    # An address alone that names another ward is refused the same way, at the address.
    document["location"] = {"address": "東京都新宿区西新宿2-8-1"}
    response = submit(client, form.id, document, language="en")
    [detail] = answer(response)["error"]["details"]
    assert response.status_code == 422 and detail["pointer"] == "/location/address"
    assert "inside Katsushika City" in detail["message"]


FIXTURES = __import__("pathlib").Path(__file__).resolve().parents[1] / "fixtures" / "images"


def upload_photo(client, path, content_type: str = "image/jpeg") -> str:
    """Ask for a presigned POST and upload the file straight to (moto's) S3, as a phone would."""
    import requests

    response = client.http.post(
        "/uploads",
        body=json.dumps({"contentType": content_type}),
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 201, response.body
    grant = answer(response)
    assert grant["expiresAt"].endswith("+09:00")  # Tokyo time, as every answer (it was UTC)
    with open(path, "rb") as image:
        uploaded = requests.post(grant["url"], data=grant["fields"], files={"file": image}, timeout=10)
    assert uploaded.status_code in (200, 204), uploaded.text
    return grant["uploadId"]


def test_a_line_photos_upload_id_cannot_be_computed_from_its_message_id(local_stack, monkeypatch):
    # Anyone may name an upload id in a submission: one derived from the LINE message id alone
    # (not secret) would let a stranger take another resident's chat photo into their own case.
    import base64
    import hashlib

    from chalicelib.config import get_settings
    from chalicelib.services import uploads

    data = (FIXTURES / "gps.jpg").read_bytes()
    name = f"line-message:{uuid.uuid4().int % 10**18}"
    first = uploads.receive(name, data)
    assert uploads.receive(name, data) == first  # received again: the same upload, overwritten
    assert first != "up_" + base64.b32encode(hashlib.sha256(name.encode()).digest()[:20]).decode().lower()
    # The secret is read from the environment when used. No settings cache is cleared here: the
    # next read could then happen inside a chalice test Client, whose stage ("dev") has no
    # scheduler role, and a later test's booking found no role to schedule with.
    monkeypatch.setenv("LINE_CHANNEL_SECRET", "another-channel-secret")
    assert get_settings().line_channel_secret == "another-channel-secret"
    assert uploads.receive(name, data) != first  # keyed by the secret, not only by the name


def test_a_report_with_a_photo_keeps_a_copy_without_location_metadata(client, local_stack):
    from chalicelib.adapters import storage
    from chalicelib.domain import images

    original = (FIXTURES / "gps.jpg").read_bytes()
    assert images.has_location_metadata(original)
    form = get_form("road-park-damage")
    document = dict(copy.deepcopy(form.example), photos=[upload_photo(client, FIXTURES / "gps.jpg")])

    created = submit(client, form.id, document)
    assert created.status_code == 201, created.body
    stored = store.get(answer(created)["receipt"])
    [key] = stored.attachments
    data, content_type = storage.read(key, 10 * 1024 * 1024)
    assert content_type == "image/jpeg"
    assert images.sniff(data) == "image/jpeg"
    assert not images.has_location_metadata(data)
    # The original, GPS and all, is gone from the bucket.
    with pytest.raises(storage.ObjectMissing):
        storage.read(f"incoming/{document['photos'][0]}", 10 * 1024 * 1024)


@pytest.mark.parametrize(
    ("form_id", "field", "value"),
    [
        ("juminhyo-copy", "birthDate", "2099-01-01"),
        ("juminhyo-copy", "birthDate", "1800-01-01"),
        ("dog-registration-change", "changeDate", "2099-01-01"),
        ("illegal-dumping", "observedAt", "2099-01-01T00:00:00Z"),
    ],
)
def test_a_birth_date_or_a_sighting_after_today_is_refused_naming_the_field(client, form_id, field, value):
    form = get_form(form_id)
    document = dict(copy.deepcopy(form.example), **{field: value})
    refused = submit(client, form_id, document, language="en")
    assert refused.status_code == 422
    [detail] = answer(refused)["error"]["details"]
    assert detail["pointer"] == f"/{field}"
    label = form.meta["labels"][field]["en"]
    assert detail["message"] == catalogue.text("problem.when_past", "en", label=label)


def tokyo_day(days: int) -> str:
    from chalicelib.domain.submissions import TOKYO

    return (datetime.now(TOKYO).date() + timedelta(days=days)).isoformat()


@pytest.mark.parametrize(
    ("form_id", "field", "days", "pointer"),
    [
        ("bulky-waste-collection", "preferredDate", -1, "/preferredDate"),
        ("bulky-waste-collection", "preferredDate", 366, "/preferredDate"),
        ("childcare-consultation", "preferredDates", -1, "/preferredDates/1"),
    ],
)
def test_a_day_asked_for_before_today_or_over_a_year_ahead_is_refused_naming_the_field(
    client, form_id, field, days, pointer
):
    form = get_form(form_id)
    day = tokyo_day(days)
    document = dict(
        copy.deepcopy(form.example), **{field: [tokyo_day(3), day] if pointer[-2:] == "/1" else day}
    )
    refused = submit(client, form_id, document, language="en")
    assert refused.status_code == 422
    [detail] = answer(refused)["error"]["details"]
    assert detail["pointer"] == pointer
    label = form.meta["labels"][field]["en"]
    assert detail["message"] == catalogue.text("problem.when_ahead", "en", label=label)


@pytest.mark.parametrize("days", [0, 365])
def test_a_collection_day_from_today_to_a_year_ahead_is_taken(client, days):
    form = get_form("bulky-waste-collection")
    document = dict(copy.deepcopy(form.example), preferredDate=tokyo_day(days))
    accepted = submit(client, form.id, document)
    assert accepted.status_code == 201, accepted.body


def test_a_phone_clock_a_little_ahead_is_not_a_sighting_in_the_future(client):
    form = get_form("illegal-dumping")
    soon = (datetime.now(UTC) + timedelta(minutes=3)).isoformat(timespec="seconds")
    document = dict(copy.deepcopy(form.example), observedAt=soon)
    document.pop("photos", None)  # the example's ids name no upload
    accepted = submit(client, form.id, document)
    assert accepted.status_code == 201, accepted.body


def test_an_upload_posted_again_after_use_is_refused_and_never_changes_the_stored_photo(client, local_stack):
    import requests

    from chalicelib.adapters import storage

    form = get_form("illegal-dumping")
    grant = answer(
        client.http.post(
            "/uploads",
            body=json.dumps({"contentType": "image/jpeg"}),
            headers={"Content-Type": "application/json"},
        )
    )

    def post_and_submit(name: str):
        with open(FIXTURES / name, "rb") as image:
            assert requests.post(grant["url"], data=grant["fields"], files={"file": image}, timeout=10).ok
        return submit(client, form.id, dict(copy.deepcopy(form.example), photos=[grant["uploadId"]]))

    created = post_and_submit("gps.jpg")
    assert created.status_code == 201, created.body
    [first] = store.get(answer(created)["receipt"]).attachments
    kept = storage.read(first, 10 * 1024 * 1024)[0]
    # The same presigned POST, still valid, with another picture (S3 takes it until it expires):
    # the upload was used, so it is refused as a missing one, as before its original was deleted.
    again = post_and_submit("gps_progressive.jpg")
    assert again.status_code == 422, again.body
    assert answer(again)["error"]["code"] == "invalid_attachment"
    assert [d["pointer"] for d in answer(again)["error"]["details"]] == ["/photos/0"]
    assert storage.read(first, 10 * 1024 * 1024)[0] == kept  # the photo its resident sent


def test_an_upload_that_is_not_the_declared_image_is_refused(client, local_stack, tmp_path):
    fake = tmp_path / "not-an-image.jpg"
    fake.write_bytes(b"%PDF-1.7 definitely not a jpeg")
    form = get_form("illegal-dumping")
    document = dict(copy.deepcopy(form.example), photos=[upload_photo(client, fake)])
    response = submit(client, form.id, document, language="en")
    assert response.status_code == 422
    [detail] = answer(response)["error"]["details"]
    assert detail["pointer"] == "/photos/0"


@pytest.mark.parametrize("name", ["gps.png", "gps.heic"])
def test_an_image_declared_as_jpeg_is_kept_as_what_it_is(client, local_stack, name):
    from chalicelib.adapters import storage
    from chalicelib.domain import images
    from chalicelib.store import submissions as store

    form = get_form("illegal-dumping")
    document = dict(copy.deepcopy(form.example), photos=[upload_photo(client, FIXTURES / name, "image/jpeg")])
    response = submit(client, form.id, document)
    assert response.status_code == 201, response.body
    [key] = store.get(answer(response)["receipt"]).attachments
    data, content_type = storage.read(key, 10 * 1024 * 1024)
    assert content_type == images.sniff(data) != "image/jpeg"
    assert not images.has_location_metadata(data)


def test_an_unknown_upload_id_is_refused(client):
    form = get_form("illegal-dumping")
    document = dict(copy.deepcopy(form.example), photos=["up_" + "a" * 24])
    response = submit(client, form.id, document)
    assert response.status_code == 422
    assert answer(response)["error"]["details"][0]["pointer"] == "/photos/0"


def test_the_upload_policy_binds_the_key_the_type_and_10_mb(client, local_stack):
    """Real S3 enforces the signed policy (moto does not, so this reads the policy we sign)."""
    import base64

    grant = answer(
        client.http.post(
            "/uploads",
            body=json.dumps({"contentType": "image/png"}),
            headers={"Content-Type": "application/json"},
        )
    )
    policy = json.loads(base64.b64decode(grant["fields"]["policy"]))
    conditions = policy["conditions"]
    assert {"Content-Type": "image/png"} in conditions
    assert ["content-length-range", 1, 10 * 1024 * 1024] in conditions
    assert {"key": f"incoming/{grant['uploadId']}"} in conditions
    assert grant["maxBytes"] == 10 * 1024 * 1024


def test_only_images_may_be_uploaded(client):
    response = client.http.post(
        "/uploads",
        body=json.dumps({"contentType": "text/html"}),
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 422


def test_uploads_are_limited_per_address_and_hour(client, from_client, monkeypatch):
    """A review: one script could take presigned 10 MB uploads without end."""
    import dataclasses

    from chalicelib.config import get_settings
    from chalicelib.services import anonymous_limits

    settings = dataclasses.replace(get_settings(), anonymous_uploads_per_hour=2)
    monkeypatch.setattr(anonymous_limits, "get_settings", lambda: settings)

    def upload(language: str = "ja"):
        return client.http.post(
            "/uploads",
            body=json.dumps({"contentType": "image/jpeg"}),
            headers={"Content-Type": "application/json", "Accept-Language": language},
        )

    assert [upload().status_code for _ in range(2)] == [201, 201]
    refused = upload("en")
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
    assert answer(refused)["error"]["code"] == "too_many_uploads"
    assert answer(refused)["error"]["message"] == catalogue.text("error.too_many_uploads", "en")
    assert upload("ja").status_code == 429  # refused again, not counted past the limit
    from_client()
    assert upload().status_code == 201  # another address has its own hour

    # A re-test: each /64 of one IPv6 home line (a /56) was a client of its own.
    from chalice.local import LambdaEventConverter

    line = f"2001:db8:{uuid.uuid4().int % 65536:x}:42"
    answers = []
    for n in range(3 * 2 + 1):  # the /56 takes three times an address's uploads
        monkeypatch.setattr(LambdaEventConverter, "LOCAL_SOURCE_IP", f"{line}{n:02x}::1")
        answers.append(upload().status_code)
    assert answers == [201] * 6 + [429]


def test_the_resident_sees_public_notes_but_never_internal_ones(client):
    from chalicelib.domain.submissions import STAFF, Actor
    from chalicelib.services.submissions import move

    form = get_form("dog-registration-change")
    created = answer(submit(client, form.id, form.example))
    staff = Actor(STAFF, "clerk-1", form.section)
    move(
        store.get(created["receipt"]),
        "in_review",
        actor=staff,
        note="住所の確認中（内部）",
        visibility="internal",
    )
    move(
        store.get(created["receipt"]),
        "needs_info",
        actor=staff,
        note="登録番号を教えてください。",
        visibility="public",
    )

    view = answer(check(client, created["receipt"], created["accessSecret"]))
    assert view["status"] == "needs_info"
    assert [note["note"] for note in view["notes"]] == ["登録番号を教えてください。"]
    assert "内部" not in json.dumps(view, ensure_ascii=False)
    assert "clerk-1" not in json.dumps(view)


def test_wrong_access_codes_answer_like_an_unknown_receipt_and_leave_the_right_one_working(
    client, from_client
):
    form = get_form("opinion")
    created = answer(submit(client, form.id, form.example))
    for _ in range(10):
        wrong = check(client, created["receipt"], "AAAA-AAAA")
        assert wrong.status_code == 404  # as an unknown receipt (see test_access_codes)
        assert answer(wrong)["error"]["code"] == "submission_not_found"
    assert check(client, created["receipt"], created["accessSecret"]).status_code == 200
