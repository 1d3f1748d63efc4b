"""The ward's FAQ set (chalicelib/data/faq.json): shape, coverage and text hygiene.

The retrieval engine and the evaluation set read this file, so these tests pin
what they may rely on: every entry speaks every resident language, ids are
stable keys, sections route to real sections and links stay on the ward's site.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections import Counter
from pathlib import Path
from urllib.parse import urlparse

import pytest

from chalicelib.domain.residents import LANGUAGES

DATA = Path(__file__).resolve().parents[2] / "chalicelib" / "data"
FAQ = json.loads((DATA / "faq.json").read_text(encoding="utf-8"))
ENTRIES = FAQ["entries"]
SECTION_IDS = {section["id"] for section in json.loads((DATA / "sections.json").read_text())["sections"]}

CATEGORIES = {
    "garbage",  # ごみ・リサイクル
    "certificate",  # 住民票・戸籍・コンビニ交付
    "seal",  # 印鑑登録
    "my-number",  # マイナンバーカード
    "tax",  # 住民税
    "insurance",  # 国民健康保険・国民年金
    "childcare",  # 子育て・保育
    "health",  # 健診・予防接種・急病
    "disaster",  # 防災・避難
    "bicycle",  # 自転車
    "pet",  # ペット
    "consultation",  # 各種相談
    "moving",  # 転入・転出
    "roads",  # 道路・街路灯
    "ward-office",  # 区役所・区政への意見
    "line",  # このLINEアカウントの使い方
}
# What the issue asks the FAQ to cover, with a floor so a topic is not a token entry.
MINIMUM_PER_CATEGORY = {
    "garbage": 8,
    "certificate": 4,
    "my-number": 3,
    "tax": 4,
    "insurance": 3,
    "childcare": 4,
    "health": 3,
    "disaster": 4,
    "bicycle": 3,
    "pet": 3,
    "consultation": 5,
    "moving": 2,
    "seal": 2,
    "line": 4,
}

ID_PATTERN = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
WARD_HOST = "www.city.katsushika.lg.jp"

# LINE messages should be short; Japanese, the source, is held to the tightest limit. English needs
# about two and a half times the characters of Japanese for the same answer.
ANSWER_LIMIT = {"ja": 400, "ja-easy": 500, "zh-Hans": 500, "ko": 500, "vi": 500, "ne": 500, "en": 900}

# Numbers an answer may quote: national services whose numbers are fixed and public.
# Anything else that looks like a phone number is probably invented and must not ship.
ALLOWED_NUMBERS = {"0120-95-0178"}  # マイナンバー総合フリーダイヤル
PHONE_LIKE = re.compile(r"\d{2,5}-\d{1,4}-\d{3,4}")
SHORT_DIALS = re.compile(r"#\d{4}")
ALLOWED_SHORT_DIALS = {"#7119", "#8000", "#8008"}  # 救急相談, こども医療電話相談, DV相談ナビ

# A character each language's text must contain, so a swapped or untranslated field is caught.
SCRIPT = {
    "ja": re.compile(r"[\u3040-\u30ff]"),  # kana
    "ja-easy": re.compile(r"[\u3040-\u309f]"),  # hiragana
    "zh-Hans": re.compile(r"[\u4e00-\u9fff]"),
    "ko": re.compile(r"[\uac00-\ud7a3]"),  # hangul syllables
    "vi": re.compile(r"[àáâãèéêìíòóôõùúýăđĩũơư\u1ea0-\u1ef9]", re.IGNORECASE),  # vietnamese diacritics
    "ne": re.compile(r"[\u0900-\u097f]"),  # devanagari
    "en": re.compile(r"[A-Za-z]"),
}
# Translations quote Japanese names residents will see at the counter ("住民票の写し"), but the
# text itself must be in the language: the share of its letters written in the language's script.
LETTERS_IN = {
    "ja-easy": (re.compile(r"[\u3040-\u309f]"), 0.5),  # plain Japanese leans on hiragana
    "en": (re.compile(r"[A-Za-z]"), 0.75),
    "vi": (re.compile(r"[A-Za-zÀ-ỹ]"), 0.75),
    "ne": (re.compile(r"[\u0900-\u097f]"), 0.6),
    "ko": (re.compile(r"[\uac00-\ud7a3]"), 0.6),
    "zh-Hans": (re.compile(r"[\u4e00-\u9fff]"), 0.7),
}


def script_share(language: str, text: str) -> float:
    letters = [char for char in text if char.isalpha()]
    pattern, _ = LETTERS_IN[language]
    return sum(1 for char in letters if pattern.match(char)) / len(letters)


def normalised(text: str) -> str:
    """How a duplicate looks to a resident: width, case, spacing and end punctuation do not count."""
    text = unicodedata.normalize("NFKC", text).casefold()
    text = re.sub(r"\s+", "", text)
    return text.rstrip("?？。.!！")


def entry_ids() -> list[str]:
    return [entry["id"] for entry in ENTRIES]


def by_id(entry: dict) -> str:
    return entry["id"]


def test_header_names_the_source_and_every_resident_language():
    assert FAQ["version"] == 1
    assert FAQ["source"] == "ja"
    assert tuple(FAQ["languages"]) == LANGUAGES


def test_there_are_at_least_sixty_entries():
    assert len(ENTRIES) >= 60


def test_ids_are_unique_kebab_case():
    ids = entry_ids()
    assert [entry_id for entry_id, count in Counter(ids).items() if count > 1] == []
    assert [entry_id for entry_id in ids if not ID_PATTERN.match(entry_id)] == []


def test_categories_come_from_the_fixed_list_and_cover_the_issue():
    used = Counter(entry["category"] for entry in ENTRIES)
    assert set(used) <= CATEGORIES, set(used) - CATEGORIES
    short = {
        category: used[category] for category, floor in MINIMUM_PER_CATEGORY.items() if used[category] < floor
    }
    assert short == {}


@pytest.mark.parametrize("entry", ENTRIES, ids=by_id)
def test_entry_shape(entry):
    assert set(entry) == {"id", "category", "section", "link", "questions", "answer", "keywords"}
    assert entry["section"] in SECTION_IDS  # where "ask a person" sends a question near this entry
    link = urlparse(entry["link"])
    assert link.scheme == "https"
    assert link.hostname == WARD_HOST
    assert set(entry["keywords"]) <= set(LANGUAGES)
    for words in entry["keywords"].values():
        assert words and all(isinstance(word, str) and word.strip() == word and word for word in words)


@pytest.mark.parametrize("entry", ENTRIES, ids=by_id)
def test_every_language_has_three_to_five_distinct_questions(entry):
    assert set(entry["questions"]) == set(LANGUAGES)
    for language, questions in entry["questions"].items():
        assert 3 <= len(questions) <= 5, language
        assert all(isinstance(q, str) and q.strip() == q and q for q in questions), language
        assert len({normalised(q) for q in questions}) == len(questions), language
        assert all(SCRIPT[language].search(q) for q in questions), language


@pytest.mark.parametrize("entry", ENTRIES, ids=by_id)
def test_every_language_has_a_short_translated_answer(entry):
    answers = entry["answer"]
    assert set(answers) == set(LANGUAGES)
    for language, answer in answers.items():
        assert isinstance(answer, str) and answer.strip() == answer and answer, language
        assert len(answer) <= ANSWER_LIMIT[language], (language, len(answer))
        assert SCRIPT[language].search(answer), language
        if language != "ja":
            # A copy of the Japanese is not a translation.
            assert answer != answers["ja"], language
        if language in LETTERS_IN:
            assert script_share(language, answer) >= LETTERS_IN[language][1], (
                language,
                script_share(language, answer),
            )


def test_no_two_entries_share_a_question():
    owners: dict[str, set[str]] = {}
    for entry in ENTRIES:
        for questions in entry["questions"].values():
            for question in questions:
                owners.setdefault(normalised(question), set()).add(entry["id"])
    shared = {question: ids for question, ids in owners.items() if len(ids) > 1}
    assert shared == {}


def test_answers_quote_no_invented_phone_numbers():
    found = set()
    for entry in ENTRIES:
        for answer in entry["answer"].values():
            text = unicodedata.normalize("NFKC", answer)
            found |= {(entry["id"], n) for n in PHONE_LIKE.findall(text) if n not in ALLOWED_NUMBERS}
            found |= {(entry["id"], n) for n in SHORT_DIALS.findall(text) if n not in ALLOWED_SHORT_DIALS}
    assert found == set()


def test_every_translation_gives_the_same_numbers_to_call():
    """A number dropped or mistyped in one translation sends a resident to the wrong place."""
    dials = re.compile(r"#\d{4}|\d{4}-\d{2}-\d{4}|(?<!\d)(?:110|119|171|188)(?!\d)")
    for entry in ENTRIES:
        expected = set(dials.findall(unicodedata.normalize("NFKC", entry["answer"]["ja"])))
        for language, answer in entry["answer"].items():
            assert set(dials.findall(unicodedata.normalize("NFKC", answer))) == expected, (
                entry["id"],
                language,
            )


OUT_OF_SCOPE = json.loads((DATA / "faq_out_of_scope.json").read_text(encoding="utf-8"))["questions"]
EVALUATION = Path(__file__).resolve().parents[2] / "bench" / "data"


def test_the_out_of_scope_phrasings_speak_every_language_and_no_entrys_question():
    assert set(OUT_OF_SCOPE) == set(LANGUAGES)
    assert all(len(phrasings) >= 15 for phrasings in OUT_OF_SCOPE.values())
    questions = {q.casefold() for entry in ENTRIES for qs in entry["questions"].values() for q in qs}
    assert not questions & {p.casefold() for ps in OUT_OF_SCOPE.values() for p in ps}


def test_no_out_of_scope_phrasing_is_copied_from_the_evaluation():
    asked = {
        q["q"].casefold()
        for path in EVALUATION.glob("faq_*.json")
        for q in json.loads(path.read_text(encoding="utf-8"))["questions"]
    }
    assert not asked & {p.casefold() for ps in OUT_OF_SCOPE.values() for p in ps}


# --- residents' examples (chalicelib/data/faq_examples.json) ----------------------------------

EXAMPLES = json.loads((DATA / "faq_examples.json").read_text(encoding="utf-8"))


def _split(name: str) -> list[dict]:
    return json.loads((EVALUATION / f"faq_residents_{name}.json").read_text(encoding="utf-8"))["questions"]


def _examples() -> set[tuple[str, str, str | None]]:
    answered = {
        (q, lang, entry) for entry, by in EXAMPLES["answered"].items() for lang, qs in by.items() for q in qs
    }
    return answered | {(q, lang, None) for lang, qs in EXAMPLES["unanswered"].items() for q in qs}


def test_the_examples_are_the_tuning_split_as_written_by_the_script():
    from bench.faq_examples import examples, render

    assert (DATA / "faq_examples.json").read_text(encoding="utf-8") == render(examples(_split("tune")))


def test_the_examples_hold_no_held_out_question_and_not_batch_9s_tuning_part():
    from bench.faq_examples import SETTINGS_ONLY

    held_out = {q["q"].casefold() for q in _split("heldout")}
    settings_only = {q["q"] for position, q in enumerate(_split("tune")) if position in SETTINGS_ONLY}
    found = _examples()
    assert not held_out & {q.casefold() for q, _, _ in found}
    assert not settings_only & {q for q, _, _ in found}
    # and everything else of the tuning split is there, labelled as in the split
    tuning = {(q["q"], q["lang"], q["expected"]) for q in _split("tune") if q["q"] not in settings_only}
    assert found == tuning


def test_every_example_names_a_real_entry_and_language():
    ids = {entry["id"] for entry in ENTRIES}
    assert set(EXAMPLES["answered"]) <= ids
    assert {lang for by in EXAMPLES["answered"].values() for lang in by} <= set(LANGUAGES)
    assert set(EXAMPLES["unanswered"]) <= set(LANGUAGES)
