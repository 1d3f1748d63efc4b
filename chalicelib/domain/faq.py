"""The FAQ assistant's retrieval: BM25 over character n-grams, in seven languages, no service.

A resident's question is normalised (NFKC, case, katakana to hiragana, small kana and the
long-vowel mark, common kanji/kana spelling variants, punctuation) and cut into terms:
character 2-3-grams and single kanji for Japanese and Chinese, 2-3-grams for Korean, words
and 2-3-grams for Nepali, words, word pairs and character trigrams (with and without
accents) for English and Vietnamese. BM25 scores it against one document per entry and
language: all the entry's phrasings and keywords in that language (chalicelib/data/faq.json),
and lightly its answer's words (Params.answer_weight).
One index holds every language; a document in the question's own language counts in full,
one in another at Params.cross_language_weight, so a question matches its own language
best, yet "住民票" in an English question still finds the Japanese phrasing. A term's idf is
counted within the language of the document it matches ("dispose" is generic in English).

Function words ("how much", 吗, 어디서, कहाँ: chalicelib/data/faq_function_words.json) are
terms, but no n-gram is made of them, and they are not what a question is about: a question
none of whose other words the FAQ uses anywhere ("asdf", "ｗｗｗ", "how much is an iphone")
gets no hit at all. What residents ask that the ward does not answer (weather, restaurants,
shopping, jokes: chalicelib/data/faq_out_of_scope.json), and what residents asked of it that
no entry answers (chalicelib/data/faq_examples.json), is one more document per phrasing that is
never a hit but a rival: an entry that does not lead it by far gets a low confidence.

Each hit carries a confidence, a calibrated probability that it is the right entry (Signals,
CALIBRATION): at CONFIDENT or above the worker answers, at SUGGEST or above it suggests up
to three entries, below it offers a person. bench/faq_eval.py measures accuracy, the
thresholds' trade-off and speed (docs/performance.md, "FAQ retrieval").

Pure Python and the standard library: the index of ~90 entries in 7 languages, with the
residents' examples, builds in 2-3 s, once per process (load_index); the deployment package
ships it prebuilt, read in a fraction of that. A search takes about a millisecond.
"""

from __future__ import annotations

import hashlib
import json
import math
import pickle
import re
import sys
import time
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from chalicelib.domain import courtesy, languages, nepali
from chalicelib.domain.courtesy import terms_opening_with_courtesy, without_courtesy
from chalicelib.domain.residents import DEFAULT_LANGUAGE, LANGUAGES

FAQ_PATH = Path(__file__).resolve().parent.parent / "data" / "faq.json"

# Thresholds on Hit.confidence (a calibrated probability that the hit is the right entry),
# chosen on bench/data/faq_eval.json and faq_residents_tune.json; docs/performance.md shows the
# trade-off. The best hit at CONFIDENT or above is answered; at SUGGEST or above it is
# suggested, with the runner-ups at SUGGEST_ALSO or above (a near tie suggests both); below
# SUGGEST, a person is offered (better than a guess at a question the FAQ does not cover).
CONFIDENT = 0.8
SUGGEST = 0.47
SUGGEST_ALSO = 0.1
# A question is answered outright only while the runner-up's confidence is below this: two
# entries both likely ("can i print juminhyo at lawson": the service, and its hours) are offered
# side by side. On the tuning split it turned 3 of 18 wrong answers and 5 of 1,037 right ones
# into suggestions.
RIVAL = 0.5
# A question that says too little to answer ("ok" 0.55, "1" 0.75, "no" 0.93, "tax" 1.1:
# Signals.evidence under this, about two rare terms matched) gets suggestions at most, however
# far its one matching word leads. Short Korean questions are the lowest in scope (0.8-1.4).
MIN_ANSWER_EVIDENCE = 1.2

ANSWER = "answer"
SUGGESTIONS = "suggest"
NO_MATCH = "none"

MAX_QUERY_CHARS = 500  # a LINE text can be 5 000 characters; a question is never that long

# Languages that read each other's phrasings as their own: plain Japanese is Japanese.
_GROUP = {"ja": "ja", "ja-easy": "ja", "en": "en", "zh-Hans": "zh", "ko": "ko", "vi": "vi", "ne": "ne"}


@dataclass(frozen=True)
class Params:
    """The engine's tunables. The defaults are what bench/faq_eval.py found best."""

    k1: float = 1.2
    b: float = 0.75
    # "field": one BM25 document per entry and language, all its phrasings and keywords
    # together (the sum over phrasings); "phrase": one document per phrasing and one for the
    # keywords, an entry scoring its best phrasing plus its keywords (the max).
    mode: str = "field"
    # A keyword counts this many times a phrasing's term does ("field"); the keywords' score
    # is added at this weight ("phrase").
    keyword_weight: float = 0.8
    cross_language_weight: float = 0.6
    kanji_unigrams: bool = True
    latin_bigrams: bool = True
    # A Latin word's character trigrams (inflection and typo tolerance) each count this much of
    # a whole word: at 1, the seven trigrams of "register" outweighed the word itself sevenfold.
    trigram_weight: float = 0.5
    # Chinese and Korean function words cut out of the n-grams (terms of their own).
    frames: bool = True
    # A term's idf is counted among the documents of the language it matches in: among the
    # English documents "dispose" is in every garbage entry and "sofa" in one; counted over all
    # seven languages both look rare.
    language_idf: bool = True
    # A question's CJK or hangul n-gram that only spans a space (やさしい日本語 and Korean space
    # their words) counts this much: it lets ごみを だす match ごみをだす, but the same bridge
    # makes particle-to-word noise (コーラ の ボトル → のぼ, るあ) that matched unrelated entries.
    spanning_weight: float = 0.5
    # An entry's answer counts this much of a phrasing (field mode): the words a resident
    # describes the situation with ("immigration", "visa", 破片) are often the answer's, not the
    # question's. Lightly, as an answer says much more than what it answers.
    answer_weight: float = 0.25
    # A resident's question from the tuning split (Examples) counts this much of a phrasing.
    example_weight: float = 0.5
    # Nepali phrasings and keywords are also indexed as residents type them in Latin letters
    # (nepali.romanize: "batti" for बत्ती; field mode only), and a Nepali resident's Latin
    # letters search the Nepali documents as their own language, not at cross_language_weight.
    romanized_nepali: bool = True
    # ... and with them the entry's English keywords, at this share of a keyword's weight: a
    # resident typing Nepali in Latin letters uses the English word ("battery kun fohor ma
    # falne"). Lightly: at a whole keyword's weight, "paani ko bill kaha tirne? konbini ma
    # milcha?" (a water bill) was answered with where to pay taxes.
    english_in_nepali: float = 0.5
    # A Vietnamese resident's Latin text with no Vietnamese letter or tone mark that reads as
    # English (more English function words than unmarked Vietnamese ones) is searched as an
    # English resident's question; its answer stays in Vietnamese.
    vietnamese_english: bool = True


@dataclass(frozen=True)
class Hit:
    entry_id: str
    score: float
    confidence: float
    # Every term of the question is in the entry's phrasings and keywords (of one language):
    # the question is in scope, even when, like "ごみ" alone, it fits several entries equally.
    covered: bool = False
    # The question says too little to be answered outright (MIN_ANSWER_EVIDENCE).
    brief: bool = False
    # The question names an emergency happening now, and this is who to call (URGENT_ENTRY).
    urgent: bool = False
    # The question names an emergency but reads as asked after the fact (a procedure, a past
    # event), and this is who to call: offered after the other suggestions, never first.
    named_after: bool = False


@dataclass(frozen=True)
class FaqEntry:
    id: str
    category: str
    section: str
    link: str
    questions: dict[str, list[str]]
    answer: dict[str, str]
    keywords: dict[str, list[str]]


class FaqDataError(ValueError):
    """faq.json is missing something the assistant needs."""


# --- normalisation -------------------------------------------------------------------------

_HIRAGANA_SHIFT = 0x60
# Katakana to hiragana (ヴ and the small ヵヶ included), then small kana to their full size,
# so スマホ = すまほ and ちゃ = ちや: a resident types either, nobody means a difference.
_KANA = {code: code - _HIRAGANA_SHIFT for code in range(0x30A1, 0x30F7)}
_SMALL = dict(zip("ぁぃぅぇぉっゃゅょゎゕゖ", "あいうえおつやゆよわかか", strict=True))
_FOLD = {**_KANA, **{ord(small): full for small, full in _SMALL.items()}, ord("ー"): None}
for _small, _full in _SMALL.items():
    _FOLD[ord(_small) + _HIRAGANA_SHIFT] = _full  # the small katakana go straight to full hiragana


def _fold(text: str) -> str:
    return text.translate(_FOLD)


# Words older residents and やさしい日本語 write in kana: kanji -> the kana typed instead.
# Three kana or more, or a look-ahead, or a word nothing else contains (だす): shorter
# readings hide inside other words. Applied first, so the spelling variants below see kanji.
_READINGS: dict[str, str] = {
    "粗大": "そだい",
    "住民票": "じゅうみんひょう",
    "住民税": "じゅうみんぜい",
    "税金": "ぜいきん",
    "国民": "こくみん",
    "健康": "けんこう",
    "保険": "ほけん",
    "年金": "ねんきん",
    "証明書": "しょうめいしょ",
    "区役所": "くやくしょ",
    "市役所": "しやくしょ",
    "自転車": "じてんしゃ",
    "駐輪場": "ちゅうりんじょう",
    "冷蔵庫": "れいぞうこ",
    "電池": "でんち",
    "家電": "かでん",
    "資源": "しげん",
    "避難所": "ひなんじょ",
    "避難": "ひなん",
    "地震": "じしん",
    "防災": "ぼうさい",
    "災害": "さいがい",
    "印鑑": "いんかん",
    "手当": "てあて",
    "予防接種": "よぼうせっしゅ",
    "注射": "ちゅうしゃ(?!じょう)",
    "病院": "びょういん",
    "相談": "そうだん",
    "職員": "しょくいん",
    "外国人": "がいこくじん",
    "日本語": "にほんご",
    "英語": "えいご",
    "転入": "てんにゅう",
    "転出": "てんしゅつ",
    "転居": "てんきょ",
    "登録": "とうろく",
    "申請": "しんせい",
    "赤ちゃん": "あかちゃん",
    "家具": "かぐ(?=を|が|は|の|も)",
    "犬": "いぬ(?=を|が|は|の|も|と)",
    "猫": "ねこ(?=を|が|は|の|も|と)",
    "燃やす": "もやす",
    "燃える": "もえる",
    "燃えない": "もえない",
    "燃やさない": "もやさない",
    "捨て": "すて(?=る|た|ま|ら|な|方|かた)",
    "出す": "だす",
    "払": "はら(?=う|い|え|わ)",
}
# Spelling variants of one word -> the one spelling kept (ごみ/ゴミ/塵, 申し込み/申込み/申込),
# and a few synonyms residents use for the FAQ's word (チャリ, セブン, マイナ). Written
# naturally: patterns and spellings are folded like the text they are applied to.
_SPELLINGS: tuple[tuple[str, str], ...] = (
    (r"塵|ゴミ", "ごみ"),
    (r"申し?込み?|申しこみ|もうしこみ", "申込"),
    (r"問い?合わ?せ|といあわせ", "問合"),
    (r"引っ?越し?|ひっこし", "引越"),
    (r"手続き?|てつづき", "手続"),
    (r"子供|子ども|こども", "こども"),
    (r"受け?付け?|うけつけ", "受付"),
    (r"届け?出|とどけで", "届出"),
    (r"支払い?|しはらい", "支払"),
    (r"振り?込み?|ふりこみ", "振込"),
    (r"取り?扱い?", "取扱"),
    (r"割り?引き?", "割引"),
    (r"保育所|保育園|ほいくえん|ほいくしょ", "保育園"),
    (r"ちゃりんこ|チャリ", "自転車"),
    (r"携帯電話|携帯|スマートフォン|スマホ", "すまほ"),
    (r"コンビニエンスストア|コンビニ", "こんびに"),
    (r"マイナンバー|マイナ(?!ンバー)|個人番号", "マイナンバー"),
    (r"国民健康保険|国保|こくほ", "国保"),
    (r"特別区民税|区民税|都民税", "住民税"),
    (r"健康診断|検診|けんしん", "健診"),
    (r"受け?取り?|うけとり", "受取"),
    (r"ダンボール|だんぼーる", "段ボール"),
    (r"セブンイレブン|セブン|ローソン|ファミリーマート|ファミマ|ミニストップ", "コンビニ"),
    (r"ペイペイ", "paypay"),
    (r"出来", "でき"),
    (r"下さい", "ください"),
    (r"分から", "わから"),
    (r"分かる", "わかる"),
    (r"良い", "いい"),
    (r"何処", "どこ"),
    (r"何時", "なんじ"),
    (r"亡くな", "死"),
)


def _one_pass(pairs: list[tuple[str, str]]) -> Callable[[str], str]:
    """One regex for a list of (pattern, spelling): a text is scanned once, not once a pattern.
    At a position, the first pattern listed that matches wins (避難所 before 避難)."""
    folded = [_fold(pattern) for pattern, _ in pairs]
    # Every alternative starts with a literal character: a look-ahead on them lets the scan
    # skip, at one test a character, the positions where no pattern can start.
    starts = {alternative[0] for pattern in folded for alternative in _alternatives(pattern)}
    group = "".join(sorted(starts))
    alternation = "|".join(f"(?P<v{n}>{pattern})" for n, pattern in enumerate(folded))
    regex = re.compile(f"(?=[{re.escape(group)}])(?:{alternation})")
    # Keyed like Match.lastgroup (never None here: every alternative is a named group).
    spellings: dict[str | None, str] = {f"v{n}": _fold(spelling) for n, (_, spelling) in enumerate(pairs)}
    return lambda text: regex.sub(lambda match: spellings[match.lastgroup], text)


def _alternatives(pattern: str) -> list[str]:
    """The top-level alternatives of a regex (the | outside parentheses)."""
    parts, depth, current = [], 0, ""
    for char in pattern:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "|" and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    return [*parts, current]


# Everyday words residents type for the FAQ's words, per language (couch/sofa, fridge,
# kid/child, 保健証, 쇼파...): chalicelib/data/faq_lexicon.json, canonical -> variants. Applied
# to the FAQ and the question alike, so the class of words matches whichever either uses.
LEXICON_PATH = FAQ_PATH.parent / "faq_lexicon.json"


def _lexicon_pairs(languages: tuple[str, ...]) -> list[tuple[str, str]]:
    """(variant, canonical) of the lexicon's `languages`, longest variant first, as written."""
    raw = json.loads(LEXICON_PATH.read_text(encoding="utf-8"))
    pairs: dict[str, str] = {}
    for language in languages:
        for canonical, variants in raw.get(language, {}).items():
            for variant in variants:
                pairs.setdefault(variant, canonical)
    return sorted(pairs.items(), key=lambda pair: (-len(pair[0]), pair[0]))


# Two passes: readings first, so that the spellings see their kanji (こくみんけんこうほけん → 国保);
# the Japanese and Chinese lexicon in the second, after the built-in spellings.
_VARIANT_PASSES = (
    _one_pass([(reading, kanji) for kanji, reading in _READINGS.items()]),
    _one_pass([*_SPELLINGS, *((re.escape(v), c) for v, c in _lexicon_pairs(("ja", "zh-Hans")))]),
)
_VARIANT_PASSES_WITHOUT_LEXICON = (_VARIANT_PASSES[0], _one_pass(list(_SPELLINGS)))


_JAPANESE = re.compile("[\u3040-\u30ff\u3400-\u9fff]")


class _Marks(dict):
    """str.translate table, filled as characters are met: punctuation, symbols and separators
    become a space; format characters (the zero-width joiners inside Devanagari words)
    vanish; letters, digits and marks stay (ー and 々 are letters, Lm)."""

    def __missing__(self, code: int) -> str | int:
        category = unicodedata.category(chr(code))
        value: str | int = "" if category == "Cf" else " " if category[0] in "PSZC" else code
        self[code] = value
        return value


_MARKS = _Marks()


# How a question is asked, not what about: on their own these matched an entry that happens
# to be phrased the same way ("…を教えてください"), a confident answer to an unrelated question.
_QUESTION_FRAME = re.compile(
    r"を?(?:おしえて|教えて)(?:ください|ほしい|くれ)?|(?:知りたい|しりたい)(?:です)?|ですか|ますか|でしょうか|ください"
)


def normalize(text: str, *, lexicon: bool = True) -> str:
    """The form both the FAQ and a question are compared in.

    NFKC (full-width Latin and half-width kana to their usual forms), case-folded,
    katakana folded to hiragana with small kana made full size and the long-vowel mark
    dropped, common Japanese spelling variants unified, punctuation and symbols removed,
    spaces collapsed, and the everyday words of chalicelib/data/faq_lexicon.json replaced by
    the FAQ's (lexicon=False leaves them out). Vietnamese
    accents are kept here (the tokenizer adds a stripped form).
    """
    text = unicodedata.normalize("NFKC", text).casefold()
    text = _fold(text)
    if _JAPANESE.search(text):  # every variant is Japanese: other texts skip the scans
        for variants in _VARIANT_PASSES if lexicon else _VARIANT_PASSES_WITHOUT_LEXICON:
            text = variants(text)
        text = _QUESTION_FRAME.sub(" ", text)
    text = " ".join(text.translate(_MARKS).split())
    for script_chars, replace_words in _WORD_LEXICONS if lexicon else ():
        if script_chars.search(text):
            text = " ".join(replace_words(text).split())  # a dropped word leaves no double space
    return text


def _plain(text: str) -> str:
    """normalize() short of the word lexicons: how a lexicon's own words are compared."""
    return " ".join(_fold(unicodedata.normalize("NFKC", text).casefold()).translate(_MARKS).split())


def _word_pass(languages: tuple[str, ...], before: str, after: str) -> Callable[[str], str]:
    """One regex over the variants of `languages`' lexicons, each standing where `before`
    and `after` (look-arounds) allow: whole words for Latin and Devanagari, a word's start
    for Korean (its particles follow it)."""
    pairs: dict[str, str] = {}
    for variant, canonical in _lexicon_pairs(languages):
        pairs.setdefault(_plain(variant), _plain(canonical))
    pairs = {variant: canonical for variant, canonical in pairs.items() if variant and variant != canonical}
    if not pairs:
        return lambda text: text
    ordered = sorted(pairs, key=lambda variant: (-len(variant), variant))
    regex = re.compile(f"{before}(?:{'|'.join(map(re.escape, ordered))}){after}")
    return lambda text: regex.sub(lambda match: pairs[match.group()], text)


_LATIN_WORD = "[^\\W_\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af\u0900-\u097f]"  # a letter of a Latin word
_WORD_LEXICONS: tuple[tuple[re.Pattern[str], Callable[[str], str]], ...] = (
    (re.compile("[a-z]"), _word_pass(("en", "vi"), f"(?<!{_LATIN_WORD})", f"(?!{_LATIN_WORD})")),
    (re.compile("[가-힯]"), _word_pass(("ko",), "(?<![가-힯])", "")),
    (re.compile("[ऀ-ॿ]"), _word_pass(("ne",), "(?<![ऀ-ॿ])", "(?![ऀ-ॿ])")),
)


# Words that say how a question is asked, not what it is about ("how much", "where", "my", 吗, 어디서,
# कहाँ): chalicelib/data/faq_function_words.json. They still count in the ranking (idf keeps them
# light; "where" and "when" tell near twins apart), but get no character n-grams, and they are
# left out of what a question is about when the assistant asks whether the FAQ knows it at all
# (Signals.novelty and the out-of-scope gate): "how much is an iphone" is about an iPhone.
FUNCTION_WORDS_PATH = FAQ_PATH.parent / "faq_function_words.json"


_FUNCTION_WORD_LISTS: dict[str, list[str]] = json.loads(FUNCTION_WORDS_PATH.read_text(encoding="utf-8"))


def _load_function_words() -> tuple[frozenset[str], frozenset[str], re.Pattern[str], re.Pattern[str]]:
    """(Latin and Devanagari words, Korean words, a regex of the Chinese strings, one of the
    Japanese strings)."""
    raw = _FUNCTION_WORD_LISTS
    words = frozenset(_plain(word) for language in ("en", "vi", "ne") for word in raw.get(language, []))
    korean = frozenset(_plain(word) for word in raw.get("ko", []))

    def regex(language: str) -> re.Pattern[str]:
        strings = {normalize(string, lexicon=False).replace(" ", "") for string in raw.get(language, [])}
        ordered = sorted(strings - {""}, key=lambda string: (-len(string), string))
        return re.compile("|".join(map(re.escape, ordered)) or "(?!)")

    return words, korean, regex("zh-Hans"), regex("ja")


_FUNCTION_WORDS, _KOREAN_FUNCTION_WORDS, _CHINESE_FUNCTION, _JAPANESE_FUNCTION = _load_function_words()


# What residents ask that the ward's FAQ does not answer, per language: a question that reads
# most like one of these ("tell me a joke", "cheap supermarket") is out of scope even when one
# of its words is the FAQ's ("what should I feed my cat" against the entry on stray cats).
OUT_OF_SCOPE_PATH = FAQ_PATH.parent / "faq_out_of_scope.json"


def load_out_of_scope(path: Path = OUT_OF_SCOPE_PATH) -> dict[str, list[str]]:
    """Language -> the phrasings of what the FAQ does not answer."""
    raw = json.loads(path.read_text(encoding="utf-8"))
    return {language: list(phrasings) for language, phrasings in raw["questions"].items()}


# Residents' questions with the entry that answers them (or none), the tuning split of the
# evaluation (bench/faq_examples.py writes this file from it; the held-out split never).
EXAMPLES_PATH = FAQ_PATH.parent / "faq_examples.json"


@dataclass(frozen=True)
class Examples:
    # entry id -> language -> residents' questions it answers
    answered: dict[str, dict[str, list[str]]]
    # language -> residents' questions no entry answers
    unanswered: dict[str, list[str]]


_NO_EXAMPLES = Examples(answered={}, unanswered={})


def load_examples(path: Path = EXAMPLES_PATH) -> Examples:
    raw = json.loads(path.read_text(encoding="utf-8"))
    return Examples(answered=raw["answered"], unanswered=raw["unanswered"])


_CJK_STRETCH = re.compile("[\u3040-\u30ff\u3400-\u9fff々]+")
_KANA_IN = re.compile("[\u3040-\u30ff]")


def _cut_frames(text: str, japanese: bool = True) -> tuple[str, list[str]]:
    """A normalised text with its Chinese, Japanese and Korean function words cut out, each
    replaced by a line break (which ends a run, so no n-gram spans it), and the words cut.
    A stretch of CJK with kana in it is Japanese (left alone unless `japanese`), one without
    is Chinese; Korean function words are whole words."""
    frames: list[str] = []

    def cut(match: re.Match[str]) -> str:
        frames.append(match.group())
        return "\n"

    def stretch(match: re.Match[str]) -> str:
        if not _KANA_IN.search(match.group()):
            return _CHINESE_FUNCTION.sub(cut, match.group())
        return _JAPANESE_FUNCTION.sub(cut, match.group()) if japanese else match.group()

    if _JAPANESE.search(text):
        text = _CJK_STRETCH.sub(stretch, text)
    if _HANGUL_IN.search(text):
        words = text.split(" ")
        frames += [word for word in words if word in _KOREAN_FUNCTION_WORDS]
        text = " ".join("\n" if word in _KOREAN_FUNCTION_WORDS else word for word in words)
    return text, frames


_HANGUL_IN = re.compile("[\uac00-\ud7af]")


def content(text: str) -> str:
    """A normalised text without its function words: what it is about."""
    text, _ = _cut_frames(text)
    return " ".join(word for word in text.split(" ") if word not in _FUNCTION_WORDS)


# --- scripts and language detection --------------------------------------------------------

_KANA_SCRIPT, _HAN, _HANGUL, _DEVANAGARI, _LATIN, _OTHER = "kana", "han", "hangul", "deva", "latin", "other"
_SCRIPTS: dict[str, str] = {}  # memo: a few thousand distinct characters at most


def _script(char: str) -> str:
    script = _SCRIPTS.get(char)
    if script is None:
        script = _SCRIPTS[char] = _script_of(char)
    return script


def _script_of(char: str) -> str:
    code = ord(char)
    if 0x3040 <= code <= 0x30FF or 0xFF66 <= code <= 0xFF9F or 0x31F0 <= code <= 0x31FF:
        return _KANA_SCRIPT
    if 0x4E00 <= code <= 0x9FFF or 0x3400 <= code <= 0x4DBF or 0xF900 <= code <= 0xFAFF or char == "々":
        return _HAN
    if 0xAC00 <= code <= 0xD7AF or 0x1100 <= code <= 0x11FF or 0x3130 <= code <= 0x318F:
        return _HANGUL
    if 0x0900 <= code <= 0x097F or 0xA8E0 <= code <= 0xA8FF:
        return _DEVANAGARI
    if char.isalnum() or unicodedata.category(char) == "Mn":
        return _LATIN
    return _OTHER


# Letters only Vietnamese uses among the Latin languages a ward resident writes in, and the
# tone marks (after NFD) that French or Spanish accents never produce.
_VIETNAMESE_LETTERS = set("ăâđêôơưĂÂĐÊÔƠƯ")
_VIETNAMESE_TONES = {"\u0303", "\u0309", "\u0323"}
# Han without kana is Chinese, unless it uses Japanese forms of characters that Simplified
# Chinese writes differently (証/证, 払/付, 届...) and none of the simplified ones.
_JAPANESE_KANJI = set("証険届払込駅広図対発関済続転収児帳県営団体乗売変価様働畑辺")
_SIMPLIFIED_HAN = set(
    "这们么吗个说时问证办垃圾扔哪里请为样对会后还没从给关电话务发现应该费难医疗险儿园学车号码缴纳"
    "晕钱银养补贴报让买卖换带过边厅开护伤药灾烧丢间见"
)


# Of those, the ones Japanese never writes (学, 会, 号 ... are Japanese forms too).
_NEVER_JAPANESE = frozenset(_SIMPLIFIED_HAN - set("学医号会里没个后儿"))


def detect_language(text: str) -> str:
    """The language a text is written in, from its script (kana → ja, hangul → ko, ...).

    Used when a resident's language is unknown, or their text is in another script than
    their profile language. A text with no letters at all is taken to be Japanese.
    """
    return _detect(text) or DEFAULT_LANGUAGE


def _detect(text: str) -> str | None:
    text = unicodedata.normalize("NFKC", text[:MAX_QUERY_CHARS])
    counts: Counter[str] = Counter(_script(char) for char in text if not char.isdigit())
    han = counts[_HAN]
    if counts[_KANA_SCRIPT]:
        cjk_language, cjk = "ja", counts[_KANA_SCRIPT] + han
    elif han:
        japanese = sum(char in _JAPANESE_KANJI for char in text)
        simplified = sum(char in _SIMPLIFIED_HAN for char in text)
        cjk_language, cjk = ("ja" if japanese > simplified else "zh-Hans"), han
    else:
        cjk_language, cjk = "ja", 0
    # A Latin word takes several letters where a CJK one takes one or two.
    candidates = [
        (cjk, cjk_language),
        (counts[_HANGUL], "ko"),
        (counts[_DEVANAGARI], "ne"),
        (counts[_LATIN] / 3, _latin_language(text)),
    ]
    best, language = max(candidates, key=lambda candidate: candidate[0])
    return language if best > 0 else None


def _latin_language(text: str) -> str:
    decomposed = unicodedata.normalize("NFD", text)
    if any(char in _VIETNAMESE_LETTERS for char in text) or any(
        char in _VIETNAMESE_TONES for char in decomposed
    ):
        return "vi"
    # Two or more accented vowels in a short text: Vietnamese rather than an English loanword.
    accented = sum(unicodedata.category(char) == "Mn" for char in decomposed)
    return "vi" if accented >= 2 else "en"


def _han_only(text: str) -> bool:
    """Han characters, no kana, and none of the forms that only Simplified Chinese uses."""
    text = unicodedata.normalize("NFKC", text[:MAX_QUERY_CHARS])
    scripts = {_script(char) for char in text}
    return _HAN in scripts and _KANA_SCRIPT not in scripts and not any(c in _SIMPLIFIED_HAN for c in text)


_SCRIPT_FAMILY = {
    "ja": "cjk",
    "ja-easy": "cjk",
    "zh-Hans": "cjk",
    "ko": "hangul",
    "ne": "deva",
    "en": "latin",
    "vi": "latin",
}


def resolve_language(text: str, profile_language: str | None) -> str:
    """The language to search and answer in: the profile's, unless the text says otherwise.

    A text in another script than the profile language is answered in the text's
    language (an English speaker who types Japanese gets Japanese). Within one script the
    profile wins (Han-only text from a Japanese speaker stays Japanese unless it uses the
    forms only Simplified Chinese writes; Vietnamese typed
    without accents stays Vietnamese), except that Vietnamese written with its accents by an
    English profile is Vietnamese.
    """
    detected = _detect(text)
    if profile_language in (None, "ja") and detected == "ja" and _reads_as_easy_japanese(text):
        return "ja-easy"  # the profile's "ja" is LINE's phone setting, not a choice against it
    if profile_language not in _SCRIPT_FAMILY:
        return detected or DEFAULT_LANGUAGE
    if detected is None:
        return profile_language
    if _SCRIPT_FAMILY[detected] != _SCRIPT_FAMILY[profile_language]:
        return detected
    if profile_language == "en" and detected == "vi":
        return "vi"
    if detected == "ja" and profile_language == "zh-Hans" and any(_script(c) == _KANA_SCRIPT for c in text):
        # Kana is never Chinese, but a Chinese sentence may carry a Japanese word (マイナカード,
        # 粗大ごみ): one with forms Japanese never writes is Chinese.
        return "zh-Hans" if any(char in _NEVER_JAPANESE for char in text) else "ja"
    if detected == "zh-Hans" and profile_language in ("ja", "ja-easy") and not _han_only(text):
        return "zh-Hans"  # no kana and more simplified-only forms (这, 么, 垃圾...) than Japanese ones
    return profile_language


def _reads_as_easy_japanese(text: str) -> bool:
    """Words spaced apart in kana, with few kanji: how やさしい日本語 is written (えき の ちかく
    じてんしゃ とめる ところ), and how a resident who reads it asks; answered in it too."""
    text = unicodedata.normalize("NFKC", text[:MAX_QUERY_CHARS])
    words = [word for word in text.split() if any(_script(char) == _KANA_SCRIPT for char in word)]
    kana = sum(_script(char) == _KANA_SCRIPT for char in text)
    han = sum(_script(char) == _HAN for char in text)
    return len(words) >= 2 and kana >= 4 and han <= kana * 0.15


def reply_language(text: str, profile_language: str | None) -> str:
    """The language to answer a question in: resolve_language's, except that a Nepali
    resident's Latin letters that read as romanized Nepali are answered in Nepali (search()
    already weighs them as both English and Nepali)."""
    resolved = resolve_language(text, profile_language)
    if profile_language == "ne" and resolved == "en" and _reads_as_nepali(text):
        return "ne"
    return resolved


# Nepali's function words as typed in Latin letters (ko, ma, kasari), and English's.
_NEPALI_TYPED = frozenset(nepali.romanize(word) for word in _FUNCTION_WORD_LISTS["ne"]) - {""}
_ENGLISH_FUNCTION_WORDS = frozenset(_FUNCTION_WORD_LISTS["en"])


def _reads_as_nepali(text: str) -> bool:
    return nepali.reads_as_nepali(text, _NEPALI_TYPED, _ENGLISH_FUNCTION_WORDS)


# --- terms ---------------------------------------------------------------------------------

_EN_SUFFIXES = ("ing", "ies", "es", "ed", "s")


def _stem(word: str) -> str:
    """A crude English stem: plurals, -ing and -ed (taxes → tax, paying → pay; paid is beyond
    it). The character trigrams catch what it misses."""
    if len(word) <= 4 or not word.isascii():
        return word
    for suffix in _EN_SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            if suffix == "s" and word.endswith("ss"):
                return word
            return word[: -len(suffix)] + ("y" if suffix == "ies" else "")
    return word


def _strip_accents(word: str) -> str:
    decomposed = unicodedata.normalize("NFD", word.replace("đ", "d"))
    return "".join(char for char in decomposed if unicodedata.category(char) != "Mn")


# Vietnamese function words as typed without their marks (khong, cua, o, dau), less English's.
_VIETNAMESE_UNMARKED = (
    frozenset(_strip_accents(word) for word in _FUNCTION_WORD_LISTS["vi"] if _strip_accents(word).isascii())
    - _ENGLISH_FUNCTION_WORDS
)


def _reads_as_english(text: str) -> bool:
    """Latin letters without Vietnamese marks that are English rather than unmarked Vietnamese:
    more English function words (how, can, my, the) than Vietnamese ones (o, dau, khong)."""
    if _detect(text) != "en":
        return False
    words = re.findall("[a-z]+", text.casefold())
    english = sum(word in _ENGLISH_FUNCTION_WORDS for word in words)
    return english > sum(word in _VIETNAMESE_UNMARKED for word in words)


_CJK = "\u3040-\u30ff\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff々"
_HANGUL_CHARS = "\uac00-\ud7af\u1100-\u11ff\u3130-\u318f"
_DEVANAGARI_CHARS = "\u0900-\u097f\ua8e0-\ua8ff"
# One class for kanji and kana (Japanese mixes them inside words), with the numbers beside
# them (3歳児, 1歳6か月); CJK and hangul runs go on across a space (やさしい日本語 and Korean
# put spaces where a resident may not: ごみを だす must match ごみをだす); Devanagari words;
# any other letters and digits are a (Latin) word.
_RUN = re.compile(
    f"(?P<{_HAN}>[0-9]*[{_CJK}](?:[{_CJK}0-9]| (?=[0-9]*[{_CJK}]))*)"
    f"|(?P<{_HANGUL}>[{_HANGUL_CHARS}](?:[{_HANGUL_CHARS}]| (?=[{_HANGUL_CHARS}]))*)"
    f"|(?P<{_DEVANAGARI}>[{_DEVANAGARI_CHARS}]+)"
    f"|(?P<{_LATIN}>[^\\W{_CJK}{_HANGUL_CHARS}{_DEVANAGARI_CHARS}]+)"
)


def _runs(text: str) -> list[tuple[str, str]]:
    """(script, run) pairs of a normalised text, spaces inside CJK and hangul runs removed."""
    return [
        (script, run.replace(" ", "") if script in (_HAN, _HANGUL) else run)
        for match in _RUN.finditer(text)
        if (script := match.lastgroup) and (run := match.group())  # every alternative is a named group
    ]


def _spanning_grams(text: str, text_terms: Iterable[str], params: Params) -> set[str]:
    """Of a text's terms (`terms(text)`), the CJK and hangul n-grams that only stand across one
    of its spaces (once normalised: punctuation is a space too)."""
    normalized = normalize(text[:MAX_QUERY_CHARS])
    if " " not in normalized or not (_JAPANESE.search(normalized) or _HANGUL_IN.search(normalized)):
        return set()
    within = {term for piece in normalized.split(" ") for term in terms(piece, params)}
    return {term for term in text_terms if term[1:2] != ":" and term not in within}


def _grams(run: str, sizes: tuple[int, ...]) -> list[str]:
    grams = [run[i : i + n] for n in sizes for i in range(len(run) - n + 1)]
    return grams or [run]


def terms(text: str, params: Params | None = None) -> list[str]:
    """The BM25 terms of a text (normalised here), with repeats. Language-independent, so a
    question and the FAQ are always cut the same way whatever language either is in."""
    params = params or _DEFAULT
    out: list[str] = []
    previous_word = None
    text = normalize(text[:MAX_QUERY_CHARS])
    if params.frames:
        # Chinese and Korean function words are terms of their own, and no n-gram spans them:
        # "버리는 방법" is 버리는 and 방법, not 는방법 shared with every "how do I throw away".
        # (Japanese keeps them: its n-grams bridge conjugations, 登録したい/登録をしたい.)
        text, frames = _cut_frames(text, japanese=False)
        out += ["f:" + frame for frame in frames]
    for script, run in _runs(text):
        if script in (_HAN, _HANGUL):
            out += _grams(run, (2, 3))
            if params.kanji_unigrams and script == _HAN:
                # A kanji alone still means something (税, 犬, 捨): it bridges conjugations and
                # compounds (払え/払う, 国保料/保険料) that no 2-gram shares.
                out += ["u:" + char for char in run if _script(char) == _HAN]
            previous_word = None
        elif script == _DEVANAGARI:
            out.append("w:" + run)
            if run not in _FUNCTION_WORDS:
                out += _grams(run, (2, 3))
            previous_word = None
        else:
            forms = {run, _stem(run)}
            stripped = _strip_accents(run)
            forms |= {stripped, _stem(stripped)}
            for form in sorted(forms):
                out.append("w:" + form)
            if run not in _FUNCTION_WORDS:  # a function word gets no trigrams
                for form in sorted({run, stripped}):
                    out += ["t:" + gram for gram in _grams(f"^{form}$", (3,))]
            if params.latin_bigrams and previous_word is not None:
                out.append(f"b:{previous_word}_{stripped}")
            previous_word = stripped
    return out


# What a question asks to do with a thing (chalicelib/data/faq_actions.json): "where can I buy
# a cheap fridge" is not answered by the entry on throwing one away.
ACTIONS_PATH = FAQ_PATH.parent / "faq_actions.json"


def _action_pattern(words: list[str]) -> re.Pattern[str]:
    """One regex of `words`: Latin ones whole, Devanagari ones as a word's start, the others
    anywhere. One look-around per script, not per word: the entries' texts are long."""
    by_script: dict[str, list[str]] = defaultdict(list)
    for word in sorted(set(map(_plain, words)), key=len, reverse=True):
        by_script[_script(word[0])].append(re.escape(word))
    groups = []
    for script, escaped in by_script.items():
        either = "|".join(escaped)
        if script == _LATIN:
            groups.append(f"(?<!{_LATIN_WORD})(?:{either})(?!{_LATIN_WORD})")
        elif script == _DEVANAGARI:
            groups.append(f"(?<![\u0900-\u097f])(?:{either})")
        else:
            groups.append(f"(?:{either})")
    return re.compile("|".join(groups))


def _action_patterns(actions: dict[str, dict[str, list[str]]]) -> dict[str, re.Pattern[str]]:
    """Action -> one regex of its words in every language."""
    return {
        action: _action_pattern([word for words in by_language.values() for word in words])
        for action, by_language in actions.items()
    }


_ACTIONS = json.loads(ACTIONS_PATH.read_text(encoding="utf-8"))
_RULING_OUT_ACTIONS = _action_patterns(_ACTIONS["rules_out"])
_WARD_ACTIONS = _action_patterns(_ACTIONS["ward"])
# Another municipality named (足立区, Edogawa-ku) asks about its rules, not Katsushika's, unless
# the question is about moving from or to it (faq_actions.json, "elsewhere").
ELSEWHERE = "elsewhere"
_ELSEWHERE = _action_patterns({ELSEWHERE: _ACTIONS[ELSEWHERE]["places"]})
_MOVING = _action_pattern([word for words in _ACTIONS[ELSEWHERE]["moving"].values() for word in words])
# An emergency happening now (faq_actions.json, "urgent"): its entry is always shown.
URGENT_ENTRY = _ACTIONS["urgent"]["entry"]
# The entries about emergencies themselves ("should I call an ambulance at night?"): the only
# ones that answer a question naming an emergency outright.
_URGENT_YIELDS_TO = frozenset(_ACTIONS["urgent"]["yields_to"])
_URGENT_WORDS = _action_pattern([word for words in _ACTIONS["urgent"]["words"].values() for word in words])


def _patterns(by_language: dict[str, list[str]]) -> re.Pattern[str]:
    return re.compile(
        "|".join(
            pattern
            for language, patterns in by_language.items()
            if not language.startswith("_")
            for pattern in patterns
        )
    )


_URGENT_PATTERNS = _patterns(_ACTIONS["urgent"]["patterns"])
_NOT_NOW = _patterns(_ACTIONS["urgent"]["not_now"])
_NOW = _patterns(_ACTIONS["urgent"]["now"])
_PROCEDURES = _patterns(_ACTIONS["urgent"]["procedures"])

# What a question says of an emergency (urgency()): happening now, or named in a question
# that reads as asked after the fact.
NOW, AFTER = "now", "after"


def urgency(normalized: str) -> str | None:
    """NOW when a normalised question names an emergency (one of the words or patterns) and
    asks about no procedure, certificate, disposal, past event or death after the fact, or says
    it is happening now (but for a certificate or an application); AFTER when it names one only
    after the fact; None when it names none."""
    if not (_URGENT_WORDS.search(normalized) or _URGENT_PATTERNS.search(normalized)):
        return None
    if _PROCEDURES.search(normalized):
        return AFTER
    return AFTER if _NOT_NOW.search(normalized) and not _NOW.search(normalized) else NOW


def is_urgent(normalized: str) -> bool:
    """Whether a normalised question names an emergency happening now."""
    return urgency(normalized) == NOW


def _actions(text: str, patterns: dict[str, re.Pattern[str]]) -> frozenset[str]:
    """The actions of `patterns` a normalised text names."""
    return frozenset(action for action, pattern in patterns.items() if pattern.search(text))


def _frame_term(term: str) -> bool:
    """A term made of a function word: a Chinese or Korean frame, a Latin or Devanagari
    function word, or a word pair with one."""
    if term.startswith("f:"):
        return True
    if term.startswith("w:"):
        return term[2:] in _FUNCTION_WORDS
    if term.startswith("b:"):
        return any(word in _FUNCTION_WORDS for word in term[2:].split("_"))
    return False


# --- typos ---------------------------------------------------------------------------------

NOVELTY_POWER = 2
MIN_TYPO_CHARS = 5  # shorter words have too many neighbours: "rice" is one edit from "price"
LONG_WORD_CHARS = 9  # from this length, two edits


def _spellable(word: str) -> bool:
    """A Latin or Devanagari word without digits: the words typo tolerance applies to."""
    return not any(char.isdigit() for char in word) and _script(word[0]) in (_LATIN, _DEVANAGARI)


def _spelled_words(text: str) -> set[str]:
    return {word for word in _plain(text).split() if _spellable(word)}


def _same_start(word: str, known: str) -> bool:
    """A typo seldom touches a word's first letter (a swap of the first two aside): "close" is
    not "lose", "bike" not "like"."""
    return word[0] == known[0] or word[:2] == known[1::-1]


def _deletions(word: str) -> set[str]:
    return {word[:i] + word[i + 1 :] for i in range(len(word))}


def _edit_distance(a: str, b: str) -> int:
    """Damerau-Levenshtein distance (optimal string alignment): adjacent swaps count one."""
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i, char_a in enumerate(a, 1):
        current = [i] + [0] * len(b)
        for j, char_b in enumerate(b, 1):
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (char_a != char_b))
            if i > 1 and j > 1 and char_a == b[j - 2] and a[i - 2] == char_b:
                current[j] = min(current[j], previous2[j - 2] + 1)
        previous2, previous = previous, current
    return previous[-1]


# --- confidence ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Signals:
    """What a hit's confidence is computed from.

    coverage: the score over what a document holding every term of the question once would
      score; about 1 when the entry explains the whole question, low when most of it matched
      nothing (out-of-scope questions, chatter). Capped at 1.5 (repeats add to a full match).
    margin: the lead over the best other hit as a share of the score: positive for the
      leader, zero or negative for a runner-up (down to -1). Two entries that tie both get a
      middling confidence (suggestions, not an answer); one far behind gets little.
    evidence: log(1 + the score in units of one rare term matched): "ごみ" alone explains
      itself fully but says little.
    """

    coverage: float
    margin: float
    evidence: float
    # The share of the question (idf-weighted words, or 2-grams for CJK and hangul) that the
    # whole FAQ never uses, in any entry or language: "bus ticket to narita" talks about
    # what the ward's FAQ does not, whichever entry "ticket" pulls to. A typo corrected to a
    # known word counts half. Entry-independent, so it works the same in every language.
    novelty: float = 0.0
    # Not a calibration input: every term of the question is in the entry's document.
    covered: bool = False


# Logistic calibration of Signals -> P(the hit is the right entry): intercept, coverage,
# margin x coverage x (1 - novelty), evidence, novelty (calibration_inputs). Fitted on every
# top-3 hit of the questions of bench/data/faq_eval.json and faq_residents_tune.json (never the
# held-out split) by `bench/faq_eval.py --fit`; docs/performance.md gives its reliability table
# and its 5-fold cross-validated loss.
CALIBRATION = (-6.152, 1.075, 18.959, 2.367, -0.154)


def calibration_inputs(signals: Signals) -> tuple[float, float, float, float, float]:
    """The logistic model's inputs. The lead counts as much as the entry explains the
    question: a unique match on one word of an out-of-scope question (東京スカイツリーへの
    行き方 → 区役所への行き方) leads by far, yet explains little; and as much as the question
    is about things the FAQ knows at all (novelty)."""
    known = 1.0 - signals.novelty
    return (
        1.0,
        signals.coverage,
        signals.margin * min(signals.coverage, 1.0) * known,
        signals.evidence,
        signals.novelty,
    )


def _confidence(signals: Signals, calibration: tuple[float, ...] = CALIBRATION) -> float:
    z = sum(weight * value for weight, value in zip(calibration, calibration_inputs(signals), strict=True))
    return 1 / (1 + math.exp(-max(min(z, 50.0), -50.0)))


# --- the index -----------------------------------------------------------------------------

_DEFAULT = Params()


def _bm25_idf(documents: int, containing: int) -> float:
    return math.log(1 + (documents - containing + 0.5) / (containing + 0.5))


@dataclass
class _Doc:
    entry: int
    language: str
    length: float
    is_keywords: bool


@dataclass
class FaqIndex:
    """BM25 over every phrasing of every entry, in every language."""

    entries: dict[str, FaqEntry]
    languages: tuple[str, ...]
    params: Params = _DEFAULT
    out_of_scope: dict[str, list[str]] = field(default_factory=dict, repr=False)
    # Residents' questions: phrasings of the entry that answers them, or of what the FAQ does
    # not answer; never words typos are corrected to, nor what an entry's actions are read from.
    examples: Examples = field(default_factory=lambda: _NO_EXAMPLES, repr=False)
    build_ms: float = 0.0
    _order: list[str] = field(default_factory=list, repr=False)
    _docs: list[_Doc] = field(default_factory=list, repr=False)
    # term -> (document number, the term's BM25 score in that document): tf, idf and length are
    # fixed once built, so a search only adds them up.
    _postings: dict[str, list[tuple[int, float]]] = field(default_factory=dict, repr=False)
    _idf: dict[str, float] = field(default_factory=dict, repr=False)
    # The terms that make a question one the FAQ knows at all (Signals.novelty's gate): the
    # FAQ's own text (phrasings, keywords, answers), and residents' in-scope examples less what
    # their out-of-scope ones say too: chatter (ㅋㅋ, lol) stands in both.
    _known_terms: set[str] = field(default_factory=set, repr=False)
    _avg_length: float = 1.0
    _unseen_idf: float = 0.0
    # Params.language_idf: language group -> term -> idf among the entries, and an unseen term's.
    _language_idf: dict[str, dict[str, float]] = field(default_factory=dict, repr=False)
    _unseen_language_idf: float = 0.0
    # Typo tolerance: every Latin and Devanagari word of the FAQ and the lexicon -> in how many
    # entries it stands, and each word's one-deletion forms -> the words (SymSpell).
    _vocabulary: dict[str, int] = field(default_factory=dict, repr=False)
    _deletions: dict[str, set[str]] = field(default_factory=dict, repr=False)
    # The entry number of the out-of-scope phrasings (one past the entries; -1 without them).
    # _idf and _language_idf are the entries' alone: a word only the out-of-scope phrasings use
    # is still one the FAQ does not know (Signals.novelty).
    _out_of_scope_entry: int = -1
    # Per entry number, the actions its phrasings and keywords name (faq_actions.json).
    _entry_actions: list[frozenset[str]] = field(default_factory=list, repr=False)
    # Keywords that begin with a greeting ("hello work"): a question is not cut inside them.
    _courtesy_terms: re.Pattern[str] | None = field(default=None, repr=False)

    @classmethod
    def from_data(
        cls,
        data: dict[str, Any],
        params: Params | None = None,
        out_of_scope: dict[str, list[str]] | None = None,
        examples: Examples | None = None,
    ) -> FaqIndex:
        """The index of faq.json's `data`, with `out_of_scope` phrasings (load_out_of_scope)
        competing with its entries if given, and residents' `examples` (load_examples) among
        the entries' phrasings and the out-of-scope ones."""
        started = time.perf_counter()
        entries = _parse(data)
        languages = tuple(data.get("languages") or LANGUAGES)
        index = cls(entries, languages, params or _DEFAULT, out_of_scope or {}, examples or _NO_EXAMPLES)
        index._build()
        index.build_ms = (time.perf_counter() - started) * 1000
        return index

    def _build(self) -> None:
        self._courtesy_terms = terms_opening_with_courtesy(
            word for entry in self.entries.values() for words in entry.keywords.values() for word in words
        )
        postings: dict[str, list[tuple[int, float]]] = defaultdict(list)
        example_terms: set[str] = set()
        self._order = list(self.entries)
        for number, entry_id in enumerate(self._order):
            entry = self.entries[entry_id]
            for language in set(entry.questions) | set(entry.keywords):
                # Terms phrasing by phrasing and keyword by keyword: joined, the n-grams of
                # Japanese would run from one keyword into the next.
                phrasings = [terms(q, self.params) for q in entry.questions.get(language, [])]
                keywords = [t for word in entry.keywords.get(language, []) for t in terms(word, self.params)]
                examples = [
                    terms(q, self.params) for q in self.examples.answered.get(entry_id, {}).get(language, [])
                ]
                if self.params.mode == "field":
                    field_counts: defaultdict[str, float] = defaultdict(float)  # keywords weigh a float
                    for phrasing in phrasings:
                        for term in phrasing:
                            field_counts[term] += 1
                    for term in set(keywords):
                        field_counts[term] += self.params.keyword_weight
                    self._known_terms.update(field_counts)
                    for example in examples:
                        example_terms.update(example)
                        for term in example:
                            field_counts[term] += self.params.example_weight
                    # The answer's words add to the score, not to the length: a long answer
                    # must not dilute what the entry is asked by.
                    asked_length = sum(field_counts.values())
                    # So do the Nepali phrasings and keywords romanized: the same words again, in
                    # the letters a resident may type them in.
                    if language == "ne" and self.params.romanized_nepali:
                        for term, weight in _romanized_nepali(entry, self.params):
                            field_counts[term] += weight
                            self._known_terms.add(term)
                    if self.params.answer_weight:
                        answered = _answer_terms(entry.answer.get(language, ""), self.params)
                        self._known_terms.update(answered)
                        for term in answered:
                            field_counts[term] += self.params.answer_weight
                    documents: list[tuple[Mapping[str, float], float, bool]] = [
                        (field_counts, asked_length, False)
                    ]
                else:
                    documents = [(Counter(phrasing), len(phrasing), False) for phrasing in phrasings]
                    documents.append((Counter(keywords), len(keywords), True))
                    self._known_terms.update(term for phrasing in phrasings for term in phrasing)
                    self._known_terms.update(keywords)
                for counts, length, is_keywords in documents:
                    if not counts:
                        continue
                    doc_number = len(self._docs)
                    self._docs.append(_Doc(number, language, length, is_keywords))
                    for term, count in counts.items():
                        postings[term].append((doc_number, count))
        chatter = {
            term for qs in self.examples.unanswered.values() for q in qs for term in terms(q, self.params)
        }
        self._known_terms |= example_terms - chatter
        patterns = {**_RULING_OUT_ACTIONS, **_WARD_ACTIONS, **_ELSEWHERE}
        self._entry_actions = [
            _actions(normalize(" ".join(_texts(self.entries[entry_id]))), patterns)
            for entry_id in self._order
        ]
        total = max(len(self._docs), 1)
        self._avg_length = sum(doc.length for doc in self._docs) / total if self._docs else 1.0
        self._idf = {term: _bm25_idf(total, len(docs)) for term, docs in postings.items()}
        self._unseen_idf = _bm25_idf(total, 0)
        # The idf of a term in one language: among the entries (every entry is one document
        # of each language, there or not), in how many that language's text has it.
        entries = max(len(self.entries), 1)
        self._unseen_language_idf = _bm25_idf(entries, 0)
        group_of = [_GROUP.get(doc.language, doc.language) for doc in self._docs]
        held_by = [(group, doc.entry) for group, doc in zip(group_of, self._docs, strict=True)]
        idf_of_count = [_bm25_idf(entries, count) for count in range(entries + 1)]
        self._language_idf = defaultdict(dict)
        self._postings = {}
        for term, docs in postings.items():
            if not self.params.language_idf:
                self._postings[term] = [
                    (number, self._bm25(number, tf, self._idf[term])) for number, tf in docs
                ]
                continue
            holders = Counter(group for group, _ in {held_by[number] for number, _ in docs})
            idf = {group: idf_of_count[count] for group, count in holders.items()}
            for group, value in idf.items():
                self._language_idf[group][term] = value
            self._postings[term] = [
                (number, self._bm25(number, tf, idf[group_of[number]])) for number, tf in docs
            ]
        if self.out_of_scope or self.examples.unanswered:
            self._add_out_of_scope()
        self._build_vocabulary()

    def _add_out_of_scope(self) -> None:
        """The out-of-scope phrasings, one document each (they are about unrelated things: the
        best one counts), scored with the entries' idf: they change nothing in how the entries
        score against each other. Their function words are left out: "how much?" alone is not
        about shopping."""
        self._out_of_scope_entry = len(self._order)
        # A resident's question about another municipality is out of scope by the `elsewhere`
        # rule; as a rival, its words (Adachi's bulky garbage) would outscore Katsushika's.
        unanswered = {
            language: [q for q in phrasings if not _elsewhere(normalize(q))]
            for language, phrasings in self.examples.unanswered.items()
        }
        for language, phrasings in [*self.out_of_scope.items(), *unanswered.items()]:
            group = _GROUP.get(language, language)
            for phrasing in phrasings:
                counts = Counter(term for term in terms(phrasing, self.params) if not _frame_term(term))
                doc_number = len(self._docs)
                self._docs.append(_Doc(self._out_of_scope_entry, language, sum(counts.values()), False))
                for term, count in counts.items():
                    self._postings.setdefault(term, []).append(
                        (doc_number, self._bm25(doc_number, count, self._term_idf(term, group)))
                    )

    def _build_vocabulary(self) -> None:
        entries_of: dict[str, set[str]] = defaultdict(set)
        lexicon = [word for pair in _lexicon_pairs(tuple(LANGUAGES)) for word in pair]
        for entry in self.entries.values():
            texts = [q for qs in entry.questions.values() for q in qs]
            texts += [w for ws in entry.keywords.values() for w in ws]
            for word in _spelled_words(" ".join(texts)):
                entries_of[word].add(entry.id)
        for word in _spelled_words(" ".join(lexicon)):
            entries_of[word].add("")
        if self.out_of_scope:
            for word in _spelled_words(" ".join(q for qs in self.out_of_scope.values() for q in qs)):
                entries_of[word].add("")
        self._vocabulary = {word: len(ids) for word, ids in entries_of.items()}
        deletions: dict[str, set[str]] = defaultdict(set)
        for word in self._vocabulary:
            if len(word) >= MIN_TYPO_CHARS - 1:
                for form in _deletions(word):
                    deletions[form].add(word)
        self._deletions = dict(deletions)

    def _correct(self, text: str) -> tuple[str, int]:
        """The question with each unknown Latin or Devanagari word of MIN_TYPO_CHARS or more
        replaced by the FAQ's word one edit away (two for long words), its first letter kept:
        adress → address, bateries → batteries, insurence → insurance. The nearest wins, then
        the most used.
        Returns the text and how many words it changed."""
        words = _plain(text[:MAX_QUERY_CHARS]).split(" ")
        changed = 0
        for position, word in enumerate(words):
            if len(word) < MIN_TYPO_CHARS or word in self._vocabulary or not _spellable(word):
                continue
            allowed = 1 if len(word) < LONG_WORD_CHARS else 2
            forms = {word} | _deletions(word)
            if allowed == 2:
                forms |= {twice for once in list(forms) for twice in _deletions(once)}
            candidates = {known for form in forms for known in self._deletions.get(form, ())}
            candidates |= {form for form in forms if form in self._vocabulary}
            best = min(
                (
                    (distance, -self._vocabulary[known], known)
                    for known in candidates
                    if _same_start(word, known) and (distance := _edit_distance(word, known)) <= allowed
                ),
                default=None,
            )
            if best is not None:
                words[position] = best[2]
                changed += 1
        return " ".join(words), changed

    def _novelty(self, text: str, corrected: int, syllables: bool) -> tuple[float, bool]:
        """Signals.novelty of a normalised question, and whether the FAQ knows any of it.

        Novelty's units are words (Latin, Devanagari), 2-grams (CJK, hangul), and for a
        language written in syllables (Vietnamese) pairs of syllables: "kể chuyện cười" is made
        of syllables the FAQ uses, never of its words. Function words are left out: "how much"
        says nothing about what is asked. The FAQ knows the question when one of its words
        (a single syllable too) or 2-grams stands anywhere in the FAQ, or a typo was corrected
        to one; a question with no content word at all ("ok", "how much?") is not judged."""
        text = content(text)
        units: list[list[str]] = []
        latin: list[str] = []  # the current stretch of Latin words, accents stripped
        known_any = corrected > 0
        judged = corrected > 0

        def close_latin() -> None:
            if syllables and len(latin) > 1:
                units.extend([f"b:{a}_{b}"] for a, b in zip(latin, latin[1:], strict=False))
            latin.clear()

        for script, run in _runs(text):
            judged = True
            if script == _LATIN:
                stripped = _strip_accents(run)
                forms = ["w:" + form for form in {run, _stem(run), stripped, _stem(stripped)}]
                known_any = known_any or any(form in self._known_terms for form in forms)
                if not syllables:
                    units.append(forms)
                elif not latin:
                    units.append(["w:" + run, "w:" + stripped])  # replaced by pairs if a pair follows
                elif len(latin) == 1:
                    units.pop()
                latin.append(stripped)
                continue
            close_latin()
            if script in (_HAN, _HANGUL):
                # A kanji alone (税, or 狗 between function words) is known by its unigram.
                grams = [[run, "u:" + run]] if len(run) == 1 else [[gram] for gram in _grams(run, (2,))]
                units += grams
                known_any = known_any or any(form in self._known_terms for gram in grams for form in gram)
            elif script == _DEVANAGARI:
                units.append(["w:" + run])
                known_any = known_any or "w:" + run in self._known_terms
        close_latin()
        # Weighted by idf squared: what a question is about are its rare words, not its "how".
        known = unknown = 0.0
        unseen = self._unseen_idf**NOVELTY_POWER
        for forms in units:
            weights = [self._idf[form] for form in forms if form in self._idf]
            if weights:
                known += max(weights) ** NOVELTY_POWER
            else:
                unknown += unseen
        unknown += 0.5 * unseen * corrected
        novelty = unknown / (known + unknown) if known + unknown else 0.0
        return novelty, known_any or not judged

    # --- search ---

    def search(self, text: str, language: str | None = None, k: int = 3) -> list[Hit]:
        """The k best entries for a question, best first, each with a confidence in 0..1.

        `language` is the resident's language if known; the text's script overrides it when
        they disagree (resolve_language). Empty or meaningless text gives no hits.
        """
        ranked = self._ranked(text, language, k)
        normalized = normalize(text) if isinstance(text, str) else ""
        named = urgency(normalized) if normalized else None
        if named is None and _NOT_NOW.search(normalized) and any(hit[0] == URGENT_ENTRY for hit in ranked):
            # Asked after the fact with none of the words, who to call ranked by its own text
            # (a road accident's certificate): offered last, never the answer (a re-test).
            named = AFTER
        hits = [
            Hit(
                entry_id,
                round(score, 4),
                round(_confidence(signals), 4),
                signals.covered,
                signals.evidence < MIN_ANSWER_EVIDENCE,
                named == NOW and entry_id == URGENT_ENTRY,
                named == AFTER and entry_id == URGENT_ENTRY,
            )
            for entry_id, score, signals in ranked
        ]
        if named and URGENT_ENTRY in self.entries and not any(hit.entry_id == URGENT_ENTRY for hit in hits):
            # however far down it ranked
            hits.append(Hit(URGENT_ENTRY, 0.0, 0.0, urgent=named == NOW, named_after=named == AFTER))
        return hits

    def explain(self, text: str, language: str | None = None, k: int = 3) -> list[dict[str, Any]]:
        """search() with the signals its confidence is computed from (for bench/faq_eval.py)."""
        return [
            {"entry_id": entry_id, "score": score, "signals": signals, "confidence": _confidence(signals)}
            for entry_id, score, signals in self._ranked(text, language, k)
        ]

    def _ranked(self, text: str, language: str | None, k: int) -> list[tuple[str, float, Signals]]:
        if k <= 0 or not isinstance(text, str):
            return []
        text = without_courtesy(text, self._courtesy_terms)
        if not text:
            return []  # a greeting or a thanks alone: small talk, not a question for the FAQ
        corrected_text, corrected = self._correct(text)
        query = Counter(terms(corrected_text, self.params))
        if not query:
            return []
        resolved = resolve_language(text, language)
        if resolved == "vi" and self.params.vietnamese_english and _reads_as_english(text):
            resolved = "en"  # many Vietnamese residents write English: searched as English's
        normalized = normalize(corrected_text)
        novelty, known = self._novelty(normalized, corrected, syllables=resolved == "vi")
        if not known:
            return []  # nothing the question is about is anywhere in the FAQ: gibberish, netflix
        groups = {_GROUP.get(resolved, "ja")}
        if _han_only(text):
            groups |= {"ja", "zh"}  # 住民票 取得 is Japanese as much as Chinese: let both count
        elif resolved == "zh-Hans" and _KANA_IN.search(text):
            groups.add("ja")  # its Japanese words (マイナカード) are found where Japanese has them
        if language == "ne" and resolved == "en" and self.params.romanized_nepali:
            groups.add("ne")  # a Nepali resident's Latin letters are romanized Nepali as often as English
        spanning = _spanning_grams(corrected_text, query, self.params)
        weights = {
            term: self._weight(term) * (self.params.spanning_weight if term in spanning else 1.0)
            for term in query
        }
        scores = self._scores(weights, groups)
        if not scores:
            return []
        ranked = sorted(scores.items(), key=lambda item: (-item[1][0], item[0]))
        # Every entry and the out-of-scope phrasings are rivals; only the entries that answer
        # what the question asks to do are hits.
        answerable = self._answerable(normalized)
        hits = [item for item in ranked if answerable(item[0])]
        ceiling = self._ceiling(weights, _GROUP.get(resolved, "ja"))
        out = []
        for number, (score, found) in hits[:k]:
            # A hit's margin is its lead over the best rival (negative when one scores higher).
            rival = next((other_score for other, (other_score, _) in ranked if other != number), 0.0)
            signals = Signals(
                coverage=min(score / ceiling, 1.5),
                margin=max((score - rival) / score, -1.0),
                evidence=math.log1p(score / self._unit),
                novelty=novelty,
                covered=found == len(query),
            )
            out.append((self._order[number], score, signals))
        return out

    def _answerable(self, text: str) -> Callable[[int], bool]:
        """Which entry numbers can answer what a normalised question asks to do: buying a
        fridge is not throwing one away. An entry must name the action asked (faq_actions.json),
        or a ward action the question names beside it (bought a new one, dispose of the old).
        A question naming another municipality, not as where one moves from or to, only an
        entry naming one can answer."""
        asked = _actions(text, _RULING_OUT_ACTIONS)
        wanted = asked | _actions(text, _WARD_ACTIONS)
        elsewhere = _elsewhere(text)
        return lambda number: (
            number != self._out_of_scope_entry
            and (not asked or bool(wanted & self._entry_actions[number]))
            and (not elsewhere or ELSEWHERE in self._entry_actions[number])
        )

    def _scores(self, weights: dict[str, float], groups: set[str]) -> dict[int, tuple[float, int]]:
        """Entry number -> (score, how many of the query's terms its best document holds), the
        query's terms each at its weight."""
        p = self.params
        per_doc: dict[int, float] = defaultdict(float)
        matched: dict[int, int] = defaultdict(int)
        for term, weight in weights.items():
            postings = self._postings.get(term)
            if not postings:
                continue
            for doc_number, score in postings:
                per_doc[doc_number] += weight * score
                matched[doc_number] += 1
        # Per entry and language: the best phrasing plus the keywords (phrase mode), or the one
        # document (field mode); then per entry, the best language, others discounted.
        best: dict[tuple[int, str], float] = defaultdict(float)
        keyword: dict[tuple[int, str], float] = defaultdict(float)
        found: dict[tuple[int, str], int] = defaultdict(int)  # query terms in the best document
        for doc_number, score in per_doc.items():
            doc = self._docs[doc_number]
            key = (doc.entry, doc.language)
            if doc.is_keywords:
                keyword[key] = score
            elif score > best[key]:
                best[key] = score
            found[key] = max(found[key], matched[doc_number])
        entry_scores: dict[int, tuple[float, int]] = {}
        for key in best.keys() | keyword.keys():
            score = best.get(key, 0.0) + p.keyword_weight * keyword.get(key, 0.0)
            if _GROUP.get(key[1]) not in groups:
                score *= p.cross_language_weight
            if score > entry_scores.get(key[0], (0.0, 0))[0]:
                entry_scores[key[0]] = (score, found[key])
        return entry_scores

    def _bm25(self, doc_number: int, tf: float, idf: float) -> float:
        """One term's BM25 score in one document."""
        p = self.params
        norm = p.k1 * (1 - p.b + p.b * self._docs[doc_number].length / self._avg_length)
        return idf * tf * (p.k1 + 1) / (tf + norm)

    def _ceiling(self, weights: dict[str, float], group: str) -> float:
        """What a document in the question's language holding every term of the query once would
        score (about)."""
        return sum(self._term_idf(term, group) * weight for term, weight in weights.items()) or 1.0

    def _term_idf(self, term: str, group: str) -> float:
        """A term's idf among the entries, in language `group` (Params.language_idf)."""
        if self.params.language_idf:
            return self._language_idf.get(group, {}).get(term, self._unseen_language_idf)
        return self._idf.get(term, self._unseen_idf)

    @property
    def _unit(self) -> float:
        """One rare term's idf, the unit of Signals.evidence."""
        return self._unseen_language_idf if self.params.language_idf else self._unseen_idf

    def _weight(self, term: str) -> float:
        return self.params.trigram_weight if term.startswith("t:") else 1.0

    # --- answers ---

    def answer(self, entry_id: str, language: str) -> dict[str, Any]:
        """The answer, link and question of an entry in `language`, or where that language has
        no answer, in the first of its fallback chain that has one (domain/languages.py:
        vi -> en -> ja). `language` in the result is the language of `answer`; the question
        (a suggestion's label) follows the same chain over the entry's phrasings."""
        entry = self.entries[entry_id]
        text_language = languages.pick_language(entry.answer, language) or DEFAULT_LANGUAGE
        phrased = {lang: qs[0] for lang, qs in entry.questions.items() if qs}
        question_language = languages.pick_language(phrased, language) or DEFAULT_LANGUAGE
        questions = entry.questions.get(question_language) or [""]
        return {
            "answer": entry.answer[text_language],
            "link": entry.link,
            "question": questions[0],
            "language": text_language,
        }

    @staticmethod
    def decide(hits: list[Hit]) -> tuple[str, list[Hit]]:
        """What the assistant does with a search result (best first): (ANSWER, [best]),
        (SUGGESTIONS, the best and up to two runner-ups at SUGGEST_ALSO or above) or
        (NO_MATCH, []).

        A question the FAQ's words cover entirely is never "no match", whatever its
        confidence: "ごみ" alone is in scope, only too broad to answer; it gets suggestions.
        A brief one ("ok") is never answered outright, nor one a second entry may answer too.
        A question naming an emergency is answered with who to call where that entry ranks first
        or nothing else fits, else shown it first among the suggestions, unless an entry about
        emergencies themselves answers it (a stranger in the house is never a garbage question).
        One naming an emergency only after the fact is decided on the other entries, who to call
        offered last among their suggestions.
        """
        action, shown = FaqIndex._decide(hits)
        urgent = next((hit for hit in hits if hit.urgent), None)
        if urgent is None:
            after = next((hit for hit in hits if hit.named_after), None)
            if after is None:
                return action, shown
            # Named after the fact (a certificate after a fire): decided on the other entries,
            # who to call offered after their suggestions only, never alone or first (a re-test:
            # "交通事故证明" was answered with who to call, its words being that entry's).
            action, shown = FaqIndex._decide([hit for hit in hits if hit is not after])
            return (SUGGESTIONS, [*shown[:2], after]) if action == SUGGESTIONS else (action, shown)
        if action == ANSWER and shown[0].entry_id in _URGENT_YIELDS_TO:
            return action, shown
        if action == NO_MATCH or hits[0] is urgent:
            return ANSWER, [urgent]  # an emergency, and nothing else fits better: who to call
        return SUGGESTIONS, [urgent, *[hit for hit in shown if hit is not urgent]][:3]

    @staticmethod
    def _decide(hits: list[Hit]) -> tuple[str, list[Hit]]:
        if not hits or (hits[0].confidence < SUGGEST and not hits[0].covered):
            return NO_MATCH, []
        runner_up = hits[1].confidence if len(hits) > 1 else 0.0
        if hits[0].confidence >= CONFIDENT and not hits[0].brief and runner_up < RIVAL:
            return ANSWER, hits[:1]
        return SUGGESTIONS, hits[:1] + [hit for hit in hits[1:3] if hit.confidence >= SUGGEST_ALSO]


def _parse(data: dict[str, Any]) -> dict[str, FaqEntry]:
    if not isinstance(data, dict) or not isinstance(data.get("entries"), list):
        raise FaqDataError("faq.json needs an 'entries' list")
    entries: dict[str, FaqEntry] = {}
    for raw in data["entries"]:
        entry_id = raw.get("id") if isinstance(raw, dict) else None
        if not entry_id or not isinstance(entry_id, str):
            raise FaqDataError("every FAQ entry needs an id")
        if entry_id in entries:
            raise FaqDataError(f"FAQ entry {entry_id!r} appears twice")
        questions = {
            lang: [q for q in qs if isinstance(q, str)] for lang, qs in _dict(raw, "questions").items()
        }
        answer = {lang: text for lang, text in _dict(raw, "answer").items() if isinstance(text, str)}
        if not questions.get(DEFAULT_LANGUAGE) or not answer.get(DEFAULT_LANGUAGE, "").strip():
            raise FaqDataError(f"FAQ entry {entry_id!r} needs a Japanese question and answer")
        keywords = {
            lang: [w for w in ws if isinstance(w, str)] for lang, ws in _dict(raw, "keywords").items()
        }
        entries[entry_id] = FaqEntry(
            id=entry_id,
            category=str(raw.get("category") or ""),
            section=str(raw.get("section") or ""),
            link=str(raw.get("link") or ""),
            questions=questions,
            answer=answer,
            keywords=keywords,
        )
    return entries


def _answer_terms(answer: str, params: Params) -> set[str]:
    """The terms an answer adds to its entry's document (Params.answer_weight): its words and
    n-grams, without the Latin trigrams (typo tolerance is for the words an entry is asked by)
    and the single kanji, which in a text that long match almost any question."""
    return {term for term in terms(answer, params) if not term.startswith(("t:", "u:"))}


def _romanized_nepali(entry: FaqEntry, params: Params) -> Iterator[tuple[str, float]]:
    """The terms of an entry's Nepali phrasings and keywords typed in Latin letters, each with
    the weight of a phrasing's or a keyword's term; and its English keywords, lighter: a
    resident typing Nepali in Latin letters writes the English word ("battery kun fohor ma
    falne", "notification banda garna"), which the Nepali text spells in Devanagari or avoids."""
    for texts, weight in ((entry.questions, 1.0), (entry.keywords, params.keyword_weight)):
        for text in texts.get("ne", []):
            for term in terms(nepali.romanize(text), params):
                yield term, weight
    for word in entry.keywords.get("en", []):
        for term in terms(word, params):
            yield term, params.keyword_weight * params.english_in_nepali


def _elsewhere(text: str) -> bool:
    """A normalised question names another municipality, not as where one moves from or to."""
    return bool(_actions(text, _ELSEWHERE)) and not _MOVING.search(text)


def _texts(entry: FaqEntry) -> list[str]:
    """What an entry is asked by, in every language: its phrasings and keywords (answers say
    much more than what they answer: "return it to the shop where you bought it")."""
    return [
        *(q for qs in entry.questions.values() for q in qs),
        *(w for ws in entry.keywords.values() for w in ws),
    ]


def _dict(raw: dict[str, Any], key: str) -> dict[str, Any]:
    value = raw.get(key) or {}
    if not isinstance(value, dict):
        raise FaqDataError(f"FAQ entry {raw.get('id')!r}: {key} must be an object by language")
    return value


@cache
def load_index(path: str | Path | None = None) -> FaqIndex:
    """The index of chalicelib/data/faq.json (or `path`), of the out-of-scope phrasings and of
    the residents' examples, once per process: read from the prebuilt INDEX_PATH when it was
    built from these very files and this code (the deployment package ships one), else built."""
    if path is None:
        prebuilt = _read_prebuilt(INDEX_PATH)
        if prebuilt is not None:
            return prebuilt
    return _build_index(Path(path) if path is not None else FAQ_PATH)


def _build_index(source: Path) -> FaqIndex:
    return FaqIndex.from_data(
        json.loads(source.read_text(encoding="utf-8")),
        out_of_scope=load_out_of_scope(),
        examples=load_examples(),
    )


# The index, built ahead (infra/package.py writes it into the deployment package): on a
# Lambda with a fraction of a vCPU, building it at the first question takes seconds; reading
# it, a fraction of that. Never in the repository (.gitignore).
INDEX_PATH = FAQ_PATH.parent / "faq_index.pickle"
_INDEX_SOURCES = (
    FAQ_PATH,
    OUT_OF_SCOPE_PATH,
    EXAMPLES_PATH,
    ACTIONS_PATH,
    FUNCTION_WORDS_PATH,
    LEXICON_PATH,
    Path(__file__),
    Path(nepali.__file__),
    Path(courtesy.__file__),  # the keywords kept whole against greetings (FaqIndex._courtesy_terms)
    courtesy.DATA_PATH,
)


def index_digest() -> bytes:
    """What the index is built from: its data files, this module and nepali.py, and the Python
    version."""
    digest = hashlib.sha256(repr(sys.version_info[:2]).encode())
    for source in _INDEX_SOURCES:
        digest.update(source.read_bytes())
    return digest.digest()


def prebuilt_index() -> bytes:
    """The index, built and pickled behind the digest of what it was built from (INDEX_PATH)."""
    return index_digest() + pickle.dumps(_build_index(FAQ_PATH), protocol=pickle.HIGHEST_PROTOCOL)


def _read_prebuilt(source: Path) -> FaqIndex | None:
    """The prebuilt index, or None when there is none or it was built from other files or code."""
    try:
        raw = source.read_bytes()
    except FileNotFoundError:
        return None
    digest = index_digest()
    if raw[: len(digest)] != digest:
        return None
    # Our own file, written at packaging time from the same sources (the digest says so).
    index = pickle.loads(raw[len(digest) :])  # noqa: S301
    return index if isinstance(index, FaqIndex) else None
