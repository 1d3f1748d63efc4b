"""One upload, one submission or answer: two sends naming the same upload id (two tabs, a double
tap with two keys) must not share one stored photo, whose retention, started when either one
closes, would delete the other's. Against moto over HTTP, with real threads."""

from __future__ import annotations

import copy
import json
import threading
import uuid

import pytest

from chalicelib.adapters import storage
from chalicelib.domain import errors as rule
from chalicelib.domain import messages
from chalicelib.domain.forms import get_form
from chalicelib.services import submissions, uploads
from chalicelib.store import submissions as store
from tests.integration.test_responses import ask_for_info, new_submission, respond
from tests.integration.test_submissions_api import FIXTURES, answer, submit, upload_photo

FORM = "road-park-damage"


def with_photo(upload_id: str) -> dict:
    return dict(copy.deepcopy(get_form(FORM).example), photos=[upload_id])


def holders(upload_id: str, receipts: list[str]) -> list[str]:
    """The receipts among `receipts` whose stored attachments hold a copy of the upload."""
    return [
        r
        for r in receipts
        if any(key.startswith(f"attachments/{upload_id}-") for key in store.get(r).attachments)
    ]


@pytest.fixture
def held_in_store(monkeypatch):
    """Hold the first send with a photo to reach uploads.store (its upload claimed, its copy being
    written) until the test lets it go: the interleaving of two sends at once, made certain."""
    reached, let_go = threading.Event(), threading.Event()
    write_copies = uploads.store

    def store_and_wait(prepared):
        keys = write_copies(prepared)
        if prepared and not reached.is_set():
            reached.set()
            assert let_go.wait(30)
        return keys

    monkeypatch.setattr(uploads, "store", store_and_wait)
    return reached, let_go


def create_in_thread(document: dict) -> tuple[threading.Thread, list]:
    outcome: list = []

    def run() -> None:
        try:
            outcome.append(submissions.create(get_form(FORM), document, submissions.Submitter("web", "ja")))
        except Exception as error:  # noqa: BLE001 (the test reads what the send ended with)
            outcome.append(error)

    thread = threading.Thread(target=run)
    thread.start()
    return thread, outcome


def test_a_second_send_while_the_first_holds_the_upload_is_409_and_after_it_422(client, held_in_store):
    reached, let_go = held_in_store
    photo = upload_photo(client, FIXTURES / "gps.jpg")
    thread, outcome = create_in_thread(with_photo(photo))
    assert reached.wait(30)

    # The other tab sends now, with its own Idempotency-Key: the upload is in use.
    busy = submit(client, FORM, with_photo(photo), language="en", key=str(uuid.uuid4()))
    let_go.set()
    thread.join(30)

    assert busy.status_code == 409, busy.body
    assert answer(busy)["error"]["code"] == "request_in_progress"
    assert answer(busy)["error"]["message"] == messages.text("error.in_progress", "en")
    [created] = outcome
    assert isinstance(created, dict), created
    # Sent again once the first is stored: the upload is used, as a missing one is (422).
    used = submit(client, FORM, with_photo(photo), key=str(uuid.uuid4()))
    assert used.status_code == 422, used.body
    assert answer(used)["error"]["code"] == "invalid_attachment"
    assert [d["pointer"] for d in answer(used)["error"]["details"]] == ["/photos/0"]
    [key] = store.get(created["receipt"]).attachments
    assert storage.read(key, uploads.MAX_IMAGE_BYTES)[0]  # the photo is the first one's alone
    with pytest.raises(storage.ObjectMissing):
        storage.read(f"incoming/{photo}", uploads.MAX_IMAGE_BYTES)  # and its original is gone


def test_of_sends_racing_with_one_upload_exactly_one_gets_the_photo(client, local_stack):
    photo = upload_photo(client, FIXTURES / "gps.jpg")
    start = threading.Barrier(4, timeout=30)
    outcomes: list = []

    def send() -> None:
        start.wait()
        try:
            outcomes.append(
                submissions.create(get_form(FORM), with_photo(photo), submissions.Submitter("web", "ja"))
            )
        except rule.MadoguchiError as refused:
            outcomes.append(refused)

    threads = [threading.Thread(target=send) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    created = [o["receipt"] for o in outcomes if isinstance(o, dict)]
    refused = sorted(o.code for o in outcomes if isinstance(o, rule.MadoguchiError))
    assert len(created) == 1 and len(refused) == 3, outcomes
    # Refused as in use (409) while the winner runs, or as used (422) once it is done.
    assert set(refused) <= {"request_in_progress", "invalid_attachment"}, refused
    assert holders(photo, created) == created


def test_a_send_that_failed_after_claiming_its_upload_can_be_sent_again(client, local_stack, monkeypatch):
    photo = upload_photo(client, FIXTURES / "gps.jpg")
    insert = store.insert
    failures = []

    def fail_once(*args, **kwargs):
        if not failures:
            failures.append("DynamoDB throttled")
            raise RuntimeError(failures[0])
        return insert(*args, **kwargs)

    monkeypatch.setattr(store, "insert", fail_once)
    key = str(uuid.uuid4())
    failed = submit(client, FORM, with_photo(photo), key=key)
    assert failed.status_code == 500 and failures
    # The retry (the same request: the page's or the app's own) is not refused for its upload.
    retried = submit(client, FORM, with_photo(photo), key=key)
    assert retried.status_code == 201, retried.body
    receipt = answer(retried)["receipt"]
    assert holders(photo, [receipt]) == [receipt]


def test_an_answer_to_needs_info_cannot_take_an_upload_a_submission_holds_or_used(client, held_in_store):
    reached, let_go = held_in_store
    receipt, secret = new_submission(client)
    ask_for_info(client, receipt)
    photo = upload_photo(client, FIXTURES / "gps.jpg")
    thread, outcome = create_in_thread(with_photo(photo))
    assert reached.wait(30)

    busy = respond(client, receipt, secret, {"text": "12-34", "attachments": [photo]})
    let_go.set()
    thread.join(30)
    used = respond(client, receipt, secret, {"text": "12-34", "attachments": [photo]})

    assert busy.status_code == 409 and json.loads(busy.body)["error"]["code"] == "request_in_progress"
    assert used.status_code == 422 and json.loads(used.body)["error"]["code"] == "invalid_attachment"
    assert [d["pointer"] for d in json.loads(used.body)["error"]["details"]] == ["/attachments/0"]
    [created] = outcome
    assert holders(photo, [created["receipt"]]) == [created["receipt"]]
    # Still waiting for the answer, which a photo of its own completes.
    assert store.get(receipt).status == "needs_info"
    own = upload_photo(client, FIXTURES / "gps.jpg")
    answered = respond(client, receipt, secret, {"text": "12-34", "attachments": [own]})
    assert answered.status_code == 201, answered.body
    [key] = store.get(receipt).responses[0]["attachments"]
    assert key.startswith(f"attachments/{own}-")
