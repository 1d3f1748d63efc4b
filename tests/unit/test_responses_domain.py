"""A resident's answer to "needs info" (domain/responses.py): what is kept of what was typed."""

from __future__ import annotations

import pytest

from chalicelib.domain import responses
from chalicelib.domain.errors import Invalid


def test_an_answer_keeps_its_line_breaks_and_loses_what_surrounds_it_unseen():
    answer = responses.check_answer("\ufeff 12-34\r\nby the gate\u200b ", [])
    assert answer.text == "12-34\nby the gate"


@pytest.mark.parametrize("odd", ["\u202e", "\x07", "\uffff"])
def test_text_nobody_types_is_refused_at_the_text(odd):
    with pytest.raises(Invalid) as refused:
        responses.check_answer(f"12{odd}34", [])
    assert [detail["pointer"] for detail in refused.value.details] == ["/text"]


def test_a_note_added_without_a_move_is_no_new_request_for_information():
    asked = {"at": "2026-12-01T01:00:00+00:00", "status": "needs_info", "note": "番号は？"}
    noted = {
        "at": "2026-12-03T01:00:00+00:00",
        "status": "needs_info",
        "note": "お待ちしています",
        "action": "note",
    }
    assert responses.needs_info_since([asked, noted]) == asked["at"]
    asked_again = {**noted, "action": None}
    assert responses.needs_info_since([asked, asked_again]) == asked_again["at"]
