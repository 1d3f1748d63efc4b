"""The chat's pure rules: message shapes within LINE's limits, cancel words, the report's document."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.domain import chat, messages
from chalicelib.domain.forms import get_form
from chalicelib.domain.residents import LANGUAGES
from chalicelib.schemas import problems


@pytest.mark.parametrize(
    "text", ["やめる", "キャンセル", " Cancel ", "ＣＡＮＣＥＬ", "취소", "hủy", "रद्द", "やめる。"]
)
def test_cancel_words_in_every_language(text):
    assert chat.is_cancel(text)


@pytest.mark.parametrize(
    "text", ["やめたい理由があります", "cancel my juminhyo request please", "stop", "ごみ"]
)
def test_other_text_is_not_cancel(text):
    assert not chat.is_cancel(text)


def test_quiet_means_more_than_the_quiet_period_since_the_last_step():
    now = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
    assert not chat.is_quiet(now - chat.QUIET, now)
    assert chat.is_quiet(now - chat.QUIET - timedelta(seconds=1), now)


def test_text_messages_and_labels_stay_within_lines_limits():
    message = chat.text_message("あ" * 6000, [chat.postback_item("x", "d")] * 20)
    assert len(message["text"]) == chat.MAX_TEXT_CHARS and message["text"].endswith("…")
    assert len(message["quickReply"]["items"]) == chat.MAX_QUICK_REPLIES
    # Labels are never cut (a cut label hides what the button does): the catalogue's labels are
    # written to fit, which tests/unit/test_line_limits.py checks in every language.
    item = chat.postback_item("Childcare\nnews", "data", "Childcare and parenting news")
    assert item["action"]["label"] == "Childcare news"
    assert item["action"]["displayText"] == "Childcare and parenting news"
    assert "quickReply" not in chat.text_message("hi")


def test_every_chat_report_category_has_one_required_choice():
    categories = {c.form.id: c for c in chat.report_categories()}
    assert set(categories) == {"illegal-dumping", "road-park-damage", "streetlight-outage"}
    assert categories["streetlight-outage"].kind_property == "problem"
    assert chat.report_category("juminhyo-copy") is None


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_reports_kind_is_the_forms_own_choice_label_as_plain_text(language, monkeypatch):
    """One text per choice, for the web form and the chat; LINE gets it without furigana markup."""
    for category in chat.report_categories():
        labels = category.form.meta["labels"][category.kind_property]["enumLabels"]
        for kind in category.kinds:
            text = chat.kind_text(category.form.id, kind, language)
            assert text == messages.plain(labels[kind][language]) and text.strip()
            assert not set(text) & set("｜《》"), (category.form.id, kind, text)
    # Were a choice written with furigana, the chat would show the word without its markup.
    category = chat.report_category("streetlight-outage")
    labels = copy.deepcopy(category.form.meta["labels"])
    labels["problem"]["enumLabels"]["off"]["ja-easy"] = "｜街路灯《がいろとう》が つかない"
    monkeypatch.setitem(category.form.schema["x-madoguchi"], "labels", labels)
    summary = chat.report_summary({"form": "streetlight-outage", "kind": "off"}, "ja-easy")
    assert "街路灯が つかない" in summary and "《" not in summary


@pytest.mark.parametrize(
    ("gathered", "expected"),
    [
        (
            {
                "form": "streetlight-outage",
                "kind": "off",
                "photos": [],
                "latitude": 35.76,
                "longitude": 139.87,
                "address": None,
                "comment": None,
            },
            {"problem": "off", "location": {"latitude": 35.76, "longitude": 139.87}},
        ),
        (
            {
                "form": "illegal-dumping",
                "kind": "tires",
                "photos": ["up_" + "a" * 32],
                "address": "奥戸の河川敷",
                "comment": "4本",
            },
            {
                "wasteType": "tires",
                "location": {"address": "奥戸の河川敷"},
                "photos": ["up_" + "a" * 32],
                "description": "4本",
            },
        ),
    ],
)
def test_the_report_document_is_what_the_form_accepts(gathered, expected):
    document = chat.report_document(gathered)
    assert document == expected
    assert problems(get_form(gathered["form"]).schema_name, document) == []


def test_the_ward_bounds_hold_the_ward_and_not_tokyo_station():
    assert chat.in_ward(35.7436, 139.8477)  # the ward office
    assert not chat.in_ward(35.6812, 139.7671)


def test_text_is_cleaned_of_control_characters():
    assert chat.clean_line(" 金町\n駅\x00前 ") == "金町 駅 前"
    assert chat.clean_text("一行目\n二行目\x07") == "一行目\n二行目"


@pytest.mark.parametrize(
    ("typed", "answer"),
    [
        ("はい", True),
        ("はい（危険）", True),  # a button's label, typed or pasted
        ("YES!", True),
        ("네", True),
        ("हो", True),
        ("いいえ。", False),
        ("không", False),
        ("不", False),
        ("No", False),
        # A re-test: an answer of more than one word.
        ("はい、危ないです", True),
        ("大丈夫です", False),
        ("No, it's fine", False),
        ("没有危险", False),
        ("아니요, 괜찮아요", False),
        ("Có, nguy hiểm lắm", True),
        ("네 위험해요", True),
        ("no it's fine", False),
        # A review: a first word is no answer when the rest says the other way, or nothing.
        ("No lights on the whole street, very dangerous at night", None),
        ("No idea", None),
        ("いや、かなり危ないです", None),
        ("yes, but it is fine now", None),
        ("はいしゃ", None),  # a dentist, not a yes
        ("電線が垂れています", None),
    ],
)
def test_a_typed_yes_or_no_is_read_in_every_language(typed, answer):
    assert chat.typed_yes_no(typed) is answer
