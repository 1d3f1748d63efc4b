"""Greetings, thanks and the like: what residents write around a question, or alone (pure).

chalicelib/data/courtesy.json lists them per kind and language. The FAQ searches a question
without the ones that open or close it (a thanks before a question read as small talk), and the
chat answers one alone: a greeting or an opener with what to ask, a thanks with "you're welcome",
an ok while a question waits for "Ask a person" with that button again.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable

from chalicelib.domain.ward import DATA_DIR

DATA_PATH = DATA_DIR / "courtesy.json"
_DATA = json.loads(DATA_PATH.read_text(encoding="utf-8"))
KINDS = ("greetings", "openers", "thanks", "acknowledgements")
_HAN_OR_KANA = re.compile("[\u3040-\u30ff\u3400-\u9fff]")
_HIRAGANA = "[\u3041-\u309f]"
_WORD_CHAR = "[\\w\u0900-\u0963\u0966-\u097f]"  # \w leaves out Devanagari's vowel signs; not its dandas
_NOT_WORD_CHAR = "[^\\w\u0900-\u0963\u0966-\u097f]"


def _folded(phrase: str) -> str:
    return unicodedata.normalize("NFKC", phrase).casefold()


# The kind of each phrase (compared NFKC, case-folded).
KIND_OF = {_folded(phrase): kind for kind in KINDS for phrases in _DATA[kind].values() for phrase in phrases}

# A greeting or an opener and the language it is in (compared NFKC, lower case, as chat._bare does).
GREETINGS = {
    unicodedata.normalize("NFKC", word).lower(): language
    for kind in ("greetings", "openers")
    for language, words in _DATA[kind].items()
    for word in words
}


_LONGEST_FIRST = sorted(KIND_OF, key=lambda p: (-len(p), p))


def _pattern(phrase: str, *, opening: bool) -> str:
    """One phrase: Chinese and Japanese ones with optional spaces, the others as whole words. At
    a text's start, a hiragana one must not run on into hiragana (はいしゃ, a dentist, is no はい)
    and an acknowledgement needs a mark after it (네 살 is "four years old", 네, 살 a "yes")."""
    if _HAN_OR_KANA.search(phrase):
        found = "\\s*".join(map(re.escape, phrase.replace(" ", "")))
        if opening and re.fullmatch(f"{_HIRAGANA}+", phrase.replace(" ", "")):
            found += f"(?!\\s*{_HIRAGANA})"
    else:
        found = f"(?<!{_WORD_CHAR})" + "\\s+".join(map(re.escape, phrase.split())) + f"(?!{_WORD_CHAR})"
    if opening and KIND_OF.get(phrase) == "acknowledgements":
        found += f"(?=\\s*(?:$|(?!\\s){_NOT_WORD_CHAR}))"
    return found


def _patterns() -> tuple[re.Pattern[str], re.Pattern[str]]:
    """The phrases that open a text, and, spelt backwards, those that close it (matched at the
    start of the reversed text: a search for the end of a text tries every character), longest
    first."""
    between = f"{_NOT_WORD_CHAR}*"

    def run(alternatives: Iterable[str]) -> re.Pattern[str]:
        return re.compile(f"{between}(?:(?:{'|'.join(alternatives)}){between})+", re.I)

    # Only around the question: inside it a word may be something else ("chào bán", to sell).
    opening = run(_pattern(phrase, opening=True) for phrase in _LONGEST_FIRST)
    closing = run(_pattern(phrase[::-1], opening=False) for phrase in _LONGEST_FIRST)
    return opening, closing


_OPENING, _CLOSING_BACKWARDS = _patterns()
# Any one phrase, to tell which kinds a text of courtesy alone is made of.
_ANY = re.compile("|".join(_pattern(phrase, opening=False) for phrase in _LONGEST_FIRST))
_SPACELESS = {phrase.replace(" ", ""): kind for phrase, kind in KIND_OF.items()}


def without_courtesy(text: str, keep: re.Pattern[str] | None = None) -> str:
    """The text (NFKC) without the greetings and thanks that open or close it; "" when that is
    all it says. `keep` finds terms that begin with one ("Hello Work", the job centre): the
    opening is not cut inside them."""
    text = unicodedata.normalize("NFKC", text)
    opened = _OPENING.match(text)
    cut = opened.end() if opened else 0
    if cut and keep is not None:
        for term in keep.finditer(text, 0, cut + 200):
            if term.start() < cut < term.end():
                cut = term.start()
                break
    rest = text[cut:]
    closed = _CLOSING_BACKWARDS.match(rest[::-1])
    rest = rest[: len(rest) - closed.end()] if closed else rest
    return rest if any(char.isalnum() for char in rest) else ""


def kind(text: str) -> str | None:
    """What a text of courtesy alone is, by its strongest part: "thanks" if it thanks, else
    "greetings" if it greets, else "acknowledgements" for an ok, else "greetings" (an "excuse
    me" alone); None if it says anything more."""
    if without_courtesy(text) or not any(char.isalnum() for char in text):
        return None
    found = {_SPACELESS.get(re.sub(r"\s+", "", match.group())) for match in _ANY.finditer(_folded(text))}
    for strongest in ("thanks", "greetings", "acknowledgements"):
        if strongest in found:
            return strongest
    return "greetings"  # openers alone ("excuse me"): the resident is about to ask


def terms_opening_with_courtesy(terms: Iterable[str]) -> re.Pattern[str] | None:
    """Of `terms` (an FAQ's keywords), those that begin with a greeting or the like and go on
    ("hello work"), as one pattern for `without_courtesy(keep=...)`."""
    kept = sorted(
        {
            term
            for term in terms
            if (found := _OPENING.match(unicodedata.normalize("NFKC", term)))
            and found.end() < len(term.strip())
        },
        key=lambda term: (-len(term), term),
    )
    if not kept:
        return None
    return re.compile("|".join("\\s+".join(map(re.escape, term.split())) for term in kept), re.I)
