"""Scheduled job: how many messages wait in each dead-letter queue.

A message there is work that failed every retry; an operator must look. The count
goes out as a metric per queue (alarmed on in AWS) and as a warning per non-empty queue.
"""

from __future__ import annotations

from chalicelib.adapters import queues
from chalicelib.observability import logger, single_metric
from chalicelib.resources import QUEUES


def run() -> dict[str, int]:
    depths = {queue.dlq_name: queues.depth(queue.dlq_name) for queue in QUEUES}
    for name, depth in depths.items():
        single_metric("DeadLetterMessages", depth, queue=name)
        if depth:
            logger.warning("dead-letter queue holds messages", extra={"queue": name, "messages": depth})
    return depths
