"""Every schema we ship is itself valid JSON Schema 2020-12 (checked here, not at cold start)."""

from __future__ import annotations

import pytest
from jsonschema import Draft202012Validator

from chalicelib.schemas import SCHEMA_DIR, load


@pytest.mark.parametrize("path", sorted(SCHEMA_DIR.rglob("*.json")), ids=lambda p: p.name)
def test_schema_is_valid_2020_12(path):
    schema = load(str(path.relative_to(SCHEMA_DIR).with_suffix("")))
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(schema)


def test_a_problem_quotes_a_huge_value_only_in_part():
    from chalicelib.schemas import MAX_MESSAGE_CHARS, problems

    found = problems("consultation_booking", {"slot": "x" * 60_000, "mode": "in_person"})
    assert found and all(len(p["message"]) <= MAX_MESSAGE_CHARS for p in found)
    assert any(p["message"].endswith("…") for p in found)
