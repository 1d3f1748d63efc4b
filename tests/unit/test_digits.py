"""Whole numbers from text: ASCII digits only, whatever str.isdigit says."""

import pytest

from chalicelib.domain.digits import whole_number


@pytest.mark.parametrize(
    ("text", "signed", "number"),
    [
        ("3", False, 3),
        (" 42 ", False, 42),
        ("007", False, 7),
        ("-5", True, -5),
        ("-5", False, None),
        ("²", False, None),  # isdigit() is true; int() raises
        ("٣", False, None),  # isdigit() is true; int() reads 3
        ("３", False, None),  # full-width
        ("1" * 18, False, int("1" * 18)),
        ("1" * 19, False, None),
        ("1" * 5000, False, None),  # int() raises beyond 4,300 digits
        ("", False, None),
        (None, False, None),
        ("1e3", False, None),
        ("+1", False, None),
        ("--1", True, None),
    ],
)
def test_whole_number(text: str | None, signed: bool, number: int | None) -> None:
    assert whole_number(text, signed=signed) == number
