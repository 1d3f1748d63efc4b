"""The form catalogue: every schema, its metadata, its example and its public shape."""

from __future__ import annotations

import copy
import json
import re
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator, FormatChecker

from chalicelib.domain import forms, languages, messages
from chalicelib.domain.forms import CatalogueError, definition_from
from chalicelib.domain.residents import LANGUAGES
from chalicelib.schemas import load, problems

CATALOGUE = forms.catalogue()
FORM_IDS = [form.id for form in CATALOGUE]
REPORTS = [form for form in CATALOGUE if form.kind == "report"]
FORM_FILES = sorted(forms.FORMS_DIR.glob("*.json"))

REQUIRED_FORMS = {
    "juminhyo-copy",  # 住民票の写しの交付請求
    "bulky-waste-collection",  # 粗大ごみ収集の申込
    "road-park-damage",  # 道路・公園の損傷の通報
    "illegal-dumping",  # 不法投棄の通報
    "dog-registration-change",  # 犬の登録・変更届
    "childcare-consultation",  # 子育て相談の申込
    "opinion",  # 区政への意見
    "event-registration",  # イベント参加申込
}

# Known places, for the ward's bounds.
KATSUSHIKA_OFFICE = (35.743444, 139.847167)  # 立石5-13-1
INSIDE = {
    "Shin-Koiwa station": (35.7170, 139.8576),
    "Kanamachi station": (35.7694, 139.8704),
    "Mizumoto Park": (35.7866, 139.8676),
    "Horikiri-Shobuen station": (35.7477, 139.8270),
    "Kosuge (Tokyo Detention House)": (35.7557, 139.8140),
    "Shibamata Taishakuten": (35.7583, 139.8766),
}
OUTSIDE = {
    "Tokyo station": (35.6812, 139.7671),
    "Matsudo station": (35.7843, 139.9008),
    "Ichikawa station": (35.7293, 139.9084),
    "Soka station": (35.8282, 139.8036),
}


def by_id(form: forms.FormDefinition) -> str:
    return form.id


def pointers(form: forms.FormDefinition, document: dict) -> dict[str, set[str]]:
    """Pointer -> failing keywords, through the same function the submission route uses."""
    found: dict[str, set[str]] = {}
    for problem in problems(form.schema_name, document):
        found.setdefault(problem["pointer"], set()).add(problem["keyword"])
    return found


def example(form_id: str) -> dict:
    return copy.deepcopy(forms.get_form(form_id).example)


# --- the schemas themselves --------------------------------------------------------------------


@pytest.mark.parametrize("path", FORM_FILES, ids=lambda p: p.name)
def test_form_file_is_draft_2020_12(path: Path):
    schema = json.loads(path.read_text(encoding="utf-8"))
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(schema)


@pytest.mark.parametrize("form", CATALOGUE, ids=by_id)
def test_example_is_accepted(form):
    assert problems(form.schema_name, form.example) == []


@pytest.mark.parametrize("form", CATALOGUE, ids=by_id)
def test_forms_go_to_jsonschema_not_the_lean_evaluator(form):
    # Formats, additionalProperties and the location rules need full jsonschema.
    from chalicelib.schemas.lean import supports

    assert not supports(form.schema)


# --- broken variants are refused at the right pointer ------------------------------------------


def _required_cases():
    return [(form.id, name) for form in CATALOGUE for name in form.schema["required"]]


@pytest.mark.parametrize(("form_id", "field"), _required_cases())
def test_missing_required_field(form_id, field):
    form = forms.get_form(form_id)
    document = example(form_id)
    document.pop(field, None)
    found = problems(form.schema_name, document)
    assert {"pointer": "", "keyword": "required", "expected": field} in [
        {key: p[key] for key in ("pointer", "keyword", "expected")} for p in found
    ]


_WRONG_TYPE = {
    "string": 12345,
    "integer": "3",
    "number": "35.7",
    "boolean": "yes",
    "array": "x",
    "object": [],
}


def _typed_cases():
    return [
        (form.id, name)
        for form in CATALOGUE
        for name in form.example
        if form.schema["properties"][name].get("type") in _WRONG_TYPE
    ]


@pytest.mark.parametrize(("form_id", "field"), _typed_cases())
def test_wrong_type(form_id, field):
    form = forms.get_form(form_id)
    document = example(form_id)
    document[field] = _WRONG_TYPE[form.schema["properties"][field]["type"]]
    assert "type" in pointers(form, document).get(f"/{field}", set())


def _long_text_cases():
    return [
        (form.id, name)
        for form in CATALOGUE
        for name, prop in form.schema["properties"].items()
        if "maxLength" in prop
    ]


@pytest.mark.parametrize(("form_id", "field"), _long_text_cases())
def test_text_too_long(form_id, field):
    form = forms.get_form(form_id)
    prop = form.schema["properties"][field]
    document = example(form_id)
    document[field] = "あ" * prop["maxLength"]
    assert "maxLength" not in pointers(form, document).get(f"/{field}", set())
    document[field] = "あ" * (prop["maxLength"] + 1)
    assert "maxLength" in pointers(form, document).get(f"/{field}", set())


def test_every_free_text_field_has_a_max_length():
    for form in CATALOGUE:
        for name, prop in form.schema["properties"].items():
            if prop.get("type") == "string" and "enum" not in prop:
                assert "maxLength" in prop or "pattern" in prop, (form.id, name)


@pytest.mark.parametrize("form", CATALOGUE, ids=by_id)
def test_unknown_property_is_refused(form):
    document = example(form.id)
    document["favouriteColour"] = "blue"
    assert pointers(form, document) == {"": {"additionalProperties"}}


@pytest.mark.parametrize("form", CATALOGUE, ids=by_id)
@pytest.mark.parametrize(
    "email", ["not-an-email", "taro@", "@example.jp", "taro@example", "ta ro@example.jp"]
)
def test_bad_email_is_refused(form, email):
    document = example(form.id)
    document["email"] = email
    assert "/email" in pointers(form, document)


@pytest.mark.parametrize("form", CATALOGUE, ids=by_id)
def test_email_is_optional(form):
    document = example(form.id)
    document.pop("email", None)
    if form.id == "opinion":
        document["replyWanted"] = False  # an answer needs an email or a postal address (tested below)
    assert pointers(form, document) == {}


@pytest.mark.parametrize(
    "phone", ["03-1234-5678", "0312345678", "090-1234-5678", "09012345678", "0120-123-456"]
)
def test_japanese_phone_numbers_are_accepted(phone):
    form = forms.get_form("bulky-waste-collection")
    document = example(form.id)
    document["phone"] = phone
    assert pointers(form, document) == {}


@pytest.mark.parametrize(
    "phone",
    [
        "1234-5678",
        "03-1234-567",
        "090-1234-56789",
        "+81-3-1234-5678",
        "03_1234_5678",
        "０３１２３４５６７８",
        "03-１２３４-５６７８",
    ],
)
def test_malformed_phone_numbers_are_refused(phone):
    form = forms.get_form("bulky-waste-collection")
    document = example(form.id)
    document["phone"] = phone
    assert "/phone" in pointers(form, document)


@pytest.mark.parametrize(
    ("code", "valid"), [("124-8555", True), ("1248555", True), ("124-855", False), ("12-48555", False)]
)
def test_postal_code(code, valid):
    form = forms.get_form("juminhyo-copy")
    document = example(form.id)
    document["postalCode"] = code
    assert (pointers(form, document) == {}) is valid


@pytest.mark.parametrize(
    "date", ["2026-13-01", "2026-02-30", "26-11-18", "2026/11/18", "2026-11-18T09:00:00Z"]
)
def test_bad_dates_are_refused(date):
    form = forms.get_form("bulky-waste-collection")
    document = example(form.id)
    document["preferredDate"] = date
    assert "/preferredDate" in pointers(form, document)


def test_the_examples_days_asked_for_are_a_week_on_whatever_the_files_say():
    # A file's example is written once; a day asked for in it would soon be past.
    from chalicelib.domain.submissions import TOKYO

    # The catalogue is read once a process: read afresh, so its "a week on" is from today's date
    # (CI found it from the day before, the suite having crossed Tokyo's midnight).
    def week_on() -> str:
        return (datetime.now(TOKYO).date() + timedelta(days=7)).isoformat()

    before = week_on()
    forms.catalogue.cache_clear()
    forms._by_id.cache_clear()
    days = {
        forms.get_form("bulky-waste-collection").example["preferredDate"],
        forms.get_form("childcare-consultation").example["preferredDates"][0],
    }
    assert len(days) == 1 and days <= {before, week_on()}


def test_kana_field_refuses_kanji():
    form = forms.get_form("juminhyo-copy")
    document = example(form.id)
    document["nameKana"] = "葛飾 花子"
    assert pointers(form, document) == {"/nameKana": {"pattern"}}
    document["nameKana"] = "かつしか はなこ"
    assert pointers(form, document) == {}


# --- reports: location, area, photos -----------------------------------------------------------


@pytest.mark.parametrize("form", REPORTS, ids=by_id)
@pytest.mark.parametrize("place", sorted(INSIDE))
def test_location_inside_the_ward_is_accepted(form, place):
    latitude, longitude = INSIDE[place]
    document = example(form.id)
    document["location"] = {"latitude": latitude, "longitude": longitude}
    assert pointers(form, document) == {}


@pytest.mark.parametrize("form", REPORTS, ids=by_id)
@pytest.mark.parametrize("place", sorted(OUTSIDE))
def test_location_outside_the_ward_is_refused(form, place):
    latitude, longitude = OUTSIDE[place]
    bounds = forms.ward_bounds()
    document = example(form.id)
    document["location"] = {"latitude": latitude, "longitude": longitude}
    found = pointers(form, document)
    expected = {}
    for axis, value in (("latitude", latitude), ("longitude", longitude)):
        if value < bounds[axis]["min"]:
            expected[f"/location/{axis}"] = {"minimum"}
        elif value > bounds[axis]["max"]:
            expected[f"/location/{axis}"] = {"maximum"}
    assert expected, f"{place} should be outside the bounds"
    assert found == expected


@pytest.mark.parametrize("form", REPORTS, ids=by_id)
def test_location_by_address_alone_is_accepted(form):
    document = example(form.id)
    document["location"] = {"address": "葛飾区立石5丁目13番1号 区役所前"}
    assert pointers(form, document) == {}


@pytest.mark.parametrize("form", REPORTS, ids=by_id)
@pytest.mark.parametrize(
    ("location", "keyword"),
    [
        ({}, "anyOf"),
        ({"latitude": 35.74}, "dependentRequired"),
        ({"longitude": 139.84}, "dependentRequired"),
        ({"address": ""}, "minLength"),
        ({"address": "立石", "floor": 2}, "additionalProperties"),
        ("立石5丁目", "type"),
    ],
)
def test_incomplete_location_is_refused(form, location, keyword):
    document = example(form.id)
    document["location"] = location
    found = pointers(form, document)
    assert any(pointer.startswith("/location") and keyword in kws for pointer, kws in found.items()), found


@pytest.mark.parametrize("form", REPORTS, ids=by_id)
def test_location_is_required_and_photos_are_not(form):
    assert "location" in form.schema["required"]
    document = example(form.id)
    document.pop("photos", None)
    assert pointers(form, document) == {}


@pytest.mark.parametrize("form", REPORTS, ids=by_id)
def test_four_photos_are_refused(form):
    document = example(form.id)
    document["photos"] = [f"up_{index}abcdefghijklmnopqrstuvwx" for index in range(4)]
    assert pointers(form, document) == {"/photos": {"maxItems"}}
    document["photos"] = document["photos"][:3]
    assert pointers(form, document) == {}


@pytest.mark.parametrize("form", REPORTS, ids=by_id)
@pytest.mark.parametrize(
    "photo", ["photo.jpg", "up_short", "up_ABCDEFGHIJKLMNOPQRSTUVWX", "https://x/up_aaaaaaaaaaaaaaaaaaaaaaaa"]
)
def test_photo_must_be_an_upload_id(form, photo):
    document = example(form.id)
    document["photos"] = ["up_k3v7q2m9x4c8n6b1z5t0w2ha", photo]
    assert pointers(form, document) == {"/photos/1": {"pattern"}}


@pytest.mark.parametrize("form", [f for f in CATALOGUE if "area" in f.schema["properties"]], ids=by_id)
def test_area_must_be_a_katsushika_town(form):
    document = example(form.id)
    document["area"] = "shibuya"
    assert pointers(form, document) == {"/area": {"enum"}}
    document["area"] = "shibamata"
    assert pointers(form, document) == {}


@pytest.mark.parametrize("form", REPORTS, ids=by_id)
def test_report_description_is_limited_to_1000_characters(form):
    document = example(form.id)
    document["description"] = "x" * 1001
    assert pointers(form, document) == {"/description": {"maxLength"}}


# --- rules of single forms -----------------------------------------------------------------------


def test_mailed_certificate_needs_a_postal_code():
    form = forms.get_form("juminhyo-copy")
    document = example(form.id)
    del document["postalCode"]
    assert problems(form.schema_name, document)[0] | {"message": ""} == {
        "pointer": "",
        "keyword": "required",
        "expected": "postalCode",
        "message": "",
    }
    document["delivery"] = "counter"
    assert pointers(form, document) == {}


def test_certificate_copies_are_between_1_and_10():
    form = forms.get_form("juminhyo-copy")
    document = example(form.id)
    for copies, keyword in ((0, "minimum"), (11, "maximum"), (2.5, "type")):
        document["copies"] = copies
        assert pointers(form, document) == {"/copies": {keyword}}


def test_dog_owner_change_needs_the_new_owner():
    form = forms.get_form("dog-registration-change")
    document = example(form.id)
    document["changeType"] = "owner"
    del document["newAddress"]
    found = problems(form.schema_name, document)
    assert {(p["pointer"], p["expected"]) for p in found} == {("", "newOwnerName"), ("", "newOwnerAddress")}
    document |= {"newOwnerName": "金町 次郎", "newOwnerAddress": "東京都葛飾区金町2丁目1番1号"}
    assert pointers(form, document) == {}


def test_opinion_wanting_an_answer_needs_somewhere_to_send_it():
    form = forms.get_form("opinion")
    document = example(form.id)
    del document["email"]
    assert pointers(form, document) == {"": {"anyOf"}}
    document |= {"name": "葛飾 花子", "address": "東京都葛飾区立石5丁目13番1号"}
    assert pointers(form, document) == {}
    del document["name"], document["address"]
    document["replyWanted"] = False
    assert pointers(form, document) == {}


def test_bulky_waste_items():
    form = forms.get_form("bulky-waste-collection")
    document = example(form.id)
    document["items"] = []
    assert pointers(form, document) == {"/items": {"minItems"}}
    document["items"] = [
        {"item": "refrigerator", "quantity": 1}
    ]  # household appliance recycling law: not bulky waste
    assert pointers(form, document) == {"/items/0/item": {"enum"}}
    document["items"] = [{"item": "chair", "quantity": 0}]
    assert pointers(form, document) == {"/items/0/quantity": {"minimum"}}
    document["items"] = [{"item": "chair"}]
    assert pointers(form, document) == {"/items/0": {"required"}}


def test_fees():
    certificate = forms.get_form("juminhyo-copy")
    assert certificate.fee_yen == 300 and set(certificate.fee_unit) == set(LANGUAGES)
    assert (certificate.fee_unit["ja"], certificate.fee_unit["en"]) == ("1通につき", "per copy")
    assert forms.fee_for(certificate, example(certificate.id) | {"copies": 3}) == 900
    bulky = forms.get_form("bulky-waste-collection")
    items = [
        {"item": "bicycle", "quantity": 1},
        {"item": "chair", "quantity": 2},
        {"item": "chestLarge", "quantity": 1},
    ]
    assert forms.fee_for(bulky, example(bulky.id) | {"items": items}) == 800 + 2 * 400 + 2800
    tiers = set(bulky.meta["fee"]["byItem"]["amountsYen"].values())
    assert min(tiers) == bulky.fee_yen and all(tier % 100 == 0 for tier in tiers)
    for form in CATALOGUE:
        if form.id not in {certificate.id, bulky.id}:
            assert form.fee_yen is None and forms.fee_for(form, form.example) is None


# --- catalogue invariants ----------------------------------------------------------------------


def test_catalogue_has_the_required_forms_sorted_by_id():
    assert len(CATALOGUE) >= 8
    assert set(FORM_IDS) >= REQUIRED_FORMS
    assert sorted(FORM_IDS) == FORM_IDS
    assert len(set(FORM_IDS)) == len(FORM_IDS)
    assert [path.stem for path in FORM_FILES] == FORM_IDS
    assert {form.kind for form in CATALOGUE} == {"procedure", "report"}


@pytest.mark.parametrize("form", CATALOGUE, ids=by_id)
def test_metadata_is_consistent(form):
    meta = form.schema["x-madoguchi"]
    properties = form.schema["properties"]
    assert meta["id"] == form.id and form.schema_name == f"forms/{form.id}"
    assert form.section in forms.sections()
    assert form.retention_days > 0 and form.target_days > 0 and form.target_days <= form.retention_days
    assert set(form.personal_fields) <= set(properties)
    assert {"name", "phone", "email", "address"} & set(properties) <= set(form.personal_fields)
    assert all(
        name.isascii() and name[0].islower() and "-" not in name and "_" not in name for name in properties
    )
    assert properties["email"]["format"] == "email" and "email" not in form.schema["required"]
    assert form.schema["additionalProperties"] is False
    for language in ("ja", "en"):
        assert form.title[language].strip()
    for language in LANGUAGES:
        assert form.description[language].strip()


def resident_texts(form: forms.FormDefinition):
    """(where, texts by language) of every text of `form` a resident reads: the description, the
    fee's unit, and each question's label, hint and choices, nested questions included."""
    yield "description", form.description
    if form.fee_unit:
        yield "fee.unit", form.fee_unit

    def walk(properties, labels, where):
        assert set(labels) == set(properties), where
        for name, prop in properties.items():
            label = labels[name]
            yield f"{where}.{name}", label
            if "help" in label:
                yield f"{where}.{name}.help", label["help"]
            enum = prop.get("enum") or prop.get("items", {}).get("enum")
            if enum:
                assert set(label["enumLabels"]) == set(enum), f"{where}.{name}"
                for value in enum:
                    yield f"{where}.{name}.{value}", label["enumLabels"][value]
            nested = prop.get("properties") or prop.get("items", {}).get("properties")
            if nested:
                yield from walk(nested, label["properties"], f"{where}.{name}")

    yield from walk(form.schema["properties"], form.meta["labels"], "labels")


@pytest.mark.parametrize("form", CATALOGUE, ids=by_id)
def test_every_text_a_resident_reads_is_written_in_every_language(form):
    """No question falls back to another language: each label, hint and choice of each form has
    its own text in all seven (and the catalogue refuses a file that lacks one)."""
    gaps = [
        f"{where}: {language}"
        for where, texts in resident_texts(form)
        for language in LANGUAGES
        if not (isinstance(texts.get(language), str) and texts[language].strip())
    ]
    assert gaps == []


KANJI = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff々]")


@pytest.mark.parametrize("form", CATALOGUE, ids=by_id)
def test_easy_japanese_gives_every_kanji_its_furigana(form):
    """ja-easy texts may use kanji a resident will meet on paper (住所, 住民票), each with its
    reading as ｜漢字《かんじ》; a reading is kana only."""
    for where, texts in resident_texts(form):
        easy = texts["ja-easy"]
        for base, reading in re.findall(r"｜([^｜《》]+)《([^《》]+)》", easy):
            assert KANJI.search(base) and re.fullmatch(r"[ぁ-ゖァ-ヺー]+", reading), (where, easy)
        bare = re.sub(r"｜[^｜《》]+《[^《》]+》", "", easy)
        assert not KANJI.search(bare), (where, easy)
        assert "｜" not in bare and "《" not in bare, (where, easy)


def test_questions_the_service_fills_in_are_not_asked():
    inquiry = forms.get_form("inquiry")
    assert inquiry.not_asked == ("faqEntry",)
    assert all(
        set(form.not_asked) <= set(form.schema["properties"]) - set(form.schema["required"])
        for form in CATALOGUE
    )


@pytest.mark.parametrize("form", REPORTS, ids=by_id)
def test_reports_have_location_photos_and_open311(form):
    properties = form.schema["properties"]
    assert {"location", "area", "photos", "description"} <= set(properties)
    assert properties["photos"]["maxItems"] == 3
    assert properties["photos"]["items"]["pattern"] == "^up_[0-9a-z]{20,40}$"
    assert properties["description"]["maxLength"] == 1000
    bounds = forms.ward_bounds()
    location = properties["location"]["properties"]
    for axis in ("latitude", "longitude"):
        assert (location[axis]["minimum"], location[axis]["maximum"]) == (
            bounds[axis]["min"],
            bounds[axis]["max"],
        )
    assert form.open311_code and form.open311_group
    assert "photos" in form.personal_fields and "description" in form.personal_fields


def test_open311_codes_are_unique_and_only_on_reports():
    codes = [form.open311_code for form in REPORTS]
    assert len(set(codes)) == len(codes)
    assert all(
        form.open311_code is None and form.open311_group is None
        for form in CATALOGUE
        if form.kind != "report"
    )


def test_area_enums_are_the_areas_file():
    area_ids = [area["id"] for area in forms.areas()]
    for form in CATALOGUE:
        prop = form.schema["properties"].get("area")
        if prop is not None:
            assert prop["enum"] == area_ids, form.id
            labels = form.schema["x-madoguchi"]["labels"]["area"]["enumLabels"]
            assert {key: value["ja"] for key, value in labels.items()} == {
                a["id"]: a["ja"] for a in forms.areas()
            }
            # One place: the file does not repeat them; the catalogue labels the question.
            assert "enumLabels" not in load(form.schema_name)["x-madoguchi"]["labels"]["area"], form.id
    easy = forms.area_names({"id": "aoto", "ja": "青戸", "kana": "あおと", "en": "Aoto"})
    assert easy == {
        "ja": "青戸",
        "ja-easy": "｜青戸《あおと》",
        "en": "Aoto",
        "zh-Hans": "青戸",
        "ko": "Aoto",
        "vi": "Aoto",
        "ne": "Aoto",
    }


def test_areas_are_katsushikas_towns():
    towns = forms.areas()
    names = [area["ja"] for area in towns]
    assert len(set(names)) == len(names) == 31
    for name in ("青戸", "亀有", "柴又", "新宿", "水元公園", "東四つ木", "お花茶屋", "上千葉", "宝町"):
        assert name in names
    niijuku = next(area for area in towns if area["ja"] == "新宿")
    assert (niijuku["id"], niijuku["kana"]) == ("niijuku", "にいじゅく")
    assert all(area["kana"] and area["en"] for area in towns)


def test_ward_bounds_hold_the_ward_office_and_known_places():
    bounds = forms.ward_bounds()
    for latitude, longitude in [KATSUSHIKA_OFFICE, *INSIDE.values()]:
        assert bounds["latitude"]["min"] < latitude < bounds["latitude"]["max"]
        assert bounds["longitude"]["min"] < longitude < bounds["longitude"]["max"]


def test_sections_handle_the_forms_and_have_recipients():
    sections = forms.sections()
    handled = {form.section for form in CATALOGUE}
    faq = json.loads((forms.DATA_DIR / "faq.json").read_text(encoding="utf-8"))
    # Sections get submissions from forms, or questions routed to them from the FAQ's topics.
    handled |= {entry["section"] for entry in faq["entries"]}
    # ... or bookings of the consultations they own.
    consultations = json.loads((forms.DATA_DIR / "consultations.json").read_text(encoding="utf-8"))
    handled |= {service["section"] for service in consultations["services"]}
    assert handled == set(sections), "every section handles a form or FAQ questions, and each has one section"
    for section in sections.values():
        assert section["name"]["ja"] and section["name"]["en"]
        assert section["digestRecipients"]
        assert all(
            address.endswith("@example.city.katsushika.lg.jp") for address in section["digestRecipients"]
        )


def test_get_form():
    assert forms.get_form("opinion") is forms.get_form("opinion")
    assert forms.get_form("nope") is None and forms.get_form("") is None


# --- the catalogue refuses inconsistent files, naming the file ------------------------------------


def _broken(form_id: str, change) -> CatalogueError:
    form = forms.get_form(form_id)
    schema = copy.deepcopy(form.schema)
    change(schema, schema["x-madoguchi"])
    with pytest.raises(CatalogueError) as caught:
        definition_from(f"{form_id}.json", schema, lambda document: problems(form.schema_name, document))
    assert f"chalicelib/schemas/forms/{form_id}.json" in str(caught.value)
    return caught.value


def test_a_report_is_urgent_when_the_resident_says_it_is_dangerous():
    damage = forms.get_form("road-park-damage")
    assert damage.urgent_when == "dangerous"
    assert damage.is_urgent({"dangerous": True}) and not damage.is_urgent({"dangerous": False})
    assert not damage.is_urgent({}) and not damage.is_urgent(None)
    # A walkthrough: a leaning pole with bare wires could not be marked dangerous.
    assert forms.get_form("streetlight-outage").is_urgent({"dangerous": True})
    assert not forms.get_form("illegal-dumping").is_urgent({"dangerous": True})  # asks no such question


def test_real_files_build_unchanged():
    form = forms.get_form("road-park-damage")
    rebuilt = definition_from("road-park-damage.json", form.schema, lambda d: problems(form.schema_name, d))
    assert rebuilt == form


@pytest.mark.parametrize(
    ("form_id", "change", "message"),
    [
        ("opinion", lambda s, m: m.update(section="somewhere"), "section 'somewhere'"),
        ("road-park-damage", lambda s, m: m.update(urgentWhen="category"), "urgentWhen"),
        ("road-park-damage", lambda s, m: m.update(urgentWhen="nowhere"), "urgentWhen"),
        ("opinion", lambda s, m: m.update(id="other"), "equal the file name"),
        ("opinion", lambda s, m: m.update(kind="complaint"), "kind"),
        ("opinion", lambda s, m: m["personalFields"].append("shoeSize"), "shoeSize"),
        ("opinion", lambda s, m: m["personalFields"].remove("email"), "'email'"),
        ("opinion", lambda s, m: m["labels"].pop("subject"), "subject"),
        ("opinion", lambda s, m: m["labels"]["subject"].pop("en"), "labels.subject"),
        ("opinion", lambda s, m: m["labels"]["subject"].pop("vi"), "labels.subject has no vi"),
        ("opinion", lambda s, m: m["labels"]["subject"].update(ne=" "), "labels.subject has no ne"),
        (
            "opinion",
            lambda s, m: m["labels"]["topic"]["enumLabels"]["welfare"].pop("ko"),
            "welfare has no ko",
        ),
        ("opinion", lambda s, m: m["labels"]["phone"]["help"].pop("zh-Hans"), "phone.help has no zh-Hans"),
        ("opinion", lambda s, m: m["description"].pop("ja-easy"), "description has no ja-easy"),
        ("juminhyo-copy", lambda s, m: m["fee"]["unit"].pop("ne"), "fee.unit has no ne"),
        (
            "opinion",
            lambda s, m: m["labels"]["area"].update(enumLabels={"aoto": {"ja": "青砥"}}),
            "labelled from chalicelib/data/areas.json",
        ),
        ("inquiry", lambda s, m: m.update(notAsked=["question"]), "notAsked"),
        ("opinion", lambda s, m: m["labels"]["topic"]["enumLabels"].pop("welfare"), "enumLabels"),
        ("opinion", lambda s, m: m["example"].pop("message"), "example is not valid"),
        ("opinion", lambda s, m: m.update(retentionDays=0), "retentionDays"),
        ("opinion", lambda s, m: m.update(targetDays=4000), "targetDays"),
        ("opinion", lambda s, m: m.update(open311ServiceCode="opinion"), "only reports"),
        ("opinion", lambda s, m: s.pop("x-madoguchi"), "x-madoguchi"),
        ("opinion", lambda s, m: s.update(additionalProperties=True), "additionalProperties"),
        ("opinion", lambda s, m: s["properties"].pop("email"), "email"),
        ("illegal-dumping", lambda s, m: m.pop("open311ServiceCode"), "open311ServiceCode"),
        ("illegal-dumping", lambda s, m: s["properties"]["photos"].update(maxItems=5), "photos"),
        ("illegal-dumping", lambda s, m: m["labels"]["location"]["properties"].pop("latitude"), "location"),
        ("illegal-dumping", lambda s, m: s["properties"]["area"]["enum"].pop(), "areas.json"),
        (
            "illegal-dumping",
            lambda s, m: s["properties"]["location"]["properties"]["latitude"].update(minimum=30),
            "bounds",
        ),
        ("juminhyo-copy", lambda s, m: m["fee"].update(amountYen="300"), "amountYen"),
        ("bulky-waste-collection", lambda s, m: m["fee"]["byItem"]["amountsYen"].pop("chair"), "amountsYen"),
        (
            "bulky-waste-collection",
            lambda s, m: s["properties"]["preferredDate"].update({"x-when": "soon"}),
            "x-when must be one of ('past', 'ahead')",
        ),
    ],
)
def test_inconsistent_form_is_refused(form_id, change, message):
    assert message in str(_broken(form_id, change))


# --- language ----------------------------------------------------------------------------------


# --- the public shape --------------------------------------------------------------------------


def _plain(texts, language):
    """What the public shape shows of a form text: the language's (all seven are written), no furigana."""
    return messages.plain(languages.pick(texts, language))


@pytest.mark.parametrize("form", CATALOGUE, ids=by_id)
@pytest.mark.parametrize("language", LANGUAGES)
def test_localized_form(form, language):
    public = forms.localized_form(form, language)
    text = json.dumps(public, ensure_ascii=False)
    assert "x-madoguchi" not in text and "personalFields" not in text and "retentionDays" not in text
    # Furigana markup is for the pages (《》 alone is also Chinese's title mark: 《广报葛饰》).
    assert "｜" not in text and not messages.FURIGANA.search(text)
    assert public["id"] == form.id and public["kind"] == form.kind
    # The residents' title and section name: the catalogue's, as on the pages and in the chat.
    title = messages.plain(messages.text(f"form.{form.id}", language))
    assert public["title"] == title == public["schema"]["title"]
    section = messages.plain(messages.text(f"section.{form.section}", language))
    assert public["section"] == {"id": form.section, "name": section}
    assert public["description"] == _plain(form.description, language) == public["schema"]["description"]
    assert public["targetDays"] == form.target_days
    schema = public["schema"]
    Draft202012Validator.check_schema(schema)
    # Labels are annotations: the public schema accepts and refuses exactly what the real one does.
    validator = Draft202012Validator(schema, format_checker=FormatChecker())
    assert list(validator.iter_errors(form.example)) == []
    assert not validator.is_valid(form.example | {"favouriteColour": "blue"})
    labels = form.schema["x-madoguchi"]["labels"]
    for name, prop in schema["properties"].items():
        assert prop["title"] == _plain(labels[name], language)
        if "enum" in prop:
            assert prop["x-enumLabels"] == {
                v: _plain(labels[name]["enumLabels"][v], language) for v in prop["enum"]
            }


def test_the_ward_titles_are_the_residents_titles_in_japanese_and_english():
    # GET /forms shows the catalogue's form.<id>; staff and digests read the form's own title:
    # in the two languages both have, a resident and the ward call a form the same.
    for form in CATALOGUE:
        for language in forms.WARD_LANGUAGES:
            assert messages.text(f"form.{form.id}", language) == form.title[language], form.id
    for section_id, section in forms.sections().items():
        for language in forms.WARD_LANGUAGES:
            assert messages.text(f"section.{section_id}", language) == section["name"][language], section_id


def test_easy_japanese_and_vietnamese_are_served_in_their_own_language():
    form = forms.get_form("road-park-damage")
    easy = forms.localized_form(form, "ja-easy")
    assert form.schema["x-madoguchi"]["labels"]["phone"]["ja-easy"] == "｜電話番号《でんわばんごう》"
    assert easy["schema"]["properties"]["phone"]["title"] == "電話番号"  # the file's furigana, dropped
    assert easy["schema"]["properties"]["area"]["x-enumLabels"]["aoto"] == "青戸"
    assert easy["schema"]["properties"]["category"]["title"] == "なにが こわれて いるか"  # not 損傷の種類
    vietnamese = forms.localized_form(form, "vi")
    assert vietnamese["title"] == messages.text("form.road-park-damage", "vi")
    labels = form.schema["x-madoguchi"]["labels"]
    assert vietnamese["schema"]["properties"]["category"]["title"] == labels["category"]["vi"]
    certificate = forms.summary(forms.get_form("juminhyo-copy"), "vi")
    assert certificate["section"]["name"] == "Phòng Hộ tịch và Đăng ký cư trú"
    assert certificate["fee"]["unit"] == forms.get_form("juminhyo-copy").fee_unit["vi"]


def test_localized_form_labels_nested_properties_and_help():
    public = forms.localized_form(forms.get_form("bulky-waste-collection"), "en")
    item = public["schema"]["properties"]["items"]["items"]["properties"]["item"]
    assert (
        item["title"] == "Item" and item["x-enumLabels"]["bicycle"] == "Bicycle (16 inches or more) (800 yen)"
    )
    assert public["schema"]["properties"]["phone"]["description"] == "e.g. 03-1234-5678"
    assert public["fee"]["perItemYen"]["chestLarge"] == 2800
    report = forms.localized_form(forms.get_form("road-park-damage"), "ja")
    location = report["schema"]["properties"]["location"]
    assert location["title"] == "場所" and location["properties"]["latitude"]["title"] == "緯度"
    assert report["schema"]["properties"]["area"]["x-enumLabels"]["niijuku"] == "新宿"
    certificate = forms.localized_form(forms.get_form("juminhyo-copy"), "ja")
    include = certificate["schema"]["properties"]["includeItems"]["items"]
    assert include["x-enumLabels"]["myNumber"] == "個人番号（マイナンバー）"
    assert certificate["fee"] == {"amountYen": 300, "unit": "1通につき"}


def test_localizing_leaves_the_catalogue_untouched():
    form = forms.get_form("road-park-damage")
    before = copy.deepcopy(form.schema)
    forms.localized_form(form, "en")
    forms.localized_form(form, "ja")
    assert form.schema == before
    assert "title" not in form.schema["properties"]["category"]


def test_summary():
    form = forms.get_form("juminhyo-copy")
    assert forms.summary(form, "en") == {
        "id": "juminhyo-copy",
        "kind": "procedure",
        "title": "Request for a copy of the residence record (juminhyo)",
        "description": form.description["en"],
        "section": {"id": "koseki-jumin", "name": "Family Register and Resident Registration Section"},
        "fee": {"amountYen": 300, "unit": "per copy"},
        "targetDays": 7,
        "href": "/forms/juminhyo-copy",
    }


@pytest.mark.parametrize(
    ("address", "taken"),
    [
        ("one@example.com", True),
        ("o.n-e+tag@mail.example.co.jp", True),
        ("a_b@xn--p1ai.xn--p1ai", True),
        # An outside run: one mailbox written other ways, and addresses SES cannot deliver to.
        ("(x)one@example.com", False),
        ("one@example.com(y)", False),
        ('"one"@example.com', False),
        ("x..y@example.com", False),
        (".x@example.com", False),
        ("x.@example.com", False),
        ("x@example..com", False),
        ("x@-bad-.com", False),
        ("x@ex_ample.com", False),
        ("x@a.b", False),
        ("x@[1.2.3.4]", False),
        ("x@example.com.", False),
        # A re-test: a local part past 64, and top-level domains no mail reaches.
        ("x" * 64 + "@example.com", True),
        ("x" * 65 + "@example.com", False),
        ("x@mail.invalid", False),
        ("x@host.test", False),
        ("x@printer.local", False),
        # Review r18d: Python's "$" took a final newline, and the reserved names were case-sensitive.
        ("x@example.com\n", False),
        ("x@host.TEST", False),
        ("x@mail.Invalid", False),
        ("x@Example.Com", True),
        # A re-test: the other names reserved for no mail (RFC 2606, 6761, 9476).
        ("x@shop.example", False),
        ("x@hidden.onion", False),
        ("x@corp.internal", False),
        ("x@home.arpa", False),
        ("x@a.alt", False),
    ],
)
def test_every_email_field_takes_plain_deliverable_addresses_only(address, taken):
    assert bool(re.match(forms.EMAIL_PATTERN, address)) is taken
    booking = json.loads((forms.SCHEMA_DIR / "consultation_booking.json").read_text(encoding="utf-8"))
    assert booking["properties"]["email"]["pattern"] == forms.EMAIL_PATTERN  # the forms' is checked on load
