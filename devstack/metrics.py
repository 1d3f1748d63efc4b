"""`make metrics`: what the local stack's functions counted, summed by metric name, from the EMF
lines `make run` writes to .devstack/metrics.jsonl (CloudWatch sums the same lines in AWS)."""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

from devstack.env import METRICS_FILE


def totals(lines: list[str], prefix: str = "") -> Counter[str]:
    """Each metric's sum over EMF lines (a value may be a number or a list of them); other lines
    and unreadable ones are skipped."""
    summed: Counter[str] = Counter()
    for line in lines:
        try:
            record = json.loads(line)
            declared = record["_aws"]["CloudWatchMetrics"]
        except (ValueError, KeyError, TypeError):
            continue
        for group in declared:
            for metric in group.get("Metrics", []):
                name = metric.get("Name", "")
                value = record.get(name, 0)
                values = value if isinstance(value, list) else [value]
                if name.startswith(prefix):
                    summed[name] += sum(v for v in values if isinstance(v, (int, float)))
    return summed


def main() -> int:
    parser = argparse.ArgumentParser(prog="make metrics", description=__doc__.split("\n", 1)[0])
    parser.add_argument("--prefix", default="", help="only metrics whose name starts with this")
    parser.add_argument("--file", type=Path, default=METRICS_FILE)
    args = parser.parse_args()
    if not args.file.exists():
        print(
            f"no metrics yet: {args.file} (start `make run`; MADOGUCHI_METRICS=console prints them instead)"
        )
        return 0
    summed = totals(args.file.read_text(encoding="utf-8").splitlines(), args.prefix)
    width = max((len(name) for name in summed), default=0)
    for name, total in sorted(summed.items()):
        print(f"{name:<{width}}  {total:g}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
