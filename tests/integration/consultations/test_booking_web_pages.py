"""The resident booking pages (`/web/consultations`, `/web/bookings`) by plain form posts
(JavaScript off) over the local stack: pick a slot, book, see, move and cancel the booking."""

from __future__ import annotations

import re
from urllib.parse import urlencode

import pytest

from chalicelib.domain.residents import LANGUAGES
from chalicelib.store import consultations as store

FORM = {"Content-Type": "application/x-www-form-urlencoded"}
MISSING = re.compile(r">\s*(web|form|status|consult)\.[a-z_.-]+\s*<")
MAX_PAGE_BYTES = 100 * 1024
WEIGHTS: dict[str, int] = {}


class Browser:
    """A resident without JavaScript: the CSRF cookie from the first page, forms posted."""

    def __init__(self, client, language: str = "ja") -> None:
        self.client, self.language = client, language
        self.cookie = self.csrf = ""

    def _check(self, response, where: str) -> str:
        html = response.body.decode()
        assert "<main" in html and not MISSING.search(html), html
        sent = {k.lower(): v for k, v in response.headers.items()}
        assert "unsafe-inline" not in sent["content-security-policy"]
        assert "<script>" not in html and "style=" not in html
        assets = sum(len(self.client.http.get(f"/web/static/{n}").body) for n in ("web.css", "web.js"))
        WEIGHTS[f"{where} {self.language}"] = len(html.encode()) + assets
        assert len(html.encode()) + assets < MAX_PAGE_BYTES
        if "set-cookie" in sent:
            self.cookie = sent["set-cookie"].split(";", 1)[0]
            self.csrf = self.cookie.split("=", 1)[1]
        return html

    def get(self, path: str):
        sep = "&" if "?" in path else "?"
        response = self.client.http.get(f"{path}{sep}lang={self.language}")
        return response.status_code, self._check(response, path.split("?")[0].rsplit("/", 1)[-1])

    def post(self, path: str, **fields: str):
        body = urlencode({"csrf": self.csrf, "lang": self.language, **fields})
        response = self.client.http.post(path, body=body, headers={**FORM, "Cookie": self.cookie})
        return response.status_code, self._check(
            response, f"{path.rsplit('/', 1)[-1]} {fields.get('action', '')}"
        )


def booked_from(html: str) -> tuple[str, str]:
    number = re.search(r'id="booking-number">(BK-[0-9A-Z-]+)<', html).group(1)
    return number, re.search(r'id="access-code">([^<]+)<', html).group(1)


def test_book_see_move_and_cancel_by_the_web_pages(client, slot):
    first = slot("legal", capacity=2)
    page = Browser(client)
    status, html = page.get("/web/consultations")
    assert status == 200 and 'href="/web/consultations/legal?lang=ja"' in html
    status, html = page.get("/web/consultations/legal")
    assert status == 200 and f'value="{first}"' in html and "残り2" in html
    assert f"<legend>{first[:10]} (" in html and "曜日)</legend>" in html  # each day with its weekday

    status, html = page.get("/web/consultations/legal/book")  # "continue" with no time chosen
    assert status == 422 and 'href="#f-slot-first"' in html and 'id="f-slot-first"' in html
    status, html = page.get(f"/web/consultations/legal/book?slot={first}")
    assert status == 200 and 'name="mode"' in html and 'name="eligibility"' in html

    status, html = page.post("/web/consultations/legal/book", slot=first)
    assert status == 422 and 'class="error-summary"' in html
    anchors = ("f-mode-in_person", "f-eligibility-resident", "f-name", "f-email")
    for anchor in anchors:
        assert f'href="#{anchor}"' in html and f'id="{anchor}"' in html
    # The summary lists them in the order the page asks them.
    assert re.findall(r'href="#(f-[a-z_-]+)"', html.split('id="error-summary"')[1])[:4] == list(anchors)
    status, html = page.post(
        "/web/consultations/legal/book",
        slot=first,
        mode="in_person",
        name="葛飾 花子",
        email="bad",
        eligibility="resident",
    )
    assert status == 422 and 'href="#f-email"' in html and 'value="葛飾 花子"' in html  # kept

    fields = {"slot": first, "mode": "online", "name": "葛飾 花子", "eligibility": "resident"}
    # Typed in full width on a Japanese keyboard: kept as the ASCII address mail reaches.
    status, html = page.post("/web/consultations/legal/book", **fields, email="ｈａｎａｋｏ-web＠example.com")
    assert status == 200
    number, code = booked_from(html)
    assert store.get(number).status == "booked" and store.get(number).channel == "web"
    assert store.get(number).email == "hanako-web@example.com"
    assert "確認コードはもう表示されません" in html
    status, html = page.get("/web/consultations/legal")
    assert "残り1" in html

    status, html = page.post("/web/bookings", booking=number, code="WRONG")
    assert status == 404 and 'class="error-summary"' in html
    status, html = page.post("/web/bookings", booking=number)
    assert status == 422 and "予約番号と確認コードを入力してください" in html
    status, html = page.post("/web/bookings", booking=number.lower(), code=code)
    assert status == 200 and "予約中" in html and code not in html.replace(f'value="{code}"', "")
    # The language switch shows the booking again, in English, still signed in.
    from tests.integration.test_web_pages import _form_fields, _switch_form

    fields = {k: v[0] for k, v in _form_fields(html, _switch_form(html)).items()}
    status, switched = page.post("/web/bookings", **{**fields, "switch": "en", "lang": "ja"})
    assert status == 200 and '<html lang="en">' in switched and "Booked" in switched and number in switched

    later = slot("legal", capacity=1)
    status, html = page.post("/web/bookings", booking=number, code=code, action="move")
    assert status == 200 and f'value="{later}"' in html
    assert 'form="again" name="switch"' in html  # the switch shows these times again, signed in
    status, switched = page.post("/web/bookings", booking=number, code=code, action="move", switch="en")
    assert status == 200 and '<html lang="en">' in switched and f'value="{later}"' in switched
    # "Next 7 days" on the move page: the following week, even with a time chosen; nothing moved.
    week = re.search(r'name="from" value="([0-9-]+)"', html).group(1)
    status, html = page.post(
        "/web/bookings", booking=number, code=code, action="move", slot=later, **{"from": week}
    )
    assert status == 200 and f'value="{later}"' not in html and store.get(number).slot == first
    status, html = page.post("/web/bookings", booking=number, code=code, action="move", slot="garbage")
    assert status == 422 and 'class="error-summary"' in html and store.get(number).slot == first
    status, html = page.post("/web/bookings", booking=number, code=code, action="move", slot=first)
    assert status == 200 and "ご予約はすでにこの日時です" in html and "予約の日時を変えました" not in html
    status, html = page.post("/web/bookings", booking=number, code=code, action="move", slot=later)
    assert status == 200 and "予約の日時を変えました" in html and store.get(number).slot == later

    # A cancel is asked once more (a walkthrough: one tap, right under "move", and final).
    status, html = page.post("/web/bookings", booking=number, code=code, action="cancel")
    assert status == 200 and "この予約を取り消しますか" in html and store.get(number).status == "booked"
    assert 'name="confirm" value="1"' in html and 'id="cancel-keep"' in html
    status, html = page.post("/web/bookings", booking=number, code=code, action="cancel", confirm="1")
    assert status == 200 and "取消済み" in html and store.get(number).status == "cancelled"
    assert 'value="cancel"' not in html  # nothing more to do with it but book another time
    assert re.search(r'href="/web/consultations/[a-z-]+\?lang=ja">別の日時を予約する</a>', html)
    # Cancelled already (a second tap, Back and send again): said so, not "cannot be cancelled".
    status, html = page.post("/web/bookings", booking=number, code=code, action="cancel")
    assert status == 200 and "予約を取り消しました" in html and 'class="error-summary"' not in html
    status, html = page.post("/web/bookings", booking=number, code=code, action="move")
    assert status == 409 and 'class="error-summary"' in html and 'name="slot"' not in html


def test_a_sensitive_consultation_is_not_named_after_booking(client, slot):
    from chalicelib.domain import consultations as rules

    service = rules.get_service("lgbts")
    chosen = slot("lgbts", capacity=1, section="jinken-suishin")
    page = Browser(client, "en")
    page.get(f"/web/consultations/lgbts/book?slot={chosen}")
    status, html = page.post(
        "/web/consultations/lgbts/book", slot=chosen, mode="in_person", name="A", phone="03-1234-5678"
    )
    assert status == 200 and 'name="eligibility"' not in html
    assert "Where: Katsushika City Office" in html  # in person: the place, and the desk to go to
    assert service.title("en") not in html and "City consultation" in html
    number, code = booked_from(html)
    status, html = page.post("/web/bookings", booking=number, code=code)
    assert status == 200 and service.title("en") not in html and "<title>Your booking" in html


def test_inside_line_the_id_token_books_and_finds_the_booking(client, slot, mint):
    from tests.integration.conftest import new_user_id

    user = new_user_id()
    token = mint(user)
    chosen = slot("legal", capacity=1)
    page = Browser(client, "en")
    page.get(f"/web/consultations/legal/book?slot={chosen}")
    fields = {"slot": chosen, "mode": "in_person", "eligibility": "worker", "id_token": token}
    status, html = page.post("/web/consultations/legal/book", **fields)
    assert (
        status == 200 and "Booking number" in html and "access code" not in html.lower().split("</main>")[0]
    )
    number = re.search(r'id="booking-number">(BK-[0-9A-Z-]+)<', html).group(1)
    assert store.get(number).line_user_id == user and store.get(number).channel == "line"
    status, html = page.post("/web/bookings", id_token=token)  # the LIFF sign-in: my bookings
    # Each named by its service, as the chat's list does (a walkthrough: a time and a number only).
    from chalicelib.domain import consultations as rules

    assert status == 200 and f"{rules.get_service('legal').public_title('en')} · " in html and number in html
    status, html = page.post("/web/bookings", id_token=token, booking=number)
    assert status == 200 and 'value="move"' in html
    status, html = page.post("/web/bookings", id_token=mint(new_user_id()), booking=number)
    assert status == 404  # another LINE user's booking is nobody's business


def test_a_full_slot_sends_the_resident_back_to_the_picker(client, slot):
    chosen = slot("legal", capacity=1)
    first, second = Browser(client), Browser(client)
    first.get(f"/web/consultations/legal/book?slot={chosen}")
    second.get(f"/web/consultations/legal/book?slot={chosen}")
    fields = {"slot": chosen, "mode": "in_person", "name": "A", "eligibility": "resident"}
    assert first.post("/web/consultations/legal/book", **fields, email="first-web@example.com")[0] == 200
    status, html = second.post("/web/consultations/legal/book", **fields, email="second-web@example.com")
    assert status == 422 and "その時間は予約できなくなりました" in html and f'value="{chosen}"' not in html


def test_posts_without_the_csrf_cookie_are_refused(client, slot):
    chosen = slot("legal", capacity=1)
    body = urlencode({"csrf": "x" * 32, "slot": chosen, "mode": "in_person", "name": "A", "email": "a@b.jp"})
    response = client.http.post("/web/consultations/legal/book", body=body, headers=FORM)
    assert response.status_code == 403


def test_a_booking_page_left_open_past_its_cookie_books_nothing_and_keeps_what_was_typed(client, slot):
    """The CSRF cookie lasts two hours. A booking form, or a booking's page, left open longer
    posts from our own page without it: shown again, typed answers kept and a note; nothing is
    booked or cancelled until the resident sends again (with the same send key)."""
    import html as html_lib

    from chalicelib.domain.messages import catalogue as texts

    note = html_lib.escape(texts()["web.send_again"]["en"], quote=False)
    chosen = slot("legal", capacity=1)
    own_page = {**FORM, "Sec-Fetch-Site": "same-origin", "Origin": "http://localhost", "Host": "localhost"}
    typed = {"csrf": "stale" * 8, "lang": "en", "slot": chosen, "mode": "in_person", "name": "Hana <b>K</b>"}
    typed |= {
        "email": "hana-stale@example.com",
        "eligibility": "resident",
        "note": "wheelchair",
        "once": "k" * 22,
    }
    again = client.http.post("/web/consultations/legal/book", body=urlencode(typed), headers=own_page)
    html = again.body.decode()
    assert again.status_code == 200 and note in html and 'class="error-summary"' not in html
    assert 'value="Hana &lt;b&gt;K&lt;/b&gt;"' in html and ">wheelchair</textarea>" in html
    assert f'name="once" value="{"k" * 22}"' in html and f'value="{chosen}"' in html
    assert store.get_slot("legal", chosen).booked == 0
    page = Browser(client, "en")
    page._check(again, "book again")
    status, html = page.post(
        "/web/consultations/legal/book", **{k: v for k, v in typed.items() if k != "csrf"}
    )
    assert status == 200
    number, code = booked_from(html)

    # A booking's page: the cancel asked for is not done; the booking shown as it is.
    asked = {"csrf": "stale" * 8, "lang": "en", "booking": number, "code": code, "action": "cancel"}
    shown = client.http.post("/web/bookings", body=urlencode(asked), headers=own_page)
    assert shown.status_code == 200 and note in shown.body.decode()
    assert store.get(number).status == "booked"
    wrong = client.http.post("/web/bookings", body=urlencode({**asked, "code": "WRONG"}), headers=own_page)
    assert wrong.status_code == 404  # the code is still checked, one try spent
    # Another site's post, or one the browser does not vouch for, still gets "expired".
    for headers in (
        {**own_page, "Sec-Fetch-Site": "cross-site"},
        {**own_page, "Origin": "https://evil.example"},
        FORM,
    ):
        assert client.http.post("/web/bookings", body=urlencode(asked), headers=headers).status_code == 403
        response = client.http.post("/web/consultations/legal/book", body=urlencode(typed), headers=headers)
        assert response.status_code == 403
    assert store.get(number).status == "booked"


def test_a_client_locked_out_for_wrong_codes_is_told_so_not_that_the_right_code_is_wrong(client, slot):
    from chalicelib.services.access_codes import CLIENT_WRONG_CODES

    page = Browser(client, "en")
    page.get("/web/bookings")
    fields = {"slot": slot("legal"), "mode": "in_person", "name": "A", "eligibility": "resident"}
    number, code = booked_from(
        page.post("/web/consultations/legal/book", **fields, email="lock@example.com")[1]
    )
    for n in range(CLIENT_WRONG_CODES[0]):  # spread over bookings, as someone trying numbers would
        status, html = page.post("/web/bookings", booking=f"BK-2612-ZZZ{n:03d}", code="WRONG")
        assert status == 404 and "The booking number or access code is wrong." in html
    status, html = page.post("/web/bookings", booking=number, code=code)
    assert status == 429 and "Too many wrong codes" in html and "access code is wrong" not in html


def test_a_booking_past_its_change_deadline_offers_no_move_or_cancel_and_says_to_call(
    client, slot, monkeypatch
):
    """Booked (or moved) inside the service's change deadline: no 'change until' in the past and
    no buttons that can only fail; the page says changes are made by phone."""
    import dataclasses
    from datetime import timedelta

    from chalicelib.domain import consultations as rules

    strict = dataclasses.replace(rules.get_service("legal"), cancel_deadline=timedelta(days=400))
    monkeypatch.setitem(rules.catalogue(), "legal", strict)
    monkeypatch.setattr(rules, "CHANGE_GRACE", timedelta(0))  # past the grace after booking too
    page = Browser(client, "en")
    page.get("/web/bookings")
    fields = {"slot": slot("legal"), "mode": "in_person", "name": "A", "eligibility": "resident"}
    status, html = page.post("/web/consultations/legal/book", **fields, email="late@example.com")
    assert status == 200 and "Changes close 9600 hours before the start. Please call the city." in html
    assert "Change or cancel until" not in html
    number, code = booked_from(html)
    status, html = page.post("/web/bookings", booking=number, code=code)
    assert status == 200 and "Please call the city." in html
    assert (
        'value="move"' not in html and 'value="cancel"' not in html and "Change or cancel until" not in html
    )


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_booking_page_state_is_complete_in_every_language(client, slot, language):
    chosen = slot("legal", capacity=1)
    page = Browser(client, language)
    lang_attr = "ja" if language == "ja-easy" else language
    for path in ("/web/consultations", "/web/consultations/legal", "/web/bookings"):
        status, html = page.get(path)
        assert status == 200 and f'<html lang="{lang_attr}">' in html
    assert page.get(f"/web/consultations/legal/book?slot={chosen}")[0] == 200
    assert page.post("/web/consultations/legal/book", slot=chosen)[0] == 422
    fields = {"slot": chosen, "mode": "in_person", "name": "A", "eligibility": "student"}
    status, html = page.post("/web/consultations/legal/book", **fields, email=f"{language}-web@example.com")
    assert status == 200
    number, code = booked_from(html)
    assert page.post("/web/bookings", booking=number, code=code)[0] == 200
    assert page.post("/web/bookings", booking=number, code=code, action="move")[0] == 200
    assert page.post("/web/bookings", booking=number, code=code, action="cancel")[0] == 200
    assert page.post("/web/bookings", booking=number, code=code, action="cancel", confirm="1")[0] == 200
    print("booking page weights (bytes, with CSS and JS):", max(WEIGHTS.values()), WEIGHTS)


@pytest.mark.parametrize("asked", ["9999-12-25", "0001-01-01", "2026-02-30", "２０２６-12-14", "soon"])
def test_a_week_asked_for_outside_the_calendar_shows_this_week(client, asked):
    page = client.http.get(f"/web/consultations/legal?from={asked}&lang=en")
    assert page.status_code == 200 and "Legal consultation" in page.body.decode()


def test_the_booking_form_sent_twice_books_once_and_shows_the_same_code_and_its_switch_keeps_it(client, slot):
    """A double tap or a reload used to answer "already booked", and the access code was never
    shown again; the language switch emptied what was typed."""
    import re

    first = slot("legal", capacity=2)
    page = Browser(client)
    status, html = page.get(f"/web/consultations/legal/book?slot={first}")
    once = re.search(r'name="once" value="([^"]+)"', html).group(1)
    assert 'form="booking" name="switch"' in html
    fields = {"slot": first, "mode": "online", "name": "二度 押し", "eligibility": "resident", "once": once}
    status, html = page.post("/web/consultations/legal/book", **fields, switch="en")
    assert status == 200 and '<html lang="en">' in html and 'value="二度 押し"' in html and once in html
    answers = [
        page.post("/web/consultations/legal/book", **fields, email="twice@example.com") for _ in range(2)
    ]
    assert [status for status, _ in answers] == [200, 200]
    assert booked_from(answers[0][1]) == booked_from(answers[1][1])
    assert int(store.get_slot("legal", first).booked) == 1


def test_the_booked_pages_language_switch_shows_the_same_booking_and_code_and_books_nothing(client, slot):
    """The page that shows the access code once had link switches: a tap lost the number and code."""
    first = slot("legal", capacity=2)
    page = Browser(client)
    status, html = page.get(f"/web/consultations/legal/book?slot={first}")
    once = re.search(r'name="once" value="([^"]+)"', html).group(1)
    fields = {"slot": first, "mode": "online", "name": "言語 切替", "email": "switch@example.com"}
    status, html = page.post("/web/consultations/legal/book", **fields, eligibility="resident", once=once)
    assert status == 200 and 'form="again" name="switch"' in html and '<a href="?lang=' not in html
    booked = booked_from(html)
    again = dict(
        re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', html.split('id="again"')[1])
    )
    again.pop("lang")

    status, html = page.post("/web/consultations/legal/book", **again, switch="en")
    assert status == 200 and '<html lang="en">' in html and booked_from(html) == booked
    assert 'id="where"' not in html and "minutes before it starts" in html  # online: the link's time
    assert int(store.get_slot("legal", first).booked) == 1

    # The same page sent with other answers books nothing and says the page has expired.
    status, html = page.post("/web/consultations/legal/book", **{**again, "note": "changed"})
    assert status == 403 and int(store.get_slot("legal", first).booked) == 1


@pytest.mark.parametrize(("field", "anchor"), [("note", "f-note"), ("name", "f-name")])
def test_text_nobody_types_in_a_booking_is_refused_at_its_field_and_books_nothing(
    client, slot, field, anchor
):
    first = slot("legal", capacity=2)
    page = Browser(client, "en")
    page.get(f"/web/consultations/legal/book?slot={first}")
    fields = {
        "slot": first,
        "mode": "online",
        "name": "A",
        "email": "odd@example.com",
        "eligibility": "resident",
    }
    status, html = page.post("/web/consultations/legal/book", **{**fields, field: "abc\u202edef"})
    assert status == 422 and f'href="#{anchor}"' in html
    assert int(store.get_slot("legal", first).booked) == 0


def test_a_booking_keeps_a_notes_line_breaks_and_folds_a_names(client, slot):
    first = slot("legal", capacity=2)
    page = Browser(client, "en")
    page.get(f"/web/consultations/legal/book?slot={first}")
    fields = {"slot": first, "mode": "online", "email": "lines@example.com", "eligibility": "resident"}
    status, html = page.post(
        "/web/consultations/legal/book", **fields, name="Ann\r\nBcc: x@example.com", note="one\r\ntwo"
    )
    assert status == 200, html
    number, _ = booked_from(html)
    assert store.get(number).note == "one\ntwo" and store.get(number).name == "Ann Bcc: x@example.com"


def test_inside_line_a_bookings_typed_number_and_code_open_it(client, slot, mint):
    """A review: inside LINE every form carries the LIFF token, and the booking page dropped the
    typed code of a booking made on the web, by phone or at the counter ("wrong code")."""
    from tests.integration.conftest import new_user_id

    chosen = slot("legal", capacity=2)
    page = Browser(client)
    page.get(f"/web/consultations/legal/book?slot={chosen}")
    status, html = page.post(
        "/web/consultations/legal/book",
        slot=chosen,
        mode="in_person",
        name="葛飾 花子",
        email="hanako-line@example.com",
        eligibility="resident",
    )
    assert status == 200
    number, code = booked_from(html)
    status, html = page.post("/web/bookings", id_token=mint(new_user_id()), booking=number, code=code)
    assert status == 200 and number in html, status
