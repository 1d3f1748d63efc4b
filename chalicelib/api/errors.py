"""The one error shape every client sees.

`ApiError` subclasses ChaliceUnhandledError so that Chalice lets it reach our
middleware (other exceptions are turned into Chalice's own 500 body first); the
middleware in app.py turns it into `{"error": {"code", "message", "details"}}`.
"""

from __future__ import annotations

import json
import re
from typing import Any

from chalice import ChaliceUnhandledError, Response


class ApiError(ChaliceUnhandledError):
    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: list[Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details or []
        self.headers = headers or {}

    def to_response(self) -> Response:
        return error_response(self.status, self.code, self.message, self.details, self.headers)


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """JSON as UTF-8 text (Japanese stays readable), with the content type saying so."""
    return Response(
        body=json.dumps(body, ensure_ascii=False),
        status_code=status,
        headers={"Content-Type": "application/json; charset=utf-8", **(headers or {})},
    )


def error_response(
    status: int,
    code: str,
    message: str,
    details: list[Any] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    return json_response(
        {"error": {"code": code, "message": message, "details": details or []}}, status, headers
    )


def as_api_error(response: Response) -> Response:
    """Chalice's own errors (unknown route, wrong method or media type, a crash) in our shape.

    Chalice answers those with `{"Code": ..., "Message": ...}` before our code runs; the
    crash's details are already in the log, never in the answer.
    """
    body = response.body
    if response.status_code < 400 or not isinstance(body, dict) or set(body) != {"Code", "Message"}:
        return response
    if response.status_code >= 500:
        return error_response(500, "internal_error", "An internal error occurred.")
    code = re.sub(r"(?<!^)(?=[A-Z])", "_", str(body["Code"]).removesuffix("Error")).lower()
    return error_response(response.status_code, code, str(body["Message"]), headers=response.headers)


def unauthorized(message: str = "Authentication required.") -> ApiError:
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
