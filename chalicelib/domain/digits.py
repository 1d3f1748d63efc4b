"""Whole numbers in text that people and programs send (query parameters, form fields, headers).

`str.isdigit` is not the test: it is true for "²" (which int() refuses: a 500) and for "٣"
(which int() reads as 3), and int() of thousands of digits raises too. Pure.
"""

from __future__ import annotations

import re

_WHOLE = re.compile(r"-?[0-9]{1,18}")


def whole_number(text: str | None, signed: bool = False) -> int | None:
    """`text` (spaces around it aside) as an integer if it is ASCII digits only (with one leading
    "-" when `signed`) and at most 18 of them, else None."""
    stripped = (text or "").strip()
    if not _WHOLE.fullmatch(stripped) or (stripped.startswith("-") and not signed):
        return None
    return int(stripped)
