"""JSON Schemas (draft 2020-12) and the one way input is checked against them: `problems()`.

A schema whose keywords the lean evaluator implements is checked by it (no jsonschema
import on the webhook's cold start); any other schema by jsonschema, imported on first use.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

from chalicelib.schemas.lean import Problem

SCHEMA_DIR = Path(__file__).parent

_Problems = Callable[[Any], Iterable[Problem]]


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
    from jsonschema import Draft202012Validator, FormatChecker, validators

    checked = validators.extend(Draft202012Validator, {WHEN: _when})
    validator = checked(schema, format_checker=FormatChecker())
    return lambda document: map(from_jsonschema, validator.iter_errors(document))


# Our one keyword, `"x-when"`: a day the calendar bounds, which the schema alone cannot say (it
# moves with the calendar). "past": a date or date-time a person could mean by a birth date or
# when something happened, from 1900 to now. "ahead": a day asked for (a collection day, a
# consultation), from today to a year on. Forms' examples carry their days ahead counted from
# today (forms._fresh_example), so they never go stale.
WHEN = "x-when"
WHEN_VALUES = ("past", "ahead")
EARLIEST_PAST = date(1900, 1, 1)
AHEAD_LIMIT = timedelta(days=365)
CLOCK_SKEW = timedelta(minutes=10)  # a phone's clock a little ahead is not a time in the future


def when_bounds(when: str, today: date) -> tuple[date, date]:
    """The first and last day an `x-when` allows, on `today` (Tokyo)."""
    if when == "past":
        return EARLIEST_PAST, today
    if when == "ahead":
        return today, today + AHEAD_LIMIT
    raise ValueError(f"x-when must be one of {WHEN_VALUES}, not {when!r}")


def _when(validator: Any, when: str, instance: Any, schema: dict[str, Any]) -> Iterable[Any]:
    from jsonschema import ValidationError

    from chalicelib.domain.submissions import TOKYO

    if not isinstance(instance, str):
        return
    now = datetime.now(UTC)
    try:
        if "T" in instance:
            moment = datetime.fromisoformat(instance.replace("Z", "+00:00"))
            if moment.tzinfo is None:
                return  # the schema's pattern refuses it
            day, later = moment.astimezone(TOKYO).date(), moment > now + CLOCK_SKEW
        else:
            day, later = date.fromisoformat(instance), False
    except (ValueError, OverflowError):
        return  # not a date: `format` says so
    earliest, latest = when_bounds(when, now.astimezone(TOKYO).date())
    if not earliest <= day <= latest or (when == "past" and later):
        yield ValidationError(f"{instance!r} is not a day from {earliest} to {latest}")


def from_jsonschema(error: Any) -> Problem:
    """A jsonschema ValidationError as a Problem (for `required`, naming the missing property)."""
    if error.validator is None:  # a `false` schema: jsonschema names no keyword
        return Problem(tuple(error.absolute_path), error.message, "false", False)
    expected = error.validator_value
    if error.validator == "required":
        missing = [name for name in expected if name not in error.instance]
        expected = next((name for name in missing if error.message.startswith(repr(name))), None)
    return Problem(tuple(error.absolute_path), error.message, str(error.validator), expected)


def problems(name: str, document: Any) -> list[dict[str, Any]]:
    """Every way `document` breaks schema `name`, in document order.

    Each is {"pointer", "message", "keyword", "expected"}: the JSON pointer of the value,
    jsonschema's English message, the failing keyword and its value in the schema (for
    `required`, the missing property), from which callers word messages for people.
    """
    found = sorted(_evaluator(name)(document), key=_order)
    return [
        {
            "pointer": _pointer(p.path),
            "message": _short(p.message),
            "keyword": p.keyword,
            "expected": p.expected,
        }
        for p in found
    ]


# jsonschema's messages quote the value: a 60,000-character id must not come back whole.
MAX_MESSAGE_CHARS = 200


def _short(message: str) -> str:
    return message if len(message) <= MAX_MESSAGE_CHARS else message[: MAX_MESSAGE_CHARS - 1] + "…"


def _order(problem: Problem) -> list[tuple[int, int | str]]:
    # Array indexes compare as numbers (2 before 10); keys as text.
    return [(0, part) if isinstance(part, int) else (1, str(part)) for part in problem.path]


def _pointer(path: Iterable[Any]) -> str:
    return "".join("/" + str(part).replace("~", "~0").replace("/", "~1") for part in path)
