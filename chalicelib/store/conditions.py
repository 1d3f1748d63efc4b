"""Conditional DynamoDB writes: whether one failed its condition, checked in one place.

with conditional() as write:                     # or: with conditional() as write, TransactWrite(...) as t:
    item.save(condition=...)
return write.applied                             # False: the condition failed; other errors raise
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from pynamodb.exceptions import DeleteError, PutError, TransactWriteError, UpdateError


def condition_failed(error: Exception) -> bool:
    """True for a single-item write whose condition failed, or a transaction cancelled for one."""
    if getattr(error, "cause_response_code", None) == "ConditionalCheckFailedException":
        return True
    reasons = getattr(error, "cancellation_reasons", None) or []
    return any(reason is not None and reason.code == "ConditionalCheckFailed" for reason in reasons)


@dataclass
class Outcome:
    applied: bool = True


@contextmanager
def conditional() -> Iterator[Outcome]:
    """Run the write(s) in the block; a failed condition sets `applied` to False instead of raising."""
    outcome = Outcome()
    try:
        yield outcome
    except (PutError, UpdateError, DeleteError, TransactWriteError) as error:
        if not condition_failed(error):
            raise
        outcome.applied = False
