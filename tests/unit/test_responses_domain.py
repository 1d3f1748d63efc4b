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
