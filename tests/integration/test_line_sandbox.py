"""Tests of the LINE Messaging API sandbox (devstack/line_sandbox.py), over real HTTP."""

from __future__ import annotations

import base64
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from linebot.v3.messaging import (
    ApiClient,
    Configuration,
    MessagingApi,
    MessagingApiBlob,
    PushMessageRequest,
    TextMessage,
)
from linebot.v3.messaging.exceptions import ApiException

# Until the pytest config sets pythonpath, make the repo root importable for `devstack`.
from devstack.line_sandbox import LineSandbox
from tests.integration.sandbox_session import sandbox_session

TOKEN = "test-access-token"
USER = "U" + "0123456789abcdef" * 2
TEXT = [{"type": "text", "text": "hello"}]
PUSH = "/v2/bot/message/push"
AUTH_FAILED = "Authentication failed. Confirm that the access token in the authorization header is valid."


@pytest.fixture(scope="module")
def sandbox() -> Iterator[LineSandbox]:
    sandbox = LineSandbox(port=0, access_token=TOKEN)
    sandbox.start()
    yield sandbox
    sandbox.stop()


@pytest.fixture(autouse=True)
def _reset(sandbox: LineSandbox) -> None:
    assert requests.post(f"{sandbox.base_url}/__sandbox/reset", timeout=5).status_code == 200


@pytest.fixture
def api(sandbox: LineSandbox) -> Iterator[requests.Session]:
    """A session that talks to the sandbox with the right token; pass paths, not URLs."""
    session = sandbox_session(sandbox.base_url, TOKEN)
    yield session
    session.close()


def control(sandbox: LineSandbox, path: str, body: object | None = None) -> requests.Response:
    url = f"{sandbox.base_url}/__sandbox/{path}"
    if body is None:
        return requests.get(url, timeout=5)
    return requests.post(url, json=body, timeout=5)


def logged(sandbox: LineSandbox, path: str | None = None) -> list[dict]:
    params = {"path": path} if path else None
    return requests.get(f"{sandbox.base_url}/__sandbox/requests", params=params, timeout=5).json()["requests"]


def usage(api: requests.Session) -> int:
    return api.get("/v2/bot/message/quota/consumption").json()["totalUsage"]


def push(api: requests.Session, retry_key: str | None = None) -> requests.Response:
    headers = {"X-Line-Retry-Key": retry_key} if retry_key else {}
    return api.post(PUSH, json={"to": USER, "messages": TEXT}, headers=headers)


# --- authentication and common headers -------------------------------------------------------


def test_start_on_port_zero_uses_the_bound_port(sandbox: LineSandbox) -> None:
    assert sandbox.port != 0
    assert sandbox.base_url == f"http://127.0.0.1:{sandbox.port}"


@pytest.mark.parametrize("authorization", [None, "Bearer wrong-token", f"Basic {TOKEN}"])
def test_requests_without_the_right_token_get_401(sandbox: LineSandbox, authorization: str | None) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    response = requests.post(
        sandbox.base_url + PUSH, json={"to": USER, "messages": TEXT}, headers=headers, timeout=5
    )
    assert response.status_code == 401
    assert response.json() == {"message": AUTH_FAILED}
    assert len(response.headers["x-line-request-id"]) == 32
    assert [entry["status"] for entry in logged(sandbox)] == [401]


def test_every_response_has_a_fresh_request_id(api: requests.Session) -> None:
    ids = {push(api).headers["x-line-request-id"] for _ in range(3)}
    ids.add(api.get("/v2/bot/no-such-endpoint").headers["x-line-request-id"])
    assert len(ids) == 4
    assert all(uuid.UUID(hex=request_id).hex == request_id for request_id in ids)


def test_unknown_path_is_404_and_wrong_method_is_405(api: requests.Session, sandbox: LineSandbox) -> None:
    assert api.get("/v2/bot/no-such-endpoint").status_code == 404
    assert api.get("/v2/bot/no-such-endpoint").json() == {"message": "Not found"}
    assert api.get(PUSH).status_code == 405
    assert control(sandbox, "nothing-here").status_code == 404
    assert requests.delete(f"{sandbox.base_url}/__sandbox/reset", timeout=5).status_code == 405


# --- reply -----------------------------------------------------------------------------------


def test_reply_token_works_once(api: requests.Session) -> None:
    body = {"replyToken": "token-1", "messages": TEXT * 2, "notificationDisabled": True}
    first = api.post("/v2/bot/message/reply", json=body)
    assert first.status_code == 200
    sent = first.json()["sentMessages"]
    assert len(sent) == 2
    assert all(message["id"].isdigit() and message["quoteToken"] for message in sent)

    second = api.post("/v2/bot/message/reply", json=body)
    assert second.status_code == 400
    assert second.json() == {"message": "Invalid reply token"}


def test_expired_reply_tokens_are_rejected(api: requests.Session, sandbox: LineSandbox) -> None:
    assert control(sandbox, "reply-tokens/invalid", {"tokens": ["stale"]}).status_code == 200
    for token in ["stale", "expired-abc"]:
        response = api.post("/v2/bot/message/reply", json={"replyToken": token, "messages": TEXT})
        assert response.status_code == 400
        assert response.json() == {"message": "Invalid reply token"}
    assert (
        api.post("/v2/bot/message/reply", json={"replyToken": "fresh", "messages": TEXT}).status_code == 200
    )


def test_reply_is_free(api: requests.Session) -> None:
    api.post("/v2/bot/message/reply", json={"replyToken": "t", "messages": TEXT})
    assert usage(api) == 0


# --- push, multicast, narrowcast, broadcast --------------------------------------------------


def test_push_returns_sent_messages(api: requests.Session) -> None:
    response = api.post(PUSH, json={"to": USER, "messages": TEXT * 3})
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    sent = response.json()["sentMessages"]
    assert len(sent) == 3
    assert len({message["id"] for message in sent}) == 3


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        ("/v2/bot/message/multicast", {"to": [USER, USER.replace("0", "1")], "messages": TEXT}, 200),
        ("/v2/bot/message/broadcast", {"messages": TEXT}, 200),
        ("/v2/bot/message/narrowcast", {"messages": TEXT}, 202),
    ],
)
def test_multicast_broadcast_narrowcast(api: requests.Session, path: str, body: dict, status: int) -> None:
    response = api.post(path, json=body)
    assert response.status_code == status
    assert response.json() == {}


def test_multicast_with_501_recipients_is_400(api: requests.Session) -> None:
    to = [f"U{i:032x}" for i in range(501)]
    response = api.post("/v2/bot/message/multicast", json={"to": to, "messages": TEXT})
    assert response.status_code == 400
    assert response.json() == {
        "message": "The request body has 1 error(s)",
        "details": [{"message": "Size must be between 1 and 500", "property": "to"}],
    }
    assert api.post("/v2/bot/message/multicast", json={"to": to[:500], "messages": TEXT}).status_code == 200


@pytest.mark.parametrize("messages", [TEXT * 6, [], None])
def test_wrong_number_of_messages_is_400(api: requests.Session, messages: list | None) -> None:
    response = api.post("/v2/bot/message/multicast", json={"to": [USER], "messages": messages})
    assert response.status_code == 400
    assert response.json() == {
        "message": "The request body has 1 error(s)",
        "details": [{"message": "Size must be between 1 and 5", "property": "messages"}],
    }


def test_message_without_type_and_push_without_to_are_400(api: requests.Session) -> None:
    response = api.post(PUSH, json={"to": "", "messages": [{"text": "no type"}]})
    assert response.status_code == 400
    assert response.json() == {
        "message": "The request body has 2 error(s)",
        "details": [
            {"message": "must be specified", "property": "messages[0].type"},
            {"message": "must be specified", "property": "to"},
        ],
    }


def _with_button(label: str, data: str = "action=x") -> dict:
    item = {"type": "action", "action": {"type": "postback", "label": label, "data": data}}
    return {"type": "text", "text": "choose", "quickReply": {"items": [item]}}


def test_messages_over_lines_limits_are_400_like_the_platform(api: requests.Session) -> None:
    """What the real API refuses: a reply cut off by a limit is a resident answered with nothing."""
    too_many = {
        "type": "text",
        "text": "x",
        "quickReply": {"items": _with_button("a")["quickReply"]["items"] * 14},
    }
    cases = {
        "messages[0].text": {"type": "text", "text": "あ" * 5001},
        "messages[0].altText": {"type": "flex", "altText": "a" * 1501, "contents": {}},
        "messages[0].quickReply.items": too_many,
        "messages[0].quickReply.items[0].action.label": _with_button("Report illegal dumping here"),
        "messages[0].quickReply.items[0].action.data": _with_button("ok", data="d" * 301),
    }
    for prop, message in cases.items():
        response = api.post(PUSH, json={"to": "U" + "0" * 32, "messages": [message]})
        assert response.status_code == 400, prop
        assert prop in [detail["property"] for detail in response.json()["details"]], prop


def test_limits_count_text_in_utf16_and_labels_in_graphemes(api: requests.Session) -> None:
    nepali = "नेपाली" * 6 + "का" * 2  # 20 graphemes, 40 code points: LINE counts what a reader sees
    emoji = "🍎" * 2500  # 5,000 UTF-16 code units
    for message in (_with_button(nepali), {"type": "text", "text": emoji}):
        response = api.post(PUSH, json={"to": "U" + "0" * 32, "messages": [message]})
        assert response.status_code == 200, response.json()
    response = api.post(PUSH, json={"to": "U" + "0" * 32, "messages": [_with_button(nepali + "का")]})
    assert response.status_code == 400
    response = api.post(
        PUSH, json={"to": "U" + "0" * 32, "messages": [{"type": "text", "text": emoji + "a"}]}
    )
    assert response.status_code == 400


def test_malformed_json_is_400(api: requests.Session) -> None:
    response = api.post(PUSH, data=b"{not json", headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.json() == {"message": "The request body could not be parsed as JSON"}


# --- retry keys ------------------------------------------------------------------------------


def test_retry_key_must_be_a_uuid(api: requests.Session) -> None:
    response = push(api, retry_key="not-a-uuid")
    assert response.status_code == 400
    assert response.json() == {"message": "The value of the X-Line-Retry-Key header is invalid"}


def test_retry_of_an_accepted_push_is_409(api: requests.Session) -> None:
    key = str(uuid.uuid4())
    first = push(api, key)
    assert first.status_code == 200

    again = push(api, key)
    assert again.status_code == 409
    assert again.json() == {
        "message": "The retry key is already accepted",
        "sentMessages": first.json()["sentMessages"],
    }
    assert again.headers["x-line-accepted-request-id"] == first.headers["x-line-request-id"]
    assert again.headers["x-line-request-id"] != first.headers["x-line-request-id"]
    assert usage(api) == 1


def test_retry_of_an_accepted_multicast_is_409_without_sent_messages(api: requests.Session) -> None:
    key = str(uuid.uuid4())
    body = {"to": [USER], "messages": TEXT}
    assert (
        api.post("/v2/bot/message/multicast", json=body, headers={"X-Line-Retry-Key": key}).status_code == 200
    )
    again = api.post("/v2/bot/message/multicast", json=body, headers={"X-Line-Retry-Key": key})
    assert again.status_code == 409
    assert again.json() == {"message": "The retry key is already accepted"}


def test_retry_after_an_injected_500_succeeds(api: requests.Session, sandbox: LineSandbox) -> None:
    assert control(sandbox, "faults", {"path": PUSH, "status": 500}).status_code == 201
    key = str(uuid.uuid4())
    failed = push(api, key)
    assert failed.status_code == 500
    assert failed.json() == {"message": "Internal Server Error"}

    retried = push(api, key)
    assert retried.status_code == 200
    assert push(api, key).headers["x-line-accepted-request-id"] == retried.headers["x-line-request-id"]
    assert usage(api) == 1


def test_concurrent_pushes_with_the_same_key_are_accepted_once(
    api: requests.Session, sandbox: LineSandbox
) -> None:
    key = str(uuid.uuid4())

    def push_in_own_session(_: int) -> int:
        # Plain requests.post: a shared requests.Session is not thread-safe.
        response = requests.post(
            sandbox.base_url + PUSH,
            json={"to": USER, "messages": TEXT},
            headers={"Authorization": f"Bearer {TOKEN}", "X-Line-Retry-Key": key},
            timeout=10,
        )
        return response.status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(push_in_own_session, range(8)))
    assert sorted(statuses) == [200] + [409] * 7
    assert usage(api) == 1


# --- faults ----------------------------------------------------------------------------------


def test_429_fault_is_used_up_then_requests_succeed(api: requests.Session, sandbox: LineSandbox) -> None:
    fault = {"path": "/v2/bot/message/*", "status": 429, "count": 2, "headers": {"Retry-After": "1"}}
    assert control(sandbox, "faults", fault).json() == {"ok": True}

    for _ in range(2):
        response = push(api)
        assert response.status_code == 429
        assert response.json() == {"message": "Too Many Requests"}
        assert response.headers["Retry-After"] == "1"
    assert push(api).status_code == 200
    assert [entry["status"] for entry in logged(sandbox, PUSH)] == [429, 429, 200]


def test_delete_ends_every_fault_and_keeps_the_log(api: requests.Session, sandbox: LineSandbox) -> None:
    """A walkthrough: after "fixing the cause" a moved-back message failed again on a fault of
    count 50, and only a reset (which also empties the log) ended it."""
    control(sandbox, "faults", {"path": PUSH, "status": 500, "count": 50})
    assert push(api).status_code == 500
    cleared = requests.delete(f"{sandbox.base_url}/__sandbox/faults", timeout=5)
    assert cleared.status_code == 200 and cleared.json() == {"cleared": 1}
    assert push(api).status_code == 200
    assert [entry["status"] for entry in logged(sandbox, PUSH)] == [500, 200]


def test_fault_only_matches_its_method_and_path(api: requests.Session, sandbox: LineSandbox) -> None:
    control(
        sandbox, "faults", {"path": "/v2/bot/profile/*", "method": "get", "status": 503, "body": {"x": 1}}
    )
    assert push(api).status_code == 200
    response = api.get(f"/v2/bot/profile/{USER}")
    assert response.status_code == 503
    assert response.json() == {"x": 1}
    assert api.get(f"/v2/bot/profile/{USER}").status_code == 200


def test_delay_fault_delays_then_handles_normally(api: requests.Session, sandbox: LineSandbox) -> None:
    control(sandbox, "faults", {"path": PUSH, "delay": 0.3})
    started = time.monotonic()
    response = push(api)
    assert time.monotonic() - started >= 0.3
    assert response.status_code == 200
    started = time.monotonic()
    push(api)
    assert time.monotonic() - started < 0.3


def test_skip_lets_requests_through_before_the_fault_fires(
    api: requests.Session, sandbox: LineSandbox
) -> None:
    control(sandbox, "faults", {"path": PUSH, "status": 500, "skip": 2})
    assert [push(api).status_code for _ in range(4)] == [200, 200, 500, 200]
    assert [entry["accepted"] for entry in logged(sandbox, PUSH)] == [True, True, False, True]


def test_a_fault_after_handling_delivers_but_answers_the_failure(
    api: requests.Session, sandbox: LineSandbox
) -> None:
    multicast = "/v2/bot/message/multicast"
    body = {"to": [USER, USER.replace("0", "2")], "messages": TEXT}
    control(sandbox, "faults", {"path": multicast, "status": 500, "phase": "after"})
    key = str(uuid.uuid4())
    lost = api.post(multicast, json=body, headers={"X-Line-Retry-Key": key})
    assert lost.status_code == 500
    assert usage(api) == 2  # delivered and counted: each recipient is one message
    retried = api.post(multicast, json=body, headers={"X-Line-Retry-Key": key})
    assert retried.status_code == 409
    assert retried.headers["x-line-accepted-request-id"] == lost.headers["x-line-request-id"]
    entries = logged(sandbox, multicast)
    assert [(entry["status"], entry["accepted"]) for entry in entries] == [(500, True), (409, False)]
    assert entries[0]["at"] <= entries[1]["at"]
    assert usage(api) == 2


@pytest.mark.parametrize(
    "fault",
    [
        {},
        {"path": PUSH, "status": 500, "skip": -1},
        {"path": PUSH, "status": 500, "phase": "during"},
        {"path": PUSH, "delay": 1, "phase": "after"},
        {"path": "no-slash", "status": 500},
        {"path": PUSH, "status": 700},
        {"path": PUSH, "status": 500, "count": 0},
        {"path": PUSH, "delay": -1},
        {"path": PUSH},
        {"path": PUSH, "status": 500, "colour": "red"},
        {"path": PUSH, "status": 500, "headers": {"Retry-After": 1}},
    ],
)
def test_bad_fault_is_400(sandbox: LineSandbox, fault: dict) -> None:
    response = control(sandbox, "faults", fault)
    assert response.status_code == 400
    assert response.json()["details"]


# --- profile, content, quota -----------------------------------------------------------------


def test_profile_default_and_set(api: requests.Session, sandbox: LineSandbox) -> None:
    default = api.get(f"/v2/bot/profile/{USER}")
    assert default.status_code == 200
    assert default.json()["userId"] == USER
    assert default.json()["language"] == "ja"
    assert set(default.json()) == {"displayName", "userId", "pictureUrl", "statusMessage", "language"}

    assert control(sandbox, "profiles", {USER: {"displayName": "Sato", "language": "en"}}).status_code == 200
    profile = api.get(f"/v2/bot/profile/{USER}").json()
    assert profile["displayName"] == "Sato"
    assert profile["language"] == "en"
    assert profile["userId"] == USER


def test_profile_of_a_malformed_user_id_is_404(api: requests.Session, sandbox: LineSandbox) -> None:
    response = api.get("/v2/bot/profile/U123")
    assert response.status_code == 404
    assert response.json() == {"message": "Not found"}
    assert control(sandbox, "profiles", {"U123": {}}).status_code == 400


def test_content_is_a_jpeg(api: requests.Session) -> None:
    response = api.get("/v2/bot/message/123456789/content")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "image/jpeg"
    assert response.content[:2] == b"\xff\xd8"
    assert response.content[-2:] == b"\xff\xd9"


def test_quota_and_consumption(api: requests.Session, sandbox: LineSandbox) -> None:
    assert api.get("/v2/bot/message/quota").json() == {"type": "limited", "value": 200000}
    key = str(uuid.uuid4())
    push(api, key)
    push(api, key)  # 409, not counted
    api.post("/v2/bot/message/multicast", json={"to": [USER] * 3, "messages": TEXT * 2})
    api.post("/v2/bot/message/broadcast", json={"messages": TEXT})  # 0 followers by default
    assert usage(api) == 1 + 3

    control(sandbox, "config", {"followerCount": 10, "quota": 20})
    api.post("/v2/bot/message/narrowcast", json={"messages": TEXT})
    assert usage(api) == 14
    assert api.get("/v2/bot/message/quota").json() == {"type": "limited", "value": 20}
    over = api.post("/v2/bot/message/broadcast", json={"messages": TEXT})
    assert over.status_code == 429
    assert over.json() == {"message": "You have reached your monthly limit."}
    assert usage(api) == 14


# --- request log and reset -------------------------------------------------------------------


def test_request_log_keeps_order_and_filters_by_path(api: requests.Session, sandbox: LineSandbox) -> None:
    push(api)
    api.get(f"/v2/bot/profile/{USER}?hint=1")
    api.post(PUSH, data=b"not json")
    control(sandbox, "requests")  # control calls are not logged

    entries = logged(sandbox)
    assert [(entry["method"], entry["path"], entry["status"]) for entry in entries] == [
        ("POST", PUSH, 200),
        ("GET", f"/v2/bot/profile/{USER}", 200),
        ("POST", PUSH, 400),
    ]
    first = entries[0]
    assert first["body"] == {"to": USER, "messages": TEXT}
    assert first["headers"]["authorization"] == f"Bearer {TOKEN}"
    assert len(first["requestId"]) == 32
    assert entries[1]["query"] == {"hint": ["1"]}
    assert entries[2]["body"] is None
    assert [entry["status"] for entry in logged(sandbox, PUSH)] == [200, 400]


def test_reset_clears_everything(api: requests.Session, sandbox: LineSandbox) -> None:
    key = str(uuid.uuid4())
    push(api, key)
    api.post("/v2/bot/message/reply", json={"replyToken": "once", "messages": TEXT})
    control(sandbox, "profiles", {USER: {"displayName": "Sato"}})
    control(sandbox, "faults", {"path": "/v2/bot/message/quota", "status": 500})

    assert control(sandbox, "reset", {}).json() == {"ok": True}
    assert logged(sandbox) == []
    assert usage(api) == 0
    assert push(api, key).status_code == 200
    assert api.post("/v2/bot/message/reply", json={"replyToken": "once", "messages": TEXT}).status_code == 200
    assert api.get(f"/v2/bot/profile/{USER}").json()["displayName"] != "Sato"
    assert api.get("/v2/bot/message/quota").status_code == 200


# --- the real SDK ----------------------------------------------------------------------------


def test_line_bot_sdk_v3_parses_sandbox_responses(sandbox: LineSandbox) -> None:
    configuration = Configuration(host=sandbox.base_url, access_token=TOKEN)
    key = str(uuid.uuid4())
    request = PushMessageRequest(to=USER, messages=[TextMessage(text="hello")])
    with ApiClient(configuration) as client:
        messaging = MessagingApi(client)
        first = messaging.push_message_with_http_info(request, x_line_retry_key=key)
        assert first.status_code == 200
        assert first.data.sent_messages[0].id.isdigit()

        with pytest.raises(ApiException) as conflict:
            messaging.push_message_with_http_info(request, x_line_retry_key=key)
        assert conflict.value.status == 409
        assert conflict.value.headers["x-line-accepted-request-id"] == first.headers["x-line-request-id"]

        assert messaging.get_profile(USER).language == "ja"
        assert messaging.get_message_quota().value == 200000
        assert messaging.get_message_quota_consumption().total_usage == 1
        content = MessagingApiBlob(client).get_message_content("1")
        assert bytes(content[:2]) == b"\xff\xd8"


# --- LINE Login: ID tokens -------------------------------------------------------------------

CHANNEL = "1234567890"
VERIFY = "/oauth2/v2.1/verify"


def mint(sandbox: LineSandbox, **body: object) -> str:
    response = control(sandbox, "id-tokens", {"sub": USER, "aud": CHANNEL, **body})
    assert response.status_code == 200, response.text
    return response.json()["idToken"]


def verify(sandbox: LineSandbox, **form: str) -> requests.Response:
    # No Authorization header: LINE Login's verify endpoint takes none.
    return requests.post(sandbox.base_url + VERIFY, data=form, timeout=5)


def test_verify_answers_the_claims_of_a_minted_id_token(sandbox: LineSandbox) -> None:
    before = int(time.time())
    token = mint(sandbox, name="Sato", picture="https://profile.line-scdn.net/x", ttl=600)
    response = verify(sandbox, id_token=token, client_id=CHANNEL)
    assert response.status_code == 200
    claims = response.json()
    assert claims["iss"] == "https://access.line.me"
    assert claims["sub"] == USER
    assert claims["aud"] == CHANNEL
    assert before <= claims["iat"] <= time.time()
    assert claims["exp"] == claims["iat"] + 600
    assert (claims["name"], claims["picture"]) == ("Sato", "https://profile.line-scdn.net/x")
    assert response.headers["x-line-request-id"]
    [entry] = logged(sandbox, VERIFY)
    assert entry["body"] == {"id_token": token, "client_id": CHANNEL}
    assert entry["status"] == 200


def test_an_expired_id_token_is_400(sandbox: LineSandbox) -> None:
    response = verify(sandbox, id_token=mint(sandbox, ttl=-1), client_id=CHANNEL)
    assert response.status_code == 400
    assert response.json() == {"error": "invalid_request", "error_description": "IdToken expired."}


def test_an_id_token_for_another_channel_is_400(sandbox: LineSandbox) -> None:
    response = verify(sandbox, id_token=mint(sandbox), client_id="9999999999")
    assert response.status_code == 400
    assert response.json() == {"error": "invalid_request", "error_description": "Invalid IdToken Audience."}


def test_a_tampered_or_foreign_id_token_is_400(sandbox: LineSandbox) -> None:
    header, payload, signature = mint(sandbox).split(".")
    other_user = USER.replace("0", "f")
    forged_payload = (
        base64.urlsafe_b64encode(
            base64.urlsafe_b64decode(payload + "==").replace(USER.encode(), other_user.encode())
        )
        .decode()
        .rstrip("=")
    )
    for token in (f"{header}.{forged_payload}.{signature}", "not-a-token", f"{header}.{payload}."):
        response = verify(sandbox, id_token=token, client_id=CHANNEL)
        assert response.status_code == 400
        assert response.json() == {"error": "invalid_request", "error_description": "Invalid IdToken."}
    # A token minted by another sandbox (another key) is just as foreign.
    with LineSandbox(port=0, access_token=TOKEN) as other:
        foreign = requests.post(
            f"{other.base_url}/__sandbox/id-tokens", json={"sub": USER, "aud": CHANNEL}, timeout=5
        ).json()["idToken"]
    assert (
        verify(sandbox, id_token=foreign, client_id=CHANNEL).json()["error_description"] == "Invalid IdToken."
    )


def test_verify_checks_nonce_and_user_id_when_given(sandbox: LineSandbox) -> None:
    token = mint(sandbox, nonce="n-1")
    assert verify(sandbox, id_token=token, client_id=CHANNEL, nonce="n-1").status_code == 200
    assert verify(sandbox, id_token=token, client_id=CHANNEL, nonce="n-2").json()["error_description"] == (
        "Invalid IdToken Nonce."
    )
    assert verify(sandbox, id_token=token, client_id=CHANNEL, user_id=USER).status_code == 200
    wrong = verify(sandbox, id_token=token, client_id=CHANNEL, user_id=USER.replace("0", "1"))
    assert wrong.json()["error_description"] == "Invalid IdToken Subject Identifier."


def test_verify_needs_both_parameters_and_a_post(sandbox: LineSandbox) -> None:
    token = mint(sandbox)
    for form in ({"client_id": CHANNEL}, {"id_token": token}):
        response = verify(sandbox, **form)
        assert response.status_code == 400
        assert response.json()["error"] == "invalid_request"
    # Form-encoded only, as LINE: the same fields as JSON are not read.
    as_json = requests.post(
        sandbox.base_url + VERIFY, json={"id_token": token, "client_id": CHANNEL}, timeout=5
    )
    assert as_json.status_code == 400
    assert requests.get(sandbox.base_url + VERIFY, timeout=5).status_code == 405


def test_verify_honours_injected_faults(sandbox: LineSandbox) -> None:
    control(sandbox, "faults", {"path": VERIFY, "status": 500})
    token = mint(sandbox)
    assert verify(sandbox, id_token=token, client_id=CHANNEL).status_code == 500
    assert verify(sandbox, id_token=token, client_id=CHANNEL).status_code == 200


@pytest.mark.parametrize(
    "body",
    [
        {"aud": CHANNEL},
        {"sub": "U123", "aud": CHANNEL},
        {"sub": USER},
        {"sub": USER, "aud": CHANNEL, "ttl": "1h"},
        {"sub": USER, "aud": CHANNEL, "ttl": 10**9},
        {"sub": USER, "aud": CHANNEL, "email": "x@example.com"},
        {"sub": USER, "aud": CHANNEL, "name": ""},
    ],
)
def test_bad_id_token_requests_are_400(sandbox: LineSandbox, body: dict) -> None:
    response = control(sandbox, "id-tokens", body)
    assert response.status_code == 400
    assert response.json()["details"]


def test_id_tokens_stay_valid_across_a_reset(sandbox: LineSandbox) -> None:
    token = mint(sandbox)
    control(sandbox, "reset", {})
    assert verify(sandbox, id_token=token, client_id=CHANNEL).status_code == 200
