"""Resident web pages over chalice.test.Client and the local stack, without a browser (JavaScript off).

Every page in every language with no missing text, the weight of each page with its CSS and
script, the security headers, CSRF, and the whole form journey by plain form posts.
"""

from __future__ import annotations

import copy
import json
import re
from urllib.parse import urlencode

import pytest

from chalicelib.domain.forms import catalogue, get_form
from chalicelib.domain.residents import LANGUAGES
from chalicelib.web import fields as form_fields

FORM = {"Content-Type": "application/x-www-form-urlencoded"}
MAX_PAGE_BYTES = 100 * 1024


def pages():
    yield "/web"
    yield "/web/status"
    yield "/web/settings"
    yield "/web/payments/R-TEST0001"  # paying a fee (issue 13): sign in, then tests/integration/payments/
    yield "/web/payments/R-TEST0001/done"
    yield "/web/consultations"  # booking (issue 15): the journeys in tests/integration/consultations/
    yield "/web/consultations/legal"
    yield "/web/consultations/lgbts"
    yield "/web/bookings"
    for form in catalogue():
        yield f"/web/forms/{form.id}"
    import importlib.util

    if importlib.util.find_spec("chalicelib.services.queues") is not None:  # issue 14, once merged
        yield "/queue"


def headers(response) -> dict[str, str]:
    return {name.lower(): value for name, value in response.headers.items()}


def _csrf(response) -> tuple[str, str]:
    cookie = headers(response)["set-cookie"].split(";", 1)[0]
    token = cookie.split("=", 1)[1]
    return cookie, token


def post(client, path, cookie, fields):
    return client.http.post(path, body=urlencode(fields, doseq=True), headers={**FORM, "Cookie": cookie})


def _ward_asks(receipt: str, note: str) -> None:
    """kocho's staff take the inquiry into review and ask the resident (needs_info, a public note)."""
    from chalicelib.domain import submissions as rules
    from chalicelib.services import submissions as service
    from chalicelib.store import submissions as store

    staff = rules.Actor(kind=rules.STAFF, id="staff-1", section="kocho")
    service.move(store.get(receipt), rules.IN_REVIEW, actor=staff)
    service.move(store.get(receipt), rules.NEEDS_INFO, actor=staff, note=note, visibility="public")


def _id_token(sandbox, user_id: str) -> str:
    """A LINE ID token for `user_id`, minted by the sandbox as LIFF would get one."""
    import requests

    from chalicelib.config import get_settings

    answer = requests.post(
        f"{sandbox.base_url}/__sandbox/id-tokens",
        json={"sub": user_id, "aud": get_settings().line_login_channel_id},
        timeout=5,
    )
    return answer.json()["idToken"]


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_page_renders_in_every_language_with_no_missing_text(client, language):
    for path in pages():
        response = client.http.get(f"{path}?lang={language}")
        assert response.status_code == 200, (path, language)
        html = response.body.decode()
        lang_attr = "ja" if language == "ja-easy" else language
        assert f'<html lang="{lang_attr}">' in html
        # A missing text shows as its key (web.x, form.x) or as an empty element.
        assert not re.search(r">\s*(web|form|status|age)\.[a-z_-]+\s*<", html), (path, language)
        assert "<h1></h1>" not in html and "<title> |" not in html


def assert_complete(response, where: str) -> None:
    html = response.body.decode()
    assert "<main" in html, where
    assert not re.search(r">\s*(web|form|status|age)\.[a-z_-]+\s*<", html), where


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_state_of_every_page_is_complete_in_every_language(client, sandbox, language):
    """Errors, second screen, check answers, done, status with a thread, settings: no gap."""

    from chalicelib.domain import submissions as rules
    from chalicelib.services import submissions as service
    from chalicelib.store import residents
    from chalicelib.store import submissions as store
    from tests.integration.conftest import new_user_id

    cookie, token = _csrf(client.http.get("/web"))
    common = {"csrf": token, "lang": language}
    assert_complete(
        post(client, "/web/forms/bulky-waste-collection", cookie, {**common, "step": "review"}), "errors"
    )
    flat = form_fields.flat_values(get_form("bulky-waste-collection").example)
    second = post(
        client,
        "/web/forms/bulky-waste-collection",
        cookie,
        {**common, "step": "review", "screen": "0", **flat},
    )
    assert_complete(second, "second screen")
    review = post(
        client,
        "/web/forms/bulky-waste-collection",
        cookie,
        {**common, "step": "review", "screen": "1", **flat},
    )
    assert_complete(review, "check answers")
    import html as html_lib

    document = html_lib.unescape(re.search(r'name="document" value="([^"]*)"', review.body.decode()).group(1))
    done = post(
        client, "/web/forms/bulky-waste-collection", cookie, {**common, "step": "send", "document": document}
    )
    assert_complete(done, "done")
    receipt = re.search(r'id="receipt">([^<]+)<', done.body.decode()).group(1)
    code = re.search(r'id="access-code">([^<]+)<', done.body.decode()).group(1)
    staff = rules.Actor(kind=rules.STAFF, id="staff-1", section="seiso")
    service.move(store.get(receipt), rules.IN_REVIEW, actor=staff)
    service.move(store.get(receipt), rules.NEEDS_INFO, actor=staff, note="Which floor?", visibility="public")
    assert_complete(
        post(client, "/web/status", cookie, {**common, "receipt": receipt, "code": code}), "status"
    )
    assert_complete(
        post(client, "/web/status", cookie, {**common, "receipt": receipt, "code": "x"}), "wrong code"
    )

    user_id = new_user_id()
    assert residents.record_follow(user_id, language, 1)
    minted = _id_token(sandbox, user_id)
    settings = post(client, "/web/settings", cookie, {**common, "id_token": minted})
    assert_complete(settings, "settings")
    if language == "ja-easy":  # the 町 of the area choice with their readings, like a form's
        assert bare_kanji(settings.body.decode()) == []
    bad = post(
        client, "/web/settings", cookie, {**common, "id_token": minted, "action": "save", "birthYear": "1800"}
    )
    assert bad.status_code == 422
    assert_complete(bad, "settings with errors")
    assert_complete(
        post(client, "/web/settings", cookie, {**common, "id_token": minted, "action": "stop"}), "stopped"
    )
    assert_complete(post(client, "/web/status", cookie, {**common, "id_token": minted}), "my requests")


def test_a_switch_to_no_language_of_ours_keeps_the_pages_language(client):
    cookie, token = _csrf(client.http.get("/web"))
    shown = post(client, "/web/forms/inquiry", cookie, {"csrf": token, "lang": "en", "switch": "xx"})
    assert '<html lang="en">' in shown.body.decode()


def test_the_settings_page_in_another_language_than_the_news_labels_every_choice_in_it(client, sandbox):
    """News in Japanese, the page switched to English: topics and towns in English too, not half
    the page in the news language."""
    import html as html_lib

    from chalicelib.domain import preferences as rules
    from chalicelib.store import residents
    from tests.integration.conftest import new_user_id

    user_id = new_user_id()
    assert residents.record_follow(user_id, "ja", 1)
    minted = _id_token(sandbox, user_id)
    cookie, token = _csrf(client.http.get("/web/settings"))
    shown = post(
        client, "/web/settings", cookie, {"csrf": token, "lang": "ja", "switch": "en", "id_token": minted}
    )
    html = shown.body.decode()
    assert shown.status_code == 200 and '<html lang="en">' in html
    english, japanese = rules.choices("en"), rules.choices("ja")
    for kind in ("topics", "areas"):
        assert html_lib.escape(english[kind][1]["label"]) in html and japanese[kind][1]["label"] not in html
    assert 'value="ja" lang="ja" selected' in html  # the news stay in Japanese until the resident saves


def test_settings_refused_for_one_field_show_again_the_choices_just_made(client, sandbox):
    """A year of birth out of range: the page comes back with the topics, area and language just
    chosen (not the stored ones), so fixing the year and saving keeps them."""

    from chalicelib.domain import preferences as rules
    from chalicelib.store import preferences as stored_preferences
    from chalicelib.store import residents
    from tests.integration.conftest import new_user_id

    user_id = new_user_id()
    assert residents.record_follow(user_id, "ja", 1)
    minted = _id_token(sandbox, user_id)
    choices = rules.choices("en")
    topics, area = [t["id"] for t in choices["topics"][:2]], choices["areas"][2]["id"]
    cookie, token = _csrf(client.http.get("/web/settings"))
    chosen = {"csrf": token, "lang": "en", "id_token": minted, "action": "save", "topics": topics}
    chosen |= {"area": area, "language": "en", "birthYear": "3000", "consent": "yes"}
    refused = post(client, "/web/settings", cookie, chosen)
    html = refused.body.decode()
    assert refused.status_code == 422
    for topic in topics:
        assert re.search(rf'value="{topic}" checked', html), topic
    assert f'value="{area}" selected' in html and 'value="en" lang="en" selected' in html
    assert 'id="f-consent" name="consent" value="yes" checked' in html
    assert stored_preferences.get(user_id).preferences.topics == frozenset()  # nothing saved


@pytest.mark.parametrize("field", ["ageBand", "area", "language", "topics"])
def test_settings_posted_with_a_choice_no_page_offers_are_refused_at_the_field(client, sandbox, field):
    from chalicelib.store import preferences as stored_preferences
    from chalicelib.store import residents
    from tests.integration.conftest import new_user_id

    user_id = new_user_id()
    assert residents.record_follow(user_id, "ja", 1)
    cookie, token = _csrf(client.http.get("/web/settings"))
    chosen = {"csrf": token, "lang": "en", "id_token": _id_token(sandbox, user_id), "action": "save"}
    refused = post(client, "/web/settings", cookie, {**chosen, "consent": "yes", field: "bogus"})
    assert refused.status_code == 422, refused.body[:300]
    assert 'role="alert"' in refused.body.decode() and "bogus" not in refused.body.decode()
    assert stored_preferences.get(user_id).preferences.topics == frozenset()  # nothing saved


def test_ja_easy_pages_carry_furigana_as_ruby(client):
    html = client.http.get("/web?lang=ja-easy").body.decode()
    assert "<ruby>葛飾区<rp>(</rp><rt>かつしかく</rt><rp>)</rp></ruby>" in html
    form = client.http.get("/web/forms/juminhyo-copy?lang=ja-easy").body.decode()
    assert "<ruby>住民票<rp>(</rp><rt>じゅうみんひょう</rt><rp>)</rp></ruby>" in form  # the description
    assert "<ruby>世帯<rp>(</rp><rt>せたい</rt><rp>)</rp></ruby>" in form  # a choice
    area = client.http.get("/web/forms/road-park-damage?lang=ja-easy").body.decode()
    assert '<option value="aoto">青戸（あおと）</option>' in area  # an <option> holds no <ruby>


KANJI = "[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff々]"


def bare_kanji(html: str) -> list[str]:
    """The kanji of a page's <main> that a ja-easy reader gets without a reading: not in <ruby>,
    and not followed by its reading in brackets (an <option>'s "青戸（あおと）"). A language's own
    name in a language choice (日本語, marked with its lang) is not ja-easy text."""
    main = html.split("<main", 1)[1].split("</main>", 1)[0]
    main = re.sub(r'<(\w+)[^>]*\slang="[^"]*"[^>]*>.*?</\1>', "", main)
    main = re.sub(r"<ruby>.*?</ruby>", "", main)
    main = re.sub(rf"{KANJI}[^（<>]*（[ぁ-ゖァ-ヺー]+）", "", main)
    main = re.sub(r"<[^>]*>", " ", main)
    return re.findall(rf"\S*{KANJI}\S*", main)


def test_every_question_of_every_form_reads_in_easy_japanese_with_furigana(client):
    """Every screen of every form, and its error messages: no kanji without its reading."""
    cookie, token = _csrf(client.http.get("/web"))
    for form in catalogue():
        page = client.http.get(f"/web/forms/{form.id}?lang=ja-easy")
        assert bare_kanji(page.body.decode()) == [], form.id
        empty = post(
            client, f"/web/forms/{form.id}", cookie, {"csrf": token, "lang": "ja-easy", "step": "review"}
        )
        assert empty.status_code == 422 and bare_kanji(empty.body.decode()) == [], form.id
        if len(form_fields.screens(form, form_fields.fields(form, "ja-easy"))) > 1:
            second = next_screen(client, form, "ja-easy", cookie, token)
            assert "<h1>" in second and bare_kanji(second) == [], form.id


def next_screen(client, form, language: str, cookie: str, token: str) -> str:
    """The second screen of a long form: the first screen answered from the form's example."""
    first = {q.name for q in form_fields.screens(form, form_fields.fields(form, language))[0]}
    answers = {k: v for k, v in form_fields.flat_values(form.example).items() if k.split(".", 1)[0] in first}
    fields = {"csrf": token, "lang": language, "step": "review", "screen": "0", **answers}
    html = post(client, f"/web/forms/{form.id}", cookie, fields).body.decode()
    assert 'name="screen" value="1"' in html, form.id
    return html


def expected_texts(question, values_shown=False) -> list[str]:
    """How a question's own texts appear on its page: label, hint, and each choice."""
    from markupsafe import escape

    from chalicelib.web import render

    found = [str(render.ruby(question.label))]
    if question.hint:
        found.append(str(render.ruby(question.hint)))
    for _value, text in question.options:
        found.append(
            str(escape(render.reading(text))) if question.kind == "select" else str(render.ruby(text))
        )
    for part in question.parts:
        if question.kind not in ("rows", "dates"):
            found += expected_texts(part)
        elif question.kind == "rows":
            for sub in part.parts:
                found += expected_texts(sub)
            break
    return found


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_form_asks_its_questions_in_the_pages_language(client, language):
    """Labels, hints and choices of every form (each screen) in the page's own language, and no
    English question on a page in another language: the forms carry all seven."""
    from chalicelib.web import render

    cookie, token = _csrf(client.http.get("/web"))
    for form in catalogue():
        screens = form_fields.screens(form, form_fields.fields(form, language))
        english = form_fields.screens(form, form_fields.fields(form, "en"))
        for index, (questions, in_english) in enumerate(zip(screens, english, strict=True)):
            if index == 0:
                html = client.http.get(f"/web/forms/{form.id}?lang={language}").body.decode()
                assert str(render.ruby(form.description[language])) in html, (form.id, language)
            else:
                html = next_screen(client, form, language, cookie, token)
            for question in questions:
                for text in expected_texts(question):
                    assert text in html, (form.id, language, question.name, text)
            if language != "en":
                mine = {t for q in questions for t in expected_texts(q)}
                leaked = [
                    t for q in in_english for t in expected_texts(q) if t not in mine and f">{t}<" in html
                ]
                assert leaked == [], (form.id, language, leaked)


@pytest.mark.parametrize("language", ["zh-Hans", "ko", "vi", "ne"])
def test_errors_and_check_answers_speak_the_pages_language(client, language):
    """The 422 details a page shows are the API's, in the page's language; the answers page
    names each question and choice in it too."""
    from chalicelib.domain.form_problems import explain
    from chalicelib.schemas import problems
    from chalicelib.web import render

    form = get_form("road-park-damage")
    cookie, token = _csrf(client.http.get("/web"))
    common = {"csrf": token, "lang": language, "step": "review"}
    empty = post(client, f"/web/forms/{form.id}", cookie, common)
    summary = empty.body.decode().split('id="error-summary"', 1)[1].split("</div>", 1)[0]
    shown = re.findall(r'<li><a href="#[^"]+">(.*?)</a></li>', summary)
    wanted = explain(problems(form.schema_name, {}), form, language, furigana=True)
    assert shown == [str(render.ruby(e["message"])) for e in wanted] and shown

    example = {k: v for k, v in form.example.items() if k != "photos"}
    review = post(client, f"/web/forms/{form.id}", cookie, {**common, **form_fields.flat_values(example)})
    html = review.body.decode()
    labels = form.meta["labels"]
    assert str(render.ruby(labels["category"][language])) in html
    assert str(render.ruby(labels["category"]["enumLabels"][example["category"]][language])) in html
    assert str(render.ruby(labels["area"]["enumLabels"][example["area"]][language])) in html


def test_language_follows_accept_language_and_the_switcher_wins(client):
    assert (
        '<html lang="ko">'
        in client.http.get("/web", headers={"Accept-Language": "ko-KR,ko;q=0.9"}).body.decode()
    )
    assert (
        '<html lang="zh-Hans">' in client.http.get("/web", headers={"Accept-Language": "zh-CN"}).body.decode()
    )
    # A language the ward does not write: its chain (en, then ja), as on every resident route.
    assert '<html lang="en">' in client.http.get("/web", headers={"Accept-Language": "fr"}).body.decode()
    assert '<html lang="ja">' in client.http.get("/web", headers={"Accept-Language": "*"}).body.decode()
    assert (
        '<html lang="vi">' in client.http.get("/web?lang=vi", headers={"Accept-Language": "en"}).body.decode()
    )
    # A chosen tag is served as the API serves it: by its language, whatever its region.
    for chosen, served in (("en-US", "en"), ("zh-TW", "zh-Hans"), ("KO-kr", "ko"), ("xx", "vi")):
        page = client.http.get(f"/web/forms/inquiry?lang={chosen}", headers={"Accept-Language": "vi"})
        assert f'<html lang="{served}">' in page.body.decode()


def test_every_page_with_its_css_and_script_weighs_under_100_kb(client):
    assets = sum(len(client.http.get(f"/web/static/{name}").body) for name in ("web.css", "web.js"))
    weights = {}
    for path in pages():
        for language in ("ja", "ne"):  # Nepali: the longest UTF-8
            weights[f"{path}?lang={language}"] = len(client.http.get(f"{path}?lang={language}").body) + assets
    print("page weights (bytes, with CSS and JS):", weights)
    assert max(weights.values()) < MAX_PAGE_BYTES, weights


def test_pages_send_a_csp_without_unsafe_inline_and_no_store(client):
    response = client.http.get("/web/forms/inquiry")
    assert headers(response)["content-language"] == "ja"
    assert headers(client.http.get("/web?lang=zh-Hans"))["content-language"] == "zh-Hans"
    csp = headers(response)["content-security-policy"]
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
    assert headers(response)["cache-control"] == "no-store"
    assert (
        "HttpOnly" in headers(response)["set-cookie"] and "SameSite=Strict" in headers(response)["set-cookie"]
    )
    html = response.body.decode()
    assert "<script>" not in html and "style=" not in html  # nothing inline for the CSP to refuse


def test_a_post_without_the_csrf_cookie_or_from_another_site_is_refused(client):
    cookie, token = _csrf(client.http.get("/web/forms/inquiry"))
    fields = {"csrf": token, "lang": "en", "step": "review", "question": "When is the library open?"}
    assert client.http.post("/web/forms/inquiry", body=urlencode(fields), headers=FORM).status_code == 403
    other = {**FORM, "Cookie": cookie, "Sec-Fetch-Site": "cross-site"}
    assert client.http.post("/web/forms/inquiry", body=urlencode(fields), headers=other).status_code == 403
    wrong = {**fields, "csrf": "x" * 32}
    assert post(client, "/web/forms/inquiry", cookie, wrong).status_code == 403
    assert post(client, "/web/forms/inquiry", cookie, fields).status_code == 200


def test_a_page_left_open_past_its_cookie_is_shown_again_with_what_was_typed_and_sends_nothing(client):
    """The CSRF cookie lasts two hours. A form left open longer (documents fetched, a call taken)
    posts from our own page without it: the same page again, typed answers kept, a fresh cookie
    and a note; nothing is sent until the resident sends again."""
    import html as html_lib

    from chalicelib.domain.messages import catalogue as texts

    _, stale = _csrf(client.http.get("/web/forms/inquiry?lang=en"))
    own_page = {**FORM, "Sec-Fetch-Site": "same-origin", "Origin": "http://localhost", "Host": "localhost"}
    typed = {"csrf": stale, "lang": "en", "step": "review", "question": "Is the <b>pool</b> open on Mondays?"}
    again = client.http.post("/web/forms/inquiry", body=urlencode(typed), headers=own_page)
    html = again.body.decode()
    assert again.status_code == 200
    assert html_lib.escape(texts()["web.send_again"]["en"], quote=False) in html
    assert "Is the &lt;b&gt;pool&lt;/b&gt; open on Mondays?" in html and 'name="step" value="review"' in html
    cookie, token = _csrf(again)
    assert token != stale and f'name="csrf" value="{token}"' in html
    review = post(client, "/web/forms/inquiry", cookie, {**typed, "csrf": token})
    page = review.body.decode()
    sent = {
        "csrf": stale,
        "lang": "en",
        "step": "send",
        "document": html_lib.unescape(re.search(r'name="document" value="([^"]*)"', page).group(1)),
        "once": re.search(r'name="once" value="([^"]+)"', page).group(1),
    }
    # The check-answers page, its cookie gone: shown again, with the same key; nothing sent.
    shown = client.http.post("/web/forms/inquiry", body=urlencode(sent), headers=own_page)
    assert shown.status_code == 200 and 'id="receipt"' not in shown.body.decode()
    assert f'name="once" value="{sent["once"]}"' in shown.body.decode()
    cookie, token = _csrf(shown)
    done = post(client, "/web/forms/inquiry", cookie, {**sent, "csrf": token})
    assert done.status_code == 200 and re.search(r'id="receipt">([^<]+)<', done.body.decode())
    # Another site's post, or one the browser does not vouch for, still gets "expired".
    for headers in (
        {**own_page, "Sec-Fetch-Site": "cross-site"},
        {**own_page, "Origin": "https://evil.example"},
        FORM,
    ):
        assert (
            client.http.post("/web/forms/inquiry", body=urlencode(typed), headers=headers).status_code == 403
        )


def test_numbers_and_emails_typed_in_full_width_are_read_and_nan_is_no_coordinate(client):
    cookie, token = _csrf(client.http.get("/web"))
    common = {"csrf": token, "lang": "en", "step": "review"}

    def answers(form_id: str, **changes: str) -> dict[str, list[str]]:
        example = copy.deepcopy(get_form(form_id).example)
        example.pop("photos", None)
        return {**form_fields.flat_values(example), **{k.replace("__", "."): [v] for k, v in changes.items()}}

    for digit in ("２", "२"):  # a Japanese and a Nepali phone keyboard (a walkthrough: "२" was refused)
        copies = post(
            client, "/web/forms/juminhyo-copy", cookie, {**common, **answers("juminhyo-copy", copies=digit)}
        )
        assert copies.status_code == 200 and 'class="error-message"' not in copies.body.decode()
    for odd in ("nan", "inf", "1_0"):
        report = answers("road-park-damage", location__latitude=odd)
        refused = post(client, "/web/forms/road-park-damage", cookie, {**common, **report})
        assert refused.status_code == 422 and 'id="error-summary"' in refused.body.decode()
    fine = answers("road-park-damage", location__latitude="３５．７４３４４")
    assert post(client, "/web/forms/road-park-damage", cookie, {**common, **fine}).status_code == 200
    # An address typed in full width is the ASCII one mail reaches; the JSON API takes only that.
    inquiry = {**common, "question": "q", "email": "ｈａｎａ＠ｅｘａｍｐｌｅ．ｊｐ"}
    checked = post(client, "/web/forms/inquiry", cookie, inquiry)
    assert checked.status_code == 200 and "hana@example.jp" in checked.body.decode()
    # So are a phone number and a postal code, whatever dash the keyboard made.
    for phone, postal in (
        ("０３－１２３４－５６７８", "〒１２４－８５５５"),
        ("03ー1234ー5678", "１２４８５５５"),
        ("०३-१२३४-५६७८", "१२४-८५५५"),
    ):
        bulky = answers("bulky-waste-collection", phone=phone, postalCode=postal)
        checked = post(
            client, "/web/forms/bulky-waste-collection", cookie, {**common, **bulky, "screen": "1"}
        )
        shown = checked.body.decode()
        assert checked.status_code == 200 and "03-1234-5678" in shown, shown
        assert ("1248555" if postal == "１２４８５５５" else "124-8555") in shown
    typed = {"question": "q", "email": "ｈａｎａ＠ｅｘａｍｐｌｅ．ｊｐ"}
    refused = client.http.post(
        "/forms/inquiry/submissions", body=json.dumps(typed), headers={"Content-Type": "application/json"}
    )
    assert (
        refused.status_code == 422 and json.loads(refused.body)["error"]["details"][0]["pointer"] == "/email"
    )


@pytest.mark.parametrize(
    ("form_id", "name", "first", "last"),
    [("bulky-waste-collection", "preferredDate", 0, 365), ("juminhyo-copy", "birthDate", None, 0)],
)
def test_a_date_picker_offers_only_the_days_the_form_takes(client, form_id, name, first, last):
    """A day asked for from today to a year on, a birth date up to today: the picker's min and
    max say what the server checks (the form is novalidate: the server still says why)."""
    from datetime import date, datetime, timedelta

    from chalicelib.domain.submissions import TOKYO

    form = get_form(form_id)
    cookie, token = _csrf(client.http.get("/web"))
    html = client.http.get(f"/web/forms/{form_id}").body.decode()
    if f'name="{name}"' not in html:
        html = next_screen(client, form, "ja", cookie, token)
    today = datetime.now(TOKYO).date()
    earliest = (today + timedelta(days=first)) if first is not None else date(1900, 1, 1)
    [picker] = re.findall(rf'<input[^>]*name="{name}"[^>]*>', html)
    assert 'type="date"' in picker
    assert f'min="{earliest.isoformat()}" max="{(today + timedelta(days=last)).isoformat()}"' in picker


@pytest.mark.parametrize(
    "path",
    [
        "/web/forms/inquiry",
        "/web/status",
        "/web/status/answer",
        "/web/settings",
        "/web/bookings",
        "/web/consultations/legal/book",
        "/web/payments/KTS-2612-AAAA",
    ],
)
def test_a_post_of_more_fields_than_any_page_has_is_a_413_page(client, path):
    cookie, token = _csrf(client.http.get("/web"))
    fields = [("csrf", token), *((f"x{i}", "1") for i in range(501))]
    response = post(client, path, cookie, fields)
    assert response.status_code == 413
    assert headers(response)["content-type"].startswith("text/html")
    assert "Too many fields were sent" in post(client, f"{path}?lang=en", cookie, fields).body.decode()
    # In the language of the page it came from (its hidden `lang`), as every other answer.
    in_english = post(client, path, cookie, [("lang", "en"), *fields])
    assert in_english.status_code == 413 and "Too many fields were sent" in in_english.body.decode()


@pytest.mark.parametrize("path", ["/web/forms/inquiry", "/web/status", "/web/settings", "/web/bookings"])
@pytest.mark.parametrize("broken", [b"question=%FF%FE", b"question=\xff\xfe"], ids=["percent-encoded", "raw"])
def test_a_post_that_is_not_utf8_is_refused_with_a_400_page(client, path, broken):
    cookie, token = _csrf(client.http.get("/web"))
    body = f"csrf={token}&lang=en&".encode() + broken
    response = client.http.post(f"{path}?lang=en", body=body, headers={**FORM, "Cookie": cookie})
    assert response.status_code == 400
    assert headers(response)["content-type"].startswith("text/html")
    page = response.body.decode()
    assert "could not be read" in page and "\ufffd" not in page
    # In the language of the page it came from (its hidden `lang`), as every other answer.
    bare = client.http.post(path, body=body, headers={**FORM, "Cookie": cookie})
    assert bare.status_code == 400 and '<html lang="en">' in bare.body.decode()


@pytest.mark.parametrize(("kind", "status"), [("multipart/form-data; boundary=x", 400), ("text/plain", 415)])
def test_a_post_in_another_encoding_is_refused_with_a_page_in_the_pages_language(client, kind, status):
    """Multipart is a form's own (a page with a photo to choose): one that is not multipart is a
    post that could not be read."""
    cookie, token = _csrf(client.http.get("/web"))
    response = client.http.post(
        "/web/status?lang=en",
        body=f"csrf={token}&receipt=x".encode(),
        headers={"Content-Type": kind, "Cookie": cookie},
    )
    assert response.status_code == status and headers(response)["content-type"].startswith("text/html")
    assert '<html lang="en">' in response.body.decode()


@pytest.mark.parametrize("odd", ["\x00", "\x1b[2J", "\u202e", "\u2066"])
def test_text_nobody_types_is_refused_at_its_field_on_both_steps(client, odd):
    cookie, token = _csrf(client.http.get("/web/forms/inquiry"))
    common = {"csrf": token, "lang": "en"}
    question = f"When is the library open?{odd}"
    review = post(client, "/web/forms/inquiry", cookie, {**common, "step": "review", "question": question})
    assert review.status_code == 422
    assert "contains control characters or text-direction marks" in review.body.decode()
    # The check-answers page's document is the resident's to tamper with: checked again on send.
    document = json.dumps({"question": question, "contact": {}})
    sent = post(client, "/web/forms/inquiry", cookie, {**common, "step": "send", "document": document})
    assert sent.status_code == 422 and "text-direction marks" in sent.body.decode()
    # Line breaks and tabs are what people type in a text box.
    fine = post(
        client, "/web/forms/inquiry", cookie, {**common, "step": "review", "question": "Hours?\r\n\tLibrary"}
    )
    assert fine.status_code == 200 and "Check your answers" in fine.body.decode()


@pytest.mark.parametrize("form_id", [form.id for form in catalogue()])
def test_each_form_by_plain_posts_errors_then_check_answers_then_receipt_then_status(client, form_id):
    form = get_form(form_id)
    cookie, token = _csrf(client.http.get(f"/web/forms/{form_id}?lang=en"))
    common = {"csrf": token, "lang": "en"}

    empty = post(client, f"/web/forms/{form_id}", cookie, {**common, "step": "review"})
    assert empty.status_code == 422
    html = empty.body.decode()
    assert 'id="error-summary"' in html
    for anchor in re.findall(
        r'<li><a href="#([^"]+)">', html.split('id="error-summary"')[1].split("</div>")[0]
    ):
        assert f'id="{anchor}"' in html  # every summary link lands on a field

    example = copy.deepcopy(form.example)
    example.pop("photos", None)
    flat = form_fields.flat_values(example)
    screen, screens = "0", 0
    while True:  # a long form comes in screens; each posts its answers and carries the others
        review = post(
            client, f"/web/forms/{form_id}", cookie, {**common, "step": "review", "screen": screen, **flat}
        )
        assert review.status_code == 200, review.body.decode()[:3000]
        html = review.body.decode()
        screens += 1
        found = re.search(r'name="screen" value="(\d)"', html)
        if not found:
            break
        assert found.group(1) != screen and screens < 3
        screen = found.group(1)
    assert screens == len(form_fields.screens(form, form_fields.fields(form, "en")))
    assert "Check your answers" in html
    if form.fee_yen:
        assert "The fee for this application is" in html
    document = re.search(r'name="document" value="([^"]*)"', html).group(1)
    import html as html_lib

    done = post(
        client,
        f"/web/forms/{form_id}",
        cookie,
        {**common, "step": "send", "document": html_lib.unescape(document)},
    )
    assert done.status_code == 200
    html = done.body.decode()
    receipt = re.search(r'id="receipt">([^<]+)<', html).group(1)
    code = re.search(r'id="access-code">([^<]+)<', html).group(1)
    assert headers(done)["cache-control"] == "no-store"

    status = post(client, "/web/status", cookie, {**common, "receipt": receipt, "code": code})
    assert status.status_code == 200
    assert "Received" in status.body.decode()
    assert code not in headers(status).get("location", "")


def test_a_long_form_asks_about_the_request_then_about_the_resident_and_can_go_back(client):
    form = get_form("juminhyo-copy")
    cookie, token = _csrf(client.http.get("/web/forms/juminhyo-copy?lang=en"))
    common = {"csrf": token, "lang": "en", "step": "review"}
    flat = form_fields.flat_values(form.example)
    first = client.http.get("/web/forms/juminhyo-copy?lang=en").body.decode()
    assert "Step 1 of 2" in first and 'name="copies"' in first and 'name="name"' not in first
    request_only = {
        k: v
        for k, v in flat.items()
        if k in ("scope", "copies", "includeItems", "purpose", "purposeDetail", "delivery")
    }
    second = post(client, "/web/forms/juminhyo-copy", cookie, {**common, "screen": "0", **request_only})
    html = second.body.decode()
    assert second.status_code == 200 and "Step 2 of 2" in html and 'name="name"' in html
    assert 'type="hidden" name="copies"' in html  # carried, not stored
    errors = post(client, "/web/forms/juminhyo-copy", cookie, {**common, "screen": "1", **request_only})
    assert errors.status_code == 422 and "Step 2 of 2" in errors.body.decode()
    back = post(
        client, "/web/forms/juminhyo-copy", cookie, {**common, "screen": "1", "back": "1", **request_only}
    )
    assert "Step 1 of 2" in back.body.decode() and f'value="{flat["copies"][0]}"' in back.body.decode()
    review = post(client, "/web/forms/juminhyo-copy", cookie, {**common, "screen": "1", **flat})
    assert "Check your answers" in review.body.decode()
    assert "The fee for this application is 600 yen." in review.body.decode()  # 2 copies at 300 yen


def _inquiry_and_status_sign_in(client, question: str) -> tuple[str, str, str, dict[str, str]]:
    """A new inquiry by the API, and the status page's cookie and fields for its receipt:
    (receipt, access code, cookie, fields)."""
    made = client.http.post(
        "/forms/inquiry/submissions",
        body=json.dumps({"question": question}),
        headers={"Content-Type": "application/json"},
    )
    receipt, code = json.loads(made.body)["receipt"], json.loads(made.body)["accessSecret"]
    cookie, token = _csrf(client.http.get("/web/status"))
    return receipt, code, cookie, {"csrf": token, "lang": "en", "receipt": receipt}


def test_a_wrong_access_code_is_one_answer_and_never_keeps_the_right_one_out(client, from_client):
    receipt, code, cookie, fields = _inquiry_and_status_sign_in(client, "Is the pool open on Mondays?")
    for _ in range(5):
        wrong = post(client, "/web/status", cookie, {**fields, "code": "WRONG"})
        assert wrong.status_code == 404
        assert "The receipt number or access code is wrong. Please check them" in wrong.body.decode()
    from_client()  # the resident, on their own phone: a stranger's wrong codes do not hold it back
    right = post(client, "/web/status", cookie, {**fields, "code": code})
    assert right.status_code == 200 and 'id="status"' in right.body.decode()


def test_sending_the_check_answers_page_twice_makes_one_submission(client):
    import html as html_lib

    cookie, token = _csrf(client.http.get("/web/forms/inquiry?lang=en"))
    common = {"csrf": token, "lang": "en"}
    review = post(
        client, "/web/forms/inquiry", cookie, {**common, "step": "review", "question": "Pool hours?"}
    )
    html = review.body.decode()
    sent = {
        **common,
        "step": "send",
        "document": html_lib.unescape(re.search(r'name="document" value="([^"]*)"', html).group(1)),
        "once": re.search(r'name="once" value="([^"]+)"', html).group(1),
    }
    first, again = (post(client, "/web/forms/inquiry", cookie, sent) for _ in range(2))
    receipts = [re.search(r'id="receipt">([^<]+)<', r.body.decode()).group(1) for r in (first, again)]
    assert first.status_code == again.status_code == 200 and receipts[0] == receipts[1]
    # A second look at the answers is a new page, and its send a new submission.
    other = post(
        client, "/web/forms/inquiry", cookie, {**common, "step": "review", "question": "Pool hours?"}
    )
    assert re.search(r'name="once" value="([^"]+)"', other.body.decode()).group(1) != sent["once"]


def test_one_check_answers_page_is_one_application_with_or_without_the_id_token_and_in_any_language(
    client, sandbox
):
    """A second tap while LIFF is still starting (or after it failed) posts without the ID token;
    a resident who switches language, sends, goes back and sends again posts the other language's
    page: the same page's send key, so one application each time, not two fees."""
    import html as html_lib

    from chalicelib.store import submissions as store
    from tests.integration.conftest import new_user_id

    cookie, token = _csrf(client.http.get("/web/forms/inquiry?lang=en"))
    common = {"csrf": token, "lang": "en"}
    review = post(client, "/web/forms/inquiry", cookie, {**common, "step": "review", "question": "Dog park?"})
    html = review.body.decode()
    sent = {
        **common,
        "step": "send",
        "document": html_lib.unescape(re.search(r'name="document" value="([^"]*)"', html).group(1)),
        "once": re.search(r'name="once" value="([^"]+)"', html).group(1),
    }
    switched = post(client, "/web/forms/inquiry", cookie, {**sent, "switch": "ko"})
    assert (
        f'name="once" value="{sent["once"]}"' in switched.body.decode()
        and 'lang="ko"' in switched.body.decode()
    )
    user_id = new_user_id()
    minted = _id_token(sandbox, user_id)
    answers = [
        post(client, "/web/forms/inquiry", cookie, fields)
        for fields in ({**sent, "id_token": minted}, sent, {**sent, "lang": "ko"})
    ]
    receipts = {re.search(r'id="receipt">([^<]+)<', a.body.decode()).group(1) for a in answers}
    assert [a.status_code for a in answers] == [200, 200, 200] and len(receipts) == 1
    assert store.get(receipts.pop()).line_user_id == user_id  # the first send's, kept


def test_inside_line_a_typed_receipt_and_code_open_that_submission(client, sandbox):
    """A review: with the LIFF token every form carries, the status page showed the resident's own
    LINE list and dropped the typed code of a web, phone or counter submission."""
    from tests.integration.conftest import new_user_id

    receipt, code, cookie, fields = _inquiry_and_status_sign_in(client, "Is the gym open on holidays?")
    minted = _id_token(sandbox, new_user_id())
    shown = post(client, "/web/status", cookie, {**fields, "code": code, "id_token": minted})
    assert (
        shown.status_code == 200 and 'id="status"' in shown.body.decode() and receipt in shown.body.decode()
    )


def test_a_wrong_code_on_the_answer_page_spends_one_try_not_two(client, from_client):
    from chalicelib.services.access_codes import CLIENT_WRONG_CODES

    from_client()
    receipt, code, cookie, fields = _inquiry_and_status_sign_in(client, "Is the library open on Mondays?")
    for _ in range(CLIENT_WRONG_CODES[0] // 2):  # counted twice, the client's hour would now be used up
        wrong = post(client, "/web/status/answer", cookie, {**fields, "code": "WRONG", "text": "hello"})
        assert wrong.status_code == 404 and "is wrong" in wrong.body.decode()
    assert post(client, "/web/status", cookie, {**fields, "code": code}).status_code == 200


def test_a_page_that_answers_a_post_reopens_its_form_when_asked_by_get(client):
    for path, back in (
        ("/web/status/answer?lang=ko", "/web/status?lang=ko"),
        ("/web/payments/KTS-2612-AAAA/receipt?lang=en-US", "/web/payments/KTS-2612-AAAA?lang=en"),
    ):
        response = client.http.get(path)
        assert response.status_code == 303 and headers(response)["location"] == back


def test_the_webhook_path_never_loads_jinja2():
    """The pages are on the same Lambda as the LINE webhook: their template engine stays off its cold start."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    probe = "import sys\nfrom app import app\nprint('jinja2' in sys.modules, 'chalicelib.web.render' in sys.modules)"
    root = Path(__file__).resolve().parents[2]
    result = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=root,
        env=os.environ.copy(),
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.split() == ["False", "False"]


def _check_answers(client, question: str) -> tuple[str, dict[str, str]]:
    """The inquiry's check-answers page: its cookie and the fields its "send" button posts."""
    import html as html_lib

    cookie, token = _csrf(client.http.get("/web/forms/inquiry?lang=en"))
    common = {"csrf": token, "lang": "en"}
    html = post(client, "/web/forms/inquiry", cookie, {**common, "step": "review", "question": question})
    shown = html.body.decode()
    return cookie, {
        **common,
        "step": "send",
        "document": html_lib.unescape(re.search(r'name="document" value="([^"]*)"', shown).group(1)),
        "once": re.search(r'name="once" value="([^"]+)"', shown).group(1),
    }


def test_a_second_tap_while_the_first_is_sending_waits_and_shows_the_same_receipt(client, monkeypatch):
    """A browser shows the answer to the last tap: "busy" there hid the receipt and access code
    of the submission the first tap made."""
    import hashlib
    import threading
    from datetime import UTC, datetime, timedelta

    from chalicelib.services import idempotency
    from chalicelib.store import idempotency as records
    from chalicelib.web import pages

    cookie, sent = _check_answers(client, "Is the gym open on holidays?")
    body = json.dumps(json.loads(sent["document"]), sort_keys=True, ensure_ascii=False).encode()
    key = idempotency._record_key("web-form:inquiry", idempotency.ANONYMOUS, sent["once"])
    # The first tap: begun, still running.
    assert (
        records.begin(
            key,
            hashlib.sha256(idempotency._canonical(body)).hexdigest(),
            idempotency.ANONYMOUS,
            datetime.now(UTC),
            timedelta(minutes=1),
        )
        is None
    )
    made = {"receipt": "KTS-2612-ABCD", "accessSecret": "SECRET-OF-THE-FIRST", "fee": None}
    threading.Timer(0.6, lambda: records.finish(key, 201, made)).start()
    second = post(client, "/web/forms/inquiry", cookie, sent)
    shown = second.body.decode()
    assert second.status_code == 200, shown
    assert 'id="receipt">KTS-2612-ABCD<' in shown and "SECRET-OF-THE-FIRST" in shown
    # A first tap that never ends (its lease not yet run out) is said to be in progress, not busy.
    monkeypatch.setattr(pages, "SECOND_TAP_WAIT_SECONDS", 0.5)
    cookie, stuck = _check_answers(client, "Is the pool open on holidays?")
    body = json.dumps(json.loads(stuck["document"]), sort_keys=True, ensure_ascii=False).encode()
    key = idempotency._record_key("web-form:inquiry", idempotency.ANONYMOUS, stuck["once"])
    records.begin(
        key,
        hashlib.sha256(idempotency._canonical(body)).hexdigest(),
        idempotency.ANONYMOUS,
        datetime.now(UTC),
        timedelta(minutes=1),
    )
    waiting = post(client, "/web/forms/inquiry", cookie, stuck)
    assert waiting.status_code == 409 and "reload this page" in waiting.body.decode()


@pytest.mark.parametrize("tampered", ["other answers", "a key too long"])
def test_a_check_answers_page_sent_again_changed_is_an_expired_page_not_busy(client, tampered):
    cookie, sent = _check_answers(client, "Where do I get a residence certificate?")
    assert post(client, "/web/forms/inquiry", cookie, sent).status_code == 200
    if tampered == "other answers":
        changed = {**sent, "document": json.dumps({"question": "Something else"})}
    else:
        changed = {**sent, "once": "x" * 5000}
    refused = post(client, "/web/forms/inquiry", cookie, changed)
    assert refused.status_code == 403 and "This page has expired" in refused.body.decode()


def test_what_a_resident_typed_is_shown_as_typed_and_the_forms_words_with_furigana(client):
    cookie, token = _csrf(client.http.get("/web/forms/inquiry?lang=ja-easy"))
    fields = {
        "csrf": token,
        "lang": "ja-easy",
        "step": "review",
        "question": "｜葛飾《かつしか》の <b>図書館</b>",
    }
    shown = post(client, "/web/forms/inquiry", cookie, fields).body.decode()
    assert "｜葛飾《かつしか》の &lt;b&gt;図書館&lt;/b&gt;" in shown  # sent as written, escaped
    assert "<rt>かつしか</rt>" not in shown.split('class="answers"')[1].split("</dl>")[0]
    assert "<ruby>" in shown  # the page's own words keep theirs


def test_an_answer_sent_twice_is_sent_once_and_a_refused_one_keeps_what_was_typed(client):

    receipt, code, cookie, fields = _inquiry_and_status_sign_in(client, "Can I book the hall?")
    _ward_asks(receipt, "Which date?")
    status = post(client, "/web/status", cookie, {**fields, "code": code}).body.decode()
    once = re.search(r'name="once" value="([^"]+)"', status).group(1)
    answer = {**fields, "code": code, "once": once}
    too_long = post(client, "/web/status/answer", cookie, {**answer, "text": "長" * 2001})
    assert too_long.status_code == 422 and "長" * 2001 + "</textarea>" in too_long.body.decode()
    for odd in ("\u202e", "\x07"):  # refused at the field as the API refuses it, not turned into a space
        refused = post(client, "/web/status/answer", cookie, {**answer, "text": f"abc{odd}def"})
        assert refused.status_code == 422 and 'href="#f-text"' in refused.body.decode()
    first, again = (
        post(client, "/web/status/answer", cookie, {**answer, "text": "12月24日"}) for _ in range(2)
    )
    for sent in (first, again):  # the reload shows the same "sent", not "not waiting for an answer"
        assert sent.status_code == 200 and "Your answer has been sent" in sent.body.decode(), sent.body
    thread = client.http.get(f"/submissions/{receipt}/responses", headers={"X-Access-Secret": code})
    assert [e["text"] for e in json.loads(thread.body)["thread"] if e["who"] == "resident"] == ["12月24日"]
    # A new answer page (another tab) finds it answered already: said at the status, which is shown.
    late = post(client, "/web/status/answer", cookie, {**answer, "once": "another-tab-0001", "text": "x"})
    assert late.status_code == 422 and 'href="#status"' in late.body.decode()


def test_a_photo_id_that_is_no_upload_is_refused_at_the_photos_not_dropped(client):
    """The page's script lists the uploaded photos in a hidden field; anything else there (a page
    tampered with) is said at the photos and sends nothing, and the page shown again no longer
    carries it, so sending again sends the answer."""
    from chalicelib.domain import submissions as rules
    from chalicelib.store import submissions as store

    receipt, code, cookie, fields = _inquiry_and_status_sign_in(client, "Can I bring a photo?")
    _ward_asks(receipt, "Which photo?")
    status = post(client, "/web/status", cookie, {**fields, "code": code}).body.decode()
    once = re.search(r'name="once" value="([^"]+)"', status).group(1)
    answer = {**fields, "code": code, "once": once, "text": "This one", "photos": "../../staff/secret"}
    refused = post(client, "/web/status/answer", cookie, answer)
    html = refused.body.decode()
    assert refused.status_code == 422 and 'href="#f-photos"' in html and "cannot be found" in html
    assert "This one</textarea>" in html and "../../staff/secret" not in html
    assert store.get(receipt).status == rules.NEEDS_INFO
    photos = re.search(r'name="photos" value="([^"]*)"', html)
    sent = post(client, "/web/status/answer", cookie, {**answer, "photos": photos.group(1) if photos else ""})
    assert sent.status_code == 200 and "Your answer has been sent" in sent.body.decode()


def test_a_status_page_left_open_past_its_cookie_answers_lookups_and_keeps_an_unsent_answer(client):
    """Past the two-hour CSRF cookie, a post from our own page: a status lookup (it changes
    nothing) is answered; an answer is not sent, but shown again as typed, with its send key."""
    import html as html_lib

    from chalicelib.domain import submissions as rules
    from chalicelib.domain.messages import catalogue as texts
    from chalicelib.store import submissions as store

    receipt, code, _, fields = _inquiry_and_status_sign_in(client, "Can I bring my dog?")
    _ward_asks(receipt, "Which dog?")
    own_page = {**FORM, "Sec-Fetch-Site": "same-origin", "Origin": "http://localhost", "Host": "localhost"}
    stale = {**fields, "csrf": "stale" * 8, "code": code}
    looked = client.http.post("/web/status", body=urlencode(stale), headers=own_page)
    assert looked.status_code == 200 and 'id="status"' in looked.body.decode()
    typed = {**stale, "text": "A <small> dog, 5 kg", "once": "answer-key-0001"}
    again = client.http.post("/web/status/answer", body=urlencode(typed), headers=own_page)
    html = again.body.decode()
    assert again.status_code == 200
    assert html_lib.escape(texts()["web.send_again"]["en"], quote=False) in html
    assert "A &lt;small&gt; dog, 5 kg</textarea>" in html and 'name="once" value="answer-key-0001"' in html
    assert store.get(receipt).status == rules.NEEDS_INFO
    wrong = client.http.post(
        "/web/status/answer", body=urlencode({**typed, "code": "WRONG"}), headers=own_page
    )
    assert wrong.status_code == 404  # the code is still checked
    cookie, token = _csrf(again)
    sent = post(client, "/web/status/answer", cookie, {**typed, "csrf": token})
    assert sent.status_code == 200 and "Your answer has been sent" in sent.body.decode()
    # Another site's post, or one the browser does not vouch for, still gets "expired".
    for headers in (
        {**own_page, "Sec-Fetch-Site": "cross-site"},
        {**own_page, "Origin": "https://evil.example"},
        FORM,
    ):
        for path, body in (("/web/status", stale), ("/web/status/answer", typed)):
            assert client.http.post(path, body=urlencode(body), headers=headers).status_code == 403


def test_the_language_switch_while_answering_keeps_the_answer_and_sends_nothing(client):
    from chalicelib.domain import submissions as rules
    from chalicelib.store import submissions as store

    receipt, code, cookie, fields = _inquiry_and_status_sign_in(client, "Is there parking?")
    _ward_asks(receipt, "Car or bike?")
    status = post(client, "/web/status", cookie, {**fields, "code": code}).body.decode()
    assert _switch_form(status) == "answer-form"
    typed = {**_form_fields(status, "answer-form"), "text": ["A small <car>"], "switch": ["ja"]}
    switched = post(client, "/web/status/answer", cookie, {k: v[0] for k, v in typed.items()})
    html = switched.body.decode()
    assert (
        switched.status_code == 200
        and '<html lang="ja">' in html
        and "A small &lt;car&gt;</textarea>" in html
    )
    assert store.get(receipt).status == rules.NEEDS_INFO  # nothing sent
    assert f'name="once" value="{typed["once"][0]}"' in html


def _switch_form(html: str) -> str:
    """The id of the form the page's language switch posts (JavaScript off)."""
    forms = set(re.findall(r'<button type="submit" form="([^"]+)" name="switch" value="[^"]+"', html))
    assert len(forms) == 1, forms
    return forms.pop()


def _form_fields(html: str, form_id: str) -> dict[str, list[str]]:
    """The fields a browser would post with the form `form_id` (hidden, text and textarea)."""
    import html as html_lib

    start = html.index(f'id="{form_id}"')
    body = html[html.rindex("<form", 0, start) : html.index("</form>", start)]
    fields: dict[str, list[str]] = {}
    for name, value in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', body):
        fields.setdefault(name, []).append(html_lib.unescape(value))
    for name, value in re.findall(r'<textarea[^>]* name="([^"]+)"[^>]*>([^<]*)</textarea>', body):
        fields.setdefault(name, []).append(html_lib.unescape(value))
    return fields


def test_the_language_switch_keeps_what_was_typed_the_answers_the_receipt_and_the_status(client):
    """With JavaScript off, a link to ?lang= lost a typed question, the check-answers page, the
    receipt and access code, and a signed-in status; the switch now posts the page's state."""
    cookie, _ = _csrf(client.http.get("/web/forms/inquiry?lang=en"))
    page = client.http.get("/web/forms/inquiry?lang=en", headers={"Cookie": cookie}).body.decode()
    typed = {**_form_fields(page, _switch_form(page)), "question": ["Where is the 図書館?"], "switch": ["ko"]}
    again = post(client, "/web/forms/inquiry", cookie, typed)
    shown = again.body.decode()
    assert again.status_code == 200 and '<html lang="ko">' in shown and 'id="error-summary"' not in shown
    assert "Where is the 図書館?</textarea>" in shown
    review = post(
        client,
        "/web/forms/inquiry",
        cookie,
        {**_form_fields(shown, "answers"), "question": ["Where is the 図書館?"]},
    )
    in_vi = post(
        client,
        "/web/forms/inquiry",
        cookie,
        {**_form_fields(review.body.decode(), "answers"), "switch": ["vi"]},
    )
    assert in_vi.status_code == 200 and '<html lang="vi">' in in_vi.body.decode()
    assert 'name="once"' in in_vi.body.decode() and "Where is the 図書館?" in in_vi.body.decode()
    sent = post(client, "/web/forms/inquiry", cookie, _form_fields(in_vi.body.decode(), "answers"))
    done = sent.body.decode()
    receipt = re.search(r'id="receipt">([^<]+)<', done).group(1)
    code = re.search(r'id="access-code">([^<]+)<', done).group(1)
    switched = post(
        client, "/web/forms/inquiry", cookie, {**_form_fields(done, _switch_form(done)), "switch": ["en"]}
    )
    assert '<html lang="en">' in switched.body.decode()
    assert f'id="receipt">{receipt}<' in switched.body.decode() and code in switched.body.decode()
    # Its key changed or gone (tampered, or forgotten a day later): the page expired, nothing filed.
    for once in (["another-key-000000"], [""]):
        resent = {**_form_fields(done, _switch_form(done)), "switch": ["en"], "once": once}
        refused = post(client, "/web/forms/inquiry", cookie, resent)
        assert refused.status_code == 403 and 'id="receipt"' not in refused.body.decode()
    signin = {"csrf": typed["csrf"], "lang": "en", "receipt": receipt, "code": code}
    status = post(client, "/web/status", cookie, signin)
    view = status.body.decode()
    in_ne = post(client, "/web/status", cookie, {**_form_fields(view, _switch_form(view)), "switch": ["ne"]})
    assert in_ne.status_code == 200 and '<html lang="ne">' in in_ne.body.decode()
    assert f'class="code">{receipt}<' in in_ne.body.decode()
    # A page that needs no post keeps what its address asked for (a refresh, a chosen time, a week).
    assert 'href="?lang=en&amp;auto=1"' in client.http.get("/queue?auto=1").body.decode()
    week = client.http.get("/web/consultations/legal?from=2027-01-12&lang=ja").body.decode()
    assert 'href="?lang=vi&amp;from=2027-01-12"' in week


def test_the_error_summary_reads_in_page_order_with_one_line_per_field(client):
    cookie, token = _csrf(client.http.get("/web/forms/road-park-damage?lang=en"))
    example = copy.deepcopy(get_form("road-park-damage").example)
    example.pop("photos", None)
    answers = {
        **form_fields.flat_values(example),
        "email": ["not-an-email"],
        "location.latitude": ["north"],
        "location.longitude": ["east"],
        "phone": ["+81 3-1234-5678"],  # too long and not written as expected: one line
    }
    refused = post(
        client,
        "/web/forms/road-park-damage",
        cookie,
        {"csrf": token, "lang": "en", "step": "review", **answers},
    )
    html = refused.body.decode()
    summary = html[html.index('id="error-summary"') : html.index("</div>", html.index('id="error-summary"'))]
    linked = re.findall(r'<a href="#([^"]+)">', summary)
    assert refused.status_code == 422 and len(linked) == len(set(linked)) >= 3, linked
    places = [
        html.index(f'id="{anchor}"', html.index("</div>", html.index('id="error-summary"')))
        for anchor in linked
    ]
    assert places == sorted(places), linked


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_a_page_that_fails_on_our_side_is_a_page_in_the_residents_language_not_json(
    client, monkeypatch, method
):
    """Whatever breaks behind a resident page (a store, a bug), the resident gets a page in their
    language, not the API's JSON."""
    import html as html_lib

    from chalicelib.domain.messages import catalogue as texts
    from chalicelib.services import submissions as service

    def broken(*args, **kwargs):
        raise RuntimeError("the store fell over")

    monkeypatch.setattr(service, "resident_access", broken)
    if method == "GET":
        monkeypatch.setattr("chalicelib.domain.forms.catalogue", broken)
        failed = client.http.get("/web?lang=en")
    else:
        cookie, token = _csrf(client.http.get("/web/status"))
        failed = post(
            client,
            "/web/status",
            cookie,
            {"csrf": token, "lang": "en", "receipt": "KTS-2612-AAAA", "code": "x"},
        )
    html = failed.body.decode()
    assert failed.status_code == 500 and headers(failed)["content-type"].startswith("text/html")
    assert html_lib.escape(texts()["error.internal"]["en"], quote=False) in html and 'lang="en"' in html
    assert "the store fell over" not in html


def test_every_page_links_the_queue_page_and_names_the_language_switch_once_in_english(client):
    english = client.http.get("/web?lang=en").body.decode()
    assert 'href="/queue?lang=en"' in english and "How busy the counters are" in english
    assert '<span lang="en">Language</span></span>' in english  # not "Language / Language"
    japanese = client.http.get("/web?lang=ja").body.decode()
    assert '<span lang="en">Language</span> / 言語' in japanese and 'href="/queue?lang=ja"' in japanese


def test_the_bare_address_and_web_forms_lead_to_the_catalogue_in_the_language_asked_for(client):
    for path in ("/", "/web/forms"):
        moved = client.http.get(f"{path}?lang=en")
        assert (moved.status_code, headers(moved)["location"]) == (303, "/web?lang=en"), path
    assert (
        headers(client.http.get("/web/forms", headers={"Accept-Language": "ko"}))["location"]
        == "/web?lang=ko"
    )


@pytest.mark.parametrize(
    ("delivery", "says", "pay_button"),
    [
        ("mail", "It is received once the fee is paid. If it is not paid within 14 days", True),
        ("counter", "Pay the fee at the counter when you collect it.", False),
    ],
)
def test_the_check_and_done_pages_say_how_the_fee_is_paid(client, delivery, says, pay_button):
    """A walkthrough: a certificate by post, paid first, was told "we will tell you how to pay
    after we receive it" with no way to pay, and withdrawn unpaid 14 days later."""
    import html as html_lib

    cookie, token = _csrf(client.http.get("/web/forms/juminhyo-copy?lang=en"))
    common = {"csrf": token, "lang": "en"}
    flat = {**form_fields.flat_values(get_form("juminhyo-copy").example), "delivery": [delivery]}
    if delivery == "counter":
        flat.pop("postalCode")
    review = post(
        client, "/web/forms/juminhyo-copy", cookie, {**common, "step": "review", "screen": "1", **flat}
    )
    assert says in html_lib.unescape(review.body.decode()), review.body.decode()
    document = html_lib.unescape(re.search(r'name="document" value="([^"]*)"', review.body.decode()).group(1))
    done = post(client, "/web/forms/juminhyo-copy", cookie, {**common, "step": "send", "document": document})
    html = html_lib.unescape(done.body.decode())
    receipt = re.search(r'id="receipt">([^<]+)<', html).group(1)
    assert says in html and ('id="pay-now"' in html) is pay_button
    # Not "received" while it waits for its fee (a re-test: the title said so).
    assert ("We have your application: the fee is still to pay" in html) is pay_button
    if pay_button:  # the button opens the payment page, signed in by the code the page shows
        code = re.search(r'id="access-code">([^<]+)<', html).group(1)
        pay = post(client, f"/web/payments/{receipt}", cookie, {**common, "code": code})
        assert pay.status_code == 200 and 'name="method"' in pay.body.decode()


def test_a_fee_paid_after_approval_is_told_so_before_sending(client):
    import html as html_lib

    cookie, token = _csrf(client.http.get("/web/forms/bulky-waste-collection?lang=en"))
    flat = form_fields.flat_values(get_form("bulky-waste-collection").example)
    common = {"csrf": token, "lang": "en", "step": "review", "screen": "1"}
    review = post(client, "/web/forms/bulky-waste-collection", cookie, {**common, **flat})
    assert "We will tell you how to pay once the city has checked your request." in html_lib.unescape(
        review.body.decode()
    )


def test_a_field_required_after_an_answer_says_so_instead_of_optional(client):
    """A walkthrough: postal code, purpose details and the report's place were labelled
    "(optional)", then refused as missing."""
    import html as html_lib

    cookie, token = _csrf(client.http.get("/web/forms/juminhyo-copy?lang=en"))
    flat = form_fields.flat_values(get_form("juminhyo-copy").example)
    request_only = {k: v for k, v in flat.items() if k in ("scope", "copies", "purpose", "delivery")}
    step_two = post(
        client,
        "/web/forms/juminhyo-copy",
        cookie,
        {"csrf": token, "lang": "en", "step": "review", "screen": "0", **request_only},
    )
    step_one = html_lib.unescape(client.http.get("/web/forms/juminhyo-copy?lang=en").body.decode())
    shown = html_lib.unescape(step_two.body.decode())
    for page, name, says in (
        (shown, "postalCode", "(required when “How to receive it” is “By post to the registered address”)"),
        (step_one, "purposeDetail", "(required when “Purpose” is “Other”)"),  # with the purpose
    ):
        label = page.split(f'for="f-{name}"')[1].split("</label>")[0]
        assert says in label and "(optional)" not in label, label
    report = html_lib.unescape(client.http.get("/web/forms/road-park-damage?lang=en").body.decode())
    for part in ("latitude", "longitude", "address"):  # a pin or an address: neither "optional"
        label = report.split(f'for="f-location-{part}"')[1].split("</label>")[0]
        assert "(optional)" not in label, label


def test_settings_saved_without_consent_say_why_no_news_comes(client, sandbox):
    """A walkthrough: "Saved." and "News does not reach you now." with no word of the box."""
    from chalicelib.domain import preferences as rules
    from chalicelib.store import residents
    from tests.integration.conftest import new_user_id

    user_id = new_user_id()
    assert residents.record_follow(user_id, "ja", 1)
    minted = _id_token(sandbox, user_id)
    cookie, token = _csrf(client.http.get("/web/settings"))
    chosen = {"csrf": token, "lang": "en", "id_token": minted, "action": "save", "language": "en"}
    chosen["topics"] = [rules.choices("en")["topics"][0]["id"]]
    saved = post(client, "/web/settings", cookie, chosen).body.decode()
    assert "Saved." in saved and "News does not reach you now." in saved
    assert "tick “I agree to the terms and want to receive news” below" in saved
    agreed = post(client, "/web/settings", cookie, {**chosen, "consent": "yes"}).body.decode()
    assert "Saved." in agreed and "below and save" not in agreed


def test_changing_the_answers_shows_the_photos_already_attached(client):
    """A walkthrough: after "Change your answers" the page showed no photo, and adding it again
    attached it twice."""
    import html as html_lib

    from tests.integration.test_staff_submissions import FIXTURES, upload_photo

    form = get_form("road-park-damage")
    photo = upload_photo(client, FIXTURES / "gps.jpg")
    flat = form_fields.flat_values({k: v for k, v in form.example.items() if k != "photos"})
    cookie, token = _csrf(client.http.get("/web/forms/road-park-damage?lang=en"))
    answers = {"csrf": token, "lang": "en", "step": "review", "screen": "0", **flat, "photos": photo}
    review = post(client, "/web/forms/road-park-damage", cookie, answers)
    assert "Check your answers" in review.body.decode()
    html = review.body.decode()
    document = html_lib.unescape(re.search(r'name="document" value="([^"]*)"', html).group(1))
    back = {"csrf": token, "lang": "en", "step": "send", "document": document, "change": "1"}
    changed = post(client, "/web/forms/road-park-damage", cookie, back).body.decode()
    assert f'name="photos" id="f-photos-ids" value="{photo}"' in changed
    assert 'id="f-photos-status">Photo added (1)</p>' in changed


@pytest.mark.parametrize("language", ["en", "vi"])
def test_where_a_resident_is_told_to_call_the_city_the_number_is_given(client, language):
    """A walkthrough: "call us" on the report form, the lost code and every page, with no number."""
    status = client.http.get(f"/web/status?lang={language}").body.decode()
    assert status.count("03-3695-1111") == 2  # the lost-code hint and the footer
    report = client.http.get(f"/web/forms/road-park-damage?lang={language}").body.decode()
    assert report.count("03-3695-1111") == 2  # the form's "also call us" and the footer
