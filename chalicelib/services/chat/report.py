"""The guided report: category, what is wrong, whether it is dangerous (forms that ask),
photos, place, the number on a plate there (forms that ask), comment, confirm.

Each step keeps what the resident gave in the conversation; photos are fetched from LINE
as they arrive (LINE keeps them only for a while) and stored like web uploads, so the
submission at the end goes through exactly the checks and photo cleaning a web form does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeGuard

from chalicelib.adapters.line_api import LineRejected, LineUnavailable, line_client
from chalicelib.domain import areas, chat
from chalicelib.domain.chat import (
    ADDRESS,
    CATEGORY,
    COMMENT,
    CONFIRM,
    DANGER,
    KIND,
    LOCATION,
    PHOTOS,
    PLATE,
    REPORT,
)
from chalicelib.domain.digits import typed_code
from chalicelib.observability import logger, metrics
from chalicelib.services import uploads
from chalicelib.services.chat.turn import Turn

if TYPE_CHECKING:
    from chalicelib.store.models import Conversation


def start(turn: Turn) -> None:
    turn.start(REPORT, CATEGORY)
    prompt(turn)


def prompt(turn: Turn, note_key: str | None = None) -> None:
    """Ask for what the current step needs (after `note_key`, e.g. why the last answer did not fit)."""
    conversation = turn.conversation
    assert conversation is not None
    step, data = conversation.step, conversation.data
    cancel = turn.cancel_button()
    if note_key:
        turn.say(note_key)
    if step == CATEGORY:
        buttons = [
            turn.button(f"label.form.{c.form.id}", "report.category", c.form.id)
            for c in chat.report_categories()
        ]
        turn.say("report.choose_category", [*buttons, cancel])
    elif step == KIND:
        category = chat.report_category(data["form"])
        assert category is not None
        buttons = [
            turn.button(f"label.report.kind.{category.form.id}.{kind}", "report.kind", kind)
            for kind in category.kinds
        ]
        turn.say("report.choose_kind", [*buttons, cancel])
    elif step == DANGER:
        buttons = [
            turn.button("button.danger_yes", "report.danger", "yes"),
            turn.button("button.danger_no", "report.danger", "no"),
        ]
        question = chat.danger_question(data["form"], turn.language)
        turn.say("report.ask_danger", [*buttons, cancel], question=question)
    elif step == PHOTOS:
        count = len(data.get("photos", []))
        more = turn.button("button.next" if count else "button.skip", "report.photos_done")
        buttons = [*chat.camera_items(turn.language), more, cancel]
        turn.say("report.photo_received" if count else "report.ask_photos", buttons, count=count)
    elif step == LOCATION:
        pin = chat.location_item(turn.text("button.send_location"))
        turn.say("report.ask_location", [pin, turn.button("button.type_address", "report.address"), cancel])
    elif step == ADDRESS:
        turn.say("report.ask_address", [chat.location_item(turn.text("button.send_location")), cancel])
    elif step == PLATE:
        label = chat.plate_label(data["form"], turn.language)
        turn.say("report.ask_plate", [turn.button("button.skip", "report.plate_skip"), cancel], label=label)
    elif step == COMMENT:
        turn.say("report.ask_comment", [turn.button("button.skip", "report.comment_skip"), cancel])
    elif step == CONFIRM:
        send = turn.button("button.send", "report.confirm", conversation.conversation_id)
        turn.say_text(chat.report_summary(data, turn.language), [send, cancel])


def _expects(turn: Turn, *steps: str) -> Conversation | None:
    """The conversation, if the report is at one of `steps`; if not, the button was an old one: ask again."""
    conversation = turn.conversation
    if conversation is not None and turn.in_flow(REPORT, *steps):
        return conversation
    if turn.in_flow(REPORT):
        prompt(turn, "report.use_buttons")
    else:
        turn.say("general.not_understood", [turn.button("button.report", "menu.report")])
    return None


def choose_category(turn: Turn, form_id: str) -> None:
    if _expects(turn, CATEGORY):
        if chat.report_category(form_id) is None:
            prompt(turn, "report.use_buttons")
            return
        turn.advance(KIND, form=form_id)
        prompt(turn)


def choose_kind(turn: Turn, kind: str) -> None:
    if (conversation := _expects(turn, KIND)) is not None:
        category = chat.report_category(conversation.data["form"])
        if category is None or kind not in category.kinds:
            prompt(turn, "report.use_buttons")
            return
        # A form with a danger question asks it (a walkthrough: a leaning pole with bare wires
        # reported on LINE waited for the next morning's digest).
        asks = chat.danger_question(category.form.id, turn.language) is not None
        turn.advance(DANGER if asks else PHOTOS, kind=kind, photos=[])
        prompt(turn)


def choose_danger(turn: Turn, answer: str) -> None:
    if _expects(turn, DANGER) is not None:
        if answer not in ("yes", "no"):
            prompt(turn, "report.use_buttons")
            return
        turn.advance(PHOTOS, dangerous=answer == "yes")
        prompt(turn)


def on_photo(turn: Turn, message: dict[str, Any]) -> None:
    past = turn.conversation
    if (
        past is not None
        and turn.in_flow(REPORT)
        and past.step != PHOTOS
        and len(past.data.get("photos", [])) >= chat.MAX_PHOTOS
    ):
        # Photos sent together: the last allowed one moved the report on; say this one is not in it.
        prompt(turn, "report.photo_extra")
        return
    # Photos sent at once after choosing what is wrong arrive at the danger question: kept, and the
    # question asked again (a review: they were dropped with "use the buttons").
    conversation = _expects(turn, DANGER, PHOTOS)
    if conversation is None:
        return
    photos, why_not = with_photo(
        conversation.data.get("photos", []), message, chat.MAX_PHOTOS, "report.photo_limit"
    )
    if photos is None:
        prompt(turn, why_not)
        return
    if conversation.step == DANGER:
        turn.advance(DANGER, photos=photos)
    elif len(photos) >= chat.MAX_PHOTOS:
        turn.advance(LOCATION, photos=photos)  # nothing more to wait for
    else:
        turn.advance(PHOTOS, photos=photos)
    prompt(turn)


def with_photo(
    photos: list[str], message: dict[str, Any], limit: int, limit_key: str
) -> tuple[list[str], None] | tuple[None, str]:
    """The photos with the message's one added (once), or None and the note that says why not
    (`limit_key` at the limit, or the photo could not be taken): the caller's prompt shows it."""
    if len(photos) >= limit:
        return None, limit_key
    upload_id = _fetch_photo(message)
    if upload_id is None:
        return None, "report.photo_failed"
    return (photos if upload_id in photos else [*photos, upload_id]), None


def _fetch_photo(message: dict[str, Any]) -> str | None:
    """Fetch the photo from LINE now (it expires there) and keep it as an upload; None if we can't."""
    provider = (message.get("contentProvider") or {}).get("type", "line")
    if provider != "line" or not isinstance(message.get("id"), str):
        return None  # an external URL we will not fetch on the resident's behalf
    try:
        data, _declared = line_client().content(message["id"])
    except (LineRejected, LineUnavailable) as error:
        logger.warning("photo content not fetched", extra={"reason": type(error).__name__})
        return None
    upload_id = uploads.receive(f"line-message:{message['id']}", data)
    if upload_id is None:
        logger.info("photo content is not an image we take")
    return upload_id


def photos_done(turn: Turn, _: str = "") -> None:
    if _expects(turn, PHOTOS):
        turn.advance(LOCATION)
        prompt(turn)


def type_address(turn: Turn, _: str = "") -> None:
    if _expects(turn, LOCATION):
        turn.advance(ADDRESS)
        prompt(turn)


def on_location(turn: Turn, message: dict[str, Any]) -> None:
    if not _expects(turn, LOCATION, ADDRESS):
        return
    latitude, longitude = message.get("latitude"), message.get("longitude")
    # LINE's own address for the pin, when it has one, helps staff; it is about the place, not the resident.
    address = chat.clean_line(str(message.get("address") or ""))[: chat.MAX_ADDRESS_CHARS] or None
    if (
        not _is_number(latitude)
        or not _is_number(longitude)
        or not chat.in_ward(latitude, longitude)  # a rectangle: a pin just over the border passes it,
        or areas.elsewhere(address)  # but LINE's address for it then names the other ward
    ):
        prompt(turn, "report.outside_ward")
        return
    _placed(turn, latitude=latitude, longitude=longitude, address=address)


def _placed(turn: Turn, **place: Any) -> None:
    """On from the place: to the number on a plate there if the form asks for one, else the comment."""
    assert turn.conversation is not None
    category = chat.report_category(turn.conversation.data["form"])
    turn.advance(PLATE if category and category.plate_property else COMMENT, **place)
    prompt(turn)


def _is_number(value: object) -> TypeGuard[float]:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def on_text(turn: Turn, text: str) -> None:
    """Typed text: the address or the comment when asked for, a yes or no to the danger
    question; otherwise the buttons are the way. An emergency named at any of these steps is
    told who to call first: the report itself reaches staff in office hours."""
    from chalicelib.services.chat import interrupt

    if turn.in_flow(REPORT, DANGER):
        # An emergency typed here is told who to call, and the report is dangerous (a review:
        # 「はい、人が倒れていて血が止まらない」 was taken as a plain yes).
        dangerous = True if interrupt.warn_if_urgent(turn, text) else chat.typed_yes_no(text)
        if dangerous is not None:
            choose_danger(turn, "yes" if dangerous else "no")
            return
    if turn.in_flow(REPORT, ADDRESS, PLATE, COMMENT):
        interrupt.warn_if_urgent(turn, text)
    if turn.in_flow(REPORT, ADDRESS):
        address = chat.clean_line(text)
        if not address:
            prompt(turn)
        elif len(address) > chat.MAX_ADDRESS_CHARS:
            prompt(turn, "report.address_too_long")
        elif areas.elsewhere(address):  # another ward's or city's address, as a pin outside is
            prompt(turn, "report.outside_ward")
        else:
            _placed(turn, address=address, latitude=None, longitude=None)
    elif turn.in_flow(REPORT, PLATE):
        _type_plate(turn, text)
    elif turn.in_flow(REPORT, COMMENT):
        comment = chat.clean_text(text)
        if len(comment) > chat.MAX_COMMENT_CHARS:
            prompt(turn, "report.comment_too_long")
        else:
            turn.advance(CONFIRM, comment=comment or None)
            prompt(turn)
    else:
        interrupt.on_stray_text(turn, text, prompt)


def _type_plate(turn: Turn, text: str) -> None:
    """The number on the plate as the form takes it, typed in full width or not ("ＫＳ－１２")."""
    assert turn.conversation is not None
    category = chat.report_category(turn.conversation.data["form"])
    assert category is not None
    plate = typed_code(chat.clean_line(text)).strip()
    if not plate:
        prompt(turn)
    elif not category.plate_pattern().search(plate):
        prompt(turn, "report.plate_invalid")
    else:
        turn.advance(COMMENT, plate=plate)
        prompt(turn)


def skip_plate(turn: Turn, _: str = "") -> None:
    if _expects(turn, PLATE):
        turn.advance(COMMENT)
        prompt(turn)


def skip_comment(turn: Turn, _: str = "") -> None:
    if _expects(turn, COMMENT):
        turn.advance(CONFIRM, comment=None)
        prompt(turn)


def confirm(turn: Turn, conversation_id: str) -> None:
    """File the report, once however often "send" is tapped or the event delivered."""
    current = turn.conversation
    if current is None or current.conversation_id != conversation_id or not turn.in_flow(REPORT, CONFIRM):
        # A second tap of "send": say it is filed (with its receipt), not that the button is dead.
        receipt = next(
            (r for c in chat.report_categories() if (r := turn.filed(c.form.id, conversation_id))), None
        )
        if receipt:
            turn.say("report.already_sent", receipt=receipt)
            return
    conversation = _expects(turn, CONFIRM)
    if conversation is None or conversation.conversation_id != conversation_id:
        return
    data = conversation.data
    category = chat.report_category(data["form"])
    assert category is not None
    receipt = turn.file(category.form, chat.report_document(data))
    if receipt is None:
        return
    turn.say("report.done", receipt=receipt)
    metrics.add_metric(name="ChatReportsFiled", unit="Count", value=1)
    logger.info(
        "chat report filed", extra={"form": category.form.id, "photos": len(data.get("photos") or [])}
    )


ACTIONS = {
    "report.category": choose_category,
    "report.kind": choose_kind,
    "report.danger": choose_danger,
    "report.photos_done": photos_done,
    "report.address": type_address,
    "report.plate_skip": skip_plate,
    "report.comment_skip": skip_comment,
    "report.confirm": confirm,
}
