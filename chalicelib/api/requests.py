"""Reading request bodies the same way on every route: JSON, size limit, schema check."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalice import CORSConfig

from chalicelib.api.errors import ApiError
from chalicelib.config import get_settings
from chalicelib.domain import json_text
from chalicelib.domain.form_problems import body_problems
from chalicelib.domain.messages import Text

if TYPE_CHECKING:
    from chalice.app import Request

MAX_JSON_BYTES = 256 * 1024

# Resident routes are called by the ward's LIFF pages and web forms from their own origin.
# One origin, no cookies: the LINE ID token and access codes travel in headers.
RESIDENT_CORS = CORSConfig(
    allow_origin=get_settings().web_origin,
    allow_headers=["Authorization", "Content-Type", "Idempotency-Key", "X-Access-Secret", "Accept-Language"],
    max_age=600,
)


def access_secret(request: Request) -> str | None:
    """The resident's access code (of a submission, a payment, a booking). It travels in a
    header, never in the URL (URLs end up in logs)."""
    return request.headers.get("x-access-secret") if request.headers else None


def source_ip(request: Request) -> str | None:
    """The caller's address as API Gateway saw it (chalice local: 127.0.0.1)."""
    identity = (request.context or {}).get("identity") or {}
    return identity.get("sourceIp") or None


def client_pseudonym(request: Request) -> str:
    """The caller for its own limits (wrong codes, sends, uploads): pseudonyms of its address and
    of the networks it belongs to, narrowest first, space-separated, so the attempts table holds
    no IP address. An IPv4 caller is its address (6to4, Teredo and IPv4-mapped IPv6 addresses
    are the IPv4 they carry); an IPv6 caller is its /64, /56 and /48: one home line is delegated
    a /56 or a /48, and every /64 of it had been a client of its own (two reviews).
    Every limit (access codes, anonymous sends and uploads) takes a place in each network."""
    import ipaddress

    from chalicelib.observability import hashed

    address = str(source_ip(request) or "unknown")
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return hashed(address) or "unknown"
    if isinstance(parsed, ipaddress.IPv6Address):
        carried = parsed.ipv4_mapped or parsed.sixtofour or (parsed.teredo[1] if parsed.teredo else None)
        if carried is None:
            networks = [ipaddress.ip_network(f"{parsed}/{bits}", strict=False) for bits in (64, 56, 48)]
            return " ".join(hashed(str(network)) or "unknown" for network in networks)
        parsed = carried
    return hashed(str(parsed)) or "unknown"


def anonymous_caller(request: Request) -> str:
    """Who an anonymous caller of the JSON API is for its Idempotency-Key: its address or /64
    (its narrowest pseudonym). Another client sending the same key and body must not get its
    answer, a receipt and its access secret (a black-box run)."""
    return "web:" + client_pseudonym(request).split()[0]


def raw_body(request: Request) -> bytes:
    """The body as sent. Chalice types `raw_body` as str | bytes, but it always encodes a str body."""
    body = request.raw_body or b""
    return body if isinstance(body, bytes) else body.encode("utf-8")


def query_lists(request: Request) -> dict[str, list[str]]:
    """Every query parameter with all its values (`?status=new&status=done`); a name is as an
    error would repeat it (no route's parameter holds a control or a bidi override)."""
    params = request.query_params
    return {json_text.echoed(name): params.getlist(name) for name in params} if params else {}


def json_body(request: Any, schema: str | None = None) -> Any:
    """The body as JSON (400 if it is not), checked against `schema` when given (422 with every problem).

    A body that is too big or not JSON is a client program's fault: said to its developer, in
    English. A body that breaks the schema may be what a resident typed: said in their language,
    field by field; so is text nobody types (control characters, bidi overrides:
    `json_text.untypeable`)."""
    raw = raw_body(request)
    if len(raw) > MAX_JSON_BYTES:
        raise ApiError(413, "payload_too_large", f"The body exceeds {MAX_JSON_BYTES} bytes.")
    try:
        document = json_text.parse(raw)
    except (ValueError, RecursionError) as error:
        why = [{"message": json_text.why_not(error)}]
        raise ApiError(400, "malformed_json", "The body is not valid UTF-8 JSON.", why) from None
    odd = json_text.untypeable(document)
    if odd:
        details = [{"pointer": pointer, "message": Text("error.untypeable_text")} for pointer in odd]
        raise ApiError(422, "invalid_request", Text("error.check_entries"), details)
    return schema_checked(schema, document) if schema else document


def schema_checked(schema: str, document: Any) -> Any:
    """`document` if it keeps schema `schema`, else 422 with every problem, each at its pointer
    and, like the summary, in the caller's language (the field named as the body names it)."""
    details = body_problems(schema, document)
    if details:
        raise ApiError(422, "invalid_request", Text("error.check_entries"), details)
    return document
