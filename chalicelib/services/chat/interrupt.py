"""A question typed in the middle of a guided flow (a report, an answer to the ward).

Text that the current step cannot take is looked up in the FAQ: a confident match gets
its answer and then the step again; a weak one the suggestions and a "Continue" button;
none a message saying how to ask instead (cancel, then type). The flow itself is left as
it was, so the resident never loses what they had given, and never gets the same "choose
with the buttons below" for every message they type.
"""

from __future__ import annotations

from collections.abc import Callable

from chalicelib.domain import chat, faq
from chalicelib.services.chat import ask
from chalicelib.services.chat.turn import Turn

ANSWERED = "answered"
SUGGESTED = "suggested"
UNKNOWN = "unknown"


def look_up(turn: Turn, text: str) -> tuple[str, list[str]]:
    """What the FAQ makes of `text`: (decision, entry ids). Searched with the resident's
    language, as ask.on_question does: the engine reads the text's own script."""
    question = chat.clean_text(text)[: faq.MAX_QUERY_CHARS]
    if not question:
        return UNKNOWN, []
    hits = ask.index().search(question, turn.language)
    decision, chosen = ask.index().decide(hits)
    if decision == faq.ANSWER:
        return ANSWERED, [chosen[0].entry_id]
    if decision == faq.SUGGESTIONS:
        return SUGGESTED, [hit.entry_id for hit in chosen]
    return UNKNOWN, []


def answer_question(turn: Turn, entry_id: str) -> None:
    found = ask.index().answer(entry_id, turn.language)
    turn.say_text(found["answer"] + "\n\n" + turn.text("faq.more", link=found["link"]))


def warn_if_urgent(turn: Turn, text: str) -> bool:
    """Who to call (110, 119), before anything else, when text a step takes as its answer
    names an emergency happening now (said so: True): a comment "someone fell in and is
    bleeding" would otherwise wait in a report for office hours."""
    urgent = faq.is_urgent(faq.normalize(chat.clean_text(text)[: faq.MAX_QUERY_CHARS]))
    if urgent:
        answer_question(turn, faq.URGENT_ENTRY)
    return urgent


def suggest(turn: Turn, entry_ids: list[str]) -> None:
    listed, buttons = turn.suggestions(
        [(entry_id, ask.index().answer(entry_id, turn.language)["question"]) for entry_id in entry_ids]
    )
    resume = turn.button("button.continue_flow", "flow.resume")
    intro = turn.text("flow.suggest", resume=turn.text("button.continue_flow"))
    turn.say_text(f"{intro}\n{listed}", [*buttons, resume, turn.cancel_button()])


def on_stray_text(turn: Turn, text: str, prompt: Callable[[Turn], None]) -> None:
    """Typed text the step cannot take: answer it if it is a question, then show the step again.

    `prompt(turn, note_key)` is the flow's own prompt (report.prompt, answer.prompt).
    """
    decision, entries = look_up(turn, text)
    cancel = turn.text("button.cancel")
    if decision == ANSWERED:
        answer_question(turn, entries[0])
        turn.say("flow.resume", cancel=cancel)
        prompt(turn)
    elif decision == SUGGESTED:
        suggest(turn, entries)
    else:
        turn.say("flow.not_a_step", cancel=cancel)
        prompt(turn)
