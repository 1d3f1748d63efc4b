"""JSON Schemas (draft 2020-12) and the one way input is checked against them."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

SCHEMA_DIR = Path(__file__).parent


@cache
def validator(name: str) -> Draft202012Validator:
    schema = json.loads((SCHEMA_DIR / f"{name}.json").read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def problems(name: str, document: Any) -> list[dict[str, str]]:
    """Every way `document` breaks schema `name`, as JSON pointer + message, in document order."""
    found = sorted(
        validator(name).iter_errors(document), key=lambda e: [_order(part) for part in e.absolute_path]
    )
    return [{"pointer": _pointer(error.absolute_path), "message": error.message} for error in found]


def _order(part: Any) -> tuple[int, int | str]:
    # Array indexes compare as numbers (2 before 10); keys as text.
    return (0, part) if isinstance(part, int) else (1, str(part))


def _pointer(path: Any) -> str:
    return "".join("/" + str(part).replace("~", "~0").replace("/", "~1") for part in path)
