"""A resident's answer to "needs info": what an answer may hold, the thread, the one reminder. Pure.

When staff move a submission to needs_info they must write a public note (what is needed).
The resident answers with text and up to three photos; each answer is appended to the
submission's thread and moves it back to in_review. The thread shows, in order, the ward's
public notes and the resident's answers, with who and when.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from chalicelib.domain import json_text
from chalicelib.domain.errors import Invalid
from chalicelib.domain.messages import Text
from chalicelib.domain.submissions import NEEDS_INFO, business_days_waiting, tokyo_iso
from chalicelib.domain.ward import without_controls

MAX_TEXT_CHARS = 2000
MAX_PHOTOS = 3

WARD = "ward"
RESIDENT = "resident"


def clean_text(text: object) -> str:
    """The answer's text without control characters (newlines kept), NFC, trimmed of what
    surrounds it unseen (spaces, U+200B, U+FEFF: `json_text.trim`, as forms' answers are)."""
    if not isinstance(text, str):
        return ""
    return json_text.trim(without_controls(unicodedata.normalize("NFC", text)))


@dataclass(frozen=True)
class Answer:
    text: str
    uploads: tuple[str, ...]


def check_answer(text: object, uploads: Sequence[str]) -> Answer:
    """The answer, or Invalid (422) naming each problem (catalogue texts: the API writes them in
    the resident's language)."""
    cleaned = clean_text(text)
    uploads = list(dict.fromkeys(uploads))  # one photo named twice is one photo
    details = []
    if isinstance(text, str) and json_text.UNTYPEABLE.search(text):  # as the JSON API refuses it
        details.append({"pointer": "/text", "message": Text("error.untypeable_text")})
    if len(cleaned) > MAX_TEXT_CHARS:
        details.append({"pointer": "/text", "message": Text("answer.too_long", limit=MAX_TEXT_CHARS)})
    if len(uploads) > MAX_PHOTOS:
        details.append(
            {
                "pointer": "/attachments",
                "message": Text("respond.too_many_photos", limit=MAX_PHOTOS),
            }
        )
    if not cleaned and not uploads:
        details.append({"pointer": "/text", "message": Text("respond.empty")})
    if details:
        raise Invalid(Text("respond.invalid"), code="invalid_response", details=details)
    return Answer(cleaned, tuple(uploads))


def response_entry(
    at: datetime, answer_text: str, attachments: Sequence[str], channel: str, version: int
) -> dict[str, Any]:
    """How one answer is stored on the submission (UTC ISO time, like public notes)."""
    return {
        "at": at.isoformat(),
        "text": answer_text,
        "attachments": list(attachments),
        "channel": channel,
        "version": version,
    }


def thread(
    public_notes: Sequence[Mapping[str, Any]],
    responses: Sequence[Mapping[str, Any]],
    *,
    with_attachments: bool = False,
) -> list[dict[str, Any]]:
    """The ward's public notes and the resident's answers, oldest first, with who and when.

    Residents see how many photos they sent; staff (`with_attachments`) see the keys.
    """
    entries: list[tuple[str, dict[str, Any]]] = []
    for note in public_notes:
        if isinstance(note.get("note"), str):
            entries.append(
                (
                    note["at"],
                    {
                        "who": WARD,
                        "at": tokyo_iso(datetime.fromisoformat(note["at"])),
                        "status": note.get("status"),
                        "text": note["note"],
                    },
                )
            )
    for response in responses:
        entry: dict[str, Any] = {
            "who": RESIDENT,
            "at": tokyo_iso(datetime.fromisoformat(response["at"])),
            "text": response.get("text") or "",
            "channel": response.get("channel"),
            "photos": len(response.get("attachments") or []),
        }
        if with_attachments:
            entry["attachments"] = list(response.get("attachments") or [])
        entries.append((response["at"], entry))
    entries.sort(key=lambda pair: datetime.fromisoformat(pair[0]))
    return [entry for _, entry in entries]


def needs_info_since(public_notes: Sequence[Mapping[str, Any]]) -> str | None:
    """The UTC ISO time of the latest request for information (its public note), if any; a note
    added without a move (`"action": "note"`) asks for nothing new."""
    asked = [
        note["at"]
        for note in public_notes
        if note.get("status") == NEEDS_INFO and note.get("at") and note.get("action") != "note"
    ]
    return max(asked, key=datetime.fromisoformat) if asked else None


def waiting_past_target(
    status: str, public_notes: Sequence[Mapping[str, Any]], target_days: int | None, now: datetime
) -> bool:
    """In needs_info for more business days than the form's target (the resident's turn, too long)."""
    since = needs_info_since(public_notes)
    if status != NEEDS_INFO or since is None or not target_days:
        return False
    return business_days_waiting(datetime.fromisoformat(since), now) > target_days


def reminder_due(
    status: str,
    public_notes: Sequence[Mapping[str, Any]],
    reminded_for: str | None,
    target_days: int | None,
    now: datetime,
) -> str | None:
    """The request (its note time) to remind the resident of now, or None.

    Once per request: a reminder is due when the submission has waited in needs_info past
    the form's target days, and none was sent for this request yet.
    """
    since = needs_info_since(public_notes)
    if since is None or since == reminded_for:
        return None
    return since if waiting_past_target(status, public_notes, target_days, now) else None


def awaiting_staff(responded_at: datetime | None, updated_at: datetime) -> bool:
    """The resident answered and no one has moved the submission since (the `responded` filter)."""
    return responded_at is not None and responded_at >= updated_at
