"""The daily digest job: one email per section with what arrived, what is overdue, reports by area.

Runs on weekday mornings (08:30 Tokyo). Each section is claimed in the once-only ledger
under `digest#<section>#<Tokyo date>`, so a second run the same day (an EventBridge retry,
an operator firing it by hand) sends nothing, and a run that failed for one section retries
only that one. "New" means created since the time the previous digest covered up to
(`store.last_digest_at`; the last 24 hours before the first digest), so nothing that
arrives over a weekend or a holiday is missed. A section with nothing new and nothing
overdue gets no email but still counts as done for the day.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from chalicelib.adapters import email
from chalicelib.config import get_settings
from chalicelib.domain import digest as rendering
from chalicelib.domain import forms
from chalicelib.domain.submissions import OPEN_STATUSES, TOKYO, business_days_waiting, is_overdue
from chalicelib.observability import invocation, logger, metrics
from chalicelib.store import inbox
from chalicelib.store import submissions as store
from chalicelib.store.models import Submission

# Long enough for the slowest section's queries and the send; a crashed run's claim frees after it.
LEASE = timedelta(minutes=10)
FIRST_DIGEST_LOOKBACK = timedelta(hours=24)
SKIPPED = "skipped"
UNKNOWN_AREA = "地域の指定なし"


class DigestFailed(Exception):
    """At least one section's digest failed; a rerun (EventBridge retries) sends only those."""


def run(now: datetime | str | None = None) -> dict[str, int | str]:
    """Send today's digests. Returns, per section id, the number of new submissions reported
    (0 when there was nothing to send) or "skipped" when today's digest was already sent
    (or is being sent by another run right now).

    `now` may be the schedule event's ISO time ("2026-11-25T23:30:00Z").
    """
    if isinstance(now, str):
        now = datetime.fromisoformat(now.replace("Z", "+00:00"))
    now = (now or datetime.now(UTC)).astimezone(UTC)
    day = now.astimezone(TOKYO).date()
    results: dict[str, int | str] = {}
    failed: list[str] = []
    for section_id, section in forms.sections().items():
        if not section.get("digestRecipients"):
            continue
        key = f"digest#{section_id}#{day.isoformat()}"
        with invocation(key, section=section_id):
            try:
                results[section_id] = _run_section(key, section_id, section, now)
            except Exception as error:
                logger.error("digest failed; a rerun will retry it", extra={"error": type(error).__name__})
                metrics.add_metric(name="DigestsFailed", unit="Count", value=1)
                failed.append(section_id)
    if failed:
        raise DigestFailed(f"digest failed for {', '.join(failed)}")
    return results


def _run_section(key: str, section_id: str, section: dict[str, Any], now: datetime) -> int | str:
    claim = inbox.claim(key, now, LEASE)
    if claim is not inbox.Claim.CLAIMED:
        logger.info(
            "digest already sent today" if claim is inbox.Claim.DONE else "digest being sent elsewhere"
        )
        return SKIPPED
    try:
        since = store.last_digest_at(section_id) or now - FIRST_DIGEST_LOOKBACK
        new = [
            item
            for item in store.iterate_index(Submission.by_section, section_id, since=since, until=now)
            if since <= item.created_at < now
        ]
        overdue = _overdue(section_id, now)
        new_by_form = _new_by_form(section_id, new)
        if rendering.is_empty(new_by_form=new_by_form, overdue=overdue):
            logger.info("nothing new and nothing overdue; no digest email")
        else:
            message = rendering.render_digest(
                section_name=section["name"],
                day=now.astimezone(TOKYO).date(),
                new_by_form=new_by_form,
                overdue=overdue,
                reports_by_area=_reports_by_area(new),
                staff_api_base=get_settings().staff_api_base,
            )
            text, page = _with_payment_totals(message.text, message.html, section_id, now)
            email.send(section["digestRecipients"], message.subject, text, page)
            logger.info("digest sent", extra={"new": len(new), "overdue": len(overdue)})
            metrics.add_metric(name="DigestsSent", unit="Count", value=1)
    except Exception:
        inbox.release(key)
        raise
    # Done for the day first: should the mark below fail, tomorrow repeats a day, nothing is lost.
    inbox.mark_processed(key, datetime.now(UTC))
    # Never backwards: a run with a lagging clock must not make the next digest repeat a day.
    store.record_digest(section_id, max(now, since))
    return len(new)


def _new_by_form(section_id: str, new: Iterable[Submission]) -> list[tuple[str, str, int]]:
    """(title ja, title en, count) for every form of the section, most submissions first."""
    counts = Counter(item.form_id for item in new)
    known = {form.id: form for form in forms.catalogue() if form.section == section_id}
    rows = [(form.title["ja"], form.title["en"], counts.pop(form.id, 0)) for form in known.values()]
    # A form taken out of the catalogue still has submissions waiting: list it by its id.
    rows += [(form_id, form_id, count) for form_id, count in counts.items()]
    return sorted(rows, key=lambda row: -row[2])


def _overdue(section_id: str, now: datetime) -> list[tuple[str, str, int]]:
    """(receipt, form title ja, business days waiting) of the section's open submissions past target."""
    found = []
    open_items = store.iterate_index(
        Submission.by_section, section_id, filter_condition=Submission.status.is_in(*sorted(OPEN_STATUSES))
    )
    for item in open_items:
        form = forms.get_form(item.form_id)
        target = form.target_days if form else None
        if is_overdue(item.created_at, item.status, target, now):
            title = form.title["ja"] if form else item.form_id
            found.append((item.receipt, title, business_days_waiting(item.created_at, now)))
    return found


def _reports_by_area(new: Iterable[Submission]) -> list[tuple[str, int]]:
    """(町 name, count) of the new reports, in the ward's gojuon order; no area given comes last."""
    counts = Counter(item.area for item in new if item.kind == "report")
    rows = [(area["ja"], counts.pop(area["id"], 0)) for area in forms.areas()]
    unknown = sum(counts.values())
    if unknown:
        rows.append((UNKNOWN_AREA, unknown))
    return [row for row in rows if row[1]]


def _with_payment_totals(text: str, page: str, section_id: str, now: datetime) -> tuple[str, str]:
    """The section's fees received the day before, from the nightly reconciliation (issue 13)."""
    import html

    from chalicelib.services import payment_reconciliation

    day = (now.astimezone(TOKYO) - timedelta(days=1)).date().isoformat()
    totals = payment_reconciliation.day_totals(day, section_id)
    if not totals:
        return text, page
    line = (
        f"■ 手数料の収納（{day}）: {totals['count']}件 {totals['amountYen']:,}円"
        f" / Fees received ({day}): {totals['count']}, {totals['amountYen']:,} yen"
    )
    return text + "\n" + line + "\n", page.replace("</body>", f"<p>{html.escape(line)}</p></body>", 1)
