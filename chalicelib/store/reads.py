"""Reading one item by its key: the item, or None where there is none.

Consistent reads throughout: each is followed by a conditional write or answers right after one.
"""

from __future__ import annotations

from typing import Any, TypeVar

from pynamodb.models import Model

M = TypeVar("M", bound=Model)


def item_or_none(model: type[M], hash_key: Any, range_key: Any = None) -> M | None:
    try:
        return model.get(hash_key, range_key, consistent_read=True)
    except model.DoesNotExist:
        return None
