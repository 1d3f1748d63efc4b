"""Verify staff bearer tokens (RS256 JWTs) against the issuer's JWKS.

The same code runs in AWS (an Amazon Cognito user pool issues ID tokens) and locally
(devstack/dev_issuer.py mints Cognito-shaped tokens). Issuer, audience and JWKS URL come
from config. `jwt` is imported inside the functions so importing this module stays cheap.

The JWKS client is created once per process. The key *set* is cached for
JWKS_LIFESPAN_SECONDS and then fetched again; keys are never cached one by one (PyJWKClient's
per-kid cache has no time limit, which kept a key trusted after the issuer removed it). So a key
removed from the JWKS stops being accepted at most JWKS_LIFESPAN_SECONDS after its removal. An
unknown `kid` triggers at most one re-fetch per cooldown (PyJWKClient's 30 s), so tokens with
random kids cannot make us hammer the issuer, and a newly added key is found at once.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any

from chalicelib.config import get_settings

if TYPE_CHECKING:
    from jwt import PyJWKClient

ALGORITHM = "RS256"
LEEWAY_SECONDS = 30
# The longest a removed key is still accepted (and how often the key set is fetched).
JWKS_LIFESPAN_SECONDS = 300
JWKS_TIMEOUT_SECONDS = 5
MAX_TOKEN_LENGTH = 16 * 1024
REQUIRED_CLAIMS = ("exp", "iat", "iss", "aud", "sub")
# Cognito issues ID tokens valid for at most a day: one that claims more was not minted by it.
MAX_LIFETIME_SECONDS = 24 * 3600

_client: PyJWKClient | None = None
_client_url: str | None = None
_client_lock = threading.Lock()


class InvalidStaffToken(Exception):
    """The token is not acceptable. `reason` is for logs only; never show the token."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class StaffAuthUnavailable(Exception):
    """The issuer's key set could not be fetched or used; the caller may retry later."""


def reset_cache() -> None:
    """Forget the JWKS client (tests, or after the configuration changed)."""
    global _client, _client_url
    with _client_lock:
        _client = None
        _client_url = None


def _jwks_client(url: str) -> PyJWKClient:
    global _client, _client_url
    with _client_lock:
        if _client is None or _client_url != url:
            import jwt

            _client = jwt.PyJWKClient(
                url,
                cache_keys=False,
                cache_jwk_set=True,
                lifespan=JWKS_LIFESPAN_SECONDS,
                timeout=JWKS_TIMEOUT_SECONDS,
            )
            _client_url = url
        return _client


def verify_staff_token(token: str) -> dict[str, Any]:
    """The verified claims of a staff ID token.

    Raises InvalidStaffToken for any problem with the token itself (shape, algorithm,
    key, signature, expiry, issuer, audience, missing claims, token_use) and
    StaffAuthUnavailable when the issuer's JWKS cannot be fetched.
    """
    import jwt

    if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_LENGTH:
        raise InvalidStaffToken("token missing or too long")
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as error:
        raise InvalidStaffToken(f"malformed token: {type(error).__name__}") from None
    alg = header.get("alg")
    if alg != ALGORITHM:
        # Checked before any key lookup: `none`, HS256 (key confusion) and others never get further.
        raise InvalidStaffToken(f"algorithm not allowed: {str(alg)[:20]!r}")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid or len(kid) > 256:
        raise InvalidStaffToken("missing or invalid kid")

    settings = get_settings()
    signing_key = _signing_key(settings.staff_jwks_url, kid)
    if signing_key.key_type != "RSA":
        raise InvalidStaffToken("signing key is not an RSA key")

    try:
        claims = jwt.decode(
            token,
            key=signing_key.key,
            algorithms=[ALGORITHM],
            audience=settings.staff_jwt_audience,
            issuer=settings.staff_jwt_issuer,
            leeway=LEEWAY_SECONDS,
            options={"require": list(REQUIRED_CLAIMS)},
        )
    except jwt.PyJWTError as error:
        raise InvalidStaffToken(f"rejected: {type(error).__name__}: {error}") from None

    if claims.get("token_use") != "id":
        raise InvalidStaffToken("token_use is not 'id'")
    expires = claims["exp"]
    if not isinstance(expires, int) or expires > time.time() + MAX_LIFETIME_SECONDS + LEEWAY_SECONDS:
        raise InvalidStaffToken("exp is not a time within a day")
    return claims


def _signing_key(jwks_url: str, kid: str) -> Any:
    import jwt

    try:
        return _jwks_client(jwks_url).get_signing_key(kid)
    except jwt.PyJWKClientConnectionError as error:
        raise StaffAuthUnavailable(f"JWKS fetch failed: {error}") from None
    except jwt.PyJWKClientError as error:
        if str(error).startswith("Unable to find a signing key"):
            raise InvalidStaffToken("unknown kid") from None
        raise StaffAuthUnavailable(f"JWKS unusable: {error}") from None
    except (jwt.PyJWTError, ValueError) as error:  # PyJWKSetError, a non-JSON body: the key set is bad
        raise StaffAuthUnavailable(f"JWKS unusable: {type(error).__name__}: {error}") from None
