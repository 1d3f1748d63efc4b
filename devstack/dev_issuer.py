"""The local stack's staff token issuer (never deployed).

It stands in for the Amazon Cognito user pool: one RSA key kept under .devstack/
(gitignored), its public half served as a JWKS at `{issuer}/.well-known/jwks.json`, and
Cognito-shaped ID tokens minted on demand. The API verifies these exactly as it verifies
Cognito's (chalicelib/adapters/staff_tokens.py); only the configured issuer differs.

    python -m devstack.dev_issuer token --section kocho --role staff [--role announcer]
    python -m devstack.dev_issuer serve [--port 4590]
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Self
from urllib.parse import urlsplit

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from devstack.env import Ports, local_environ

DEFAULT_KEY_PATH = Path(".devstack/dev-issuer/private.pem")
DEFAULT_PORT = 4590
DEFAULT_PATH = "/dev-issuer"
JWKS_SUFFIX = "/.well-known/jwks.json"

RSAKey = rsa.RSAPrivateKey | rsa.RSAPublicKey


def ensure_key(path: Path = DEFAULT_KEY_PATH) -> rsa.RSAPrivateKey:
    """The dev issuer's private key: generated once (RSA-2048, file mode 0600), then reused.

    Safe against two processes starting at once: the key is written to a private temp
    file and hard-linked into place, so the loser of the race reads the winner's key.
    """
    path = Path(path)
    if path.exists():
        return _load_key(path)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(pem)
        try:
            os.link(tmp, path)
        except FileExistsError:
            return _load_key(path)
    finally:
        tmp.unlink(missing_ok=True)
    return key


def _load_key(path: Path) -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise TypeError(f"{path} does not hold an RSA private key")
    return key


def _b64url_uint(value: int) -> str:
    raw = value.to_bytes((value.bit_length() + 7) // 8 or 1, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _public_numbers(key: RSAKey) -> rsa.RSAPublicNumbers:
    public = key.public_key() if isinstance(key, rsa.RSAPrivateKey) else key
    return public.public_numbers()


def key_id(key: RSAKey) -> str:
    """RFC 7638 JWK thumbprint (SHA-256, base64url) of the key's public half."""
    numbers = _public_numbers(key)
    members = {"e": _b64url_uint(numbers.e), "kty": "RSA", "n": _b64url_uint(numbers.n)}
    canonical = json.dumps(members, separators=(",", ":"), sort_keys=True).encode("ascii")
    return base64.urlsafe_b64encode(hashlib.sha256(canonical).digest()).rstrip(b"=").decode("ascii")


def jwks(key: RSAKey) -> dict[str, Any]:
    """The JWK Set publishing the key's public half (never the private parts)."""
    numbers = _public_numbers(key)
    return {
        "keys": [
            {
                "kty": "RSA",
                "alg": "RS256",
                "use": "sig",
                "kid": key_id(key),
                "n": _b64url_uint(numbers.n),
                "e": _b64url_uint(numbers.e),
            }
        ]
    }


def mint_token(
    *,
    staff_id: str,
    section: str,
    roles: list[str] | tuple[str, ...] | set[str] | frozenset[str],
    ttl_seconds: int = 3600,
    issuer: str | None = None,
    audience: str | None = None,
    key: rsa.RSAPrivateKey | None = None,
    email: str | None = None,
    **extra_claims: Any,
) -> str:
    """A signed Cognito-shaped ID token. Issuer and audience default to get_settings().

    `extra_claims` are added last, so tests can override or (with value None) drop any claim.
    """
    import jwt

    if issuer is None or audience is None:
        from chalicelib.config import get_settings

        settings = get_settings()
        issuer = settings.staff_jwt_issuer if issuer is None else issuer
        audience = settings.staff_jwt_audience if audience is None else audience
    if key is None:
        key = ensure_key()
    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": staff_id,
        "cognito:username": staff_id,
        "custom:section": section,
        "cognito:groups": sorted(set(roles)),
        "token_use": "id",
        "iss": issuer,
        "aud": audience,
        "auth_time": now,
        "iat": now,
        "exp": now + int(ttl_seconds),
        "jti": str(uuid.uuid4()),
    }
    if email:
        claims["email"] = email
        claims["email_verified"] = True
    claims.update(extra_claims)
    claims = {name: value for name, value in claims.items() if value is not None}
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": key_id(key)})


class DevIssuer:
    """A tiny HTTP server publishing the JWKS (and an OpenID discovery document).

    `start()` returns the issuer URL, e.g. http://127.0.0.1:4590/dev-issuer; with port 0
    the OS picks a free port. Use as a context manager or call `stop()`.
    """

    def __init__(
        self,
        key: RSAKey | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        path: str = DEFAULT_PATH,
    ) -> None:
        self._key = key if key is not None else ensure_key()
        self._host = host
        self._port = port
        self._path = "/" + path.strip("/") if path.strip("/") else ""
        self._jwks_body = json.dumps(jwks(self._key)).encode("utf-8")
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.issuer: str | None = None

    def publish(self, *keys: RSAKey) -> None:
        """Serve exactly these keys' public halves from now on (a rotation adds the next key,
        then removes the old one)."""
        self._jwks_body = json.dumps({"keys": [jwk for key in keys for jwk in jwks(key)["keys"]]}).encode()

    @property
    def jwks_url(self) -> str:
        if self.issuer is None:
            raise RuntimeError("DevIssuer is not started")
        return self.issuer + JWKS_SUFFIX

    def start(self) -> str:
        if self._server is not None:
            raise RuntimeError("DevIssuer is already started")
        issuer_ref: dict[str, str] = {}
        routes = {
            self._path + JWKS_SUFFIX: lambda: self._jwks_body,
            self._path + "/.well-known/openid-configuration": lambda: json.dumps(
                {
                    "issuer": issuer_ref["issuer"],
                    "jwks_uri": issuer_ref["issuer"] + JWKS_SUFFIX,
                    "id_token_signing_alg_values_supported": ["RS256"],
                }
            ).encode("utf-8"),
        }
        self._server = ThreadingHTTPServer((self._host, self._port), _handler(routes))
        self._server.daemon_threads = True
        host, port = self._server.server_address[:2]
        url_host = f"[{host}]" if ":" in str(host) else host
        self.issuer = f"http://{url_host}:{port}{self._path}"
        issuer_ref["issuer"] = self.issuer
        self._thread = threading.Thread(target=self._server.serve_forever, name="dev-issuer", daemon=True)
        self._thread.start()
        return self.issuer

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def _handler(routes: dict[str, Any]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "madoguchi-dev-issuer"

        def do_GET(self) -> None:
            produce = routes.get(urlsplit(self.path).path)
            if produce is None:
                self._send(404, b'{"error":"not found"}')
            else:
                self._send(200, produce())

        def _send(self, status: int, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "max-age=300")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


def _main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devstack.dev_issuer", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--key-path", type=Path, default=DEFAULT_KEY_PATH, help="private key file (created once)"
    )
    commands = parser.add_subparsers(dest="command", required=True)

    token = commands.add_parser("token", help="print a staff ID token for the configured issuer and audience")
    token.add_argument("--section", required=True)
    token.add_argument("--role", action="append", default=[], dest="roles", help="repeatable")
    token.add_argument("--staff-id", default=None, help="default: dev-<section>-<first role>")
    token.add_argument("--email", default=None)
    token.add_argument("--ttl", type=int, default=3600, help="lifetime in seconds (default 3600)")

    serve = commands.add_parser("serve", help="serve the JWKS until interrupted")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument(
        "--port", type=int, default=int(os.environ.get("MADOGUCHI_ISSUER_PORT") or DEFAULT_PORT)
    )

    args = parser.parse_args(argv)
    # The local stack's issuer and audience, unless the caller's environment says otherwise.
    for name, value in local_environ(Ports.from_env()).items():
        os.environ.setdefault(name, value)
    from chalicelib.config import get_settings

    settings = get_settings()
    if args.command == "token":
        return _token(args, settings)
    key = ensure_key(args.key_path)

    issuer_path = urlsplit(settings.staff_jwt_issuer).path or DEFAULT_PATH
    server = DevIssuer(key, host=args.host, port=args.port, path=issuer_path)
    url = server.start()
    if url != settings.staff_jwt_issuer:
        print(f"warning: serving {url} but STAFF_JWT_ISSUER is {settings.staff_jwt_issuer}", file=sys.stderr)
    print(f"dev issuer: {url} (JWKS at {server.jwks_url})", file=sys.stderr, flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


def _token(args: argparse.Namespace, settings: Any) -> int:
    """Print a token the running stack accepts, or one line saying why there is none."""
    from chalicelib.domain.forms import sections
    from chalicelib.domain.staff import ROLES
    from devstack import preflight

    usage = "make token SECTION=<section> ROLE=<role> (e.g. SECTION=kocho ROLE=announcer)"
    preflight.require_choice("section", args.section, sections(), usage)
    if not args.roles:
        preflight.fail(f"usage: {usage} (roles: {', '.join(sorted(ROLES))})", 2)
    for role in args.roles:
        preflight.require_choice("role", role, ROLES, usage)
    key = ensure_key(args.key_path)
    # The stack verifies against its issuer's JWKS: a token is only useful if that is our key.
    jwks_url = settings.staff_jwks_url
    try:
        import urllib.request

        with urllib.request.urlopen(jwks_url, timeout=3) as response:  # noqa: S310 (local http)
            served = {entry.get("kid") for entry in json.loads(response.read()).get("keys", [])}
    except OSError:
        preflight.fail(
            f"no local stack: the staff token issuer at {jwks_url} does not answer; {preflight.START_IT}"
        )
    except ValueError:
        preflight.fail(f"{jwks_url} did not answer with a JWKS; is another program on that port?")
    if key_id(key) not in served:
        preflight.fail(
            f"the running stack's issuer signs with another key than {args.key_path}: "
            "run `make token` from the checkout that runs `make run`"
        )
    staff_id = args.staff_id or f"dev-{args.section}-{args.roles[0]}"
    print(
        mint_token(
            staff_id=staff_id,
            section=args.section,
            roles=args.roles,
            ttl_seconds=args.ttl,
            issuer=settings.staff_jwt_issuer,
            audience=settings.staff_jwt_audience,
            key=key,
            email=args.email,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(_main())
