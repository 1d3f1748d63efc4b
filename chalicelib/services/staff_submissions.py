"""The staff workflow: list a section's submissions, show one, move it, enter one for a resident.

Every use case takes the already-authenticated `StaffPrincipal`. A staff member works only
their own section: another section's submission is refused (403) before anything of it is
read out, and every view of a submission's personal data is written to its audit trail
before the data leaves this module.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from chalicelib.adapters import storage
from chalicelib.domain import cursors, json_text, notice_delivery
from chalicelib.domain import errors as rule
from chalicelib.domain import submissions as rules
from chalicelib.domain.digits import whole_number
from chalicelib.domain.forms import FormDefinition, catalogue, get_form, sections
from chalicelib.domain.languages import written_in
from chalicelib.domain.staff import StaffPrincipal
from chalicelib.observability import logger
from chalicelib.services import idempotency, payments
from chalicelib.services import submissions as service
from chalicelib.store import submissions as store
from chalicelib.store.models import AuditEntry, Submission

ATTACHMENT_URL_SECONDS = 300
DEFAULT_LIMIT = 50
MAX_LIMIT = 100
# A selective filter over a big section could read the whole partition in one request:
# after this many items the page is answered short (even empty) with a cursor to go on.
MAX_EXAMINED = 1000
_QUERY_BATCH = 100

LIST_PARAMETERS = (
    "form",
    "status",
    "channel",
    "from",
    "to",
    "overdue",
    "responded",
    "urgent",
    "notified",
    "limit",
    "cursor",
)
CHANNELS = (*service.CHANNELS_FOR_RESIDENTS, *service.CHANNELS_FOR_STAFF)
_CONTENT_TYPES = {"jpg": "image/jpeg", "png": "image/png", "heic": "image/heic"}

_NOT_FOUND = "この受付番号の申請はありません。 / There is no submission with this receipt number."
_OTHER_SECTION = "この申請は他の課の担当です。 / This submission is handled by another section."


# --------------------------------------------------------------------------- the list


@dataclass(frozen=True)
class ListQuery:
    """A validated `GET /staff/submissions` query. `since` is inclusive, `until` exclusive."""

    forms: frozenset[str] | None = None
    statuses: frozenset[str] | None = None
    channels: frozenset[str] | None = None
    since: datetime | None = None
    until: datetime | None = None
    overdue: bool | None = None
    limit: int = DEFAULT_LIMIT
    cursor: str | None = None
    # True: the resident answered a request for information and nobody has moved it since.
    responded: bool | None = None
    # True: the resident said yes to the form's danger question (FormDefinition.urgent_when).
    urgent: bool | None = None
    # False: a notice to the resident failed; True: every notice was delivered (residentNotified).
    notified: bool | None = None

    def fingerprint(self, section: str) -> str:
        """What a cursor is bound to: the section and every filter (not the page size)."""
        canonical = json.dumps(
            [
                section,
                sorted(self.forms or ()),
                sorted(self.statuses or ()),
                sorted(self.channels or ()),
                self.since.isoformat() if self.since else None,
                self.until.isoformat() if self.until else None,
                self.overdue,
                self.responded,
                self.urgent,
                self.notified,
            ]
        )
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def parse_list_query(params: Mapping[str, Sequence[str]]) -> ListQuery:
    """Check the query parameters (each given at most once); 400 listing every bad one."""
    problems: list[dict[str, str]] = []

    def bad(name: str, message: str) -> None:
        problems.append({"parameter": json_text.echoed(name), "message": message})

    values: dict[str, str] = {}
    for name, given in params.items():
        if name not in LIST_PARAMETERS:
            known = ", ".join(LIST_PARAMETERS)
            bad(
                name,
                f"使えない検索条件です（使えるもの: {known}）。 / Unknown parameter; known ones are {known}.",
            )
        elif len(given) != 1:
            bad(
                name,
                "この検索条件は1回だけ指定してください（複数の値はカンマ区切り）。"
                " / Give this parameter once (several values go comma-separated).",
            )
        else:
            values[name] = given[0]

    form_ids = [form.id for form in catalogue()]
    forms = _choices(values, "form", form_ids, ("は様式IDではありません", "is not a form id"), bad)
    statuses = _choices(values, "status", rules.STATUSES, ("は状態ではありません", "is not a status"), bad)
    channels = _choices(values, "channel", CHANNELS, ("は受付経路ではありません", "is not a channel"), bad)
    since = _instant(values, "from", end_of_day=False, bad=bad)
    until = _instant(values, "to", end_of_day=True, bad=bad)
    if since and until and since >= until:
        bad("to", "to は from より後にしてください。 / `to` must be later than `from`.")

    overdue = _yes_or_no(values, "overdue", bad)

    responded, urgent, notified = (
        _yes_or_no(values, name, bad) for name in ("responded", "urgent", "notified")
    )

    limit = DEFAULT_LIMIT
    if "limit" in values:
        number = whole_number(values["limit"])
        if number is None or not 1 <= number <= MAX_LIMIT:
            bad("limit", f"1から{MAX_LIMIT}までの整数です。 / Use a whole number from 1 to {MAX_LIMIT}.")
        else:
            limit = number

    cursor = values.get("cursor") or None
    if problems:
        raise rule.Malformed(
            "検索条件が正しくありません。 / Some query parameters are not valid.",
            code="invalid_query",
            details=problems,
        )
    return ListQuery(
        forms, statuses, channels, since, until, overdue, limit, cursor, responded, urgent, notified
    )


def _yes_or_no(values: dict[str, str], name: str, bad: Any) -> bool | None:
    if name not in values:
        return None
    answer = {"true": True, "false": False}.get(values[name].strip().lower())
    if answer is None:
        bad(name, "true か false です。 / Use true or false.")
    return answer


def _choices(
    values: dict[str, str], name: str, known: Sequence[str], what: tuple[str, str], bad: Any
) -> frozenset[str] | None:
    if name not in values:
        return None
    chosen = [part.strip() for part in values[name].split(",")]
    if not all(chosen):
        bad(name, "値を1つ、または複数をカンマ区切りで。 / Give one value, or several separated by commas.")
        return None
    unknown = [value for value in chosen if value not in known]
    if unknown:
        named = json_text.echoed(", ".join(unknown[:5])[:200])
        options = ", ".join(known)
        bad(
            name,
            f"{named} {what[0]}（使えるもの: {options}）。 / {named} {what[1]}; known ones are {options}.",
        )
        return None
    return frozenset(chosen)


# "2026-11-02T09:00:00+09:00" arrives as "...00 09:00" when the client did not escape the "+".
_UNESCAPED_PLUS = re.compile(r"(T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?) (\d{2}(?::?\d{2})?)$")


def _instant(values: dict[str, str], name: str, *, end_of_day: bool, bad: Any) -> datetime | None:
    """A date (the whole day in Tokyo) or an ISO datetime (Tokyo when it has no offset), as UTC.

    `to` is inclusive: for a date it ends with that day, for a datetime with that instant,
    so the exclusive bound returned is the next day's start or the instant plus 1 µs.
    """
    if name not in values:
        return None
    text = _UNESCAPED_PLUS.sub(r"\1+\2", values[name].strip())
    try:
        if len(text) <= 10:  # a date: 2026-11-02 or 20261102
            day = date.fromisoformat(text) + timedelta(days=1 if end_of_day else 0)
            moment = datetime.combine(day, time(0), rules.TOKYO)
        else:
            moment = datetime.fromisoformat(text)
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=rules.TOKYO)
            if end_of_day:
                moment += timedelta(microseconds=1)
        moment = moment.astimezone(UTC)
    except (ValueError, OverflowError):
        bad(
            name,
            "日付（2026-11-02）か ISO 8601 の日時（2026-11-02T09:00:00+09:00）です。"
            " / Use a date (2026-11-02) or an ISO 8601 date and time (2026-11-02T09:00:00+09:00).",
        )
        return None
    # Far-off years are typing mistakes, and near datetime's limits the arithmetic would overflow.
    if not _EARLIEST <= moment <= _LATEST:
        bad(name, "2000年から2099年の日付です。 / Use a date between 2000 and 2099.")
        return None
    return moment


_EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
_LATEST = datetime(2100, 1, 1, tzinfo=UTC)


def list_for_section(
    principal: StaffPrincipal, query: ListQuery, now: datetime | None = None
) -> dict[str, Any]:
    """One page of the caller's section's submissions, newest first, with the filters applied.

    The index is read in batches and filtered here; the cursor resumes right after the last
    item returned, so nothing is skipped when a page ends part-way through a batch.
    """
    now = now or datetime.now(UTC)
    section = principal.section
    # Any form: one may have been handed over from another section (hand_over).
    fingerprint = query.fingerprint(section)
    cursor = _store_cursor(query, section, fingerprint)
    # The index range is a superset (whole seconds); the exact bounds are checked per item.
    since = query.since.replace(microsecond=0) if query.since else None
    until = _ceil_second(query.until) if query.until else None
    filtered = any(
        value is not None
        for value in (
            query.forms,
            query.statuses,
            query.channels,
            query.overdue,
            query.responded,
            query.urgent,
            query.notified,
        )
    )
    batch = _QUERY_BATCH if filtered else query.limit + 1

    # The store's cursor is where the next read starts; ours resumes after the last item shown.
    items, last = cursors.filtered_page(
        lambda start: store.query_index(
            Submission.by_section, section, since=since, until=until, cursor=start, limit=batch
        ),
        cursor,
        lambda submission: _matches(submission, query, now),
        query.limit,
        MAX_EXAMINED,
    )
    return _page(items, _encode_cursor(fingerprint, last) if last else None, now)


def _matches(submission: Submission, query: ListQuery, now: datetime) -> bool:
    if query.forms is not None and submission.form_id not in query.forms:
        return False
    if query.statuses is not None and submission.status not in query.statuses:
        return False
    if query.channels is not None and submission.channel not in query.channels:
        return False
    if query.since is not None and submission.created_at < query.since:
        return False
    if query.until is not None and submission.created_at >= query.until:
        return False
    if query.responded is not None and _awaiting_staff(submission) != query.responded:
        return False
    if query.urgent is not None and _urgent(submission) != query.urgent:
        return False
    if query.notified is not None and (
        notice_delivery.resident_notified(_notices(submission)) is not query.notified
    ):
        return False
    return query.overdue is None or _overdue(submission, now) == query.overdue


def _urgent(submission: Submission) -> bool:
    form = get_form(submission.form_id)
    return form is not None and form.is_urgent(submission.data)


def _awaiting_staff(submission: Submission) -> bool:
    from chalicelib.domain.responses import awaiting_staff

    return awaiting_staff(submission.responded_at, submission.updated_at)


def _page(items: list[Submission], next_cursor: str | None, now: datetime) -> dict[str, Any]:
    return {"items": [summary(item, now) for item in items], "nextCursor": next_cursor}


def _ceil_second(moment: datetime) -> datetime:
    whole = moment.replace(microsecond=0)
    return whole if whole == moment else whole + timedelta(seconds=1)


# The cursor names the last item returned (its index sort key and receipt) and the query it
# belongs to; it is opaque to clients and checked in full before it reaches DynamoDB.


def _encode_cursor(fingerprint: str, last: Submission) -> str:
    return cursors.encode({"q": fingerprint, "k": last.created_key})


def _store_cursor(query: ListQuery, section: str, fingerprint: str) -> str | None:
    """The store's cursor for the position a client's cursor names; InvalidCursor unless it is
    one this list gave out for exactly these filters."""
    if query.cursor is None:
        return None
    raw = cursors.decode(query.cursor, ("q", "k"))
    created_key = raw["k"]
    match = store.CREATED_KEY.fullmatch(created_key) if isinstance(created_key, str) else None
    if raw["q"] != fingerprint or match is None or not rules.RECEIPT_PATTERN.fullmatch(match.group(1)):
        raise rule.InvalidCursor()
    try:
        at = datetime.fromisoformat(created_key.split("#", 1)[0])
    except ValueError:
        raise rule.InvalidCursor() from None
    # A position outside the query's range would be refused by DynamoDB itself.
    if (query.since and at < query.since.replace(microsecond=0)) or (
        query.until and at >= _ceil_second(query.until)
    ):
        raise rule.InvalidCursor()
    return store.cursor_after(Submission.by_section, section, created_key, match.group(1))


# --------------------------------------------------------------------------- shapes


def _target_days(submission: Submission) -> int | None:
    form = get_form(submission.form_id)
    return form.target_days if form else None


def _overdue(submission: Submission, now: datetime) -> bool:
    since = _received_since(submission)
    return since is not None and rules.is_overdue(since, submission.status, _target_days(submission), now)


def _received_since(submission: Submission) -> datetime | None:
    return rules.received_since(submission.status, submission.created_at, submission.received_at)


def summary(submission: Submission, now: datetime | None = None) -> dict[str, Any]:
    """What a list shows of a submission: no form answers, nothing that points at a person."""
    now = now or datetime.now(UTC)
    form = get_form(submission.form_id)
    target = form.target_days if form else None
    since = _received_since(submission)
    return {
        "receipt": submission.receipt,
        "formId": submission.form_id,
        "formTitle": form.title["ja"] if form else submission.form_id,
        "kind": submission.kind,
        "status": submission.status,
        "channel": submission.channel,
        "createdAt": rules.tokyo_iso(submission.created_at),
        "updatedAt": rules.tokyo_iso(submission.updated_at),
        "dueDate": rules.due_date(since, target).isoformat() if target and since else None,
        "overdue": _overdue(submission, now),
        "area": submission.area,
        "respondedAt": rules.tokyo_iso(submission.responded_at) if submission.responded_at else None,
        "responded": _awaiting_staff(submission),
        "urgent": form is not None and form.is_urgent(submission.data),
        # As a booking's: False once a notice to the resident failed (phone them), True when
        # every one was delivered, None while one is still being tried (or none was recorded).
        "residentNotified": notice_delivery.resident_notified(_notices(submission)),
        "version": submission.version,
        "href": f"/staff/submissions/{submission.receipt}",
    }


def _audit_view(entry: AuditEntry) -> dict[str, Any]:
    at = datetime.fromisoformat(entry.entry_key.split("#", 1)[0])
    raw = {
        "at": rules.tokyo_iso(at),
        "action": entry.action,
        "actorKind": entry.actor_kind,
        "who": entry.actor_id,
        "fromStatus": entry.from_status,
        "toStatus": entry.to_status,
        "note": entry.note,
        "noteVisibility": entry.note_visibility,
    }
    return {key: value for key, value in raw.items() if value is not None}


def _attachment(key: str, expires_at: datetime) -> dict[str, Any]:
    name = key.rsplit("/", 1)[-1]
    return {
        "name": name,
        "contentType": _CONTENT_TYPES.get(name.rsplit(".", 1)[-1].lower(), "application/octet-stream"),
        "url": storage.presigned_get(key, ATTACHMENT_URL_SECONDS),
        "expiresAt": rules.tokyo_iso(expires_at),
    }


# --------------------------------------------------------------------------- one submission


def _own(principal: StaffPrincipal, receipt_text: str) -> Submission:
    """The submission, if it is the caller's section's: 404 unknown, 403 another section's."""
    receipt = rules.normalize_receipt(receipt_text)
    submission = store.get(receipt) if receipt else None
    if submission is None:
        raise rule.NotFound(_NOT_FOUND, code="submission_not_found")
    if submission.section != principal.section:
        logger.warning(
            "staff refused another section's submission",
            extra={"receipt": submission.receipt, "staff_id": principal.staff_id},
        )
        raise rule.Forbidden(_OTHER_SECTION)
    return submission


def _actor(principal: StaffPrincipal) -> rules.Actor:
    return rules.Actor(rules.STAFF, principal.staff_id, principal.section)


def show(principal: StaffPrincipal, receipt_text: str, now: datetime | None = None) -> dict[str, Any]:
    """One submission in full, for its section's staff. The view is audited first."""
    submission = _own(principal, receipt_text)
    now = now or datetime.now(UTC)
    # Recorded before the data is read out: a view that cannot be audited is not shown.
    store.record(
        submission.receipt, store.Audit(rules.STAFF, principal.staff_id, "viewed_personal_data", now)
    )
    logger.info(
        "staff viewed personal data", extra={"receipt": submission.receipt, "staff_id": principal.staff_id}
    )
    form = get_form(submission.form_id)
    location = None
    if submission.latitude is not None and submission.longitude is not None:
        location = {"latitude": float(submission.latitude), "longitude": float(submission.longitude)}
    expires_at = now + timedelta(seconds=ATTACHMENT_URL_SECONDS)
    return {
        **summary(submission, now),
        "section": submission.section,
        "statusLabel": rules.status_labels(submission.status),
        "language": submission.language,
        "publicNoteWarning": _language_warning(submission),
        "enteredBy": submission.entered_by,
        "lineLinked": submission.line_user_id is not None,
        # From when it became staff's work, as dueDate and overdue count (None while unpaid).
        "businessDaysWaiting": rules.business_days_waiting(received, now)
        if (received := _received_since(submission)) is not None
        else None,
        "allowedTransitions": sorted(rules.allowed_targets(submission.status, rules.STAFF)),
        "location": location,
        "personalFields": list(form.personal_fields) if form else [],
        "data": submission.data,
        "attachments": [_attachment(key, expires_at) for key in submission.attachments],
        "publicNotes": [
            {
                "at": rules.tokyo_iso(datetime.fromisoformat(note["at"])),
                "status": note["status"],
                "note": note["note"],
            }
            for note in submission.public_notes
        ],
        "audit": [_audit_view(entry) for entry in store.trail(submission.receipt)],
        # The fee and where its payment stands (state: not_required, not_yet_payable, payable,
        # paid, refunded, closed), so a section does not complete a request unseen unpaid.
        "payment": payments.payment_view(submission),
        # The ward's public notes and the resident's answers in order (issue 10).
        "thread": _thread(submission, expires_at),
        # Each notice the resident should have had: delivered, sending or failed, per channel.
        "residentNotices": _notices(submission),
    }


def _notices(submission: Submission) -> list[dict[str, Any]]:
    recorded = submission.resident_notices
    return notice_delivery.notices(recorded.as_dict() if recorded is not None else None)


def _thread(submission: Submission, expires_at: datetime) -> list[dict[str, Any]]:
    from chalicelib.domain.responses import thread

    entries = thread(submission.public_notes or [], submission.responses or [], with_attachments=True)
    for entry in entries:
        if "attachments" in entry:
            entry["attachments"] = [_attachment(key, expires_at) for key in entry["attachments"]]
    return entries


def transition(
    principal: StaffPrincipal,
    receipt_text: str,
    body: Mapping[str, Any],
    idempotency_key: str | None = None,
    raw_body: bytes = b"",
) -> tuple[int, dict[str, Any]]:
    """Move the caller's section's submission; `version`, when given, must be the stored one.
    A retry with the same Idempotency-Key gets the first answer (not "already in that state")."""
    submission = _own(principal, receipt_text)
    return _once(
        principal,
        f"staff-transition:{submission.receipt}",
        idempotency_key,
        raw_body,
        lambda: (200, _move(principal, submission, body)),
    )


def _move(principal: StaffPrincipal, submission: Submission, body: Mapping[str, Any]) -> dict[str, Any]:
    _check_version(submission, body.get("version"))
    with _staff_conflict(submission.receipt):
        service.move(
            submission,
            body["to"],
            actor=_actor(principal),
            note=body.get("note"),
            visibility=body.get("visibility"),
        )
    updated = store.get(submission.receipt)
    if updated is None:  # only if it was deleted in between
        raise rule.NotFound(_NOT_FOUND, code="submission_not_found")
    public = str(body.get("note") or "").strip() if body.get("visibility") == "public" else ""
    return _with_language_warning(summary(updated), updated, public)


def _with_language_warning(
    answer: dict[str, Any], submission: Submission, public_note: str
) -> dict[str, Any]:
    """A public note goes to the resident as written: say so when they read another language
    than the ward's Japanese (a walkthrough: a Nepali resident got the ward's question in kanji),
    unless the note is written in theirs (a walkthrough: warned of an English note to English)."""
    warning = _language_warning(submission)
    if not public_note or warning is None or written_in(public_note, submission.language or "ja"):
        return answer
    return {**answer, "warnings": [warning]}


def _language_warning(submission: Submission) -> str | None:
    """What a clerk is told, before and after writing a public note, of a resident who reads
    another language (a walkthrough: told only after the note had gone)."""
    language = submission.language or "ja"
    if language == "ja":
        return None
    return (
        f"区民の方の言語は {language} です。公開メモは書いたまま届きます（翻訳されません）。"
        "やさしい日本語か、その言語でも書いてください。"
        f" / The resident reads {language}: a public note reaches them as written, not translated;"
        " write it in plain Japanese, or in their language too."
    )


def add_note(
    principal: StaffPrincipal,
    receipt_text: str,
    body: Mapping[str, Any],
    idempotency_key: str | None = None,
    raw_body: bytes = b"",
) -> tuple[int, dict[str, Any]]:
    """A note on the caller's section's submission without a move: internal for the trail (a
    phone call), public for the resident, who is told. A retry with the same Idempotency-Key
    gets the first answer and adds nothing."""
    submission = _own(principal, receipt_text)

    def write() -> tuple[int, dict[str, Any]]:
        _check_version(submission, body.get("version"))
        with _staff_conflict(submission.receipt):
            noted = service.add_note(
                submission,
                actor=_actor(principal),
                note=body["note"],
                visibility=body["visibility"],
                pinned=body.get("version") is not None,
            )
        public = str(body["note"]).strip() if body["visibility"] == "public" else ""
        return 201, _with_language_warning(summary(noted), noted, public)

    return _once(principal, f"staff-note:{submission.receipt}", idempotency_key, raw_body, write)


def hand_over(
    principal: StaffPrincipal,
    receipt_text: str,
    body: Mapping[str, Any],
    idempotency_key: str | None = None,
    raw_body: bytes = b"",
) -> tuple[int, dict[str, Any]]:
    """Give the caller's section's submission to the section that should handle it, with why
    (audited, internal). Not a move: the status, the resident's receipt and code stay. A fee's
    payments are kept by the section they were made to, so a submission with a fee stays. A
    retry with the same Idempotency-Key gets the first answer, though the submission is the
    other section's by then (so the key is looked up before the section is checked)."""
    target = str(body["section"])
    note = _said(body, "note", "引き継ぐ理由を書いてください。 / Say why it is handed over.")
    if target not in sections():
        raise rule.Invalid(
            f"課 {target!r} はありません。 / There is no section {target!r}.",
            code="invalid_request",
            details=[
                {
                    "pointer": "/section",
                    "message": "README の課の一覧の id です。 / A section id from the README.",
                }
            ],
        )

    def write() -> tuple[int, dict[str, Any]]:
        submission = _own(principal, receipt_text)
        if target == submission.section:
            raise rule.Conflict("すでにこの課の申請です。 / It is that section's already.", code="unchanged")
        if submission.status in rules.TERMINAL_STATUSES:
            raise rule.Conflict(
                "終了した申請は引き継げません。 / A closed submission is not handed over.", code="terminal"
            )
        if payments.plan_for(submission) is not None:
            raise rule.Conflict(
                "手数料のある申請は、支払いの記録とともにこの課で扱います。 / A submission with a fee stays with"
                " the section its payments were made to.",
                code="has_fee",
            )
        _check_version(submission, body.get("version"))
        from_section = submission.section
        with _staff_conflict(submission.receipt):
            service.hand_over(
                submission, actor=_actor(principal), to_section=target, note=note, now=datetime.now(UTC)
            )
        logger.info("submission handed over", extra={"from_section": from_section, "to_section": target})
        return 200, {
            "receipt": submission.receipt,
            "section": target,
            "href": f"/staff/submissions/{submission.receipt}",
        }

    receipt = rules.normalize_receipt(receipt_text) or receipt_text
    return _once(principal, f"staff-handover:{receipt}", idempotency_key, raw_body, write)


def reissue_access_code(
    principal: StaffPrincipal,
    receipt_text: str,
    body: Mapping[str, Any],
    idempotency_key: str | None = None,
    raw_body: bytes = b"",
) -> tuple[int, dict[str, Any]]:
    """A resident who lost their access code, identified by the clerk (at the counter, by
    phone): services.submissions.reissue_access_code (the old code stops working, the resident's
    contacts are told). A retry with the same Idempotency-Key gets the same code (the answer is
    kept, as a web submission's is)."""
    submission = _own(principal, receipt_text)
    identified_by = _said(
        body, "identifiedBy", "本人確認の方法を書いてください。 / Say how the resident was identified."
    )

    def write() -> tuple[int, dict[str, Any]]:
        now = datetime.now(UTC)
        with _staff_conflict(submission.receipt):
            secret = service.reissue_access_code(
                submission, actor=_actor(principal), identified_by=identified_by, now=now
            )
        return 201, {"receipt": submission.receipt, "accessSecret": secret, "issuedAt": rules.tokyo_iso(now)}

    return _once(principal, f"staff-access-code:{submission.receipt}", idempotency_key, raw_body, write)


def _said(body: Mapping[str, Any], name: str, ask: str) -> str:
    """A text the write needs, without what surrounds it unseen; `ask` when nothing is left."""
    text = json_text.trim(str(body[name]))
    if not text:
        raise rule.Invalid(
            ask,
            code="invalid_request",
            details=[{"pointer": f"/{name}", "message": "空です。 / It is empty."}],
        )
    return text


def _once(
    principal: StaffPrincipal,
    scope: str,
    idempotency_key: str | None,
    raw_body: bytes,
    write: Callable[[], tuple[int, dict[str, Any]]],
) -> tuple[int, dict[str, Any]]:
    """`write` once per Idempotency-Key of this staff member: a retry gets the first answer."""
    return idempotency.once(scope, idempotency_key, raw_body, write, caller=f"staff:{principal.staff_id}")


def _check_version(submission: Submission, version: int | None) -> None:
    """A caller that names the version it read is refused when the submission moved on since."""
    if version is not None and int(version) != submission.version:
        raise _changed(submission.version)


@contextmanager
def _staff_conflict(receipt: str) -> Iterator[None]:
    """A write that lost a race with another writer: the staff text, naming the version now
    stored (the service's own text is the resident's); gone meanwhile (its retention ended) is 404."""
    try:
        yield
    except (service.Changed, store.StaleVersion):
        fresh = store.get(receipt)
        if fresh is None:
            raise rule.NotFound(_NOT_FOUND, code="submission_not_found") from None
        raise _changed(fresh.version) from None


def _changed(version: int | None) -> rule.Conflict:
    return rule.Conflict(
        "読み込んだ後に申請が変更されました。読み込み直してください。 / This submission changed since you read it; reload it and try again.",
        code="conflict",
        details=[
            {
                "pointer": "/version",
                "message": f"いまの版は {version} です。 / The submission is now at version {version}.",
            }
        ],
    )


# --------------------------------------------------------------------------- entry on a resident's behalf


def enter(
    principal: StaffPrincipal, body: Mapping[str, Any], idempotency_key: str | None, raw_body: bytes
) -> tuple[int, dict[str, Any]]:
    """Store a submission received by phone, post or at the counter; it goes to the form's section.

    Any staff member may enter one (the counter takes everything); the resident's secret is
    in the answer, for the staff member to read out or post.
    """
    form = get_form(body["formId"])
    if form is None:
        raise rule.Invalid(
            "入力内容を確認してください。 / The request does not match its schema.",
            code="invalid_request",
            details=[
                {
                    "pointer": "/formId",
                    "message": "この formId の様式はありません。 / There is no form with this id.",
                }
            ],
        )
    submitter = service.Submitter(
        channel=body["channel"], language=body.get("language") or "ja", actor=_actor(principal)
    )
    return _once(
        principal,
        f"staff-entry:{principal.staff_id}",
        idempotency_key,
        raw_body,
        lambda: (201, _create(form, body["data"], submitter)),
    )


def _create(form: FormDefinition, data: Any, submitter: service.Submitter) -> dict[str, Any]:
    try:
        created = service.create(form, data, submitter)
    except rule.Invalid as error:
        # The form's answers sit under /data in this body: point there.
        error.details = [
            {**detail, "pointer": "/data" + detail["pointer"]} if "pointer" in detail else detail
            for detail in error.details
        ]
        raise
    logger.info(
        "staff entered a submission",
        extra={"receipt": created["receipt"], "staff_id": submitter.staff_id, "channel": submitter.channel},
    )
    return {
        **created,
        "formId": form.id,
        "section": form.section,
        "channel": submitter.channel,
        "enteredBy": submitter.staff_id,
    }
