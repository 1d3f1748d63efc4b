"""JSON as every request body is read (API routes, webhooks, a form's check-answers page). Pure.

Python's json module takes more than JSON: NaN and Infinity, numbers beyond a float (read as
inf), an object naming a key twice (the last one wins, so a checker and a consumer could read
different values), and "\\ud800", a lone surrogate that no UTF-8 store, queue or log can encode
(it fails only later, after the request was recorded). All are refused here, up front.
"""

from __future__ import annotations

import json
import math
import re
import sys
import unicodedata
from typing import Any


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e999
        raise ValueError("number out of range")
    return value


# Python's own limit on an integer's digits: past it, its refusal gave advice about the
# interpreter (sys.set_int_max_str_digits). Shorter ones are read, and the schema judges them.
MAX_INTEGER_DIGITS = sys.get_int_max_str_digits() or 4300  # 0: no limit in this interpreter


def _whole(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INTEGER_DIGITS:
        raise ValueError(f"an integer has at most {MAX_INTEGER_DIGITS} digits")
    return int(text)


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    document = dict(pairs)
    if len(document) != len(pairs):
        raise ValueError("a key is named twice")
    return document


def parse(body: bytes | str) -> Any:
    """The JSON document in `body` (UTF-8); ValueError (or RecursionError) if it is not strict JSON."""
    # Decode strictly first: json.loads(bytes) would also take UTF-16/32.
    text = body.decode("utf-8") if isinstance(body, bytes) else body
    document = json.loads(
        text,
        parse_float=_finite,
        parse_int=_whole,
        parse_constant=_no_constants,
        object_pairs_hook=_unique_keys,
    )
    json.dumps(document, ensure_ascii=False).encode("utf-8")  # a lone surrogate: UnicodeEncodeError
    return document


def why_not(error: Exception) -> str:
    """What parse() refused, for the sender's developer: one message for all of them ("not valid
    UTF-8 JSON") left a vendor guessing which of a duplicate key, NaN or deep nesting to fix."""
    if isinstance(error, json.JSONDecodeError):
        return f"{error.msg} at line {error.lineno}, column {error.colno}"
    if isinstance(error, UnicodeDecodeError):
        return f"not UTF-8 at byte {error.start}"
    if isinstance(error, UnicodeEncodeError):
        return "a lone UTF-16 surrogate escape (\\ud800-\\udfff) is not text"
    if isinstance(error, RecursionError):
        return "nested too deeply"
    return str(error)  # our own refusals: NaN, 1e999, a key named twice, 5,000 digits


# Characters nobody types into a field: C0 controls other than tab and line breaks, DEL, C1, the
# bidi embeddings, overrides and isolates that make text display otherwise than it reads (an
# audit note that looks blank, a counter name that reverses the message around it) and the
# noncharacters U+FFFE, U+FFFF. Kept: the bidi marks (LRM, RLM: phones put them around numbers)
# and tag characters (they spell the flags of Scotland and Wales).
UNTYPEABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ufffe\uffff]")


def untypeable(document: Any, pointer: str = "") -> list[str]:
    """The JSON pointers of the strings in `document` (object keys included) that hold such characters."""
    if isinstance(document, str):
        return [pointer] if UNTYPEABLE.search(document) else []
    found: list[str] = []
    if isinstance(document, dict):
        for key, value in document.items():
            inner = f"{pointer}/{key.replace('~', '~0').replace('/', '~1')}"
            found += [inner] if UNTYPEABLE.search(key) else untypeable(value, inner)
    elif isinstance(document, list):
        for index, value in enumerate(document):
            found += untypeable(value, f"{pointer}/{index}")
    return found


def trim(text: str) -> str:
    """A typed answer without what surrounds it unseen: spaces, line breaks, and the invisible
    marks (U+200B, U+FEFF) a phone's keyboard or a copy and paste leaves."""
    start, end = 0, len(text)
    while start < end and _unseen(text[start]):
        start += 1
    while end > start and _unseen(text[end - 1]):
        end -= 1
    return text[start:end]


# Zero-width space, non-joiner, joiner, word joiner, byte order mark. Controls and text-direction
# marks are not trimmed: `untypeable` refuses them wherever they are.
_ZERO_WIDTH = "\u200b\u200c\u200d\u2060\ufeff"


def _unseen(char: str) -> bool:
    return char in "\t\n\r" or char in _ZERO_WIDTH or unicodedata.category(char) == "Zs"


def trimmed(document: Any) -> Any:
    """`document` with every string `trim`med and the object members left empty by it dropped:
    an answer of spaces or of U+200B alone is no answer (`required` says so), as a blank field
    of a web form is."""
    if isinstance(document, str):
        return trim(document)
    if isinstance(document, dict):
        return {key: kept for key, value in document.items() if (kept := trimmed(value)) != ""}
    if isinstance(document, list):
        return [trimmed(value) for value in document]
    return document


def echoed(text: str) -> str:
    """What a client sent, as an error repeats it: controls, bidi overrides and line separators
    as U+FFFD, so the message reads as it was written."""
    return "".join("\ufffd" if unicodedata.category(char) in _NOT_ECHOED else char for char in text)


_NOT_ECHOED = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


# Letters and symbols that print as nothing: the Hangul fillers, the blank Braille pattern, the
# object replacement character.
_BLANK_LOOKING = frozenset("\u3164\u115f\u1160\uffa0\u2800\ufffc")


# What a phone draws as nothing and a browser's host mapping (UTS 46) drops: the combining
# grapheme joiner, Mongolian free variation selectors and variation selectors; with every format
# character (Cf: zero-width spaces and joiners, the soft hyphen, bidi marks).
_DRAWN_AS_NOTHING = re.compile("[\u034f\u180b-\u180f\ufe00-\ufe0f\U000e0100-\U000e01ef]")


def without_invisible(text: str) -> str:
    """`text` as a reader and a browser read it: "evil\u00ad.com" is evil.com."""
    return "".join(char for char in _DRAWN_AS_NOTHING.sub("", text) if unicodedata.category(char) != "Cf")


def visible(text: str) -> bool:
    """Whether a reader sees anything of `text`: a letter, digit, punctuation or symbol that is
    not drawn blank (spaces, zero-width characters, combining marks alone and fillers are not)."""
    return any(unicodedata.category(char)[0] in "LNPS" and char not in _BLANK_LOOKING for char in text)
