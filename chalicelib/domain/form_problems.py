"""What is wrong with a form submission, said to the resident in their language, field by field."""

from __future__ import annotations

from typing import Any

from chalicelib.domain import languages
from chalicelib.domain.forms import FormDefinition

_MESSAGES: dict[str, dict[str, str]] = {
    "required": {"ja": "「{label}」を入力してください。", "en": "Please fill in “{label}”."},
    "type": {
        "ja": "「{label}」の形式が正しくありません。",
        "en": "“{label}” is not the right kind of value.",
    },
    "enum": {
        "ja": "「{label}」は選択肢から選んでください。",
        "en": "Please choose “{label}” from the options.",
    },
    "maxLength": {
        "ja": "「{label}」は{limit}文字以内で入力してください。",
        "en": "“{label}” can be at most {limit} characters.",
    },
    "minLength": {"ja": "「{label}」を入力してください。", "en": "Please fill in “{label}”."},
    "pattern": {
        "ja": "「{label}」の書き方が正しくありません。",
        "en": "“{label}” is not written the expected way.",
    },
    "format": {
        "ja": "「{label}」の書き方が正しくありません。",
        "en": "“{label}” is not written the expected way.",
    },
    "minimum": {
        "ja": "「{label}」は{limit}以上にしてください。",
        "en": "“{label}” must be at least {limit}.",
    },
    "maximum": {"ja": "「{label}」は{limit}以下にしてください。", "en": "“{label}” must be at most {limit}."},
    "maxItems": {
        "ja": "「{label}」は{limit}件までです。",
        "en": "“{label}” can have at most {limit} entries.",
    },
    "minItems": {
        "ja": "「{label}」を{limit}件以上指定してください。",
        "en": "“{label}” needs at least {limit}.",
    },
    "additionalProperties": {
        "ja": "この項目は受け付けていません。",
        "en": "This field is not part of the form.",
    },
    "outside_ward": {
        "ja": "場所は葛飾区内を指定してください。",
        "en": "The location must be inside Katsushika City.",
    },
}
_FALLBACK = {"ja": "「{label}」の内容を確認してください。", "en": "Please check “{label}”."}
_WHOLE_FORM = {"ja": "申請内容", "en": "the form"}


def explain(problems: list[dict[str, Any]], form: FormDefinition, language: str) -> list[dict[str, str]]:
    """Turn schema problems into {"pointer", "message"} pairs a resident can act on.

    A missing field is reported at its own pointer (not its parent's), and a coordinate
    outside the ward's bounds says so rather than quoting a number.
    """
    language = languages.text_language(language, _WHOLE_FORM) or "ja"  # vi -> en, ja-easy -> ja
    explained = []
    for problem in problems:
        pointer, keyword = problem["pointer"], problem["keyword"]
        if keyword == "required":
            pointer = f"{pointer}/{problem['expected']}"
        if keyword in ("minimum", "maximum") and pointer.startswith("/location/"):
            keyword = "outside_ward"
        template = _MESSAGES.get(keyword, _FALLBACK)[language]
        explained.append(
            {
                "pointer": pointer,
                "message": template.format(label=_label(form, pointer, language), limit=problem["expected"]),
            }
        )
    return explained


def _label(form: FormDefinition, pointer: str, language: str) -> str:
    field = pointer.strip("/").split("/")[0]
    if not field:
        return _WHOLE_FORM[language]
    label = form.meta.get("labels", {}).get(field, {})
    return languages.pick(label, language) or field
