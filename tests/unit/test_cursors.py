"""Page cursors (domain/cursors.py): one codec for every paginated list (issue 11, item 10)."""

from __future__ import annotations

import base64
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.api.errors import from_rule
from chalicelib.domain import cursors
from chalicelib.domain.errors import InvalidCursor

ATTRIBUTES = ("section", "created_key", "receipt")
KEY = {
    "section": {"S": "kocho"},
    "created_key": {"S": "2026-11-25T00:00:00.123+00:00#KTS-2611-ABCD"},
    "receipt": {"S": "KTS-2611-ABCD"},
}
PARTITION = ("section", "kocho")


def raw(document: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(document).encode()).decode()


def test_a_key_round_trips_through_an_opaque_url_safe_string():
    cursor = cursors.encode_key(KEY)
    assert cursor is not None
    assert set(cursor) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    assert cursors.decode_key(cursor, ATTRIBUTES, PARTITION) == KEY


def test_no_last_key_is_no_cursor():
    assert cursors.encode_key(None) is None
    assert cursors.encode_key({}) is None


def test_a_position_round_trips_and_padding_does_not_matter():
    position = {"q": "0123456789abcdef", "k": "2026-11-25T00:00:00.000+00:00#KTS-2611-ABCD"}
    cursor = cursors.encode(position)
    assert "=" not in cursor
    assert cursors.decode(cursor, ("q", "k")) == position
    assert cursors.decode(raw(position), ("k", "q")) == position  # padded, as older cursors were


@pytest.mark.parametrize(
    "cursor",
    [
        "",
        "bogus",
        "not base64!",
        "%7B%7D",
        raw([1, 2]),
        raw("text"),
        raw({}),
        raw({**KEY, "extra": {"S": "x"}}),  # a field the list never gives out
        raw({k: v for k, v in KEY.items() if k != "receipt"}),
        raw({**KEY, "receipt": {"N": "1"}}),  # not a string attribute
        raw({**KEY, "receipt": {"S": 1}}),
        raw({**KEY, "receipt": "KTS-2611-ABCD"}),
        raw({**KEY, "section": {"S": "kosodate"}}),  # another section's list
        base64.urlsafe_b64encode(b"\xff\xfe").decode(),  # not UTF-8
        "A" * (cursors.MAX_LENGTH + 1),
    ],
)
def test_a_garbled_edited_or_foreign_cursor_is_invalid(cursor):
    with pytest.raises(InvalidCursor):
        cursors.decode_key(cursor, ATTRIBUTES, PARTITION)


def test_one_character_changed_is_caught():
    cursor = cursors.encode_key(KEY)
    assert cursor is not None
    for position in range(len(cursor)):
        flipped = cursor[:position] + ("A" if cursor[position] != "A" else "B") + cursor[position + 1 :]
        try:
            decoded = cursors.decode_key(flipped, ATTRIBUTES, PARTITION)
        except InvalidCursor:
            continue
        # What still decodes is a well-formed key of the caller's own partition, nothing else.
        assert set(decoded) == set(ATTRIBUTES)
        assert decoded["section"] == {"S": "kocho"}


@given(st.text(max_size=300))
def test_any_text_is_a_key_of_this_partition_or_invalid_cursor(text):
    try:
        key = cursors.decode_key(text, ATTRIBUTES, PARTITION)
    except InvalidCursor:
        return
    assert key["section"] == {"S": "kocho"}


def test_invalid_cursor_is_a_400_with_its_own_code():
    answer = from_rule(InvalidCursor())
    assert (answer.status, answer.code) == (400, "invalid_cursor")
    [detail] = answer.details
    assert detail["parameter"] == "cursor"
    assert detail["message"].endswith(" / Use nextCursor from the previous page, with the same filters.")


def even(n: int) -> bool:
    return n % 2 == 0


def _pages(items: list[int], size: int):
    """A reader over `items` in pages of `size`: start is the next index, None at the end."""
    reads = []

    def read(start):
        start = start or 0
        reads.append(start)
        end = start + size
        return items[start:end], (end if end < len(items) else None)

    return read, reads


def test_filtered_page_reads_on_until_the_page_is_full_and_resumes_after_the_last_shown():
    read, reads = _pages(list(range(20)), size=3)
    items, last = cursors.filtered_page(read, None, even, limit=4, max_examined=100)
    assert (items, last, reads) == ([0, 2, 4, 6], 6, [0, 3, 6])


def test_filtered_page_says_the_end_only_when_nothing_is_left_to_read():
    read, _ = _pages([2, 4, 5], size=5)  # the last page, and nothing matching after the 4
    assert cursors.filtered_page(read, None, even, limit=2, max_examined=100) == ([2, 4], None)
    read, _ = _pages([2, 4, 6], size=5)  # a match after the page is full: resume after the 4
    assert cursors.filtered_page(read, None, even, limit=2, max_examined=100) == ([2, 4], 4)
    read, _ = _pages([1, 2, 3, 5, 7], size=2)  # more pages to read: it cannot know, so resume
    assert cursors.filtered_page(read, None, even, limit=1, max_examined=100) == ([2], 2)


def test_filtered_page_stops_after_max_examined_with_a_place_to_resume():
    read, reads = _pages(list(range(1, 100, 2)), size=10)  # nothing matches
    items, last = cursors.filtered_page(read, None, even, limit=5, max_examined=25)
    assert (items, last, len(reads)) == ([], 49, 3)
