"""What is wrong with a submission, in the resident's language: the API's 422 details and the web
forms' errors (domain/form_problems.py), for every form in all seven languages."""

from __future__ import annotations

import pytest

from chalicelib.domain import messages
from chalicelib.domain.form_problems import explain
from chalicelib.domain.forms import catalogue, get_form
from chalicelib.domain.residents import LANGUAGES
from chalicelib.schemas import problems

FORMS = catalogue()


def _expected(key: str, label: dict[str, str], language: str) -> str:
    return messages.plain(messages.catalogue()[key][language].format(label=label[language]))


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("form", FORMS, ids=lambda form: form.id)
def test_each_missing_answer_is_named_by_its_own_label_in_the_residents_language(form, language):
    """No fallback and no mixed languages: the wording and the label are both in `language`."""
    explained = {e["pointer"]: e["message"] for e in explain(problems(form.schema_name, {}), form, language)}
    labels = form.meta["labels"]
    assert {f"/{name}" for name in form.schema["required"]} <= set(explained)
    for name in form.schema["required"]:
        prop = form.schema["properties"][name]
        key = "problem.choose" if "enum" in prop or prop.get("type") == "boolean" else "problem.required"
        assert explained[f"/{name}"] == _expected(key, labels[name], language), (name, language)


def test_a_choice_asks_to_choose_and_a_row_names_its_own_field():
    form = get_form("bulky-waste-collection")
    document = {**form.example, "items": [{"item": "chair"}]}
    [quantity] = explain(problems(form.schema_name, document), form, "en")
    assert quantity == {"pointer": "/items/0/quantity", "message": "Please fill in “Quantity”."}
    report = get_form("road-park-damage")
    document = {key: value for key, value in report.example.items() if key != "category"}
    assert explain(problems(report.schema_name, document), report, "ko") == [
        {"pointer": "/category", "message": "‘파손 종류’ 항목을 선택해 주세요."}
    ]


def test_a_place_outside_the_ward_says_so_in_each_language():
    form = get_form("road-park-damage")
    document = {**form.example, "location": {"latitude": 35.6812, "longitude": 139.7671}}
    for language in LANGUAGES:
        found = explain(problems(form.schema_name, document), form, language)
        wanted = messages.plain(messages.text("problem.outside_ward", language))
        assert found and {e["message"] for e in found} == {wanted}


def test_a_wrongly_written_answer_says_how_to_write_it_and_a_number_its_range():
    """A walkthrough: "not written the expected way" for a foreign name in kana, and "not the
    right kind of value" for "two" copies, told nobody what to do."""
    form = get_form("juminhyo-copy")
    for copies in ("two", 11):
        document = {**form.example, "nameKana": "Nguyen Van An", "copies": copies}
        found = {
            e["pointer"]: e["message"] for e in explain(problems(form.schema_name, document), form, "en")
        }
        assert found["/nameKana"].startswith("“Name in kana” is not written the expected way. In katakana")
        assert "ジョン スミス" in found["/nameKana"]
        assert found["/copies"] == "“Number of copies” must be a number from 1 to 10."
    document = {**form.example, "copies": 0}
    [copies] = explain(problems(form.schema_name, document), form, "vi")
    assert copies["message"] == messages.plain(
        messages.text("problem.number_range", "vi", label=form.meta["labels"]["copies"]["vi"], low=1, high=10)
    )


def test_easy_japanese_keeps_its_furigana_for_pages_and_drops_the_markup_for_plain_text():
    form = get_form("juminhyo-copy")
    document = {key: value for key, value in form.example.items() if key != "address"}
    [page] = explain(problems(form.schema_name, document), form, "ja-easy", furigana=True)
    [plain] = explain(problems(form.schema_name, document), form, "ja-easy")
    assert (
        page["message"] == "「｜住民登録《じゅうみんとうろく》の ｜住所《じゅうしょ》」を かいて ください。"
    )
    assert plain["message"] == "「住民登録の 住所」を かいて ください。"


def test_the_service_answers_in_the_submitters_language():
    """A LINE resident who reads Korean gets the API's 422 details in Korean."""
    from chalicelib.domain.errors import MadoguchiError
    from chalicelib.services import submissions as service

    form = get_form("juminhyo-copy")
    document = {key: value for key, value in form.example.items() if key != "name"}
    with pytest.raises(MadoguchiError) as caught:
        service.create(form, document, service.Submitter(channel="line", language="ko", line_user_id="U1"))
    from chalicelib.domain.messages import localize

    assert localize(caught.value.details, "ko") == [
        {"pointer": "/name", "message": "‘청구자 이름’ 항목을 입력해 주세요."}
    ]


def test_a_field_broken_two_ways_that_read_alike_is_said_once():
    form = get_form("inquiry")
    found = problems(form.schema_name, {**form.example, "email": "x"})
    assert len([p for p in found if p["pointer"] == "/email"]) >= 2  # `format` and `pattern` both fail
    explained = [e for e in explain(found, form, "en") if e["pointer"] == "/email"]
    assert len(explained) == 1


def test_either_of_two_answers_is_named_and_a_missing_pair_names_its_other_half():
    opinion = get_form("opinion")
    document = {k: v for k, v in opinion.example.items() if k not in ("email", "name", "address")}
    document["replyWanted"] = True
    assert explain(problems(opinion.schema_name, document), opinion, "en") == [
        {"pointer": "", "message": "Please fill in “Email address”, or “Name” and “Address”."}
    ]
    report = get_form("road-park-damage")
    document = {**report.example, "location": {"latitude": 35.75}}
    found = explain(problems(report.schema_name, document), report, "ja")
    assert found == [
        {"pointer": "/location/longitude", "message": "「経度」を入力してください。"},
        {"pointer": "/location", "message": "「緯度」と「経度」、または「住所・目印」を入力してください。"},
    ]
    # Every language says it in its own words, naming each field by its label there.
    labels = opinion.meta["labels"]
    document = {k: v for k, v in opinion.example.items() if k not in ("email", "name", "address")}
    for language in LANGUAGES:
        [either] = explain(
            problems(opinion.schema_name, {**document, "replyWanted": True}), opinion, language
        )
        assert "{" not in either["message"]
        assert all(
            messages.plain(labels[name][language]) in either["message"]
            for name in ("email", "name", "address")
        )


def test_a_field_nobody_asked_for_is_pointed_at():
    form = get_form("inquiry")
    [extra] = explain(problems(form.schema_name, {**form.example, "nickname": "x"}), form, "en")
    assert extra == {"pointer": "/nickname", "message": "This field is not part of the form."}


def test_a_date_that_does_not_exist_says_so_and_how_to_write_one():
    """A walkthrough: 1990-02-30 was only "not written the expected way"."""
    form = get_form("juminhyo-copy")
    for typed in ("1990-02-30", "30/02/1990"):
        [wrong] = explain(problems(form.schema_name, {**form.example, "birthDate": typed}), form, "en")
        assert wrong == {
            "pointer": "/birthDate",
            "message": "“Date of birth” must be a date on the calendar, written like 2026-12-07.",
        }
