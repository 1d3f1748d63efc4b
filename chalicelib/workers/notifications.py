"""Worker for the notifications queue: tell a resident their submission was received or moved.

One record is `{"receipt", "event", "status", "version"}`. SQS delivers at least once, so
each (receipt, version) is claimed in the inbox ledger and skipped once done. The email goes
first, under a claim of its own (SES has no retry key), so a LINE outage that fails the record
neither holds it back nor sends it twice; the LINE push carries a retry key derived from the
receipt and version, so a retry after a later failure is absorbed by LINE (409: already
accepted). Failures are reported per record so one bad message does not replay the batch.
How each try fared per channel is recorded on the submission for its clerk (domain/notice_delivery):
delivered, still being tried, or failed (LINE refused it, or SQS's last try failed and the message
goes to the dead-letter queue); a delivery is final, so a retry or a moved-back message never
counts twice. The same queue carries the section's news of a report marked dangerous (services/staff_alerts):
on `created`, before the resident is told, and on `handed_over`, for the section it went to.

Logs carry the receipt (the correlation id), the event and the status, never the resident's
contact details or the text of a note; exceptions are logged by class name only, because
the messages of SDK errors can quote an address or a user id.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from chalicelib.adapters import email
from chalicelib.adapters.line_api import retry_key_for
from chalicelib.config import get_settings
from chalicelib.domain import notice_delivery as delivery
from chalicelib.domain import notifications as messages
from chalicelib.domain.forms import get_form, retention_days
from chalicelib.domain.submissions import RECEIPT_PATTERN, STATUSES, TERMINAL_STATUSES
from chalicelib.observability import logger, metrics
from chalicelib.resources import NOTIFICATIONS
from chalicelib.services import payment_withdrawals, resident_notice, staff_alerts
from chalicelib.store import inbox
from chalicelib.store import submissions as store
from chalicelib.workers.batches import BatchResponse, Message, Record, last_try, partial_batch

# A worker holds a notification no longer than the queue hides a message from other workers.
LEASE = timedelta(seconds=NOTIFICATIONS.visibility_timeout)


@dataclass(frozen=True)
class NotificationMessage:
    receipt: str
    event: str
    status: str
    version: int
    # The resident was already told in the chat (a LINE report, a hand-off): no second LINE message.
    confirmed: bool = False
    # This is SQS's last try: a failure now parks the message in the dead-letter queue.
    last_try: bool = False

    @classmethod
    def from_raw(cls, raw: Any, *, last_try: bool = False) -> NotificationMessage:
        """The queued message, checked; ValueError for anything services.submissions never queues."""
        if not isinstance(raw, dict):
            raise ValueError("a notification message is a JSON object")
        receipt, event, status, version = (raw.get(k) for k in ("receipt", "event", "status", "version"))
        if not isinstance(receipt, str) or not RECEIPT_PATTERN.fullmatch(receipt):
            raise ValueError("receipt")
        if event not in messages.EVENTS:
            raise ValueError("event")
        if status not in STATUSES:
            raise ValueError("status")
        if isinstance(version, bool) or not isinstance(version, int) or version < 1:
            raise ValueError("version")
        return cls(receipt, event, status, version, raw.get("confirmed") is True, last_try)

    @property
    def ledger_key(self) -> str:
        return f"notify#{self.receipt}#{self.version}"


# The events that close a submission: its photos' retention starts with its own (a note or a
# new access code on a closed one must not restart it, or the photos outlive the submission).
CLOSING_EVENTS = (messages.STATUS_CHANGED, messages.WITHDRAWN_UNPAID)


def handle_batch(records: Iterable[Record]) -> BatchResponse:
    """Process an SQS batch; answers Lambda's partial-batch-failure shape."""
    return partial_batch(records, _read, process, kind="notification", failed_metric="NotificationsFailed")


def _read(record: Record) -> Message[NotificationMessage]:
    # Only services.submissions queues here: one that does not read is a bug (the DLQ).
    message = NotificationMessage.from_raw(json.loads(record["body"]), last_try=last_try(record))
    keys = {"notification_event": message.event, "status": message.status, "version": message.version}
    return Message(message, message.receipt, keys)


def process(message: NotificationMessage) -> None:
    # Busy fails this record: SQS hands it out again after the lease, when it will be done.
    with inbox.once(message.ledger_key, datetime.now(UTC), LEASE) as claim:
        if claim is inbox.Claim.DONE:
            logger.info("notification already sent")
            return
        deliver(message)


def deliver(message: NotificationMessage) -> list[str]:
    """Send the notification on every channel the resident gave us; returns the channels used."""
    submission = store.get(message.receipt)
    if submission is None:
        # Deleted at the end of its retention period (or never stored): nobody to tell.
        logger.warning("submission not found; nothing to notify")
        return []
    form = get_form(submission.form_id)
    if message.event == messages.HANDED_OVER:  # news for the receiving section, not the resident
        if submission.status not in TERMINAL_STATUSES:
            staff_alerts.alert_if_urgent(submission, form)
        return []
    # Every step is inside the record of how the notice fared: one that fails on SQS's last try
    # (the photos' retention, building the message) reads "failed", never "still being tried".
    outcomes = _Outcomes(message, submission)
    if not submission.email and not submission.line_user_id:  # known now, whatever fails next
        outcomes.failed(delivery.NO_CONTACT, delivery.UNREACHABLE)
    try:
        return _deliver(message, submission, form, outcomes)
    except Exception:
        outcomes.interrupted()
        raise


def _deliver(message: NotificationMessage, submission: Any, form: Any, outcomes: _Outcomes) -> list[str]:
    if message.status in TERMINAL_STATUSES and message.event in CLOSING_EVENTS:
        _start_photo_retention(submission)  # first: a failed send retries it with the rest
    # The section, at once, of a report marked dangerous: first, and on its own claim, so a LINE
    # or SES failure on the resident's side cannot hold it back; its own failure is raised only
    # after the resident's notice went (the retry then sends the alert alone).
    alert_failed: Exception | None = None
    if message.event == messages.CREATED:
        try:
            staff_alerts.alert_if_urgent(submission, form)
        except Exception as error:  # noqa: BLE001 (raised again below)
            alert_failed = error
    title = messages.form_titles(submission.form_id, form.title if form else None)
    public_note = messages.public_note_for(
        submission.public_notes or [], event=message.event, status=message.status, version=message.version
    )
    days = payment_withdrawals.days_to_pay(form) if message.event == messages.WITHDRAWN_UNPAID else None
    fee = _payable_fee(submission, message.status)
    settings = get_settings()
    notification = messages.build(
        event=message.event,
        status=message.status,
        form_title=title,
        receipt=message.receipt,
        public_note=public_note,
        language=submission.language,
        form_id=submission.form_id,
        days=days,
        fee_due=_fee_due(submission, form, fee) if fee else None,
        status_url=settings.web_page("/status", submission.language),
    )
    channels: list[str] = []
    if submission.email:
        resident_notice.email_once(
            f"{message.ledger_key}#email",
            lambda: email.send(
                [submission.email], notification.subject, notification.text, notification.html
            ),
        )
        channels.append("email")
        outcomes.delivered(delivery.EMAIL)
    if submission.line_user_id and message.confirmed and message.event == messages.CREATED:
        channels.append("chat")  # told in the chat's own reply: no second message
        outcomes.delivered(delivery.LINE)
    elif submission.line_user_id:
        if _push(submission, message, public_note, days, fee):
            channels.append("line")
            outcomes.delivered(delivery.LINE)
        else:
            outcomes.failed(delivery.LINE, delivery.REFUSED)
    if channels:
        logger.info("resident notified", extra={"channels": channels, "language": notification.language})
        metrics.add_metric(name="NotificationsSent", unit="Count", value=1)
    else:
        logger.info("no contact to notify", extra={"channel": submission.channel})
    if alert_failed is not None:
        raise alert_failed
    return channels


def _push(
    submission: Any, message: NotificationMessage, public_note: str | None, days: Any, fee: Any
) -> bool:
    """The LINE push with its retry key; False when LINE refused it or the resident unfollowed."""
    settings = get_settings()
    return resident_notice.push(
        submission.line_user_id,
        _with_answer_button(
            messages.line_messages(
                event=message.event,
                status=message.status,
                form_id=submission.form_id,
                receipt=message.receipt,
                public_note=public_note,
                language=submission.language,
                pay_url=settings.liff_link(f"/payments/{submission.receipt}", submission.language)
                if fee
                else None,
                days=days,
            ),
            message,
            submission.language,
        ),
        retry_key_for(message.receipt, str(message.version), "notify"),
        what="notification push",
        refused_metric="NotificationsRefusedByLine",
    )


class _Outcomes:
    """How this try of one notice fared per channel, recorded on the submission for its clerk."""

    def __init__(self, message: NotificationMessage, submission: Any) -> None:
        self.message = message
        self.receipt = submission.receipt
        self.first = submission.resident_notices is None
        self.planned = [
            channel
            for channel, given in (
                (delivery.EMAIL, submission.email),
                (delivery.LINE, submission.line_user_id),
            )
            if given
        ]
        self.settled: set[str] = set()

    def delivered(self, channel: str) -> None:
        self._record(channel, delivery.DELIVERED)

    def failed(self, channel: str, reason: str) -> None:
        self._record(channel, delivery.FAILED, reason)

    def interrupted(self) -> None:
        """The try failed: each channel it did not settle is tried again, or, on SQS's last try,
        has failed for good (a failed email holds the push back with it)."""
        unsettled = [channel for channel in self.planned if channel not in self.settled]
        for channel in unsettled:
            if self.message.last_try:
                self.failed(channel, delivery.DEAD_LETTER)
            else:
                self._record(channel, delivery.SENDING)
        if unsettled and self.message.last_try:
            logger.warning("resident notice given up", extra={"channels": unsettled})
            metrics.add_metric(name="ResidentNoticesFailed", unit="Count", value=1)

    def _record(self, channel: str, state: str, reason: str | None = None) -> None:
        outcome = delivery.outcome(self.message.event, self.message.status, state, datetime.now(UTC), reason)
        key = delivery.key(self.message.version, channel)
        store.record_notice(self.receipt, key, outcome, first=self.first)
        self.first = False
        self.settled.add(channel)


def _start_photo_retention(submission: Any) -> None:
    """A closed submission's photos (the form's and the resident's answers') are deleted with it:
    their retention, the submission's TTL, starts now (services.uploads.expire_after)."""
    from chalicelib.services import uploads

    keys = [*(submission.attachments or [])]
    keys += [key for entry in submission.responses or [] for key in entry.get("attachments", [])]
    if keys:
        kept = uploads.expire_after(keys, retention_days(submission.form_id))
        logger.info("photo retention started", extra={"photos": kept})


def _with_answer_button(
    pushed: list[dict[str, Any]], message: NotificationMessage, language: str
) -> list[dict[str, Any]]:
    """A request for information carries the "Answer" button that starts the answer in the chat."""
    from chalicelib.domain import chat, postbacks
    from chalicelib.domain import messages as catalogue
    from chalicelib.domain.submissions import NEEDS_INFO

    if message.event != messages.STATUS_CHANGED or message.status != NEEDS_INFO:
        return pushed
    data = postbacks.sign(get_settings().line_channel_secret, "answer.start", message.receipt)
    last = dict(pushed[-1])
    last["text"] = f"{last['text']}\n\n{catalogue.text('notify.answer_hint', language)}"
    last["quickReply"] = {"items": [chat.postback_item(catalogue.text("button.answer", language), data)]}
    return [*pushed[:-1], last]


def _payable_fee(submission: Any, status: str) -> Any:
    """The form's fee plan when this status makes the fee payable (issue 13), else None."""
    from chalicelib.domain import payments as rules
    from chalicelib.services import payments

    found = payments.plan_for(submission)
    return found[1] if found is not None and rules.payable(found[1], status) else None


def _fee_due(submission: Any, form: Any, plan: Any) -> messages.FeeDue:
    """What the email says of a payable fee: the amount, the web payment page (an email is read
    outside LINE) and, for a fee paid before the submission is received, its days to pay."""
    from chalicelib.domain import payments

    pays_first = plan.timing == payments.BEFORE_RECEIVED
    return messages.FeeDue(
        plan.amount_yen,
        get_settings().web_page(f"/payments/{submission.receipt}", submission.language),
        payment_withdrawals.days_to_pay(form) if pays_first else None,
    )
