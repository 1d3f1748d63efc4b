"""LIFF preferences API end to end: chalice.test.Client, moto's DynamoDB, ID tokens verified by the LINE sandbox."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import pytest
import requests

from chalicelib.domain import messages
from chalicelib.domain import preferences as rules
from chalicelib.store import preferences as store
from chalicelib.store import residents
from chalicelib.store.models import Resident, SendListEntry
from tests.integration.conftest import line_event, new_user_id, webhook_body

PATH = "/line/me/preferences"


@pytest.fixture
def mint(sandbox):
    """An ID token for a user, minted by the sandbox for our LINE Login channel (or `aud`)."""
    from chalicelib.config import get_settings

    def mint(user_id: str, **claims) -> str:
        body = {"sub": user_id, "aud": get_settings().line_login_channel_id, **claims}
        response = requests.post(f"{sandbox.base_url}/__sandbox/id-tokens", json=body, timeout=5)
        response.raise_for_status()
        return response.json()["idToken"]

    return mint


@pytest.fixture
def api(client, mint):
    """Calls as a resident: api("GET", user_id) / api("PUT", user_id, document)."""

    def call(
        method: str,
        user_id: str | None,
        document=None,
        *,
        path: str = PATH,
        token: str | None = None,
        language: str | None = None,
    ):
        headers = {"Content-Type": "application/json"}
        if language is not None:
            headers["Accept-Language"] = language
        if token is None and user_id is not None:
            token = mint(user_id)
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        body = None if document is None else json.dumps(document, ensure_ascii=False)
        return client.http.request(method, path, body=body, headers=headers)

    return call


def follower() -> str:
    user_id = new_user_id()
    assert residents.record_follow(user_id, "ja", int(time.time() * 1000))
    return user_id


def settings(**changes) -> dict:
    document = {
        "topics": ["disaster", "waste"],
        "area": "tateishi",
        "birthYear": 1988,
        "language": "en",
        "consent": {"termsVersion": rules.TERMS_VERSION},
        "paused": False,
    }
    document.update(changes)
    return document


def lists_of(user_id: str) -> set[str]:
    """The user's send lists as the by-user index sees them."""
    return {entry.segment for entry in SendListEntry.by_user.query(user_id)}


def members(segment: str) -> dict[str, SendListEntry]:
    """Who is on one send list, read by its key as the announcement sender will."""
    return {entry.line_user_id: entry for entry in SendListEntry.query(segment, consistent_read=True)}


def body_of(response) -> dict:
    return json.loads(response.body)


# --- reading and writing ---------------------------------------------------------------------


def test_a_new_follower_gets_the_defaults(api):
    user_id = follower()
    response = api("GET", user_id)
    assert response.status_code == 200, response.body
    assert response.headers["Cache-Control"] == "no-store"
    shown = body_of(response)
    assert {key: shown[key] for key in ("topics", "area", "ageBand", "language", "consent", "paused")} == {
        "topics": [],
        "area": None,
        "ageBand": None,
        "language": "ja",
        "consent": None,
        "paused": False,
    }
    assert shown["delivery"] == {"active": False, "holds": ["no_consent", "no_topics"], "emergencies": False}
    assert shown["terms"] == {"version": rules.TERMS_VERSION, "url": rules.TERMS_URL}
    assert [topic["label"] for topic in shown["choices"]["topics"]][:2] == ["防災", "子育て"]
    assert lists_of(user_id) == set()


def test_put_then_get_and_the_send_lists_match_exactly(api):
    user_id, neighbour = follower(), follower()
    assert api("PUT", neighbour, settings(topics=["disaster"])).status_code == 200
    before = datetime.now(UTC)

    response = api("PUT", user_id, settings())
    assert response.status_code == 200, response.body
    saved = body_of(response)
    assert saved["topics"] == ["disaster", "waste"]
    age = before.astimezone(rules.TOKYO).year - 1988
    assert saved["ageBand"] == ("70+" if age >= 70 else f"{age // 10 * 10}-{age // 10 * 10 + 9}")
    assert saved["language"] == "en"
    assert saved["delivery"] == {"active": True, "holds": [], "emergencies": True}
    accepted = datetime.fromisoformat(saved["consent"]["acceptedAt"].replace("Z", "+00:00"))
    assert before - timedelta(seconds=1) <= accepted <= datetime.now(UTC)
    assert saved["choices"]["topics"][0]["label"] == "Disaster preparedness"  # in the new language

    again = body_of(api("GET", user_id))
    assert {k: again[k] for k in saved if k != "choices"} == {k: saved[k] for k in saved if k != "choices"}

    assert lists_of(user_id) == {"disaster#tateishi", "waste#tateishi", "all#tateishi"}
    # Other tests share these partitions: look at this test's residents only.
    on_disaster = members("disaster#tateishi")
    assert {user_id, neighbour} <= set(on_disaster)
    assert on_disaster[user_id].language == "en"
    assert on_disaster[user_id].age_band == saved["ageBand"]
    on_waste = members("waste#tateishi")
    assert user_id in on_waste and neighbour not in on_waste
    resident = residents.get(user_id)
    assert resident.language == "en"
    assert resident.consent_terms_version == rules.TERMS_VERSION
    assert sorted(resident.send_segments) == ["all#tateishi", "disaster#tateishi", "waste#tateishi"]


def test_changing_area_topics_and_language_moves_the_entries(api):
    user_id = follower()
    assert api("PUT", user_id, settings()).status_code == 200
    response = api("PUT", user_id, settings(topics=["health", "waste"], area="kanamachi", language="vi"))
    assert response.status_code == 200, response.body

    assert lists_of(user_id) == {"health#kanamachi", "waste#kanamachi", "all#kanamachi"}
    assert user_id not in members("disaster#tateishi")
    assert user_id not in members("waste#tateishi")
    assert members("waste#kanamachi")[user_id].language == "vi"

    response = api("PUT", user_id, settings(topics=["health"], area=None, birthYear=None, ageBand="70+"))
    assert response.status_code == 200, response.body
    assert lists_of(user_id) == {"health#*", "all#*"}
    assert members("health#*")[user_id].age_band == "70+"
    assert user_id not in members("health#kanamachi")


def test_stop_all_takes_the_resident_off_every_list_in_one_tap(api):
    user_id = follower()
    assert api("PUT", user_id, settings(topics=["disaster", "childcare", "waste"])).status_code == 200
    assert len(lists_of(user_id)) == 4  # three topics and the emergency list

    response = api("POST", user_id, path=f"{PATH}/stop-all")
    assert response.status_code == 200, response.body
    stopped = body_of(response)
    assert stopped["paused"] is True
    assert stopped["topics"] == ["disaster", "childcare", "waste"]  # kept for when they resume
    assert stopped["delivery"] == {"active": False, "holds": ["paused"], "emergencies": False}
    assert lists_of(user_id) == set()
    assert all(user_id not in members(f"{topic}#tateishi") for topic in ("disaster", "childcare", "waste"))
    assert body_of(api("GET", user_id))["paused"] is True

    # Stopping twice is harmless; resuming puts them back.
    assert api("POST", user_id, path=f"{PATH}/stop-all").status_code == 200
    resumed = api(
        "PUT", user_id, settings(topics=stopped["topics"], birthYear=None, ageBand=stopped["ageBand"])
    )
    assert body_of(resumed)["delivery"]["active"] is True
    assert lists_of(user_id) == {"disaster#tateishi", "childcare#tateishi", "waste#tateishi", "all#tateishi"}


def test_without_consent_the_choices_are_kept_but_no_list_has_the_resident(api):
    user_id = follower()
    assert api("PUT", user_id, settings()).status_code == 200
    response = api("PUT", user_id, settings(consent=None))
    assert response.status_code == 200
    assert body_of(response)["consent"] is None
    assert body_of(response)["delivery"]["holds"] == ["no_consent"]
    assert lists_of(user_id) == set()
    item = residents.get(user_id)
    assert item.consent_terms_version is None and item.consent_at is None


def test_consent_to_terms_that_are_not_current_is_409(api):
    user_id = follower()
    response = api("PUT", user_id, settings(consent={"termsVersion": "2019-01-01"}), language="en")
    assert response.status_code == 409
    error = body_of(response)["error"]
    assert error["code"] == "terms_changed"
    assert error["message"] == messages.text("prefs.terms_changed", "en")
    assert error["details"] == [{"pointer": "/consent/termsVersion", "current": rules.TERMS_VERSION}]
    assert residents.get(user_id).preferences_version == 0


@pytest.fixture
def deliver(post_webhook, pump):
    def deliver(*events: dict) -> None:
        assert post_webhook(webhook_body(*events)).status_code == 200
        pump.drain()

    return deliver


def test_an_unfollowed_resident_is_on_no_list_and_saving_does_not_put_them_back(api, deliver):
    user_id = follower()
    assert api("PUT", user_id, settings()).status_code == 200
    assert lists_of(user_id)

    deliver(line_event("unfollow", user_id))
    assert lists_of(user_id) == set()

    response = api("PUT", user_id, settings(topics=["health"]))
    assert response.status_code == 200
    assert body_of(response)["delivery"] == {
        "active": False,
        "holds": ["not_following"],
        "emergencies": False,
    }
    assert lists_of(user_id) == set()
    assert user_id not in members("health#tateishi")

    # Following again and syncing restores the lists from the kept choices.
    assert residents.record_follow(user_id, "ja", int(time.time() * 1000) + 1000)
    store.sync(user_id)
    assert lists_of(user_id) == {"health#tateishi", "all#tateishi"}


def test_a_user_who_never_followed_sees_the_choices_but_cannot_save(api):
    stranger = new_user_id()
    shown = api("GET", stranger)
    assert shown.status_code == 200
    assert body_of(shown)["delivery"]["holds"] == ["not_following", "no_consent", "no_topics"]

    for response in (api("PUT", stranger, settings()), api("POST", stranger, path=f"{PATH}/stop-all")):
        assert response.status_code == 409
        assert body_of(response)["error"]["code"] == "not_following"
    assert residents.get(stranger) is None
    assert lists_of(stranger) == set()


# --- input checks ----------------------------------------------------------------------------


def test_a_body_naming_another_user_cannot_write_their_preferences(api):
    attacker, victim = follower(), follower()
    assert api("PUT", victim, settings(topics=["childcare"])).status_code == 200
    victims_before = body_of(api("GET", victim))

    response = api("PUT", attacker, {**settings(topics=["crime-prevention"], area="aoto"), "userId": victim})
    assert response.status_code == 422
    assert body_of(response)["error"]["details"][0]["pointer"] == "/userId"  # at the field nobody asked for
    assert body_of(api("GET", victim)) == victims_before
    assert lists_of(victim) == {"childcare#tateishi", "all#tateishi"}
    assert lists_of(attacker) == set()

    # Whatever a body says, a write lands on the token's user.
    assert api("PUT", attacker, settings(topics=["crime-prevention"], area="aoto")).status_code == 200
    assert lists_of(attacker) == {"crime-prevention#aoto", "all#aoto"}
    assert lists_of(victim) == {"childcare#tateishi", "all#tateishi"}


@pytest.mark.parametrize(
    ("changes", "pointer"),
    [
        ({"topics": "disaster"}, "/topics"),
        ({"topics": ["disaster", "disaster"]}, "/topics"),
        ({"language": "fr"}, "/language"),
        ({"paused": "no"}, "/paused"),
        ({"consent": True}, "/consent"),
        (
            {"consent": {"termsVersion": rules.TERMS_VERSION, "acceptedAt": "2020-01-01T00:00:00Z"}},
            "/consent",
        ),
        ({"birthDate": "1988-04-01"}, "/birthDate"),  # at the field nobody asked for
    ],
)
def test_a_body_that_breaks_the_schema_is_422_and_writes_nothing(api, changes, pointer):
    user_id = follower()
    response = api("PUT", user_id, settings(**changes))
    assert response.status_code == 422
    error = body_of(response)["error"]
    assert error["code"] == "invalid_request"
    assert error["message"] == messages.text("error.check_entries", "ja")  # no Accept-Language: Japanese
    assert pointer in [detail["pointer"] for detail in error["details"]]
    assert residents.get(user_id).preferences_version == 0


def test_a_schema_problem_is_said_in_the_residents_language_at_its_field(api):
    # It was the validator's English ("Additional properties are not allowed ('colour' was
    # unexpected)") at the body's root, whatever the resident's language.
    response = api("PUT", follower(), {**settings(), "colour": "red"}, language="vi")
    [detail] = body_of(response)["error"]["details"]
    assert detail == {"pointer": "/colour", "message": messages.text("problem.additionalProperties", "vi")}


def test_unknown_topics_and_areas_are_422_with_every_problem(api):
    user_id = follower()
    bad = settings(topics=["disaster", "weather"], area="shinjuku", birthYear=2100)
    response = api("PUT", user_id, bad, language="vi")
    assert response.status_code == 422
    error = body_of(response)["error"]
    assert error["code"] == "invalid_preferences"
    assert [(d["pointer"], d["code"]) for d in error["details"]] == [
        ("/topics/1", "unknown_topic"),
        ("/area", "unknown_area"),
        ("/birthYear", "birth_year_out_of_range"),
    ]
    # Each problem said in the resident's language (here Vietnamese), one language only.
    assert error["message"] == messages.text("error.check_entries", "vi")
    assert error["details"][1]["message"] == messages.text("prefs.problem.unknown_area", "vi")
    assert lists_of(user_id) == set()


def test_malformed_json_is_400(api):
    user_id = follower()
    response = api("PUT", user_id, None)
    assert response.status_code == 400
    assert body_of(response)["error"]["code"] == "malformed_json"


def test_the_birth_year_is_never_stored(api):
    import boto3

    user_id = follower()
    assert api("PUT", user_id, settings(birthYear=1988)).status_code == 200
    dynamodb = boto3.client("dynamodb")
    item = dynamodb.get_item(
        TableName=Resident.Meta.table_name, Key={"line_user_id": {"S": user_id}}, ConsistentRead=True
    )["Item"]
    entries = [
        dynamodb.get_item(
            TableName=SendListEntry.Meta.table_name,
            Key={"segment": {"S": segment}, "line_user_id": {"S": user_id}},
            ConsistentRead=True,
        )["Item"]
        for segment in lists_of(user_id)
    ]
    for stored in (item, *entries):
        text = json.dumps(stored)
        assert "1988" not in text
        assert "birth" not in text.lower()
    assert item["age_band"] == {"S": residents.get(user_id).age_band}


# --- authentication --------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["GET", "PUT", "POST"])
def test_no_token_is_401(api, method):
    path = f"{PATH}/stop-all" if method == "POST" else PATH
    response = api(method, None, settings() if method == "PUT" else None, path=path, language="ko-KR")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    error = body_of(response)["error"]
    assert error["code"] == "unauthorized"
    assert error["message"] == messages.text("error.line_login", "ko")


def test_expired_wrong_audience_forged_or_malformed_tokens_are_401_and_write_nothing(api, mint):
    user_id = follower()
    expired = mint(user_id, ttl=-1)
    other_channel = mint(user_id, aud="9999999999")
    header, payload, _ = mint(user_id).split(".")
    forged = f"{header}.{payload}.AAAA"
    for token in (expired, other_channel, forged, "not-a-jwt"):
        response = api("PUT", None, settings(), token=token)
        assert response.status_code == 401, token
        assert body_of(response)["error"]["code"] == "unauthorized"
    assert residents.get(user_id).preferences_version == 0
    assert lists_of(user_id) == set()


def test_basic_or_empty_authorization_is_401(client):
    for value in ("Basic abc", "Bearer", "Bearer a b"):
        response = client.http.get(PATH, headers={"Authorization": value})
        assert response.status_code == 401


def test_a_verified_token_is_not_verified_again_until_it_expires(api, mint, sandbox):
    from chalicelib.adapters import line_login

    user_id = follower()
    token = mint(user_id, ttl=120)
    for _ in range(3):
        assert api("GET", None, token=token).status_code == 200
    assert len(sandbox.requests("/oauth2/v2.1/verify")) == 1

    identity = line_login.verify_id_token(token)
    assert identity.user_id == user_id
    # Past its expiry the cached answer is not used, and LINE's fresh answer is checked for expiry too.
    with pytest.raises(line_login.InvalidIdToken):
        line_login.verify_id_token(token, now=identity.expires_at + 1)
    assert len(sandbox.requests("/oauth2/v2.1/verify")) == 2


def test_when_line_login_cannot_be_reached_the_answer_is_503(api, mint, sandbox):
    user_id = follower()
    sandbox.fault("/oauth2/v2.1/verify", status=500)
    response = api("GET", user_id)
    assert response.status_code == 503
    assert body_of(response)["error"]["code"] == "auth_unavailable"
    assert response.headers["Retry-After"]
    assert api("GET", user_id).status_code == 200


# --- concurrency -----------------------------------------------------------------------------


def test_a_write_that_lost_a_race_is_recomputed_on_top_of_the_winner():
    user_id = follower()
    store.update(user_id, lambda p: rules.from_document(settings(), p, datetime.now(UTC)))
    rounds = []

    def change(prefs: rules.Preferences) -> rules.Preferences:
        rounds.append(prefs.area)
        if len(rounds) == 1:
            # Another screen saves a new area while this change is being computed.
            store.update(user_id, lambda p: rules.with_area(p, "kanamachi"))
        return rules.with_topics(prefs, ["health"])

    stored = store.update(user_id, change)
    assert rounds == ["tateishi", "kanamachi"]
    assert stored.preferences.area == "kanamachi"
    assert lists_of(user_id) == {"health#kanamachi", "all#kanamachi"}


@pytest.mark.parametrize(
    ("wrong", "status"),
    [
        ({}, 200),  # the same answer, fitting: accepted (so the others fail for what they change)
        ({"aud": "9999999999"}, 401),
        ({"iss": "https://evil.example"}, 401),
        ({"sub": "not-a-line-user"}, 401),
        ({"exp": 1_000_000_000}, 401),
    ],
)
def test_a_verify_answer_that_does_not_fit_is_refused_even_with_200(api, mint, sandbox, wrong, status):
    """Defence in depth: what the verify endpoint answers is checked, not just its status."""
    from chalicelib.config import get_settings

    user_id = follower()
    now = int(time.time())
    claims = {
        "iss": "https://access.line.me",
        "sub": user_id,
        "aud": get_settings().line_login_channel_id,
        "exp": now + 600,
        "iat": now,
        **wrong,
    }
    sandbox.fault("/oauth2/v2.1/verify", status=200, body=claims)
    response = api("GET", None, token=mint(user_id))
    assert response.status_code == status
    assert len(sandbox.requests("/oauth2/v2.1/verify")) == 1
