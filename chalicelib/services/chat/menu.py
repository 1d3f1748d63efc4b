"""The rich menu's buttons: apply online, my requests, ask, and the ward's pages for the rest."""

from __future__ import annotations

from collections.abc import Callable

from chalicelib.config import get_settings
from chalicelib.domain import chat, messages
from chalicelib.domain.forms import catalogue
from chalicelib.domain.submissions import tokyo_iso
from chalicelib.domain.ward import ward
from chalicelib.services.chat import ask, consultations, report, settings
from chalicelib.services.chat.turn import Turn
from chalicelib.store import submissions
from chalicelib.store.models import Submission

MY_REQUESTS_SHOWN = 5


def apply(turn: Turn, _: str = "") -> None:
    """The online procedures, each opening its form in the LIFF app (signed in as this resident)."""
    settings = get_settings()
    items = [
        chat.uri_item(
            messages.text(f"label.form.{form.id}", turn.language),
            settings.liff_link(f"/forms/{form.id}", turn.language),
        )
        for form in catalogue()
        if not form.is_report
    ]
    items.append(turn.button("button.my_requests", "menu.mine"))
    items += consultations.book_items(turn)  # consultation booking (issue 15)
    turn.say("apply.intro", items)


def my_requests(turn: Turn, _: str = "") -> None:
    """The resident's latest submissions from LINE (chat and LIFF), newest first."""
    page, _cursor = submissions.query_index(
        Submission.by_line_user, turn.user_id, since=None, until=None, cursor=None, limit=MY_REQUESTS_SHOWN
    )
    if not page:
        turn.say("mine.none", [turn.button("button.report", "menu.report")])
        return
    lines = [turn.text("mine.header")]
    # A request the ward is waiting on can be answered from here too (the push may be long gone).
    answers = [
        turn.button_labelled(turn.text("button.answer_for", receipt=s.receipt), "answer.start", s.receipt)
        for s in page
        if s.status == "needs_info"
    ]
    for submission in page:
        title_key = f"form.{submission.form_id}"
        lines.append(
            turn.text(
                "mine.item",
                receipt=submission.receipt,
                title=turn.text(title_key) if title_key in messages.catalogue() else submission.form_id,
                status=turn.text(f"status.{submission.status}"),
                date=tokyo_iso(submission.updated_at)[:10],
            )
        )
    # The status page (LIFF) shows each one's thread and answers a request for more information.
    status_page = chat.uri_item(
        turn.text("button.status_page"), get_settings().liff_link("/status", turn.language)
    )
    turn.say_text("\n".join(lines), [*answers, status_page])


def website(key: str) -> Callable[[Turn, str], None]:
    """A button answered with a page of the ward's site (payments live there for now)."""

    def show(turn: Turn, _: str = "") -> None:
        turn.say(key, url=ward()["website"])

    return show


def queue_status(turn: Turn, _: str = "") -> None:
    """The windows' current state as a Flex message, with a link to the wait page."""
    from chalicelib.services import queues

    turn.replies.append(queues.flex_message(turn.now, turn.language))


UNPAID_LOOKED_AT = 20


def pay(turn: Turn, _: str = "") -> None:
    """The 支払い tile: the resident's unpaid fees, each with a pay button; taxes go to eL-QR."""
    from chalicelib.domain.payments import ELTAX_PAYMENT_URL
    from chalicelib.services import payments

    page, _cursor = submissions.query_index(
        Submission.by_line_user, turn.user_id, since=None, until=None, cursor=None, limit=UNPAID_LOOKED_AT
    )
    unpaid = []
    for submission in page:
        state = payments.resident_view(submission.receipt, line_user_id=turn.user_id)
        if state.get("state") == "payable":
            unpaid.append((submission, state["amountYen"]))
    taxes = turn.text("pay.taxes", url=ELTAX_PAYMENT_URL)
    if not unpaid:
        turn.say_text(turn.text("pay.none") + "\n\n" + taxes)
        return
    settings = get_settings()
    lines = [turn.text("pay.unpaid_header")]
    buttons = []
    for submission, amount in unpaid[:12]:
        title_key = f"form.{submission.form_id}"
        title = turn.text(title_key) if title_key in messages.catalogue() else submission.form_id
        lines.append(
            turn.text("pay.unpaid_item", receipt=submission.receipt, title=title, amount=f"{amount:,}")
        )
        label = turn.text("button.pay") if len(unpaid) == 1 else f"¥{amount} {submission.receipt}"
        buttons.append(
            chat.uri_item(label, settings.liff_link(f"/payments/{submission.receipt}", turn.language))
        )
    turn.say_text("\n".join([*lines, "", taxes]), buttons)


ACTIONS = {
    "menu.report": lambda turn, _: report.start(turn),
    "menu.apply": apply,
    "menu.mine": my_requests,
    "menu.ask": lambda turn, _: ask.invite(turn),
    "menu.settings": lambda turn, _: settings.show(turn),
    "menu.queue": queue_status,
    "menu.pay": pay,
}
