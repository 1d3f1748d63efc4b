"""A resident answers the ward's request for more information (needs_info -> in_review).

Used by the web/LIFF route (`POST /submissions/{receipt}/responses`) and the LINE
conversation (services/chat/answer.py). The answer is checked, its photos are cleaned and
stored like a form's, then one conditional transaction appends it to the submission, moves
the status and writes the audit entry. Staff find answered submissions with the list
filter `responded=true` and in the daily digest; the resident's confirmation is the answer
itself (the route's body, the chat's reply), so no notification is queued.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from chalicelib.domain import messages
from chalicelib.domain import responses as rules
from chalicelib.domain import submissions as lifecycle
from chalicelib.domain.errors import Conflict, NotFound
from chalicelib.domain.messages import Text
from chalicelib.observability import logger, metrics
from chalicelib.services import submissions as submission_service
from chalicelib.services import uploads
from chalicelib.store import submissions as store
from chalicelib.store.models import Submission

# A concurrent change (a staff note, a second tap) makes the write retry with a fresh read.
_ATTEMPTS = 3


def with_access_code(
    receipt_text: str, secret: str | None, *, client: str = "unknown", line_user_id: str | None = None
) -> Submission:
    """The submission for a receipt + access code, or for the LINE user it belongs to: the same
    checks, limits and answers as every resident route (services/submissions.resident_access)."""
    return submission_service.resident_access(receipt_text, secret, client=client, line_user_id=line_user_id)


def of_line_user(receipt_text: str, user_id: str) -> Submission:
    """The submission, if it was made from this resident's LINE account; NotFound otherwise."""
    receipt = lifecycle.normalize_receipt(receipt_text)
    submission = store.get(receipt) if receipt else None
    if submission is None or submission.line_user_id != user_id:
        # The same answer as for a wrong access code: whose receipt it is stays unsaid.
        raise NotFound(Text("respond.not_found"), code="submission_not_found")
    return submission


def not_waiting(submission: Submission) -> Conflict:
    status = Text(f"status.{submission.status}")
    message = Text("answer.not_waiting", receipt=submission.receipt, status=status)
    return Conflict(message, code="not_waiting_for_answer")


def respond(
    submission: Submission, text: object, upload_ids: Sequence[str], *, channel: str
) -> dict[str, Any]:
    """Append the answer and move the submission back to in_review; the resident's view of it."""
    answer = rules.check_answer(text, list(upload_ids))
    if submission.status != lifecycle.NEEDS_INFO:
        raise not_waiting(submission)
    with uploads.taken(list(answer.uploads), "/attachments") as photos:
        keys = uploads.store(photos)  # clean copies first: a stored answer never lacks its photos
        for attempt in range(1, _ATTEMPTS + 1):
            now = datetime.now(UTC)
            version = (submission.version or 0) + 1
            entry = rules.response_entry(now, answer.text, keys, channel, version)
            actions = [
                Submission.status.set(lifecycle.IN_REVIEW),
                Submission.updated_at.set(now),
                Submission.responded_at.set(now),
                Submission.responses.set([*(submission.responses or []), entry]),
            ]
            audit = store.Audit(
                lifecycle.RESIDENT,
                "resident",
                "responded",
                now,
                lifecycle.NEEDS_INFO,
                lifecycle.IN_REVIEW,
            )
            try:
                store.update(submission, actions, audit)
                break
            except store.StaleVersion:
                fresh = store.get(submission.receipt)
                if fresh is None or fresh.status != lifecycle.NEEDS_INFO or attempt == _ATTEMPTS:
                    raise not_waiting(fresh or submission) from None
                submission = fresh
    logger.info(
        "resident answered",
        extra={"receipt": submission.receipt, "channel": channel, "photos": len(keys)},
    )
    metrics.add_metric(name="ResidentResponses", unit="Count", value=1)
    updated = store.get(submission.receipt)
    assert updated is not None
    return view(updated)


def view(submission: Submission) -> dict[str, Any]:
    """What the resident sees: status and the thread (the ward's notes and their answers)."""
    language = submission.language or "ja"
    return {
        "receipt": submission.receipt,
        "status": submission.status,
        "statusLabel": lifecycle.status_labels(submission.status),
        "statusText": messages.text(f"status.{submission.status}", language),
        "waitingForAnswer": submission.status == lifecycle.NEEDS_INFO,
        "thread": rules.thread(submission.public_notes or [], submission.responses or []),
    }
