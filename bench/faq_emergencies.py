"""How often a question naming an emergency happening now is told who to call first (110, 119),
and how often one that is not is told so anyway.

    .venv/bin/python bench/faq_emergencies.py [--misses]

"First" is what the chat shows first: the answer, or the first suggestion, is the emergency
entry (faq_actions.json "urgent"). Read from every bench/data/faq_*.json set whose questions
say which are emergencies: the outside sets (`emergency`: true, or `expected` the emergency
entry; the rest are "not now") and the held-out sets (`now`, per `kind`). The patterns were
tuned on faq_outside9, faq_outside10, faq_outside11 and a re-test's questions;
faq_emergencies_heldout was written after the first two, faq_emergencies_heldout2 after the
third, and nothing is tuned against either (report both). Last, the worst time the patterns
take on a question of MAX_QUERY_CHARS built to make them backtrack (a review: 0.55 s).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from chalicelib.domain import faq  # noqa: E402

DATA = ROOT / "bench" / "data"
HELD_OUT = ("faq_emergencies_heldout", "faq_emergencies_heldout2")


def is_now(question: dict) -> bool | None:
    """Whether the question names an emergency now; None for a set that does not say."""
    if "now" in question:
        return bool(question["now"])
    return bool(question.get("emergency")) or question.get("expected") == faq.URGENT_ENTRY


def told_first(index: faq.FaqIndex, question: dict) -> bool:
    _, shown = index.decide(index.search(question["q"], question["lang"]))
    return bool(shown) and shown[0].entry_id == faq.URGENT_ENTRY


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--misses", action="store_true", help="list every miss and false alarm")
    args = parser.parse_args()
    index = faq.load_index()
    for path in sorted(DATA.glob("faq_*.json")):
        questions = json.loads(path.read_text(encoding="utf-8"))["questions"]
        if not any(is_now(q) for q in questions):
            continue  # a set with no emergency in it says nothing here
        counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])  # kind -> [told, of]
        alarms = others = 0
        for question in questions:
            first = told_first(index, question)
            if is_now(question):
                kind = question.get("kind", "all")
                counts[kind][0] += first
                counts[kind][1] += 1
                if args.misses and not first:
                    print(f"  miss   {question['lang']:8} {question['q']}")
            else:
                others += 1
                alarms += first
                if args.misses and first:
                    print(f"  alarm  {question['lang']:8} {question['q']}")
        told = sum(c[0] for c in counts.values())
        total = sum(c[1] for c in counts.values())
        label = (
            "held out"
            if path.stem in HELD_OUT
            else "tuning"
            if path.stem in ("faq_outside9", "faq_outside10", "faq_outside11")
            else "earlier"
        )
        print(f"{path.stem:28} ({label:8}) told first {told}/{total}, false alarms {alarms}/{others}")
        if len(counts) > 1:
            print("    " + ", ".join(f"{kind} {c[0]}/{c[1]}" for kind, c in sorted(counts.items())))
    print(f"slowest check of a long question: {worst_check_ms():.1f} ms")
    return 0


# Repeats of a pattern's opening words with nothing that completes it: the most a pattern with
# open-ended gaps can try (one per script the patterns are written in).
_PROBES = ("水が家に", "人が から", "water from the ", "从楼上", "물이 집에 ", "nguoi bi ket ", "बाट खस्यो ")


def worst_check_ms() -> float:
    worst = 0.0
    for probe in _PROBES:
        text = faq.normalize((probe * faq.MAX_QUERY_CHARS)[: faq.MAX_QUERY_CHARS])
        started = time.perf_counter()
        faq.urgency(text)
        worst = max(worst, (time.perf_counter() - started) * 1000)
    return worst


if __name__ == "__main__":
    raise SystemExit(main())
