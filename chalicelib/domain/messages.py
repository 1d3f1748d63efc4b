"""The message catalogue: every text a resident reads (LINE, emails, the API's errors), in the
seven languages.

Texts live in chalicelib/data/messages.json, keyed like `report.ask_photos`, and in one file
per capability under chalicelib/data/messages/ (payments.json, queue.json, ...): a key is
defined once, in one file, and every file is read as one catalogue. A text missing
in a language falls back along the language's chain (domain/languages.py: vi -> en -> ja),
so a resident always gets an answer they can read; the unit tests
refuse a catalogue with any gap, so the fallback is a safety net, never the plan.

A ja-easy text may mark furigana as ｜漢字《かんじ》 (Aozora Bunko ruby notation; the web pages
and the forms' labels do). The pages render it as <ruby>; anything read as plain text (LINE,
email, the API's JSON, a page's <title>) goes through `plain`, which keeps the written word.
"""

from __future__ import annotations

import json
import re
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from chalicelib.domain import languages
from chalicelib.domain.residents import DEFAULT_LANGUAGE, LANGUAGES
from chalicelib.domain.ward import DATA_DIR

CATALOGUE_PATH = DATA_DIR / "messages.json"
CAPABILITY_CATALOGUES = DATA_DIR / "messages"
# LINE's limit for a quick-reply or button label.
MAX_LABEL_CHARS = 20
# ｜漢字《かんじ》: a word and its furigana.
FURIGANA = re.compile(r"｜([^｜《》]+)《([^《》]+)》")


@cache
def catalogue() -> dict[str, dict[str, str]]:
    merged: dict[str, dict[str, str]] = {}
    for path in (CATALOGUE_PATH, *sorted(CAPABILITY_CATALOGUES.glob("*.json"))):
        texts = json.loads(path.read_text(encoding="utf-8"))["messages"]
        if twice := merged.keys() & texts.keys():
            raise ValueError(f"{path.name} defines keys another catalogue file has: {sorted(twice)}")
        merged.update(texts)
    return merged


def text(key: str, language: str, /, **values: object) -> str:
    """The text for `key` in `language` (where it has none, the first of its fallback chain
    that has one, domain/languages.py), with {names} filled in."""
    texts = catalogue()[key]  # KeyError: a key used in code is missing from the catalogue
    template = languages.pick(texts, language) or texts[DEFAULT_LANGUAGE]
    return template.format(**values) if values else template


@dataclass(frozen=True, init=False)
class Text:
    """A catalogue text and its values, not yet written in any language.

    What a domain error, a problem or a detail carries instead of a sentence: services do not
    know who reads them, so the edge that does renders it once, in the reader's language (the
    API from the request, api/errors.py; a web page from its own language). A value may be
    another Text (a status label) or a language -> text mapping (a form's field label), both
    rendered in the same language.
    """

    key: str
    values: tuple[tuple[str, Any], ...]

    def __init__(self, key: str, /, **values: Any) -> None:
        object.__setattr__(self, "key", key)
        object.__setattr__(self, "values", tuple(sorted(values.items())))

    def render(self, language: str) -> str:
        return text(self.key, language, **{name: _value(value, language) for name, value in self.values})

    def __str__(self) -> str:  # logs and tracebacks: the ward's language
        return self.render(DEFAULT_LANGUAGE)


def _value(value: Any, language: str) -> Any:
    if isinstance(value, Text):
        return value.render(language)
    if isinstance(value, Mapping):
        return languages.pick(value, language)
    return value


def localize(value: Any, language: str, *, furigana: bool = False) -> Any:
    """`value` with every Text in it (at any depth of dicts, lists and tuples) rendered in
    `language`: plain text, unless `furigana` (a page that renders ja-easy markup as <ruby>)."""

    def write(text: Text) -> str:
        rendered = text.render(language)
        return rendered if furigana else plain(rendered)

    return map_texts(value, write)


def map_texts(value: Any, write: Callable[[Text], str]) -> Any:
    """`value` with every Text in it (at any depth of dicts, lists and tuples) replaced by `write`'s."""
    if isinstance(value, Text):
        return write(value)
    if isinstance(value, dict):
        return {name: map_texts(item, write) for name, item in value.items()}
    if isinstance(value, list | tuple):
        return [map_texts(item, write) for item in value]
    return value


def label(key: str, language: str) -> str:
    """A button label: the text as written (tests/unit/test_line_limits.py keeps each within
    LINE's 20 characters in every language, so nothing is ever cut)."""
    return text(key, language)


def plain(text: str) -> str:
    """`text` without furigana markup ("｜葛飾区《かつしかく》の まどぐち" -> "葛飾区の まどぐち"),
    for plain-text channels. Text without markup is returned as it is."""
    return FURIGANA.sub(r"\1", text)


def placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def gaps() -> list[str]:
    """Every (key, language) without a text, and every text whose {names} differ from Japanese."""
    found = []
    for key, texts in catalogue().items():
        expected = placeholders(texts.get(DEFAULT_LANGUAGE, ""))
        for language in LANGUAGES:
            value = texts.get(language)
            if not isinstance(value, str) or not value.strip():
                found.append(f"{key}: no {language} text")
            elif placeholders(value) != expected:
                found.append(
                    f"{key}: {language} has {sorted(placeholders(value))}, ja has {sorted(expected)}"
                )
    return found
