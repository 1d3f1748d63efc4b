"""Routes the LINE Platform calls. Thin: no LINE SDK, no LINE API call, answer at once."""

from __future__ import annotations

from chalicelib.api.errors import ApiBlueprint, ApiError
from chalicelib.api.requests import raw_body
from chalicelib.domain.webhooks import InvalidWebhook
from chalicelib.observability import logger, metrics
from chalicelib.services import ingress, line_ingress

bp = ApiBlueprint(__name__)


@bp.route("/line/webhook", methods=["POST"], content_types=["application/json"])
def line_webhook() -> dict:
    request = bp.current_request
    try:
        result = line_ingress.accept(raw_body(request), request.headers.get("x-line-signature"))
    except InvalidWebhook as error:
        logger.warning("webhook rejected", extra={"reason": error.code})
        raise ApiError(error.status, error.code, error.message, error.details) from None
    except ingress.QueueUnavailable:
        logger.exception("webhook events could not be queued")
        # A 5xx makes LINE redeliver (when redelivery is on); the events were not kept.
        raise ApiError(503, "unavailable", "Please retry later.") from None
    logger.info(
        "webhook accepted",
        extra={
            "queued": result.queued,
            "duplicates": result.duplicates,
            "dropped": result.dropped,
            "stale": result.stale,
        },
    )
    metrics.add_metric(name="LineEventsQueued", unit="Count", value=len(result.queued))
    metrics.add_metric(name="LineEventsDuplicate", unit="Count", value=len(result.duplicates))
    if result.dropped:
        metrics.add_metric(name="LineEventsDropped", unit="Count", value=len(result.dropped))
    if result.stale:
        metrics.add_metric(name="LineEventsStale", unit="Count", value=len(result.stale))
    return {}
