"""A form's questions for a page, from its JSON Schema and `x-madoguchi` labels, and back.

`fields(form, language)` lists what to render (kind, label, hint, options, nested parts) in
the page's language, along its fallback chain (the forms label every question in the seven
languages; ja-easy texts keep their ｜漢字《かんじ》 furigana for the templates' `ruby` filter);
`document(form, posted)` turns an urlencoded post into the JSON document the API takes, so
the same schema, the same validation and the same 422 details apply to both. A form's
`notAsked` fields (filled in by the service, e.g. the FAQ entry a chat question was near)
are not on the page.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from markupsafe import Markup, escape

from chalicelib.domain import languages, messages
from chalicelib.domain.digits import decimal_number, typed, typed_code, typed_email, typed_phone, whole_number
from chalicelib.domain.forms import FormDefinition, is_plate_code
from chalicelib.domain.json_text import trim
from chalicelib.domain.submissions import TOKYO
from chalicelib.schemas import WHEN, when_bounds

RADIO_LIMIT = 8  # more options than this: a <select>
ROWS_SHOWN = 3  # entries shown for a list of items (without JavaScript there is no "add another")
TEXTAREA_FROM = 201  # maxLength from which a text is a paragraph
# WCAG 1.3.5: the purpose of inputs about the resident, for autofill.
AUTOCOMPLETE = {"name": "name", "phone": "tel", "email": "email", "postalCode": "postal-code"}


@dataclass
class Field:
    name: str  # the posted name: dotted path, list entries by index (items.0.item)
    pointer: str  # the JSON pointer the API reports problems at (/items/0/item)
    label: str
    kind: str
    required: bool = False
    hint: str = ""
    options: list[tuple[str, str]] = field(default_factory=list)
    parts: list[Field] = field(default_factory=list)  # groups: rows, location, dates
    autocomplete: str = ""
    max_length: int | None = None
    days: tuple[str, str] | None = None  # a date's first and last allowed day (x-when), for the picker
    # Required only after another answer (the schema's if/then): (that question, the answers
    # that make it required), said on the label instead of "optional", which it is not then.
    required_when: tuple[str, str] | None = None
    # One of a group's parts is needed, any of them (the schema's anyOf): none is "optional".
    one_of: bool = False
    max_items: int | None = None  # photos: how many the form takes

    @property
    def id(self) -> str:
        return "f-" + self.name.replace(".", "-")

    @property
    def is_group(self) -> bool:
        return self.kind in ("rows", "row", "location", "dates", "checkboxes", "radios", "boolean")


def fields(form: FormDefinition, language: str) -> list[Field]:
    schema, labels = form.schema, form.meta["labels"]
    required = set(schema.get("required", []))
    made = [
        _field(name, prop, labels.get(name, {}), language, name in required, f"/{name}", name)
        for name, prop in schema["properties"].items()
        if name not in form.not_asked
    ]
    by_name = {f.name: f for f in made}
    for name, (asked, answers) in _required_when(schema).items():
        if name in by_name and asked in by_name:
            names = dict(by_name[asked].options)
            shown = functools.reduce(
                lambda a, b: messages.text("problem.or", language, a=a, b=b),
                (names.get(a, a) for a in answers),
            )
            by_name[name].required_when = (by_name[asked].label, shown)
    for name in _one_of_when(schema):  # an email, or a name and an address, when a reply is wanted
        if name in by_name and not by_name[name].required:
            by_name[name].one_of = True
    return made


def _one_of_when(schema: dict[str, Any]) -> set[str]:
    """Fields of which some are required after an answer ("then": {"anyOf": [...]}): none is
    "optional" then, and the message on sending names which."""
    rules = [schema, *schema.get("allOf", [])]
    return {
        name
        for rule in rules
        for branch in ((rule.get("then") or {}).get("anyOf") or [])
        for name in branch.get("required", [])
    }


def _required_when(schema: dict[str, Any]) -> dict[str, tuple[str, list[str]]]:
    """Fields the schema requires after some answers: {"if": {"properties": {q: {"const": v}}}
    (or {"enum": [v, w]}), "then": {"required": [...]}} -> name -> (q, [v, w])."""
    found: dict[str, tuple[str, list[str]]] = {}
    for rule in [schema, *schema.get("allOf", [])]:
        condition = (rule.get("if") or {}).get("properties") or {}
        if len(condition) != 1:
            continue
        [(asked, test)] = condition.items()
        answers = [test["const"]] if "const" in test else test.get("enum")
        if not answers:
            continue
        for name in (rule.get("then") or {}).get("required", []):
            found[name] = (asked, [str(answer) for answer in answers])
    return found


def _text(label: dict[str, Any], language: str, fallback: str) -> str:
    return languages.pick(label, language) or fallback


def _options(values: list[Any], label: dict[str, Any], language: str) -> list[tuple[str, str]]:
    names = label.get("enumLabels", {})
    return [(str(v), _text(names.get(str(v), {}), language, str(v))) for v in values]


def _field(
    name: str,
    prop: dict[str, Any],
    label: dict[str, Any],
    language: str,
    required: bool,
    pointer: str,
    path: str,
) -> Field:
    made = Field(
        name=path,
        pointer=pointer,
        label=_text(label, language, name),
        kind="text",
        required=required,
        hint=_text(label["help"], language, "") if "help" in label else "",
        autocomplete=AUTOCOMPLETE.get(name, ""),
        max_length=prop.get("maxLength"),
    )
    kind = prop.get("type")
    if "enum" in prop:
        made.options = _options(prop["enum"], label, language)
        made.kind = "radios" if len(made.options) <= RADIO_LIMIT else "select"
    elif kind == "boolean":
        made.kind = "boolean"
    elif kind == "integer":
        made.kind = "integer"
    elif kind == "number":
        made.kind = "number"
    elif kind == "object":
        made.kind = "location" if name == "location" else "row"
        sub_labels = label.get("properties", {})
        sub_required = set(prop.get("required", []))
        made.parts = [
            _field(k, v, sub_labels.get(k, {}), language, k in sub_required, f"{pointer}/{k}", f"{path}.{k}")
            for k, v in prop["properties"].items()
        ]
        if "anyOf" in prop:  # a place by its pin or by its address: neither alone is "optional"
            for part in made.parts:
                part.one_of = True
    elif kind == "array":
        items = prop.get("items", {})
        if name == "photos":
            made.kind = "photos"
            made.max_items = prop.get("maxItems")
        elif "enum" in items:
            made.kind = "checkboxes"
            made.options = _options(items["enum"], label, language)
        else:
            count = min(prop.get("maxItems", ROWS_SHOWN), ROWS_SHOWN)
            made.kind = "rows" if items.get("type") == "object" else "dates"
            made.parts = [
                _field(name, items, label, language, False, f"{pointer}/{i}", f"{path}.{i}")
                for i in range(count)
            ]
    elif prop.get("format") == "date":
        made.kind = "date"
        if WHEN in prop:
            earliest, latest = when_bounds(prop[WHEN], datetime.now(TOKYO).date())
            made.days = (earliest.isoformat(), latest.isoformat())
    elif prop.get("format") == "date-time":
        made.kind = "datetime"
    elif prop.get("format") == "email":
        made.kind = "email"
    elif "phone" in name.lower():
        made.kind = "tel"
    elif name == "postalCode":
        made.kind = "postal"
    elif is_plate_code(name, prop):
        made.kind = "code"
    elif (prop.get("maxLength") or 0) >= TEXTAREA_FROM:
        made.kind = "textarea"
    return made


# --- long forms: one screen for the request, one for the resident's details ----------------------

LONG_FORM = 9  # more questions than this: two screens
# Who the resident is and how to reach them: the second screen of a long form. The form's other
# personal fields (a report's photos and description, a message, a dog's new owner) say what
# the request is, and a walkthrough found them under "About you".
ABOUT_YOU = frozenset({"name", "nameKana", "birthDate", "postalCode", "address", "phone", "email"})


def screens(form: FormDefinition, questions: list[Field]) -> list[list[Field]]:
    """The form's screens: a long form asks about the request first, then who the resident is
    and how to reach them, so each screen is one group of questions."""
    about = [q for q in questions if q.name not in ABOUT_YOU]
    contact = [q for q in questions if q.name in ABOUT_YOU]
    if len(questions) <= LONG_FORM or not about or not contact:
        return [questions]
    return [about, contact]


def screen_key(form: FormDefinition, all_screens: list[list[Field]], index: int) -> str:
    if len(all_screens) == 1:
        return ""
    if index == 0:  # a report is no request ("申し込む内容" over a broken street light)
        return "web.screen_report" if form.is_report else "web.screen_request"
    return "web.screen_you"


def screen_of(all_screens: list[list[Field]]) -> Any:
    """pointer -> the screen its question is on. A rule over the whole form ("a reply needs an
    email or an address") is checked on the last screen, once every answer it reads is given."""
    where = {q.name: i for i, screen in enumerate(all_screens) for q in screen}

    def on(pointer: str) -> int:
        name = pointer.strip("/").split("/", 1)[0]
        return where.get(name, len(all_screens) - 1)

    return on


# --- posted form -> JSON document ----------------------------------------------------------------


def document(form: FormDefinition, posted: dict[str, list[str]], language: str) -> dict[str, Any]:
    """The JSON document for the API from the posted fields; blanks are left out (so a missing
    required answer is reported as missing), numbers are numbers when they read as numbers."""
    found: dict[str, Any] = {}
    for made in fields(form, language):
        value = _value(made, posted)
        if value is not None:
            found[made.name] = value
    return found


def _scalar(made: Field, raw: str) -> Any:
    raw = trim(raw)
    if raw == "":
        return None
    if made.kind == "integer":
        number = whole_number(typed(raw), signed=True)
        return raw if number is None else number
    if made.kind == "number":
        decimal = decimal_number(typed(raw))
        return raw if decimal is None else decimal
    if made.kind == "email":
        return typed_email(raw)
    if made.kind in ("tel", "postal"):
        return typed_phone(raw)
    if made.kind == "code":
        return typed_code(raw)
    if made.kind == "boolean":
        return {"true": True, "false": False}.get(raw, raw)
    if made.kind == "datetime" and len(raw) == 16:  # datetime-local: minutes, no zone; Tokyo time
        return raw + ":00+09:00"
    return raw


def _value(made: Field, posted: dict[str, list[str]]) -> Any:
    if made.kind == "checkboxes":
        chosen = [v for v in posted.get(made.name, []) if v]
        return chosen or None
    if made.kind == "photos":
        ids = [v for raw in posted.get(made.name, []) for v in raw.split() if v]
        return ids or None
    if made.kind in ("rows", "dates"):
        entries = [v for v in (_value(part, posted) for part in made.parts) if v is not None]
        return entries or None
    if made.kind in ("row", "location"):
        parts = {p.name.rsplit(".", 1)[-1]: _value(p, posted) for p in made.parts}
        kept = {k: v for k, v in parts.items() if v is not None}
        return kept or None
    return _scalar(made, (posted.get(made.name) or [""])[0])


# --- JSON document -> what the page shows and prefills --------------------------------------------


def flat_values(document: dict[str, Any]) -> dict[str, list[str]]:
    """The document as posted names -> values, to fill the form in again."""
    flat: dict[str, list[str]] = {}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for key, inner in value.items():
                walk(f"{prefix}.{key}", inner)
        elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            for index, inner in enumerate(value):
                walk(f"{prefix}.{index}", inner)
        elif isinstance(value, list):
            if prefix.rsplit(".", 1)[-1] in ("preferredDates",):
                for index, inner in enumerate(value):
                    flat[f"{prefix}.{index}"] = [str(inner)]
            else:
                flat[prefix] = [str(v) for v in value]
        elif isinstance(value, bool):
            flat[prefix] = ["true" if value else "false"]
        else:
            text = str(value)
            if prefix.endswith("observedAt") and len(text) > 16:
                text = text[:16]
            flat[prefix] = [text]

    for key, value in document.items():
        walk(key, value)
    return flat


def answers(
    form: FormDefinition, document: dict[str, Any], language: str, yes_no: tuple[str, str]
) -> list[tuple[str, Markup]]:
    """(label, shown value) for each answered question, for the check-your-answers page: the
    form's own words (choices) with their furigana, what the resident typed exactly as typed
    (｜葛飾《かつしか》 in a note is not turned into furigana: it is sent as written)."""
    shown = []
    comma = "、" if language in ("ja", "ja-easy", "zh-Hans") else ", "
    for made in fields(form, language):
        if made.name not in document:
            continue
        if made.kind == "photos":  # "2枚", "2 attached": a bare "2" said nothing
            count = messages.text("web.photo_count", language, n=len(document[made.name]))
            shown.append((made.label, escape(count)))
            continue
        shown.append((made.label, _show(made, document[made.name], yes_no, escape(comma))))
    return shown


def _show(made: Field, value: Any, yes_no: tuple[str, str], comma: Markup) -> Markup:
    from chalicelib.web.render import ruby

    names = dict(made.options)

    def one(choice: Any) -> Markup:
        return ruby(names[str(choice)]) if str(choice) in names else escape(str(choice))

    if made.kind == "boolean":
        return ruby(yes_no[0] if value else yes_no[1])
    if made.kind == "checkboxes":
        return comma.join(one(v) for v in value)
    if made.kind == "dates":
        return comma.join(value)
    if made.kind == "rows":
        template = made.parts[0]
        return Markup(" / ").join(
            Markup(" ").join(
                _show(p, entry[p.name.rsplit(".", 1)[-1]], yes_no, comma)
                for p in template.parts
                if p.name.rsplit(".", 1)[-1] in entry
            )
            for entry in value
        )
    if made.kind == "location":
        return Markup(" ").join(
            Markup("{}: {}").format(ruby(p.label), value[k])
            for p in made.parts
            if (k := p.name.rsplit(".", 1)[-1]) in value
        )
    if made.kind == "datetime":
        return escape(str(value)[:16].replace("T", " "))
    return one(value)
