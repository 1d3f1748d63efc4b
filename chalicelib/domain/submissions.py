"""Submissions (procedures and reports): lifecycle, audit trail, receipts, resident secrets,
due dates in the ward's business days, and the Open311 GeoReport v2 view.

Pure Python: no I/O beyond reading the ward's holiday table from chalicelib/data once.
Persistence (conditional writes, collision retries) is the store's job; this module
decides what is allowed and what things look like.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import math
import os
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone
from functools import lru_cache
from typing import Any

from chalicelib.domain import json_text, messages
from chalicelib.domain.business_days import is_business_day
from chalicelib.domain.ward import ward_name, without_controls

# Japan has had no daylight saving time since 1951: a fixed offset needs no tz database.
TOKYO = timezone(timedelta(hours=9), "JST")


# --------------------------------------------------------------------------- lifecycle

# A form whose fee is paid first (domain/payments.py) waits here until the payment is confirmed.
AWAITING_PAYMENT = "awaiting_payment"
RECEIVED = "received"
IN_REVIEW = "in_review"
NEEDS_INFO = "needs_info"
COMPLETED = "completed"
REJECTED = "rejected"
WITHDRAWN = "withdrawn"

STATUSES = (AWAITING_PAYMENT, RECEIVED, IN_REVIEW, NEEDS_INFO, COMPLETED, REJECTED, WITHDRAWN)
OPEN_STATUSES = frozenset({RECEIVED, IN_REVIEW, NEEDS_INFO})
TERMINAL_STATUSES = frozenset({COMPLETED, REJECTED, WITHDRAWN})
# The ward's clock runs only while the ward has the next move; in needs_info it waits for the
# resident (as 行政手続法 leaves 補正 time out of the standard processing period).
WARD_CLOCK_STATUSES = frozenset({RECEIVED, IN_REVIEW})
# The resident must be told what to do (needs_info) or why (rejected), so these need a public note.
PUBLIC_NOTE_REQUIRED = frozenset({NEEDS_INFO, REJECTED})


def status_labels(status: str) -> dict[str, str]:
    """The status's name in Japanese and English (`statusLabel` of the API's answers), from the
    catalogue's `status.*` texts, which have it in every language."""
    return {language: messages.text(f"status.{status}", language) for language in ("ja", "en")}


STAFF = "staff"
RESIDENT = "resident"
SYSTEM = "system"
ACTOR_KINDS = frozenset({STAFF, RESIDENT, SYSTEM})

# Who may move what where. received -> rejected is allowed for staff: spam, duplicates and
# requests for another municipality should not pass through a pretend review first (the
# rejection still needs a public note). Staff withdraw for a resident who asks by phone or at
# the counter (with a note of that), and may refuse a request still waiting for its fee. The
# system actor moves only a paid submission on.
_TRANSITIONS: dict[str, dict[str, frozenset[str]]] = {
    STAFF: {
        AWAITING_PAYMENT: frozenset({REJECTED, WITHDRAWN}),
        RECEIVED: frozenset({IN_REVIEW, REJECTED, WITHDRAWN}),
        IN_REVIEW: frozenset({NEEDS_INFO, COMPLETED, REJECTED, WITHDRAWN}),
        NEEDS_INFO: frozenset({IN_REVIEW, WITHDRAWN}),
    },
    RESIDENT: {
        AWAITING_PAYMENT: frozenset({WITHDRAWN}),
        RECEIVED: frozenset({WITHDRAWN}),
        IN_REVIEW: frozenset({WITHDRAWN}),
        NEEDS_INFO: frozenset({WITHDRAWN}),
    },
    # The payment worker, once the provider confirmed the fee was paid; the unpaid-withdrawal job
    # once the form's days to pay have passed with no payment (services/payment_withdrawals.py).
    SYSTEM: {AWAITING_PAYMENT: frozenset({RECEIVED, WITHDRAWN})},
}


@dataclass(frozen=True)
class Actor:
    """Who acts: a staff member (with their section), the resident, or the system itself."""

    kind: str
    id: str
    section: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in ACTOR_KINDS:
            raise ValueError(f"actor kind must be one of {sorted(ACTOR_KINDS)}")
        if not isinstance(self.id, str) or not self.id.strip():
            raise ValueError("actor id must be a non-empty string")
        if self.kind == STAFF and (not isinstance(self.section, str) or not self.section.strip()):
            raise ValueError("a staff actor needs a section")


class InvalidTransition(Exception):
    """A status change that the lifecycle refuses (HTTP 409; `unknown_status` is bad input, 422).

    `code` is one of unknown_status, unchanged, terminal, not_permitted (the change exists
    but not for this kind of actor), not_allowed; `reason` is safe to show; `text` is what a
    resident (withdrawing) or staff member reads, in their language (`error.transition.<code>`).
    """

    def __init__(self, current: str, target: str, reason: str, *, code: str = "not_allowed") -> None:
        super().__init__(reason)
        self.current = current
        self.target = target
        self.reason = reason
        self.code = code
        self.text = messages.Text(f"error.transition.{code}")


def allowed_targets(current: str, actor_kind: str) -> frozenset[str]:
    """The statuses an actor of this kind may move a submission in `current` to."""
    if current not in STATUSES:
        raise ValueError(f"unknown status {current!r}")
    if actor_kind not in ACTOR_KINDS:
        raise ValueError(f"unknown actor kind {actor_kind!r}")
    return _TRANSITIONS[actor_kind].get(current, frozenset())


def transition(current: str, target: str, *, actor: Actor) -> None:
    """Raise InvalidTransition unless `actor` may move a submission from `current` to `target`.

    Section isolation (a staff member acts only on their section's submissions) and the
    resident's proof of access are checked by the caller before this.
    """
    if current not in STATUSES or target not in STATUSES:
        raise InvalidTransition(current, target, "unknown status", code="unknown_status")
    if current == target:
        raise InvalidTransition(current, target, f"already {current}", code="unchanged")
    if current in TERMINAL_STATUSES:
        raise InvalidTransition(current, target, f"{current} is final", code="terminal")
    if target in allowed_targets(current, actor.kind):
        return
    if any(target in table.get(current, ()) for table in _TRANSITIONS.values()):
        raise InvalidTransition(
            current, target, f"a {actor.kind} may not move {current} to {target}", code="not_permitted"
        )
    raise InvalidTransition(current, target, f"{current} cannot move to {target}")


NOTE_VISIBILITIES = frozenset({"public", "internal"})
NOTE_MAX_CHARS = 2000
# Control characters other than newline and tab have no place in a note shown on a phone.

_NOTE_MESSAGES = {
    "note_required": (
        "この状態にするには、区民の方に向けた公開のメモ（理由やお願いする内容）が必要です。",
        "This status needs a public note telling the resident why, or what to do.",
    ),
    "note_must_be_public": (
        "この状態のメモは区民の方に見える「公開」にしてください。",
        "The note for this status must be public, so the resident can read it.",
    ),
    "bad_visibility": (
        "メモの公開範囲は public か internal です。",
        "Note visibility is public or internal.",
    ),
    "too_long": (
        f"メモは{NOTE_MAX_CHARS}文字以内にしてください。",
        f"A note has at most {NOTE_MAX_CHARS} characters.",
    ),
    "note_required_withdrawn": (
        "区民の方に代わって取り下げるときは、申し出の日時と方法をメモに残してください。",
        "Withdrawing for a resident needs a note of when and how they asked.",
    ),
    "bad_note": ("メモは文字列で入力してください。", "A note must be text."),
    "empty_note": ("メモが空です。", "The note is empty."),
}


class InvalidNote(ValueError):
    """A transition note that cannot be accepted (HTTP 422); `message` has ja/en.

    Only staff write notes, so its texts are staff texts, here rather than in the residents'
    message catalogue.
    """

    def __init__(self, code: str) -> None:
        ja, en = _NOTE_MESSAGES[code]
        super().__init__(en)
        self.code = code
        self.reason = en
        self.message = {"ja": ja, "en": en}

    @property
    def staff_message(self) -> str:
        return f"{self.message['ja']} / {self.message['en']}"


def validate_transition_note(
    target: str, note: str | None, visibility: str | None, *, actor_kind: str
) -> str | None:
    """Check the note that goes with a move to `target`; return it cleaned (or None if absent).

    needs_info and rejected need a non-blank public note; staff withdrawing for a resident, a
    note of either visibility. A note given without a visibility is refused rather than
    guessed: public/internal is the staff member's call.
    """
    cleaned = _clean_note(note, visibility)
    if cleaned is None:
        if target in PUBLIC_NOTE_REQUIRED:
            raise InvalidNote("note_required")
        if target == WITHDRAWN and actor_kind == STAFF:
            raise InvalidNote("note_required_withdrawn")
        return None
    if target in PUBLIC_NOTE_REQUIRED and visibility != "public":
        raise InvalidNote("note_must_be_public")
    return cleaned


def _clean_note(note: str | None, visibility: str | None) -> str | None:
    if note is not None and not isinstance(note, str):
        raise InvalidNote("bad_note")
    cleaned = without_controls(note).strip() if note else ""
    if not json_text.visible(cleaned):
        return None  # nothing a reader sees: spaces, zero-width characters, fillers
    if visibility not in NOTE_VISIBILITIES:
        raise InvalidNote("bad_visibility")
    if len(cleaned) > NOTE_MAX_CHARS:
        raise InvalidNote("too_long")
    return cleaned


# --------------------------------------------------------------------------- audit trail

ACTIONS = frozenset({"created", "transition", "viewed_personal_data", "note"})
# Actions whose public note a resident may read (a view of personal data never is one).
_NOTE_ACTIONS = frozenset({"created", "transition", "note"})


def _as_utc(value: datetime, name: str) -> datetime:
    if not isinstance(value, datetime) or value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime")
    return value.astimezone(UTC)


def tokyo_iso(value: datetime) -> str:
    """An aware datetime as Asia/Tokyo ISO 8601 to the second, e.g. 2026-11-02T09:15:00+09:00."""
    return _as_utc(value, "time").astimezone(TOKYO).isoformat(timespec="seconds")


def utc_iso(value: datetime) -> str:
    """An aware datetime as UTC ISO 8601 to the microsecond (how times are stored)."""
    return _as_utc(value, "time").isoformat()


@dataclass(frozen=True)
class AuditEntry:
    """One line of a submission's audit trail. `at` is normalised to UTC."""

    who: str
    actor_kind: str
    at: datetime
    action: str
    from_status: str | None = None
    to_status: str | None = None
    note: str | None = None
    note_visibility: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "at", _as_utc(self.at, "at"))
        if not isinstance(self.who, str) or not self.who:
            raise ValueError("who must be a non-empty string")
        if self.actor_kind not in ACTOR_KINDS:
            raise ValueError(f"unknown actor kind {self.actor_kind!r}")
        if self.action not in ACTIONS:
            raise ValueError(f"unknown action {self.action!r}")
        for status in (self.from_status, self.to_status):
            if status is not None and status not in STATUSES:
                raise ValueError(f"unknown status {status!r}")
        if self.action == "transition" and (self.from_status is None or self.to_status is None):
            raise ValueError("a transition entry needs from_status and to_status")
        if (self.note is None) != (self.note_visibility is None):
            raise ValueError("note and note_visibility go together")
        if self.note_visibility is not None and self.note_visibility not in NOTE_VISIBILITIES:
            raise ValueError(f"unknown note visibility {self.note_visibility!r}")

    @classmethod
    def created(
        cls, actor: Actor, at: datetime, *, note: str | None = None, visibility: str | None = None
    ) -> AuditEntry:
        note = validate_transition_note(RECEIVED, note, visibility, actor_kind=actor.kind)
        return cls(actor.id, actor.kind, at, "created", None, RECEIVED, note, visibility if note else None)

    @classmethod
    def for_transition(
        cls,
        current: str,
        target: str,
        *,
        actor: Actor,
        at: datetime,
        note: str | None = None,
        visibility: str | None = None,
    ) -> AuditEntry:
        """Check the move and its note (raising InvalidTransition / InvalidNote) and record it."""
        transition(current, target, actor=actor)
        note = validate_transition_note(target, note, visibility, actor_kind=actor.kind)
        return cls(
            actor.id, actor.kind, at, "transition", current, target, note, visibility if note else None
        )

    @classmethod
    def viewed_personal_data(cls, actor: Actor, at: datetime) -> AuditEntry:
        return cls(actor.id, actor.kind, at, "viewed_personal_data")

    @classmethod
    def note_added(cls, actor: Actor, at: datetime, note: str, visibility: str) -> AuditEntry:
        cleaned = _clean_note(note, visibility)
        if cleaned is None:
            raise InvalidNote("empty_note")
        return cls(actor.id, actor.kind, at, "note", None, None, cleaned, visibility)

    def to_dict(self) -> dict[str, Any]:
        """The stored form (UTC ISO time, camelCase keys, absent values left out)."""
        raw = {
            "who": self.who,
            "actorKind": self.actor_kind,
            "at": utc_iso(self.at),
            "action": self.action,
            "fromStatus": self.from_status,
            "toStatus": self.to_status,
            "note": self.note,
            "noteVisibility": self.note_visibility,
        }
        return {key: value for key, value in raw.items() if value is not None}

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> AuditEntry:
        return cls(
            who=raw["who"],
            actor_kind=raw["actorKind"],
            at=datetime.fromisoformat(raw["at"]),
            action=raw["action"],
            from_status=raw.get("fromStatus"),
            to_status=raw.get("toStatus"),
            note=raw.get("note"),
            note_visibility=raw.get("noteVisibility"),
        )


def public_view(
    *,
    receipt: str,
    form_id: str,
    status: str,
    created_at: datetime,
    updated_at: datetime,
    audit: Iterable[AuditEntry],
) -> dict[str, Any]:
    """What the resident may see of their submission.

    Status, receipt, form id, times in Asia/Tokyo, and public notes (oldest first) with the
    status they came with. Never internal notes, staff ids, actor kinds or views of personal data.
    """
    if status not in STATUSES:
        raise ValueError(f"unknown status {status!r}")
    notes = sorted(
        (entry for entry in audit if entry.note_visibility == "public" and entry.action in _NOTE_ACTIONS),
        key=lambda entry: entry.at,
    )
    return {
        "receipt": receipt,
        "formId": form_id,
        "status": status,
        "statusLabel": status_labels(status),
        "createdAt": tokyo_iso(created_at),
        "updatedAt": tokyo_iso(updated_at),
        "notes": [
            {"at": tokyo_iso(entry.at), "status": entry.to_status, "note": entry.note} for entry in notes
        ],
    }


# --------------------------------------------------------------------------- receipts and secrets

# Crockford's base32: no I, L, O or U, so nothing read aloud or typed can be two symbols.
ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
DEFAULT_RECEIPT_PREFIX = "KTS"
# Any receipt of any prefix, in canonical form (for code that only needs to recognise one).
RECEIPT_PATTERN = re.compile(r"[A-Z]{1,6}-[0-9]{2}(?:0[1-9]|1[0-2])-[0-9A-HJKMNP-TV-Z]{4}")
_PREFIX = re.compile(r"[A-Z]{1,6}")
# What people type for the letters that Crockford's alphabet leaves out.
_LOOKALIKES = str.maketrans({"O": "0", "I": "1", "L": "1"})
_SEPARATORS = frozenset("_.・ー−/")
_MAX_TYPED = 64


def _random_symbols(count: int, random_bytes: Callable[[int], bytes]) -> str:
    data = random_bytes(count)
    if len(data) != count:
        raise ValueError("random_bytes returned the wrong number of bytes")
    # 256 is a multiple of 32, so the low five bits of a uniform byte are uniform.
    return "".join(ALPHABET[byte & 0x1F] for byte in data)


def _squeeze(text: object) -> str | None:
    """Full-width to ASCII, upper case, separators and spaces gone; None if hopeless."""
    if not isinstance(text, str) or len(text) > _MAX_TYPED:
        return None
    folded = unicodedata.normalize("NFKC", text).upper()
    return "".join(
        ch for ch in folded if not (ch.isspace() or ch in _SEPARATORS or unicodedata.category(ch) == "Pd")
    )


def _check_prefix(prefix: str) -> None:
    if not _PREFIX.fullmatch(prefix):
        raise ValueError("a receipt prefix is 1-6 ASCII capital letters")


def new_receipt(
    now: datetime,
    random_bytes: Callable[[int], bytes] = os.urandom,
    *,
    prefix: str = DEFAULT_RECEIPT_PREFIX,
) -> str:
    """A receipt number such as KTS-2611-7Q4M: prefix, year and month in Tokyo, 4 random symbols.

    20 random bits per month: collisions happen at volume, so the store must insert with a
    condition (receipt absent) and draw again on a clash.
    """
    _check_prefix(prefix)
    local = _as_utc(now, "now").astimezone(TOKYO)
    return f"{prefix}-{local:%y%m}-{_random_symbols(4, random_bytes)}"


def normalize_receipt(text: str, *, prefix: str = DEFAULT_RECEIPT_PREFIX) -> str | None:
    """The canonical receipt for what a resident typed or read out, or None if it is not one.

    Accepts lower case, full-width characters, any dashes or spaces or none, O for 0, I/L for 1,
    and the number without its prefix (people drop the part that never changes).
    """
    _check_prefix(prefix)
    squeezed = _squeeze(text)
    if squeezed is None:
        return None
    if len(squeezed) == len(prefix) + 8 and squeezed.startswith(prefix):
        body = squeezed[len(prefix) :]
    elif len(squeezed) == 8:
        body = squeezed
    else:
        return None
    body = body.translate(_LOOKALIKES)
    yymm, code = body[:4], body[4:]
    if not (yymm.isascii() and yymm.isdigit()) or not 1 <= int(yymm[2:]) <= 12:
        return None
    if not all(ch in ALPHABET for ch in code):
        return None
    return f"{prefix}-{yymm}-{code}"


SECRET_LENGTH = 8
SCRYPT_N = 2**14  # ~40 ms on one core and 16 MiB: slow to guess offline, cheap for one check
SCRYPT_R = 8
SCRYPT_P = 1
SALT_BYTES = 16
_HASH_BYTES = 32
_MAX_SCRYPT_N = 2**16


def new_access_secret(random_bytes: Callable[[int], bytes] = os.urandom) -> str:
    """The secret a resident gets with the receipt: 8 symbols (40 bits), read as 7Q4M-XK2P."""
    symbols = _random_symbols(SECRET_LENGTH, random_bytes)
    return f"{symbols[:4]}-{symbols[4:]}"


def normalize_secret(text: str) -> str | None:
    """The canonical grouped secret (7Q4M-XK2P) for what a resident typed, or None."""
    squeezed = _squeeze(text)
    if squeezed is None or len(squeezed) != SECRET_LENGTH:
        return None
    symbols = squeezed.translate(_LOOKALIKES)
    if not all(ch in ALPHABET for ch in symbols):
        return None
    return f"{symbols[:4]}-{symbols[4:]}"


def new_salt() -> bytes:
    return os.urandom(SALT_BYTES)


def _scrypt(material: str, salt: bytes, n: int, r: int, p: int, length: int) -> bytes:
    maxmem = 128 * r * (n + p + 2) + 2**20
    return hashlib.scrypt(material.encode("ascii"), salt=salt, n=n, r=r, p=p, maxmem=maxmem, dklen=length)


def hash_secret(secret: str, salt: bytes, *, n: int = SCRYPT_N, r: int = SCRYPT_R, p: int = SCRYPT_P) -> str:
    """scrypt of the normalised secret, as "scrypt$n$r$p$salt_b64$hash_b64" (one salt per submission)."""
    canonical = normalize_secret(secret)
    if canonical is None:
        raise ValueError("not an access secret")
    if not isinstance(salt, bytes) or len(salt) < SALT_BYTES:
        raise ValueError(f"the salt needs at least {SALT_BYTES} bytes")
    _check_cost(n, r, p)
    digest = _scrypt(canonical.replace("-", ""), salt, n, r, p, _HASH_BYTES)
    encode = base64.b64encode
    return f"scrypt${n}${r}${p}${encode(salt).decode()}${encode(digest).decode()}"


def _check_cost(n: int, r: int, p: int) -> None:
    # Bounds keep a corrupted stored hash from turning one check into a memory bomb.
    if not (2 <= n <= _MAX_SCRYPT_N and n & (n - 1) == 0 and 1 <= r <= 32 and 1 <= p <= 4):
        raise ValueError("scrypt cost out of bounds")


def _parse_stored(stored: str) -> tuple[int, int, int, bytes, bytes]:
    parts = stored.split("$") if isinstance(stored, str) else []
    if len(parts) != 6 or parts[0] != "scrypt" or not all(part.isdigit() for part in parts[1:4]):
        raise ValueError("not a stored scrypt secret")
    n, r, p = (int(part) for part in parts[1:4])
    _check_cost(n, r, p)
    try:
        salt = base64.b64decode(parts[4], validate=True)
        digest = base64.b64decode(parts[5], validate=True)
    except binascii.Error as error:
        raise ValueError("not a stored scrypt secret") from error
    if not salt or len(digest) < 16:
        raise ValueError("not a stored scrypt secret")
    return n, r, p, salt, digest


def verify_secret(secret: str, stored: str) -> bool:
    """Does what the resident typed match the stored hash? Same work for every wrong answer.

    Typed input is normalised like a receipt (case, width, dashes, O/I/L). Input that is not
    even shaped like a secret still pays the full scrypt cost, and the comparison is
    constant-time, so timing tells nothing. A malformed `stored` is a server fault: ValueError.
    """
    n, r, p, salt, expected = _parse_stored(stored)
    canonical = normalize_secret(secret)
    # "!" is outside the alphabet, so the stand-in can never match a real secret.
    material = canonical.replace("-", "") if canonical else "!" * SECRET_LENGTH
    candidate = _scrypt(material, salt, n, r, p, len(expected))
    return hmac.compare_digest(candidate, expected) and canonical is not None


# --------------------------------------------------------------------------- business days


def _next_business_day(day: date) -> date:
    day += timedelta(days=1)
    while not is_business_day(day):
        day += timedelta(days=1)
    return day


def receipt_day(created_at: datetime) -> date:
    """The business day a submission counts as received: its Tokyo date, or the next open day."""
    day = _as_utc(created_at, "created_at").astimezone(TOKYO).date()
    return day if is_business_day(day) else _next_business_day(day)


def due_date(created_at: datetime, target_days: int) -> date:
    """The last business day of the target: `target_days` business days after the receipt day.

    The receipt day itself is not counted (初日不算入), so 5 days from a Monday is the next Monday.
    """
    if isinstance(target_days, bool) or not isinstance(target_days, int) or target_days < 0:
        raise ValueError("target_days must be a non-negative integer")
    day = receipt_day(created_at)
    for _ in range(target_days):
        day = _next_business_day(day)
    return day


def due_at(created_at: datetime, target_days: int) -> datetime:
    """The instant (UTC) the target passes: the end of the due date in Tokyo.

    A submission is overdue when now >= due_at(...).
    """
    end = datetime.combine(due_date(created_at, target_days) + timedelta(days=1), time(0), TOKYO)
    return end.astimezone(UTC)


def received_since(status: str, created_at: datetime, received_at: datetime | None) -> datetime | None:
    """Since when a submission is staff's work, the time its target days count from: its
    creation, or the payment of a fee paid first; None while that fee is unpaid. One stored
    before `received_at` was kept counts from its creation."""
    if status == AWAITING_PAYMENT:
        return None
    return received_at or created_at


def is_overdue(created_at: datetime, status: str, target_days: int | None, now: datetime) -> bool:
    """Has the ward kept this waiting past its target? Only while the ward has the next move
    (received, in_review); a form without a target is never overdue."""
    if status not in STATUSES:
        raise ValueError(f"unknown status {status!r}")
    if status not in WARD_CLOCK_STATUSES or target_days is None:
        return False
    return _as_utc(now, "now") >= due_at(created_at, target_days)


def business_days_waiting(created_at: datetime, now: datetime) -> int:
    """Business days after the receipt day up to and including today (Tokyo): 0 on the day itself."""
    start = receipt_day(created_at)
    today = _as_utc(now, "now").astimezone(TOKYO).date()
    count = 0
    day = start
    while True:
        day = _next_business_day(day)
        if day > today:
            return count
        count += 1


# --------------------------------------------------------------------------- Open311 GeoReport v2

# Three decimals is about 110 m north-south and 90 m east-west here: the block, not the house.
OPEN311_COORDINATE_DECIMALS = 3


@lru_cache(maxsize=1)
def open311_status(status: str) -> str:
    """GeoReport v2 knows only open and closed."""
    if status not in STATUSES:
        raise ValueError(f"unknown status {status!r}")
    return "open" if status in OPEN_STATUSES else "closed"


def _coordinate(value: float | None, limit: float) -> float | None:
    if value is None or isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if not math.isfinite(value) or abs(value) > limit:
        return None
    return round(float(value), OPEN311_COORDINATE_DECIMALS)


def to_open311_request(
    *,
    receipt: str,
    service_code: str,
    service_name: str,
    status: str,
    status_notes: str | None,
    created_at: datetime,
    updated_at: datetime,
    latitude: float | None,
    longitude: float | None,
    address: str | None,
    area: str | None,
    media_urls: Sequence[str] = (),
    agency_responsible: str | None = None,
) -> dict[str, Any]:
    """One report as a GeoReport v2 service request, with nothing that points at a person.

    Left out on purpose: the description (free text names people and places), the street
    `address` (accepted only so callers can pass what they have; only the 町 `area` is
    published), and exact coordinates (rounded to ~100 m). `status_notes` is published as
    given: pass text written for the public, never a note addressed to the resident.
    Without one, the status label is used.
    """
    del address  # never published
    request: dict[str, Any] = {
        "service_request_id": receipt,
        "status": open311_status(status),
        "status_notes": status_notes if status_notes else status_labels(status)["ja"],
        "service_name": service_name,
        "service_code": service_code,
        "agency_responsible": agency_responsible or ward_name("ja"),
        "requested_datetime": tokyo_iso(created_at),
        "updated_datetime": tokyo_iso(updated_at),
    }
    if area:
        request["address"] = area
    lat, long = _coordinate(latitude, 90), _coordinate(longitude, 180)
    if lat is not None and long is not None:
        request["lat"] = lat
        request["long"] = long
    media = next(
        (url for url in media_urls if isinstance(url, str) and url.startswith(("https://", "http://"))), None
    )
    if media:
        request["media_url"] = media
    return request


def to_open311_service(
    *,
    service_code: str,
    service_name: str,
    description: str | None = None,
    group: str | None = None,
    keywords: Sequence[str] = (),
) -> dict[str, Any]:
    """One entry of services.json (no extra attributes: `metadata` false, type realtime)."""
    return {
        "service_code": service_code,
        "service_name": service_name,
        "description": description or "",
        "metadata": False,
        "type": "realtime",
        "keywords": ",".join(keywords),
        "group": group or "",
    }
