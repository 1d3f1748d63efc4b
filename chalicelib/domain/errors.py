"""The errors of madoguchi's own rules: what services and domain code raise instead of HTTP errors.

Services are called from HTTP routes, workers and the chat alike, so they say *what* went
wrong (not found, not allowed now, busy) and `chalicelib/api/errors.py` alone decides which
HTTP status that is. Every subclass carries a stable `code` for clients and a message.

A message a resident may read is a catalogue text (`messages.Text`: a key and its values,
chalicelib/data/messages/errors.json): the service does not know who reads it, so the API
renders it in the request's language, once (api/errors.py). A plain string is for staff and
for developers of a client (a malformed request), never for a resident
(tests/unit/test_messages.py fails on a resident-facing sentence written in code).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from chalicelib.domain.messages import Text


class MadoguchiError(Exception):
    """Base of every rule-level error. `details` holds machine-readable problems (e.g. schema)."""

    code = "error"
    # True when the same call may succeed if simply tried again later (the chat retries these).
    transient = False

    def __init__(
        self,
        message: str | Text,
        *,
        code: str | None = None,
        details: list[Any] | None = None,
        retry_after: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.details = details or []
        self.retry_after = retry_after

    def text(self, language: str) -> str:
        """The message in `language` (a plain string is the same in every language)."""
        from chalicelib.domain import messages

        return str(messages.localize(self.message, language))


class Invalid(MadoguchiError):
    """The input breaks a rule or a schema; `details` says where."""

    code = "invalid_request"


class Malformed(Invalid):
    """The request itself cannot be read as asked (a query parameter, a header, a cursor)."""

    code = "bad_request"


class InvalidCursor(Malformed):
    """A page cursor that is not one the list gave out (garbled, edited, or for another list)."""

    code = "invalid_cursor"

    def __init__(self, message: str | None = None) -> None:
        super().__init__(
            # Only the staff lists page: their texts are Japanese and English.
            message
            or "この一覧・条件の cursor ではありません。cursor なしで最初からどうぞ。"
            " / The cursor is not one this list gave out for these filters; start again without it.",
            details=[
                {
                    "parameter": "cursor",
                    "message": "前のページの nextCursor を同じ条件で使ってください。"
                    " / Use nextCursor from the previous page, with the same filters.",
                }
            ],
        )


class NotFound(MadoguchiError):
    code = "not_found"


class Unauthenticated(MadoguchiError):
    code = "unauthorized"


class Forbidden(MadoguchiError):
    code = "forbidden"


class Conflict(MadoguchiError):
    """The thing is in a state that does not allow this (e.g. already paid, not in needs_info)."""

    code = "conflict"


class InProgress(Conflict):
    """The same request is being handled right now; trying again shortly gives its answer."""

    code = "in_progress"
    transient = True


class TooManyRequests(MadoguchiError):
    code = "too_many_requests"


class Unavailable(MadoguchiError):
    """A dependency (a table, a queue, a provider) is busy or down; nothing was changed."""

    code = "unavailable"
    transient = True
