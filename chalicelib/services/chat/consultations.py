"""Consultation booking on LINE: book (in the LIFF app, signed in as this resident), my
bookings, cancel. Booking itself happens on the LIFF page, which calls the same API as the
web; the chat offers it from the rich menu ("apply"), from a consultation's FAQ answer
("book this"), and lists and cancels the resident's bookings with signed buttons (a change of
time links to the LIFF bookings page)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chalicelib.config import get_settings
from chalicelib.domain import chat
from chalicelib.domain import consultations as rules
from chalicelib.domain.errors import MadoguchiError
from chalicelib.services.chat.turn import Turn

SHOWN = 5


def book_items(turn: Turn, service_id: str | None = None) -> list[dict[str, Any]]:
    """A link into the LIFF booking page (of one service, or the list) and "my bookings"."""
    path = f"/consultations/{service_id}" if service_id else "/consultations"
    target = get_settings().liff_link(path, turn.language)
    key = "consult.button.book" if service_id else "consult.button.list"
    return [chat.uri_item(turn.text(key), target), turn.button("consult.button.my_bookings", "consult.mine")]


def for_faq(turn: Turn, entry_id: str) -> list[dict[str, Any]]:
    service = rules.for_faq_entry(entry_id)
    return book_items(turn, service.id) if service else []


def menu(turn: Turn, _: str = "") -> None:
    turn.say("consult.menu.intro", book_items(turn))


def mine(turn: Turn, _: str = "") -> None:
    from chalicelib.services import consultations as service

    bookings = service.line_user_bookings(turn.user_id, turn.language)[:SHOWN]
    if not bookings:
        turn.say("consult.my_bookings.none", book_items(turn)[:1])
        return
    lines = [turn.text("consult.mine.header")]
    buttons = []
    for booking in bookings:
        svc = rules.get_service(booking["service"])
        lines.append(
            turn.text(
                "consult.my_bookings.item",
                title=svc.public_title(turn.language),
                when=booking["start"].replace("T", " ")[:16],
                mode=turn.text(f"consult.mode.{booking['mode']}"),
                booking=booking["booking"],
            )
        )
        if not booking["changeable"]:  # inside its change deadline: a Cancel button could only fail
            lines[-1] += "\n" + turn.text("consult.my_bookings.call")
            continue
        buttons.append(
            turn.button_labelled(
                # A whole word and the booking number's end: a quick reply label holds 20 characters.
                turn.text("consult.button.cancel_one", booking=booking["booking"][-6:]),
                "consult.cancel",
                booking["booking"],
            )
        )
    if buttons:  # a time is changed on the bookings page (LIFF), signed in as this resident
        change = get_settings().liff_link("/bookings", turn.language)
        buttons.append(chat.uri_item(turn.text("consult.button.change"), change))
    turn.say_text("\n\n".join(lines), buttons)


def ask_cancel(turn: Turn, booking_id: str) -> None:
    from chalicelib.services import consultations as service
    from chalicelib.store import consultations as store

    booking = store.get(booking_id)
    if booking is None or booking.line_user_id != turn.user_id:
        turn.say("consult.cancel.refused")
        return
    if booking.status == rules.CANCELLED:  # an old button
        turn.say("consult.cancel.already")
        return
    if booking.status != rules.BOOKED or not service.booking_view(booking, turn.language)["changeable"]:
        turn.say("consult.cancel.refused")  # inside its deadline: said now, not after "Yes"
        return
    svc = rules.get_service(booking.service)
    turn.say(
        "consult.cancel.confirm",
        # "No, keep it", not "Cancel": next to "Yes, cancel it" that read as the same (a walkthrough).
        [
            turn.button("consult.button.cancel_yes", "consult.cancel_yes", booking_id),
            turn.button("consult.button.keep", "consult.keep"),
        ],
        title=svc.public_title(turn.language),
        when=rules.tokyo_text(rules.parse_slot(booking.slot)).replace("T", " ")[:16],
        booking=booking_id,
    )


def cancel(turn: Turn, booking_id: str) -> None:
    from chalicelib.services import consultations as service

    try:
        booking = service.resident_booking(booking_id, None, turn.user_id)
        if booking.status != rules.BOOKED:  # the button tapped again (or cancelled elsewhere)
            turn.say(
                "consult.cancel.already" if booking.status == rules.CANCELLED else "consult.cancel.refused"
            )
            return
        service.cancel(booking)
    except MadoguchiError as error:
        if error.transient:
            raise  # the worker retries the event
        turn.say("consult.cancel.refused")
        return
    turn.say("consult.cancel.done")


ACTIONS: dict[str, Callable[[Turn, str], None]] = {
    "consult.menu": menu,
    "consult.mine": mine,
    "consult.cancel": ask_cancel,
    "consult.cancel_yes": cancel,
    "consult.keep": lambda turn, _: turn.say("consult.cancel.kept"),
}
