"""What is wrong with a form submission, said to the resident in their language, field by field.

The wording is the message catalogue's `problem.*` (chalicelib/data/messages/forms.json), the
field's name its label in the form (x-madoguchi labels): both in the seven resident languages,
both through the one fallback chain (domain/languages.py), so a message never mixes languages.
`problems_of` gives catalogue Texts the API writes in the request's language; `explain` writes
them in a page's language.
"""

from __future__ import annotations

import re
from types import SimpleNamespace
from typing import Any, Protocol

from chalicelib.domain import json_text
from chalicelib.domain.messages import Text, localize
from chalicelib.schemas import load, problems


class Questions(Protocol):
    """What the wording needs: a schema and its questions' labels (`meta["labels"]`, as a
    form's x-madoguchi has them): a form, or another resident-facing body (a booking)."""

    @property
    def schema(self) -> dict[str, Any]: ...

    @property
    def meta(self) -> dict[str, Any]: ...


# Schema keyword -> the catalogue text that explains it; any other keyword gets `problem.other`.
_KEYS = {
    "required": "problem.required",
    "minLength": "problem.required",  # an empty answer to a question that needs one
    "type": "problem.type",
    "enum": "problem.enum",
    "maxLength": "problem.maxLength",
    "pattern": "problem.pattern",
    "format": "problem.pattern",
    "minimum": "problem.minimum",
    "maximum": "problem.maximum",
    "maxItems": "problem.maxItems",
    "minItems": "problem.minItems",
    "additionalProperties": "problem.additionalProperties",
    "outside_ward": "problem.outside_ward",
    "untypeable": "problem.untypeable",  # json_text.untypeable: not a schema keyword
}


def problems_with_untypeable(schema: str, document: Any) -> list[dict[str, Any]]:
    """The schema's problems of `document`, and its text nobody types (controls, bidi overrides:
    `json_text.untypeable`) at its pointers, refused on a page as the JSON API refuses them."""
    odd = [{"pointer": p, "keyword": "untypeable", "expected": None} for p in json_text.untypeable(document)]
    return problems(schema, document) + odd


def problems_of(problems: list[dict[str, Any]], form: Questions) -> list[dict[str, Any]]:
    """Schema problems as {"pointer", "message"} pairs a resident can act on, the message a
    catalogue Text not yet written in any language.

    A missing field is reported at its own pointer (not its parent's) and named by its own
    label (a row's "quantity", not the list's); a missing choice asks to choose, not to type;
    a coordinate outside the ward's bounds says so rather than quoting a number; one field
    broken two ways that read alike is said once.
    """
    explained = []
    said = set()
    for problem in problems:
        pointer, keyword = problem["pointer"], problem["keyword"]
        if keyword == "anyOf" and (branches := _required_branches(problem["expected"])):
            # "an email, or a name and an address": say which, by their labels.
            choices = _either(form, pointer, branches)
            explained.append({"pointer": pointer, "message": Text("problem.fill_in_one", choices=choices)})
            continue
        said_by_validator = problem.get("message", "")  # problems of our own (untypeable) have none
        named = _QUOTED_NAME.match(said_by_validator)
        if keyword == "dependentRequired" and named:  # "'longitude' is a dependency of 'latitude'"
            keyword, pointer = "required", f"{pointer}/{named.group(1)}"
        elif keyword == "additionalProperties" and (extra := _UNEXPECTED.search(said_by_validator)):
            pointer = f"{pointer}/{extra.group(1)}"  # at the field nobody asked for
        elif keyword == "required":
            pointer = f"{pointer}/{problem['expected']}"
        if keyword in ("minimum", "maximum") and pointer.startswith("/location/"):
            keyword = "outside_ward"
        prop, label = _question(form, pointer)
        key = _KEYS.get(keyword, "problem.other")
        if keyword == "x-when":  # schemas.WHEN: a birth date not after today, a collection day not before
            key = f"problem.when_{problem['expected']}"
        if key == "problem.required" and _is_choice(prop):
            key = "problem.choose"
        if keyword in ("format", "pattern") and (prop or {}).get("format") == "date":
            key = "problem.date"  # 2026-02-30, 30/02/2026: which day, and how to write one
        values: dict[str, Any] = {"limit": problem["expected"]}
        if key == "problem.pattern" and isinstance(help_text := (label or {}).get("help"), dict):
            key, values = "problem.pattern_help", {"help": help_text}  # how to write it, not only "wrong"
        elif key in ("problem.type", "problem.minimum", "problem.maximum") and _bounded_number(prop):
            key, values = "problem.number_range", {"low": prop["minimum"], "high": prop["maximum"]}
        if (pointer, key) in said:  # `format` and `pattern` on one email: one message, not two
            continue
        said.add((pointer, key))
        name = label if label else Text("problem.whole_form")
        explained.append({"pointer": pointer, "message": Text(key, label=name, **values)})
    return explained


# jsonschema's wording, the only place it names these (pinned in requirements-dev.txt; a unit
# test breaks on a change): the property a dependentRequired needs, the first unexpected one.
_QUOTED_NAME = re.compile(r"^'([A-Za-z0-9_]+)' is a dependency of ")
_UNEXPECTED = re.compile(r"\('([A-Za-z0-9_]+)'(?:, '[^']*')* (?:was|were) unexpected\)")


def body_problems(schema_name: str, document: Any) -> list[dict[str, Any]]:
    """`problems_of` for a body that is no form, checked against schema `schema_name`."""
    found = problems(schema_name, document)
    return problems_of(found, named_by_fields(load(schema_name))) if found else []


def named_by_fields(schema: dict[str, Any]) -> Questions:
    """A body that is no form (an API's own: a ticket watch, a staff action) as Questions whose
    labels are its field names, the same in every language: its problems are then said in the
    caller's language ("「ahead」は5以下にしてください。"), not in the validator's English."""
    return SimpleNamespace(schema=schema, meta={"labels": _field_names(schema.get("properties", {}))})


def _field_names(properties: dict[str, Any]) -> dict[str, Any]:
    labels: dict[str, Any] = {}
    for name, prop in properties.items():
        labels[name] = {"ja": name}
        if inner := _inner_properties(prop):
            labels[name]["properties"] = _field_names(inner)
    return labels


def _inner_properties(prop: dict[str, Any]) -> dict[str, Any]:
    """The fields inside a field: its own, or its list entries'."""
    items = prop.get("items")
    return prop.get("properties") or (items.get("properties", {}) if isinstance(items, dict) else {})


def _required_branches(expected: Any) -> list[list[str]] | None:
    """An anyOf whose every branch only requires fields: those fields, branch by branch."""
    if not isinstance(expected, list) or not expected:
        return None
    if not all(isinstance(branch, dict) and set(branch) == {"required"} for branch in expected):
        return None
    return [list(branch["required"]) for branch in expected]


def _either(form: Questions, pointer: str, branches: list[list[str]]) -> Text:
    """「メール」、または「氏名」と「住所」: each branch's labels joined by "and", the branches by "or"."""

    def quoted(name: str) -> Text:
        label = _question(form, f"{pointer}/{name}")[1] or {"ja": name}
        return Text("problem.quoted", label=label)

    def joined(items: list[Any], key: str) -> Any:
        found = items[0]
        for item in items[1:]:
            found = Text(key, a=found, b=item)
        return found

    return joined(
        [joined([quoted(name) for name in branch], "problem.and") for branch in branches], "problem.or"
    )


def explain(
    problems: list[dict[str, Any]], form: Questions, language: str, *, furigana: bool = False
) -> list[dict[str, str]]:
    """`problems_of`, written in `language`: plain text (the API's 422 details, LINE) unless
    `furigana`: then ja-easy keeps its ｜漢字《かんじ》 markup for a page to render as <ruby>."""
    return localize(problems_of(problems, form), language, furigana=furigana)


def _question(form: Questions, pointer: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The schema and the label of the question at `pointer`: the innermost labelled one (a
    row's field, a location's address); the form itself ({}, {}) for the root."""
    prop: dict[str, Any] = {"properties": form.schema.get("properties", {})}
    labels: dict[str, Any] = {"properties": form.meta.get("labels", {})}
    found: tuple[dict[str, Any], dict[str, Any]] = ({}, {})
    for part in pointer.strip("/").split("/") if pointer.strip("/") else []:
        if part.isdigit() and isinstance(prop.get("items"), dict):
            prop = prop["items"]  # an entry of a list: its label is the list's
            continue
        if part not in prop.get("properties", {}) or part not in labels.get("properties", {}):
            break
        prop, labels = prop["properties"][part], labels["properties"][part]
        found = (prop, labels)
    return found


def _bounded_number(prop: dict[str, Any] | None) -> bool:
    """A number with both bounds ("two" for copies, 11 of at most 10): say the range at once."""
    if not prop:
        return False
    return prop.get("type") in ("integer", "number") and "minimum" in prop and "maximum" in prop


def _is_choice(prop: dict[str, Any]) -> bool:
    items = prop.get("items")
    return "enum" in prop or prop.get("type") == "boolean" or (isinstance(items, dict) and "enum" in items)
