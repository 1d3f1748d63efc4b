"""Page cursors: a position in a list as an opaque URL-safe string, checked in full on the way back.

Every paginated list hands out `nextCursor` and takes it back as a query parameter, so a cursor
is input like any other: it is decoded here, and anything that is not exactly a position this
list could have given out (not base64, not JSON, other fields, another section's partition)
is `InvalidCursor`, a 400. Nothing unchecked reaches DynamoDB as a start key.

A cursor is not secret and not signed: it names a position in a list the caller may read
anyway, and the partition check keeps it inside that list.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any, TypeVar

from chalicelib.domain.errors import InvalidCursor

Item = TypeVar("Item")
Start = TypeVar("Start")

# Far above any key of ours (three short strings), far below what would cost anything to parse.
MAX_LENGTH = 1024
_ALPHABET = re.compile(r"[A-Za-z0-9_-]+={0,2}")


def encode(position: Mapping[str, Any]) -> str:
    """`position` (JSON-able) as compact, unpadded URL-safe base64."""
    raw = json.dumps(position, separators=(",", ":"), ensure_ascii=False)
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode(cursor: str, fields: Collection[str]) -> dict[str, Any]:
    """The position a cursor names: a JSON object with exactly `fields`; InvalidCursor otherwise."""
    if not isinstance(cursor, str) or len(cursor) > MAX_LENGTH or not _ALPHABET.fullmatch(cursor):
        raise InvalidCursor()
    try:
        position = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, UnicodeDecodeError, ValueError, RecursionError):
        raise InvalidCursor() from None
    if not isinstance(position, dict) or set(position) != set(fields):
        raise InvalidCursor()
    return position


def encode_key(last_evaluated_key: Mapping[str, Any] | None) -> str | None:
    """DynamoDB's LastEvaluatedKey as a cursor; None when the query has nothing after it."""
    return encode(last_evaluated_key) if last_evaluated_key else None


def decode_key(cursor: str, attributes: Collection[str], partition: tuple[str, str]) -> dict[str, Any]:
    """The ExclusiveStartKey a cursor names, for a query of the partition `(attribute, value)`.

    Exactly the key `attributes` of the index and table, each a string, and the partition the
    caller is listing: a cursor of another section's list never opens it.
    """
    key = decode(cursor, attributes)
    if not all(
        isinstance(value, dict) and set(value) == {"S"} and isinstance(value["S"], str)
        for value in key.values()
    ):
        raise InvalidCursor()
    name, value = partition
    if key.get(name) != {"S": value}:
        raise InvalidCursor()
    return key


def filtered_page(
    read: Callable[[Start | None], tuple[Sequence[Item], Start | None]],
    start: Start | None,
    matches: Callable[[Item], bool],
    limit: int,
    max_examined: int,
) -> tuple[list[Item], Item | None]:
    """Up to `limit` items that `matches`, reading pages (`read(start)` -> items, next start)
    and looking at no more than `max_examined` items; with the item to resume after when more
    may follow (None at the end), so a page that stops part-way through a read skips nothing."""
    items: list[Item] = []
    examined = 0
    while True:
        page, next_start = read(start)
        for position, item in enumerate(page):
            examined += 1
            if matches(item):
                items.append(item)
            if len(items) == limit or examined >= max_examined:
                more = next_start is not None or any(matches(rest) for rest in page[position + 1 :])
                return items, item if more else None
        if next_start is None:
            return items, None
        start = next_start
