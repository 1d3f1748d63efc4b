"""Submissions: create, show to the resident, move through the lifecycle, list for staff.

Rules live in domain/ (forms, submissions); this module orders the I/O around them:
validate, store conditionally, audit in the same transaction, queue the notification.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from chalicelib.adapters import queues
from chalicelib.api.errors import ApiError
from chalicelib.domain import payments as payment_rules
from chalicelib.domain import submissions as rules
from chalicelib.domain.form_problems import explain
from chalicelib.domain.forms import FormDefinition, fee_for, get_form
from chalicelib.observability import logger, metrics
from chalicelib.resources import NOTIFICATIONS
from chalicelib.schemas import problems
from chalicelib.services import uploads
from chalicelib.store import attempts
from chalicelib.store import submissions as store
from chalicelib.store.models import Submission

CHANNELS_FOR_RESIDENTS = ("web", "line")
CHANNELS_FOR_STAFF = ("phone", "postal", "counter")
_RECEIPT_ATTEMPTS = 8


RESIDENT = rules.Actor(rules.RESIDENT, "resident")


@dataclass(frozen=True)
class Submitter:
    """Who hands the submission in: the resident themself, or staff entering it for them."""

    channel: str
    language: str
    line_user_id: str | None = None
    actor: rules.Actor = RESIDENT

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
        raise ApiError(422, "invalid_submission", "The body must be a JSON object.")
    found = problems(form.schema_name, document)
    if found:
        raise ApiError(
            422,
            "invalid_submission",
            "入力内容を確認してください。 / Please check your answers.",
            explain(found, form, submitter.language),
        )
    photos = uploads.prepare(document.get("photos", []), "/photos")
    attachments = uploads.store(photos)  # clean copies first: a stored submission never lacks its photos

    now = datetime.now(UTC)
    secret = rules.new_access_secret()
    location = document.get("location") or {}
    # A fee paid online first (domain/payments.py): the submission waits for it before `received`.
    fee = fee_for(form, document)
    plan = payment_rules.fee_plan(form.meta, document, fee)
    first_status = (
        rules.AWAITING_PAYMENT if plan and plan.timing == payment_rules.BEFORE_RECEIVED else rules.RECEIVED
    )
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
            data=document,
            attachments=attachments,
            latitude=location.get("latitude"),
            longitude=location.get("longitude"),
            area=document.get("area"),
            line_user_id=submitter.line_user_id,
            email=document.get("email"),
            secret_hash=rules.hash_secret(secret, rules.new_salt()),
            public_notes=[],
            entered_by=submitter.staff_id,
        )
        audit = store.Audit(submitter.actor.kind, submitter.staff_id, "created", now, to_status=first_status)
        if store.insert(submission, audit):
            break
    else:
        raise ApiError(503, "busy", "Please try again.")
    uploads.discard_originals(photos)
    _notify(receipt, "created", first_status, version=1)
    answer: dict[str, Any] = {
        "receipt": receipt,
        "status": first_status,
        "statusLabel": rules.STATUS_LABELS[first_status],
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


def for_resident(receipt_text: str, secret: str | None) -> dict[str, Any]:
    """Status and public notes, for whoever holds the receipt number and its secret."""
    submission = _resident_access(receipt_text, secret)
    return _public_view(submission)


def withdraw(receipt_text: str, secret: str | None) -> dict[str, Any]:
    submission = _resident_access(receipt_text, secret)
    move(submission, rules.WITHDRAWN, actor=RESIDENT)
    return _public_view(store.get(submission.receipt))


def move(
    submission: Submission,
    target: str,
    *,
    actor: rules.Actor,
    note: str | None = None,
    visibility: str | None = None,
) -> Submission:
    """Change the status, conditional on the version read; 409 if invalid or someone else got there first."""
    now = datetime.now(UTC)
    current = submission.status
    try:
        entry = rules.AuditEntry.for_transition(
            current, target, actor=actor, at=now, note=note, visibility=visibility
        )
    except rules.InvalidTransition as error:
        status = 422 if error.code == "unknown_status" else 409
        raise ApiError(status, "invalid_transition", " / ".join(error.message.values())) from None
    except rules.InvalidNote as error:
        raise ApiError(422, "invalid_note", " / ".join(error.message.values())) from None
    new_version = (submission.version or 0) + 1
    actions = [Submission.status.set(target), Submission.updated_at.set(now)]
    if entry.note and entry.note_visibility == "public":
        note = {"at": rules.utc_iso(now), "status": target, "note": entry.note, "version": new_version}
        public = [*submission.public_notes, note]
        actions.append(Submission.public_notes.set(public))
    if target in rules.TERMINAL_STATUSES:
        form = get_form(submission.form_id)
        retention = timedelta(days=form.retention_days if form else 365)
        actions.append(Submission.expires_at.set(now + retention))
    audit = store.Audit(
        actor.kind, actor.id, "transition", now, current, target, entry.note, entry.note_visibility
    )
    try:
        store.update(submission, actions, audit)
    except store.StaleVersion:
        raise ApiError(
            409, "conflict", "Someone changed this submission at the same time; reload and try again."
        ) from None
    _notify(submission.receipt, "status_changed", target, version=new_version)
    return submission


# Receipt + access code is the credential; a receipt may be guessed, so its code may not be:
# after this many wrong codes in the window, that receipt refuses every code until it ends.
MAX_WRONG_CODES = 10
WRONG_CODE_WINDOW = timedelta(hours=1)


def _resident_access(receipt_text: str, secret: str | None) -> Submission:
    receipt = rules.normalize_receipt(receipt_text)
    submission = store.get(receipt) if receipt else None
    not_found = ApiError(
        404,
        "submission_not_found",
        "受付番号または確認コードが違います。 / The receipt number or access code is wrong.",
    )
    if submission is None:
        raise not_found
    now = datetime.now(UTC)
    subject = f"access-code#{submission.receipt}"
    if attempts.failures(subject, now, WRONG_CODE_WINDOW) >= MAX_WRONG_CODES:
        raise ApiError(
            429,
            "too_many_attempts",
            "確認コードの誤りが続いたため、しばらくお待ちください。 / Too many wrong codes; please wait and try again.",
            headers={"Retry-After": str(int(WRONG_CODE_WINDOW.total_seconds()))},
        )
    # One answer for "no such receipt" and "wrong code": the pair is the credential.
    if not secret or not rules.verify_secret(secret, submission.secret_hash):
        attempts.add_failure(subject, now, WRONG_CODE_WINDOW)
        raise not_found
    return submission


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


def _notify(receipt: str, event: str, status: str, *, version: int) -> None:
    """Queue the resident's notification; the worker decides LINE or email and sends it once.

    The change is already stored, so a queue failure must not fail the request (its retry
    would be refused or duplicated): it is logged and counted for an operator instead.
    """
    message = {"receipt": receipt, "event": event, "status": status, "version": version}
    if queues.send_all(NOTIFICATIONS, [(receipt, message)]):
        logger.error("notification not queued", extra={"receipt": receipt, "event": event})
        metrics.add_metric(name="NotificationsNotQueued", unit="Count", value=1)
