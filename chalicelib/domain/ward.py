"""The ward itself (chalicelib/data/ward.json) and the text hygiene everything it writes shares."""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

from chalicelib.domain import languages

DATA_DIR = Path(__file__).resolve().parent.parent / "data"

# CR/LF in a subject would start a new mail header; other control characters garble the text,
# and bidi overrides and isolates (U+202A-202E, U+2066-2069) make it read other than it is
# ("gpj.exe" shown as "exe.jpg"); none of the seven languages needs them.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]+")
# Multi-line text (a note) keeps its line breaks and tabs; every other control character goes.
_CONTROL_BUT_LINES = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


@cache
def ward() -> dict[str, Any]:
    return json.loads((DATA_DIR / "ward.json").read_text(encoding="utf-8"))


def ward_name(language: str) -> str:
    names = ward()["name"]
    return languages.pick(names, language) or names["ja"]


def one_line(value: object) -> str:
    """Text safe for a subject line or a heading: control characters become single spaces."""
    return _CONTROL.sub(" ", str(value)).strip()


def without_controls(value: str) -> str:
    """Multi-line text with every control character but line breaks and tabs replaced by a space;
    a browser's CRLF (and a lone CR) is one line break, not a space before it."""
    return _CONTROL_BUT_LINES.sub(" ", value.replace("\r\n", "\n").replace("\r", "\n"))
