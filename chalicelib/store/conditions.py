"""Whether a DynamoDB write failed its condition: the one check every conditional write shares."""

from __future__ import annotations


def condition_failed(error: Exception) -> bool:
    """True for a single-item write whose condition failed, or a transaction cancelled for one."""
    if getattr(error, "cause_response_code", None) == "ConditionalCheckFailedException":
        return True
    reasons = getattr(error, "cancellation_reasons", None) or []
    return any(reason is not None and reason.code == "ConditionalCheckFailed" for reason in reasons)
