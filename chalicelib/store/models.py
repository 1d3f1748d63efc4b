"""PynamoDB models: the single definition of every table, its keys, indexes and TTL.

The local stack creates tables from these classes, and infra/ reads the same schema.
"""

from __future__ import annotations

from typing import Any, cast

from pynamodb.attributes import (
    BooleanAttribute,
    JSONAttribute,
    ListAttribute,
    MapAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
    UnicodeSetAttribute,
    UTCDateTimeAttribute,
    VersionAttribute,
)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex, IncludeProjection, KeysOnlyProjection
from pynamodb.models import Model

from chalicelib.aws import share_session_with_pynamodb
from chalicelib.config import get_settings

share_session_with_pynamodb()
_settings = get_settings()


def _strings(**options: Any) -> ListAttribute[str]:
    """ListAttribute(of=UnicodeAttribute), typed as what it holds: PynamoDB's stubs make its values
    UnicodeAttribute instances (pynamodb/PynamoDB#1246), but they are str."""
    return cast("ListAttribute[str]", ListAttribute(of=UnicodeAttribute, **options))


class _Meta:
    region = _settings.region
    billing_mode = "PAY_PER_REQUEST"
    # Short timeouts and few retries: a webhook must answer LINE within seconds.
    connect_timeout_seconds = 2
    read_timeout_seconds = 5
    max_retry_attempts = 2


class InboxEvent(Model):
    """One row per webhook event ever accepted; the conditional put here is the dedupe."""

    class Meta(_Meta):
        table_name = _settings.name("inbox")

    event_id = UnicodeAttribute(hash_key=True)
    # Null only when a worker meets an event the inbox no longer holds (a late DLQ replay).
    source = UnicodeAttribute(null=True)
    received_at = UTCDateTimeAttribute(null=True)
    # A worker's lease on the event, so two deliveries of it never run side by side.
    claimed_until = UTCDateTimeAttribute(null=True)
    processed_at = UTCDateTimeAttribute(null=True)
    expires_at = TTLAttribute()
    # The event's reply (store/inbox.reply_attempt): how often a reply was tried, counted before
    # each try, and when LINE refused its token outright (so a push is due, never a guess).
    reply_attempts = NumberAttribute(null=True)
    reply_refused_at = UTCDateTimeAttribute(null=True)


class Resident(Model):
    """A LINE follower. Personal data lives here only while they follow, plus the retention period."""

    class Meta(_Meta):
        table_name = _settings.name("residents")

    line_user_id = UnicodeAttribute(hash_key=True)
    status = UnicodeAttribute()
    language = UnicodeAttribute(default="ja")
    # Null only on the tombstone an unfollow leaves when it overtakes the follow it answers.
    followed_at = UTCDateTimeAttribute(null=True)
    unfollowed_at = UTCDateTimeAttribute(null=True)
    # LINE time of the last follow/unfollow applied, so an older event arriving late loses.
    last_event_ms = NumberAttribute(default=0)
    expires_at = TTLAttribute(null=True)
    # Announcement preferences (chalicelib/store/preferences.py). The age band is kept, the birth year never.
    topics = _strings(default=list)
    area = UnicodeAttribute(null=True)  # null: all areas
    age_band = UnicodeAttribute(null=True)
    consent_terms_version = UnicodeAttribute(null=True)
    consent_at = UTCDateTimeAttribute(null=True)
    paused = BooleanAttribute(default=False)
    # The send-list entries the last preferences write left, read consistently on the next write
    # (the by-user index may lag); and a counter that makes concurrent writes conditional.
    send_segments = _strings(default=list)
    # The language#age-band slot its entries are counted under (SendListCount); absent: not counted yet.
    send_slot = UnicodeAttribute(null=True)
    preferences_version = NumberAttribute(default=0)
    preferences_updated_at = UTCDateTimeAttribute(null=True)


class ByUserIndex(GlobalSecondaryIndex):
    class Meta:
        index_name = "by-user"
        projection = KeysOnlyProjection()

    line_user_id = UnicodeAttribute(hash_key=True)
    segment = UnicodeAttribute(range_key=True)


class SendListEntry(Model):
    """Membership of a resident in one send list (a topic x area partition).

    Announcements read a partition by key; `by-user` finds every list of one resident
    so an unfollow or an opt-out can remove them from all of them.
    """

    class Meta(_Meta):
        table_name = _settings.name("send-lists")

    segment = UnicodeAttribute(hash_key=True)
    line_user_id = UnicodeAttribute(range_key=True)
    language = UnicodeAttribute()
    # Copied from the resident so an age-targeted send filters a partition without reading residents.
    age_band = UnicodeAttribute(null=True)
    by_user = ByUserIndex()


class SendListCount(Model):
    """How many entries one send list holds for one language and age band.

    Keyed by topic, with the list's area first in the sort key ("waste" / "k-01#ja#30-39",
    "*#en#-"), so the counts of all of a topic's lists share one partition: a ward-wide preview
    reads that partition in a few 4 KB pages rather than one query per area. Written in the same
    transaction as the entries (store/preferences.py), so the counts always match the lists.
    """

    class Meta(_Meta):
        table_name = _settings.name("send-list-counts")

    topic = UnicodeAttribute(hash_key=True)
    slot = UnicodeAttribute(range_key=True)
    members = NumberAttribute(default=0)


class _CreatedIndex(GlobalSecondaryIndex):
    """Newest first within a partition: the sort key is `created_at#receipt` (ISO UTC sorts by time)."""

    class Meta:
        projection = AllProjection()

    created_key = UnicodeAttribute(range_key=True)


class BySectionIndex(_CreatedIndex):
    class Meta(_CreatedIndex.Meta):
        index_name = "by-section"

    section = UnicodeAttribute(hash_key=True)


class ByKindIndex(_CreatedIndex):
    """The public (Open311) listing of reports: the form's answers are not copied into this index."""

    class Meta:
        index_name = "by-kind"
        projection = IncludeProjection(
            ["form_id", "status", "created_at", "updated_at", "latitude", "longitude", "area", "public_notes"]
        )

    kind = UnicodeAttribute(hash_key=True)


class ByFormIndex(_CreatedIndex):
    """A form's submissions: the Open311 listing of one service reads that service's reports
    only. Projects what the listing publishes, never the answers, contacts or notes."""

    class Meta:
        index_name = "by-form"
        projection = IncludeProjection(
            ["status", "created_at", "updated_at", "latitude", "longitude", "area"]
        )

    form_id = UnicodeAttribute(hash_key=True)


class ByLineUserIndex(_CreatedIndex):
    class Meta(_CreatedIndex.Meta):
        index_name = "by-line-user"

    line_user_id = UnicodeAttribute(hash_key=True)


class Submission(Model):
    """A procedure application or a report. The receipt number is the key, so it is unique by construction.

    `version` makes every state change a conditional write: two staff members moving the
    same submission at once cannot both succeed.
    """

    class Meta(_Meta):
        table_name = _settings.name("submissions")

    receipt = UnicodeAttribute(hash_key=True)
    form_id = UnicodeAttribute()
    kind = UnicodeAttribute()
    section = UnicodeAttribute()
    status = UnicodeAttribute()
    channel = UnicodeAttribute()
    language = UnicodeAttribute(default="ja")
    created_at = UTCDateTimeAttribute()
    created_key = UnicodeAttribute()
    updated_at = UTCDateTimeAttribute()
    # When it became staff's work: at creation, or once paid for a fee paid first (null while
    # unpaid, and on those stored before it was kept: their created_at stands for it).
    received_at = UTCDateTimeAttribute(null=True)
    # When another section last handed it to `section`: its digest names it the day after.
    handed_over_at = UTCDateTimeAttribute(null=True)
    # The form's answers: personal data. Never logged, shown only to the section's staff.
    data = JSONAttribute()
    attachments = _strings(default=list)
    latitude = NumberAttribute(null=True)
    longitude = NumberAttribute(null=True)
    area = UnicodeAttribute(null=True)
    line_user_id = UnicodeAttribute(null=True)
    email = UnicodeAttribute(null=True)
    secret_hash = UnicodeAttribute()
    public_notes = JSONAttribute(default=list)
    entered_by = UnicodeAttribute(null=True)
    # --- the resident's answers to "needs info" (issue 10; services/responses.py) ---
    # Each: {"at", "text", "attachments", "channel", "version"}; personal data like `data`.
    responses = JSONAttribute(default=list)
    # When the resident last answered; a staff move after it (updated_at later) means "seen".
    responded_at = UTCDateTimeAttribute(null=True)
    # The `at` of the needs_info note a reminder was sent for: one reminder per request.
    reminded_for = UnicodeAttribute(null=True)
    # Set when the submission closes: closed + the form's retention period; TTL deletes it then.
    expires_at = TTLAttribute(null=True)
    # Whether each notice reached the resident, by "<version>#<channel>" (domain/notice_delivery.py):
    # written by the notifications worker without a version bump, so a clerk's next move stays valid.
    resident_notices: MapAttribute[str, Any] = MapAttribute(null=True)
    version = VersionAttribute()

    by_section = BySectionIndex()
    by_kind = ByKindIndex()
    by_form = ByFormIndex()
    by_line_user = ByLineUserIndex()


class DigestCutoff(Model):
    """Up to when a section's daily digest has reported new submissions: the next one starts there.

    One row per section, kept for good (a section whose digest pauses for months still gets
    everything since its last one). The once-a-day claim of a digest stays in the inbox ledger.
    """

    class Meta(_Meta):
        table_name = _settings.name("digest-cutoffs")

    section = UnicodeAttribute(hash_key=True)
    covered_until = UTCDateTimeAttribute()
    updated_at = UTCDateTimeAttribute()


class AuditEntry(Model):
    """Append-only trail of a submission: who did what, when, from which status to which."""

    class Meta(_Meta):
        table_name = _settings.name("audit")

    receipt = UnicodeAttribute(hash_key=True)
    # `at#nonce`: ISO UTC time sorts the trail; the nonce keeps two entries in one millisecond apart.
    entry_key = UnicodeAttribute(range_key=True)
    actor_kind = UnicodeAttribute()
    actor_id = UnicodeAttribute(null=True)
    action = UnicodeAttribute()
    from_status = UnicodeAttribute(null=True)
    to_status = UnicodeAttribute(null=True)
    note = UnicodeAttribute(null=True)
    note_visibility = UnicodeAttribute(null=True)
    expires_at = TTLAttribute(null=True)


class IdempotencyRecord(Model):
    """The first answer to a request that carried an Idempotency-Key, replayed to its retries."""

    class Meta(_Meta):
        table_name = _settings.name("idempotency")

    key = UnicodeAttribute(hash_key=True)
    request_hash = UnicodeAttribute()
    status_code = NumberAttribute(null=True)
    response = JSONAttribute(null=True)
    expires_at = TTLAttribute()
    # Who made the first request ("line:<user id>", "staff:<id>", "anonymous"): never replayed to another.
    caller = UnicodeAttribute(null=True)
    # While the first request runs: after this a request that died is taken over, not waited for.
    lease_until = UTCDateTimeAttribute(null=True)


class Conversation(Model):
    """A resident's guided conversation in the chat (a report in progress, a question to send on).

    One per resident: starting another replaces it. What they typed or sent is personal
    data, so the item expires a day after the last step; the conversation itself ends
    much sooner (domain.chat.QUIET), which the worker checks on every event.
    """

    class Meta(_Meta):
        table_name = _settings.name("conversations")

    line_user_id = UnicodeAttribute(hash_key=True)
    conversation_id = UnicodeAttribute()
    flow = UnicodeAttribute()
    step = UnicodeAttribute()
    data = JSONAttribute(default=dict)
    updated_at = UTCDateTimeAttribute()
    # The last event applied: a redelivered event is answered again, not applied twice.
    last_event_id = UnicodeAttribute(null=True)
    expires_at = TTLAttribute()
    version = VersionAttribute()


class AttemptCounter(Model):
    """Failed attempts per key and time window (e.g. wrong access codes for one receipt in one hour)."""

    class Meta(_Meta):
        table_name = _settings.name("attempts")

    key = UnicodeAttribute(hash_key=True)
    # Shadows Model.count() (a query count, never used on this table); renaming it needs
    # attr_name="count" and its callers in store/attempts.py.
    count = NumberAttribute(default=0)  # type: ignore[assignment]
    expires_at = TTLAttribute()


class AnnouncementsBySectionIndex(_CreatedIndex):
    """A section's announcements, newest first; only what a list shows is projected."""

    class Meta:
        index_name = "by-section"
        projection = IncludeProjection(
            [
                "status",
                "category",
                "topic",
                "created_at",
                "created_by",
                "updated_at",
                "send_at",
                "start_at",
                "review_required",
                "reviewed_at",
            ]
        )

    section = UnicodeAttribute(hash_key=True)


class DueIndex(GlobalSecondaryIndex):
    """Announcements waiting for a start, or for the watchdog's look at a send: a sparse index.

    `due_shard` is set only while something is due, so the minute job reads by key exactly the
    announcements it has to look at (`due_at` <= now), never the table.
    """

    class Meta:
        index_name = "by-due"
        projection = KeysOnlyProjection()

    due_shard = UnicodeAttribute(hash_key=True)
    due_at = UnicodeAttribute(range_key=True)  # ISO 8601 UTC, which sorts by time


class ReviewIndex(GlobalSecondaryIndex):
    """Emergencies sent without approval and not yet reviewed, per section: a sparse index.

    `review_section` is set while a review is pending and removed by the review, so the list
    and the digest read exactly the pending ones by key.
    """

    class Meta:
        index_name = "by-review"
        projection = KeysOnlyProjection()

    review_section = UnicodeAttribute(hash_key=True)
    created_key = UnicodeAttribute(range_key=True)


class Announcement(Model):
    """A staff announcement, its approval trail and the progress of its send (domain/announcements.py).

    Holds no resident's personal data: recipients live only in the fan-out table, for a while.
    Changes are conditional on `status` (and `revision` for edits), so two staff members, or a
    cancel and a start, cannot both win.
    """

    class Meta(_Meta):
        table_name = _settings.name("announcements")

    announcement_id = UnicodeAttribute(hash_key=True)
    section = UnicodeAttribute()
    status = UnicodeAttribute()
    category = UnicodeAttribute()
    topic = UnicodeAttribute(null=True)
    # texts, image, link and target, as domain.announcements.Content.to_document() shapes them.
    content = JSONAttribute()
    revision = NumberAttribute(default=1)
    created_by = UnicodeAttribute()
    # Everyone who wrote any of its content: none of them may approve it.
    editors = UnicodeSetAttribute(null=True)
    created_at = UTCDateTimeAttribute()
    created_key = UnicodeAttribute()
    updated_at = UTCDateTimeAttribute()
    # The time asked for (null: now), and when the send may start (after quiet hours).
    send_at = UTCDateTimeAttribute(null=True)
    start_at = UTCDateTimeAttribute(null=True)
    deferred_until = UTCDateTimeAttribute(null=True)
    approval_required = BooleanAttribute(null=True)
    recipients_at_submit = NumberAttribute(null=True)
    submitted_by = UnicodeAttribute(null=True)
    submitted_at = UTCDateTimeAttribute(null=True)
    approved_by = UnicodeAttribute(null=True)
    approved_at = UTCDateTimeAttribute(null=True)
    rejected_by = UnicodeAttribute(null=True)
    rejected_at = UTCDateTimeAttribute(null=True)
    rejection_reason = UnicodeAttribute(null=True)
    cancelled_by = UnicodeAttribute(null=True)
    cancelled_at = UTCDateTimeAttribute(null=True)
    # True while only supervisors have written it: such an emergency needs no approval.
    supervisor_draft = BooleanAttribute(null=True)
    # An emergency sent without approval: a second supervisor reviews it afterwards.
    review_required = BooleanAttribute(null=True)
    review_section = UnicodeAttribute(null=True)
    reviewed_by = UnicodeAttribute(null=True)
    reviewed_at = UTCDateTimeAttribute(null=True)
    review_note = UnicodeAttribute(null=True)
    due_shard = UnicodeAttribute(null=True)
    due_at = UnicodeAttribute(null=True)
    # The send: fixed when it starts, so every redelivery rebuilds the same chunks. Its progress
    # and counters live in the fan-out table's small `progress` item, which workers read and
    # write per chunk, so this item (with the texts) is read once per partition, not per chunk.
    started_at = UTCDateTimeAttribute(null=True)
    finished_at = UTCDateTimeAttribute(null=True)
    chunk_size = NumberAttribute(null=True)
    partitions = _strings(null=True)

    by_section = AnnouncementsBySectionIndex()
    by_due = DueIndex()
    by_review = ReviewIndex()


class FanoutItem(Model):
    """The work of one announcement's send, under its id (services/fanout.py):

    `progress`: the send's state (sending/cancelled/finished) and counters, small on purpose;
    `requests`: the LINE request ids; `part#<partition>`: a partition's collection marker;
    `chunk#<partition>#<lang>#<n>`: a chunk of at most 500 user ids with its X-Line-Retry-Key
    and result; `rest#<partition>#<lang>`: the ids left over after a partition's full chunks,
    merged into `chunk#~#<lang>#<n>` at the end. User ids are personal data: the items expire
    after FANOUT_RETENTION.
    """

    class Meta(_Meta):
        table_name = _settings.name("announcement-fanout")

    announcement_id = UnicodeAttribute(hash_key=True)
    item_key = UnicodeAttribute(range_key=True)
    language = UnicodeAttribute(null=True)
    user_ids = _strings(null=True)
    # [[partition, n], ...]: which send list the ids come from, in order (to re-check a deferred chunk).
    sources = JSONAttribute(null=True)
    size = NumberAttribute(null=True)
    retry_key = UnicodeAttribute(null=True)
    status = UnicodeAttribute(null=True)
    attempts = NumberAttribute(default=0)
    request_id = UnicodeAttribute(null=True)
    accepted_request_id = UnicodeAttribute(null=True)
    error = UnicodeAttribute(null=True)
    started_at = UTCDateTimeAttribute(null=True)
    finished_at = UTCDateTimeAttribute(null=True)
    # A partition's full chunk: how many residents the daily cap held back after the previous
    # chunk's last id, up to this chunk's last (a re-collection after a crash starts behind it).
    held_back = NumberAttribute(null=True)
    # Partition markers: a collection began / finished, and the full chunks it made per language.
    collecting = BooleanAttribute(null=True)
    collected = BooleanAttribute(null=True)
    chunk_counts: MapAttribute[str, int] = MapAttribute(null=True)
    # The progress item.
    state = UnicodeAttribute(null=True)
    partitions_total = NumberAttribute(null=True)
    partitions_collected = NumberAttribute(null=True)
    chunks_total = NumberAttribute(null=True)
    chunks_done = NumberAttribute(null=True)
    assembled = BooleanAttribute(null=True)
    merged_chunks: MapAttribute[str, int] = MapAttribute(
        null=True
    )  # language -> chunks made from the partitions' rests
    counts: MapAttribute[str, Any] = MapAttribute(null=True)  # count kind -> language -> recipients
    # The requests item: X-Line-Request-Id of every multicast LINE accepted.
    request_ids = UnicodeSetAttribute(null=True)
    # Items holding user ids expire; `progress` and `requests` (no personal data) stay with the announcement.
    expires_at = TTLAttribute(null=True)


class DailyAnnouncementCount(Model):
    """Which non-emergency announcements one resident got on one Tokyo day (the frequency cap).

    A set, not a number: adding the same announcement again (a redelivered worker) changes
    nothing, so the cap counts each announcement once however often the work is retried.
    """

    class Meta(_Meta):
        table_name = _settings.name("announcement-caps")

    key = UnicodeAttribute(hash_key=True)  # <LINE user id>#<YYYY-MM-DD>
    announcements = UnicodeSetAttribute(null=True)
    expires_at = TTLAttribute()


class RateBucket(Model):
    """A token bucket shared by every worker (store/throttle.py): tokens left at `updated_ms`."""

    class Meta(_Meta):
        table_name = _settings.name("rate-limits")

    name = UnicodeAttribute(hash_key=True)
    tokens = NumberAttribute()
    updated_ms = NumberAttribute()
    revision = NumberAttribute()


# --- Consultation booking (issue 15; store/consultations.py) ---------------------------------


class ConsultationSlot(Model):
    """One session of one service: its capacity and how many are booked (the counter the
    booking transaction increments only while below capacity and open). Partition per
    service, sorted by start, so a day range is one key query."""

    class Meta(_Meta):
        table_name = _settings.name("consultation-slots")

    service = UnicodeAttribute(hash_key=True)
    slot = UnicodeAttribute(range_key=True)  # start, UTC, YYYY-MM-DDTHH:MMZ
    capacity = NumberAttribute()
    booked = NumberAttribute(default=0)
    open = BooleanAttribute(default=True)
    kind = UnicodeAttribute(default="weekly")  # weekly | extra
    updated_by = UnicodeAttribute(null=True)
    expires_at = TTLAttribute(null=True)


class BookingsBySectionDayIndex(GlobalSecondaryIndex):
    """A section's day view: partition `section#YYYY-MM-DD` (Tokyo), sorted by slot."""

    class Meta:
        index_name = "by-section-day"
        projection = AllProjection()

    section_day = UnicodeAttribute(hash_key=True)
    slot = UnicodeAttribute(range_key=True)


class BookingsByLineUserIndex(GlobalSecondaryIndex):
    """A resident's bookings on LINE ("my bookings"), by slot."""

    class Meta:
        index_name = "by-line-user"
        projection = AllProjection()

    line_user_id = UnicodeAttribute(hash_key=True)
    slot = UnicodeAttribute(range_key=True)


class ConsultationBooking(Model):
    """A booking. The access code is stored only as a hash; contact details expire with the item."""

    class Meta(_Meta):
        table_name = _settings.name("consultation-bookings")

    booking_id = UnicodeAttribute(hash_key=True)
    service = UnicodeAttribute()
    section = UnicodeAttribute()
    slot = UnicodeAttribute()
    section_day = UnicodeAttribute()
    status = UnicodeAttribute()
    mode = UnicodeAttribute()
    channel = UnicodeAttribute()
    language = UnicodeAttribute(default="ja")
    eligibility = UnicodeAttribute(null=True)
    line_user_id = UnicodeAttribute(null=True)
    name = UnicodeAttribute(null=True)
    email = UnicodeAttribute(null=True)
    phone = UnicodeAttribute(null=True)
    note = UnicodeAttribute(null=True)
    guard = UnicodeAttribute()
    secret_hash = UnicodeAttribute(null=True)
    # The online meeting link's key (consultations.new_meeting_room): never the booking number.
    meeting_room = UnicodeAttribute()
    created_at = UTCDateTimeAttribute()
    updated_at = UTCDateTimeAttribute()
    entered_by = UnicodeAttribute(null=True)
    cancel_reason = UnicodeAttribute(null=True)
    cancelled_by = UnicodeAttribute(null=True)
    revision = NumberAttribute(default=1)
    # The last revision (booking or move) the resident was sent a notice of: a cancel weeks
    # later must not send the confirmation again (the notices' once-ledger keeps a week).
    told_revision = NumberAttribute(null=True)
    expires_at = TTLAttribute(null=True)
    by_section_day = BookingsBySectionDayIndex()
    by_line_user = BookingsByLineUserIndex()


class BookingGuard(Model):
    """One per person, service and Tokyo day (a hash of who, never who): the per-person guard."""

    class Meta(_Meta):
        table_name = _settings.name("consultation-guards")

    guard = UnicodeAttribute(hash_key=True)
    booking_id = UnicodeAttribute()
    expires_at = TTLAttribute(null=True)


# --- window queues (issue 14; chalicelib/store/queues.py) ----------------------------------------


class QueueTicket(Model):
    """A queue ticket: the events heard for it (domain/queue.py folds them into its state).

    Keyed by office and Tokyo date, then the number printed on it (numbers restart daily), so a
    day's tickets of an office are one key query. `revision` makes every change conditional.
    Holds no personal data.
    """

    class Meta(_Meta):
        table_name = _settings.name("queue-tickets")

    day_key = UnicodeAttribute(hash_key=True)  # <office>#<YYYY-MM-DD>
    number = UnicodeAttribute(range_key=True)
    line = UnicodeAttribute()
    status = UnicodeAttribute()
    events = JSONAttribute(default=list)
    revision = NumberAttribute(default=0)
    expires_at = TTLAttribute(null=True)


class QueueLineState(Model):
    """Per office: `live#<line>` (waiting, now calling, counters, recent services; changed on every
    event, conditional on `revision`) and `profile#<line>` (typical hours by weekday, nightly).
    The status page reads an office with one key query."""

    class Meta(_Meta):
        table_name = _settings.name("queue-lines")

    office = UnicodeAttribute(hash_key=True)
    item_key = UnicodeAttribute(range_key=True)
    live = JSONAttribute(null=True)
    profile = JSONAttribute(null=True)
    revision = NumberAttribute(default=0)
    updated_at = UTCDateTimeAttribute(null=True)
    reset_at = UTCDateTimeAttribute(null=True)


class QueueWatch(Model):
    """A resident asking to be told on LINE when their ticket is near (personal data: ends with the day)."""

    class Meta(_Meta):
        table_name = _settings.name("queue-watches")

    day_key = UnicodeAttribute(hash_key=True)  # <office>#<YYYY-MM-DD>
    watch_key = UnicodeAttribute(range_key=True)  # <number>#<LINE user id>
    number = UnicodeAttribute()
    line_user_id = UnicodeAttribute()
    language = UnicodeAttribute(default="ja")
    ahead = NumberAttribute()
    joined_ahead = NumberAttribute()
    created_at = UTCDateTimeAttribute()
    near_sent_at = UTCDateTimeAttribute(null=True)
    called_sent_at = UTCDateTimeAttribute(null=True)
    called_for = UnicodeAttribute(null=True)  # the call told (domain.queue.call_episode)
    stopped_at = UTCDateTimeAttribute(null=True)
    expires_at = TTLAttribute()


class QueueDay(Model):
    """One day's hourly figures of one office's line (nightly job): issued, served, waits."""

    class Meta(_Meta):
        table_name = _settings.name("queue-history")

    line_key = UnicodeAttribute(hash_key=True)  # <office>#<line>
    day = UnicodeAttribute(range_key=True)  # YYYY-MM-DD (Tokyo)
    weekday = NumberAttribute()
    hours = JSONAttribute()


QUEUE_MODELS: tuple[type[Model], ...] = (QueueTicket, QueueLineState, QueueWatch, QueueDay)
# --- payments (issue 13): intents, their logs and audit, one attempt counter per receipt and
# method, and the nightly reconciliation's findings. No card data is ever stored: card details
# stay on the provider's hosted checkout.


class PaymentsByReceiptIndex(GlobalSecondaryIndex):
    class Meta:
        index_name = "by-receipt"
        projection = AllProjection()

    receipt = UnicodeAttribute(hash_key=True)
    payment_id = UnicodeAttribute(range_key=True)


class PendingPaymentsIndex(GlobalSecondaryIndex):
    """Sparse: `pending_shard` is set only while an intent waits, so the sweep reads exactly those."""

    class Meta:
        index_name = "by-pending"
        projection = KeysOnlyProjection()

    pending_shard = UnicodeAttribute(hash_key=True)
    pending_since = UnicodeAttribute(range_key=True)  # ISO UTC


class PaidByDayIndex(GlobalSecondaryIndex):
    """Completed payments by Tokyo day (`paid_day`), for the nightly reconciliation."""

    class Meta:
        index_name = "by-paid-day"
        projection = AllProjection()

    paid_day = UnicodeAttribute(hash_key=True)
    payment_id = UnicodeAttribute(range_key=True)


class PaymentsBySectionStatusIndex(GlobalSecondaryIndex):
    """Section staff's lists (GET /staff/payments?status=): `<section>#<status>`, newest change first."""

    class Meta:
        index_name = "by-section-status"
        projection = AllProjection()

    section_status = UnicodeAttribute(hash_key=True)
    status_since = UnicodeAttribute(range_key=True)  # ISO UTC: when the intent got this status


class PaymentIntent(Model):
    """One attempt to pay one submission's fee by one method; `payment_id` is the merchantPaymentId.

    `status` is derived from the log (domain.payments.derive) and written only conditionally on
    `revision`, with an audit entry in the same transaction.
    """

    class Meta(_Meta):
        table_name = _settings.name("payments")

    payment_id = UnicodeAttribute(hash_key=True)
    receipt = UnicodeAttribute()
    method = UnicodeAttribute()
    attempt = NumberAttribute()
    form_id = UnicodeAttribute()
    section = UnicodeAttribute()
    amount = NumberAttribute()  # integer yen, from the form definition
    status = UnicodeAttribute()
    review_reasons = _strings(default=list)
    created_at = UTCDateTimeAttribute()
    updated_at = UTCDateTimeAttribute()
    expires_at = UTCDateTimeAttribute()  # the code's / checkout session's end
    # The provider's handle: PayPay codeId or Stripe Checkout Session id; and what the resident opens.
    provider_ref = UnicodeAttribute(null=True)
    pay_url = UnicodeAttribute(null=True)
    deeplink = UnicodeAttribute(null=True)
    provider_payment_id = UnicodeAttribute(null=True)
    paid_at = UTCDateTimeAttribute(null=True)
    paid_day = UnicodeAttribute(null=True)
    paid_amount = NumberAttribute(null=True)
    refunded_at = UTCDateTimeAttribute(null=True)
    replaced_by = UnicodeAttribute(null=True)
    # The last try to open it at the provider got no answer (a retry need not wait for it).
    opening_failed = BooleanAttribute(null=True)
    # Side effects of a completed payment, each recorded once done (a crashed worker resumes).
    submission_moved = BooleanAttribute(default=False)
    receipt_queued = BooleanAttribute(default=False)
    # The resident was (to be) told that this money did not pay the fee, and of its refund.
    held_notice_queued = BooleanAttribute(default=False)
    refund_notice_queued = BooleanAttribute(default=False)
    # Refunds: asked by section staff with a reason; above the threshold a supervisor approves.
    refund_state = UnicodeAttribute(null=True)  # awaiting_approval | requested | done
    refund_reason = UnicodeAttribute(null=True)
    refund_requested_by = UnicodeAttribute(null=True)
    refund_approved_by = UnicodeAttribute(null=True)
    pending_shard = UnicodeAttribute(null=True)
    pending_since = UnicodeAttribute(null=True)
    # The staff list: set with every change of `status` (domain.payments.listing_key).
    section_status = UnicodeAttribute(null=True)
    status_since = UnicodeAttribute(null=True)
    revision = NumberAttribute(default=0)

    by_receipt = PaymentsByReceiptIndex()
    by_pending = PendingPaymentsIndex()
    by_paid_day = PaidByDayIndex()
    by_section_status = PaymentsBySectionStatusIndex()


class PaymentLogEntry(Model):
    """Append-only: `log#<state>#<provider payment id>` (a confirmed provider state, put once) and
    `audit#<time>#<nonce>` (who changed what). Nothing here is ever updated or deleted by the app."""

    class Meta(_Meta):
        table_name = _settings.name("payment-log")

    payment_id = UnicodeAttribute(hash_key=True)
    entry_key = UnicodeAttribute(range_key=True)
    state = UnicodeAttribute(null=True)
    at = UTCDateTimeAttribute()
    amount = NumberAttribute(null=True)
    provider_payment_id = UnicodeAttribute(null=True)
    source = UnicodeAttribute(null=True)  # webhook | sweep | create | refund | reconcile
    actor_kind = UnicodeAttribute(null=True)
    actor_id = UnicodeAttribute(null=True)
    action = UnicodeAttribute(null=True)
    from_status = UnicodeAttribute(null=True)
    to_status = UnicodeAttribute(null=True)
    note = UnicodeAttribute(null=True)


class PaymentSlot(Model):
    """`<receipt>#<method>`: the attempt counter (merchantPaymentIds never repeat) and the live intent.
    `<receipt>#starting`: the lease one request holds while it starts a payment of that submission."""

    class Meta(_Meta):
        table_name = _settings.name("payment-slots")

    slot = UnicodeAttribute(hash_key=True)
    attempt = NumberAttribute(default=0)
    live_payment_id = UnicodeAttribute(null=True)
    lease_until = UTCDateTimeAttribute(null=True)


class ReconciliationItem(Model):
    """A day's reconciliation: `summary` and one `diff#<kind>#<payment id>` per difference."""

    class Meta(_Meta):
        table_name = _settings.name("payment-reconciliation")

    day = UnicodeAttribute(hash_key=True)
    item_key = UnicodeAttribute(range_key=True)
    kind = UnicodeAttribute(null=True)
    payment_id = UnicodeAttribute(null=True)
    method = UnicodeAttribute(null=True)
    ours = NumberAttribute(null=True)
    theirs = NumberAttribute(null=True)
    data = JSONAttribute(null=True)
    updated_at = UTCDateTimeAttribute()


MODELS: tuple[type[Model], ...] = (
    InboxEvent,
    Resident,
    SendListEntry,
    SendListCount,
    Submission,
    DigestCutoff,
    AuditEntry,
    IdempotencyRecord,
    AttemptCounter,
    Conversation,
    Announcement,
    FanoutItem,
    DailyAnnouncementCount,
    RateBucket,
    ConsultationSlot,
    ConsultationBooking,
    BookingGuard,
    *QUEUE_MODELS,
    PaymentIntent,
    PaymentLogEntry,
    PaymentSlot,
    ReconciliationItem,
)
