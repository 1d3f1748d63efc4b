"""The message catalogue: every text in every language, the same placeholders, labels LINE accepts."""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import pytest

from chalicelib.domain import messages
from chalicelib.domain.residents import LANGUAGES

ROOT = Path(__file__).resolve().parents[2]
CHAT_CODE = [
    *sorted((ROOT / "chalicelib" / "services" / "chat").glob("*.py")),
    ROOT / "chalicelib" / "domain" / "chat.py",
]
# Keys built at run time from data: each family must hold every value the data can give.
DYNAMIC = re.compile(r"^(form|report\.kind|status|section|age|pay\.refund_arrives)\.")


def test_every_key_has_a_text_in_every_language_with_the_same_placeholders():
    assert messages.gaps() == []


@pytest.mark.parametrize("key", sorted(k for k in messages.catalogue() if k.startswith(("button.", "age."))))
def test_button_labels_fit_lines_limit(key):
    for language in LANGUAGES:
        label = messages.text(key, language)
        assert 1 <= len(label) <= messages.MAX_LABEL_CHARS, (key, language, label)
        assert len(label.encode("utf-16-le")) // 2 <= messages.MAX_LABEL_CHARS  # LINE counts UTF-16 units


def test_every_key_the_chat_uses_is_in_the_catalogue():
    used = set()
    for path in CHAT_CODE:
        source = path.read_text(encoding="utf-8")
        used |= set(re.findall(r'(?:say|text|button)\(\s*"([a-z_]+\.[a-z_.]+)"', source))
    assert used, "the pattern found no keys: update this test with the code"
    assert sorted(used - set(messages.catalogue())) == []


def test_the_data_driven_families_are_complete():
    from chalicelib.domain.forms import catalogue, sections
    from chalicelib.domain.payments import METHODS
    from chalicelib.domain.preferences import AGE_BANDS
    from chalicelib.domain.submissions import STATUSES

    keys = set(messages.catalogue())
    wanted = {f"form.{form.id}" for form in catalogue()}
    # The kinds of a chat report are the form's own choice labels (x-madoguchi), not catalogue keys:
    # a report.kind.* key would be a second copy, and is flagged as stale below.
    wanted |= {f"status.{status}" for status in STATUSES}
    wanted |= {f"section.{section}" for section in sections()}
    wanted |= {f"age.{band}" for band in AGE_BANDS}
    wanted |= {f"pay.refund_arrives.{method}" for method in METHODS}  # a refund's notice, by method
    assert sorted(wanted - keys) == []
    assert sorted(k for k in keys if DYNAMIC.match(k) and k not in wanted) == []  # nothing stale


def test_a_missing_translation_falls_back_along_the_chain(monkeypatch):
    catalogue = {"demo.text": {"ja": "こんにちは {name}", "en": "Hello {name}"}}
    monkeypatch.setattr(messages, "catalogue", lambda: catalogue)

    assert messages.text("demo.text", "vi", name="A") == "Hello A"  # vi -> en -> ja
    assert messages.text("demo.text", "ja-easy", name="A") == "こんにちは A"  # ja-easy -> ja
    assert messages.text("demo.text", "en", name="A") == "Hello A"
    assert "demo.text: no vi text" in messages.gaps()


def test_a_translation_with_other_placeholders_is_a_gap(monkeypatch):
    catalogue = {"demo.text": {lang: "{receipt}" for lang in LANGUAGES} | {"ko": "{reciept}"}}
    monkeypatch.setattr(messages, "catalogue", lambda: catalogue)

    assert messages.gaps() == ["demo.text: ko has ['reciept'], ja has ['receipt']"]


def test_an_unknown_key_is_an_error_not_a_silent_blank():
    with pytest.raises(KeyError):
        messages.text("no.such.key", "ja")


# --- no resident-facing text written in code (issue 10, item 3) ---------------------------------
#
# A resident reads what the catalogue holds, in their language; a sentence written in code is
# read in one or two languages only. These tests read every module of chalicelib and fail on:
# - a string with Japanese in it (docstrings aside);
# - an error (domain/errors.py, ApiError) or a LINE object field ("text", "altText", "label"...)
#   given a sentence written in code rather than a catalogue Text, or two languages joined by
#   " / " (the API writes one: the request's).
# What is not a resident's text is listed below, each with the reason.

CODE = ROOT / "chalicelib"
JAPANESE = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff]")

NOT_RESIDENT_MODULES = {
    "api/staff.py": "staff API",
    "api/announcements.py": "staff API",
    "api/line.py": "the LINE Platform's webhook: its answers go to LINE's servers",
    "domain/line_webhook.py": "the LINE Platform's webhook",
    "domain/staff.py": "staff authorization",
    "domain/digest.py": "the staff digest email (staff texts may be Japanese and English)",
    "workers/digest.py": "the staff digest email",
    "services/staff_submissions.py": "staff API",
    "services/staff_consultations.py": "staff API",
    "services/announcements.py": "staff API",
    "domain/queue_webhooks.py": "ticket machines' webhooks",
    "services/open311.py": "Open311 GeoReport v2, read by app developers: Japanese and English by design",
    "domain/queue_opendata.py": "the open data's column dictionary and licence: Japanese and English by design",
    "domain/faq.py": "how the FAQ reads what residents type (readings, spellings): input, not output",
    "domain/courtesy.py": "greetings and thanks residents type: input, not output",
    "domain/areas.py": "reading the 町 out of an address: input, not output",
    "domain/languages.py": "each language in its own name (NAMES): the same for every reader",
    "services/staff_payments.py": "staff API",
}
NOT_RESIDENT_NAMES = {
    ("domain/chat.py", "CANCEL_WORDS"): "words a resident types to cancel: input",
    ("domain/chat.py", "TYPED_ANSWERS"): "a yes or no a resident types: input",
    ("domain/chat.py", "POLITE_END"): "the polite endings of a yes or no a resident types: input",
    ("domain/chat.py", "DANGER_WORDS"): "words of danger in a yes or no a resident types: input",
    ("domain/chat.py", "SAFE_WORDS"): "words of no danger in a yes or no a resident types: input",
    ("domain/submissions.py", "_SEPARATORS"): "characters a typed receipt number may hold: input",
    ("domain/digits.py", "_DASHES"): "dashes a typed phone number may hold: input",
    ("domain/digits.py", "typed_phone"): "the postal mark a typed postal code may start with: input",
    ("domain/submissions.py", "_NOTE_MESSAGES"): "errors of a transition note: only staff write notes",
    ("domain/business_days.py", "closure_reason"): "why the office is closed, for staff adding a session",
    ("domain/consultations.py", "check_extra_session"): "staff adding an extra session",
    ("domain/queue.py", "parse_time"): "ticket machines' events",
    ("domain/queue.py", "normalised"): "ticket machines' events",
    ("domain/queue.py", "read_ticket"): "a bad link: services/queues.py answers ticket_not_found",
    ("api/queue.py", "queue_webhook"): "ticket machines' webhook",
    ("api/payments.py", "_webhook"): "payment providers' webhook",
    ("api/payments.py", "staff_payments"): "staff API",
    ("domain/errors.py", "InvalidCursor"): "a list cursor: only the staff lists page",
    ("domain/payments.py", "REVIEW_LABELS"): "why a payment needs review: the staff list and digest",
    ("domain/payments.py", "PAYPAY_REPORT_COLUMNS"): "PayPay's report columns: input",
    ("domain/payments.py", "_NOT_SETTLED_WORDS"): "PayPay's report statuses: input",
    ("domain/payments.py", "paypay_report_rows"): "PayPay's report amounts: input",
    ("services/payment_withdrawals.py", "_withdraw"): "the internal note staff read in the audit trail",
    ("api/payments.py", "reconciliation"): "staff API",
    ("api/consultations.py", "staff_day"): "staff API",
    ("domain/announcements.py", "content_from_document"): "staff composing an announcement",
    ("domain/announcements.py", "check_target"): "staff composing an announcement",
    ("domain/announcements.py", "check_approver"): "staff approving an announcement",
    ("domain/announcements.py", "check_reviewer"): "staff reviewing an emergency",
    ("domain/announcements.py", "missing_text_warnings"): "staff previewing an announcement",
    ("domain/announcements.py", "LANGUAGE_NAMES"): "staff previewing an announcement",
    ("services/payments.py", "request_refund"): "staff refunds",
    ("services/payments.py", "approve_refund"): "staff refunds",
    ("services/payments.py", "_execute_refund"): "staff refunds",
    ("services/payments.py", "_staff_intent"): "staff refunds",
    ("services/payments.py", "staff_payments_of"): "staff API",
    ("services/queues.py", "_apply"): "the queue worker and close-outs (retried, never shown)",
    ("services/queues.py", "reset_line"): "staff resetting a line",
}
# Errors only a faulty client program can cause: said to its developer, in English.
DEVELOPER_CODES = frozenset(
    {"payload_too_large", "malformed_json", "invalid_idempotency_key", "idempotency_key_reused"}
)
ERRORS = frozenset(
    {
        "MadoguchiError",
        "Invalid",
        "Malformed",
        "NotFound",
        "Unauthenticated",
        "Forbidden",
        "Conflict",
        "InProgress",
        "TooManyRequests",
        "Unavailable",
        "ApiError",
        "unauthorized",
        "forbidden",
    }
)
LINE_FIELDS = frozenset({"text", "altText", "label", "title", "displayText", "message"})


def _docstrings(tree: ast.AST) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                found.add(id(first.value))
    return found


def _name(statement: ast.stmt) -> str:
    if isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return statement.name
    targets = statement.targets if isinstance(statement, ast.Assign) else [getattr(statement, "target", None)]
    return next((target.id for target in targets if isinstance(target, ast.Name)), "<module>")


def _callee(call: ast.Call) -> str | None:
    return call.func.id if isinstance(call.func, ast.Name) else getattr(call.func, "attr", None)


def _written(node: ast.AST | None, constants: dict[str, str]) -> bool:
    """A sentence written here: a string or f-string with letters, or a module constant holding one."""
    if isinstance(node, ast.Name):
        return bool(re.search(r"[^\W\d_]{2}", constants.get(node.id, "")))
    if isinstance(node, ast.Constant | ast.JoinedStr):
        return any(
            isinstance(part, ast.Constant)
            and isinstance(part.value, str)
            and re.search(r"[^\W\d_]{2}", part.value)
            for part in ast.walk(node)
        )
    return False


def _joined(node: ast.AST | None) -> bool:
    """Two texts joined by " / " (one language after the other)."""
    return node is not None and any(
        isinstance(part, ast.Constant) and isinstance(part.value, str) and " / " in part.value
        for part in ast.walk(node)
    )


def _error_message(call: ast.Call) -> tuple[ast.AST | None, object]:
    """The message an error is raised with, and its code (None when not a constant)."""
    keywords = {keyword.arg: keyword.value for keyword in call.keywords}
    if _callee(call) == "ApiError":
        message = call.args[2] if len(call.args) > 2 else keywords.get("message")
        code = call.args[1] if len(call.args) > 1 else keywords.get("code")
    else:
        message = call.args[0] if call.args else keywords.get("message")
        code = keywords.get("code")
    return message, code.value if isinstance(code, ast.Constant) else None


def inline_texts(path: Path) -> list[str]:
    """Where `path` writes a resident-facing text instead of taking it from the catalogue."""
    where = path.relative_to(CODE).as_posix()
    if where in NOT_RESIDENT_MODULES:
        return []
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = _docstrings(tree)
    constants = {
        target.id: statement.value.value
        for statement in tree.body
        if isinstance(statement, ast.Assign)
        and isinstance(statement.value, ast.Constant)
        and isinstance(statement.value.value, str)
        for target in statement.targets
        if isinstance(target, ast.Name)
    }
    found = []
    for statement in tree.body:
        name = _name(statement)
        if (where, name) in NOT_RESIDENT_NAMES:
            continue
        for node in ast.walk(statement):
            at = f"{where}:{getattr(node, 'lineno', '?')} ({name})"
            if (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and id(node) not in docstrings
                and JAPANESE.search(node.value)
            ):
                found.append(f"{at}: Japanese written in code: {node.value[:40]!r}")
            elif isinstance(node, ast.Call) and _callee(node) in ERRORS:
                message, code = _error_message(node)
                if _joined(message):
                    found.append(f"{at}: an error in two languages joined by ' / '")
                elif _written(message, constants) and code not in DEVELOPER_CODES:
                    found.append(f"{at}: an error message written in code: {ast.unparse(message)[:50]}")
            elif isinstance(node, ast.Dict):
                for key, value in zip(node.keys, node.values, strict=True):
                    if isinstance(key, ast.Constant) and key.value in LINE_FIELDS and _written(value, {}):
                        found.append(f"{at}: a {key.value!r} written in code: {ast.unparse(value)[:50]}")
    return found


def test_no_resident_facing_text_is_written_in_code():
    modules = sorted(CODE.rglob("*.py"))
    assert len(modules) > 100  # the walk found the code
    found = [problem for path in modules for problem in inline_texts(path)]
    assert found == [], "move these texts to chalicelib/data/messages/ (messages.Text):\n" + "\n".join(found)


def test_every_exception_to_the_scan_still_exists():
    """An allow-list entry whose module or name is gone would hide a new text of that name."""
    for module in NOT_RESIDENT_MODULES:
        assert (CODE / module).is_file(), module
    for module, name in NOT_RESIDENT_NAMES:
        tree = ast.parse((CODE / module).read_text(encoding="utf-8"))
        assert name in {_name(statement) for statement in tree.body}, (module, name)


@pytest.mark.parametrize(
    ("source", "problem"),
    [
        ('raise NotFound("受付番号が違います。")', "Japanese written in code"),
        ('raise Conflict("This fee has already been paid.", code="already_paid")', "error message written"),
        ('raise Conflict(f"{ja} / {en}", code="x")', "two languages"),
        ('NOT_FOUND = "No such booking."\nraise NotFound(NOT_FOUND)', "error message written"),
        ('raise ApiError(404, "form_not_found", "There is no form.")', "error message written"),
        ('reply = {"type": "text", "text": "Thank you!"}', "'text' written in code"),
    ],
)
def test_the_scan_catches_an_inline_text(tmp_path, monkeypatch, source, problem):
    module = tmp_path / "chalicelib" / "services" / "demo.py"
    module.parent.mkdir(parents=True)
    module.write_text(source + "\n", encoding="utf-8")
    monkeypatch.setattr(sys.modules[__name__], "CODE", tmp_path / "chalicelib")
    found = inline_texts(module)
    assert problem in "\n".join(found)


def test_catalogue_texts_and_developer_errors_pass_the_scan(tmp_path, monkeypatch):
    module = tmp_path / "chalicelib" / "services" / "demo.py"
    module.parent.mkdir(parents=True)
    module.write_text(
        '"""受付番号: a docstring may say anything."""\n'
        'raise NotFound(Text("error.no_access"), code="submission_not_found")\n'
        'raise Malformed("Idempotency-Key must be ASCII.", code="invalid_idempotency_key")\n'
        'reply = {"type": "text", "text": messages.text("general.busy", language)}\n',
        encoding="utf-8",
    )
    monkeypatch.setattr(sys.modules[__name__], "CODE", tmp_path / "chalicelib")
    assert inline_texts(module) == []


def test_every_catalogue_key_the_code_names_exists():
    named = set()
    for path in CODE.rglob("*.py"):
        named |= set(re.findall(r'\bText\(\s*"([a-z][\w.\-]*)"', path.read_text(encoding="utf-8")))
    assert len(named) > 50  # the pattern found the keys
    assert sorted(named - set(messages.catalogue())) == []


def test_the_families_of_error_and_email_keys_are_complete():
    """Keys the code builds from a value: every value it can give has its text."""
    from chalicelib.domain import form_problems
    from chalicelib.domain.submissions import STATUSES, InvalidTransition
    from chalicelib.schemas import WHEN_VALUES

    keys = set(messages.catalogue())
    wanted = {f"email.next.{status}" for status in STATUSES}
    wanted |= {*form_problems._KEYS.values(), "problem.choose", "problem.other", "problem.whole_form"}
    wanted |= {"problem.date", "problem.pattern_help", "problem.number_range"}  # a date; a hint; a range
    wanted |= {"problem.fill_in_one", "problem.or", "problem.and", "problem.quoted"}  # form_problems._either
    wanted |= {f"problem.when_{when}" for when in WHEN_VALUES}
    codes = ("unknown_status", "unchanged", "terminal", "not_permitted", "not_allowed")
    wanted |= {InvalidTransition("received", "completed", "x", code=code).text.key for code in codes}
    assert sorted(wanted - keys) == []
    families = re.compile(r"^(email\.next|problem|error\.transition)\.")
    assert sorted(k for k in keys if families.match(k) and k not in wanted) == []  # nothing stale
