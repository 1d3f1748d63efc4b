"""Request bodies are strict JSON: what Python's json module would take beyond it is refused up front."""

import pytest

from chalicelib.domain import json_text


@pytest.mark.parametrize(
    "body",
    [
        b'{"id": "a", "id": "b"}',  # a key named twice: a checker and a consumer could read different values
        b'{"outer": {"k": 1, "k": 1}}',
        b'{"counter": "\\udc00"}',  # a lone surrogate: no UTF-8 store, queue or log can encode it
        b'{"\\ud800": 1}',
        b'["\\ud83d"]',
        b'{"n": NaN}',
        b'{"n": -Infinity}',
        b'{"n": 1e999}',
        '{"x": 1}'.encode("utf-16"),
        b'{"x": "\xff"}',
        b"",
    ],
)
def test_what_is_not_strict_json_is_a_value_error(body: bytes) -> None:
    with pytest.raises(ValueError):
        json_text.parse(body)


@pytest.mark.parametrize(
    ("body", "said"),
    [
        (b'{"id": "a", "id": "b"}', "a key is named twice"),
        (b'{"n": NaN}', "NaN is not JSON"),
        (b'{"n": 1e999}', "number out of range"),
        (b'{"counter": "\\udc00"}', "lone UTF-16 surrogate"),
        (b'{"x": "\xff"}', "not UTF-8 at byte 7"),
        (b"[" * 5000 + b"]" * 5000, "nested too deeply"),
        (b'{"a": }', "Expecting value at line 1, column 7"),
        (b'{"amount": ' + b"9" * 5000 + b"}", "an integer has at most 4300 digits"),  # not Python's advice
    ],
)
def test_a_refusal_says_what_to_fix(body: bytes, said: str) -> None:
    # One "not valid UTF-8 JSON" for all of these left a vendor guessing what to fix.
    with pytest.raises((ValueError, RecursionError)) as refused:
        json_text.parse(body)
    assert said in json_text.why_not(refused.value)


def test_strict_json_reads_as_json_does() -> None:
    body = '{"a": [1, 2.5, true, null], "b": "\\ud83d\\ude00 \\u00e9 窓口", "c": {"d": "\\n"}}'
    assert json_text.parse(body.encode()) == {"a": [1, 2.5, True, None], "b": "😀 é 窓口", "c": {"d": "\n"}}
    assert json_text.parse(body) == json_text.parse(body.encode())
    assert json_text.parse(b'{"n": -' + b"9" * 300 + b"}") == {"n": -int("9" * 300)}  # the schema's to judge
    longest = json_text.MAX_INTEGER_DIGITS
    assert json_text.parse(b'{"n": ' + b"9" * longest + b"}") == {"n": int("9" * longest)}
    with pytest.raises(ValueError):
        json_text.parse(b'{"n": ' + b"9" * (longest + 1) + b"}")


def test_untypeable_text_is_found_wherever_it_is() -> None:
    document = {
        "note": "a\u0000",
        "lines": ["fine", "\u202e1番"],
        "key\u0007": 1,
        "typed": "tab\there\r\nnext line, 全角　スペース, \u200fRLM, 😀",
        "deep": {"x": [{"y": "\x85"}]},
        "none": "a\uffffb",
    }
    assert json_text.untypeable(document) == ["/note", "/lines/1", "/key\u0007", "/deep/x/0/y", "/none"]
    assert json_text.untypeable(["ok", 1, None, True]) == []


def test_trimmed_strips_what_surrounds_an_answer_unseen_and_drops_what_was_only_that():
    document = {"a": " x\u200b", "b": "\u200b\ufeff", "c": ["\u3000y ", " "], "d": {"e": "\n"}, "n": 1}
    assert json_text.trimmed(document) == {"a": "x", "c": ["y", ""], "d": {}, "n": 1}
    assert json_text.trim("a\u200bb") == "a\u200bb"  # inside a word: kept, as typed


def test_an_echo_of_what_a_client_sent_cannot_turn_the_message_around() -> None:
    assert json_text.echoed("\u202eopen\x1b[31m\u2028x") == "\ufffdopen\ufffd[31m\ufffdx"
    assert json_text.echoed("状態 ok") == "状態 ok"


@pytest.mark.parametrize(
    ("text", "seen"),
    [
        ("a", True),
        ("。", True),
        ("窓口", True),
        ("\u200b", False),
        ("\u3164\u3164", False),
        ("\u0301", False),
        ("", False),
    ],
)
def test_visible_is_what_a_reader_sees(text: str, seen: bool) -> None:
    assert json_text.visible(text) is seen
