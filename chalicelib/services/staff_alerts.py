"""Sections told at once of what cannot wait for the next morning's digest: a report the
resident marked dangerous (the form's `urgentWhen` question). To the section's digest
addresses, once per report and section (when it arrives, and when another section hands it
over), with no personal data (domain/digest.render_urgent_alert)."""

from __future__ import annotations

from datetime import UTC, datetime

from chalicelib.adapters import email
from chalicelib.config import get_settings
from chalicelib.domain import digest as rendering
from chalicelib.domain import forms
from chalicelib.domain.forms import FormDefinition
from chalicelib.observability import logger, metrics
from chalicelib.services.resident_notice import EMAIL_LEASE
from chalicelib.store import inbox
from chalicelib.store.models import Submission


def alert_if_urgent(submission: Submission, form: FormDefinition | None) -> bool:
    """Email the submission's section if the resident said it is dangerous; True when sent now."""
    if form is None or not form.is_urgent(submission.data):
        return False
    # Once per section: one it is handed over to is alerted as the first one was.
    with inbox.once(
        f"urgent#{submission.receipt}#{submission.section}", datetime.now(UTC), EMAIL_LEASE
    ) as claim:
        if claim is inbox.Claim.DONE:
            return False
        section = forms.sections().get(submission.section) or {}
        recipients = section.get("digestRecipients") or []
        if not recipients:
            logger.warning("urgent report: its section has no address to alert")
            return False
        area = next(((a["ja"], a["en"]) for a in forms.areas() if a["id"] == submission.area), None)
        alert = rendering.render_urgent_alert(
            section_name=section.get("name") or {},
            receipt=submission.receipt,
            form_title=form.title,
            area=area,
            received_at=submission.created_at,
            console_url=get_settings().staff_console_url or None,
        )
        email.send(recipients, alert.subject, alert.text, alert.html)
    logger.info("urgent report alerted", extra={"section": submission.section})
    metrics.add_metric(name="UrgentReportAlerts", unit="Count", value=1)
    return True
