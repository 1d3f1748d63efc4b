"""GET /forms and GET /forms/{formId} through Chalice's test client (no AWS involved).

The routes run on a fresh Chalice app carrying the forms blueprint and the same error
middleware as app.py; once app.py registers the blueprint, they run on the real app too.
"""

from __future__ import annotations

import json

import pytest
from chalice.test import Client

from chalicelib.domain import forms, messages


@pytest.fixture
def client():
    from app import app

    with Client(app, stage_name="local") as test_client:
        yield test_client


def get(client, path: str, language: str | None = None):
    headers = {"Accept-Language": language} if language is not None else {}
    return client.http.get(path, headers=headers)


def body(response) -> dict:
    return json.loads(response.body)


def assert_cacheable(response, language: str) -> None:
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    # やさしい日本語 is Japanese to a browser or a cache ("ja-easy" is no BCP 47 tag).
    assert response.headers["Content-Language"] == ("ja" if language == "ja-easy" else language)
    assert response.headers["Cache-Control"] == "public, max-age=300"
    assert response.headers["Vary"] == "Accept-Language"


# --- GET /forms ----------------------------------------------------------------------------------


def test_list_defaults_to_japanese(client):
    response = get(client, "/forms")
    assert_cacheable(response, "ja")
    listed = body(response)["forms"]
    assert [entry["id"] for entry in listed] == [form.id for form in forms.catalogue()]
    by_id = {entry["id"]: entry for entry in listed}
    assert by_id["juminhyo-copy"]["title"] == "住民票の写しの交付請求"
    assert by_id["juminhyo-copy"]["fee"] == {"amountYen": 300, "unit": "1通につき"}
    assert by_id["juminhyo-copy"]["section"] == {"id": "koseki-jumin", "name": "戸籍住民課"}
    assert by_id["road-park-damage"]["kind"] == "report"
    assert by_id["opinion"]["fee"] is None
    assert by_id["opinion"]["href"] == "/forms/opinion"


@pytest.mark.parametrize("header", ["en", "en-US,en;q=0.9,ja;q=0.8", "fr, en;q=0.5"])
def test_list_in_english(client, header):
    response = get(client, "/forms", header)
    assert_cacheable(response, "en")
    by_id = {entry["id"]: entry for entry in body(response)["forms"]}
    assert by_id["illegal-dumping"]["title"] == "Report illegal dumping"
    assert by_id["illegal-dumping"]["section"]["name"] == "Sanitation Office"
    assert by_id["juminhyo-copy"]["fee"]["unit"] == "per copy"


@pytest.mark.parametrize("header", ["ja-JP", "en;q=0", "*", "english"])
def test_list_falls_back_to_japanese(client, header):
    response = get(client, "/forms", header)
    assert_cacheable(response, "ja")
    assert body(response)["forms"][0]["title"] == forms.catalogue()[0].title["ja"]


@pytest.mark.parametrize(
    ("header", "language"),
    [("vi", "vi"), ("ko-KR", "ko"), ("zh-CN,zh;q=0.9", "zh-Hans"), ("ne", "ne"), ("ja-easy", "ja-easy")],
)
def test_list_in_each_residents_language(client, header, language):
    # All seven resident languages, as on the pages and in the chat: no fallback to English.
    response = get(client, "/forms", header)
    assert_cacheable(response, language)
    by_id = {entry["id"]: entry for entry in body(response)["forms"]}
    assert by_id["juminhyo-copy"] == forms.summary(forms.get_form("juminhyo-copy"), language)
    assert by_id["juminhyo-copy"]["title"] == messages.plain(messages.text("form.juminhyo-copy", language))


@pytest.mark.parametrize("header", ["de", "fr-FR, it;q=0.5"])
def test_other_languages_fall_back_to_english(client, header):
    # The fallback chain (domain/languages.py): a language the ward does not write -> en -> ja.
    response = get(client, "/forms", header)
    assert_cacheable(response, "en")
    assert body(response)["forms"][0]["title"] == forms.catalogue()[0].title["en"]


def test_lang_overrides_accept_language(client):
    response = get(client, "/forms/juminhyo-copy?lang=vi", "en-US,en;q=0.9")
    assert_cacheable(response, "vi")
    assert body(response)["title"] == "Yêu cầu cấp bản sao phiếu cư trú (juminhyo)"
    # Not one of ours: Accept-Language decides.
    assert_cacheable(get(client, "/forms?lang=klingon", "ko"), "ko")


# --- GET /forms/{formId} -----------------------------------------------------------------------


@pytest.mark.parametrize("language", ["ja", "en"])
def test_one_form_is_localised(client, language):
    response = get(client, "/forms/road-park-damage", language)
    assert_cacheable(response, language)
    answer = body(response)
    form = forms.get_form("road-park-damage")
    assert answer == forms.localized_form(form, language)
    properties = answer["schema"]["properties"]
    assert properties["category"]["title"] == {"ja": "損傷の種類", "en": "Kind of damage"}[language]
    assert (
        properties["category"]["x-enumLabels"]["pothole"]
        == {"ja": "道路の穴・陥没", "en": "Pothole or sunken road"}[language]
    )
    assert (
        properties["location"]["properties"]["latitude"]["maximum"] == forms.ward_bounds()["latitude"]["max"]
    )


def test_one_form_in_vietnamese(client):
    response = get(client, "/forms/road-park-damage", "vi-VN,vi;q=0.9,en;q=0.8")
    assert_cacheable(response, "vi")
    answer = body(response)
    labels = forms.get_form("road-park-damage").schema["x-madoguchi"]["labels"]
    assert answer["title"] == answer["schema"]["title"] == messages.text("form.road-park-damage", "vi")
    properties = answer["schema"]["properties"]
    assert properties["category"]["title"] == labels["category"]["vi"] == "Loại hư hỏng"
    assert (
        properties["category"]["x-enumLabels"]["pothole"] == labels["category"]["enumLabels"]["pothole"]["vi"]
    )
    assert answer["section"]["name"] == messages.text("section.doro-hoshu", "vi")


def test_one_form_in_easy_japanese_has_no_furigana_markup(client):
    response = get(client, "/forms/juminhyo-copy", "ja-easy")
    assert_cacheable(response, "ja-easy")
    text = response.body.decode("utf-8")
    assert "｜" not in text and not messages.FURIGANA.search(text)  # the pages' ruby markup, not JSON's
    properties = body(response)["schema"]["properties"]
    # The file writes ｜住民登録《じゅうみんとうろく》の ｜住所《じゅうしょ》: the API keeps the written word.
    assert properties["address"]["title"] == "住民登録の 住所"
    assert properties["name"]["title"] == "もうしこむ 人の 名前"
    assert body(response)["fee"] == {"amountYen": 300, "unit": "1まい ごとに"}


@pytest.mark.parametrize("form_id", [form.id for form in forms.catalogue()])
def test_metadata_does_not_leak(client, form_id):
    response = get(client, f"/forms/{form_id}", "en")
    assert response.status_code == 200
    text = response.body.decode("utf-8")
    for internal in (
        "x-madoguchi",
        "personalFields",
        "retentionDays",
        "digestRecipients",
        "example",
        "labels",
    ):
        assert internal not in text, internal
    # Nor the example's personal values.
    for name in forms.get_form(form_id).personal_fields:
        value = forms.get_form(form_id).example.get(name)
        if isinstance(value, str):
            assert value not in text, name


@pytest.mark.parametrize("path", ["/forms/no-such-form", "/forms/Opinion", "/forms/%2E%2E%2Fsections"])
def test_unknown_form_is_404(client, path):
    response = get(client, path, "en")
    assert response.status_code == 404
    error = body(response)["error"]
    assert error["code"] == "form_not_found"
    assert error["message"] == "There is no form with this id."  # the caller's language only
    assert body(get(client, path, "ko"))["error"]["message"] == "지정한 신청서 양식이 없습니다."
    assert error["details"] == []


def test_other_methods_are_refused(client):
    response = client.http.delete("/forms/opinion")
    assert response.status_code == 405
    assert body(response)["error"]["code"] == "method_not_allowed"
