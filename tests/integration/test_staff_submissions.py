"""The staff workflow API end to end: chalice.test.Client on app.py against the local stack.

Staff tokens are minted with the local stack's dev issuer key (devstack.dev_issuer) for the
configured issuer and audience, exactly as a signed-in staff member's Cognito ID token.
Each test lists only what it created: by a time window that starts when the test starts,
or by submissions stored with creation times in the past (for the date and overdue filters).
"""

from __future__ import annotations

import base64
import copy
import json
import re
import threading
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, quote, urlencode, urlsplit

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib.domain import submissions as rules
from chalicelib.domain.forms import get_form
from chalicelib.domain.staff import ROLE_ADMIN, ROLE_ANNOUNCER, ROLE_STAFF, ROLE_SUPERVISOR
from chalicelib.schemas import load
from chalicelib.store import submissions as store
from devstack.dev_issuer import mint_token
from tests.integration.conftest import backdated

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "images"
MB = 1024 * 1024

ROAD = "doro-hoshu"  # road-park-damage, streetlight-outage
SANITATION = "seiso"  # bulky-waste-collection, illegal-dumping
CHILDCARE = "kosodate"  # childcare-consultation

LIST_ITEM_KEYS = {
    "receipt",
    "formId",
    "formTitle",
    "kind",
    "status",
    "channel",
    "createdAt",
    "updatedAt",
    "dueDate",
    "overdue",
    "area",
    "respondedAt",
    "responded",
    "urgent",
    "residentNotified",
    "version",
    "href",
}


# --- helpers ------------------------------------------------------------------------------------


def auth(section: str, *, roles=(ROLE_STAFF,), staff_id: str | None = None) -> dict[str, str]:
    token = mint_token(staff_id=staff_id or f"staff-{section}-1", section=section, roles=list(roles))
    return {"Authorization": f"Bearer {token}"}


def body_of(response) -> dict:
    return json.loads(response.body)


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.body
    body = body_of(response)
    assert set(body) == {"error"}
    assert body["error"]["code"] == code, body
    assert isinstance(body["error"]["details"], list)
    return body["error"]


def example(form_id: str) -> dict:
    """The form's example without photos (photo uploads have their own test)."""
    document = copy.deepcopy(get_form(form_id).example)
    document.pop("photos", None)
    return document


def submit(client, form_id: str, document: dict | None = None) -> dict:
    response = client.http.post(
        f"/forms/{form_id}/submissions",
        body=json.dumps(example(form_id) if document is None else document),
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 201, response.body
    return body_of(response)


def staff_list(client, section: str, **params) -> dict:
    response = client.http.get(list_path(**params), headers=auth(section))
    assert response.status_code == 200, response.body
    return body_of(response)


def list_path(**params) -> str:
    query = "&".join(f"{name.rstrip('_')}={quote(str(value), safe=',')}" for name, value in params.items())
    return "/staff/submissions" + (f"?{query}" if query else "")


def receipts(page: dict) -> list[str]:
    return [item["receipt"] for item in page["items"]]


def move(client, section: str, receipt: str, **body):
    return client.http.post(
        f"/staff/submissions/{receipt}/transitions",
        body=json.dumps(body),
        headers={**auth(section), "Content-Type": "application/json"},
    )


def enter(client, section: str, body: dict, *, key: str | None = None, staff_id: str | None = None):
    headers = {**auth(section, staff_id=staff_id), "Content-Type": "application/json"}
    if key:
        headers["Idempotency-Key"] = key
    return client.http.post("/staff/submissions", body=json.dumps(body), headers=headers)


def since_now() -> str:
    """A `from` bound a little before now, so the list shows only what the test creates next."""
    return (datetime.now(UTC) - timedelta(milliseconds=1)).isoformat()


def tokyo(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=rules.TOKYO)


def transitions_of(receipt: str) -> list:
    return [entry for entry in store.trail(receipt) if entry.action == "transition"]


def views_of(receipt: str) -> list:
    return [entry for entry in store.trail(receipt) if entry.action == "viewed_personal_data"]


# --- authentication and roles -------------------------------------------------------------------

ROUTES = [
    ("GET", "/staff/submissions"),
    ("GET", "/staff/submissions/KTS-2611-7Q4M"),
    ("POST", "/staff/submissions/KTS-2611-7Q4M/transitions"),
    ("POST", "/staff/submissions/KTS-2611-7Q4M/notes"),
    ("POST", "/staff/submissions"),
]


def call(client, method: str, path: str, headers: dict):
    if method == "GET":
        return client.http.get(path, headers=headers)
    body = json.dumps({"to": "in_review"} if path.endswith("transitions") else {})
    return client.http.post(path, body=body, headers={**headers, "Content-Type": "application/json"})


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_no_token_is_401(client, method, path):
    response = call(client, method, path, {})
    assert_error(response, 401, "unauthorized")
    assert response.headers.get("WWW-Authenticate") == "Bearer"


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_a_staff_member_without_a_workflow_role_is_403(client, method, path):
    for roles in ([ROLE_ANNOUNCER], []):
        assert_error(call(client, method, path, auth(ROAD, roles=roles)), 403, "forbidden")


@pytest.mark.parametrize(("method", "path"), [route for route in ROUTES if route[0] == "POST"])
def test_an_admin_reads_but_moves_and_enters_nothing(client, method, path):
    assert_error(call(client, method, path, auth(ROAD, roles=[ROLE_ADMIN])), 403, "forbidden")


@pytest.mark.parametrize("role", [ROLE_STAFF, ROLE_SUPERVISOR, ROLE_ADMIN])
def test_staff_supervisors_and_admins_may_list(client, role):
    response = client.http.get("/staff/submissions?limit=1", headers=auth(ROAD, roles=[role]))
    assert response.status_code == 200, response.body
    assert response.headers["Cache-Control"] == "no-store"


# --- the list -----------------------------------------------------------------------------------


def test_the_list_shows_the_callers_section_newest_first_and_no_personal_data(client):
    start = since_now()
    light = submit(client, "streetlight-outage")["receipt"]
    road = submit(client, "road-park-damage")["receipt"]
    bulky = submit(client, "bulky-waste-collection")["receipt"]

    response = client.http.get(list_path(from_=start), headers=auth(ROAD))
    assert response.status_code == 200, response.body
    assert response.headers["Cache-Control"] == "no-store"
    page = body_of(response)
    assert receipts(page) == [road, light]
    assert page["nextCursor"] is None
    item = page["items"][1]
    assert set(item) == LIST_ITEM_KEYS
    assert item["formId"] == "streetlight-outage"
    assert item["formTitle"] == get_form("streetlight-outage").title["ja"]
    assert (item["kind"], item["status"], item["channel"], item["area"]) == (
        "report",
        "received",
        "web",
        "kanamachi",
    )
    assert item["createdAt"].endswith("+09:00") and item["updatedAt"].endswith("+09:00")
    assert item["overdue"] is False
    created = datetime.fromisoformat(item["createdAt"])
    assert item["dueDate"] == rules.due_date(created, get_form("streetlight-outage").target_days).isoformat()
    assert item["href"] == f"/staff/submissions/{light}"
    # Nothing the resident typed: not the phone number, the free text or the pole's place.
    raw = response.body.decode()
    for value in ("080-1234-5678", "夜になっても", "金町駅北口", "reporter@example.jp", "区役所前"):
        assert value not in raw

    assert receipts(staff_list(client, SANITATION, from_=start)) == [bulky]
    assert receipts(staff_list(client, CHILDCARE, from_=start)) == []


def test_pages_follow_one_another_without_gaps_or_repeats(client):
    start = since_now()
    created = [submit(client, "streetlight-outage")["receipt"] for _ in range(7)]

    seen, cursor, pages = [], None, 0
    while True:
        params = {"from_": start, "limit": 3} | ({"cursor": cursor} if cursor else {})
        page = staff_list(client, ROAD, **params)
        pages += 1
        assert len(page["items"]) <= 3
        seen += receipts(page)
        cursor = page["nextCursor"]
        if cursor is None:
            break
    assert pages == 3
    assert seen == list(reversed(created))  # newest first, each once


def test_filtered_pages_resume_inside_a_batch(client):
    """Every other submission matches: pages end part-way through what the store read at once."""
    start = since_now()
    created = [submit(client, "streetlight-outage")["receipt"] for _ in range(6)]
    for receipt in created[::2]:
        assert move(client, ROAD, receipt, to="in_review").status_code == 200

    seen, cursor = [], None
    while True:
        params = {"from_": start, "status": "in_review", "limit": 1} | ({"cursor": cursor} if cursor else {})
        page = staff_list(client, ROAD, **params)
        seen += receipts(page)
        cursor = page["nextCursor"]
        if cursor is None:
            break
    assert seen == list(reversed(created[::2]))
    both = staff_list(client, ROAD, from_=start, status="received,in_review", limit=100)
    assert receipts(both) == list(reversed(created))


def test_filters_by_form_status_and_channel(client):
    start = since_now()
    light = submit(client, "streetlight-outage")["receipt"]
    road = submit(client, "road-park-damage")["receipt"]
    phoned = enter(
        client, ROAD, {"formId": "road-park-damage", "channel": "phone", "data": example("road-park-damage")}
    )
    assert phoned.status_code == 201, phoned.body
    phoned = body_of(phoned)["receipt"]
    assert move(client, ROAD, road, to="in_review").status_code == 200

    assert receipts(staff_list(client, ROAD, from_=start, form="streetlight-outage")) == [light]
    assert receipts(staff_list(client, ROAD, from_=start, form="road-park-damage")) == [phoned, road]
    assert receipts(staff_list(client, ROAD, from_=start, status="in_review")) == [road]
    assert receipts(staff_list(client, ROAD, from_=start, status="received")) == [phoned, light]
    assert receipts(staff_list(client, ROAD, from_=start, channel="phone")) == [phoned]
    assert receipts(staff_list(client, ROAD, from_=start, channel="web,phone")) == [phoned, road, light]
    assert receipts(staff_list(client, ROAD, from_=start, channel="web", status="received")) == [light]
    # A report the resident marked dangerous (the form's urgentWhen question) is found at once.
    safe = submit(client, "road-park-damage", {**example("road-park-damage"), "dangerous": False})["receipt"]
    assert receipts(staff_list(client, ROAD, from_=start, urgent="true")) == [phoned, road]
    assert receipts(staff_list(client, ROAD, from_=start, urgent="false")) == [safe, light]
    assert {item["receipt"]: item["urgent"] for item in staff_list(client, ROAD, from_=start)["items"]} == {
        safe: False,
        phoned: True,
        road: True,
        light: False,
    }
    # A value that is not one names the ones there are.
    unknown = client.http.get(list_path(status="open"), headers=auth(ROAD))
    [detail] = assert_error(unknown, 400, "invalid_query")["details"]
    assert all(status in detail["message"] for status in rules.STATUSES), detail
    # What it repeats of the query cannot turn the message around (a right-to-left override).
    reversed_ = client.http.get(list_path(status="\u202eopen"), headers=auth(ROAD))
    [detail] = assert_error(reversed_, 400, "invalid_query")["details"]
    assert "\u202e" not in detail["message"] and "\ufffdopen" in detail["message"]


def test_date_range_filters_in_tokyo_time(client):
    form = "road-park-damage"
    before = backdated(form, tokyo("2025-02-03T23:59:59.500"))
    midnight = backdated(form, tokyo("2025-02-04T00:00:00"))
    noon = backdated(form, tokyo("2025-02-04T12:00:00"))
    next_day = backdated(form, tokyo("2025-02-05T00:00:00"))

    def listed(**params) -> list[str]:
        return receipts(staff_list(client, ROAD, form=form, **params))

    # A date is the whole day in Tokyo, at both ends.
    assert listed(from_="2025-02-04", to="2025-02-04") == [noon.receipt, midnight.receipt]
    assert listed(from_="2025-02-03", to="2025-02-05") == [
        next_day.receipt,
        noon.receipt,
        midnight.receipt,
        before.receipt,
    ]
    # A datetime without an offset is Tokyo time; `to` includes its instant.
    assert listed(from_="2025-02-04T12:00:00", to="2025-02-05T00:00:00") == [next_day.receipt, noon.receipt]
    # The same instants with offsets, UTC and Tokyo.
    assert listed(from_="2025-02-04T03:00:00Z", to="2025-02-04T12:00:00+09:00") == [noon.receipt]
    assert listed(from_="2025-02-03T14:59:59Z", to="2025-02-03T15:00:00+00:00") == [
        midnight.receipt,
        before.receipt,
    ]
    # A "+" the client forgot to escape arrives as a space and still means the offset.
    response = client.http.get(
        f"/staff/submissions?form={form}&from=2025-02-04T12:00:00+09:00&to=2025-02-04T12:00:00+09:00",
        headers=auth(ROAD),
    )
    assert receipts(body_of(response)) == [noon.receipt]


def test_overdue_filter_uses_the_forms_target_in_business_days(client):
    form = "road-park-damage"  # 14 business days
    # Monday 2025-03-03; 14 business days later, skipping 春分の日 (3/20), is Monday 3/24.
    late = backdated(form, tokyo("2025-03-03T10:00:00"))
    waiting_for_resident = backdated(form, tokyo("2025-03-03T11:00:00"), status=rules.NEEDS_INFO)
    done = backdated(form, tokyo("2025-03-03T12:00:00"), status=rules.COMPLETED)
    window = {"form": form, "from_": "2025-03-03", "to": "2025-03-03"}

    overdue = staff_list(client, ROAD, overdue="true", **window)
    assert receipts(overdue) == [late.receipt]
    assert overdue["items"][0]["overdue"] is True
    assert overdue["items"][0]["dueDate"] == "2025-03-24"
    not_overdue = staff_list(client, ROAD, overdue="false", **window)
    assert receipts(not_overdue) == [done.receipt, waiting_for_resident.receipt]
    assert [item["overdue"] for item in not_overdue["items"]] == [False, False]
    assert len(receipts(staff_list(client, ROAD, **window))) == 3


@pytest.mark.parametrize(
    ("query", "parameters"),
    [
        ("limit=0", {"limit"}),
        ("limit=101", {"limit"}),
        ("limit=ten", {"limit"}),
        ("limit=", {"limit"}),
        ("status=done", {"status"}),
        ("status=received,,in_review", {"status"}),
        ("form=no-such-form", {"form"}),
        ("channel=fax", {"channel"}),
        ("overdue=maybe", {"overdue"}),
        ("from=2025-13-01", {"from"}),
        ("to=yesterday", {"to"}),
        ("from=0001-01-01", {"from"}),
        ("to=9999-12-31T23:59:59.999999", {"to"}),
        ("from=2025-02-04T25:00", {"from"}),
        ("from=2025-02-05&to=2025-02-04", {"to"}),
        ("stauts=received", {"stauts"}),
        ("limit=5&limit=6", {"limit"}),
        ("limit=0&status=done&overdue=yes", {"limit", "status", "overdue"}),
    ],
)
def test_bad_query_parameters_are_400_naming_each_one(client, query, parameters):
    error = assert_error(
        client.http.get(f"/staff/submissions?{query}", headers=auth(ROAD)), 400, "invalid_query"
    )
    assert {detail["parameter"] for detail in error["details"]} == parameters
    assert all(detail["message"] for detail in error["details"])


def test_a_tampered_or_foreign_cursor_is_400(client):
    start = since_now()
    for _ in range(3):
        submit(client, "streetlight-outage")
        submit(client, "bulky-waste-collection")
    cursor = staff_list(client, ROAD, from_=start, limit=1)["nextCursor"]
    assert cursor
    sanitation_cursor = staff_list(client, SANITATION, from_=start, limit=1)["nextCursor"]
    assert sanitation_cursor

    def padded(text: str) -> bytes:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))

    decoded = json.loads(padded(cursor))

    def encoded(value) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).decode()

    bad = [
        cursor[:-2] + ("AA" if not cursor.endswith("AA") else "BB"),
        "!!not-base64!!",
        encoded(["a", "list"]),
        encoded({**decoded, "k": "2026-01-01T00:00:00.000+00:00#not-a-receipt"}),
        encoded({**decoded, "k": {"S": "x"}}),
        encoded({**decoded, "q": "0" * 16}),
        encoded({**decoded, "extra": 1}),
        "A" * 2000,
    ]
    for tampered in bad:
        response = client.http.get(list_path(from_=start, limit=1, cursor=tampered), headers=auth(ROAD))
        assert_error(response, 400, "invalid_cursor")
    # Another section's cursor, or this cursor with other filters, opens nothing.
    foreign = client.http.get(list_path(from_=start, limit=1, cursor=sanitation_cursor), headers=auth(ROAD))
    assert_error(foreign, 400, "invalid_cursor")
    other_filters = client.http.get(
        list_path(from_=start, limit=1, status="received", cursor=cursor), headers=auth(ROAD)
    )
    assert_error(other_filters, 400, "invalid_cursor")
    # The genuine cursor still works.
    assert staff_list(client, ROAD, from_=start, limit=1, cursor=cursor)["items"]


# --- one submission -----------------------------------------------------------------------------


def upload_photo(client, path: Path) -> str:
    response = client.http.post(
        "/uploads",
        body=json.dumps({"contentType": "image/jpeg"}),
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 201, response.body
    grant = body_of(response)
    with path.open("rb") as image:
        uploaded = requests.post(grant["url"], data=grant["fields"], files={"file": image}, timeout=10)
    assert uploaded.status_code in (200, 204), uploaded.text
    return grant["uploadId"]


def test_the_detail_shows_answers_photos_notes_and_the_trail_and_audits_every_view(client):
    from chalicelib.domain import images

    document = dict(example("road-park-damage"), photos=[upload_photo(client, FIXTURES / "gps.jpg")])
    created = submit(client, "road-park-damage", document)
    receipt = created["receipt"]
    assert (
        move(
            client, ROAD, receipt, to="in_review", note="現地確認の手配済み", visibility="internal"
        ).status_code
        == 200
    )
    assert (
        move(
            client,
            ROAD,
            receipt,
            to="needs_info",
            note="穴の位置をもう少し詳しく教えてください。",
            visibility="public",
        ).status_code
        == 200
    )
    assert views_of(receipt) == []

    viewer = auth(ROAD, staff_id="staff-road-viewer")
    response = client.http.get(f"/staff/submissions/{receipt.lower()}", headers=viewer)
    assert response.status_code == 200, response.body
    assert response.headers["Cache-Control"] == "no-store"
    # Japanese as UTF-8 text, as staff tools and curl read it (not \\u escapes).
    assert "穴の位置".encode() in response.body and b"\\u" not in response.body
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    detail = body_of(response)
    assert detail["receipt"] == receipt
    assert detail["data"]["description"] == document["description"]
    assert detail["data"]["email"] == "reporter@example.jp"
    assert detail["status"] == "needs_info" and detail["version"] == 3
    assert detail["section"] == ROAD and detail["channel"] == "web" and detail["enteredBy"] is None
    assert detail["location"] == {"latitude": 35.74344, "longitude": 139.84717}
    assert set(detail["personalFields"]) == set(get_form("road-park-damage").personal_fields)
    assert detail["allowedTransitions"] == ["in_review", "withdrawn"]
    assert [note["note"] for note in detail["publicNotes"]] == ["穴の位置をもう少し詳しく教えてください。"]

    # The trail, internal note included, ends with this very view.
    trail = detail["audit"]
    assert [entry["action"] for entry in trail] == [
        "created",
        "transition",
        "transition",
        "viewed_personal_data",
    ]
    assert datetime.fromisoformat(trail[1].pop("at")).utcoffset() == timedelta(hours=9)
    assert trail[1] == {
        "action": "transition",
        "actorKind": "staff",
        "who": "staff-doro-hoshu-1",
        "fromStatus": "received",
        "toStatus": "in_review",
        "note": "現地確認の手配済み",
        "noteVisibility": "internal",
    }
    assert trail[3]["who"] == "staff-road-viewer" and trail[3]["actorKind"] == "staff"

    # The photo: a short-lived presigned GET of the copy without location metadata.
    [attachment] = detail["attachments"]
    assert attachment["contentType"] == "image/jpeg"
    query = parse_qs(urlsplit(attachment["url"]).query)
    assert query["X-Amz-Expires"] == ["300"]
    photo = requests.get(attachment["url"], timeout=10)
    assert photo.status_code == 200
    assert images.sniff(photo.content) == "image/jpeg"
    assert not images.has_location_metadata(photo.content)

    # Every view is recorded, with who and when.
    client.http.get(f"/staff/submissions/{receipt}", headers=viewer)
    views = views_of(receipt)
    assert len(views) == 2
    assert {(view.actor_kind, view.actor_id) for view in views} == {("staff", "staff-road-viewer")}


def test_an_unknown_receipt_is_404(client):
    for receipt in ("KTS-2001-0000", "not-a-receipt"):
        assert_error(
            client.http.get(f"/staff/submissions/{receipt}", headers=auth(ROAD)), 404, "submission_not_found"
        )
        assert_error(move(client, ROAD, receipt, to="in_review"), 404, "submission_not_found")


def test_another_sections_submission_is_403_and_nothing_of_it_is_shown_or_changed(client):
    created = submit(client, "bulky-waste-collection")
    receipt = created["receipt"]

    for roles in ([ROLE_STAFF], [ROLE_ADMIN], [ROLE_SUPERVISOR]):
        response = client.http.get(f"/staff/submissions/{receipt}", headers=auth(ROAD, roles=roles))
        assert_error(response, 403, "forbidden")
        raw = response.body.decode()
        for value in ("葛飾 太郎", "090-1234-5678", "taro@example.jp", "高砂", "received", "bulky"):
            assert value not in raw
    assert_error(move(client, ROAD, receipt, to="in_review"), 403, "forbidden")

    stored = store.get(receipt)
    assert (stored.status, stored.version) == ("received", 1)
    assert views_of(receipt) == [] and transitions_of(receipt) == []
    # Its own section can.
    assert client.http.get(f"/staff/submissions/{receipt}", headers=auth(SANITATION)).status_code == 200


# --- transitions --------------------------------------------------------------------------------


def test_transitions_follow_the_lifecycle_with_public_and_internal_notes(client):
    receipt = submit(client, "streetlight-outage")["receipt"]

    response = move(
        client, ROAD, receipt, to="in_review", note="担当: 第2班", visibility="internal", version=1
    )
    assert response.status_code == 200, response.body
    summary = body_of(response)
    assert set(summary) == LIST_ITEM_KEYS
    assert (summary["receipt"], summary["status"], summary["version"]) == (receipt, "in_review", 2)

    # needs_info must tell the resident what to do, in a public note.
    assert_error(move(client, ROAD, receipt, to="needs_info"), 422, "invalid_note")
    assert_error(
        move(client, ROAD, receipt, to="needs_info", note="電柱番号は？", visibility="internal"),
        422,
        "invalid_note",
    )
    assert_error(
        move(client, ROAD, receipt, to="needs_info", note="電柱番号を教えてください。"), 422, "invalid_note"
    )
    response = move(
        client, ROAD, receipt, to="needs_info", note="電柱番号を教えてください。", visibility="public"
    )
    assert response.status_code == 200, response.body

    # Moves the lifecycle does not allow, or not for staff; the answer says which it does allow.
    refused = assert_error(move(client, ROAD, receipt, to="completed"), 409, "invalid_transition")
    assert refused["details"] == [{"from": "needs_info", "allowed": ["in_review", "withdrawn"]}]
    assert_error(
        move(client, ROAD, receipt, to="needs_info", note="再度", visibility="public"),
        409,
        "invalid_transition",
    )
    assert_error(move(client, ROAD, receipt, to="received"), 409, "invalid_transition")
    # Not a status at all, or not a body the schema allows.
    error = assert_error(move(client, ROAD, receipt, to="done"), 422, "invalid_request")
    assert [detail["pointer"] for detail in error["details"]] == ["/to"]
    # In both languages, as every staff error, never the validator's "'done' is not one of [...]".
    assert (
        error["details"][0]["message"]
        == "「to」は選択肢から選んでください。 / Please choose “to” from the options."
    )
    extra = assert_error(move(client, ROAD, receipt, to="in_review", colour="red"), 422, "invalid_request")
    assert [detail["pointer"] for detail in extra["details"]] == ["/colour"]  # at the field nobody asked for
    bad_json = client.http.post(
        f"/staff/submissions/{receipt}/transitions",
        body=b"{",
        headers={**auth(ROAD), "Content-Type": "application/json"},
    )
    assert_error(bad_json, 400, "malformed_json")

    assert move(client, ROAD, receipt, to="in_review").status_code == 200
    response = move(client, ROAD, receipt, to="completed", note="交換しました。", visibility="public")
    assert response.status_code == 200
    assert body_of(response)["status"] == "completed"
    assert_error(move(client, ROAD, receipt, to="in_review"), 409, "invalid_transition")

    # Only the public notes are kept where the resident's view reads them; staff see both kinds.
    stored = store.get(receipt)
    assert [(note["status"], note["note"]) for note in stored.public_notes] == [
        ("needs_info", "電柱番号を教えてください。"),
        ("completed", "交換しました。"),
    ]
    detail = body_of(client.http.get(f"/staff/submissions/{receipt}", headers=auth(ROAD)))
    assert [note["note"] for note in detail["publicNotes"]] == [
        "電柱番号を教えてください。",
        "交換しました。",
    ]
    internal = [entry for entry in detail["audit"] if entry.get("noteVisibility") == "internal"]
    assert [entry["note"] for entry in internal] == ["担当: 第2班"]
    assert detail["allowedTransitions"] == []
    assert [(e.from_status, e.to_status) for e in transitions_of(receipt)] == [
        ("received", "in_review"),
        ("in_review", "needs_info"),
        ("needs_info", "in_review"),
        ("in_review", "completed"),
    ]


def note(client, section: str, receipt: str, *, key: str | None = None, **body):
    headers = {**auth(section), "Content-Type": "application/json"}
    if key:
        headers["Idempotency-Key"] = key
    return client.http.post(f"/staff/submissions/{receipt}/notes", body=json.dumps(body), headers=headers)


def notes_of(receipt: str) -> list:
    return [(entry.note, entry.note_visibility) for entry in store.trail(receipt) if entry.action == "note"]


def test_a_note_without_a_move_keeps_the_status_and_a_public_one_reaches_the_resident(client):
    """A phone call goes in the trail; the closing words after "completed" reach the resident."""
    receipt = submit(client, "streetlight-outage")["receipt"]
    response = note(client, ROAD, receipt, note="12/7 電話: 現地は夜に確認", visibility="internal")
    assert response.status_code == 201, response.body
    assert (body_of(response)["status"], body_of(response)["version"]) == ("received", 1)
    assert store.get(receipt).public_notes == []

    assert move(client, ROAD, receipt, to="in_review").status_code == 200
    assert move(client, ROAD, receipt, to="completed").status_code == 200
    response = note(client, ROAD, receipt, note="12月10日に交換しました。", visibility="public", version=3)
    assert response.status_code == 201, response.body
    assert (body_of(response)["status"], body_of(response)["version"]) == ("completed", 4)
    assert [(n["status"], n["note"]) for n in store.get(receipt).public_notes] == [
        ("completed", "12月10日に交換しました。")
    ]
    assert notes_of(receipt) == [
        ("12/7 電話: 現地は夜に確認", "internal"),
        ("12月10日に交換しました。", "public"),
    ]
    detail = body_of(client.http.get(f"/staff/submissions/{receipt}", headers=auth(ROAD)))
    assert [n["note"] for n in detail["publicNotes"]] == ["12月10日に交換しました。"]

    # Refused: no visibility, a blank or invisible note, a stale version, another section's submission.
    assert_error(note(client, ROAD, receipt, note="x"), 422, "invalid_request")
    assert_error(note(client, ROAD, receipt, note="  \n ", visibility="public"), 422, "invalid_note")
    assert_error(note(client, ROAD, receipt, note="\u200b\u200b", visibility="public"), 422, "invalid_note")
    assert_error(note(client, ROAD, receipt, note="x", visibility="public", version=3), 409, "conflict")
    assert_error(note(client, SANITATION, receipt, note="x", visibility="internal"), 403, "forbidden")
    assert len(notes_of(receipt)) == 2 and store.get(receipt).version == 4


def test_a_note_is_no_move_the_answer_stays_answered_and_the_request_keeps_its_time(client):
    from chalicelib.domain.responses import needs_info_since

    made = submit(client, "streetlight-outage")
    receipt = made["receipt"]
    assert move(client, ROAD, receipt, to="in_review").status_code == 200
    assert (
        move(client, ROAD, receipt, to="needs_info", note="番号は？", visibility="public").status_code == 200
    )
    asked = needs_info_since(store.get(receipt).public_notes)
    answered = client.http.post(
        f"/submissions/{receipt}/responses",
        body=json.dumps({"text": "12-34"}),
        headers={"Content-Type": "application/json", "X-Access-Secret": made["accessSecret"]},
    )
    assert answered.status_code == 201, answered.body
    assert (
        note(
            client, ROAD, receipt, note="ありがとうございます。確認します。", visibility="public"
        ).status_code
        == 201
    )
    assert receipt in receipts(staff_list(client, ROAD, responded="true"))
    assert needs_info_since(store.get(receipt).public_notes) == asked


def test_notes_written_at_the_same_moment_are_all_added(client):
    """Two clerks read the submission, then each adds a note: neither is refused."""
    from chalicelib.services import submissions as service

    receipt = submit(client, "streetlight-outage")["receipt"]
    first_read, second_read = store.get(receipt), store.get(receipt)
    clerk = rules.Actor(rules.STAFF, "staff-doro-hoshu-2", section=ROAD)
    first = service.add_note(first_read, actor=clerk, note="1件目", visibility="public")
    # The second clerk read it before the first note.
    second = service.add_note(second_read, actor=clerk, note="2件目", visibility="public")
    stored = store.get(receipt)
    assert [n["note"] for n in stored.public_notes] == ["1件目", "2件目"] and stored.version == 3
    # Each answers the submission as its note left it, not as a later writer did.
    assert (first.version, [n["note"] for n in first.public_notes]) == (2, ["1件目"])
    assert (second.version, [n["note"] for n in second.public_notes]) == (3, ["1件目", "2件目"])
    # A caller that names the version it read is told the submission moved on.
    assert_error(note(client, ROAD, receipt, note="3件目", visibility="public", version=1), 409, "conflict")


def test_a_pinned_note_that_loses_a_race_names_the_version_now_stored(client, monkeypatch):
    """The clerk's version matched when read, but another clerk moved it before the note was
    written: the answer is the staff conflict (ja / en, with the version now stored)."""
    from chalicelib.services import submissions as service

    receipt = submit(client, "streetlight-outage")["receipt"]
    real_get = store.get
    other_clerk = rules.Actor(rules.STAFF, "staff-doro-hoshu-2", section=ROAD)

    def read_then_another_clerk_moves(wanted: str):
        found = real_get(wanted)
        monkeypatch.setattr(store, "get", real_get)
        service.move(real_get(wanted), "in_review", actor=other_clerk, note=None, visibility=None)
        return found

    monkeypatch.setattr(store, "get", read_then_another_clerk_moves)
    error = assert_error(
        note(client, ROAD, receipt, note="確認中です", visibility="public", version=1), 409, "conflict"
    )
    assert " / " in error["message"] and "reload" in error["message"]
    assert error["details"][0]["pointer"] == "/version" and "version 2" in error["details"][0]["message"]
    assert store.get(receipt).public_notes == [] and notes_of(receipt) == []


def test_a_section_hands_a_submission_over_to_the_one_that_should_handle_it(client):
    """A walkthrough: dumping filed under roads could only be rejected and sent again."""
    receipt = submit(client, "streetlight-outage")["receipt"]

    def hand(caller: str, key: str | None = None, **body):
        headers = {
            **auth(caller),
            "Content-Type": "application/json",
            **({"Idempotency-Key": key} if key else {}),
        }
        return client.http.post(
            f"/staff/submissions/{receipt}/section", body=json.dumps(body), headers=headers
        )

    assert hand(SANITATION, section=SANITATION, note="x").status_code == 403  # not theirs to give
    assert_error(hand(ROAD, section="nowhere", note="x"), 422, "invalid_request")
    assert_error(hand(ROAD, section=SANITATION, note=" "), 422, "invalid_request")
    assert_error(hand(ROAD, section=ROAD, note="x"), 409, "unchanged")
    key = f"hand-{uuid.uuid4()}"
    handed = hand(ROAD, key, section=SANITATION, note="不法投棄の通報でした", version=1)
    assert handed.status_code == 200, handed.body
    # A retried tap gets the first answer, though the submission is no longer the road section's.
    again = hand(ROAD, key, section=SANITATION, note="不法投棄の通報でした", version=1)
    assert again.status_code == 200 and body_of(again) == body_of(handed)
    assert receipt in receipts(staff_list(client, SANITATION, status="received"))
    # Found by its form there too, though the form is the road section's (a review: it was a 400).
    assert receipt in receipts(staff_list(client, SANITATION, form="streetlight-outage"))
    assert receipt not in receipts(staff_list(client, ROAD, status="received"))
    assert client.http.get(f"/staff/submissions/{receipt}", headers=auth(ROAD)).status_code == 403
    shown = body_of(client.http.get(f"/staff/submissions/{receipt}", headers=auth(SANITATION)))
    assert shown["status"] == "received"  # no move: the resident's status stays
    [entry] = [e for e in shown["audit"] if e["action"] == "handed_over"]
    assert (
        entry["note"] == f"{ROAD} → {SANITATION}: 不法投棄の通報でした"
        and entry["noteVisibility"] == "internal"
    )
    # The public Open311 view names the section that now handles it, listed and read alone.
    from chalicelib.domain.forms import sections

    agency = sections()[SANITATION]["name"]["ja"]
    since = (datetime.now(UTC) - timedelta(minutes=5)).isoformat(timespec="seconds")
    query = urlencode({"service_code": "streetlight", "start_date": since, "page_size": 200})
    listed = body_of(client.http.get(f"/open311/v2/requests.json?{query}"))
    [published] = [e for e in listed if e["service_request_id"] == receipt]
    [alone] = body_of(client.http.get(f"/open311/v2/requests/{receipt}.json"))
    assert published["agency_responsible"] == alone["agency_responsible"] == agency


def test_a_submission_with_a_fee_stays_with_the_section_of_its_payments(client):
    receipt = submit(client, "bulky-waste-collection")["receipt"]
    headers = {**auth(SANITATION), "Content-Type": "application/json"}
    response = client.http.post(
        f"/staff/submissions/{receipt}/section",
        body=json.dumps({"section": ROAD, "note": "x"}),
        headers=headers,
    )
    assert_error(response, 409, "has_fee")


def test_a_resident_who_lost_their_code_is_given_a_new_one_by_the_section(client, pump):
    """A walkthrough: a lost access code had no way back (and a fee paid first needs it to pay)."""
    made = submit(client, "streetlight-outage")
    receipt, old_code = made["receipt"], made["accessSecret"]

    def reissue(section: str, key: str | None = None, **body):
        headers = {**auth(section), "Content-Type": "application/json"}
        if key:
            headers["Idempotency-Key"] = key
        return client.http.post(
            f"/staff/submissions/{receipt}/access-code", body=json.dumps(body), headers=headers
        )

    assert reissue(SANITATION, identifiedBy="窓口で免許証").status_code == 403  # another section's
    assert_error(reissue(ROAD), 422, "invalid_request")
    assert_error(reissue(ROAD, identifiedBy=" \u200b "), 422, "invalid_request")
    from chalicelib.store.models import Submission

    store.get(receipt).update(actions=[Submission.email.set("lost-code@example.jp")])
    pump.purge()  # what earlier tests left queued: the drain below then delivers this test's alone
    key = f"code-{uuid.uuid4()}"
    first = reissue(ROAD, key, identifiedBy="窓口で運転免許証を確認")
    again = reissue(ROAD, key, identifiedBy="窓口で運転免許証を確認")  # a retried tap: the same code
    assert first.status_code == again.status_code == 201 and body_of(again) == body_of(first)
    new_code = body_of(first)["accessSecret"]
    assert new_code != old_code and body_of(first)["issuedAt"].endswith("+09:00")

    def opens(code: str) -> int:
        return client.http.get(f"/submissions/{receipt}", headers={"X-Access-Secret": code}).status_code

    assert opens(new_code) == 200 and opens(old_code) != 200
    # The contacts on file are told (a review: a code given to an impostor went unnoticed).
    from moto.ses.models import ses_backends

    from devstack.env import MOTO_ACCOUNT, REGION

    pump.drain()  # the notice the reissue queued, through the worker
    [sent] = [
        m
        for m in ses_backends[MOTO_ACCOUNT][REGION].sent_messages
        if receipt in (getattr(m, "subject", None) or "") and "確認コード" in m.subject
    ]
    assert "お心当たりがない場合" in sent.body and new_code not in sent.body  # never the code itself
    # It names the new code, not "the one given when you submitted" (an outside run).
    assert "新しい確認コードで" in sent.body and "受付時にお知らせした" not in sent.body
    [entry] = [e for e in store.trail(receipt) if e.action == "access_code_reissued"]
    assert (entry.actor_id, entry.note, entry.note_visibility) == (
        "staff-doro-hoshu-1",
        "窓口で運転免許証を確認",
        "internal",
    )


def test_a_question_filed_with_another_section_is_listed_there_by_its_form(client):
    """A chat question goes to the section of its topic: the inquiry form is any section's."""
    from chalicelib.services import submissions as service

    filed = service.create(
        get_form("inquiry"),
        {"question": "街路灯の交換はいつですか"},
        service.Submitter(channel="line", language="ja"),
        section=ROAD,
    )
    assert filed["receipt"] in receipts(staff_list(client, ROAD, form="inquiry"))


def test_a_note_retried_with_its_idempotency_key_is_added_once(client):
    receipt = submit(client, "streetlight-outage")["receipt"]
    key = f"note-{uuid.uuid4()}"
    first, again = (
        note(client, ROAD, receipt, key=key, note="折り返し電話済み", visibility="public") for _ in range(2)
    )
    assert first.status_code == again.status_code == 201 and body_of(again) == body_of(first)
    assert len(store.get(receipt).public_notes) == 1 and len(notes_of(receipt)) == 1


def test_staff_withdraw_for_a_resident_with_a_note_of_how_they_asked(client):
    receipt = submit(client, "streetlight-outage")["receipt"]
    error = assert_error(move(client, ROAD, receipt, to="withdrawn"), 422, "invalid_note")
    assert "how they asked" in error["message"]
    response = move(
        client, ROAD, receipt, to="withdrawn", note="12/7 本人から電話で取り下げ", visibility="internal"
    )
    assert response.status_code == 200, response.body
    assert body_of(response)["status"] == "withdrawn"
    assert [(e.from_status, e.to_status, e.note) for e in transitions_of(receipt)] == [
        ("received", "withdrawn", "12/7 本人から電話で取り下げ")
    ]


def test_a_stale_version_is_409_and_changes_nothing(client):
    receipt = submit(client, "streetlight-outage")["receipt"]
    assert move(client, ROAD, receipt, to="in_review", version=1).status_code == 200

    error = assert_error(move(client, ROAD, receipt, to="completed", version=1), 409, "conflict")
    assert error["details"][0]["pointer"] == "/version"
    stored = store.get(receipt)
    assert (stored.status, stored.version) == ("in_review", 2)
    assert len(transitions_of(receipt)) == 1

    response = move(client, ROAD, receipt, to="completed", version=2)
    assert response.status_code == 200, response.body
    assert body_of(response)["version"] == 3


@pytest.mark.parametrize("asked", [None, "en", "ja", "vi"])
def test_every_staff_error_says_it_in_japanese_and_english_whatever_is_asked(client, asked):
    """One rule for staff tools: "ja / en", a catalogue text (also a resident's) included."""
    receipt = submit(client, "streetlight-outage")["receipt"]
    language = {"Accept-Language": asked} if asked else {}
    headers = {**auth(ROAD), "Content-Type": "application/json", **language}
    same = client.http.post(
        f"/staff/submissions/{receipt}/transitions", body=json.dumps({"to": "received"}), headers=headers
    )
    stale = client.http.post(
        f"/staff/submissions/{receipt}/transitions",
        body=json.dumps({"to": "in_review", "version": 9}),
        headers=headers,
    )
    other = client.http.get(f"/staff/submissions/{receipt}", headers={**auth(SANITATION), **language})
    nobody = client.http.get("/staff/submissions?status=received", headers=language)
    for response, status in ((same, 409), (stale, 409), (other, 403), (nobody, 401)):
        message = body_of(response)["error"]["message"]
        assert response.status_code == status and " / " in message, message
        japanese, english = message.rsplit(" / ", 1)
        assert re.search(r"[\u3040-\u30ff]", japanese) and english.isascii(), message


def test_a_transition_retried_with_its_idempotency_key_gets_the_first_answer(client):
    """A clerk's connection dropped: the retry is told it worked, not "already in that state"."""
    receipt = submit(client, "streetlight-outage")["receipt"]
    keyed = {**auth(ROAD), "Content-Type": "application/json", "Idempotency-Key": f"move-{uuid.uuid4()}"}
    body = json.dumps({"to": "in_review", "version": 1})
    first, again = (
        client.http.post(f"/staff/submissions/{receipt}/transitions", body=body, headers=keyed)
        for _ in range(2)
    )
    assert first.status_code == again.status_code == 200 and body_of(again) == body_of(first)
    assert len(transitions_of(receipt)) == 1 and store.get(receipt).version == 2
    # Without the key, the same move again is refused as before (it is already in review).
    assert_error(move(client, ROAD, receipt, to="in_review"), 409, "invalid_transition")


@pytest.mark.parametrize("interleaving", ["at_once", "all_read_before_any_write"])
def test_concurrent_transitions_exactly_one_wins(client, monkeypatch, interleaving):
    receipt = submit(client, "streetlight-outage")["receipt"]
    workers = 8
    start = threading.Barrier(workers)
    if interleaving == "all_read_before_any_write":
        # Hold every request after its read until all have read: all try to write version 1.
        read = threading.Barrier(workers)
        real_get = store.get
        state = threading.local()

        def get_then_wait(wanted: str):
            found = real_get(wanted)
            if not getattr(state, "waited", False):
                state.waited = True
                read.wait(timeout=30)
            return found

        monkeypatch.setattr(store, "get", get_then_wait)

    results: list = [None] * workers
    # Every request is the same: Chalice keeps the current request on the app, shared by threads.
    headers = {**auth(ROAD), "Content-Type": "application/json"}
    body = json.dumps({"to": "in_review", "note": "引き受けます", "visibility": "internal"})

    def attempt(index: int) -> None:
        start.wait(timeout=30)
        response = client.http.post(f"/staff/submissions/{receipt}/transitions", body=body, headers=headers)
        results[index] = (response.status_code, body_of(response))

    threads = [threading.Thread(target=attempt, args=(index,)) for index in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    monkeypatch.undo()

    statuses = sorted(status for status, _ in results)
    assert statuses == [200] + [409] * (workers - 1), results
    losers = {answer["error"]["code"] for status, answer in results if status == 409}
    if interleaving == "all_read_before_any_write":
        assert losers == {"conflict"}
        # Each loser is told in staff words which version won (not the resident's text).
        assert {answer["error"]["details"][0]["message"] for status, answer in results if status == 409} == {
            "いまの版は 2 です。 / The submission is now at version 2."
        }
    else:
        assert losers <= {"conflict", "invalid_transition"}
    assert len(transitions_of(receipt)) == 1
    stored = store.get(receipt)
    assert (stored.status, stored.version) == ("in_review", 2)


# --- entry on a resident's behalf ---------------------------------------------------------------


def test_a_phone_call_is_entered_for_the_forms_section(client):
    start = since_now()
    document = example("childcare-consultation")
    # The counter takes everything: a sanitation clerk enters a childcare request.
    response = enter(
        client,
        SANITATION,
        {"formId": "childcare-consultation", "channel": "phone", "language": "en", "data": document},
        staff_id="clerk-7",
    )
    assert response.status_code == 201, response.body
    assert response.headers["Cache-Control"] == "no-store"
    created = body_of(response)
    assert rules.RECEIPT_PATTERN.fullmatch(created["receipt"])
    assert rules.normalize_secret(created["accessSecret"]) == created["accessSecret"]
    assert (created["status"], created["channel"], created["section"], created["enteredBy"]) == (
        "received",
        "phone",
        CHILDCARE,
        "clerk-7",
    )

    stored = store.get(created["receipt"])
    assert (stored.channel, stored.entered_by, stored.section, stored.language) == (
        "phone",
        "clerk-7",
        CHILDCARE,
        "en",
    )
    assert stored.data == document
    [entry] = store.trail(created["receipt"])
    assert (entry.action, entry.actor_kind, entry.actor_id) == ("created", "staff", "clerk-7")

    # The resident checks it with the secret read to them; the section that handles it sees it.
    check = client.http.get(
        f"/submissions/{created['receipt']}", headers={"X-Access-Secret": created["accessSecret"]}
    )
    assert check.status_code == 200
    assert receipts(staff_list(client, CHILDCARE, from_=start, channel="phone")) == [created["receipt"]]
    detail = body_of(client.http.get(f"/staff/submissions/{created['receipt']}", headers=auth(CHILDCARE)))
    assert (detail["channel"], detail["enteredBy"], detail["language"]) == ("phone", "clerk-7", "en")
    # The clerk's own section does not.
    assert_error(
        client.http.get(f"/staff/submissions/{created['receipt']}", headers=auth(SANITATION)),
        403,
        "forbidden",
    )


@pytest.mark.parametrize("channel", ["postal", "counter"])
def test_postal_and_counter_entries_default_to_japanese(client, channel):
    response = enter(
        client,
        SANITATION,
        {"formId": "bulky-waste-collection", "channel": channel, "data": example("bulky-waste-collection")},
    )
    assert response.status_code == 201, response.body
    stored = store.get(body_of(response)["receipt"])
    assert (stored.channel, stored.language, stored.entered_by) == (channel, "ja", "staff-seiso-1")


def test_bad_entries_are_422_and_nothing_is_stored(client):
    start = since_now()
    broken = dict(example("bulky-waste-collection"), phone="not a phone")
    del broken["name"]
    error = assert_error(
        enter(client, SANITATION, {"formId": "bulky-waste-collection", "channel": "phone", "data": broken}),
        422,
        "invalid_submission",
    )
    assert {detail["pointer"] for detail in error["details"]} == {"/data/name", "/data/phone"}

    error = assert_error(
        enter(client, SANITATION, {"formId": "no-such-form", "channel": "phone", "data": {}}),
        422,
        "invalid_request",
    )
    assert [detail["pointer"] for detail in error["details"]] == ["/formId"]
    for body in (
        {"formId": "bulky-waste-collection", "channel": "web", "data": example("bulky-waste-collection")},
        {"formId": "bulky-waste-collection", "channel": "phone", "language": "zh", "data": {}},
        {"formId": "bulky-waste-collection", "channel": "phone"},
        {"formId": "bulky-waste-collection", "channel": "phone", "data": [], "extra": True},
    ):
        assert_error(enter(client, SANITATION, body), 422, "invalid_request")
    assert receipts(staff_list(client, SANITATION, from_=start)) == []


def test_a_retried_entry_with_the_same_idempotency_key_is_stored_once(client):
    start = since_now()
    key = f"entry-{uuid.uuid4()}"
    body = {
        "formId": "bulky-waste-collection",
        "channel": "counter",
        "data": example("bulky-waste-collection"),
    }

    first = enter(client, SANITATION, body, key=key)
    second = enter(client, SANITATION, body, key=key)
    assert (first.status_code, second.status_code) == (201, 201)
    assert body_of(first) == body_of(second)
    assert receipts(staff_list(client, SANITATION, from_=start)) == [body_of(first)["receipt"]]

    changed = dict(body, channel="postal")
    assert_error(enter(client, SANITATION, changed, key=key), 422, "idempotency_key_reused")
    # Keys belong to the staff member who sent them: another clerk's same key is their own request.
    other = enter(client, SANITATION, body, key=key, staff_id="staff-seiso-2")
    assert other.status_code == 201
    assert body_of(other)["receipt"] != body_of(first)["receipt"]


def test_the_request_schemas_know_every_status_and_staff_channel():
    from chalicelib.services.submissions import CHANNELS_FOR_STAFF

    assert load("staff_transition")["properties"]["to"]["enum"] == list(rules.STATUSES)
    assert load("staff_entry")["properties"]["channel"]["enum"] == list(CHANNELS_FOR_STAFF)


# --- robustness ---------------------------------------------------------------------------------

_PARAMETER_VALUES = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["received", "in_review,needs_info", "phone", "true", "false", "1", "100", "2025-02-04"]),
    st.datetimes(timezones=st.none() | st.timezones()).map(lambda moment: moment.isoformat()),
    st.binary(max_size=60).map(lambda raw: base64.urlsafe_b64encode(raw).decode()),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    params=st.lists(
        st.tuples(
            st.sampled_from(["form", "status", "channel", "from", "to", "overdue", "limit", "cursor", "x"]),
            _PARAMETER_VALUES,
        ),
        max_size=4,
    )
)
def test_random_list_queries_are_answered_or_refused_never_a_5xx(client, params):
    response = client.http.get(f"/staff/submissions?{urlencode(params)}", headers=auth(ROAD))
    assert response.status_code in (200, 400), response.body
    if response.status_code == 400:
        assert body_of(response)["error"]["code"] in ("invalid_query", "invalid_cursor")


def test_a_public_note_to_a_resident_of_another_language_warns_the_clerk(client):
    """A walkthrough: a Nepali resident got the ward's question in kanji, and nothing told the
    clerk the note is sent as written."""
    from chalicelib.store.models import Submission

    receipt = submit(client, "streetlight-outage")["receipt"]
    store.get(receipt).update(actions=[Submission.language.set("ne")])
    assert "warnings" not in body_of(move(client, ROAD, receipt, to="in_review"))
    # Said before the note is written too (a walkthrough: only after it had gone).
    before = body_of(client.http.get(f"/staff/submissions/{receipt}", headers=auth(ROAD)))[
        "publicNoteWarning"
    ]
    asked = body_of(move(client, ROAD, receipt, to="needs_info", note="電柱の番号は？", visibility="public"))
    [warning] = asked["warnings"]
    assert warning == before
    assert "ne" in warning and "翻訳されません" in warning and "not translated" in warning
    internal = body_of(note(client, ROAD, receipt, note="電話あり", visibility="internal"))
    assert "warnings" not in internal
    public = body_of(note(client, ROAD, receipt, note="写真をください", visibility="public"))
    assert public["warnings"] == [warning]
    # A note written in their language needs none (a walkthrough: warned of English to English).
    nepali = body_of(note(client, ROAD, receipt, note="कृपया फोटो पठाउनुहोस्।", visibility="public"))
    assert "warnings" not in nepali
    both = body_of(note(client, ROAD, receipt, note="写真をください / कृपया फोटो", visibility="public"))
    assert both["warnings"] == [warning]  # kana in it: a part may still be unread
    # The ward's own language needs no warning.
    japanese = submit(client, "streetlight-outage")["receipt"]
    assert (
        body_of(client.http.get(f"/staff/submissions/{japanese}", headers=auth(ROAD)))["publicNoteWarning"]
        is None
    )
    move(client, ROAD, japanese, to="in_review")
    assert "warnings" not in body_of(note(client, ROAD, japanese, note="確認中です", visibility="public"))
