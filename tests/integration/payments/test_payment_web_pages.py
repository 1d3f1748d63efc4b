"""The resident payment pages (`/web/payments/{receipt}`) by plain form posts (JavaScript off),
over the local stack and the payment sandbox: choose a method, pay, check again, the receipt."""

from __future__ import annotations

import re
from urllib.parse import urlencode

import pytest

from chalicelib.domain.residents import LANGUAGES
from chalicelib.store import payments as store
from chalicelib.store import submissions as submission_store

FORM = {"Content-Type": "application/x-www-form-urlencoded"}
MAX_PAGE_BYTES = 100 * 1024
WEIGHTS: dict[str, int] = {}
MISSING = re.compile(r">\s*(web|form|status|pay)\.[a-z_-]+\s*<")


class Browser:
    """A resident without JavaScript: the CSRF cookie from the first page, forms posted."""

    def __init__(self, client, receipt: str, language: str = "ja") -> None:
        self.client, self.receipt, self.language = client, receipt, language
        first = client.http.get(f"/web/payments/{receipt}?lang={language}")
        assert first.status_code == 200
        assert "<input" in first.body.decode() and 'name="code"' in first.body.decode()
        cookie = {k.lower(): v for k, v in first.headers.items()}["set-cookie"].split(";", 1)[0]
        self.cookie, self.csrf = cookie, cookie.split("=", 1)[1]

    def post(self, path: str, **fields: str):
        body = urlencode({"csrf": self.csrf, "lang": self.language, **fields})
        response = self.client.http.post(path, body=body, headers={**FORM, "Cookie": self.cookie})
        html = response.body.decode()
        assert "<main" in html and not MISSING.search(html), html
        # Every state: the CSP without unsafe-inline, nothing inline, no-store, light.
        sent = {k.lower(): v for k, v in response.headers.items()}
        assert "unsafe-inline" not in sent["content-security-policy"] and sent["cache-control"] == "no-store"
        assert "<script>" not in html and "style=" not in html
        assets = sum(len(self.client.http.get(f"/web/static/{n}").body) for n in ("web.css", "web.js"))
        WEIGHTS[f"{path.rsplit('/', 1)[-1][:8]} {fields.get('action', '')} {self.language}"] = (
            len(html.encode()) + assets
        )
        assert len(html.encode()) + assets < MAX_PAGE_BYTES
        return response.status_code, html

    def pay_page(self, code: str, **fields: str):
        return self.post(f"/web/payments/{self.receipt}", code=code, **fields)


def test_paypay_by_the_web_page_from_choice_to_printable_receipt(client, owing, paybox):
    receipt, secret = owing(copies=2)
    page = Browser(client, receipt)

    status, html = page.pay_page("WRONG-CODE")
    assert status == 404 and 'class="error-summary"' in html and secret not in html
    status, html = page.pay_page(secret)
    assert status == 200 and "600円" in html and 'value="paypay"' in html and 'value="card"' in html
    status, html = page.pay_page(secret, action="start")
    assert status == 422 and 'href="#f-method-paypay"' in html

    status, html = page.pay_page(secret, action="start", method="paypay")
    assert status == 200
    intent = store.get(f"{receipt}-PP01")
    assert intent.pay_url in html and intent.deeplink in html and 'id="pay-check"' in html
    # Starting again (a reload, a double tap) shows the same code: one intent per method.
    page.pay_page(secret, action="start", method="paypay")
    assert len(paybox.requests("/v2/codes", "POST")) == 1

    status, html = page.pay_page(secret, action="check", paymentId=intent.payment_id)
    assert status == 200 and 'id="pay-check"' in html  # not paid yet: the same code, asked again

    paybox.pay(intent.payment_id)
    # No webhook yet: "check again" asks PayPay itself.
    status, html = page.pay_page(secret, action="check", paymentId=intent.payment_id)
    assert (
        status == 200 and "tag-pay-paid" in html and 'action="/web/payments/' + receipt + '/receipt"' in html
    )
    assert submission_store.get(receipt).status == "received"

    status, html = page.post(f"/web/payments/{receipt}/receipt", code=secret, paymentId=intent.payment_id)
    stored = store.get(intent.payment_id)
    assert (
        status == 200 and intent.payment_id in html and "600" in html and stored.provider_payment_id in html
    )
    # Its language switch shows the same receipt again (a link lost the code and went back).
    assert 'form="again" name="switch"' in html and '<a href="?lang=' not in html
    status, html = page.post(
        f"/web/payments/{receipt}/receipt", code=secret, paymentId=intent.payment_id, switch="en"
    )
    assert status == 200 and '<html lang="en">' in html and stored.provider_payment_id in html
    # The receipt wants the code too, and a wrong one is refused.
    status, _ = page.post(f"/web/payments/{receipt}/receipt", code="NOPE", paymentId=intent.payment_id)
    assert status == 404


def test_card_by_the_web_page_and_the_return_page(client, owing, paybox):
    receipt, secret = owing(copies=1)
    page = Browser(client, receipt, "en")
    status, html = page.pay_page(secret, action="start", method="card")
    intent = store.get(f"{receipt}-CD01")
    assert status == 200 and intent.pay_url in html and "Go to card payment" in html
    # The checkout comes back to the web pages, not to an API path, in the payer's language
    # (a walkthrough: a Vietnamese payer came back to the browser's language), and shows its own
    # page in it.
    created = paybox.requests("/v1/checkout/sessions", "POST")[-1]["body"]
    assert created["success_url"].endswith(f"/web/payments/{receipt}/done?lang=en")
    assert created["cancel_url"].endswith(f"/web/payments/{receipt}?lang=en")
    assert created["locale"] == "en"
    assert created["line_items[0][price_data][product_data][name]"].startswith(
        "Request for a copy of the residence record"
    )

    paybox.complete_session(intent.provider_ref)
    back = client.http.get(f"/web/payments/{receipt}/done?lang=en")
    assert back.status_code == 200 and 'value="returned"' in back.body.decode()
    assert secret not in back.body.decode()
    status, html = page.pay_page(secret, action="returned")
    assert status == 200 and "Your payment is confirmed" in html and "Credit card" in html


def test_the_status_page_links_a_fee_to_its_payment_page(client, owing):
    receipt, secret = owing(copies=1)
    page = Browser(client, receipt)
    status, html = page.post("/web/status", receipt=receipt, code=secret)
    assert status == 200 and f'action="/web/payments/{receipt}"' in html
    # The code rides in the form's body, never in a link.
    assert f"?code={secret}" not in html and not re.search(r'href="[^"]*' + re.escape(secret), html)


def test_a_request_without_a_fee_says_so(client, owing):
    receipt, secret = owing("bulky-waste-collection")
    page = Browser(client, receipt)
    status, html = page.pay_page(secret)
    assert status == 200 and "tag-pay-not_yet_payable" in html and 'name="method"' not in html


def test_posts_without_the_csrf_cookie_are_refused(client, owing):
    receipt, secret = owing(copies=1)
    body = urlencode({"csrf": "x" * 32, "code": secret, "action": "start", "method": "paypay"})
    response = client.http.post(f"/web/payments/{receipt}", body=body, headers=FORM)
    assert response.status_code == 403 and store.get(f"{receipt}-PP01") is None


def test_a_payment_page_left_open_past_its_cookie_starts_nothing_but_checks_and_shows_the_receipt(
    client, owing, paybox
):
    """Past the two-hour CSRF cookie, a post from our own page: "pay" is not started (the page
    again, with a note); "check again" and the receipt only read, so they are answered."""
    import html as html_lib

    from chalicelib.domain.messages import catalogue as texts

    receipt, secret = owing(copies=1)
    own_page = {**FORM, "Sec-Fetch-Site": "same-origin", "Origin": "http://localhost", "Host": "localhost"}
    stale = {"csrf": "stale" * 8, "lang": "en", "code": secret}
    start = {**stale, "action": "start", "method": "paypay"}
    again = client.http.post(f"/web/payments/{receipt}", body=urlencode(start), headers=own_page)
    assert again.status_code == 200 and store.get(f"{receipt}-PP01") is None
    assert html_lib.escape(texts()["web.send_again"]["en"], quote=False) in again.body.decode()
    assert 'value="paypay"' in again.body.decode()  # the choice is offered again

    page = Browser(client, receipt, "en")
    page.pay_page(secret, action="start", method="paypay")
    intent = store.get(f"{receipt}-PP01")
    paybox.pay(intent.payment_id)
    check = {**stale, "action": "check", "paymentId": intent.payment_id}
    checked = client.http.post(f"/web/payments/{receipt}", body=urlencode(check), headers=own_page)
    assert checked.status_code == 200 and "tag-pay-paid" in checked.body.decode()
    shown = client.http.post(f"/web/payments/{receipt}/receipt", body=urlencode(check), headers=own_page)
    assert (
        shown.status_code == 200 and store.get(intent.payment_id).provider_payment_id in shown.body.decode()
    )
    wrong = {**check, "code": "NOPE"}
    assert (
        client.http.post(
            f"/web/payments/{receipt}/receipt", body=urlencode(wrong), headers=own_page
        ).status_code
        == 404
    )
    # Another site's post, or one the browser does not vouch for, still gets "expired".
    for headers in (
        {**own_page, "Sec-Fetch-Site": "cross-site"},
        {**own_page, "Origin": "https://evil.example"},
        FORM,
    ):
        for path in (f"/web/payments/{receipt}", f"/web/payments/{receipt}/receipt"):
            assert client.http.post(path, body=urlencode(check), headers=headers).status_code == 403


def test_money_that_did_not_pay_the_fee_is_shown_to_the_resident_until_it_is_back(
    client, owing, paybox, settle, resident_api
):
    """Paid another amount (the app let them type it, a provider's error): the fee is still owed,
    and the page says that money does not pay it and will be refunded, then that it was."""
    from tests.integration.payments.conftest import ask_refund

    receipt, secret = owing(copies=1)
    page = Browser(client, receipt, "en")
    page.pay_page(secret, action="start", method="paypay")
    payment_id = f"{receipt}-PP01"
    paybox.pay(payment_id, amount=3000)
    status, html = page.pay_page(secret, action="check", paymentId=payment_id)
    assert (
        status == 200
        and "A payment of 3,000 yen by PayPay on" in html
        and "will check it and refund it" in html
    )
    status, view = resident_api("GET", f"/submissions/{receipt}/payment", secret)
    assert view["state"] == "payable" and view["paid"] is None
    [held] = view["held"]
    assert (held["paymentId"], held["amountYen"], held["refund"]) == (payment_id, 3000, "checking")
    refund = ask_refund(client, payment_id, "金額の誤り")
    assert refund.status_code == 202, refund.body
    paybox.deliver()
    settle()
    status, html = page.pay_page(secret)
    assert "The 3,000 yen paid by PayPay on" in html and "has been refunded" in html
    assert (
        resident_api("GET", f"/submissions/{receipt}/payment", secret)[1]["held"][0]["refund"] == "refunded"
    )


def test_the_language_switch_of_a_payment_page_keeps_the_resident_signed_in_and_the_code_shown(
    client, owing, paybox
):
    from tests.integration.test_web_pages import _form_fields, _switch_form

    receipt, secret = owing(copies=1)
    page = Browser(client, receipt, "ja")
    status, html = page.pay_page(secret, action="start", method="paypay")
    intent = store.get(f"{receipt}-PP01")
    fields = _form_fields(html, _switch_form(html))
    status, switched = page.post(
        f"/web/payments/{receipt}", **{k: v[0] for k, v in fields.items()}, switch="en"
    )
    assert status == 200 and '<html lang="en">' in switched and intent.pay_url in switched
    assert 'name="code" type="password"' not in switched and 'id="f-code"' not in switched  # no sign-in again


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_payment_page_state_is_complete_in_every_language(client, owing, paybox, language):
    receipt, secret = owing(copies=1)
    page = Browser(client, receipt, language)
    lang_attr = "ja" if language == "ja-easy" else language
    assert page.pay_page(secret)[0] == 200  # choose a method
    status, html = page.pay_page(secret, action="start", method="paypay")
    assert status == 200 and f'<html lang="{lang_attr}">' in html
    paybox.pay(f"{receipt}-PP01")
    assert page.pay_page(secret, action="check", paymentId=f"{receipt}-PP01")[0] == 200
    assert page.post(f"/web/payments/{receipt}/receipt", code=secret, paymentId=f"{receipt}-PP01")[0] == 200
    done = client.http.get(f"/web/payments/{receipt}/done?lang={language}")
    assert done.status_code == 200 and not MISSING.search(done.body.decode())
    print("payment page weights (bytes, with CSS and JS):", max(WEIGHTS.values()), WEIGHTS)


def test_the_status_page_offers_to_pay_only_while_payable_then_the_receipt(client, owing, paybox):
    receipt, secret = owing(copies=1)
    page = Browser(client, receipt, "en")
    status, html = page.post("/web/status", receipt=receipt, code=secret)
    assert "Pay the fee" in html
    page.pay_page(secret, action="start", method="paypay")
    paybox.pay(f"{receipt}-PP01")
    page.pay_page(secret, action="check", paymentId=f"{receipt}-PP01")
    status, html = page.post("/web/status", receipt=receipt, code=secret)
    assert "Pay the fee" not in html and "Show the receipt" in html

    later, code = owing("bulky-waste-collection")  # payable only once staff accept it
    status, html = Browser(client, later, "en").post("/web/status", receipt=later, code=code)
    assert status == 200 and f'action="/web/payments/{later}"' not in html
