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

    with Client(app) as client:
        response = client.http.get("/things/42")
    assert response.status_code == 404
    assert json.loads(response.body)["error"] == {
        "code": "thing_not_found",
        "message": "no 42",
        "details": [{"id": "42"}],
    }
