"""A Vietnamese resident writing English (Params.vietnamese_english), on every question file.

For each split: the Vietnamese questions asked by a Vietnamese resident (must not change), and
the English questions asked by a Vietnamese resident (the case an outside tester found unanswered)
next to the same questions from an English resident, with the setting off and on.
Columns: top-1, answered confidently and right / wrong (confidence >= faq.CONFIDENT), and
out-of-scope questions answered confidently.

    .venv/bin/python bench/faq_vietnamese_english.py
"""

from __future__ import annotations

import copy
import json
import sys
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from chalicelib.domain import faq  # noqa: E402

FILES = ("faq_eval.json", "faq_residents_tune.json", "faq_residents_heldout.json")


def score(index: faq.FaqIndex, questions: list[dict], profile: str) -> str:
    inside = [q for q in questions if q.get("expected")]
    outside = [q for q in questions if not q.get("expected")]
    top1 = right = wrong = answered_out = 0
    for question in inside:
        hits = index.search(question["q"], profile)
        top1 += bool(hits) and hits[0].entry_id == question["expected"]
        if hits and hits[0].confidence >= faq.CONFIDENT:
            right += hits[0].entry_id == question["expected"]
            wrong += hits[0].entry_id != question["expected"]
    for question in outside:
        hits = index.search(question["q"], profile)
        answered_out += bool(hits) and hits[0].confidence >= faq.CONFIDENT
    n = max(len(inside), 1)
    return (
        f"in {len(inside):3d}  top-1 {top1 / n:.3f}  right {right / n:.3f}  wrong {wrong / n:.3f}"
        f"  out {len(outside):3d} answered {answered_out}"
    )


def main() -> None:
    on = faq.load_index()
    off = copy.copy(on)
    off.params = replace(on.params, vietnamese_english=False)
    for name in FILES:
        questions = json.loads((ROOT / "bench" / "data" / name).read_text(encoding="utf-8"))["questions"]
        vietnamese = [q for q in questions if q["lang"] == "vi"]
        english = [q for q in questions if q["lang"] == "en"]
        print(name)
        print(f"  vi questions, vi resident, off  {score(off, vietnamese, 'vi')}")
        print(f"  vi questions, vi resident, on   {score(on, vietnamese, 'vi')}")
        print(f"  en questions, en resident       {score(on, english, 'en')}")
        print(f"  en questions, vi resident, off  {score(off, english, 'vi')}")
        print(f"  en questions, vi resident, on   {score(on, english, 'vi')}")


if __name__ == "__main__":
    main()
