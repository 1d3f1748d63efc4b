"""Staff authentication end to end: a local dev issuer serves the JWKS, /staff/me verifies.

No internet: the issuer is devstack.dev_issuer.DevIssuer on 127.0.0.1 with a random port.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from chalice.test import Client
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from app import app
from chalicelib.adapters import staff_tokens
from chalicelib.api.errors import ApiError
from chalicelib.api.staff import current_staff
from chalicelib.config import get_settings
from chalicelib.domain.staff import ROLE_ANNOUNCER, ROLE_STAFF, ROLE_SUPERVISOR
from devstack.dev_issuer import DevIssuer, ensure_key, jwks, key_id, mint_token

ROOT = Path(__file__).resolve().parents[2]
AUDIENCE = "madoguchi-staff-test"


# --- fixtures ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def key_path(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("dev-issuer") / "private.pem"


@pytest.fixture(scope="module")
def issuer_key(key_path) -> rsa.RSAPrivateKey:
    return ensure_key(key_path)


@pytest.fixture(scope="module")
def other_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def dev_issuer(issuer_key):
    server = DevIssuer(issuer_key, port=0)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def staff_env(monkeypatch, dev_issuer):
    monkeypatch.setenv("STAFF_JWT_ISSUER", dev_issuer.issuer)
    monkeypatch.setenv("STAFF_JWKS_URL", dev_issuer.jwks_url)
    monkeypatch.setenv("STAFF_JWT_AUDIENCE", AUDIENCE)
    get_settings.cache_clear()
    staff_tokens.reset_cache()
    yield get_settings()
    get_settings.cache_clear()
    staff_tokens.reset_cache()


@pytest.fixture
def client(staff_env):
    with Client(app, stage_name="local") as test_client:
        yield test_client


@pytest.fixture
def token(staff_env, issuer_key):
    """A factory for tokens signed by the dev issuer's key, for the configured issuer/audience."""

    def make(**overrides) -> str:
        params = {
            "staff_id": "staff-0001",
            "section": "kocho",
            "roles": [ROLE_STAFF, ROLE_ANNOUNCER],
            "key": issuer_key,
        }
        params.update(overrides)
        return mint_token(**params)

    return make


# --- helpers ----------------------------------------------------------------------------------


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unsigned_parts(header: dict, claims: dict) -> str:
    return b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(claims).encode())


def rs256_by_hand(header: dict, claims: dict, key: rsa.RSAPrivateKey) -> str:
    """A genuinely signed token whose header PyJWT itself would refuse to produce."""
    signing_input = unsigned_parts(header, claims)
    signature = key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{b64url(signature)}"


def good_claims(settings) -> dict:
    now = int(time.time())
    return {
        "sub": "staff-0001",
        "custom:section": "kocho",
        "cognito:groups": ["admin"],
        "token_use": "id",
        "iss": settings.staff_jwt_issuer,
        "aud": settings.staff_jwt_audience,
        "iat": now,
        "exp": now + 600,
    }


def get_me(client, authorization: str | None = None, header_name: str = "Authorization"):
    headers = {} if authorization is None else {header_name: authorization}
    return client.http.get("/staff/me", headers=headers)


def assert_error(response, status: int, code: str, *, secret: str | None = None) -> dict:
    assert response.status_code == status, response.body
    assert response.headers["Content-Type"].startswith("application/json")
    body = json.loads(response.body)
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert isinstance(body["error"]["details"], list)
    if secret:
        raw = response.body.decode() if isinstance(response.body, bytes) else response.body
        assert secret not in raw
        for part in secret.split("."):
            if len(part) > 8:
                assert part not in raw
    if status == 401:
        assert response.headers.get("WWW-Authenticate") == "Bearer"
    return body


# --- the good path ------------------------------------------------------------------------------


def test_good_token_returns_the_callers_identity(client, token):
    response = get_me(client, f"Bearer {token(roles=[ROLE_SUPERVISOR, ROLE_STAFF, ROLE_ANNOUNCER])}")
    assert response.status_code == 200, response.body
    assert json.loads(response.body) == {
        "staffId": "staff-0001",
        "section": "kocho",
        "roles": ["announcer", "staff", "supervisor"],
    }
    assert response.headers.get("Cache-Control") == "no-store"


def test_scheme_and_header_name_are_case_insensitive(client, token):
    response = get_me(client, f"bearer {token()}", header_name="authorization")
    assert response.status_code == 200, response.body
    response = get_me(client, f"BEARER   {token()}  ", header_name="AUTHORIZATION")
    assert response.status_code == 200, response.body


def test_token_without_groups_has_no_roles(client, token):
    response = get_me(client, f"Bearer {token(roles=[])}")
    assert response.status_code == 200
    assert json.loads(response.body)["roles"] == []


def test_expired_within_leeway_is_still_accepted(client, token):
    response = get_me(client, f"Bearer {token(ttl_seconds=-10)}")
    assert response.status_code == 200, response.body


# --- 401: no or bad token ----------------------------------------------------------------------


def test_no_token_is_401(client):
    assert_error(get_me(client), 401, "unauthorized")


@pytest.mark.parametrize(
    "authorization",
    [
        "",
        "Bearer",
        "Bearer ",
        "Basic dXNlcjpwYXNz",
        "Token abc.def.ghi",
        "abc.def.ghi",
        "Bearer abc def",
        "Bearer not-a-jwt",
        "Bearer a.b.c",
        "Bearer ....",
        "Bearer eyJhbGciOiJSUzI1NiJ9.e30",
    ],
)
def test_malformed_authorization_header_is_401(client, authorization):
    assert_error(get_me(client, authorization), 401, "unauthorized")


def test_token_in_a_second_scheme_word_is_not_accepted(client, token):
    good = token()
    assert_error(get_me(client, f"Basic Bearer {good}"), 401, "unauthorized", secret=good)


def test_forged_token_signed_by_another_key_with_the_issuers_kid_is_401(client, token, issuer_key, other_key):
    forged = token(key=other_key)
    # mint_token puts the signing key's own kid in; re-sign with the real issuer's kid.
    import jwt

    claims = jwt.decode(forged, options={"verify_signature": False})
    forged = jwt.encode(claims, other_key, algorithm="RS256", headers={"kid": key_id(issuer_key)})
    assert_error(get_me(client, f"Bearer {forged}"), 401, "unauthorized", secret=forged)


def test_forged_token_with_an_unknown_kid_is_401(client, token, other_key):
    forged = token(key=other_key)
    assert_error(get_me(client, f"Bearer {forged}"), 401, "unauthorized", secret=forged)


def test_expired_token_is_401(client, token):
    expired = token(ttl_seconds=-120)
    assert_error(get_me(client, f"Bearer {expired}"), 401, "unauthorized", secret=expired)


def test_token_issued_in_the_future_is_401(client, token):
    future = token(iat=int(time.time()) + 600, exp=int(time.time()) + 1200)
    assert_error(get_me(client, f"Bearer {future}"), 401, "unauthorized", secret=future)


def test_wrong_audience_is_401(client, token):
    wrong = token(audience="some-other-app-client")
    assert_error(get_me(client, f"Bearer {wrong}"), 401, "unauthorized", secret=wrong)


def test_wrong_issuer_is_401(client, token, staff_env):
    wrong = token(issuer=staff_env.staff_jwt_issuer + "-evil")
    assert_error(get_me(client, f"Bearer {wrong}"), 401, "unauthorized", secret=wrong)
    wrong = token(issuer="https://cognito-idp.ap-northeast-1.amazonaws.com/ap-northeast-1_other")
    assert_error(get_me(client, f"Bearer {wrong}"), 401, "unauthorized", secret=wrong)


@pytest.mark.parametrize(
    "expires",
    [
        pytest.param(lambda now: now + 2 * 24 * 3600, id="two days ahead"),
        pytest.param(lambda now: 10**30, id="never"),
        pytest.param(lambda now: str(now + 600), id="a string"),
        pytest.param(lambda now: float(now + 600), id="a float"),
    ],
)
def test_token_valid_for_longer_than_cognito_issues_or_oddly_dated_is_401(client, token, expires):
    odd = token(exp=expires(int(time.time())))
    assert_error(get_me(client, f"Bearer {odd}"), 401, "unauthorized", secret=odd)


def test_token_valid_for_a_day_is_accepted(client, token):
    assert get_me(client, f"Bearer {token(ttl_seconds=24 * 3600)}").status_code == 200


@pytest.mark.parametrize("claim", ["exp", "iat", "iss", "aud", "sub"])
def test_token_missing_a_required_claim_is_401(client, token, claim):
    incomplete = token(**{claim: None})
    assert_error(get_me(client, f"Bearer {incomplete}"), 401, "unauthorized", secret=incomplete)


@pytest.mark.parametrize("token_use", ["access", None])
def test_only_id_tokens_are_accepted(client, token, token_use):
    other = token(token_use=token_use)
    assert_error(get_me(client, f"Bearer {other}"), 401, "unauthorized", secret=other)


@pytest.mark.parametrize("alg", ["none", "None", "NONE"])
def test_alg_none_is_401(client, staff_env, issuer_key, alg):
    parts = unsigned_parts({"alg": alg, "typ": "JWT", "kid": key_id(issuer_key)}, good_claims(staff_env))
    for attempt in (parts + ".", parts + "." + b64url(b"sig")):
        assert_error(get_me(client, f"Bearer {attempt}"), 401, "unauthorized", secret=attempt)


def test_hs256_signed_with_the_public_key_is_401(client, staff_env, issuer_key):
    """The classic key-confusion attack: HMAC keyed with the issuer's published public key."""
    kid = key_id(issuer_key)
    public_pem = issuer_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    public_jwk = json.dumps(jwks(issuer_key)["keys"][0]).encode()
    for secret in (public_pem, public_jwk, b"madoguchi"):
        signing_input = unsigned_parts({"alg": "HS256", "typ": "JWT", "kid": kid}, good_claims(staff_env))
        signature = b64url(hmac.new(secret, signing_input.encode(), hashlib.sha256).digest())
        forged = f"{signing_input}.{signature}"
        assert_error(get_me(client, f"Bearer {forged}"), 401, "unauthorized", secret=forged)


@pytest.mark.parametrize("alg", ["RS384", "RS512", "PS256", "ES256"])
def test_other_algorithms_are_401(client, staff_env, issuer_key, alg):
    import jwt

    try:
        forged = jwt.encode(
            good_claims(staff_env), issuer_key, algorithm=alg, headers={"kid": key_id(issuer_key)}
        )
    except (
        TypeError,
        ValueError,
        NotImplementedError,
    ):  # ES256 cannot be signed with an RSA key: send the header with a junk signature
        forged = unsigned_parts({"alg": alg, "kid": key_id(issuer_key)}, good_claims(staff_env)) + ".AAAA"
    assert_error(get_me(client, f"Bearer {forged}"), 401, "unauthorized", secret=forged)


@pytest.mark.parametrize("kid", [None, "", ["a"], {"k": "v"}, 7])
def test_missing_or_odd_kid_is_401(client, staff_env, issuer_key, kid):
    header = {"alg": "RS256", "typ": "JWT"} if kid is None else {"alg": "RS256", "typ": "JWT", "kid": kid}
    odd = rs256_by_hand(header, good_claims(staff_env), issuer_key)
    assert_error(get_me(client, f"Bearer {odd}"), 401, "unauthorized", secret=odd)


def test_tampered_claims_are_401(client, token):
    good = token()
    header, payload, signature = good.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["cognito:groups"] = ["admin"]
    tampered = f"{header}.{b64url(json.dumps(claims).encode())}.{signature}"
    assert_error(get_me(client, f"Bearer {tampered}"), 401, "unauthorized", secret=tampered)


def test_oversized_token_is_401(client):
    huge = "a" * 20_000 + ".b.c"
    assert_error(get_me(client, f"Bearer {huge}"), 401, "unauthorized")


# --- 403 and 503 --------------------------------------------------------------------------------


def test_valid_token_without_a_section_is_403(client, token):
    body = assert_error(get_me(client, f"Bearer {token(**{'custom:section': None})}"), 403, "forbidden")
    assert "section" in body["error"]["message"]


@pytest.mark.parametrize("section", ["citizens", "KOSEKI-JUMIN", "koseki_jumin"])
def test_valid_token_naming_no_section_of_the_ward_is_403(client, token, section):
    """A typo in the user pool's custom:section must not open an empty section of its own."""
    body = assert_error(get_me(client, f"Bearer {token(section=section)}"), 403, "forbidden")
    assert "section" in body["error"]["message"]


def request_with(authorization: str) -> SimpleNamespace:
    return SimpleNamespace(headers={"authorization": authorization})


def test_current_staff_missing_role_is_403(staff_env, token):
    request = request_with(f"Bearer {token(roles=[ROLE_STAFF])}")
    with pytest.raises(ApiError) as raised:
        current_staff(request, roles={ROLE_ANNOUNCER, ROLE_SUPERVISOR})
    assert raised.value.status == 403
    assert raised.value.code == "forbidden"
    body = json.loads(raised.value.to_response().body)
    assert body["error"]["message"] == (
        "この操作には次の役割が必要です: announcer, supervisor / This requires one of the roles: announcer, supervisor."
    )


def test_current_staff_wrong_section_is_403(staff_env, token):
    request = request_with(f"Bearer {token(section='kocho', roles=[ROLE_SUPERVISOR])}")
    with pytest.raises(ApiError) as raised:
        current_staff(request, roles={ROLE_SUPERVISOR}, section="doro-hoshu")
    assert raised.value.status == 403
    assert raised.value.code == "forbidden"


def test_current_staff_with_role_and_section_passes(staff_env, token):
    request = request_with(f"Bearer {token(section='doro-hoshu', roles=[ROLE_SUPERVISOR], staff_id='s-9')}")
    principal = current_staff(request, roles={ROLE_SUPERVISOR}, section="doro-hoshu")
    assert (principal.staff_id, principal.section, principal.roles) == (
        "s-9",
        "doro-hoshu",
        frozenset({"supervisor"}),
    )


def test_current_staff_checks_the_token_before_authorizing(staff_env, token):
    with pytest.raises(ApiError) as raised:
        current_staff(request_with(f"Bearer {token(ttl_seconds=-300)}"), roles={ROLE_STAFF})
    assert raised.value.status == 401


def test_unreachable_jwks_is_503(client, token, monkeypatch, dev_issuer):
    good = token()
    monkeypatch.setenv("STAFF_JWKS_URL", "http://127.0.0.1:9/dev-issuer/.well-known/jwks.json")
    get_settings.cache_clear()
    staff_tokens.reset_cache()
    assert_error(get_me(client, f"Bearer {good}"), 503, "auth_unavailable", secret=good)


@pytest.mark.parametrize("suffix", ["/no-such-path", "/.well-known/openid-configuration"])
def test_jwks_url_without_a_key_set_is_503(client, token, monkeypatch, dev_issuer, suffix):
    good = token()
    monkeypatch.setenv("STAFF_JWKS_URL", dev_issuer.issuer + suffix)
    get_settings.cache_clear()
    staff_tokens.reset_cache()
    assert_error(get_me(client, f"Bearer {good}"), 503, "auth_unavailable", secret=good)


# --- the dev issuer ------------------------------------------------------------------------------


def test_ensure_key_creates_once_with_mode_0600_and_reuses(tmp_path):
    path = tmp_path / "nested" / "private.pem"
    first = ensure_key(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    second = ensure_key(path)
    assert key_id(first) == key_id(second)
    assert first.key_size == 2048
    assert list(path.parent.iterdir()) == [path]  # no temp files left behind


def test_kid_is_the_rfc7638_thumbprint():
    # The example key of RFC 7638 section 3.1 and its published thumbprint.
    n = (
        "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZ"
        "CiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJ"
        "ZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBn"
        "iIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"
    )
    modulus = int.from_bytes(base64.urlsafe_b64decode(n + "=" * (-len(n) % 4)), "big")
    public = rsa.RSAPublicNumbers(65537, modulus).public_key()
    assert key_id(public) == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"


def test_jwks_publishes_only_the_public_key(issuer_key):
    published = jwks(issuer_key)
    assert [set(k) for k in published["keys"]] == [{"kty", "alg", "use", "kid", "n", "e"}]
    assert published["keys"][0]["kid"] == key_id(issuer_key)


def test_dev_issuer_serves_the_jwks_under_the_issuer_path(dev_issuer, issuer_key):
    import urllib.error
    import urllib.request

    assert dev_issuer.issuer.endswith("/dev-issuer")
    with urllib.request.urlopen(dev_issuer.jwks_url, timeout=5) as response:
        assert json.load(response) == jwks(issuer_key)
    with pytest.raises(urllib.error.HTTPError) as raised:
        urllib.request.urlopen(dev_issuer.issuer + "/private.pem", timeout=5)
    assert raised.value.code == 404


def test_cli_token_is_accepted_by_the_api(client, staff_env, key_path, issuer_key):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "devstack.dev_issuer",
            "--key-path",
            str(key_path),
            "token",
            "--section",
            "kosodate",
            "--role",
            "staff",
            "--role",
            "announcer",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    printed = result.stdout.strip()
    assert printed.count(".") == 2 and "\n" not in printed
    response = get_me(client, f"Bearer {printed}")
    assert response.status_code == 200, response.body
    assert json.loads(response.body) == {
        "staffId": "dev-kosodate-staff",
        "section": "kosodate",
        "roles": ["announcer", "staff"],
    }


def test_importing_the_app_does_not_import_jwt():
    code = "import sys, app; print('jwt' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == "False"
