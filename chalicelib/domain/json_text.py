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
from typing import Any


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e999
        raise ValueError("number out of range")
    return value


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
        text, parse_float=_finite, parse_constant=_no_constants, object_pairs_hook=_unique_keys
    )
    json.dumps(document, ensure_ascii=False).encode("utf-8")  # a lone surrogate: UnicodeEncodeError
    return document


# Characters nobody types into a field: C0 controls other than tab and line breaks, DEL, C1, and
# the bidi embeddings, overrides and isolates that make text display otherwise than it reads
# (an audit note that looks blank, a counter name that reverses the message around it).
UNTYPEABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


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
