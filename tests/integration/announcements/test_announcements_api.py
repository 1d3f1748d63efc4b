"""The staff announcement API: compose, preview, approval rules, scheduling, cancel, errors.

Through chalice.test.Client on app.py against the local stack; staff tokens from the dev issuer.
Recipient counts are compared as differences (before and after this test's residents), since
other tests' residents share the send lists.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.adapters import scheduler
from chalicelib.config import get_settings
from chalicelib.domain import announcements as rules
from chalicelib.domain.staff import ROLE_ADMIN, ROLE_ANNOUNCER, ROLE_STAFF, ROLE_SUPERVISOR
from chalicelib.domain.submissions import tokyo_iso
from chalicelib.services import fanout
from tests.integration.announcements.helpers import (
    BOSS,
    OTHER_BOSS,
    announcement,
    body_of,
    delivered,
    drain,
    headers,
    make_resident,
    quiet_now,
    quiet_off,
)

BASE = "/staff/announcements"


def create(api, document=None, *, as_=None) -> str:
    response = api("POST", BASE, document or announcement(), as_=as_)
    assert response.status_code == 201, response.body
    return body_of(response)["id"]


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.body
    error = body_of(response)["error"]
    assert error["code"] == code, error
    assert isinstance(error["details"], list)
    return error


# --- composing -------------------------------------------------------------------------------


def test_an_announcer_drafts_and_reads_it_back(api, policy):
    response = api(
        "POST",
        BASE,
        announcement(link="https://www.city.katsushika.lg.jp/x", image={"url": "https://example.jp/a.png"}),
    )
    assert response.status_code == 201
    assert response.headers["Cache-Control"] == "no-store"
    created = body_of(response)
    assert created["status"] == rules.DRAFT
    assert created["content"]["target"] == {"areas": ["aoto"], "ageBands": [], "languages": []}
    assert created["content"]["image"] == {
        "url": "https://example.jp/a.png",
        "previewUrl": "https://example.jp/a.png",
    }
    assert created["createdBy"] == "announcer-1" and created["section"] == "kocho"
    shown = body_of(api("GET", f"{BASE}/{created['id']}"))
    assert shown == created
    listed = body_of(api("GET", f"{BASE}?limit=100"))["announcements"]
    assert listed[0]["id"] == created["id"]  # newest first


def test_a_draft_sent_twice_with_one_idempotency_key_is_one_draft(api, policy):
    """A double click or a network retry: two drafts would be two sends to the same residents."""
    keyed = {**headers(), "Idempotency-Key": f"draft-{uuid.uuid4()}"}
    first, again = (api("POST", BASE, announcement(), as_=keyed) for _ in range(2))
    assert first.status_code == again.status_code == 201
    assert body_of(again)["id"] == body_of(first)["id"]
    listed = [a["id"] for a in body_of(api("GET", f"{BASE}?limit=100"))["announcements"]]
    assert listed.count(body_of(first)["id"]) == 1
    other = api("POST", BASE, announcement(texts={"ja": "別のお知らせ"}), as_=keyed)
    assert_error(other, 422, "idempotency_key_reused")  # the same key for another draft
    assert body_of(api("POST", BASE, announcement()))["id"] != body_of(first)["id"]  # no key: a new one


@pytest.mark.parametrize(
    ("document", "status", "code"),
    [
        (
            {"category": "general", "texts": {"en": "x"}, "target": {}, "topic": "waste"},
            422,
            "invalid_request",
        ),
        ({**announcement(), "colour": "red"}, 422, "invalid_request"),
        ({**announcement(), "category": "gossip"}, 422, "invalid_request"),
        ({**announcement(), "texts": {"ja": "x" * 2001}}, 422, "invalid_request"),
        ({**announcement(), "target": {"ageBands": ["teen"]}}, 422, "invalid_request"),
        ({**announcement(), "link": "ftp://example.jp"}, 422, "invalid_request"),
        ({**announcement(), "topic": "gardening"}, 422, "invalid_announcement"),
        ({**announcement(), "category": "emergency"}, 422, "invalid_announcement"),
        ({**announcement(), "target": {"areas": ["atlantis"]}}, 422, "invalid_announcement"),
        ({**announcement(), "texts": {"ja": "   "}}, 422, "invalid_announcement"),
    ],
)
def test_bad_announcements_are_refused_with_every_problem(api, policy, document, status, code):
    error = assert_error(api("POST", BASE, document), status, code)
    assert error["details"] and all("pointer" in d and "message" in d for d in error["details"])


def test_malformed_json_is_400_and_nothing_is_stored(api, policy):
    before = body_of(api("GET", f"{BASE}?limit=100"))["announcements"]
    assert_error(api("POST", BASE, raw=b'{"category": '), 400, "malformed_json")
    assert body_of(api("GET", f"{BASE}?limit=100"))["announcements"] == before


@pytest.mark.parametrize("roles", [(ROLE_STAFF,), (ROLE_ADMIN,)])
def test_only_announcers_and_supervisors_compose(api, policy, roles):
    assert_error(api("POST", BASE, announcement(), as_=headers(roles)), 403, "forbidden")


def test_an_admin_may_read_but_another_section_may_not(api, policy):
    announcement_id = create(api)
    assert api("GET", f"{BASE}/{announcement_id}", as_=headers((ROLE_ADMIN,), "admin-1")).status_code == 200
    other = headers((ROLE_ANNOUNCER,), "announcer-9", section="seiso")
    assert_error(api("GET", f"{BASE}/{announcement_id}", as_=other), 403, "forbidden")
    assert all(
        item["id"] != announcement_id for item in body_of(api("GET", BASE, as_=other))["announcements"]
    )
    assert_error(api("GET", f"{BASE}/01M8BNFZPAK84KR21T8GHFEPM9"), 404, "not_found")
    # Another section is told so before its body is judged (it used to get a 422 first).
    boss = headers((ROLE_SUPERVISOR,), "boss-9", section="seiso")
    for path, body in (("", {"reason": "x"}), ("/submit", {"sendAt": "soon"}), ("/reject", {"x": 1})):
        method = "PUT" if path == "" else "POST"
        assert_error(api(method, f"{BASE}/{announcement_id}{path}", body, as_=boss), 403, "forbidden")
    assert_error(api("GET", f"{BASE}/not-an-id"), 404, "not_found")


def test_the_list_pages_with_a_cursor_and_refuses_bad_parameters(api, policy):
    ids = [create(api) for _ in range(3)]
    first = body_of(api("GET", f"{BASE}?limit=2"))
    assert [item["id"] for item in first["announcements"]] == ids[::-1][:2]
    second = body_of(api("GET", f"{BASE}?limit=2&cursor={first['nextCursor']}"))
    assert second["announcements"][0]["id"] == ids[0]
    assert_error(api("GET", f"{BASE}?limit=0"), 400, "invalid_query")
    assert_error(api("GET", f"{BASE}?colour=red"), 400, "invalid_query")
    assert_error(api("GET", f"{BASE}?cursor=bogus"), 400, "invalid_cursor")


def test_the_list_shows_one_status_across_pages(api, policy):
    """A supervisor finds what waits for them (a walkthrough: the list mixed it with every draft)."""
    outside = announcement(link="https://forms.example.net/x")
    waiting = [create(api, outside)]
    drafts = [create(api) for _ in range(3)]
    waiting.append(create(api, outside))
    for announcement_id in waiting:
        submitted = body_of(api("POST", f"{BASE}/{announcement_id}/submit", {}))
        assert submitted["status"] == rules.PENDING_APPROVAL
    url = f"{BASE}?status={rules.PENDING_APPROVAL}&limit=1"
    first = body_of(api("GET", url))
    second = body_of(api("GET", f"{url}&cursor={first['nextCursor']}"))
    # Newest first, past the drafts between them.
    assert [page["announcements"][0]["id"] for page in (first, second)] == waiting[::-1]
    drafted = body_of(api("GET", f"{BASE}?status={rules.DRAFT}&limit=100"))["announcements"]
    assert set(drafts) <= {item["id"] for item in drafted}
    assert {item["status"] for item in drafted} == {rules.DRAFT}
    for wrong in ("waiting", ""):
        error = assert_error(api("GET", f"{BASE}?status={wrong}"), 400, "invalid_query")
        assert error["details"][0]["parameter"] == "status"


def test_listing_every_area_or_language_counts_as_every_follower(api, policy):
    """The rule follows who is reached, not how the target was written."""
    from chalicelib.domain import preferences as prefs_rules
    from chalicelib.domain.residents import LANGUAGES

    every_area = announcement(target={"areas": sorted(prefs_rules.area_ids())})
    assert_error(api("POST", BASE, every_area), 403, "forbidden")
    every_language = announcement(target={"languages": list(LANGUAGES)})
    assert_error(api("POST", BASE, every_language), 403, "forbidden")
    boss = headers((ROLE_SUPERVISOR,), BOSS)
    announcement_id = create(api, every_area, as_=boss)
    preview = body_of(api("POST", f"{BASE}/{announcement_id}/preview", as_=boss))
    assert preview["everyone"] is True and preview["approvalRequired"] is True
    assert [reason["code"] for reason in preview["approvalReasons"]] == [rules.EVERY_FOLLOWER]
    submitted = body_of(api("POST", f"{BASE}/{announcement_id}/submit", {}, as_=boss))
    assert submitted["status"] == rules.PENDING_APPROVAL


def test_only_a_supervisor_may_address_every_follower(api, policy):
    everyone = announcement(target={})
    error = assert_error(api("POST", BASE, everyone), 403, "forbidden")
    assert "supervisor" in error["message"]
    # Nor by editing a narrower draft into it.
    announcement_id = create(api)
    assert_error(api("PUT", f"{BASE}/{announcement_id}", everyone), 403, "forbidden")
    assert api("POST", BASE, everyone, as_=headers((ROLE_SUPERVISOR,), BOSS)).status_code == 201


# --- preview ---------------------------------------------------------------------------------


def test_preview_counts_exactly_by_language_area_and_age_band_and_shows_the_quota(api, policy):
    document = announcement(topic="crime-prevention", target={"areas": ["horikiri"], "ageBands": ["70+"]})
    announcement_id = create(api, document)
    before = body_of(api("POST", f"{BASE}/{announcement_id}/preview"))
    make_resident(["crime-prevention"], "horikiri", "ja", "70+")
    make_resident(["crime-prevention"], "horikiri", "en", None)  # no age given: reached
    make_resident(["crime-prevention"], None, "vi", "70+")  # no area chosen: every area's news
    make_resident(["crime-prevention"], "horikiri", "ja", "30-39")  # too young for this one
    make_resident(["crime-prevention"], "aoto", "ja", "70+")  # another area
    make_resident(["waste"], "horikiri", "ja", "70+")  # another topic
    make_resident(["crime-prevention"], "horikiri", "ja", "70+", paused=True)
    make_resident(["crime-prevention"], "horikiri", "ja", "70+", consent=False)
    make_resident(["crime-prevention"], "horikiri", "ja", "70+", following=False)
    response = api("POST", f"{BASE}/{announcement_id}/preview")
    assert response.status_code == 200, response.body
    after = body_of(response)
    assert after["recipients"] - before["recipients"] == 3
    assert {k: after["byLanguage"][k] - before["byLanguage"][k] for k in after["byLanguage"]} == {
        "ja": 1, "ja-easy": 0, "en": 1, "zh-Hans": 0, "ko": 0, "vi": 1, "ne": 0,
    }  # fmt: skip
    assert after["byArea"]["horikiri"] - before["byArea"].get("horikiri", 0) == 2
    assert after["byArea"]["*"] - before["byArea"].get("*", 0) == 1
    # Who gave no age band is reached, and shown apart (a walkthrough: it was counted unseen).
    assert after["byAgeBand"]["70+"] - before["byAgeBand"].get("70+", 0) == 2
    assert after["byAgeBand"]["*"] - before["byAgeBand"].get("*", 0) == 1
    assert set(after["byAgeBand"]) <= {"70+", "*"}
    assert after["lineRequests"] == rules.minimum_requests(after["byLanguage"], 5)
    quota = after["quota"]
    assert quota["messages"] == after["recipients"]
    assert quota["limit"] == 200_000 and quota["remaining"] == 200_000 - quota["used"] and quota["sufficient"]
    assert after["approvalRequired"] is False and after["everyone"] is False
    assert after["approvalReasons"] == [] and after["outsideAddresses"] == []


def test_preview_says_why_it_needs_approval(api, policy):
    """The writer can fix a link before asking, the approver knows what to look at."""
    document = announcement(
        link="https://forms.example.net/x", texts={"ja": "詳しくは www.city.katsushika.lg.jp へ"}
    )
    announcement_id = create(api, document)
    preview = body_of(api("POST", f"{BASE}/{announcement_id}/preview"))
    assert preview["approvalRequired"] is True
    assert [reason["code"] for reason in preview["approvalReasons"]] == [rules.OUTSIDE_ADDRESSES]
    assert "outsideAddresses" in preview["approvalReasons"][0]["message"]
    assert preview["outsideAddresses"] == ["forms.example.net"]


def test_preview_and_submit_count_without_reading_any_send_list_entry(api, policy, monkeypatch):
    """The count costs a few key queries of the counts, whatever the size of the segment."""
    from chalicelib.store.models import SendListEntry

    make_resident(["roads-traffic"], "tateishi", "ko", "40-49")
    announcement_id = create(api, announcement(topic="roads-traffic", target={"areas": ["tateishi"]}))

    def no_member_reads(*args, **kwargs):
        raise AssertionError("the count read the send list's members")

    monkeypatch.setattr(SendListEntry, "query", no_member_reads)
    preview = body_of(api("POST", f"{BASE}/{announcement_id}/preview"))
    assert preview["byLanguage"]["ko"] >= 1
    submitted = api("POST", f"{BASE}/{announcement_id}/submit", {})
    assert submitted.status_code == 200, submitted.body
    assert body_of(submitted)["approval"]["recipientsAtSubmit"] == preview["recipients"]


def test_preview_shows_which_text_each_language_reads_and_warns_when_one_has_none(api, policy):
    make_resident(["health"], "kanamachi", "vi")
    make_resident(["health"], "kanamachi", "en")
    document = announcement(
        topic="health", texts={"ja": "健診のお知らせ", "en": "Health checks"}, target={"areas": ["kanamachi"]}
    )
    announcement_id = create(api, document)
    preview = body_of(api("POST", f"{BASE}/{announcement_id}/preview"))
    texts = {entry["language"]: entry for entry in preview["texts"]}
    assert texts["vi"]["textLanguage"] == "en" and texts["vi"]["own"] is False
    assert texts["en"]["textLanguage"] == "en" and texts["en"]["own"] is True
    assert texts["vi"]["residents"] == preview["byLanguage"]["vi"] >= 1
    assert any(w.startswith("vi: ") and "English text" in w for w in preview["warnings"])
    assert not any(w.startswith("en: ") for w in preview["warnings"])


def test_preview_names_the_quota_left_after_earlier_sends(api, policy, pump, sandbox):
    make_resident(["waste"], "aoto")
    announcement_id = create(api)
    preview = body_of(api("POST", f"{BASE}/{announcement_id}/preview"))
    assert api("POST", f"{BASE}/{announcement_id}/submit", {}).status_code == 200
    drain(pump)
    again = body_of(api("POST", f"{BASE}/{announcement_id}/preview"))
    assert again["quota"]["used"] == preview["quota"]["used"] + sum(delivered(sandbox).values())


# --- approval ----------------------------------------------------------------------------------


def test_a_small_send_is_scheduled_at_once_without_approval(api, policy, pump, sandbox):
    resident = make_resident()
    announcement_id = create(api)
    submitted = body_of(api("POST", f"{BASE}/{announcement_id}/submit", {}))
    assert submitted["status"] == rules.SCHEDULED
    assert submitted["approval"]["required"] is False
    assert submitted["approval"]["submittedBy"] == "announcer-1"
    drain(pump)
    assert body_of(api("GET", f"{BASE}/{announcement_id}"))["status"] == rules.SENT
    assert delivered(sandbox)[resident.user_id] == 1


def test_above_the_threshold_a_second_supervisor_approves(api, policy, pump, sandbox):
    policy(rules.Policy(quiet_start=None, quiet_end=None, approval_threshold=1, chunk_size=5))
    residents = [make_resident(), make_resident()]
    announcement_id = create(api)
    pending = body_of(api("POST", f"{BASE}/{announcement_id}/submit", {}))
    assert pending["status"] == rules.PENDING_APPROVAL
    assert pending["approval"]["required"] is True and pending["approval"]["recipientsAtSubmit"] >= 2
    drain(pump)
    assert delivered(sandbox)[residents[0].user_id] == 0  # nothing goes out before approval

    path = f"{BASE}/{announcement_id}/approve"
    assert "supervisor" in assert_error(api("POST", path, {}), 403, "forbidden")["message"]
    other_section = headers((ROLE_SUPERVISOR,), OTHER_BOSS, section="seiso")
    assert_error(api("POST", path, {}, as_=other_section), 403, "forbidden")
    approved = body_of(api("POST", path, {}, as_=headers((ROLE_SUPERVISOR,), BOSS)))
    assert approved["status"] == rules.SCHEDULED
    assert approved["approval"]["approvedBy"] == BOSS
    assert_error(api("POST", path, {}, as_=headers((ROLE_SUPERVISOR,), OTHER_BOSS)), 409, "invalid_status")
    drain(pump)
    assert all(delivered(sandbox)[r.user_id] == 1 for r in residents)


def test_nobody_approves_their_own_announcement_even_a_supervisor(api, policy):
    boss = headers((ROLE_SUPERVISOR,), BOSS)
    announcement_id = create(api, announcement(target={}), as_=boss)  # every follower: approval always
    assert (
        body_of(api("POST", f"{BASE}/{announcement_id}/submit", {}, as_=boss))["status"]
        == rules.PENDING_APPROVAL
    )
    error = assert_error(api("POST", f"{BASE}/{announcement_id}/approve", {}, as_=boss), 403, "forbidden")
    assert "own" in error["message"]
    # Submitted by someone else (a second supervisor) still does not let the author approve.
    assert (
        body_of(
            api(
                "POST",
                f"{BASE}/{announcement_id}/reject",
                {"reason": "date?"},
                as_=headers((ROLE_SUPERVISOR,), OTHER_BOSS),
            )
        )["status"]
        == rules.DRAFT
    )
    assert (
        api(
            "POST", f"{BASE}/{announcement_id}/submit", {}, as_=headers((ROLE_SUPERVISOR,), OTHER_BOSS)
        ).status_code
        == 200
    )
    assert_error(api("POST", f"{BASE}/{announcement_id}/approve", {}, as_=boss), 403, "forbidden")
    assert_error(
        api("POST", f"{BASE}/{announcement_id}/approve", {}, as_=headers((ROLE_SUPERVISOR,), OTHER_BOSS)),
        403,
        "forbidden",
    )
    third = headers((ROLE_SUPERVISOR,), "supervisor-3")
    assert (
        body_of(api("POST", f"{BASE}/{announcement_id}/approve", {}, as_=third))["status"] == rules.SCHEDULED
    )


def test_a_supervisor_who_edited_an_announcement_may_not_approve_it(api, policy):
    policy(quiet_off(approval_threshold=0))
    make_resident()
    announcement_id = create(api)
    boss = headers((ROLE_SUPERVISOR,), BOSS)
    edited = body_of(
        api("PUT", f"{BASE}/{announcement_id}", announcement(texts={"ja": "上司の修正"}), as_=boss)
    )
    assert edited["editedBy"] == sorted(["announcer-1", BOSS])
    assert body_of(api("POST", f"{BASE}/{announcement_id}/submit", {}))["status"] == rules.PENDING_APPROVAL
    assert (
        "own"
        in assert_error(api("POST", f"{BASE}/{announcement_id}/approve", {}, as_=boss), 403, "forbidden")[
            "message"
        ]
    )
    other = headers((ROLE_SUPERVISOR,), OTHER_BOSS)
    assert (
        body_of(api("POST", f"{BASE}/{announcement_id}/approve", {}, as_=other))["status"] == rules.SCHEDULED
    )


def test_a_rejection_needs_a_reason_and_returns_the_draft_for_editing(api, policy):
    policy(rules.Policy(quiet_start=None, quiet_end=None, approval_threshold=0))
    make_resident()
    announcement_id = create(api)
    api("POST", f"{BASE}/{announcement_id}/submit", {})
    boss = headers((ROLE_SUPERVISOR,), BOSS)
    assert_error(api("POST", f"{BASE}/{announcement_id}/reject", {}, as_=boss), 422, "invalid_request")
    rejected = body_of(
        api("POST", f"{BASE}/{announcement_id}/reject", {"reason": "Add the English text."}, as_=boss)
    )
    assert rejected["status"] == rules.DRAFT
    assert rejected["approval"]["rejectionReason"] == "Add the English text."
    edited = api("PUT", f"{BASE}/{announcement_id}", announcement(texts={"ja": "改", "en": "Revised"}))
    assert edited.status_code == 200 and body_of(edited)["content"]["texts"]["en"] == "Revised"
    resubmitted = body_of(api("POST", f"{BASE}/{announcement_id}/submit", {}))
    assert resubmitted["status"] == rules.PENDING_APPROVAL
    assert resubmitted["approval"]["rejectionReason"] is None


def test_what_each_status_refuses_is_a_409(api, policy, pump):
    announcement_id = create(api)
    path = f"{BASE}/{announcement_id}"
    assert_error(
        api("POST", f"{path}/approve", {}, as_=headers((ROLE_SUPERVISOR,), BOSS)), 409, "invalid_status"
    )
    api("POST", f"{path}/submit", {})
    assert_error(api("POST", f"{path}/submit", {}), 409, "invalid_status")
    assert_error(api("PUT", path, announcement()), 409, "invalid_status")
    drain(pump)
    assert_error(api("POST", f"{path}/cancel", {}), 409, "invalid_status")  # sent: too late


def test_a_stale_revision_is_a_conflict(api, policy):
    announcement_id = create(api)
    api("PUT", f"{BASE}/{announcement_id}", announcement(texts={"ja": "二度目"}))
    error = assert_error(api("POST", f"{BASE}/{announcement_id}/submit", {"revision": 1}), 409, "conflict")
    assert error["details"] == [{"revision": 2}]


def test_a_bad_send_time_is_422(api, policy):
    announcement_id = create(api)
    for value in ("yesterday", "2020-01-01T00:00:00Z", "2026-12-01T09:00:00"):
        error = assert_error(
            api("POST", f"{BASE}/{announcement_id}/submit", {"sendAt": value}), 422, "invalid_request"
        )
        assert error["details"][0]["pointer"] == "/sendAt"
    assert body_of(api("GET", f"{BASE}/{announcement_id}"))["status"] == rules.DRAFT


# --- scheduling ------------------------------------------------------------------------------


def test_a_scheduled_send_gets_a_one_time_schedule_and_the_minute_job_starts_it(
    api, policy, pump, sandbox, monkeypatch
):
    resident = make_resident()
    announcement_id = create(api)
    at = (datetime.now(UTC) + timedelta(hours=2)).replace(microsecond=0)
    scheduled = body_of(api("POST", f"{BASE}/{announcement_id}/submit", {"sendAt": at.isoformat()}))
    assert scheduled["status"] == rules.SCHEDULED and scheduled["startAt"] == tokyo_iso(at)  # +09:00
    schedule = scheduler.describe(fanout.schedule_name(announcement_id))
    assert schedule["ScheduleExpression"] == f"at({at:%Y-%m-%dT%H:%M:%S})"
    assert schedule["Target"]["Arn"].endswith(":" + get_settings().name("announce-plan"))
    assert json.loads(schedule["Target"]["Input"]) == {"announcementId": announcement_id, "trigger": "start"}
    assert schedule["ActionAfterCompletion"] == "DELETE"
    # A delivery Scheduler gives up on lands in the queue's own (alarmed) DLQ, after a day of retries.
    assert schedule["Target"]["DeadLetterConfig"]["Arn"].endswith(
        ":" + get_settings().name("announce-plan-dlq")
    )
    assert schedule["Target"]["RetryPolicy"]["MaximumEventAgeInSeconds"] == 24 * 3600

    assert fanout.run_due(datetime.now(UTC))["started"] == 0  # not yet
    drain(pump)
    assert delivered(sandbox)[resident.user_id] == 0

    later = at + timedelta(seconds=30)
    monkeypatch.setattr(fanout, "_now", lambda: later)
    from chalicelib.workers import announcements as worker

    report = worker.run_due(
        later.isoformat().replace("+00:00", "Z")
    )  # the schedule event's time (make fire AT=)
    assert report["started"] >= 1
    drain(pump)
    assert body_of(api("GET", f"{BASE}/{announcement_id}"))["status"] == rules.SENT
    assert delivered(sandbox)[resident.user_id] == 1
    assert fanout.run_due(later + timedelta(minutes=5))["started"] == 0  # done: nothing due any more


def test_a_send_that_grew_past_the_threshold_before_its_time_waits_for_approval(
    api, policy, pump, sandbox, monkeypatch
):
    """A black-box run: approval was decided at submit alone, and a send scheduled weeks ahead
    started at whatever size it had grown to by then."""
    make_resident()
    announcement_id = create(api)
    size = body_of(api("POST", f"{BASE}/{announcement_id}/preview"))["recipients"]
    policy(quiet_off(approval_threshold=size))  # exactly its size: no approval at submit
    at = (datetime.now(UTC) + timedelta(hours=2)).replace(microsecond=0)
    scheduled = body_of(api("POST", f"{BASE}/{announcement_id}/submit", {"sendAt": at.isoformat()}))
    assert scheduled["status"] == rules.SCHEDULED and scheduled["approval"]["required"] is False
    newcomer = make_resident()  # follows and chooses the topic before the send's time

    later = at + timedelta(seconds=30)
    monkeypatch.setattr(fanout, "_now", lambda: later)
    assert fanout.run_due(later)["started"] == 1  # its start is queued, and the planner holds it
    drain(pump)
    held = body_of(api("GET", f"{BASE}/{announcement_id}"))
    assert held["status"] == rules.PENDING_APPROVAL and held["approval"]["required"] is True
    assert delivered(sandbox)[newcomer.user_id] == 0  # nothing went out
    assert fanout.run_due(later + timedelta(minutes=5))["started"] == 0  # off the due index

    boss = headers((ROLE_SUPERVISOR,), BOSS)
    approved = body_of(api("POST", f"{BASE}/{announcement_id}/approve", {}, as_=boss))
    assert approved["status"] == rules.SCHEDULED  # and at its time it starts, approved
    assert fanout.plan(announcement_id, now=later + timedelta(minutes=6)) == "planned"
    drain(pump)
    assert delivered(sandbox)[newcomer.user_id] == 1


def test_a_send_due_in_seconds_waits_for_its_time(api, policy, pump, sandbox):
    resident = make_resident()
    announcement_id = create(api)
    at = (datetime.now(UTC) + timedelta(seconds=40)).replace(microsecond=0)
    scheduled = body_of(api("POST", f"{BASE}/{announcement_id}/submit", {"sendAt": at.isoformat()}))
    # Not started early: who joins or changes language before the chosen time is counted.
    assert scheduled["status"] == rules.SCHEDULED
    assert scheduler.describe(fanout.schedule_name(announcement_id)) is not None
    drain(pump)
    assert body_of(api("GET", f"{BASE}/{announcement_id}"))["status"] == rules.SCHEDULED
    assert delivered(sandbox)[resident.user_id] == 0
    api("POST", f"{BASE}/{announcement_id}/cancel", {})  # its schedule goes: other tests fire theirs
    assert scheduler.describe(fanout.schedule_name(announcement_id)) is None


def test_the_local_stack_fires_the_one_time_schedule_at_its_time(api, policy, pump, sandbox, monkeypatch):
    resident = make_resident()
    announcement_id = create(api)
    at = (datetime.now(UTC) + timedelta(minutes=30)).replace(microsecond=0)
    api("POST", f"{BASE}/{announcement_id}/submit", {"sendAt": at.isoformat()})
    assert pump.fire_due_schedules(at - timedelta(seconds=1)) == 0
    assert scheduler.describe(fanout.schedule_name(announcement_id)) is not None

    monkeypatch.setattr(fanout, "_now", lambda: at + timedelta(seconds=1))
    assert pump.fire_due_schedules(at) >= 1
    assert scheduler.describe(fanout.schedule_name(announcement_id)) is None  # it deletes itself
    drain(pump)
    assert body_of(api("GET", f"{BASE}/{announcement_id}"))["status"] == rules.SENT
    assert delivered(sandbox)[resident.user_id] == 1


def test_cancelling_a_scheduled_send_removes_its_schedule_and_nothing_goes_out(
    api, policy, pump, sandbox, monkeypatch
):
    resident = make_resident()
    announcement_id = create(api)
    at = datetime.now(UTC) + timedelta(hours=1)
    api("POST", f"{BASE}/{announcement_id}/submit", {"sendAt": at.isoformat()})
    cancelled = body_of(api("POST", f"{BASE}/{announcement_id}/cancel", {}))
    assert cancelled["status"] == rules.CANCELLED and cancelled["cancelledBy"] == "announcer-1"
    assert scheduler.describe(fanout.schedule_name(announcement_id)) is None
    again = api("POST", f"{BASE}/{announcement_id}/cancel", {})  # a retry: it is cancelled, as a booking
    assert again.status_code == 200 and body_of(again) == cancelled
    # Even a start message that was already on its way finds it cancelled.
    monkeypatch.setattr(fanout, "_now", lambda: at + timedelta(seconds=5))
    assert fanout.enqueue_plan(announcement_id)
    fanout.run_due(at + timedelta(seconds=5))
    drain(pump)
    assert delivered(sandbox)[resident.user_id] == 0
    assert body_of(api("GET", f"{BASE}/{announcement_id}"))["status"] == rules.CANCELLED


def test_a_send_asked_for_in_quiet_hours_waits_for_their_end_but_an_emergency_does_not(
    api, policy, pump, sandbox, monkeypatch
):
    quiet = policy(quiet_now())
    resident = make_resident(["waste"], "aoto")
    general = create(api)
    submitted = body_of(api("POST", f"{BASE}/{general}/submit", {}))
    end = rules.quiet_hours_end(datetime.now(UTC), quiet)
    assert submitted["status"] == rules.SCHEDULED
    assert submitted["deferredUntil"] == submitted["startAt"] == tokyo_iso(end)
    assert scheduler.describe(fanout.schedule_name(general)) is not None

    boss = headers((ROLE_SUPERVISOR,), BOSS)
    emergency = create(
        api,
        announcement(category="emergency", topic=None, texts={"ja": "避難指示"}, target={"areas": ["aoto"]}),
        as_=boss,
    )
    assert body_of(api("POST", f"{BASE}/{emergency}/submit", {}, as_=boss))["deferredUntil"] is None
    drain(pump)
    assert body_of(api("GET", f"{BASE}/{emergency}"))["status"] == rules.SENT
    assert body_of(api("GET", f"{BASE}/{general}"))["status"] == rules.SCHEDULED
    assert delivered(sandbox)[resident.user_id] == 1  # the emergency only

    # The quiet hours end: the minute job starts the deferred send.
    monkeypatch.setattr(fanout, "_now", lambda: end + timedelta(seconds=1))
    policy(quiet_now(quiet_start=quiet.quiet_start, quiet_end=quiet.quiet_end))
    fanout.run_due(end + timedelta(seconds=1))
    drain(pump)
    assert body_of(api("GET", f"{BASE}/{general}"))["status"] == rules.SENT
    assert delivered(sandbox)[resident.user_id] == 2


def test_a_start_that_lands_in_quiet_hours_is_deferred_by_the_planner(api, policy, pump, sandbox):
    resident = make_resident()
    announcement_id = create(api)
    api("POST", f"{BASE}/{announcement_id}/submit", {})  # scheduled for now, outside quiet hours
    quiet = policy(quiet_now())  # ...but by the time the planner runs, it is quiet
    drain(pump)
    shown = body_of(api("GET", f"{BASE}/{announcement_id}"))
    assert shown["status"] == rules.SCHEDULED
    assert shown["deferredUntil"] == tokyo_iso(rules.quiet_hours_end(datetime.now(UTC), quiet))
    assert delivered(sandbox)[resident.user_id] == 0


# --- emergencies -----------------------------------------------------------------------------

EMERGENCY = announcement(
    category="emergency", topic=None, texts={"ja": "避難指示"}, target={"areas": ["okudo"]}
)


def trail(announcement_id: str) -> list[tuple[str, str | None]]:
    from chalicelib.store import announcements as store

    return [(entry.action, entry.actor_id) for entry in store.audit_trail(announcement_id)]


def test_an_announcers_emergency_waits_for_a_supervisor_whatever_its_size(api, policy, pump, sandbox):
    policy(quiet_now())  # at night: an approved emergency still goes at once
    resident = make_resident(["waste"], "okudo")
    announcement_id = create(api, EMERGENCY)
    submitted = body_of(api("POST", f"{BASE}/{announcement_id}/submit", {}))
    assert submitted["status"] == rules.PENDING_APPROVAL and submitted["approval"]["required"] is True
    drain(pump)
    assert delivered(sandbox)[resident.user_id] == 0
    approved = api("POST", f"{BASE}/{announcement_id}/approve", {}, as_=headers((ROLE_SUPERVISOR,), BOSS))
    assert approved.status_code == 200, approved.body
    drain(pump)
    shown = body_of(api("GET", f"{BASE}/{announcement_id}"))
    assert shown["status"] == rules.SENT and shown["review"]["required"] is False
    assert delivered(sandbox)[resident.user_id] == 1
    assert trail(announcement_id) == [
        ("submitted", "announcer-1"),
        ("approved", BOSS),
        ("send started", None),
        ("send finished", None),
    ]


def test_a_supervisors_emergency_goes_at_once_and_a_second_supervisor_reviews_it(api, policy, pump, sandbox):
    from chalicelib.store import announcements as store

    policy(quiet_now())
    resident = make_resident(["waste"], "okudo")
    boss, other = headers((ROLE_SUPERVISOR,), BOSS), headers((ROLE_SUPERVISOR,), OTHER_BOSS)
    announcement_id = create(api, EMERGENCY, as_=boss)
    submitted = body_of(api("POST", f"{BASE}/{announcement_id}/submit", {}, as_=boss))
    assert submitted["status"] == rules.SCHEDULED and submitted["approval"]["required"] is False
    assert submitted["review"]["required"] is True and submitted["reviewPending"] is True
    drain(pump)
    assert delivered(sandbox)[resident.user_id] == 1
    listed = body_of(api("GET", f"{BASE}?limit=100", as_=boss))["announcements"]
    assert next(item for item in listed if item["id"] == announcement_id)["reviewPending"] is True
    assert announcement_id in store.pending_review_ids(submitted["section"])

    assert_error(api("POST", f"{BASE}/{announcement_id}/review", {}, as_=boss), 403, "forbidden")
    assert_error(api("POST", f"{BASE}/{announcement_id}/review", {}), 403, "forbidden")  # an announcer
    reviewed = api("POST", f"{BASE}/{announcement_id}/review", {"reason": "適切でした"}, as_=other)
    assert reviewed.status_code == 200, reviewed.body
    assert body_of(reviewed)["review"] == {
        "required": True, "reviewedBy": OTHER_BOSS, "reviewedAt": body_of(reviewed)["review"]["reviewedAt"],
        "note": "適切でした",
    }  # fmt: skip
    assert_error(api("POST", f"{BASE}/{announcement_id}/review", {}, as_=other), 409, "no_review_pending")
    listed = body_of(api("GET", f"{BASE}?limit=100", as_=boss))["announcements"]
    assert next(item for item in listed if item["id"] == announcement_id)["reviewPending"] is False
    assert announcement_id not in store.pending_review_ids(submitted["section"])
    assert trail(announcement_id) == [
        ("submitted without approval", BOSS),
        ("send started", None),
        ("send finished", None),
        ("reviewed", OTHER_BOSS),
    ]


def test_an_emergency_an_announcer_edited_needs_approval_even_from_a_supervisor(api, policy):
    boss = headers((ROLE_SUPERVISOR,), BOSS)
    announcement_id = create(api, EMERGENCY, as_=boss)
    assert api("PUT", f"{BASE}/{announcement_id}", EMERGENCY).status_code == 200  # an announcer edits
    submitted = body_of(api("POST", f"{BASE}/{announcement_id}/submit", {}, as_=boss))
    assert submitted["status"] == rules.PENDING_APPROVAL
