"""The form catalogue: each procedure or report is one JSON Schema file plus its metadata.

A form is `chalicelib/schemas/forms/<id>.json`, a draft 2020-12 schema whose top-level
`x-madoguchi` object says what the ward needs to know about it: kind, titles, section,
fee, retention, service target, which fields are personal data, which fields the service
fills in rather than asks (`notAsked`), the label of every field and an example submission.
The catalogue is read once per process and checked as a whole, so a broken file fails loudly
(naming the file) instead of half-working.

What a resident reads (the description, the fee's unit, every label, hint and choice) is
written in all seven resident languages (`TEXT_LANGUAGES`; ja-easy with furigana as
｜漢字《かんじ》); a file missing one fails the catalogue. The ward's own titles stay ja/en (the
residents' titles are the message catalogue's `form.<id>`). The 町 of an `area` question are
not labelled in each file but from chalicelib/data/areas.json (`area_names`), one place.

Pure Python: reads files shipped with the code, nothing else.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

from chalicelib.domain import languages, messages
from chalicelib.domain.residents import LANGUAGES as TEXT_LANGUAGES
from chalicelib.domain.ward import DATA_DIR
from chalicelib.schemas import SCHEMA_DIR, WHEN, load, problems, when_bounds

# The ward's own texts (a form's title and a section's name as staff and digests read them). A
# resident reads the message catalogue's seven-language `form.<id>` and `section.<id>` instead.
WARD_LANGUAGES = ("ja", "en")
KINDS = ("procedure", "report")
FORMS_DIR = SCHEMA_DIR / "forms"
META = "x-madoguchi"

# Every report carries these, so the submission, Open311 and digest code can rely on them.
REPORT_PROPERTIES = ("location", "area", "photos", "description")

_FORM_ID = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
# An address SES delivers to, written one way only: dot-atoms (no quotes, comments or IP
# literals, which write one mailbox several ways), a local part of at most 64, host labels not
# starting or ending with "-", a top-level domain of two or more and none reserved for no mail
# (.invalid, .test, .local, .localhost, .example, .onion, .internal, .alt, .arpa, in any case).
# It ends with (?![\s\S]), not "$": Python's "$" (jsonschema's `pattern` is re.search) also
# matches before a final newline. Every form's `email` and a booking's use it.
EMAIL_PATTERN = (
    r"^(?=[^@]{1,64}@)"
    r"(?![\s\S]*\.(?:[Ii][Nn][Vv][Aa][Ll][Ii][Dd]|[Tt][Ee][Ss][Tt]|[Ll][Oo][Cc][Aa][Ll]|[Ll][Oo][Cc][Aa][Ll][Hh][Oo][Ss][Tt]|[Ee][Xx][Aa][Mm][Pp][Ll][Ee]|[Oo][Nn][Ii][Oo][Nn]|[Ii][Nn][Tt][Ee][Rr][Nn][Aa][Ll]|[Aa][Ll][Tt]|[Aa][Rr][Pp][Aa])(?![\s\S]))"
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*@"
    r"([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z][A-Za-z0-9-]{0,61}[A-Za-z0-9](?![\s\S])"
)
_PROPERTY_NAME = re.compile(r"^[a-z][A-Za-z0-9]*$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class CatalogueError(ValueError):
    """A form file or catalogue data file is missing something or contradicts itself."""


_Fail = Callable[[str], CatalogueError]  # builds the error for one file, its name in the message


@dataclass(frozen=True)
class FormDefinition:
    """One form. `schema` is the whole file (x-madoguchi included): treat it as read-only."""

    id: str
    kind: str
    section: str
    title: dict[str, str] = field(hash=False)
    description: dict[str, str] = field(hash=False)
    fee_yen: int | None
    fee_unit: dict[str, str] | None = field(hash=False)
    retention_days: int
    target_days: int
    personal_fields: tuple[str, ...]
    schema_name: str
    schema: dict[str, Any] = field(hash=False, repr=False)
    example: dict[str, Any] = field(hash=False, repr=False)
    open311_code: str | None = None
    open311_group: str | None = None
    not_asked: tuple[str, ...] = ()
    # A yes/no question whose yes makes a submission urgent for staff (a report of a danger).
    urgent_when: str | None = None
    # Filed with the section its topic belongs to (a chat question: the nearest FAQ entry's),
    # so any section may hold one; `section` is where the rest go.
    routed_by_topic: bool = False

    @property
    def meta(self) -> dict[str, Any]:
        return self.schema[META]

    def is_urgent(self, data: Any) -> bool:
        """Whether the resident answered yes to the form's danger question (`urgentWhen`)."""
        return self.urgent_when is not None and isinstance(data, dict) and data.get(self.urgent_when) is True

    @property
    def is_report(self) -> bool:
        return self.kind == "report"


def _fresh_example(example: dict[str, Any], properties: dict[str, Any]) -> dict[str, Any]:
    """The example with its days asked for ahead (`x-when: ahead`, a date or a list of dates)
    moved to the days from a week on, so that it stays a valid submission whatever the date."""
    from chalicelib.domain.submissions import TOKYO

    first = datetime.now(TOKYO).date() + timedelta(days=7)
    fresh = dict(example)
    for name, prop in properties.items():
        items = prop.get("items") if prop.get("type") == "array" else None
        when = (items if isinstance(items, dict) else prop).get(WHEN)
        if when is None:
            continue
        when_bounds(when, first)  # an unknown x-when fails the catalogue, not a submission
        if when != "ahead" or name not in fresh:
            continue
        if items is None:
            fresh[name] = first.isoformat()
        else:
            fresh[name] = [(first + timedelta(days=i)).isoformat() for i in range(len(fresh[name]))]
    return fresh


# --- the catalogue -------------------------------------------------------------------------------


def is_plate_code(name: str, prop: dict[str, Any]) -> bool:
    """A code a resident copies from a plate (a light pole's number): a text whose pattern takes
    ASCII only, not a date, an email, a phone number or a postal code (which have their own)."""
    return (
        prop.get("type") == "string"
        and "format" not in prop
        and "phone" not in name.lower()
        and name != "postalCode"
        and "pattern" in prop
        and str(prop["pattern"]).isascii()
    )


@cache
def catalogue() -> tuple[FormDefinition, ...]:
    """Every form, sorted by id. Raises CatalogueError naming the file on any inconsistency."""
    forms = [_read_form(path) for path in sorted(FORMS_DIR.glob("*.json"))]
    if not forms:
        raise CatalogueError(f"no form files in {FORMS_DIR}")
    return tuple(sorted(forms, key=lambda form: form.id))


def get_form(form_id: str) -> FormDefinition | None:
    return _by_id().get(form_id)


# A submission of a form no longer in the catalogue is kept this long after it closes.
DEFAULT_RETENTION_DAYS = 365


def retention_days(form_id: str) -> int:
    """How long a closed submission of this form (and its photos) is kept: TTL and S3 both."""
    form = get_form(form_id)
    return form.retention_days if form else DEFAULT_RETENTION_DAYS


def retentions() -> frozenset[int]:
    """Every retention a closed submission may have: one S3 lifecycle rule each (infra)."""
    return frozenset({DEFAULT_RETENTION_DAYS, *(form.retention_days for form in catalogue())})


@cache
def _by_id() -> dict[str, FormDefinition]:
    return {form.id: form for form in catalogue()}


@cache
def sections() -> dict[str, dict[str, Any]]:
    """The ward's sections (departments) by id: {"id", "name": {"ja","en"}, "digestRecipients"}."""
    where = "chalicelib/data/sections.json"
    data = _read_json(DATA_DIR / "sections.json")
    found: dict[str, dict[str, Any]] = {}
    for section in _list(data, "sections", where):
        section_id = section.get("id") if isinstance(section, dict) else None
        if not isinstance(section_id, str) or not _FORM_ID.match(section_id):
            raise CatalogueError(f"{where}: section id {section_id!r} is not kebab-case")
        if section_id in found:
            raise CatalogueError(f"{where}: section {section_id!r} is listed twice")
        _require_text(
            section.get("name"),
            f"section {section_id!r} name",
            lambda m: CatalogueError(f"{where}: {m}"),
            WARD_LANGUAGES,  # the ward's (digests, staff); residents read the catalogue's section.<id>
        )
        recipients = section.get("digestRecipients")
        if (
            not isinstance(recipients, list)
            or not recipients
            or not all(isinstance(r, str) and _EMAIL.match(r) for r in recipients)
        ):
            raise CatalogueError(f"{where}: section {section_id!r} needs digestRecipients (email addresses)")
        found[section_id] = section
    return found


@cache
def areas() -> tuple[dict[str, str], ...]:
    """Katsushika's 町, in gojuon order: {"id", "ja", "kana", "en"}."""
    where = "chalicelib/data/areas.json"
    found = tuple(_list(_read_json(DATA_DIR / "areas.json"), "areas", where))
    ids = [area.get("id") for area in found]
    if len(set(ids)) != len(ids) or not all(isinstance(i, str) and _FORM_ID.match(i) for i in ids):
        raise CatalogueError(f"{where}: area ids must be unique and kebab-case")
    for area in found:
        if not all(isinstance(area.get(key), str) and area[key] for key in ("ja", "kana", "en")):
            raise CatalogueError(f"{where}: area {area['id']!r} needs ja, kana and en")
    return found


def area_names(area: dict[str, str]) -> dict[str, str]:
    """A 町's name in each resident language, as the ward writes place names: Japanese for ja
    and zh-Hans (the kanji on the signs), with its reading as furigana for ja-easy, and the
    romanised name (as on station signs) for the others."""
    romanised = area["en"]
    return {
        "ja": area["ja"],
        "ja-easy": f"｜{area['ja']}《{area['kana']}》",
        "en": romanised,
        "zh-Hans": area["ja"],
        "ko": romanised,
        "vi": romanised,
        "ne": romanised,
    }


@cache
def ward_bounds() -> dict[str, dict[str, float]]:
    """The ward's bounding box: {"latitude": {"min","max"}, "longitude": {"min","max"}}."""
    return _read_json(DATA_DIR / "ward.json")["bounds"]


def fee_for(form: FormDefinition, document: dict[str, Any]) -> int | None:
    """The fee in yen for a valid submission of `form` (None when the form has no fee).

    Per copy (`quantityField`) or per item (`byItem`: a fee per enum value of an item field).
    """
    fee = form.meta["fee"]
    if fee is None:
        return None
    by_item = fee.get("byItem")
    if by_item:
        amounts = by_item["amountsYen"]
        return sum(
            amounts[entry[by_item["itemField"]]] * int(entry.get(by_item["quantityField"], 1))
            for entry in document.get(by_item["arrayField"], [])
        )
    quantity_field = fee.get("quantityField")
    quantity = int(document.get(quantity_field, 1)) if quantity_field else 1
    return fee["amountYen"] * quantity


# --- the public shape ----------------------------------------------------------------------------
#
# `GET /forms` and `GET /forms/{id}` in any of the seven resident languages, as plain text (the
# API's JSON has no <ruby>: ja-easy furigana markup is dropped by `messages.plain`, as on LINE).
# Titles and section names are the message catalogue's `form.<id>` and `section.<id>` (what the
# pages and the chat show); every other text is the form's own, written in all seven. Each text
# still goes through the fallback chain (domain/languages.py), so a gap never breaks a form.


def summary(form: FormDefinition, language: str) -> dict[str, Any]:
    """One entry of `GET /forms`, in resident language `language`."""
    return {
        "id": form.id,
        "kind": form.kind,
        "title": _title(form, language),
        "description": _text(form.description, language),
        "section": {
            "id": form.section,
            "name": messages.plain(messages.text(f"section.{form.section}", language)),
        },
        "fee": _public_fee(form, language),
        "targetDays": form.target_days,
        "href": f"/forms/{form.id}",
    }


def _title(form: FormDefinition, language: str) -> str:
    """The form's title as a resident of `language` reads it (the catalogue's `form.<id>`)."""
    return messages.plain(messages.text(f"form.{form.id}", language))


def localized_form(form: FormDefinition, language: str) -> dict[str, Any]:
    """`GET /forms/{id}`: the form with its schema labelled in `language`, metadata removed.

    Each property gets `title` (and `description` where the label has help text); an enum
    gets its labels in `x-enumLabels` beside the `enum` keyword.
    """
    schema = copy.deepcopy(form.schema)
    del schema[META]
    # One $id would name seven different documents (one per language): a client caching by $id would mix them.
    schema.pop("$id", None)
    shape = summary(form, language)
    del shape["href"]
    schema["title"] = shape["title"]
    schema["description"] = shape["description"]
    _label_properties(schema["properties"], form.meta["labels"], language)
    return {**shape, "schema": schema}


def _label_properties(properties: dict[str, Any], labels: dict[str, Any], language: str) -> None:
    for name, prop in properties.items():
        label = labels[name]
        prop["title"] = _text(label, language)
        if "help" in label:
            prop["description"] = _text(label["help"], language)
        holder = _enum_holder(prop)
        if holder is not None:
            holder["x-enumLabels"] = {
                value: _text(label["enumLabels"][value], language) for value in holder["enum"]
            }
        nested = _nested_properties(prop)
        if nested is not None:
            _label_properties(nested, label["properties"], language)


def _public_fee(form: FormDefinition, language: str) -> dict[str, Any] | None:
    if form.fee_yen is None or form.fee_unit is None:
        return None
    fee: dict[str, Any] = {"amountYen": form.fee_yen, "unit": _text(form.fee_unit, language)}
    by_item = form.meta["fee"].get("byItem")
    if by_item:
        fee["perItemYen"] = dict(by_item["amountsYen"])
    return fee


def _text(texts: dict[str, Any], language: str) -> str:
    """A form text (language -> text; a label also holds its help and choices) in `language`,
    else the first of its chain that has one, without furigana markup."""
    return messages.plain(languages.pick(texts, language))


# --- reading and checking one file ---------------------------------------------------------------


def _read_form(path: Path) -> FormDefinition:
    schema_name = f"forms/{path.stem}"
    try:
        schema = load(schema_name)
    except (OSError, ValueError) as error:
        raise CatalogueError(f"chalicelib/schemas/forms/{path.name}: not readable JSON ({error})") from None
    return definition_from(path.name, schema, lambda document: problems(schema_name, document))


def definition_from(
    file_name: str, schema: dict[str, Any], validate: Callable[[Any], list[dict[str, Any]]]
) -> FormDefinition:
    """The definition that form file `file_name` (holding `schema`) describes, once checked.

    `validate` lists the problems of a document under this schema (the catalogue passes
    `schemas.problems`). Raises CatalogueError naming the file on the first inconsistency.
    """
    stem = file_name.removesuffix(".json")
    schema_name = f"forms/{stem}"
    known_sections = sections()
    area_ids = [area["id"] for area in areas()]

    def fail(message: str) -> CatalogueError:
        return CatalogueError(f"chalicelib/schemas/forms/{file_name}: {message}")

    meta = schema.get(META)
    if not isinstance(meta, dict):
        raise fail(f"the top-level {META!r} object is missing")
    form_id = meta.get("id")
    if form_id != stem or not _FORM_ID.match(stem):
        raise fail(f"id {form_id!r} must be kebab-case and equal the file name {stem!r}")
    kind = meta.get("kind")
    if kind not in KINDS:
        raise fail(f"kind {kind!r} is not one of {KINDS}")
    title = _require_text(meta.get("title"), "title", fail, WARD_LANGUAGES)
    description = _require_text(meta.get("description"), "description", fail)
    section = meta.get("section")
    if section not in known_sections:
        raise fail(f"section {section!r} is not in chalicelib/data/sections.json")
    retention_days = _positive_int(meta.get("retentionDays"), fail, "retentionDays")
    target_days = _positive_int(meta.get("targetDays"), fail, "targetDays")
    if target_days > retention_days:
        raise fail("targetDays is longer than retentionDays: the submission would be gone before it is due")

    properties = _check_object_shape(schema, fail)
    if "area" in properties and properties["area"].get("enum") != area_ids:
        raise fail("the area enum must be the ids of chalicelib/data/areas.json, in that order")
    fee_yen, fee_unit = _check_fee(meta, properties, fail)
    personal = meta.get("personalFields")
    if not isinstance(personal, list) or len(set(personal)) != len(personal):
        raise fail("personalFields must be a list of distinct property names")
    missing = [name for name in personal if name not in properties]
    if missing:
        raise fail(f"personalFields names properties that do not exist: {missing}")
    for contact in ("name", "phone", "email", "address"):
        if contact in properties and contact not in personal:
            raise fail(f"{contact!r} holds personal data and must be in personalFields")
    urgent_when = meta.get("urgentWhen")
    if urgent_when is not None and (properties.get(urgent_when) or {}).get("type") != "boolean":
        raise fail("urgentWhen names a yes/no (boolean) property")
    routed_by_topic = meta.get("routedByTopic", False)
    if not isinstance(routed_by_topic, bool):
        raise fail("routedByTopic is true or false")
    not_asked = meta.get("notAsked", [])
    optional = set(properties) - set(schema.get("required", []))
    if not isinstance(not_asked, list) or not set(not_asked) <= optional:
        raise fail("notAsked must list optional properties (filled in by the service, not asked on the web)")
    labels = meta.get("labels")
    if "area" in properties and isinstance(labels, dict) and isinstance(labels.get("area"), dict):
        names = {area["id"]: area_names(area) for area in areas()}
        if labels["area"].get("enumLabels", names) != names:
            raise fail("the area question is labelled from chalicelib/data/areas.json, not in the form")
        schema = copy.deepcopy(schema)  # `load` caches the file: label a copy
        meta = schema[META]
        meta["labels"]["area"]["enumLabels"] = names
    _check_labels(properties, meta.get("labels"), fail, "labels")

    open311_code = meta.get("open311ServiceCode")
    open311_group = meta.get("open311Group")
    if kind == "report":
        _check_report(properties, fail)
        if not (isinstance(open311_code, str) and _FORM_ID.match(open311_code)):
            raise fail("a report needs open311ServiceCode (a short kebab-case code)")
        if not (isinstance(open311_group, str) and open311_group.strip()):
            raise fail("a report needs open311Group")
    elif open311_code is not None or open311_group is not None:
        raise fail("only reports have open311ServiceCode and open311Group")

    example = meta.get("example")
    if not isinstance(example, dict):
        raise fail("example must be an object")
    try:
        example = _fresh_example(example, properties)
    except ValueError as error:
        raise fail(str(error)) from None
    found = validate(example)
    if found:
        raise fail(f"example is not valid: {found}")

    return FormDefinition(
        id=form_id,
        kind=kind,
        section=section,
        title=title,
        description=description,
        fee_yen=fee_yen,
        fee_unit=fee_unit,
        retention_days=retention_days,
        target_days=target_days,
        personal_fields=tuple(personal),
        schema_name=schema_name,
        schema=schema,
        example=example,
        open311_code=open311_code,
        open311_group=open311_group,
        not_asked=tuple(not_asked),
        urgent_when=urgent_when,
        routed_by_topic=routed_by_topic,
    )


def _check_object_shape(schema: dict[str, Any], fail: _Fail) -> dict[str, Any]:
    if schema.get("$schema") != "https://json-schema.org/draft/2020-12/schema":
        raise fail("$schema must be draft 2020-12")
    if schema.get("type") != "object" or schema.get("additionalProperties") is not False:
        raise fail('the schema must be "type": "object" with "additionalProperties": false')
    properties = schema.get("properties")
    if not isinstance(properties, dict) or not properties:
        raise fail("properties is missing")
    bad = [name for name in properties if not _PROPERTY_NAME.match(name)]
    if bad:
        raise fail(f"property names must be camelCase ASCII: {bad}")
    required = schema.get("required", [])
    if not set(required) <= set(properties):
        raise fail(f"required names unknown properties: {sorted(set(required) - set(properties))}")
    email = properties.get("email")
    if not isinstance(email, dict) or email.get("format") != "email" or "email" in required:
        raise fail("every form has an optional `email` property with format email (for notifications)")
    if email.get("pattern") != EMAIL_PATTERN:
        raise fail("the `email` property's pattern is forms.EMAIL_PATTERN")
    return properties


def _check_fee(
    meta: dict[str, Any], properties: dict[str, Any], fail: _Fail
) -> tuple[int | None, dict | None]:
    if "fee" not in meta:
        raise fail("fee is missing (null when the form has none)")
    fee = meta["fee"]
    if fee is None:
        return None, None
    amount = fee.get("amountYen") if isinstance(fee, dict) else None
    if not isinstance(amount, int) or isinstance(amount, bool) or amount < 0:
        raise fail("fee.amountYen must be a whole number of yen")
    unit = _require_text(fee.get("unit"), "fee.unit", fail)
    quantity_field = fee.get("quantityField")
    if quantity_field is not None and properties.get(quantity_field, {}).get("type") != "integer":
        raise fail(f"fee.quantityField {quantity_field!r} must name an integer property")
    by_item = fee.get("byItem")
    if by_item is not None:
        try:
            items = properties[by_item["arrayField"]]["items"]["properties"]
            values = items[by_item["itemField"]]["enum"]
            amounts = by_item["amountsYen"]
            quantity = items[by_item["quantityField"]]
        except (KeyError, TypeError):
            raise fail("fee.byItem must name an array of objects, its item enum and quantity") from None
        if set(amounts) != set(values) or not all(isinstance(a, int) and a >= 0 for a in amounts.values()):
            raise fail("fee.byItem.amountsYen must give a whole-yen amount for every item value")
        if quantity.get("type") != "integer":
            raise fail("fee.byItem.quantityField must be an integer property")
    return amount, unit


def _check_labels(properties: dict[str, Any], labels: Any, fail: _Fail, where: str) -> None:
    if not isinstance(labels, dict):
        raise fail(f"{where} is missing")
    missing = sorted(set(properties) - set(labels))
    extra = sorted(set(labels) - set(properties))
    if missing or extra:
        raise fail(f"{where}: no label for {missing}; labels for unknown properties {extra}")
    for name, prop in properties.items():
        label = labels[name]
        _require_text(label, f"{where}.{name}", fail)
        if "help" in label:
            _require_text(label["help"], f"{where}.{name}.help", fail)
        holder = _enum_holder(prop)
        if holder is not None:
            enum_labels = label.get("enumLabels")
            if not isinstance(enum_labels, dict) or set(enum_labels) != set(holder["enum"]):
                raise fail(f"{where}.{name}.enumLabels must label exactly the enum values {holder['enum']}")
            for value, text in enum_labels.items():
                _require_text(text, f"{where}.{name}.enumLabels.{value}", fail)
        elif "enumLabels" in label:
            raise fail(f"{where}.{name} has enumLabels but the property has no enum")
        nested = _nested_properties(prop)
        if nested is not None:
            _check_labels(nested, label.get("properties"), fail, f"{where}.{name}.properties")


def _check_report(properties: dict[str, Any], fail: _Fail) -> None:
    missing = [name for name in REPORT_PROPERTIES if name not in properties]
    if missing:
        raise fail(f"a report needs the properties {missing}")
    location = properties["location"].get("properties", {})
    bounds = ward_bounds()
    for axis in ("latitude", "longitude"):
        limits = location.get(axis, {})
        if (limits.get("minimum"), limits.get("maximum")) != (bounds[axis]["min"], bounds[axis]["max"]):
            raise fail(f"location.{axis} must be bounded by the ward's bounds in chalicelib/data/ward.json")
    if "address" not in location:
        raise fail("location must also accept an address")
    photos = properties["photos"]
    if photos.get("type") != "array" or photos.get("maxItems") != 3:
        raise fail("photos must be an array of at most 3 upload ids")
    if properties["description"].get("maxLength") != 1000:
        raise fail("description must be free text of at most 1000 characters")


def _enum_holder(prop: dict[str, Any]) -> dict[str, Any] | None:
    """The schema holding a property's enum: the property itself, or its array items."""
    if "enum" in prop:
        return prop
    items = prop.get("items")
    if isinstance(items, dict) and "enum" in items:
        return items
    return None


def _nested_properties(prop: dict[str, Any]) -> dict[str, Any] | None:
    """Sub-properties of an object property, or of the objects in an array property."""
    if isinstance(prop.get("properties"), dict):
        return prop["properties"]
    items = prop.get("items")
    if isinstance(items, dict) and isinstance(items.get("properties"), dict):
        return items["properties"]
    return None


def _require_text(
    value: Any, what: str, fail: _Fail, required: tuple[str, ...] = TEXT_LANGUAGES
) -> dict[str, str]:
    """Non-empty text in each language of `required` (other keys, such as help texts, allowed):
    by default the seven a resident may read, so no question falls back to another language."""
    if not isinstance(value, dict):
        raise fail(f"{what} needs text in {', '.join(required)}")
    missing = [
        language
        for language in required
        if not (isinstance(value.get(language), str) and value[language].strip())
    ]
    if missing:
        raise fail(f"{what} has no {', '.join(missing)} text")
    return {language: value[language] for language in required}


def _positive_int(value: Any, fail: _Fail, name: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise fail(f"{name} must be a positive whole number of days")
    return value


def _list(data: Any, key: str, where: str) -> list[Any]:
    if not isinstance(data, dict) or not isinstance(data.get(key), list) or not data[key]:
        raise CatalogueError(f"{where}: {key!r} must be a non-empty list")
    return data[key]


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise CatalogueError(f"{path.name}: not readable JSON ({error})") from None
