"""`make metrics`: the local EMF lines summed by metric name (a walkthrough summed them by hand)."""

from __future__ import annotations

import json

from devstack.metrics import totals


def emf(**values: object) -> str:
    names = [{"Name": name, "Unit": "Count"} for name in values]
    return json.dumps(
        {"_aws": {"CloudWatchMetrics": [{"Namespace": "Madoguchi", "Metrics": names}]}, **values}
    )


def test_every_metric_is_summed_over_its_lines_and_other_lines_are_skipped():
    lines = [
        emf(FaqDecision_answer=[1.0], FaqDecision_none=[1.0]),
        emf(FaqDecision_answer=[1.0, 1.0]),
        emf(DeadLetterMessages=2),
        '{"level": "INFO", "message": "not a metric"}',
        "not json",
    ]
    assert totals(lines) == {"FaqDecision_answer": 3, "FaqDecision_none": 1, "DeadLetterMessages": 2}
    assert totals(lines, "Faq") == {"FaqDecision_answer": 3, "FaqDecision_none": 1}
