"""The web pages' pure helpers: page language, furigana, CSRF, and the form <-> JSON document mapping."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from chalicelib.domain.forms import catalogue, get_form
from chalicelib.web import fields, render


@pytest.mark.parametrize(
    ("chosen", "accept", "line", "expected"),
    [
        ("vi", "en", "ko", "vi"),  # the switcher wins
        (None, "en", "ko", "ko"),  # then the resident's LINE language
        (None, "fr;q=1, ne;q=0.5", None, "ne"),
        (None, "zh-TW,zh;q=0.9", None, "zh-Hans"),
        (None, "en;q=0, ja;q=0.1", None, "ja"),
        (None, "fr-FR", None, "en"),  # as on every resident route: a language we do not write -> en
        (None, "english", None, "ja"),  # no language tag
        ("klingon", None, None, "ja"),
        ("klingon", "en", "ko", "ko"),
        ("VI", "en", "ko", "vi"),
        (None, "ja-easy", None, "ja-easy"),
    ],
)
def test_the_page_language(chosen, accept, line, expected):
    assert render.choose_language(chosen, accept, line) == expected


def test_furigana_becomes_ruby_and_everything_else_is_escaped():
    html = render.ruby("｜葛飾区《かつしかく》 <script>alert(1)</script>")
    assert html.startswith("<ruby>葛飾区<rp>(</rp><rt>かつしかく</rt><rp>)</rp></ruby>")
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert render.plain("｜葛飾区《かつしかく》の まどぐち") == "葛飾区の まどぐち"
    # Where no markup may go (an <option>), the reading follows the word in brackets.
    assert render.reading("｜青戸《あおと》 と ｜亀有《かめあり》") == "青戸（あおと） と 亀有（かめあり）"
    assert render.reading("Aoto") == "Aoto"


def test_a_forms_questions_come_in_the_page_language_with_their_furigana():
    form = get_form("juminhyo-copy")
    by_name = {q.name: q for q in fields.fields(form, "vi")}
    assert by_name["copies"].label == "Số bản cần"
    assert dict(by_name["delivery"].options)["counter"] == "Nhận tại quầy"
    easy = {q.name: q for q in fields.fields(form, "ja-easy")}
    assert easy["address"].label == "｜住民登録《じゅうみんとうろく》の ｜住所《じゅうしょ》"
    assert str(render.ruby(easy["address"].label)).startswith(
        "<ruby>住民登録<rp>(</rp><rt>じゅうみんとうろく</rt>"
    )
    # A language outside the seven follows its chain (domain/languages.py): English.
    assert {q.name: q for q in fields.fields(form, "fr")}["copies"].label == "Number of copies"


def test_questions_the_service_fills_in_are_not_on_the_page():
    inquiry = get_form("inquiry")
    assert "faqEntry" not in {q.name for q in fields.fields(inquiry, "ja")}
    assert fields.document(inquiry, {"question": ["?"], "faqEntry": ["x"]}, "ja") == {"question": "?"}


def test_the_check_answers_page_lists_in_the_page_language():
    form = get_form("juminhyo-copy")
    shown = dict(fields.answers(form, form.example, "en", ("Yes", "No")))
    assert shown["Items to show on the copy"] == "Head of household and relationship"
    document = {**form.example, "includeItems": ["headOfHousehold", "previousAddress"]}
    assert dict(fields.answers(form, document, "ko", ("예", "아니요")))["기재를 희망하는 사항"] == (
        "세대주·세대주와의 관계, 이전 주소"
    )
    assert (
        dict(fields.answers(form, document, "ja", ("はい", "いいえ")))["記載を希望する事項"]
        == "世帯主・続柄、前住所"
    )


def _request(cookie: str | None, **headers: str):
    all_headers = {"host": "forms.example.jp", **headers}
    if cookie is not None:
        all_headers["cookie"] = f"other=1; {render.CSRF_COOKIE}={cookie}"
    return SimpleNamespace(headers=all_headers)


def test_csrf_needs_the_cookie_and_the_field_to_match_and_a_same_site_post():
    token = "a" * 32
    assert render.csrf_ok(_request(token), {"csrf": [token]})
    assert render.csrf_ok(_request(token, origin="https://forms.example.jp"), {"csrf": [token]})
    assert not render.csrf_ok(_request(token), {"csrf": ["b" * 32]})
    assert not render.csrf_ok(_request(None), {"csrf": [token]})
    assert not render.csrf_ok(_request(""), {"csrf": [""]})
    assert not render.csrf_ok(_request(token, **{"sec-fetch-site": "cross-site"}), {"csrf": [token]})
    assert not render.csrf_ok(_request(token, origin="https://evil.example"), {"csrf": [token]})


@pytest.mark.parametrize("form_id", [form.id for form in catalogue()])
def test_a_forms_example_survives_the_round_trip_through_posted_fields(form_id):
    form = get_form(form_id)
    posted = fields.flat_values(form.example)
    assert fields.document(form, posted, "ja") == form.example


def test_blank_answers_are_left_out_and_numbers_read_as_numbers():
    form = get_form("juminhyo-copy")
    document = fields.document(form, {"copies": ["2"], "name": ["  "], "includeItems": []}, "en")
    assert document == {"copies": 2}
    assert fields.document(form, {"copies": ["two"]}, "en") == {"copies": "two"}  # the schema says why


def test_a_code_copied_from_a_plate_in_full_width_reads_as_the_schema_takes_it():
    """A light pole's number typed on a Japanese keyboard: the schema takes ASCII only."""
    form = get_form("streetlight-outage")
    pole = next(f for f in fields.fields(form, "ja") if f.name == "poleNumber")
    assert pole.kind == "code"
    assert fields.document(form, {"poleNumber": ["ＫＳ－１２３ "]}, "ja") == {"poleNumber": "KS-123"}
    kanji = fields.document(form, {"poleNumber": ["葛飾１２３"]}, "ja")
    assert kanji == {"poleNumber": "葛飾123"}  # not a code: the schema says why


def test_a_long_form_asks_about_the_request_before_who_the_resident_is():
    form = get_form("juminhyo-copy")
    screens = fields.screens(form, fields.fields(form, "ja"))
    assert len(screens) == 2
    assert {q.name for q in screens[1]} == {
        "name",
        "nameKana",
        "birthDate",
        "postalCode",
        "address",
        "phone",
        "email",
    }
    assert {q.name for q in screens[1]} <= set(form.personal_fields)
    assert "purposeDetail" in {q.name for q in screens[0]}  # personal data, but about the request
    assert len(fields.screens(get_form("inquiry"), fields.fields(get_form("inquiry"), "ja"))) == 1


def test_a_long_report_asks_for_its_photos_and_description_with_the_report():
    """A walkthrough (the street-light form in Chinese): the screen titled "About you" opened
    with the photos and the description."""
    for form_id in ("streetlight-outage", "illegal-dumping"):
        form = get_form(form_id)
        screens = fields.screens(form, fields.fields(form, "zh-Hans"))
        assert {"photos", "description"} <= {q.name for q in screens[0]}
        assert [q.name for q in screens[1]] == ["name", "phone", "email"]
        assert fields.screen_key(form, screens, 0) == "web.screen_report"
        assert fields.screen_key(form, screens, 1) == "web.screen_you"


def test_every_kanji_in_the_pages_easy_japanese_has_furigana():
    import json
    import re

    for name in ("web.json", "forms.json"):  # the pages' texts, and the forms' field errors
        texts = json.loads((render.HERE.parent / "data" / "messages" / name).read_text(encoding="utf-8"))
        for key, text in texts["messages"].items():
            bare = re.sub(r"｜[^｜《》]+《[^《》]+》", "", text["ja-easy"])
            assert not re.search(r"[\u4e00-\u9fff]", bare), (key, text["ja-easy"])


def test_the_check_page_counts_photos_in_words():
    """A walkthrough: the photos were shown as a bare "1"."""
    from chalicelib.domain.forms import get_form
    from chalicelib.web import fields

    form = get_form("road-park-damage")
    for language, said in (("ja", "2枚"), ("en", "2 attached")):
        shown = dict(fields.answers(form, form.example, language, ("yes", "no")))
        photos = next(value for label, value in shown.items() if "写真" in label or "Photo" in label)
        assert str(photos) == said


def test_a_field_required_after_one_of_several_answers_names_them():
    """A review: an `enum` condition (the dog's address, or moving out) still said "optional"."""
    from chalicelib.domain.forms import get_form
    from chalicelib.web import fields

    shown = {f.name: f.required_when for f in fields.fields(get_form("dog-registration-change"), "en")}
    assert shown["newAddress"] == (
        "What changed",
        "The dog's address (within Katsushika), or Moving out of Katsushika",
    )
    assert shown["newOwnerName"] == ("What changed", "The owner")


def test_contacts_one_of_which_a_reply_needs_are_not_optional():
    """A re-test: the opinion form's reply contacts said "(optional)", then one was required."""
    from chalicelib.domain.forms import get_form
    from chalicelib.web import fields

    shown = {f.name: f.one_of for f in fields.fields(get_form("opinion"), "en")}
    assert shown["email"] and shown["name"] and shown["address"] and not shown["phone"]


def test_a_part_whose_headers_are_longer_than_a_browser_sends_is_refused_before_parsing():
    """A black-box run: a part header of 1 MB of parameters held the email parser for 23 s."""
    boundary = "b0undary"
    long_head = 'Content-Disposition: form-data; name="lang"' + ";x=1" * 1000
    body = f"--{boundary}\r\n{long_head}\r\n\r\nen\r\n--{boundary}--\r\n".encode()
    request = SimpleNamespace(
        raw_body=body, headers={"content-type": f"multipart/form-data; boundary={boundary}"}
    )
    with pytest.raises(render.RefusedPost):
        render.form_post(request)
    fine = f'--{boundary}\r\nContent-Disposition: form-data; name="lang"\r\n\r\nen\r\n--{boundary}--\r\n'.encode()
    assert render.form_post(SimpleNamespace(raw_body=fine, headers=request.headers))[0] == {"lang": ["en"]}
    many = SimpleNamespace(
        raw_body=fine, headers={"content-type": "multipart/form-data; boundary=b0undary" + ";x=1" * 1000}
    )
    with pytest.raises(render.RefusedPost):
        render.form_post(many)
