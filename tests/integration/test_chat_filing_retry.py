"""The chat retries a transient failure to file a report instead of ending it (issue 11, item 7)."""

from __future__ import annotations

import hashlib

from chalicelib.services import idempotency as idempotency_service
from chalicelib.services.chat import turn as turn_module
from chalicelib.store import conversations
from chalicelib.store import idempotency as store
from chalicelib.store.models import Submission
from tests.integration.test_line_chat import Resident, text_of, texts

FORM = "illegal-dumping"


def test_a_filing_in_progress_elsewhere_is_waited_for_not_reported_as_refused(
    post_webhook, pump, sandbox, monkeypatch
):
    from datetime import UTC, datetime

    resident = Resident(post_webhook, pump, sandbox)
    resident.tap("menu.report")
    resident.tap("report.category", FORM)
    resident.tap("report.kind", "appliance")
    resident.tap("report.photos_done")
    resident.tap("report.address")
    resident.say("柴又公園の北側入口付近")
    confirm = resident.tap("report.comment_skip")

    # Another delivery of the same tap is filing this conversation's report right now.
    conversation_id = conversations.get(resident.user_id).conversation_id
    record_key = f"line-{FORM}#line:{resident.user_id}#{conversation_id}-{FORM}"
    request_hash = hashlib.sha256(conversation_id.encode()).hexdigest()
    caller = f"line:{resident.user_id}"
    now = datetime.now(UTC)
    assert store.begin(record_key, request_hash, caller, now, idempotency_service.IN_PROGRESS_LEASE) is None
    waits: list[float] = []

    def other_delivery_finishes(seconds: float) -> None:
        waits.append(seconds)
        if len(waits) == 2:  # it finishes while we wait the second time
            store.finish(record_key, 201, {"receipt": "KTS-2601-ABCD", "status": "received"})

    monkeypatch.setattr(turn_module.time, "sleep", other_delivery_finishes)
    answer = resident.tap_button(confirm, text_of("button.send"))

    assert len(waits) == 2
    assert text_of("report.rejected") not in texts(answer)
    assert "KTS-2601-ABCD" in texts(answer)
    assert list(Submission.by_line_user.query(resident.user_id)) == []  # filed once, by the other one


def test_a_lasting_busy_store_fails_the_event_and_its_redelivery_files_the_report(
    post_webhook, pump, sandbox, monkeypatch
):
    from chalicelib.domain import errors as rule
    from chalicelib.services import submissions

    resident = Resident(post_webhook, pump, sandbox)
    resident.tap("menu.report")
    resident.tap("report.category", FORM)
    resident.tap("report.kind", "appliance")
    resident.tap("report.photos_done")
    resident.tap("report.address")
    resident.say("柴又公園の北側入口付近")
    confirm = resident.tap("report.comment_skip")

    create, calls = submissions.create, []

    def busy_three_times(*args, **kwargs):
        calls.append(1)
        if len(calls) <= turn_module.FILE_ATTEMPTS:
            raise rule.Unavailable("Please try again.", code="busy")
        return create(*args, **kwargs)

    monkeypatch.setattr(submissions, "create", busy_three_times)
    monkeypatch.setattr(turn_module.time, "sleep", lambda seconds: None)
    answer = resident.tap_button(confirm, text_of("button.send"))  # the pump delivers it again

    assert len(calls) == turn_module.FILE_ATTEMPTS + 1
    assert text_of("report.rejected") not in texts(answer)
    [mine] = Submission.by_line_user.query(resident.user_id)
    assert mine.receipt in texts(answer)
