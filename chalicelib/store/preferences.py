"""Preferences on the resident's item, and the send-list entries that follow from them.

One write is one DynamoDB transaction: the resident's item (conditional on the preferences
version and status it was computed from), the deletes of entries no longer wanted, and
a put of every wanted entry that is new or changed, and the change of each list's counts
(SendListCount, per language and age band). So the send lists and their counts always match
the stored preferences, and
of two writes at once (the LIFF page and the chat) the second is recomputed on top of the
first rather than lost. Which entries to remove comes from the item's own record of what it
wrote (read consistently) and from the by-user index (anything else written for the user).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import chain

from pynamodb.exceptions import TransactWriteError
from pynamodb.expressions.update import Action
from pynamodb.transactions import TransactWrite

from chalicelib.domain import preferences as rules
from chalicelib.domain.residents import ACTIVE
from chalicelib.observability import logger
from chalicelib.store.conditions import conditional
from chalicelib.store.models import Resident, SendListCount, SendListEntry
from chalicelib.store.reads import item_or_none

# Concurrent writes for one resident are rare (one person, two screens); a few rounds settle them.
MAX_ATTEMPTS = 4
# DynamoDB allows 100 items per transaction; the item, the entries and their counters
# (at most 1 + 2 x lists + 2 x lists, with lists <= topics + 1) fit easily.
MAX_TRANSACTION_ITEMS = 100
# A send to more areas of one topic than this reads the topic's whole counts partition.
WHOLE_TOPIC_FROM = 4


class NotFollowing(Exception):
    """No resident record: the user never added the ward's account as a friend."""


class Conflict(Exception):
    """Other writes kept getting there first; nothing of this one was applied."""


@dataclass(frozen=True)
class Stored:
    preferences: rules.Preferences
    following: bool  # the resident follows the account now (LINE can reach them)
    segments: frozenset[str]  # the send lists they are on


def get(user_id: str) -> Stored | None:
    """The resident's preferences, or None if the user is not a resident."""
    resident = item_or_none(Resident, user_id)
    if resident is None:
        return None
    return Stored(_preferences(resident), resident.status == ACTIVE, frozenset(resident.send_segments or ()))


def update(
    user_id: str,
    change: Callable[[rules.Preferences], rules.Preferences],
    *,
    now: datetime | None = None,
) -> Stored:
    """Apply `change` to the stored preferences and put the resident on exactly the lists they want.

    `change` may run more than once (after a concurrent write) and may raise: the domain's
    InvalidPreferences / TermsChanged come out of here with nothing written.
    Raises NotFollowing when there is no resident, Conflict when writes keep colliding.
    """
    now = now or datetime.now(UTC)
    for _ in range(MAX_ATTEMPTS):
        resident = item_or_none(Resident, user_id)
        if resident is None:
            raise NotFollowing(user_id)
        prefs = change(_preferences(resident))
        following = resident.status == ACTIVE
        wanted = rules.segments(prefs, following=following)
        # Read after the item: a write that lands in between fails our condition and we start over.
        indexed = {entry.segment for entry in SendListEntry.by_user.query(user_id)}
        unwanted = (set(resident.send_segments or ()) | indexed) - wanted
        if _write(resident, prefs, wanted, unwanted, now):
            return Stored(prefs, following, wanted)
    raise Conflict(user_id)


def sync(user_id: str) -> Stored | None:
    """Rewrite the resident's send lists from their stored preferences (e.g. after a re-follow)."""
    try:
        return update(user_id, lambda prefs: prefs)
    except NotFollowing:
        return None


def _preferences(resident: Resident) -> rules.Preferences:
    consent = None
    if resident.consent_terms_version and resident.consent_at:
        consent = rules.Consent(resident.consent_terms_version, resident.consent_at)
    return rules.Preferences(
        topics=frozenset(resident.topics or ()),
        area=resident.area,
        age_band=resident.age_band,
        language=resident.language,
        consent=consent,
        paused=bool(resident.paused),
    )


def _write(
    resident: Resident,
    prefs: rules.Preferences,
    wanted: frozenset[str],
    unwanted: set[str],
    now: datetime,
) -> bool:
    """One transaction; False if the resident changed since it was read (or a counter was busy)."""
    user_id = resident.line_user_id
    # Entries listed on the resident were written, and counted, under its send_slot; a resident
    # stored before counting existed has none, and its entries count from this write on.
    counted = frozenset(resident.send_segments or ()) if resident.send_slot else frozenset()
    new_slot = rules.count_slot(prefs.language, prefs.age_band)
    puts, count_changes = rules.list_count_changes(
        counted=counted, old_slot=resident.send_slot, wanted=wanted, new_slot=new_slot
    )
    removable = sorted(unwanted, key=lambda segment: segment not in counted)  # counted ones first
    room = MAX_TRANSACTION_ITEMS - 1 - len(puts) - len(count_changes)
    if len(removable) > room:
        # Only uncounted leftovers can be this many (a resident is on at most topics + 1 lists);
        # the next write takes the rest.
        logger.warning(
            "too many stale send-list entries for one write", extra={"left": len(removable) - room}
        )
        removable = removable[:room]
    version = resident.preferences_version or 0
    unchanged = Resident.preferences_version == version
    if version == 0:
        unchanged = Resident.preferences_version.does_not_exist() | unchanged
    consent = prefs.consent
    actions: list[Action] = [
        Resident.topics.set(sorted(prefs.topics)),
        Resident.area.set(prefs.area) if prefs.area else Resident.area.remove(),
        Resident.age_band.set(prefs.age_band) if prefs.age_band else Resident.age_band.remove(),
        Resident.language.set(prefs.language),
        Resident.paused.set(prefs.paused),
        Resident.send_segments.set(sorted(wanted)),
        Resident.send_slot.set(new_slot),
        Resident.preferences_version.set(version + 1),
        Resident.preferences_updated_at.set(now),
    ]
    if consent is None:
        actions += [Resident.consent_terms_version.remove(), Resident.consent_at.remove()]
    else:
        actions += [
            Resident.consent_terms_version.set(consent.terms_version),
            Resident.consent_at.set(consent.accepted_at),
        ]
    try:
        with (
            conditional() as write,
            TransactWrite(connection=Resident._get_connection().connection) as transaction,
        ):
            transaction.update(
                Resident(user_id),
                actions=actions,
                # Same version and the same follow status as computed from; an unfollow in between
                # must not leave entries behind (and the counts follow the version too).
                condition=Resident.line_user_id.exists() & unchanged & (Resident.status == resident.status),
            )
            for segment in removable:
                transaction.delete(SendListEntry(segment, user_id))
            for segment in sorted(puts):
                transaction.save(
                    SendListEntry(segment, user_id, language=prefs.language, age_band=prefs.age_band)
                )
            for (segment, slot), change in sorted(count_changes.items()):
                transaction.update(count_item(segment, slot), actions=[SendListCount.members.add(change)])
    except TransactWriteError as error:
        if not _conflicted(error):
            raise
        return False  # another transaction held one of the counters: read again and retry
    return write.applied


def _conflicted(error: TransactWriteError) -> bool:
    reasons = getattr(error, "cancellation_reasons", None) or []
    return any(reason is not None and reason.code == "TransactionConflict" for reason in reasons)


def count_item(segment: str, slot: str, members: int = 0) -> SendListCount:
    """The counter of one send list's language#age-band slot, in its topic's partition."""
    topic, _, area = segment.partition(rules.SEGMENT_SEPARATOR)
    return SendListCount(topic, f"{area}{rules.SEGMENT_SEPARATOR}{slot}", members=members)


def list_counts(segments: Iterable[str]) -> dict[str, dict[str, int]]:
    """Each send list's members per count slot (language#age-band), from the counters only.

    A topic's counters share a partition: a send to a few areas reads their key ranges, a
    ward-wide one reads the partition once (cheaper than a query per area: each query costs at
    least half a read unit however small).
    """
    wanted: dict[str, dict[str, int]] = {segment: {} for segment in segments}
    areas_by_topic: dict[str, set[str]] = defaultdict(set)
    for segment in wanted:
        topic, _, area = segment.partition(rules.SEGMENT_SEPARATOR)
        areas_by_topic[topic].add(area)
    for topic, areas in areas_by_topic.items():
        if len(areas) > WHOLE_TOPIC_FROM:
            rows: Iterable[SendListCount] = SendListCount.query(topic)
        else:
            rows = chain.from_iterable(
                SendListCount.query(topic, SendListCount.slot.startswith(f"{area}{rules.SEGMENT_SEPARATOR}"))
                for area in sorted(areas)
            )
        for row in rows:
            area, _, slot = row.slot.partition(rules.SEGMENT_SEPARATOR)
            found = wanted.get(rules.SEGMENT_SEPARATOR.join((topic, area)))
            if found is not None and row.members:
                found[slot] = int(row.members)
    return wanted
