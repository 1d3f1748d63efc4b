"""Submissions: create, show to the resident, move through the lifecycle, list for staff.

Rules live in domain/ (forms, submissions); this module orders the I/O around them:
validate, store conditionally, audit in the same transaction, queue the notification.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from chalicelib.adapters import queues
from chalicelib.domain import areas, json_text, messages
from chalicelib.domain import errors as rule
from chalicelib.domain import payments as payment_rules
from chalicelib.domain import submissions as rules
from chalicelib.domain.form_problems import problems_of
from chalicelib.domain.forms import FormDefinition, fee_for, retention_days
from chalicelib.domain.messages import Text
from chalicelib.domain.notifications import CODE_REISSUED, HANDED_OVER, NOTE_ADDED
from chalicelib.observability import logger, metrics
from chalicelib.resources import NOTIFICATIONS
from chalicelib.schemas import problems
from chalicelib.services import access_codes, anonymous_limits, line_push, uploads
from chalicelib.store import submissions as store
from chalicelib.store.models import Submission

CHANNELS_FOR_RESIDENTS = ("web", "line")
CHANNELS_FOR_STAFF = ("phone", "postal", "counter")
_RECEIPT_ATTEMPTS = 8


RESIDENT = rules.Actor(rules.RESIDENT, "resident")


class Changed(rule.Conflict):
    """Another writer changed the submission between this call's read and its write. The text
    is the resident's; a staff route answers with its own, naming the version now stored."""

    code = "conflict"

    def __init__(self) -> None:
        super().__init__(Text("error.submission_changed"))


@dataclass(frozen=True)
class Submitter:
    """Who hands the submission in: the resident themself, or staff entering it for them."""

    channel: str
    language: str
    line_user_id: str | None = None
    actor: rules.Actor = RESIDENT
    # The chat already confirmed it to the resident (issue 10): the notification skips LINE.
    confirmed: bool = False
    # A web submitter's client pseudonym: its sends a day are limited (anonymous_limits).
    client: str | None = None

    @property
    def staff_id(self) -> str | None:
        return self.actor.id if self.actor.kind == rules.STAFF else None


def create(
    form: FormDefinition, document: Any, submitter: Submitter, *, section: str | None = None
) -> dict[str, Any]:
    """Validate and store a new submission; the answer carries the receipt and the resident's secret.

    `section` routes it to another section than the form's (a chat question about taxes).
    """
    if not isinstance(document, dict):
        raise rule.Invalid(Text("error.check_entries"), code="invalid_submission")
    document = json_text.trimmed(document)
    found = problems(form.schema_name, document)
    if found:
        raise rule.Invalid(
            Text("error.check_entries"), code="invalid_submission", details=problems_of(found, form)
        )
    if form.is_report and areas.elsewhere((document.get("location") or {}).get("address")):
        # Another ward's or city's address: not ours to handle, as a pin outside the ward is not.
        raise rule.Invalid(
            Text("error.check_entries"),
            code="invalid_submission",
            details=[{"pointer": "/location/address", "message": Text("problem.outside_ward")}],
        )
    if submitter.line_user_id and not submitter.confirmed:
        # Its notices would go by LINE push alone. Not for a chat filing: the resident is talking
        # to the account now (a re-follow may still be on its way while the table says unfollowed).
        line_push.require_following(submitter.line_user_id, email=document.get("email"))
    now = datetime.now(UTC)
    secret = rules.new_access_secret()
    location = document.get("location") or {}
    # A fee paid online first (domain/payments.py): the submission waits for it before `received`.
    fee = fee_for(form, document)
    plan = payment_rules.fee_plan(form.meta, document, fee)
    first_status = (
        rules.AWAITING_PAYMENT if plan and plan.timing == payment_rules.BEFORE_RECEIVED else rules.RECEIVED
    )
    with uploads.taken(document.get("photos", []), "/photos") as photos:
        if submitter.channel == "web" and submitter.client:
            anonymous_limits.take(submitter.client)
        attachments = uploads.store(photos)  # clean copies first: a stored submission never lacks its photos
        for _ in range(_RECEIPT_ATTEMPTS):
            receipt = rules.new_receipt(now)
            submission = Submission(
                receipt,
                form_id=form.id,
                kind=form.kind,
                section=section or form.section,
                status=first_status,
                channel=submitter.channel,
                language=submitter.language,
                created_at=now,
                created_key=store.created_key(now, receipt),
                updated_at=now,
                received_at=now if first_status == rules.RECEIVED else None,
                data=document,
                attachments=attachments,
                latitude=location.get("latitude"),
                longitude=location.get("longitude"),
                # Chosen on the form, else derived from the place (issue 10: LINE reports had none).
                area=document.get("area") or areas.locate(location),
                line_user_id=submitter.line_user_id,
                email=document.get("email"),
                secret_hash=rules.hash_secret(secret, rules.new_salt()),
                public_notes=[],
                entered_by=submitter.staff_id,
            )
            audit = store.Audit(
                submitter.actor.kind, submitter.staff_id, "created", now, to_status=first_status
            )
            if store.insert(submission, audit):
                break
        else:
            raise rule.Unavailable(Text("error.busy"), code="busy")
    _notify(receipt, "created", first_status, version=1, confirmed=submitter.confirmed)
    answer: dict[str, Any] = {
        "receipt": receipt,
        "status": first_status,
        "statusLabel": rules.status_labels(first_status),
        # In the language the submission is kept in (the request's), as GET /submissions/{r} says it.
        "statusText": messages.text(f"status.{first_status}", submitter.language),
        "accessSecret": secret,
        "statusUrl": f"/submissions/{receipt}",
        "fee": fee,
        "createdAt": rules.tokyo_iso(now),
    }
    if plan:
        answer["payment"] = {
            "amountYen": plan.amount_yen,
            "timing": plan.timing,
            "href": f"/submissions/{receipt}/payment",
        }
    return answer


def for_resident(
    receipt_text: str, secret: str | None, *, client: str = "unknown", line_user_id: str | None = None
) -> dict[str, Any]:
    """Status and public notes, for whoever holds the receipt number and its secret."""
    submission = resident_access(receipt_text, secret, client=client, line_user_id=line_user_id)
    return _public_view(submission)


def withdraw(
    receipt_text: str, secret: str | None, *, client: str = "unknown", line_user_id: str | None = None
) -> dict[str, Any]:
    submission = resident_access(receipt_text, secret, client=client, line_user_id=line_user_id)
    move(submission, rules.WITHDRAWN, actor=RESIDENT)
    withdrawn = store.get(submission.receipt)
    if withdrawn is None:  # erased in between: nothing left to show
        raise rule.NotFound(_NO_ACCESS, code="submission_not_found")
    return _public_view(withdrawn)


def move(
    submission: Submission,
    target: str,
    *,
    actor: rules.Actor,
    note: str | None = None,
    visibility: str | None = None,
    event: str = "status_changed",
) -> Submission:
    """Change the status, conditional on the version read; 409 if invalid or someone else got there first.

    `event` is what the resident is told (domain.notifications.EVENTS): a plain status change,
    or why the system made it (withdrawn_unpaid)."""
    now = datetime.now(UTC)
    current = submission.status
    try:
        entry = rules.AuditEntry.for_transition(
            current, target, actor=actor, at=now, note=note, visibility=visibility
        )
    except rules.InvalidTransition as error:
        kind = rule.Invalid if error.code == "unknown_status" else rule.Conflict
        # The moves this status allows the caller, so a client can offer them without a second read.
        allowed = sorted(rules.allowed_targets(current, actor.kind))
        raise kind(
            error.text, code="invalid_transition", details=[{"from": current, "allowed": allowed}]
        ) from None
    except rules.InvalidNote as error:  # only staff write notes
        raise rule.Invalid(error.staff_message, code="invalid_note") from None
    new_version = _next_version(submission)
    actions = [Submission.status.set(target), Submission.updated_at.set(now)]
    if current == rules.AWAITING_PAYMENT and target == rules.RECEIVED:
        actions.append(Submission.received_at.set(now))  # paid: staff's work from now
    if entry.note and entry.note_visibility == "public":
        public_note = {"at": rules.utc_iso(now), "status": target, "note": entry.note, "version": new_version}
        public = [*submission.public_notes, public_note]
        actions.append(Submission.public_notes.set(public))
    if target in rules.TERMINAL_STATUSES:  # its photos get the same retention (workers.notifications)
        actions.append(Submission.expires_at.set(now + timedelta(days=retention_days(submission.form_id))))
    audit = store.Audit(
        actor.kind, actor.id, "transition", now, current, target, entry.note, entry.note_visibility
    )
    try:
        store.update(submission, actions, audit)
    except store.StaleVersion:
        raise Changed() from None
    _notify(submission.receipt, event, target, version=new_version)
    from chalicelib.services import payments  # payments reads submissions: imported when used

    payments.end_if_unpayable(submission, target)
    return submission


def add_note(
    submission: Submission, *, actor: rules.Actor, note: str, visibility: str, pinned: bool = False
) -> Submission:
    """A staff note without a move, in any status. An internal one joins the trail; a public one
    is also shown to the resident and sent to them (the closing words after `completed`). It is
    not a move: the resident's answer stays "answered" and a request for information keeps its
    time. Unless the caller `pinned` the version it read, a note written meanwhile is no
    conflict: the note is added to the submission as it is now. Returns the submission as this
    note left it (its version the one the note wrote, not a later writer's)."""
    now = datetime.now(UTC)
    try:
        entry = rules.AuditEntry.note_added(actor, now, note, visibility)
    except rules.InvalidNote as error:
        raise rule.Invalid(error.staff_message, code="invalid_note") from None
    audit = store.Audit(
        actor.kind, actor.id, "note", now, note=entry.note, note_visibility=entry.note_visibility
    )
    if entry.note_visibility != "public":
        store.record(submission.receipt, audit)
        return submission
    for _ in range(NOTE_ATTEMPTS):
        new_version = _next_version(submission)
        public_note = {
            "at": rules.utc_iso(now),
            "status": submission.status,
            "note": entry.note,
            "version": new_version,
            "action": "note",
        }
        try:
            store.update(
                submission, [Submission.public_notes.set([*submission.public_notes, public_note])], audit
            )
        except store.StaleVersion:
            fresh = None if pinned else store.get(submission.receipt)
            if fresh is None:
                raise Changed() from None
            submission = fresh
            continue
        _notify(submission.receipt, NOTE_ADDED, submission.status, version=new_version)
        submission.public_notes = [*submission.public_notes, public_note]
        submission.version = new_version
        return submission
    raise Changed()


NOTE_ATTEMPTS = 10  # notes written at the same moment by several clerks: each is added in turn


def reissue_access_code(
    submission: Submission, *, actor: rules.Actor, identified_by: str, now: datetime
) -> str:
    """A new access code for a resident who lost theirs, identified by a clerk: the old one no
    longer opens the submission, the trail says who and how (never
    the code), and the contacts on file are told, so a code given to someone else by mistake
    does not go unnoticed. Returns the new code (for the clerk to give). Raises Changed."""
    secret = rules.new_access_secret()
    new_version = _next_version(submission)
    audit = store.Audit(
        actor.kind, actor.id, "access_code_reissued", now, note=identified_by, note_visibility="internal"
    )
    try:
        store.update(
            submission, [Submission.secret_hash.set(rules.hash_secret(secret, rules.new_salt()))], audit
        )
    except store.StaleVersion:
        raise Changed() from None
    _notify(submission.receipt, CODE_REISSUED, submission.status, version=new_version)
    logger.info("access code reissued")
    return secret


def hand_over(
    submission: Submission, *, actor: rules.Actor, to_section: str, note: str, now: datetime
) -> None:
    """Give the submission to another section, with why (audited, internal). Not a move: the
    resident is told nothing; the receiving section's digest names it, and a report marked
    dangerous alerts that section at once (workers.notifications). Raises Changed."""
    new_version = _next_version(submission)
    audit = store.Audit(
        actor.kind,
        actor.id,
        "handed_over",
        now,
        note=f"{submission.section} → {to_section}: {note}",
        note_visibility="internal",
    )
    actions = [Submission.section.set(to_section), Submission.handed_over_at.set(now)]
    try:
        store.update(submission, actions, audit)
    except store.StaleVersion:
        raise Changed() from None
    _notify(submission.receipt, HANDED_OVER, submission.status, version=new_version)


# One answer for a wrong code and an unknown receipt: neither may tell a stranger that a receipt
# exists.
_NO_ACCESS = Text("error.no_access")


def resident_access(
    receipt_text: str, secret: str | None, *, client: str = "unknown", line_user_id: str | None = None
) -> Submission:
    """The submission for the LINE user it belongs to (no code, no try), or for whoever holds
    its receipt and access code (`access_codes.check`: a limit per client), LINE user or not (a
    counter or phone submission opened inside LINE: an outside run was refused its right code)."""
    not_found = rule.NotFound(_NO_ACCESS, code="submission_not_found")
    receipt = rules.normalize_receipt(receipt_text)
    submission = store.get(receipt) if receipt else None
    if line_user_id is not None:
        if submission is not None and submission.line_user_id == line_user_id:
            return submission
        if not secret:
            raise not_found
    stored = submission.secret_hash if submission is not None else None
    if access_codes.check(receipt, stored, secret, client) and submission is not None:
        return submission
    raise not_found


def _public_view(submission: Submission) -> dict[str, Any]:
    notes = [
        rules.AuditEntry(
            who="-",
            actor_kind=rules.STAFF,
            at=datetime.fromisoformat(note["at"]),
            action="note",
            to_status=note["status"],
            note=note["note"],
            note_visibility="public",
        )
        for note in submission.public_notes
    ]
    return rules.public_view(
        receipt=submission.receipt,
        form_id=submission.form_id,
        status=submission.status,
        created_at=submission.created_at,
        updated_at=submission.updated_at,
        audit=notes,
    )


def _next_version(submission: Submission) -> int:
    """The version the write about to be made stores, for its notice: read before the write,
    which bumps it in memory (taken after, the notice claimed the next change's version)."""
    return (submission.version or 0) + 1


def _notify(receipt: str, event: str, status: str, *, version: int, confirmed: bool = False) -> None:
    """Queue the resident's notification (or, for a hand-over, the receiving section's alert);
    the worker decides LINE or email and sends it once.

    The change is already stored, so a queue failure must not fail the request (its retry
    would be refused or duplicated): it is logged and counted for an operator instead.
    """
    message = {"receipt": receipt, "event": event, "status": status, "version": version}
    if confirmed:
        message["confirmed"] = True
    if queues.send_all(NOTIFICATIONS, [(receipt, message)]):
        logger.error("notification not queued", extra={"receipt": receipt, "event": event})
        metrics.add_metric(name="NotificationsNotQueued", unit="Count", value=1)
