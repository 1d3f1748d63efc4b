"""The one error shape every client sees.

`ApiError` subclasses ChaliceUnhandledError so that Chalice lets it reach our
middleware (other exceptions are turned into Chalice's own 500 body first); the
middleware in app.py turns it into `{"error": {"code", "message", "details"}}`.

A resident-facing message (a catalogue `Text`, in the message or anywhere in the details) is
rendered there, once, in the request's language (`request_language`): the one path by which
every resident route answers an error in the resident's language.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Mapping
from typing import Any

from chalice import Blueprint, ChaliceUnhandledError, Response
from chalice.app import handle_extra_types

from chalicelib.domain import errors as rule
from chalicelib.domain import languages
from chalicelib.domain.messages import Text, localize, map_texts
from chalicelib.domain.residents import DEFAULT_LANGUAGE


class ApiError(ChaliceUnhandledError):
    def __init__(
        self,
        status: int,
        code: str,
        message: str | Text,
        details: list[Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details or []
        self.headers = headers or {}

    def localized(self, language: str) -> ApiError:
        """The same error with its catalogue texts written in `language` (a web page shows them),
        or in Japanese and English for STAFF."""
        headers = dict(self.headers)
        write = _in_both if language == STAFF else functools.partial(localize, language=language)
        if isinstance(self.message, Text):
            headers["Content-Language"] = "ja, en" if language == STAFF else languages.language_tag(language)
        return ApiError(self.status, self.code, str(write(self.message)), write(self.details), headers)

    def to_response(self, language: str = DEFAULT_LANGUAGE) -> Response:
        shown = self.localized(language)
        return error_response(shown.status, shown.code, str(shown.message), shown.details, shown.headers)


# Staff routes say every message in Japanese and English ("ja / en"), whatever the caller's
# Accept-Language: staff read either, and their tools get one answer. A catalogue text (one a
# resident may also see) is written in both; services write their staff-only texts so.
STAFF = "ja+en"


def answer_language(request: Any) -> str:
    """The language an error is written in: STAFF on a staff route, else request_language's."""
    context = getattr(request, "context", None) or {}
    path = context.get("resourcePath") or getattr(request, "path", "") or ""
    return STAFF if path.startswith("/staff/") else request_language(request)


def _in_both(value: Any) -> Any:
    """`value` with every catalogue text in it written "ja / en" (once where they are the same)."""

    def write(text: Text) -> str:
        ja, en = (str(localize(text, language)) for language in ("ja", "en"))
        return ja if ja == en else f"{ja} / {en}"

    return map_texts(value, write)


def request_language(request: Any) -> str:
    """The language a route answers in: `?lang=` when it names one of ours, else the best of the
    request's Accept-Language (domain/languages.py: negotiate), else Japanese."""
    params = getattr(request, "query_params", None) or {}
    headers = getattr(request, "headers", None) or {}
    return languages.negotiate(headers.get("accept-language"), params.get("lang"))


def reader_language(request: Any, own: str | None) -> str:
    """The language to show a resident's own record in (a booking, a receipt): the one the
    request names (`?lang=`, Accept-Language), else the record's own `own` (the language it was
    made in)."""
    params = getattr(request, "query_params", None) or {}
    headers = getattr(request, "headers", None) or {}
    made_in = languages.known(own)
    if not made_in:
        return request_language(request)
    # The record's language as the least wanted range: any of ours the request names wins, and
    # one naming none of ours ("fr", "*", ?lang=xx) reads the record's, not a fallback chain's.
    accept = headers.get("accept-language")
    ranges = f"{accept}, {made_in};q=0.001" if accept else made_in
    return languages.negotiate(ranges, params.get("lang"))


def json_response(
    body: Any, status: int = 200, headers: Mapping[str, str | list[str]] | None = None
) -> Response:
    """JSON as UTF-8 text (Japanese stays readable), with the content type saying so."""
    return Response(
        # Decimal (DynamoDB's numbers) as Chalice itself writes it.
        body=json.dumps(body, ensure_ascii=False, default=handle_extra_types),
        status_code=status,
        headers={"Content-Type": "application/json; charset=utf-8", **(headers or {})},
    )


def readable_json(response: Response) -> Response:
    """A view's dict or list as UTF-8 JSON text: Chalice's own `json.dumps` escapes every
    non-ASCII character (\\u304a for お), so staff tools and curl saw no Japanese, at 6 bytes a kana."""
    if not isinstance(response.body, (dict, list)):
        return response
    return json_response(response.body, response.status_code, response.headers)


def error_response(
    status: int,
    code: str,
    message: str,
    details: list[Any] | None = None,
    headers: Mapping[str, str | list[str]] | None = None,
) -> Response:
    return json_response(
        {"error": {"code": code, "message": message, "details": details or []}}, status, headers
    )


def as_api_error(response: Response, language: str = DEFAULT_LANGUAGE) -> Response:
    """Chalice's own errors (unknown route, wrong method or media type, a crash) in our shape.

    Chalice answers those with `{"Code": ..., "Message": ...}` before our code runs; the
    crash's details are already in the log, never in the answer, which is said in `language`
    (a resident may see it). The 4xx are a client program's mistakes, kept in Chalice's words.
    """
    body = response.body
    if response.status_code < 400 or not isinstance(body, dict) or set(body) != {"Code", "Message"}:
        return response
    if response.status_code >= 500:
        return ApiError(500, "internal_error", Text("error.internal")).to_response(language)
    code = re.sub(r"(?<!^)(?=[A-Z])", "_", str(body["Code"]).removesuffix("Error")).lower()
    return error_response(response.status_code, code, str(body["Message"]), headers=response.headers)


# The one place where a rule-level error becomes an HTTP status (most specific class first).
_STATUS: tuple[tuple[type[rule.MadoguchiError], int], ...] = (
    (rule.Malformed, 400),
    (rule.Invalid, 422),
    (rule.NotFound, 404),
    (rule.Unauthenticated, 401),
    (rule.Forbidden, 403),
    (rule.Conflict, 409),
    (rule.TooManyRequests, 429),
    (rule.Unavailable, 503),
)


def from_rule(error: rule.MadoguchiError) -> ApiError:
    """The HTTP answer for an error raised by a service or the domain."""
    status = next((status for kind, status in _STATUS if isinstance(error, kind)), 400)
    headers = {"Retry-After": str(error.retry_after)} if error.retry_after is not None else {}
    if status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    return ApiError(status, error.code, error.message, error.details, headers)


def localized_error(error: Exception, language: str = DEFAULT_LANGUAGE) -> ApiError | None:
    """The HTTP error a service's exception is (as the JSON API answers it), its texts written
    in `language`; None for an exception that is no answer (a bug: let it raise)."""
    if isinstance(error, ApiError):
        return error.localized(language)
    if isinstance(error, rule.MadoguchiError):
        return from_rule(error).localized(language)
    return None


class ApiBlueprint(Blueprint):
    """A Blueprint whose routes turn a rule-level error into its HTTP answer.

    Chalice turns any exception a view raises into a 500 unless it is a ChaliceUnhandledError,
    and the domain must not import Chalice: so the mapping happens here, for every route at once.
    Every GET route answers HEAD too (HTTP requires it of a server; link checkers and uptime
    monitors use it): the same view, its body dropped by app.py's middleware (`without_body`).
    """

    def route(self, path: str, **kwargs: Any) -> Callable[..., Any]:
        methods = [method.upper() for method in kwargs.get("methods", ["GET"])]
        if "GET" in methods and "HEAD" not in methods:
            kwargs["methods"] = [*methods, "HEAD"]
        register = super().route(path, **kwargs)

        def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
            @functools.wraps(view)
            def mapped(*args: Any, **kwargs: Any) -> Any:
                try:
                    return view(*args, **kwargs)
                except rule.MadoguchiError as error:
                    raise from_rule(error) from None

            register(mapped)
            return view

        return decorator


def without_body(response: Response, method: str) -> Response:
    """A HEAD request's answer: the GET's status and headers, no body."""
    if method == "HEAD":
        response.body = ""
    return response


def unauthorized(message: str | Text = "Authentication required.") -> ApiError:
    return ApiError(401, "unauthorized", message, headers={"WWW-Authenticate": "Bearer"})


def forbidden(message: str = "You are not allowed to do this.") -> ApiError:
    return ApiError(403, "forbidden", message)


def with_route_cors(
    response: Response, routes: dict[str, dict[str, Any]], context: dict[str, Any]
) -> Response:
    """`response` with the CORS headers of the route that was called, if it has any."""
    entry = routes.get(context.get("resourcePath") or "", {}).get(context.get("httpMethod") or "")
    if entry is not None and entry.cors is not None:
        for name, value in entry.cors.get_access_control_headers().items():
            response.headers.setdefault(name, value)
    return response
