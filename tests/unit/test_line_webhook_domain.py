"""The LINE webhook request rules (pure domain, no I/O): signatures, order of checks, schema."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib.domain.line_webhook import (
    MAX_BODY_BYTES,
    InvalidWebhook,
    LineEvent,
    check_request,
    sign,
    signature_is_valid,
)

SECRET = "8c570fa6dd201bb328f1c1eac23a96d8"
OTHER_SECRET = "0d9c4b3f7a1e2b5c6d7e8f9a0b1c2d3e"
DESTINATION = "Uaa11bb22cc33dd44ee55ff6677889900"
USER_ID = "U4af4980629f0123456789abcdef01234"
EVENT_ID = "01FZ74A0TDDPYRVKNK77XKC3ZR"


def line_signature(secret: str, body: bytes) -> str:
    """LINE's documented algorithm, written out here independently of the code under test:
    the X-Line-Signature is base64(HMAC-SHA256(key=channel secret, message=raw request body))."""
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def event(event_type: str = "follow", *, mode: str = "active", **overrides: Any) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "type": event_type,
        "mode": mode,
        "timestamp": 1_700_000_000_000,
        "webhookEventId": EVENT_ID,
        "deliveryContext": {"isRedelivery": False},
        "source": {"type": "user", "userId": USER_ID},
        "replyToken": "b60d432864f44d079f6d8efe86cf404b",
    }
    raw.update(overrides)
    return {name: value for name, value in raw.items() if value is not None}


def body_of(*events: dict[str, Any], destination: str = DESTINATION) -> bytes:
    return json.dumps({"destination": destination, "events": list(events)}, ensure_ascii=False).encode()


def signed(body: bytes) -> list[LineEvent]:
    return check_request(SECRET, body, line_signature(SECRET, body))


def rejection(body: bytes, signature: str | None = "sign") -> InvalidWebhook:
    if signature == "sign":
        signature = line_signature(SECRET, body)
    with pytest.raises(InvalidWebhook) as caught:
        check_request(SECRET, body, signature)
    return caught.value


def pointers(error: InvalidWebhook) -> list[str]:
    return [detail["pointer"] for detail in error.details]


# --- signature_is_valid / sign -------------------------------------------------------------------

BODY = body_of(event())


def test_a_body_signed_with_the_channel_secret_is_valid():
    assert signature_is_valid(SECRET, BODY, line_signature(SECRET, BODY)) is True


def test_a_signature_made_with_another_secret_is_invalid():
    assert signature_is_valid(SECRET, BODY, line_signature(OTHER_SECRET, BODY)) is False


@pytest.mark.parametrize("position", [0, len(BODY) // 2, len(BODY) - 1])
def test_changing_one_byte_of_the_body_invalidates_the_signature(position):
    signature = line_signature(SECRET, BODY)
    tampered = bytearray(BODY)
    tampered[position] ^= 0x01
    assert bytes(tampered) != BODY
    assert signature_is_valid(SECRET, bytes(tampered), signature) is False


def test_appending_to_the_body_invalidates_the_signature():
    assert signature_is_valid(SECRET, BODY + b" ", line_signature(SECRET, BODY)) is False


@pytest.mark.parametrize("signature", [None, ""])
def test_a_missing_or_empty_signature_is_invalid(signature):
    assert signature_is_valid(SECRET, BODY, signature) is False


def test_a_missing_signature_is_invalid_even_for_an_empty_body():
    assert signature_is_valid(SECRET, b"", None) is False
    assert signature_is_valid(SECRET, b"", "") is False
    assert signature_is_valid(SECRET, b"", line_signature(SECRET, b"")) is True


@pytest.mark.parametrize(
    "garbage",
    [
        "署名",
        "ü" * 44,
        "\ud800\udfff",  # lone surrogates cannot even be encoded as UTF-8
        "\x00" * 44,
        "🙂",
    ],
)
def test_non_ascii_garbage_in_the_signature_is_invalid_not_an_error(garbage):
    assert signature_is_valid(SECRET, BODY, garbage) is False


def test_the_right_signature_with_non_ascii_appended_is_invalid():
    assert signature_is_valid(SECRET, BODY, line_signature(SECRET, BODY) + "é") is False


def test_a_signature_whose_non_ascii_chars_would_turn_into_question_marks_is_invalid():
    # Base64 never contains "?", so no replacement character can complete a real signature.
    real = line_signature(SECRET, BODY)
    assert signature_is_valid(SECRET, BODY, real[:-1] + "é") is False
    assert signature_is_valid(SECRET, BODY, real[:-1] + "?") is False


def test_the_hex_digest_is_not_accepted_in_place_of_base64():
    hex_signature = hmac.new(SECRET.encode(), BODY, hashlib.sha256).hexdigest()
    assert signature_is_valid(SECRET, BODY, hex_signature) is False


def test_sign_is_lines_documented_algorithm():
    # A vector fixed in the test: HMAC-SHA256 over the exact bytes, base64 with padding.
    assert (
        sign("secret", b"{}")
        == base64.b64encode(hmac.new(b"secret", b"{}", hashlib.sha256).digest()).decode()
    )
    for body in (BODY, b"", "友だち追加".encode(), bytes(range(256))):
        assert sign(SECRET, body) == line_signature(SECRET, body)
        assert len(base64.b64decode(sign(SECRET, body), validate=True)) == 32


def test_sign_depends_on_the_secret_and_the_body():
    assert sign(SECRET, BODY) != sign(OTHER_SECRET, BODY)
    assert sign(SECRET, BODY) != sign(SECRET, BODY + b"\n")


def test_a_non_ascii_channel_secret_is_used_as_utf8():
    secret = "秘密のチャネル"
    assert sign(secret, BODY) == line_signature(secret, BODY)
    assert signature_is_valid(secret, BODY, line_signature(secret, BODY)) is True


# --- check_request: the order of the checks ------------------------------------------------------


def test_an_oversize_body_is_413_even_when_unsigned():
    body = b"x" * (MAX_BODY_BYTES + 1)
    error = rejection(body, signature=None)
    assert (error.status, error.code) == (413, "payload_too_large")


def test_an_oversize_body_is_413_even_when_correctly_signed():
    body = b'{"destination": "' + b"a" * MAX_BODY_BYTES + b'", "events": []}'
    assert len(body) > MAX_BODY_BYTES
    assert rejection(body).status == 413


def test_a_body_of_exactly_the_limit_is_not_too_large():
    # At the limit the next check (the signature) decides.
    body = b" " * MAX_BODY_BYTES
    error = rejection(body, signature="wrong")
    assert error.status == 401


def test_a_bad_signature_is_401_before_the_body_is_parsed():
    for body in (b"not json at all", b"\xff\xfe\xfa", BODY, b""):
        error = rejection(body, signature=line_signature(OTHER_SECRET, body))
        assert (error.status, error.code) == (401, "invalid_signature")
        assert error.details == []


@pytest.mark.parametrize("signature", [None, ""])
def test_a_missing_signature_is_401(signature):
    error = rejection(BODY, signature=signature)
    assert error.status == 401


def test_a_schema_breaking_body_with_a_bad_signature_is_401_not_422():
    body = json.dumps({"events": "nope"}).encode()
    assert rejection(body, signature="bad").status == 401


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"{",
        b"{'destination': 'x'}",
        b'{"events": []',
        b"[1, 2,]",
        b'{"events": []} trailing',
        b"\xff\xfe\x00",  # not UTF-8
        b'{"destination": "\xc3\x28", "events": []}',  # invalid UTF-8 sequence inside a string
    ],
)
def test_a_signed_body_that_is_not_json_or_not_utf8_is_400(body):
    error = rejection(body)
    assert (error.status, error.code) == (400, "malformed_json")
    assert error.message


def test_a_signed_utf16_body_is_not_utf8_and_is_400():
    body = json.dumps({"destination": DESTINATION, "events": []}).encode("utf-16")
    assert rejection(body).status == 400


def test_a_signed_body_with_an_encoded_surrogate_is_not_utf8_and_is_400():
    body = body_of(event("message", message={"id": "1", "type": "text", "text": "SURROGATE"}))
    body = body.replace(b"SURROGATE", b"\xed\xa0\x80")
    with pytest.raises(UnicodeDecodeError):
        body.decode("utf-8")
    assert rejection(body).status == 400


def test_a_signed_deeply_nested_body_is_a_client_error_not_a_crash():
    body = b"[" * 100_000 + b"]" * 100_000
    assert len(body) < MAX_BODY_BYTES
    error = rejection(body)
    assert 400 <= error.status < 500


# --- check_request: the schema -------------------------------------------------------------------


@pytest.mark.parametrize(
    "document",
    [
        [],
        "events",
        None,
        42,
        {},
        {"destination": DESTINATION},
        {"events": []},
        {"destination": DESTINATION, "events": {}},
    ],
)
def test_a_document_of_the_wrong_shape_is_422(document):
    error = rejection(json.dumps(document).encode())
    assert (error.status, error.code) == (422, "invalid_webhook")
    assert error.details
    for detail in error.details:
        assert set(detail) == {"pointer", "message"}
        assert detail["pointer"] == "" or detail["pointer"].startswith("/")
        assert detail["message"]


def test_a_missing_top_level_field_points_at_the_root():
    error = rejection(json.dumps({"destination": DESTINATION}).encode())
    assert pointers(error) == [""]
    assert "events" in error.details[0]["message"]


def test_every_problem_is_reported_with_its_json_pointer():
    events = [
        event(),  # fine
        event(mode="sleeping"),
        event(timestamp="yesterday"),
        event(webhookEventId="short"),
        event(deliveryContext={"isRedelivery": "no"}),
        event(replyToken=""),
        event(source={"type": "user", "userId": "not-a-line-id"}),
    ]
    error = rejection(body_of(*events, destination="Ubadbadbad"))
    assert error.status == 422
    assert sorted(pointers(error)) == sorted(
        [
            "/destination",
            "/events/1/mode",
            "/events/2/timestamp",
            "/events/3/webhookEventId",
            "/events/4/deliveryContext/isRedelivery",
            "/events/5/replyToken",
            "/events/6/source/userId",
        ]
    )


def test_a_missing_required_event_field_points_at_the_event_and_names_the_field():
    error = rejection(body_of(event(), event(webhookEventId=None)))
    assert pointers(error) == ["/events/1"]
    assert "webhookEventId" in error.details[0]["message"]


def test_several_problems_in_one_event_are_each_reported():
    error = rejection(body_of(event(mode="x", timestamp=-1, deliveryContext=None)))
    assert sorted(pointers(error)) == ["/events/0", "/events/0/mode", "/events/0/timestamp"]
    assert any("deliveryContext" in detail["message"] for detail in error.details)


def test_problems_are_listed_in_document_order():
    events = [event() for _ in range(12)]
    events[2] = event(mode="x")
    events[10] = event(mode="y")
    assert pointers(rejection(body_of(*events))) == ["/events/2/mode", "/events/10/mode"]


def test_more_than_100_events_is_422():
    error = rejection(body_of(*[event() for _ in range(101)]))
    assert pointers(error) == ["/events"]
    assert len(signed(body_of(*[event() for _ in range(100)]))) == 100


def test_a_timestamp_must_be_a_non_negative_integer():
    for bad in (-1, 1.5, "1700000000000", True, None):
        raw = event(timestamp=bad) if bad is not None else {**event(), "timestamp": None}
        assert "/events/0/timestamp" in pointers(rejection(body_of(raw))), bad


def test_an_empty_events_list_is_accepted():
    # LINE sends exactly this when the console's "Verify" button is pressed.
    assert signed(body_of()) == []


def test_an_unknown_event_type_is_accepted_without_source_or_reply_token():
    raw = event("membership", source=None, replyToken=None, membership={"type": "joined"})
    [line_event] = signed(body_of(raw))
    assert line_event.type == "membership"
    assert line_event.user_id is None
    assert line_event.reply_token is None
    assert line_event.raw["membership"] == {"type": "joined"}


def test_unknown_fields_are_accepted_and_kept():
    raw = event(newFeature={"x": [1, 2]}, source={"type": "user", "userId": USER_ID, "extra": True})
    document = {"destination": DESTINATION, "events": [raw], "futureTopLevel": 1}
    [line_event] = signed(json.dumps(document).encode())
    assert line_event.raw == raw


@pytest.mark.parametrize("event_type", ["follow", "message", "postback"])
def test_standby_events_need_no_reply_token(event_type):
    [line_event] = signed(body_of(event(event_type, mode="standby", replyToken=None)))
    assert line_event.mode == "standby"
    assert line_event.reply_token is None


@pytest.mark.parametrize("event_type", ["follow", "message", "postback"])
def test_active_events_that_can_be_replied_to_need_a_reply_token(event_type):
    error = rejection(body_of(event(event_type, replyToken=None)))
    assert pointers(error) == ["/events/0"]
    assert "replyToken" in error.details[0]["message"]


def test_unfollow_needs_no_reply_token_but_a_user():
    [line_event] = signed(body_of(event("unfollow", replyToken=None)))
    assert line_event.user_id == USER_ID
    error = rejection(body_of(event("unfollow", replyToken=None, source={"type": "user"})))
    assert pointers(error) == ["/events/0/source"]


def test_a_message_in_a_group_may_name_no_user_but_a_users_own_must():
    group = {"type": "group", "groupId": "C" + "1" * 32}
    [in_group] = signed(
        body_of(event("message", message={"id": "1", "type": "text", "text": "hi"}, source=group))
    )
    assert (in_group.source_type, in_group.user_id) == ("group", None)
    error = rejection(body_of(event("postback", postback={"data": "x"}, source={"type": "user"})))
    assert pointers(error) == ["/events/0/source"]


@pytest.mark.parametrize("mode", ["active", "standby"])
def test_a_follow_needs_a_source_with_a_user_id(mode):
    without_source = rejection(body_of(event(mode=mode, source=None)))
    assert pointers(without_source) == ["/events/0"]
    assert "source" in without_source.details[0]["message"]
    without_user = rejection(body_of(event(mode=mode, source={"type": "user"})))
    assert pointers(without_user) == ["/events/0/source"]
    assert "userId" in without_user.details[0]["message"]


def test_line_event_fields_are_mapped_from_the_raw_event():
    raw = event(
        "message",
        mode="active",
        timestamp=1_462_629_479_859,
        webhookEventId="01H8ZQ3X4N5B6C7D8E9F0G1H2J",
        deliveryContext={"isRedelivery": True},
        replyToken="nHuyWiB7yP5Zw52FIkcQobQuGDXCTA",
        message={"id": "444573844083572737", "type": "text", "text": "ごみの日は？"},
    )
    other = event("unfollow", replyToken=None, source={"type": "user", "userId": "U" + "0" * 32})
    first, second = signed(body_of(raw, other))
    assert first == LineEvent(
        event_id="01H8ZQ3X4N5B6C7D8E9F0G1H2J",
        type="message",
        mode="active",
        timestamp_ms=1_462_629_479_859,
        is_redelivery=True,
        user_id=USER_ID,
        reply_token="nHuyWiB7yP5Zw52FIkcQobQuGDXCTA",
        source_type="user",
        raw=raw,
    )
    assert first.raw["message"]["text"] == "ごみの日は？"
    assert (second.type, second.user_id, second.reply_token, second.is_redelivery) == (
        "unfollow",
        "U" + "0" * 32,
        None,
        False,
    )


def test_events_keep_their_order():
    ids = [f"01H8ZQ3X4N5B6C7D8E9F0G1H{n:02d}" for n in range(5)]
    events = signed(body_of(*[event(webhookEventId=i) for i in ids]))
    assert [e.event_id for e in events] == ids


# --- properties ----------------------------------------------------------------------------------

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(st.binary(max_size=2048))
def test_any_signed_bytes_give_events_or_invalid_webhook(body):
    try:
        events = check_request(SECRET, body, line_signature(SECRET, body))
    except InvalidWebhook as error:
        assert error.status in {400, 422}
    else:
        assert isinstance(events, list)


@FAST
@given(st.binary(max_size=512), st.text(max_size=60))
def test_any_body_with_a_wrong_signature_is_401(body, signature):
    if signature == line_signature(SECRET, body):
        return
    with pytest.raises(InvalidWebhook) as caught:
        check_request(SECRET, body, signature)
    assert caught.value.status == 401


json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5)
    ),
    max_leaves=30,
)
event_types = st.sampled_from(["follow", "unfollow", "message", "postback", "beacon", ""]) | st.text(
    max_size=5
)
almost_events = st.fixed_dictionaries(
    {},
    optional={
        "type": event_types,
        "mode": st.sampled_from(["active", "standby", "other"]),
        "timestamp": st.integers(min_value=-5, max_value=2**53) | json_scalars,
        "webhookEventId": st.just(EVENT_ID) | st.text(max_size=30),
        "deliveryContext": st.fixed_dictionaries({"isRedelivery": st.booleans()}) | json_values,
        "replyToken": st.text(max_size=10),
        "source": st.fixed_dictionaries(
            {"type": st.sampled_from(["user", "group", "x"])},
            optional={"userId": st.just(USER_ID) | st.text(max_size=5)},
        )
        | json_values,
        "extra": json_values,
    },
)
plausible_events = st.fixed_dictionaries(
    {
        "type": st.sampled_from(["follow", "unfollow", "message", "postback", "beacon", "memberJoined"]),
        "mode": st.sampled_from(["active", "standby"]),
        "timestamp": st.integers(min_value=0, max_value=2**53),
        "webhookEventId": st.just(EVENT_ID),
        "deliveryContext": st.fixed_dictionaries({"isRedelivery": st.booleans()}),
        "source": st.fixed_dictionaries({"type": st.just("user"), "userId": st.just(USER_ID)}),
    },
    optional={"replyToken": st.text(min_size=1, max_size=10), "message": json_values},
)
webhook_documents = st.one_of(
    json_values,
    st.fixed_dictionaries(
        {
            "destination": st.just(DESTINATION) | st.text(max_size=5),
            "events": st.lists(almost_events | plausible_events, max_size=4),
        },
        optional={"extra": json_values},
    ),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(webhook_documents)
def test_any_signed_json_document_gives_events_or_invalid_webhook(document):
    body = json.dumps(document, ensure_ascii=False).encode()
    try:
        events = check_request(SECRET, body, line_signature(SECRET, body))
    except InvalidWebhook as error:
        assert error.status in {400, 413, 422}
        if error.status == 422:
            assert error.details
            assert all(d["pointer"] == "" or d["pointer"].startswith("/") for d in error.details)
    else:
        # Accepted means it was a webhook document: every event came through, in order.
        assert isinstance(document, dict)
        assert [e.raw for e in events] == document["events"]
        for line_event in events:
            assert isinstance(line_event, LineEvent)
            assert line_event.event_id == line_event.raw["webhookEventId"]
            assert line_event.mode in {"active", "standby"}
            # A group's or room's member may not have agreed to share their id (the schema).
            if line_event.source_type == "user":
                assert line_event.user_id is not None
            if line_event.type in {"follow", "message", "postback"} and line_event.mode == "active":
                assert line_event.reply_token
