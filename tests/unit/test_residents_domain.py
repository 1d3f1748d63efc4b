"""Residents' languages and the greeting a new follower gets (pure domain, no I/O)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chalicelib.domain import chat, postbacks
from chalicelib.domain.residents import DEFAULT_LANGUAGE, LANGUAGES, language_from_profile

POSTBACK_OPEN_PREFERENCES = postbacks.sign("test-secret", "menu.settings")


def greeting(language: str) -> list[dict]:
    return chat.greeting(language, POSTBACK_OPEN_PREFERENCES)


WARD = json.loads(
    (Path(__file__).resolve().parents[2] / "chalicelib" / "data" / "ward.json").read_text(encoding="utf-8")
)

# LINE's limits for a text message with a quick reply (Messaging API reference).
TEXT_MAX = 5000
LABEL_MAX = 20
POSTBACK_DATA_MAX = 300
DISPLAY_TEXT_MAX = 300
QUICK_REPLY_ITEMS_MAX = 13


# --- language_from_profile -----------------------------------------------------------------------


@pytest.mark.parametrize("code", [None, ""])
def test_no_profile_language_means_japanese(code):
    assert language_from_profile(code) == "ja"


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("ja", "ja"),
        ("en", "en"),
        ("ko", "ko"),
        ("vi", "vi"),
        ("ne", "ne"),
        ("zh-Hans", "zh-Hans"),
    ],
)
def test_a_language_we_write_is_kept(code, expected):
    assert language_from_profile(code) == expected


@pytest.mark.parametrize("code", ["zh-Hant", "zh-TW", "zh-CN", "zh-HK", "zh", "ZH-hant"])
def test_every_chinese_variant_gets_simplified_chinese(code):
    assert language_from_profile(code) == "zh-Hans"


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("EN", "en"),
        ("Ja", "ja"),
        ("KO", "ko"),
        ("en-US", "en"),
        ("ja-JP", "ja"),
        ("ko-KR", "ko"),
        ("vi-VN", "vi"),
    ],
)
def test_case_and_region_do_not_matter(code, expected):
    assert language_from_profile(code) == expected


@pytest.mark.parametrize("code", ["th", "id", "pt-BR", "fr", "es", "tl", "xx"])
def test_a_language_we_do_not_write_gets_english(code):
    assert language_from_profile(code) == "en"


def test_the_result_is_always_a_language_we_write():
    for code in (None, "", "th", "zh-Hant", "EN", "ne-NP", "ja", "my", "??"):
        assert language_from_profile(code) in LANGUAGES


# --- greeting ------------------------------------------------------------------------------------


def the_message(language: str) -> dict:
    messages = greeting(language)
    assert isinstance(messages, list)
    assert len(messages) == 1
    return messages[0]


def the_action(language: str) -> dict:
    [item] = the_message(language)["quickReply"]["items"]
    assert item["type"] == "action"
    return item["action"]


def test_every_language_we_write_has_a_name_for_the_ward():
    assert set(LANGUAGES) <= set(WARD["name"])
    assert DEFAULT_LANGUAGE in LANGUAGES


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_greeting_is_a_valid_line_text_message(language):
    message = the_message(language)
    assert set(message) == {"type", "text", "quickReply"}
    assert message["type"] == "text"
    assert isinstance(message["text"], str)
    assert message["text"].strip()
    assert len(message["text"]) <= TEXT_MAX
    assert "{" not in message["text"] and "}" not in message["text"]  # no unfilled placeholder
    items = message["quickReply"]["items"]
    assert 1 <= len(items) <= QUICK_REPLY_ITEMS_MAX
    # The whole message must survive the JSON round trip the LINE API client makes.
    assert json.loads(json.dumps(message, ensure_ascii=False)) == message


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_greeting_names_the_ward_in_its_own_language(language):
    assert WARD["name"][language] in the_message(language)["text"]


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_button_opens_the_preferences(language):
    action = the_action(language)
    assert action["type"] == "postback"
    assert action["data"] == POSTBACK_OPEN_PREFERENCES
    assert len(action["data"]) <= POSTBACK_DATA_MAX


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_button_label_fits_lines_limit(language):
    action = the_action(language)
    label = action["label"]
    assert label.strip() == label
    assert 1 <= len(label) <= LABEL_MAX
    # LINE counts UTF-16 code units for some limits; the labels must fit either way.
    assert len(label.encode("utf-16-le")) // 2 <= LABEL_MAX
    assert 1 <= len(action["displayText"]) <= DISPLAY_TEXT_MAX


@pytest.mark.parametrize("language", [language for language in LANGUAGES if language != "ja"])
def test_each_language_has_its_own_text_and_label(language):
    assert the_message(language)["text"] != the_message("ja")["text"]
    assert the_action(language)["label"] != the_action("ja")["label"]


def test_the_texts_of_all_languages_are_distinct():
    texts = [the_message(language)["text"] for language in LANGUAGES]
    assert len(set(texts)) == len(LANGUAGES)


def test_the_japanese_greeting_is_japanese():
    text = the_message("ja")["text"]
    assert "友だち追加ありがとうございます" in text
    assert "葛飾区" in text
    assert the_action("ja")["label"] == "配信設定をする"


def test_the_english_greeting_is_english():
    text = the_message("en")["text"]
    assert text.startswith("Thank you for adding Katsushika City")
    assert the_action("en")["label"] == "Set preferences"


def test_plain_japanese_uses_the_plain_ward_name_not_the_kanji():
    text = the_message("ja-easy")["text"]
    assert "かつしか区" in text
    assert "葛飾区" not in text


@pytest.mark.parametrize("language", ["fr", "th", "", "JA", "zh-Hant", "xx-YY"])
def test_an_unknown_language_falls_back_to_japanese(language):
    assert greeting(language) == greeting("ja")


def test_the_greeting_is_a_fresh_structure_each_time():
    # A caller that adds to the message (e.g. a sender) must not change the next resident's greeting.
    first = greeting("en")
    first[0]["quickReply"]["items"].clear()
    first[0]["text"] = "changed"
    assert greeting("en")[0]["text"] != "changed"
    assert len(greeting("en")[0]["quickReply"]["items"]) == 1


def test_a_profile_language_maps_to_a_greeting_in_that_language():
    assert greeting(language_from_profile("zh-TW")) == greeting("zh-Hans")
    assert greeting(language_from_profile("th")) == greeting("en")
    assert greeting(language_from_profile(None)) == greeting("ja")
