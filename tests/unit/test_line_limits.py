"""Every text that goes into a LINE object fits LINE's documented limit for its field, in all
seven languages: catalogue labels, form titles, topics, areas, language names, FAQ texts and
the rich menu. Built with the same constructors the chat uses, so nothing here is cut to fit."""

from __future__ import annotations

import json

import pytest

from chalicelib.domain import chat, line_limits, messages
from chalicelib.domain.faq import load_index
from chalicelib.domain.forms import areas, catalogue
from chalicelib.domain.preferences import topics
from chalicelib.domain.residents import LANGUAGES
from chalicelib.domain.ward import DATA_DIR
from chalicelib.services.chat.settings import LANGUAGE_NAMES, _area_label

DATA = "x" * 60  # postback data as signed (action, value, signature) stays far below 300

# Catalogue texts that the chat puts on buttons (quick-reply labels).
LABEL_PREFIXES = ("button.", "label.", "age.")
LABEL_KEYS = {"greeting.button", "announce.button_stop_topic", "faq.choice"}


def label_keys() -> list[str]:
    return sorted(k for k in messages.catalogue() if k.startswith(LABEL_PREFIXES) or k in LABEL_KEYS)


def as_quick_reply(label: str, display_text: str | None = None) -> list[str]:
    message = chat.text_message("x", [chat.postback_item(label, DATA, display_text)])
    return line_limits.message_problems(message)


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_catalogue_label_fits_in_every_language(language):
    found = {}
    for key in label_keys():
        label = messages.text(key, language, number=3, receipt="KTS-2612-0BV2")
        problems = as_quick_reply(label) + as_quick_reply("x", label)
        problems += line_limits.message_problems(
            chat.text_message("x", [chat.uri_item(label, "https://example.jp/")])
        )
        if problems or not label.strip():
            found[key] = problems or ["empty"]
    assert found == {}


@pytest.mark.parametrize("language", LANGUAGES)
def test_camera_and_location_buttons_fit(language):
    items = [
        *chat.camera_items(language),
        chat.location_item(messages.text("button.send_location", language)),
    ]
    assert line_limits.message_problems(chat.text_message("x", items)) == []


@pytest.mark.parametrize("language", LANGUAGES)
def test_topics_areas_and_language_names_fit(language):
    labels = [("✓ " + messages.text(f"label.topic.{topic.id}", language)) for topic in topics()]
    labels += [_area_label(area["id"], language) for area in areas()]
    labels += list(LANGUAGE_NAMES.values())
    assert [(label, p) for label in labels for p in as_quick_reply(label)] == []


def test_every_form_and_topic_has_a_button_label():
    for form in catalogue():
        assert f"label.form.{form.id}" in messages.catalogue()
    for topic in topics():
        assert f"label.topic.{topic.id}" in messages.catalogue()


@pytest.mark.parametrize("language", LANGUAGES)
def test_faq_texts_fit_where_they_go(language):
    index = load_index()
    for entry_id in index.entries:
        found = index.answer(entry_id, language)
        answer = found["answer"] + "\n\n" + messages.text("faq.more", language, link=found["link"])
        assert line_limits.message_problems(chat.text_message(answer)) == [], entry_id
        # A suggestion's button shows the question as the resident's message (displayText).
        label = messages.text("faq.choice", language, number=3)
        assert as_quick_reply(label, found["question"]) == [], entry_id


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_catalogue_text_fits_a_text_message(language):
    for key, texts in messages.catalogue().items():
        assert line_limits.utf16(texts[language]) <= line_limits.TEXT_MESSAGE // 2, key  # room for values


def test_the_rich_menu_fits():
    menu = json.loads((DATA_DIR / "richmenu.json").read_text(encoding="utf-8"))
    assert line_limits.rich_menu_problems(menu) == []


def test_the_checker_catches_what_line_would_refuse():
    too_long = chat.text_message("x", [chat.postback_item("Report illegal dumping here", DATA)])
    assert any("label" in p for p in line_limits.message_problems(too_long))
    assert line_limits.graphemes("नेपाली") == 3  # ने पा ली: vowel signs extend their letter
    assert line_limits.graphemes("👍🏽") <= 2
    template = {"type": "template", "altText": "a" * 401, "template": {"type": "buttons", "text": "x"}}
    assert line_limits.message_problems(template)
    assert line_limits.rich_menu_problems({"chatBarText": "メニュー Menu とても長い名前です"})


def test_no_resident_facing_japanese_is_written_inline_on_the_line_path():
    """What the chat and the LINE pushes say comes from the catalogue (covered by its
    completeness test); the only Japanese literals allowed are what residents type (cancel
    words, greetings) and the languages' own names."""
    import ast
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "chalicelib"
    files = [
        *sorted((root / "services" / "chat").glob("*.py")),
        root / "domain" / "chat.py",
        root / "domain" / "responses.py",
        root / "workers" / "responses.py",
        root / "workers" / "line_events.py",
    ]
    japanese = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")
    allowed = {
        *chat.CANCEL_WORDS,
        *chat.GREETING_WORDS,
        *LANGUAGE_NAMES.values(),
        *(word for words in chat.TYPED_ANSWERS.values() for word in words),  # input: a typed yes or no
        *chat.DANGER_WORDS,
        *chat.SAFE_WORDS,
        chat.POLITE_END.pattern,
    }
    found = []
    for path in files:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        # Docstrings are prose for developers, not messages.
        docstrings = {
            id(node.body[0].value)
            for node in ast.walk(tree)
            if isinstance(node, (ast.Module, ast.FunctionDef, ast.ClassDef))
            and node.body
            and isinstance(node.body[0], ast.Expr)
            and isinstance(node.body[0].value, ast.Constant)
        }
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and japanese.search(node.value)
                and id(node) not in docstrings
                and node.value not in allowed
            ):
                found.append(f"{path.name}:{node.lineno}: {node.value[:40]!r}")
    assert found == []
