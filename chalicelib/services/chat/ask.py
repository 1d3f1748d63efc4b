"""Questions in the chat: answered from the ward's FAQ, or sent on to a person.

A confident match gets the answer and its page; a weak one up to three suggestions; none
an offer to ask a person, which files an inquiry with the section the closest FAQ entry
belongs to (or the public hearing unit), through the submissions domain like any form.
"""

from __future__ import annotations

from functools import cache

from chalicelib.domain import chat, faq
from chalicelib.domain.forms import get_form, sections
from chalicelib.observability import logger, metrics
from chalicelib.services.chat.turn import Turn

INQUIRY_FORM = "inquiry"


# The entry that says how to reach a person: answered with the button it names, as when the
# FAQ has no answer (its text alone named a button the resident did not have).
HANDOFF_ENTRY = "line-ask-person"


@cache
def index() -> faq.FaqIndex:
    """Read once per container, at the first question (prebuilt in the deployment package,
    ~0.25 s; built where there is none, 2-3 s), then a search takes about 1 ms."""
    return faq.load_index()


def invite(turn: Turn) -> None:
    turn.say("ask.prompt")


def on_question(turn: Turn, text: str) -> None:
    question = chat.clean_text(text)[: faq.MAX_QUERY_CHARS]
    # Searched as the resident's language (search() reads the text's script itself), answered
    # in the question's: a Japanese-profile resident writing Chinese reads Chinese, a Nepali one
    # writing romanized Nepali reads Nepali.
    hits = index().search(question, turn.language)
    turn.language = faq.reply_language(question, turn.language)
    decision, chosen = index().decide(hits)
    metrics.add_metric(name=f"FaqDecision_{decision}", unit="Count", value=1)
    if decision == faq.ANSWER and chosen[0].entry_id != HANDOFF_ENTRY:
        turn.end()  # a question answered closes any question offered to a person before
        _answer(turn, chosen[0].entry_id)
        return
    # Kept for "ask a person": the resident's words go to staff only if they tap it. A question
    # near an entry goes to that entry's section; one near nothing to the public hearing unit.
    near = hits[0] if hits and (hits[0].covered or hits[0].confidence >= faq.SUGGEST_ALSO) else None
    offer: dict[str, object] = {}
    if decision == faq.ANSWER:
        offer = {"handoff": True}  # "can I talk to a person": how, with the button it names
    elif decision == faq.SUGGESTIONS:
        offer = {"suggested": [hit.entry_id for hit in chosen]}
    turn.start(
        chat.ASK,
        chat.OFFERED,
        {
            "question": chat.clean_text(text)[:1000],
            "faqEntry": near.entry_id if near else None,
            "section": index().entries[near.entry_id].section if near else None,
            "language": turn.language,  # the question's: an "ok" to the offer is answered in it
            **offer,
        },
    )
    prompt(turn)


def prompt(turn: Turn) -> None:
    """The offer of a person for the question kept, as first made (the suggestions, the way to
    reach a person, or "we cannot answer that"); said again for an ok to it, or a redelivery."""
    conversation = turn.conversation
    assert conversation is not None
    data = conversation.data
    turn.language = data.get("language") or turn.language
    person = turn.button("button.ask_person", "ask.person", conversation.conversation_id)
    if data.get("handoff"):
        turn.say_text(index().answer(HANDOFF_ENTRY, turn.language)["answer"], [person, turn.cancel_button()])
    elif suggested := [entry for entry in data.get("suggested") or () if entry in index().entries]:
        listed, buttons = turn.suggestions(
            [(entry, index().answer(entry, turn.language)["question"]) for entry in suggested]
        )
        intro = turn.text("handoff.suggest", person=turn.text("button.ask_person"))
        turn.say_text(f"{intro}\n{listed}", [*buttons, person])
    else:
        turn.say("handoff.none", [person, turn.cancel_button()], person=turn.text("button.ask_person"))


def answered(turn: Turn) -> bool:
    """Whether a suggestion was read since the person was offered (an ok then is thanks)."""
    return turn.in_flow(chat.ASK) and bool(turn.conversation and turn.conversation.data.get("shown"))


def show_answer(turn: Turn, entry_id: str) -> None:
    if entry_id not in index().entries:
        turn.say("general.not_understood")
        return
    conversation = turn.conversation
    if conversation is not None and turn.in_flow(
        chat.ASK, chat.OFFERED
    ):  # a suggestion tapped: the person stays offered
        turn.language = conversation.data.get("language") or turn.language  # the question's
        turn.advance(chat.OFFERED, shown=entry_id)
    _answer(turn, entry_id)


def _answer(turn: Turn, entry_id: str) -> None:
    from chalicelib.services.chat import consultations

    found = index().answer(entry_id, turn.language)
    # A consultation's answer offers "book this" (issue 15), and says so: its text sends people
    # to the ward's website to book (a walkthrough: the text and the button disagreed).
    book = consultations.for_faq(turn, entry_id) or None
    text = found["answer"] + "\n\n" + turn.text("faq.more", link=found["link"])
    if book:
        text += "\n" + turn.text("consult.book_here", button=turn.text("consult.button.book"))
    turn.say_text(text, book)


def ask_person(turn: Turn, conversation_id: str) -> None:
    """File the offered question as an inquiry, once however often the button is tapped."""
    conversation = turn.conversation
    if (
        conversation is None
        or not turn.in_flow(chat.ASK, chat.OFFERED)
        or conversation.conversation_id != conversation_id
    ):
        # A second tap of the same button: say it is filed, not that the question is gone.
        receipt = turn.filed(INQUIRY_FORM, conversation_id)
        if receipt:
            turn.say("ask.already_sent", receipt=receipt)
        else:
            turn.say("ask.missing")
        return
    data = conversation.data
    turn.language = data.get("language") or turn.language  # the question's, as the offer was made
    section = data.get("section") if data.get("section") in sections() else None
    document = {"question": data["question"]}
    if data.get("faqEntry"):
        document["faqEntry"] = data["faqEntry"]
    form = get_form(INQUIRY_FORM)
    assert form is not None and form.routed_by_topic
    receipt = turn.file(form, document, section=section)
    if receipt is None:
        return
    routed = section or form.section
    turn.say("ask.sent", receipt=receipt, section=turn.text(f"section.{routed}"))
    logger.info("chat inquiry filed", extra={"section": routed})


ACTIONS = {
    "faq.show": show_answer,
    "ask.person": ask_person,
}
