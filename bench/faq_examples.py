"""Write chalicelib/data/faq_examples.json: residents' questions the FAQ index learns from.

The examples are the tuning split of the resident-style evaluation
(bench/data/faq_residents_tune.json), never the held-out split: each in-scope question becomes
a phrasing of the entry it expects, each out-of-scope one a phrasing of what the FAQ does not
answer. Batch 9's tuning part is left out: it is kept for choosing the engine's general
settings, never its content (docs/performance.md, "Fifth round").

    .venv/bin/python bench/faq_examples.py           # check the file is up to date (exit 1 if not)
    .venv/bin/python bench/faq_examples.py --write   # rewrite it

bench/faq_eval.py searches each example with an index built without it (its fold left out),
so the tuning split's figures stay what a new question would get.
"""

from __future__ import annotations

import json
import sys
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TUNING = ROOT / "bench" / "data" / "faq_residents_tune.json"
EXAMPLES = ROOT / "chalicelib" / "data" / "faq_examples.json"
# Positions in the tuning split of batch 9's tuning part (later batches are appended after it).
SETTINGS_ONLY = range(882, 1073)
FOLDS = 5

COMMENT = (
    "Residents' questions from the tuning split of bench/data/faq_residents_tune.json (never the "
    "held-out split; batch 9's tuning part left out), written by bench/faq_examples.py: in-scope "
    "ones by the entry they expect, out-of-scope ones by language. chalicelib/domain/faq.py "
    "indexes them as phrasings (Params.example_weight). Do not edit by hand: edit the tuning split "
    "and rerun the script."
)


def fold(question: str) -> int:
    """The cross-validation fold of an example (stable across runs and files)."""
    return zlib.crc32(question.encode("utf-8")) % FOLDS


def examples(tuning: list[dict]) -> dict:
    answered: dict[str, dict[str, list[str]]] = {}
    unanswered: dict[str, list[str]] = {}
    for position, question in enumerate(tuning):
        if position in SETTINGS_ONLY:
            continue
        if question["expected"]:
            answered.setdefault(question["expected"], {}).setdefault(question["lang"], []).append(
                question["q"]
            )
        else:
            unanswered.setdefault(question["lang"], []).append(question["q"])
    return {"_comment": COMMENT, "answered": answered, "unanswered": unanswered}


def render(document: dict) -> str:
    return json.dumps(document, ensure_ascii=False, indent=1) + "\n"


def main() -> int:
    tuning = json.loads(TUNING.read_text(encoding="utf-8"))["questions"]
    text = render(examples(tuning))
    if "--write" in sys.argv:
        EXAMPLES.write_text(text, encoding="utf-8")
        return 0
    current = EXAMPLES.read_text(encoding="utf-8") if EXAMPLES.exists() else ""
    if current != text:
        print(f"{EXAMPLES.relative_to(ROOT)} is out of date: run bench/faq_examples.py --write")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
