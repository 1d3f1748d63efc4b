"""What no wait estimate can beat: the error of the best single figure for a resident with a few
people ahead, even knowing the day's exact service law and how long each counter has served.

    .venv/bin/python bench/queue_bound.py [--samples 600] [--draws 150] [--seed 1]   # ~3 minutes

Issue 14's target compares the MAE of the published range's middle with a naive "people ahead ×
configured minutes ÷ counters" (at most 0.6 of its error). On a quiet day most residents who wait
at all have 0-2 people ahead with every counter busy: their wait is the time until the (k + 1)-th
of the c services under way (and those that follow) ends. This takes the simulator's service law
(devstack/queue_day.py: log-normal with SERVICE_SIGMA around a typical length that drifts from
the configured one by TYPICAL_DRIFT from day to day), puts c counters busy at a random moment
(each service seen part-way through, length-biased), and scores three single figures against
the real wait:

- naive: k × configured minutes ÷ c (the bench's baseline);
- best constant: the median of the wait, knowing the day's service law exactly (what a perfect
  pace estimate gives: the median is the single figure of least absolute error);
- best knowing ages: the median of the wait given how long each counter has been serving
  (Monte Carlo, `--draws` per resident), the most any live state of the line can tell.

A ratio under 0.6 means the target can be met for such residents; over it, by no estimate.
"""

from __future__ import annotations

import argparse
import heapq
import math
import random
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from devstack.queue_day import SERVICE_SIGMA, TYPICAL_DRIFT  # noqa: E402

TYPICAL_MINUTES = 6.0


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, default=600)
    parser.add_argument("--draws", type=int, default=150)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    longest = 60.0  # the simulator caps a service at an hour
    mu = 0.0  # the day's: set per resident below

    def service() -> float:
        return min(rng.lognormvariate(mu, SERVICE_SIGMA), longest)

    def seen_part_way() -> float:
        """How long a counter has been serving at a random moment (its service length-biased)."""
        while True:
            length = service()
            if rng.random() < length / longest:
                return rng.uniform(0, length)

    def wait(remaining: list[float], ahead: int) -> float:
        """Time to the (ahead + 1)-th call, counters freeing at `remaining`, each then serving again."""
        heap = list(remaining)
        heapq.heapify(heap)
        for _ in range(ahead):
            heapq.heappush(heap, heapq.heappop(heap) + service())
        return heap[0]

    def remaining_given(age: float) -> float:
        while (length := service()) <= age:
            pass
        return length - age

    print(
        f"service: log-normal, configured {TYPICAL_MINUTES} min, the day's typical x{TYPICAL_DRIFT[0]}-"
        f"{TYPICAL_DRIFT[1]}, sigma {SERVICE_SIGMA}; {args.samples} residents per row"
    )
    print("counters  ahead  naive MAE  best constant  best knowing ages  (ratios to naive)")
    for counters in (1, 2, 3, 4):
        for ahead in (0, 1, 2, 4):
            naive = constant = knowing = 0.0
            for _ in range(args.samples):
                mu = math.log(TYPICAL_MINUTES * rng.uniform(*TYPICAL_DRIFT)) - SERVICE_SIGMA**2 / 2
                ages = [seen_part_way() for _ in range(counters)]
                real = wait([remaining_given(a) for a in ages], ahead)
                # The day's wait law with nothing known of the counters, and given their ages.
                blind = [
                    wait([remaining_given(seen_part_way()) for _ in ages], ahead) for _ in range(args.draws)
                ]
                seen = [wait([remaining_given(a) for a in ages], ahead) for _ in range(args.draws)]
                naive += abs(real - ahead * TYPICAL_MINUTES / counters)
                constant += abs(real - statistics.median(blind))
                knowing += abs(real - statistics.median(seen))
            print(
                f"{counters:8}  {ahead:5}  {naive / args.samples:9.2f}  {constant / naive:13.2f}  {knowing / naive:17.2f}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
