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
