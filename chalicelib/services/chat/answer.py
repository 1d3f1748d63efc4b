"""The resident answers the ward's request for more information, in the chat.

The push that tells them their submission needs information carries an "Answer" button
(`answer.start:<receipt>`). Tapping it starts a conversation that gathers text (one or more
messages) and up to three photos, until "Send answer"; cancel and the quiet timeout end it
as they end a report. The answer then goes through services/responses.py, exactly as the
web route's does, once per conversation however often "Send answer" is tapped.
"""

from __future__ import annotations

from typing import Any

from chalicelib.domain import chat
from chalicelib.domain import responses as rules
from chalicelib.domain.errors import Conflict, MadoguchiError, NotFound
from chalicelib.observability import logger, metrics
from chalicelib.services import idempotency
from chalicelib.services import responses as service
from chalicelib.services.chat.report import with_photo
from chalicelib.services.chat.turn import Turn

ANSWER = "answer"
COLLECT = "collect"


def start(turn: Turn, receipt: str) -> None:
    try:
        submission = service.of_line_user(receipt, turn.user_id)
    except NotFound:
        turn.say("answer.not_found")
        return
    if submission.status != "needs_info":
        _not_waiting(turn, submission.receipt, submission.status)
        return
    turn.start(ANSWER, COLLECT, {"receipt": submission.receipt, "texts": [], "photos": []})
    turn.say("answer.ask", _buttons(turn), receipt=submission.receipt)


def prompt(turn: Turn, note_key: str | None = None) -> None:
    """Where the answer stands, with the buttons (after `note_key` when the last input did not fit)."""
    assert turn.conversation is not None
    data = turn.conversation.data
    if note_key:
        turn.say(note_key, limit=rules.MAX_TEXT_CHARS)
    if not data["texts"] and not data["photos"]:
        turn.say("answer.ask", _buttons(turn), receipt=data["receipt"])
    else:
        turn.say("answer.got", _buttons(turn), texts=len(data["texts"]), photos=len(data["photos"]))


def _buttons(turn: Turn) -> list[dict[str, Any]]:
    assert turn.conversation is not None
    send = turn.button("button.send_answer", "answer.done", turn.conversation.conversation_id)
    photos = (
        chat.camera_items(turn.language) if len(turn.conversation.data["photos"]) < rules.MAX_PHOTOS else []
    )
    return [send, *photos, turn.cancel_button()]


def on_text(turn: Turn, text: str) -> None:
    assert turn.conversation is not None
    cleaned = rules.clean_text(text)
    if not cleaned:
        prompt(turn)
        return
    from chalicelib.services.chat import interrupt

    decision, entries = interrupt.look_up(turn, cleaned)
    if decision == interrupt.ANSWERED:
        # A question to the assistant, not (only) an answer to the ward: answer it, and ask.
        interrupt.answer_question(turn, entries[0])
        turn.advance(COLLECT, pending=cleaned)
        keep = turn.button("button.add_to_answer", "answer.keep", turn.conversation.conversation_id)
        resume = turn.button("button.continue_flow", "flow.resume")
        turn.say("answer.question_seen", [keep, resume, turn.cancel_button()])
        return
    interrupt.warn_if_urgent(turn, cleaned)
    _add_text(turn, cleaned)


def keep_pending(turn: Turn, conversation_id: str) -> None:
    """The typed message that looked like a question goes into the answer after all."""
    conversation = turn.conversation
    if conversation is None or conversation.flow != ANSWER or conversation.conversation_id != conversation_id:
        turn.say("general.not_understood")
        return
    pending = conversation.data.get("pending")
    turn.advance(COLLECT, pending=None)
    if pending:
        _add_text(turn, pending)
    else:
        prompt(turn)


def _add_text(turn: Turn, cleaned: str) -> None:
    assert turn.conversation is not None
    texts = list(turn.conversation.data["texts"])
    if len("\n".join([*texts, cleaned])) > rules.MAX_TEXT_CHARS:
        prompt(turn, "answer.too_long")
        return
    turn.advance(COLLECT, texts=[*texts, cleaned])
    prompt(turn)


def on_photo(turn: Turn, message: dict[str, Any]) -> None:
    assert turn.conversation is not None
    photos, why_not = with_photo(
        turn.conversation.data["photos"], message, rules.MAX_PHOTOS, "answer.photo_limit"
    )
    if photos is None:
        prompt(turn, why_not)
        return
    turn.advance(COLLECT, photos=photos)
    prompt(turn)


def done(turn: Turn, conversation_id: str) -> None:
    """Send the answer, once however often the button is tapped or the event delivered."""
    conversation = turn.conversation
    if conversation is None or conversation.flow != ANSWER or conversation.conversation_id != conversation_id:
        turn.say("general.not_understood")
        return
    data = conversation.data
    if not data["texts"] and not data["photos"]:
        prompt(turn, "answer.empty")
        return
    receipt = data["receipt"]
    try:
        submission = service.of_line_user(receipt, turn.user_id)
        idempotency.once(
            "line-answer",
            f"{conversation_id}-answer",
            conversation_id.encode(),
            lambda: (
                201,
                service.respond(submission, "\n".join(data["texts"]), data["photos"], channel="line"),
            ),
        )
    except Conflict:
        turn.end()
        fresh = service.of_line_user(receipt, turn.user_id)
        _not_waiting(turn, receipt, fresh.status)
        return
    except MadoguchiError as error:
        logger.warning("chat answer refused", extra={"code": getattr(error, "code", "error")})
        turn.end()
        turn.say("respond.invalid")
        return
    turn.end()
    turn.say("answer.done", receipt=receipt)
    metrics.add_metric(name="ChatAnswersSent", unit="Count", value=1)


def _not_waiting(turn: Turn, receipt: str, status: str) -> None:
    turn.say("answer.not_waiting", receipt=receipt, status=turn.text(f"status.{status}"))


ACTIONS = {
    "answer.start": lambda turn, receipt: start(turn, receipt),
    "answer.done": done,
    "answer.keep": keep_pending,
}
