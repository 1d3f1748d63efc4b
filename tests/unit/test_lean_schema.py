"""The lean evaluator gives exactly jsonschema's answers for every schema it accepts."""

from __future__ import annotations

import copy

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from chalicelib.schemas import from_jsonschema, load
from chalicelib.schemas.lean import LeanValidator, supports

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 5) | st.floats(-5, 5, allow_nan=False) | st.text(max_size=6),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=4), children, max_size=4)
    ),
    max_leaves=12,
)

KEYWORD_SCHEMAS = [
    {"type": ["integer", "null"], "minimum": 0, "maximum": 3},
    {"type": "number", "minimum": -1.5},
    {"enum": [1, True, "a", None, [1], {"k": False}]},
    {"const": {"a": [1, 2]}},
    {"const": False},
    {
        "type": "array",
        "items": {"type": "string", "minLength": 1, "maxLength": 2},
        "minItems": 1,
        "maxItems": 2,
    },
    {"type": "array", "minItems": 2, "maxItems": 0},
    {"type": "string", "pattern": "^[a-c]+$", "minLength": 2, "maxLength": 0},
    {"required": ["a", "b"], "properties": {"a": {"type": "boolean"}, "c": True}},
    {"if": {"required": ["a"]}, "then": {"required": ["b"]}, "else": {"type": "object", "required": ["c"]}},
    {
        "allOf": [{"type": "object"}, {"properties": {"x": {"$ref": "#/$defs/small"}}}],
        "$defs": {"small": {"maximum": 1}},
    },
]


def both(schema, instance):
    def comparable(problem):
        return ("/".join(map(str, problem.path)), problem.message, problem.keyword, repr(problem.expected))

    lean = sorted(map(comparable, LeanValidator(schema).iter_problems(instance)))
    reference = sorted(
        comparable(from_jsonschema(e)) for e in Draft202012Validator(schema).iter_errors(instance)
    )
    return lean, reference


@pytest.mark.parametrize("schema", KEYWORD_SCHEMAS, ids=lambda s: ",".join(sorted(s)))
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(instance=json_values)
def test_each_keyword_matches_jsonschema(schema, instance):
    lean, reference = both(schema, instance)
    assert lean == reference


def _valid_event(kind: str) -> dict:
    event = {
        "type": kind,
        "mode": "active",
        "timestamp": 1795000000000,
        "webhookEventId": "01JC8Z3M1E8Q4ZK2R5T7V9X1B3",
        "deliveryContext": {"isRedelivery": False},
        "replyToken": "nHuyWiB7yP5Zw52FIkcQobQuGDXCTA",
        "source": {"type": "user", "userId": "U4af4980629d1a4a2b5f8f5b1e2c3d4e5"},
    }
    return event


@st.composite
def mutated_webhooks(draw):
    """Valid webhook bodies with random fields replaced, removed or added, anywhere."""
    body = {
        "destination": "Uaa11bb22cc33dd44ee55ff6677889900",
        "events": [
            _valid_event(draw(st.sampled_from(["follow", "unfollow", "message", "postback", "beacon"])))
            for _ in range(draw(st.integers(0, 3)))
        ],
    }
    for _ in range(draw(st.integers(0, 4))):
        target = body
        while True:
            keys = list(target) if isinstance(target, dict) else list(range(len(target)))
            if not keys:
                break
            key = draw(st.sampled_from(keys))
            if isinstance(target[key], dict | list) and draw(st.booleans()):
                target = target[key]
                continue
            action = draw(st.sampled_from(["replace", "delete", "add"]))
            if action == "replace":
                target[key] = draw(json_values)
            elif action == "delete" and isinstance(target, dict):
                del target[key]
            elif isinstance(target, dict):
                target[draw(st.text(max_size=5))] = draw(json_values)
            break
    return body


@settings(max_examples=400, deadline=None)
@given(document=mutated_webhooks() | json_values)
def test_the_webhook_schema_matches_jsonschema(document):
    lean, reference = both(load("line_webhook"), copy.deepcopy(document))
    assert lean == reference


@pytest.mark.parametrize(
    "schema",
    [
        {"format": "email"},
        {"additionalProperties": False},
        {"$ref": "https://example.com/other.json"},
        {"properties": {"a": {"anyOf": [{"type": "string"}]}}},
        {"items": {"uniqueItems": True}},
    ],
)
def test_schemas_with_other_keywords_are_left_to_jsonschema(schema):
    assert not supports(schema)
    with pytest.raises(ValueError):
        LeanValidator(schema)


def test_the_shipped_webhook_schema_is_lean():
    assert supports(load("line_webhook"))
