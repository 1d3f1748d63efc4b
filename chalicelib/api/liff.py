"""Routes for the ward's LIFF pages (web pages opened inside LINE): the resident's own settings.

Every route starts with `current_resident(...)`: the `Authorization: Bearer <LINE ID token>`
header (from `liff.getIDToken()`) verified with LINE Login. The user is always the token's
verified `sub`; nothing in a body can name another user (the schema refuses a `userId`).

Handlers import their services when they run: these routes share the webhook's Lambda,
whose cold start must not pay for them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from chalice import Response

from chalicelib.api.errors import ApiBlueprint, ApiError, unauthorized
from chalicelib.api.requests import RESIDENT_CORS
from chalicelib.domain.messages import Text

if TYPE_CHECKING:
    from chalice.app import Request

    from chalicelib.store.preferences import Stored

bp = ApiBlueprint(__name__)

PREFERENCES = "/line/me/preferences"
_NO_STORE = {"Cache-Control": "no-store"}

# Catalogue texts, written in the language of the request (api/errors.py).
_SIGN_IN_AGAIN = Text("error.line_login")
_LOGIN_UNAVAILABLE = Text("error.line_login_unavailable")
_NOT_FOLLOWING = Text("error.not_following")
_INVALID = Text("error.check_entries")
_BUSY = Text("prefs.busy")


@bp.route(PREFERENCES, methods=["GET"], cors=RESIDENT_CORS)
def get_preferences() -> Response:
    from chalicelib.domain import preferences as rules
    from chalicelib.store import preferences as store

    user_id = current_resident(bp.current_request)
    stored = store.get(user_id)
    if stored is None:
        # Not a friend (yet): show what they could choose; saving answers 409 until they follow.
        return _answer(rules.view(rules.Preferences(), following=False))
    return _answer(_view(stored))


@bp.route(PREFERENCES, methods=["PUT"], cors=RESIDENT_CORS)
def put_preferences() -> Response:
    from chalicelib.api.requests import json_body
    from chalicelib.domain import preferences as rules

    request = bp.current_request
    user_id = current_resident(request)  # 401 before anything about the body
    document = json_body(request, "preferences")
    now = datetime.now(UTC)
    return _answer(_view(_save(user_id, lambda current: rules.from_document(document, current, now), now)))


@bp.route(PREFERENCES + "/stop-all", methods=["POST"], cors=RESIDENT_CORS)
def stop_all() -> Response:
    """One tap: no more announcements. Topics, area and consent are kept for when they resume."""
    from chalicelib.domain import preferences as rules

    user_id = current_resident(bp.current_request)
    return _answer(_view(_save(user_id, rules.stop_all, datetime.now(UTC))))


def current_resident(request: Request) -> str:
    """The verified LINE user id of the caller; 401 for a missing, bad or expired token."""
    from chalicelib.adapters import line_login
    from chalicelib.observability import logger

    value = (request.headers.get("authorization") or "").strip()
    scheme, _, token = value.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or any(ch.isspace() for ch in token):
        raise unauthorized(_SIGN_IN_AGAIN)
    try:
        return line_login.verify_id_token(token).user_id
    except line_login.InvalidIdToken as error:
        logger.info("line id token rejected", extra={"reason": error.reason})
        raise unauthorized(_SIGN_IN_AGAIN) from None
    except line_login.LineLoginUnavailable as error:
        logger.warning("line login unavailable", extra={"reason": str(error)})
        raise ApiError(503, "auth_unavailable", _LOGIN_UNAVAILABLE, headers={"Retry-After": "10"}) from None


@contextmanager
def answered_in(language: str) -> Iterator[None]:
    """Errors raised inside written in `language` (the resident's LINE one), not the phone's."""
    from chalicelib.api.errors import localized_error
    from chalicelib.domain import errors as rule

    try:
        yield
    except (rule.MadoguchiError, ApiError) as error:  # a service's refusal, or a schema's
        answer = localized_error(error, language)
        assert answer is not None  # noqa: S101 (both kinds are answers)
        raise answer from None


def resident_language(request: Request, user_id: str) -> str:
    """The language a LINE resident reads: the one they chose on LINE, else the request's
    (`?lang=`, Accept-Language): what a LIFF page's answers and what follows from them use."""
    from chalicelib.api.errors import request_language
    from chalicelib.store import preferences

    stored = preferences.get(user_id)
    return (
        stored.preferences.language if stored and stored.preferences.language else request_language(request)
    )


def _save(user_id: str, change: Any, now: datetime) -> Stored:
    from chalicelib.domain import preferences as rules
    from chalicelib.observability import hashed, logger
    from chalicelib.store import preferences as store

    try:
        stored = store.update(user_id, change, now=now)
    except rules.InvalidPreferences as error:
        details = [{"pointer": p.pointer, "code": p.code, "message": p.message} for p in error.problems]
        raise ApiError(422, "invalid_preferences", _INVALID, details) from None
    except rules.TermsChanged as error:
        raise ApiError(
            409,
            "terms_changed",
            error.text,
            [{"pointer": "/consent/termsVersion", "current": rules.TERMS_VERSION}],
        ) from None
    except store.NotFollowing:
        raise ApiError(409, "not_following", _NOT_FOLLOWING) from None
    except store.Conflict:
        raise ApiError(409, "concurrent_change", _BUSY) from None
    logger.info(
        "preferences saved",
        extra={
            "user": hashed(user_id),
            "send_lists": len(stored.segments),
            "paused": stored.preferences.paused,
        },
    )
    return stored


def _view(stored: Stored) -> dict[str, Any]:
    from chalicelib.domain import preferences as rules

    return rules.view(stored.preferences, following=stored.following)


def _answer(body: dict[str, Any]) -> Response:
    return Response(
        body=json.dumps(body, ensure_ascii=False),
        status_code=200,
        headers={"Content-Type": "application/json; charset=utf-8", **_NO_STORE},
    )
