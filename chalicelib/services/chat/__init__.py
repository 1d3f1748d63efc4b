"""The resident's side of the LINE chat: buttons, questions, guided reports, settings.

The worker hands each message or postback event here. A turn reads the resident and their
conversation, lets one handler decide what to do and say, saves the conversation
(conditionally: two events of one resident never both apply to the same state) and sends
the reply, falling back to a push when LINE refuses the reply token.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from chalicelib.adapters.line_api import line_client
from chalicelib.config import get_settings
from chalicelib.domain import chat, courtesy, faq, postbacks
from chalicelib.domain import residents as resident_rules
from chalicelib.domain.line_webhook import LineEvent
from chalicelib.observability import logger, metrics
from chalicelib.schemas import problems
from chalicelib.services import replies
from chalicelib.services.chat import answer, ask, consultations, menu, report, settings
from chalicelib.services.chat.turn import Turn
from chalicelib.store import conversations, preferences, residents

# Conversation writes that collide (two photos at once) are retried with a fresh read.
ATTEMPTS = 4

Handler = Callable[[Turn, str], None]

ACTIONS: dict[str, Handler] = {
    "flow.cancel": lambda turn, _: cancel(turn),
    "flow.resume": lambda turn, _: resume(turn),
    **menu.ACTIONS,
    **settings.ACTIONS,
    **report.ACTIONS,
    **ask.ACTIONS,
    **answer.ACTIONS,
    **consultations.ACTIONS,
}


def on_message(event: LineEvent) -> None:
    _take_turn(event, _message)


def on_postback(event: LineEvent) -> None:
    _take_turn(event, _postback)


def _take_turn(event: LineEvent, decide: Callable[[Turn], None]) -> None:
    if event.source_type != "user":
        # The chat is one resident's: in a group or room its answers (their requests, their
        # settings) would be read by everyone there.
        logger.info("chat event from a group or room; not answered", extra={"source": event.source_type})
        return
    assert event.user_id  # the webhook schema requires it for a user's messages and postbacks
    if event.mode != "active":
        logger.info("chat event in standby mode; not answered")
        return
    for attempt in range(1, ATTEMPTS + 1):
        turn = _turn(event)
        try:
            _play(turn, decide)
            break
        except conversations.Conflict:
            if attempt == ATTEMPTS:
                raise
    replies.answer(event, turn.replies[: chat.MAX_MESSAGES], "reply")


def _turn(event: LineEvent) -> Turn:
    assert event.user_id
    now = datetime.now(UTC)
    stored = preferences.get(event.user_id)
    if stored is None:
        # Someone who followed before madoguchi kept residents: register them as a follow would.
        language = resident_rules.language_from_profile(line_client().profile_language(event.user_id))
        residents.record_first_message(event.user_id, language, event.timestamp_ms)
    else:
        language = stored.preferences.language
    return Turn(event, event.user_id, language, now, conversations.get(event.user_id))


def _play(turn: Turn, decide: Callable[[Turn], None]) -> None:
    conversation = turn.conversation
    if conversation is not None and conversation.last_event_id == turn.event.event_id:
        # This event was applied before its reply went out (a crash, a redelivery): answer again.
        logger.info("chat event already applied; prompting again")
        if conversation.flow == chat.REPORT:
            report.prompt(turn)
        elif conversation.flow == answer.ANSWER:
            answer.prompt(turn)
        else:
            ask.prompt(turn)
        return
    if conversation is not None and chat.is_quiet(conversation.updated_at, turn.now):
        turn.end()
        turn.say("general.expired")
        metrics.add_metric(name="ConversationsExpired", unit="Count", value=1)
    decide(turn)
    turn.save()


def _postback(turn: Turn) -> None:
    if _malformed(turn):
        turn.say("general.not_understood", [turn.button("button.settings", "menu.settings")])
        return
    data = turn.event.raw["postback"]["data"]
    try:
        postback = postbacks.read(get_settings().line_channel_secret, data)
        handler = ACTIONS[postback.action]
    except (postbacks.TamperedPostback, KeyError):
        logger.warning("postback rejected: not one we signed")
        metrics.add_metric(name="PostbacksRejected", unit="Count", value=1)
        turn.say("general.not_understood", [turn.button("button.settings", "menu.settings")])
        return
    handler(turn, postback.value)


def _message(turn: Turn) -> None:
    if _malformed(turn):
        message = turn.event.raw.get("message")
        if (
            isinstance(message, dict)
            and message.get("type") == "location"
            and turn.in_flow(chat.REPORT, chat.LOCATION)
        ):
            # Coordinates off the globe: no place in the ward. Said so, and the step asked again,
            # not "send a location" to someone who just sent one.
            report.prompt(turn, "report.outside_ward")
        else:
            turn.say("general.unsupported_message")
        return
    message = turn.event.raw["message"]
    kind = message["type"]
    if kind == "text":
        text = message.get("text") or ""
        if chat.is_cancel(text):
            cancel(turn)
        elif (turn.conversation is None or turn.in_flow(chat.ASK)) and (polite := courtesy.kind(text)):
            _courtesy(turn, text, polite)
        elif turn.in_flow(chat.REPORT):
            report.on_text(turn, text)
        elif turn.in_flow(answer.ANSWER):
            answer.on_text(turn, text)
        else:
            ask.on_question(turn, text)
    elif kind == "image" and turn.in_flow(chat.REPORT):
        report.on_photo(turn, message)
    elif kind == "image" and turn.in_flow(answer.ANSWER):
        answer.on_photo(turn, message)
    elif kind == "location" and turn.in_flow(chat.REPORT):
        report.on_location(turn, message)
    elif turn.in_flow(answer.ANSWER):  # answering the ward takes text and photos: said, asked again
        answer.prompt(turn, "answer.text_or_photo")
    elif kind in ("image", "location"):  # what a report takes, sent before one was started
        turn.say("general.media_outside_report", [turn.button("button.report", "menu.report")])
    else:
        turn.say("general.unsupported_message")


def _courtesy(turn: Turn, text: str, kind: str) -> None:
    """A greeting, thanks or ok alone, in its own language (an English one is anyone's). A
    question offered to a person stays offered; an ok to that offer shows it again, an ok after
    reading a suggested answer is thanks."""
    if kind == "acknowledgements" and turn.in_flow(chat.ASK) and not ask.answered(turn):
        ask.prompt(turn)
        return
    if turn.in_flow(chat.ASK) and turn.conversation and turn.conversation.data.get("language"):
        turn.language = turn.conversation.data["language"]  # the question's, not the profile's
    greeted_in = chat.greeting_language(text, turn.language)
    if greeted_in is None and (language := faq.reply_language(text, turn.language)) != "en":
        greeted_in = language
    turn.language = greeted_in or turn.language
    turn.say("chat.hello" if kind == "greetings" else "chat.welcome")


def _malformed(turn: Turn) -> bool:
    """Whether the parts of the event the chat reads break its schema (logged without content)."""
    found = problems("line_chat_event", turn.event.raw)
    if found:
        logger.warning("chat event refused by its schema", extra={"pointers": [p["pointer"] for p in found]})
        metrics.add_metric(name="ChatEventsMalformed", unit="Count", value=1)
    return bool(found)


def resume(turn: Turn) -> None:
    """Back to the step the resident was at, after a question asked in the middle of a flow."""
    if turn.in_flow(chat.REPORT):
        report.prompt(turn)
    elif turn.in_flow(answer.ANSWER):
        answer.prompt(turn)
    else:
        turn.say("general.not_understood", [turn.button("button.report", "menu.report")])


def cancel(turn: Turn) -> None:
    if turn.conversation is None:
        turn.say("general.nothing_to_cancel")
        return
    turn.end()
    turn.say("general.cancelled")
