"""A small JSON Schema evaluator for the hot path, exact for the keywords it knows.

Importing jsonschema costs ~50 ms, a sixth of the LINE webhook's whole cold start
(bench/coldstart.py). The webhook's schema needs only a handful of keywords, so this
evaluates those, with jsonschema's semantics and messages, and refuses at load time any
schema that uses anything else: such a schema goes to jsonschema instead (see
`schemas.problems`). A property-based test holds the two to the same answers.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import cache
from typing import Any, NamedTuple


class Problem(NamedTuple):
    path: tuple[Any, ...]  # where in the document
    message: str  # jsonschema's wording
    keyword: str  # the schema keyword that failed
    expected: Any  # that keyword's value in the schema; for `required`, the missing property


_ANNOTATIONS = {"$schema", "$id", "$comment", "title", "description", "examples", "default", "$defs"}
_KEYWORDS = {
    "$ref", "type", "enum", "const", "required", "properties", "items", "allOf", "if", "then", "else",
    "pattern", "minLength", "maxLength", "minimum", "maximum", "minItems", "maxItems",
}  # fmt: skip


def supports(schema: Any) -> bool:
    """Whether every keyword anywhere in `schema` is one this evaluator implements."""
    if isinstance(schema, bool):
        # `false` is left to jsonschema: its error for a false subschema carries no path, and
        # the two must answer alike.
        return schema
    if not isinstance(schema, dict) or not set(schema) <= _KEYWORDS | _ANNOTATIONS:
        return False
    ref = schema.get("$ref")
    if ref is not None and not (isinstance(ref, str) and ref.startswith("#/$defs/")):
        return False
    children = [
        *schema.get("$defs", {}).values(),
        *schema.get("properties", {}).values(),
        *schema.get("allOf", []),
    ]
    children += [schema[key] for key in ("items", "if", "then", "else") if key in schema]
    return all(supports(child) for child in children)


class LeanValidator:
    def __init__(self, schema: dict[str, Any]) -> None:
        if not supports(schema):
            raise ValueError("schema uses keywords the lean validator does not implement")
        self._root = schema

    def iter_problems(self, instance: Any) -> Iterator[Problem]:
        yield from self._check(instance, self._root, ())

    def is_valid(self, instance: Any, schema: Any) -> bool:
        return next(self._check(instance, schema, ()), None) is None

    def _check(self, instance: Any, schema: Any, path: tuple[Any, ...]) -> Iterator[Problem]:
        if schema is True:
            return
        if "$ref" in schema:
            yield from self._check(
                instance, self._root["$defs"][schema["$ref"].removeprefix("#/$defs/")], path
            )
        if "type" in schema:
            types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
            if not any(_is_type(instance, name) for name in types):
                names = ", ".join(repr(name) for name in types)
                yield Problem(path, f"{instance!r} is not of type {names}", "type", schema["type"])
        if "enum" in schema and not any(_equal(instance, option) for option in schema["enum"]):
            yield Problem(path, f"{instance!r} is not one of {schema['enum']!r}", "enum", schema["enum"])
        if "const" in schema and not _equal(instance, schema["const"]):
            yield Problem(path, f"{schema['const']!r} was expected", "const", schema["const"])
        if isinstance(instance, dict):
            yield from self._object(instance, schema, path)
        if isinstance(instance, list):
            yield from self._array(instance, schema, path)
        if isinstance(instance, str):
            yield from _string(instance, schema, path)
        if isinstance(instance, int | float) and not isinstance(instance, bool):
            yield from _number(instance, schema, path)
        for subschema in schema.get("allOf", []):
            yield from self._check(instance, subschema, path)
        if "if" in schema:
            branch = "then" if self.is_valid(instance, schema["if"]) else "else"
            if branch in schema:
                yield from self._check(instance, schema[branch], path)

    def _object(
        self, instance: dict[str, Any], schema: dict[str, Any], path: tuple[Any, ...]
    ) -> Iterator[Problem]:
        for name, subschema in schema.get("properties", {}).items():
            if name in instance:
                yield from self._check(instance[name], subschema, (*path, name))
        for name in schema.get("required", []):
            if name not in instance:
                yield Problem(path, f"{name!r} is a required property", "required", name)

    def _array(self, instance: list[Any], schema: dict[str, Any], path: tuple[Any, ...]) -> Iterator[Problem]:
        if "items" in schema:
            for index, item in enumerate(instance):
                yield from self._check(item, schema["items"], (*path, index))
        yield from _lengths(instance, len(instance), schema, path, "minItems", "maxItems")


def _string(instance: str, schema: dict[str, Any], path: tuple[Any, ...]) -> Iterator[Problem]:
    if "pattern" in schema and not _regex(schema["pattern"]).search(instance):
        yield Problem(
            path, f"{instance!r} does not match {schema['pattern']!r}", "pattern", schema["pattern"]
        )
    yield from _lengths(instance, len(instance), schema, path, "minLength", "maxLength")


def _lengths(
    instance: Any, size: int, schema: dict[str, Any], path: tuple[Any, ...], low: str, high: str
) -> Iterator[Problem]:
    if low in schema and size < schema[low]:
        wording = "should be non-empty" if schema[low] == 1 else "is too short"
        yield Problem(path, f"{instance!r} {wording}", low, schema[low])
    if high in schema and size > schema[high]:
        wording = "is expected to be empty" if schema[high] == 0 else "is too long"
        yield Problem(path, f"{instance!r} {wording}", high, schema[high])


def _number(instance: float, schema: dict[str, Any], path: tuple[Any, ...]) -> Iterator[Problem]:
    if "minimum" in schema and instance < schema["minimum"]:
        message = f"{instance!r} is less than the minimum of {schema['minimum']!r}"
        yield Problem(path, message, "minimum", schema["minimum"])
    if "maximum" in schema and instance > schema["maximum"]:
        message = f"{instance!r} is greater than the maximum of {schema['maximum']!r}"
        yield Problem(path, message, "maximum", schema["maximum"])


@cache
def _regex(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def _is_type(instance: Any, name: str) -> bool:
    if name == "integer":  # 2020-12: 1.0 is an integer, True is not
        return (isinstance(instance, int) and not isinstance(instance, bool)) or (
            isinstance(instance, float) and instance.is_integer()
        )
    if name == "number":
        return isinstance(instance, int | float) and not isinstance(instance, bool)
    kinds = {"string": str, "boolean": bool, "object": dict, "array": list, "null": type(None)}
    return isinstance(instance, kinds[name])


def _equal(one: Any, two: Any) -> bool:
    """JSON equality: true is not 1, and containers compare element by element."""
    if isinstance(one, bool) or isinstance(two, bool):
        return isinstance(one, bool) and isinstance(two, bool) and one == two
    if isinstance(one, dict) and isinstance(two, dict):
        return one.keys() == two.keys() and all(_equal(one[key], two[key]) for key in one)
    if isinstance(one, list) and isinstance(two, list):
        return len(one) == len(two) and all(_equal(a, b) for a, b in zip(one, two, strict=True))
    return one == two
