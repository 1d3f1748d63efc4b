"""What a resident is told when their submission is received or changes status.

Pure text building. The worker passes in only what may reach the resident's phone or inbox:
the event, the status, the form's title, the receipt number and the public note written for
them. Nothing else from the submission (name, address, answers) is ever put in a message,
so a forwarded email or a shared screen shows no more than the receipt slip would.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from chalicelib.domain import languages
from chalicelib.domain.submissions import (
    AWAITING_PAYMENT,
    COMPLETED,
    IN_REVIEW,
    NEEDS_INFO,
    RECEIPT_PATTERN,
    RECEIVED,
    REJECTED,
    STATUS_LABELS,
    STATUSES,
    WITHDRAWN,
)
from chalicelib.domain.ward import one_line, ward_name, without_controls

Language = Literal["ja", "en"]

CREATED = "created"
STATUS_CHANGED = "status_changed"
# The system withdrew a submission whose fee was not paid in time (issue 13): the resident is
# told why, in their own language, from the payments catalogue (never a generic "withdrawn").
WITHDRAWN_UNPAID = "withdrawn_unpaid"
EVENTS = (CREATED, STATUS_CHANGED, WITHDRAWN_UNPAID)

# LINE refuses a text message over 5,000 characters; a note is at most 2,000, so this is a guard only.
LINE_TEXT_LIMIT = 5000


@dataclass(frozen=True)
class Notification:
    # ja or en, except for a withdrawn-unpaid notice: any of the seven (its text is catalogued).
    language: str
    subject: str
    text: str
    html: str


def language_for(stored: str | None) -> Language:
    """The language we write a notification in: the first of the resident's fallback chain
    (domain/languages.py) that notifications are written in, Japanese or English: Japanese
    for ja and やさしい日本語, English for en and for zh-Hans, ko, vi, ne (en -> ja).

    Submissions are stored as ja or en today; a LINE-linked one may later carry another
    language, and English is read by more of the ward's foreign residents than Japanese.
    """
    chosen = languages.text_language(stored, _TEXT)
    return "en" if chosen == "en" else "ja"


# What the resident can expect next, by status (after "received", the created message's own text).
_NEXT = {
    "ja": {
        AWAITING_PAYMENT: "手数料のお支払いが確認できしだい、受付となります。",
        RECEIVED: "内容を確認し、必要に応じて担当からご連絡します。",
        IN_REVIEW: "担当の職員が内容を確認しています。",
        NEEDS_INFO: "区からのお願いをご確認のうえ、ご対応をお願いします。",
        COMPLETED: "手続きが完了しました。ご利用ありがとうございました。",
        REJECTED: "理由は下記の区からのお知らせをご覧ください。",
        WITHDRAWN: "取り下げを受け付けました。",
    },
    "en": {
        AWAITING_PAYMENT: "It will be received as soon as the fee has been paid.",
        RECEIVED: "We will check it and contact you if we need anything.",
        IN_REVIEW: "A member of staff is reviewing it.",
        NEEDS_INFO: "Please read the request from the ward below and reply.",
        COMPLETED: "It has been completed. Thank you.",
        REJECTED: "Please see the message from the ward below for the reason.",
        WITHDRAWN: "Your withdrawal has been received.",
    },
}

_TEXT = {
    "ja": {
        "subject_created": "【{ward}】受付しました（受付番号 {receipt}）",
        "subject_changed": "【{ward}】状況のお知らせ：{label}（受付番号 {receipt}）",
        "lead_created": "「{title}」を受け付けました。",
        "lead_changed": "「{title}」の状況が「{label}」になりました。",
        "receipt": "受付番号：{receipt}",
        "status": "状況：{label}",
        "note": "区からのお知らせ：",
        "check": "状況は、受付番号と受付時にお知らせした確認コードでいつでも確認できます。",
        "footer": "このメッセージは{ward}から自動で送信しています。このメールに返信されても回答できません。",
    },
    "en": {
        "subject_created": "[{ward}] Received (receipt number {receipt})",
        "subject_changed": "[{ward}] Status update: {label} (receipt number {receipt})",
        "lead_created": "We have received your “{title}”.",
        "lead_changed": "The status of your “{title}” is now “{label}”.",
        "receipt": "Receipt number: {receipt}",
        "status": "Status: {label}",
        "note": "Message from the ward:",
        "check": "You can check the status at any time with the receipt number and the access code "
        "you were given when you submitted.",
        "footer": "This message was sent automatically by {ward}. Replies to this email are not read.",
    },
}


def build(
    *,
    event: str,
    status: str,
    form_title: Mapping[str, str],
    receipt: str,
    public_note: str | None,
    language: str,
    form_id: str | None = None,
    days: int | None = None,
) -> Notification:
    """The subject, plain text and HTML of one notification in the resident's language.

    `form_id` and `days` are for WITHDRAWN_UNPAID only: the form (its title in the catalogue)
    and the days the fee could have been paid in.
    """
    if event not in EVENTS:
        raise ValueError(f"unknown notification event {event!r}")
    if status not in STATUSES:
        raise ValueError(f"unknown status {status!r}")
    if not isinstance(receipt, str) or not RECEIPT_PATTERN.fullmatch(receipt):
        raise ValueError("a notification names its submission by receipt number")
    if event == WITHDRAWN_UNPAID:
        return _withdrawn_unpaid(form_title, form_id, receipt, language, days)
    lang = language_for(language)
    words = _TEXT[lang]
    ward = one_line(ward_name(lang))
    title = one_line(languages.pick(form_title, lang))
    label = STATUS_LABELS[status][lang]
    note = _note(public_note)
    created = event == CREATED

    subject = (words["subject_created"] if created else words["subject_changed"]).format(
        ward=ward, label=label, receipt=receipt
    )
    lead = (words["lead_created"] if created else words["lead_changed"]).format(title=title, label=label)
    facts = [words["receipt"].format(receipt=receipt), words["status"].format(label=label)]
    next_step = _NEXT[lang][status]
    closing = [words["check"], words["footer"].format(ward=ward)]

    lines = [lead, "", *facts, "", next_step]
    if note:
        lines += ["", words["note"], note]
    lines += ["", *closing]
    text = "\n".join(lines) + "\n"

    e = html.escape
    body = [
        "<!DOCTYPE html>",
        f'<html lang="{lang}">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{e(subject)}</title>",
        "</head>",
        '<body style="font-family: sans-serif; line-height: 1.6; color: #1a1a1a;">',
        f"<p>{e(lead)}</p>",
        "<p>" + "<br>".join(e(fact) for fact in facts) + "</p>",
        f"<p>{e(next_step)}</p>",
    ]
    if note:
        body += [
            f"<p><strong>{e(words['note'])}</strong><br>",
            "<br>".join(e(line) for line in note.split("\n")) + "</p>",
        ]
    body += [f"<p>{e(line)}</p>" for line in closing]
    body += ["</body>", "</html>"]
    return Notification(language=lang, subject=one_line(subject), text=text, html="\n".join(body) + "\n")


def line_messages(
    *,
    event: str,
    status: str,
    form_id: str,
    receipt: str,
    public_note: str | None,
    language: str,
    pay_url: str | None = None,
    days: int | None = None,
) -> list[dict[str, Any]]:
    """The LINE push about a submission: one text, in any of the seven languages the resident
    chose on LINE (email stays Japanese or English: it may be read by anyone in a household).
    `pay_url`: the fee can be paid now; the message carries a "pay" button opening it."""
    from chalicelib.domain import messages

    if event not in EVENTS or status not in STATUSES or not RECEIPT_PATTERN.fullmatch(receipt):
        raise ValueError("not a notification about a submission")
    if event == WITHDRAWN_UNPAID:
        title = _catalogued_title(form_id, {}, language)
        return [{"type": "text", "text": _withdrawn_unpaid_text(title, receipt, language, days)}]
    key = "notify.created" if event == CREATED else "notify.changed"
    title = (
        messages.text(f"form.{form_id}", language) if f"form.{form_id}" in messages.catalogue() else form_id
    )
    label = messages.text(f"status.{status}", language)
    text = messages.text(key, language, title=one_line(title), receipt=receipt, status=label)
    note = _note(public_note)
    if note:
        text += "\n\n" + messages.text("notify.note", language, note=note)
    if len(text) > LINE_TEXT_LIMIT:
        text = text[: LINE_TEXT_LIMIT - 1] + "…"
    message: dict[str, Any] = {"type": "text", "text": text}
    if pay_url:
        label = messages.label("button.pay", language)
        message["quickReply"] = {
            "items": [{"type": "action", "action": {"type": "uri", "label": label, "uri": pay_url}}]
        }
    return [message]


def public_note_for(
    public_notes: Sequence[Mapping[str, Any]], *, event: str, status: str, version: int
) -> str | None:
    """The public note that came with the status change this notification is about, if any.

    A note stored with the version it produced is matched exactly; older entries (without a
    version) are matched by status, newest first. A "created" notification carries no note:
    notes are written by staff on a status change.
    """
    if event != STATUS_CHANGED:
        return None
    notes = [note for note in public_notes if isinstance(note, Mapping) and isinstance(note.get("note"), str)]
    exact = [note for note in notes if note.get("version") == version]
    if exact:
        return exact[-1]["note"]
    by_status = [note for note in notes if "version" not in note and note.get("status") == status]
    return by_status[-1]["note"] if by_status else None


def _note(value: str | None) -> str | None:
    if not isinstance(value, str):
        return None
    cleaned = "\n".join(line.rstrip() for line in without_controls(value).split("\n")).strip()
    return cleaned or None


# --------------------------------------------------------------------------- withdrawn unpaid


def _catalogued_title(form_id: str | None, form_title: Mapping[str, str], language: str) -> str:
    from chalicelib.domain import messages

    key = f"form.{form_id}"
    if form_id and key in messages.catalogue():
        return one_line(messages.text(key, language))
    return one_line(languages.pick(form_title, language) or form_id or "")


def _withdrawn_unpaid_text(title: str, receipt: str, language: str, days: int | None) -> str:
    from chalicelib.domain import messages

    if isinstance(days, bool) or not isinstance(days, int) or days < 1:
        raise ValueError("a withdrawn-unpaid notice says how many days the fee could be paid in")
    return messages.text("pay.withdrawn_unpaid", language, title=title, receipt=receipt, days=days)


def _withdrawn_unpaid(
    form_title: Mapping[str, str], form_id: str | None, receipt: str, language: str, days: int | None
) -> Notification:
    """The email: in the resident's own language (the texts are catalogued in all seven)."""
    from chalicelib.domain import messages

    chosen = languages.text_language(language, messages.catalogue()["pay.withdrawn_unpaid"]) or "ja"
    ward = one_line(ward_name("ja" if chosen.startswith("ja") else "en"))
    text = _withdrawn_unpaid_text(_catalogued_title(form_id, form_title, chosen), receipt, chosen, days)
    subject = one_line(messages.text("pay.withdrawn_unpaid_subject", chosen, ward=ward, receipt=receipt))
    footer = _TEXT["ja" if chosen.startswith("ja") else "en"]["footer"].format(ward=ward)
    e = html.escape
    body = [
        "<!DOCTYPE html>",
        f'<html lang="{e(chosen)}">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{e(subject)}</title>",
        "</head>",
        '<body style="font-family: sans-serif; line-height: 1.6; color: #1a1a1a;">',
        *(f"<p>{e(line)}</p>" for line in text.split("\n")),
        f"<p>{e(footer)}</p>",
        "</body>",
        "</html>",
    ]
    return Notification(
        language=chosen, subject=subject, text=f"{text}\n\n{footer}\n", html="\n".join(body) + "\n"
    )
