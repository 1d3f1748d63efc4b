"""What is wrong with a form submission, said to the resident in their language, field by field.

The sentences are catalogue texts (`error.field.*`, chalicelib/data/messages/errors.json) in
every resident language; the field's label comes from the form, which is written in Japanese
and English, so a Vietnamese sentence quotes the English label (the fallback chain).
"""

from __future__ import annotations

from typing import Any

from chalicelib.domain.forms import FormDefinition
from chalicelib.domain.messages import Text, localize

# Schema keywords with a sentence of their own; any other says "please check {label}".
_KEYWORDS = frozenset(
    {
        "required",
        "type",
        "enum",
        "maxLength",
        "minLength",
        "pattern",
        "format",
        "minimum",
        "maximum",
        "maxItems",
        "minItems",
        "additionalProperties",
        "outside_ward",
    }
)


def problems_of(problems: list[dict[str, Any]], form: FormDefinition) -> list[dict[str, Any]]:
    """Schema problems as {"pointer", "message"} pairs a resident can act on, the message a
    catalogue Text not yet written in any language (the API writes it in the request's).

    A missing field is reported at its own pointer (not its parent's), and a coordinate
    outside the ward's bounds says so rather than quoting a number.
    """
    explained = []
    for problem in problems:
        pointer, keyword = problem["pointer"], problem["keyword"]
        if keyword == "required":
            pointer = f"{pointer}/{problem['expected']}"
        if keyword in ("minimum", "maximum") and pointer.startswith("/location/"):
            keyword = "outside_ward"
        key = f"error.field.{keyword}" if keyword in _KEYWORDS else "error.field.other"
        message = Text(key, label=_label(form, pointer), limit=problem["expected"])
        explained.append({"pointer": pointer, "message": message})
    return explained


def explain(problems: list[dict[str, Any]], form: FormDefinition, language: str) -> list[dict[str, str]]:
    """`problems_of`, written in `language`."""
    return localize(problems_of(problems, form), language)


def _label(form: FormDefinition, pointer: str) -> Any:
    """The field's label in each language it has (a Text for the whole form)."""
    field = pointer.strip("/").split("/")[0]
    if not field:
        return Text("error.field.whole_form")
    label = form.meta.get("labels", {}).get(field, {})
    return label if label else field
