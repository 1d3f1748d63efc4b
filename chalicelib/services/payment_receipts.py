"""The receipt a resident gets when their fee is paid, and the notices of money that did not pay
it (held, then refunded): LINE and/or email, in their language, once each.

Texts come from chalicelib/data/messages/payments.json. The receipt number (領収番号) is the
payment id: unique, and the accounting office's CSV lists the same number.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from chalicelib.domain import messages
from chalicelib.domain.forms import get_form
from chalicelib.domain.payments import TOKYO, refund_yen
from chalicelib.domain.submissions import AWAITING_PAYMENT
from chalicelib.domain.ward import ward_name
from chalicelib.observability import logger, metrics
from chalicelib.store import inbox
from chalicelib.store import payments as store
from chalicelib.store import submissions as submission_store
from chalicelib.store.models import PaymentIntent, Submission

LEASE = timedelta(seconds=120)


@dataclass(frozen=True)
class Receipt:
    subject: str
    text: str
    language: str


def build(intent: PaymentIntent, submission: Submission, language: str | None = None) -> Receipt:
    language = language or submission.language or "ja"
    fee = _title(intent, language)
    paid_at = intent.paid_at.astimezone(TOKYO).strftime("%Y-%m-%d %H:%M") if intent.paid_at else "-"
    ward = ward_name(language)
    text = messages.text(
        "pay.receipt",
        language,
        number=intent.payment_id,
        receipt=intent.receipt,
        fee=fee,
        amount=f"{int(intent.paid_amount or intent.amount):,}",
        paid_at=f"{paid_at} (JST)",
        method=messages.text(f"pay.method.{intent.method}", language),
        provider_id=intent.provider_payment_id or "-",
    )
    if intent.refunded_at is not None:  # printed after a refund, the receipt says so
        refunded = intent.refunded_at.astimezone(TOKYO).strftime("%Y-%m-%d %H:%M")
        text += "\n" + messages.text("pay.receipt_refunded", language, at=f"{refunded} (JST)")
    subject = messages.text("pay.receipt_subject", language, ward=ward, receipt=intent.receipt)
    return Receipt(subject, text, language)


def as_html(receipt: Receipt) -> str:
    """A printable page (escaped; nothing but the receipt's own lines)."""
    lines = "".join(f"<p>{html.escape(line)}</p>" for line in receipt.text.splitlines())
    return (
        f'<!doctype html><html lang="{html.escape(receipt.language)}"><head><meta charset="utf-8">'
        f"<title>{html.escape(receipt.subject)}</title>"
        "<style>body{font-family:sans-serif;max-width:40em;margin:2em auto}p{margin:.3em 0}</style>"
        f"</head><body><h1>{html.escape(receipt.subject)}</h1>{lines}</body></html>"
    )


def send(payment_id: str) -> list[str]:
    """Send the receipt once (a ledger claim in the inbox table); returns the channels used.

    inbox.Busy while another worker is sending it: the record fails and SQS retries it."""
    with inbox.once(f"payreceipt#{payment_id}", datetime.now(UTC), LEASE) as claim:
        if claim is inbox.Claim.DONE:
            logger.info("receipt already sent", extra={"payment_id": payment_id})
            return []
        channels = _deliver(payment_id)
    return channels


def _deliver(payment_id: str) -> list[str]:
    intent = store.get(payment_id)
    submission = submission_store.get(intent.receipt) if intent else None
    if intent is None or submission is None or intent.paid_at is None:
        logger.warning("nothing to send a receipt for", extra={"payment_id": payment_id})
        return []
    channels = _to_resident(submission, build(intent, submission), payment_id, "payment-receipt")
    logger.info("receipt sent", extra={"payment_id": payment_id, "channels": channels})
    metrics.add_metric(name="PaymentReceiptsSent", unit="Count", value=1)
    return channels


NOTICES = ("held", "refunded")


def send_notice(payment_id: str, notice: str) -> list[str]:
    """Tell the resident, once, that money they paid did not pay the fee and will be refunded
    ("held"), or that it was refunded ("refunded"); returns the channels used."""
    if notice not in NOTICES:
        raise ValueError(f"unknown payment notice {notice!r}")
    with inbox.once(f"paynotice#{payment_id}#{notice}", datetime.now(UTC), LEASE) as claim:
        if claim is inbox.Claim.DONE:
            return []
        intent = store.get(payment_id)
        submission = submission_store.get(intent.receipt) if intent else None
        if intent is None or submission is None or intent.paid_at is None:
            logger.warning("nothing to tell of a payment", extra={"payment_id": payment_id})
            return []
        channels = _to_resident(
            submission, _notice(intent, submission, notice), payment_id, f"payment-{notice}"
        )
    logger.info(
        "payment notice sent", extra={"payment_id": payment_id, "notice": notice, "channels": channels}
    )
    return channels


def _notice(intent: PaymentIntent, submission: Submission, notice: str) -> Receipt:
    from chalicelib.config import get_settings

    language = submission.language or "ja"
    paid = refund_yen(intent.paid_amount, intent.amount)  # what came in, all of which goes back
    amount = messages.text("web.yen", language, amount=f"{paid:,}")
    when = intent.paid_at.astimezone(TOKYO).strftime("%Y-%m-%d %H:%M") if intent.paid_at else "-"
    said = messages.text(
        "web.pay_held_checking" if notice == "held" else "web.pay_held_refunded",
        language,
        amount=messages.plain(amount),
        method=messages.text(f"pay.method.{intent.method}", language),
        when=when,
    )
    lines = [
        messages.text("pay.about", language, title=_title(intent, language), receipt=intent.receipt),
        "",
        said,
    ]
    if notice == "refunded":  # and when it is back: the provider decides, not the ward
        lines.append(messages.text(f"pay.refund_arrives.{intent.method}", language))
    if submission.status == AWAITING_PAYMENT:  # a fee paid first, still owed: how much, and where
        settings, page = get_settings(), f"/payments/{submission.receipt}"
        url = (
            settings.liff_link(page, language)
            if submission.line_user_id
            else settings.web_page(page, language)
        )
        fee = messages.plain(messages.text("web.yen", language, amount=f"{int(intent.amount):,}"))
        lines += ["", messages.text("pay.still_owed", language, fee=fee), url]
    ward = ward_name(language)
    subject = messages.text(f"pay.{notice}_subject", language, ward=ward, receipt=intent.receipt)
    return Receipt(subject, "\n".join(lines), language)


def _title(intent: PaymentIntent, language: str) -> str:
    title_key = f"form.{intent.form_id}"
    if title_key in messages.catalogue():
        return messages.text(title_key, language)
    form = get_form(intent.form_id)
    return form.title.get(language, form.title["ja"]) if form else intent.form_id


def _to_resident(submission: Submission, message: Receipt, payment_id: str, what: str) -> list[str]:
    """Email and LINE (unless unfollowed), whichever the resident gave. The email first and once
    on its own: a LINE outage retries the message, and must neither hold it back nor repeat it."""
    from chalicelib.adapters import email
    from chalicelib.adapters.line_api import retry_key_for
    from chalicelib.services import resident_notice

    channels = []
    if submission.email:
        # As every email of the ward's ends: sent automatically, replies not read.
        footer = messages.text("email.footer", message.language, ward=ward_name(message.language))
        mailed = Receipt(message.subject, f"{message.text}\n\n{footer}", message.language)
        resident_notice.email_once(
            f"{what}#{payment_id}#email",
            lambda: email.send([submission.email], mailed.subject, mailed.text, as_html(mailed)),
        )
        channels.append("email")
    if submission.line_user_id and resident_notice.push(
        submission.line_user_id,
        [{"type": "text", "text": message.text}],
        retry_key_for(payment_id, what),
        what="payment message",
    ):
        channels.append("line")
    return channels
