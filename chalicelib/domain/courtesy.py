"""Greetings and thanks: what residents write around a question, or alone (pure).

chalicelib/data/courtesy.json lists them per language. The FAQ searches a question without the
ones that open or close it (a thanks before a question read as small talk), and the chat answers
one alone: a greeting with what to ask, a thanks with "you're welcome".
"""

from __future__ import annotations

import json
import re
import unicodedata

from chalicelib.domain.ward import DATA_DIR

_DATA = json.loads((DATA_DIR / "courtesy.json").read_text(encoding="utf-8"))
_HAN_OR_KANA = re.compile("[\u3040-\u30ff\u3400-\u9fff]")
_WORD_CHAR = "[\\w\u0900-\u0963\u0966-\u097f]"  # \w leaves out Devanagari's vowel signs; not its dandas
_NOT_WORD_CHAR = "[^\\w\u0900-\u0963\u0966-\u097f]"

# A greeting and the language it is in (compared NFKC, lower case, as chat._bare does).
GREETINGS = {
    unicodedata.normalize("NFKC", word).lower(): language
    for language, words in _DATA["greetings"].items()
    for word in words
}


def _patterns() -> tuple[re.Pattern[str], re.Pattern[str]]:
    """The greetings and thanks that open a text, and, spelt backwards, those that close it
    (matched at the start of the reversed text: a search for the end of a text tries every
    character), longest first: Chinese and Japanese ones with optional spaces, the others as
    whole words."""
    phrases = {
        unicodedata.normalize("NFKC", phrase).casefold()
        for kind in ("greetings", "thanks")
        for by_language in _DATA[kind].values()
        for phrase in by_language
    }

    def pattern(phrase: str) -> str:
        if _HAN_OR_KANA.search(phrase):
            return "\\s*".join(map(re.escape, phrase.replace(" ", "")))
        return f"(?<!{_WORD_CHAR})" + "\\s+".join(map(re.escape, phrase.split())) + f"(?!{_WORD_CHAR})"

    def run(spelt: list[str]) -> re.Pattern[str]:
        either = "|".join(pattern(phrase) for phrase in sorted(spelt, key=lambda p: (-len(p), p)))
        between = f"{_NOT_WORD_CHAR}*"
        return re.compile(f"{between}(?:(?:{either}){between})+", re.I)

    # Only around the question: inside it a word may be something else ("chào bán", to sell).
    return run(list(phrases)), run([phrase[::-1] for phrase in phrases])


_OPENING, _CLOSING_BACKWARDS = _patterns()


def without_courtesy(text: str) -> str:
    """The text (NFKC) without the greetings and thanks that open or close it; "" when that is
    all it says."""
    text = unicodedata.normalize("NFKC", text)
    opened = _OPENING.match(text)
    rest = text[opened.end() :] if opened else text
    closed = _CLOSING_BACKWARDS.match(rest[::-1])
    rest = rest[: len(rest) - closed.end()] if closed else rest
    return rest if any(char.isalnum() for char in rest) else ""
