"""Staff use cases of announcements: compose, preview, submit, approve or reject, cancel, look.

Every function takes the authenticated StaffPrincipal. Announcements belong to the section of
the staff member who wrote them; another section's is refused (403) before anything of it is
shown. The rules (who may, which status to which) are chalicelib/domain/announcements.py; the
sending itself is services/fanout.py.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

from chalicelib.domain import announcements as rules
from chalicelib.domain import errors as rule
from chalicelib.domain.digits import whole_number
from chalicelib.domain.residents import LANGUAGES
from chalicelib.domain.staff import StaffPrincipal
from chalicelib.domain.submissions import tokyo_iso
from chalicelib.observability import logger
from chalicelib.services import fanout
from chalicelib.store import announcements as store
from chalicelib.store.models import Announcement, SendListEntry

DEFAULT_LIMIT = 20
MAX_LIMIT = 100

_NOT_FOUND = "このお知らせはありません。 / There is no announcement with this id."
_OTHER_SECTION = "このお知らせは他の課のものです。 / This announcement belongs to another section."


def _now() -> datetime:
    return datetime.now(UTC)


# --- reading ---------------------------------------------------------------------------------


def _load(principal: StaffPrincipal, announcement_id: str) -> Announcement:
    if not rules.ID_PATTERN.match(announcement_id):
        raise rule.NotFound(_NOT_FOUND, code="not_found")
    announcement = store.get(announcement_id)
    if announcement is None:
        raise rule.NotFound(_NOT_FOUND, code="not_found")
    if announcement.section != principal.section:
        raise rule.Forbidden(_OTHER_SECTION)
    return announcement


def check_access(principal: StaffPrincipal, announcement_id: str) -> None:
    """404 or 403 before anything else about a request is judged (its body included)."""
    _load(principal, announcement_id)


def show(principal: StaffPrincipal, announcement_id: str) -> dict[str, Any]:
    return view(_load(principal, announcement_id))


_LIST_PARAMETERS = ("limit", "cursor", "status")


def list_for_section(principal: StaffPrincipal, params: Mapping[str, list[str]]) -> dict[str, Any]:
    """The section's announcements, newest first; `status=pending_approval`: those waiting for a
    supervisor."""
    problems = []
    for name, values in params.items():
        if name not in _LIST_PARAMETERS:
            problems.append(
                {
                    "parameter": name,
                    "message": "使えない検索条件です（使えるもの: limit, cursor, status）。"
                    " / Unknown parameter; known ones are limit, cursor, status.",
                }
            )
        elif len(values) != 1:
            problems.append(
                {
                    "parameter": name,
                    "message": "この検索条件は1回だけ指定してください。 / Give this parameter once.",
                }
            )
    limit = DEFAULT_LIMIT
    if "limit" in params and len(params["limit"]) == 1:
        number = whole_number(params["limit"][0])
        if number is not None and 1 <= number <= MAX_LIMIT:
            limit = number
        else:
            problems.append(
                {
                    "parameter": "limit",
                    "message": f"1から{MAX_LIMIT}までの整数です。 / Use a whole number from 1 to {MAX_LIMIT}.",
                }
            )
    status = params["status"][0] if params.get("status") else None
    if status is not None and status not in rules.STATUSES:  # "?status=" too (a re-test)
        problems.append(
            {
                "parameter": "status",
                "message": f"状態は {', '.join(rules.STATUSES)} のどれかです。"
                f" / Use one of {', '.join(rules.STATUSES)}.",
            }
        )
    if problems:
        raise rule.Malformed(
            "検索条件が正しくありません。 / Some query parameters are not valid.",
            code="invalid_query",
            details=problems,
        )
    cursor = (params.get("cursor") or [""])[0] or None
    # InvalidCursor: 400
    items, next_cursor = store.list_for_section(principal.section, limit, cursor, status=status)
    return {"announcements": [summary(item) for item in items], "nextCursor": next_cursor}


def summary(announcement: Announcement) -> dict[str, Any]:
    return {
        "id": announcement.announcement_id,
        "status": announcement.status,
        "category": announcement.category,
        "topic": announcement.topic,
        "createdBy": announcement.created_by,
        "createdAt": _iso(announcement.created_at),
        "updatedAt": _iso(announcement.updated_at),
        "sendAt": _iso(announcement.send_at),
        "startAt": _iso(announcement.start_at),
        "reviewPending": bool(announcement.review_required) and announcement.reviewed_at is None,
        "href": f"/staff/announcements/{announcement.announcement_id}",
    }


def view(announcement: Announcement) -> dict[str, Any]:
    """Everything staff see of one announcement: content, approval trail, progress, per-language counts."""
    progress = store.progress(announcement.announcement_id) if announcement.started_at else None
    counts = fanout.counts(progress)
    by_language = {
        language: {_camel(kind): counts[kind].get(language, 0) for kind in rules.COUNTS}
        for language in LANGUAGES
    }
    return {
        **summary(announcement),
        "revision": int(announcement.revision),
        "editedBy": sorted(announcement.editors or {announcement.created_by}),
        "section": announcement.section,
        "content": announcement.content,
        "deferredUntil": _iso(announcement.deferred_until),
        "approval": {
            "required": announcement.approval_required,
            "recipientsAtSubmit": _int(announcement.recipients_at_submit),
            "submittedBy": announcement.submitted_by,
            "submittedAt": _iso(announcement.submitted_at),
            "approvedBy": announcement.approved_by,
            "approvedAt": _iso(announcement.approved_at),
            "rejectedBy": announcement.rejected_by,
            "rejectedAt": _iso(announcement.rejected_at),
            "rejectionReason": announcement.rejection_reason,
        },
        "review": {
            "required": bool(announcement.review_required),
            "reviewedBy": announcement.reviewed_by,
            "reviewedAt": _iso(announcement.reviewed_at),
            "note": announcement.review_note,
        },
        "cancelledBy": announcement.cancelled_by,
        "cancelledAt": _iso(announcement.cancelled_at),
        "startedAt": _iso(announcement.started_at),
        "finishedAt": _iso(announcement.finished_at),
        "counts": {_camel(kind): n for kind, n in rules.totals(counts).items()},
        "byLanguage": by_language,
        "progress": {
            "partitions": len(announcement.partitions or ()),
            "partitionsCollected": int(progress.partitions_collected or 0) if progress else 0,
            "chunks": int(progress.chunks_total or 0) if progress else 0,
            "chunksDone": int(progress.chunks_done or 0) if progress else 0,
            "assembled": bool(progress.assembled) if progress else False,
        },
        "lineRequestIds": sorted(store.request_ids(announcement.announcement_id)) if progress else [],
    }


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _iso(moment: datetime | None) -> str | None:
    """Tokyo time, as every staff answer gives it (staff read 08:00, not 23:00Z)."""
    return tokyo_iso(moment) if moment else None


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


# --- composing -------------------------------------------------------------------------------


def _content(principal: StaffPrincipal, body: Mapping[str, Any]) -> rules.Content:
    try:
        content = rules.content_from_document(body)
    except rules.InvalidAnnouncement as error:
        raise rule.Invalid(
            "お知らせの内容を確認してください。 / The announcement is not valid.",
            code="invalid_announcement",
            details=error.problems,
        ) from None
    _allowed(lambda: rules.check_target(principal.roles, content))
    return content


def _involved(announcement: Announcement) -> list[str]:
    """Who wrote or sent it for approval: none of them may approve or review it."""
    return [
        announcement.created_by,
        *(announcement.editors or ()),
        *([announcement.submitted_by] if announcement.submitted_by else []),
    ]


def _allowed(check: Any) -> None:
    try:
        check()
    except rules.NotAllowed as error:
        raise rule.Forbidden(error.reason) from None


def create(principal: StaffPrincipal, body: Mapping[str, Any]) -> dict[str, Any]:
    content = _content(principal, body)
    now = _now()
    document = content.to_document()
    while True:
        announcement_id = rules.new_id(now)
        announcement = Announcement(
            announcement_id,
            section=principal.section,
            status=rules.DRAFT,
            category=content.category,
            topic=content.topic,
            content=document,
            revision=1,
            created_by=principal.staff_id,
            editors={principal.staff_id},
            supervisor_draft=rules.is_supervisor(principal.roles),
            created_at=now,
            created_key=store.created_key(now, announcement_id),
            updated_at=now,
        )
        if store.insert(announcement):
            break
    logger.info("announcement drafted", extra={"announcement": announcement_id, "category": content.category})
    return view(announcement)


def replace(principal: StaffPrincipal, announcement_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
    """New content for a draft (or one waiting for approval, which goes back to draft)."""
    announcement = _load(principal, announcement_id)
    if announcement.status not in rules.EDITABLE_STATUSES:
        raise _conflict(announcement, "edit")
    content = _content(principal, body)
    now = _now()
    changed = store.update(
        announcement_id,
        [
            Announcement.content.set(content.to_document()),
            Announcement.category.set(content.category),
            Announcement.topic.set(content.topic) if content.topic else Announcement.topic.remove(),
            Announcement.status.set(rules.DRAFT),
            Announcement.revision.add(1),
            Announcement.updated_at.set(now),
            Announcement.editors.add({principal.staff_id}),
            Announcement.supervisor_draft.set(
                bool(announcement.supervisor_draft) and rules.is_supervisor(principal.roles)
            ),
            *_clear_approval(),
        ],
        _unchanged(announcement),
    )
    if not changed:
        raise _changed_meanwhile()
    return show(principal, announcement_id)


def _clear_approval() -> list[Any]:
    return [
        Announcement.approval_required.remove(),
        Announcement.recipients_at_submit.remove(),
        Announcement.submitted_by.remove(),
        Announcement.submitted_at.remove(),
        Announcement.send_at.remove(),
    ]


def _unchanged(announcement: Announcement) -> Any:
    return (Announcement.status == announcement.status) & (Announcement.revision == announcement.revision)


def _conflict(announcement: Announcement, action: str) -> rule.MadoguchiError:
    ja, en = _ACTIONS.get(action, (action, action))
    return rule.Conflict(
        f"この状態（{announcement.status}）のお知らせは{ja}できません。"
        f" / An announcement that is {announcement.status} cannot be {en}.",
        code="invalid_status",
        details=[{"status": announcement.status}],
    )


# What a refused action is called in the 409 (Japanese, English past participle).
_ACTIONS = {
    "edit": ("編集", "edited"),
    "submit": ("送信", "submitted"),
    "approve": ("承認", "approved"),
    "reject": ("差し戻し", "rejected"),
    "cancel": ("取り消し", "cancelled"),
}


def _changed_meanwhile() -> rule.MadoguchiError:
    return rule.Conflict(
        "お知らせが同時に変更されました。読み込み直してください。 / The announcement changed meanwhile; reload it and try again.",
        code="conflict",
    )


def _check_revision(announcement: Announcement, body: Mapping[str, Any]) -> None:
    given = body.get("revision")
    if given is not None and given != int(announcement.revision):
        raise rule.Conflict(
            "確認の後にお知らせが変更されました。読み込み直して確認してください。"
            " / The announcement changed since you looked at it; reload it and review it again.",
            code="conflict",
            details=[{"revision": int(announcement.revision)}],
        )


# --- preview ---------------------------------------------------------------------------------


def matching(content: rules.Content, *, consistent: bool = False) -> Iterator[tuple[str, SendListEntry]]:
    """(partition, entry) for every resident the announcement reaches now, by key queries only."""
    for partition in rules.partitions(content):
        for entry in fanout.members(partition, content.target, consistent=consistent):
            yield partition, entry


def preview(principal: StaffPrincipal, announcement_id: str) -> dict[str, Any]:
    """Who it would reach now, by language, area and age band, and what it costs of this month's
    LINE quota."""
    announcement = _load(principal, announcement_id)
    content = fanout.content_of(announcement)
    recipients = fanout.count_recipients(content)
    policy = fanout.policy()
    plan = rules.text_plan(content, recipients.by_language)
    reasons = rules.approval_reasons(
        recipients.total, content, policy, supervisor_draft=_supervisor_draft(announcement, principal)
    )
    return {
        "id": announcement_id,
        "recipients": recipients.total,
        "byLanguage": recipients.by_language,
        "byArea": recipients.by_area,
        # "*": residents who gave no age band, whom an age-targeted send reaches too (a walkthrough:
        # a supervisor could not see why a 30-39 send counted more than its 30-39 residents).
        "byAgeBand": recipients.by_age_band,
        # "vi: 312 residents, English text": which text each language's residents will read.
        "texts": [
            {"language": p.language, "residents": p.residents, "textLanguage": p.text_language, "own": p.own}
            for p in plan
        ],
        "warnings": rules.missing_text_warnings(plan),
        "lineRequests": rules.minimum_requests(recipients.by_language, policy.chunk_size),
        "quota": _quota(recipients.total),
        "approvalRequired": bool(reasons),
        "approvalReasons": [
            {"code": reason, "message": _APPROVAL_REASONS[reason].format(threshold=policy.approval_threshold)}
            for reason in reasons
        ],
        "approvalThreshold": policy.approval_threshold,
        "outsideAddresses": rules.untrusted_hosts(content, policy),
        "everyone": content.target.everyone,
        "notes": [
            "いまの配信リストで数えています。送信開始時に数え直します。"
            " / Counted from the send lists now; the send counts again when it starts.",
            *(
                [
                    "1日の上限は送信開始時に適用し、見送った人数はそのとき報告します。"
                    " / The frequency cap is applied when the send starts; what it holds back is reported then."
                ]
                if rules.counts_against_cap(content.category)
                else []
            ),
        ],
    }


_APPROVAL_REASONS = {
    rules.DRAFTED_BY_ANNOUNCER: "announcer が書いた緊急のお知らせです。 / An announcer wrote this emergency.",
    rules.EVERY_FOLLOWER: "友だち全員に届きます。 / It reaches every follower.",
    rules.OVER_THRESHOLD: "{threshold}人を超える人に届きます。 / It reaches more than {threshold} residents.",
    rules.OUTSIDE_ADDRESSES: "区のサイト以外のアドレスがあります（outsideAddresses）。"
    " / It has an address off the ward's sites (outsideAddresses).",
}


def _quota(messages: int) -> dict[str, Any]:
    """This send's cost (one message per recipient, however many bubbles) next to what is left."""
    from chalicelib.adapters.line_api import LineRejected, LineUnavailable, line_client

    try:
        quota = line_client().quota()
    except (LineRejected, LineUnavailable) as error:
        logger.warning("LINE quota not available", extra={"error": type(error).__name__})
        return {"messages": messages, "limit": None, "used": None, "remaining": None, "available": False}
    remaining = quota.remaining
    return {
        "messages": messages,
        "limit": quota.limit,
        "used": quota.used,
        "remaining": remaining,
        "available": True,
        "sufficient": remaining is None or messages <= remaining,
    }


# --- submit, approve, reject, cancel ---------------------------------------------------------


def submit(principal: StaffPrincipal, announcement_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
    """Ask to send now or at `sendAt`: straight to scheduled, or to a supervisor when approval is needed."""
    announcement = _load(principal, announcement_id)
    if announcement.status != rules.DRAFT:
        raise _conflict(announcement, "submit")
    _check_revision(announcement, body)
    now = _now()
    send_at, problem = rules.parse_send_at(body.get("sendAt"), now)
    if problem:
        raise rule.Invalid(
            "送信日時が正しくありません。 / The send time is not valid.",
            code="invalid_request",
            details=[{"pointer": "/sendAt", "message": problem}],
        )
    content = fanout.content_of(announcement)
    _allowed(lambda: rules.check_target(principal.roles, content))
    recipients = fanout.count_recipients(content).total
    approval = rules.needs_approval(
        recipients, content, fanout.policy(), supervisor_draft=_supervisor_draft(announcement, principal)
    )
    actions = [
        Announcement.submitted_by.set(principal.staff_id),
        Announcement.submitted_at.set(now),
        Announcement.approval_required.set(approval),
        Announcement.recipients_at_submit.set(recipients),
        Announcement.send_at.set(send_at) if send_at else Announcement.send_at.remove(),
        Announcement.revision.add(1),
        Announcement.updated_at.set(now),
        Announcement.rejected_by.remove(),
        Announcement.rejected_at.remove(),
        Announcement.rejection_reason.remove(),
    ]
    if approval:
        actions.append(Announcement.status.set(rules.PENDING_APPROVAL))
        if not store.update(announcement_id, actions, _unchanged(announcement)):
            raise _changed_meanwhile()
        logger.info(
            "announcement waits for approval",
            extra={"announcement": announcement_id, "recipients": recipients},
        )
        _audit_emergency(announcement, principal, "submitted", rules.PENDING_APPROVAL, now)
        return show(principal, announcement_id)
    if rules.needs_review(content.category, approval):
        actions += [
            Announcement.review_required.set(True),
            Announcement.review_section.set(announcement.section),
        ]
    start = rules.earliest_start(send_at or now, content.category, fanout.policy())
    if not store.update(
        announcement_id, actions + _schedule(start, send_at or now), _unchanged(announcement)
    ):
        raise _changed_meanwhile()
    _audit_emergency(announcement, principal, "submitted without approval", rules.SCHEDULED, now)
    _trigger(announcement_id, start, now)
    return show(principal, announcement_id)


def _supervisor_draft(announcement: Announcement, principal: StaffPrincipal) -> bool:
    """Only supervisors wrote it, and a supervisor sends it."""
    return bool(announcement.supervisor_draft) and rules.is_supervisor(principal.roles)


def _audit_emergency(
    announcement: Announcement, principal: StaffPrincipal, action: str, to_status: str | None, now: datetime
) -> None:
    fanout.audit_emergency(announcement, action, to_status, now, actor_id=principal.staff_id)


def review(principal: StaffPrincipal, announcement_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
    """A second supervisor looks at an emergency that went out without approval, and says so."""
    announcement = _load(principal, announcement_id)
    _allowed(
        lambda: rules.check_reviewer(
            staff_id=principal.staff_id,
            roles=principal.roles,
            section=principal.section,
            announcement_section=announcement.section,
            involved=_involved(announcement),
        )
    )
    if not announcement.review_required or announcement.reviewed_at is not None:
        raise rule.Conflict(
            "このお知らせに事後確認はありません（承認なしで送った緊急のお知らせだけにあります）。"
            " / This announcement has no review pending (only an emergency sent without approval has one).",
            code="no_review_pending",
        )
    now = _now()
    note = (body.get("reason") or "").strip()[: rules.MAX_REJECTION_CHARS] or None
    actions = [
        Announcement.reviewed_by.set(principal.staff_id),
        Announcement.reviewed_at.set(now),
        Announcement.review_section.remove(),
        Announcement.review_note.set(note) if note else Announcement.review_note.remove(),
    ]
    if not store.update(announcement_id, actions, Announcement.reviewed_at.does_not_exist()):
        raise _changed_meanwhile()
    _audit_emergency(announcement, principal, "reviewed", None, now)
    logger.info("emergency reviewed", extra={"announcement": announcement_id})
    return show(principal, announcement_id)


def approve(principal: StaffPrincipal, announcement_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
    announcement = _review(principal, announcement_id, body, "approve")
    now = _now()
    requested = announcement.send_at if announcement.send_at and announcement.send_at > now else now
    start = rules.earliest_start(requested, announcement.category, fanout.policy())
    actions = [
        Announcement.approved_by.set(principal.staff_id),
        Announcement.approved_at.set(now),
        Announcement.revision.add(1),
        Announcement.updated_at.set(now),
        *_schedule(start, requested),
    ]
    if not store.update(announcement_id, actions, _unchanged(announcement)):
        raise _changed_meanwhile()
    logger.info("announcement approved", extra={"announcement": announcement_id})
    _audit_emergency(announcement, principal, "approved", rules.SCHEDULED, now)
    _trigger(announcement_id, start, now)
    return show(principal, announcement_id)


def reject(principal: StaffPrincipal, announcement_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
    announcement = _review(principal, announcement_id, body, "reject")
    reason = (body.get("reason") or "").strip()
    if not reason:
        raise rule.Invalid(
            "直すべき点を書いてください。 / Say what should change.",
            code="invalid_request",
            details=[{"pointer": "/reason", "message": "理由を入力してください。 / A reason is required."}],
        )
    now = _now()
    actions = [
        Announcement.status.set(rules.DRAFT),
        Announcement.rejected_by.set(principal.staff_id),
        Announcement.rejected_at.set(now),
        Announcement.rejection_reason.set(reason[: rules.MAX_REJECTION_CHARS]),
        Announcement.revision.add(1),
        Announcement.updated_at.set(now),
        *_clear_approval(),
    ]
    if not store.update(announcement_id, actions, _unchanged(announcement)):
        raise _changed_meanwhile()
    return show(principal, announcement_id)


def _review(
    principal: StaffPrincipal, announcement_id: str, body: Mapping[str, Any], action: str
) -> Announcement:
    announcement = _load(principal, announcement_id)
    _allowed(
        lambda: rules.check_approver(
            staff_id=principal.staff_id,
            roles=principal.roles,
            section=principal.section,
            announcement_section=announcement.section,
            involved=_involved(announcement),
        )
    )
    if announcement.status != rules.PENDING_APPROVAL:
        raise _conflict(announcement, action)
    _check_revision(announcement, body)
    return announcement


def cancel(principal: StaffPrincipal, announcement_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
    """Stop it: nothing more starts. Chunks already handed to LINE are finished and counted."""
    announcement = _load(principal, announcement_id)
    if announcement.status == rules.CANCELLED:  # a retry, or cancelled meanwhile: done, as a booking's
        return view(announcement)
    if announcement.status not in rules.CANCELLABLE_STATUSES:
        raise _conflict(announcement, "cancel")
    now = _now()
    if not store.cancel(announcement_id, announcement.status, principal.staff_id, now, now + fanout.WATCHDOG):
        raise _changed_meanwhile()
    logger.info("announcement cancelled", extra={"announcement": announcement_id, "was": announcement.status})
    _audit_emergency(announcement, principal, "cancelled", rules.CANCELLED, now)
    if announcement.status == rules.SENDING:
        try:
            fanout.release(announcement_id, now=now)
        except Exception as error:  # noqa: BLE001 (the cancel holds; the minute job releases it)
            logger.warning("cancelled send not released yet", extra={"error": type(error).__name__})
    if announcement.status == rules.SCHEDULED:
        from chalicelib.adapters import scheduler

        try:
            scheduler.delete(fanout.schedule_name(announcement_id))
        except Exception as error:  # noqa: BLE001 (a schedule that fires finds it cancelled and stops)
            logger.warning("schedule not deleted", extra={"error": type(error).__name__})
    return show(principal, announcement_id)


def _schedule(start: datetime, requested: datetime) -> list[Any]:
    actions = [
        Announcement.status.set(rules.SCHEDULED),
        Announcement.start_at.set(start),
        *store.set_due(start),
    ]
    if start > requested:
        actions.append(Announcement.deferred_until.set(start))
    else:
        actions.append(Announcement.deferred_until.remove())
    return actions


def _trigger(announcement_id: str, start: datetime, now: datetime) -> None:
    """Start now (the plan queue), or at `start` (a one-time schedule); the minute job backs both up.

    A start even seconds ahead is scheduled: started early, it would miss the residents who join
    or change their language before the time the announcer chose."""
    if start <= now:
        if not fanout.enqueue_plan(announcement_id):
            logger.warning(
                "start not queued; the minute job will start it", extra={"announcement": announcement_id}
            )
    else:
        fanout.schedule_start(announcement_id, start)
