"""Which text a resident reads when there is none in their language: one fallback chain.

A resident's language is one of residents.LANGUAGES. Where a text (an announcement, a
notification, a catalogue message, a form label, an FAQ answer) has no version in it, the
resident gets the first language of their chain that has one:

    ja       -> ja
    ja-easy  -> ja                 (やさしい日本語 readers read kanji with effort, not English)
    en       -> ja
    zh-Hans, ko, vi, ne -> en -> ja (more of the ward's foreign residents read English than
                                     Japanese)

A language outside the list (a stale profile, a browser's "fr") is read as a foreign
resident's: en, then ja; a Japanese regional tag ("ja-JP") as ja. Japanese is the last
resort of every chain, and every text the ward writes has it.

Every consumer goes through `text_language` / `pick` here (announcements and their fan-out,
notifications, messages.text, form labels, the FAQ's answers), so the chain is changed in
one place. `text_language` is pure and cheap: an announcement preview can call it per
resident language to say which text each group will get.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from chalicelib.domain.residents import DEFAULT_LANGUAGE, LANGUAGES

ENGLISH = "en"

# The BCP 47 tag of a language's texts (Content-Language, <html lang>): やさしい日本語 is Japanese
# (a reader's setting, not a language of its own: "ja-easy" is not a valid tag).
_TAGS = {"ja-easy": "ja"}


def language_tag(language: str) -> str:
    return _TAGS.get(language, language)


FALLBACK: dict[str, tuple[str, ...]] = {
    "ja": ("ja",),
    "ja-easy": ("ja-easy", "ja"),
    "en": ("en", "ja"),
    "zh-Hans": ("zh-Hans", "en", "ja"),
    "ko": ("ko", "en", "ja"),
    "vi": ("vi", "en", "ja"),
    "ne": ("ne", "en", "ja"),
}
assert set(FALLBACK) == set(LANGUAGES), "every resident language has a chain"

# Each language in its own name (an endonym): what a language picker shows, the same whatever
# the reader reads now, so these are not translated and not in the message catalogue.
NAMES: dict[str, str] = {
    "ja": "日本語",
    "ja-easy": "やさしい にほんご",
    "en": "English",
    "zh-Hans": "中文（简体）",
    "ko": "한국어",
    "vi": "Tiếng Việt",
    "ne": "नेपाली",
}
assert set(NAMES) == set(LANGUAGES), "every resident language has its name"
assert all(chain[-1] == DEFAULT_LANGUAGE for chain in FALLBACK.values())


def chain(language: str | None) -> tuple[str, ...]:
    """The languages to try, in order, for a resident of `language` (it first, Japanese last)."""
    if language in FALLBACK:
        return FALLBACK[language]
    if not language:
        return (DEFAULT_LANGUAGE,)
    tag = language.strip().lower()
    for known in LANGUAGES:  # case and region variants of a known tag: "EN", "ko-KR", "zh-hans-cn"
        if tag == known.lower() or tag.startswith(known.lower() + "-"):
            return FALLBACK[known]
    if tag.split("-", 1)[0] == "ja":
        return FALLBACK["ja"]
    if tag.split("-", 1)[0] == "zh":  # zh-CN, zh-SG: Simplified; zh-TW still reads it better than English
        return FALLBACK["zh-Hans"]
    return (language, ENGLISH, DEFAULT_LANGUAGE)


def text_language(language: str | None, available: Iterable[str]) -> str | None:
    """The language of the text a resident of `language` gets, given the languages that have a
    text; None when none of their chain has one (only when Japanese is missing too).

    >>> text_language("vi", {"ja", "en"})
    'en'
    >>> text_language("ja-easy", {"ja", "en"})
    'ja'
    """
    have = set(available)
    return next((candidate for candidate in chain(language) if candidate in have), None)


def available(texts: Mapping[str, object]) -> set[str]:
    """The languages of `texts` that hold a non-blank string (a blank text is no text)."""
    return {language for language, text in texts.items() if isinstance(text, str) and text.strip()}


def pick_language(texts: Mapping[str, object], language: str | None) -> str | None:
    """The language `pick` takes its text from."""
    return text_language(language, available(texts))


def pick(texts: Mapping[str, str], language: str | None, default: str = "") -> str:
    """The text of `texts` (language -> text) a resident of `language` reads: theirs, else the
    first of their chain that has one; `default` when none has (Japanese missing too)."""
    chosen = pick_language(texts, language)
    return texts[chosen] if chosen is not None else default


def negotiate(accept_language: str | None, chosen: str | None = None) -> str:
    """The resident language to answer a request in: `chosen` (a page's `?lang=`) when it is one
    of ours, else the Accept-Language range of highest weight that one of ours serves (RFC 9110
    §12.5.4; the first listed on a tie; q=0 refuses), else the chain of the most wanted language
    (a browser in French gets English), else Japanese.

    A range serves ours by its exact tag ("ja-easy", "zh-Hans"), its primary language ("en-GB",
    "ko-KR") or, for Chinese, any "zh" tag (the ward writes Simplified only). A range that is no
    language tag ("english", "x!") is ignored, as is a malformed weight.

    The one negotiation of every resident route: the API (api/errors.request_language: errors,
    forms, submissions, queues, consultations) and the web pages.

    >>> negotiate("fr-FR, vi;q=0.8, en;q=0.5")
    'vi'
    >>> negotiate("fr")
    'en'
    >>> negotiate(None, "en-US")
    'en'
    """
    if ours := served(chosen):
        return ours
    by_tag = {language.lower(): language for language in LANGUAGES}
    best: tuple[float, str] | None = None
    wanted: tuple[float, str] | None = None
    for part in (accept_language or "").split(","):
        tag, _, params = part.strip().partition(";")
        tag = tag.strip().lower()
        weight = _weight(params)
        if not tag or weight is None or weight <= 0:
            continue
        ours = _served_by(tag, by_tag)
        if ours is not None and (best is None or weight > best[0]):
            best = (weight, ours)
        if _LANGUAGE_TAG.fullmatch(tag) and (wanted is None or weight > wanted[0]):
            wanted = (weight, tag)
    if best is not None:
        return best[1]
    if wanted is not None:
        return text_language(wanted[1], LANGUAGES) or DEFAULT_LANGUAGE
    return DEFAULT_LANGUAGE


def known(tag: str | None) -> str | None:
    """`tag` as the resident language it names exactly, whatever its case ("VI" -> "vi"); None
    when it names none (a `?lang=` that is not one of ours: "xx", "vi-VN")."""
    by_tag = {language.lower(): language for language in LANGUAGES}
    return by_tag.get(tag.strip().lower()) if tag else None


def served(tag: str | None) -> str | None:
    """The resident language a chosen tag (`?lang=`, a form's `lang`) asks for: one of ours
    exactly, else as its Accept-Language range would be served ("en-US" -> "en", "zh-TW" ->
    "zh-Hans"); None when it asks for none of ours."""
    if not tag:
        return None
    by_tag = {language.lower(): language for language in LANGUAGES}
    return known(tag) or _served_by(tag.strip().lower(), by_tag)


# A language range naming a language (BCP 47: a primary subtag of 2-3 letters, then subtags).
_LANGUAGE_TAG = re.compile(r"[a-z]{2,3}(?:-[a-z0-9]{1,8})*")


def _served_by(tag: str, by_tag: Mapping[str, str]) -> str | None:
    if tag == "*":
        return DEFAULT_LANGUAGE
    if tag in by_tag:
        return by_tag[tag]
    primary = tag.split("-", 1)[0]
    if primary == "zh":
        return "zh-Hans"
    return by_tag.get(primary)


def _weight(params: str) -> float | None:
    """The q parameter (1 when absent); None when it is malformed, so the range is ignored."""
    for param in params.split(";"):
        name, _, value = param.strip().partition("=")
        if name.strip().lower() == "q":
            try:
                weight = float(value.strip())
            except ValueError:
                return None
            return weight if 0 <= weight <= 1 else None
    return 1.0


# The scripts a language is written in, for `written_in` (ja-easy is not judged: plain Japanese
# looks like any Japanese).
_KANA = re.compile(r"[\u3040-\u30ff]")
_SCRIPTS = {
    "en": re.compile(r"[A-Za-z]"),
    "vi": re.compile(r"[A-Za-z]"),
    "ko": re.compile(r"[\uac00-\ud7a3]"),
    "ne": re.compile(r"[\u0900-\u097f]"),
    "zh-Hans": re.compile(r"[\u4e00-\u9fff]"),
}


_KANJI = re.compile(r"[\u4e00-\u9fff]")


def written_in(text: str, language: str) -> bool:
    """Whether `text` is written in `language`'s script with no Japanese in it (no kana, and no
    kanji but in Chinese): a note in English for a resident who reads English needs no warning
    that it is not translated, but 「街路灯LED交換済」 does (a review)."""
    script = _SCRIPTS.get(language)
    japanese = _KANA.search(text) or (language != "zh-Hans" and _KANJI.search(text))
    return bool(script and script.search(text) and not japanese)
