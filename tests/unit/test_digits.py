"""Whole numbers from text: ASCII digits only, whatever str.isdigit says."""

import math

import pytest

from chalicelib.domain import digits
from chalicelib.domain.digits import decimal_number, typed, whole_number


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


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("35.74", 35.74),
        ("-0.5", -0.5),
        ("139", 139.0),
        ("nan", None),  # float() reads these three; a form answer is never one
        ("inf", None),
        ("1_0", None),
        ("1e3", None),
        ("3.", None),
        (".5", None),
        ("", None),
        ("１.５", None),  # full width: `typed` first
    ],
)
def test_decimal_number(text: str, number: float | None) -> None:
    found = decimal_number(text)
    assert found == number and (found is None or math.isfinite(found))


def test_typed_reads_full_width_digits_as_a_japanese_keyboard_types_them() -> None:
    assert typed("１９９０") == "1990"
    assert whole_number(typed("－３"), signed=True) == -3
    assert decimal_number(typed("３５．７４")) == 35.74
    assert typed("१९९०") == "1990"  # a Nepali phone keyboard's digits (a walkthrough)
    assert whole_number(typed("٣²")) is None  # a superscript is no digit
    assert typed(None) == ""


@pytest.mark.parametrize(
    ("typed", "read"),
    [
        ("０３－１２３４－５６７８", "03-1234-5678"),
        ("03ー1234ー5678", "03-1234-5678"),  # the katakana prolonged sound mark
        ("03‐1234−5678", "03-1234-5678"),  # hyphen, minus sign
        ("090 1234 5678", "09012345678"),
        ("〒１２４－８５５５", "124-8555"),
        ("१२४-८५५५", "124-8555"),  # Devanagari digits, as the Nepali pages print them
        (" 124-8555 ", "124-8555"),
        ("", ""),
    ],
)
def test_a_phone_number_or_postal_code_typed_on_a_japanese_keyboard_reads_as_the_schemas_take_it(typed, read):
    assert digits.typed_phone(typed) == read


def test_a_code_copied_from_a_plate_keeps_its_spaces_and_letters() -> None:
    assert digits.typed_code("ＫＳ－１２３") == "KS-123"
    assert digits.typed_code("ks ー १२") == "ks - 12"  # spaces stay: the schema says they do not belong
    assert digits.typed_code(None) == ""
