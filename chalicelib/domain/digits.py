"""Whole numbers in text that people and programs send (query parameters, form fields, headers).

`str.isdigit` is not the test: it is true for "²" (which int() refuses: a 500) and for "٣"
(which int() reads as 3), and int() of thousands of digits raises too. Pure.
"""

from __future__ import annotations

import re
import unicodedata

_WHOLE = re.compile(r"-?[0-9]{1,18}")
_DECIMAL = re.compile(r"-?[0-9]{1,15}(?:\.[0-9]{1,15})?")
# What a Japanese keyboard types in full width: the digits, the minus sign and the point.
_HALF_WIDTH = str.maketrans("０１２３４５６７８９－−．", "0123456789--.")


def typed(text: str | None) -> str:
    """A number a person typed, full-width digits and those of other scripts as ASCII ("１９９０",
    "१९९०" -> "1990"): for answers people type, never for what programs send (signatures, ids)."""
    return _ascii_digits((text or "").translate(_HALF_WIDTH))


def _ascii_digits(text: str) -> str:
    """Every decimal digit of any script (a Nepali phone keyboard types Devanagari ones, which the
    pages print too: a walkthrough) as its ASCII digit."""
    return "".join(str(unicodedata.decimal(c)) if c.isdecimal() and not c.isascii() else c for c in text)


def typed_email(text: str | None) -> str:
    """An email address a person typed, full-width letters and signs as ASCII ("ａ＠ｂ．ｊｐ" ->
    "a@b.jp"): the schemas take ASCII addresses only, as mail is delivered to no other."""
    return unicodedata.normalize("NFKC", text or "").strip()


# What people type between the groups of a phone number or a postal code: hyphens, minus signs,
# dashes and the katakana prolonged sound mark (03ー1234ー5678), in full or half width.
_DASHES = re.compile("[\u2010-\u2015\u2212\u30fc\uff70\ufe63]")


def typed_code(text: str | None) -> str:
    """A code a person copied from a plate or a letter (a light pole's number), as the schemas
    take it: full-width letters and digits and those of other scripts as ASCII, every kind of dash
    as "-" ("ＫＳ－１２３" -> "KS-123")."""
    return _DASHES.sub("-", _ascii_digits(unicodedata.normalize("NFKC", text or "")))


def typed_phone(text: str | None) -> str:
    """A phone number or postal code a person typed, as the schemas take it: a code (above) with
    no spaces and no postal mark ("〒１２４－８５５５", "१२४-८५५५" -> "124-8555")."""
    return re.sub(r"\s+", "", typed_code(text)).removeprefix("〒")


def whole_number(text: str | None, signed: bool = False) -> int | None:
    """`text` (spaces around it aside) as an integer if it is ASCII digits only (with one leading
    "-" when `signed`) and at most 18 of them, else None."""
    stripped = (text or "").strip()
    if not _WHOLE.fullmatch(stripped) or (stripped.startswith("-") and not signed):
        return None
    return int(stripped)


def decimal_number(text: str | None) -> float | None:
    """`text` (spaces around it aside) as a number if it is ASCII digits with an optional "-" and
    decimal point, else None: never NaN, infinity or "1_0", which float() reads."""
    stripped = (text or "").strip()
    return float(stripped) if _DECIMAL.fullmatch(stripped) else None
