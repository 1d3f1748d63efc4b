"""Rule-level errors (domain/errors.py) become HTTP answers in one place (api/errors.py)."""

from __future__ import annotations

import json

import pytest
from chalice import Chalice
from chalice.test import Client

from chalicelib.api.errors import ApiBlueprint, from_rule
from chalicelib.domain import errors as rule


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (rule.Invalid("bad"), 422),
        (rule.Malformed("unreadable"), 400),
        (rule.NotFound("none"), 404),
        (rule.Unauthenticated("who"), 401),
        (rule.Forbidden("no"), 403),
        (rule.Conflict("state"), 409),
        (rule.InProgress("wait"), 409),
        (rule.TooManyRequests("slow", retry_after=30), 429),
        (rule.Unavailable("busy", retry_after=5), 503),
    ],
)
def test_each_rule_error_has_its_status(error: rule.MadoguchiError, status: int) -> None:
    api_error = from_rule(error)
    assert api_error.status == status
    assert api_error.code == error.code
    if error.retry_after is not None:
        assert api_error.headers["Retry-After"] == str(error.retry_after)


def test_transient_errors_say_so() -> None:
    assert rule.InProgress("x").transient and rule.Unavailable("x").transient
    assert not rule.Conflict("x").transient and not rule.Invalid("x").transient


def test_a_route_raising_a_rule_error_answers_its_status_not_500() -> None:
    app = Chalice("rule-errors")
    bp = ApiBlueprint(__name__)

    @bp.route("/things/{thing_id}")
    def get_thing(thing_id: str) -> dict:
        raise rule.NotFound(f"no {thing_id}", code="thing_not_found", details=[{"id": thing_id}])

    app.register_blueprint(bp)

    @app.middleware("http")
    def shape(event, get_response):
        from chalicelib.api.errors import ApiError

        try:
            return get_response(event)
        except ApiError as error:
            return error.to_response()

    with Client(app, stage_name="local") as client:
        response = client.http.get("/things/42")
    assert response.status_code == 404
    assert json.loads(response.body)["error"] == {
        "code": "thing_not_found",
        "message": "no 42",
        "details": [{"id": "42"}],
    }


def test_a_catalogue_message_is_written_in_the_language_asked_for_and_only_there() -> None:
    from chalicelib.domain import messages
    from chalicelib.domain.messages import Text

    error = rule.NotFound(
        Text("error.no_access"),
        code="submission_not_found",
        details=[{"pointer": "/photos/0", "message": Text("error.upload.damaged")}],
    )
    for language in ("ja", "en", "vi"):
        response = from_rule(error).to_response(language)
        body = json.loads(response.body)["error"]
        assert response.status_code == 404 and body["code"] == "submission_not_found"
        assert body["message"] == messages.text("error.no_access", language)
        assert body["details"] == [
            {"pointer": "/photos/0", "message": messages.text("error.upload.damaged", language)}
        ]
        assert response.headers["Content-Language"] == language
    assert error.text("en") == messages.text("error.no_access", "en")
    # A staff or developer message is a plain string: the same in every language, no Content-Language.
    plain = from_rule(rule.Conflict("No refund is waiting.", code="nothing_to_approve")).to_response("vi")
    assert json.loads(plain.body)["error"]["message"] == "No refund is waiting."
    assert "Content-Language" not in plain.headers


@pytest.mark.parametrize(
    ("query", "header", "expected"),
    [
        ({}, None, "ja"),
        ({}, "vi-VN,vi;q=0.9,en;q=0.8", "vi"),
        ({}, "en;q=0.5, ko", "ko"),
        ({}, "fr-FR", "en"),  # a language the ward does not write: its chain
        ({"lang": "ne"}, "en", "ne"),  # a page's own choice wins
        ({"lang": "xx"}, "zh-TW", "zh-Hans"),
    ],
)
def test_the_request_language(query, header, expected) -> None:
    from types import SimpleNamespace

    from chalicelib.api.errors import request_language

    request = SimpleNamespace(query_params=query, headers={"accept-language": header} if header else {})
    assert request_language(request) == expected
