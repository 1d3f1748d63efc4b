"""Routes of the resident web pages (`/web/...`): catalogue, forms, status and answers, settings.

Thin like every Blueprint: each handler imports `chalicelib.web.render` (Jinja2) and the
services it calls only when it runs, so none of it is on the LINE webhook's cold start.
The pages call the same services as the JSON API (same validation, same 422 details, same
lockouts), with JavaScript off; the LIFF ID token, when inside LINE, is posted in a form field.
"""

from __future__ import annotations

import functools
import json
import secrets
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from chalice import Response

from chalicelib.api.errors import ApiBlueprint, localized_error
from chalicelib.domain.digits import typed, whole_number

if TYPE_CHECKING:
    from chalicelib.domain.messages import Text

bp = ApiBlueprint(__name__)

# What a browser's form may post. Our pages post the first, or the second where a photo can be
# chosen; text/plain is taken so that a page tampered with (enctype) is refused with a page in
# the resident's language, not the framework's English JSON 415 (render.NotAForm).
FORM_POST = ["application/x-www-form-urlencoded", "multipart/form-data", "text/plain"]
STATIC_TYPES = {"web.css": "text/css; charset=utf-8", "web.js": "text/javascript; charset=utf-8"}


def _request() -> Any:
    return bp.current_request


def _language(request: Any, fields: dict[str, list[str]] | None = None, default: str | None = None) -> str:
    from chalicelib.domain import languages
    from chalicelib.web import render

    chosen = [(request.query_params or {}).get("lang")]
    if fields is not None:  # the language switch of a page made from a post, else the page's own
        chosen = [render.first(fields, "switch"), *chosen, render.first(fields, "lang")]
    served = next((found for found in map(languages.served, chosen) if found), None)  # "xx" is no choice
    return render.choose_language(served, (request.headers or {}).get("accept-language"), default)


def _message(request: Any, language: str, key: str, status: int, detail: Text | None = None) -> Response:
    """A page that only says one thing (expired, sign in again, busy, not found), and what to
    do about it when its title cannot say (`detail`)."""
    from chalicelib.web import render

    return render.page(request, "message.html", language, status=status, title_key=key, detail=detail)


def _expired(request: Any, language: str) -> Response:
    return _message(request, language, "web.expired", 403)


def is_page(resource_path: str | None) -> bool:
    """A route that answers residents with HTML pages (its static files too, harmlessly)."""
    return bool(resource_path) and (resource_path == "/queue" or str(resource_path).startswith("/web"))


def failed_page(request: Any) -> Response | None:
    """A page that failed on our side (the log says why): a page in the resident's language, as
    every other answer of these routes; None if not even that page can be made."""
    from chalicelib.web import render

    try:
        posted = render.form_fields(request) if request.method == "POST" else {}
    except Exception:  # a body it cannot read: the address and the browser's languages
        posted = {}
    try:
        return _message(request, _language(request, posted), "error.internal", 500)
    except Exception as error:
        from chalicelib.observability import logger

        logger.error("the error page failed too", extra={"error": type(error).__name__})
        return None


def _checked_post(
    view: Callable[..., Response] | None = None,
    *,
    reshow: Callable[..., Response] | None = None,
    lookup: bool = False,
    with_files: bool = False,
) -> Any:
    """A page's form POST: its fields read once and the language to answer in, passed to the
    view before its path parameters; a post whose CSRF token fails gets the "expired" page
    (403) before the view sees anything. A post the browser itself says came from our own page
    (its cookie expired while the page stayed open) is treated better: with `reshow`, the page
    is shown again with what was typed and a fresh token, nothing done and nothing typed lost;
    with `lookup` (the view only reads: a status by number and code), it is simply answered.
    With `with_files`, the view also gets the files sent with the page (`files=`, by name)."""
    if view is None:
        return functools.partial(_checked_post, reshow=reshow, lookup=lookup, with_files=with_files)

    @functools.wraps(view)
    def checked(**path: str) -> Response:
        from chalicelib.web import render

        request = _request()
        try:
            posted, files = render.form_post(request)
        except render.RefusedPost as refused:
            language = _language(request, refused.leading)
            return _message(request, language, refused.message_key, refused.status, refused.detail)
        language = _language(request, posted)
        if not render.csrf_ok(request, posted):
            again = view if lookup else reshow
            if again is not None and render.from_own_page(request):
                return again(request, posted, language, **path)  # photos chosen are not kept: nothing done
            return _expired(request, language)
        if with_files:
            return view(request, posted, language, files=files, **path)
        return view(request, posted, language, **path)

    return checked


# --- static ---------------------------------------------------------------------------------------


@bp.route("/web/static/{name}", methods=["GET"])
def static(name: str) -> Response:
    from chalicelib.web import render

    if name not in STATIC_TYPES:
        return Response("", status_code=404)
    body = (render.STATIC / name).read_text(encoding="utf-8")
    return Response(
        body,
        headers={
            "Content-Type": STATIC_TYPES[name],
            "Cache-Control": "public, max-age=3600",
            "X-Content-Type-Options": "nosniff",
        },
    )


# --- catalogue and forms --------------------------------------------------------------------------


@bp.route("/web", methods=["GET"])
def catalogue() -> Response:
    from chalicelib.domain import forms
    from chalicelib.web import render

    request = _request()
    language = _language(request)
    entries = forms.catalogue()
    return render.page(
        request,
        "catalogue.html",
        language,
        procedures=[f for f in entries if not f.is_report],
        reports=[f for f in entries if f.is_report],
    )


@bp.route("/web/forms/{formId}", methods=["GET"])
def form_page(formId: str) -> Response:
    from chalicelib.domain import forms

    request = _request()
    language = _language(request)
    form = forms.get_form(formId)
    if form is None:
        return _not_found(request, language)
    return _form(request, form, language, {}, [])


def _posted_document(form: Any, posted: dict[str, list[str]], language: str) -> dict[str, Any]:
    """The answers a form page posted: the check-answers page's JSON, or the fields typed."""
    from chalicelib.domain import json_text
    from chalicelib.web import fields as form_fields
    from chalicelib.web import render

    if render.first(posted, "step") != "send":
        return form_fields.document(form, posted, language)
    try:
        document = json_text.parse(render.first(posted, "document") or "{}")
    except (ValueError, RecursionError):
        return {}
    return document if isinstance(document, dict) else {}


def _form_again(request: Any, posted: dict[str, list[str]], language: str, formId: str) -> Response:
    """The page that was posted, again, with what was typed and a note to send it again."""
    from chalicelib.domain import forms
    from chalicelib.web import fields as form_fields
    from chalicelib.web import render

    form = forms.get_form(formId)
    if form is None:
        return _not_found(request, language)
    if render.first(posted, "sent"):  # the receipt page's language switch: nothing to keep
        return _expired(request, language)
    document = _posted_document(form, posted, language)
    if render.first(posted, "step") == "send":  # the same key: a send that did go answers with its receipt
        once = render.first(posted, "once") or None
        return _review(request, form, language, document, notice="web.send_again", once=once)
    screen = _int(render.first(posted, "screen"))
    screens = len(form_fields.screens(form, form_fields.fields(form, language)))
    flat = form_fields.flat_values(document)
    return _form(request, form, language, flat, [], min(max(screen, 0), screens - 1), notice="web.send_again")


def _attach(
    request: Any,
    posted: dict[str, list[str]],
    files: dict[str, list[bytes]],
    name: str,
    language: str,
    most: int,
) -> str | None:
    """The photos chosen for field `name` with JavaScript off, sent with the page itself: each
    counted in the client's hour and kept as a presigned upload would be, its upload id added to
    the field's ids as the page's script adds it; no more than the field's `most` in all (a review:
    400 file parts were 400 writes). The first problem, in `language`, or None.

    With the page's once-key, a photo's id derives from it and the photo: a second tap posts the
    same answer, which `_sent_once` then recognises (a review: it was told "page expired")."""
    from chalicelib.services import anonymous_limits, uploads
    from chalicelib.web import render

    once = render.first(posted, "once")
    room = max(most - len(_photo_ids(posted, name)), 0)
    for data in files.get(name, [])[:room]:
        try:
            anonymous_limits.take_upload(_client(request))
            posted.setdefault(name, []).append(uploads.accept(data, seed=f"{once}:{name}" if once else None))
        except Exception as error:  # not an image, damaged, the hour's uploads used up
            api_error = localized_error(error, language)
            if api_error is None:
                raise
            return str(api_error.message)
    return None


@bp.route("/web/forms/{formId}", methods=["POST"], content_types=FORM_POST)
@_checked_post(reshow=_form_again, with_files=True)
def form_post(
    request: Any, posted: dict[str, list[str]], language: str, formId: str, files: dict[str, list[bytes]]
) -> Response:
    from chalicelib.domain import forms
    from chalicelib.domain.form_problems import explain, problems_with_untypeable
    from chalicelib.web import fields as form_fields
    from chalicelib.web import render

    form = forms.get_form(formId)
    if form is None:
        return _not_found(request, language)
    step = render.first(posted, "step")
    refused = []  # a photo chosen on this screen and not kept: said at its field, on this screen
    if step != "send":  # the check-answers page has no photo to choose
        for photos in (f for f in form_fields.fields(form, language) if f.kind == "photos"):
            most = form.schema["properties"][photos.name].get("maxItems", 1)
            problem = _attach(request, posted, files, photos.name, language, most)
            if problem:
                refused.append({"pointer": photos.pointer, "message": problem})
    document = _posted_document(form, posted, language)
    explained = explain(problems_with_untypeable(form.schema_name, document), form, language, furigana=True)
    flat = form_fields.flat_values(document)
    # The language switch: the same page again in another language, what was typed kept, nothing
    # checked or sent (on the receipt page, `sent`: the send again, whose key answers with it).
    switched = bool(render.first(posted, "switch")) and not render.first(posted, "sent")
    if step == "send":
        if render.first(posted, "change"):
            return _form(request, form, language, flat, [])
        if explained:  # a check-answers page tampered with, or a form changed since
            return _form(request, form, language, flat, explained)
        if switched:  # the same page in another language: the same send, so the same key
            return _review(request, form, language, document, once=render.first(posted, "once") or None)
    else:
        # A long form comes one screen at a time: this screen's answers are checked before the next.
        screens = form_fields.screens(form, form_fields.fields(form, language))
        screen = min(max(_int(render.first(posted, "screen")), 0), len(screens) - 1)
        if refused:
            return _form(request, form, language, flat, refused, screen)
        if switched:
            return _form(request, form, language, flat, [], screen)
        if render.first(posted, "back"):
            return _form(request, form, language, flat, [], max(screen - 1, 0))
        on = form_fields.screen_of(screens)
        due = [e for e in explained if on(e["pointer"]) <= screen]
        if due:
            first = min(on(e["pointer"]) for e in due)
            return _form(request, form, language, flat, [e for e in due if on(e["pointer"]) == first], first)
        if screen < len(screens) - 1:
            return _form(request, form, language, flat, [], screen + 1)
        return _review(request, form, language, document)
    try:
        created = _create(request, form, document, posted, language)
    except Exception as error:  # a service's 4xx/5xx: shown as the API would answer it
        api_error = localized_error(error, language)
        if api_error is None:
            raise
        details = [d for d in api_error.details if isinstance(d, dict) and "pointer" in d]
        if api_error.status == 422 and details:
            return _form(request, form, language, form_fields.flat_values(document), details)
        if api_error.status == 401:
            return _message(request, language, "web.signin_again", 401)
        return _unsent(request, language, api_error)
    return render.page(
        request,
        "done.html",
        language,
        form=form,
        created=created,
        **_fee_terms(form, document),
        switch_form="again",
        document=json.dumps(document, ensure_ascii=False),
        once=render.first(posted, "once"),
    )


def _fee_terms(form: Any, document: dict[str, Any]) -> dict[str, Any]:
    """The submission's fee, how it is paid (domain.payments.how_paid), and in how many days when
    it is paid first: the check and done pages say it as the emails do."""
    from chalicelib.domain import payments
    from chalicelib.domain.forms import fee_for
    from chalicelib.services import payment_withdrawals

    fee = fee_for(form, document)
    return {
        "fee": fee,
        "fee_way": payments.how_paid(form.meta, document, fee),
        "days_to_pay": payment_withdrawals.days_to_pay(form),
    }


# How long a second tap waits for the first one's answer (a submission takes well under a second).
SECOND_TAP_WAIT_SECONDS = 5.0


def _sent_once(scope: str, posted: dict[str, list[str]], request_body: bytes, send: Callable[[], Any]) -> Any:
    """`send()` once per page shown (its `once` field): a reload or a double tap gets what the
    first made. A browser shows only the answer to its last tap, so a tap that arrives while the
    first is still running waits for it rather than saying "busy" (which hid the access code).
    The key is minted by our page, a secret of that page as its access code will be, so it alone
    scopes the send: the page sent with and without the LIFF ID token (LIFF still starting, or
    failed, at a second tap) is one send, not two applications."""
    import time

    from chalicelib.domain import errors as rule
    from chalicelib.services import idempotency
    from chalicelib.web import render

    key = render.first(posted, "once") or None
    waited = 0.0
    while True:
        try:
            return idempotency.once(scope, key, request_body, lambda: (201, send()))[1]
        except rule.InProgress:
            if waited >= SECOND_TAP_WAIT_SECONDS:
                raise
            time.sleep(0.25)
            waited += 0.25


def _never_anew(posted: dict[str, list[str]], send: Callable[[], Any]) -> Callable[[], Any]:
    """`send`, except for the language switch of a page that shows what a send made (`sent`: a
    receipt, a booking): that may only be answered by its key, so a key forgotten (a day later),
    changed or removed says the page expired and never files or books a second time."""
    from chalicelib.domain import errors as rule
    from chalicelib.domain.messages import Text
    from chalicelib.web import render

    def refused() -> Any:
        raise rule.Invalid(Text("error.idempotency_key_reused"), code="idempotency_key_reused")

    return refused if render.first(posted, "sent") else send


def _unsent(request: Any, language: str, api_error: Any) -> Response:
    """A send that did not happen: a page sent again with other answers or tampered with (its
    key refused) has expired; a first tap still running after the wait is in progress; anything
    else (the store, a provider) is busy."""
    if api_error.status in (400, 422):
        return _expired(request, language)
    if api_error.code == "request_in_progress":
        return _message(request, language, "web.in_progress", 409)
    if api_error.status == 429:  # anonymous_limits: this address's sends for the day are used up
        return _message(request, language, "error.too_many_sends", 429)
    return _message(request, language, "web.busy", 503)


def _int(text: str) -> int:
    return whole_number(text) or 0


def _create(
    request: Any, form: Any, document: dict[str, Any], posted: dict[str, list[str]], language: str
) -> Any:
    from chalicelib.services import submissions as service
    from chalicelib.web import render

    token = render.first(posted, "id_token")
    user_id = None
    if token:
        user_id = _resident(token)
        if user_id is None:
            from chalicelib.api.errors import ApiError
            from chalicelib.domain.messages import Text

            raise ApiError(401, "unauthorized", Text("error.line_login"))
        from chalicelib.store import preferences

        stored = preferences.get(user_id)  # as the API does: news in the language chosen on LINE
        line_language = stored.preferences.language if stored else language
        submitter = service.Submitter(channel="line", language=line_language, line_user_id=user_id)
    else:
        # Notifications and answers from staff follow the page's language (domain/languages.py's chain).
        submitter = service.Submitter(channel="web", language=language, client=_client(request))
    return _sent_once(
        f"web-form:{form.id}",
        posted,
        json.dumps(document, sort_keys=True, ensure_ascii=False).encode(),
        _never_anew(posted, lambda: service.create(form, document, submitter)),
    )


def _form(
    request: Any,
    form: Any,
    language: str,
    values: dict[str, list[str]],
    errors: list[dict[str, str]],
    screen: int = 0,
    notice: str | None = None,
) -> Response:
    from chalicelib.web import fields as form_fields
    from chalicelib.web import render

    screens = form_fields.screens(form, form_fields.fields(form, language))
    questions = screens[screen]
    shown = {q.name for q in questions}
    ids = {}

    def first_input(made: Any) -> str:
        return first_input(made.parts[0]) if made.parts else made.id

    def index(items: list[Any]) -> None:
        for made in items:
            ids[made.pointer] = first_input(made)  # a group's link lands on its first input
            index(made.parts)

    index(questions)
    fields = []
    for error in errors:
        pointer = error["pointer"]
        while pointer and pointer not in ids:
            pointer = pointer.rsplit("/", 1)[0]
        fields.append(pointer)  # "": the form as a whole (a field it does not have)
        error["anchor"] = ids.get(pointer, questions[0].id)
        # A group's message is shown at the group; a field's at the field.
        error["at"] = pointer or questions[0].pointer
    # The summary as the page reads, one line per field (its first problem), as at the field.
    order = {pointer: n for n, pointer in enumerate(ids)}
    firsts = dict(reversed(list(zip(fields, errors, strict=True))))
    errors = [firsts[field] for field in sorted(firsts, key=lambda field: order.get(field, -1))]
    return render.page(
        request,
        "form.html",
        language,
        status=422 if errors else 200,
        form=form,
        questions=questions,
        screen=screen,
        screens=len(screens),
        screen_key=form_fields.screen_key(form, screens, screen),
        # The answers of the other screens travel with the form (JavaScript off, nothing stored).
        carried={k: v for k, v in values.items() if k.split(".", 1)[0] not in shown},
        values=values,
        errors=errors,
        error_at={e["at"]: e["message"] for e in errors},
        switch_form="answers",
        notice=notice,
    )


def _review(
    request: Any,
    form: Any,
    language: str,
    document: dict[str, Any],
    notice: str | None = None,
    once: str | None = None,
) -> Response:
    from chalicelib.web import fields as form_fields
    from chalicelib.web import render

    texts = render.Texts(language)
    shown = form_fields.answers(form, document, language, (texts.plain("web.yes"), texts.plain("web.no")))
    return render.page(
        request,
        "review.html",
        language,
        form=form,
        shown=shown,
        **_fee_terms(form, document),
        document=json.dumps(document, ensure_ascii=False),
        # Sending this page twice (a double tap, a reload) makes one submission: the key of its send.
        once=once or secrets.token_urlsafe(16),
        switch_form="answers",
        notice=notice,
    )


def _not_found(request: Any, language: str) -> Response:

    return _message(request, language, "web.not_found_title", 404)


# --- status, thread, answer -----------------------------------------------------------------------


@bp.route("/web/status", methods=["GET"])
def status_page() -> Response:
    from chalicelib.web import render

    request = _request()
    return render.page(request, "status.html", _language(request), errors=[], receipt="")


@bp.route("/web/status", methods=["POST"], content_types=FORM_POST)
@_checked_post(lookup=True)
def status_post(request: Any, posted: dict[str, list[str]], language: str) -> Response:
    from chalicelib.web import render

    token = render.first(posted, "id_token")
    receipt = render.first(posted, "receipt").upper()
    code = render.first(posted, "code")
    # Inside LINE the page posts the LIFF token with every form: a typed code still opens a phone
    # or counter submission (a review: it was dropped for the resident's own list).
    if token and not code:
        return _status_by_line(request, language, token, receipt)
    return _status_by_code(request, language, receipt, code)


def _status_by_code(request: Any, language: str, receipt: str, code: str) -> Response:
    from chalicelib.services import submissions as service
    from chalicelib.web import render

    errors = []
    if not receipt:
        errors.append({"anchor": "f-receipt", "key": "web.need_both"})
    if not code:
        errors.append({"anchor": "f-code", "key": "web.need_both"})
    if errors:
        return render.page(request, "status.html", language, status=422, errors=errors[:1], receipt=receipt)
    try:
        # The API's own check: one answer for a wrong pair, the per-client limit.
        submission = service.resident_access(receipt, code, client=_client(request))
    except Exception as error:
        return _no_access(request, language, receipt, error)
    return _show_status(request, language, submission, code=code)


def _no_access(request: Any, language: str, receipt: str, error: Exception) -> Response:
    """The status page's sign-in again, for the API's 404 (no such pair) or 429 (locked out)."""
    api_error = localized_error(error, language)
    if api_error is None or api_error.status not in (404, 429):
        raise error
    return sign_in_again(request, language, api_error.status, "status.html", "f-receipt", receipt=receipt)


def sign_in_again(
    request: Any,
    language: str,
    status: int,
    template: str,
    anchor: str,
    wrong: str = "web.wrong_code",
    **context: Any,
) -> Response:
    """A sign-in page (number and code) after a wrong pair (404, said as `wrong`) or a locked-out
    client or number (429: said so, as a right code typed then is not wrong)."""
    from chalicelib.web import render

    key = "web.locked" if status == 429 else wrong
    errors = [{"anchor": anchor, "key": key}]
    return render.page(request, template, language, status=status, errors=errors, **context)


def _client(request: Any) -> str:
    """The caller as the API counts it for wrong codes (a pseudonym of its address)."""
    from chalicelib.api.requests import client_pseudonym

    return client_pseudonym(request)


def _show_status(
    request: Any,
    language: str,
    submission: Any,
    *,
    code: str = "",
    id_token: str = "",
    answered: bool = False,
    errors: list[dict[str, str]] | None = None,
    typed: tuple[str, str, str] | None = None,
    notice: str | None = None,
) -> Response:
    """Status, the thread (the city's messages and the resident's answers), and the answer form
    while the city waits for one; after a refused answer, `typed` is what was posted again (text,
    photo ids, the form's `once` key)."""
    from chalicelib.domain.responses import MAX_PHOTOS
    from chalicelib.services import responses
    from chalicelib.services import submissions as service
    from chalicelib.web import render

    text, photos, once = typed or ("", "", secrets.token_urlsafe(16))
    return render.page(
        request,
        "status_view.html",
        language,
        status=422 if errors else 200,
        view=service._public_view(submission),
        thread=responses.view(submission)["thread"],
        code=code,
        id_token=id_token,
        answered=answered,
        errors=errors or [],
        fee=_has_fee(submission),
        text=text,
        photos=photos,
        photo_limit=MAX_PHOTOS,
        # Sending the answer twice (a double tap, a reload) sends it once: the key of its send.
        once=once,
        # While an answer can be typed, the language switch posts it (shown again, not sent).
        switch_form="answer-form" if submission.status == "needs_info" and not answered else "reshow",
        notice=notice,
    )


def _has_fee(submission: Any) -> str | None:
    """A fee paid online (issue 13): "pay" while it is payable, "paid" once paid (the status page
    links the payment page, which shows the receipt), else None (nothing to pay, or not yet)."""
    from chalicelib.domain import payments as rules
    from chalicelib.services import payments

    found = payments.plan_for(submission)
    if found is None:
        return None
    if any(
        rules.settles_fee(i.status, i.review_reasons) for i in payments.store.for_receipt(submission.receipt)
    ):
        return "paid"
    return "pay" if rules.payable(found[1], submission.status) else None


def _status_by_line(request: Any, language: str, token: str, receipt: str) -> Response:
    from chalicelib.domain.submissions import RECEIPT_PATTERN
    from chalicelib.store import submissions as store
    from chalicelib.store.models import Submission
    from chalicelib.web import render

    user_id = _resident(token)
    if user_id is None:
        return _message(request, language, "web.signin_again", 401)
    if receipt and RECEIPT_PATTERN.fullmatch(receipt):
        found = store.get(receipt)
        if found is not None and found.line_user_id == user_id:
            return _show_status(request, language, found, id_token=token)
    page, _cursor = store.query_index(
        Submission.by_line_user, user_id, since=None, until=None, cursor=None, limit=20
    )
    return render.page(request, "mine.html", language, submissions=page, id_token=token, switch_form="reshow")


def _reopen(path: str) -> Response:
    """A page that only answers a form post, asked for by GET (the language switcher on it, a
    reload from history): the page it came from, in the language asked for, signed in again."""
    from urllib.parse import quote

    language = _language(_request())
    return Response("", status_code=303, headers={"Location": f"{quote(path)}?lang={language}"})


@bp.route("/", methods=["GET"])
def root_page() -> Response:
    """The address alone, as a resident types it: the resident pages' catalogue."""
    return _reopen("/web")


@bp.route("/web/forms", methods=["GET"])
def forms_page() -> Response:
    """No form named (a natural guess beside the API's `/forms`): the catalogue."""
    return _reopen("/web")


@bp.route("/web/status/answer", methods=["GET"])
def answer_page() -> Response:
    return _reopen("/web/status")


def _answerer(request: Any, posted: dict[str, list[str]], language: str) -> tuple[Any, Response | None]:
    """What is answered, and from where: (submission, channel) by the LIFF ID token or by number
    and code; else None and the page to show instead (sign in again, wrong pair, locked)."""
    from chalicelib.services import responses
    from chalicelib.web import render

    receipt, code = render.first(posted, "receipt").upper(), render.first(posted, "code")
    token = render.first(posted, "id_token")
    try:
        if token:
            user_id = _resident(token)
            if user_id is None:
                return None, _message(request, language, "web.signin_again", 401)
            found = responses.with_access_code(
                receipt, code or None, client=_client(request), line_user_id=user_id
            )
            return (found, "line" if found.line_user_id == user_id else "web"), None
        return (responses.with_access_code(receipt, code, client=_client(request)), "web"), None
    except Exception as error:  # wrong pair or locked: said as the status page says it, one try spent
        return None, _no_access(request, language, receipt, error)


def _answer_again(request: Any, posted: dict[str, list[str]], language: str) -> Response:
    """The answer form, its cookie expired while it stayed open: the status again with what was
    typed (and the same send key), nothing sent."""
    from chalicelib.web import render

    found, instead = _answerer(request, posted, language)
    if instead is not None:
        return instead
    return _show_status(
        request,
        language,
        found[0],
        code=render.first(posted, "code"),
        id_token=render.first(posted, "id_token"),
        typed=_typed_answer(posted),
        notice="web.send_again",
    )


def _photo_ids(posted: dict[str, list[str]], name: str = "photos") -> list[str]:
    """The photos the page's script listed (upload ids, space-separated); the service checks them."""
    return [v for raw in posted.get(name, []) for v in raw.split()]


def _typed_answer(posted: dict[str, list[str]]) -> tuple[str, str, str]:
    """An answer posted and not sent, to show again: its text, photo ids (only real ones: an
    unknown one, refused, is not offered again) and send key."""
    from chalicelib.services.uploads import UPLOAD_ID
    from chalicelib.web import render

    photos = " ".join(v for v in _photo_ids(posted) if UPLOAD_ID.fullmatch(v))
    return render.first(posted, "text"), photos, render.first(posted, "once")


@bp.route("/web/status/answer", methods=["POST"], content_types=FORM_POST)
@_checked_post(reshow=_answer_again, with_files=True)
def answer_post(
    request: Any, posted: dict[str, list[str]], language: str, files: dict[str, list[bytes]]
) -> Response:
    from chalicelib.services import responses
    from chalicelib.web import render

    found, instead = _answerer(request, posted, language)
    if instead is not None:
        return instead
    submission, channel = found
    code, token = render.first(posted, "code"), render.first(posted, "id_token")
    from chalicelib.domain.responses import MAX_PHOTOS

    refused = _attach(request, posted, files, "photos", language, MAX_PHOTOS)
    if refused:  # said at the photos, the answer kept as typed, nothing sent
        errors = [{"anchor": "f-photos", "message": refused}]
        typed = _typed_answer(posted)
        return _show_status(
            request, language, submission, code=code, id_token=token, errors=errors, typed=typed
        )
    text = render.first(posted, "text")
    attachments = _photo_ids(posted)
    if render.first(posted, "switch"):  # the language switch: the same page, the answer as typed, not sent
        return _show_status(
            request, language, submission, code=code, id_token=token, typed=_typed_answer(posted)
        )
    try:
        _sent_once(
            f"web-answer:{submission.receipt}",
            posted,
            json.dumps({"text": text, "attachments": attachments}, ensure_ascii=False).encode(),
            lambda: responses.respond(submission, text, attachments, channel=channel),
        )
    except Exception as error:
        api_error = localized_error(error, language)
        if api_error is None:
            raise
        if api_error.code == "not_waiting_for_answer":  # answered meanwhile (another device, a tab)
            errors = [{"anchor": "status", "message": str(api_error.message)}]
            return _show_status(request, language, submission, code=code, id_token=token, errors=errors)
        if api_error.status != 422 or not api_error.details:
            return _unsent(request, language, api_error)
        errors = [
            {
                "anchor": "f-photos" if str(d.get("pointer", "")).startswith("/attachments") else "f-text",
                "message": d.get("message", ""),
            }
            for d in api_error.details
            if isinstance(d, dict)
        ]
        typed = _typed_answer(posted)
        return _show_status(
            request, language, submission, code=code, id_token=token, errors=errors, typed=typed
        )
    from chalicelib.store import submissions as store

    return _show_status(
        request, language, store.get(submission.receipt), code=code, id_token=token, answered=True
    )


# --- counter waiting times (issue 14's queue service) ---------------------------------------------

QUEUE_REFRESH_SECONDS = 30


def _now() -> Any:
    """Now; on the local stage only, `MADOGUCHI_CLOCK` (ISO time) may fix it, so the browser
    test can show a line open in office hours whatever the hour it runs at."""
    import os
    from datetime import UTC, datetime

    from chalicelib.config import get_settings

    fixed = os.environ.get("MADOGUCHI_CLOCK")
    if fixed and get_settings().stage == "local":
        return datetime.fromisoformat(fixed)
    return datetime.now(UTC)


@bp.route("/queue", methods=["GET"])
def queue_page() -> Response:
    """Every office and line now, large figures for a phone. It refreshes itself only when the
    resident turns that on (WCAG 2.2.1), by the HTTP Refresh header: no JavaScript needed."""
    import importlib
    import importlib.util

    from chalicelib.web import render

    request = _request()
    language = _language(request)
    if importlib.util.find_spec("chalicelib.services.queues") is None:
        return _message(request, language, "web.queue_unavailable", 503)
    queues = importlib.import_module("chalicelib.services.queues")
    from chalicelib.domain.queue import TOKYO

    now = _now()
    view = queues.status_view(now, language)
    auto = (request.query_params or {}).get("auto") == "1"
    # When the figures were read: a page left open without refreshing says how old it is.
    as_of = now.astimezone(TOKYO).strftime("%H:%M")
    response = render.page(
        request,
        "queue.html",
        language,
        cacheable=True,
        view=view,
        auto=auto,
        as_of=as_of,
    )
    response.headers["Cache-Control"] = "public, max-age=10"  # the figures change by the minute
    if auto:
        response.headers["Refresh"] = str(QUEUE_REFRESH_SECONDS)
    return response


# --- "tell me when it is nearly my turn" (LIFF; the QR code on a ticket opens it) ---------------------


def _ticket_page(request: Any, language: str, ref: str, **context: Any) -> Response:
    """The ticket and its watch form; a message page for a link that is not today's ticket."""
    from datetime import UTC, datetime

    from chalicelib.domain.errors import Conflict, MadoguchiError
    from chalicelib.services import queues
    from chalicelib.web import render

    try:
        ticket = queues.ticket_view(ref, language, datetime.now(UTC))
    except MadoguchiError as error:
        expired = isinstance(error, Conflict)  # a ticket of another day; else a link we never signed
        return _message(
            request,
            language,
            "error.queue.ticket_expired" if expired else "error.queue.ticket_not_found",
            409 if expired else 404,
        )
    context.setdefault("ahead", 3)
    # Refreshing itself only when asked to (WCAG 2.2.1), as /queue does, and only while waiting.
    auto = (request.query_params or {}).get("auto") == "1" and ticket["status"] in ("waiting", "unknown")
    response = render.page(
        request, "queue_ticket.html", language, ticket=ticket, ref=ref, auto=auto, **context
    )
    if auto:
        response.headers["Refresh"] = str(QUEUE_REFRESH_SECONDS)
    return response


@bp.route("/web/queue/tickets/{ref}", methods=["GET"])
def queue_ticket_page(ref: str) -> Response:
    request = _request()
    return _ticket_page(request, _language(request), ref, id_token="", notice=None)


def _ticket_again(request: Any, posted: dict[str, list[str]], language: str, ref: str) -> Response:
    """The ticket page, its cookie expired while it stayed open: shown again, the watch asked
    for (or its stop) not done, the chosen number kept."""
    from chalicelib.web import render

    chosen = whole_number(render.first(posted, "ahead"))
    ahead = chosen if chosen in range(1, 6) else 3
    return _ticket_page(
        request,
        language,
        ref,
        id_token=render.first(posted, "id_token"),
        notice=render.Texts(language).plain("web.send_again"),
        ahead=ahead,
    )


@bp.route("/web/queue/tickets/{ref}", methods=["POST"], content_types=FORM_POST)
@_checked_post(reshow=_ticket_again)
def queue_ticket_post(request: Any, posted: dict[str, list[str]], language: str, ref: str) -> Response:
    """Start or stop the watch: the LINE user comes from the ID token the LIFF page posts."""
    from datetime import UTC, datetime

    from chalicelib.services import queues
    from chalicelib.web import render

    token = render.first(posted, "id_token")
    user_id = _resident(token) if token else None
    if user_id is None:  # said on the ticket, kept in view (a walkthrough: a page of its own lost it)
        # Without a token the page's own "LINE only" note says why; a token refused, sign in again.
        why = render.Texts(language).plain("web.signin_again") if token else None
        return _ticket_page(request, language, ref, id_token="", notice=why, status=401)
    chosen = render.first(posted, "ahead")
    # Not a choice the page offers ("²", "3.5"): 0, out of range, so the watch refuses it.
    ahead = (whole_number(chosen) or 0) if chosen else None
    now = datetime.now(UTC)
    status = 200
    try:
        if render.first(posted, "action") == "stop":
            notice = queues.stop_watch(ref, user_id, language, now)["message"]
        else:
            notice = queues.watch(ref, user_id, ahead, language, now)["message"]
    except Exception as error:
        api_error = localized_error(error, language)
        if api_error is None:
            raise
        notice, status = api_error.message, api_error.status  # said on the page, as the API says it
    return _ticket_page(
        request, language, ref, id_token=token, notice=notice, ahead=ahead or 3, status=status
    )


# --- news settings (LIFF) -------------------------------------------------------------------------


def _resident(token: str) -> str | None:
    """The verified LINE user of an ID token, or None (bad, expired, or LINE Login unreachable)."""
    from chalicelib.adapters import line_login

    try:
        return line_login.verify_id_token(token).user_id
    except (line_login.InvalidIdToken, line_login.LineLoginUnavailable):
        return None


@bp.route("/web/settings", methods=["GET"])
def settings_page() -> Response:
    from chalicelib.web import render

    request = _request()
    return render.page(request, "signin.html", _language(request), action="/web/settings")


@bp.route("/web/settings", methods=["POST"], content_types=FORM_POST)
def settings_post() -> Response:
    from datetime import UTC, datetime

    from chalicelib.api import liff
    from chalicelib.domain import preferences as rules
    from chalicelib.store import preferences as store
    from chalicelib.web import render

    request = _request()
    try:
        posted = render.form_fields(request)
    except render.RefusedPost as refused:
        return _message(request, _language(request, refused.leading), refused.message_key, refused.status)
    token = render.first(posted, "id_token")
    user_id = _resident(token) if token else None
    stored = store.get(user_id) if user_id else None
    line_language = stored.preferences.language if stored else None
    language = _language(request, posted, line_language)
    if not render.csrf_ok(request, posted):
        return _expired(request, language)
    if user_id is None:
        return _message(request, language, "web.signin_again", 401)
    action = render.first(posted, "action")
    notice, errors, document = None, [], None
    try:
        if action == "stop":
            stored = liff._save(user_id, rules.stop_all, datetime.now(UTC))
            notice = "web.stopped"
        elif action == "save":
            document = _preferences_document(posted, stored)
            now = datetime.now(UTC)
            stored = liff._save(user_id, lambda current: rules.from_document(document, current, now), now)
            notice = "web.saved"
            language = stored.preferences.language
    except Exception as error:
        api_error = localized_error(error, language)
        if api_error is None:
            raise
        code = api_error.code
        if code in ("not_following",):
            notice = "web.not_following"
        elif code == "terms_changed":
            notice = "web.terms_changed"
        elif code == "invalid_preferences":
            errors = [
                {"anchor": _settings_anchor(d.get("pointer", "")), "message": d.get("message", "")}
                for d in api_error.details
            ]
        else:
            raise
    prefs = stored.preferences if stored else rules.Preferences(language=language)
    view = rules.view(prefs, following=stored.following if stored else False, language=language)
    if errors and document is not None:  # refused: the choices just made are shown again, not the stored ones
        view.update({k: document[k] for k in ("topics", "area", "language", "consent")})
        # A band no page offers (a tampered post) was refused: the stored one is shown instead.
        if document.get("ageBand") in rules.AGE_BANDS:
            view["ageBand"] = document["ageBand"]
    return render.page(
        request,
        "settings.html",
        language,
        status=422 if errors else 200,
        view=view,
        id_token=token,
        notice=notice,
        errors=errors,
        birth_year=render.first(posted, "birthYear") if errors else "",
    )


def _settings_anchor(pointer: str) -> str:
    name = pointer.strip("/").split("/", 1)[0] or "topics"
    return {"birthYear": "f-birthYear", "ageBand": "f-birthYear", "consent": "f-consent"}.get(
        name, f"f-{name}"
    )


def _preferences_document(posted: dict[str, list[str]], stored: Any) -> dict[str, Any]:
    from chalicelib.domain import preferences as rules
    from chalicelib.web import render

    year = render.first(posted, "birthYear")
    age = render.first(posted, "ageBand")
    document: dict[str, Any] = {
        "topics": sorted({t for t in posted.get("topics", []) if t}),
        "area": render.first(posted, "area") or None,
        "language": render.first(posted, "language") or "ja",
        "consent": {"termsVersion": rules.TERMS_VERSION}
        if render.first(posted, "consent") == "yes"
        else None,
        "paused": False,
    }
    if year:
        document["birthYear"] = whole_number(typed(year)) or -1
    elif age and age != "none":
        document["ageBand"] = age
    return document


# --- on this Blueprint too: paying a fee (issue 13) and booking a consultation (issue 15) ----------

from chalicelib.web import booking_pages as _booking_pages  # noqa: E402, F401
from chalicelib.web import payment_pages as _payment_pages  # noqa: E402, F401
