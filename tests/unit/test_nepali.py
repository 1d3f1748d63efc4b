"""Nepali romanized the way residents type it (chalicelib/domain/nepali.py)."""

import pytest

from chalicelib.domain.nepali import reads_as_nepali, romanize


@pytest.mark.parametrize(
    ("devanagari", "typed"),
    [
        ("सडक बत्ती निभेको छ", "sadak batti nibheko cha"),  # a one-letter word keeps its a
        ("फोहोर कसरी फाल्ने", "fohor kasari falne"),  # फ as f; the final a is silent (fohor)
        ("पर्छ लाग्छ हुन्छ", "parcha lagcha huncha"),  # after a conjunct the final a is said
        ("भुइँचालो कहाँ", "bhuichalo kaha"),  # chandrabindu unwritten
        ("३ वर्ष", "3 barsha"),  # Devanagari digits; व as b
        ("सक्दिनँ", "sakdin"),
    ],
)
def test_romanize_spells_as_phones_type(devanagari, typed):
    assert romanize(devanagari) == typed


def test_romanize_keeps_only_the_devanagari_words():
    assert romanize("kuyakusho मा 転入届 जाने") == "ma jane"
    assert romanize("tennyu todoke") == ""


def test_a_text_reads_as_nepali_when_its_nepali_function_words_outnumber_english_ones():
    nepali, english = frozenset({"ko", "ma", "cha", "kasari"}), frozenset({"my", "is", "the"})
    assert reads_as_nepali("bike kasari register garne", nepali, english)
    assert reads_as_nepali("ghar ma paani chha", nepali, english)  # chh typed for ch
    assert reads_as_nepali("yo ramro xa", frozenset({"cha"}), english)  # and x
    assert not reads_as_nepali("my bike is in the shop", nepali, english)
    assert not reads_as_nepali("", nepali, english)
