"""The daily digest job over the local stack: DynamoDB in moto, emails in moto's SES outbox.

Every test first sets each section's digest cut-off to its own start, so what counts as
new is exactly what the test submits. Tests that call `digest.run(now=...)` use a day of
their own (tomorrow, the day after) so the once-a-day ledger of one test never skips another.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.config import get_settings
from chalicelib.domain import submissions as rules
from chalicelib.domain.forms import get_form, sections
from chalicelib.store import digests
from chalicelib.store.models import DigestCutoff, InboxEvent
from chalicelib.workers import digest
from devstack.env import MOTO_ACCOUNT, REGION
from tests.integration.conftest import backdated, submit_example


def outbox() -> list:
    from moto.ses.models import ses_backends

    return ses_backends[MOTO_ACCOUNT][REGION].sent_messages


def sent_since(mark: int, section_id: str | None = None) -> list:
    # Digests are plain send_email messages; raw ones (a booking's .ics mail) are someone else's.
    messages = [m for m in outbox()[mark:] if isinstance(m.destinations, dict)]
    if section_id is None:
        return messages
    recipients = sections()[section_id]["digestRecipients"]
    return [m for m in messages if m.destinations["ToAddresses"] == recipients]


def days_ago(form_id: str, days: int, status: str = rules.RECEIVED) -> str:
    """A submission entered `days` ago (as staff would for a postal request) in `status`."""
    return backdated(
        form_id, datetime.now(UTC) - timedelta(days=days), status=status, channel="postal"
    ).receipt


@pytest.fixture
def fresh(local_stack):
    """Every section's last digest is now: only what the test creates is new."""
    start = datetime.now(UTC)
    for section_id in sections():
        digests.set_cutoff(section_id, start)
    return start


def test_one_email_per_section_with_new_by_form_overdue_and_reports_by_area(client, fresh):
    bulky = [submit_example(client, "bulky-waste-collection") for _ in range(2)]
    dumping = submit_example(client, "illegal-dumping")
    damage = [submit_example(client, "road-park-damage") for _ in range(2)]
    light = submit_example(client, "streetlight-outage")
    late = days_ago("bulky-waste-collection", days=40)
    waiting_for_resident = days_ago("bulky-waste-collection", days=40, status=rules.NEEDS_INFO)
    closed = days_ago("illegal-dumping", days=40, status=rules.COMPLETED)
    backdated("bulky-waste-collection", datetime.now(UTC), status=rules.WITHDRAWN)
    mark = len(outbox())

    tomorrow = datetime.now(UTC) + timedelta(days=1)
    result = digest.run(now=tomorrow)

    assert result["seiso"] == 3  # the withdrawn one below is not new
    assert result["doro-hoshu"] == 3
    assert result["seikatsu-eisei"] == 0

    [seiso] = sent_since(mark, "seiso")
    assert seiso.source == get_settings().ses_sender
    assert "清掃事務所" in seiso.subject and "新着3件" in seiso.subject
    body = seiso.body  # moto keeps the HTML part when both are sent
    assert "粗大ごみ収集の申込: 2件" in body
    assert "不法投棄の通報: 1件" in body
    assert "東金町: 1件" in body  # the dumping report's area, by its Japanese name
    assert "高砂" not in body  # the bulky waste requests have an area too, but are not reports
    assert late in body
    assert "/staff/submissions/" not in body  # no console configured: receipts without links
    assert waiting_for_resident not in body  # the resident has the next move: the ward's clock stopped
    assert closed not in body
    for receipt in [*bulky, dumping]:
        assert receipt not in body  # new ones are counted, only overdue ones are listed

    [roads] = sent_since(mark, "doro-hoshu")
    assert "新着3件" in roads.subject
    assert "道路・公園の損傷の通報: 2件" in roads.body
    assert "街路灯の故障の通報: 1件" in roads.body
    assert "立石: 2件" in roads.body and "金町: 1件" in roads.body
    # The road reports say it is dangerous (the example's answer): listed first, by receipt.
    assert "危険の通報" in roads.subject and "危険があるとの通報" in roads.body
    assert all(roads.body.index(receipt) < roads.body.index("新着の受付") for receipt in damage)
    assert light not in roads.body  # counted as new, not listed
    assert "危険" not in seiso.subject

    # A section with nothing new and nothing overdue gets no email, but is done for the day.
    assert sent_since(mark, "seikatsu-eisei") == []
    day = tomorrow.astimezone(rules.TOKYO).date().isoformat()
    assert InboxEvent.get(f"digest#seikatsu-eisei#{day}").processed_at is not None

    # No personal data: nothing of what residents typed reaches the staff mailboxes.
    for message in (seiso, roads):
        for form_id in (
            "bulky-waste-collection",
            "illegal-dumping",
            "road-park-damage",
            "streetlight-outage",
        ):
            example = get_form(form_id).example
            for field in ("name", "phone", "email", "address", "description", "placement"):
                if isinstance(example.get(field), str):
                    assert example[field] not in message.body and example[field] not in message.subject


def test_new_means_since_the_last_digest(client, fresh):
    first = submit_example(client, "opinion")
    day_after = datetime.now(UTC) + timedelta(days=2)
    mark = len(outbox())
    # The previous digest ran after `first` arrived: only what came later is new.
    digests.set_cutoff("kocho", datetime.now(UTC))
    second = submit_example(client, "opinion")
    result = digest.run(now=day_after)
    assert result["kocho"] == 1
    [kocho] = sent_since(mark, "kocho")
    assert "新着1件" in kocho.subject
    assert first not in kocho.body and second not in kocho.body
    assert digests.cutoff("kocho") == day_after


def test_the_job_runs_once_a_day_even_when_fired_twice(client, pump, fresh):
    # The scheduled job works on today: forget any digest of today another test may have sent
    # (the events/schedule sample fires the same job), so this is the day's first run.
    today = datetime.now(UTC).astimezone(rules.TOKYO).date().isoformat()
    for section_id in sections():
        InboxEvent(f"digest#{section_id}#{today}").delete()
    submit_example(client, "event-registration")
    mark = len(outbox())

    # EventBridge stamps the event with the scheduled time (whole seconds); the job counts up to it.
    scheduled = datetime.now(UTC) + timedelta(seconds=1)
    first = pump.fire("daily-digest", at=scheduled)
    assert first["chiiki-shinko"] == 1
    assert len(sent_since(mark, "chiiki-shinko")) == 1
    sent_first = len(sent_since(mark))
    assert sent_first >= 1

    second = pump.fire("daily-digest", at=scheduled)
    assert second == dict.fromkeys(sections(), digest.SKIPPED)
    assert len(sent_since(mark)) == sent_first


def test_a_failed_send_is_retried_by_the_next_run_and_only_then_done(client, fresh):
    submit_example(client, "childcare-consultation")
    in_three_days = datetime.now(UTC) + timedelta(days=3)
    day = in_three_days.astimezone(rules.TOKYO).date().isoformat()
    ses = _ses()
    sender = get_settings().ses_sender
    ses.delete_identity(Identity=sender)  # SES now refuses every message from the ward's address
    try:
        mark = len(outbox())
        with pytest.raises(digest.DigestFailed):
            digest.run(now=in_three_days)
        assert sent_since(mark, "kosodate") == []
        ledger = InboxEvent.get(f"digest#kosodate#{day}")
        assert ledger.processed_at is None and ledger.claimed_until is None
    finally:
        ses.verify_email_identity(EmailAddress=sender)

    result = digest.run(now=in_three_days)
    assert result["kosodate"] == 1
    assert len(sent_since(mark, "kosodate")) == 1
    assert digest.run(now=in_three_days)["kosodate"] == digest.SKIPPED


def test_a_mark_ahead_of_the_clock_finds_nothing_new_and_stays_where_it_is(client, fresh):
    ahead = datetime.now(UTC) + timedelta(days=60)
    digests.set_cutoff("kocho", ahead)
    submit_example(client, "opinion")
    # A day no other test digests (the consultation digest's falls within the next week).
    result = digest.run(now=datetime.now(UTC) + timedelta(days=54))
    assert result["kocho"] == 0
    assert digests.cutoff("kocho") == ahead


def test_the_cut_off_lives_in_its_own_table_not_in_the_inbox(client, fresh):
    submit_example(client, "opinion")
    in_45_days = datetime.now(UTC) + timedelta(days=45)  # a day no other test digests
    assert digest.run(now=in_45_days)["kocho"] == 1

    assert DigestCutoff.get("kocho", consistent_read=True).covered_until == in_45_days
    assert digests.cutoff("kocho") == in_45_days
    # The inbox holds the day's claim (a ledger row that expires), and no cut-off of any kind.
    day = in_45_days.astimezone(rules.TOKYO).date().isoformat()
    assert InboxEvent.get(f"digest#kocho#{day}", consistent_read=True).processed_at is not None
    assert InboxEvent.count("digest-last#kocho", consistent_read=True) == 0


def test_a_cut_off_left_in_the_inbox_by_the_previous_release_is_where_the_first_digest_starts(client, fresh):
    # What the release before DigestCutoff left: an inbox row, and nothing in the new table.
    legacy = datetime.now(UTC)
    DigestCutoff("kocho").delete()
    InboxEvent(
        "digest-last#kocho", source="digest", processed_at=legacy, expires_at=legacy + timedelta(days=60)
    ).save()
    try:
        submit_example(client, "opinion")  # after the legacy mark: new
        in_46_days = datetime.now(UTC) + timedelta(days=46)
        # The 24-hour first-digest lookback would miss it; the legacy mark does not.
        assert digest.run(now=in_46_days)["kocho"] == 1
        assert DigestCutoff.get("kocho", consistent_read=True).covered_until == in_46_days
    finally:
        InboxEvent("digest-last#kocho").delete()
    assert digests.cutoff("kocho") == in_46_days


def _ses():
    import boto3

    return boto3.client("ses")


def test_a_question_routed_to_a_section_is_counted_under_its_forms_title(client, fresh):
    """A chat question goes to its topic's section: its digest names the form, not its id."""
    from chalicelib.services import submissions as service

    service.create(
        get_form("inquiry"),
        {"question": "国保の保険料を分割できますか"},
        service.Submitter(channel="line", language="ja"),
        section="kokuho-nenkin",
    )
    mark = len(outbox())
    digest.run(now=datetime.now(UTC) + timedelta(days=47))  # a day no other test digests
    [kokuho] = sent_since(mark, "kokuho-nenkin")
    assert f"{get_form('inquiry').title['ja']}: 1件" in kokuho.body
    assert "inquiry: 1" not in kokuho.body


def test_a_submission_handed_over_is_named_in_the_receiving_sections_next_digest(client, fresh):
    """A review: made before the last digest, it was new to neither section."""
    from chalicelib.domain.staff import StaffPrincipal
    from chalicelib.services import staff_submissions

    handed = days_ago("streetlight-outage", days=3)
    clerk = StaffPrincipal("staff-doro-hoshu-1", "doro-hoshu", frozenset({"staff"}))
    status, _ = staff_submissions.hand_over(clerk, handed, {"section": "seiso", "note": "不法投棄でした"})
    assert status == 200
    mark = len(outbox())
    digest.run(now=datetime.now(UTC) + timedelta(days=48))  # a day no other test digests
    [seiso] = sent_since(mark, "seiso")
    assert "引き継ぎ1件" in seiso.subject and "1 handed over" in seiso.subject
    assert f"{handed} {get_form('streetlight-outage').title['ja']}" in seiso.body
    assert "Handed over by another section: 1" in seiso.body
    assert all("引き継ぎ" not in m.subject for m in sent_since(mark, "doro-hoshu"))
    # The next digest has it no more: handed over once, named once.
    mark = len(outbox())
    digest.run(now=datetime.now(UTC) + timedelta(days=49))
    assert all("Handed over" not in m.body for m in sent_since(mark, "seiso"))
    close(handed)


def test_one_made_and_handed_over_since_the_last_digest_is_named_there_once(client, fresh):
    """A review: it was counted both as new and as handed over. It is named by its receipt, as
    handed over (a re-test: counted as new only, the section could not tell which it was)."""
    from chalicelib.domain.staff import StaffPrincipal
    from chalicelib.services import staff_submissions

    made = submit_example(client, "streetlight-outage")
    clerk = StaffPrincipal("staff-doro-hoshu-1", "doro-hoshu", frozenset({"staff"}))
    assert staff_submissions.hand_over(clerk, made, {"section": "seiso", "note": "x"})[0] == 200
    mark = len(outbox())
    assert digest.run(now=datetime.now(UTC) + timedelta(days=50))["seiso"] == 1  # new work, once
    [seiso] = sent_since(mark, "seiso")
    assert "新着0件" in seiso.subject and "引き継ぎ1件" in seiso.subject and made in seiso.body
    close(made)


def close(receipt: str) -> None:
    """Done with: no later digest of its section lists it."""
    from chalicelib.services import submissions as service
    from chalicelib.store import submissions as store

    actor = rules.Actor(rules.STAFF, "staff-0001", section=store.get(receipt).section)
    for status in (rules.IN_REVIEW, rules.COMPLETED):
        service.move(store.get(receipt), status, actor=actor, note=None, visibility=None)


def test_a_sections_first_digest_counts_the_week_before_it(client, fresh):
    """A walkthrough: tried in the evening, a new stack's first digest the next morning looked back
    24 hours and counted nothing of the night before."""
    day = datetime.now(UTC) + timedelta(days=51)  # a day no other test digests
    DigestCutoff("seiso").delete()
    three_days_before = backdated("bulky-waste-collection", day - timedelta(days=3))
    try:
        assert digest.run(now=day)["seiso"] == 1
    finally:  # dated weeks ahead, it would head every later list of the section: gone
        three_days_before.delete()
