"""Logging, metrics and tracing: one Powertools instance of each for the whole app.

Logs are JSON with a correlation id and never carry personal data: LINE user ids go
through `hashed()`. The Tracer (the X-Ray SDK costs ~0.35 s to import) is created only
when a worker or job first runs, so it never lands on the webhook's cold start; HTTP
routes are traced by Lambda/API Gateway active tracing instead.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics

from chalicelib.config import get_settings
from chalicelib.resources import METRICS_NAMESPACE, METRICS_SERVICE

if TYPE_CHECKING:
    from aws_lambda_powertools import Tracer

SERVICE = METRICS_SERVICE

# Named like the Chalice app so Chalice's own error logs go through the same JSON handler once.
logger = Logger(service=SERVICE)
metrics = Metrics(namespace=METRICS_NAMESPACE, service=SERVICE)


def hashed(line_user_id: str | None) -> str | None:
    """A stable pseudonym for a LINE user id, safe to log and to correlate lines by."""
    if not line_user_id:
        return None
    salt = get_settings().log_hash_salt.encode()
    return hashlib.sha256(salt + line_user_id.encode()).hexdigest()[:16]


@lru_cache(maxsize=1)
def tracer() -> Tracer:
    from aws_lambda_powertools import Tracer

    return Tracer(service=SERVICE)


def flush_metrics() -> None:
    """Write the EMF line for this invocation, if anything was measured.

    Locally (`make run`) MADOGUCHI_METRICS_FILE sends the lines to a file instead of stdout.
    """
    if metrics.metric_set:
        _emit(metrics)


def single_metric(name: str, value: float, **dimensions: str) -> None:
    """One Count with dimensions of its own (a dead-letter queue's depth), in a line of its own,
    sent where flush_metrics sends the invocation's."""
    from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

    one = EphemeralMetrics(namespace=METRICS_NAMESPACE, service=SERVICE)
    for key, item in dimensions.items():
        one.add_dimension(name=key, value=item)
    one.add_metric(name=name, unit=MetricUnit.Count, value=value)
    _emit(one)


def _emit(measured: Any) -> None:
    target = os.environ.get("MADOGUCHI_METRICS_FILE")
    if not target:
        measured.flush_metrics()
        return
    line = json.dumps(measured.serialize_metric_set(), separators=(",", ":"))
    measured.clear_metrics()
    with open(target, "a", encoding="utf-8") as sink:
        sink.write(line + "\n")


@contextmanager
def invocation(correlation_id: str | None, **keys: Any) -> Iterator[None]:
    """Log context for one request or one record: correlation id and safe keys, cleared after.

    Kept per thread: `chalice local` (and a test harness) serves requests on threads, and with
    the logger's shared keys one request's lines carried another's path and correlation id.
    A Lambda runs one invocation at a time, where this is the same thing."""
    context = {"correlation_id": correlation_id, **keys}
    logger.thread_safe_append_keys(**context)
    try:
        yield
    finally:
        logger.thread_safe_remove_keys(list(context))


def traced(name: str, fn: Callable[[], Any]) -> Any:
    """Run a worker or job body inside an X-Ray subsegment."""
    with tracer().provider.in_subsegment(f"## {name}"):
        return fn()
