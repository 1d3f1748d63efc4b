"""The daily digest's cut-off per section: up to when its digest has reported new submissions.

Its own table (models.DigestCutoff): the inbox keeps only the once-a-day claim of a digest.
"""

from __future__ import annotations

from datetime import UTC, datetime

from chalicelib.store.models import DigestCutoff, InboxEvent
from chalicelib.store.reads import item_or_none


def cutoff(section: str) -> datetime | None:
    """Up to when the section's last digest reported new submissions; None before the first."""
    found = item_or_none(DigestCutoff, section)
    return found.covered_until if found else _legacy_mark(section)


def set_cutoff(section: str, until: datetime) -> None:
    """Remember that the section's digest reported everything created before `until`."""
    DigestCutoff(section, covered_until=until, updated_at=datetime.now(UTC)).save()


def _legacy_mark(section: str) -> datetime | None:
    # Before DigestCutoff, the cut-off was an inbox row `digest-last#<section>` (processed_at),
    # expiring 60 days after it was written. Read once, so the first digest after the change
    # still starts where the last one stopped (a weekend is not cut to 24 hours); this read
    # and the rows both go away on their own: delete it 60 days after the release.
    item = item_or_none(InboxEvent, f"digest-last#{section}")
    return item.processed_at if item else None
