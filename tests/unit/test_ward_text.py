"""Text cleaned for headings, subjects and notes (domain/ward.py)."""

from __future__ import annotations

import pytest

from chalicelib.domain.ward import one_line, without_controls


@pytest.mark.parametrize("odd", ["\x00", "\x1b", "\x85", "\u2028", "\u202e", "\u202a", "\u2066", "\u2069"])
def test_controls_and_bidi_overrides_never_reach_a_heading_or_a_note(odd):
    assert one_line(f"photo{odd}gpj.exe") == "photo gpj.exe"
    assert without_controls(f"photo{odd}gpj.exe") == "photo gpj.exe"


def test_a_subject_is_one_line_but_a_note_keeps_its_line_breaks_and_tabs():
    assert one_line("a\r\nb\tc") == "a b c"
    assert without_controls("a\nb\tc") == "a\nb\tc"
    # A browser's CRLF, or a lone CR, is one line break, not a space before one.
    assert without_controls("a\r\nb\rc") == "a\nb\nc"


def test_ordinary_text_in_every_script_is_kept():
    text = "葛飾区役所 かつしか Katsushika 葛饰区 가쓰시카 Quận Katsushika कात्सुशिका"
    assert one_line(text) == without_controls(text) == text
