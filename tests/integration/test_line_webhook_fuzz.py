"""Signed random bodies thrown at the LINE webhook never get a 5xx (property-based, local stack).

A signed body is what LINE (or whoever holds the channel secret) sends: it passes the signature
check, so everything after it must answer 2xx or a 4xx in the usual shape, never crash.
"""

from __future__ import annotations

import copy
import json
import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib.domain.line_webhook import sign
from tests.integration.conftest import line_event

# Text with what JSON allows and other layers may not: lone surrogates, noncharacters, controls.
odd_text = st.text(
    alphabet=st.characters(codec=None, categories=None)
    | st.sampled_from(["\ud800", "\udfff", "\uffff", "\x00"]),
    max_size=30,
)
scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**320), max_value=10**320)
    | st.floats(allow_nan=True, allow_infinity=True)
    | odd_text
)
json_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(odd_text, children, max_size=5),
    max_leaves=15,
)
EVENT_TYPES = ["follow", "unfollow", "message", "postback", "membership", "beacon"]


@st.composite
def mutated_bodies(draw) -> bytes:
    """A valid webhook body of 1-3 events, with random fields replaced, dropped or added."""
    events = [line_event(draw(st.sampled_from(EVENT_TYPES))) for _ in range(draw(st.integers(1, 3)))]
    document: dict = {"destination": "Uaa11bb22cc33dd44ee55ff6677889900", "events": copy.deepcopy(events)}
    for _ in range(draw(st.integers(0, 4))):
        events_now = document.get("events")
        nested = (
            [event for event in events_now if isinstance(event, dict)] if isinstance(events_now, list) else []
        )
        target = draw(st.sampled_from([document, *nested]))
        key = draw(st.sampled_from(sorted(target) + ["extra"]))
        action = draw(st.sampled_from(["replace", "drop", "add"]))
        if action == "replace":
            target[key] = draw(json_values)
        elif action == "drop":
            target.pop(key, None)
        else:
            target[draw(odd_text)] = draw(json_values)
    text = json.dumps(document, ensure_ascii=draw(st.booleans()), allow_nan=True)
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        # A lone surrogate arrives as the escape \ud800: valid JSON, and valid UTF-8.
        return json.dumps(document, allow_nan=True).encode()


SETTINGS = settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def _post(client, body: bytes):
    return client.http.post(
        "/line/webhook",
        body=body,
        headers={
            "Content-Type": "application/json",
            "X-Line-Signature": sign(os.environ["LINE_CHANNEL_SECRET"], body),
        },
    )


def _assert_answered(response) -> None:
    assert response.status_code < 500, response.body
    if response.status_code >= 400:
        error = json.loads(response.body)["error"]
        assert set(error) == {"code", "message", "details"}


@SETTINGS
@given(body=mutated_bodies())
def test_signed_mutated_bodies_never_get_a_5xx(client, body):
    _assert_answered(_post(client, body))


@SETTINGS
@given(body=st.binary(max_size=200) | json_values.map(lambda v: json.dumps(v, allow_nan=True).encode()))
def test_signed_random_bytes_and_documents_never_get_a_5xx(client, body):
    _assert_answered(_post(client, body))
