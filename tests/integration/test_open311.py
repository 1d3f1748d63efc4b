"""The Open311 GeoReport v2 read view over the local stack: what is published, and what never is."""

from __future__ import annotations

import json
import threading
import time
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import pytest

from chalicelib.domain import submissions as rules
from chalicelib.domain.forms import catalogue, get_form
from chalicelib.services import submissions as service
from chalicelib.store import submissions as store
from tests.integration.conftest import backdated, submit_example

# GeoReport v2 fields that could carry personal data; this view never fills them.
UNPUBLISHED = {
    "description",
    "media_url",
    "email",
    "phone",
    "first_name",
    "last_name",
    "device_id",
    "account_id",
}
NOTE_TO_RESIDENT = "葛飾太郎様、穴の正確な位置がわかる写真をお送りください。"


def move(receipt: str, target: str, note: str | None = None) -> None:
    submission = store.get(receipt)
    actor = rules.Actor(rules.STAFF, "staff-0001", section=submission.section)
    service.move(submission, target, actor=actor, note=note, visibility="public" if note else None)


def get(client, path: str, **params):
    return client.http.get(path + ("?" + urlencode(params) if params else ""))


def iso(value: datetime) -> str:
    return value.isoformat(timespec="seconds")


@pytest.fixture(scope="module")
def reports(local_stack):
    """Reports of three services made through the real route, one closed and one with a note to the resident."""
    from chalice.test import Client

    from app import app

    # The lists are asked for by whole seconds: start on a fresh one, so no report an earlier
    # test made in the same second (test_notifications ends with one) is counted as this module's.
    now = datetime.now(UTC)
    time.sleep(1 - now.microsecond / 1e6)
    start = now.replace(microsecond=0) + timedelta(seconds=1)
    with Client(app, stage_name="local") as client:
        made = {
            "damage": submit_example(
                client, "road-park-damage", email="reporter@example.jp", name="葛飾 太郎"
            ),
            "light": submit_example(client, "streetlight-outage"),
            "dumping": submit_example(client, "illegal-dumping", phone="090-9999-0000"),
            "damage_closed": submit_example(client, "road-park-damage", area="kameari"),
            "procedure": submit_example(client, "bulky-waste-collection"),
        }
    move(made["damage"], rules.IN_REVIEW)
    move(made["damage"], rules.NEEDS_INFO, note=NOTE_TO_RESIDENT)
    move(made["damage_closed"], rules.IN_REVIEW)
    move(made["damage_closed"], rules.COMPLETED, note="補修しました。ご連絡ありがとうございました。")
    return start, made


def mine(body: list[dict], made: dict[str, str]) -> list[str]:
    ours = set(made.values())
    return [entry["service_request_id"] for entry in body if entry["service_request_id"] in ours]


def assert_json_and_cacheable(response) -> None:
    assert response.status_code == 200, response.body
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    assert response.headers["Cache-Control"] == "public, max-age=60"


# --- services.json -------------------------------------------------------------------------------


def test_services_lists_the_report_forms(client):
    response = get(client, "/open311/v2/services.json")
    assert_json_and_cacheable(response)
    services = json.loads(response.body)
    reports = [form for form in catalogue() if form.is_report]
    assert {s["service_code"] for s in services} == {form.open311_code for form in reports}
    for entry in services:
        form = next(form for form in reports if form.open311_code == entry["service_code"])
        assert entry["service_name"] == form.title["ja"]
        assert entry["description"] == form.description["ja"]
        assert entry["group"] == form.open311_group
        assert entry["metadata"] is False and entry["type"] == "realtime"
        assert isinstance(entry["keywords"], str) and entry["keywords"]


# --- requests.json -------------------------------------------------------------------------------


def test_requests_are_reports_only_newest_first_with_rounded_coordinates_and_area_names(client, reports):
    start, made = reports
    response = get(client, "/open311/v2/requests.json", start_date=iso(start))
    assert_json_and_cacheable(response)
    body = json.loads(response.body)
    ids = mine(body, made)
    assert ids == [made["damage_closed"], made["dumping"], made["light"], made["damage"]]
    assert made["procedure"] not in [entry["service_request_id"] for entry in body]

    by_id = {entry["service_request_id"]: entry for entry in body}
    damage = by_id[made["damage"]]
    assert damage["service_code"] == "road-park"
    assert damage["service_name"] == get_form("road-park-damage").title["ja"]
    assert (damage["lat"], damage["long"]) == (35.743, 139.847)  # the example is at 35.74344, 139.84717
    assert damage["address"] == "立石"
    assert damage["agency_responsible"] == "道路補修課"
    assert damage["requested_datetime"].endswith("+09:00")
    light = by_id[made["light"]]
    assert (light["lat"], light["long"]) == (35.768, 139.871)
    dumping = by_id[made["dumping"]]
    assert "lat" not in dumping and "long" not in dumping  # given by address only
    assert dumping["address"] == "東金町"


def test_status_maps_to_open_and_closed_with_the_status_label_never_a_note(client, reports):
    start, made = reports
    body = json.loads(get(client, "/open311/v2/requests.json", start_date=iso(start)).body)
    by_id = {entry["service_request_id"]: entry for entry in body}
    assert by_id[made["damage"]]["status"] == "open"
    assert by_id[made["damage"]]["status_notes"] == rules.status_labels("needs_info")["ja"]
    assert by_id[made["damage_closed"]]["status"] == "closed"
    assert by_id[made["damage_closed"]]["status_notes"] == rules.status_labels("completed")["ja"]
    assert by_id[made["light"]]["status"] == "open"

    closed = json.loads(get(client, "/open311/v2/requests.json", start_date=iso(start), status="closed").body)
    assert mine(closed, made) == [made["damage_closed"]]
    assert all(entry["status"] == "closed" for entry in closed)
    opened = json.loads(get(client, "/open311/v2/requests.json", start_date=iso(start), status="open").body)
    assert mine(opened, made) == [made["dumping"], made["light"], made["damage"]]
    both = json.loads(
        get(client, "/open311/v2/requests.json", start_date=iso(start), status="open,closed").body
    )
    assert len(mine(both, made)) == 4


def test_service_code_filters_by_one_or_several_codes(client, reports):
    start, made = reports
    one = json.loads(
        get(client, "/open311/v2/requests.json", start_date=iso(start), service_code="road-park").body
    )
    assert mine(one, made) == [made["damage_closed"], made["damage"]]
    assert {entry["service_code"] for entry in one} == {"road-park"}
    two = json.loads(
        get(
            client, "/open311/v2/requests.json", start_date=iso(start), service_code="streetlight,dumping"
        ).body
    )
    assert mine(two, made) == [made["dumping"], made["light"]]


def test_pages(client, reports):
    start, made = reports
    query = {"start_date": iso(start), "end_date": iso(datetime.now(UTC) + timedelta(minutes=1))}
    pages = [
        json.loads(get(client, "/open311/v2/requests.json", page_size="3", page=str(page), **query).body)
        for page in (1, 2, 3)
    ]
    assert [len(page) for page in pages] == [3, 1, 0]  # only this module's four reports since start
    listed = [entry["service_request_id"] for page in pages for entry in page]
    assert len(listed) == len(set(listed))  # no request on two pages
    assert mine([e for page in pages for e in page], made) == [
        made["damage_closed"],
        made["dumping"],
        made["light"],
        made["damage"],
    ]
    everything = json.loads(get(client, "/open311/v2/requests.json", page_size="200", **query).body)
    assert [entry["service_request_id"] for entry in everything][: len(listed)] == listed


def test_the_date_range_bounds_the_list(client, reports):
    start, made = reports
    before = json.loads(
        get(
            client,
            "/open311/v2/requests.json",
            start_date=iso(start - timedelta(days=2)),
            end_date=iso(start),
        ).body
    )
    assert mine(before, made) == []
    # A date without a time is midnight in Tokyo; without any dates, the last 90 days.
    today = datetime.now(UTC).astimezone(rules.TOKYO).date().isoformat()
    assert len(mine(json.loads(get(client, "/open311/v2/requests.json", start_date=today).body), made)) == 4
    # A date as the end is the whole of that day.
    that_day = json.loads(get(client, "/open311/v2/requests.json", start_date=today, end_date=today).body)
    assert len(mine(that_day, made)) == 4
    default = json.loads(get(client, "/open311/v2/requests.json", page_size="200").body)
    assert set(mine(default, made)) == set(made.values()) - {made["procedure"]}


def test_one_request_by_id(client, reports):
    _, made = reports
    response = get(client, f"/open311/v2/requests/{made['light']}.json")
    assert_json_and_cacheable(response)
    [entry] = json.loads(response.body)
    assert entry["service_request_id"] == made["light"]
    assert entry["service_code"] == "streetlight" and entry["address"] == "金町"
    assert (entry["lat"], entry["long"]) == (35.768, 139.871)

    for path in (
        f"/open311/v2/requests/{made['procedure']}.json",  # not a report
        "/open311/v2/requests/KTS-2001-ZZZZ.json",
        f"/open311/v2/requests/{made['light']}",
        "/open311/v2/requests/nothing.json",
    ):
        response = get(client, path)
        assert response.status_code == 404, path
        assert json.loads(response.body)["error"]["code"] == "request_not_found"


def test_service_request_id_names_the_reports_and_overrides_the_rest(client, reports):
    """From an outside run: the parameter was ignored and every report listed."""
    _, made = reports
    named = f"{made['light']}, {made['damage']},{made['procedure']},KTS-2001-ZZZZ"
    response = get(client, "/open311/v2/requests.json", service_request_id=named, status="closed")
    assert_json_and_cacheable(response)
    # In the order named, reports only, whatever the status filter says.
    assert [e["service_request_id"] for e in json.loads(response.body)] == [made["light"], made["damage"]]
    assert json.loads(get(client, "/open311/v2/requests.json", service_request_id="NOPE").body) == []
    too_many = ",".join([made["light"]] * 51)
    assert get(client, "/open311/v2/requests.json", service_request_id=too_many).status_code == 400


def test_no_personal_data_anywhere(client, reports):
    start, made = reports
    bodies = [
        get(client, "/open311/v2/requests.json", start_date=iso(start)).body.decode(),
        get(client, "/open311/v2/services.json").body.decode(),
        *(get(client, f"/open311/v2/requests/{receipt}.json").body.decode() for receipt in made.values()),
    ]
    secrets = {"葛飾 太郎", "reporter@example.jp", "090-9999-0000", NOTE_TO_RESIDENT, "葛飾太郎"}
    for form_id in ("road-park-damage", "streetlight-outage", "illegal-dumping", "bulky-waste-collection"):
        example = get_form(form_id).example
        for field in ("name", "phone", "email", "description", "address", "placement"):
            if isinstance(example.get(field), str):
                secrets.add(example[field])
        location = example.get("location", {})
        if "address" in location:
            secrets.add(location["address"])
        for coordinate in ("latitude", "longitude"):
            if coordinate in location:
                secrets.add(str(location[coordinate]))
    for body in bodies:
        for secret in secrets:
            assert secret not in body, secret
        for entry in json.loads(body):
            if "service_request_id" in entry:  # a request, not a service
                assert not UNPUBLISHED & set(entry)


@pytest.mark.parametrize(
    ("params", "parameter"),
    [
        ({"page_size": "0"}, "page_size"),
        ({"page_size": "201"}, "page_size"),
        ({"page_size": "ten"}, "page_size"),
        ({"page": "0"}, "page"),
        ({"page": "-1"}, "page"),
        # A far page read every report of the range to throw them away: paging reaches 1,000.
        ({"page": "1000000", "page_size": "200"}, "page"),
        ({"page": "21"}, "page"),  # 21 × the default 50
        ({"status": "pending"}, "status"),
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"cursor": "eyJhZnRlciI6IngiLCJza2lwIjowfQ"}, "cursor"),  # {"after":"x","skip":0}
        ({"service_code": "no-such-service"}, "service_code"),
        ({"service_code": "road-park,bulky"}, "service_code"),
        ({"start_date": "yesterday"}, "start_date"),
        ({"end_date": "2026-13-01"}, "end_date"),
        # Years nobody reports in: they were 500s (OverflowError) before they were refused.
        ({"start_date": "9999-12-31"}, "start_date"),
        ({"end_date": "0001-01-01"}, "end_date"),
        ({"start_date": "9999-12-31T23:59:59-12:00"}, "start_date"),
        ({"start_date": "２０２６-12-01"}, "start_date"),
        ({"start_date": "2026-01-01T00:00:00+09:00", "end_date": "2026-06-01T00:00:00+09:00"}, "end_date"),
        ({"start_date": "2026-02-01T00:00:00+09:00", "end_date": "2026-01-01T00:00:00+09:00"}, "start_date"),
    ],
)
def test_bad_parameters_are_400_in_our_error_shape(client, params, parameter):
    response = get(client, "/open311/v2/requests.json", **params)
    assert response.status_code == 400
    error = json.loads(response.body)["error"]
    assert error["code"] == "invalid_parameter"
    assert [detail["parameter"] for detail in error["details"]] == [parameter]
    assert " / " in error["details"][0]["message"]  # Japanese and English


# --- what one request reads ----------------------------------------------------------------------
# The listing used to read every report of the date range and filter afterwards: a reviewer's
# anonymous request read 300 reports to answer an empty page. Reads are counted as DynamoDB (moto)
# reports them: the ScannedCount of each Query this thread sends while the request runs.


@contextmanager
def queries_read():
    """Items read by the submissions table's Queries from this thread (moto's ScannedCount)."""
    from chalicelib.store.models import Submission

    events = Submission._get_connection().connection.client.meta.events
    thread = threading.get_ident()
    counted = {"queries": 0, "items": 0}

    def count(parsed, **_):
        if threading.get_ident() == thread:  # the pump's workers query from threads of their own
            counted["queries"] += 1
            counted["items"] += parsed["ScannedCount"]

    events.register("after-call.dynamodb.Query", count, unique_id="open311-reads")
    try:
        yield counted
    finally:
        events.unregister("after-call.dynamodb.Query", unique_id="open311-reads")


def listed(response) -> list[str]:
    assert response.status_code == 200, response.body
    return [entry["service_request_id"] for entry in json.loads(response.body)]


def next_link(response) -> str | None:
    """The path of the `rel="next"` Link, resolved as a client resolves it against the request's."""
    link = response.headers.get("Link")
    if link is None:
        return None
    target, relation = link.split(";", 1)
    assert relation.strip() == 'rel="next"' and target.startswith("<requests.json?")
    assert response.headers["Access-Control-Expose-Headers"] == "Link"  # a web page may read it
    return "/open311/v2/" + target.strip("<>")


@pytest.fixture(scope="module")
def crowded(local_stack):
    """An hour of 60 days ago holding 40 road reports, 20 street lights and no dumping, one a second,
    stored as they would have been: the newest 30 road reports still open, the 10 oldest closed."""
    hour = (datetime.now(UTC) - timedelta(days=60)).replace(minute=17, second=0, microsecond=0)
    kinds = ["road-park-damage", "road-park-damage", "streetlight-outage"] * 20
    stored = []
    for second, form_id in enumerate(kinds):
        road_number = sum(kind == "road-park-damage" for kind in kinds[:second])
        closed = form_id == "road-park-damage" and road_number < 10
        status = rules.COMPLETED if closed else rules.RECEIVED
        stored.append(backdated(form_id, hour + timedelta(seconds=second), status=status))
    newest_first = [item for item in reversed(stored)]
    window = {"start_date": iso(hour), "end_date": iso(hour + timedelta(minutes=59, seconds=59))}
    return window, newest_first


def receipts(items, form_id=None, status=None) -> list[str]:
    return [
        item.receipt
        for item in items
        if (form_id is None or item.form_id == form_id) and (status is None or item.status == status)
    ]


def test_a_service_code_reads_that_service_only_on_every_page(client, crowded):
    window, items = crowded
    lights = receipts(items, "streetlight-outage")
    pages = []
    for page in (1, 2, 3):
        with queries_read() as reads:
            response = get(
                client,
                "/open311/v2/requests.json",
                service_code="streetlight",
                page_size="7",
                page=str(page),
                **window,
            )
        pages.append(listed(response))
        # The page and those before it, never the 40 road reports beside them.
        assert reads["items"] <= 7 * page, (page, reads)
    assert [receipt for page in pages for receipt in page] == lights
    assert [len(page) for page in pages] == [7, 7, 6]

    # Nothing of the service in the range: nothing is read to say so (it read all 60 before).
    with queries_read() as reads:
        assert listed(get(client, "/open311/v2/requests.json", service_code="dumping", **window)) == []
    assert reads == {"queries": 1, "items": 0}


def test_several_service_codes_merge_newest_first_and_read_about_the_page(client, crowded):
    window, items = crowded
    query = {"service_code": "streetlight,road-park", "page_size": "9", **window}
    with queries_read() as reads:
        first = listed(get(client, "/open311/v2/requests.json", **query))
    assert first == receipts(items)[:9]
    assert reads["items"] <= 2 * 9  # one read of each service's nine newest
    third = listed(get(client, "/open311/v2/requests.json", page="3", **query))
    assert third == receipts(items)[18:27]


def test_an_unfiltered_page_reads_the_page(client, crowded):
    window, items = crowded
    with queries_read() as reads:
        assert (
            listed(get(client, "/open311/v2/requests.json", page_size="5", **window)) == receipts(items)[:5]
        )
    assert reads["items"] == 5


def walk(client, path: str | None, most_read: int) -> tuple[list[str], int]:
    """Every report the Link chain from `path` lists, and how many answers it took; no answer
    reads more than `most_read` items."""
    walked, answers = [], 0
    while path is not None:
        with queries_read() as reads:
            response = client.http.get(path)
        walked += listed(response)
        answers += 1
        assert reads["items"] <= most_read, reads
        path = next_link(response)
    return walked, answers


def test_the_next_link_walks_the_whole_list_with_the_same_filters(client, crowded):
    window, items = crowded
    path = "/open311/v2/requests.json?" + urlencode({"service_code": "road-park", "page_size": "8", **window})
    walked, answers = walk(client, path, most_read=8 + 1)  # the page, and the page before's last again
    assert walked == receipts(items, "road-park-damage")
    # 40 reports by 8; DynamoDB (not moto) ends a read that fills its limit with a key even at
    # the partition's end, and an empty answer says so.
    assert answers in (5, 6)


def test_a_status_filter_reads_at_most_the_bound_and_the_link_goes_on(client, crowded, monkeypatch):
    """The status is checked per report: a request that would read past MAX_READ ends its page
    early, and its link goes on after the last report read."""
    from chalicelib.services import open311

    window, items = crowded
    closed = receipts(items, "road-park-damage", rules.COMPLETED)
    # Unbounded as far as this range goes, the answer is the one pages always gave.
    assert (
        listed(get(client, "/open311/v2/requests.json", status="closed", page="2", page_size="4", **window))
        == (closed[4:8])
    )

    monkeypatch.setattr(open311, "MAX_READ", 12)
    path = "/open311/v2/requests.json?" + urlencode({"status": "closed", "page_size": "4", **window})
    walked, answers = walk(client, path, most_read=12)
    assert walked == closed
    assert answers >= 60 // 12  # the 50 open reports before them were read, 12 at most at a time

    # A page number past what the bound reaches: the page is what was found, the link goes on
    # with what is still to skip.
    response = get(client, "/open311/v2/requests.json", status="closed", page="2", page_size="4", **window)
    assert listed(response) == []
    rest = []
    path = next_link(response)
    while path is not None:
        response = client.http.get(path)
        rest += listed(response)
        path = next_link(response)
    assert rest == closed[4:]
