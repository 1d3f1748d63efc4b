"""The message catalogue: every text in every language, the same placeholders, labels LINE accepts."""

from __future__ import annotations

import re
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
DYNAMIC = re.compile(r"^(form|report\.kind|status|section|age)\.")


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
    from chalicelib.domain.preferences import AGE_BANDS
    from chalicelib.domain.submissions import STATUSES

    keys = set(messages.catalogue())
    wanted = {f"form.{form.id}" for form in catalogue()}
    # The kinds of a chat report are the form's own choice labels (x-madoguchi), not catalogue keys:
    # a report.kind.* key would be a second copy, and is flagged as stale below.
    wanted |= {f"status.{status}" for status in STATUSES}
    wanted |= {f"section.{section}" for section in sections()}
    wanted |= {f"age.{band}" for band in AGE_BANDS}
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
