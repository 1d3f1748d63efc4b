"""Public form catalogue: `GET /forms` and `GET /forms/{formId}`, in the caller's language.

Thin: the catalogue and its public shape live in chalicelib/domain/forms.py. The language is
the one every resident route negotiates (`request_language`: `?lang=`, else Accept-Language,
over the seven resident languages; domain/languages.py). The answers are the same for everyone
who asks in one language, so shared caches may keep them a few minutes (`Vary: Accept-Language`
keeps the languages apart; `?lang=` is part of the URL).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalice import Response

from chalicelib.api.errors import ApiBlueprint, ApiError, json_response, request_language
from chalicelib.api.requests import RESIDENT_CORS
from chalicelib.domain.languages import language_tag
from chalicelib.domain.messages import Text

if TYPE_CHECKING:
    from chalicelib.domain.forms import FormDefinition

bp = ApiBlueprint(__name__)

CACHE_CONTROL = "public, max-age=300"
FORM_NOT_FOUND = Text("error.form_not_found")


# Each handler imports the catalogue when it runs: every route shares the webhook's Lambda,
# and the webhook's cold start should not pay for forms it never reads.


@bp.route("/forms", methods=["GET"], cors=RESIDENT_CORS)
def list_forms() -> Response:
    from chalicelib.domain import forms

    language = request_language(bp.current_request)
    return _answer({"forms": [forms.summary(form, language) for form in forms.catalogue()]}, language)


@bp.route("/forms/{formId}", methods=["GET"], cors=RESIDENT_CORS)
def get_form(formId: str) -> Response:  # camelCase: Chalice passes the URL parameter by its name
    from chalicelib.domain import forms

    language = request_language(bp.current_request)
    return _answer(forms.localized_form(form_or_404(formId), language), language)


def form_or_404(form_id: str) -> FormDefinition:
    from chalicelib.domain import forms

    form = forms.get_form(form_id)
    if form is None:
        raise ApiError(404, "form_not_found", FORM_NOT_FOUND)
    return form


def _answer(body: dict[str, Any], language: str) -> Response:
    headers = {
        "Content-Language": language_tag(language),
        "Cache-Control": CACHE_CONTROL,
        "Vary": "Accept-Language",
    }
    return json_response(body, headers=headers)
