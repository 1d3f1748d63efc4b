"""Send lists: which residents an announcement partition (topic x area) reaches."""

from __future__ import annotations

from chalicelib.store.models import SendListEntry


def remove_everywhere(user_id: str) -> int:
    """Take the resident off every list they are on; returns how many entries were removed.

    The by-user index is eventually consistent, so an entry written a moment ago can be
    missed here; the sender checks the resident is still active before each chunk.
    """
    entries = list(SendListEntry.by_user.query(user_id))
    with SendListEntry.batch_write() as batch:
        for entry in entries:
            batch.delete(SendListEntry(entry.segment, entry.line_user_id))
    return len(entries)
