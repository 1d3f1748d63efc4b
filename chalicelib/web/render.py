"""Rendering the resident pages: Jinja2 (autoescaped), the page language, texts, headers, CSRF.

Imported only inside page handlers: Jinja2 stays off the webhook's cold start.
"""

from __future__ import annotations

import email.parser
import hmac
import itertools
import os
import re
import secrets
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import jinja2
from chalice import Response
from markupsafe import Markup, escape

from chalicelib.domain import languages, messages
from chalicelib.domain.languages import NAMES as LANGUAGE_NAMES
from chalicelib.domain.messages import Text
from chalicelib.domain.residents import LANGUAGES

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"
CSRF_COOKIE = "mdg_csrf"
# The HTML lang attribute of each page language (ja-easy is Japanese to a screen reader).
# ｜漢字《かんじ》: furigana in the ja-easy texts (Aozora Bunko ruby notation).
_RUBY = messages.FURIGANA


# --- language ------------------------------------------------------------------------------------


def choose_language(chosen: str | None, accept_language: str | None, default: str | None = None) -> str:
    """The page language: one the resident chose (switcher or form), else their LINE language
    (`default`), else the best of Accept-Language, else Japanese: the negotiation of every
    resident route (languages.negotiate), with the LINE language between the two."""
    return languages.negotiate(accept_language, languages.served(chosen) or languages.known(default))


# --- texts ---------------------------------------------------------------------------------------


def ruby(text: str) -> Markup:
    """Escaped text with ｜漢字《かんじ》 turned into <ruby> (furigana)."""
    escaped = str(escape(text))
    return Markup(_RUBY.sub(r"<ruby>\1<rp>(</rp><rt>\2</rt><rp>)</rp></ruby>", escaped))  # noqa: S704


def plain(text: str) -> str:
    """The text without furigana (for <title>, attributes)."""
    return messages.plain(text)


def reading(text: str) -> str:
    """The text with its furigana in brackets, "葛飾区（かつしかく）", where no markup may go: the
    choices of a <select> (an <option> holds text only)."""
    return _RUBY.sub(r"\1（\2）", text)


class Texts:
    """`t("web.key", n=1)` in templates: the text in the page language, furigana as ruby."""

    def __init__(self, language: str) -> None:
        self.language = language

    def __call__(self, key: str, **values: Any) -> Markup:
        return ruby(messages.text(key, self.language, **values))

    def plain(self, key: str, **values: Any) -> str:
        return plain(messages.text(key, self.language, **values))

    def yen(self, amount: int) -> str:
        return plain(messages.text("web.yen", self.language, amount=f"{amount:,}"))


# --- templates and responses ---------------------------------------------------------------------


@cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=True,  # every template is HTML
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
        # Loaded once, as the code that fills them is: a template edited under a running stack
        # must not meet the code it was not written for (restart `make run` after an edit).
        auto_reload=False,
    )
    env.globals["LANGUAGE_NAMES"] = LANGUAGE_NAMES
    env.globals["LANGUAGES"] = LANGUAGES
    env.globals["PHOTO_TYPES"] = PHOTO_TYPES
    env.globals["POST_MB"] = MAX_POST_BYTES // 2**20
    # Texts that are not catalogue keys (a form's labels, hints, choices, field errors) carry
    # their furigana too: `{{ label|ruby }}`, and `|reading` inside an <option>.
    env.filters["ruby"] = ruby
    env.filters["reading"] = reading
    env.filters["pick"] = lambda texts, language: languages.pick(texts, language)
    return env


def storage_origin() -> str:
    """Where photo uploads go (the presigned POST's host): moto locally, S3 in AWS."""
    endpoint = os.environ.get("AWS_ENDPOINT_URL")
    if endpoint:
        parts = urlsplit(endpoint)
        return f"{parts.scheme}://{parts.netloc}"
    return "https://*.amazonaws.com"


def security_headers() -> dict[str, str]:
    csp = "; ".join(
        [
            "default-src 'none'",
            "style-src 'self'",
            "img-src 'self' data: blob:",
            "script-src 'self' https://static.line-scdn.net",
            f"connect-src 'self' {storage_origin()} https://api.line.me https://liffsdk.line-scdn.net",
            "form-action 'self'",
            "base-uri 'none'",
            "frame-ancestors 'none'",
        ]
    )
    return {
        "Content-Security-Policy": csp,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Permissions-Policy": "geolocation=(self), camera=(self)",
    }


def page(
    request: Any,
    template: str,
    language: str,
    *,
    status: int = 200,
    cacheable: bool = False,
    **context: Any,
) -> Response:
    """An HTML page. Pages with forms or personal data are `no-store` and carry a CSRF token."""
    token = csrf_token(request)
    texts = Texts(language)
    # The language switch's link keeps the rest of the address (a chosen slot, a week, auto=1).
    kept = {k: v for k, v in (request.query_params or {}).items() if k != "lang"}
    context.setdefault("switch_query", "&" + urlencode(kept) if kept else "")
    html = (
        environment()
        .get_template(template)
        .render(
            t=texts,
            lang=language,
            html_lang=languages.language_tag(language),
            csrf=token,
            liff_id=liff_id(),
            **context,
        )
    )
    headers: dict[str, str | list[str]] = {
        "Content-Type": "text/html; charset=utf-8",
        "Content-Language": languages.language_tag(language),
        **security_headers(),
    }
    if cacheable:
        headers["Cache-Control"] = "public, max-age=300"
        headers["Vary"] = "Accept-Language"
    else:
        headers["Cache-Control"] = "no-store"
        headers["Set-Cookie"] = _cookie(request, token)
    return Response(body=html, status_code=status, headers=headers)


def liff_id() -> str:
    """The LIFF app id (last part of the configured LIFF URL); empty on the local stage, where
    no LIFF SDK can load and tests hand the page a sandbox-minted ID token instead."""
    from chalicelib.config import get_settings

    settings = get_settings()
    if settings.stage == "local":
        return ""
    return settings.liff_url.rstrip("/").rsplit("/", 1)[-1]


# --- form posts and CSRF (double submit: an HttpOnly SameSite=Strict cookie and a form field) ----


# No page of ours posts more fields than this (the longest form's answers, a few tokens).
MAX_FORM_FIELDS = 500
# A page's post, photos included (multipart, JavaScript off). API Gateway takes 10 MB, but it
# hands a multipart body to Lambda base64-encoded (app.py's binary types), 4/3 as long, and
# Lambda takes 6 MB: 4 MB is 5.6 MB encoded, with room for the event's headers.
MAX_POST_BYTES = 4 * 2**20
PHOTO_TYPES = "image/jpeg,image/png,image/heic"


class RefusedPost(Exception):
    """A form post no page of ours sends, answered with a page (`status`, `message_key`) and
    never acted on. `leading` holds what could be read of it, for the language to answer in."""

    status = 400
    message_key = "web.unreadable_form"
    detail: Text | None = None  # what to do, when the title cannot say

    def __init__(self, leading: dict[str, list[str]]) -> None:
        super().__init__(self.message_key)
        self.leading = leading


class TooManyFields(RefusedPost):
    """More than MAX_FORM_FIELDS fields."""

    status = 413
    message_key = "web.too_many_fields"


class TooLarge(RefusedPost):
    """More than MAX_POST_BYTES: photos too large to go together with a page."""

    status = 413
    message_key = "web.post_too_large"
    detail = Text("web.post_too_large_detail", mb=MAX_POST_BYTES // 2**20)


class NotUtf8(RefusedPost):
    """Bytes that are not UTF-8, raw or percent-encoded: our pages send UTF-8 only, and a
    resident's answer is never stored with its bytes replaced by U+FFFD."""


class NotAForm(RefusedPost):
    """A post in another encoding than our pages use (text/plain, JSON...)."""

    status = 415


def form_fields(request: Any) -> dict[str, list[str]]:
    return form_post(request)[0]


def form_post(request: Any) -> tuple[dict[str, list[str]], dict[str, list[bytes]]]:
    """A page's post: its fields, and the files sent with it by name (multipart: a photo
    chosen with JavaScript off). A file input left empty sends nothing."""
    raw = request.raw_body or b""
    data = raw if isinstance(raw, bytes) else raw.encode("utf-8")
    kind, _, parameters = ((request.headers or {}).get("content-type") or "").partition(";")
    kind = kind.strip().lower()
    if kind == "multipart/form-data":
        if len(data) > MAX_POST_BYTES:
            raise TooLarge(_leading_parts(data, parameters))
        return _multipart(data, parameters)
    if kind != "application/x-www-form-urlencoded":
        raise NotAForm({})  # nothing of it is read: the page's language comes from the address
    body = data.decode("utf-8", errors="replace")  # read leniently only for the page's language
    if len(data) > MAX_POST_BYTES:
        raise TooLarge(_leading(body))
    try:
        data.decode("utf-8")
        return parse_qs(body, keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS, errors="strict"), {}
    except UnicodeDecodeError:  # (`lang` is ASCII)
        raise NotUtf8(_leading(body)) from None
    except ValueError:
        raise TooManyFields(_leading(body)) from None


# A part's headers as a browser sends them: its name, a file name (255 bytes at most on every
# file system) and its type. A black-box run: a 1 MB header took the parser 23 s, before any check.
MAX_PART_HEADER_BYTES = 2048


def _parts(data: bytes, parameters: str) -> Iterator[tuple[str, str | None, bytes]]:
    """(name, file name or None, content) of each part of a multipart/form-data body (RFC 7578);
    ValueError for a body that is not one."""
    if len(parameters) > MAX_PART_HEADER_BYTES:
        raise ValueError("content type too long")
    header = email.parser.HeaderParser().parsestr(f"Content-Type: multipart/form-data;{parameters}")
    boundary = header.get_param("boundary")
    if not isinstance(boundary, str) or not boundary:
        raise ValueError("no boundary")
    delimiter = b"--" + boundary.encode("latin-1")
    chunks = (b"\r\n" + data).split(b"\r\n" + delimiter)
    if len(chunks) < 3 or not chunks[-1].startswith(b"--"):
        raise ValueError("not a multipart body")
    for chunk in chunks[1:-1]:
        head, separator, content = chunk.partition(b"\r\n\r\n")
        if not separator:
            raise ValueError("a part without its headers")
        if len(head) > MAX_PART_HEADER_BYTES:  # the email parser takes time with the square of it
            raise ValueError("a part's headers too long")
        disposition = email.parser.HeaderParser().parsestr(head.lstrip(b"\r\n").decode("utf-8") + "\n")
        name = disposition.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            raise ValueError("a part without a name")
        filename = disposition.get_param("filename", header="content-disposition")
        yield name, filename if isinstance(filename, str) else None, content


def _multipart(data: bytes, parameters: str) -> tuple[dict[str, list[str]], dict[str, list[bytes]]]:
    fields: dict[str, list[str]] = {}
    files: dict[str, list[bytes]] = {}
    try:
        for count, (name, filename, content) in enumerate(_parts(data, parameters), start=1):
            if count > MAX_FORM_FIELDS:
                raise TooManyFields(_leading_parts(data, parameters))
            if filename is None:
                fields.setdefault(name, []).append(content.decode("utf-8"))
            elif filename or content:
                files.setdefault(name, []).append(content)
    except UnicodeDecodeError:
        raise NotUtf8(_leading_parts(data, parameters)) from None
    except ValueError:
        raise RefusedPost(_leading_parts(data, parameters)) from None
    return fields, files


def _leading_parts(data: bytes, parameters: str) -> dict[str, list[str]]:
    """What a refused multipart post's first fields say (its language), as _leading does."""
    leading: dict[str, list[str]] = {}
    try:
        for name, filename, content in itertools.islice(_parts(data, parameters), MAX_FORM_FIELDS):
            if filename is None:
                leading.setdefault(name, []).append(content.decode("utf-8", errors="replace"))
    except ValueError:
        pass  # what came before the part it could not read
    return leading


def _leading(body: str) -> dict[str, list[str]]:
    """The first MAX_FORM_FIELDS fields of a refused post, bytes not UTF-8 replaced: what the
    page it came from says of its language, to refuse it in."""
    leading = "&".join(body.split("&", MAX_FORM_FIELDS)[:MAX_FORM_FIELDS])
    return parse_qs(leading, keep_blank_values=True)


def first(fields: dict[str, list[str]], name: str) -> str:
    values = fields.get(name) or [""]
    return values[0].strip()


def _cookies(request: Any) -> dict[str, str]:
    found = {}
    for part in ((request.headers or {}).get("cookie") or "").split(";"):
        name, _, value = part.strip().partition("=")
        if name:
            found[name] = value
    return found


def csrf_token(request: Any) -> str:
    current = _cookies(request).get(CSRF_COOKIE, "")
    return current if re.fullmatch(r"[A-Za-z0-9_-]{32}", current) else secrets.token_urlsafe(24)


def _cookie(request: Any, token: str) -> str:
    secure = "; Secure" if (request.headers or {}).get("x-forwarded-proto") == "https" else ""
    return f"{CSRF_COOKIE}={token}; Path=/web; HttpOnly; SameSite=Strict; Max-Age=7200{secure}"


def from_own_page(request: Any) -> bool:
    """The browser itself says this post came from one of our pages (Fetch Metadata, which a
    page elsewhere cannot forge), whatever became of the cookie."""
    headers = request.headers or {}
    origin = headers.get("origin")
    same_host = not origin or urlsplit(origin).netloc == headers.get("host")
    return headers.get("sec-fetch-site") == "same-origin" and same_host


def csrf_ok(request: Any, fields: dict[str, list[str]]) -> bool:
    """The form's token equals the cookie's, and the browser says the post is not cross-site."""
    headers = request.headers or {}
    if headers.get("sec-fetch-site") not in (None, "same-origin", "none"):
        return False
    origin = headers.get("origin")
    if origin and origin != "null" and urlsplit(origin).netloc != headers.get("host"):
        return False
    cookie = _cookies(request).get(CSRF_COOKIE, "")
    sent = first(fields, "csrf")
    return bool(cookie) and hmac.compare_digest(cookie.encode(), sent.encode())
