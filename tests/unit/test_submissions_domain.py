"""Submissions domain: lifecycle, audit trail, receipts, secrets, business days, Open311 (no I/O)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.domain import business_days
from chalicelib.domain import submissions as sub
from chalicelib.domain.submissions import (
    ALPHABET,
    COMPLETED,
    IN_REVIEW,
    NEEDS_INFO,
    RECEIVED,
    REJECTED,
    STATUSES,
    WITHDRAWN,
    Actor,
    AuditEntry,
    InvalidNote,
    InvalidTransition,
    allowed_targets,
    business_days_waiting,
    due_at,
    due_date,
    hash_secret,
    is_business_day,
    is_overdue,
    new_access_secret,
    new_receipt,
    normalize_receipt,
    normalize_secret,
    open311_status,
    public_view,
    receipt_day,
    to_open311_request,
    to_open311_service,
    transition,
    validate_transition_note,
    verify_secret,
)

JST = timezone(timedelta(hours=9))
STAFF = Actor("staff", "staff-3f1c", "seiso")
RESIDENT = Actor("resident", "resident-of-KTS-2611-7Q4M")
SYSTEM = Actor("system", "intake")
ACTORS = {"staff": STAFF, "resident": RESIDENT, "system": SYSTEM}

# The lifecycle as the issue states it, written out independently of the module's table.
EXPECTED = {
    ("staff", "received", "in_review"),
    ("staff", "received", "rejected"),
    ("staff", "in_review", "needs_info"),
    ("staff", "needs_info", "in_review"),
    ("staff", "in_review", "completed"),
    ("staff", "in_review", "rejected"),
    ("resident", "received", "withdrawn"),
    ("resident", "in_review", "withdrawn"),
    ("resident", "needs_info", "withdrawn"),
    # A fee paid first (issue 13): the payment worker moves it on; the resident may withdraw.
    ("system", "awaiting_payment", "received"),
    ("resident", "awaiting_payment", "withdrawn"),
    # ...and withdraws it when the form's days to pay pass unpaid.
    ("system", "awaiting_payment", "withdrawn"),
    # Staff withdraw for a resident who asks by phone or at the counter, and may refuse a request
    # still waiting for its fee.
    ("staff", "awaiting_payment", "withdrawn"),
    ("staff", "received", "withdrawn"),
    ("staff", "in_review", "withdrawn"),
    ("staff", "needs_info", "withdrawn"),
    ("staff", "awaiting_payment", "rejected"),
}
TERMINAL = {"completed", "rejected", "withdrawn"}


def jst(*args: int) -> datetime:
    return datetime(*args, tzinfo=JST)


# --------------------------------------------------------------------------- lifecycle


class TestTransitions:
    @pytest.mark.parametrize("kind", sorted(ACTORS))
    @pytest.mark.parametrize("current", STATUSES)
    @pytest.mark.parametrize("target", STATUSES)
    def test_every_pair_for_every_actor(self, kind, current, target):
        actor = ACTORS[kind]
        if (kind, current, target) in EXPECTED:
            transition(current, target, actor=actor)
            assert target in allowed_targets(current, kind)
            return
        with pytest.raises(InvalidTransition) as caught:
            transition(current, target, actor=actor)
        error = caught.value
        assert (error.current, error.target) == (current, target)
        assert target not in allowed_targets(current, kind)
        if current == target:
            assert error.code == "unchanged"
        elif current in TERMINAL:
            assert error.code == "terminal"
        elif any((other, current, target) in EXPECTED for other in ACTORS):
            assert error.code == "not_permitted"
        else:
            assert error.code == "not_allowed"
        assert error.reason and error.text.render("ja") and error.text.render("vi")

    @pytest.mark.parametrize("kind", sorted(ACTORS))
    @pytest.mark.parametrize("current", STATUSES)
    def test_allowed_targets_is_exactly_the_table(self, kind, current):
        expected = {target for who, source, target in EXPECTED if who == kind and source == current}
        assert allowed_targets(current, kind) == expected

    def test_terminal_statuses_have_no_way_out(self):
        for status in TERMINAL:
            for kind in ACTORS:
                assert allowed_targets(status, kind) == frozenset()

    @pytest.mark.parametrize(
        ("current", "target"), [("draft", "in_review"), ("received", "archived"), ("", "")]
    )
    def test_unknown_status_is_its_own_code(self, current, target):
        with pytest.raises(InvalidTransition) as caught:
            transition(current, target, actor=STAFF)
        assert caught.value.code == "unknown_status"

    def test_allowed_targets_refuses_unknown_values(self):
        with pytest.raises(ValueError):
            allowed_targets("draft", "staff")
        with pytest.raises(ValueError):
            allowed_targets("received", "robot")

    @pytest.mark.parametrize(
        "kwargs",
        [
            {"kind": "robot", "id": "x"},
            {"kind": "staff", "id": "s-1"},
            {"kind": "staff", "id": "s-1", "section": " "},
            {"kind": "resident", "id": ""},
            {"kind": "resident", "id": 7},
        ],
    )
    def test_actor_is_validated(self, kwargs):
        with pytest.raises(ValueError):
            Actor(**kwargs)


class TestNotes:
    @pytest.mark.parametrize("target", [NEEDS_INFO, REJECTED])
    @pytest.mark.parametrize("note", [None, "", "   \n\t "])
    def test_needs_info_and_rejected_need_a_note(self, target, note):
        with pytest.raises(InvalidNote) as caught:
            validate_transition_note(target, note, "public", actor_kind="staff")
        assert caught.value.code == "note_required"
        assert caught.value.message["ja"] and caught.value.message["en"]

    @pytest.mark.parametrize("target", [NEEDS_INFO, REJECTED])
    def test_their_note_must_be_public(self, target):
        with pytest.raises(InvalidNote) as caught:
            validate_transition_note(
                target, "本人確認書類の写しを添付してください。", "internal", actor_kind="staff"
            )
        assert caught.value.code == "note_must_be_public"

    @pytest.mark.parametrize("target", [NEEDS_INFO, REJECTED])
    def test_a_public_note_is_accepted_and_trimmed(self, target):
        assert (
            validate_transition_note(target, "  書類をお送りください。\n", "public", actor_kind="staff")
            == "書類をお送りください。"
        )

    @pytest.mark.parametrize(
        ("target", "kind"), [(IN_REVIEW, "staff"), (COMPLETED, "staff"), (WITHDRAWN, "resident")]
    )
    def test_other_moves_take_no_note_or_either_kind(self, target, kind):
        assert validate_transition_note(target, None, None, actor_kind=kind) is None
        assert validate_transition_note(target, "  ", None, actor_kind=kind) is None
        assert validate_transition_note(target, "担当: 2係", "internal", actor_kind=kind) == "担当: 2係"
        assert validate_transition_note(target, "対応しました", "public", actor_kind=kind) == "対応しました"

    def test_staff_withdrawing_for_a_resident_note_when_and_how_they_asked(self):
        for note in (None, "  "):
            with pytest.raises(InvalidNote) as caught:
                validate_transition_note(WITHDRAWN, note, "internal", actor_kind="staff")
            assert caught.value.code == "note_required_withdrawn"
        asked = "12/7 電話で本人から取り下げの申し出"
        assert validate_transition_note(WITHDRAWN, asked, "internal", actor_kind="staff") == asked
        assert validate_transition_note(WITHDRAWN, asked, "public", actor_kind="staff") == asked

    @pytest.mark.parametrize("visibility", [None, "", "secret", "PUBLIC"])
    def test_a_note_needs_a_known_visibility(self, visibility):
        with pytest.raises(InvalidNote) as caught:
            validate_transition_note(COMPLETED, "done", visibility, actor_kind="staff")
        assert caught.value.code == "bad_visibility"

    def test_length_limit(self):
        assert validate_transition_note(COMPLETED, "あ" * 2000, "public", actor_kind="staff") == "あ" * 2000
        with pytest.raises(InvalidNote) as caught:
            validate_transition_note(COMPLETED, "あ" * 2001, "public", actor_kind="staff")
        assert caught.value.code == "too_long"

    def test_control_characters_are_blanked_but_lines_kept(self):
        assert (
            validate_transition_note(COMPLETED, "a\x00b\r\nc\td", "public", actor_kind="staff") == "a b\nc\td"
        )  # CRLF is one line break

    @pytest.mark.parametrize(
        "invisible", ["\u200b\u200b", "\ufeff", "\u200d \u2060", "\u0301", "\u3164", "\u2800", "\ufffc"]
    )
    def test_a_note_nobody_can_see_is_no_note(self, invisible):
        with pytest.raises(InvalidNote) as caught:
            validate_transition_note(REJECTED, invisible, "public", actor_kind="staff")
        assert caught.value.code == "note_required"

    def test_a_note_must_be_text(self):
        with pytest.raises(InvalidNote):
            validate_transition_note(COMPLETED, ["x"], "public", actor_kind="staff")


# --------------------------------------------------------------------------- audit trail


class TestAudit:
    def test_transition_entry_checks_and_records(self):
        entry = AuditEntry.for_transition(
            IN_REVIEW,
            NEEDS_INFO,
            actor=STAFF,
            at=jst(2026, 11, 2, 9, 0),
            note=" 写真を ",
            visibility="public",
        )
        assert entry == AuditEntry(
            "staff-3f1c",
            "staff",
            datetime(2026, 11, 2, 0, 0, tzinfo=UTC),
            "transition",
            IN_REVIEW,
            NEEDS_INFO,
            "写真を",
            "public",
        )
        assert entry.at.tzinfo is UTC

    def test_transition_entry_refuses_bad_moves_and_missing_notes(self):
        with pytest.raises(InvalidTransition):
            AuditEntry.for_transition(COMPLETED, IN_REVIEW, actor=STAFF, at=jst(2026, 11, 2, 9))
        with pytest.raises(InvalidNote):
            AuditEntry.for_transition(IN_REVIEW, REJECTED, actor=STAFF, at=jst(2026, 11, 2, 9))

    def test_blank_note_leaves_no_visibility(self):
        entry = AuditEntry.for_transition(
            RECEIVED, IN_REVIEW, actor=STAFF, at=jst(2026, 11, 2, 9), note="  ", visibility="internal"
        )
        assert entry.note is None and entry.note_visibility is None

    def test_round_trip_through_storage(self):
        entries = [
            AuditEntry.created(SYSTEM, jst(2026, 11, 2, 8, 59, 59, 123456)),
            AuditEntry.for_transition(
                RECEIVED, IN_REVIEW, actor=STAFF, at=jst(2026, 11, 2, 9), note="内部", visibility="internal"
            ),
            AuditEntry.viewed_personal_data(STAFF, jst(2026, 11, 2, 9, 1)),
            AuditEntry.note_added(STAFF, jst(2026, 11, 2, 9, 2), "お電話しました", "public"),
            AuditEntry.for_transition(IN_REVIEW, WITHDRAWN, actor=RESIDENT, at=jst(2026, 11, 3, 9)),
        ]
        for entry in entries:
            stored = json.loads(json.dumps(entry.to_dict()))
            assert stored["at"].endswith("+00:00")
            assert None not in stored.values()
            assert AuditEntry.from_dict(stored) == entry

    @pytest.mark.parametrize(
        "kwargs",
        [
            {"at": datetime(2026, 11, 2, 9)},  # naive
            {"action": "deleted"},
            {"actor_kind": "robot"},
            {"who": ""},
            {"action": "transition", "from_status": None},
            {"note": "x", "note_visibility": None},
            {"note": None, "note_visibility": "public"},
            {"note": "x", "note_visibility": "everyone"},
            {"to_status": "archived"},
        ],
    )
    def test_entry_is_validated(self, kwargs):
        base = {
            "who": "s",
            "actor_kind": "staff",
            "at": jst(2026, 11, 2, 9),
            "action": "transition",
            "from_status": RECEIVED,
            "to_status": IN_REVIEW,
        }
        with pytest.raises(ValueError):
            AuditEntry(**{**base, **kwargs})

    def test_note_added_needs_text(self):
        with pytest.raises(InvalidNote):
            AuditEntry.note_added(STAFF, jst(2026, 11, 2, 9), "   ", "public")


class TestPublicView:
    def view(self):
        audit = [
            AuditEntry.note_added(STAFF, jst(2026, 11, 4, 10), "職員Aの内部メモ: 山田様宅", "internal"),
            AuditEntry.for_transition(
                IN_REVIEW,
                NEEDS_INFO,
                actor=STAFF,
                at=jst(2026, 11, 4, 11),
                note="写真をもう一枚お願いします",
                visibility="public",
            ),
            AuditEntry.created(SYSTEM, jst(2026, 11, 2, 23, 30)),
            AuditEntry.viewed_personal_data(STAFF, jst(2026, 11, 3, 9)),
            AuditEntry.for_transition(RECEIVED, IN_REVIEW, actor=STAFF, at=jst(2026, 11, 3, 9, 5)),
        ]
        return public_view(
            receipt="KTS-2611-7Q4M",
            form_id="road-damage",
            status=NEEDS_INFO,
            created_at=datetime(2026, 11, 2, 14, 30, tzinfo=UTC),
            updated_at=datetime(2026, 11, 4, 2, 0, tzinfo=UTC),
            audit=audit,
        )

    def test_shows_status_receipt_and_tokyo_times(self):
        view = self.view()
        assert view["receipt"] == "KTS-2611-7Q4M"
        assert view["formId"] == "road-damage"
        assert view["status"] == NEEDS_INFO
        assert view["statusLabel"]["ja"] and view["statusLabel"]["en"]
        assert view["createdAt"] == "2026-11-02T23:30:00+09:00"
        assert view["updatedAt"] == "2026-11-04T11:00:00+09:00"

    def test_only_public_notes_and_never_who(self):
        view = self.view()
        assert view["notes"] == [
            {"at": "2026-11-04T11:00:00+09:00", "status": NEEDS_INFO, "note": "写真をもう一枚お願いします"}
        ]
        dumped = json.dumps(view, ensure_ascii=False)
        for leak in ("staff-3f1c", "内部メモ", "山田", "seiso", "viewed_personal_data", "staff", "intake"):
            assert leak not in dumped

    def test_public_notes_are_in_time_order(self):
        audit = [
            AuditEntry.note_added(STAFF, jst(2026, 11, 5, 9), "second", "public"),
            AuditEntry.note_added(STAFF, jst(2026, 11, 4, 9), "first", "public"),
        ]
        view = public_view(
            receipt="KTS-2611-7Q4M",
            form_id="f",
            status=IN_REVIEW,
            created_at=jst(2026, 11, 1, 9),
            updated_at=jst(2026, 11, 5, 9),
            audit=audit,
        )
        assert [note["note"] for note in view["notes"]] == ["first", "second"]
        assert [note["status"] for note in view["notes"]] == [None, None]


# --------------------------------------------------------------------------- receipts

RECEIPT = re.compile(r"KTS-\d{4}-[0-9ABCDEFGHJKMNPQRSTVWXYZ]{4}")
aware_datetimes = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2098, 12, 31), timezones=st.just(UTC)
)
four_bytes = st.binary(min_size=4, max_size=4)


def fixed(data: bytes):
    return lambda n: data[:n]


class TestReceipts:
    def test_alphabet_is_crockford_without_ambiguous_letters(self):
        assert len(ALPHABET) == len(set(ALPHABET)) == 32
        assert not set("ILOU") & set(ALPHABET)

    def test_format_and_tokyo_month(self):
        # 15:30 UTC on 31 October is 00:30 on 1 November in Tokyo.
        receipt = new_receipt(datetime(2026, 10, 31, 15, 30, tzinfo=UTC), fixed(bytes([7, 23, 4, 20])))
        assert receipt == "KTS-2611-7Q4M"
        assert RECEIPT.fullmatch(new_receipt(datetime(2026, 10, 31, 14, 59, tzinfo=UTC)))
        assert new_receipt(datetime(2026, 10, 31, 14, 59, tzinfo=UTC)).startswith("KTS-2610-")

    def test_every_byte_maps_uniformly(self):
        # Each symbol is hit by exactly 8 of the 256 byte values.
        counts: dict[str, int] = {}
        for value in range(256):
            symbol = new_receipt(jst(2026, 11, 1), fixed(bytes([value] * 4)))[-1]
            counts[symbol] = counts.get(symbol, 0) + 1
        assert set(counts) == set(ALPHABET)
        assert set(counts.values()) == {8}

    def test_prefix_is_configurable(self):
        assert new_receipt(jst(2027, 1, 5), fixed(b"\x00\x01\x02\x03"), prefix="ADC") == "ADC-2701-0123"
        assert normalize_receipt("adc 2701 0123", prefix="ADC") == "ADC-2701-0123"
        assert normalize_receipt("KTS-2701-0123", prefix="ADC") is None
        for bad in ("", "kts", "K1S", "TOOLONG"):
            with pytest.raises(ValueError):
                new_receipt(jst(2027, 1, 5), prefix=bad)

    def test_naive_time_and_short_randomness_are_refused(self):
        with pytest.raises(ValueError):
            new_receipt(datetime(2026, 11, 1, 9))
        with pytest.raises(ValueError):
            new_receipt(jst(2026, 11, 1), fixed(b"\x00"))

    @given(now=aware_datetimes, data=four_bytes)
    def test_a_new_receipt_is_already_canonical(self, now, data):
        receipt = new_receipt(now, fixed(data))
        assert RECEIPT.fullmatch(receipt)
        assert normalize_receipt(receipt) == receipt

    @pytest.mark.parametrize(
        "typed",
        [
            "KTS-2611-7Q4M",
            "kts-2611-7q4m",
            "KTS26117Q4M",
            "kts 2611 7q4m",
            " KTS - 2611 - 7Q4M ",
            "ＫＴＳ－２６１１－７Ｑ４Ｍ",
            "ｋｔｓ　２６１１　７ｑ４ｍ",
            "KTSー2611ー7Q4M",
            "KTS‐2611−7Q4M",
            "KTS_2611.7Q4M",
            "2611-7Q4M",
            "26117q4m",
        ],
    )
    def test_typed_variants_normalise(self, typed):
        assert normalize_receipt(typed) == "KTS-2611-7Q4M"

    @pytest.mark.parametrize(
        ("typed", "expected"),
        [
            ("KTS-2611-0O1L", "KTS-2611-0011"),
            ("KTS-261I-AIOL", "KTS-2611-A101"),
            ("kts-o9ll-ioli", "KTS-0911-1011"),
        ],
    )
    def test_ambiguous_letters_map_to_digits(self, typed, expected):
        assert normalize_receipt(typed) == expected

    @pytest.mark.parametrize(
        "typed",
        [
            "KTS-2613-7Q4M",  # no 13th month
            "KTS-2600-7Q4M",
            "KTS-2611-7Q4U",  # U is not in the alphabet
            "KTS-2611-7Q4",
            "KTS-2611-7Q4MM",
            "ABC-2611-7Q4M",
            "KTS-26A1-7Q4M",
            "KTS-٢٦١١-7Q4M",  # Arabic-Indic digits are digits, but not ours
            "",
            "KTS",
            "KTS-2611-7Q4M" + " " * 60,
            "KTS-2611-7Q#M",
        ],
    )
    def test_non_receipts_are_refused(self, typed):
        assert normalize_receipt(typed) is None

    @pytest.mark.parametrize("typed", [None, 26117, b"KTS-2611-7Q4M"])
    def test_non_text_is_refused(self, typed):
        assert normalize_receipt(typed) is None

    @given(now=aware_datetimes, data=four_bytes, how=st.data())
    def test_random_typing_of_a_receipt_normalises(self, now, data, how):
        receipt = new_receipt(now, fixed(data))
        text = receipt
        if how.draw(st.booleans()):
            text = text.removeprefix("KTS-")  # people drop the part that never changes
        if how.draw(st.booleans()):
            text = text.lower()
        if how.draw(st.booleans()):
            text = text.replace("-", how.draw(st.sampled_from(["", " ", "ー", "－", "  "])))
        if how.draw(st.booleans()):
            text = text.translate({ord("0"): "O", ord("1"): how.draw(st.sampled_from(["I", "l", "L", "i"]))})
        if how.draw(st.booleans()):
            # Full-width: what a Japanese IME produces in 全角 mode.
            text = "".join(chr(ord(ch) + 0xFEE0) if "!" <= ch <= "~" else ch for ch in text)
        assert normalize_receipt(text) == receipt


# --------------------------------------------------------------------------- access secrets

CHEAP = {"n": 2**4, "r": 1, "p": 1}  # fast parameters, so property tests stay quick
SALT = bytes(range(16))


class TestSecrets:
    def test_new_secret_is_grouped_and_unambiguous(self):
        for _ in range(50):
            secret = new_access_secret()
            assert re.fullmatch(r"[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}", secret)
        assert new_access_secret(fixed(bytes([7, 23, 4, 20, 29, 19, 2, 22]))) == "7Q4M-XK2P"

    def test_hash_format_with_default_cost(self):
        stored = hash_secret("7Q4M-XK2P", SALT)
        name, n, r, p, salt, digest = stored.split("$")
        assert (name, n, r, p) == ("scrypt", "16384", "8", "1")
        assert salt == "AAECAwQFBgcICQoLDA0ODw=="
        expected = hashlib.scrypt(b"7Q4MXK2P", salt=SALT, n=16384, r=8, p=1, dklen=32)
        assert base64.b64decode(digest) == expected
        assert verify_secret("7q4m xk2p", stored)
        assert not verify_secret("7Q4M-XK2Q", stored)

    def test_salt_changes_the_hash(self):
        assert hash_secret("7Q4M-XK2P", SALT, **CHEAP) != hash_secret("7Q4M-XK2P", bytes(16), **CHEAP)
        assert sub.new_salt() != sub.new_salt()
        assert len(sub.new_salt()) == 16

    @pytest.mark.parametrize(
        "typed", ["7Q4M-XK2P", "7q4mxk2p", "７Ｑ４Ｍ－ＸＫ２Ｐ", " 7Q4M XK2P ", "7Q4MーXK2P"]
    )
    def test_typed_variants_verify(self, typed):
        assert verify_secret(typed, hash_secret("7Q4M-XK2P", SALT, **CHEAP))

    def test_lookalikes_verify_both_ways(self):
        stored = hash_secret("10AB-CD01", SALT, **CHEAP)
        assert verify_secret("lOAB-CDOI", stored)
        assert verify_secret("IoAB-cdol", stored)
        assert hash_secret("IOAB-CDOL", SALT, **CHEAP) == stored

    @pytest.mark.parametrize(
        "typed", ["7Q4M-XK2Q", "7Q4M-XK2", "7Q4M-XK2PP", "", "KTS-2611-7Q4M", None, "UUUU-UUUU"]
    )
    def test_wrong_or_malformed_input_is_refused(self, typed):
        assert verify_secret(typed, hash_secret("7Q4M-XK2P", SALT, **CHEAP)) is False

    @pytest.mark.parametrize(
        "stored",
        [
            "",
            "bcrypt$16$8$1$AAAA$AAAA",
            "scrypt$16$8$1$AAAA",
            "scrypt$15$1$1$AAECAwQFBgcICQoLDA0ODw==$" + "A" * 44,  # n not a power of two
            "scrypt$1048576$8$1$AAECAwQFBgcICQoLDA0ODw==$" + "A" * 44,  # a memory bomb
            "scrypt$16$1$1$not*base64$" + "A" * 44,
            "scrypt$16$1$1$AAECAwQFBgcICQoLDA0ODw==$AAAA",  # digest too short
        ],
    )
    def test_a_malformed_stored_hash_is_a_server_fault(self, stored):
        with pytest.raises(ValueError):
            verify_secret("7Q4M-XK2P", stored)

    def test_hash_refuses_non_secrets_and_weak_salts(self):
        with pytest.raises(ValueError):
            hash_secret("7Q4M-XK2", SALT, **CHEAP)
        with pytest.raises(ValueError):
            hash_secret("7Q4M-XK2P", b"short", **CHEAP)
        with pytest.raises(ValueError):
            hash_secret("7Q4M-XK2P", SALT, n=3, r=1, p=1)

    def test_every_answer_takes_the_same_path(self, monkeypatch):
        """Right, wrong and malformed answers each run scrypt once and one constant-time compare."""
        stored = hash_secret("7Q4M-XK2P", SALT, **CHEAP)
        calls: list[str] = []
        real_scrypt, real_compare = hashlib.scrypt, hmac.compare_digest

        def scrypt(*args, **kwargs):
            calls.append("scrypt")
            return real_scrypt(*args, **kwargs)

        def compare(a, b):
            calls.append(f"compare:{len(a)}:{len(b)}")
            return real_compare(a, b)

        monkeypatch.setattr(hashlib, "scrypt", scrypt)
        monkeypatch.setattr(hmac, "compare_digest", compare)
        results = []
        for typed in ("7Q4M-XK2P", "7Q4M-XK2Q", "nonsense", ""):
            calls.clear()
            results.append(verify_secret(typed, stored))
            assert calls == ["scrypt", "compare:32:32"], typed
        assert results == [True, False, False, False]

    @settings(max_examples=60)
    @given(secret_bytes=st.binary(min_size=8, max_size=8), other=st.binary(min_size=8, max_size=8))
    def test_property_only_the_same_secret_verifies(self, secret_bytes, other):
        secret = new_access_secret(fixed(secret_bytes))
        guess = new_access_secret(fixed(other))
        assert normalize_secret(secret) == secret
        stored = hash_secret(secret, SALT, **CHEAP)
        assert verify_secret(secret.lower().replace("-", ""), stored)
        assert verify_secret(guess, stored) is (guess == secret)


# --------------------------------------------------------------------------- business days


def _nth_monday(year: int, month: int, n: int) -> date:
    first = date(year, month, 1)
    return first + timedelta(days=(7 - first.weekday()) % 7 + 7 * (n - 1))


def _law_holidays(year: int) -> set[date]:
    """国民の祝日に関する法律, derived from its rules (equinoxes by the standard approximation)."""
    offset = year - 1980
    days = {
        date(year, 1, 1),
        _nth_monday(year, 1, 2),
        date(year, 2, 11),
        date(year, 2, 23),
        date(year, 3, int(20.8431 + 0.242194 * offset - offset // 4)),
        date(year, 4, 29),
        date(year, 5, 3),
        date(year, 5, 4),
        date(year, 5, 5),
        _nth_monday(year, 7, 3),
        date(year, 8, 11),
        _nth_monday(year, 9, 3),
        date(year, 9, int(23.2488 + 0.242194 * offset - offset // 4)),
        _nth_monday(year, 10, 2),
        date(year, 11, 3),
        date(year, 11, 23),
    }
    extra = set()
    for day in sorted(days):
        if day.weekday() == 6:  # 振替休日: the next day that is not a holiday
            substitute = day + timedelta(days=1)
            while substitute in days or substitute in extra:
                substitute += timedelta(days=1)
            extra.add(substitute)
    for day in sorted(days):  # 国民の休日: a weekday between two holidays
        between = day + timedelta(days=1)
        if day + timedelta(days=2) in days and between not in days and between.weekday() != 6:
            extra.add(between)
    return days | extra


class TestHolidayCalendar:
    """Public holidays come from jpholiday (any year); only the ward's closures are data."""

    def table(self):
        path = Path(sub.__file__).resolve().parent.parent / "data" / "holidays.json"
        return json.loads(path.read_text(encoding="utf-8"))

    @pytest.mark.parametrize("year", [2025, 2026, 2027, 2028, 2030, 2035, 2040])
    def test_holidays_follow_the_law_for_each_year(self, year):
        assert set(business_days.public_holidays(year)) == _law_holidays(year), year

    def test_data_holds_only_the_wards_own_closures(self):
        raw = self.table()
        assert "holidays" not in raw and "years" not in raw
        assert [(c["from"], c["to"]) for c in raw["closures"]] == [("12-29", "01-03")]

    def test_a_2030_holiday_is_known(self):
        assert not is_business_day(date(2030, 1, 14))  # 成人の日, a Monday
        assert not is_business_day(date(2030, 3, 20))  # 春分の日, a Wednesday
        assert not is_business_day(date(2030, 9, 23))  # 秋分の日, a Monday
        assert business_days.closure_reason(date(2030, 3, 20)) == "春分の日"
        assert is_business_day(date(2030, 1, 15))

    def test_year_end_closure_holds_in_any_year(self):
        for year in (2026, 2030, 2045):
            for day in (date(year, 12, 29), date(year, 12, 31), date(year + 1, 1, 3)):
                assert not is_business_day(day), day
                assert business_days.closure_reason(day) == "年末年始休庁"

    def test_known_substitute_and_citizens_holidays(self):
        for day in (
            date(2025, 2, 24),
            date(2025, 5, 6),
            date(2025, 11, 24),
            date(2026, 5, 6),
            date(2027, 3, 22),
        ):
            assert not is_business_day(day)
        assert not is_business_day(date(2026, 9, 22))  # between 敬老の日 and 秋分の日

    @pytest.mark.parametrize(
        ("day", "open_"),
        [
            (date(2026, 12, 28), True),
            (date(2026, 12, 29), False),
            (date(2026, 12, 31), False),
            (date(2027, 1, 1), False),
            (date(2027, 1, 3), False),
            (date(2027, 1, 4), True),
            (date(2025, 12, 29), False),  # a Monday, closed all the same
            (date(2026, 1, 2), False),  # a Friday
            (date(2026, 1, 5), True),
            (date(2028, 12, 29), False),  # the closure is a rule, not a table entry
            (date(2026, 11, 14), False),  # Saturday
            (date(2026, 11, 15), False),  # Sunday
            (date(2026, 11, 16), True),
        ],
    )
    def test_business_days(self, day, open_):
        assert is_business_day(day) is open_


class TestDueDates:
    @pytest.mark.parametrize(
        ("created", "target", "due"),
        [
            (jst(2026, 11, 9, 9), 5, date(2026, 11, 16)),  # Monday + 5: next Monday
            (jst(2026, 11, 9, 9), 0, date(2026, 11, 9)),
            (jst(2026, 11, 13, 16), 1, date(2026, 11, 16)),  # Friday over the weekend
            (jst(2026, 11, 14, 10), 0, date(2026, 11, 16)),  # Saturday counts from Monday
            (jst(2026, 11, 14, 10), 1, date(2026, 11, 17)),
            (jst(2026, 11, 20, 9), 1, date(2026, 11, 24)),  # 11/23 勤労感謝の日
            (jst(2026, 5, 1, 9), 1, date(2026, 5, 7)),  # Golden Week incl. the 5/6 substitute
            (jst(2026, 9, 18, 9), 1, date(2026, 9, 24)),  # 9/21-23 incl. 国民の休日
            (jst(2027, 3, 19, 9), 1, date(2027, 3, 23)),  # 3/22 振替休日
            (jst(2025, 11, 21, 9), 1, date(2025, 11, 25)),
            (jst(2026, 12, 25, 9), 1, date(2026, 12, 28)),
            (jst(2026, 12, 25, 9), 2, date(2027, 1, 4)),  # year-end closure 12/29-1/3
            (jst(2026, 12, 30, 9), 0, date(2027, 1, 4)),  # received while closed
            (jst(2026, 12, 30, 9), 3, date(2027, 1, 7)),
        ],
    )
    def test_due_date(self, created, target, due):
        assert due_date(created, target) == due

    def test_the_tokyo_date_counts_not_the_utc_date(self):
        # Friday 23:30 UTC is Saturday 08:30 in Tokyo: received on Monday.
        created = datetime(2026, 11, 13, 23, 30, tzinfo=UTC)
        assert receipt_day(created) == date(2026, 11, 16)
        assert receipt_day(datetime(2026, 11, 13, 14, 59, tzinfo=UTC)) == date(2026, 11, 13)

    def test_due_at_is_the_end_of_the_due_day_in_tokyo(self):
        assert due_at(jst(2026, 11, 9, 9), 5) == datetime(2026, 11, 16, 15, 0, tzinfo=UTC)
        assert due_at(jst(2026, 11, 9, 9), 5).tzinfo is UTC

    @pytest.mark.parametrize("target", [-1, 1.5, "5", True, None])
    def test_target_must_be_a_count(self, target):
        with pytest.raises(ValueError):
            due_date(jst(2026, 11, 9, 9), target)

    def test_naive_times_are_refused(self):
        with pytest.raises(ValueError):
            due_at(datetime(2026, 11, 9, 9), 5)
        with pytest.raises(ValueError):
            is_overdue(jst(2026, 11, 9, 9), RECEIVED, 5, datetime(2026, 12, 1))


class TestOverdue:
    created = jst(2026, 11, 9, 9)  # due by the end of 2026-11-16

    @pytest.mark.parametrize("status", [RECEIVED, IN_REVIEW])
    def test_flips_exactly_at_the_end_of_the_due_day(self, status):
        deadline = datetime(2026, 11, 16, 15, 0, tzinfo=UTC)
        assert not is_overdue(self.created, status, 5, deadline - timedelta(microseconds=1))
        assert is_overdue(self.created, status, 5, deadline)
        assert is_overdue(self.created, status, 5, jst(2027, 1, 1))

    @pytest.mark.parametrize("status", [NEEDS_INFO, COMPLETED, REJECTED, WITHDRAWN])
    def test_never_while_waiting_for_the_resident_or_closed(self, status):
        assert not is_overdue(self.created, status, 5, jst(2027, 1, 1))

    def test_no_target_means_never_overdue(self):
        assert not is_overdue(self.created, RECEIVED, None, jst(2030, 1, 1))

    def test_unknown_status_is_an_error(self):
        with pytest.raises(ValueError):
            is_overdue(self.created, "archived", 5, jst(2027, 1, 1))

    def test_business_days_waiting(self):
        assert business_days_waiting(self.created, jst(2026, 11, 9, 17)) == 0
        assert business_days_waiting(self.created, jst(2026, 11, 10, 8)) == 1
        assert business_days_waiting(self.created, jst(2026, 11, 16, 23, 59)) == 5
        assert business_days_waiting(self.created, jst(2026, 11, 21, 12)) == 9  # Saturday
        assert business_days_waiting(self.created, jst(2026, 11, 24, 9)) == 10  # 11/23 is a holiday
        assert business_days_waiting(jst(2026, 12, 30, 9), jst(2027, 1, 4, 9)) == 0

    @settings(max_examples=200)
    @given(
        created=st.datetimes(
            min_value=datetime(2025, 1, 1), max_value=datetime(2027, 11, 30), timezones=st.just(JST)
        ),
        target=st.integers(min_value=0, max_value=30),
    )
    def test_property_overdue_and_waiting_agree(self, created, target):
        deadline = due_at(created, target)
        due = due_date(created, target)
        assert is_business_day(due)
        assert due >= created.date()
        assert not is_overdue(created, RECEIVED, target, deadline - timedelta(seconds=1))
        assert is_overdue(created, RECEIVED, target, deadline)
        # On the due day the wait equals the target; on the next open day it exceeds it.
        assert business_days_waiting(created, datetime.combine(due, datetime.min.time(), JST)) == target
        next_open = due + timedelta(days=1)
        while not is_business_day(next_open):
            next_open += timedelta(days=1)
        assert (
            business_days_waiting(created, datetime.combine(next_open, datetime.min.time(), JST))
            == target + 1
        )


# --------------------------------------------------------------------------- Open311


def open311(**overrides):
    values = {
        "receipt": "KTS-2611-7Q4M",
        "service_code": "road-damage",
        "service_name": "道路・公園の損傷",
        "status": IN_REVIEW,
        "status_notes": None,
        "created_at": datetime(2026, 11, 2, 0, 15, tzinfo=UTC),
        "updated_at": datetime(2026, 11, 3, 6, 0, 30, tzinfo=UTC),
        "latitude": 35.743621,
        "longitude": 139.847249,
        "address": "葛飾区青戸七丁目21番1号 山田方",
        "area": "青戸七丁目",
        "media_urls": ["https://attachments.example/a.jpg", "https://attachments.example/b.jpg"],
    }
    values.update(overrides)
    return to_open311_request(**values)


class TestOpen311:
    @pytest.mark.parametrize(
        ("status", "expected"),
        [
            (RECEIVED, "open"),
            (IN_REVIEW, "open"),
            (NEEDS_INFO, "open"),
            (COMPLETED, "closed"),
            (REJECTED, "closed"),
            (WITHDRAWN, "closed"),
        ],
    )
    def test_status(self, status, expected):
        assert open311_status(status) == expected

    def test_unknown_status_is_an_error(self):
        with pytest.raises(ValueError):
            open311_status("archived")

    def test_request_shape(self):
        assert open311() == {
            "service_request_id": "KTS-2611-7Q4M",
            "status": "open",
            "status_notes": "確認中",
            "service_name": "道路・公園の損傷",
            "service_code": "road-damage",
            "agency_responsible": "葛飾区",
            "requested_datetime": "2026-11-02T09:15:00+09:00",
            "updated_datetime": "2026-11-03T15:00:30+09:00",
            "address": "青戸七丁目",
            "lat": 35.744,
            "long": 139.847,
            "media_url": "https://attachments.example/a.jpg",
        }

    def test_no_personal_data_or_description(self):
        request = open311(status_notes="穴は埋めました")
        dumped = json.dumps(request, ensure_ascii=False)
        assert "description" not in request
        for leak in ("21番1号", "山田", "35.743621", "139.847249"):
            assert leak not in dumped
        assert request["status_notes"] == "穴は埋めました"

    @given(
        lat=st.floats(min_value=35.70, max_value=35.80, allow_nan=False),
        long=st.floats(min_value=139.82, max_value=139.90, allow_nan=False),
    )
    def test_coordinates_are_rounded_to_about_100m(self, lat, long):
        request = open311(latitude=lat, longitude=long)
        assert abs(request["lat"] - lat) <= 0.0005 + 1e-12
        assert abs(request["long"] - long) <= 0.0005 + 1e-12
        assert request["lat"] == round(request["lat"], 3)
        assert request["long"] == round(request["long"], 3)

    @pytest.mark.parametrize(
        ("lat", "long"),
        [(None, 139.8), (35.7, None), (float("nan"), 139.8), (95.0, 139.8), (35.7, float("inf"))],
    )
    def test_incomplete_or_impossible_locations_are_left_out(self, lat, long):
        request = open311(latitude=lat, longitude=long)
        assert "lat" not in request and "long" not in request

    def test_optional_parts_are_omitted(self):
        request = open311(area=None, media_urls=[], status=COMPLETED, latitude=None, longitude=None)
        assert "address" not in request and "media_url" not in request
        assert request["status"] == "closed" and request["status_notes"] == "完了"
        assert open311(media_urls=["javascript:alert(1)"]).get("media_url") is None
        assert open311(agency_responsible="葛飾区 道路補修課")["agency_responsible"] == "葛飾区 道路補修課"

    def test_service_entry(self):
        assert to_open311_service(
            service_code="illegal-dumping",
            service_name="不法投棄",
            group="清掃",
            keywords=["ごみ", "不法投棄"],
        ) == {
            "service_code": "illegal-dumping",
            "service_name": "不法投棄",
            "description": "",
            "metadata": False,
            "type": "realtime",
            "keywords": "ごみ,不法投棄",
            "group": "清掃",
        }
