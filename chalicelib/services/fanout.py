"""The fan-out of an announcement: plan -> collect each send list -> send each chunk.

    announce-plan     plan(id): scheduled -> sending (partitions and chunk size fixed, a small
                      `progress` item created for the counters), then one announce-collect
                      message per partition (topic x area send list).
    announce-collect  collect(id, partition): read the list by key, filter by language and age,
                      take each resident's daily slot (frequency cap), cut each language into
                      full chunks of `chunk_size` (persisted with their retry key, then queued),
                      and commit the rest (< chunk_size per language) with the partition's figures.
                      The collector that commits the last partition merges every rest into the
                      last chunks of each language, so requests = sum over languages of ceil(n/500).
    announce-send     send(id, chunk): check the time is not quiet, mark the chunk started while
                      the send is on (a transaction with the progress item), take a token from the
                      shared bucket, multicast with the chunk's X-Line-Retry-Key, record the result
                      and the counters in one transaction.

A send message carries the chunk's user ids and its LINE messages (rendered once per language
by the collector), so a chunk costs no read of its own item or of the announcement: the
reads per chunk are the token bucket and the progress item, one unit each.

Crash safety. Every step can run again: chunk keys and retry keys are derived, chunks are put
only where absent and only while their partition is open, a partition commits once, a chunk
finishes once, and LINE answers a repeated retry key with 409 (already accepted), counted as
sent. A redelivered collector continues after the last chunk it finds (user ids are read in
key order), so nobody lands in two chunks and nobody present at the first read is left out.
A chunk that had started before a cancel is finished with its key; one that had not never starts.
"""

from __future__ import annotations

import bisect
import itertools
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

from chalicelib.adapters import queues
from chalicelib.config import get_settings
from chalicelib.domain import announcements as rules
from chalicelib.domain import postbacks
from chalicelib.domain.residents import LANGUAGES
from chalicelib.observability import logger, metrics
from chalicelib.resources import ANNOUNCE_COLLECT, ANNOUNCE_PLAN, ANNOUNCE_SEND
from chalicelib.store import announcements as store
from chalicelib.store.models import Announcement, FanoutItem, SendListEntry

# The minute job looks at a send that has been running this long (lost messages, crashed workers).
WATCHDOG = timedelta(minutes=10)
# A start message may arrive a little before its time (clock skew between services).
START_TOLERANCE = timedelta(seconds=60)
BUCKET = "line-multicast"
# byArea key of residents who chose no area, byAgeBand key of those who gave no age band: they
# get every area's, every age band's news.
NO_AREA = NO_AGE_BAND = "*"
MERGED_CHUNKS = f"chunk#{store.MERGED}#"

# Triggers of a plan message.
START = "start"  # send now, a schedule firing or the minute job finding a due start
WATCHDOG_TRIGGER = "watchdog"  # the minute job: make sure every piece of a running send is queued


class Busy(Exception):
    """Another worker is on the same piece right now; this record comes back later."""


@cache
def policy() -> rules.Policy:
    return rules.Policy.from_environ()


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Recipients:
    by_language: dict[str, int]
    by_area: dict[str, int]
    # By the age band residents gave; NO_AGE_BAND for those who gave none, whom every age
    # band's news reaches (they chose not to narrow it).
    by_age_band: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.by_language.values())


def count_recipients(content: rules.Content) -> Recipients:
    """Exact recipients from the send lists' counts (a few small key reads), never the members."""
    from chalicelib.domain.preferences import parse_count_slot
    from chalicelib.store.preferences import list_counts

    by_language = dict.fromkeys(LANGUAGES, 0)
    by_area: dict[str, int] = defaultdict(int)
    by_age_band: dict[str, int] = defaultdict(int)
    for partition, slots in list_counts(rules.partitions(content)).items():
        area = rules.partition_area(partition) or NO_AREA
        for slot, members in slots.items():
            language, age_band = parse_count_slot(slot)
            if rules.reaches(language, age_band, content.target):
                by_language[language] = by_language.get(language, 0) + members
                by_area[area] += members
                by_age_band[age_band or NO_AGE_BAND] += members
    return Recipients(by_language, dict(sorted(by_area.items())), dict(sorted(by_age_band.items())))


def content_of(announcement: Announcement) -> rules.Content:
    return rules.content_from_document(announcement.content)


# --- plan --------------------------------------------------------------------------------------


def plan(announcement_id: str, trigger: str = START, *, now: datetime | None = None) -> str:
    """Start (or re-drive) a send; returns what happened, for the log."""
    now = now or _now()
    announcement = store.get(announcement_id)
    if announcement is None:
        return "missing"
    if announcement.status == rules.SCHEDULED:
        if announcement.start_at and announcement.start_at > now + START_TOLERANCE:
            return "early"  # a later trigger (the schedule, the minute job) starts it
        quiet = _quiet(announcement.category, now)
        if quiet:
            defer_start(announcement, quiet)
            return "deferred"
        if _grown_past_approval(announcement, now):
            return rules.PENDING_APPROVAL
        partitions = list(rules.partitions(content_of(announcement)))
        if store.start_send(announcement_id, partitions, policy().chunk_size, now, now + WATCHDOG):
            logger.info("announcement send started", extra={"partitions": len(partitions)})
            metrics.add_metric(name="AnnouncementsStarted", unit="Count", value=1)
            audit_emergency(announcement, "send started", rules.SENDING, now)
        announcement = store.get(announcement_id)
        assert announcement is not None
    if announcement.status != rules.SENDING:
        return announcement.status
    quiet = _quiet(announcement.category, now)
    if quiet:  # a watchdog look during the quiet hours: come back at their end
        store.update(announcement_id, store.set_due(quiet), Announcement.status == rules.SENDING)
        return "quiet"
    partitions = list(announcement.partitions or ())
    follow_up = trigger == WATCHDOG_TRIGGER
    if not follow_up:
        collected = {
            marker.item_key.removeprefix("part#")
            for marker in store.items(announcement_id, "part#")
            if marker.collected
        }
        partitions = [p for p in partitions if p not in collected]
    _enqueue(
        ANNOUNCE_COLLECT,
        [(p, {"announcementId": announcement_id, "partition": p, "followUp": follow_up}) for p in partitions],
    )
    if follow_up:
        progress = store.progress(announcement_id)
        if progress is not None and progress.assembled:
            _enqueue_chunks(announcement_id, list(store.items(announcement_id, MERGED_CHUNKS)))
    return "planned"


def _grown_past_approval(announcement: Announcement, now: datetime) -> bool:
    """Whether a send nobody approved now reaches more residents than the approval threshold
    (residents followed and chose its topic since it was submitted, days or weeks ahead): then
    it waits for a supervisor, as it would have had it been that size at submit (a black-box
    run). Taken back to pending_approval only from scheduled; False if it was not there."""
    if announcement.approved_by or announcement.category == rules.EMERGENCY:
        return False  # approved, or an emergency: its own rules (approval_reasons)
    recipients = count_recipients(content_of(announcement)).total
    if recipients <= policy().approval_threshold:
        return False
    held = store.update(
        announcement.announcement_id,
        [
            Announcement.status.set(rules.PENDING_APPROVAL),
            Announcement.approval_required.set(True),
            Announcement.start_at.remove(),
            Announcement.revision.add(1),
            Announcement.updated_at.set(now),
            *store.clear_due(),
        ],
        Announcement.status == rules.SCHEDULED,
    )
    if held:
        logger.warning(
            "announcement grew past the approval threshold before its start: it waits for approval",
            extra={"announcement": announcement.announcement_id, "recipients": recipients},
        )
        metrics.add_metric(name="AnnouncementsHeldForApproval", unit="Count", value=1)
    return held


def _quiet(category: str, now: datetime) -> datetime | None:
    """The end of the quiet hours if a non-emergency send must wait now, else None."""
    if category == rules.EMERGENCY or not rules.in_quiet_hours(now, policy()):
        return None
    return rules.quiet_hours_end(now, policy())


def defer_start(announcement: Announcement, until: datetime) -> None:
    """Move a scheduled start to the end of the quiet hours (the schedule fires again then)."""
    if store.update(
        announcement.announcement_id,
        [Announcement.start_at.set(until), Announcement.deferred_until.set(until), *store.set_due(until)],
        Announcement.status == rules.SCHEDULED,
    ):
        logger.info(
            "announcement start deferred to the end of the quiet hours", extra={"until": until.isoformat()}
        )
        schedule_start(announcement.announcement_id, until)


def schedule_start(announcement_id: str, at: datetime) -> None:
    """The precise trigger in AWS; best effort, the minute job starts it anyway."""
    from chalicelib.adapters import scheduler

    try:
        scheduler.schedule_message(
            schedule_name(announcement_id),
            at,
            ANNOUNCE_PLAN,
            {"announcementId": announcement_id, "trigger": START},
        )
    except Exception as error:  # noqa: BLE001 (the minute job is the safety net)
        logger.warning(
            "could not create the schedule; the minute job will start it",
            extra={"error": type(error).__name__},
        )


def schedule_name(announcement_id: str) -> str:
    return f"announce-{announcement_id}"


# --- collect -------------------------------------------------------------------------------------


@dataclass
class _Collected:
    chunks: list[FanoutItem]
    rests: dict[str, list[str]]
    planned: dict[str, int]
    held_back: dict[str, int]


def members(partition: str, target: rules.Target, *, consistent: bool = False) -> Iterator[SendListEntry]:
    """The entries of one send list inside the target, in user id order (a key query, never a scan).

    Eventually consistent by default: half the read units, and DynamoDB's lag (typically well
    under a second) is shorter than the time between reading a list and LINE delivering it.
    """
    for entry in SendListEntry.query(partition, consistent_read=consistent):
        if rules.reaches(entry.language, entry.age_band, target):
            yield entry


def collect(
    announcement_id: str, partition: str, *, follow_up: bool = False, now: datetime | None = None
) -> str:
    now = now or _now()
    announcement = store.get(announcement_id)
    if announcement is None:
        return "missing"
    if announcement.status != rules.SENDING:
        return announcement.status  # cancelled (nothing more starts) or already finished
    if partition not in (announcement.partitions or ()):
        raise ValueError("partition is not part of this announcement")
    content = content_of(announcement)
    marker = store.begin_collection(announcement_id, partition, now)
    if marker.collected:
        if follow_up:
            _enqueue_chunks(
                announcement_id, list(store.items(announcement_id, f"chunk#{partition}#")), content
            )
        assemble(announcement_id, now=now)
        return "collected"

    size = int(announcement.chunk_size or rules.MAX_MULTICAST)
    existing = list(store.items(announcement_id, f"chunk#{partition}#")) if marker.collecting else []
    found = _read_partition(announcement, content, partition, existing, size, now)
    for chunk in found.chunks:
        if not store.put_chunk(chunk, partition):
            raise Busy(f"{partition}: another collector is writing this partition")
    # Queued before the commit: after a crash here, the next attempt queues them again.
    _enqueue_chunks(announcement_id, [*existing, *found.chunks], content)
    chunk_counts: dict[str, int] = defaultdict(int)
    for chunk in (*existing, *found.chunks):
        chunk_counts[chunk.language] += 1
    rests = [
        FanoutItem(
            announcement_id,
            store.rest_key(partition, language),
            language=language,
            user_ids=ids,
            size=len(ids),
            expires_at=store.expiry(now),
        )
        for language, ids in found.rests.items()
        if ids
    ]
    committed = store.commit_collection(
        announcement_id,
        partition,
        rests=rests,
        chunk_counts=dict(chunk_counts),
        planned=found.planned,
        held_back=found.held_back,
        languages=LANGUAGES,
    )
    if not committed:
        fresh = store.item(announcement_id, store.part_key(partition))
        if not (fresh and fresh.collected):
            raise Busy(f"{partition}: another collector added a chunk; reading again")
    logger.info(
        "partition collected",
        extra={
            "partition": partition,
            "recipients": sum(found.planned.values()),
            "held_back": sum(found.held_back.values()),
        },
    )
    assemble(announcement_id, now=now)
    return "collected"


def _read_partition(
    announcement: Announcement,
    content: rules.Content,
    partition: str,
    existing: list[FanoutItem],
    size: int,
    now: datetime,
) -> _Collected:
    """The partition's recipients now, cut into the chunks not yet stored and a rest per language."""
    by_language: dict[str, list[str]] = defaultdict(list)
    for entry in members(partition, content.target):
        by_language[entry.language].append(entry.line_user_id)

    # Chunks a previous attempt stored: go on after the last of them, per language. Whoever
    # joined the list since, below that point, is not a recipient of this send.
    stored: dict[str, list[FanoutItem]] = defaultdict(list)
    for chunk in existing:
        stored[chunk.language].append(chunk)
    for language, done in stored.items():
        done.sort(key=lambda c: c.item_key)
        boundary = done[-1].user_ids[-1]
        by_language[language] = [user for user in by_language.get(language, []) if user > boundary]

    held_ids: dict[str, list[str]] = {}
    if rules.counts_against_cap(content.category):
        everyone = [user for ids in by_language.values() for user in ids]
        day = rules.cap_day(announcement.started_at or now)
        _, held = store.take_daily_slots(everyone, announcement.announcement_id, day, policy().daily_cap, now)
        for language in list(by_language):
            held_ids[language] = [user for user in by_language[language] if user in held]
            by_language[language] = [user for user in by_language[language] if user not in held]

    chunks: list[FanoutItem] = []
    rests: dict[str, list[str]] = {}
    planned: dict[str, int] = {}
    held_back: dict[str, int] = {}
    for language in LANGUAGES:
        done = stored.get(language, [])
        ids = by_language.get(language, [])
        held_here = held_ids.get(language, [])
        full, rest = rules.split(ids, size)
        counted = 0
        for offset, chunk_ids in enumerate(full):
            key = store.chunk_key(partition, language, len(done) + offset)
            # Who the cap held back up to this chunk's last id: a re-collection after a crash goes
            # on behind the stored chunks and would not see them again.
            held_up_to = bisect.bisect_right(held_here, chunk_ids[-1])
            chunks.append(
                _chunk(
                    announcement.announcement_id,
                    key,
                    language,
                    chunk_ids,
                    [[partition, len(chunk_ids)]],
                    now,
                    held_back=held_up_to - counted,
                )
            )
            counted = held_up_to
        rests[language] = rest
        planned[language] = sum(int(c.size) for c in done) + len(ids)
        held_back[language] = sum(int(c.held_back or 0) for c in done) + len(held_here)
    return _Collected(chunks, rests, planned, held_back)


def _chunk(
    announcement_id: str,
    key: str,
    language: str,
    user_ids: list[str],
    sources: list[list[Any]],
    now: datetime,
    *,
    held_back: int | None = None,
) -> FanoutItem:
    return FanoutItem(
        announcement_id,
        key,
        language=language,
        user_ids=user_ids,
        sources=sources,
        size=len(user_ids),
        held_back=held_back,
        retry_key=retry_key(announcement_id, key),
        status=store.PLANNED,
        expires_at=store.expiry(now),
    )


def retry_key(announcement_id: str, key: str) -> str:
    from chalicelib.adapters.line_api import retry_key_for

    return retry_key_for("announcement", announcement_id, key)


# --- assemble ----------------------------------------------------------------------------------


def assemble(announcement_id: str, *, now: datetime | None = None) -> str:
    """Once every partition is committed: merge the rests into each language's last chunks."""
    now = now or _now()
    progress = store.progress(announcement_id)
    if progress is None or progress.state != rules.SENDING:
        return "not_sending"
    if progress.assembled:
        return "assembled"
    if int(progress.partitions_collected or 0) < int(progress.partitions_total or 0):
        return "waiting"
    announcement = store.get(announcement_id)
    assert announcement is not None
    size = int(announcement.chunk_size or rules.MAX_MULTICAST)
    ids: dict[str, list[str]] = defaultdict(list)
    sources: dict[str, list[list[Any]]] = defaultdict(list)
    for rest in store.items(announcement_id, "rest#"):  # in key order: partition, then language
        partition = rest.item_key.removeprefix("rest#").rpartition("#")[0]
        ids[rest.language].extend(rest.user_ids or ())
        sources[rest.language].append([partition, len(rest.user_ids or ())])
    merged: dict[str, int] = {}
    chunks: list[FanoutItem] = []
    for language in LANGUAGES:
        pieces = rules.chunked(ids.get(language, []), size)
        runs = _runs(sources.get(language, []), [len(piece) for piece in pieces])
        for index, (piece, run) in enumerate(zip(pieces, runs, strict=True)):
            chunk = _chunk(
                announcement_id, store.chunk_key(store.MERGED, language, index), language, piece, run, now
            )
            store.put_merged_chunk(chunk)  # already there after a crash: the same ids, rests are fixed
            chunks.append(chunk)
        if pieces:
            merged[language] = len(pieces)
    _enqueue_chunks(announcement_id, chunks, content_of(announcement))
    if store.mark_assembled(announcement_id, merged):
        logger.info("rests merged", extra={"chunks": len(chunks)})
    check_finished(announcement_id, now=now)
    return "assembled"


def _runs(sources: list[list[Any]], lengths: list[int]) -> list[list[list[Any]]]:
    """Split [partition, n] runs along chunk lengths, so each chunk knows where its ids came from."""
    queue = [[partition, int(n)] for partition, n in sources if n]
    found = []
    for length in lengths:
        runs: list[list[Any]] = []
        while length:
            partition, n = queue[0]
            take = min(n, length)
            runs.append([partition, take])
            length -= take
            if take == n:
                queue.pop(0)
            else:
                queue[0][1] = n - take
        found.append(runs)
    return found


# --- send --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Job:
    """A chunk to send: its state as last known, its recipients and its messages."""

    ref: store.ChunkRef
    category: str
    user_ids: list[str]
    messages: list[dict[str, Any]]

    @classmethod
    def from_payload(cls, announcement_id: str, key: str, payload: dict[str, Any]) -> _Job:
        user_ids = payload["to"]
        ref = store.ChunkRef(announcement_id, key, payload["status"], payload["language"], len(user_ids))
        return cls(ref, payload["category"], list(user_ids), list(payload["messages"]))


def _payload(
    chunk: FanoutItem, content: rules.Content, messages: dict[str, list[dict[str, Any]]]
) -> dict[str, Any]:
    if chunk.language not in messages:
        messages[chunk.language] = _messages(content, chunk.language)
    return {
        "announcementId": chunk.announcement_id,
        "chunk": chunk.item_key,
        "status": chunk.status,
        "language": chunk.language,
        "category": content.category,
        "to": list(chunk.user_ids or ()),
        "messages": messages[chunk.language],
    }


def _load(announcement_id: str, key: str) -> _Job | None:
    """The chunk as stored now (a redelivery that found it moved, or a message without payload)."""
    chunk = store.item(announcement_id, key)
    announcement = store.get(announcement_id) if chunk is not None else None
    if chunk is None or announcement is None:
        return None
    return _Job.from_payload(announcement_id, key, _payload(chunk, content_of(announcement), {}))


def send(
    announcement_id: str,
    key: str,
    *,
    payload: dict[str, Any] | None = None,
    last_attempt: bool = False,
    now: datetime | None = None,
) -> str:
    """Deliver one chunk at most once; returns its outcome, for the log."""
    from chalicelib.adapters.line_api import LineRejected, LineUnavailable, line_client
    from chalicelib.store import throttle

    now = now or _now()
    job = _Job.from_payload(announcement_id, key, payload) if payload else _load(announcement_id, key)
    for _ in range(4):
        if job is None:
            logger.warning("chunk not found", extra={"chunk": key})
            return "missing"
        status = job.ref.status
        if status in store.CHUNK_FINAL:
            check_finished(announcement_id, now=now)
            return status
        if status == store.SENDING:
            # It had started (a crash or a timeout in the middle): finish it with the same retry key,
            # even after a cancel. If LINE took it the first time, it answers 409 and sends nothing.
            store.retry_chunk(job.ref)
            break
        quiet = _quiet(job.category, now)
        if quiet:
            if status == store.DEFERRED:
                if store.update(announcement_id, store.set_due(quiet), Announcement.status == rules.SENDING):
                    return store.DEFERRED
                return _skip(job.ref, now)  # the send was cancelled while this chunk waited
            if store.defer_chunk(job.ref, quiet):
                return store.DEFERRED
            progress = store.progress(announcement_id)
            job = _load(announcement_id, key)  # it moved meanwhile, or the send is over: look at it
            if (
                (progress is None or progress.state != rules.SENDING)
                and job is not None
                and job.ref.status in (store.PLANNED, store.DEFERRED)
            ):
                return _skip(job.ref, now)
            continue
        if status == store.DEFERRED:
            job = _recheck(job)
            if not job.ref.size:
                store.finish_chunk(job.ref, store.EMPTIED, rules.DELIVERED, now)
                check_finished(announcement_id, now=now)
                return store.EMPTIED
        try:
            if store.start_chunk(job.ref, now):
                job = replace(job, ref=replace(job.ref, status=store.SENDING))
                break
        except store.AnnouncementNotSending:
            # Cancelled: a chunk that had not started is skipped, one that had is finished.
            job = _load(announcement_id, key)
            if job is not None and job.ref.status in (store.PLANNED, store.DEFERRED):
                return _skip(job.ref, now)
            continue
        job = _load(announcement_id, key)  # not in the state this message knew: look at it
    else:
        raise Busy(f"{key}: its state keeps changing")

    throttle.acquire(
        throttle.Bucket(BUCKET, rate=policy().multicast_rps, burst=max(1.0, policy().multicast_rps))
    )
    try:
        result = line_client().multicast(job.user_ids, job.messages, retry_key(announcement_id, key))
    except LineRejected as error:
        logger.error("LINE refused a chunk", extra={"chunk": key, "line_status": error.status})
        store.finish_chunk(job.ref, store.FAILED, rules.UNDELIVERED, now, error=f"rejected {error.status}")
        metrics.add_metric(name="AnnouncementChunksFailed", unit="Count", value=1)
        check_finished(announcement_id, now=_now())
        return store.FAILED
    except LineUnavailable:
        if not last_attempt:
            raise  # SQS delivers it again; the retry key keeps it single
        logger.error("LINE unavailable on the last attempt; chunk recorded as failed", extra={"chunk": key})
        store.finish_chunk(job.ref, store.FAILED, rules.UNDELIVERED, now, error="unavailable")
        metrics.add_metric(name="AnnouncementChunksFailed", unit="Count", value=1)
        check_finished(announcement_id, now=_now())
        return store.FAILED
    store.finish_chunk(
        job.ref,
        store.SENT,
        rules.DELIVERED,
        _now(),
        request_id=result.request_id,
        accepted_request_id=result.accepted_request_id,
    )
    metrics.add_metric(name="AnnouncementRecipients", unit="Count", value=job.ref.size)
    check_finished(announcement_id, now=_now())
    return store.SENT


def _skip(chunk: store.ChunkRef, now: datetime) -> str:
    """The send was cancelled before this chunk started: it never starts."""
    _cancel_chunk(chunk, now)
    return store.CANCELLED


def _cancel_chunk(chunk: store.ChunkRef, now: datetime, *, assembled: bool | None = None) -> bool:
    """Record a chunk that had not started as cancelled; False if it had moved on meanwhile.

    A chunk merged from rests counts only if the send was assembled before the cancel; if it was
    not, its residents are counted in the rests they are still in (see `release`).
    """
    counted = True
    if chunk.key.startswith(MERGED_CHUNKS):
        if assembled is None:
            progress = store.progress(chunk.announcement_id)
            assembled = bool(progress and progress.assembled)
        counted = assembled
    return store.finish_chunk(chunk, store.CANCELLED, rules.SKIPPED, now, counted=counted)


def release(announcement_id: str, *, now: datetime | None = None) -> int:
    """After a cancel, record what will never go out: every chunk that had not started (planned,
    or deferred to the end of the quiet hours) and, if the rests were not merged yet, every rest.
    Chunks that had started are their workers' to finish. Returns how many residents it released.

    Safe to run again and alongside the workers: each piece changes once, on condition.
    """
    now = now or _now()
    progress = store.progress(announcement_id)
    if progress is None or progress.state != rules.CANCELLED:
        return 0
    assembled = bool(progress.assembled)
    released = 0
    for chunk in store.items(announcement_id, "chunk#"):
        if chunk.status in (store.PLANNED, store.DEFERRED) and _cancel_chunk(
            store.ChunkRef.of(chunk), now, assembled=assembled
        ):
            released += int(chunk.size or 0)
    if not assembled:
        for rest in store.items(announcement_id, "rest#"):
            if rest.status is None and store.cancel_rest(rest, now):
                released += len(rest.user_ids or ())
    if released:
        logger.info("cancelled send released", extra={"recipients": released})
    return released


def _recheck(job: _Job) -> _Job:
    """A chunk that waited out the quiet hours: keep only residents still on their send list."""
    chunk = store.item(job.ref.announcement_id, job.ref.key)
    if chunk is None or chunk.status != store.DEFERRED:
        raise Busy(job.ref.key)
    pairs: list[tuple[str, str]] = []
    ids = iter(chunk.user_ids or ())
    for partition, n in chunk.sources or ():
        pairs += [(partition, user) for user in itertools.islice(ids, int(n))]
    listed = store.still_listed(pairs)
    ref = store.ChunkRef.of(chunk)
    if len(listed) == len(pairs):
        return replace(job, ref=ref, user_ids=list(chunk.user_ids or ()))
    kept = [pair for pair in pairs if pair in listed]
    keep = [user for _, user in kept]
    if not store.narrow_deferred_chunk(ref, keep, _compact(partition for partition, _ in kept)):
        raise Busy(job.ref.key)
    return replace(job, ref=replace(ref, size=len(keep)), user_ids=keep)


def _compact(partitions: Iterable[str]) -> list[list[Any]]:
    return [[partition, len(list(group))] for partition, group in itertools.groupby(partitions)]


def _messages(content: rules.Content, language: str) -> list[dict[str, Any]]:
    secret = get_settings().line_channel_secret
    stop = postbacks.sign(secret, "prefs.topic_off", content.topic) if content.topic else None
    return rules.line_messages(
        content, language, stop_topic_data=stop, settings_data=postbacks.sign(secret, "menu.settings")
    )


def check_finished(announcement_id: str, *, now: datetime | None = None) -> str | None:
    """sending -> sent/failed once every chunk is final; the new status, or None."""
    progress = store.progress(announcement_id)
    if (
        progress is None
        or progress.state != rules.SENDING
        or not progress.assembled
        or int(progress.chunks_done or 0) < int(progress.chunks_total or 0)
    ):
        return None
    totals = rules.totals(counts(progress))
    status = rules.final_status(totals[rules.DELIVERED], totals[rules.UNDELIVERED])
    if store.finish_send(announcement_id, status, now or _now()):
        logger.info("announcement send finished", extra={"status": status, **totals})
        metrics.add_metric(name="AnnouncementsFinished", unit="Count", value=1)
        announcement = store.get(announcement_id)
        if announcement is not None:
            note = ", ".join(f"{kind} {n}" for kind, n in totals.items() if n)
            audit_emergency(
                announcement, "send finished", status, now or _now(), was=rules.SENDING, note=note
            )
        return status
    return None


def audit_emergency(
    announcement: Announcement,
    action: str,
    to_status: str | None,
    now: datetime,
    *,
    was: str | None = None,
    actor_id: str | None = None,
    note: str | None = None,
) -> None:
    """Every step of an emergency, by staff or by the send, goes on its audit trail."""
    if announcement.category == rules.EMERGENCY:
        store.audit(
            announcement.announcement_id,
            actor_id=actor_id,
            action=action,
            from_status=was or announcement.status,
            to_status=to_status,
            at=now,
            note=note,
        )


def counts(progress: FanoutItem | None) -> dict[str, dict[str, int]]:
    raw = progress.counts.as_dict() if progress is not None and progress.counts is not None else {}
    return {
        kind: {language: int(n) for language, n in (raw.get(kind) or {}).items()} for kind in rules.COUNTS
    }


# --- queues ------------------------------------------------------------------------------------


def _enqueue(queue: Any, messages: list[tuple[str, dict[str, Any]]]) -> None:
    if not messages:
        return
    failed = queues.send_all(queue, messages)
    if failed:
        # The record fails and comes back; what did go out is idempotent downstream.
        raise RuntimeError(f"{len(failed)} messages were not queued on {queue.name}")


def _enqueue_chunks(
    announcement_id: str, chunks: list[FanoutItem], content: rules.Content | None = None
) -> None:
    """Queue a send for each chunk not final yet: with its ids and messages when `content` is given."""
    rendered: dict[str, list[dict[str, Any]]] = {}
    messages = [
        (
            chunk.item_key,
            _payload(chunk, content, rendered)
            if content is not None
            else {"announcementId": announcement_id, "chunk": chunk.item_key},
        )
        for chunk in chunks
        if chunk.status not in store.CHUNK_FINAL
    ]
    _enqueue(ANNOUNCE_SEND, messages)


def enqueue_plan(announcement_id: str, trigger: str = START) -> bool:
    """Queue a start; False if SQS did not take it (the minute job will)."""
    return not queues.send_all(
        ANNOUNCE_PLAN, [(announcement_id, {"announcementId": announcement_id, "trigger": trigger})]
    )


# --- the minute job ------------------------------------------------------------------------------


def run_due(
    now: datetime | None = None, enqueue: Callable[[str, str], bool] = enqueue_plan
) -> dict[str, int]:
    """Start the scheduled sends whose time has come; look at running sends the watchdog is due for."""
    now = now or _now()
    report = {"started": 0, "watched": 0, "released": 0, "cleared": 0}
    for announcement_id in store.due_ids(now):
        announcement = store.get(announcement_id)  # the index is eventually consistent: read the truth
        if announcement is None or not announcement.due_at or announcement.due_at > store.due_key(now):
            continue
        if announcement.status == rules.SCHEDULED:
            if enqueue(announcement_id, START):
                report["started"] += 1
                # Look again in a while if the start does not take (the planner clears this).
                store.update(
                    announcement_id,
                    store.set_due(now + timedelta(minutes=2)),
                    Announcement.status == rules.SCHEDULED,
                )
        elif announcement.status == rules.SENDING:
            if enqueue(announcement_id, WATCHDOG_TRIGGER):
                report["watched"] += 1
                store.update(
                    announcement_id, store.set_due(now + WATCHDOG), Announcement.status == rules.SENDING
                )
        else:
            if announcement.status == rules.CANCELLED and announcement.started_at:
                # A collector that was mid-way at the cancel has stopped by now: release what it left.
                release(announcement_id, now=now)
                report["released"] += 1
            store.update(announcement_id, store.clear_due())
            report["cleared"] += 1
    return report
