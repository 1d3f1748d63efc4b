"""The reminder job: one reminder to a resident who has not answered a request for information.

Runs on weekday mornings. A submission that has waited in needs_info for more business days
than its form's target, and whose resident was not yet reminded of this request, gets one
message in their language: an email when they gave an address, then a LINE push with the
"Answer" button when it came from LINE (services.resident_notice: the email under its own claim,
the push with a retry key). Each (receipt, request) is claimed in the once-only ledger while it
is sent and marked on the submission after, so a rerun reminds no one twice. A failed reminder
is released for the next run and the run ends in `RemindersFailed` (run()).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from chalicelib.adapters import email
from chalicelib.adapters.line_api import LineUnavailable, retry_key_for
from chalicelib.config import get_settings
from chalicelib.domain import chat, forms, messages, notifications, postbacks
from chalicelib.domain import responses as rules
from chalicelib.domain.submissions import NEEDS_INFO
from chalicelib.domain.ward import one_line
from chalicelib.observability import invocation, logger, metrics
from chalicelib.services import resident_notice
from chalicelib.store import inbox, residents
from chalicelib.store import submissions as store
from chalicelib.store.conditions import conditional
from chalicelib.store.models import Submission
from chalicelib.workers import scheduled_time

LEASE = timedelta(minutes=5)


class RemindersFailed(Exception):
    """Some reminders failed (LINE or SES down); the others went, and the next run retries these."""


class _LineDown(Exception):
    """LINE failed earlier in this run: later pushes wait for the next run, rather than each
    spend LINE's retries (the run's time) on an outage."""


def run(now: datetime | str | None = None) -> dict[str, int]:
    """Send the reminders that are due; returns how many went out, per section (0 included).
    One resident's failure (LINE down) stops no one else's: it is counted, and raised at the end
    so the invocation reports it (Lambda retries it twice); its claim is released, so a later run
    sends it. Once LINE has failed, the run's other LINE residents get their email now and their
    push from a later run."""
    now = scheduled_time(now)
    sent: dict[str, int] = {}
    failed = deferred = 0
    line_down = False
    for section_id in forms.sections():
        waiting = store.iterate_index(
            Submission.by_section, section_id, filter_condition=Submission.status == NEEDS_INFO
        )
        count = 0
        for submission in waiting:
            form = forms.get_form(submission.form_id)
            due = rules.reminder_due(
                submission.status,
                submission.public_notes or [],
                submission.reminded_for,
                form.target_days if form else None,
                now,
            )
            if due is None:
                continue
            with invocation(submission.receipt, job="needs-info-reminders"):
                try:
                    if _remind(submission, due, now, line_down=line_down):
                        count += 1
                except _LineDown:
                    logger.warning(
                        "reminder's push deferred to the next run: LINE failed earlier in this run"
                    )
                    metrics.add_metric(name="RemindersDeferred", unit="Count", value=1)
                    deferred += 1
                except Exception as error:  # noqa: BLE001 (raised as RemindersFailed below)
                    line_down = line_down or isinstance(error, LineUnavailable)
                    logger.error(
                        "reminder failed; the next run retries it", extra={"error": type(error).__name__}
                    )
                    metrics.add_metric(name="RemindersFailed", unit="Count", value=1)
                    failed += 1
        sent[section_id] = count
    if failed or deferred:
        raise RemindersFailed(
            f"{failed} reminders failed, {deferred} pushes deferred; sent {sum(sent.values())}"
        )
    return sent


def _remind(submission: Submission, asked_at: str, now: datetime, *, line_down: bool = False) -> bool:
    # Busy: another run is reminding right now; this one leaves it to that run.
    with inbox.once(f"remind#{submission.receipt}#{asked_at}", now, LEASE, raise_if_busy=False) as claim:
        if claim is not inbox.Claim.CLAIMED:
            return False
        channels = _send(submission, asked_at, line_down=line_down)
    # For staff and for the next run's filter; the ledger already keeps it to once.
    with conditional():
        submission.update(actions=[Submission.reminded_for.set(asked_at)])
    logger.info("resident reminded", extra={"channels": channels})
    metrics.add_metric(name="NeedsInfoReminders", unit="Count", value=1)
    return bool(channels)


def _send(submission: Submission, asked_at: str, *, line_down: bool = False) -> list[str]:
    language = submission.language or "ja"
    title_key = f"form.{submission.form_id}"
    title = messages.text(title_key, language) if title_key in messages.catalogue() else submission.form_id
    text = messages.text("remind.text", language, title=one_line(title), receipt=submission.receipt)
    channels = []
    if submission.email:
        # As every status email is: the ward's question again, and the status page to answer on.
        form = forms.get_form(submission.form_id)
        reminder = notifications.build(
            event=notifications.REMINDED,
            status=NEEDS_INFO,
            form_title=notifications.form_titles(submission.form_id, form.title if form else None),
            receipt=submission.receipt,
            public_note=next(
                (note["note"] for note in submission.public_notes or [] if note.get("at") == asked_at), None
            ),
            language=language,
            status_url=get_settings().web_page("/status", language),
        )
        resident_notice.email_once(
            f"remind#{submission.receipt}#{asked_at}#email",
            lambda: email.send([submission.email], reminder.subject, reminder.text, reminder.html),
        )
        channels.append("email")
    if submission.line_user_id:
        if line_down and not residents.unfollowed(submission.line_user_id):
            raise _LineDown()  # the email went; the claim is released for the push
        data = postbacks.sign(get_settings().line_channel_secret, "answer.start", submission.receipt)
        button = chat.postback_item(messages.text("button.answer", language), data)
        if resident_notice.push(
            submission.line_user_id,
            [chat.text_message(text, [button])],
            retry_key_for(submission.receipt, asked_at, "remind"),
            what="reminder",
        ):
            channels.append("line")
    return channels
