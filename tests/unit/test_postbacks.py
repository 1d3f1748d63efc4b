"""Signed postback data: what we signed reads back; anything else is refused."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.domain.postbacks import MAX_DATA_CHARS, Postback, TamperedPostback, read, sign

SECRET = "channel-secret"


def test_signed_data_reads_back():
    assert read(SECRET, sign(SECRET, "prefs.topic", "disaster")) == Postback("prefs.topic", "disaster")
    assert read(SECRET, sign(SECRET, "menu.report")) == Postback("menu.report", "")
    assert read(SECRET, sign(SECRET, "prefs.age_set", "70+")) == Postback("prefs.age_set", "70+")


@pytest.mark.parametrize(
    "data",
    [
        None,
        "",
        "menu.report",  # no signature
        "menu.report~",
        sign(SECRET, "prefs.resume").replace("prefs.resume", "prefs.stop"),  # another action
        sign(SECRET, "prefs.topic", "waste").replace("waste", "disaster"),  # another value
        sign("another-secret", "menu.report"),  # signed with another key
        sign(SECRET, "menu.report") + "x",
        "x" * (MAX_DATA_CHARS + 1),
        {"action": "menu.report"},
    ],
)
def test_anything_else_is_tampered(data):
    with pytest.raises(TamperedPostback):
        read(SECRET, data)


@pytest.mark.parametrize(
    ("action", "value"), [("Menu", ""), ("menu.", ""), ("a", "x" * 65), ("a", "a:b"), ("a", "é")]
)
def test_only_plain_actions_and_values_are_signed(action, value):
    with pytest.raises(ValueError):
        sign(SECRET, action, value)


def test_signed_data_fits_lines_limit():
    assert len(sign(SECRET, "prefs.language_set", "x" * 64)) <= MAX_DATA_CHARS


@given(st.text(max_size=400))
def test_arbitrary_data_never_reads_as_a_postback_unless_signed(data):
    with pytest.raises(TamperedPostback):
        read(SECRET, data)
