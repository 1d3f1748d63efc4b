"""The daily digest job: one email per section with what arrived, what is overdue, reports by area.

Runs on weekday mornings (08:30 Tokyo). Each section is claimed in the once-only ledger
under `digest#<section>#<Tokyo date>`, so a second run the same day (an EventBridge retry,
an operator firing it by hand) sends nothing, and a run that failed for one section retries
only that one. "New" means created since the time the previous digest covered up to (the
section's cut-off, `store.digests`; the last 24 hours before the first digest), so nothing
that arrives over a weekend or a holiday is missed. A section with nothing new and nothing
overdue gets no email but still counts as done for the day.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from typing import Any

from chalicelib.adapters import email
from chalicelib.config import get_settings
from chalicelib.domain import digest as rendering
from chalicelib.domain import forms
from chalicelib.domain.responses import awaiting_staff, needs_info_since, waiting_past_target
from chalicelib.domain.submissions import (
    OPEN_STATUSES,
    TOKYO,
    business_days_waiting,
    is_overdue,
    received_since,
)
from chalicelib.observability import invocation, logger, metrics
from chalicelib.services import payment_withdrawals
from chalicelib.store import digests, inbox
from chalicelib.store import submissions as store
from chalicelib.store.models import Submission
from chalicelib.workers import scheduled_time

# Long enough for the slowest section's queries and the send; a crashed run's claim frees after it.
LEASE = timedelta(minutes=10)
# A section's first digest (no cut-off yet) covers the week before it, so nothing that arrived
# before the digests began (a night's requests, a new stack tried in the evening) is never told.
FIRST_DIGEST_LOOKBACK = timedelta(days=7)
SKIPPED = "skipped"
UNKNOWN_AREA = "地域の指定なし"
UNKNOWN_AREA_EN = "Area not known"
NOT_NEW = frozenset({"withdrawn", "rejected"})


class DigestFailed(Exception):
    """At least one section's digest failed; a rerun (EventBridge retries) sends only those."""


def run(now: datetime | str | None = None) -> dict[str, int | str]:
    """Send today's digests. Returns, per section id, the number of new and handed-over
    submissions reported (0 when there was nothing new) or "skipped" when today's digest was
    already sent (or is being sent by another run right now).

    `now` may be the schedule event's ISO time ("2026-11-25T23:30:00Z").
    """
    now = scheduled_time(now)
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
    # Done for the day when the body completes: should the cut-off write below then fail,
    # tomorrow repeats a day, nothing is lost.
    with inbox.once(key, now, LEASE, raise_if_busy=False) as claim:
        if claim is not inbox.Claim.CLAIMED:
            logger.info(
                "digest already sent today" if claim is inbox.Claim.DONE else "digest being sent elsewhere"
            )
            return SKIPPED
        since = digests.cutoff(section_id) or now - FIRST_DIGEST_LOOKBACK
        overdue, answered, waiting, urgent, handed = _open(section_id, since, now)
        # One made since and handed over since is named once: as handed over, by its receipt.
        given = {row[0] for row in handed}
        new = [item for item in _new(section_id, since, now) if item.receipt not in given]
        new_by_form = _new_by_form(section_id, new)
        booked_day, bookings = _consultations(section_id, now)
        review = _payments_to_review(section_id)
        if (
            rendering.is_empty(
                new_by_form=new_by_form,
                overdue=overdue,
                answered=answered,
                waiting=waiting,
                bookings=bookings,
                urgent=urgent,
                handed=handed,
            )
            and not review
        ):
            logger.info("nothing new, answered, overdue, booked or to review; no digest email")
        else:
            message = rendering.render_digest(
                section_name=section["name"],
                day=now.astimezone(TOKYO).date(),
                new_by_form=new_by_form,
                overdue=overdue,
                answered=answered,
                waiting=waiting,
                reports_by_area=_reports_by_area(new),
                console_url=get_settings().staff_console_url or None,
                new_since=since,
                new_until=now,
                bookings=bookings,
                bookings_day=booked_day,
                payments_to_review=len(review),
                urgent=urgent,
                handed=handed,
            )
            text, page = _with_payment_totals(message.text, message.html, section_id, now)
            text, page = _with_payments_to_review(text, page, review)
            email.send(section["digestRecipients"], message.subject, text, page)
            logger.info("digest sent", extra={"new": len(new), "overdue": len(overdue)})
            metrics.add_metric(name="DigestsSent", unit="Count", value=1)
    # Never backwards: a run with a lagging clock must not make the next digest repeat a day.
    digests.set_cutoff(section_id, max(now, since))
    return len(new) + len(handed)


def _consultations(section_id: str, now: datetime) -> tuple[date, list[dict[str, str]]]:
    """The section's consultation bookings on the next business day (issue 15)."""
    from chalicelib.domain.business_days import is_business_day
    from chalicelib.services import staff_consultations

    day = now.astimezone(TOKYO).date() + timedelta(days=1)
    while not is_business_day(day):
        day += timedelta(days=1)
    return day, staff_consultations.bookings_on(section_id, day)


def _new(section_id: str, since: datetime, now: datetime) -> list[Submission]:
    """What became the section's work in [since, now) and is still wanted: made then, or paid
    then for a fee paid first (one made earlier, waiting for its payment, is staff's work only
    from then; unpaid, it is none). Withdrawn and rejected ones are not counted."""
    made_since = since - _unpaid_wait(section_id)
    return [
        item
        for item in store.iterate_index(Submission.by_section, section_id, since=made_since, until=now)
        if item.status not in NOT_NEW
        and (received := received_since(item.status, item.created_at, item.received_at)) is not None
        and since <= received < now
    ]


def _unpaid_wait(section_id: str) -> timedelta:
    """The longest a submission of the section may wait for its fee (a day more for a payment
    caught after its end): how long before the last digest one paid since may have been made."""
    days = payment_withdrawals.days_to_pay_by_section().get(section_id)
    return timedelta(days=max(days) + 1) if days else timedelta(0)


def _new_by_form(section_id: str, new: Iterable[Submission]) -> list[tuple[str, str, int]]:
    """(title ja, title en, count) for every form of the section, most submissions first."""
    counts = Counter(item.form_id for item in new)
    # The section's forms, and another's when one came here (routed by topic, or handed over).
    known = [form for form in forms.catalogue() if form.section == section_id or form.id in counts]
    rows = [(form.title["ja"], form.title["en"], counts.pop(form.id, 0)) for form in known]
    # A form taken out of the catalogue still has submissions waiting: list it by its id.
    rows += [(form_id, form_id, count) for form_id, count in counts.items()]
    return sorted(rows, key=lambda row: -row[2])


Listed = tuple[str, str, int, str]


Named = tuple[str, str, str]


def _open(
    section_id: str, since: datetime, now: datetime
) -> tuple[list[Listed], list[Named], list[Listed], list[Named], list[Named]]:
    """The section's open submissions that need a look, by why: past the ward's target
    (overdue), answered by the resident (nobody moved it since), waiting for the resident's
    answer past the target, reported as dangerous (urgent), and handed over by another section
    in [since, now) (named by receipt; one also made since is not counted again as new). Each as (receipt, title ja,
    business days, title en) or, for the others, (receipt, title ja, title en)."""
    overdue: list[Listed] = []
    answered: list[Named] = []
    waiting: list[Listed] = []
    urgent: list[Named] = []
    handed: list[Named] = []
    open_items = store.iterate_index(
        Submission.by_section, section_id, filter_condition=Submission.status.is_in(*sorted(OPEN_STATUSES))
    )
    for item in open_items:
        form = forms.get_form(item.form_id)
        target = form.target_days if form else None
        ja, en = (form.title["ja"], form.title["en"]) if form else (item.form_id, item.form_id)
        received = received_since(item.status, item.created_at, item.received_at)
        if received is not None and is_overdue(received, item.status, target, now):
            overdue.append((item.receipt, ja, business_days_waiting(received, now), en))
        if awaiting_staff(item.responded_at, item.updated_at):
            answered.append((item.receipt, ja, en))
        if form is not None and form.is_urgent(item.data):
            urgent.append((item.receipt, ja, en))
        if item.handed_over_at is not None and since <= item.handed_over_at < now:
            handed.append((item.receipt, ja, en))
        if waiting_past_target(item.status, item.public_notes or [], target, now):
            asked = needs_info_since(item.public_notes or [])
            assert asked is not None
            days = business_days_waiting(datetime.fromisoformat(asked), now)
            waiting.append((item.receipt, ja, days, en))
    return overdue, answered, waiting, urgent, handed


def _reports_by_area(new: Iterable[Submission]) -> list[tuple[str, str, int]]:
    """(町 ja, 町 en, count) of the new reports, in the ward's gojuon order; no area given comes last."""
    counts = Counter(item.area for item in new if item.kind == "report")
    rows = [(area["ja"], area["en"], counts.pop(area["id"], 0)) for area in forms.areas()]
    unknown = sum(counts.values())
    if unknown:
        rows.append((UNKNOWN_AREA, UNKNOWN_AREA_EN, unknown))
    return [row for row in rows if row[2]]


def _with_payment_totals(text: str, page: str, section_id: str, now: datetime) -> tuple[str, str]:
    """What the providers collected for the section the day before, from the nightly
    reconciliation (issue 13): gross, as the providers settle it, so money held for review or
    refunded since is in it (an outside run read it as fees; the review list names those)."""
    import html

    from chalicelib.services import payment_reconciliation

    day = (now.astimezone(TOKYO) - timedelta(days=1)).date().isoformat()
    totals = payment_reconciliation.day_totals(day, section_id)
    if not totals:
        return text, page
    line = (
        f"■ 決済事業者での収納（{day}、返金・確認待ちを含む総額）: {totals['count']}件 {totals['amountYen']:,}円"
        f" / Collected by the payment providers ({day}, gross: refunds and money held for review"
        f" included): {totals['count']}, {totals['amountYen']:,} yen"
    )
    return text + "\n" + line + "\n", page.replace("</body>", f"<p>{html.escape(line)}</p></body>", 1)


# The digest lists this many payments needing review; the staff list has them all.
REVIEW_LISTED = 20


def _payments_to_review(section_id: str) -> list[Any]:
    """The section's payments in needs_review (paid late, twice, after a withdrawal, another
    amount) and its refunds waiting for a supervisor's approval: each is money someone must look
    at, so the digest names them every day until done."""
    from chalicelib.domain import payments as rules
    from chalicelib.store import payments as payment_store

    found: list[Any] = []
    for listed in (rules.NEEDS_REVIEW, rules.REFUND_APPROVAL):
        after = None
        while True:
            page, after = payment_store.by_status(section_id, listed, after=after, limit=100)
            found += [i for i in page if rules.listed_as(i.status, i.refund_state) == listed]
            if after is None:
                break
    return found


def _with_payments_to_review(text: str, page: str, review: list[Any]) -> tuple[str, str]:
    import html

    from chalicelib.domain import payments as rules

    if not review:
        return text, page
    refund = sum(
        1 for i in review if rules.flagged_for_refund(i.status, [str(r) for r in i.review_reasons or []])
    )
    approval = sum(1 for i in review if i.refund_state == "awaiting_approval")
    head = (
        f"■ 確認が必要なお支払い: {len(review)}件（うち返金が必要 {refund}件、返金の承認待ち {approval}件）"
        f" / Payments needing review: {len(review)} ({refund} to refund,"
        f" {approval} refunds waiting for a supervisor's approval)"
    )
    lines = []
    for intent in review[:REVIEW_LISTED]:
        reasons = [str(r) for r in intent.review_reasons or []]
        labels = [rules.REVIEW_LABELS.get(code, {"ja": code, "en": code}) for code in reasons]
        if intent.refund_state == "awaiting_approval":
            labels.append({"ja": "返金の承認待ち", "en": "refund waiting for approval"})
        amount = int(intent.paid_amount if intent.paid_amount is not None else intent.amount)
        lines.append(
            f"・{intent.payment_id}（受付番号 {intent.receipt}、{amount:,}円）"
            + "、".join(label["ja"] for label in labels)
            + " / "
            + "; ".join(label["en"] for label in labels)
        )
    if len(review) > REVIEW_LISTED:
        lines.append(f"・ほか{len(review) - REVIEW_LISTED}件 / and {len(review) - REVIEW_LISTED} more")
    where = (
        "一覧は職員API GET /staff/payments?status=needs_review と ?status=refund_approval で見られます。"
        " / The whole lists: GET /staff/payments?status=needs_review and ?status=refund_approval"
        " on the staff API."
    )
    block = "\n".join([head, *lines, where])
    items = "".join(f"<li>{html.escape(line.removeprefix('・'))}</li>" for line in lines)
    markup = (
        f'<hr><h2 style="font-size: 16px;">{html.escape(head.removeprefix("■ "))}</h2>'
        f"<ul>{items}</ul><p>{html.escape(where)}</p>"
    )
    return text + "\n" + block + "\n", page.replace("</body>", f"{markup}</body>", 1)
