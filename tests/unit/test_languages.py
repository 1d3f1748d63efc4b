"""The one language fallback chain (chalicelib/domain/languages.py), the one negotiation of a
request's language, and the chain's consumers: announcements, notifications, catalogue messages,
form labels and problems, topics, the ward's name. (The FAQ's answers: tests/unit/test_faq_engine.py; the announcement text per
resident: tests/unit/test_announcements_domain.py.)"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.domain import (
    announcements,
    form_problems,
    languages,
    messages,
    notifications,
    preferences,
    ward,
)
from chalicelib.domain.residents import LANGUAGES


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("ja", ("ja",)),
        ("ja-easy", ("ja-easy", "ja")),
        ("en", ("en", "ja")),
        ("zh-Hans", ("zh-Hans", "en", "ja")),
        ("ko", ("ko", "en", "ja")),
        ("vi", ("vi", "en", "ja")),
        ("ne", ("ne", "en", "ja")),
        (None, ("ja",)),
        ("", ("ja",)),
        ("ja-JP", ("ja",)),
        ("ko-KR", ("ko", "en", "ja")),
        ("zh-CN", ("zh-Hans", "en", "ja")),
        ("fr", ("fr", "en", "ja")),
    ],
)
def test_the_chain(language, expected):
    assert languages.chain(language) == expected


@given(st.one_of(st.sampled_from(LANGUAGES), st.text(max_size=12), st.none()))
def test_every_chain_starts_with_the_language_and_ends_in_japanese(language):
    chain = languages.chain(language)
    assert chain[-1] == "ja"
    assert len(set(chain)) == len(chain)
    if language in LANGUAGES:
        assert chain[0] == language


@pytest.mark.parametrize(
    ("language", "available", "expected"),
    [
        ("vi", {"ja", "en"}, "en"),
        ("vi", {"ja", "en", "vi"}, "vi"),
        ("vi", {"ja"}, "ja"),
        ("ja-easy", {"ja", "en"}, "ja"),  # やさしい日本語 readers get Japanese, not English
        ("en", {"ja", "ko"}, "ja"),
        ("ko", {"zh-Hans", "ja"}, "ja"),  # another foreign language is no fallback
        ("ne", {"en"}, "en"),
        ("ne", set(), None),
        ("ja", {"en"}, None),  # Japanese missing: nothing a ja resident's chain can give
    ],
)
def test_text_language(language, available, expected):
    assert languages.text_language(language, available) == expected


def test_pick_skips_blank_texts():
    texts = {"ja": "日本語", "en": "  ", "vi": ""}
    assert languages.pick(texts, "vi") == "日本語"
    assert languages.pick({"en": "English"}, "ja", default="-") == "-"


# --- negotiation: the language of a request, on every resident route ------------------------------


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, "ja"),
        ("", "ja"),
        ("ja", "ja"),
        ("ja-JP", "ja"),
        ("en", "en"),
        ("en-US", "en"),
        ("EN-gb", "en"),
        ("en-US,en;q=0.9", "en"),
        ("ja,en;q=0.8", "ja"),
        ("en;q=0.5, ja;q=0.9", "ja"),
        ("ja;q=0.4, en-GB;q=0.6", "en"),
        ("ja-easy", "ja-easy"),
        ("JA-EASY, en;q=0.5", "ja-easy"),
        ("vi", "vi"),
        ("vi-VN,vi;q=0.9,en;q=0.8", "vi"),
        ("ko-KR", "ko"),
        ("zh-Hans", "zh-Hans"),
        ("zh-CN, en;q=0.1", "zh-Hans"),
        ("zh-TW", "zh-Hans"),  # the ward writes Simplified only; still closer than English
        ("ne-NP, ja;q=0.1", "ne"),
        ("fr-FR, vi;q=0.8, en;q=0.5", "vi"),
        ("fr", "en"),  # a language the ward does not write: its chain, en -> ja
        ("fr-FR, fr;q=0.9, en;q=0.5", "en"),
        ("de, ja;q=0.1", "ja"),  # one of ours, however little wanted, beats a chain
        ("en;q=0", "ja"),
        ("en;q=0, *", "ja"),
        ("*", "ja"),
        ("*;q=0.5, en;q=0.6", "en"),
        ("en, ja", "en"),
        ("ja, en", "ja"),
        ("english", "ja"),  # not a language tag
        ("x!, ko;q=0.2", "ko"),
        ("en;q=abc", "ja"),
        ("en;q=1.5", "ja"),
        ("  en-US ; q=0.7 ", "en"),
        ("en;level=1;q=0.8, ja;q=0.7", "en"),
        (",,;", "ja"),
    ],
)
def test_negotiate_an_accept_language_header(header, expected):
    assert languages.negotiate(header) == expected


@pytest.mark.parametrize(
    ("chosen", "header", "expected"),
    [
        ("en", "ko", "en"),  # `?lang=` (a page's switcher, an app's setting) wins
        ("ne", "en", "ne"),
        ("VI", None, "vi"),
        ("ja-easy", "en", "ja-easy"),
        ("xx", "zh-TW", "zh-Hans"),  # not one of ours: the header decides
        ("", "fr, ne;q=0.5", "ne"),
        (None, "zh-CN,zh;q=0.9", "zh-Hans"),
        ("xx", None, "ja"),
    ],
)
def test_a_chosen_language_comes_first(chosen, header, expected):
    assert languages.negotiate(header, chosen) == expected


@given(st.one_of(st.text(max_size=40), st.none()), st.one_of(st.text(max_size=12), st.none()))
def test_negotiation_always_answers_one_of_the_seven(header, chosen):
    assert languages.negotiate(header, chosen) in LANGUAGES


# --- consumers -------------------------------------------------------------------------------


def _content(texts):
    return announcements.content_from_document(
        {"category": "general", "topic": "waste", "texts": texts, "target": {"areas": ["aoto"]}}
    )


def test_announcement_text_per_resident_language():
    content = _content(
        {"ja": "ごみの日が変わります。", "en": "Garbage days change.", "ko": "쓰레기 날이 바뀝니다."}
    )
    assert {language: content.text_language(language) for language in LANGUAGES} == {
        "ja": "ja",
        "ja-easy": "ja",
        "en": "en",
        "zh-Hans": "en",
        "ko": "ko",
        "vi": "en",
        "ne": "en",
    }
    assert content.text("vi") == "Garbage days change."
    assert content.text("ja-easy") == "ごみの日が変わります。"


@pytest.mark.parametrize(
    ("stored", "title"), [("ja-easy", "ja"), ("zh-Hans", "en"), ("ko", "en"), ("vi", "en"), ("ne", "en")]
)
def test_notifications_follow_the_chain(stored, title):
    built = notifications.build(
        event=notifications.CREATED,
        status="received",
        form_title={"ja": "粗大ごみの申込", "en": "Bulky waste collection"},
        receipt="KTS-2611-7Q4M",
        public_note=None,
        language=stored,
    )
    # Written in the resident's own language (the catalogue has every one); the form's title,
    # which has only Japanese and English, from the first of their chain that has one.
    assert built.language == stored
    assert ("Bulky waste collection" in built.text) == (title == "en")
    assert messages.text("email.lead_created", stored, title="x").split("x")[0] in built.text


def test_catalogue_messages_follow_the_chain(monkeypatch):
    monkeypatch.setattr(
        messages, "catalogue", lambda: {"demo.key": {"ja": "こんにちは{name}", "en": "Hello {name}"}}
    )
    assert messages.text("demo.key", "vi", name="A") == "Hello A"
    assert messages.text("demo.key", "ja-easy", name="A") == "こんにちはA"
    assert messages.text("demo.key", "ne", name="A") == "Hello A"


def test_form_labels_and_problems_follow_the_chain():
    class Form:  # a form labelled in ja and en only (the catalogue refuses one; the chain still holds)
        schema = {"properties": {"address": {"type": "string"}}}
        meta = {"labels": {"address": {"ja": "住所", "en": "Address"}}}

    problems = [{"pointer": "", "keyword": "required", "expected": "address"}]
    [vietnamese] = form_problems.explain(problems, Form(), "vi")  # type: ignore[arg-type]
    [easy] = form_problems.explain(problems, Form(), "ja-easy")  # type: ignore[arg-type]
    assert "Address" in vietnamese["message"]
    assert "住所" in easy["message"]


def test_topic_labels_and_the_ward_name_follow_the_chain():
    topic = preferences.Topic("demo", {"ja": "ごみ", "en": "Garbage"})
    assert topic.label("ne") == "Garbage"
    assert topic.label("ja-easy") == "ごみ"
    assert ward.ward_name("en") in ward.ward()["name"].values()
    assert ward.ward_name("xx") == ward.ward()["name"].get("en", ward.ward()["name"]["ja"])


@pytest.mark.parametrize(
    ("text", "language", "written"),
    [
        ("The light was fixed today.", "en", True),
        ("本日修理しました。The light was fixed.", "en", False),  # kana: partly unread
        ("오늘 수리했습니다.", "ko", True),
        ("We fixed it.", "ko", False),
        ("आज मर्मत गरियो।", "ne", True),
        ("今天已修好。", "zh-Hans", True),
        ("今日修理しました。", "zh-Hans", False),  # kana: Japanese, not Chinese
        ("Đã sửa xong.", "vi", True),
        ("本日修理しました。", "ja-easy", False),  # plain Japanese is not told from any Japanese
        ("街路灯LED交換済", "en", False),  # kanji with a Latin word: Japanese (a review)
        ("現地確認済 ETA 12/24", "vi", False),
    ],
)
def test_a_note_is_written_in_a_language_by_its_script(text, language, written):
    from chalicelib.domain.languages import written_in

    assert written_in(text, language) is written
