"""One event's turn in the chat: who is talking, in which language, and what we answer."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from chalicelib.config import get_settings
from chalicelib.domain import chat, messages, postbacks
from chalicelib.domain import errors as rule
from chalicelib.domain.forms import FormDefinition
from chalicelib.domain.line_webhook import LineEvent
from chalicelib.observability import logger
from chalicelib.services import idempotency, submissions
from chalicelib.store import conversations
from chalicelib.store.models import Conversation

# Filing a conversation's submission: attempts within one delivery of the event, and their spacing.
FILE_ATTEMPTS = 3
FILE_BACKOFF_SECONDS = 0.5


@dataclass
class Turn:
    event: LineEvent
    user_id: str
    language: str
    now: datetime
    # The resident's guided conversation, if one is going on (None once it ends).
    conversation: Conversation | None
    replies: list[dict[str, Any]] = field(default_factory=list)

    # --- what we say ---

    def text(self, key: str, /, **values: object) -> str:
        return messages.text(key, self.language, **values)

    def say(self, key: str, quick_replies: list[dict[str, Any]] | None = None, /, **values: object) -> None:
        self.say_text(self.text(key, **values), quick_replies)

    def say_text(self, text: str, quick_replies: list[dict[str, Any]] | None = None) -> None:
        self.replies.append(chat.text_message(text, quick_replies))

    def button(self, key: str, action: str, value: str = "") -> dict[str, Any]:
        """A quick-reply button labelled with catalogue text `key` that runs `action`."""
        return self.button_labelled(self.text(key), action, value)

    def button_labelled(
        self, label: str, action: str, value: str = "", display_text: str | None = None
    ) -> dict[str, Any]:
        data = postbacks.sign(get_settings().line_channel_secret, action, value)
        return chat.postback_item(label, data, display_text)

    def suggestions(self, questions: list[tuple[str, str]]) -> tuple[str, list[dict[str, Any]]]:
        """FAQ suggestions: a numbered list for the text, and a button per number that shows the
        answer (the question itself rarely fits LINE's 20-character label; the tap still shows
        it in the chat as the resident's message)."""
        lines, buttons = [], []
        for number, (entry_id, question) in enumerate(questions, start=1):
            lines.append(f"{number}. {question}")
            label = self.text("faq.choice", number=number)
            buttons.append(self.button_labelled(label, "faq.show", entry_id, display_text=question))
        return "\n".join(lines), buttons

    def cancel_button(self) -> dict[str, Any]:
        return self.button("button.cancel", "flow.cancel")

    # --- the conversation ---

    def start(self, flow: str, step: str, data: dict[str, Any] | None = None) -> Conversation:
        """A new conversation, replacing the resident's current one (kept as the write's base)."""
        conversation = self.conversation or Conversation(self.user_id)
        conversation.conversation_id = secrets.token_hex(8)
        conversation.flow = flow
        conversation.step = step
        conversation.data = data or {}
        self.conversation = conversation
        return conversation

    def advance(self, step: str, **data: Any) -> None:
        assert self.conversation is not None
        self.conversation.step = step
        self.conversation.data = {**self.conversation.data, **data}

    def in_flow(self, flow: str, *steps: str) -> bool:
        c = self.conversation
        return c is not None and c.flow == flow and (not steps or c.step in steps)

    def save(self) -> None:
        if self.conversation is not None:
            self.conversation.last_event_id = self.event.event_id
            conversations.save(self.conversation, self.now)

    def file(
        self, form: FormDefinition, document: dict[str, Any], *, section: str | None = None
    ) -> str | None:
        """File what the conversation gathered as a submission from this resident on LINE, once
        however often the button is tapped or the event delivered (keyed by the conversation).

        Ends the conversation. Returns the receipt, or None when the form refused the document
        (the resident has been told). A transient failure (busy, in progress) is retried and,
        if it lasts, raised: the report is kept for the event's next delivery, never dropped.
        """
        assert self.conversation is not None
        key = self.conversation.conversation_id
        scope, filing_key = _filing(form.id, key)
        submitter = submissions.Submitter(
            channel="line", language=self.language, line_user_id=self.user_id, confirmed=True
        )
        for attempt in range(1, FILE_ATTEMPTS + 1):
            try:
                _, created = idempotency.once(
                    scope,
                    filing_key,
                    key.encode(),
                    lambda: (201, submissions.create(form, document, submitter, section=section)),
                    caller=f"line:{self.user_id}",
                )
                break
            except rule.MadoguchiError as error:
                if error.transient:
                    # Busy, or this very filing still running elsewhere: it may well succeed in a
                    # moment, so try again; after that the event fails and SQS delivers it again,
                    # with the conversation (and so the idempotency key) kept.
                    logger.warning(
                        "chat submission not filed yet", extra={"form": form.id, "code": error.code}
                    )
                    if attempt == FILE_ATTEMPTS:
                        raise
                    time.sleep(FILE_BACKOFF_SECONDS * attempt)
                    continue
                logger.warning("chat submission refused", extra={"form": form.id, "code": error.code})
                self.end()
                self.say("report.rejected")
                return None
        self.end()
        return created["receipt"]

    def filed(self, form_id: str, conversation_id: str) -> str | None:
        """The receipt the conversation `conversation_id` was filed under, if `file` filed it."""
        created = idempotency.answered(*_filing(form_id, conversation_id), caller=f"line:{self.user_id}")
        return created.get("receipt") if isinstance(created, dict) else None

    def end(self) -> None:
        if self.conversation is not None and self.conversation.version is not None:
            conversations.end(self.conversation)
        self.conversation = None


def _filing(form_id: str, conversation_id: str) -> tuple[str, str]:
    """The idempotency scope and key of one conversation's filing of one form."""
    return f"line-{form_id}", f"{conversation_id}-{form_id}"
