"""JSON Schemas (draft 2020-12) and the one way input is checked against them: `problems()`.

A schema whose keywords the lean evaluator implements is checked by it (no jsonschema
import on the webhook's cold start); any other schema by jsonschema, imported on first use.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from functools import cache
from pathlib import Path
from typing import Any

SCHEMA_DIR = Path(__file__).parent

_Problems = Callable[[Any], Iterable[tuple[Iterable[Any], str]]]


@cache
def load(name: str) -> dict[str, Any]:
    return json.loads((SCHEMA_DIR / f"{name}.json").read_text(encoding="utf-8"))


@cache
def _evaluator(name: str) -> _Problems:
    # The schemas themselves are checked against the meta-schema by a unit test, not on every cold start.
    from chalicelib.schemas.lean import LeanValidator, supports

    schema = load(name)
    if supports(schema):
        return LeanValidator(schema).iter_problems
    from jsonschema import Draft202012Validator

    validator = Draft202012Validator(schema)
    return lambda document: (
        (error.absolute_path, error.message) for error in validator.iter_errors(document)
    )


def problems(name: str, document: Any) -> list[dict[str, str]]:
    """Every way `document` breaks schema `name`, as JSON pointer + message, in document order."""
    found = sorted(((tuple(path), message) for path, message in _evaluator(name)(document)), key=_order)
    return [{"pointer": _pointer(path), "message": message} for path, message in found]


def _order(problem: tuple[tuple[Any, ...], str]) -> list[tuple[int, int | str]]:
    # Array indexes compare as numbers (2 before 10); keys as text.
    return [(0, part) if isinstance(part, int) else (1, str(part)) for part in problem[0]]


def _pointer(path: Iterable[Any]) -> str:
    return "".join("/" + str(part).replace("~", "~0").replace("/", "~1") for part in path)
