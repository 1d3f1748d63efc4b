"""What a resident is told when their submission is received or changes status.

Pure text building. The worker passes in only what may reach the resident's phone or inbox:
the event, the status, the form's title, the receipt number and the public note written for
them. Nothing else from the submission (name, address, answers) is ever put in a message,
so a forwarded email or a shared screen shows no more than the receipt slip would.

Every sentence is a catalogue text (`email.*` in chalicelib/data/messages/notifications.json,
`notify.*` for LINE), written in the resident's stored language along its fallback chain.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from chalicelib.domain import languages, messages
from chalicelib.domain.languages import language_tag
from chalicelib.domain.residents import DEFAULT_LANGUAGE, LANGUAGES
from chalicelib.domain.submissions import AWAITING_PAYMENT, RECEIPT_PATTERN, STATUSES
from chalicelib.domain.ward import one_line, ward_name, without_controls

CREATED = "created"
STATUS_CHANGED = "status_changed"
# The system withdrew a submission whose fee was not paid in time (issue 13): the resident is
# told why, in their own language, from the payments catalogue (never a generic "withdrawn").
WITHDRAWN_UNPAID = "withdrawn_unpaid"
# Staff wrote the resident a public note without changing the status (the closing words after
# "completed", an answer to a phone call): the note is the news.
NOTE_ADDED = "note_added"
# The resident has not answered a request for information past the form's target days
# (workers/responses.py): the ward's question again, with the status page to answer on.
REMINDED = "reminded"
# A clerk issued a new access code (the resident lost theirs): the contacts on file are told, so
# a code given to someone else by mistake does not go unnoticed.
CODE_REISSUED = "code_reissued"
# Another section handed it over (staff_submissions.hand_over): no news for the resident, but
# the receiving section is alerted at once of a report marked dangerous, as its first one was.
HANDED_OVER = "handed_over"
EVENTS = (CREATED, STATUS_CHANGED, WITHDRAWN_UNPAID, NOTE_ADDED, REMINDED, CODE_REISSUED, HANDED_OVER)

# LINE refuses a text message over 5,000 characters; a note is at most 2,000, so this is a guard only.
LINE_TEXT_LIMIT = 5000
# The HTML lang attribute of an email (やさしい日本語 is Japanese to a screen reader).


@dataclass(frozen=True)
class FeeDue:
    """The form's fee, payable now: the email says how much, where to pay and, for a fee paid
    before the submission is received, in how many days it is withdrawn unpaid."""

    amount_yen: int
    pay_url: str
    withdraw_after_days: int | None = None


@dataclass(frozen=True)
class Notification:
    language: str
    subject: str
    text: str
    html: str


def language_for(stored: str | None) -> str:
    """The language a notification is written in: the resident's own when it is one of ours (the
    catalogue, chalicelib/data/messages/notifications.json, has every text in each), else the
    first of their fallback chain that is (domain/languages.py: a stale "fr" reads English,
    none at all Japanese)."""
    return languages.text_language(stored, LANGUAGES) or DEFAULT_LANGUAGE


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
    fee_due: FeeDue | None = None,
    status_url: str | None = None,
) -> Notification:
    """The subject, plain text and HTML of one notification in the resident's language.

    `form_title` is the form's name by language (the catalogue's `form.<id>` where it has one):
    the title in the resident's language, else the first of their chain that has one.
    `form_id` and `days` are for WITHDRAWN_UNPAID only: the form (its title in the catalogue)
    and the days the fee could have been paid in. `fee_due`: the fee can be paid now (said with
    its amount and link); `status_url`: the status page, linked where the email says the status
    can be checked.
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

    def say(key: str, **values: object) -> str:
        return messages.text(f"email.{key}", lang, **values)

    ward = one_line(ward_name(lang))
    title = one_line(languages.pick(form_title, lang))
    label = messages.text(f"status.{status}", lang)
    note = _note(public_note)
    kind = {CREATED: "created", NOTE_ADDED: "note", CODE_REISSUED: "code"}.get(event, "changed")
    if event == CREATED and status == AWAITING_PAYMENT:
        kind = "unpaid"  # not received until paid: "please pay", not "received"

    if event == REMINDED:
        subject = messages.text("remind.subject", lang, ward=ward, receipt=receipt)
        lead = messages.text("remind.text", lang, title=title, receipt=receipt)
    else:
        subject = say(f"subject_{kind}", ward=ward, status=label, receipt=receipt)
        lead = say(f"lead_{kind}", title=title, status=label)
    facts = [say("receipt", receipt=receipt), say("status", status=label)]
    next_step = "" if event == CODE_REISSUED else say(f"next.{status}")
    pay, deadline = "", ""
    if fee_due is not None:
        amount = messages.plain(messages.text("web.yen", lang, amount=f"{fee_due.amount_yen:,}"))
        pay = say("fee_due", amount=amount)  # ends "pay here:", the link right after it
        if fee_due.withdraw_after_days:
            deadline = say("fee_deadline", days=fee_due.withdraw_after_days)
    # A new code's notice names the new code, not "the one given when you submitted".
    check, footer = say("check_code" if event == CODE_REISSUED else "check"), say("footer", ward=ward)

    lines = [lead, "", *facts, *(["", next_step] if next_step else [])]
    if fee_due is not None:
        lines += ["", pay, fee_due.pay_url, *([deadline] if deadline else [])]
    if note:
        lines += ["", say("note"), note]
    lines += ["", check, *([status_url] if status_url else []), footer]
    text = "\n".join(lines) + "\n"

    e = html.escape

    def linked(sentence: str, url: str | None) -> str:
        return f'{e(sentence)}<br><a href="{e(url)}">{e(url)}</a>' if url else e(sentence)

    paragraphs = [e(lead), "<br>".join(e(fact) for fact in facts), *([e(next_step)] if next_step else [])]
    if fee_due is not None:
        paragraphs.append(linked(pay, fee_due.pay_url))
        if deadline:
            paragraphs.append(e(deadline))
    if note:
        paragraphs.append(
            f"<strong>{e(say('note'))}</strong><br>" + "<br>".join(e(x) for x in note.split("\n"))
        )
    paragraphs += [linked(check, status_url), e(footer)]
    return Notification(
        language=lang, subject=one_line(subject), text=text, html=_html_email(lang, subject, paragraphs)
    )


def _html_email(language: str, subject: str, paragraphs: list[str]) -> str:
    """The HTML part of an email: `paragraphs` are HTML already escaped, one <p> each."""
    head = [
        "<!DOCTYPE html>",
        f'<html lang="{html.escape(language_tag(language))}">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{html.escape(subject)}</title>",
        "</head>",
        '<body style="font-family: sans-serif; line-height: 1.6; color: #1a1a1a;">',
    ]
    return "\n".join([*head, *(f"<p>{p}</p>" for p in paragraphs), "</body>", "</html>"]) + "\n"


def form_titles(form_id: str, fallback: Mapping[str, str] | None = None) -> dict[str, str]:
    """The form's name in every language the catalogue has it in (`form.<id>`), else `fallback`
    (the form's own title), else its id: what `build` and the LINE push call it."""
    key = f"form.{form_id}"
    if key in messages.catalogue():
        return {language: messages.text(key, language) for language in LANGUAGES}
    return dict(fallback) if fallback else {DEFAULT_LANGUAGE: form_id}


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
    """The LINE push about a submission: one text, in the language the resident chose on LINE.
    `pay_url`: the fee can be paid now; the message carries a "pay" button opening it."""
    if event not in EVENTS or status not in STATUSES or not RECEIPT_PATTERN.fullmatch(receipt):
        raise ValueError("not a notification about a submission")
    if event == WITHDRAWN_UNPAID:
        title = _catalogued_title(form_id, {}, language)
        return [{"type": "text", "text": _withdrawn_unpaid_text(title, receipt, language, days)}]
    key = {
        CREATED: "notify.created",
        NOTE_ADDED: "notify.note_added",
        CODE_REISSUED: "notify.code_reissued",
    }.get(event, "notify.changed")
    if event == CREATED and status == AWAITING_PAYMENT:
        key = "notify.unpaid"
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
    """The public note that came with the status change or the note this notification is about,
    if any.

    A note stored with the version it produced is matched exactly; older entries (without a
    version) are matched by status, newest first. A "created" notification carries no note:
    notes are written by staff.
    """
    if event not in (STATUS_CHANGED, NOTE_ADDED):
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
    ward = one_line(ward_name(chosen))
    text = _withdrawn_unpaid_text(_catalogued_title(form_id, form_title, chosen), receipt, chosen, days)
    subject = one_line(messages.text("pay.withdrawn_unpaid_subject", chosen, ward=ward, receipt=receipt))
    footer = messages.text("email.footer", chosen, ward=ward)
    paragraphs = [html.escape(line) for line in [*text.split("\n"), footer]]
    return Notification(
        language=chosen,
        subject=subject,
        text=f"{text}\n\n{footer}\n",
        html=_html_email(chosen, subject, paragraphs),
    )
