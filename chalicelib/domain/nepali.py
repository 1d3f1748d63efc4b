"""Nepali in Latin letters, the way residents type it on a phone.

Many Nepali residents write Nepali in Latin letters ("batti baldaina", "kasari garne"), while
the FAQ's Nepali is in Devanagari. The FAQ index also holds its Nepali phrasings and keywords
romanized by `romanize`, so such a question finds the words it shares with them. Phone typing
has no fixed scheme (cha / chha / xa, f / ph): this picks the common plain spelling, and the
index's character trigrams absorb the rest.
"""

from __future__ import annotations

import re

# छ as ch and फ as f, व as b and श ष as sh: the spellings most typed (cha, fohor, bibah).
_CONSONANTS = {
    "क": "k",
    "ख": "kh",
    "ग": "g",
    "घ": "gh",
    "ङ": "ng",
    "च": "ch",
    "छ": "ch",
    "ज": "j",
    "झ": "jh",
    "ञ": "n",
    "ट": "t",
    "ठ": "th",
    "ड": "d",
    "ढ": "dh",
    "ण": "n",
    "त": "t",
    "थ": "th",
    "द": "d",
    "ध": "dh",
    "न": "n",
    "प": "p",
    "फ": "f",
    "ब": "b",
    "भ": "bh",
    "म": "m",
    "य": "y",
    "र": "r",
    "ल": "l",
    "व": "b",
    "श": "sh",
    "ष": "sh",
    "स": "s",
    "ह": "h",
}
# Long and short vowels alike: phones type कहाँ and पैसा as kaha and paisa.
_VOWELS = {
    "अ": "a",
    "आ": "a",
    "इ": "i",
    "ई": "i",
    "उ": "u",
    "ऊ": "u",
    "ए": "e",
    "ऐ": "ai",
    "ओ": "o",
    "औ": "au",
    "ऋ": "ri",
}
# The same vowels as signs after a consonant.
_VOWEL_SIGNS = {
    "ा": "a",
    "ि": "i",
    "ी": "i",
    "ु": "u",
    "ू": "u",
    "े": "e",
    "ै": "ai",
    "ो": "o",
    "ौ": "au",
    "ृ": "ri",
}
_VIRAMA = "\u094d"
_NASALS = {"\u0902": "n", "\u0901": "", "\u0903": ""}  # anusvara n; chandrabindu and visarga unwritten
_DIGITS = {chr(0x0966 + digit): str(digit) for digit in range(10)}
_WORD = re.compile("[\u0900-\u097f]+")
_TYPED_CH = re.compile("chh|x")  # छ as typed besides ch: chha, xa


def romanize(text: str) -> str:
    """The Devanagari words of `text` in Latin letters, space-separated ("" when it has none):
    'सडक बत्ती निभेको छ' -> 'sadak batti nibheko cha'."""
    return " ".join(_romanize_word(word.replace("\u093c", "")) for word in _WORD.findall(text))


def _romanize_word(word: str) -> str:
    out = []
    for i, char in enumerate(word):
        if char in _CONSONANTS:
            out.append(_CONSONANTS[char])
            following = word[i + 1 : i + 2]
            if following in _VOWEL_SIGNS or following == _VIRAMA:
                continue
            # The inherent a is silent at a word's end (घर ghar), but not after a conjunct
            # (पर्छ parcha) or in a one-letter word (छ cha).
            at_end = i + 1 == len(word) or (following in _NASALS and i + 2 == len(word))
            if not at_end or i == 0 or word[i - 1] == _VIRAMA:
                out.append("a")
        else:
            out.append(
                _VOWEL_SIGNS.get(char) or _VOWELS.get(char) or _NASALS.get(char) or _DIGITS.get(char, "")
            )
    return "".join(out)


def reads_as_nepali(text: str, nepali_words: frozenset[str], english_words: frozenset[str]) -> bool:
    """Latin letters that are Nepali rather than English: more of the words are Nepali function
    words (ko, ma, cha, kasari, garne: `nepali_words`, romanized) than English ones. Spellings
    vary (chha, xa, parxa), so both sides are compared with chh and x read as ch."""
    words = [_TYPED_CH.sub("ch", word) for word in re.findall("[a-z]+", text.casefold())]
    nepali = sum(word in nepali_words and word not in english_words for word in words)
    return nepali > sum(word in english_words for word in words)
